import { expect } from "chai";
import { newSid } from "../../src/operations/sids.js";
import { encodeTime } from "../../src/store/lex-index.js";
import type { RoomRecord } from "../../src/store/records.js";
import { accountKeys, roomKeys } from "../../src/store/redis-keys.js";
import type { RedisStore } from "../../src/store/redis-store.js";
import { roomRecord, t0 } from "../support/records.js";
import { eachRedisTarget } from "../support/redis-targets.js";

// completeRoom and createRoom write the room's slot, then the account's (see
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

    // completeRoom's room step without its account step: the room hash says
    // completed, the directory still names the room and lists it in progress.
    async function completedButStillNamed(uniqueName: string): Promise<RoomRecord> {
      const room = roomRecord({ accountSid, uniqueName });
      expect((await store.createRoom(room)).kind).to.equal("created");
      const end = t0 + 1000;
      await target.admin().hset(roomKeys(room.sid).room, "status", "completed", "end_time", encodeTime(end), "date_updated", encodeTime(end));
      expect(await nameHolder(uniqueName)).to.equal(room.sid);
      return { ...room, status: "completed", endTime: end, dateUpdated: end };
    }

    it("findRoomByName answers undefined and releases the name; createRoom then takes it", async () => {
      const old = await completedButStillNamed("weekly");
      expect(await store.findRoomByName(accountSid, "weekly")).to.equal(undefined);
      expect(await nameHolder("weekly")).to.equal(null);

      const next = roomRecord({ accountSid, uniqueName: "weekly", dateCreated: t0 + 2000 });
      expect(await store.createRoom(next)).to.deep.equal({ kind: "created", room: next });
      expect(await store.findRoomByName(accountSid, "weekly")).to.deep.equal(next);
      expect(await inProgress()).to.deep.equal([next]);
      expect(await completed()).to.deep.equal([old]);
      expect(await store.listRooms(accountSid, { status: "completed", uniqueName: "weekly", limit: 100 })).to.deep.equal([old]);
    });

    it("createRoom meets the completed holder, finishes its completion and takes the name", async () => {
      const old = await completedButStillNamed("weekly");
      const next = roomRecord({ accountSid, uniqueName: "weekly", dateCreated: t0 + 2000 });
      expect(await store.createRoom(next)).to.deep.equal({ kind: "created", room: next });
      expect(await nameHolder("weekly")).to.equal(next.sid);
      expect(await inProgress()).to.deep.equal([next]);
      expect(await completed()).to.deep.equal([old]);
    });

    it("listRooms in progress leaves the room out and moves it to the completed listing", async () => {
      const old = await completedButStillNamed("weekly");
      const other = roomRecord({ accountSid, uniqueName: "daily", dateCreated: t0 + 500 });
      await store.createRoom(other);
      // The interrupted room comes first: the page still fills.
      expect(await store.listRooms(accountSid, { status: "in-progress", limit: 1 })).to.deep.equal([other]);
      expect(await inProgress()).to.deep.equal([other]);
      expect(await store.listRooms(accountSid, { status: "in-progress", uniqueName: "weekly", limit: 100 })).to.deep.equal([]);
      expect(await completed()).to.deep.equal([old]);
      expect(await nameHolder("weekly")).to.equal(null);
      expect(await store.findRoomByName(accountSid, "weekly")).to.equal(undefined);
    });

    it("a room hash whose name was never claimed is invisible, and its name is free", async () => {
      // createRoom's room step without its account step.
      const orphan = roomRecord({ accountSid, uniqueName: "ghost" });
      await target.admin().hset(roomKeys(orphan.sid).room, {
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
      });
      expect(await store.findRoomByName(accountSid, "ghost")).to.equal(undefined);
      expect(await inProgress()).to.deep.equal([]);
      expect(await completed()).to.deep.equal([]);
      expect(await store.listRooms(accountSid, { status: "in-progress", uniqueName: "ghost", limit: 100 })).to.deep.equal([]);

      const real = roomRecord({ accountSid, uniqueName: "ghost", dateCreated: t0 + 1000 });
      expect(await store.createRoom(real)).to.deep.equal({ kind: "created", room: real });
      expect(await store.findRoomByName(accountSid, "ghost")).to.deep.equal(real);
      expect(await inProgress()).to.deep.equal([real]);
    });
  });
});
