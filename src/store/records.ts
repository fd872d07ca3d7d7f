// The records the store keeps. Times are milliseconds since the Unix epoch.

export const participantStatuses = ["connected", "disconnected", "reconnecting"] as const;
export type ParticipantStatus = (typeof participantStatuses)[number];

export const roomStatuses = ["in-progress", "completed", "failed"] as const;
export type RoomStatus = (typeof roomStatuses)[number];

export interface ParticipantRecord {
  sid: string;
  roomSid: string;
  accountSid: string;
  identity: string;
  status: ParticipantStatus;
  // A participant record is created when it connects, so date_created is start_time.
  startTime: number;
  dateUpdated: number;
  endTime: number | undefined;
  // The room's event sequence of its connect event: orders participants that
  // started in the same millisecond.
  sequence: number;
}

export interface RoomRecord {
  sid: string;
  accountSid: string;
  uniqueName: string;
  status: RoomStatus;
  type: string;
  maxParticipants: number;
  maxParticipantDuration: number;
  emptyRoomTimeout: number;
  unusedRoomTimeout: number;
  statusCallback: string;
  statusCallbackMethod: string;
  dateCreated: number;
  dateUpdated: number;
  endTime: number | undefined;
  // The account's count of rooms at this room's creation: orders rooms created
  // in the same millisecond.
  sequence: number;
}

// Present participants occupy the room: they count against max_participants
// and hold their identity.
export function isPresent(status: ParticipantStatus): boolean {
  return status !== "disconnected";
}

// The change log: every change a user can see is one event, appended in the
// same atomic step as the change.
export const eventTypes = ["room-created", "room-ended", "participant-connected", "participant-disconnected", "participant-anonymized"] as const;
export type EventType = (typeof eventTypes)[number];

// Why a participant was disconnected.
export const disconnectReasons = ["kicked", "replaced", "left", "room-completed", "max-duration"] as const;
export type DisconnectReason = (typeof disconnectReasons)[number];

// Why a room ended: completed through the API, one of its timeouts, its
// maximum duration, or (an ad-hoc room) its last participant left.
export const roomEndReasons = ["completed", "unused-timeout", "empty-timeout", "max-duration", "last-participant-left"] as const;
export type RoomEndReason = (typeof roomEndReasons)[number];

export interface ChangeEvent {
  accountSid: string;
  roomSid: string;
  // The room's event sequence: 1, 2, 3, ... with no gap.
  sequence: number;
  type: EventType;
  time: number;
  // For a disconnect, and for a room's end.
  reason: DisconnectReason | RoomEndReason | undefined;
  // The room and the participant as they were right after the change.
  room: RoomRecord;
  participant: ParticipantRecord | undefined;
}
