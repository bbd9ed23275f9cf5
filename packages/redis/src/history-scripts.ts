import type { Cluster, Redis } from 'ioredis';

/*
 * The Lua scripts of the Redis history. Each runs atomically on the Redis
 * that holds its keys: a message is recorded and published in one call, so
 * the order of publications is the order of offsets.
 */

/**
 * Records a batch of messages. KEYS: seq, epoch, tick, clock, then a stream,
 * a channel and an id set per message. ARGV: candidate epoch, maxMessages,
 * ttlMs, then a body, a kind ('u' for a user's stream, 'a' for broadcasts)
 * and the sender's id ('' for none) per message.
 *
 * A message whose id its history's set holds (recorded within ttlMs, among
 * its last maxMessages ids) is a repeat, sent again through another node:
 * it is neither recorded nor published. The set is a sorted set (id → time),
 * trimmed as ids are added and expiring with the history.
 *
 * The offsets come from one INCRBY for the messages recorded, consecutive in
 * the batch's order, and each message is PUBLISHed in the same script, in that
 * order, so the order of publications on every channel is the order of
 * offsets: every node delivers in offset order. A sequence that does not
 * exist (a new or emptied Redis) starts at the current time in
 * microseconds, so offsets keep growing across a Redis that restarted empty
 * (its epoch changes too) and a connected client never sees a smaller one.
 * Once a second the script notes (time → offset) in the clock, which tells a
 * read whether a stream that expired whole may have held what it asks for.
 */
const RECORD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], t[1] .. string.format('%06d', tonumber(t[2])))
end
redis.call('SET', KEYS[2], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[2])
local n = (#ARGV - 3) / 3
local max = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
-- Repeats: an id its history's set holds, or one met earlier in this batch.
local skip = {}
local seen = {}
local kept = n
for i = 1, n do
  local id = ARGV[3 + 3 * i]
  if id ~= '' then
    local set = KEYS[4 + 3 * i]
    local score = redis.call('ZSCORE', set, id)
    seen[set] = seen[set] or {}
    if seen[set][id] or (score and now - tonumber(score) <= ttl) then
      skip[i] = true
      kept = kept - 1
    end
    seen[set][id] = true
  end
end
if kept == 0 then return {'0', epoch} end
local first = tonumber(redis.call('INCRBY', KEYS[1], kept)) - kept + 1
local expire = {}
local k = 0
for i = 1, n do
  if not skip[i] then
    local stream = KEYS[2 + 3 * i]
    local body = ARGV[1 + 3 * i]
    local seq = string.format('%.0f', first + k)
    k = k + 1
    redis.call('XADD', stream, seq .. '-0', 'b', body, 't', now)
    -- A new stream's first node is allocated at 4 KiB; a user with one message
    -- would cost that much. Rewritten (DUMP/RESTORE) it takes what it holds,
    -- and later entries grow it as needed. Best effort: a Redis that forbids
    -- these commands keeps the stream as it is.
    if redis.call('XLEN', stream) == 1 then
      local dumped = redis.pcall('DUMP', stream)
      if type(dumped) == 'string' then redis.pcall('RESTORE', stream, 0, dumped, 'REPLACE') end
    end
    -- XDEL rather than MAXLEN: XDEL moves the stream's max-deleted-entry-id,
    -- which a read compares with its position (trimming does not).
    local over = redis.call('XLEN', stream) - max
    if over > 0 then
      for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', over)) do
        redis.call('XDEL', stream, entry[1])
      end
    end
    local id = ARGV[3 + 3 * i]
    if id ~= '' then
      local set = KEYS[4 + 3 * i]
      redis.call('ZADD', set, now, id)
      redis.call('ZREMRANGEBYSCORE', set, '-inf', now - ttl - 1)
      redis.call('ZREMRANGEBYRANK', set, 0, -max - 1)
      redis.call('PEXPIRE', set, ttl)
    end
    -- A user's stream goes when its newest entry is ttl old; the broadcast
    -- stream stays (bounded by max), so its absence means "never written".
    if ARGV[2 + 3 * i] == 'u' then expire[stream] = true end
    redis.call('PUBLISH', KEYS[3 + 3 * i], 'r' .. seq .. ':' .. epoch .. ':' .. body)
  end
end
for stream in pairs(expire) do redis.call('PEXPIRE', stream, ttl) end
local tick = redis.call('GET', KEYS[3])
if not tick or now - tonumber(tick) >= 1000 then
  local seq = string.format('%.0f', first)
  redis.call('SET', KEYS[3], now, 'PX', ttl + 60000)
  redis.call('ZADD', KEYS[4], now, seq)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - ttl - 2000)
  redis.call('PEXPIRE', KEYS[4], ttl + 60000)
end
return {string.format('%.0f', first), epoch}
`;

/**
 * Reads what a client missed. KEYS: seq, epoch, lost, clock, user stream,
 * broadcast stream. ARGV: epoch, from, ttlMs. Returns `{0, epoch}` when the
 * range cannot be served in full, else `{1, epoch, userEntries, allEntries}`.
 */
const READ = `
local epoch = redis.call('GET', KEYS[2])
if not epoch or epoch ~= ARGV[1] then return {0, epoch or ''} end
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local from = tonumber(ARGV[2])
if from > seq then return {0, epoch} end
if tonumber(redis.call('GET', KEYS[3]) or '0') > from then return {0, epoch} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
-- Every offset given more than ttl ago is at most floor (the first sample
-- taken since was given later): a user stream that expired whole held
-- nothing after a position at or above it.
local floor = seq
local sample = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. (now - ttl), '+inf', 'LIMIT', 0, 1)
if sample[1] then floor = tonumber(sample[1]) - 1 end
local out = {1, epoch}
for i = 5, 6 do
  local key = KEYS[i]
  if redis.call('EXISTS', key) == 1 then
    local info = redis.call('XINFO', 'STREAM', key)
    for j = 1, #info, 2 do
      if info[j] == 'max-deleted-entry-id' then
        local deleted = tonumber(string.match(info[j + 1], '^(%d+)'))
        if deleted > from then return {0, epoch} end
      end
    end
    local entries = redis.call('XRANGE', key, '(' .. ARGV[2] .. '-0', '+')
    if entries[1] then
      local fields = entries[1][2]
      for j = 1, #fields, 2 do
        if fields[j] == 't' and now - tonumber(fields[j + 1]) > ttl then return {0, epoch} end
      end
    end
    out[#out + 1] = entries
  elseif i == 5 and from < floor then
    return {0, epoch}
  else
    out[#out + 1] = {}
  end
end
return out
`;

/**
 * What a node whose subscriber connection was gone may have missed. KEYS:
 * epoch, then streams. ARGV: the last offset the node received before.
 * Returns the epoch, then per stream: the first offset after it, '0' when
 * there is none, '-1' when entries after it were trimmed (the stream cannot
 * say).
 */
const MISSED = `
local out = {redis.call('GET', KEYS[1]) or ''}
local from = tonumber(ARGV[1])
for i = 2, #KEYS do
  local first = '0'
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local info = redis.call('XINFO', 'STREAM', KEYS[i])
    for j = 1, #info, 2 do
      if info[j] == 'max-deleted-entry-id' and tonumber(string.match(info[j + 1], '^(%d+)')) > from then first = '-1' end
    end
    if first == '0' then
      local entries = redis.call('XRANGE', KEYS[i], '(' .. ARGV[1] .. '-0', '+', 'COUNT', 1)
      if entries[1] then first = string.match(entries[1][1], '^(%d+)') end
    end
  end
  out[i] = first
end
return out
`;

/** Marks every offset up to now as possibly incomplete: reads from before it fail. KEYS: seq, lost. */
const MARK_LOST = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], t[1] .. string.format('%06d', tonumber(t[2])))
end
local seq = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], string.format('%.0f', seq))
return string.format('%.0f', seq)
`;

/** Reads the epoch (creating it) and the sequence. KEYS: seq, epoch. ARGV: candidate epoch. */
const LOAD = `
redis.call('SET', KEYS[2], ARGV[1], 'NX')
return {redis.call('GET', KEYS[2]), redis.call('GET', KEYS[1]) or '0'}
`;

export type HistoryScripts = Redis & {
  wshubHistoryRecord(...args: string[]): Promise<[string, string]>;
  wshubHistoryRead(...args: string[]): Promise<[number, string, ...Array<Array<[string, string[]]>>]>;
  wshubHistoryMarkLost(...args: string[]): Promise<string>;
  wshubHistoryLoad(...args: string[]): Promise<[string, string]>;
  wshubHistoryMissed(...args: string[]): Promise<string[]>;
};

/** `redis` with the history's scripts defined on it (once per client: several brokers may share one). */
export function historyScripts(redis: Redis | Cluster): HistoryScripts {
  const scripted = redis as unknown as Partial<HistoryScripts>;
  if (typeof scripted.wshubHistoryRecord !== 'function') {
    redis.defineCommand('wshubHistoryRecord', { lua: RECORD }); // numkeys first: a batch has 4 + 3 per message
    redis.defineCommand('wshubHistoryRead', { numberOfKeys: 6, lua: READ });
    redis.defineCommand('wshubHistoryMarkLost', { numberOfKeys: 2, lua: MARK_LOST });
    redis.defineCommand('wshubHistoryLoad', { numberOfKeys: 2, lua: LOAD });
    redis.defineCommand('wshubHistoryMissed', { lua: MISSED });
  }
  return redis as unknown as HistoryScripts;
}
