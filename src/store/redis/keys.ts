import type { ParticipantStatus, RoomStatus } from "../../domain/records.js";
import { shardOf } from "../store.js";

// An account's rooms are spread over 16 shards by the last hex digit of their
// sid. Every key of a room, and its shard's account log, carries the hash tag
// {<account sid>:<shard>}, so each room script touches one slot and appends to
// the account's log in the same atomic step as the change. The account's room
// directory carries {<account sid>}. Sids are validated before they reach the
// store; names and identities never appear in a key, only as hash fields and
// sorted-set members, where any bytes are safe.

// The parts of a room key after the room's prefix; scripts build keys from them.
export const roomKeyParts = {
  room: "room",
  present: "present",
  participant: "p:",
  byStart: "by-start:",
  byIdentity: "by-identity:",
  log: "log",
  // A published track's hash (t:<track sid>) and the set of its subscribers
  // (t:<track sid>:subscribers); under a participant's key (p:<sid>), its
  // published tracks in order (:tracks) and by name (:track-names), its
  // subscriptions in order (:subscribed) and by track (:subscriptions), and
  // its subscribe rules (:rules).
  track: "t:",
  subscribers: ":subscribers",
  tracks: ":tracks",
  trackNames: ":track-names",
  subscribed: ":subscribed",
  subscriptions: ":subscriptions",
  rules: ":rules",
} as const;

function shardTag(accountSid: string, shard: number): string {
  return `rc:{${accountSid}:${shard.toString(16)}}:`;
}

export function roomKeys(accountSid: string, roomSid: string) {
  const shard = shardTag(accountSid, shardOf(roomSid));
  const prefix = `${shard}${roomSid}:`;
  return {
    prefix,
    room: prefix + roomKeyParts.room,
    present: prefix + roomKeyParts.present,
    participant: (sid: string) => prefix + roomKeyParts.participant + sid,
    byStart: (status: ParticipantStatus) => prefix + roomKeyParts.byStart + status,
    byIdentity: (status: ParticipantStatus) => prefix + roomKeyParts.byIdentity + status,
    log: prefix + roomKeyParts.log,
    ...shardKeys(accountSid, shardOf(roomSid)),
  };
}

export function shardKeys(accountSid: string, shard: number) {
  const tag = shardTag(accountSid, shard);
  return {
    // The shard's part of the account's log, and the hash counting its entries.
    shardLog: tag + "log",
    shardCounter: tag + "counter",
    // Status callbacks: the shard's rooms with callbacks due (score: when, in
    // ms), the lease of the instance delivering them, and the dead letters.
    callbacksDue: tag + "callbacks-due",
    callbacksLease: tag + "callbacks-lease",
    callbacksFailed: tag + "callbacks-failed",
    // Deadlines of the shard's rooms and participants (score: when due, in ms).
    timers: tag + "timers",
    // The LiveKit bridge's position in the shard's log, and its lease.
    liveKitCursor: tag + "livekit-cursor",
    liveKitLease: tag + "livekit-lease",
  };
}

export function accountKeys(accountSid: string) {
  const prefix = `rc:{${accountSid}}:`;
  return {
    names: prefix + "names",
    roomsByCreated: (status: RoomStatus) => prefix + "rooms-by-created:" + status,
    roomsByName: (status: RoomStatus) => prefix + "rooms-by-name:" + status,
    // The account's clock (the latest room creation time) and room count.
    clock: prefix + "clock",
    // Rooms whose name is claimed but whose record is not yet written: the
    // record to write, by sid (see createRoom).
    pending: prefix + "pending",
    // The LiveKit bridge: one-time claims (webhook ids and tokens, by their
    // SHA-256), each LiveKit room's state (by its RM_ sid, checked by the
    // bridge), and the followed rooms both ways.
    liveKitOnce: (digest: string) => prefix + "livekit-once:" + digest,
    liveKitRoom: (liveKitRoomSid: string) => prefix + "livekit-room:" + liveKitRoomSid,
    liveKitRooms: prefix + "livekit-rooms",
    liveKitByRoom: prefix + "livekit-by-room",
  };
}
