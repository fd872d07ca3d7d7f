import type { ParticipantRecord, RoomRecord } from "../../../src/domain/records.js";
import type { Store } from "../../../src/store/store.js";
import { check, expectSame } from "./checks.js";

// The state a room's change log tells: the room as its last event shows it,
// and each participant as its last event shows it.
export interface Replayed {
  room: RoomRecord | undefined;
  participants: Map<string, ParticipantRecord>;
}

// Replays a room's whole log, from its start to the position `end` (the log
// position read together with the state it is compared with).
export async function replayRoomLog(store: Store, account: string, roomSid: string, end: string): Promise<Replayed> {
  const replayed: Replayed = { room: undefined, participants: new Map() };
  if (end === "0-0") return replayed;
  const stop = new AbortController();
  let expected = 1;
  try {
    for await (const batch of store.followLog({ accountSid: account, roomSid }, "0-0", { signal: stop.signal, keepAliveMs: 5000 })) {
      for (const { event } of batch.events) {
        check(event.sequence === expected++, () => `event ${event.sequence} of ${roomSid} where ${expected - 1} was due`);
        replayed.room = event.room;
        if (event.participant !== undefined) replayed.participants.set(event.participant.sid, event.participant);
      }
      if (batch.lastId === end) break;
    }
  } finally {
    stop.abort();
  }
  return replayed;
}

// The log of a room rebuilds exactly the state read from the store.
export async function expectLogTellsState(
  store: Store,
  account: string,
  room: RoomRecord,
  participants: ParticipantRecord[],
  end: string,
): Promise<void> {
  const replayed = await replayRoomLog(store, account, room.sid, end);
  expectSame(replayed.room, room, () => `room ${room.sid} as its log tells it`);
  const bySid = (a: ParticipantRecord, b: ParticipantRecord) => (a.sid < b.sid ? -1 : 1);
  expectSame(
    [...replayed.participants.values()].sort(bySid),
    [...participants].sort(bySid),
    () => `participants of ${room.sid} as its log tells them`,
  );
}
