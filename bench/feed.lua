-- bench/feed.lua: wrk script for the feed routes (bench/feed.sh). Every request signs in as
-- the next of BENCH_FEED_USERS seeded viewers, so each page is one viewer's real work (their
-- follows, likes, events) rather than one viewer's answer over and over. User i's token is
-- 'feedbench' .. i in 8 digits, padded with 'x' to 43 characters, as bench/feed_seed.sql
-- stores it. The path comes from the URL wrk is given.
local users = tonumber(os.getenv("BENCH_FEED_USERS") or "")
if not users or users < 1 then
   io.stderr:write("feed.lua: BENCH_FEED_USERS is not set\n")
   os.exit(2)
end

local threads = 0
function setup(thread)
   thread:set("first", threads)
   threads = threads + 1
end

local next_user
function init(args)
   -- Threads start far apart in the user list and walk it in step.
   next_user = ((first or 0) * 997) % users
end

function request()
   next_user = next_user % users + 1
   local token = string.format("feedbench%08d", next_user)
   token = token .. string.rep("x", 43 - #token)
   return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
end
