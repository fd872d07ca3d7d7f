import type { Redis } from "ioredis";
import { decodeTime, encodeTime } from "../src/store/lex-index.js";
import type { ParticipantRecord, ParticipantStatus } from "../src/domain/records.js";

// The join of the Redis store as it was before the change log (commit
// c8ef070, src/store/redis-scripts.ts: the prelude and the `join` script,
// unchanged), for bench/events.ts to measure the change log's cost against.
// Its keys are that version's: every key of a room under the tag {<room sid>},
// the time given by the caller, no event appended anywhere.

const prelude = String.raw`
local prefix = string.sub(KEYS[1], 1, -5)

local function participant_reply(sid)
  local f = redis.call('HMGET', prefix .. 'p:' .. sid, 'identity', 'status', 'start_time', 'date_updated', 'end_time')
  if not f[2] then return false end
  return {sid, f[1], f[2], f[3], f[4], f[5] or ''}
end

local function disconnect(sid, now)
  local key = prefix .. 'p:' .. sid
  local f = redis.call('HMGET', key, 'identity', 'status', 'start_time')
  local identity, status, start = f[1], f[2], f[3]
  if not status then return false end
  if status ~= 'disconnected' then
    local finish = now
    if finish < start then finish = start end
    redis.call('HSET', key, 'status', 'disconnected', 'end_time', finish, 'date_updated', finish)
    redis.call('ZREM', prefix .. 'by-start:' .. status, start .. sid)
    redis.call('ZREM', prefix .. 'by-identity:' .. status, identity .. '\0' .. start .. sid)
    redis.call('ZADD', prefix .. 'by-start:disconnected', 0, start .. sid)
    redis.call('ZADD', prefix .. 'by-identity:disconnected', 0, identity .. '\0' .. start .. sid)
    if redis.call('HGET', prefix .. 'present', identity) == sid then
      redis.call('HDEL', prefix .. 'present', identity)
    end
  end
  return participant_reply(sid)
end
`;

// KEYS: room, present. ARGV: account sid, new participant sid, identity, now.
const join = {
  numberOfKeys: 2,
  lua:
    prelude +
    String.raw`
local account, sid, identity, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local room = redis.call('HMGET', KEYS[1], 'account_sid', 'status', 'max_participants')
if room[1] ~= account then return {'room_not_found'} end
if room[2] ~= 'in-progress' then return {'room_completed'} end
local previous = redis.call('HGET', KEYS[2], identity)
local others = redis.call('HLEN', KEYS[2])
if previous then others = others - 1 end
if others >= tonumber(room[3]) then return {'room_full', room[3]} end
local displaced = false
if previous then displaced = disconnect(previous, now) end
redis.call('HSET', prefix .. 'p:' .. sid, 'account_sid', account, 'identity', identity,
  'status', 'connected', 'start_time', now, 'date_updated', now)
redis.call('HSET', KEYS[2], identity, sid)
redis.call('ZADD', prefix .. 'by-start:connected', 0, now .. sid)
redis.call('ZADD', prefix .. 'by-identity:connected', 0, identity .. '\0' .. now .. sid)
return {'joined', participant_reply(sid), displaced}
`,
};

type ParticipantReply = [string, string, string, string, string, string];

export type BaselineJoinOutcome =
  | { kind: "joined"; participant: ParticipantRecord; displaced: ParticipantRecord | undefined }
  | { kind: "room_not_found" | "room_completed" | "room_full" };

function roomKeys(roomSid: string) {
  const prefix = `rc:{${roomSid}}:`;
  return { room: prefix + "room", present: prefix + "present" };
}

// That version's join, on a client made like the store's own (connection.ts).
export class BaselineJoin {
  private readonly redis: Redis & { rcBaselineJoin(...args: string[]): Promise<unknown> };

  constructor(client: Redis) {
    client.defineCommand("rcBaselineJoin", join);
    this.redis = client as Redis & { rcBaselineJoin(...args: string[]): Promise<unknown> };
  }

  // An in-progress room hash with the fields that version wrote (encodeRoom).
  async createRoom(accountSid: string, roomSid: string, maxParticipants: number): Promise<void> {
    const now = encodeTime(Date.now());
    await this.redis.hset(roomKeys(roomSid).room, {
      account_sid: accountSid,
      unique_name: roomSid,
      status: "in-progress",
      type: "group",
      max_participants: String(maxParticipants),
      max_participant_duration: "14400",
      empty_room_timeout: "5",
      unused_room_timeout: "5",
      status_callback: "",
      status_callback_method: "POST",
      date_created: now,
      date_updated: now,
    });
  }

  // As that version's RedisStore.join: the time is the caller's clock.
  async join(accountSid: string, roomSid: string, sid: string, identity: string): Promise<BaselineJoinOutcome> {
    const keys = roomKeys(roomSid);
    const reply = (await this.redis.rcBaselineJoin(keys.room, keys.present, accountSid, sid, identity, encodeTime(Date.now()))) as [
      string,
      ...unknown[],
    ];
    switch (reply[0]) {
      case "joined":
        return {
          kind: "joined",
          participant: decode(roomSid, accountSid, reply[1] as ParticipantReply),
          displaced: reply[2] ? decode(roomSid, accountSid, reply[2] as ParticipantReply) : undefined,
        };
      case "room_full":
        return { kind: "room_full" };
      case "room_completed":
        return { kind: "room_completed" };
      default:
        return { kind: "room_not_found" };
    }
  }
}

function decode(roomSid: string, accountSid: string, [sid, identity, status, start, updated, end]: ParticipantReply): ParticipantRecord {
  return {
    sid,
    roomSid,
    accountSid,
    identity,
    status: status as ParticipantStatus,
    startTime: decodeTime(start),
    dateUpdated: decodeTime(updated),
    endTime: end === "" ? undefined : decodeTime(end),
    // That version had no sequence.
    sequence: 0,
  };
}
