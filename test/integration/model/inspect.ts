import { expect } from "chai";
import { durationSeconds } from "../../../src/operations/duration.js";
import {
  type ParticipantRecord,
  type ParticipantStatus,
  participantStatuses,
  type RoomRecord,
  type RoomStatus,
  roomStatuses,
} from "../../../src/domain/records.js";
import type { Store } from "../../../src/store/store.js";
import { byCreated, byStart, check, expectSame, expectStrictlyOrdered, isPresent, show } from "./checks.js";
import { expectLogTellsState } from "./log-replay.js";
import { everything, identities, roomNames } from "./settings.js";

// Reading the store back: every index of a room or of an account, checked
// against each other.

export interface RoomSnapshot {
  room: RoomRecord;
  byStatus: Record<ParticipantStatus, ParticipantRecord[]>;
  all: ParticipantRecord[];
  present: ParticipantRecord[];
}

// Reads a room and all its participants back from the store and checks what
// must hold whatever happened before: each participant listed once, under its
// status, in (start_time, sid) order; at most one present participant per
// identity and no more than max_participants; end times and durations on
// every disconnected participant; nobody present in a completed room; and
// the present directory and the by-identity index agreeing with the listings,
// for the identities given or else for the pool's and every one listed.
export async function inspectRoom(store: Store, account: string, sid: string, only?: readonly string[]): Promise<RoomSnapshot> {
  const byIdentity = (names: readonly string[]) =>
    Promise.all(
      names.map(async (identity) => {
        const [found, listed] = await Promise.all([
          store.findPresentParticipant(account, sid, identity),
          Promise.all(
            participantStatuses.map(
              async (status) => (await store.listParticipants(account, sid, { status, identity, limit: everything })).participants,
            ),
          ),
        ]);
        return { identity, found, listed };
      }),
    );
  // The pool's identities are read at once; identities replaced by
  // anonymization only once the listings name them.
  const [room, listings, pooled] = await Promise.all([
    store.getRoom(account, sid),
    Promise.all(participantStatuses.map((status) => store.listParticipants(account, sid, { status, limit: everything }))),
    byIdentity(only ?? identities),
  ]);
  if (room === undefined) expect.fail(`room ${sid} of ${account} is not in the store`);
  const lists = listings.map((listing) => listing.participants);
  const byStatus = {} as Record<ParticipantStatus, ParticipantRecord[]>;
  participantStatuses.forEach((status, i) => {
    const listed = lists[i]!;
    byStatus[status] = listed;
    expectStrictlyOrdered(listed, byStart, () => `${status} participants of ${sid}`);
    for (const p of listed) {
      check(
        p.status === status && p.roomSid === sid && p.accountSid === account,
        () => `${show(p)} listed as ${status} in ${sid} of ${account}`,
      );
      if (status !== "disconnected") {
        check(p.endTime === undefined, () => `present ${p.sid} has an end_time: ${show(p)}`);
        continue;
      }
      const duration = durationSeconds(p.startTime, p.endTime);
      check(p.endTime !== undefined && p.endTime >= p.startTime, () => `end_time of disconnected ${show(p)}`);
      check(Number.isInteger(duration) && duration! >= 0, () => `duration of ${p.sid}: ${duration}`);
    }
  });
  const all = lists.flat();
  check(new Set(all.map((p) => p.sid)).size === all.length, () => `a participant of ${sid} listed under two statuses: ${show(all)}`);
  const present = all.filter(isPresent);
  const presentIdentities = present.map((p) => p.identity);
  check(new Set(presentIdentities).size === present.length, () => `an identity present twice in ${sid}: ${show(presentIdentities)}`);
  check(present.length <= room.maxParticipants, () => `${present.length} present in ${sid} with max_participants ${room.maxParticipants}`);
  if (room.status === "in-progress") {
    check(room.endTime === undefined, () => `in-progress ${sid} has an end_time: ${show(room)}`);
  } else {
    expectSame(present, [], () => `present participants of ${room.status} room ${sid}`);
    check(room.endTime !== undefined && room.endTime >= room.dateCreated, () => `end_time of ${room.status} ${show(room)}`);
  }
  // Identities that left, and identities replaced by anonymization, too: a
  // stale index member or directory entry would show up under them.
  const others =
    only !== undefined
      ? []
      : await byIdentity([...new Set(all.map((p) => p.identity).filter((identity) => !identities.includes(identity)))]);
  for (const { identity, found, listed } of [...pooled, ...others]) {
    expectSame(
      found,
      present.find((p) => p.identity === identity),
      () => `present participant ${show(identity)} of ${sid}`,
    );
    participantStatuses.forEach((status, i) => {
      expectSame(
        listed[i],
        byStatus[status].filter((p) => p.identity === identity),
        () => `${status} participants of ${sid} with identity ${show(identity)}`,
      );
    });
  }
  // The change log, replayed up to where the listings read it, tells the same
  // state (when nothing changed between the reads of the three statuses).
  const ends = new Set(listings.map((listing) => listing.logId));
  if (ends.size === 1 && (await store.getRoom(account, sid))?.dateUpdated === room.dateUpdated) {
    await expectLogTellsState(store, account, room, all, listings[0]!.logId);
  }
  return { room, byStatus, all, present };
}

// Reads an account's rooms back: each listed once, under its status, in
// (date_created, sid) order; the unique names of in-progress rooms distinct;
// for those and the pool's names, the name directory and the by-name index
// agreeing with the listings.
export async function inspectAccount(store: Store, account: string): Promise<Map<RoomStatus, RoomRecord[]>> {
  const byName = (names: readonly string[]) =>
    Promise.all(
      [...new Set(names)].map(async (name) => {
        const [found, listed] = await Promise.all([
          store.findRoomByName(account, name),
          Promise.all(roomStatuses.map((status) => store.listRooms(account, { status, uniqueName: name, limit: everything }))),
        ]);
        return { name, found, listed };
      }),
    );
  const lists = await Promise.all(roomStatuses.map((status) => store.listRooms(account, { status, limit: everything })));
  const byStatus = new Map<RoomStatus, RoomRecord[]>();
  roomStatuses.forEach((status, i) => {
    const listed = lists[i]!;
    byStatus.set(status, listed);
    expectStrictlyOrdered(listed, byCreated, () => `${status} rooms of ${account}`);
    for (const room of listed)
      check(room.status === status && room.accountSid === account, () => `${show(room)} listed as ${status} in ${account}`);
  });
  const all = lists.flat();
  check(
    new Set(all.map((r) => r.sid)).size === all.length,
    () => `a room of ${account} listed under two statuses: ${show(all.map((r) => r.sid))}`,
  );
  const open = byStatus.get("in-progress")!;
  const held = open.map((r) => r.uniqueName);
  check(new Set(held).size === held.length, () => `unique names held twice in ${account}: ${show(held)}`);
  for (const { name, found, listed } of await byName([...roomNames, ...held])) {
    expectSame(
      found,
      open.find((r) => r.uniqueName === name),
      () => `in-progress room named ${show(name)}`,
    );
    roomStatuses.forEach((status, i) => {
      expectSame(
        listed[i],
        byStatus.get(status)!.filter((r) => r.uniqueName === name),
        () => `${status} rooms named ${show(name)}`,
      );
    });
  }
  return byStatus;
}
