import type { ParticipantStatus, RoomStatus } from "./records.js";

// Every key of a room carries the hash tag {<room sid>} and every key of an
// account's room directory the tag {<account sid>}, so each Lua script touches
// one slot, in a single Redis and in Redis Cluster alike. Sids are validated
// before they reach the store; names and identities never appear in a key,
// only as hash fields and sorted-set members, where any bytes are safe.

export function roomKeys(roomSid: string) {
  const prefix = `rc:{${roomSid}}:`;
  return {
    room: prefix + "room",
    present: prefix + "present",
    participant: (sid: string) => prefix + "p:" + sid,
    byStart: (status: ParticipantStatus) => prefix + "by-start:" + status,
    byIdentity: (status: ParticipantStatus) => prefix + "by-identity:" + status,
  };
}

export function accountKeys(accountSid: string) {
  const prefix = `rc:{${accountSid}}:`;
  return {
    names: prefix + "names",
    roomsByCreated: (status: RoomStatus) => prefix + "rooms-by-created:" + status,
    roomsByName: (status: RoomStatus) => prefix + "rooms-by-name:" + status,
  };
}
