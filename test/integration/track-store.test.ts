import { expect } from "chai";
import { newSid } from "../../src/operations/sids.js";
import { MemoryStore } from "../../src/store/memory/memory-store.js";
import type { ChangeEvent, ParticipantRecord, RoomRecord, TrackKind } from "../../src/domain/records.js";
import type { Store, TrackOutcome } from "../../src/store/store.js";
import { roomRecord, t0, testLimits } from "../support/records.js";
import { eachRedisTarget } from "../support/redis-targets.js";
import { testClock, type TestClock } from "../support/timed-store.js";

// The track part of the Store contract: published tracks, subscriptions and
// subscribe rules behave the same on the memory store, a redis-server and a
// Redis Cluster, and every change is one event in the room's log.

function ok<T>(outcome: TrackOutcome<T>): T {
  if (outcome.kind !== "ok") expect.fail(`expected the change to succeed, got ${outcome.kind}`);
  return outcome.value;
}

function trackContract(name: string, open: (clock: TestClock & { read: () => number }) => Promise<Store>): void {
  describe(`track store contract: ${name}`, () => {
    let store: Store;
    let clock: TestClock & { read: () => number };

    beforeEach(async () => {
      clock = testClock(t0);
      store = await open(clock);
    });
    afterEach(async () => store.close());

    async function room(fields: Partial<RoomRecord> = {}): Promise<RoomRecord> {
      const outcome = await store.createRoom(roomRecord(fields));
      if (outcome.kind !== "created") expect.fail("room not created");
      return outcome.room;
    }

    async function join(r: RoomRecord, identity: string): Promise<ParticipantRecord> {
      const outcome = await store.join(r.accountSid, r.sid, newSid("PA"), identity);
      if (outcome.kind !== "joined") expect.fail(`join: ${outcome.kind}`);
      return outcome.participant;
    }

    function publish(p: ParticipantRecord, name: string, kind: TrackKind = "audio", enabled = true) {
      return store.publishTrack(p.accountSid, p.roomSid, p.sid, { sid: "MT" + newSid("PA").slice(2), name, kind, enabled });
    }

    async function events(r: RoomRecord): Promise<ChangeEvent[]> {
      const stop = new AbortController();
      const all: ChangeEvent[] = [];
      const last = (await store.listParticipants(r.accountSid, r.sid, { status: "connected", limit: 1 })).logId;
      for await (const batch of store.followLog({ accountSid: r.accountSid, roomSid: r.sid }, "0-0", {
        signal: stop.signal,
        keepAliveMs: 5000,
      })) {
        all.push(...batch.events.map((e) => e.event));
        if (batch.lastId === last) break;
      }
      stop.abort();
      return all;
    }

    it("publishes, finds by sid and by name, lists in order, and refuses a name twice", async () => {
      const r = await room();
      const alice = await join(r, "alice");
      clock.now = t0 + 10;
      const mic = ok(await publish(alice, "mic"));
      expect(mic).to.include({
        name: "mic",
        kind: "audio",
        enabled: true,
        participantSid: alice.sid,
        roomSid: r.sid,
        accountSid: r.accountSid,
        dateCreated: t0 + 10,
      });
      clock.now = t0 + 5; // the room's clock does not go back
      const cam = ok(await publish(alice, "cam", "video", false));
      expect(cam.dateCreated).to.equal(t0 + 10);
      expect(cam.sequence).to.be.greaterThan(mic.sequence);
      expect((await publish(alice, "mic", "video")).kind).to.equal("track_name_taken");
      expect(await store.getPublishedTrack(r.accountSid, r.sid, alice.sid, { sid: mic.sid })).to.deep.equal(mic);
      expect(await store.getPublishedTrack(r.accountSid, r.sid, alice.sid, { name: "cam" })).to.deep.equal(cam);
      expect(await store.getPublishedTrack(r.accountSid, r.sid, alice.sid, { name: "nope" })).to.equal(undefined);
      expect(await store.getPublishedTrack(newSid("AC"), r.sid, alice.sid, { sid: mic.sid })).to.equal(undefined);
      expect(await store.listPublishedTracks(r.accountSid, r.sid, alice.sid, { limit: 10 })).to.deep.equal([mic, cam]);
      const first = await store.listPublishedTracks(r.accountSid, r.sid, alice.sid, { limit: 1 });
      expect(first).to.deep.equal([mic]);
      const after = await store.listPublishedTracks(r.accountSid, r.sid, alice.sid, {
        limit: 10,
        cursor: { time: mic.dateCreated, sequence: mic.sequence, sid: mic.sid },
      });
      expect(after).to.deep.equal([cam]);
      const types = (await events(r)).map((e) => e.type);
      expect(types.filter((t) => t === "track-added")).to.have.length(2);
      const added = (await events(r)).find((e) => e.type === "track-added")!;
      expect(added.track).to.deep.equal(mic);
      expect(added.participant).to.deep.equal(alice);
    });

    it("enables and disables with one event per real change", async () => {
      const r = await room();
      const alice = await join(r, "alice");
      const mic = ok(await publish(alice, "mic"));
      clock.now = t0 + 20;
      const off = ok(await store.setTrackEnabled(r.accountSid, r.sid, alice.sid, mic.sid, false));
      expect(off).to.include({ enabled: false, dateUpdated: t0 + 20 });
      ok(await store.setTrackEnabled(r.accountSid, r.sid, alice.sid, mic.sid, false));
      ok(await store.setTrackEnabled(r.accountSid, r.sid, alice.sid, mic.sid, true));
      expect((await events(r)).map((e) => e.type).filter((t) => t.startsWith("track-"))).to.deep.equal([
        "track-added",
        "track-disabled",
        "track-enabled",
      ]);
      expect((await store.setTrackEnabled(r.accountSid, r.sid, alice.sid, "MT" + "0".repeat(32), true)).kind).to.equal("track_not_found");
    });

    it("subscribes to another's track, not to its own nor to another room's, and unsubscribes", async () => {
      const r = await room();
      const other = await room({ accountSid: r.accountSid });
      const alice = await join(r, "alice");
      const bob = await join(r, "bob");
      const carol = await join(other, "carol");
      const mic = ok(await publish(alice, "mic"));
      const elsewhere = ok(await publish(carol, "mic"));
      clock.now = t0 + 30;
      const sub = ok(await store.subscribe(r.accountSid, r.sid, bob.sid, mic.sid));
      expect(sub).to.deep.include({ participantSid: bob.sid, dateCreated: t0 + 30, track: mic });
      expect(ok(await store.subscribe(r.accountSid, r.sid, bob.sid, mic.sid))).to.deep.equal(sub);
      expect((await store.subscribe(r.accountSid, r.sid, alice.sid, mic.sid)).kind).to.equal("own_track");
      expect((await store.subscribe(r.accountSid, r.sid, bob.sid, elsewhere.sid)).kind).to.equal("track_not_found");
      expect(await store.getSubscription(r.accountSid, r.sid, bob.sid, mic.sid)).to.deep.equal(sub);
      expect(await store.listSubscriptions(r.accountSid, r.sid, bob.sid, { limit: 10 })).to.deep.equal([sub]);
      // A subscription shows the track as it is now.
      const off = ok(await store.setTrackEnabled(r.accountSid, r.sid, alice.sid, mic.sid, false));
      expect((await store.getSubscription(r.accountSid, r.sid, bob.sid, mic.sid))?.track).to.deep.equal(off);
      ok(await store.unsubscribe(r.accountSid, r.sid, bob.sid, mic.sid));
      expect((await store.unsubscribe(r.accountSid, r.sid, bob.sid, mic.sid)).kind).to.equal("track_not_found");
      expect(await store.listSubscriptions(r.accountSid, r.sid, bob.sid, { limit: 10 })).to.deep.equal([]);
    });

    it("unpublishing ends the track's subscriptions", async () => {
      const r = await room();
      const alice = await join(r, "alice");
      const bob = await join(r, "bob");
      const mic = ok(await publish(alice, "mic"));
      ok(await store.subscribe(r.accountSid, r.sid, bob.sid, mic.sid));
      expect(ok(await store.unpublishTrack(r.accountSid, r.sid, alice.sid, mic.sid))).to.deep.equal(mic);
      expect(await store.getPublishedTrack(r.accountSid, r.sid, alice.sid, { sid: mic.sid })).to.equal(undefined);
      expect(await store.listSubscriptions(r.accountSid, r.sid, bob.sid, { limit: 10 })).to.deep.equal([]);
      expect((await store.unpublishTrack(r.accountSid, r.sid, alice.sid, mic.sid)).kind).to.equal("track_not_found");
      // The name is free again.
      ok(await publish(alice, "mic"));
    });

    it("a disconnect unpublishes the participant's tracks and ends its subscriptions in its own step", async () => {
      const r = await room();
      const alice = await join(r, "alice");
      const bob = await join(r, "bob");
      const mic = ok(await publish(alice, "mic"));
      const cam = ok(await publish(alice, "cam", "video"));
      const bobMic = ok(await publish(bob, "mic"));
      ok(await store.subscribe(r.accountSid, r.sid, bob.sid, mic.sid));
      ok(await store.subscribe(r.accountSid, r.sid, alice.sid, bobMic.sid));
      await store.disconnectParticipant(r.accountSid, r.sid, alice.sid, "left");
      expect(await store.listPublishedTracks(r.accountSid, r.sid, alice.sid, { limit: 10 })).to.deep.equal([]);
      expect(await store.listSubscriptions(r.accountSid, r.sid, alice.sid, { limit: 10 })).to.deep.equal([]);
      expect(await store.listSubscriptions(r.accountSid, r.sid, bob.sid, { limit: 10 })).to.deep.equal([]);
      expect((await publish(alice, "again")).kind).to.equal("participant_disconnected");
      const tail = (await events(r)).slice(-3);
      expect(tail.map((e) => [e.type, e.track?.sid])).to.deep.equal([
        ["track-removed", mic.sid],
        ["track-removed", cam.sid],
        ["participant-disconnected", undefined],
      ]);
      expect(tail[0]!.participant?.status).to.equal("connected");
      // Bob's own track stays.
      expect(await store.listPublishedTracks(r.accountSid, r.sid, bob.sid, { limit: 10 })).to.deep.equal([bobMic]);
    });

    it("a room's completion unpublishes everyone's tracks", async () => {
      const r = await room();
      const alice = await join(r, "alice");
      const bob = await join(r, "bob");
      ok(await publish(alice, "mic"));
      ok(await publish(bob, "mic"));
      await store.completeRoom(r.accountSid, r.sid);
      for (const p of [alice, bob]) expect(await store.listPublishedTracks(r.accountSid, r.sid, p.sid, { limit: 10 })).to.deep.equal([]);
      expect((await events(r)).filter((e) => e.type === "track-removed")).to.have.length(2);
      expect((await publish(alice, "x")).kind).to.equal("room_completed");
    });

    it("refuses changes in a missing room, another account's room, or for a missing participant", async () => {
      const r = await room();
      const alice = await join(r, "alice");
      expect(
        (await store.publishTrack(newSid("AC"), r.sid, alice.sid, { sid: "MT" + "1".repeat(32), name: "x", kind: "audio", enabled: true }))
          .kind,
      ).to.equal("room_not_found");
      expect(
        (
          await store.publishTrack(r.accountSid, newSid("RM"), alice.sid, {
            sid: "MT" + "1".repeat(32),
            name: "x",
            kind: "audio",
            enabled: true,
          })
        ).kind,
      ).to.equal("room_not_found");
      expect(
        (
          await store.publishTrack(r.accountSid, r.sid, newSid("PA"), {
            sid: "MT" + "1".repeat(32),
            name: "x",
            kind: "audio",
            enabled: true,
          })
        ).kind,
      ).to.equal("participant_not_found");
      expect(await store.getSubscribeRules(newSid("AC"), r.sid, alice.sid)).to.equal(undefined);
      expect(await store.getSubscribeRules(r.accountSid, r.sid, newSid("PA"))).to.equal(undefined);
    });

    it("keeps names with odd characters unchanged", async () => {
      const r = await room();
      const alice = await join(r, "alice");
      const names = ["a:b", "{tag}", "a b", "'\"\\", "%s%d", "MT" + "a".repeat(32) + "x", "😀".repeat(128), "\u{10FFFF}", "[]", "*"];
      for (const name of names) {
        const track = ok(await publish(alice, name));
        expect(track.name).to.equal(name);
        expect(await store.getPublishedTrack(r.accountSid, r.sid, alice.sid, { name })).to.deep.equal(track);
      }
      expect(await store.listPublishedTracks(r.accountSid, r.sid, alice.sid, { limit: 100 })).to.have.length(names.length);
    });

    it("subscribe rules: Twilio's default, then each update replaces them, with its event", async () => {
      const r = await room();
      const alice = await join(r, "alice");
      expect(await store.getSubscribeRules(r.accountSid, r.sid, alice.sid)).to.deep.equal({
        roomSid: r.sid,
        participantSid: alice.sid,
        rules: [{ type: "include", all: true }],
        dateCreated: undefined,
        dateUpdated: undefined,
      });
      clock.now = t0 + 40;
      const first = ok(await store.setSubscribeRules(r.accountSid, r.sid, alice.sid, [{ type: "exclude", all: true }]));
      expect(first).to.deep.include({ dateCreated: t0 + 40, dateUpdated: t0 + 40, rules: [{ type: "exclude", all: true }] });
      clock.now = t0 + 50;
      const rules = [
        { type: "include" as const, kind: "audio" as const },
        { type: "include" as const, publisher: "bob", track: "mic" },
      ];
      const second = ok(await store.setSubscribeRules(r.accountSid, r.sid, alice.sid, rules));
      expect(second).to.deep.include({ dateCreated: t0 + 40, dateUpdated: t0 + 50, rules });
      expect(await store.getSubscribeRules(r.accountSid, r.sid, alice.sid)).to.deep.equal(second);
      const updated = (await events(r)).filter((e) => e.type === "subscribe-rules-updated");
      expect(updated.map((e) => e.rules)).to.deep.equal([first, second]);
      expect(updated[1]!.participant?.sid).to.equal(alice.sid);
    });
  });
}

trackContract("memory", (clock) => Promise.resolve(new MemoryStore({ ...testLimits, now: clock.read })));

eachRedisTarget((target) => {
  trackContract(target.name, async (clock) => target.open({ now: clock.read }));
});
