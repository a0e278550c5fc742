-- A tenant's generation. KEYS[1] = the generation key; ARGV[1] = '1' to advance it (a tenant invalidation), '0' to
-- read it; ARGV[2] = the key's time to live in milliseconds, renewed at every call. A missing key (a tenant never seen,
-- or one not read for that long, or its key deleted or evicted under memory pressure) starts a new epoch at the
-- server's clock in microseconds: above every generation the key held before (each advance adds one), so values written
-- under an earlier generation are never read again. Returns the generation: as the key holds it when read (another
-- application's value comes back as it is, for the caller to refuse), as an integer when advanced.
local generation = redis.call('GET', KEYS[1])
if not generation then
  local now = redis.call('TIME')
  generation = now[1] .. string.rep('0', 6 - #now[2]) .. now[2]
  redis.call('SET', KEYS[1], generation, 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if ARGV[1] == '1' then
  return redis.call('INCR', KEYS[1])
end
return generation
