"""Lua scripts of the NetBox GET cache: one round trip, atomic, per operation.

Every script takes the cache namespace (``Keys(prefix).nbcache``) as KEYS[1] and
derives its sub-keys from it, exactly as ``shared.keys.Keys.nbcache_*`` build them
(a test checks the two agree). Building key names inside a script is fine on one
Redis or Sentinel; Redis Cluster would need every key declared (see docs/nbcache.md).

Layout under ``<base>`` (``id`` = ``<endpoint>:<scope>:<path>[?query]``)::

    <base>:e:<id>              STRING  stored response (native PX = ttl + grace, a safety net)
    <base>:lru                 ZSET    id -> last access, server TIME in microseconds
    <base>:exp                 ZSET    id -> logical expiry, microseconds
    <base>:sz                  HASH    id -> bytes
    <base>:bytes               STRING  sum of sz
    <base>:idx:<ep>:<path>     SET     ids of one API path (all scopes and queries)
    <base>:epidx:<ep>          SET     ids of one NetBox endpoint
    <base>:seq                 STRING  invalidation sequence (a miss returns it as lease)
    <base>:gen:<ep>:<path>     STRING  seq of the last invalidation of that path
    <base>:epgen:<ep>          STRING  seq of the last clear of that endpoint
    <base>:allgen              STRING  seq of the last clear of everything
    <base>:stats               HASH    global counters

Times come from the server's TIME, so client clocks never matter.
"""

from __future__ import annotations

#: Helpers prepended to every script.
_PRELUDE = """
local base = KEYS[1]
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function bump(field, n)
  if n > 0 then redis.call('HINCRBY', base .. ':stats', field, n) end
end
-- Remove one entry and every index entry pointing at it; returns 1 if it was stored.
local function drop(id)
  local size = redis.call('HGET', base .. ':sz', id)
  redis.call('DEL', base .. ':e:' .. id)
  redis.call('ZREM', base .. ':lru', id)
  redis.call('ZREM', base .. ':exp', id)
  local ep, path = string.match(id, '^(%x+):%x+:([^?]*)')
  if ep then
    redis.call('SREM', base .. ':idx:' .. ep .. ':' .. path, id)
    redis.call('SREM', base .. ':epidx:' .. ep, id)
  end
  if not size then return 0 end
  redis.call('HDEL', base .. ':sz', id)
  redis.call('DECRBY', base .. ':bytes', size)
  return 1
end
-- Drop up to `limit` entries whose logical expiry has passed.
local function purge_expired(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', base .. ':exp', '-inf', now, 'LIMIT', 0, limit)
  local dropped = 0
  for _, id in ipairs(ids) do dropped = dropped + drop(id) end
  bump('evictions_ttl', dropped)
  return dropped
end
"""

#: KEYS[1] = base. ARGV[1] = entry id.
#: Returns {1, value} on a hit (and refreshes its recency), {0, lease} on a miss.
LOOKUP = (
    _PRELUDE
    + """
local id = ARGV[1]
local expiry = redis.call('ZSCORE', base .. ':exp', id)
if expiry then
  local now = now_us()
  local value = false
  if tonumber(expiry) > now then value = redis.call('GET', base .. ':e:' .. id) end
  if value then
    redis.call('ZADD', base .. ':lru', 'XX', now, id)
    bump('hits', 1)
    return {1, value}
  end
  drop(id)
  bump('evictions_ttl', 1)
end
bump('misses', 1)
return {0, redis.call('GET', base .. ':seq') or '0'}
"""
)

#: KEYS[1] = base. ARGV = id, value, ttl_us, lease, max_entries, max_bytes,
#: purge_batch, body_px. Returns 'stored', 'stale' (an invalidation of the path,
#: its endpoint or the whole cache happened after the lease) or 'oversize'.
STORE = (
    _PRELUDE
    + """
local id, value = ARGV[1], ARGV[2]
local ttl_us, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local max_entries, max_bytes = tonumber(ARGV[5]), tonumber(ARGV[6])
local purge_batch, body_px = tonumber(ARGV[7]), tonumber(ARGV[8])
local ep, path = string.match(id, '^(%x+):%x+:([^?]*)')
if not ep then return redis.error_reply('nbcache: malformed entry id') end
local gens = redis.call('MGET', base .. ':gen:' .. ep .. ':' .. path,
  base .. ':epgen:' .. ep, base .. ':allgen')
for _, gen in ipairs(gens) do
  if gen and tonumber(gen) > lease then bump('fills_stale', 1) return 'stale' end
end
local size = string.len(value)
if size > max_bytes then bump('fills_oversize', 1) return 'oversize' end
local now = now_us()
purge_expired(now, purge_batch)
drop(id)
redis.call('SET', base .. ':e:' .. id, value, 'PX', body_px)
redis.call('ZADD', base .. ':lru', now, id)
redis.call('ZADD', base .. ':exp', now + ttl_us, id)
redis.call('HSET', base .. ':sz', id, size)
redis.call('SADD', base .. ':idx:' .. ep .. ':' .. path, id)
redis.call('SADD', base .. ':epidx:' .. ep, id)
local total = redis.call('INCRBY', base .. ':bytes', size)
local by_entries, by_bytes = 0, 0
while true do
  local cause
  if redis.call('ZCARD', base .. ':lru') > max_entries then cause = 'entries'
  elseif total > max_bytes then cause = 'bytes'
  else break end
  -- least recently used first; never the entry just stored (ties on the score)
  local oldest = redis.call('ZRANGE', base .. ':lru', 0, 1)
  local victim = oldest[1]
  if victim == id then victim = oldest[2] end
  if not victim then break end
  total = total - tonumber(redis.call('HGET', base .. ':sz', victim) or '0')
  drop(victim)
  if cause == 'entries' then by_entries = by_entries + 1 else by_bytes = by_bytes + 1 end
end
bump('evictions_entries', by_entries)
bump('evictions_bytes', by_bytes)
bump('fills', 1)
return 'stored'
"""
)

#: KEYS[1] = base. ARGV = endpoint id, horizon_s, path, path, ...
#: Marks each path invalidated (for stale-fill refusal) and drops all its entries
#: (every scope, every query variant). Returns the number of entries dropped.
#: Work is bounded by the entry limit (max_entries), not by NetBox's size.
INVALIDATE = (
    _PRELUDE
    + """
local ep, horizon = ARGV[1], tonumber(ARGV[2])
local seq = redis.call('INCR', base .. ':seq')
local dropped = 0
for i = 3, #ARGV do
  local path = ARGV[i]
  redis.call('SET', base .. ':gen:' .. ep .. ':' .. path, seq, 'EX', horizon)
  local index = base .. ':idx:' .. ep .. ':' .. path
  for _, id in ipairs(redis.call('SMEMBERS', index)) do dropped = dropped + drop(id) end
  redis.call('DEL', index)
end
bump('invalidation_requests', 1)
bump('invalidations', dropped)
return dropped
"""
)

#: KEYS[1] = base. ARGV = endpoint id ('' = everything), horizon_s.
#: Returns the number of entries dropped.
CLEAR = (
    _PRELUDE
    + """
local ep, horizon = ARGV[1], tonumber(ARGV[2])
local seq = redis.call('INCR', base .. ':seq')
local ids
if ep == '' then
  redis.call('SET', base .. ':allgen', seq, 'EX', horizon)
  ids = redis.call('ZRANGE', base .. ':lru', 0, -1)
else
  redis.call('SET', base .. ':epgen:' .. ep, seq, 'EX', horizon)
  ids = redis.call('SMEMBERS', base .. ':epidx:' .. ep)
end
local dropped = 0
for _, id in ipairs(ids) do dropped = dropped + drop(id) end
bump('clears', 1)
bump('cleared_entries', dropped)
return dropped
"""
)

#: KEYS[1] = base. ARGV[1] = purge_batch. Purges expired entries (bounded), then
#: returns {flat stats hash, entry count, bytes, oldest expiry or '', now}.
STATS = (
    _PRELUDE
    + """
local now = now_us()
purge_expired(now, tonumber(ARGV[1]))
local oldest = redis.call('ZRANGE', base .. ':exp', 0, 0, 'WITHSCORES')
return {
  redis.call('HGETALL', base .. ':stats'),
  redis.call('ZCARD', base .. ':lru'),
  redis.call('GET', base .. ':bytes') or '0',
  oldest[2] or '',
  now,
}
"""
)
