-- bench/me.lua: wrk script for GET /v1/me. The bearer token comes from the BENCH_TOKEN
-- environment variable (bench/run.sh sets it); the request stays static, so wrk builds it
-- once and the script costs nothing per request.
local token = os.getenv("BENCH_TOKEN")
if not token or token == "" then
   io.stderr:write("me.lua: BENCH_TOKEN is not set\n")
   os.exit(2)
end
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. token
