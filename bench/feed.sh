#!/usr/bin/env bash
# bench/feed.sh (`make bench`, after bench/media.sh): measures the three feeds, GET /v1/feed
# (For You: first pages, and later pages of long scrolls), GET /v1/feed/following and GET
# /v1/feed/trending, with wrk on loopback against a seeded data set, and writes the "Feeds" section of bench/REPORT.md (between the markers
# <!-- feed:begin --> and <!-- feed:end -->, replaced if present, appended otherwise; the rest
# of the file is left as it is) from this run's figures only.
#
# Phases:
#   1. Throw-away PostgreSQL (with pg_stat_statements, planning tracked) and Redis under
#      var/bench-feed; migrate; bench/feed_seed.sql makes users with known tokens, follows,
#      posts (some remixes, some with cameos), likes and events; `flickd rank` folds the
#      events into Redis until the log is caught up and trending exists, then stops.
#   2. flickd `serve` from FLICK_BUILD and, with BENCH_FEED_BUILD_B set, a second flickd
#      from that build on the next port, both on the same data. BENCH_FEED_DEEP_VIEWERS
#      viewers each scroll BENCH_FEED_DEEP_PAGES pages of For You; their snapshots are kept
#      and put back before every run of the "later page" route, which asks for the next page
#      of those scrolls (the query then excludes the ids already shown). Each route is warmed up,
#      then BENCH_FEED_ROUNDS rounds run every route on every build in turn (A/B
#      interleaved), wrk rotating the viewer on each request (bench/feed.lua). Around each
#      run pg_stat_statements is reset and read: PostgreSQL's planning and execution time
#      per page, and how often the page's main statement was planned.
#   3. EXPLAIN (ANALYZE) of the For You candidate query (its text read from the binary) for
#      20 viewers, on a first page and with 100 ids already shown: planning and execution,
#      planned on every run (custom plan, what an unprepared statement costs) and with the
#      generic plan a prepared statement settles on, the four alternating for each viewer;
#      BENCH_FEED_EXPLAIN_REPS passes over the viewers after a warm-up pass; medians.
#
# Environment (defaults in brackets):
#   BENCH_FEED_USERS [2000]  BENCH_FEED_POSTS [20000]  BENCH_FEED_FOLLOWS per user [50]
#   BENCH_FEED_LIKES per user [30]  BENCH_FEED_EVENTS [300000]
#   BENCH_FEED_DURATION seconds per wrk run [10]  BENCH_FEED_ROUNDS [3]
#   BENCH_FEED_CONNS wrk connections [16]  BENCH_FEED_EXPLAIN_REPS [2]
#   BENCH_FEED_DEEP_VIEWERS [200]  BENCH_FEED_DEEP_PAGES pages scrolled before [5]
#   BENCH_FEED_BUILD_B a second build directory to measure against FLICK_BUILD [none]
#   BENCH_FEED_LABEL_A, BENCH_FEED_LABEL_B what the two builds are, for the report
#   BENCH_FEED_PG_PORT [25882]  BENCH_FEED_REDIS_PORT [26832]  BENCH_FEED_FLICK_PORT [28390]
#   (build B listens on BENCH_FEED_FLICK_PORT + 1)  FLICK_BUILD [build]
#   FLICK_MIGRATIONS_DIR [migrations]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh

BUILD=${FLICK_BUILD:-build}
BUILD_B=${BENCH_FEED_BUILD_B:-}
USERS=${BENCH_FEED_USERS:-2000}
POSTS=${BENCH_FEED_POSTS:-20000}
FOLLOWS=${BENCH_FEED_FOLLOWS:-50}
LIKES=${BENCH_FEED_LIKES:-30}
EVENTS=${BENCH_FEED_EVENTS:-300000}
DURATION=${BENCH_FEED_DURATION:-10}
ROUNDS=${BENCH_FEED_ROUNDS:-3}
CONNS=${BENCH_FEED_CONNS:-16}
EXPLAIN_REPS=${BENCH_FEED_EXPLAIN_REPS:-2}
EXPLAIN_VIEWERS=20
DEEP_VIEWERS=${BENCH_FEED_DEEP_VIEWERS:-200}
DEEP_PAGES=${BENCH_FEED_DEEP_PAGES:-5}
FLICK_PORT=${BENCH_FEED_FLICK_PORT:-28390}
WRK_THREADS=2
SERVER_THREADS=2
RANK_MAX_S=300
if [ -n "${MAKELEVEL:-}" ]; then COMMAND="make bench"; else COMMAND="bash bench/feed.sh"; fi

export FLICK_VAR="$ROOT/var/bench-feed"
export FLICK_PG_PORT=${BENCH_FEED_PG_PORT:-25882}
export FLICK_REDIS_PORT=${BENCH_FEED_REDIS_PORT:-26832}
export FLICK_PG_FAST=1
export FLICK_SECRET=bench-secret
export FLICK_MIGRATIONS_DIR=${FLICK_MIGRATIONS_DIR:-$ROOT/migrations}
export FLICK_DATA_DIR="$FLICK_VAR/data"
export BENCH_FEED_USERS=$USERS

RAW="$FLICK_VAR/wrk"
REPORT="$ROOT/bench/REPORT.md"
LUA="$ROOT/bench/feed.lua"
BEGIN_MARK="<!-- feed:begin -->"
END_MARK="<!-- feed:end -->"
ROUTES="foryou deep following trending"
declare -A ROUTE_PATH=([foryou]=/v1/feed [deep]=/v1/feed [following]=/v1/feed/following [trending]=/v1/feed/trending)
declare -A ROUTE_NAME=([foryou]="GET /v1/feed, first page" [deep]="GET /v1/feed, page $((DEEP_PAGES + 1))"
                       [following]="GET /v1/feed/following" [trending]="GET /v1/feed/trending")
CURSORS="$FLICK_VAR/cursors.txt"

die() { echo "bench-feed: $*" >&2; exit 1; }
note() { echo "bench-feed: $*" >&2; }

for n in "$USERS" "$POSTS" "$FOLLOWS" "$LIKES" "$EVENTS" "$DURATION" "$ROUNDS" "$CONNS" "$EXPLAIN_REPS" \
         "$DEEP_VIEWERS" "$DEEP_PAGES"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "the BENCH_FEED_* counts must be positive whole numbers"
done
[ "$USERS" -ge 20 ] || die "BENCH_FEED_USERS must be at least 20"
[ "$DEEP_VIEWERS" -le "$USERS" ] || die "BENCH_FEED_DEEP_VIEWERS must not exceed BENCH_FEED_USERS"
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v curl >/dev/null || die "curl is not installed"
command -v psql >/dev/null || die "psql is not installed"
command -v redis-cli >/dev/null || die "redis-cli is not installed"

# Builds: A always, B when asked for. Each runs from a copy under its own name (as in
# bench/run.sh): one build is measured throughout, and tools that stop every process called
# flickd leave it alone.
BUILDS=a
declare -A BDIR=([a]=$BUILD) LABEL=([a]=${BENCH_FEED_LABEL_A:-$BUILD}) PORT=([a]=$FLICK_PORT)
if [ -n "$BUILD_B" ]; then
    BUILDS="a b"
    BDIR[b]=$BUILD_B
    LABEL[b]=${BENCH_FEED_LABEL_B:-$BUILD_B}
    PORT[b]=$((FLICK_PORT + 1))
fi
for b in $BUILDS; do
    [ -x "$ROOT/${BDIR[$b]}/flickd" ] || die "$ROOT/${BDIR[$b]}/flickd is missing; run make first"
done

# ---- processes and cleanup ----

declare -A server_pid=()
wrk_pid=
rank_pid=

cleanup() {
    trap - EXIT INT TERM
    stop_pid "$wrk_pid"
    stop_pid "$rank_pid"
    for b in "${!server_pid[@]}"; do stop_pid "${server_pid[$b]}"; done
    bash scripts/services.sh down >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

status_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---- services, schema, data ----

note "starting PostgreSQL ($FLICK_PG_PORT) and Redis ($FLICK_REDIS_PORT) under var/bench-feed"
bash scripts/services.sh down >/dev/null 2>&1
old_pg=$(readlink "$FLICK_VAR/pg" 2>/dev/null || true)
case "$old_pg" in /var/tmp/flick-*/pg) rm -rf "$old_pg" ;; esac
rm -rf "$FLICK_VAR"
mkdir -p "$RAW" "$FLICK_VAR/bin"
for b in $BUILDS; do cp "$ROOT/${BDIR[$b]}/flickd" "$FLICK_VAR/bin/flick-bench-$b"; done
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- api core feed media ranking migrations Makefile 2>/dev/null | wc -l)
# A port in the ephemeral range can be held for a while by someone's closed connection: retry.
for try in 1 2 3 4; do
    bash scripts/services.sh up >/dev/null && break
    [ $try = 4 ] && die "services did not start"
    sleep 10
done
eval "$(bash scripts/services.sh env | sed 's/^/export /')"
DB=$FLICK_DATABASE_URL
sql() { psql "$DB" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

# pg_stat_statements must be loaded at server start: set it, then restart the throw-away server.
sql -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null || die "ALTER SYSTEM failed"
bash scripts/services.sh pg-stop >/dev/null && bash scripts/services.sh pg-start >/dev/null || die "PostgreSQL did not restart"
sql -c "ALTER SYSTEM SET pg_stat_statements.track_planning = on" -c "SELECT pg_reload_conf()" >/dev/null ||
    die "pg_stat_statements is not available (postgresql-contrib)"
sql -c "CREATE EXTENSION pg_stat_statements" >/dev/null || die "CREATE EXTENSION pg_stat_statements failed"

"$ROOT/$BUILD/flickd" migrate >/dev/null || die "migrate failed"
note "seeding: $USERS users, $POSTS posts, ~$FOLLOWS follows and ~$LIKES likes per user, $EVENTS events"
T_SEED=$SECONDS
sql -v users="$USERS" -v posts="$POSTS" -v follows="$FOLLOWS" -v likes="$LIKES" -v events="$EVENTS" \
    -f bench/feed_seed.sql >"$FLICK_VAR/seed.log" 2>&1 || { cat "$FLICK_VAR/seed.log" >&2; die "seeding failed"; }
SEED_S=$((SECONDS - T_SEED))
read -r N_USERS N_FOLLOWS N_POSTS N_FOLLOWERS_ONLY N_REMIXES N_CAMEOS N_LIKES N_EVENTS N_RECENT <<<"$(sql -F' ' -c "
    SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM follows),
           (SELECT count(*) FROM posts WHERE status = 'published'),
           (SELECT count(*) FROM posts WHERE visibility = 'followers'),
           (SELECT count(*) FROM posts WHERE remix_of IS NOT NULL), (SELECT count(*) FROM post_cameos),
           (SELECT count(*) FROM likes), (SELECT count(*) FROM events),
           (SELECT count(*) FROM posts WHERE published_at > now() - interval '72 hours')")"

note "folding the events with flickd rank"
T_RANK=$SECONDS
FLICK_LOG_LEVEL=warn "$FLICK_VAR/bin/flick-bench-a" rank >>"$FLICK_VAR/rank.log" 2>&1 &
rank_pid=$!
last_event=$(sql -c "SELECT COALESCE(max(id), 0) FROM events")
while :; do
    kill -0 "$rank_pid" 2>/dev/null || die "flickd rank exited; see $FLICK_VAR/rank.log"
    folded=$(sql -c "SELECT COALESCE((SELECT last_id FROM event_offsets WHERE consumer = 'rank'), 0)" 2>/dev/null || echo 0)
    trending=$(redis-cli -p "$FLICK_REDIS_PORT" ZCARD 'rank:{trending}' 2>/dev/null || echo 0)
    [ "${folded:-0}" -ge "$last_event" ] && [ "${trending:-0}" -gt 0 ] && break
    [ $((SECONDS - T_RANK)) -lt $RANK_MAX_S ] || die "the rank role did not catch up within $RANK_MAX_S s"
    sleep 1
done
stop_pid "$rank_pid"; rank_pid=
RANK_S=$((SECONDS - T_RANK))
N_TRENDING=$(redis-cli -p "$FLICK_REDIS_PORT" ZCARD 'rank:{trending}')

# ---- servers ----

for b in $BUILDS; do
    port=${PORT[$b]}
    port_busy "$port" && die "port $port is already in use (set BENCH_FEED_FLICK_PORT)"
    for try in 1 2 3 4 5 6; do
        env FLICK_LISTEN="127.0.0.1:$port" FLICK_THREADS=$SERVER_THREADS FLICK_LOG_LEVEL=warn \
            FLICK_MAX_CONNS_PER_IP=100000 "$FLICK_VAR/bin/flick-bench-$b" serve >>"$FLICK_VAR/flickd-$b.log" 2>&1 &
        server_pid[$b]=$!
        wait_http "http://127.0.0.1:$port/healthz" && break
        # As for the services: a closed connection may still hold the port for a while.
        kill -0 "${server_pid[$b]}" 2>/dev/null || ! grep -q "Address already in use" "$FLICK_VAR/flickd-$b.log" ||
            [ $try = 6 ] && die "flickd ($b) did not answer; see $FLICK_VAR/flickd-$b.log"
        note "port $port is held by a closed connection; trying again in 10 s"
        sleep 10
    done
done

token_of() { local t; t=$(printf 'feedbench%08d' "$1"); printf '%s%s' "$t" "$(printf '%*s' $((43 - ${#t})) '' | tr ' ' x)"; }
for b in $BUILDS; do
    for route in $ROUTES; do
        url="http://127.0.0.1:${PORT[$b]}${ROUTE_PATH[$route]}"
        out=$(curl -s -H "Authorization: Bearer $(token_of 7)" "$url")
        # A page with items starts its list with an object.
        grep -q '"items": *\[{' <<<"$out" || die "GET $url answered no items: ${out:0:300}"
    done
done

# Long scrolls: DEEP_VIEWERS viewers spread over the users scroll DEEP_PAGES pages of For You
# (4 at a time); "<user> <cursor>" of each goes to $CURSORS, and a copy of each snapshot is
# kept so that every run of the later-page route starts from the same scrolls.
note "scrolling $DEEP_PAGES pages of For You for $DEEP_VIEWERS viewers"
scroll() {  # scroll USER: follows the cursor DEEP_PAGES pages, prints "USER CURSOR"
    local user=$1 cursor="" i out
    for i in $(seq 1 "$DEEP_PAGES"); do
        out=$(curl -s -H "Authorization: Bearer $(token_of "$user")" "$SCROLL_URL${cursor:+?cursor=$cursor}") || return 1
        cursor=$(sed -n 's/.*"next_cursor": *"\([^"]*\)".*/\1/p' <<<"$out")
        [ -n "$cursor" ] || return 1
    done
    echo "$user $cursor"
}
export -f scroll token_of
export DEEP_PAGES SCROLL_URL="http://127.0.0.1:${PORT[a]}/v1/feed"
# Only these scrolls may have snapshots (the answers checked above started some).
redis-cli -p "$FLICK_REDIS_PORT" --scan --pattern 'rank:{feed:*}:*' | awk '{ print "DEL", $1 }' |
    redis-cli -p "$FLICK_REDIS_PORT" >/dev/null
seq 1 "$DEEP_VIEWERS" | awk -v n="$USERS" -v k="$DEEP_VIEWERS" '{ print 1 + int(($1 - 1) * n / k) }' |
    xargs -P 4 -I{} bash -c 'scroll {}' >"$CURSORS"
[ "$(wc -l <"$CURSORS")" -eq "$DEEP_VIEWERS" ] || die "only $(wc -l <"$CURSORS") of $DEEP_VIEWERS scrolls reached page $((DEEP_PAGES + 1))"
redis-cli -p "$FLICK_REDIS_PORT" --scan --pattern 'rank:{feed:*}:*' >"$FLICK_VAR/snapshots.txt"
[ "$(wc -l <"$FLICK_VAR/snapshots.txt")" -eq "$DEEP_VIEWERS" ] || die "expected $DEEP_VIEWERS scroll snapshots in Redis"
awk '{ print "COPY", $1, $1 ":kept" }' "$FLICK_VAR/snapshots.txt" | redis-cli -p "$FLICK_REDIS_PORT" >/dev/null
restore_scrolls() {
    awk '{ print "COPY", $1 ":kept", $1, "REPLACE" }' "$FLICK_VAR/snapshots.txt" |
        redis-cli -p "$FLICK_REDIS_PORT" | grep -cx 1 | grep -qx "$DEEP_VIEWERS" || die "cannot put the scroll snapshots back"
}
SHOWN=$(( $(redis-cli -p "$FLICK_REDIS_PORT" GET "$(head -1 "$FLICK_VAR/snapshots.txt")" | tr -cd ',' | wc -c) + 1 ))

# run_wrk NAME SECONDS URL [CURSORS]: one wrk run, raw output in $RAW/NAME.txt.
run_wrk() {
    local name=$1 secs=$2 url=$3
    BENCH_FEED_CURSORS=${4:-} timeout -k 5 $((secs + 60)) wrk -t"$WRK_THREADS" -c"$CONNS" -d"${secs}s" \
        --latency -s "$LUA" "$url" >"$RAW/$name.txt" 2>&1 &
    wrk_pid=$!
    if ! wait "$wrk_pid"; then
        wrk_pid=
        cat "$RAW/$name.txt" >&2
        die "wrk run $name failed"
    fi
    wrk_pid=
}

# PostgreSQL's view of the statements since the last reset: "plan_ms exec_ms pages plans
# top_plan_ms top_exec_ms" where pages is the calls of the most expensive statement (one
# per page), plan and exec the totals over every statement, and top_* that statement's
# means per call.
pg_reset() { sql -c "SELECT pg_stat_statements_reset()" >/dev/null; }
pg_read() {
    sql -F' ' -c "
        WITH s AS (SELECT * FROM pg_stat_statements
                   WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                     AND query NOT LIKE '%pg_stat_statements%'),
             top AS (SELECT * FROM s ORDER BY total_plan_time + total_exec_time DESC LIMIT 1)
        SELECT round(sum(s.total_plan_time)::numeric, 3), round(sum(s.total_exec_time)::numeric, 3),
               (SELECT calls FROM top), (SELECT plans FROM top),
               (SELECT round((total_plan_time / greatest(calls, 1))::numeric, 3) FROM top),
               (SELECT round(mean_exec_time::numeric, 3) FROM top)
        FROM s"
}

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED_AT=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
T0=$SECONDS
WARM=$(( DURATION < 3 ? DURATION : 3 ))

deep_cursors() { [ "$1" = deep ] && echo "$CURSORS"; }
note "warm-up (${WARM} s per route and build)"
for b in $BUILDS; do
    for route in $ROUTES; do
        [ "$route" = deep ] && restore_scrolls
        run_wrk "warmup-$route-$b" "$WARM" "http://127.0.0.1:${PORT[$b]}${ROUTE_PATH[$route]}" "$(deep_cursors "$route")"
    done
done

declare -A res pgs
for r in $(seq 1 "$ROUNDS"); do
    for route in $ROUTES; do
        for b in $BUILDS; do
            note "round $r/$ROUNDS: ${ROUTE_NAME[$route]} on ${LABEL[$b]} (${DURATION} s, $CONNS connections)"
            sleep 0.5
            [ "$route" = deep ] && restore_scrolls
            pg_reset
            run_wrk "$route-$b-r$r" "$DURATION" "http://127.0.0.1:${PORT[$b]}${ROUTE_PATH[$route]}" "$(deep_cursors "$route")"
            sleep 0.5
            res[$route,$b,$r]=$(parse_wrk "$RAW/$route-$b-r$r.txt")
            pgs[$route,$b,$r]=$(pg_read)
        done
    done
done
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A hwm rss
for b in $BUILDS; do
    hwm[$b]=$(status_kib "${server_pid[$b]}" VmHWM)
    rss[$b]=$(status_kib "${server_pid[$b]}" VmRSS)
done

# ---- EXPLAIN of the For You candidate query ----

FY_SQL=$(strings -n 500 "$FLICK_VAR/bin/flick-bench-a" | grep '^WITH fol' | grep -F 'JOIN liked l ON p.remix_of' | head -1)
explain_ok=0
if [ -n "$FY_SQL" ]; then
    note "EXPLAIN (ANALYZE) of the For You query for $EXPLAIN_VIEWERS viewers"
    trending_ids="{$(redis-cli -p "$FLICK_REDIS_PORT" ZREVRANGE 'rank:{trending}' 0 299 | paste -sd, -)}"
    shown_ids="{$(sql -c "SELECT string_agg(id::text, ',') FROM (SELECT id FROM posts WHERE status = 'published'
                          ORDER BY published_at DESC LIMIT 100) s")}"
    # Kinds: 0, 1 first page, custom then generic; 2, 3 100 ids shown, custom then generic.
    # The four alternate for each viewer, so a busy moment of the machine falls on all of them.
    {
        echo "\\set tr '$trending_ids'"
        echo "\\set sh '$shown_ids'"
        echo "PREPARE fy(bigint, boolean, text, bigint[], bigint[], boolean) AS $FY_SQL;"
        for pass in $(seq 0 "$EXPLAIN_REPS"); do
            for i in $(seq 0 $((EXPLAIN_VIEWERS - 1))); do
                viewer=$((1 + i * USERS / EXPLAIN_VIEWERS))
                for m in 0 1 2 3; do
                    shown="'{}'"; [ $m -ge 2 ] && shown=":'sh'"
                    mode=force_custom_plan; [ $((m % 2)) = 1 ] && mode=force_generic_plan
                    echo "SET plan_cache_mode = $mode;"
                    echo "\\echo kind $m pass $pass"
                    echo "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY) EXECUTE fy($viewer, false, 'user', :'tr', $shown, false);"
                done
            done
        done
    } >"$FLICK_VAR/explain.sql"
    if psql "$DB" -X -q -v ON_ERROR_STOP=1 -f "$FLICK_VAR/explain.sql" >"$FLICK_VAR/explain.txt" 2>&1; then
        explain_ok=1
        times() {  # times KIND Planning|Execution: that kind's times, the warm-up pass left out
            awk -v k="$1" -v f="$2" '$1 == "kind" { kind = $2; pass = $4 }
                $1 == f && $2 == "Time:" && kind == k && pass > 0 { print $3 }' "$FLICK_VAR/explain.txt"
        }
        declare -A ex
        for m in 0 1 2 3; do
            ex[$m,plan]=$(median $(times $m Planning))
            ex[$m,exec]=$(median $(times $m Execution))
            ex[$m,n]=$(times $m Execution | wc -l)
            ex[$m,share]=$(awk -v p="${ex[$m,plan]}" -v e="${ex[$m,exec]}" 'BEGIN { printf "%.1f", 100 * p / (p + e) }')
            ex[$m,total]=$(awk -v p="${ex[$m,plan]}" -v e="${ex[$m,exec]}" 'BEGIN { print p + e }')
        done
    else
        note "EXPLAIN failed; see $FLICK_VAR/explain.txt"
    fi
fi
ELAPSED=$((SECONDS - T0))

# ---- figures ----

declare -A med
for route in $ROUTES; do
    for b in $BUILDS; do
        k=$route,$b
        for f in 1 2 3; do
            vals=()
            for r in $(seq 1 "$ROUNDS"); do vals+=("$(col $f <<<"${res[$k,$r]}")"); done
            med[$k,$f]=$(median "${vals[@]}")
        done
        # PostgreSQL per page: totals over every statement divided by the pages served.
        plan=(); exec=(); share=(); planned=(); runs=""; bad=0
        for r in $(seq 1 "$ROUNDS"); do
            read -r tp te pages plans _ _ <<<"${pgs[$k,$r]}"
            pages=${pages:-0}; [ "$pages" -gt 0 ] || pages=1
            plan+=("$(awk -v t="$tp" -v n="$pages" 'BEGIN { print t / n }')")
            exec+=("$(awk -v t="$te" -v n="$pages" 'BEGIN { print t / n }')")
            share+=("$(awk -v p="$tp" -v e="$te" 'BEGIN { print (p + e > 0 ? 100 * p / (p + e) : 0) }')")
            planned+=("$(awk -v p="${plans:-0}" -v n="$pages" 'BEGIN { print 100 * p / n }')")
            bad=$((bad + $(col 5 <<<"${res[$k,$r]}") + $(col 6 <<<"${res[$k,$r]}")))
            runs+="${runs:+, }$(fmt "$(col 1 <<<"${res[$k,$r]}")" 1)"
        done
        med[$k,plan]=$(median "${plan[@]}")
        med[$k,exec]=$(median "${exec[@]}")
        med[$k,share]=$(median "${share[@]}")
        med[$k,planned]=$(median "${planned[@]}")
        med[$k,bad]=$bad
        med[$k,runs]=$runs
    done
done

defaults=1
[ "$DURATION" = 10 ] && [ "$ROUNDS" = 3 ] && [ "$USERS" = 2000 ] && [ "$POSTS" = 20000 ] && [ "$EVENTS" = 300000 ] || defaults=0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

section="$FLICK_VAR/section.md"
{
    echo "$BEGIN_MARK"
    echo "## Feeds"
    echo
    echo "Written by \`bench/feed.sh\` (run by \`$COMMAND\`; \`make bench\` runs it after \`bench/media.sh\`) on"
    echo "$STARTED_AT; every figure in this section comes from that one run (${ELAPSED} s of measuring)."
    echo "Raw wrk outputs are in \`var/bench-feed/wrk/\` (not committed)."
    if [ $defaults = 0 ]; then
        echo
        echo "**Shortened or resized run** (BENCH_FEED_DURATION=$DURATION, BENCH_FEED_ROUNDS=$ROUNDS,"
        echo "BENCH_FEED_USERS=$USERS, BENCH_FEED_POSTS=$POSTS, BENCH_FEED_EVENTS=$EVENTS): not comparable with a default run."
    fi
    echo
    echo "- Load average when the measuring started: $LOADAVG_START; when the wrk rounds ended: $LOADAVG_END"
    echo "  ($(nproc) CPUs shared by wrk, flickd, PostgreSQL, Redis and whatever else runs on the machine)."
    changes=""
    [ "$dirty" -gt 0 ] && changes=" plus uncommitted changes ($dirty paths under api, core, feed, media, ranking, migrations, Makefile)"
    echo "- Tree at commit $commit$changes. Builds measured:"
    for b in $BUILDS; do echo "  - **${b^^}**: ${LABEL[$b]} (\`${BDIR[$b]}/flickd\`)"; done
    echo
    echo "### Data set and method"
    echo
    echo "- Made by \`bench/feed_seed.sql\` in ${SEED_S} s on a fresh database: $N_USERS users, each with a"
    echo "  session token; $N_FOLLOWS follows (about $((N_FOLLOWS / N_USERS)) per user, popular authors followed more);"
    echo "  $N_POSTS published posts over 7 days ($N_RECENT in the last 72 h, $N_FOLLOWERS_ONLY for followers only,"
    echo "  $N_REMIXES remixes, $N_CAMEOS cameo rows); $N_LIKES likes; $N_EVENTS events over 70 h. \`flickd rank\`"
    echo "  folded the events into Redis in ${RANK_S} s ($N_TRENDING posts trending), then stopped."
    echo "- flickd \`serve\`, FLICK_THREADS=$SERVER_THREADS, default pool (FLICK_DB_POOL=8 per thread), log level"
    echo "  warn; PostgreSQL 15 with fsync off and pg_stat_statements (track_planning on) loaded in both builds' runs."
    echo "- wrk: $WRK_THREADS threads, $CONNS connections, ${DURATION} s per run, \`--latency\`, loopback only;"
    echo "  \`bench/feed.lua\` signs each request in as the next of the $N_USERS viewers, so every page"
    echo "  does one viewer's work (first pages: For You and trending start a new scroll each time)."
    echo "- Later pages: $DEEP_VIEWERS viewers spread over the users each scrolled $DEEP_PAGES pages of For You"
    echo "  beforehand ($SHOWN ids in the first one's snapshot); their snapshots are put back before every"
    echo "  run of \"page $((DEEP_PAGES + 1))\", whose requests continue those scrolls in turn (a few pages deeper"
    echo "  by the end of a run), so the query excludes a hundred or more ids already shown."
    echo "- After a ${WARM} s warm-up of each route and build, $ROUNDS rounds; each round runs every route on"
    echo "  every build in turn (interleaved), so slow and fast moments of the shared machine fall on all"
    echo "  of them. Tables give medians of the $ROUNDS runs."
    echo "- PostgreSQL per page: pg_stat_statements is reset before each run and read after it; planning"
    echo "  and execution times summed over every statement of the run, divided by the pages served (the"
    echo "  calls of the run's costliest statement). \"Planned\" is how many of those calls were planned."
    echo "  With $CONNS connections on $(nproc) CPUs these are wall times that include waiting for a CPU: compare"
    echo "  them between builds of one run, not with the EXPLAIN figures below."
    echo
    echo "### Throughput and latency (medians of $ROUNDS)"
    echo
    echo "| route | build | requests/s | p50 ms | p99 ms | requests/s of each run | non-2xx + socket errors | PG planning ms/page | PG execution ms/page | planning share | main statement planned |"
    echo "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"
    for route in $ROUTES; do
        for b in $BUILDS; do
            k=$route,$b
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s %% | %s %% |\n' "${ROUTE_NAME[$route]}" "${b^^}" \
                "$(fmt "${med[$k,1]}" 1)" "$(fmt "${med[$k,2]}" 1)" "$(fmt "${med[$k,3]}" 1)" "${med[$k,runs]}" \
                "${med[$k,bad]}" "$(fmt "${med[$k,plan]}" 2)" "$(fmt "${med[$k,exec]}" 2)" \
                "$(fmt "${med[$k,share]}" 1)" "$(fmt "${med[$k,planned]}" 0)"
        done
    done
    if [ -n "$BUILD_B" ]; then
        echo
        echo "### A against B"
        echo
        echo "| route | requests/s A ÷ B | p50 A ÷ B | p99 A ÷ B | PG planning ms/page A / B | PG execution ms/page A / B |"
        echo "|---|---:|---:|---:|---:|---:|"
        for route in $ROUTES; do
            a=$route,a; bb=$route,b
            printf '| %s | %s | %s | %s | %s / %s | %s / %s |\n' "${ROUTE_NAME[$route]}" \
                "$(ratio "${med[$a,1]}" "${med[$bb,1]}")" "$(ratio "${med[$a,2]}" "${med[$bb,2]}")" \
                "$(ratio "${med[$a,3]}" "${med[$bb,3]}")" "$(fmt "${med[$a,plan]}" 2)" "$(fmt "${med[$bb,plan]}" 2)" \
                "$(fmt "${med[$a,exec]}" 2)" "$(fmt "${med[$bb,exec]}" 2)"
        done
    fi
    echo
    echo "### Memory"
    echo
    for b in $BUILDS; do
        echo "- flickd ${b^^} after all its runs: VmRSS $(mib "${rss[$b]}") MiB, peak (VmHWM) $(mib "${hwm[$b]}") MiB."
    done
    echo
    echo "### For You query: planning and execution"
    echo
    if [ $explain_ok = 1 ]; then
        echo "EXPLAIN (ANALYZE, TIMING OFF) of the For You candidate query as flickd sends it (text read from"
        echo "the binary), for $EXPLAIN_VIEWERS viewers spread over the users with the current trending list, on a"
        echo "first page (nothing shown yet) and with the newest 100 posts already shown (a later page),"
        echo "prepared in psql; the four cases alternate for each viewer, $EXPLAIN_REPS passes after a warm-up pass"
        echo "(${ex[0,n]} runs of each case); medians. \"Custom\" is planned with the values"
        echo "on every run (force_custom_plan: what an unprepared statement pays); \"generic\" is planned once"
        echo "without them (force_generic_plan: what a prepared statement runs once PostgreSQL switches, after 5)."
        echo
        echo "| page | plan | planning ms | execution ms | total ms | planning share |"
        echo "|---|---|---:|---:|---:|---:|"
        for m in 0 1 2 3; do
            page="first page"; [ $m -ge 2 ] && page="100 ids shown"
            plan=custom; [ $((m % 2)) = 1 ] && plan=generic
            echo "| $page | $plan | $(fmt "${ex[$m,plan]}" 2) | $(fmt "${ex[$m,exec]}" 2) | $(fmt "${ex[$m,total]}" 2) | ${ex[$m,share]} % |"
        done
        echo
        echo "An unprepared statement also pays parsing and analysis on every run, which EXPLAIN does not show"
        echo "(the per-page planning figures above, from pg_stat_statements, do not include them either)."
        echo
        echo "The For You and trending candidate queries test membership in array parameters (the ids already"
        echo "shown, the trending ids). core/db.c leaves such texts unprepared, so their main statement is"
        echo "planned on every page in every build: a generic plan cannot hash a parameter's list nor see its"
        echo "length, and on later pages that costs more than the planning it saves (the last two rows)."
    else
        echo "Not measured in this run (the query text was not found in the binary, or EXPLAIN failed)."
    fi
    echo "$END_MARK"
} >"$section"

put_section "$REPORT" "$BEGIN_MARK" "$END_MARK" "$section"
rm -f "$section"
note "wrote the Feeds section of bench/REPORT.md (${ELAPSED} s)"
sed -n "/^$BEGIN_MARK\$/,/^$END_MARK\$/p" "$REPORT" | sed -n '/^### Throughput/,$p'
