import { expect } from "chai";
import { newSid } from "../../src/operations/sids.js";
import { encodeTime } from "../../src/store/lex-index.js";
import type { RoomRecord } from "../../src/domain/records.js";
import { accountKeys, roomKeys } from "../../src/store/redis/keys.js";
import type { RedisStore } from "../../src/store/redis/redis-store.js";
import { roomRecord, t0 } from "../support/records.js";
import { eachRedisTarget } from "../support/redis-targets.js";

// createRoom claims the name in the account's slot, then writes the room in
// its own; completeRoom writes the room's slot, then the account's (see
// docs/ARCHITECTURE.md). These tests leave a change as a process that stopped
// between the two steps would, with raw commands, and check that nothing a
// user sees is wrong and that the next lookup, listing or creation repairs it.

eachRedisTarget((target) => {
  describe(`changes interrupted between the room slot and the account slot (${target.name})`, () => {
    let store: RedisStore;
    let accountSid: string;

    beforeEach(async () => {
      store = await target.open();
      accountSid = newSid("AC");
    });
    afterEach(async () => store.close());

    const inProgress = () => store.listRooms(accountSid, { status: "in-progress", limit: 100 });
    const completed = () => store.listRooms(accountSid, { status: "completed", limit: 100 });
    const nameHolder = (uniqueName: string) => target.admin().hget(accountKeys(accountSid).names, uniqueName);

    async function create(uniqueName: string): Promise<RoomRecord> {
      const outcome = await store.createRoom(roomRecord({ accountSid, uniqueName }));
      if (outcome.kind !== "created") expect.fail(`expected the room to be created, got ${outcome.kind}`);
      return outcome.room;
    }

    // completeRoom's room step without its account step: the room hash says
    // completed, the directory still names the room and lists it in progress.
    async function completedButStillNamed(uniqueName: string): Promise<RoomRecord> {
      const room = await create(uniqueName);
      const end = room.dateCreated + 1000;
      await target
        .admin()
        .hset(roomKeys(accountSid, room.sid).room, "status", "completed", "end_time", encodeTime(end), "date_updated", encodeTime(end));
      expect(await nameHolder(uniqueName)).to.equal(room.sid);
      return { ...room, status: "completed", endTime: end, dateUpdated: end };
    }

    it("findRoomByName answers undefined and releases the name; createRoom then takes it", async () => {
      const old = await completedButStillNamed("weekly");
      expect(await store.findRoomByName(accountSid, "weekly")).to.equal(undefined);
      expect(await nameHolder("weekly")).to.equal(null);

      const next = await create("weekly");
      expect(await store.findRoomByName(accountSid, "weekly")).to.deep.equal(next);
      expect(await inProgress()).to.deep.equal([next]);
      expect(await completed()).to.deep.equal([old]);
      expect(await store.listRooms(accountSid, { status: "completed", uniqueName: "weekly", limit: 100 })).to.deep.equal([old]);
    });

    it("createRoom meets the completed holder, finishes its completion and takes the name", async () => {
      const old = await completedButStillNamed("weekly");
      const next = await create("weekly");
      expect(await nameHolder("weekly")).to.equal(next.sid);
      expect(await inProgress()).to.deep.equal([next]);
      expect(await completed()).to.deep.equal([old]);
    });

    it("listRooms in progress leaves the room out and moves it to the completed listing", async () => {
      const old = await completedButStillNamed("weekly");
      const other = await create("daily");
      // The interrupted room comes first: the page still fills.
      expect(await store.listRooms(accountSid, { status: "in-progress", limit: 1 })).to.deep.equal([other]);
      expect(await inProgress()).to.deep.equal([other]);
      expect(await store.listRooms(accountSid, { status: "in-progress", uniqueName: "weekly", limit: 100 })).to.deep.equal([]);
      expect(await completed()).to.deep.equal([old]);
      expect(await nameHolder("weekly")).to.equal(null);
      expect(await store.findRoomByName(accountSid, "weekly")).to.equal(undefined);
    });

    it("a claimed name whose room was never written gets its room from the first reader, with its room-created event", async () => {
      // createRoom's account step without its room step.
      const ghost = roomRecord({ accountSid, uniqueName: "ghost" });
      const record = {
        account_sid: accountSid,
        unique_name: "ghost",
        status: "in-progress",
        type: "group",
        max_participants: "50",
        max_participant_duration: "14400",
        empty_room_timeout: "5",
        unused_room_timeout: "5",
        status_callback: "",
        status_callback_method: "POST",
        date_created: encodeTime(t0),
        date_updated: encodeTime(t0),
        sequence: "1",
      };
      const keys = accountKeys(accountSid);
      await target.admin().hset(keys.names, "ghost", ghost.sid);
      await target.admin().zadd(keys.roomsByCreated("in-progress"), 0, encodeTime(t0) + "1".padStart(12, "0") + ghost.sid);
      await target.admin().hset(keys.pending, ghost.sid, JSON.stringify(record));
      expect(await store.getRoom(accountSid, ghost.sid)).to.equal(undefined);

      const found = await store.findRoomByName(accountSid, "ghost");
      expect(found).to.deep.equal({ ...ghost, dateCreated: t0, dateUpdated: t0, sequence: 1 });
      expect(await inProgress()).to.deep.equal([found]);
      expect((await store.createRoom(roomRecord({ accountSid, uniqueName: "ghost" }))).kind).to.equal("name_taken");
      const signal = new AbortController();
      for await (const batch of store.followLog({ accountSid, roomSid: ghost.sid }, "0-0", { signal: signal.signal, keepAliveMs: 1000 })) {
        expect(batch.events.map((e) => [e.event.sequence, e.event.type])).to.deep.equal([[1, "room-created"]]);
        break;
      }
    });
  });
});
