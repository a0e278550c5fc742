-- ScaleOps stacked token bucket: one atomic decision over every rule of a tenant's plan.
-- KEYS[1]  the tenant's bucket hash: field "t" = last update (ms, server clock), fields "1".."n" = tokens per rule
-- ARGV[1]  want: the fewest tokens that admit the request (the permit count)
-- ARGV[2]  max: the most tokens to take when available (>= want; > want only in leased mode)
-- ARGV[3]  given back: unused leased tokens this instance returns (added to every rule first, capped at its capacity)
-- ARGV[4]  n: the number of rules; then per rule i: ARGV[3+2i] = capacity, ARGV[4+2i] = refill per ms
-- Returns {granted, limit, remaining, reset_ms, retry_after_ms} for the most constraining rule.
--
-- Written for speed: in Redis 7 every Lua function call (tonumber, math.floor, even a local function) costs about
-- half a microsecond, more than everything else here, so the script makes only the redis.call it needs (TIME, HGETALL
-- and, when it grants, HSET and PEXPIRE). Strings become numbers by arithmetic ("5" + 0), numbers go to redis.call as
-- they are (Redis formats them with %.17g, exact for these values), and floor/ceil/min are written out: every token
-- count here is >= 0, where x - x % 1 is floor(x).
local key = KEYS[1]
local want = ARGV[1] + 0
local grant = ARGV[2] + 0
local back = ARGV[3] + 0
local n = ARGV[4] + 0
local call = redis.call

local clock = call('TIME')
local now = clock[1] * 1000 + clock[2] / 1000

-- Stored state: "t" and one field per rule, as written below; fields of rules a plan no longer has are ignored.
local raw = call('HGETALL', key)
local last = now
local stored = {}
for j = 1, #raw, 2 do
  local field = raw[j]
  if field == 't' then last = raw[j + 1] + 0 else stored[field + 0] = raw[j + 1] + 0 end
end
local elapsed = now - last
if elapsed < 0 then elapsed = 0 end

local tokens = {}
for i = 1, n do
  local cap = ARGV[3 + 2 * i] + 0
  local t = stored[i]
  if t == nil then
    t = cap
  else
    t = t + elapsed * ARGV[4 + 2 * i] + back
    if t > cap then t = cap end
  end
  tokens[i] = t
  local whole = t - t % 1
  if whole < grant then grant = whole end
end
if grant < want then grant = 0 end
-- Retry-After is the wait for at least one token (as System.Threading.RateLimiting's TokenBucket): a rejected
-- 0-permit probe says when a request could pass.
local need = want
if need < 1 then need = 1 end

-- The reported rule has the fewest whole tokens left; on a tie, the one whose next token is furthest away (the one
-- that still refuses when the others have refilled), so that RateLimit-Reset is worth waiting for.
local bind, bind_left, bind_t, bind_next, retry, ttl = 1, nil, 0, 0, 0, 1
local out = {'HSET', key, 't', now}
for i = 1, n do
  local cap = ARGV[3 + 2 * i] + 0
  local rate = ARGV[4 + 2 * i] + 0
  local t = tokens[i] - grant
  if grant == 0 and t < need then
    local wait = (need - t) / rate
    if wait > retry then retry = wait end
  end
  local left = t - t % 1
  local nxt = (left + 1 - t) / rate
  if bind_left == nil or left < bind_left or (left == bind_left and nxt > bind_next) then
    bind, bind_left, bind_t, bind_next = i, left, tokens[i], nxt
  end
  local full = (cap - t) / rate
  if full > ttl then ttl = full end
  out[2 * i + 3] = i
  out[2 * i + 4] = t
end

if grant > 0 or back > 0 then
  call(unpack(out))
  ttl = ttl + 1000
  local whole = ttl - ttl % 1
  if whole < ttl then whole = whole + 1 end
  call('PEXPIRE', key, whole)
end

local bcap = ARGV[3 + 2 * bind] + 0
local reset = (bcap - bind_t + grant) / (ARGV[4 + 2 * bind] + 0)
local reset_whole = reset - reset % 1
if reset_whole < reset then reset_whole = reset_whole + 1 end
local retry_whole = retry - retry % 1
if retry_whole < retry then retry_whole = retry_whole + 1 end
return {grant, bcap, bind_left, reset_whole, retry_whole}
