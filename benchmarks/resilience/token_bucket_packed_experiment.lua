-- ScaleOps stacked token bucket: one atomic decision over every rule of a tenant's plan.
-- KEYS[1]  the tenant's bucket state: a string of n + 1 little-endian doubles packed by struct.pack (ARGV[4]): the
--          last update (ms, server clock), then the tokens left per rule; absent, or of another length (the plan's
--          rules changed), means full buckets.
-- ARGV[1]  want: the fewest tokens that admit the request (the permit count)
-- ARGV[2]  max: the most tokens to take when available (>= want; > want only in leased mode)
-- ARGV[3]  n: the number of rules
-- ARGV[4]  the struct format of the state: '<' followed by n + 1 'd'
-- then per rule i: ARGV[3+2i] = capacity, ARGV[4+2i] = refill per ms
-- Returns {granted, limit, remaining, reset_ms, retry_after_ms} for the most constraining rule.
--
-- Written for Redis CPU: every Lua function call (tonumber, math.floor, a local function) costs about half a
-- microsecond, and formatting a fractional number for redis.call (%.17g) costs more than the command. So the state is
-- binary (struct, exact doubles, one GET and one SET ... PX), strings become numbers by arithmetic ("5" + 0), and
-- floor/ceil/min are written out: every token count here is >= 0, where x - x % 1 is floor(x).
local key = KEYS[1]
local want = ARGV[1] + 0
local grant = ARGV[2] + 0
local n = ARGV[3] + 0
local fmt = ARGV[4]
local call = redis.call

local clock = call('TIME')
local now = clock[1] * 1000 + clock[2] / 1000

local raw = call('GET', key)
local state = nil
if raw and #raw == 8 * (n + 1) then state = {struct.unpack(fmt, raw)} end
local elapsed = 0
if state then
  elapsed = now - state[1]
  if elapsed < 0 then elapsed = 0 end
end

local tokens = {}
for i = 1, n do
  local cap = ARGV[3 + 2 * i] + 0
  local t = cap
  if state then
    t = state[i + 1] + elapsed * ARGV[4 + 2 * i]
    if t > cap then t = cap end
  end
  tokens[i] = t
  local whole = t - t % 1
  if whole < grant then grant = whole end
end
if grant < want then grant = 0 end

local bind, bind_left, bind_t, retry, ttl = 1, nil, 0, 0, 1
local out = {now}
for i = 1, n do
  local cap = ARGV[3 + 2 * i] + 0
  local rate = ARGV[4 + 2 * i] + 0
  local t = tokens[i] - grant
  if grant == 0 and t < want then
    local wait = (want - t) / rate
    if wait > retry then retry = wait end
  end
  local left = t - t % 1
  if bind_left == nil or left < bind_left then bind, bind_left, bind_t = i, left, tokens[i] end
  local full = (cap - t) / rate
  if full > ttl then ttl = full end
  out[i + 1] = t
end

if grant > 0 then
  ttl = ttl + 1000
  local whole = ttl - ttl % 1
  if whole < ttl then whole = whole + 1 end
  call('SET', key, struct.pack(fmt, unpack(out)), 'PX', whole)
end

local bcap = ARGV[3 + 2 * bind] + 0
local reset = (bcap - bind_t + grant) / (ARGV[4 + 2 * bind] + 0)
local reset_whole = reset - reset % 1
if reset_whole < reset then reset_whole = reset_whole + 1 end
local retry_whole = retry - retry % 1
if retry_whole < retry then retry_whole = retry_whole + 1 end
return {grant, bcap, bind_left, reset_whole, retry_whole}
