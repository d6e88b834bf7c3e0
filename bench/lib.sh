# bench/lib.sh: shell helpers both benchmark scripts use: their processes and ports, reading
# wrk's and loadgen's output, and summarising runs (medians, formatting, PASS/MISS). Sourced,
# never run.

stop_pid() {  # stop_pid PID [SIGNAL]: SIGNAL (TERM), then KILL after 10 s
    local pid=$1 sig=${2:-TERM}
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -"$sig" "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() {  # wait_http URL: up to 10 s for a 200
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
    done
    return 1
}

# parse_wrk FILE: "requests_per_s p50_ms p99_ms requests non2xx socket_errors"
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) return v / 1000
            if (v ~ /ms$/) return v + 0
            if (v ~ /s$/) return v * 1000
            if (v ~ /m$/) return v * 60000
            if (v ~ /h$/) return v * 3600000
            return v + 0
        }
        /^ *50% / { p50 = ms($2) }
        /^ *99% / { p99 = ms($2) }
        / requests in / { req = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
        END { printf "%s %s %s %s %d %d\n", rps, p50, p99, req, non2xx, errs }
    ' "$1"
}

# parse_run FILE: parse_wrk's fields from a wrk output or from bench/loadgen's one line
# (its errors count as non-2xx; it has no socket-error figure of its own).
parse_run() {
    if [ "$(awk 'NR == 1 { print $1 }' "$1")" = requests ]; then
        awk 'NR == 1 { for (i = 1; i < NF; i += 2) v[$i] = $(i + 1)
            printf "%s %s %s %s %d 0\n", v["rps"], v["p50_ms"], v["p99_ms"], v["requests"], v["errors"] }' "$1"
    else
        parse_wrk "$1"
    fi
}

col() { cut -d' ' -f"$1"; }
median() {  # median VALUES...
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
fmt() { awk -v v="$1" -v p="${2:-1}" 'BEGIN { printf "%.*f", p, v }'; }
verdict() { if awk "BEGIN { exit !($1) }" </dev/null; then echo PASS; else echo MISS; fi; }  # verdict 'AWK CONDITION'

# put_section REPORT BEGIN_MARK END_MARK FILE: FILE (which starts with BEGIN_MARK and ends
# with END_MARK) replaces the lines between the markers in REPORT, or is appended when the
# markers are absent; the rest of REPORT stays as it is.
put_section() {
    local report=$1 b=$2 e=$3 f=$4 tmp="$1.tmp.$$"
    if [ -f "$report" ] && grep -qF "$b" "$report" && grep -qF "$e" "$report"; then
        awk -v b="$b" -v e="$e" -v f="$f" '
            $0 == b { while ((getline line < f) > 0) print line; skip = 1; next }
            skip && $0 == e { skip = 0; next }
            !skip { print }
        ' "$report" >"$tmp"
    else
        { [ -f "$report" ] && cat "$report" && echo; cat "$f"; } >"$tmp"
    fi
    mv "$tmp" "$report"
}
