import type { Redis } from "ioredis";
import { encodeTime } from "../../src/store/lex-index.js";
import type { ParticipantRecord } from "../../src/domain/records.js";
import { decodeEvent } from "../../src/store/redis/codec.js";

// Reads what the Redis store keeps, key by key, and lists every way it breaks
// the store's invariants: the indexes, the present map and each participant's
// hash agree, a completed room holds nobody, and the change log tells the
// same story as the state. A change applied halfway would show here.
export async function storedInvariantViolations(redis: Redis): Promise<string[]> {
  const violations: string[] = [];
  const roomKeys = await keys(redis, "rc:{AC*}:RM*:room");
  for (const roomKey of roomKeys) {
    const prefix = roomKey.slice(0, -"room".length);
    const room = await redis.hgetall(roomKey);
    const present = await redis.hgetall(prefix + "present");
    const indexes = new Map<string, Set<string>>();
    for (const key of await keys(redis, prefix + "by-*"))
      indexes.set(key.slice(prefix.length), new Set(await redis.zrange(key, "0", "-1")));
    const listed = (index: string) => indexes.get(index) ?? new Set<string>();
    let presentCount = 0;
    const indexed = new Set<string>();
    for (const key of await keys(redis, prefix + "p:*")) {
      const sid = key.slice((prefix + "p:").length);
      const p = await redis.hgetall(key);
      const at = `${roomKey} ${sid}`;
      const byStart = p.start_time + p.sequence!.padStart(12, "0") + sid;
      const byIdentity = `${p.identity}\u0000${byStart}`;
      indexed.add(`by-start:${p.status}|${byStart}`).add(`by-identity:${p.status}|${byIdentity}`);
      if (!listed(`by-start:${p.status}`).has(byStart)) violations.push(`${at}: missing from by-start:${p.status}`);
      if (!listed(`by-identity:${p.status}`).has(byIdentity)) violations.push(`${at}: missing from by-identity:${p.status}`);
      if (p.status === "disconnected") {
        if (p.end_time === undefined || p.end_time < p.start_time!) violations.push(`${at}: disconnected without a valid end_time`);
        if (present[p.identity!] === sid) violations.push(`${at}: disconnected but still in present`);
      } else {
        presentCount++;
        if (present[p.identity!] !== sid) violations.push(`${at}: ${p.status} but present maps ${p.identity} to ${present[p.identity!]}`);
        if (room.status !== "in-progress") violations.push(`${at}: ${p.status} in a ${room.status} room`);
      }
    }
    for (const [index, members] of indexes) {
      for (const member of members)
        if (!indexed.has(`${index}|${member}`))
          violations.push(`${roomKey}: ${index} lists ${JSON.stringify(member)}, which no participant matches`);
    }
    if (Object.keys(present).length !== presentCount)
      violations.push(`${roomKey}: present maps ${Object.keys(present).length} identities, ${presentCount} participants are present`);
    if (presentCount > Number(room.max_participants))
      violations.push(`${roomKey}: ${presentCount} present, max_participants ${room.max_participants}`);
    if (room.status === "completed" && room.end_time === undefined) violations.push(`${roomKey}: completed without end_time`);
    violations.push(...(await logViolations(redis, roomKey, prefix, room)));
  }
  return violations;
}

type Entry = [string, string[]];

// The room's log and its share of the account's log agree with the room's
// state: sequences 1..n without a gap, every participant's last event shows it
// as it is stored, the room ended exactly when it is completed, and the
// account shard holds the same events in the same order. (Tests keep every
// event: none is old enough to be trimmed.)
async function logViolations(redis: Redis, roomKey: string, prefix: string, room: Record<string, string>): Promise<string[]> {
  const violations: string[] = [];
  const roomSid = prefix.slice(prefix.lastIndexOf("}:") + 2, -1);
  const events = ((await redis.xrange(prefix + "log", "-", "+")) as Entry[]).map(([id, fields]) => ({
    id,
    event: decodeEvent(fields[1]!),
  }));
  events.forEach(({ id, event }, i) => {
    if (event.sequence !== i + 1 || !id.startsWith(`${i + 1}-`))
      violations.push(`${roomKey}: log entry ${id} has sequence ${event.sequence}, expected ${i + 1}`);
  });
  if (Number(room.log_sequence ?? 0) !== events.length)
    violations.push(`${roomKey}: log_sequence ${room.log_sequence} but ${events.length} events`);
  if (events[0]?.event.type !== "room-created") violations.push(`${roomKey}: the log does not start with room-created`);
  const ended = events.filter(({ event }) => event.type === "room-ended").length;
  if (ended !== (room.status === "completed" ? 1 : 0)) violations.push(`${roomKey}: ${room.status} with ${ended} room-ended events`);
  const last = new Map<string, ParticipantRecord>();
  for (const { event } of events) if (event.participant) last.set(event.participant.sid, event.participant);
  for (const [sid, seen] of last) {
    const stored = await redis.hgetall(prefix + "p:" + sid);
    for (const [field, value] of [
      ["status", seen.status],
      ["identity", seen.identity],
      ["start_time", encodeTime(seen.startTime)],
      ["end_time", seen.endTime === undefined ? undefined : encodeTime(seen.endTime)],
    ] as const) {
      if (stored[field] !== value) violations.push(`${roomKey} ${sid}: ${field} is ${stored[field]}, its last event says ${value}`);
    }
  }
  const participantKeys = await keys(redis, prefix + "p:*");
  if (participantKeys.length !== last.size) violations.push(`${roomKey}: ${participantKeys.length} participants, ${last.size} in the log`);
  const shardKey = prefix.slice(0, prefix.lastIndexOf("}:") + 2) + "log";
  const shard = ((await redis.xrange(shardKey, "-", "+")) as Entry[])
    .map(([, fields]) => decodeEvent(fields[1]!))
    .filter((event) => event.roomSid === roomSid);
  if (JSON.stringify(shard) !== JSON.stringify(events.map(({ event }) => event)))
    violations.push(`${roomKey}: the account's log differs from the room's`);
  return violations;
}

async function keys(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    found.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return found;
}
