import type { Redis } from "ioredis";

// Reads an account's room directory (names, in-progress indexes, pending
// records) and every room hash of the account, and lists what one has
// without the other: a room hash in progress without its name's claim and
// index entries, or a claim, index entry or pending record without its room.
// A creation that stopped half-way would show here.
export async function roomDirectoryViolations(redis: Redis, accountSid: string): Promise<string[]> {
  const violations: string[] = [];
  const prefix = `rc:{${accountSid}}:`;
  const names = await redis.hgetall(prefix + "names");
  const pending = await redis.hgetall(prefix + "pending");
  const byCreated = await redis.zrange(prefix + "rooms-by-created:in-progress", "0", "-1");
  const byName = await redis.zrange(prefix + "rooms-by-name:in-progress", "0", "-1");
  const rooms = new Map<string, Record<string, string>>();
  for (const key of await scan(redis, `rc:{${accountSid}:*}:RM*:room`)) {
    rooms.set(key.slice(key.lastIndexOf(":RM") + 1, -":room".length), await redis.hgetall(key));
  }
  const member = (sid: string, room: Record<string, string>) => room.date_created! + room.sequence!.padStart(12, "0") + sid;
  for (const [sid, room] of rooms) {
    if (room.status !== "in-progress") continue;
    const name = room.unique_name!;
    if (names[name] !== sid) violations.push(`${sid}: in progress, but the name ${name} is claimed by ${names[name] ?? "nobody"}`);
    if (!byCreated.includes(member(sid, room))) violations.push(`${sid}: in progress, missing from rooms-by-created`);
    if (!byName.includes(`${name}\u0000${member(sid, room)}`)) violations.push(`${sid}: in progress, missing from rooms-by-name`);
    if (pending[sid] === undefined) violations.push(`${sid}: in progress without its pending record`);
  }
  const inProgress = (sid: string) => rooms.get(sid)?.status === "in-progress";
  for (const [name, sid] of Object.entries(names))
    if (!inProgress(sid)) violations.push(`the name ${name} is claimed by ${sid}, not in progress`);
  for (const sid of Object.keys(pending)) if (!inProgress(sid)) violations.push(`a pending record for ${sid}, not in progress`);
  for (const entry of byCreated)
    if (!inProgress(entry.slice(-34))) violations.push(`rooms-by-created lists ${entry.slice(-34)}, not in progress`);
  for (const entry of byName)
    if (!inProgress(entry.slice(-34))) violations.push(`rooms-by-name lists ${entry.slice(-34)}, not in progress`);
  return violations;
}

async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    found.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return found;
}
