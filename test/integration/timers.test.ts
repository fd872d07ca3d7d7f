import type { Client } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "chai";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import type { ChangeEvent } from "../../src/domain/records.js";
import { eachBackend } from "../support/backends.js";
import { connectBinaryHttp2, rejection } from "../support/clients.js";
import { t0 } from "../support/records.js";
import { startRollcall, testAccount, testAuthorization } from "../support/rollcall.js";
import { roomLog } from "../support/watch.js";

// Rooms and participants end on their own. The store and the sweeper read a
// clock the test moves, and the test sweeps when it wants: minutes pass in
// no time, and nothing depends on when a background sweep happens to run.

const minute = 60_000;
const account = testAccount.sid;

eachBackend((backend) => {
  describe(`timers end rooms and participants (${backend.name})`, function () {
    this.timeout(60_000);
    let clock: { now: number };
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let rooms: Client<typeof RoomService>;
    let participants: Client<typeof ParticipantService>;
    let count = 0;
    const name = () => `timed-${++count}-${Date.now()}`;

    beforeEach(async () => {
      // Each test's clock starts a day after the previous one's, so that the
      // deadlines a test leaves behind are never due in the next.
      clock = { now: t0 + count * 86_400_000 * 3 };
      server = await startRollcall({ ...backend.settings, timersEnabled: false, maxRoomHours: 24 }, { now: () => clock.now });
      rooms = connectBinaryHttp2(RoomService, server.url);
      participants = connectBinaryHttp2(ParticipantService, server.url);
    });
    afterEach(async () => server.close());

    const at = async (ms: number) => {
      clock.now = ms;
      await server.timers.sweep();
    };
    const status = async (sid: string) => (await rooms.get({ room: sid })).room!.status;
    const ends = (events: ChangeEvent[]) => events.filter((e) => e.type === "room-ended").map((e) => e.reason);

    it("unused_room_timeout: a room nobody joined ends that many minutes after its creation", async () => {
      const start = clock.now;
      const room = (await rooms.create({ uniqueName: name(), unusedRoomTimeout: 2 })).room!;
      await at(start + 2 * minute - 1);
      expect(await status(room.sid)).to.equal(RoomStatus.IN_PROGRESS);
      await at(start + 2 * minute);
      expect(await status(room.sid)).to.equal(RoomStatus.COMPLETED);
      expect(ends(await roomLog(server.store, account, room.sid))).to.deep.equal(["unused-timeout"]);
      // Its name is free again.
      expect((await rooms.create({ uniqueName: room.uniqueName })).room!.sid).to.not.equal(room.sid);
    });

    it("a join before the unused deadline keeps the room; the empty timeout then starts when the last one leaves", async () => {
      const start = clock.now;
      const room = (await rooms.create({ uniqueName: name(), unusedRoomTimeout: 1, emptyRoomTimeout: 3 })).room!;
      clock.now = start + 30_000;
      await participants.join({ room: room.sid, identity: "ann" });
      await at(start + 10 * minute);
      expect(await status(room.sid)).to.equal(RoomStatus.IN_PROGRESS);
      clock.now = start + 11 * minute;
      await participants.leave({ room: room.sid, participant: "ann" });
      await at(start + 14 * minute - 1);
      expect(await status(room.sid)).to.equal(RoomStatus.IN_PROGRESS);
      await at(start + 14 * minute);
      expect(await status(room.sid)).to.equal(RoomStatus.COMPLETED);
      expect(ends(await roomLog(server.store, account, room.sid))).to.deep.equal(["empty-timeout"]);
    });

    it("a join while the room is empty stops the empty timeout", async () => {
      const start = clock.now;
      const room = (await rooms.create({ uniqueName: name(), emptyRoomTimeout: 1 })).room!;
      await participants.join({ room: room.sid, identity: "ann" });
      await participants.leave({ room: room.sid, participant: "ann" });
      clock.now = start + 30_000;
      await participants.join({ room: room.sid, identity: "bob" });
      await at(start + 5 * minute);
      expect(await status(room.sid)).to.equal(RoomStatus.IN_PROGRESS);
    });

    it("an ad-hoc room has no timeouts (they render 0) and ends when its last participant leaves", async () => {
      const roomName = name();
      const joined = (await participants.join({ room: roomName, identity: "ann" })).participant!;
      await participants.join({ room: roomName, identity: "bob" });
      const adHoc = (await rooms.get({ room: joined.roomSid })).room!;
      expect([adHoc.emptyRoomTimeout, adHoc.unusedRoomTimeout]).to.deep.equal([0, 0]);
      const rest = await fetch(`${server.url}/v1/Rooms/${joined.roomSid}`, { headers: { authorization: testAuthorization } });
      const json = (await rest.json()) as { empty_room_timeout: number; unused_room_timeout: number };
      expect([json.empty_room_timeout, json.unused_room_timeout]).to.deep.equal([0, 0]);
      await participants.leave({ room: roomName, participant: "ann" });
      expect(await status(joined.roomSid)).to.equal(RoomStatus.IN_PROGRESS);
      await participants.update({ room: roomName, participant: "bob", status: ParticipantStatus.DISCONNECTED });
      expect(await status(joined.roomSid)).to.equal(RoomStatus.COMPLETED);
      expect(ends(await roomLog(server.store, account, joined.roomSid))).to.deep.equal(["last-participant-left"]);
    });

    it("max_participant_duration: a participant connected that long is disconnected", async () => {
      const start = clock.now;
      const room = (await rooms.create({ uniqueName: name(), maxParticipantDuration: 600, emptyRoomTimeout: 5 })).room!;
      const ann = (await participants.join({ room: room.sid, identity: "ann" })).participant!;
      clock.now = start + 60_000;
      const bob = (await participants.join({ room: room.sid, identity: "bob" })).participant!;
      await at(start + 600_000);
      expect((await participants.get({ room: room.sid, participant: ann.sid })).participant!.status).to.equal(
        ParticipantStatus.DISCONNECTED,
      );
      expect((await participants.get({ room: room.sid, participant: bob.sid })).participant!.status).to.equal(ParticipantStatus.CONNECTED);
      await at(start + 660_000);
      expect((await participants.get({ room: room.sid, participant: bob.sid })).participant!.status).to.equal(
        ParticipantStatus.DISCONNECTED,
      );
      const log = await roomLog(server.store, account, room.sid);
      expect(log.filter((e) => e.type === "participant-disconnected").map((e) => e.reason)).to.deep.equal(["max-duration", "max-duration"]);
      // The room, now empty, waits for its empty timeout.
      expect(await status(room.sid)).to.equal(RoomStatus.IN_PROGRESS);
      await at(start + 660_000 + 5 * minute);
      expect(ends(await roomLog(server.store, account, room.sid))).to.deep.equal(["empty-timeout"]);
    });

    it("a rejoin restarts the maximum duration: the old connection's timer does not end the new one", async () => {
      const start = clock.now;
      const room = (await rooms.create({ uniqueName: name(), maxParticipantDuration: 600 })).room!;
      await participants.join({ room: room.sid, identity: "ann" });
      clock.now = start + 300_000;
      const again = (await participants.join({ room: room.sid, identity: "ann" })).participant!;
      await at(start + 600_000);
      expect((await participants.get({ room: room.sid, participant: again.sid })).participant!.status).to.equal(
        ParticipantStatus.CONNECTED,
      );
      await at(start + 900_000);
      expect((await participants.get({ room: room.sid, participant: again.sid })).participant!.status).to.equal(
        ParticipantStatus.DISCONNECTED,
      );
    });

    it("every room ends at the latest ROLLCALL_MAX_ROOM_HOURS after its creation, its participants disconnected", async () => {
      const start = clock.now;
      const room = (await rooms.create({ uniqueName: name(), maxParticipantDuration: 86400 })).room!;
      // Present for the whole day, joining again before the maximum duration.
      for (let hour = 0; hour < 24; hour += 12) {
        clock.now = start + hour * 3_600_000;
        await participants.join({ room: room.sid, identity: "ann" });
        await server.timers.sweep();
      }
      await at(start + 24 * 3_600_000);
      expect(await status(room.sid)).to.equal(RoomStatus.COMPLETED);
      const log = await roomLog(server.store, account, room.sid);
      expect(ends(log)).to.deep.equal(["max-duration"]);
      expect(log.at(-2)?.reason).to.equal("room-completed");
    });

    it("a room completed by hand is not ended again by its timers", async () => {
      const start = clock.now;
      const room = (await rooms.create({ uniqueName: name(), unusedRoomTimeout: 1 })).room!;
      await rooms.update({ room: room.sid, status: RoomStatus.COMPLETED });
      await at(start + 25 * 3_600_000);
      expect(ends(await roomLog(server.store, account, room.sid))).to.deep.equal(["completed"]);
    });

    it("a join in the very millisecond of the empty deadline and the sweep race: the room ends once or not at all", async () => {
      const start = clock.now;
      const room = (await rooms.create({ uniqueName: name(), emptyRoomTimeout: 1 })).room!;
      await participants.join({ room: room.sid, identity: "ann" });
      await participants.leave({ room: room.sid, participant: "ann" });
      clock.now = start + minute;
      const [joined] = await Promise.allSettled([participants.join({ room: room.sid, identity: "bob" }), server.timers.sweep()]);
      const log = await roomLog(server.store, account, room.sid);
      if (joined.status === "fulfilled") {
        // The join came first: the timer found the room occupied.
        expect(ends(log)).to.deep.equal([]);
        expect(await status(room.sid)).to.equal(RoomStatus.IN_PROGRESS);
      } else {
        expect(ConnectError.from(joined.reason).code).to.equal(Code.FailedPrecondition);
        expect(ends(log)).to.deep.equal(["empty-timeout"]);
      }
    });

    it("refuses timeouts and durations out of Twilio's ranges with Twilio's codes", async () => {
      for (const [field, value, code] of [
        ["MaxParticipantDuration", 599, 53123],
        ["MaxParticipantDuration", 86401, 53123],
        ["EmptyRoomTimeout", 61, 53109],
        ["UnusedRoomTimeout", 61, 53109],
      ] as const) {
        const response = await fetch(`${server.url}/v1/Rooms`, {
          method: "POST",
          headers: { authorization: testAuthorization, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ UniqueName: name(), [field]: String(value) }),
        });
        expect(response.status, field).to.equal(400);
        expect(((await response.json()) as { code: number }).code, `${field} ${value}`).to.equal(code);
      }
      const error = await rejection(rooms.create({ uniqueName: name(), maxParticipantDuration: 100 }));
      expect(error.code).to.equal(Code.InvalidArgument);
      expect(error.rawMessage).to.match(/^max_participant_duration must be between 600 and 86400/);
    });
  });
});
