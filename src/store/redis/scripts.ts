// Lua scripts of the Redis store: each change runs as one script, atomic and
// one round trip, and appends its events to the change log in the same step.
// Key names, hash fields and index members are built from the same constants
// as the TypeScript side (keys.ts, codec.ts, lex-index.ts).
import { nameEnd, sequenceWidth, sidLength } from "../lex-index.js";
import { participantFields, roomFields, trackFields } from "./codec.js";
import { roomKeyParts } from "./keys.js";

interface ScriptDefinition {
  numberOfKeys: number;
  lua: string;
}

const luaList = (names: readonly string[]) => `{${names.map((name) => `'${name}'`).join(", ")}}`;

// Shared by the account-slot and room-slot scripts.
const common = String.raw`
local NAME_END = '${"\\" + nameEnd.charCodeAt(0)}'

local function time13(ms) return string.format('%013d', ms) end
local function order(sequence) return string.format('%0${sequenceWidth}d', tonumber(sequence)) end

-- The clock in milliseconds (Redis' own unless now names a time), never
-- before last (a time13 string or nil).
local function tick_after(last, now)
  local ms = tonumber(now)
  if not ms then
    local time = redis.call('TIME')
    ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  end
  if last and ms < tonumber(last) then ms = tonumber(last) end
  return ms
end
`;

// Room-slot scripts. KEYS: the room hash, the room's log, its shard's part of
// the account's log, the shard's counter, the shard's due callbacks, the
// shard's timers. ARGV: the room's key prefix, the
// room's sid, the retention in ms, the retention per room, the account's sid,
// the time to use ('' for Redis' clock), then the script's own arguments.
const roomPrelude =
  common +
  String.raw`
local room_key, log_key, shard_log_key, shard_counter_key, callbacks_due_key, timers_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix, room_sid, account, now = ARGV[1], ARGV[2], ARGV[5], ARGV[6]
local retention_ms, retention_count = tonumber(ARGV[3]), tonumber(ARGV[4])
local present_key = prefix .. '${roomKeyParts.present}'
local ROOM_FIELDS = ${luaList(roomFields)}
local PARTICIPANT_FIELDS = ${luaList(participantFields)}
local TRACK_FIELDS = ${luaList(trackFields)}

local function participant_key(sid) return prefix .. '${roomKeyParts.participant}' .. sid end
local function by_start(status) return prefix .. '${roomKeyParts.byStart}' .. status end
local function by_identity(status) return prefix .. '${roomKeyParts.byIdentity}' .. status end
local function track_key(sid) return prefix .. '${roomKeyParts.track}' .. sid end
local function subscribers_key(sid) return track_key(sid) .. '${roomKeyParts.subscribers}' end
local function tracks_key(sid) return participant_key(sid) .. '${roomKeyParts.tracks}' end
local function track_names_key(sid) return participant_key(sid) .. '${roomKeyParts.trackNames}' end
local function subscribed_key(sid) return participant_key(sid) .. '${roomKeyParts.subscribed}' end
local function subscriptions_key(sid) return participant_key(sid) .. '${roomKeyParts.subscriptions}' end
local function rules_key(sid) return participant_key(sid) .. '${roomKeyParts.rules}' end

-- The time of a change to the room: Redis' clock, never before the room's
-- previous change, so the room's times follow the order of its changes.
local function tick()
  local ms = tick_after(redis.call('HGET', room_key, 'clock'), now)
  redis.call('HSET', room_key, 'clock', time13(ms))
  return ms
end

local function participant_reply(sid)
  local f = redis.call('HMGET', participant_key(sid), unpack(PARTICIPANT_FIELDS))
  if not f[1] then return false end
  table.insert(f, 1, sid)
  return f
end

-- The room's fields (ROOM_FIELDS) as JSON, kept in the room hash while they
-- stay the same: they change only when the room is created or ends, so an
-- event costs one read instead of encoding the room each time.
local function room_snapshot(snapshot)
  if snapshot then return snapshot end
  snapshot = cjson.encode(redis.call('HMGET', room_key, unpack(ROOM_FIELDS)))
  redis.call('HSET', room_key, 'snapshot', snapshot)
  return snapshot
end

local function track_reply(sid)
  local f = redis.call('HMGET', track_key(sid), unpack(TRACK_FIELDS))
  if not f[1] then return false end
  table.insert(f, 1, sid)
  return f
end

-- Appends an event to the room's log (id <sequence>-<ms>) and to its shard of
-- the account's log (id <ms>-<count>), trimming both: the room's log keeps
-- the events younger than the retention or the last retention_count of the
-- room, whichever keeps more; the shard keeps the events younger than the
-- retention. Trimming is approximate (~), so it costs no more than the append.
-- A room with a status callback is marked due in the same step (keeping an
-- earlier due time: a room backing off stays backed off). Track events carry
-- the track's reply, subscribe-rules-updated the rules' fields.
local function append(ms, type, reason, participant, track, rules)
  local sequence = redis.call('HINCRBY', room_key, 'log_sequence', 1)
  local room = redis.call('HMGET', room_key, 'snapshot', 'status_callback')
  -- The JSON array codec.ts decodes; type and reason are plain words.
  local payload = '["' .. room_sid .. '","' .. type .. '",' .. sequence .. ',' .. ms .. ','
    .. (reason and ('"' .. reason .. '"') or 'false') .. ',' .. room_snapshot(room[1]) .. ','
    .. (participant and cjson.encode(participant) or 'false') .. ','
    .. (track and cjson.encode(track) or 'false') .. ',' .. (rules and cjson.encode(rules) or 'false') .. ']'
  redis.call('XADD', log_key, sequence .. '-' .. ms, 'e', payload)
  local cutoff = ms - retention_ms
  if sequence > retention_count then
    local boundary = sequence - retention_count
    local entry = redis.call('XRANGE', log_key, boundary .. '-0', boundary .. '-18446744073709551615', 'COUNT', 1)[1]
    if entry and tonumber(string.match(entry[1], '%-(%d+)$')) < cutoff then
      redis.call('XTRIM', log_key, 'MINID', '~', (boundary + 1) .. '-0')
    end
  end
  -- The shard's ids go by its own clock: never before its last entry.
  local counter = redis.call('HMGET', shard_counter_key, 'count', 'clock')
  local count = (tonumber(counter[1]) or 0) + 1
  local shard_ms = tonumber(counter[2]) or 0
  if shard_ms < ms then shard_ms = ms end
  redis.call('HSET', shard_counter_key, 'count', count, 'clock', shard_ms)
  if cutoff < 0 then cutoff = 0 end
  redis.call('XADD', shard_log_key, 'MINID', '~', cutoff .. '-0', shard_ms .. '-' .. count, 'e', payload)
  if room[2] and room[2] ~= '' then redis.call('ZADD', callbacks_due_key, 'NX', ms, room_sid) end
end

-- Deadlines (src/timers): members <kind>:<room sid>[:<participant sid>] of
-- the shard's timers, scored by when they are due. Each change that starts a
-- wait schedules it; firing re-checks it in the room's own step (fire_timer).
local function timer(kind, participant)
  if participant then return kind .. ':' .. room_sid .. ':' .. participant end
  return kind .. ':' .. room_sid
end
local function schedule(kind, due, participant) redis.call('ZADD', timers_key, due, timer(kind, participant)) end
local function unschedule(kind, participant) redis.call('ZREM', timers_key, timer(kind, participant)) end

-- Unpublishes a track (its track-removed event carries the publisher as it
-- is): every subscription to it ends with it.
local function remove_track(sid, ms)
  local reply = track_reply(sid)
  if not reply then return false end
  local publisher, name, created, sequence = reply[3], reply[4], reply[7], reply[9]
  for _, subscriber in ipairs(redis.call('SMEMBERS', subscribers_key(sid))) do
    local member = redis.call('HGET', subscriptions_key(subscriber), sid)
    if member then
      redis.call('ZREM', subscribed_key(subscriber), member)
      redis.call('HDEL', subscriptions_key(subscriber), sid)
    end
  end
  redis.call('DEL', subscribers_key(sid), track_key(sid))
  redis.call('ZREM', tracks_key(publisher), created .. order(sequence) .. sid)
  redis.call('HDEL', track_names_key(publisher), name)
  append(ms, 'track-removed', false, participant_reply(publisher), reply)
  return reply
end

-- A participant leaving, for whatever reason: its tracks are unpublished, in
-- publication order, and its subscriptions end, in the disconnect's own step.
local function disconnect(sid, ms, reason)
  local key = participant_key(sid)
  local f = redis.call('HMGET', key, 'identity', 'status', 'start_time', 'sequence')
  local identity, status, start = f[1], f[2], f[3]
  if not status then return false end
  if status == 'disconnected' then return participant_reply(sid) end
  for _, member in ipairs(redis.call('ZRANGE', tracks_key(sid), 0, -1)) do remove_track(string.sub(member, -${sidLength}), ms) end
  for _, track in ipairs(redis.call('HKEYS', subscriptions_key(sid))) do redis.call('SREM', subscribers_key(track), sid) end
  redis.call('DEL', subscriptions_key(sid), subscribed_key(sid))
  local finish = time13(ms)
  if finish < start then finish = start end
  local member = start .. order(f[4]) .. sid
  redis.call('HSET', key, 'status', 'disconnected', 'end_time', finish, 'date_updated', finish)
  redis.call('ZREM', by_start(status), member)
  redis.call('ZREM', by_identity(status), identity .. NAME_END .. member)
  redis.call('ZADD', by_start('disconnected'), 0, member)
  redis.call('ZADD', by_identity('disconnected'), 0, identity .. NAME_END .. member)
  if redis.call('HGET', present_key, identity) == sid then redis.call('HDEL', present_key, identity) end
  unschedule('participant', sid)
  local reply = participant_reply(sid)
  append(ms, 'participant-disconnected', reason, reply)
  return reply
end

-- The room's end: everyone present is disconnected, then the room ends, with
-- why, and its own deadlines go.
local function complete(ms, reason)
  for _, sid in ipairs(redis.call('HVALS', present_key)) do disconnect(sid, ms, 'room-completed') end
  local finish = time13(ms)
  local created = redis.call('HGET', room_key, 'date_created')
  if finish < created then finish = created end
  redis.call('HSET', room_key, 'status', 'completed', 'end_time', finish, 'date_updated', finish)
  redis.call('HDEL', room_key, 'snapshot')
  unschedule('unused')
  unschedule('empty')
  unschedule('room')
  append(ms, 'room-ended', reason, false)
end

-- After a participant left: an ad-hoc room (timeouts 0) ends with its last
-- participant, another room starts its empty timeout. True if the room ended.
local function after_leaving(ms)
  if redis.call('HLEN', present_key) > 0 or redis.call('HGET', room_key, 'status') ~= 'in-progress' then return false end
  local timeout = tonumber(redis.call('HGET', room_key, 'empty_room_timeout'))
  if timeout == 0 then
    complete(ms, 'last-participant-left')
    return true
  end
  redis.call('HSET', room_key, 'emptied_at', ms)
  schedule('empty', ms + timeout * 60000)
  return false
end

-- The room's fields when a change ended it, for the account's step that follows.
local function ended(room_ended)
  if room_ended then return redis.call('HMGET', room_key, unpack(ROOM_FIELDS)) end
  return false
end

local function owned() return redis.call('HGET', room_key, 'account_sid') == account end

-- Whether a participant may publish and subscribe: true, or nil and why not.
local function present(sid)
  if not owned() then return nil, 'room_not_found' end
  if redis.call('HGET', room_key, 'status') ~= 'in-progress' then return nil, 'room_completed' end
  local status = redis.call('HGET', participant_key(sid), 'status')
  if not status then return nil, 'participant_not_found' end
  if status == 'disconnected' then return nil, 'participant_disconnected' end
  return true
end

-- The sequence the room's next event will have: orders records created in
-- the same millisecond.
local function next_sequence() return tonumber(redis.call('HGET', room_key, 'log_sequence') or '0') + 1 end
`;

const roomScript = (lua: string): ScriptDefinition => ({ numberOfKeys: 6, lua: roomPrelude + lua });

// Writes a claimed room's record (fields: a flat list of its fields and
// values), once, with its room-created event, and schedules its end. Returns
// the room's fields.
const createRoomChunk = String.raw`
local function create_room(created, max_ms, fields)
  if redis.call('EXISTS', room_key) == 0 then
    redis.call('HSET', room_key, unpack(fields))
    redis.call('HSET', room_key, 'clock', time13(created), 'ends_by', created + max_ms)
    append(created, 'room-created', false, false)
    schedule('room', created + max_ms)
    local unused = tonumber(redis.call('HGET', room_key, 'unused_room_timeout'))
    if unused > 0 then schedule('unused', created + unused * 60000) end
  end
  return redis.call('HMGET', room_key, unpack(ROOM_FIELDS))
end
`;

// Account slot: claims a unique name for a room and gives it its creation
// time and sequence from the account's clock, keeping the complete record as
// pending until the room's own slot has it (and until the room ends). Keys:
// names, in-progress rooms by created, in-progress rooms by name, the
// account's clock, pending rooms. Returns {'taken', holder sid} or
// {'claimed', record as JSON}.
const claimNameChunk = String.raw`
local function claim_name(names_key, by_created_key, by_name_key, clock_key, pending_key, name, sid, fields_json, now)
  local holder = redis.call('HGET', names_key, name)
  if holder then return {'taken', holder} end
  local ms = tick_after(redis.call('HGET', clock_key, 'clock'), now)
  local sequence = redis.call('HINCRBY', clock_key, 'rooms', 1)
  redis.call('HSET', clock_key, 'clock', time13(ms))
  local room = cjson.decode(fields_json)
  room.status = 'in-progress'
  room.date_created = time13(ms)
  room.date_updated = room.date_created
  room.sequence = tostring(sequence)
  local record = cjson.encode(room)
  local member = room.date_created .. order(sequence) .. sid
  redis.call('HSET', names_key, name, sid)
  redis.call('ZADD', by_created_key, 0, member)
  redis.call('ZADD', by_name_key, 0, name .. NAME_END .. member)
  redis.call('HSET', pending_key, sid, record)
  return {'claimed', record}
end
`;

// ARGV[7], ARGV[8], ARGV[9..]: the room's creation time (ms), the longest a
// room lasts (ms), then its fields and values. Writes the room claimed in its
// account's directory (on a cluster, where the two slots may be apart).
const createRoom = roomScript(
  createRoomChunk +
    String.raw`
return create_room(tonumber(ARGV[7]), tonumber(ARGV[8]), {unpack(ARGV, 9)})
`,
);

// On one Redis server, where every slot is at hand: the claim and the room's
// record in one step, so a refused or failed creation leaves nothing behind.
// KEYS[7..11]: the account's keys of claimRoomName. ARGV[7..9]: the unique
// name, the room's fields as a JSON object, the longest a room lasts (ms).
// Returns {'taken', holder sid} or {'created', the room's fields}.
const claimAndCreateRoom: ScriptDefinition = {
  numberOfKeys: 11,
  lua:
    roomPrelude +
    createRoomChunk +
    claimNameChunk +
    String.raw`
local claim = claim_name(KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], ARGV[7], room_sid, ARGV[8], now)
if claim[1] == 'taken' then return claim end
local room = cjson.decode(claim[2])
local fields = {}
for field, value in pairs(room) do
  table.insert(fields, field)
  table.insert(fields, value)
end
return {'created', create_room(tonumber(room.date_created), tonumber(ARGV[9]), fields)}
`,
};

// ARGV[7], ARGV[8]: the new participant's sid and identity.
const join = roomScript(String.raw`
local sid, identity = ARGV[7], ARGV[8]
local room = redis.call('HMGET', room_key, 'account_sid', 'status', 'max_participants')
if room[1] ~= account then return {'room_not_found'} end
if room[2] ~= 'in-progress' then return {'room_completed'} end
local previous = redis.call('HGET', present_key, identity)
local others = redis.call('HLEN', present_key)
if previous then others = others - 1 end
if others >= tonumber(room[3]) then return {'room_full', room[3]} end
local ms = tick()
local displaced = false
if previous then displaced = disconnect(previous, ms, 'replaced') end
-- The participant is ordered by the sequence of its connect event.
local sequence = tonumber(redis.call('HGET', room_key, 'log_sequence') or '0') + 1
local start = time13(ms)
local member = start .. order(sequence) .. sid
redis.call('HSET', participant_key(sid), 'account_sid', account, 'identity', identity,
  'status', 'connected', 'start_time', start, 'date_updated', start, 'sequence', sequence)
redis.call('HSET', present_key, identity, sid)
redis.call('ZADD', by_start('connected'), 0, member)
redis.call('ZADD', by_identity('connected'), 0, identity .. NAME_END .. member)
local timers = redis.call('HMGET', room_key, 'used', 'emptied_at', 'max_participant_duration')
if not timers[1] then
  redis.call('HSET', room_key, 'used', 1)
  unschedule('unused')
end
if timers[2] then
  redis.call('HDEL', room_key, 'emptied_at')
  unschedule('empty')
end
schedule('participant', ms + tonumber(timers[3]) * 1000, sid)
local reply = participant_reply(sid)
append(ms, 'participant-connected', false, reply)
return {'joined', reply, displaced}
`);

// ARGV[7], ARGV[8]: the participant's sid and the reason. Returns the
// participant, and the room's fields if it ended with this participant.
const disconnectParticipant = roomScript(String.raw`
if not owned() then return false end
local status = redis.call('HGET', participant_key(ARGV[7]), 'status')
if not status then return false end
if status == 'disconnected' then return {participant_reply(ARGV[7]), false} end
local ms = tick()
local reply = disconnect(ARGV[7], ms, ARGV[8])
return {reply, ended(after_leaving(ms))}
`);

// ARGV[7]: the participant's sid.
const anonymizeParticipant = roomScript(String.raw`
local sid = ARGV[7]
local key = participant_key(sid)
local f = redis.call('HMGET', key, 'account_sid', 'identity', 'status', 'start_time', 'sequence')
if f[1] ~= account then return false end
local identity, status, start = f[2], f[3], f[4]
if identity ~= sid then
  local ms = tick()
  local member = start .. order(f[5]) .. sid
  redis.call('ZREM', by_identity(status), identity .. NAME_END .. member)
  redis.call('ZADD', by_identity(status), 0, sid .. NAME_END .. member)
  if redis.call('HGET', present_key, identity) == sid then
    redis.call('HDEL', present_key, identity)
    redis.call('HSET', present_key, sid, sid)
  end
  local updated = time13(ms)
  if updated < start then updated = start end
  redis.call('HSET', key, 'identity', sid, 'date_updated', updated)
  append(ms, 'participant-anonymized', false, participant_reply(sid))
end
return participant_reply(sid)
`);

// ARGV[7]: the identity.
const findPresentParticipant = roomScript(String.raw`
if not owned() then return false end
local sid = redis.call('HGET', present_key, ARGV[7])
if not sid then return false end
return participant_reply(sid)
`);

// ARGV[7..10]: the index's name after the prefix, min, max, limit (ZRANGE BYLEX
// bounds). Returns the room's log position, then the participants.
const listParticipants = roomScript(String.raw`
if not owned() then return {'0-0'} end
local last = redis.call('XREVRANGE', log_key, '+', '-', 'COUNT', 1)[1]
local page = {last and last[1] or '0-0'}
local members = redis.call('ZRANGE', prefix .. ARGV[7], ARGV[8], ARGV[9], 'BYLEX', 'LIMIT', 0, ARGV[10])
for _, member in ipairs(members) do table.insert(page, participant_reply(string.sub(member, -${sidLength}))) end
return page
`);

// Returns the room's fields.
const completeRoom = roomScript(String.raw`
if not owned() then return false end
if redis.call('HGET', room_key, 'status') == 'in-progress' then complete(tick(), 'completed') end
return redis.call('HMGET', room_key, unpack(ROOM_FIELDS))
`);

// ARGV[7..11]: the publisher's sid, the track's sid, name, kind and enabled
// ('1' or '0'). Returns {'ok', track} or {why not}.
const publishTrack = roomScript(String.raw`
local publisher, sid, name = ARGV[7], ARGV[8], ARGV[9]
local ok, failure = present(publisher)
if not ok then return {failure} end
if redis.call('HEXISTS', track_names_key(publisher), name) == 1 then return {'track_name_taken'} end
local ms = tick()
local sequence = next_sequence()
local created = time13(ms)
redis.call('HSET', track_key(sid), 'account_sid', account, 'participant_sid', publisher, 'name', name, 'kind', ARGV[10],
  'enabled', ARGV[11], 'date_created', created, 'date_updated', created, 'sequence', sequence)
redis.call('HSET', track_names_key(publisher), name, sid)
redis.call('ZADD', tracks_key(publisher), 0, created .. order(sequence) .. sid)
local reply = track_reply(sid)
append(ms, 'track-added', false, participant_reply(publisher), reply)
return {'ok', reply}
`);

// ARGV[7..9]: the publisher's sid, the track's sid, enabled ('1' or '0').
// An unchanged state appends nothing.
const setTrackEnabled = roomScript(String.raw`
local publisher, sid, enabled = ARGV[7], ARGV[8], ARGV[9]
local ok, failure = present(publisher)
if not ok then return {failure} end
local f = redis.call('HMGET', track_key(sid), 'participant_sid', 'enabled', 'date_created')
if f[1] ~= publisher then return {'track_not_found'} end
if f[2] ~= enabled then
  local ms = tick()
  local updated = time13(ms)
  if updated < f[3] then updated = f[3] end
  redis.call('HSET', track_key(sid), 'enabled', enabled, 'date_updated', updated)
  local type = 'track-disabled'
  if enabled == '1' then type = 'track-enabled' end
  append(ms, type, false, participant_reply(publisher), track_reply(sid))
end
return {'ok', track_reply(sid)}
`);

// ARGV[7], ARGV[8]: the publisher's sid, the track's sid.
const unpublishTrack = roomScript(String.raw`
local ok, failure = present(ARGV[7])
if not ok then return {failure} end
if redis.call('HGET', track_key(ARGV[8]), 'participant_sid') ~= ARGV[7] then return {'track_not_found'} end
return {'ok', remove_track(ARGV[8], tick())}
`);

// ARGV[7], ARGV[8]: the subscriber's sid, the track's sid. Returns {'ok',
// {track, subscriber, member}}; an existing subscription unchanged.
const subscribe = roomScript(String.raw`
local subscriber, sid = ARGV[7], ARGV[8]
local ok, failure = present(subscriber)
if not ok then return {failure} end
local publisher = redis.call('HGET', track_key(sid), 'participant_sid')
if not publisher then return {'track_not_found'} end
if publisher == subscriber then return {'own_track'} end
local member = redis.call('HGET', subscriptions_key(subscriber), sid)
if not member then
  local ms = tick()
  member = time13(ms) .. order(next_sequence()) .. sid
  redis.call('HSET', subscriptions_key(subscriber), sid, member)
  redis.call('ZADD', subscribed_key(subscriber), 0, member)
  redis.call('SADD', subscribers_key(sid), subscriber)
  append(ms, 'track-subscribed', false, participant_reply(subscriber), track_reply(sid))
end
return {'ok', {track_reply(sid), subscriber, member}}
`);

// ARGV[7], ARGV[8]: the subscriber's sid, the track's sid.
const unsubscribe = roomScript(String.raw`
local subscriber, sid = ARGV[7], ARGV[8]
local ok, failure = present(subscriber)
if not ok then return {failure} end
local member = redis.call('HGET', subscriptions_key(subscriber), sid)
if not member then return {'track_not_found'} end
local reply = track_reply(sid)
local ms = tick()
redis.call('HDEL', subscriptions_key(subscriber), sid)
redis.call('ZREM', subscribed_key(subscriber), member)
redis.call('SREM', subscribers_key(sid), subscriber)
append(ms, 'track-unsubscribed', false, participant_reply(subscriber), reply)
return {'ok', {reply, subscriber, member}}
`);

// ARGV[7..9]: the publisher's sid, the track's sid ('' to find it by name), the name.
const getPublishedTrack = roomScript(String.raw`
if not owned() then return false end
local sid = ARGV[8]
if sid == '' then sid = redis.call('HGET', track_names_key(ARGV[7]), ARGV[9]) end
if not sid or redis.call('HGET', track_key(sid), 'participant_sid') ~= ARGV[7] then return false end
return track_reply(sid)
`);

// ARGV[7], ARGV[8]: the subscriber's sid, the track's sid.
const getSubscription = roomScript(String.raw`
if not owned() then return false end
local member = redis.call('HGET', subscriptions_key(ARGV[7]), ARGV[8])
if not member then return false end
return {track_reply(ARGV[8]), ARGV[7], member}
`);

// ARGV[7..11]: which list ('tracks' or 'subscribed'), the participant's sid,
// min, max, limit (ZRANGE BYLEX bounds).
const listTracks = roomScript(String.raw`
if not owned() then return {} end
local published = ARGV[7] == 'tracks'
local key = subscribed_key(ARGV[8])
if published then key = tracks_key(ARGV[8]) end
local page = {}
for _, member in ipairs(redis.call('ZRANGE', key, ARGV[9], ARGV[10], 'BYLEX', 'LIMIT', 0, ARGV[11])) do
  local sid = string.sub(member, -${sidLength})
  if published then table.insert(page, track_reply(sid)) else table.insert(page, {track_reply(sid), ARGV[8], member}) end
end
return page
`);

// ARGV[7]: the participant's sid. Its rules' fields, or false for no such participant.
const getSubscribeRules = roomScript(String.raw`
if not owned() or redis.call('EXISTS', participant_key(ARGV[7])) == 0 then return false end
return redis.call('HMGET', rules_key(ARGV[7]), 'rules', 'date_created', 'date_updated')
`);

// ARGV[7], ARGV[8]: the participant's sid, the rules as JSON (checked by the operations).
const setSubscribeRules = roomScript(String.raw`
if not owned() then return {'room_not_found'} end
if redis.call('EXISTS', participant_key(ARGV[7])) == 0 then return {'participant_not_found'} end
local ms = tick()
local key = rules_key(ARGV[7])
redis.call('HSETNX', key, 'date_created', time13(ms))
redis.call('HSET', key, 'rules', ARGV[8], 'date_updated', time13(ms))
local rules = redis.call('HMGET', key, 'rules', 'date_created', 'date_updated')
append(ms, 'subscribe-rules-updated', false, participant_reply(ARGV[7]), false, rules)
return {'ok', rules}
`);

// ARGV[7]: a timer of the room's shard that is due. Re-checks, in the room's
// own step, that what it waits for still holds and is due, and then ends
// what it ends: a stale timer (someone joined, the room ended by hand, the
// participant left) is only removed, so a timer fires once however many
// instances race for it. Returns 'stale', 'early' (scheduled again for when
// it is due) or 'fired' with the room's fields if the room ended.
const fireTimer = roomScript(String.raw`
local member = ARGV[7]
redis.call('ZREM', timers_key, member)
local kind, participant = string.match(member, '^(%a+):RM%x+:?(.*)$')
local room = redis.call('HMGET', room_key, 'status', 'date_created', 'unused_room_timeout', 'empty_room_timeout',
  'used', 'emptied_at', 'ends_by', 'max_participant_duration')
if room[1] ~= 'in-progress' then return {'stale'} end
local due
if kind == 'unused' then
  if room[5] then return {'stale'} end
  due = tonumber(room[2]) + tonumber(room[3]) * 60000
elseif kind == 'empty' then
  if redis.call('HLEN', present_key) > 0 or not room[6] then return {'stale'} end
  due = tonumber(room[6]) + tonumber(room[4]) * 60000
elseif kind == 'room' and room[7] then
  due = tonumber(room[7])
elseif kind == 'participant' then
  local p = redis.call('HMGET', participant_key(participant), 'status', 'start_time')
  if not p[1] or p[1] == 'disconnected' then return {'stale'} end
  due = tonumber(p[2]) + tonumber(room[8]) * 1000
else
  return {'stale'}
end
if tick_after(nil, now) < due then
  redis.call('ZADD', timers_key, due, member)
  return {'early'}
end
local ms = tick()
if kind == 'participant' then
  disconnect(participant, ms, 'max-duration')
  return {'fired', ended(after_leaving(ms))}
end
local reasons = {unused = 'unused-timeout', empty = 'empty-timeout', room = 'max-duration'}
complete(ms, reasons[kind])
return {'fired', ended(true)}
`);

// The shard's timers. KEYS: the timers. ARGV: the time ('' for Redis'
// clock), the most to return. Returns the due ones, earliest first, each
// followed by when it was due.
const dueTimers: ScriptDefinition = {
  numberOfKeys: 1,
  lua:
    common +
    String.raw`
return redis.call('ZRANGE', KEYS[1], '-inf', tick_after(nil, ARGV[1]), 'BYSCORE', 'LIMIT', 0, ARGV[2], 'WITHSCORES')
`,
};

// Account slot. KEYS: as claim_name's. ARGV: unique name, room sid, the
// room's fields as a JSON object, the time to use ('' for Redis' clock).
const claimRoomName: ScriptDefinition = {
  numberOfKeys: 5,
  lua:
    common +
    claimNameChunk +
    String.raw`
return claim_name(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`,
};

// Account slot, when Redis refused to write a claimed room's record: takes
// the claim back. KEYS: names, in-progress rooms by created, in-progress
// rooms by name, pending rooms. ARGV: unique name, room sid. Only removes, so
// Redis out of memory still runs it.
const unclaimRoomName: ScriptDefinition = {
  numberOfKeys: 4,
  lua:
    common +
    String.raw`
local name, sid = ARGV[1], ARGV[2]
local record = redis.call('HGET', KEYS[4], sid)
if not record then return 0 end
local room = cjson.decode(record)
local member = room.date_created .. order(room.sequence) .. sid
if redis.call('HGET', KEYS[1], name) == sid then redis.call('HDEL', KEYS[1], name) end
redis.call('ZREM', KEYS[2], member)
redis.call('ZREM', KEYS[3], name .. NAME_END .. member)
redis.call('HDEL', KEYS[4], sid)
return 1
`,
};

// Account slot, after the room itself is completed. KEYS: names, rooms by
// created (in-progress, completed), rooms by name (in-progress, completed),
// pending rooms. ARGV: unique name, room sid, date created, sequence. Safe to repeat.
const releaseRoomName: ScriptDefinition = {
  numberOfKeys: 6,
  lua:
    common +
    String.raw`
local name, sid = ARGV[1], ARGV[2]
if redis.call('HGET', KEYS[1], name) == sid then redis.call('HDEL', KEYS[1], name) end
local by_created = ARGV[3] .. order(ARGV[4]) .. sid
local by_name = name .. NAME_END .. by_created
redis.call('ZREM', KEYS[2], by_created)
redis.call('ZADD', KEYS[3], 0, by_created)
redis.call('ZREM', KEYS[4], by_name)
redis.call('ZADD', KEYS[5], 0, by_name)
redis.call('HDEL', KEYS[6], sid)
`,
};

// KEYS: a log, and the hash holding its count. ARGV: which part of an id is
// the count (1 for <count>-<ms>, 2 for <ms>-<count>), the position to read
// after ('' for the log's end), the most entries to return. Returns 'ok' with
// the position read from and the entries after it, or 'expired' or 'unknown'.
const readLog: ScriptDefinition = {
  numberOfKeys: 1,
  lua: String.raw`
local key, part, after, limit = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local function count_of(id)
  local a, b = string.match(id, '^(%d+)%-(%d+)$')
  if not a then return nil end
  if part == 1 then return tonumber(a) end
  return tonumber(b)
end
local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
if after == '' then
  return {'ok', last and last[1] or '0-0', {}}
end
local wanted = count_of(after)
if not wanted then return {'unknown'} end
local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
if wanted == 0 and after ~= '0-0' then return {'unknown'} end
if last == nil then
  if wanted == 0 then return {'ok', after, {}} end
  return {'unknown'}
end
if wanted > count_of(last[1]) then return {'unknown'} end
if wanted < count_of(first[1]) - 1 then return {'expired'} end
if wanted >= count_of(first[1]) and #redis.call('XRANGE', key, after, after) == 0 then return {'unknown'} end
return {'ok', after, redis.call('XRANGE', key, '(' .. after, '+', 'COUNT', limit)}
`,
};

export const scripts = {
  rcCreateRoom: createRoom,
  rcJoin: join,
  rcDisconnectParticipant: disconnectParticipant,
  rcFindPresentParticipant: findPresentParticipant,
  rcAnonymizeParticipant: anonymizeParticipant,
  rcListParticipants: listParticipants,
  rcCompleteRoom: completeRoom,
  rcFireTimer: fireTimer,
  rcPublishTrack: publishTrack,
  rcSetTrackEnabled: setTrackEnabled,
  rcUnpublishTrack: unpublishTrack,
  rcSubscribe: subscribe,
  rcUnsubscribe: unsubscribe,
  rcGetPublishedTrack: getPublishedTrack,
  rcGetSubscription: getSubscription,
  rcListTracks: listTracks,
  rcGetSubscribeRules: getSubscribeRules,
  rcSetSubscribeRules: setSubscribeRules,
  rcDueTimers: dueTimers,
  rcClaimRoomName: claimRoomName,
  rcClaimAndCreateRoom: claimAndCreateRoom,
  rcUnclaimRoomName: unclaimRoomName,
  rcReleaseRoomName: releaseRoomName,
  rcReadLog: readLog,
};
