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
export const eventTypes = [
  "room-created",
  "room-ended",
  "participant-connected",
  "participant-disconnected",
  "participant-anonymized",
  "track-added",
  "track-removed",
  "track-enabled",
  "track-disabled",
  "track-subscribed",
  "track-unsubscribed",
  "subscribe-rules-updated",
] as const;
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
  // For track events: the track right after the change (for track-removed,
  // as it was when removed). For track-subscribed and track-unsubscribed the
  // participant is the subscriber, otherwise the publisher.
  track?: TrackRecord | undefined;
  // For subscribe-rules-updated: the participant's rules after the change.
  rules?: SubscribeRules | undefined;
}

export const trackKinds = ["audio", "video", "data"] as const;
export type TrackKind = (typeof trackKinds)[number];

// A track a participant publishes. Only currently published tracks exist:
// unpublishing, and the publisher's disconnect, remove the record.
export interface TrackRecord {
  sid: string;
  roomSid: string;
  accountSid: string;
  // The publisher.
  participantSid: string;
  // Unique among the participant's published tracks.
  name: string;
  kind: TrackKind;
  enabled: boolean;
  dateCreated: number;
  dateUpdated: number;
  // The room's event sequence of its track-added event: orders tracks
  // published in the same millisecond.
  sequence: number;
}

// A participant's subscription to another participant's published track:
// the track as it is now, and when the subscription started.
export interface SubscriptionRecord {
  track: TrackRecord;
  // The subscriber.
  participantSid: string;
  dateCreated: number;
  // The room's event sequence of its track-subscribed event.
  sequence: number;
}

// Twilio's subscribe rule: a type and filters, each given at most once.
export interface SubscribeRule {
  type: "include" | "exclude";
  all?: true | undefined;
  publisher?: string | undefined;
  track?: string | undefined;
  kind?: TrackKind | undefined;
  priority?: string | undefined;
}

// A participant's subscribe rules; times are undefined until the first update
// (Twilio's default is to include every track).
export interface SubscribeRules {
  roomSid: string;
  participantSid: string;
  rules: SubscribeRule[];
  dateCreated: number | undefined;
  dateUpdated: number | undefined;
}

export const defaultSubscribeRules: readonly SubscribeRule[] = [{ type: "include", all: true }];
