import { expect } from "chai";
import { newSid } from "../../src/operations/sids.js";
import { MemoryStore } from "../../src/store/memory/memory-store.js";
import type { ParticipantRecord, RoomRecord } from "../../src/domain/records.js";
import type { Cursor, JoinOutcome, ParticipantQuery } from "../../src/store/store.js";
import { roomRecord, t0, testLimits } from "../support/records.js";
import { eachRedisTarget } from "../support/redis-targets.js";
import { testClock, TimedStore } from "../support/timed-store.js";

// The behaviour every Store shares: the memory store and the Redis store, on
// one redis-server and on a Redis Cluster, all run this suite, so an operation
// cannot tell them apart.

function at(offset: number): number {
  return t0 + offset;
}

function joinedParticipant(outcome: JoinOutcome): ParticipantRecord {
  if (outcome.kind !== "joined") expect.fail(`expected the join to succeed, got ${outcome.kind}`);
  return outcome.participant;
}

interface Positioned {
  sid: string;
  time: number;
  sequence: number;
}

// Listing order: time, then the sequence of the clock that gave the time.
function byPosition(a: Positioned, b: Positioned): number {
  return a.time - b.time || a.sequence - b.sequence;
}

function participantOrder(participants: ParticipantRecord[]): string[] {
  return participants
    .map((p) => ({ sid: p.sid, time: p.startTime, sequence: p.sequence }))
    .sort(byPosition)
    .map((p) => p.sid);
}

function roomOrder(rooms: RoomRecord[]): string[] {
  return rooms
    .map((r) => ({ sid: r.sid, time: r.dateCreated, sequence: r.sequence }))
    .sort(byPosition)
    .map((r) => r.sid);
}

function participantCursor(p: ParticipantRecord): Cursor {
  return { time: p.startTime, sequence: p.sequence, sid: p.sid };
}

function roomCursor(r: RoomRecord): Cursor {
  return { time: r.dateCreated, sequence: r.sequence, sid: r.sid };
}

function sids(records: { sid: string }[]): string[] {
  return records.map((r) => r.sid);
}

interface OpenStore {
  store: TimedStore;
  cleanup: () => Promise<void>;
}

function contract(name: string, open: () => Promise<OpenStore>): void {
  describe(`store contract: ${name}`, () => {
    let store: TimedStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });

    afterEach(async () => {
      await cleanup?.();
      cleanup = undefined;
    });

    async function createRoom(fields: Partial<RoomRecord> = {}): Promise<RoomRecord> {
      const input = roomRecord(fields);
      const outcome = await store.createRoom(input);
      if (outcome.kind !== "created") expect.fail(`expected the room to be created, got ${outcome.kind}`);
      // The account's clock numbers its rooms and never goes back.
      expect(outcome.room.dateCreated).to.be.at.least(input.dateCreated);
      const room = {
        ...input,
        dateCreated: outcome.room.dateCreated,
        dateUpdated: outcome.room.dateUpdated,
        sequence: outcome.room.sequence,
      };
      expect(outcome.room).to.deep.equal(room);
      return room;
    }

    async function join(room: RoomRecord, identity: string, now: number): Promise<ParticipantRecord> {
      return joinedParticipant(await store.join(room.accountSid, room.sid, newSid("PA"), identity, now));
    }

    async function listParticipants(room: RoomRecord, query: Partial<ParticipantQuery>): Promise<ParticipantRecord[]> {
      return store.listParticipants(room.accountSid, room.sid, { status: "connected", limit: 1000, ...query });
    }

    async function reread(p: ParticipantRecord): Promise<ParticipantRecord | undefined> {
      return store.getParticipant(p.accountSid, p.roomSid, p.sid);
    }

    it("createRoom stores a room that getRoom and findRoomByName return", async () => {
      const room = await createRoom({ uniqueName: "daily-standup" });
      expect(await store.getRoom(room.accountSid, room.sid)).to.deep.equal(room);
      expect(await store.findRoomByName(room.accountSid, "daily-standup")).to.deep.equal(room);
    });

    it("createRoom refuses a unique name held by an in-progress room of the same account", async () => {
      const room = await createRoom({ uniqueName: "daily-standup" });
      const rival = roomRecord({ accountSid: room.accountSid, uniqueName: "daily-standup", dateCreated: at(1) });
      expect(await store.createRoom(rival)).to.deep.equal({ kind: "name_taken", existing: room });
      expect(await store.getRoom(room.accountSid, rival.sid)).to.equal(undefined);
      expect(await store.findRoomByName(room.accountSid, "daily-standup")).to.deep.equal(room);
    });

    it("createRoom accepts a unique name held in another account", async () => {
      const room = await createRoom({ uniqueName: "daily-standup" });
      const other = await createRoom({ uniqueName: "daily-standup" });
      expect(other.accountSid).to.not.equal(room.accountSid);
      expect(await store.findRoomByName(other.accountSid, "daily-standup")).to.deep.equal(other);
      expect(await store.findRoomByName(room.accountSid, "daily-standup")).to.deep.equal(room);
    });

    it("another account sees nothing of a room and changes nothing", async () => {
      const room = await createRoom({ uniqueName: "private" });
      const alice = await join(room, "alice", at(1));
      const bob = await join(room, "bob", at(2));
      const other = newSid("AC");

      expect(await store.getRoom(other, room.sid)).to.equal(undefined);
      expect(await store.findRoomByName(other, "private")).to.equal(undefined);
      expect(await store.join(other, room.sid, newSid("PA"), "mallory", at(3))).to.deep.equal({ kind: "room_not_found" });
      expect(await store.join(other, room.sid, newSid("PA"), "alice", at(3))).to.deep.equal({ kind: "room_not_found" });
      expect(await store.getParticipant(other, room.sid, alice.sid)).to.equal(undefined);
      expect(await store.findPresentParticipant(other, room.sid, "alice")).to.equal(undefined);
      expect(await store.disconnectParticipant(other, room.sid, alice.sid, at(4))).to.equal(undefined);
      for (const status of ["connected", "disconnected"] as const) {
        expect(await store.listParticipants(other, room.sid, { status, limit: 100 })).to.deep.equal([]);
      }
      expect(await store.completeRoom(other, room.sid, at(5))).to.equal(undefined);
      for (const status of ["in-progress", "completed"] as const) {
        expect(await store.listRooms(other, { status, limit: 100 })).to.deep.equal([]);
        expect(await store.listRooms(other, { status, uniqueName: "private", limit: 100 })).to.deep.equal([]);
      }

      expect(await store.getRoom(room.accountSid, room.sid)).to.deep.equal(room);
      expect(await store.findRoomByName(room.accountSid, "private")).to.deep.equal(room);
      expect(await reread(alice)).to.deep.equal(alice);
      expect(await listParticipants(room, {})).to.deep.equal([alice, bob]);
      expect(await listParticipants(room, { status: "disconnected" })).to.deep.equal([]);
    });

    it("a participant is reachable only through its own room", async () => {
      const room = await createRoom();
      const neighbour = await createRoom({ accountSid: room.accountSid });
      const alice = await join(room, "alice", at(1));
      expect(await store.getParticipant(room.accountSid, neighbour.sid, alice.sid)).to.equal(undefined);
      expect(await store.findPresentParticipant(room.accountSid, neighbour.sid, "alice")).to.equal(undefined);
      expect(await store.disconnectParticipant(room.accountSid, neighbour.sid, alice.sid, at(2))).to.equal(undefined);
      expect(await listParticipants(neighbour, {})).to.deep.equal([]);
      expect(await reread(alice)).to.deep.equal(alice);
    });

    it("join adds a connected participant that getParticipant and findPresentParticipant return", async () => {
      const room = await createRoom();
      const sid = newSid("PA");
      const outcome = await store.join(room.accountSid, room.sid, sid, "alice", at(10));
      const expected: ParticipantRecord = {
        sid,
        roomSid: room.sid,
        accountSid: room.accountSid,
        identity: "alice",
        status: "connected",
        startTime: at(10),
        dateUpdated: at(10),
        endTime: undefined,
        // The room's log holds its creation, then this connection.
        sequence: 2,
      };
      expect(outcome).to.deep.equal({ kind: "joined", participant: expected, displaced: undefined });
      expect(await store.getParticipant(room.accountSid, room.sid, sid)).to.deep.equal(expected);
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "alice")).to.deep.equal(expected);
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "bob")).to.equal(undefined);
      expect(await store.getParticipant(room.accountSid, room.sid, newSid("PA"))).to.equal(undefined);
    });

    it("join with a present identity disconnects the previous participant in the same step", async () => {
      const room = await createRoom();
      const first = await join(room, "alice", at(10));
      const sid = newSid("PA");
      const outcome = await store.join(room.accountSid, room.sid, sid, "alice", at(20));
      if (outcome.kind !== "joined") expect.fail(`expected the join to succeed, got ${outcome.kind}`);
      const gone: ParticipantRecord = { ...first, status: "disconnected", endTime: at(20), dateUpdated: at(20) };
      expect(outcome.displaced).to.deep.equal(gone);
      expect(outcome.participant.sid).to.equal(sid);
      expect(await reread(first)).to.deep.equal(gone);
      expect(await listParticipants(room, { status: "disconnected" })).to.deep.equal([gone]);
      expect(await listParticipants(room, {})).to.deep.equal([outcome.participant]);
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "alice")).to.deep.equal(outcome.participant);
    });

    it("join refuses a new identity in a full room with room_full", async () => {
      const room = await createRoom({ maxParticipants: 2 });
      await join(room, "alice", at(1));
      await join(room, "bob", at(2));
      expect(await store.join(room.accountSid, room.sid, newSid("PA"), "carol", at(3))).to.deep.equal({
        kind: "room_full",
        maxParticipants: 2,
      });
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "carol")).to.equal(undefined);
      expect(await listParticipants(room, {})).to.have.length(2);
    });

    it("join of an identity already present in a full room replaces it", async () => {
      const room = await createRoom({ maxParticipants: 2 });
      const alice = await join(room, "alice", at(1));
      await join(room, "bob", at(2));
      const again = await join(room, "alice", at(3));
      expect((await reread(alice))?.status).to.equal("disconnected");
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "alice")).to.deep.equal(again);
      expect(await listParticipants(room, {})).to.have.length(2);
    });

    it("join succeeds in a full room again after a disconnect", async () => {
      const room = await createRoom({ maxParticipants: 2 });
      const alice = await join(room, "alice", at(1));
      await join(room, "bob", at(2));
      await store.disconnectParticipant(room.accountSid, room.sid, alice.sid, at(3));
      const carol = await join(room, "carol", at(4));
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "carol")).to.deep.equal(carol);
    });

    it("join on a completed room returns room_completed", async () => {
      const room = await createRoom();
      await store.completeRoom(room.accountSid, room.sid, at(5));
      expect(await store.join(room.accountSid, room.sid, newSid("PA"), "alice", at(6))).to.deep.equal({ kind: "room_completed" });
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "alice")).to.equal(undefined);
    });

    it("join on an unknown room returns room_not_found", async () => {
      const room = roomRecord();
      expect(await store.join(room.accountSid, room.sid, newSid("PA"), "alice", at(1))).to.deep.equal({ kind: "room_not_found" });
      expect(await store.getRoom(room.accountSid, room.sid)).to.equal(undefined);
    });

    it("disconnectParticipant marks the participant disconnected at now", async () => {
      const room = await createRoom();
      const alice = await join(room, "alice", at(10));
      const gone = await store.disconnectParticipant(room.accountSid, room.sid, alice.sid, at(25));
      const expected: ParticipantRecord = { ...alice, status: "disconnected", endTime: at(25), dateUpdated: at(25) };
      expect(gone).to.deep.equal(expected);
      expect(await reread(alice)).to.deep.equal(expected);
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "alice")).to.equal(undefined);
      expect(await store.disconnectParticipant(room.accountSid, room.sid, newSid("PA"), at(26))).to.equal(undefined);
    });

    it("disconnectParticipant of a disconnected participant returns it unchanged", async () => {
      const room = await createRoom();
      const alice = await join(room, "alice", at(10));
      const gone = await store.disconnectParticipant(room.accountSid, room.sid, alice.sid, at(25));
      expect(await store.disconnectParticipant(room.accountSid, room.sid, alice.sid, at(99))).to.deep.equal(gone);
      expect(await reread(alice)).to.deep.equal(gone);
    });

    it("disconnectParticipant never ends a participant before its start", async () => {
      const room = await createRoom();
      const alice = await join(room, "alice", at(100));
      const gone = await store.disconnectParticipant(room.accountSid, room.sid, alice.sid, at(50));
      expect(gone?.status).to.equal("disconnected");
      expect(gone?.endTime).to.equal(alice.startTime);
    });

    it("anonymizeParticipant replaces a present participant's identity with its sid everywhere", async () => {
      const room = await createRoom();
      const alice = await join(room, "alice", at(10));
      const anonymous = await store.anonymizeParticipant(room.accountSid, room.sid, alice.sid, at(20));
      const expected: ParticipantRecord = { ...alice, identity: alice.sid, dateUpdated: at(20) };
      expect(anonymous).to.deep.equal(expected);
      expect(await reread(alice)).to.deep.equal(expected);
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "alice")).to.equal(undefined);
      expect(await store.findPresentParticipant(room.accountSid, room.sid, alice.sid)).to.deep.equal(expected);
      expect(await listParticipants(room, { identity: "alice" })).to.deep.equal([]);
      expect(await listParticipants(room, { identity: alice.sid })).to.deep.equal([expected]);
      const newAlice = await join(room, "alice", at(30));
      expect(sids(await listParticipants(room, {}))).to.deep.equal([alice.sid, newAlice.sid]);
    });

    it("anonymizeParticipant works on a disconnected participant and repeats harmlessly", async () => {
      const room = await createRoom();
      const alice = await join(room, "alice", at(10));
      await store.disconnectParticipant(room.accountSid, room.sid, alice.sid, at(20));
      const anonymous = await store.anonymizeParticipant(room.accountSid, room.sid, alice.sid, at(30));
      expect(anonymous).to.include({ identity: alice.sid, status: "disconnected", endTime: at(20), dateUpdated: at(30) });
      expect(await store.anonymizeParticipant(room.accountSid, room.sid, alice.sid, at(40))).to.deep.equal(anonymous);
      expect(sids(await listParticipants(room, { status: "disconnected", identity: alice.sid }))).to.deep.equal([alice.sid]);
      expect(await listParticipants(room, { status: "disconnected", identity: "alice" })).to.deep.equal([]);
      expect(await store.anonymizeParticipant(newSid("AC"), room.sid, alice.sid, at(50))).to.equal(undefined);
      expect(await store.anonymizeParticipant(room.accountSid, room.sid, newSid("PA"), at(50))).to.equal(undefined);
    });

    it("completeRoom completes the room and disconnects its present participants", async () => {
      const room = await createRoom();
      const alice = await join(room, "alice", at(10));
      const bob = await join(room, "bob", at(20));
      const carol = await join(room, "carol", at(30));
      const carolGone = await store.disconnectParticipant(room.accountSid, room.sid, carol.sid, at(35));
      const completed = await store.completeRoom(room.accountSid, room.sid, at(40));
      const expected: RoomRecord = { ...room, status: "completed", endTime: at(40), dateUpdated: at(40) };
      expect(completed).to.deep.equal(expected);
      expect(await store.getRoom(room.accountSid, room.sid)).to.deep.equal(expected);
      for (const p of [alice, bob]) {
        expect(await reread(p)).to.deep.equal({ ...p, status: "disconnected", endTime: at(40), dateUpdated: at(40) });
      }
      expect(await reread(carol)).to.deep.equal(carolGone);
      expect(await listParticipants(room, {})).to.deep.equal([]);
      expect(sids(await listParticipants(room, { status: "disconnected" }))).to.deep.equal(sids([alice, bob, carol]));
      expect(await store.findPresentParticipant(room.accountSid, room.sid, "alice")).to.equal(undefined);
    });

    it("completeRoom frees the unique name for a new room", async () => {
      const room = await createRoom({ uniqueName: "weekly" });
      await store.completeRoom(room.accountSid, room.sid, at(40));
      expect(await store.findRoomByName(room.accountSid, "weekly")).to.equal(undefined);
      const next = await createRoom({ accountSid: room.accountSid, uniqueName: "weekly", dateCreated: at(50) });
      expect(await store.findRoomByName(room.accountSid, "weekly")).to.deep.equal(next);
    });

    it("completeRoom of a completed room returns it unchanged", async () => {
      const room = await createRoom();
      const completed = await store.completeRoom(room.accountSid, room.sid, at(40));
      expect(await store.completeRoom(room.accountSid, room.sid, at(90))).to.deep.equal(completed);
      expect(await store.getRoom(room.accountSid, room.sid)).to.deep.equal(completed);
      expect(await store.completeRoom(room.accountSid, newSid("RM"), at(90))).to.equal(undefined);
    });

    it("completeRoom moves the room from the in-progress listing to the completed one", async () => {
      const room = await createRoom({ uniqueName: "weekly" });
      const { accountSid } = room;
      expect(sids(await store.listRooms(accountSid, { status: "in-progress", limit: 10 }))).to.deep.equal([room.sid]);
      const completed = await store.completeRoom(accountSid, room.sid, at(40));
      expect(await store.listRooms(accountSid, { status: "in-progress", limit: 10 })).to.deep.equal([]);
      expect(await store.listRooms(accountSid, { status: "in-progress", uniqueName: "weekly", limit: 10 })).to.deep.equal([]);
      expect(await store.listRooms(accountSid, { status: "completed", limit: 10 })).to.deep.equal([completed]);
      expect(await store.listRooms(accountSid, { status: "completed", uniqueName: "weekly", limit: 10 })).to.deep.equal([completed]);
    });

    describe("listParticipants", () => {
      it("orders by join: a clock that steps back is raised to the room's last change", async () => {
        const room = await createRoom();
        const joined = [
          await join(room, "dave", at(30)),
          await join(room, "alice", at(10)),
          await join(room, "carol", at(40)),
          await join(room, "bob", at(20)),
        ];
        expect(joined.map((p) => p.startTime)).to.deep.equal([at(30), at(30), at(40), at(40)]);
        expect(sids(await listParticipants(room, {}))).to.deep.equal(sids(joined));
        expect(sids(await listParticipants(room, {}))).to.deep.equal(participantOrder(joined));
      });

      it("orders participants sharing a start time by join", async () => {
        const room = await createRoom();
        const joined: ParticipantRecord[] = [];
        for (let i = 0; i < 12; i++) joined.push(await join(room, `guest-${i}`, at(10)));
        const listed = sids(await listParticipants(room, {}));
        expect(listed).to.deep.equal(sids(joined));
      });

      it("lists only participants of the requested status", async () => {
        const room = await createRoom();
        const alice = await join(room, "alice", at(1));
        const bob = await join(room, "bob", at(2));
        const carol = await join(room, "carol", at(3));
        const bobGone = await store.disconnectParticipant(room.accountSid, room.sid, bob.sid, at(4));
        expect(await listParticipants(room, { status: "connected" })).to.deep.equal([alice, carol]);
        expect(await listParticipants(room, { status: "disconnected" })).to.deep.equal([bobGone]);
      });

      it("lists only the requested identity, including its disconnected history", async () => {
        const room = await createRoom();
        const first = await join(room, "alice", at(1));
        await join(room, "alicia", at(2));
        await join(room, "bob", at(3));
        const second = await join(room, "alice", at(4));
        await join(room, "al", at(5));
        const third = await join(room, "alice", at(6));
        expect(await listParticipants(room, { identity: "alice" })).to.deep.equal([third]);
        const history = await listParticipants(room, { identity: "alice", status: "disconnected" });
        expect(sids(history)).to.deep.equal(sids([first, second]));
        expect(history.map((p) => p.identity)).to.deep.equal(["alice", "alice"]);
        expect(await listParticipants(room, { identity: "nobody" })).to.deep.equal([]);
      });

      it("includes start times at `after` and excludes those at `before`", async () => {
        const room = await createRoom();
        const [p10, p20, p30, p40] = [
          await join(room, "a", at(10)),
          await join(room, "b", at(20)),
          await join(room, "c", at(30)),
          await join(room, "d", at(40)),
        ];
        expect(await listParticipants(room, { after: at(20) })).to.deep.equal([p20, p30, p40]);
        expect(await listParticipants(room, { before: at(30) })).to.deep.equal([p10, p20]);
        expect(await listParticipants(room, { after: at(20), before: at(40) })).to.deep.equal([p20, p30]);
        expect(await listParticipants(room, { after: at(21), before: at(30) })).to.deep.equal([]);
        expect(await listParticipants(room, { identity: "c", after: at(30), before: at(31) })).to.deep.equal([p30]);
      });

      it("returns at most `limit` participants", async () => {
        const room = await createRoom();
        const joined: ParticipantRecord[] = [];
        for (let i = 0; i < 5; i++) joined.push(await join(room, `guest-${i}`, at(i)));
        expect(await listParticipants(room, { limit: 3 })).to.deep.equal(joined.slice(0, 3));
        expect(await listParticipants(room, { limit: 1 })).to.deep.equal(joined.slice(0, 1));
      });

      it("resumes strictly after the cursor, also among equal start times", async () => {
        const room = await createRoom();
        const joined: ParticipantRecord[] = [];
        for (let i = 0; i < 8; i++) joined.push(await join(room, `guest-${i}`, at(Math.floor(i / 3))));
        const order = participantOrder(joined);
        const all = await listParticipants(room, {});
        expect(sids(all)).to.deep.equal(order);
        for (let i = 0; i < all.length; i++) {
          const rest = await listParticipants(room, { cursor: participantCursor(all[i]!) });
          expect(sids(rest)).to.deep.equal(order.slice(i + 1));
        }
        const page = await listParticipants(room, { cursor: participantCursor(all[1]!), limit: 2 });
        expect(sids(page)).to.deep.equal(order.slice(2, 4));
      });

      it("resumes after a cursor whose participant has left the listing", async () => {
        const room = await createRoom();
        const joined: ParticipantRecord[] = [];
        for (let i = 0; i < 5; i++) joined.push(await join(room, `guest-${i}`, at(i * 10)));
        const page = await listParticipants(room, { limit: 2 });
        expect(page).to.deep.equal(joined.slice(0, 2));
        await store.disconnectParticipant(room.accountSid, room.sid, page[1]!.sid, at(100));
        const next = await listParticipants(room, { cursor: participantCursor(page[1]!), limit: 2 });
        expect(next).to.deep.equal(joined.slice(2, 4));
        const between = await listParticipants(room, { cursor: { time: at(25), sequence: 0, sid: newSid("PA") } });
        expect(between).to.deep.equal(joined.slice(3));
      });

      it("combines the cursor with `after` and `before`", async () => {
        const room = await createRoom();
        const joined: ParticipantRecord[] = [];
        for (let i = 0; i < 6; i++) joined.push(await join(room, `guest-${i}`, at(i * 10)));
        expect(await listParticipants(room, { after: at(20), cursor: participantCursor(joined[0]!) })).to.deep.equal(joined.slice(2));
        expect(await listParticipants(room, { after: at(20), cursor: participantCursor(joined[3]!) })).to.deep.equal(joined.slice(4));
        expect(await listParticipants(room, { before: at(40), cursor: participantCursor(joined[1]!) })).to.deep.equal(joined.slice(2, 4));
      });

      it("pages through 250 participants, each exactly once and in order", async () => {
        const room = await createRoom({ maxParticipants: 300 });
        const joined: ParticipantRecord[] = [];
        for (let i = 0; i < 250; i++) joined.push(await join(room, `guest-${i}`, at(Math.floor(i / 4))));
        const visited: string[] = [];
        let cursor: Cursor | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await listParticipants(room, { limit: 50, cursor });
          expect(page.length).to.be.at.most(50);
          visited.push(...sids(page));
          if (page.length < 50) break;
          cursor = participantCursor(page[page.length - 1]!);
        }
        expect(visited).to.deep.equal(participantOrder(joined));
        expect(new Set(visited).size).to.equal(250);
      });
    });

    describe("listRooms", () => {
      async function createRooms(accountSid: string, createdAt: number[]): Promise<RoomRecord[]> {
        const rooms: RoomRecord[] = [];
        for (const [i, offset] of createdAt.entries()) {
          rooms.push(await createRoom({ accountSid, uniqueName: `room-${i}`, dateCreated: at(offset) }));
        }
        return rooms;
      }

      it("orders by creation, even when the clock steps back", async () => {
        const accountSid = newSid("AC");
        const rooms = await createRooms(accountSid, [30, 10, 20, 10, 10, 0, 20]);
        const listed = await store.listRooms(accountSid, { status: "in-progress", limit: 100 });
        expect(sids(listed)).to.deep.equal(roomOrder(rooms));
      });

      it("lists only rooms of the requested status", async () => {
        const accountSid = newSid("AC");
        const [a, b, c] = await createRooms(accountSid, [1, 2, 3]);
        const bDone = await store.completeRoom(accountSid, b!.sid, at(10));
        expect(await store.listRooms(accountSid, { status: "in-progress", limit: 100 })).to.deep.equal([a, c]);
        expect(await store.listRooms(accountSid, { status: "completed", limit: 100 })).to.deep.equal([bDone]);
      });

      it("lists only rooms of the requested unique name, completed ones included", async () => {
        const accountSid = newSid("AC");
        const old = await createRoom({ accountSid, uniqueName: "weekly", dateCreated: at(1) });
        const oldDone = await store.completeRoom(accountSid, old.sid, at(2));
        const older = await createRoom({ accountSid, uniqueName: "weekly", dateCreated: at(3) });
        const olderDone = await store.completeRoom(accountSid, older.sid, at(4));
        const current = await createRoom({ accountSid, uniqueName: "weekly", dateCreated: at(5) });
        await createRoom({ accountSid, uniqueName: "weekly-2", dateCreated: at(6) });
        await createRoom({ accountSid, uniqueName: "week", dateCreated: at(7) });
        expect(await store.listRooms(accountSid, { status: "in-progress", uniqueName: "weekly", limit: 100 })).to.deep.equal([current]);
        expect(await store.listRooms(accountSid, { status: "completed", uniqueName: "weekly", limit: 100 })).to.deep.equal([
          oldDone,
          olderDone,
        ]);
        expect(await store.listRooms(accountSid, { status: "completed", uniqueName: "nothing", limit: 100 })).to.deep.equal([]);
        const firstPage = await store.listRooms(accountSid, { status: "completed", uniqueName: "weekly", limit: 1 });
        expect(firstPage).to.deep.equal([oldDone]);
        const cursor = roomCursor(firstPage[0]!);
        expect(await store.listRooms(accountSid, { status: "completed", uniqueName: "weekly", limit: 1, cursor })).to.deep.equal([
          olderDone,
        ]);
        expect(await store.listRooms(accountSid, { status: "completed", uniqueName: "weekly", after: at(3), limit: 100 })).to.deep.equal([
          olderDone,
        ]);
      });

      it("includes dates created at `after` and excludes those at `before`", async () => {
        const accountSid = newSid("AC");
        const [r10, r20, r30, r40] = await createRooms(accountSid, [10, 20, 30, 40]);
        const list = (query: { after?: number; before?: number }) =>
          store.listRooms(accountSid, { status: "in-progress", limit: 100, ...query });
        expect(await list({ after: at(20) })).to.deep.equal([r20, r30, r40]);
        expect(await list({ before: at(30) })).to.deep.equal([r10, r20]);
        expect(await list({ after: at(20), before: at(40) })).to.deep.equal([r20, r30]);
      });

      it("returns at most `limit` rooms and resumes strictly after the cursor", async () => {
        const accountSid = newSid("AC");
        const rooms = await createRooms(accountSid, [0, 1, 1, 1, 2, 3, 3]);
        const order = roomOrder(rooms);
        const visited: string[] = [];
        let cursor: Cursor | undefined;
        for (let pages = 0; pages < 10; pages++) {
          const page = await store.listRooms(accountSid, { status: "in-progress", limit: 3, cursor });
          expect(page.length).to.be.at.most(3);
          visited.push(...sids(page));
          if (page.length < 3) break;
          cursor = roomCursor(page[page.length - 1]!);
        }
        expect(visited).to.deep.equal(order);
      });

      it("resumes after a cursor whose room has left the listing", async () => {
        const accountSid = newSid("AC");
        const rooms = await createRooms(accountSid, [10, 20, 30, 40]);
        const page = await store.listRooms(accountSid, { status: "in-progress", limit: 2 });
        expect(page).to.deep.equal(rooms.slice(0, 2));
        await store.completeRoom(accountSid, page[1]!.sid, at(50));
        const next = await store.listRooms(accountSid, { status: "in-progress", limit: 2, cursor: roomCursor(page[1]!) });
        expect(next).to.deep.equal(rooms.slice(2, 4));
      });
    });

    describe("names and identities with unusual characters", () => {
      const unusual = [
        "{room}",
        "}{",
        "a:b:c",
        "*",
        "**",
        "two  spaces ",
        " ",
        "party 🎉 👩‍👩‍👧",
        `"double" 'single' \`back\``,
        "back\\slash %s %d",
        "x".repeat(128),
        "😀".repeat(128),
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎 \u{10FFFF}",
        "ÿ",
        "\uFFFF",
      ];

      it("join, find and list by identity return the identity unchanged", async () => {
        const room = await createRoom();
        const joined = new Map<string, ParticipantRecord>();
        for (const [i, identity] of unusual.entries()) joined.set(identity, await join(room, identity, at(i)));
        for (const identity of unusual) {
          const p = joined.get(identity)!;
          expect(p.identity).to.equal(identity);
          expect((await reread(p))?.identity).to.equal(identity);
          expect(await store.findPresentParticipant(room.accountSid, room.sid, identity)).to.deep.equal(p);
          expect(await listParticipants(room, { identity })).to.deep.equal([p]);
        }
        expect(sids(await listParticipants(room, {}))).to.deep.equal(participantOrder([...joined.values()]));
      });

      it("rejoining an unusual identity displaces the previous participant", async () => {
        const room = await createRoom();
        for (const [i, identity] of unusual.entries()) {
          const first = await join(room, identity, at(i));
          const outcome = await store.join(room.accountSid, room.sid, newSid("PA"), identity, at(i + 100));
          if (outcome.kind !== "joined") expect.fail(`expected the join to succeed, got ${outcome.kind}`);
          expect(outcome.displaced?.sid).to.equal(first.sid);
          expect(outcome.displaced?.identity).to.equal(identity);
          const history = await listParticipants(room, { identity, status: "disconnected" });
          expect(sids(history)).to.deep.equal([first.sid]);
        }
      });

      it("createRoom, findRoomByName and listRooms by name return the name unchanged", async () => {
        const accountSid = newSid("AC");
        const rooms = new Map<string, RoomRecord>();
        for (const [i, uniqueName] of unusual.entries())
          rooms.set(uniqueName, await createRoom({ accountSid, uniqueName, dateCreated: at(i) }));
        for (const uniqueName of unusual) {
          const room = rooms.get(uniqueName)!;
          expect((await store.getRoom(accountSid, room.sid))?.uniqueName).to.equal(uniqueName);
          expect(await store.findRoomByName(accountSid, uniqueName)).to.deep.equal(room);
          expect(await store.listRooms(accountSid, { status: "in-progress", uniqueName, limit: 100 })).to.deep.equal([room]);
          const rival = roomRecord({ accountSid, uniqueName });
          expect(await store.createRoom(rival)).to.deep.equal({ kind: "name_taken", existing: room });
        }
      });
    });

    it("ping resolves", async () => {
      await store.ping();
    });
  });
}

contract("memory", () => {
  const clock = testClock(t0);
  const store = new TimedStore(new MemoryStore({ ...testLimits, now: clock.read }), clock);
  return Promise.resolve({ store, cleanup: () => store.close() });
});

eachRedisTarget((target) => {
  contract(target.name, async () => {
    const clock = testClock(t0);
    const store = new TimedStore(await target.open({ now: clock.read }), clock);
    return { store, cleanup: () => store.close() };
  });
});
