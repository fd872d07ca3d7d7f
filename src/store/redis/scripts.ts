// Lua scripts of the Redis store: each change that touches several keys runs
// as one script, atomic and one round trip. A script is handed the room's hash
// key as KEYS[1] and derives its participants' keys from that key's prefix, so
// every key it touches shares the room's hash tag and slot (see redis-keys.ts).
// Times are 13-digit millisecond strings (lex-index.ts), so comparing them as
// strings compares them as times.

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

interface ScriptDefinition {
  numberOfKeys: number;
  lua: string;
}

// KEYS: room, present. ARGV: account sid, new participant sid, identity, now.
const join: ScriptDefinition = {
  numberOfKeys: 2,
  lua: prelude + String.raw`
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

// KEYS: room. ARGV: account sid, participant sid, now.
const disconnectParticipant: ScriptDefinition = {
  numberOfKeys: 1,
  lua: prelude + String.raw`
if redis.call('HGET', KEYS[1], 'account_sid') ~= ARGV[1] then return false end
return disconnect(ARGV[2], ARGV[3])
`,
};

// KEYS: room. ARGV: account sid, participant sid, now.
const anonymizeParticipant: ScriptDefinition = {
  numberOfKeys: 1,
  lua: prelude + String.raw`
local sid, now = ARGV[2], ARGV[3]
local key = prefix .. 'p:' .. sid
local f = redis.call('HMGET', key, 'account_sid', 'identity', 'status', 'start_time')
if f[1] ~= ARGV[1] then return false end
local identity, status, start = f[2], f[3], f[4]
if identity ~= sid then
  redis.call('ZREM', prefix .. 'by-identity:' .. status, identity .. '\0' .. start .. sid)
  redis.call('ZADD', prefix .. 'by-identity:' .. status, 0, sid .. '\0' .. start .. sid)
  if redis.call('HGET', prefix .. 'present', identity) == sid then
    redis.call('HDEL', prefix .. 'present', identity)
    redis.call('HSET', prefix .. 'present', sid, sid)
  end
  if now < start then now = start end
  redis.call('HSET', key, 'identity', sid, 'date_updated', now)
end
return participant_reply(sid)
`,
};

// KEYS: room, present. ARGV: account sid, identity.
const findPresentParticipant: ScriptDefinition = {
  numberOfKeys: 2,
  lua: prelude + String.raw`
if redis.call('HGET', KEYS[1], 'account_sid') ~= ARGV[1] then return false end
local sid = redis.call('HGET', KEYS[2], ARGV[2])
if not sid then return false end
return participant_reply(sid)
`,
};

// KEYS: room, index. ARGV: account sid, min, max, limit (ZRANGE BYLEX bounds).
const listParticipants: ScriptDefinition = {
  numberOfKeys: 2,
  lua: prelude + String.raw`
if redis.call('HGET', KEYS[1], 'account_sid') ~= ARGV[1] then return {} end
local members = redis.call('ZRANGE', KEYS[2], ARGV[2], ARGV[3], 'BYLEX', 'LIMIT', 0, ARGV[4])
local page = {}
for i, member in ipairs(members) do page[i] = participant_reply(string.sub(member, -34)) end
return page
`,
};

// KEYS: room, present. ARGV: account sid, now. Returns the room's fields.
const completeRoom: ScriptDefinition = {
  numberOfKeys: 2,
  lua: prelude + String.raw`
if redis.call('HGET', KEYS[1], 'account_sid') ~= ARGV[1] then return false end
local now = ARGV[2]
if redis.call('HGET', KEYS[1], 'status') == 'in-progress' then
  for _, sid in ipairs(redis.call('HVALS', KEYS[2])) do disconnect(sid, now) end
  local finish = now
  local created = redis.call('HGET', KEYS[1], 'date_created')
  if finish < created then finish = created end
  redis.call('HSET', KEYS[1], 'status', 'completed', 'end_time', finish, 'date_updated', finish)
end
return redis.call('HGETALL', KEYS[1])
`,
};

// Account slot. KEYS: names, in-progress rooms by created, in-progress rooms by
// name. ARGV: unique name, room sid, date created. Returns the sid of the room
// already holding the name, or nil once the name is claimed for this room.
const claimRoomName: ScriptDefinition = {
  numberOfKeys: 3,
  lua: String.raw`
local holder = redis.call('HGET', KEYS[1], ARGV[1])
if holder then return holder end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3] .. ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[1] .. '\0' .. ARGV[3] .. ARGV[2])
`,
};

// Account slot, after the room itself is completed. KEYS: names, rooms by
// created (in-progress, completed), rooms by name (in-progress, completed).
// ARGV: unique name, room sid, date created. Safe to repeat.
const releaseRoomName: ScriptDefinition = {
  numberOfKeys: 5,
  lua: String.raw`
local name, sid = ARGV[1], ARGV[2]
if redis.call('HGET', KEYS[1], name) == sid then redis.call('HDEL', KEYS[1], name) end
local by_created = ARGV[3] .. sid
local by_name = name .. '\0' .. by_created
redis.call('ZREM', KEYS[2], by_created)
redis.call('ZADD', KEYS[3], 0, by_created)
redis.call('ZREM', KEYS[4], by_name)
redis.call('ZADD', KEYS[5], 0, by_name)
`,
};

export const scripts = {
  rcJoin: join,
  rcDisconnectParticipant: disconnectParticipant,
  rcFindPresentParticipant: findPresentParticipant,
  rcAnonymizeParticipant: anonymizeParticipant,
  rcListParticipants: listParticipants,
  rcCompleteRoom: completeRoom,
  rcClaimRoomName: claimRoomName,
  rcReleaseRoomName: releaseRoomName,
};
