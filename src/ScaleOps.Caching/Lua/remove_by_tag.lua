-- Deletes every value recorded in a tag set, then the set. KEYS[1] = tag set key. The members are value keys of the
-- same tenant, so they hash to the same cluster slot as KEYS[1].
local members = redis.call('SMEMBERS', KEYS[1])
for i = 1, #members do
  redis.call('UNLINK', members[i])
end
redis.call('UNLINK', KEYS[1])
return #members
