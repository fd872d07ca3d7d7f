import { expect } from "chai";
import { newSid } from "../../src/operations/sids.js";
import { MemoryStore } from "../../src/store/memory/memory-store.js";
import { shardOf, type CallbackFailure, type Store } from "../../src/store/store.js";
import { roomRecord, t0, testLimits } from "../support/records.js";
import { eachRedisTarget } from "../support/redis-targets.js";
import { testClock } from "../support/timed-store.js";

// What the status callback relay needs from a store, the same on every store:
// the due mark made with each change, the delivery cursor's compare-and-set
// that settles the mark in the same step, backoff, dead letters and leases.

const future = t0 + 1e12;

function contract(name: string, open: () => Promise<Store>): void {
  describe(`callback store contract: ${name}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
    });
    afterEach(async () => store.close());

    async function roomWithCallback(statusCallback = "https://example.com/cb") {
      const room = roomRecord({ statusCallback });
      const outcome = await store.createRoom(room);
      expect(outcome.kind).to.equal("created");
      return room;
    }

    it("marks a room with a callback due in the step of each change, and no other room", async () => {
      const room = await roomWithCallback();
      const silent = roomRecord({ accountSid: room.accountSid, statusCallback: "" });
      await store.createRoom(silent);
      expect(await store.dueCallbackRooms(room.accountSid, shardOf(room.sid), future, 10)).to.include(room.sid);
      expect(await store.dueCallbackRooms(room.accountSid, shardOf(silent.sid), future, 10)).not.to.include(silent.sid);
      const batch = (await store.readCallbacks(room.accountSid, room.sid, 10))!;
      expect(batch.cursor).to.equal(0);
      expect(batch.logSequence).to.equal(1);
      expect(batch.events.map((e) => e.type)).to.deep.equal(["room-created"]);
      expect(batch.attempts).to.equal(0);
      expect(batch.failingSince).to.equal(undefined);
    });

    it("advances the cursor by compare-and-set and takes the room off the due set only when it caught up", async () => {
      const room = await roomWithCallback();
      const shard = shardOf(room.sid);
      await store.join(room.accountSid, room.sid, newSid("PA"), "alice");
      expect(await store.advanceCallback(room.accountSid, room.sid, 0, 1)).to.equal(true);
      expect(await store.advanceCallback(room.accountSid, room.sid, 0, 1)).to.equal(false);
      expect(await store.dueCallbackRooms(room.accountSid, shard, future, 10)).to.include(room.sid);
      const batch = (await store.readCallbacks(room.accountSid, room.sid, 10))!;
      expect(batch.cursor).to.equal(1);
      expect(batch.events.map((e) => e.sequence)).to.deep.equal([2]);
      expect(await store.advanceCallback(room.accountSid, room.sid, 1, 2)).to.equal(true);
      expect(await store.dueCallbackRooms(room.accountSid, shard, future, 10)).not.to.include(room.sid);
      // A later change marks it again.
      await store.join(room.accountSid, room.sid, newSid("PA"), "bob");
      expect(await store.dueCallbackRooms(room.accountSid, shard, future, 10)).to.include(room.sid);
    });

    it("postpones a room, counting attempts, and keeps the backoff when a change comes meanwhile", async () => {
      const room = await roomWithCallback();
      const shard = shardOf(room.sid);
      const later = Date.now() + 60_000;
      expect(await store.postponeCallback(room.accountSid, room.sid, 0, later)).to.equal(true);
      expect(await store.postponeCallback(room.accountSid, room.sid, 5, later)).to.equal(false);
      await store.join(room.accountSid, room.sid, newSid("PA"), "alice");
      expect(await store.dueCallbackRooms(room.accountSid, shard, later - 1, 10)).not.to.include(room.sid);
      expect(await store.dueCallbackRooms(room.accountSid, shard, later, 10)).to.include(room.sid);
      const batch = (await store.readCallbacks(room.accountSid, room.sid, 10))!;
      expect(batch.attempts).to.equal(1);
      expect(batch.failingSince).to.be.a("number");
      await store.advanceCallback(room.accountSid, room.sid, 0, 1);
      const after = (await store.readCallbacks(room.accountSid, room.sid, 10))!;
      expect([after.attempts, after.failingSince]).to.deep.equal([0, undefined]);
    });

    it("records dead letters per account, newest first, with a total", async () => {
      const room = await roomWithCallback();
      const other = await roomWithCallback();
      await store.join(room.accountSid, room.sid, newSid("PA"), "alice");
      const failure = (sequence: number, time: number): CallbackFailure => ({
        accountSid: room.accountSid,
        roomSid: room.sid,
        sequence,
        eventType: "room-created",
        url: "https://example.com/cb",
        status: 500,
        reason: "HTTP 500",
        attempts: 3,
        time,
      });
      await store.advanceCallback(room.accountSid, room.sid, 0, 1, failure(1, 1000));
      await store.advanceCallback(room.accountSid, room.sid, 1, 2, failure(2, 2000));
      const listing = await store.listCallbackFailures(room.accountSid, 10);
      expect(listing.total).to.equal(2);
      expect(listing.failures).to.deep.equal([failure(2, 2000), failure(1, 1000)]);
      expect(await store.listCallbackFailures(other.accountSid, 10)).to.deep.equal({ failures: [], total: 0 });
      expect((await store.listCallbackFailures(room.accountSid, 1)).failures).to.have.length(1);
    });

    it("scopes every call to the account", async () => {
      const room = await roomWithCallback();
      const stranger = newSid("AC");
      expect(await store.readCallbacks(stranger, room.sid, 10)).to.equal(undefined);
      expect(await store.advanceCallback(stranger, room.sid, 0, 1)).to.equal(false);
      expect(await store.postponeCallback(stranger, room.sid, 0, 0)).to.equal(false);
    });
  });
}

contract("memory", () => Promise.resolve(new MemoryStore({ ...testLimits, now: testClock(t0).read })));

eachRedisTarget((target) => {
  contract(target.name, () => target.open());

  describe(`callback leases: ${target.name}`, () => {
    it("gives a shard's lease to one owner at a time, renews it for its holder and frees it on release or expiry", async () => {
      const store = await target.open();
      try {
        const account = newSid("AC");
        expect(await store.holdCallbackLease(account, 3, "a", 200)).to.equal(true);
        expect(await store.holdCallbackLease(account, 3, "b", 200)).to.equal(false);
        expect(await store.holdCallbackLease(account, 4, "b", 200)).to.equal(true);
        expect(await store.holdCallbackLease(account, 3, "a", 200)).to.equal(true);
        await store.releaseCallbackLease(account, 3, "b");
        expect(await store.holdCallbackLease(account, 3, "b", 200)).to.equal(false);
        await store.releaseCallbackLease(account, 3, "a");
        expect(await store.holdCallbackLease(account, 3, "b", 200)).to.equal(true);
        const deadline = Date.now() + 3000;
        while (!(await store.holdCallbackLease(account, 4, "c", 200))) {
          expect(Date.now()).to.be.below(deadline);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      } finally {
        await store.close();
      }
    });
  });
});
