import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { DisconnectReason, EventType } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomStatus } from "../../gen/rollcall/v1/room_pb.js";

export function millisOf(timestamp: Timestamp | undefined): number | undefined {
  return timestamp === undefined ? undefined : timestampDate(timestamp).getTime();
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

export function formatDateTime(timestamp: Timestamp | undefined): string {
  const ms = millisOf(timestamp);
  return ms === undefined ? "—" : dateTime.format(ms);
}

export function formatTime(timestamp: Timestamp | undefined): string {
  const ms = millisOf(timestamp);
  return ms === undefined ? "—" : timeOnly.format(ms);
}

export function isoOf(timestamp: Timestamp | undefined): string | undefined {
  const ms = millisOf(timestamp);
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

// "1 h 02 min 03 s", "4 min 05 s", "7 s".
export function formatDuration(totalMs: number): string {
  const total = Math.max(0, Math.floor(totalMs / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  if (hours > 0) return `${hours} h ${two(minutes)} min ${two(seconds)} s`;
  if (minutes > 0) return `${minutes} min ${two(seconds)} s`;
  return `${seconds} s`;
}

// From `start` to `end`, or to `now` while it goes on.
export function durationBetween(start: Timestamp | undefined, end: Timestamp | undefined, now: number): string {
  const from = millisOf(start);
  if (from === undefined) return "—";
  return formatDuration((millisOf(end) ?? now) - from);
}

export function roomStatusLabel(status: RoomStatus): string {
  switch (status) {
    case RoomStatus.IN_PROGRESS:
      return "in progress";
    case RoomStatus.COMPLETED:
      return "completed";
    case RoomStatus.FAILED:
      return "failed";
    default:
      return "unknown";
  }
}

export function participantStatusLabel(status: ParticipantStatus): string {
  switch (status) {
    case ParticipantStatus.CONNECTED:
      return "connected";
    case ParticipantStatus.DISCONNECTED:
      return "disconnected";
    case ParticipantStatus.RECONNECTING:
      return "reconnecting";
    default:
      return "unknown";
  }
}

export function eventTypeLabel(type: EventType): string {
  switch (type) {
    case EventType.ROOM_CREATED:
      return "room created";
    case EventType.ROOM_ENDED:
      return "room ended";
    case EventType.PARTICIPANT_CONNECTED:
      return "connected";
    case EventType.PARTICIPANT_DISCONNECTED:
      return "disconnected";
    case EventType.PARTICIPANT_ANONYMIZED:
      return "anonymized";
    default:
      return "other";
  }
}

export function reasonLabel(reason: DisconnectReason): string {
  switch (reason) {
    case DisconnectReason.KICKED:
      return "kicked";
    case DisconnectReason.REPLACED:
      return "replaced by a newer join";
    case DisconnectReason.LEFT:
      return "left";
    case DisconnectReason.ROOM_COMPLETED:
      return "room completed";
    default:
      return "";
  }
}
