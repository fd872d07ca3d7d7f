import { newSid } from "../../src/operations/sids.js";
import type { RoomRecord } from "../../src/domain/records.js";

// The time stored records start from in tests that set times themselves.
export const t0 = 1_700_000_000_000;

// The store's limits in tests: the defaults (the change log's retention, the
// longest a room lasts).
export const testLimits = { retentionMs: 24 * 3_600_000, retentionPerRoom: 10_000, maxRoomMs: 24 * 3_600_000 };

// An in-progress room record with Twilio's defaults, for tests that talk to a
// store directly; random sids and name unless given.
export function roomRecord(fields: Partial<RoomRecord> = {}): RoomRecord {
  const dateCreated = fields.dateCreated ?? t0;
  return {
    sid: newSid("RM"),
    accountSid: newSid("AC"),
    uniqueName: `room-${newSid("RM").slice(2, 10)}`,
    status: "in-progress",
    type: "group",
    maxParticipants: 50,
    maxParticipantDuration: 14400,
    emptyRoomTimeout: 5,
    unusedRoomTimeout: 5,
    statusCallback: "",
    statusCallbackMethod: "POST",
    dateCreated,
    dateUpdated: dateCreated,
    endTime: undefined,
    sequence: 1,
    ...fields,
  };
}
