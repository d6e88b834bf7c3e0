#!/usr/bin/env bash
# bench/media.sh (`make bench`, after bench/run.sh): measures the generation pipeline and
# writes the "Generation pipeline" section of bench/REPORT.md (between the markers
# <!-- media:begin --> and <!-- media:end -->, replaced if present, appended otherwise; the
# rest of the file is left as it is) from this run's figures only.
#
# Phases:
#   1. Builtin engine: bench/render_bench renders BENCH_MEDIA_CLIPS clips of
#      BENCH_MEDIA_SECONDS s (9:16, one prompt each) at the standard and the pro size;
#      medians of wall and CPU seconds per second of clip.
#   2. Thumbnails: on the first clip of each size, media_thumbs_make (3 WebP stills and the
#      animated preview), our 3 still encodes alone, and cwebp -q 80 on the same 3 scaled
#      pictures written as PPM, BENCH_MEDIA_REPS interleaved rounds; medians.
#   3. Jobs under API load: throw-away PostgreSQL and Redis under var/bench-media, flickd
#      `all` (from a copy named flick-bench, as bench/run.sh does) with FLICK_WORKERS=W for
#      each W of BENCH_MEDIA_WORKERS. Per W, a fresh flickd: GET /v1/me in windows taken in
#      turn by three clients: wrk and bench/loadgen as fast as they can (closed loop), and
#      bench/loadgen at a fixed rate ("paced": BENCH_MEDIA_PACED_SHARE percent of what
#      loadgen reached in the first idle window of the first run, the same rate throughout).
#      BENCH_MEDIA_IDLE_RUNS idle windows per client, then BENCH_MEDIA_JOBS generations queued
#      through POST /v1/generations and windows of the same length for as long as they run,
#      then BENCH_MEDIA_IDLE_AFTER idle windows per client again, so that a change of the
#      neighbours' load during the run weighs on both sides. Per client, the median over its
#      idle windows against the median over the windows in which jobs ran throughout; jobs
#      succeeded per minute from the database.
#   4. Reference: a fresh flickd with no job threads, the same clients idle and beside
#      bench/spin (threads that only count, under SCHED_IDLE like the job threads), in turn,
#      BENCH_MEDIA_REF_RUNS rounds: what CPU-bound background work of any kind costs the API
#      on this machine, to set beside what the jobs cost it.
#
# Environment (defaults in brackets):
#   BENCH_MEDIA_CLIPS [3]  BENCH_MEDIA_SECONDS [4]  BENCH_MEDIA_REPS [5]
#   BENCH_MEDIA_JOBS [12]  BENCH_MEDIA_JOB_SECONDS [4]  BENCH_MEDIA_WORKERS ["1 2"]
#   BENCH_MEDIA_IDLE_S seconds of each idle wrk window [10]
#   BENCH_MEDIA_IDLE_RUNS idle windows per client before the jobs [3]
#   BENCH_MEDIA_IDLE_AFTER idle windows per client after the jobs [1]
#   BENCH_MEDIA_PACED_SHARE the paced client's rate, percent of the closed-loop rate [50]
#   BENCH_MEDIA_REF_RUNS rounds of the reference (0: none) [2]
#   BENCH_MEDIA_JOBS_MAX_S time limit for the jobs of one run [900]
#   BENCH_MEDIA_PG_PORT [25862]  BENCH_MEDIA_REDIS_PORT [26812]  BENCH_MEDIA_FLICK_PORT [28190]
#   FLICK_BUILD [build]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. bench/lib.sh

BUILD=${FLICK_BUILD:-build}
CLIPS=${BENCH_MEDIA_CLIPS:-3}
SECONDS_PER_CLIP=${BENCH_MEDIA_SECONDS:-4}
REPS=${BENCH_MEDIA_REPS:-5}
JOBS=${BENCH_MEDIA_JOBS:-12}
JOB_SECONDS=${BENCH_MEDIA_JOB_SECONDS:-4}
WORKER_RUNS=${BENCH_MEDIA_WORKERS:-1 2}
IDLE_S=${BENCH_MEDIA_IDLE_S:-10}
IDLE_RUNS=${BENCH_MEDIA_IDLE_RUNS:-3}
IDLE_AFTER=${BENCH_MEDIA_IDLE_AFTER:-1}
PACED_SHARE=${BENCH_MEDIA_PACED_SHARE:-50}
REF_RUNS=${BENCH_MEDIA_REF_RUNS:-2}
SPIN_THREADS=$(nproc)
JOBS_MAX_S=${BENCH_MEDIA_JOBS_MAX_S:-900}
FLICK_PORT=${BENCH_MEDIA_FLICK_PORT:-28190}
WRK_THREADS=2
WRK_CONNS=16
TOOLS="wrk loadgen paced"
SERVER_THREADS=2
STILLS_TARGET=1.2     # our 3 still encodes ≤ 1.2 × cwebp's
P99_TARGET=2          # p99 while jobs run ≤ 2 × idle p99
# make exports MAKELEVEL to its recipes: say how this run was started.
if [ -n "${MAKELEVEL:-}" ]; then COMMAND="make bench"; else COMMAND="bash bench/media.sh"; fi

export FLICK_VAR="$ROOT/var/bench-media"
export FLICK_PG_PORT=${BENCH_MEDIA_PG_PORT:-25862}
export FLICK_REDIS_PORT=${BENCH_MEDIA_REDIS_PORT:-26812}
export FLICK_PG_FAST=1
export FLICK_SECRET=bench-secret
export FLICK_MIGRATIONS_DIR="$ROOT/migrations"
export FLICK_DATA_DIR="$FLICK_VAR/data"
export FLICK_ENGINE=builtin

FLICKD="$ROOT/$BUILD/flickd"
TOOL="$ROOT/$BUILD/bench/render_bench"
LOADGEN="$ROOT/$BUILD/bench/loadgen"
SPIN="$ROOT/$BUILD/bench/spin"
CWEBP=$(command -v cwebp || true)
# Like bench/run.sh: a copy of flickd under its own name, so one build is measured
# throughout and tools that stop every process called flickd leave it alone.
SERVER="$FLICK_VAR/bin/flick-bench"
RAW="$FLICK_VAR/raw"
CLIPDIR="$FLICK_VAR/clips"
REPORT="$ROOT/bench/REPORT.md"
BEGIN_MARK="<!-- media:begin -->"
END_MARK="<!-- media:end -->"

die() { echo "bench-media: $*" >&2; exit 1; }
note() { echo "bench-media: $*" >&2; }

for n in "$CLIPS" "$REPS" "$JOBS" "$IDLE_S" "$IDLE_RUNS" "$JOBS_MAX_S"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "BENCH_MEDIA_CLIPS, _REPS, _JOBS, _IDLE_S, _IDLE_RUNS and _JOBS_MAX_S must be positive whole numbers"
done
[[ $IDLE_AFTER =~ ^[0-9]+$ ]] && [[ $REF_RUNS =~ ^[0-9]+$ ]] ||
    die "BENCH_MEDIA_IDLE_AFTER and BENCH_MEDIA_REF_RUNS must be whole numbers"
[[ $PACED_SHARE =~ ^[1-9][0-9]?$ ]] || die "BENCH_MEDIA_PACED_SHARE must be a percentage from 1 to 99"
[ "$CLIPS" -le 101 ] && [ "$REPS" -le 101 ] || die "BENCH_MEDIA_CLIPS and BENCH_MEDIA_REPS must be at most 101"
[[ $SECONDS_PER_CLIP =~ ^(4|8|12)$ ]] && [[ $JOB_SECONDS =~ ^(4|8|12)$ ]] ||
    die "BENCH_MEDIA_SECONDS and BENCH_MEDIA_JOB_SECONDS must be 4, 8 or 12"
for w in $WORKER_RUNS; do [[ $w =~ ^[1-9][0-9]?$ ]] || die "BENCH_MEDIA_WORKERS must list worker counts 1..64"; done
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
command -v curl >/dev/null || die "curl is not installed"
command -v psql >/dev/null || die "psql is not installed"
[ -n "$CWEBP" ] || die "cwebp is not installed (apt-get install webp)"
[ -x "$FLICKD" ] || die "$FLICKD is missing; run make first"
if [ ! -x "$TOOL" ] || [ "$TOOL" -ot bench/render_bench.c ] || [ "$TOOL" -ot "$BUILD/libflick.a" ]; then
    make --no-print-directory BUILD="$BUILD" "$BUILD/bench/render_bench" >/dev/null || die "cannot build $TOOL"
fi
for t in loadgen spin; do
    if [ ! -x "$BUILD/bench/$t" ] || [ "$BUILD/bench/$t" -ot "bench/$t.c" ]; then
        make --no-print-directory BUILD="$BUILD" "$BUILD/bench/$t" >/dev/null || die "cannot build $BUILD/bench/$t"
    fi
done

# ---- processes and cleanup ----

flickd_pid=
wrk_pid=
tool_pid=
spin_pid=

cleanup() {
    trap - EXIT INT TERM
    stop_pid "$spin_pid"
    stop_pid "$wrk_pid"
    stop_pid "$tool_pid"
    stop_pid "$flickd_pid"
    bash scripts/services.sh down >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_tool OUT ARGS...: bench/render_bench in the background (so a signal can stop it), its
# lines into OUT.
run_tool() {
    local out=$1; shift
    "$TOOL" "$@" >"$out" 2>"$out.err" &
    tool_pid=$!
    local rc=0
    wait "$tool_pid" || rc=$?
    tool_pid=
    [ $rc = 0 ] || { cat "$out.err" >&2; die "render_bench $1 failed (status $rc)"; }
}

windows() { [ "$1" = 1 ] && echo "1 window" || echo "$1 windows"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
ms() { awk -v v="$1" 'BEGIN { printf "%.1f", v * 1000 }'; }
field() {  # field FILE TAG [MATCH_FIELD2]: the first line starting with TAG (and field 2 = MATCH)
    awk -v t="$1" -v m="${3:-}" '$1 == t && (m == "" || $2 == m) { print; exit }' "$2"
}

# median_wrk FILES...: parse_run's fields over several runs (wrk or bench/loadgen): medians of rate, p50 and p99,
# sums of requests and errors.
median_wrk() {
    local f lines=() i out=""
    for f in "$@"; do lines+=("$(parse_run "$f")"); done
    for i in 1 2 3; do
        out+="$(median $(for l in "${lines[@]}"; do col $i <<<"$l"; done)) "
    done
    for i in 4 5 6; do
        out+="$(for l in "${lines[@]}"; do col $i <<<"$l"; done | awk '{ s += $1 } END { printf "%d", s }') "
    done
    echo "${out% }"
}

# ---- setup ----

bash scripts/services.sh down >/dev/null 2>&1
old_pg=$(readlink "$FLICK_VAR/pg" 2>/dev/null || true)
case "$old_pg" in /var/tmp/flick-*/pg) rm -rf "$old_pg" ;; esac
rm -rf "$FLICK_VAR"
mkdir -p "$RAW" "$CLIPDIR" "$FLICK_VAR/thumbs-standard" "$FLICK_VAR/thumbs-pro" "$(dirname "$SERVER")"
cp "$FLICKD" "$SERVER"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain -- api core feed media ranking migrations Makefile 2>/dev/null | wc -l)

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED_AT=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
T0=$SECONDS

# ---- phases 1 and 2: render, thumbnails, cwebp ----

note "rendering $CLIPS clips of $SECONDS_PER_CLIP s at each size"
run_tool "$RAW/render.txt" render "$CLIPDIR" "$CLIPS" "$SECONDS_PER_CLIP"
for q in standard pro; do
    note "thumbnails of a $q clip and cwebp, $REPS rounds"
    run_tool "$RAW/thumbs-$q.txt" thumbs "$CLIPDIR/$q-1.mp4" "$FLICK_VAR/thumbs-$q" "$REPS" "$CWEBP"
done
LOADAVG_MID=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- phase 3: jobs with the API under load ----

note "starting PostgreSQL ($FLICK_PG_PORT) and Redis ($FLICK_REDIS_PORT) under var/bench-media"
bash scripts/services.sh up >/dev/null || die "services did not start"
eval "$(bash scripts/services.sh env | sed 's/^/export /')"
"$FLICKD" migrate >/dev/null || die "migrate failed"
stamp=$(date +%s)
ADMIN_TOKEN=$("$FLICKD" admin create-user "mbadmin_$stamp" --role admin) || die "create-user (admin) failed"
USER_NAME="mbuser_$stamp"
TOKEN=$("$FLICKD" admin create-user "$USER_NAME" --role user) || die "create-user failed"
[ -n "$TOKEN" ] && [ -n "$ADMIN_TOKEN" ] || die "create-user printed no token"
export BENCH_TOKEN=$TOKEN

BASE="http://127.0.0.1:$FLICK_PORT"
ME_URL="$BASE/v1/me"
ME_LUA="$ROOT/bench/me.lua"
sql() { psql "$FLICK_DATABASE_URL" -XqAt -v ON_ERROR_STOP=1 -c "$1"; }

start_flickd() {  # start_flickd WORKERS
    port_busy "$FLICK_PORT" && die "port $FLICK_PORT is already in use (set BENCH_MEDIA_FLICK_PORT)"
    FLICK_LISTEN="127.0.0.1:$FLICK_PORT" FLICK_THREADS=$SERVER_THREADS FLICK_WORKERS=$1 \
        FLICK_LOG_LEVEL=warn FLICK_MAX_CONNS_PER_IP=100000 \
        "$SERVER" all >>"$FLICK_VAR/flickd.log" 2>&1 &
    flickd_pid=$!
    wait_http "$BASE/healthz" || die "flickd did not answer; see $FLICK_VAR/flickd.log"
}
stop_flickd() { stop_pid "$flickd_pid"; flickd_pid=; }

# run_wrk NAME SECONDS: wrk on /v1/me for SECONDS, in the foreground.
run_wrk() {
    timeout -k 5 $(($2 + 60)) wrk -t$WRK_THREADS -c$WRK_CONNS -d"$2s" --latency -s "$ME_LUA" \
        "$ME_URL" >"$RAW/$1.txt" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || { wrk_pid=; cat "$RAW/$1.txt" >&2; die "wrk run $1 failed"; }
    wrk_pid=
}

# run_window TOOL NAME SECONDS: one window of load on /v1/me, in the foreground: wrk, or
# bench/loadgen (one thread, CLOCK_MONOTONIC) with as many connections, as a second opinion,
# or bench/loadgen at PACED_RATE requests per second.
PACED_RATE=
run_window() {
    local rate=
    case $1 in
    wrk) run_wrk "$2" "$3"; return ;;
    paced) rate=$PACED_RATE ;;
    esac
    timeout -k 5 $(($3 + 60)) "$LOADGEN" "$FLICK_PORT" /v1/me "$TOKEN" "$WRK_CONNS" "$3" $rate >"$RAW/$2.txt" 2>&1 ||
        { cat "$RAW/$2.txt" >&2; die "loadgen run $2 failed"; }
    if [ "$1" = loadgen ] && [ -z "$PACED_RATE" ]; then
        PACED_RATE=$(parse_run "$RAW/$2.txt" | awk -v s="$PACED_SHARE" '{ printf "%d", $1 * s / 100 / 100 + 0.5 }')00
        [ "$PACED_RATE" -gt 0 ] || die "loadgen's first window gave no rate to pace at"
    fi
}
pending_jobs() {  # pending_jobs IDS: how many of the jobs are queued or running
    sql "SELECT count(*) FROM generations WHERE id IN ($1) AND status IN ('queued', 'running')" ||
        die "cannot read the jobs' status"
}
p99_of() { parse_run "$1" | col 3 | awk '{ printf "%.1f", $1 }'; }

declare -A job
run_no=0
for W in $WORKER_RUNS; do
    run_no=$((run_no + 1))
    note "run $run_no: flickd all with FLICK_WORKERS=$W"
    start_flickd "$W"
    if [ $run_no = 1 ]; then
        limits=$(curl -s -o "$RAW/limits.json" -w '%{http_code}' -X PUT \
            -H "Authorization: Bearer $ADMIN_TOKEN" -H 'Content-Type: application/json' \
            --data '{"quota_mode":"fixed","daily_generations_free":100000}' "$BASE/v1/admin/limits")
        [ "$limits" = 200 ] || { cat "$RAW/limits.json" >&2; die "PUT /v1/admin/limits answered $limits"; }
        me_status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$ME_URL")
        [ "$me_status" = 200 ] || die "GET /v1/me with the bench token answered $me_status"
    fi

    # Idle: no job queued or running; the clients' windows in turn.
    run_wrk "w$W-warmup" 3
    unset idle busy every p99s
    declare -A idle=() busy=() every=() p99s=()
    idle_windows() {  # idle_windows FROM TO: rounds FROM..TO of idle windows, every client
        local k tool
        for k in $(seq "$1" "$2"); do
            for tool in $TOOLS; do
                run_window "$tool" "w$W-idle-$tool-$k" "$IDLE_S"
                idle[$tool]+=" $RAW/w$W-idle-$tool-$k.txt"
            done
        done
    }
    idle_windows 1 "$IDLE_RUNS"

    # Queue the jobs, then load /v1/me until they are all done.
    ids=()
    for i in $(seq 1 "$JOBS"); do
        body=$(printf '{"prompt":"bench run %d clip %d: paper lanterns over a calm river","seconds":%d,"aspect":"9:16","model":"standard"}' \
            "$run_no" "$i" "$JOB_SECONDS")
        code=$(curl -s -o "$RAW/w$W-post-$i.json" -w '%{http_code}' -X POST \
            -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
            --data "$body" "$BASE/v1/generations")
        [ "$code" = 202 ] || { cat "$RAW/w$W-post-$i.json" >&2; die "POST /v1/generations answered $code"; }
        id=$(sed -n 's/.*"id" *: *"\{0,1\}\([0-9][0-9]*\)"\{0,1\}.*/\1/p' "$RAW/w$W-post-$i.json" | head -1)
        [ -n "$id" ] || die "no id in the POST /v1/generations answer"
        ids+=("$id")
    done
    idlist=$(IFS=,; echo "${ids[*]}")
    # While they run: windows as long as the idle ones, wrk and loadgen in turn, back to back,
    # until no job is queued or running. A window counts as busy only if jobs were still
    # pending when it ended (they were when it began), so the worker had work during all of
    # it; the window in which the last job finished is reported but left out of the medians.
    t_start=$SECONDS
    finished=0
    k=0
    last=
    tools=($TOOLS)
    while :; do
        left=$(pending_jobs "$idlist")
        if [ "$left" = 0 ]; then
            finished=1
            if [ -n "$last" ]; then
                busy[$last]=${busy[$last]% *}
                p99s[$last]=$(sed 's/\([^ ,]*\)$/(\1)/' <<<"${p99s[$last]}")
            fi
            break
        fi
        [ $((SECONDS - t_start)) -ge "$JOBS_MAX_S" ] && break
        last=${tools[k % ${#tools[@]}]}
        k=$((k + 1))
        run_window "$last" "w$W-during-$last-$k" "$IDLE_S"
        busy[$last]+=" $RAW/w$W-during-$last-$k.txt"
        every[$last]+=" $RAW/w$W-during-$last-$k.txt"
        p99s[$last]+="${p99s[$last]:+, }$(p99_of "$RAW/w$W-during-$last-$k.txt")"
    done
    job[$W,wall]=$((SECONDS - t_start))
    # Idle again once they are done, against drift of the neighbours' load.
    if [ "$IDLE_AFTER" -gt 0 ]; then
        [ "$(pending_jobs "$idlist")" = 0 ] && idle_windows $((IDLE_RUNS + 1)) $((IDLE_RUNS + IDLE_AFTER))
    fi
    for tool in $TOOLS; do
        job[$W,$tool,idle]=$(median_wrk ${idle[$tool]})
        job[$W,$tool,idle_p99s]=$(for f in ${idle[$tool]}; do p99_of "$f"; echo; done | paste -sd, | sed 's/,/, /g')
        set -- ${busy[$tool]:-}
        job[$W,$tool,busy_windows]=$#
        [ $# -gt 0 ] && job[$W,$tool,during]=$(median_wrk "$@") || job[$W,$tool,during]="0 0 0 0 0 0"
        job[$W,$tool,during_p99s]=${p99s[$tool]:-}
        # Errors count over every window, the last one included.
        set -- ${every[$tool]:-}
        [ $# -gt 0 ] && job[$W,$tool,during_errors]=$(median_wrk "$@" | awk '{ print $5 + $6 }') ||
            job[$W,$tool,during_errors]=0
    done
    job[$W,done]=$finished
    # succeeded failed other span_s median_gap_s: the span runs from the first job's creation
    # to the last one's finish; the gaps are between consecutive finishes.
    job[$W,jobs]=$(sql "
        WITH j AS (SELECT status, created_at, finished_at FROM generations WHERE id IN ($idlist)),
             f AS (SELECT finished_at - lag(finished_at) OVER (ORDER BY finished_at) AS gap
                   FROM j WHERE status = 'succeeded')
        SELECT (SELECT count(*) FROM j WHERE status = 'succeeded') || ' ' ||
               (SELECT count(*) FROM j WHERE status = 'failed') || ' ' ||
               (SELECT count(*) FROM j WHERE status NOT IN ('succeeded', 'failed')) || ' ' ||
               coalesce(extract(epoch FROM (SELECT max(finished_at) FROM j WHERE status = 'succeeded') -
                                           (SELECT min(created_at) FROM j)), 0) || ' ' ||
               coalesce((SELECT extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY gap))
                         FROM f WHERE gap IS NOT NULL), 0)") || die "cannot read the jobs' results"
    job[$W,hwm]=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$flickd_pid/status")
    stop_flickd
done
# Reference: the same clients idle and beside threads that only count, in turn.
declare -A ref
if [ "$REF_RUNS" -gt 0 ]; then
    note "reference: flickd all with no job threads, idle and beside $SPIN_THREADS spinning threads"
    start_flickd 0
    run_wrk "ref-warmup" 3
    declare -A ref_idle=() ref_spin=()
    for k in $(seq 1 "$REF_RUNS"); do
        for tool in $TOOLS; do
            run_window "$tool" "ref-idle-$tool-$k" "$IDLE_S"
            ref_idle[$tool]+=" $RAW/ref-idle-$tool-$k.txt"
        done
        for tool in $TOOLS; do
            "$SPIN" "$SPIN_THREADS" $((IDLE_S + 2)) &
            spin_pid=$!
            sleep 0.5
            run_window "$tool" "ref-spin-$tool-$k" "$IDLE_S"
            wait "$spin_pid" || die "bench/spin failed"
            spin_pid=
            ref_spin[$tool]+=" $RAW/ref-spin-$tool-$k.txt"
        done
    done
    stop_flickd
    for tool in $TOOLS; do
        ref[$tool,idle]=$(median_wrk ${ref_idle[$tool]})
        ref[$tool,spin]=$(median_wrk ${ref_spin[$tool]})
        ref[$tool,ratio]=$(ratio "$(col 3 <<<"${ref[$tool,spin]}")" "$(col 3 <<<"${ref[$tool,idle]}")")
    done
fi
bash scripts/services.sh down >/dev/null 2>&1
ELAPSED=$((SECONDS - T0))

# ---- figures ----

r_std=$(field render "$RAW/render.txt" standard)
r_pro=$(field render "$RAW/render.txt" pro)
[ -n "$r_std" ] && [ -n "$r_pro" ] || die "render_bench printed no render figures"
th_std=$(field thumbs "$RAW/thumbs-standard.txt")
th_pro=$(field thumbs "$RAW/thumbs-pro.txt")
[ -n "$th_std" ] && [ -n "$th_pro" ] || die "render_bench printed no thumbnail figures"

clip_walls() {  # clip_walls QUALITY: each clip's wall seconds
    awk -v q="$1" '$1 == "clip" && $2 == q { printf "%s%.2f", (n++ ? ", " : ""), $6 }' "$RAW/render.txt"
}
clip_kib() {
    awk -v q="$1" '$1 == "clip" && $2 == q { s += $8; n++ } END { printf "%.0f", (n ? s / n / 1024 : 0) }' "$RAW/render.txt"
}

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
wrk_version=$(wrk -v 2>&1 | awk 'NR == 1 { print $2 }')
webp_version=$(pkg-config --modversion libwebp 2>/dev/null || echo unknown)
cwebp_version=$("$CWEBP" -version 2>/dev/null | head -1)
x264_version=$(dpkg-query -W -f='${db:Status-Status} ${Package} ${Version}\n' 'libx264-*' 2>/dev/null |
    awk '$1 == "installed" { print $2 " " $3; exit }')
avcodec_version=$(pkg-config --modversion libavcodec 2>/dev/null || echo unknown)
defaults=1
[ "$CLIPS" = 3 ] && [ "$SECONDS_PER_CLIP" = 4 ] && [ "$REPS" = 5 ] && [ "$JOBS" = 12 ] &&
    [ "$JOB_SECONDS" = 4 ] && [ "$IDLE_S" = 10 ] && [ "$IDLE_RUNS" = 3 ] && [ "$WORKER_RUNS" = "1 2" ] &&
    [ "$IDLE_AFTER" = 1 ] && [ "$PACED_SHARE" = 50 ] && [ "$REF_RUNS" = 2 ] || defaults=0

thumb_rows() {  # thumb_rows QUALITY LINE
    local q=$1 l=$2
    local w h set_w set_c st_w st_c cw_w cw_c cw_e ns pf cw_re
    read -r _ w h _ set_w set_c st_w st_c cw_w cw_c cw_e ns pf cw_re <<<"$l"
    local widths
    widths=$(awk '$1 == "still" { printf "%s%s", (n++ ? "/" : ""), $2 }' "$RAW/thumbs-$q.txt")
    echo "| $q clip ${w}x${h}: media_thumbs_make (poster, $ns stills $widths, preview of $pf frames) | $(ms "$set_w") | $(ms "$set_c") |"
    echo "| $q clip: our $ns still encodes alone (media_image_encode_webp, q 80) | $(ms "$st_w") | $(ms "$st_c") |"
    echo "| $q clip: cwebp -q 80, $ns processes (process start included) | $(ms "$cw_w") | $(ms "$cw_c") |"
    echo "| $q clip: cwebp's own \"Time to read input\" + \"Time to encode picture\", summed over $ns | $(ms "$cw_re") | – |"
    echo "| $q clip: cwebp's own \"Time to encode picture\" alone, summed over $ns | $(ms "$cw_e") | – |"
}
stills_ratio() { ratio "$(col 7 <<<"$1")" "$(col 9 <<<"$1")"; }      # ours / cwebp processes
stills_enc_ratio() { ratio "$(col 7 <<<"$1")" "$(col 11 <<<"$1")"; }  # ours / cwebp encode-only
stills_in_ratio() { ratio "$(col 7 <<<"$1")" "$(col 14 <<<"$1")"; }   # ours / cwebp read + encode
set_ratio() { ratio "$(col 5 <<<"$1")" "$(col 9 <<<"$1")"; }         # whole set / cwebp processes
identical() {  # identical QUALITY: "3 of 3" stills byte-identical to cwebp's
    awk '$1 == "still" { n++; s += $6 } END { printf "%d of %d", s, n }' "$RAW/thumbs-$1.txt"
}

section=$(mktemp)
{
    echo "$BEGIN_MARK"
    echo "## Generation pipeline"
    echo
    echo "Written by \`bench/media.sh\` (run by \`$COMMAND\`; \`make bench\` runs it after \`bench/run.sh\`) on $STARTED_AT; every figure in"
    echo "this section comes from that one run (${ELAPSED} s). Raw outputs are in \`var/bench-media/raw/\`"
    echo "(not committed). The rest of this file is written by \`bench/run.sh\`."
    if [ $defaults = 0 ]; then
        echo
        echo "**Non-default run** (BENCH_MEDIA_CLIPS=$CLIPS, _SECONDS=$SECONDS_PER_CLIP, _REPS=$REPS, _JOBS=$JOBS,"
        echo "_JOB_SECONDS=$JOB_SECONDS, _IDLE_S=$IDLE_S, _IDLE_RUNS=$IDLE_RUNS, _IDLE_AFTER=$IDLE_AFTER,"
        echo "_PACED_SHARE=$PACED_SHARE, _REF_RUNS=$REF_RUNS, _WORKERS=\"$WORKER_RUNS\")."
    fi
    echo
    echo "- Machine: $(nproc) CPUs ($cpu_model), shared; load average $LOADAVG_START at the start,"
    echo "  $LOADAVG_MID before the job runs. Everything (tools, flickd, wrk, PostgreSQL, Redis) runs on these CPUs."
    changes=""
    [ "$dirty" -gt 0 ] && changes=" plus uncommitted changes ($dirty changed or new paths under api, core, feed, media, ranking, migrations, Makefile)"
    echo "- Build: commit $commit$changes, the Makefile's flags (-O2); libavcodec $avcodec_version,"
    echo "  x264 ${x264_version:-unknown} (preset veryfast, CRF 23, 2 threads), libwebp $webp_version, cwebp $cwebp_version, wrk $wrk_version."
    echo "- Commands: \`$COMMAND\`, which runs"
    echo "  \`build/bench/render_bench render DIR $CLIPS $SECONDS_PER_CLIP\`,"
    echo "  \`build/bench/render_bench thumbs CLIP DIR $REPS $CWEBP\` on the first clip of each size, and for the"
    echo "  jobs \`flick-bench all\` (a copy of build/flickd) with FLICK_THREADS=$SERVER_THREADS, FLICK_WORKERS=W,"
    echo "  FLICK_ENGINE=builtin, against PostgreSQL (fsync off) and Redis under var/bench-media, and"
    echo "  \`wrk -t$WRK_THREADS -c$WRK_CONNS --latency -s bench/me.lua $ME_URL\`,"
    echo "  \`build/bench/loadgen $FLICK_PORT /v1/me TOKEN $WRK_CONNS $IDLE_S\` and the same with a rate of $PACED_RATE."
    echo
    echo "### Builtin engine: render and encode (9:16, $CLIPS clips of $SECONDS_PER_CLIP s per size, one prompt each)"
    echo
    echo "| size | wall s per clip-second (median) | CPU s per clip-second (median) | wall s of each clip | mean MP4 size |"
    echo "|---|---:|---:|---|---:|"
    for l in "$r_std" "$r_pro"; do
        read -r _ q w h _ _ wps cps <<<"$l"
        echo "| $q ${w}x${h} | $(fmt "$wps" 3) | $(fmt "$cps" 3) | $(clip_walls "$q") | $(clip_kib "$q") KiB |"
    done
    echo
    echo "Wall and CPU time of media_render_clip per clip (scene drawing, watermark, RGB→YUV, H.264"
    echo "encode, MP4 write and fsync), divided by the clip's seconds; CPU counts every thread of the process."
    echo "A ratio below 1 renders faster than real time."
    echo
    echo "### Thumbnails vs cwebp (medians of $REPS interleaved rounds, after one warm-up round)"
    echo
    echo "| measurement | wall ms | CPU ms |"
    echo "|---|---:|---:|"
    thumb_rows standard "$th_std"
    thumb_rows pro "$th_pro"
    echo
    echo "- The stills are the poster frame media_thumbs_make chose, scaled as media/thumb.c scales it"
    echo "  (never upscaled), written as PPM by render_bench for cwebp; cwebp runs as"
    echo "  \`cwebp -q 80 -quiet -v still-W.ppm -o cwebp-W.webp\`, the 3 one after the other, timed from the"
    echo "  first fork to the last exit: process start, reading the PPM and writing the file are included."
    echo "  Its CPU is user + system of the 3 processes. cwebp's own times (-v, printed to the millisecond):"
    echo "  for a lossy encode it reads the PPM straight into YUV, so \"read input\" holds the PPM parsing, the"
    echo "  RGB→YUV conversion and the first touch of a fresh process's memory, and \"encode picture\" the encode"
    echo "  and the file write. Ours (WebPEncodeRGB through media_image_encode_webp) holds the RGB→YUV"
    echo "  conversion, the encode and a copy to the caller: between cwebp's two in-process figures, so"
    echo "  the encode-alone ratio is the strictest and leans against us."
    echo "- Same settings, same output: $(identical standard) standard and $(identical pro) pro stills from"
    echo "  cwebp are byte-identical to ours (libwebp defaults, method 4, quality 80)."
    echo "- The whole set is not like for like with cwebp's 3 stills: media_thumbs_make also decodes the"
    echo "  MP4 up to the poster and 2 s beyond, converts and scales frames, and encodes the 20-frame animated"
    echo "  preview. It takes $(set_ratio "$th_std")× (standard) and $(set_ratio "$th_pro")× (pro) the wall time of the 3 cwebp processes."
    echo
    echo "### Jobs with the API under load ($JOBS generations of $JOB_SECONDS s, standard, 9:16, per run)"
    echo
    echo "| FLICK_WORKERS | succeeded / failed / unfinished | span s | jobs per minute | median s between completions | flickd peak RSS |"
    echo "|---:|---|---:|---:|---:|---:|"
    for W in $WORKER_RUNS; do
        read -r ok failed other span gap <<<"${job[$W,jobs]}"
        job[$W,jpm]=$(awk -v n="$ok" -v s="$span" 'BEGIN { printf "%.1f", (s > 0 ? 60 * n / s : 0) }')
        for tool in $TOOLS; do
            idle=${job[$W,$tool,idle]} during=${job[$W,$tool,during]}
            job[$W,$tool,ratio]=$(ratio "$(col 3 <<<"$during")" "$(col 3 <<<"$idle")")
            job[$W,$tool,bad_idle]=$(( $(col 5 <<<"$idle") + $(col 6 <<<"$idle") ))
        done
        job[$W,ok]=$ok
        echo "| $W | $ok / $failed / $other | $(fmt "$span" 1) | ${job[$W,jpm]} | $(fmt "$gap" 2) | $(awk -v k="${job[$W,hwm]}" 'BEGIN { printf "%.1f MiB", k / 1024 }') |"
    done
    echo
    echo "GET /v1/me at the same time, $WRK_CONNS connections, in windows of ${IDLE_S} s taken in turn by three"
    echo "clients: wrk (2 threads) and bench/loadgen (one thread, timed with CLOCK_MONOTONIC) each as fast as"
    echo "the answers come (closed loop), and bench/loadgen at a fixed $PACED_RATE requests/s (\"paced\", open loop:"
    echo "$PACED_SHARE% of what loadgen reached in its first idle window). Each figure is the median over one client's"
    echo "windows: $(windows "$IDLE_RUNS") idle before any job and $IDLE_AFTER after the last, and every window during which jobs ran throughout:"
    echo
    echo "| FLICK_WORKERS | client | idle p50 ms | idle p99 ms | p99 of each idle window | p50 ms while jobs run | p99 ms while jobs run | p99 of each window while jobs ran | p99 during / idle | requests/s idle → during | errors, idle / during |"
    echo "|---:|---|---:|---:|---|---:|---:|---|---:|---|---:|"
    for W in $WORKER_RUNS; do
        for tool in $TOOLS; do
            idle=${job[$W,$tool,idle]} during=${job[$W,$tool,during]}
            echo "| $W | $tool | $(fmt "$(col 2 <<<"$idle")" 2) | $(fmt "$(col 3 <<<"$idle")" 2) | ${job[$W,$tool,idle_p99s]} | $(fmt "$(col 2 <<<"$during")" 2) | $(fmt "$(col 3 <<<"$during")" 2) | ${job[$W,$tool,during_p99s]} | ${job[$W,$tool,ratio]}× | $(fmt "$(col 1 <<<"$idle")" 0) → $(fmt "$(col 1 <<<"$during")" 0) | ${job[$W,$tool,bad_idle]} / ${job[$W,$tool,during_errors]} |"
        done
    done
    echo
    echo "- Three clients, because they measure different things. The two closed-loop clients keep $WRK_CONNS"
    echo "  requests in flight at all times, so the API's loops run flat out and a p99 is the length of the"
    echo "  queue at saturation: any CPU the workers, PostgreSQL or a neighbour take shows in it at once."
    echo "  wrk's two threads also compete with flickd for the $(nproc) CPUs, and its percentiles move with"
    echo "  whatever else runs; loadgen keeps every latency it measured and sorts them. The paced client"
    echo "  sends at a fixed rate whatever the answers do and times each request from when it was due, not"
    echo "  from when it went out, so a stall counts in full for every request it held back: the latency a"
    echo "  client sees at a stated load, with CPU to spare for the workers. Errors: wrk's non-2xx answers"
    echo "  and socket errors; loadgen's non-200 answers and lost connections."
    echo "- The p99 ratio is not the whole cost to the API: the requests/s and p50 columns show what it"
    echo "  gives up to the workers on $(nproc) CPUs."
    echo "- Each run starts a fresh flickd \`all\`: 3 s of wrk warm-up, $(windows "$IDLE_RUNS") of ${IDLE_S} s of each client with"
    echo "  nothing queued (idle), then the $JOBS POST /v1/generations one after the other and windows of ${IDLE_S} s back to"
    echo "  back, the clients in turn, until no job is queued or running (checked in the database between"
    echo "  windows; limit ${JOBS_MAX_S} s), then $(windows "$IDLE_AFTER") more of each client idle, so that a change in"
    echo "  the neighbours' load during the run weighs on the idle side too."
    echo "  The window in which the last job finished (in brackets) had the worker idle for part of it, so the"
    echo "  medians leave it out; its errors still count. Idle and busy figures are the same statistic"
    echo "  (median of per-window figures), so that one stall of the shared machine moves neither alone."
    echo "  The user's daily quota was raised first with PUT /v1/admin/limits."
    echo "- Span: from the first job's creation to the last one's finish (generations.created_at and"
    echo "  finished_at); jobs per minute = succeeded × 60 / span. A job is the full pipeline: claim, render,"
    echo "  store, thumbnails, provenance, draft post."
    echo "- Job threads (and the encoder threads they start) run under SCHED_IDLE, so they get the CPU time"
    echo "  the API's loops and the clients leave; the jobs per minute above are what was left with the"
    echo "  clients running, mostly in the paced windows: the closed-loop ones leave little."
    echo "- Seconds of load while the jobs ran: $(sep=; for W in $WORKER_RUNS; do printf '%sFLICK_WORKERS=%s: %s s' "$sep" "$W" "${job[$W,wall]}"; sep='; '; done)."
    if [ "$REF_RUNS" -gt 0 ]; then
        echo
        echo "### Reference: the same clients beside threads that only count"
        echo
        echo "A fresh flickd \`all\` with no job threads (FLICK_WORKERS=0): each client's windows idle, then beside"
        echo "\`build/bench/spin $SPIN_THREADS $((IDLE_S + 2))\` ($SPIN_THREADS threads under SCHED_IDLE, the class of the job threads, that"
        echo "count and do nothing else: no memory, no system calls), in turn, $REF_RUNS rounds; medians as above."
        echo
        echo "| client | idle p50 ms | idle p99 ms | p50 ms beside spin | p99 ms beside spin | p99 beside / idle | requests/s idle → beside |"
        echo "|---|---:|---:|---:|---:|---:|---|"
        for tool in $TOOLS; do
            i=${ref[$tool,idle]} b=${ref[$tool,spin]}
            echo "| $tool | $(fmt "$(col 2 <<<"$i")" 2) | $(fmt "$(col 3 <<<"$i")" 2) | $(fmt "$(col 2 <<<"$b")" 2) | $(fmt "$(col 3 <<<"$b")" 2) | ${ref[$tool,ratio]}× | $(fmt "$(col 1 <<<"$i")" 0) → $(fmt "$(col 1 <<<"$b")" 0) |"
        done
        echo
        echo "Threads that only count at the lowest class still cost the API here: whatever the jobs cost"
        echo "beyond this ratio is theirs; up to it, it is the price of using the CPUs the API leaves idle."
    fi
    echo
    echo "### Targets"
    echo
    echo "| target | goal | measured | result |"
    echo "|---|---|---:|---|"
    for q in standard pro; do
        l=$th_std; [ $q = pro ] && l=$th_pro
        r=$(stills_ratio "$l"); ri=$(stills_in_ratio "$l"); re=$(stills_enc_ratio "$l")
        echo "| our 3 still encodes vs cwebp's 3 processes (start included), $q clip | ≤ ${STILLS_TARGET}× | ${r}× | $(verdict "$r <= $STILLS_TARGET") |"
        echo "| our 3 still encodes vs cwebp's own read + encode time, $q clip | ≤ ${STILLS_TARGET}× | ${ri}× | $(verdict "$ri <= $STILLS_TARGET") |"
        echo "| our 3 still encodes vs cwebp's own encode time alone, $q clip | ≤ ${STILLS_TARGET}× | ${re}× | $(verdict "$re <= $STILLS_TARGET") |"
    done
    for W in $WORKER_RUNS; do
        for tool in $TOOLS; do
            echo "| /v1/me p99 while jobs run vs idle, FLICK_WORKERS=$W, measured by $tool | ≤ ${P99_TARGET}× | ${job[$W,$tool,ratio]}× | $(verdict "${job[$W,$tool,ratio]} <= $P99_TARGET && ${job[$W,$tool,during_errors]} == 0 && ${job[$W,done]} == 1 && ${job[$W,ok]} == $JOBS && ${job[$W,$tool,busy_windows]} > 0") |"
        done
    done
    echo
    echo "The p99 target counts as missed when a job did not succeed, the jobs outlasted the time limit, no"
    echo "window had jobs running throughout, or"
    echo "the client saw errors while the jobs ran (errors in an idle window, such as timeouts when the"
    echo "shared machine stalls, show in the table but leave the verdict to the median)."
    echo "The render and thumbnail figures have no target; they are the pipeline's cost per job on this machine."
    echo "$END_MARK"
} >"$section"

put_section "$REPORT" "$BEGIN_MARK" "$END_MARK" "$section"
rm -f "$section"

note "wrote the Generation pipeline section of bench/REPORT.md (${ELAPSED} s)"
sed -n "/^$BEGIN_MARK\$/,/^$END_MARK\$/p" "$REPORT" | sed -n '/^### Builtin/,$p'
