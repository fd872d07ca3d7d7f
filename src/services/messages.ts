import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { DisconnectReason, EventSchema, EventType, RoomEndReason, type Event } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantSchema, ParticipantStatus, type Participant } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomSchema, RoomStatus, type Room } from "../../gen/rollcall/v1/room_pb.js";
import {
  SubscribedTrackSchema,
  SubscribeRuleSchema,
  SubscribeRulesSchema,
  SubscribeRuleType,
  TrackKind,
  TrackSchema,
  type SubscribedTrack,
  type SubscribeRule,
  type SubscribeRules,
  type Track,
} from "../../gen/rollcall/v1/track_pb.js";
import { durationSeconds } from "../operations/duration.js";
import { invalid } from "../domain/errors.js";
import type * as records from "../domain/records.js";

// Translation between the store's records and the Protobuf messages.

const participantStatusNames = new Map<ParticipantStatus, records.ParticipantStatus>([
  [ParticipantStatus.CONNECTED, "connected"],
  [ParticipantStatus.DISCONNECTED, "disconnected"],
  [ParticipantStatus.RECONNECTING, "reconnecting"],
]);
const participantStatusValues = new Map([...participantStatusNames].map(([value, name]) => [name, value]));

const roomStatusNames = new Map<RoomStatus, records.RoomStatus>([
  [RoomStatus.IN_PROGRESS, "in-progress"],
  [RoomStatus.COMPLETED, "completed"],
  [RoomStatus.FAILED, "failed"],
]);
const roomStatusValues = new Map([...roomStatusNames].map(([value, name]) => [name, value]));

function statusName<V extends number, N>(names: Map<V, N>, value: V, field: string): N | undefined {
  if (value === 0) return undefined;
  const name = names.get(value);
  if (name === undefined) throw invalid("status_invalid", field, `unknown enum value ${value}`);
  return name;
}

export function participantStatusOf(value: ParticipantStatus, field = "status"): records.ParticipantStatus | undefined {
  return statusName(participantStatusNames, value, field);
}

export function roomStatusOf(value: RoomStatus, field = "status"): records.RoomStatus | undefined {
  return statusName(roomStatusNames, value, field);
}

// google.protobuf.Timestamp's range, 0001-01-01 to 9999-12-31 with nanos
// below a second. The JSON decoder refuses a timestamp outside it, the binary
// one does not, and read as a date such a timestamp may be no date at all
// (NaN), which listings cannot compare with.
const minSeconds = -62_135_596_800n;
const maxSeconds = 253_402_300_799n;

export function msOf(timestamp: Timestamp | undefined, field: string): number | undefined {
  if (timestamp === undefined) return undefined;
  const { seconds, nanos } = timestamp;
  if (seconds < minSeconds || seconds > maxSeconds || nanos < 0 || nanos > 999_999_999) {
    throw invalid("invalid_parameter", field, "must be a timestamp from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z");
  }
  return timestampDate(timestamp).getTime();
}

function timestampOf(ms: number | undefined): Timestamp | undefined {
  return ms === undefined ? undefined : timestampFromMs(ms);
}

export function participantMessage(p: records.ParticipantRecord): Participant {
  return create(ParticipantSchema, {
    sid: p.sid,
    roomSid: p.roomSid,
    accountSid: p.accountSid,
    status: participantStatusValues.get(p.status),
    identity: p.identity,
    dateCreated: timestampOf(p.startTime),
    dateUpdated: timestampOf(p.dateUpdated),
    startTime: timestampOf(p.startTime),
    endTime: timestampOf(p.endTime),
    duration: durationSeconds(p.startTime, p.endTime),
  });
}

export function roomMessage(r: records.RoomRecord): Room {
  return create(RoomSchema, {
    sid: r.sid,
    status: roomStatusValues.get(r.status),
    dateCreated: timestampOf(r.dateCreated),
    dateUpdated: timestampOf(r.dateUpdated),
    accountSid: r.accountSid,
    uniqueName: r.uniqueName,
    statusCallback: r.statusCallback,
    statusCallbackMethod: r.statusCallbackMethod,
    endTime: timestampOf(r.endTime),
    duration: durationSeconds(r.dateCreated, r.endTime),
    type: r.type,
    maxParticipants: r.maxParticipants,
    maxParticipantDuration: r.maxParticipantDuration,
    emptyRoomTimeout: r.emptyRoomTimeout,
    unusedRoomTimeout: r.unusedRoomTimeout,
  });
}

const eventTypeValues: Record<records.EventType, EventType> = {
  "room-created": EventType.ROOM_CREATED,
  "room-ended": EventType.ROOM_ENDED,
  "participant-connected": EventType.PARTICIPANT_CONNECTED,
  "participant-disconnected": EventType.PARTICIPANT_DISCONNECTED,
  "participant-anonymized": EventType.PARTICIPANT_ANONYMIZED,
  "track-added": EventType.TRACK_ADDED,
  "track-removed": EventType.TRACK_REMOVED,
  "track-enabled": EventType.TRACK_ENABLED,
  "track-disabled": EventType.TRACK_DISABLED,
  "track-subscribed": EventType.TRACK_SUBSCRIBED,
  "track-unsubscribed": EventType.TRACK_UNSUBSCRIBED,
  "subscribe-rules-updated": EventType.SUBSCRIBE_RULES_UPDATED,
};

const trackKindValues: Record<records.TrackKind, TrackKind> = {
  audio: TrackKind.AUDIO,
  video: TrackKind.VIDEO,
  data: TrackKind.DATA,
};
const trackKindNames = new Map(Object.entries(trackKindValues).map(([name, value]) => [value, name as records.TrackKind]));

// A track kind from a request; undefined when unset. An unknown value is refused.
export function trackKindOf(value: TrackKind, field = "kind"): records.TrackKind | undefined {
  if (value === TrackKind.UNSPECIFIED) return undefined;
  const name = trackKindNames.get(value);
  if (name === undefined) throw invalid("track_kind_invalid", field, `unknown enum value ${value}; must be audio, video or data`);
  return name;
}

export function trackMessage(t: records.TrackRecord): Track {
  return create(TrackSchema, {
    sid: t.sid,
    roomSid: t.roomSid,
    accountSid: t.accountSid,
    participantSid: t.participantSid,
    name: t.name,
    kind: trackKindValues[t.kind],
    enabled: t.enabled,
    dateCreated: timestampOf(t.dateCreated),
    dateUpdated: timestampOf(t.dateUpdated),
  });
}

export function subscribedTrackMessage(s: records.SubscriptionRecord): SubscribedTrack {
  return create(SubscribedTrackSchema, {
    track: trackMessage(s.track),
    participantSid: s.participantSid,
    dateCreated: timestampOf(s.dateCreated),
  });
}

export function subscribeRulesMessage(r: records.SubscribeRules): SubscribeRules {
  return create(SubscribeRulesSchema, {
    roomSid: r.roomSid,
    participantSid: r.participantSid,
    rules: r.rules.map((rule) =>
      create(SubscribeRuleSchema, {
        type: rule.type === "include" ? SubscribeRuleType.INCLUDE : SubscribeRuleType.EXCLUDE,
        all: rule.all ?? false,
        publisher: rule.publisher ?? "",
        track: rule.track ?? "",
        kind: rule.kind === undefined ? TrackKind.UNSPECIFIED : trackKindValues[rule.kind],
        priority: rule.priority ?? "",
      }),
    ),
    dateCreated: timestampOf(r.dateCreated),
    dateUpdated: timestampOf(r.dateUpdated),
  });
}

// Rules from a request, in Twilio's JSON form (unset fields left out), for
// the operations to check as they check Twilio's.
export function subscribeRulesOf(rules: SubscribeRule[]): unknown[] {
  return rules.map((rule) => {
    const json: Record<string, unknown> = {};
    if (rule.type === SubscribeRuleType.INCLUDE) json.type = "include";
    else if (rule.type === SubscribeRuleType.EXCLUDE) json.type = "exclude";
    else if (rule.type !== SubscribeRuleType.UNSPECIFIED) json.type = String(rule.type);
    if (rule.all) json.all = true;
    if (rule.publisher !== "") json.publisher = rule.publisher;
    if (rule.track !== "") json.track = rule.track;
    if (rule.kind !== TrackKind.UNSPECIFIED) json.kind = trackKindNames.get(rule.kind) ?? String(rule.kind);
    if (rule.priority !== "") json.priority = rule.priority;
    return json;
  });
}

const disconnectReasonValues: Record<records.DisconnectReason, DisconnectReason> = {
  kicked: DisconnectReason.KICKED,
  replaced: DisconnectReason.REPLACED,
  left: DisconnectReason.LEFT,
  "room-completed": DisconnectReason.ROOM_COMPLETED,
  "max-duration": DisconnectReason.MAX_DURATION,
};

const roomEndReasonValues: Record<records.RoomEndReason, RoomEndReason> = {
  completed: RoomEndReason.COMPLETED,
  "unused-timeout": RoomEndReason.UNUSED_TIMEOUT,
  "empty-timeout": RoomEndReason.EMPTY_TIMEOUT,
  "max-duration": RoomEndReason.MAX_DURATION,
  "last-participant-left": RoomEndReason.LAST_PARTICIPANT_LEFT,
};

export function eventMessage(cursor: string, e: records.ChangeEvent): Event {
  return create(EventSchema, {
    cursor,
    sequence: BigInt(e.sequence),
    type: eventTypeValues[e.type],
    time: timestampFromMs(e.time),
    accountSid: e.accountSid,
    roomSid: e.roomSid,
    room: roomMessage(e.room),
    participant: e.participant && participantMessage(e.participant),
    reason:
      e.type === "participant-disconnected" ? disconnectReasonValues[e.reason as records.DisconnectReason] : DisconnectReason.UNSPECIFIED,
    roomEndReason: e.type === "room-ended" ? roomEndReasonValues[e.reason as records.RoomEndReason] : RoomEndReason.UNSPECIFIED,
    track: e.track && trackMessage(e.track),
    subscribeRules: e.rules && subscribeRulesMessage(e.rules),
  });
}
