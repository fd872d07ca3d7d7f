import { decodeTime, sidLength } from "../lex-index.js";
import {
  defaultSubscribeRules,
  type ChangeEvent,
  type DisconnectReason,
  type EventType,
  type ParticipantRecord,
  type ParticipantStatus,
  type RoomRecord,
  type RoomStatus,
  type SubscribeRule,
  type SubscribeRules,
  type SubscriptionRecord,
  type TrackKind,
  type TrackRecord,
} from "../../domain/records.js";

// The fields of the room and participant hashes, in the order in which the
// scripts read them (HMGET) and return them. Times are 13-digit millisecond
// strings (lex-index.ts). Besides these, a room hash keeps its clock and the
// count of its log's events (scripts.ts).
export const roomFields = [
  "account_sid",
  "unique_name",
  "status",
  "type",
  "max_participants",
  "max_participant_duration",
  "empty_room_timeout",
  "unused_room_timeout",
  "status_callback",
  "status_callback_method",
  "date_created",
  "date_updated",
  "end_time",
  "sequence",
] as const;

export const participantFields = ["account_sid", "identity", "status", "start_time", "date_updated", "end_time", "sequence"] as const;

// The fields of a published track's hash ("enabled" is "1" or "0").
export const trackFields = [
  "account_sid",
  "participant_sid",
  "name",
  "kind",
  "enabled",
  "date_created",
  "date_updated",
  "sequence",
] as const;

// A field a script read is a string, or false (Lua's nil) when absent.
type Value = string | null | false;

// A participant as scripts return it: its sid, then participantFields.
export type ParticipantReply = [string, ...Value[]];

// A track as scripts return it: its sid, then trackFields.
export type TrackReply = [string, ...Value[]];

// A subscription as scripts return it: the track, the subscriber's sid and
// its index member (<date_created><sequence><track sid>).
export type SubscriptionReply = [TrackReply, string, string];

export function decodeTrack(roomSid: string, [sid, ...values]: TrackReply): TrackRecord | undefined {
  const f = Object.fromEntries(trackFields.map((name, i) => [name, values[i] || undefined]));
  if (f.account_sid === undefined) return undefined;
  return {
    sid,
    roomSid,
    accountSid: f.account_sid,
    participantSid: f.participant_sid!,
    name: f.name ?? "",
    kind: f.kind as TrackKind,
    enabled: f.enabled === "1",
    dateCreated: decodeTime(f.date_created!),
    dateUpdated: decodeTime(f.date_updated!),
    sequence: Number(f.sequence),
  };
}

export function decodeSubscription(roomSid: string, [track, subscriber, member]: SubscriptionReply): SubscriptionRecord {
  return {
    track: decodeTrack(roomSid, track)!,
    participantSid: subscriber,
    dateCreated: decodeTime(member.slice(0, 13)),
    sequence: Number(member.slice(13, -sidLength)),
  };
}

// Rules as the scripts keep them: JSON of the rules, then the times (13-digit
// strings), all absent before the first update.
export function decodeRules(roomSid: string, participantSid: string, [rules, created, updated]: Value[]): SubscribeRules {
  return {
    roomSid,
    participantSid,
    rules: rules ? (JSON.parse(rules) as SubscribeRule[]) : defaultSubscribeRules.map((rule) => ({ ...rule })),
    dateCreated: created ? decodeTime(created) : undefined,
    dateUpdated: updated ? decodeTime(updated) : undefined,
  };
}

// A room from its fields in roomFields order; undefined when it has none.
export function decodeRoom(sid: string, values: Value[]): RoomRecord | undefined {
  const f = Object.fromEntries(roomFields.map((name, i) => [name, values[i] || undefined]));
  if (f.account_sid === undefined) return undefined;
  return {
    sid,
    accountSid: f.account_sid,
    uniqueName: f.unique_name!,
    status: f.status as RoomStatus,
    type: f.type!,
    maxParticipants: Number(f.max_participants),
    maxParticipantDuration: Number(f.max_participant_duration),
    emptyRoomTimeout: Number(f.empty_room_timeout),
    unusedRoomTimeout: Number(f.unused_room_timeout),
    statusCallback: f.status_callback ?? "",
    statusCallbackMethod: f.status_callback_method!,
    dateCreated: decodeTime(f.date_created!),
    dateUpdated: decodeTime(f.date_updated!),
    endTime: f.end_time === undefined ? undefined : decodeTime(f.end_time),
    sequence: Number(f.sequence),
  };
}

export function decodeParticipant(roomSid: string, [sid, ...values]: ParticipantReply): ParticipantRecord | undefined {
  const f = Object.fromEntries(participantFields.map((name, i) => [name, values[i] || undefined]));
  if (f.account_sid === undefined) return undefined;
  return {
    sid,
    roomSid,
    accountSid: f.account_sid,
    identity: f.identity!,
    status: f.status as ParticipantStatus,
    startTime: decodeTime(f.start_time!),
    dateUpdated: decodeTime(f.date_updated!),
    endTime: f.end_time === undefined ? undefined : decodeTime(f.end_time),
    sequence: Number(f.sequence),
  };
}

// An event as the scripts write it into a log: a JSON array of the room's
// sid, the type, the room's sequence, the time, the reason (or false), the
// room's fields and the participant's reply (or false); track events add the
// track's reply, and subscribe-rules-updated the rules as decodeRules reads them.
export function decodeEvent(payload: string): ChangeEvent {
  const [roomSid, type, sequence, time, reason, room, participant, track, rules] = JSON.parse(payload) as [
    string,
    EventType,
    number,
    number,
    DisconnectReason | false,
    Value[],
    ParticipantReply | false,
    TrackReply | false | undefined,
    Value[] | false | undefined,
  ];
  const roomRecord = decodeRoom(roomSid, room)!;
  const event: ChangeEvent = {
    accountSid: roomRecord.accountSid,
    roomSid,
    sequence,
    type,
    time,
    reason: reason || undefined,
    room: roomRecord,
    participant: participant ? decodeParticipant(roomSid, participant) : undefined,
  };
  if (track) event.track = decodeTrack(roomSid, track);
  if (rules && participant) event.rules = decodeRules(roomSid, participant[0], rules);
  return event;
}
