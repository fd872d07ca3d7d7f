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
}

// Present participants occupy the room: they count against max_participants
// and hold their identity.
export function isPresent(status: ParticipantStatus): boolean {
  return status !== "disconnected";
}
