import { Code, type Client } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { ParticipantService, ParticipantStatus, type Participant } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus, type Room } from "../../gen/rollcall/v1/room_pb.js";
import { newSid } from "../../src/operations/sids.js";
import { eachBackend } from "../support/backends.js";
import { collect, connectBinaryHttp2, connectJsonHttp1, grpcJs, grpcWebHttp1, rejection } from "../support/clients.js";
import { basic, otherAccount, otherAuthorization, startRollcall, testAccount, testApiKey, testAuthorization } from "../support/rollcall.js";
import type { ErrorJson, ParticipantJson, ParticipantPageJson, RoomJson, RoomPageJson } from "../support/twilio-json.js";

// Two accounts on one server: neither may see, change or even learn of the
// other's rooms and participants, on any route of any transport; and a call
// without valid credentials reaches nothing at all.

const base64 = (text: string) => Buffer.from(text).toString("base64");

// Authorization header values that must not authenticate anyone; undefined
// means no header at all.
const badCredentials: [string, string | undefined][] = [
  ["no authorization header", undefined],
  ["an empty authorization header", ""],
  ["a wrong auth token for a real account", basic(testAccount.sid, "wrong-token")],
  ["an empty auth token for a real account", basic(testAccount.sid, "")],
  ["the right auth token with a trailing space", basic(testAccount.sid, testAccount.token + " ")],
  ["an unknown account sid", basic("AC" + "9".repeat(32), testAccount.token)],
  ["another account's sid with this account's token", basic(otherAccount.sid, testAccount.token)],
  ["a wrong secret for the API key", basic(testApiKey.sid, "wrong-secret")],
  ["the API key sid with the account's auth token", basic(testApiKey.sid, testAccount.token)],
  ["the account sid with the API key's secret", basic(testAccount.sid, testApiKey.secret)],
  ["malformed Basic: not base64", "Basic !!!"],
  ["malformed Basic: base64 without a colon", "Basic " + base64(testAccount.sid + testAccount.token)],
  ["malformed Basic: credentials not base64-encoded", `Basic ${testAccount.sid}:${testAccount.token}`],
  ["Basic without credentials", "Basic"],
  ["a Bearer token", "Bearer xyz"],
  ["valid credentials under another scheme", "Bearer " + base64(`${testAccount.sid}:${testAccount.token}`)],
];

const apiKeyAuthorization = basic(testApiKey.sid, testApiKey.secret);

// body is the JSON the server answered, undefined for an empty body.
interface RestAnswer<Body = unknown> {
  status: number;
  headers: Headers;
  body: Body;
}

eachBackend((backend) => {
  describe(`tenant isolation and authentication (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;

    before(async () => {
      server = await startRollcall(backend.settings);
    });
    after(async () => server?.close());

    let count = 0;
    const fresh = (label: string) => `${label}-${++count}-${Date.now()}`;

    // Account one's room: alice connected, bob kicked.
    async function seed(): Promise<{ name: string; room: Room; alice: Participant; bob: Participant }> {
      const participants = connectJsonHttp1(ParticipantService, server.url, testAuthorization);
      const rooms = connectJsonHttp1(RoomService, server.url, testAuthorization);
      const name = fresh("tenancy");
      const room = (await rooms.create({ uniqueName: name })).room!;
      const alice = (await participants.join({ room: name, identity: "alice" })).participant!;
      await participants.join({ room: name, identity: "bob" });
      const bob = (await participants.update({ room: name, participant: "bob", status: ParticipantStatus.DISCONNECTED })).participant!;
      expect(room.accountSid).to.equal(testAccount.sid);
      expect(alice.roomSid).to.equal(room.sid);
      expect(bob.status).to.equal(ParticipantStatus.DISCONNECTED);
      return { name, room, alice, bob };
    }

    async function rest<Body = unknown>(
      method: "GET" | "POST",
      path: string,
      authorization: string | undefined,
      form?: Record<string, string>,
    ): Promise<RestAnswer<Body>> {
      const headers: Record<string, string> = {};
      if (authorization !== undefined) headers.authorization = authorization;
      let body: string | undefined;
      if (method === "POST") {
        headers["content-type"] = "application/x-www-form-urlencoded";
        body = new URLSearchParams(form ?? {}).toString();
      }
      const res = await fetch(server.url + path, { method, headers, body });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: (text === "" ? undefined : JSON.parse(text)) as Body };
    }

    // The 404 any missing resource gets: the same for another account's room
    // as for one that never existed.
    function expectNotFound(answer: RestAnswer, path: string, what: string): void {
      const resource = path.split("?")[0]!.slice("/v1".length);
      expect(answer.status, what).to.equal(404);
      expect(answer.body, what).to.deep.equal({
        code: 20404,
        message: `The requested resource ${resource} was not found`,
        more_info: "https://www.twilio.com/docs/errors/20404",
        status: 404,
      });
    }

    function expectUnauthorized(answer: RestAnswer<ErrorJson>, what: string): void {
      expect(answer.status, what).to.equal(401);
      expect(answer.body, what).to.include({ code: 20003, status: 401, more_info: "https://www.twilio.com/docs/errors/20003" });
      expect(answer.body.message, what).to.be.a("string");
      expect(answer.headers.get("www-authenticate"), what).to.match(/^Basic\b/i);
    }

    // Every REST route that names a room, and one of its participants, with
    // the method and form body it takes.
    function roomRoutes(
      room: string,
      participants: string[],
      anonymizable: string[],
    ): [method: "GET" | "POST", path: string, form?: Record<string, string>][] {
      const r = `/v1/Rooms/${encodeURIComponent(room)}`;
      const routes: [method: "GET" | "POST", path: string, form?: Record<string, string>][] = [
        ["GET", r],
        ["POST", r, { Status: "completed" }],
        ["GET", `${r}/Participants`],
        ["GET", `${r}/Participants?Status=disconnected`],
        ["GET", `${r}/Participants?Status=connected&Identity=alice`],
      ];
      for (const p of participants) {
        routes.push(["GET", `${r}/Participants/${encodeURIComponent(p)}`]);
        routes.push(["POST", `${r}/Participants/${encodeURIComponent(p)}`, { Status: "disconnected" }]);
      }
      for (const p of anonymizable) routes.push(["POST", `${r}/Participants/${encodeURIComponent(p)}/Anonymize`]);
      return routes;
    }

    async function expectUnchanged(seeded: Awaited<ReturnType<typeof seed>>): Promise<void> {
      const room = await rest("GET", `/v1/Rooms/${seeded.room.sid}`, testAuthorization);
      expect(room.status).to.equal(200);
      expect(room.body).to.include({
        sid: seeded.room.sid,
        status: "in-progress",
        unique_name: seeded.name,
        account_sid: testAccount.sid,
        end_time: null,
      });
      const byName = await rest<RoomJson>("GET", `/v1/Rooms/${encodeURIComponent(seeded.name)}`, testAuthorization);
      expect(byName.body.sid).to.equal(seeded.room.sid);
      const alice = await rest("GET", `/v1/Rooms/${seeded.room.sid}/Participants/${seeded.alice.sid}`, testAuthorization);
      expect(alice.status).to.equal(200);
      expect(alice.body).to.include({ sid: seeded.alice.sid, identity: "alice", status: "connected", end_time: null });
      const aliceByIdentity = await rest<ParticipantJson>(
        "GET",
        `/v1/Rooms/${encodeURIComponent(seeded.name)}/Participants/alice`,
        testAuthorization,
      );
      expect(aliceByIdentity.body.sid).to.equal(seeded.alice.sid);
      const bob = await rest("GET", `/v1/Rooms/${seeded.room.sid}/Participants/${seeded.bob.sid}`, testAuthorization);
      expect(bob.body).to.include({ sid: seeded.bob.sid, identity: "bob", status: "disconnected" });
      const connected = await rest<ParticipantPageJson>("GET", `/v1/Rooms/${seeded.room.sid}/Participants`, testAuthorization);
      expect(connected.body.participants.map((p) => p.sid)).to.deep.equal([seeded.alice.sid]);
      const disconnected = await rest<ParticipantPageJson>(
        "GET",
        `/v1/Rooms/${seeded.room.sid}/Participants?Status=disconnected`,
        testAuthorization,
      );
      expect(disconnected.body.participants.map((p) => [p.sid, p.identity])).to.deep.equal([[seeded.bob.sid, "bob"]]);
    }

    it("another account's room and participants are not found on every REST route", async () => {
      const seeded = await seed();
      const participantRefs = [seeded.alice.sid, "alice", seeded.bob.sid, "bob"];
      const anonymizable = [seeded.alice.sid, seeded.bob.sid, "alice"];
      const roomRefs = [seeded.name, seeded.room.sid, "RM" + seeded.room.sid.slice(2).toUpperCase()];
      for (const room of roomRefs) {
        for (const [method, path, form] of roomRoutes(room, participantRefs, anonymizable)) {
          expectNotFound(await rest(method, path, otherAuthorization, form), path, `${method} ${path} as the other account`);
        }
      }
      // Exactly what a room that never existed gets, in either account.
      const ghosts = [fresh("ghost"), newSid("RM")];
      for (const room of ghosts) {
        for (const [method, path, form] of roomRoutes(room, [newSid("PA"), "alice"], [newSid("PA")])) {
          expectNotFound(await rest(method, path, otherAuthorization, form), path, `${method} ${path} (never existed)`);
          expectNotFound(await rest(method, path, testAuthorization, form), path, `${method} ${path} (never existed, account one)`);
        }
      }
      // Listings of the other account do not show the room either.
      for (const query of ["", `?UniqueName=${encodeURIComponent(seeded.name)}`, "?Status=in-progress", "?Status=completed"]) {
        const list = await rest<RoomPageJson>("GET", `/v1/Rooms${query}`, otherAuthorization);
        expect(list.status, query).to.equal(200);
        expect(
          list.body.rooms.map((r) => r.sid),
          query,
        ).to.not.include(seeded.room.sid);
        for (const r of list.body.rooms) expect(r.account_sid).to.equal(otherAccount.sid);
      }
      await expectUnchanged(seeded);
    });

    it("another account's room and participants are not found over RPC", async () => {
      const seeded = await seed();
      const participants = connectJsonHttp1(ParticipantService, server.url, otherAuthorization);
      const rooms = connectJsonHttp1(RoomService, server.url, otherAuthorization);
      const roomRefs = [seeded.name, seeded.room.sid, "RM" + seeded.room.sid.slice(2).toUpperCase()];
      const notFound = async (what: string, call: Promise<unknown>) => {
        const err = await rejection(call);
        expect(err.code, `${what}: ${err.message}`).to.equal(Code.NotFound);
      };
      for (const room of roomRefs) {
        for (const participant of [seeded.alice.sid, "alice", seeded.bob.sid, "bob"]) {
          await notFound(`Get ${room}/${participant}`, participants.get({ room, participant }));
          await notFound(
            `Update ${room}/${participant}`,
            participants.update({ room, participant, status: ParticipantStatus.DISCONNECTED }),
          );
        }
        await notFound(`List ${room}`, collect(participants.list({ room })));
        await notFound(`List ${room} disconnected`, collect(participants.list({ room, status: ParticipantStatus.DISCONNECTED })));
        await notFound(`List ${room} by identity`, collect(participants.list({ room, identity: "alice" })));
        await notFound(`RoomService.Get ${room}`, rooms.get({ room }));
        await notFound(`RoomService.Update ${room}`, rooms.update({ room, status: RoomStatus.COMPLETED }));
      }
      await notFound("Join by room sid", participants.join({ room: seeded.room.sid, identity: "mallory" }));
      await notFound("Join by upper-case room sid", participants.join({ room: roomRefs[2]!, identity: "mallory" }));
      await notFound("Join with alice's identity by room sid", participants.join({ room: seeded.room.sid, identity: "alice" }));

      const listAll = async (request: { uniqueName?: string; status?: RoomStatus }) => {
        const sids: string[] = [];
        let pageToken = "";
        do {
          const page = await rooms.list({ ...request, pageToken });
          for (const room of page.rooms) expect(room.accountSid).to.equal(otherAccount.sid);
          sids.push(...page.rooms.map((room) => room.sid));
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
        return sids;
      };
      expect(await listAll({})).to.not.include(seeded.room.sid);
      expect(await listAll({ uniqueName: seeded.name })).to.deep.equal([]);
      expect(await listAll({ status: RoomStatus.COMPLETED })).to.not.include(seeded.room.sid);

      // Ad-hoc rooms are per account: joining by the same name makes the
      // other account its own room.
      const joined = (await participants.join({ room: seeded.name, identity: "alice" })).participant!;
      expect(joined.accountSid).to.equal(otherAccount.sid);
      expect(joined.roomSid).to.not.equal(seeded.room.sid);
      expect((await participants.join({ room: seeded.name, identity: "mallory" })).participant!.roomSid).to.equal(joined.roomSid);
      const theirs = (await rooms.get({ room: seeded.name })).room!;
      expect(theirs.sid).to.equal(joined.roomSid);
      expect(theirs.accountSid).to.equal(otherAccount.sid);
      expect(await listAll({ uniqueName: seeded.name })).to.deep.equal([joined.roomSid]);
      // Account one's room did not gain or lose anyone.
      await expectUnchanged(seeded);
      const mine = connectJsonHttp1(ParticipantService, server.url, testAuthorization);
      await notFound("account one cannot see the other's room either", mine.get({ room: joined.roomSid, participant: joined.sid }));
      const pages = await collect(mine.list({ room: seeded.name }));
      expect(pages.flatMap((page) => page.participants.map((p) => p.sid))).to.deep.equal([seeded.alice.sid]);
    });

    it("the same unique name can be in progress in two accounts", async () => {
      const name = fresh("shared");
      const one = await rest<RoomJson>("POST", "/v1/Rooms", testAuthorization, { UniqueName: name });
      expect(one.status).to.equal(201);
      const two = await rest<RoomJson>("POST", "/v1/Rooms", otherAuthorization, { UniqueName: name });
      expect(two.status).to.equal(201);
      expect(two.body.sid).to.not.equal(one.body.sid);
      expect([one.body.account_sid, two.body.account_sid]).to.deep.equal([testAccount.sid, otherAccount.sid]);
      expect([one.body.status, two.body.status]).to.deep.equal(["in-progress", "in-progress"]);

      const path = `/v1/Rooms/${encodeURIComponent(name)}`;
      expect((await rest<RoomJson>("GET", path, testAuthorization)).body.sid).to.equal(one.body.sid);
      expect((await rest<RoomJson>("GET", path, otherAuthorization)).body.sid).to.equal(two.body.sid);
      const listed = await rest<RoomPageJson>("GET", `/v1/Rooms?UniqueName=${encodeURIComponent(name)}`, otherAuthorization);
      expect(listed.body.rooms.map((r) => r.sid)).to.deep.equal([two.body.sid]);

      // Within one account the name is still taken.
      const again = await rest<ErrorJson>("POST", "/v1/Rooms", testAuthorization, { UniqueName: name });
      expect(again.status).to.equal(400);
      expect(again.body.code).to.equal(53113);
      const againOverRpc = await rejection(connectJsonHttp1(RoomService, server.url, otherAuthorization).create({ uniqueName: name }));
      expect(againOverRpc.code).to.equal(Code.AlreadyExists);

      // Joins by name land in each account's own room.
      const joinOne = (await connectJsonHttp1(ParticipantService, server.url, testAuthorization).join({ room: name, identity: "sam" }))
        .participant!;
      const joinTwo = (await connectJsonHttp1(ParticipantService, server.url, otherAuthorization).join({ room: name, identity: "sam" }))
        .participant!;
      expect(joinOne.roomSid).to.equal(one.body.sid);
      expect(joinTwo.roomSid).to.equal(two.body.sid);
      expect(joinTwo.sid).to.not.equal(joinOne.sid);

      // Completing one account's room leaves the other's in progress, its participant connected.
      const completed = await rest("POST", path, testAuthorization, { Status: "completed" });
      expect(completed.status).to.equal(202);
      expect(completed.body).to.include({ sid: one.body.sid, status: "completed" });
      const still = await rest("GET", path, otherAuthorization);
      expect(still.body).to.include({ sid: two.body.sid, status: "in-progress" });
      const sam = await rest("GET", `${path}/Participants/sam`, otherAuthorization);
      expect(sam.body).to.include({ sid: joinTwo.sid, status: "connected" });
      expectNotFound(await rest("GET", path, testAuthorization), path, "completed room by name");
    });

    it("bad credentials get 401 with 20003 and WWW-Authenticate on REST", async () => {
      const seeded = await seed();
      const attempted: string[] = [];
      for (const [label, authorization] of badCredentials) {
        const name = fresh("unauthorized");
        attempted.push(name);
        const requests: [method: "GET" | "POST", path: string, form?: Record<string, string>][] = [
          ["GET", "/v1/Rooms"],
          ["POST", "/v1/Rooms", { UniqueName: name }],
          ["GET", `/v1/Rooms/${seeded.room.sid}`],
          ["POST", `/v1/Rooms/${seeded.room.sid}`, { Status: "completed" }],
          ["GET", `/v1/Rooms/${seeded.room.sid}/Participants`],
          ["POST", `/v1/Rooms/${seeded.room.sid}/Participants/${seeded.alice.sid}`, { Status: "disconnected" }],
          ["POST", `/v1/Rooms/${seeded.room.sid}/Participants/${seeded.alice.sid}/Anonymize`],
          // Even a path that does not exist answers 401, not 404.
          ["GET", "/v1/NoSuchResource"],
          ["GET", `/v1/Rooms/${newSid("RM")}`],
        ];
        for (const [method, path, form] of requests) {
          const answer = await rest<ErrorJson>(method, path, authorization, form);
          expectUnauthorized(answer, `${label}: ${method} ${path}`);
          expect(JSON.stringify(answer.body), label).to.not.contain(seeded.room.sid.slice(2));
        }
      }
      // None of those calls changed anything.
      await expectUnchanged(seeded);
      for (const name of attempted) {
        const list = await rest<RoomPageJson>("GET", `/v1/Rooms?UniqueName=${encodeURIComponent(name)}`, testAuthorization);
        expect(list.body.rooms, name).to.deep.equal([]);
      }

      // The API key with its secret acts for account one.
      const byKey = await rest("GET", `/v1/Rooms/${encodeURIComponent(seeded.name)}`, apiKeyAuthorization);
      expect(byKey.status).to.equal(200);
      expect(byKey.body).to.include({ sid: seeded.room.sid, account_sid: testAccount.sid });
      const listed = await rest<RoomPageJson>("GET", `/v1/Rooms?UniqueName=${encodeURIComponent(seeded.name)}`, apiKeyAuthorization);
      expect(listed.status).to.equal(200);
      expect(listed.body.rooms.map((r) => r.sid)).to.deep.equal([seeded.room.sid]);
      const participant = await rest("GET", `/v1/Rooms/${seeded.room.sid}/Participants/alice`, apiKeyAuthorization);
      expect(participant.body).to.include({ sid: seeded.alice.sid, account_sid: testAccount.sid });
      const keyName = fresh("by-api-key");
      const created = await rest<RoomJson>("POST", "/v1/Rooms", apiKeyAuthorization, { UniqueName: keyName });
      expect(created.status).to.equal(201);
      expect(created.body.account_sid).to.equal(testAccount.sid);
      expect((await rest<RoomJson>("GET", `/v1/Rooms/${keyName}`, testAuthorization)).body.sid).to.equal(created.body.sid);
      expectNotFound(
        await rest("GET", `/v1/Rooms/${keyName}`, otherAuthorization),
        `/v1/Rooms/${keyName}`,
        "API key room as the other account",
      );
      // The scheme is case-insensitive (RFC 7617).
      const lower = await rest("GET", "/v1/Rooms", testAuthorization.replace(/^Basic/, "basic"));
      expect(lower.status).to.equal(200);
    });

    it("bad credentials are Unauthenticated on Connect JSON/HTTP1.1, Connect binary/HTTP2, gRPC-Web and gRPC (grpc-js)", async () => {
      const seeded = await seed();
      const request = { room: seeded.name, participant: "alice" };
      const connectTransports: [string, (authorization: string) => Client<typeof ParticipantService>][] = [
        ["Connect JSON/HTTP1.1", (authorization) => connectJsonHttp1(ParticipantService, server.url, authorization)],
        ["Connect binary/HTTP2", (authorization) => connectBinaryHttp2(ParticipantService, server.url, authorization)],
        ["gRPC-Web/HTTP1.1", (authorization) => grpcWebHttp1(ParticipantService, server.url, authorization)],
      ];
      for (const [transport, clientOf] of connectTransports) {
        for (const [label, authorization] of badCredentials) {
          const client = clientOf(authorization ?? "");
          // The helper sends no header for ""; an empty one goes per call.
          const options = authorization === "" ? { headers: { authorization: "" } } : {};
          const what = `${transport}, ${label}`;
          const get = await rejection(client.get(request, options));
          expect(get.code, `${what}: Get: ${get.message}`).to.equal(Code.Unauthenticated);
          const list = await rejection(collect(client.list({ room: seeded.name }, options)));
          expect(list.code, `${what}: List: ${list.message}`).to.equal(Code.Unauthenticated);
          const kick = await rejection(client.update({ ...request, status: ParticipantStatus.DISCONNECTED }, options));
          expect(kick.code, `${what}: Update: ${kick.message}`).to.equal(Code.Unauthenticated);
        }
        const byKey = (await clientOf(apiKeyAuthorization).get(request)).participant!;
        expect(byKey.sid, transport).to.equal(seeded.alice.sid);
        expect(byKey.accountSid, transport).to.equal(testAccount.sid);
      }

      const address = `127.0.0.1:${server.port}`;
      for (const [label, authorization] of badCredentials) {
        const client = grpcJs(ParticipantService, address, authorization ?? "");
        try {
          const metadata = () => {
            const m = new grpc.Metadata();
            if (authorization === "") m.set("authorization", "");
            return m;
          };
          const get = await client.get(request, authorization === "" ? metadata() : undefined).then(
            () => undefined,
            (e: grpc.ServiceError) => e,
          );
          expect(get?.code, `gRPC (grpc-js), ${label}: Get: ${get?.details}`).to.equal(grpc.status.UNAUTHENTICATED);
          const list = await client.list({ room: seeded.name }, authorization === "" ? metadata() : undefined).then(
            () => undefined,
            (e: grpc.ServiceError) => e,
          );
          expect(list?.code, `gRPC (grpc-js), ${label}: List: ${list?.details}`).to.equal(grpc.status.UNAUTHENTICATED);
        } finally {
          client.close();
        }
      }
      const byKey = grpcJs(ParticipantService, address, apiKeyAuthorization);
      try {
        const participant = (await byKey.get(request)).participant!;
        expect(participant.sid).to.equal(seeded.alice.sid);
        expect(participant.accountSid).to.equal(testAccount.sid);
      } finally {
        byKey.close();
      }
      await expectUnchanged(seeded);
    });
  });
});
