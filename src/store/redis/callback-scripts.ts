// Lua scripts of the status callback relay (src/callbacks). Each works on one
// shard's slot: a room's hash and log, and its shard's due set, dead letters
// and lease all carry the hash tag {<account sid>:<shard>} (keys.ts), so a
// cursor moves in the same atomic step as the due mark it settles.

interface ScriptDefinition {
  numberOfKeys: number;
  lua: string;
}

// KEYS: the room hash, the room's log. ARGV: the account's sid, the most
// events to return. Returns false for a room of no such account, else the
// cursor, the room's last sequence, the failed attempts, when the first
// failed ('' for none), then the log entries after the cursor.
const readCallbacks: ScriptDefinition = {
  numberOfKeys: 2,
  lua: String.raw`
if redis.call('HGET', KEYS[1], 'account_sid') ~= ARGV[1] then return false end
local f = redis.call('HMGET', KEYS[1], 'callback_sequence', 'log_sequence', 'callback_attempts', 'callback_failing_since')
local cursor = tonumber(f[1] or '0')
local entries = redis.call('XRANGE', KEYS[2], (cursor + 1) .. '-0', '+', 'COUNT', ARGV[2])
return {tostring(cursor), f[2] or '0', f[3] or '0', f[4] or '', entries}
`,
};

// KEYS: the room hash, the shard's due set, its dead letters, its counter.
// ARGV: the account's sid, the room's sid, from, to, a failure to record as
// JSON ('' for none), now (ms), how many dead letters to keep. Returns 1 when
// the cursor moved, 0 when it was not at `from`.
const advanceCallback: ScriptDefinition = {
  numberOfKeys: 4,
  lua: String.raw`
local room_key, due_key, failed_key, counter_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local account, room_sid, from, to, failure, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
if redis.call('HGET', room_key, 'account_sid') ~= account then return 0 end
if tonumber(redis.call('HGET', room_key, 'callback_sequence') or '0') ~= from then return 0 end
redis.call('HSET', room_key, 'callback_sequence', to)
redis.call('HDEL', room_key, 'callback_attempts', 'callback_failing_since')
if to >= tonumber(redis.call('HGET', room_key, 'log_sequence') or '0') then
  redis.call('ZREM', due_key, room_sid)
else
  redis.call('ZADD', due_key, now, room_sid)
end
if failure ~= '' then
  redis.call('XADD', failed_key, 'MAXLEN', '~', ARGV[7], '*', 'f', failure)
  redis.call('HINCRBY', counter_key, 'callback_failures', 1)
end
return 1
`,
};

// KEYS: the room hash, the shard's due set. ARGV: the account's sid, the
// room's sid, the cursor, the due time (ms), now (ms). Returns 1 when the
// cursor was still there, else 0.
const postponeCallback: ScriptDefinition = {
  numberOfKeys: 2,
  lua: String.raw`
if redis.call('HGET', KEYS[1], 'account_sid') ~= ARGV[1] then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'callback_sequence') or '0') ~= tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[1], 'callback_attempts', 1)
redis.call('HSETNX', KEYS[1], 'callback_failing_since', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1
`,
};

// KEYS: the lease. ARGV: the owner, its time to live (ms). Returns 1 when
// the owner holds the lease now.
const holdLease: ScriptDefinition = {
  numberOfKeys: 1,
  lua: String.raw`
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`,
};

// KEYS: the lease. ARGV: the owner.
const releaseLease: ScriptDefinition = {
  numberOfKeys: 1,
  lua: String.raw`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`,
};

// The LiveKit bridge's state of a LiveKit room. KEYS: the state hash, the
// followed rooms (LiveKit sid -> room sid), the reverse index. ARGV: ttl
// (ms), the LiveKit room sid, the room sid or "", "1" to finish or "", then
// participant pairs (LiveKit sid, rollcall sid or "").
const updateLiveKitRoom: ScriptDefinition = {
  numberOfKeys: 3,
  lua: String.raw`
local previous = redis.call('HGET', KEYS[1], 'room')
if ARGV[3] ~= '' and previous and previous ~= ARGV[3] then redis.call('HDEL', KEYS[3], previous) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'room', ARGV[3]) end
if ARGV[4] == '1' then redis.call('HSET', KEYS[1], 'finished', '1') end
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], 'p:' .. ARGV[i], ARGV[i + 1]) end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('HSET', KEYS[1], 'created', '1') end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local room = redis.call('HGET', KEYS[1], 'room')
if room then
  if redis.call('HGET', KEYS[1], 'finished') == '1' then
    redis.call('HDEL', KEYS[2], ARGV[2])
    redis.call('HDEL', KEYS[3], room)
  else
    redis.call('HSET', KEYS[2], ARGV[2], room)
    redis.call('HSET', KEYS[3], room, ARGV[2])
  end
end
return 1
`,
};

export const callbackScripts = {
  rcUpdateLiveKitRoom: updateLiveKitRoom,
  rcReadCallbacks: readCallbacks,
  rcAdvanceCallback: advanceCallback,
  rcPostponeCallback: postponeCallback,
  rcHoldLease: holdLease,
  rcReleaseLease: releaseLease,
};
