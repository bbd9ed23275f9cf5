import type { Cluster, Redis } from 'ioredis';

/*
 * The Lua scripts of the history on Redis Cluster. A user's history (its
 * stream, offset sequence, lost mark and owner) and its channel hash to one
 * slot, so each script runs on the master of that slot alone; so do the
 * broadcasts' history and channel, in their own slot.
 *
 * Offsets are hybrid clock values: at least the Redis time in microseconds,
 * more than the history's last offset and more than what the recording node
 * has delivered (`hint`). So every history's offsets follow real time, and
 * a message is numbered after everything its sender's node had seen. A
 * client's one position covers its user's history and the broadcasts', which
 * two shards number on their own (the same microsecond, or the same hint
 * above both clocks, would give one offset twice, and the client would drop
 * the second message as handled): the broadcasts' offsets are even, every
 * user's odd.
 *
 * Each history remembers the Redis process that last wrote it (`own`, the
 * server's run id). Another process in its place (a replica promoted, or a
 * restart) may lack the last writes of the one before: every offset up to
 * now is marked lost, and a resume from before the mark fails.
 */

const INFO_RUN = "string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')";

/** The script's Redis clock in microseconds, and its process (`run`: given, or read from INFO). */
const HEADER = (run: string) => `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local run = ${run}
local function str(n) return string.format('%.0f', n) end
-- Another process wrote this history: offsets up to now may be lost.
local function owned(seqKey, ownKey, lostKey, floor, keep)
  local own = redis.call('GET', ownKey)
  redis.call('SET', ownKey, run, 'PX', keep)
  if not own or own == run then return true end
  local mark = math.max(tonumber(redis.call('GET', seqKey) or '0'), now, floor) + 1
  redis.call('SET', lostKey, str(mark), 'PX', keep)
  redis.call('SET', seqKey, str(mark), 'PX', keep)
  return false
end
`;

/**
 * Records a batch of messages of one slot. KEYS per message: stream, seq,
 * own, lost, channel, ids. ARGV: epoch, maxMessages, ttlMs, hint, the
 * server's run id (the node reads it once per connection), the broadcasts'
 * channel (its offsets are even, the others odd), then a body and the
 * sender's id ('' for none) per message. Each message is SPUBLISHed in
 * the same script, so the order of publications on a channel is the order of
 * its history's offsets. A message whose id its history's `ids` holds
 * (recorded within ttlMs, among its last maxMessages ids) is a repeat, sent
 * again through another node: neither recorded nor published.
 */
export const CLUSTER_RECORD = `${HEADER('ARGV[5]')}
local max = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local keep = ttl + 60000
local hint = tonumber(ARGV[4])
local ms = math.floor(now / 1000)
local last = 0
for i = 1, #KEYS / 6 do
  local stream, seqKey, ownKey, lostKey, channel, idsKey = KEYS[6 * i - 5], KEYS[6 * i - 4], KEYS[6 * i - 3], KEYS[6 * i - 2], KEYS[6 * i - 1], KEYS[6 * i]
  local body = ARGV[5 + 2 * i]
  local id = ARGV[6 + 2 * i]
  local repeated = false
  if id ~= '' then
    local score = redis.call('ZSCORE', idsKey, id)
    repeated = score and ms - tonumber(score) <= ttl
  end
  if not repeated then
    owned(seqKey, ownKey, lostKey, hint, keep)
    local offset = math.max(tonumber(redis.call('GET', seqKey) or '0') + 1, now, hint + 1)
    if offset % 2 ~= (channel == ARGV[6] and 0 or 1) then offset = offset + 1 end
    local seq = str(offset)
    last = offset
    redis.call('SET', seqKey, seq, 'PX', keep)
    redis.call('XADD', stream, seq .. '-0', 'b', body, 't', ms)
    -- A new stream's first node is allocated at 4 KiB; rewritten it takes what it holds.
    if redis.call('XLEN', stream) == 1 then
      local dumped = redis.pcall('DUMP', stream)
      if type(dumped) == 'string' then redis.pcall('RESTORE', stream, 0, dumped, 'REPLACE') end
    end
    -- XDEL rather than MAXLEN: XDEL moves the stream's max-deleted-entry-id, which a read compares with its position.
    local over = redis.call('XLEN', stream) - max
    if over > 0 then
      for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', over)) do
        redis.call('XDEL', stream, entry[1])
      end
    end
    redis.call('PEXPIRE', stream, ttl)
    if id ~= '' then
      redis.call('ZADD', idsKey, ms, id)
      redis.call('ZREMRANGEBYSCORE', idsKey, '-inf', ms - ttl - 1)
      redis.call('ZREMRANGEBYRANK', idsKey, 0, -max - 1)
      redis.call('PEXPIRE', idsKey, ttl)
    end
    redis.call('SPUBLISH', channel, 'r' .. seq .. ':' .. ARGV[1] .. ':' .. body)
  end
end
return str(last)
`;

/**
 * Reads one history after a position. KEYS: stream, seq, own, lost, and for
 * the broadcasts' history the epoch. ARGV: from, ttlMs, the position's epoch,
 * and `raise`: the history's sequence is raised to it, so every offset it
 * gives later is above it. Returns `{0}` when the range cannot be served in
 * full, else `{1, entries, bound}`: every offset this history gives later is
 * above `bound` (its sequence, `raise`, and the Redis time now less one: a
 * later offset is at least the time it is recorded at).
 */
export const CLUSTER_READ = `${HEADER(INFO_RUN)}
local from = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
if KEYS[5] and redis.call('GET', KEYS[5]) ~= ARGV[3] then return {0} end
if not owned(KEYS[2], KEYS[3], KEYS[4], from, ttl + 60000) then return {0} end
if tonumber(redis.call('GET', KEYS[4]) or '0') > from then return {0} end
-- A position older than ttl (less a second for clocks a little apart): a history that expired whole may have held more.
if from < now - ttl * 1000 + 1000000 then return {0} end
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
local raise = tonumber(ARGV[4] or '0')
if raise > seq then redis.call('SET', KEYS[2], str(raise), 'PX', ttl + 60000) end
local bound = str(math.max(seq, raise, now - 1))
-- No stream: never written, or gone (expired, evicted); gone after the position, it held what was missed.
if redis.call('EXISTS', KEYS[1]) == 0 then
  if seq > from then return {0} end
  return {1, {}, bound}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for j = 1, #info, 2 do
  if info[j] == 'max-deleted-entry-id' and tonumber(string.match(info[j + 1], '^(%d+)')) > from then return {0} end
end
local entries = redis.call('XRANGE', KEYS[1], '(' .. str(from) .. '-0', '+')
if entries[1] then
  local fields = entries[1][2]
  for j = 1, #fields, 2 do
    if fields[j] == 't' and math.floor(now / 1000) - tonumber(fields[j + 1]) > ttl then return {0} end
  end
end
return {1, entries, bound}
`;

/**
 * Marks a history's offsets up to now as possibly incomplete (a message of
 * it went unrecorded, or was delivered out of order). KEYS: seq, own, lost,
 * and the history's channel when its live recipients may have missed a
 * message (a recording that failed): then `l<mark>` is SPUBLISHed on it, and
 * every node closes their sockets for a resume. ARGV: at least this offset,
 * ttlMs.
 */
export const CLUSTER_MARK_LOST = `${HEADER(INFO_RUN)}
local keep = tonumber(ARGV[2]) + 60000
owned(KEYS[1], KEYS[2], KEYS[3], 0, keep)
local mark = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(redis.call('GET', KEYS[3]) or '0'), now, tonumber(ARGV[1])) + 1
redis.call('SET', KEYS[3], str(mark), 'PX', keep)
redis.call('SET', KEYS[1], str(mark), 'PX', keep)
if KEYS[4] then redis.call('SPUBLISH', KEYS[4], 'l' .. str(mark)) end
return str(mark)
`;

/** The cluster's position epoch (created with the candidate when none), and the time in microseconds. KEYS: epoch. ARGV: candidate. */
export const CLUSTER_EPOCH = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local t = redis.call('TIME')
return {redis.call('GET', KEYS[1]), string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))}
`;

export type ClusterHistoryScripts = Redis & {
  wshubClusterRecord(...args: string[]): Promise<string>;
  wshubClusterRead(...args: string[]): Promise<[0] | [1, Array<[string, string[]]>, string]>;
  wshubClusterMarkLost(...args: string[]): Promise<string>;
  wshubClusterEpoch(...args: string[]): Promise<[string, string]>;
};

/** `redis` (a master's connection, or the cluster client) with the cluster history's scripts defined on it. */
export function clusterHistoryScripts(redis: Redis | Cluster): ClusterHistoryScripts {
  const scripted = redis as unknown as Partial<ClusterHistoryScripts>;
  if (typeof scripted.wshubClusterRecord !== 'function') {
    redis.defineCommand('wshubClusterRecord', { lua: CLUSTER_RECORD });
    redis.defineCommand('wshubClusterRead', { lua: CLUSTER_READ });
    redis.defineCommand('wshubClusterMarkLost', { lua: CLUSTER_MARK_LOST });
    redis.defineCommand('wshubClusterEpoch', { numberOfKeys: 1, lua: CLUSTER_EPOCH });
  }
  return redis as unknown as ClusterHistoryScripts;
}
