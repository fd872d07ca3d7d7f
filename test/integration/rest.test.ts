import { expect } from "chai";
import http2 from "node:http2";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { eachBackend } from "../support/backends.js";
import { connectJsonHttp1 } from "../support/clients.js";
import { startRollcall, testAuthorization } from "../support/rollcall.js";
import type { ErrorJson, ParticipantJson, ParticipantPageJson, RoomJson, RoomPageJson } from "../support/twilio-json.js";

const twilioDate = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

interface Reply<Body> {
  status: number;
  headers: Headers;
  body: Body;
}

eachBackend((backend) => {
  describe(`Twilio REST over raw HTTP (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;

    before(async () => {
      server = await startRollcall({ ...backend.settings, maxRequestBytes: 4096 });
    });
    after(async () => server.close());

    async function call<Body = unknown>(
      method: string,
      path: string,
      form?: string,
      headers: Record<string, string> = {},
    ): Promise<Reply<Body>> {
      const res = await fetch(path.startsWith("http") ? path : `${server.url}${path}`, {
        method,
        headers: {
          authorization: testAuthorization,
          ...(form === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
          ...headers,
        },
        body: form,
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
    }

    const name = (base: string) => `${base}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

    async function roomWith(identities: string[]): Promise<{ room: string; roomSid: string; sids: string[] }> {
      const room = name("raw");
      const media = connectJsonHttp1(ParticipantService, server.url);
      const sids: string[] = [];
      let roomSid = "";
      for (const identity of identities) {
        const joined = (await media.join({ room, identity })).participant!;
        sids.push(joined.sid);
        roomSid = joined.roomSid;
      }
      return { room, roomSid, sids };
    }

    it("renders a participant with every key Twilio has, dates to the second, absolute URLs to this server", async () => {
      const { room, roomSid, sids } = await roomWith(["alice"]);
      const { status, body } = await call<ParticipantJson>("GET", `/v1/Rooms/${room}/Participants/alice`);
      expect(status).to.equal(200);
      expect(Object.keys(body).sort()).to.deep.equal(
        [
          "account_sid",
          "date_created",
          "date_updated",
          "duration",
          "end_time",
          "identity",
          "links",
          "room_sid",
          "sid",
          "start_time",
          "status",
          "url",
        ].sort(),
      );
      expect(body).to.include({ sid: sids[0], room_sid: roomSid, status: "connected", identity: "alice", end_time: null, duration: null });
      for (const key of ["date_created", "date_updated", "start_time"] as const) expect(body[key]).to.match(twilioDate);
      const url = `${server.url}/v1/Rooms/${roomSid}/Participants/${sids[0]}`;
      expect(body.url).to.equal(url);
      expect(body.links).to.deep.equal({
        published_tracks: `${url}/PublishedTracks`,
        subscribed_tracks: `${url}/SubscribedTracks`,
        subscribe_rules: `${url}/SubscribeRules`,
        anonymize: `${url}/Anonymize`,
      });
      const kicked = await call<ParticipantJson>("POST", `/v1/Rooms/${roomSid}/Participants/${sids[0]}`, "Status=disconnected");
      expect(kicked.status).to.equal(202);
      expect(kicked.body.end_time).to.match(twilioDate);
      expect(kicked.body.duration).to.be.a("number");
      const anonymized = await call<ParticipantJson>("POST", `/v1/Rooms/${roomSid}/Participants/${sids[0]}/Anonymize`);
      expect(anonymized.status).to.equal(200);
      expect(anonymized.body.identity).to.equal(sids[0]);
    });

    it("renders a room with every key Twilio has; creation is 201, completion 202", async () => {
      const created = await call<RoomJson>(
        "POST",
        "/v1/Rooms",
        `UniqueName=${name("keys")}&StatusCallback=${encodeURIComponent("https://example.test/cb")}`,
      );
      expect(created.status).to.equal(201);
      const keys = [
        "account_sid",
        "audio_only",
        "date_created",
        "date_updated",
        "duration",
        "empty_room_timeout",
        "enable_turn",
        "end_time",
        "large_room",
        "links",
        "max_concurrent_published_tracks",
        "max_participant_duration",
        "max_participants",
        "media_region",
        "record_participants_on_connect",
        "sid",
        "status",
        "status_callback",
        "status_callback_method",
        "type",
        "unique_name",
        "unused_room_timeout",
        "url",
        "video_codecs",
      ];
      expect(Object.keys(created.body).sort()).to.deep.equal(keys.sort());
      expect(created.body).to.include({
        status: "in-progress",
        status_callback: "https://example.test/cb",
        status_callback_method: "POST",
        end_time: null,
        duration: null,
      });
      expect(created.body.url).to.equal(`${server.url}/v1/Rooms/${created.body.sid}`);
      expect(created.body.links.participants).to.equal(`${server.url}/v1/Rooms/${created.body.sid}/Participants`);
      const completed = await call<RoomJson>("POST", `/v1/Rooms/${created.body.sid}`, "Status=completed");
      expect(completed.status).to.equal(202);
      expect(completed.body.status).to.equal("completed");
      expect(completed.body.end_time).to.match(twilioDate);
    });

    it("pages with meta: absolute URLs that repeat the filters, a previous page where the cursor allows", async () => {
      const { room, sids } = await roomWith(["a", "b", "c", "d", "e"]);
      const first = await call<ParticipantPageJson>("GET", `/v1/Rooms/${room}/Participants?PageSize=2&Status=connected&Unknown=ignored`);
      expect(first.status).to.equal(200);
      expect(Object.keys(first.body.meta).sort()).to.deep.equal([
        "first_page_url",
        "key",
        "next_page_url",
        "page",
        "page_size",
        "previous_page_url",
        "url",
      ]);
      expect(first.body.meta).to.include({ page: 0, page_size: 2, key: "participants", previous_page_url: null });
      expect(first.body.meta.next_page_url).to.match(
        new RegExp(`^${server.url}/v1/Rooms/.*Status=connected.*PageSize=2.*Page=1.*PageToken=`),
      );
      const second = await call<ParticipantPageJson>("GET", first.body.meta.next_page_url!);
      expect(second.body.meta.page).to.equal(1);
      expect(second.body.meta.previous_page_url).to.equal(first.body.meta.first_page_url);
      expect(second.body.meta.url).to.equal(first.body.meta.next_page_url);
      const third = await call<ParticipantPageJson>("GET", second.body.meta.next_page_url!);
      expect(third.body.meta.next_page_url).to.equal(null);
      expect(third.body.meta.previous_page_url).to.equal(null);
      const all = [first, second, third].flatMap((page) => page.body.participants.map((p) => p.sid));
      expect(all).to.deep.equal(sids);
    });

    it("uses PUBLIC_URL for every absolute URL when set", async () => {
      const behindProxy = await startRollcall({ ...backend.settings, publicUrl: "https://video.example.test" });
      try {
        const room = name("public");
        await connectJsonHttp1(ParticipantService, behindProxy.url).join({ room, identity: "x" });
        const res = await fetch(`${behindProxy.url}/v1/Rooms/${room}/Participants?PageSize=1`, {
          headers: { authorization: testAuthorization },
        });
        const body = (await res.json()) as ParticipantPageJson;
        expect(body.participants[0]!.url).to.match(/^https:\/\/video\.example\.test\/v1\/Rooms\/RM/);
        expect(body.meta.first_page_url).to.match(/^https:\/\/video\.example\.test\/v1\/Rooms\//);
      } finally {
        await behindProxy.close();
      }
    });

    it("parses forms and queries: + and %20 are spaces, UTF-8 is decoded, repeated single-valued keys are refused", async () => {
      const base = name("Daily");
      const created = await call<RoomJson>("POST", "/v1/Rooms", `UniqueName=${base}+Stand%20up+%C3%A9t%C3%A9+%F0%9F%8E%89`);
      expect(created.body.unique_name).to.equal(`${base} Stand up été 🎉`);
      const fetched = await call<RoomJson>("GET", `/v1/Rooms/${encodeURIComponent(`${base} Stand up été 🎉`)}`);
      expect(fetched.body.sid).to.equal(created.body.sid);
      const listed = await call<RoomPageJson>("GET", `/v1/Rooms?UniqueName=${base}+Stand%20up+%C3%A9t%C3%A9+%F0%9F%8E%89`);
      expect(listed.body.rooms.map((r) => r.sid)).to.deep.equal([created.body.sid]);
      const repeated = await call("POST", `/v1/Rooms/${created.body.sid}`, "Status=completed&Status=completed");
      expect(repeated.status).to.equal(400);
      expect(repeated.body).to.include({ code: 20422, message: "Status may be given once, got 2 values" });
      const { room } = await roomWith(["a b"]);
      const byQuery = await call<ParticipantPageJson>("GET", `/v1/Rooms/${room}/Participants?Identity=a+b`);
      expect(byQuery.body.participants.map((p) => p.identity)).to.deep.equal(["a b"]);
    });

    it("accepts trailing slashes, ignores unknown parameters, and answers unknown paths and methods", async () => {
      expect((await call("GET", "/v1/Rooms/?Foo=bar")).status).to.equal(200);
      const unknown = await call("GET", "/v1/Rooms/x/Tracks");
      expect(unknown.status).to.equal(404);
      expect(unknown.body).to.deep.equal({
        code: 20404,
        message: "The requested resource /Rooms/x/Tracks was not found",
        more_info: "https://www.twilio.com/docs/errors/20404",
        status: 404,
      });
      const wrongMethod = await call<ErrorJson>("DELETE", "/v1/Rooms");
      expect(wrongMethod.status).to.equal(405);
      expect(wrongMethod.headers.get("allow")).to.equal("GET, POST");
      expect(wrongMethod.body.code).to.equal(20004);
      const missingRoom = await call("GET", "/v1/Rooms/NoSuchRoom/Participants/Alice/");
      expect(missingRoom.body).to.include({
        code: 20404,
        message: "The requested resource /Rooms/NoSuchRoom/Participants/Alice was not found",
      });
    });

    it("refuses bad parameters naming them: dates, page sizes, pages, statuses", async () => {
      const { room } = await roomWith(["a"]);
      const cases: [string, number, number, RegExp][] = [
        ["DateCreatedAfter=yesterday", 400, 20422, /^DateCreatedAfter must be an ISO 8601 date-time/],
        ["DateCreatedBefore=2026-13-45T99:00:00Z", 400, 20422, /^DateCreatedBefore /],
        ["PageSize=0", 400, 20007, /^PageSize must be between 1 and 1000, got 0/],
        ["PageSize=1001", 400, 20007, /^PageSize must be between 1 and 1000/],
        ["PageSize=-1", 400, 20007, /^PageSize /],
        ["PageSize=1e9", 400, 20422, /^PageSize must be an integer/],
        ["Page=-1", 400, 20422, /^Page must not be negative/],
        ["Status=gone", 400, 20422, /^Status must be one of connected, disconnected, reconnecting/],
        ["PageToken=forged", 400, 20422, /^PageToken is not a page token issued by this server/],
      ];
      for (const [query, status, code, message] of cases) {
        const res = await call<ErrorJson>("GET", `/v1/Rooms/${room}/Participants?${query}`);
        expect(res.status, query).to.equal(status);
        expect(res.body.code, query).to.equal(code);
        expect(res.body.message, query).to.match(message);
      }
      const identity = await call("GET", `/v1/Rooms/${room}/Participants?Identity=${"x".repeat(200)}`);
      expect(identity.body).to.include({ code: 53201, message: "Identity must be at most 128 characters, got 200" });
    });

    it("takes only form bodies, of bounded size", async () => {
      const json = await call("POST", "/v1/Rooms", undefined, { "content-type": "application/json" });
      expect(json.status).to.equal(415);
      const big = await call<ErrorJson>("POST", "/v1/Rooms", `UniqueName=${"x".repeat(10_000)}`);
      expect(big.status).to.equal(413);
      expect(big.body.message).to.equal("The request body is larger than 4096 bytes");
    });

    it("answers over HTTP/2 as over HTTP/1.1", async () => {
      const { room, sids } = await roomWith(["h2"]);
      const session = http2.connect(server.url);
      try {
        const body = await new Promise<ParticipantJson>((resolve, reject) => {
          const stream = session.request({ ":path": `/v1/Rooms/${room}/Participants/h2`, authorization: testAuthorization });
          let text = "";
          stream.setEncoding("utf8");
          stream.on("data", (chunk: string) => (text += chunk));
          stream.on("end", () => resolve(JSON.parse(text) as ParticipantJson));
          stream.on("error", reject);
        });
        expect(body.sid).to.equal(sids[0]);
      } finally {
        session.close();
      }
    });
  });
});
