-- Stores a value and records its key in the set of each of its tags (all keys share the tenant's hash tag, so one
-- slot). KEYS[1] = value key, KEYS[2..n] = tag set keys; ARGV[1] = payload, ARGV[2] = time to live in milliseconds.
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local ttl = tonumber(ARGV[2])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
