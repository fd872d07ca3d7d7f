import type { Redis } from "ioredis";

// Reads what the Redis store keeps, key by key, and lists every way it breaks
// the store's invariants: the indexes, the present map and each participant's
// hash agree, and a completed room holds nobody. A change applied halfway
// would show here.
export async function storedInvariantViolations(redis: Redis): Promise<string[]> {
  const violations: string[] = [];
  const roomKeys = await keys(redis, "rc:{AC*}:RM*:room");
  for (const roomKey of roomKeys) {
    const prefix = roomKey.slice(0, -"room".length);
    const room = await redis.hgetall(roomKey);
    const present = await redis.hgetall(prefix + "present");
    const indexes = new Map<string, Set<string>>();
    for (const key of await keys(redis, prefix + "by-*")) indexes.set(key.slice(prefix.length), new Set(await redis.zrange(key, "0", "-1")));
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
      for (const member of members) if (!indexed.has(`${index}|${member}`)) violations.push(`${roomKey}: ${index} lists ${JSON.stringify(member)}, which no participant matches`);
    }
    if (Object.keys(present).length !== presentCount) violations.push(`${roomKey}: present maps ${Object.keys(present).length} identities, ${presentCount} participants are present`);
    if (presentCount > Number(room.max_participants)) violations.push(`${roomKey}: ${presentCount} present, max_participants ${room.max_participants}`);
    if (room.status === "completed" && room.end_time === undefined) violations.push(`${roomKey}: completed without end_time`);
  }
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
