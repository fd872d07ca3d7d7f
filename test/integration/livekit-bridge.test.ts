import { createHash } from "node:crypto";
import { expect } from "chai";
import twilio from "twilio";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { ConfigError, type Config } from "../../src/config.js";
import { eachBackend } from "../support/backends.js";
import { connectJsonHttp1 } from "../support/clients.js";
import {
  FakeLiveKit,
  liveKitKey,
  liveKitSecret,
  liveKitSid,
  postWebhook,
  sendWebhook,
  signWebhook,
  webhookJson,
  type LiveKitParticipant,
  type LiveKitRoom,
} from "../support/livekit.js";
import { startRollcall, testAccount } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";

type TwilioClient = ReturnType<typeof twilio>;

// The LiveKit bridge end to end: webhooks signed as LiveKit signs them, a
// stand-in of LiveKit's RoomService (test/support/livekit.ts), rollcall
// checked through its Twilio API.
eachBackend((backend) => {
  describe(`the LiveKit bridge (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let liveKit: FakeLiveKit;
    let client: TwilioClient;

    const settings = (): Partial<Config> => ({
      ...backend.settings,
      // Reconciliation runs when a test asks for it (and once at start, on an empty LiveKit).
      liveKit: { url: liveKit.url, apiKey: liveKitKey, apiSecret: liveKitSecret, accountSid: testAccount.sid, reconcileMs: 3_600_000 },
      callbackPollMs: 50,
      callbackBackoffMs: 20,
      callbackBackoffMaxMs: 200,
    });

    before(async () => {
      liveKit = await new FakeLiveKit().start();
      server = await startRollcall(settings());
      client = twilio(testAccount.sid, testAccount.token);
      client.video.baseUrl = server.url;
      await waitFor(() => server.liveKit!.reconciler.stats.runs >= 1, { what: "the first reconciliation" });
    });
    after(async () => {
      await server?.close();
      await liveKit?.close();
    });

    let counter = 0;
    const newRoom = (): LiveKitRoom => ({ sid: liveKitSid("RM_"), name: `lk-${Date.now()}-${++counter}` });
    const newParticipant = (identity: string): LiveKitParticipant => ({ sid: liveKitSid("PA_"), identity });
    const send = (...args: Parameters<typeof sendWebhook> extends [string, ...infer Rest] ? Rest : never) =>
      sendWebhook(server.url, ...args);

    async function inProgress(name: string) {
      return client.video.v1.rooms.list({ uniqueName: name, status: "in-progress" });
    }
    async function allRooms(name: string) {
      return [...(await inProgress(name)), ...(await client.video.v1.rooms.list({ uniqueName: name, status: "completed" }))];
    }
    async function present(name: string): Promise<string[]> {
      return (await client.video.v1.rooms(name).participants.list({ status: "connected" })).map((p) => p.identity).sort();
    }
    async function gone(name: string) {
      return client.video.v1.rooms(name).participants.list({ status: "disconnected" });
    }

    describe("mapping", () => {
      it("room_started makes an in-progress room named after the LiveKit room; a second room_started finds it", async () => {
        const room = newRoom();
        expect((await send("room_started", room)).body.status).to.equal("applied");
        const [made] = await inProgress(room.name);
        expect(made).to.include({ uniqueName: room.name, status: "in-progress", accountSid: testAccount.sid });
        expect((await send("room_started", room)).status).to.equal(200);
        expect((await inProgress(room.name)).map((r) => r.sid)).to.deep.equal([made!.sid]);
      });

      it("room_started uses an in-progress room of that name created through the API", async () => {
        const room = newRoom();
        const created = await client.video.v1.rooms.create({ uniqueName: room.name });
        await send("room_started", room);
        expect((await inProgress(room.name)).map((r) => r.sid)).to.deep.equal([created.sid]);
      });

      it("participant_joined joins; a newer connection of the identity replaces the older one", async () => {
        const room = newRoom();
        await send("room_started", room);
        const first = newParticipant("alice");
        expect((await send("participant_joined", room, first)).body.status).to.equal("applied");
        expect(await present(room.name)).to.deep.equal(["alice"]);
        const older = await client.video.v1.rooms(room.name).participants("alice").fetch();
        await send("participant_joined", room, newParticipant("alice"));
        const newer = await client.video.v1.rooms(room.name).participants("alice").fetch();
        expect(newer.sid).to.not.equal(older.sid);
        expect((await gone(room.name)).map((p) => p.sid)).to.deep.equal([older.sid]);
      });

      it("participant_left and participant_connection_aborted disconnect (reason left); room_finished completes", async () => {
        const room = newRoom();
        const alice = newParticipant("alice");
        const bob = newParticipant("bob");
        const carol = newParticipant("carol");
        await send("room_started", room);
        for (const p of [alice, bob, carol]) await send("participant_joined", room, p);
        await send("participant_left", room, alice);
        await send("participant_connection_aborted", room, bob);
        expect(await present(room.name)).to.deep.equal(["carol"]);
        const [made] = await inProgress(room.name);
        const left = await connectJsonHttp1(ParticipantService, server.url).get({
          room: made!.sid,
          participant: (await gone(room.name))[0]!.sid,
        });
        expect(left.participant?.status).to.equal(ParticipantStatus.DISCONNECTED);
        await send("room_finished", room);
        expect(await inProgress(room.name)).to.deep.equal([]);
        const completed = await client.video.v1.rooms(made!.sid).fetch();
        expect(completed.status).to.equal("completed");
        expect(
          (await client.video.v1.rooms(made!.sid).participants.list({ status: "disconnected" })).map((p) => p.identity).sort(),
        ).to.deep.equal(["alice", "bob", "carol"]);
      });

      it("answers other events (tracks: not mirrored yet) with 200 and changes nothing", async () => {
        const room = newRoom();
        const answer = await send("track_published", room, newParticipant("alice"));
        expect(answer).to.deep.include({ status: 200 });
        expect(answer.body.status).to.equal("ignored");
        expect(await allRooms(room.name)).to.deep.equal([]);
      });
    });

    describe("LiveKit's delivery", () => {
      it("applies each webhook id once, whatever the token", async () => {
        const room = newRoom();
        await send("room_started", room);
        // Zoe stays, so the room outlives Alice's connections.
        await send("participant_joined", room, newParticipant("zoe"));
        const alice = newParticipant("alice");
        const id = liveKitSid("EV_");
        expect((await send("participant_joined", room, alice, id)).body.status).to.equal("applied");
        const before = await client.video.v1.rooms(room.name).participants("alice").fetch();
        // LiveKit's repeat of an event is signed anew (a later token).
        const again = await signWebhook(webhookJson("participant_joined", room, alice, id), { ttl: "6m" });
        expect((await postWebhook(server.url, again.body, again.authorization)).body).to.deep.equal({ status: "duplicate" });
        const leftId = liveKitSid("EV_");
        await send("participant_left", room, alice, leftId);
        await send("participant_joined", room, newParticipant("alice"));
        const leftAgain = await signWebhook(webhookJson("participant_left", room, alice, leftId), { ttl: "7m" });
        expect((await postWebhook(server.url, leftAgain.body, leftAgain.authorization)).body.status).to.equal("duplicate");
        expect(await present(room.name)).to.deep.equal(["alice", "zoe"]);
        expect((await gone(room.name)).map((p) => p.sid)).to.deep.equal([before.sid]);
      });

      it("a participant_left for an older LiveKit connection never disconnects the newer one", async () => {
        const room = newRoom();
        const older = newParticipant("alice");
        const newer = newParticipant("alice");
        await send("participant_joined", room, older);
        await send("participant_joined", room, newer);
        expect((await send("participant_left", room, older)).body.status).to.equal("ignored");
        expect(await present(room.name)).to.deep.equal(["alice"]);
        const [made] = await inProgress(room.name);
        await send("participant_left", room, newer);
        expect((await client.video.v1.rooms(made!.sid).participants.list({ status: "connected" })).length).to.equal(0);
      });

      it("a participant_joined arriving after its participant_left is not applied", async () => {
        const room = newRoom();
        await send("room_started", room);
        const alice = newParticipant("alice");
        await send("participant_left", room, alice);
        expect((await send("participant_joined", room, alice)).body.status).to.equal("ignored");
        expect(await present(room.name)).to.deep.equal([]);
      });

      it("a participant_joined before room_started makes the room; the late room_started finds it", async () => {
        const room = newRoom();
        await send("participant_joined", room, newParticipant("alice"));
        const [made] = await inProgress(room.name);
        await send("room_started", room);
        expect((await inProgress(room.name)).map((r) => r.sid)).to.deep.equal([made!.sid]);
        expect(await present(room.name)).to.deep.equal(["alice"]);
      });

      it("a room_started after room_finished of the same LiveKit room does not resurrect it", async () => {
        const room = newRoom();
        await send("room_started", room);
        await send("room_finished", room);
        expect((await send("room_started", room)).body.status).to.equal("ignored");
        expect(await inProgress(room.name)).to.deep.equal([]);
        const other = newRoom();
        await send("room_finished", other);
        await send("room_started", other);
        expect(await allRooms(other.name)).to.deep.equal([]);
      });

      it("participant_joined and participant_left after room_finished change nothing", async () => {
        const room = newRoom();
        const alice = newParticipant("alice");
        await send("room_started", room);
        await send("participant_joined", room, alice);
        await send("room_finished", room);
        const [completed] = await allRooms(room.name);
        expect((await send("participant_joined", room, newParticipant("bob"))).body.status).to.equal("ignored");
        expect((await send("participant_left", room, alice)).body.status).to.equal("ignored");
        expect(await inProgress(room.name)).to.deep.equal([]);
        const after = await client.video.v1.rooms(completed!.sid).participants.list({ status: "disconnected" });
        expect(after.map((p) => p.identity)).to.deep.equal(["alice"]);
      });
    });

    describe("reconciliation", () => {
      it("repairs missed webhooks from LiveKit's listings, logging and counting each repair", async () => {
        const room = newRoom();
        const [alice, bob, carol] = [newParticipant("alice"), newParticipant("bob"), newParticipant("carol")];
        // rollcall heard of the room and of carol; LiveKit has alice and bob (carol's left was lost).
        await send("room_started", room);
        await send("participant_joined", room, carol);
        const held = liveKit.room(room);
        held.participants.set("alice", alice);
        held.participants.set("bob", bob);
        // A room whose room_started was lost entirely.
        const unseen = newRoom();
        liveKit.room(unseen).participants.set("dave", newParticipant("dave"));
        // A room LiveKit reported that has ended since (room_finished lost).
        const ended = newRoom();
        await send("participant_joined", ended, newParticipant("erin"));
        // A room made through rollcall's API, never used in LiveKit.
        const apiOnly = await client.video.v1.rooms.create({ uniqueName: `api-only-${Date.now()}` });
        const stats = { ...server.liveKit!.reconciler.stats };
        await server.liveKit!.reconciler.reconcile();
        expect(await present(room.name)).to.deep.equal(["alice", "bob"]);
        expect((await gone(room.name)).map((p) => p.identity)).to.deep.equal(["carol"]);
        expect(await present(unseen.name)).to.deep.equal(["dave"]);
        expect(await inProgress(ended.name)).to.deep.equal([]);
        expect((await client.video.v1.rooms(apiOnly.sid).fetch()).status).to.equal("in-progress");
        const after = server.liveKit!.reconciler.stats;
        expect(after.joined - stats.joined).to.equal(3);
        expect(after.disconnected - stats.disconnected).to.equal(1);
        expect(after.roomsStarted - stats.roomsStarted).to.equal(1);
        // Rooms of earlier tests that the stand-in does not list end too.
        expect(after.roomsFinished - stats.roomsFinished).to.be.at.least(1);
        expect(server.logs.some((line) => line.startsWith('livekit: reconciliation disconnected "carol"'))).to.equal(true);
        expect(server.logs.some((line) => line.startsWith('livekit: reconciliation joined "dave"'))).to.equal(true);
        // A second pass finds nothing to repair.
        const settled = { ...server.liveKit!.reconciler.stats };
        await server.liveKit!.reconciler.reconcile();
        const again = server.liveKit!.reconciler.stats;
        expect([again.joined, again.disconnected, again.roomsStarted, again.roomsFinished]).to.deep.equal([
          settled.joined,
          settled.disconnected,
          settled.roomsStarted,
          settled.roomsFinished,
        ]);
        for (const name of [room.name, unseen.name]) liveKit.rooms.delete(name);
      });
    });

    describe("control back to LiveKit", () => {
      it("a kick through REST removes the participant from LiveKit; completing the room deletes it", async () => {
        const room = newRoom();
        const alice = newParticipant("alice");
        const bob = newParticipant("bob");
        liveKit.room(room).participants.set("alice", alice);
        liveKit.room(room).participants.set("bob", bob);
        await send("room_started", room);
        await send("participant_joined", room, alice);
        await send("participant_joined", room, bob);
        await client.video.v1.rooms(room.name).participants("alice").update({ status: "disconnected" });
        await waitFor(() => liveKit.callsOf("RemoveParticipant").some((c) => c.room === room.name && c.identity === "alice"), {
          what: "RemoveParticipant for alice",
        });
        const [made] = await inProgress(room.name);
        const rooms = connectJsonHttp1(RoomService, server.url);
        await rooms.update({ room: made!.sid, status: RoomStatus.COMPLETED });
        await waitFor(() => liveKit.callsOf("DeleteRoom").some((c) => c.room === room.name), { what: "DeleteRoom" });
        expect(liveKit.rooms.has(room.name)).to.equal(false);
        expect(liveKit.refused).to.deep.equal([]);
      });

      it("a kick through RPC while LiveKit is down reaches LiveKit once it is back, and the API call does not wait", async () => {
        const room = newRoom();
        const bob = newParticipant("bob");
        liveKit.room(room).participants.set("bob", bob);
        await send("participant_joined", room, bob);
        liveKit.down = true;
        try {
          const started = Date.now();
          const kicked = await connectJsonHttp1(ParticipantService, server.url).update({
            room: room.name,
            participant: "bob",
            status: ParticipantStatus.DISCONNECTED,
          });
          expect(kicked.participant?.status).to.equal(ParticipantStatus.DISCONNECTED);
          expect(Date.now() - started).to.be.lessThan(2000);
          await waitFor(() => server.liveKit!.control.stats.failedAttempts >= 2, { what: "failed attempts while LiveKit is down" });
          expect(liveKit.callsOf("RemoveParticipant").some((c) => c.room === room.name)).to.equal(false);
        } finally {
          liveKit.down = false;
        }
        await waitFor(() => liveKit.callsOf("RemoveParticipant").some((c) => c.room === room.name && c.identity === "bob"), {
          what: "the removal after LiveKit came back",
          timeoutMs: 10_000,
        });
        expect(liveKit.room(room).participants.has("bob")).to.equal(false);
        liveKit.rooms.delete(room.name);
      });

      it("leaves rooms LiveKit never reported alone", async () => {
        const name = `api-${Date.now()}`;
        const participants = connectJsonHttp1(ParticipantService, server.url);
        await participants.join({ room: name, identity: "zed" });
        await participants.update({ room: name, participant: "zed", status: ParticipantStatus.DISCONNECTED });
        const marker = newRoom();
        liveKit.room(marker).participants.set("x", newParticipant("x"));
        await send("participant_joined", marker, liveKit.room(marker).participants.get("x"));
        await client.video.v1.rooms(marker.name).participants("x").update({ status: "disconnected" });
        await waitFor(() => liveKit.callsOf("RemoveParticipant").some((c) => c.room === marker.name), {
          what: "the kick after the other room's",
        });
        expect(liveKit.calls.some((c) => c.body.room === name)).to.equal(false);
        liveKit.rooms.delete(marker.name);
      });
    });

    describe("bad input", () => {
      async function refusedWithoutChange(body: string, authorization: string | undefined, status: number, contentType?: string) {
        const answer = await postWebhook(server.url, body, authorization, contentType);
        expect(answer.status, answer.body.error).to.equal(status);
        return answer;
      }

      it("refuses unsigned, wrongly signed, wrong issuer, altered, expired and replayed webhooks with 401", async () => {
        const room = newRoom();
        const body = webhookJson("room_started", room);
        await refusedWithoutChange(body, undefined, 401);
        await refusedWithoutChange(
          body,
          (await signWebhook(body, { secret: "another-secret-of-at-least-32-characters" })).authorization,
          401,
        );
        await refusedWithoutChange(body, (await signWebhook(body, { key: "APIsomeoneElse" })).authorization, 401);
        const signed = await signWebhook(body);
        await refusedWithoutChange(body.replace(room.name, room.name + "-x"), signed.authorization, 401);
        await refusedWithoutChange(body, (await signWebhook(body, { ttl: "-60s" })).authorization, 401);
        await refusedWithoutChange(body, (await signWebhook(body, { signedBody: "{}" })).authorization, 401);
        await refusedWithoutChange(body, "Bearer not-a-jwt", 401);
        expect(await allRooms(room.name)).to.deep.equal([]);
        expect(await allRooms(room.name + "-x")).to.deep.equal([]);
        // The genuine request once: applied; replayed: refused.
        expect((await postWebhook(server.url, body, signed.authorization)).status).to.equal(200);
        await refusedWithoutChange(body, signed.authorization, 401);
        expect((await inProgress(room.name)).length).to.equal(1);
      });

      it("refuses a 10 MB body (413), malformed JSON and events without room (400), other content types (415)", async () => {
        const room = newRoom();
        const refusedBefore = server.liveKit!.ingest.stats.refused;
        const huge = webhookJson("room_started", room).replace('"name":', `"metadata":"${"x".repeat(10 * 1024 * 1024)}","name":`);
        const hugeSigned = await signWebhook(huge);
        await refusedWithoutChange(huge, hugeSigned.authorization, 413).catch((error: unknown) => {
          // The server may close the socket before reading it all; fetch then fails.
          if (!(error instanceof TypeError)) throw error;
        });
        const malformed = '{"event": "room_started", "room": {"sid": "RM_x"';
        await refusedWithoutChange(malformed, (await signWebhook(malformed)).authorization, 400);
        const noRoom = webhookJson("room_started", room).replace(/"room":\{[^}]*\},?/, "");
        await refusedWithoutChange(noRoom, (await signWebhook(noRoom)).authorization, 400);
        const wrongType = webhookJson("room_started", room);
        await refusedWithoutChange(wrongType, (await signWebhook(wrongType)).authorization, 415, "text/plain");
        expect(await allRooms(room.name)).to.deep.equal([]);
        expect(server.liveKit!.ingest.stats.refused - refusedBefore).to.be.at.least(3);
      });
    });

    describe("the twilio SDK on a room fed only by LiveKit", () => {
      it("fetches, lists and kicks", async () => {
        const room = newRoom();
        const [alice, bob] = [newParticipant("Alice"), newParticipant("Bob")];
        for (const p of [alice, bob]) liveKit.room(room).participants.set(p.identity, p);
        await send("room_started", room);
        await send("participant_joined", room, alice);
        await send("participant_joined", room, bob);
        const fetched = await client.video.v1.rooms(room.name).fetch();
        expect(fetched).to.include({ uniqueName: room.name, status: "in-progress" });
        const aliceRecord = await client.video.v1.rooms(room.name).participants("Alice").fetch();
        expect(aliceRecord).to.include({ identity: "Alice", status: "connected" });
        expect((await client.video.v1.rooms(room.name).participants.list()).map((p) => p.identity).sort()).to.deep.equal(["Alice", "Bob"]);
        const kicked = await client.video.v1.rooms(room.name).participants("Alice").update({ status: "disconnected" });
        expect(kicked.status).to.equal("disconnected");
        await waitFor(() => liveKit.callsOf("RemoveParticipant").some((c) => c.room === room.name && c.identity === "Alice"), {
          what: "Alice removed from LiveKit",
        });
        // LiveKit then reports her gone: nothing more changes.
        await send("participant_left", room, alice);
        expect((await client.video.v1.rooms(room.name).participants.list()).map((p) => p.identity)).to.deep.equal(["Bob"]);
        liveKit.rooms.delete(room.name);
      });
    });

    describe("the bridge's store state", () => {
      it("claims once, keeps each LiveKit room's mapping and finished mark, and the followed rooms both ways", async () => {
        const store = server.store;
        const account = testAccount.sid;
        const key = "webhook:" + createHash("sha256").update(String(Math.random())).digest("hex");
        expect(await store.claimLiveKitOnce(account, key, 60_000)).to.equal(true);
        expect(await store.claimLiveKitOnce(account, key, 60_000)).to.equal(false);
        await store.releaseLiveKitOnce(account, key);
        expect(await store.claimLiveKitOnce(account, key, 60_000)).to.equal(true);
        const lk = liveKitSid("RM_");
        expect(await store.getLiveKitRoom(account, lk)).to.equal(undefined);
        await store.updateLiveKitRoom(
          account,
          lk,
          { roomSid: "RM" + "a".repeat(32), participants: { PA_1: "PA" + "b".repeat(32) } },
          60_000,
        );
        await store.updateLiveKitRoom(account, lk, { participants: { PA_2: "" } }, 60_000);
        const state = await store.getLiveKitRoom(account, lk);
        expect(state?.roomSid).to.equal("RM" + "a".repeat(32));
        expect(state?.finished).to.equal(false);
        expect([...state!.participants]).to.deep.equal([
          ["PA_1", "PA" + "b".repeat(32)],
          ["PA_2", ""],
        ]);
        expect((await store.liveKitRooms(account)).get(lk)).to.equal("RM" + "a".repeat(32));
        expect(await store.liveKitRoomOf(account, "RM" + "a".repeat(32))).to.equal(lk);
        await store.updateLiveKitRoom(account, lk, { finished: true }, 60_000);
        expect((await store.getLiveKitRoom(account, lk))?.finished).to.equal(true);
        expect((await store.liveKitRooms(account)).has(lk)).to.equal(false);
        expect(await store.liveKitRoomOf(account, "RM" + "a".repeat(32))).to.equal(undefined);
        expect(await store.liveKitRooms(testAccount.sid.replace(/1/g, "2"))).to.deep.equal(new Map());
      });
    });
  });
});

describe("the LiveKit bridge's account", () => {
  it("must be named when the credentials have several accounts", async () => {
    const liveKit = {
      url: "http://127.0.0.1:9",
      apiKey: liveKitKey,
      apiSecret: liveKitSecret,
      accountSid: undefined,
      reconcileMs: 3_600_000,
    };
    let failure: unknown;
    await startRollcall({ liveKit }).then(
      (server) => server.close(),
      (error: unknown) => (failure = error),
    );
    expect(failure).to.be.instanceOf(ConfigError);
    expect((failure as Error).message).to.match(/ROLLCALL_LIVEKIT_ACCOUNT_SID/);
  });
});
