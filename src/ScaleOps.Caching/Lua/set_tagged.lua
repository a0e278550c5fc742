-- Stores a value and records its key in the index of each of its tags: a sorted set scored by the time the value key
-- expires (server clock, ms). Members whose value has expired are dropped on every write, so an index holds only the
-- tag's live values however long the tag is written (all keys share the tenant's hash tag, so one slot).
-- KEYS[1] = value key, KEYS[2..n] = tag index keys; ARGV[1] = payload, ARGV[2] = time to live in milliseconds.
if redis.replicate_commands then
  redis.replicate_commands() -- TIME before writes: needed before Redis 5, a no-op since
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
for i = 2, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
  redis.call('ZADD', KEYS[i], now + ttl, KEYS[1]) -- not before the value key expires (it was set at or before now)
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
