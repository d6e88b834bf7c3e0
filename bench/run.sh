#!/usr/bin/env bash
# bench/run.sh (`make bench`): measures flickd with wrk on loopback against bench/ceiling, a
# bare libevent evhttp server, and writes bench/REPORT.md from this run's figures only.
# PostgreSQL and Redis are throw-away instances under var/bench on their own ports; raw wrk
# outputs are kept in var/bench/wrk/. Every process started here is stopped on exit.
#
# Phases, each against a freshly started flickd (FLICK_THREADS=2):
#   1. ceiling, GET /healthz, GET /v1/me at 64 connections, and GET /v1/me of a second
#      flickd started with FLICK_CACHE=0, interleaved, BENCH_ROUNDS times; medians are
#      reported. flickd's VmHWM/VmRSS and its cache counters are read afterwards.
#   2. GET /v1/me at 256 connections, BENCH_ROUNDS times; VmHWM afterwards.
#   3. RSS flatness: GET /v1/me until BENCH_FLAT_REQUESTS requests, VmRSS; as many again, VmRSS.
#
# Environment (defaults in brackets):
#   BENCH_DURATION seconds per wrk run [15]     BENCH_ROUNDS runs per target [3]
#   BENCH_FLAT_REQUESTS requests per flatness half [1000000]
#   BENCH_FLAT_MAX_S time limit per flatness half, seconds [1500]
#   BENCH_PG_PORT [25832]  BENCH_REDIS_PORT [26779]  BENCH_FLICK_PORT [28090]
#   BENCH_CEILING_PORT [28091]  BENCH_NOCACHE_PORT [28092]  FLICK_BUILD [build]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh

BUILD=${FLICK_BUILD:-build}
DURATION=${BENCH_DURATION:-15}
ROUNDS=${BENCH_ROUNDS:-3}
FLAT_REQUESTS=${BENCH_FLAT_REQUESTS:-1000000}
FLAT_MAX_S=${BENCH_FLAT_MAX_S:-1500}
FLICK_PORT=${BENCH_FLICK_PORT:-28090}
CEILING_PORT=${BENCH_CEILING_PORT:-28091}
NOCACHE_PORT=${BENCH_NOCACHE_PORT:-28092}
WRK_THREADS=2
CONNS=64
CONNS_HIGH=256
SERVER_THREADS=2
RSS_LIMIT_MIB=64
THROUGHPUT_TARGET_PCT=50
P99_TARGET_MS=10
FLAT_TARGET_PCT=5
COMMAND="make bench"

export FLICK_VAR="$ROOT/var/bench"
export FLICK_PG_PORT=${BENCH_PG_PORT:-25832}
export FLICK_REDIS_PORT=${BENCH_REDIS_PORT:-26779}
export FLICK_PG_FAST=1
export FLICK_SECRET=bench-secret
export FLICK_MIGRATIONS_DIR="$ROOT/migrations"
export FLICK_DATA_DIR="$FLICK_VAR/data"

FLICKD="$ROOT/$BUILD/flickd"
CEILING="$ROOT/$BUILD/bench/ceiling"
# The server runs from a copy of flickd under its own name: the whole run measures one build
# even if build/ is remade meanwhile, and tools on a shared machine that stop every process
# called flickd leave it alone.
SERVER="$FLICK_VAR/bin/flick-bench"
RAW="$FLICK_VAR/wrk"
REPORT="$ROOT/bench/REPORT.md"

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

for n in "$DURATION" "$ROUNDS" "$FLAT_REQUESTS" "$FLAT_MAX_S"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "BENCH_DURATION, BENCH_ROUNDS, BENCH_FLAT_REQUESTS and BENCH_FLAT_MAX_S must be positive whole numbers"
done
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v curl >/dev/null || die "curl is not installed"
[ -x "$FLICKD" ] || die "$FLICKD is missing; run make first"
if [ ! -x "$CEILING" ] || [ "$CEILING" -ot bench/ceiling.c ]; then
    make --no-print-directory BUILD="$BUILD" "$BUILD/bench/ceiling" >/dev/null || die "cannot build $CEILING"
fi

# ---- processes and cleanup ----

flickd_pid=
ceiling_pid=
wrk_pid=
nocache_pid=

cleanup() {
    trap - EXIT INT TERM
    stop_pid "$wrk_pid"
    stop_pid "$flickd_pid"
    stop_pid "$nocache_pid"
    stop_pid "$ceiling_pid"
    bash scripts/services.sh down >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server PORT [VAR=VALUE ...]: a flickd serve on PORT, its pid in $server_pid.
start_server() {
    local port=$1
    shift
    port_busy "$port" && die "port $port is already in use (set BENCH_FLICK_PORT / BENCH_NOCACHE_PORT)"
    env FLICK_LISTEN="127.0.0.1:$port" FLICK_THREADS=$SERVER_THREADS FLICK_LOG_LEVEL=warn \
        FLICK_MAX_CONNS_PER_IP=100000 "$@" "$SERVER" serve >>"$FLICK_VAR/flickd.log" 2>&1 &
    server_pid=$!
    wait_http "http://127.0.0.1:$port/healthz" || die "flickd did not answer; see $FLICK_VAR/flickd.log"
}

start_flickd() { start_server "$FLICK_PORT"; flickd_pid=$server_pid; }

stop_flickd() { stop_pid "$flickd_pid"; flickd_pid=; }

status_kib() {  # status_kib PID FIELD: a kB field of /proc/PID/status
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# ---- wrk runs ----

# run_wrk NAME CONNECTIONS SECONDS URL [LUA]: one wrk run, raw output in $RAW/NAME.txt.
run_wrk() {
    local name=$1 conns=$2 secs=$3 url=$4 lua=${5:-}
    local args=(-t"$WRK_THREADS" -c"$conns" -d"${secs}s" --latency)
    [ -n "$lua" ] && args+=(-s "$lua")
    timeout -k 5 $((secs + 60)) wrk "${args[@]}" "$url" >"$RAW/$name.txt" 2>&1 &
    wrk_pid=$!
    if ! wait "$wrk_pid"; then
        wrk_pid=
        cat "$RAW/$name.txt" >&2
        server_gone "$flickd_pid" flickd
        server_gone "$ceiling_pid" "the ceiling server"
        die "wrk run $name failed"
    fi
    wrk_pid=
}

server_gone() {  # server_gone PID NAME: says so if a server we started has exited
    [ -n "$1" ] && ! kill -0 "$1" 2>/dev/null || return 0
    local rc=0
    wait "$1" || rc=$?
    note "$2 (pid $1) has exited with status $rc$([ $rc -gt 128 ] && echo ", signal $((rc - 128))")"
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---- services, schema, a user ----

note "starting PostgreSQL ($FLICK_PG_PORT) and Redis ($FLICK_REDIS_PORT) under var/bench"
bash scripts/services.sh down >/dev/null 2>&1
old_pg=$(readlink "$FLICK_VAR/pg" 2>/dev/null || true)
case "$old_pg" in /var/tmp/flick-*/pg) rm -rf "$old_pg" ;; esac
rm -rf "$FLICK_VAR"
mkdir -p "$RAW" "$(dirname "$SERVER")"
cp "$FLICKD" "$SERVER"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- api core feed media ranking migrations Makefile 2>/dev/null | wc -l)
bash scripts/services.sh up >/dev/null || die "services did not start"
eval "$(bash scripts/services.sh env | sed 's/^/export /')"
"$FLICKD" migrate >/dev/null || die "migrate failed"
TOKEN=$("$FLICKD" admin create-user "bench_$(date +%s)" --role user) || die "create-user failed"
[ -n "$TOKEN" ] || die "create-user printed no token"
export BENCH_TOKEN=$TOKEN

CEIL_URL="http://127.0.0.1:$CEILING_PORT/"
HEALTH_URL="http://127.0.0.1:$FLICK_PORT/healthz"
ME_URL="http://127.0.0.1:$FLICK_PORT/v1/me"
NOCACHE_URL="http://127.0.0.1:$NOCACHE_PORT/v1/me"
ME_LUA="$ROOT/bench/me.lua"

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED_AT=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
T0=$SECONDS

# ---- phase 1: interleaved rounds at 64 connections ----

port_busy "$CEILING_PORT" && die "port $CEILING_PORT is already in use (set BENCH_CEILING_PORT)"
"$CEILING" "$CEILING_PORT" "$SERVER_THREADS" >>"$FLICK_VAR/ceiling.log" 2>&1 &
ceiling_pid=$!
wait_http "$CEIL_URL" || die "the ceiling server did not answer"
start_flickd
start_server "$NOCACHE_PORT" FLICK_CACHE=0
nocache_pid=$server_pid
for url in "$ME_URL" "$NOCACHE_URL"; do
    me_status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$url")
    [ "$me_status" = 200 ] || die "GET $url with the bench token answered $me_status"
done

WARM=$(( DURATION < 3 ? DURATION : 3 ))
note "warm-up (${WARM} s per target)"
run_wrk warmup-ceiling $CONNS $WARM "$CEIL_URL"
run_wrk warmup-healthz $CONNS $WARM "$HEALTH_URL"
run_wrk warmup-me $CONNS $WARM "$ME_URL" "$ME_LUA"
run_wrk warmup-nocache $CONNS $WARM "$NOCACHE_URL" "$ME_LUA"

declare -A res
for r in $(seq 1 "$ROUNDS"); do
    note "round $r/$ROUNDS: ceiling, /healthz, /v1/me, /v1/me uncached (${DURATION} s each, $CONNS connections)"
    run_wrk "ceiling-c$CONNS-r$r" $CONNS "$DURATION" "$CEIL_URL"
    res[ceiling,$r]=$(parse_wrk "$RAW/ceiling-c$CONNS-r$r.txt")
    run_wrk "healthz-c$CONNS-r$r" $CONNS "$DURATION" "$HEALTH_URL"
    res[healthz,$r]=$(parse_wrk "$RAW/healthz-c$CONNS-r$r.txt")
    run_wrk "me-c$CONNS-r$r" $CONNS "$DURATION" "$ME_URL" "$ME_LUA"
    res[me,$r]=$(parse_wrk "$RAW/me-c$CONNS-r$r.txt")
    run_wrk "nocache-c$CONNS-r$r" $CONNS "$DURATION" "$NOCACHE_URL" "$ME_LUA"
    res[nocache,$r]=$(parse_wrk "$RAW/nocache-c$CONNS-r$r.txt")
done

# cache_counter CACHE RESULT: flick_cache_lookups_total of the cached flickd.
metrics=$(curl -s "http://127.0.0.1:$FLICK_PORT/metrics")
cache_counter() {
    awk -v k="flick_cache_lookups_total{cache=\"$1\",result=\"$2\"}" '$1 == k { print $2 }' <<<"$metrics"
}
VIEW_HIT=$(cache_counter viewers hit); VIEW_MISS=$(cache_counter viewers miss)
PROF_HIT=$(cache_counter profiles hit); PROF_MISS=$(cache_counter profiles miss)
stop_pid "$nocache_pid"; nocache_pid=
HWM64=$(status_kib "$flickd_pid" VmHWM)
RSS64=$(status_kib "$flickd_pid" VmRSS)
ANON64=$(status_kib "$flickd_pid" RssAnon)
FILE64=$(status_kib "$flickd_pid" RssFile)
CEIL_HWM=$(status_kib "$ceiling_pid" VmHWM)
stop_pid "$ceiling_pid"; ceiling_pid=
stop_flickd

# ---- phase 2: /v1/me at 256 connections ----

start_flickd
run_wrk warmup-me-c$CONNS_HIGH $CONNS_HIGH "$WARM" "$ME_URL" "$ME_LUA"
for r in $(seq 1 "$ROUNDS"); do
    note "/v1/me at $CONNS_HIGH connections, run $r/$ROUNDS"
    run_wrk "me-c$CONNS_HIGH-r$r" $CONNS_HIGH "$DURATION" "$ME_URL" "$ME_LUA"
    res[me256,$r]=$(parse_wrk "$RAW/me-c$CONNS_HIGH-r$r.txt")
done
HWM256=$(status_kib "$flickd_pid" VmHWM)
RSS256=$(status_kib "$flickd_pid" VmRSS)
stop_flickd

# ---- phase 3: RSS flatness over 2 x FLAT_REQUESTS requests of /v1/me ----

# drive_until TOTAL: more wrk runs of /v1/me until $flat_done >= TOTAL. Each run is sized
# from the rate so far (at most 20 s), so the overshoot stays small; the time is bounded by
# FLAT_MAX_S per call. Returns 1 if the limit came first.
flat_done=0
flat_chunk=0
flat_rate=0
flat_errors=0
drive_until() {
    local total=$1 start=$SECONDS secs line n
    while [ "$flat_done" -lt "$total" ]; do
        [ $((SECONDS - start)) -lt "$FLAT_MAX_S" ] || return 1
        if [ "$flat_rate" = 0 ]; then secs=2
        else secs=$(awk -v left=$((total - flat_done)) -v rate="$flat_rate" \
                     'BEGIN { s = int(left / rate + 0.999); print (s < 1 ? 1 : (s > 20 ? 20 : s)) }')
        fi
        flat_chunk=$((flat_chunk + 1))
        run_wrk "flat-$flat_chunk" $CONNS "$secs" "$ME_URL" "$ME_LUA"
        line=$(parse_wrk "$RAW/flat-$flat_chunk.txt")
        n=$(col 4 <<<"$line")
        flat_done=$((flat_done + n))
        flat_rate=$(col 1 <<<"$line")
        flat_errors=$((flat_errors + $(col 5 <<<"$line") + $(col 6 <<<"$line")))
        [ "$n" -gt 0 ] || return 1
    done
}

start_flickd
note "RSS flatness: /v1/me until $FLAT_REQUESTS requests, then $((2 * FLAT_REQUESTS))"
FLAT1_OK=1; FLAT2_OK=1
drive_until "$FLAT_REQUESTS" || FLAT1_OK=0
sleep 1
FLAT1_N=$flat_done
FLAT1_RSS=$(status_kib "$flickd_pid" VmRSS)
if [ $FLAT1_OK = 1 ]; then
    drive_until $((2 * FLAT_REQUESTS)) || FLAT2_OK=0
else
    FLAT2_OK=0
fi
sleep 1
FLAT2_N=$flat_done
FLAT2_RSS=$(status_kib "$flickd_pid" VmRSS)
FLAT_HWM=$(status_kib "$flickd_pid" VmHWM)
stop_flickd
ELAPSED=$((SECONDS - T0))

# ---- figures ----

declare -A med
for t in ceiling healthz me nocache me256; do
    for f in 1 2 3; do
        vals=()
        for r in $(seq 1 "$ROUNDS"); do vals+=("$(col $f <<<"${res[$t,$r]}")"); done
        med[$t,$f]=$(median "${vals[@]}")
    done
    bad=0; runs=""
    for r in $(seq 1 "$ROUNDS"); do
        bad=$((bad + $(col 5 <<<"${res[$t,$r]}") + $(col 6 <<<"${res[$t,$r]}")))
        runs+="${runs:+, }$(fmt "$(col 1 <<<"${res[$t,$r]}")" 0)"
    done
    med[$t,bad]=$bad
    med[$t,runs]=$runs
done

RATIO=$(awk -v a="${med[me,1]}" -v b="${med[ceiling,1]}" 'BEGIN { printf "%.1f", (b > 0 ? 100 * a / b : 0) }')
NOCACHE_RATIO=$(awk -v a="${med[nocache,1]}" -v b="${med[ceiling,1]}" 'BEGIN { printf "%.1f", (b > 0 ? 100 * a / b : 0) }')
HEALTH_RATIO=$(awk -v a="${med[healthz,1]}" -v b="${med[ceiling,1]}" 'BEGIN { printf "%.1f", (b > 0 ? 100 * a / b : 0) }')
LIMIT_KIB=$((RSS_LIMIT_MIB * 1024))
V_RATIO=$(verdict "$RATIO >= $THROUGHPUT_TARGET_PCT && ${med[me,bad]} == 0")
V_P99=$(verdict "${med[me,3]} <= $P99_TARGET_MS && ${med[me,bad]} == 0")
V_HWM64=$(verdict "$HWM64 <= $LIMIT_KIB")
V_HWM256=$(verdict "$HWM256 <= $LIMIT_KIB && ${med[me256,bad]} == 0")
FLAT_PCT=$(awk -v a="$FLAT1_RSS" -v b="$FLAT2_RSS" 'BEGIN { printf "%+.1f", (a > 0 ? 100 * (b - a) / a : 0) }')
V_FLAT=$(verdict "$FLAT1_OK && $FLAT2_OK && $FLAT_PCT <= $FLAT_TARGET_PCT && $FLAT_PCT >= -$FLAT_TARGET_PCT")

defaults=1
[ "$DURATION" = 15 ] && [ "$ROUNDS" = 3 ] && [ "$FLAT_REQUESTS" = 1000000 ] || defaults=0

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
wrk_version=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')
libevent_version=$(pkg-config --modversion libevent 2>/dev/null || echo unknown)
pg_version=$(/usr/lib/postgresql/15/bin/postgres --version 2>/dev/null | awk '{ print $3 }')
redis_version=$(redis-server --version 2>/dev/null | sed -n 's/.* v=\([^ ]*\).*/\1/p')

row() {  # row LABEL KEY
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(fmt "${med[$2,1]}" 0)" \
        "$(fmt "${med[$2,2]}" 2)" "$(fmt "${med[$2,3]}" 2)" "${med[$2,runs]}" "${med[$2,bad]}"
}

{
    echo "# flick benchmark report"
    echo
    echo "Written by \`bench/run.sh\` ($COMMAND) on $STARTED_AT; every figure down to the sections"
    echo "\"Generation pipeline\" and \"Feeds\" comes from that one run (${ELAPSED} s of measuring). Those two"
    echo "sections are written by bench/media.sh and bench/feed.sh, each from a run of its own, and say when."
    echo "Run \`$COMMAND\` again to regenerate it. Raw wrk outputs of the run are in \`var/bench/wrk/\` (not committed)."
    if [ $defaults = 0 ]; then
        echo
        echo "**Shortened run** (BENCH_DURATION=$DURATION, BENCH_ROUNDS=$ROUNDS, BENCH_FLAT_REQUESTS=$FLAT_REQUESTS):"
        echo "the figures are a smoke test, not comparable with a full run."
    fi
    echo
    echo "## Machine"
    echo
    echo "- CPUs: $(nproc) ($cpu_model); memory: $mem_total; kernel $(uname -r)"
    echo "- Load average when the run started: $LOADAVG_START (the machine is shared; wrk, flickd,"
    echo "  PostgreSQL and Redis all run on these $(nproc) CPUs)"
    echo "- wrk $wrk_version, libevent $libevent_version, PostgreSQL $pg_version, Redis $redis_version"
    changes=""
    [ "$dirty" -gt 0 ] && changes=" plus uncommitted changes ($dirty changed or new paths under api, core, feed, media, ranking, migrations, Makefile)"
    echo "- flickd from commit $commit$changes, built with the Makefile's flags (-O2)"
    echo
    echo "## Method"
    echo
    echo "- Command: \`$COMMAND\` (builds, then \`bash bench/run.sh\`)."
    echo "- wrk: $WRK_THREADS threads, $CONNS connections, ${DURATION} s per run, \`--latency\`; loopback only."
    echo "- Servers: flickd \`serve\` with FLICK_THREADS=$SERVER_THREADS, FLICK_LOG_LEVEL=warn,"
    echo "  FLICK_MAX_CONNS_PER_IP=100000, against PostgreSQL (fsync off) and Redis under var/bench"
    echo "  (run from a copy named flick-bench made at the start, so one build is measured throughout"
    echo "  and tools stopping processes called flickd on the shared machine leave it alone);"
    echo "  the ceiling is \`bench/ceiling\` with $SERVER_THREADS threads: bare evhttp answering every request"
    echo "  with a fixed 1 KiB JSON body, threaded like flickd (one loop per thread, one shared listening socket)."
    echo "- Targets run interleaved (ceiling, /healthz, /v1/me, /v1/me uncached, ceiling, ...) for $ROUNDS rounds after a ${WARM} s"
    echo "  warm-up of each; the table gives the median of the $ROUNDS runs. \`/v1/me\` sends a bearer token"
    echo "  (bench/me.lua). flickd answers it from its in-process caches (the token's viewer, then the"
    echo "  body of /v1/me), which PostgreSQL's notifications keep true; a second flickd started with"
    echo "  FLICK_CACHE=0, measured in the same rounds, asks PostgreSQL twice per request (token lookup,"
    echo "  then the profile)."
    echo "- Peak RSS is VmHWM of /proc/PID/status, read from the flickd process after the runs;"
    echo "  each phase (64 connections, $CONNS_HIGH connections, flatness) starts a fresh flickd."
    echo
    echo "## Throughput and latency (medians of $ROUNDS)"
    echo
    echo "| target | requests/s | p50 ms | p99 ms | requests/s of each run | non-2xx + socket errors |"
    echo "|---|---:|---:|---:|---|---:|"
    row "ceiling (bench/ceiling), $CONNS conns" ceiling
    row "flickd GET /healthz, $CONNS conns" healthz
    row "flickd GET /v1/me, $CONNS conns" me
    row "flickd GET /v1/me with FLICK_CACHE=0, $CONNS conns" nocache
    row "flickd GET /v1/me, $CONNS_HIGH conns" me256
    echo
    echo "/healthz reaches ${HEALTH_RATIO} % of the ceiling's requests/s; /v1/me reaches ${RATIO} %;"
    echo "/v1/me without the caches reaches ${NOCACHE_RATIO} %. The cached flickd's /metrics after the rounds:"
    echo "viewer lookups $VIEW_HIT hits, $VIEW_MISS misses; /v1/me bodies $PROF_HIT hits, $PROF_MISS misses."
    echo
    echo "## Memory (flickd)"
    echo
    echo "| measurement | value |"
    echo "|---|---:|"
    echo "| peak RSS (VmHWM) after the $CONNS-connection rounds | $(mib "$HWM64") MiB |"
    echo "| current RSS (VmRSS) after them | $(mib "$RSS64") MiB (anonymous $(mib "$ANON64"), file-backed $(mib "$FILE64")) |"
    echo "| peak RSS (VmHWM) after the $CONNS_HIGH-connection runs | $(mib "$HWM256") MiB |"
    echo "| current RSS (VmRSS) after them | $(mib "$RSS256") MiB |"
    echo "| RSS after $FLAT1_N requests of /v1/me | $(mib "$FLAT1_RSS") MiB ($FLAT1_RSS KiB) |"
    echo "| RSS after $FLAT2_N requests of /v1/me | $(mib "$FLAT2_RSS") MiB ($FLAT2_RSS KiB) |"
    echo "| change between the two | $FLAT_PCT % |"
    echo "| peak RSS (VmHWM) of the flatness process | $(mib "$FLAT_HWM") MiB |"
    echo "| ceiling server's peak RSS, for comparison | $(mib "$CEIL_HWM") MiB |"
    echo
    echo "The flatness phase counted requests from wrk's totals over $flat_chunk consecutive runs of $CONNS"
    echo "connections (non-2xx + socket errors among them: $flat_errors); RSS was read with flickd idle between runs."
    [ $FLAT1_OK = 1 ] && [ $FLAT2_OK = 1 ] || echo "The request count was not reached within BENCH_FLAT_MAX_S=$FLAT_MAX_S s per half."
    echo
    echo "## Targets"
    echo
    echo "| target | goal | measured | result |"
    echo "|---|---|---:|---|"
    echo "| /v1/me requests/s vs the ceiling | ≥ $THROUGHPUT_TARGET_PCT % | $RATIO % | $V_RATIO |"
    echo "| /v1/me p99 latency, $CONNS connections | ≤ $P99_TARGET_MS ms | $(fmt "${med[me,3]}" 2) ms | $V_P99 |"
    echo "| flickd peak RSS, $CONNS connections | ≤ $RSS_LIMIT_MIB MiB | $(mib "$HWM64") MiB | $V_HWM64 |"
    echo "| flickd peak RSS, $CONNS_HIGH connections | ≤ $RSS_LIMIT_MIB MiB | $(mib "$HWM256") MiB | $V_HWM256 |"
    echo "| RSS change, $FLAT1_N → $FLAT2_N requests | within ±$FLAT_TARGET_PCT % | $FLAT_PCT % | $V_FLAT |"
    echo
    echo "A target counts as missed when its runs had non-2xx answers or socket errors."
} >"$REPORT"

note "wrote bench/REPORT.md (${ELAPSED} s)"
sed -n '/^## Throughput/,$p' "$REPORT"
