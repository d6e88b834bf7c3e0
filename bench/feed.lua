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

-- With BENCH_FEED_CURSORS (a file of "<user> <cursor>" lines), each request continues that
-- user's scroll instead: the page after those the scroll has shown already.
local scrolls = {}
local cursors = os.getenv("BENCH_FEED_CURSORS")
if cursors and cursors ~= "" then
   for line in io.lines(cursors) do
      local user, cursor = line:match("^(%d+) (%S+)$")
      if user then scrolls[#scrolls + 1] = { tonumber(user), cursor } end
   end
   if #scrolls == 0 then
      io.stderr:write("feed.lua: no cursors in " .. cursors .. "\n")
      os.exit(2)
   end
end

local function token_of(user)
   local token = string.format("feedbench%08d", user)
   return token .. string.rep("x", 43 - #token)
end

local next_user
function init(args)
   -- Threads start far apart in the list and walk it in step.
   next_user = ((first or 0) * 997) % (#scrolls > 0 and #scrolls or users)
end

function request()
   if #scrolls > 0 then
      next_user = next_user % #scrolls + 1
      local s = scrolls[next_user]
      return wrk.format("GET", wrk.path .. "?cursor=" .. s[2], { ["Authorization"] = "Bearer " .. token_of(s[1]) })
   end
   next_user = next_user % users + 1
   return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token_of(next_user) })
end
