-- Deletes every value recorded in a tag's index, then the index. KEYS[1] = the tag index (a sorted set), KEYS[2] = the
-- tag's set as written by versions before the index (a plain set; it only expires now, so read it too). The members
-- are value keys of the same tenant, so they hash to the same cluster slot as the keys.
local count = 0
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #members do
  redis.call('UNLINK', members[i])
end
count = count + #members
if redis.call('EXISTS', KEYS[2]) == 1 then
  local legacy = redis.call('SMEMBERS', KEYS[2])
  for i = 1, #legacy do
    redis.call('UNLINK', legacy[i])
  end
  count = count + #legacy
end
redis.call('UNLINK', KEYS[1], KEYS[2])
return count
