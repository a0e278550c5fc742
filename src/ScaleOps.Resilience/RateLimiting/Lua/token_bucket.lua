-- ScaleOps stacked token bucket: one atomic decision over every rule of a tenant's plan.
-- KEYS[1]  the tenant's bucket hash: field "t" = last update (ms, server clock), fields "1".."n" = tokens per rule
-- ARGV[1]  want: the fewest tokens that admit the request (the permit count)
-- ARGV[2]  max: the most tokens to take when available (>= want; > want only in leased mode)
-- ARGV[3]  n: the number of rules; then per rule i: ARGV[2+2i] = capacity, ARGV[3+2i] = refill per ms
-- Returns {granted, limit, remaining, reset_ms, retry_after_ms} for the most constraining rule.
local key = KEYS[1]
local want = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local n = tonumber(ARGV[3])

local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000

local fields = {'t'}
for i = 1, n do fields[i + 1] = tostring(i) end
local state = redis.call('HMGET', key, unpack(fields))
local last = tonumber(state[1]) or now
local elapsed = now - last
if elapsed < 0 then elapsed = 0 end

local tokens = {}
local grant = max
for i = 1, n do
  local cap = tonumber(ARGV[2 + 2 * i])
  local rate = tonumber(ARGV[3 + 2 * i])
  local t = tonumber(state[i + 1]) or cap
  t = math.min(cap, t + elapsed * rate)
  tokens[i] = t
  local whole = math.floor(t)
  if whole < grant then grant = whole end
end
if grant < want then grant = 0 end

local bind, bind_left, retry, ttl = 1, nil, 0, 1
local out = {'t', tostring(now)}
for i = 1, n do
  local cap = tonumber(ARGV[2 + 2 * i])
  local rate = tonumber(ARGV[3 + 2 * i])
  local t = tokens[i] - grant
  if grant == 0 and t < want then
    local wait = (want - t) / rate
    if wait > retry then retry = wait end
  end
  local left = math.floor(t)
  if bind_left == nil or left < bind_left then bind, bind_left = i, left end
  local full = (cap - t) / rate
  if full > ttl then ttl = full end
  out[2 * i + 1] = tostring(i)
  out[2 * i + 2] = tostring(t)
end

if grant > 0 then
  redis.call('HSET', key, unpack(out))
  redis.call('PEXPIRE', key, math.ceil(ttl) + 1000)
end

local bcap = tonumber(ARGV[2 + 2 * bind])
local brate = tonumber(ARGV[3 + 2 * bind])
return {grant, bcap, bind_left, math.ceil((bcap - tokens[bind] + grant) / brate), math.ceil(retry)}
