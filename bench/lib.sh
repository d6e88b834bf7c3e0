# bench/lib.sh: shell helpers both benchmark scripts use to read wrk's output and to
# summarise runs (medians, formatting, PASS/MISS). Sourced, never run.

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

col() { cut -d' ' -f"$1"; }
median() {  # median VALUES...
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
fmt() { awk -v v="$1" -v p="${2:-1}" 'BEGIN { printf "%.*f", p, v }'; }
verdict() { if awk "BEGIN { exit !($1) }" </dev/null; then echo PASS; else echo MISS; fi; }  # verdict 'AWK CONDITION'
