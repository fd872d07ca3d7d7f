import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { expect } from "chai";
import twilio from "twilio";
import { EventService, EventType } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantService, type Participant } from "../../gen/rollcall/v1/participant_pb.js";
import { TrackKind, TrackService } from "../../gen/rollcall/v1/track_pb.js";
import { eachBackend } from "../support/backends.js";
import { watchUntil } from "../support/watch.js";
import { connectJsonHttp1, rejection } from "../support/clients.js";
import { otherAccount, otherAuthorization, startRollcall, testAccount, testAuthorization } from "../support/rollcall.js";

type TwilioClient = ReturnType<typeof twilio>;

// Twilio's participant subresources through the official twilio package:
// published tracks, subscribed tracks and subscribe rules, with the media
// plane reporting tracks over TrackService.
eachBackend((backend) => {
  describe(`tracks through the twilio SDK and TrackService (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let client: TwilioClient;
    let stranger: TwilioClient;
    let participants: Client<typeof ParticipantService>;
    let tracks: Client<typeof TrackService>;

    before(async () => {
      server = await startRollcall(backend.settings);
      client = twilio(testAccount.sid, testAccount.token);
      client.video.baseUrl = server.url;
      stranger = twilio(otherAccount.sid, otherAccount.token);
      stranger.video.baseUrl = server.url;
      participants = connectJsonHttp1(ParticipantService, server.url);
      tracks = connectJsonHttp1(TrackService, server.url);
    });
    after(async () => server.close());

    const uniqueName = (base: string) => `${base}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

    async function restError(call: Promise<unknown>): Promise<{ status: number; code: number; message: string }> {
      try {
        await call;
      } catch (error) {
        expect((error as Error).constructor.name).to.equal("RestException");
        return error as { status: number; code: number; message: string };
      }
      throw new Error("expected a RestException");
    }

    async function join(room: string, identity: string): Promise<Participant> {
      return (await participants.join({ room, identity })).participant!;
    }

    async function publish(p: Participant, name: string, kind = TrackKind.AUDIO, enabled?: boolean) {
      return (await tracks.publish({ room: p.roomSid, participant: p.sid, name, kind, enabled })).track!;
    }

    it("lists and fetches published tracks, by sid and by name, with Twilio's fields", async () => {
      const room = uniqueName("Tracks");
      const alice = await join(room, "alice");
      const mic = await publish(alice, "mic");
      const cam = await publish(alice, "cam", TrackKind.VIDEO, false);
      const published = client.video.v1.rooms(room).participants("alice").publishedTracks;
      const listed = await published.list();
      expect(listed.map((t) => t.sid)).to.deep.equal([mic.sid, cam.sid]);
      const bySid = await client.video.v1.rooms(alice.roomSid).participants(alice.sid).publishedTracks(mic.sid).fetch();
      expect(bySid.toJSON()).to.deep.include({
        sid: mic.sid,
        participantSid: alice.sid,
        roomSid: alice.roomSid,
        name: "mic",
        enabled: true,
        kind: "audio",
      });
      expect(bySid.sid).to.match(/^MT[0-9a-f]{32}$/);
      expect(bySid.dateCreated).to.be.instanceOf(Date);
      expect(bySid.url).to.equal(`${server.url}/v1/Rooms/${alice.roomSid}/Participants/${alice.sid}/PublishedTracks/${mic.sid}`);
      const byName = await published("cam").fetch();
      expect(byName.toJSON()).to.deep.include({ sid: cam.sid, name: "cam", enabled: false, kind: "video" });
      const page = await published.page({ pageSize: 1 });
      expect(page.instances.map((t) => t.sid)).to.deep.equal([mic.sid]);
      expect((await page.nextPage())!.instances.map((t) => t.sid)).to.deep.equal([cam.sid]);
      expect(await restError(published("nope").fetch())).to.include({ status: 404, code: 20404 });
      expect(await restError(published("MT" + "0".repeat(32)).fetch())).to.include({ status: 404, code: 20404 });
      expect(await restError(stranger.video.v1.rooms(alice.roomSid).participants(alice.sid).publishedTracks.list())).to.include({
        status: 404,
        code: 20404,
      });
      expect(await restError(stranger.video.v1.rooms(alice.roomSid).participants(alice.sid).publishedTracks(mic.sid).fetch())).to.include({
        status: 404,
      });
    });

    it("lists and fetches subscribed tracks with publisher_sid; a name does not fetch one", async () => {
      const room = uniqueName("Subs");
      const alice = await join(room, "alice");
      const bob = await join(room, "bob");
      const mic = await publish(alice, "mic");
      const sub = (await tracks.subscribe({ room, participant: "bob", track: mic.sid })).subscribedTrack!;
      expect(sub.participantSid).to.equal(bob.sid);
      const subscribed = client.video.v1.rooms(room).participants(bob.sid).subscribedTracks;
      const [listed] = await subscribed.list();
      expect(listed!.toJSON()).to.deep.include({
        sid: mic.sid,
        participantSid: bob.sid,
        publisherSid: alice.sid,
        roomSid: alice.roomSid,
        name: "mic",
        kind: "audio",
        enabled: true,
      });
      expect(listed!.url).to.equal(`${server.url}/v1/Rooms/${alice.roomSid}/Participants/${bob.sid}/SubscribedTracks/${mic.sid}`);
      const fetched = await subscribed(mic.sid).fetch();
      expect(fetched.toJSON()).to.deep.equal(listed!.toJSON());
      expect(await restError(subscribed("mic").fetch())).to.include({ status: 404, code: 20404 });
      await tracks.update({ room, participant: "alice", track: "mic", enabled: false });
      expect((await subscribed(mic.sid).fetch()).enabled).to.equal(false);
      await tracks.unsubscribe({ room, participant: "bob", track: mic.sid });
      expect(await subscribed.list()).to.deep.equal([]);
    });

    it("subscribe rules: Twilio's default, updates that replace them, and 53215 for every invalid set, keeping the rules", async () => {
      const room = uniqueName("Rules");
      const alice = await join(room, "alice");
      const rules = client.video.v1.rooms(alice.roomSid).participants(alice.sid).subscribeRules;
      const initial = await rules.fetch();
      expect(initial.toJSON()).to.deep.include({ participantSid: alice.sid, roomSid: alice.roomSid, dateCreated: null, dateUpdated: null });
      expect(JSON.parse(JSON.stringify(initial.rules))).to.deep.equal([
        { type: "include", all: true, publisher: null, track: null, kind: null, priority: null },
      ]);
      const updated = await rules.update({ rules: [{ type: "exclude", all: true }] });
      expect(updated.dateCreated).to.be.instanceOf(Date);
      expect(JSON.parse(JSON.stringify(updated.rules))).to.deep.equal([
        { type: "exclude", all: true, publisher: null, track: null, kind: null, priority: null },
      ]);
      const wanted = [
        { type: "include", publisher: "bob" },
        { type: "include", kind: "audio" },
        { type: "exclude", publisher: "carol", track: "screen", priority: "high" },
      ];
      const replaced = await rules.update({ rules: wanted });
      const kept = JSON.parse(JSON.stringify(replaced.rules)) as Record<string, unknown>[];
      expect(kept.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null)))).to.deep.equal(wanted);
      const invalid: [string, unknown][] = [
        ["not JSON", "[{type: include}"],
        ["not an array", '{"type":"include","all":true}'],
        ["an empty array", []],
        ["21 rules", Array.from({ length: 21 }, () => ({ type: "include", kind: "audio" }))],
        ["a rule without type", [{ all: true }]],
        ["an unknown type", [{ type: "maybe", all: true }]],
        ["all false", [{ type: "include", all: false }]],
        ["all with a filter", [{ type: "include", all: true, kind: "audio" }]],
        ["an unknown kind", [{ type: "include", kind: "screen" }]],
        ["a repeated filter", '[{"type":"include","kind":"audio","kind":"video"}]'],
        ["a rule with no filter", [{ type: "include" }]],
        ["an unknown field", [{ type: "include", colour: "red" }]],
        ["a non-string filter", [{ type: "include", publisher: 7 }]],
        ["a rule that is not an object", ["include"]],
        ["trailing garbage", '[{"type":"include","all":true}] x'],
      ];
      for (const [what, value] of invalid) {
        const error = await restError(rules.update({ rules: value }));
        expect(error, what).to.include({ status: 400, code: 53215 });
      }
      const huge = JSON.stringify(Array.from({ length: 20 }, () => ({ type: "include", publisher: "x".repeat(52_000) })));
      expect(huge.length).to.be.greaterThan(1_000_000);
      expect((await restError(rules.update({ rules: huge }))).status).to.be.oneOf([400, 413]);
      expect(JSON.parse(JSON.stringify((await rules.fetch()).rules))).to.deep.equal(kept);
      expect(await restError(stranger.video.v1.rooms(alice.roomSid).participants(alice.sid).subscribeRules.fetch())).to.include({
        status: 404,
        code: 20404,
      });
      expect(
        await restError(
          stranger.video.v1
            .rooms(alice.roomSid)
            .participants(alice.sid)
            .subscribeRules.update({ rules: [{ type: "include", all: true }] }),
        ),
      ).to.include({
        status: 404,
      });
      expect(JSON.parse(JSON.stringify((await rules.fetch()).rules))).to.deep.equal(kept);
    });

    it("subscribe rules are readable and writable over RPC with the same checks", async () => {
      const room = uniqueName("RpcRules");
      await join(room, "alice");
      const initial = (await tracks.getSubscribeRules({ room, participant: "alice" })).subscribeRules!;
      expect(initial.rules).to.have.length(1);
      expect(initial.rules[0]!.all).to.equal(true);
      expect(initial.dateCreated).to.equal(undefined);
      const set = (await tracks.updateSubscribeRules({ room, participant: "alice", rules: [{ type: 2, kind: TrackKind.VIDEO }] }))
        .subscribeRules!;
      expect(set.rules.map((r) => [r.type, r.kind])).to.deep.equal([[2, TrackKind.VIDEO]]);
      expect((await rejection(tracks.updateSubscribeRules({ room, participant: "alice", rules: [] }))).code).to.equal(Code.InvalidArgument);
      expect(
        (
          await rejection(
            tracks.updateSubscribeRules({ room, participant: "alice", rules: [{ type: 1, all: true, kind: TrackKind.AUDIO }] }),
          )
        ).code,
      ).to.equal(Code.InvalidArgument);
      expect((await tracks.getSubscribeRules({ room, participant: "alice" })).subscribeRules!.rules).to.deep.equal(set.rules);
    });

    it("refuses bad track input: names too long or with control characters, unknown kinds, own tracks, another room's tracks", async () => {
      const room = uniqueName("Bad");
      const alice = await join(room, "alice");
      const bob = await join(room, "bob");
      const carol = await join(uniqueName("Elsewhere"), "carol");
      const odd = [
        "a:b",
        "{tag}",
        "a/b",
        "a b",
        "'\"\\",
        "%00",
        "..",
        "?x=1&y",
        "#frag",
        "😀".repeat(128),
        "MT" + "z".repeat(32),
        "\u{10FFFF}",
        "名前",
      ];
      for (const name of odd) {
        const track = await publish(alice, name);
        expect(track.name).to.equal(name);
        // Raw HTTP: the SDK refuses some of these names as path parameters.
        // URLs read ".." as a dot-segment however it is escaped, so that
        // track is fetched by sid.
        const segment = name === ".." ? track.sid : encodeURIComponent(name);
        const url = `${server.url}/v1/Rooms/${alice.roomSid}/Participants/${alice.sid}/PublishedTracks/${segment}`;
        const response = await fetch(url, { headers: { authorization: testAuthorization } });
        expect(response.status, JSON.stringify(name)).to.equal(200);
        expect(((await response.json()) as { sid: string }).sid, JSON.stringify(name)).to.equal(track.sid);
      }
      expect((await rejection(publish(alice, "x".repeat(129)))).code).to.equal(Code.InvalidArgument);
      expect((await rejection(publish(alice, "a\u0000b"))).code).to.equal(Code.InvalidArgument);
      expect((await rejection(publish(alice, "a\nb"))).code).to.equal(Code.InvalidArgument);
      expect((await rejection(publish(alice, ""))).code).to.equal(Code.InvalidArgument);
      expect((await rejection(publish(alice, "k", 99 as TrackKind))).code).to.equal(Code.InvalidArgument);
      expect((await rejection(publish(alice, "k", TrackKind.UNSPECIFIED))).code).to.equal(Code.InvalidArgument);
      const mic = await publish(alice, "mic");
      expect((await rejection(publish(alice, "mic"))).code).to.equal(Code.AlreadyExists);
      expect((await rejection(tracks.subscribe({ room, participant: alice.sid, track: mic.sid }))).code).to.equal(Code.FailedPrecondition);
      const elsewhere = await publish(carol, "mic");
      expect((await rejection(tracks.subscribe({ room, participant: bob.sid, track: elsewhere.sid }))).code).to.equal(Code.NotFound);
      expect((await rejection(tracks.subscribe({ room, participant: bob.sid, track: "mic" }))).code).to.equal(Code.InvalidArgument);
      const strangerTracks = connectJsonHttp1(TrackService, server.url, otherAuthorization);
      expect(
        (await rejection(strangerTracks.publish({ room: alice.roomSid, participant: alice.sid, name: "spy", kind: TrackKind.AUDIO }))).code,
      ).to.equal(Code.NotFound);
    });

    it("Watch sees each track change with its track, and a leave's track-removed before its disconnect", async () => {
      const room = uniqueName("Watched");
      const alice = await join(room, "alice");
      const bob = await join(room, "bob");
      const events = connectJsonHttp1(EventService, server.url);
      let after = "";
      for await (const page of participants.list({ room })) after = page.watchCursor;
      const mic = await publish(alice, "mic");
      await tracks.update({ room, participant: "alice", track: "mic", enabled: false });
      await tracks.subscribe({ room, participant: "bob", track: mic.sid });
      await tracks.updateSubscribeRules({ room, participant: "bob", rules: [{ type: 1, all: true }] });
      await participants.leave({ room, participant: "alice" });
      const { received } = await watchUntil(events, { room, after }, (got) =>
        got.some((e) => e.type === EventType.PARTICIPANT_DISCONNECTED),
      );
      expect(received.map((e) => e.type)).to.deep.equal([
        EventType.TRACK_ADDED,
        EventType.TRACK_DISABLED,
        EventType.TRACK_SUBSCRIBED,
        EventType.SUBSCRIBE_RULES_UPDATED,
        EventType.TRACK_REMOVED,
        EventType.PARTICIPANT_DISCONNECTED,
      ]);
      expect(received[0]!.track).to.deep.include({
        sid: mic.sid,
        name: "mic",
        kind: TrackKind.AUDIO,
        enabled: true,
        participantSid: alice.sid,
      });
      expect(received[1]!.track?.enabled).to.equal(false);
      expect(received[2]!.participant?.sid).to.equal(bob.sid);
      expect(received[3]!.subscribeRules?.rules).to.have.length(1);
      expect(received[4]!.participant?.sid).to.equal(alice.sid);
    });

    it("a disconnect racing 50 publishes leaves no published track of the disconnected participant", async () => {
      const room = uniqueName("Race");
      const alice = await join(room, "alice");
      await join(room, "bob");
      const publishes = Array.from({ length: 50 }, (_, i) =>
        tracks.publish({ room: alice.roomSid, participant: alice.sid, name: `t${i}`, kind: TrackKind.AUDIO }),
      );
      const leaving = participants.leave({ room: alice.roomSid, participant: alice.sid });
      const outcomes = await Promise.allSettled([...publishes, leaving]);
      expect(outcomes.at(-1)!.status).to.equal("fulfilled");
      for (const outcome of outcomes.slice(0, -1)) {
        if (outcome.status === "rejected") expect(ConnectError.from(outcome.reason).code).to.equal(Code.FailedPrecondition);
      }
      expect(await client.video.v1.rooms(alice.roomSid).participants(alice.sid).publishedTracks.list()).to.deep.equal([]);
      const listed = [];
      for await (const page of tracks.listPublished({ room: alice.roomSid, participant: alice.sid })) listed.push(...page.tracks);
      expect(listed).to.deep.equal([]);
    });
  });
});
