#!/usr/bin/env bash
# Runs every test suite against throw-away PostgreSQL and Redis (under var/test, on their
# own ports, never the `make run` data) and ends with one line: "N passed, N failed".
#   scripts/test.sh [BUILD_DIR ...]   e.g. `scripts/test.sh build build-asan` runs every suite
#   against the normal and then the sanitizer build, and sums both in the last line.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
passed=0
failed=0

run_build() {
BUILD=$1
echo "== suites against $BUILD/"

export FLICK_PG_PORT=${FLICK_TEST_PG_PORT:-25432}
export FLICK_REDIS_PORT=${FLICK_TEST_REDIS_PORT:-26379}
[ "$BUILD" = build ] || { FLICK_PG_PORT=$((FLICK_PG_PORT + 1)); FLICK_REDIS_PORT=$((FLICK_REDIS_PORT + 1)); }
# One folder per build and port pair: two runs on other ports never touch each other.
export FLICK_VAR="$PWD/var/test/${BUILD}-${FLICK_PG_PORT}"
export FLICK_PG_FAST=1
export FLICK_BIN="$PWD/$BUILD/flickd"
export FLICK_SECRET=test-secret
export FLICK_MIGRATIONS_DIR="$PWD/migrations"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

FLICK_VAR=$FLICK_VAR bash scripts/services.sh down >/dev/null 2>&1 || true
rm -rf "$FLICK_VAR"
mkdir -p "$FLICK_VAR"
bash scripts/services.sh up || { echo "test: services did not start"; failed=$((failed + 1)); return; }
eval "$(bash scripts/services.sh env | sed 's/^/export /')"
export FLICK_DATA_DIR="$FLICK_VAR/data"
"$FLICK_BIN" migrate >/dev/null || { echo "test: migrate failed"; failed=$((failed + 1)); return; }

log="$FLICK_VAR/test.log"
: > "$log"

# A Criterion binary prints "Synthesis: Tested: N | Passing: P | Failing: F | Crashing: C".
run_criterion() {
  local bin=$1 out
  out=$("$bin" --jobs 1 2>&1)
  local rc=$?
  printf '%s\n' "$out" >> "$log"
  local line; line=$(printf '%s\n' "$out" | grep 'Synthesis' | tail -1)
  local p f c
  p=$(sed -n 's/.*Passing: \([0-9]*\).*/\1/p' <<<"$line")
  f=$(sed -n 's/.*Failing: \([0-9]*\).*/\1/p' <<<"$line")
  c=$(sed -n 's/.*Crashing: \([0-9]*\).*/\1/p' <<<"$line")
  p=${p:-0}; f=${f:-0}; c=${c:-0}
  if [ -z "$line" ] || { [ $rc -ne 0 ] && [ $((f + c)) -eq 0 ]; }; then f=$((f + 1)); fi
  passed=$((passed + p)); failed=$((failed + f + c))
  printf '%-44s %3d passed, %d failed\n' "${bin#$BUILD/tests/}" "$p" "$((f + c))"
  [ $((f + c)) -eq 0 ] || printf '%s\n' "$out" | grep -E 'FAIL|CRASH|Assertion|error' | head -20
}

for bin in "$BUILD"/tests/unit/*/* "$BUILD"/tests/integration/*; do
  [ -x "$bin" ] && [ -f "$bin" ] || continue
  case "$bin" in *.d|*.o) continue ;; esac
  run_criterion "$bin"
done

# End-to-end suites print "e2e: N passed, N failed" as their last line, and the moderator
# console's browser suite "browser: N passed, N failed".
run_counted() {
  local name=$1 out rc line p f
  shift
  out=$("$@" 2>&1)
  rc=$?
  printf '%s\n' "$out" >> "$log"
  line=$(printf '%s\n' "$out" | grep -E "^$name: [0-9]+ passed, [0-9]+ failed" | tail -1)
  p=$(sed -n "s/^$name: \([0-9]*\) passed.*/\1/p" <<<"$line"); p=${p:-0}
  f=$(sed -n 's/.*passed, \([0-9]*\) failed.*/\1/p' <<<"$line"); f=${f:-1}
  [ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
  passed=$((passed + p)); failed=$((failed + f))
  printf '%-44s %3d passed, %d failed\n' "$name" "$p" "$f"
  [ "$f" -eq 0 ] || printf '%s\n' "$out" | grep -vE '^(ok|PASS)' | tail -60
}
if ls tests/e2e/test_*.py >/dev/null 2>&1; then run_counted e2e $PY tests/e2e/run.py; fi
if ls tests/browser/*.mjs >/dev/null 2>&1; then run_counted browser node tests/browser/run.mjs; fi

bash scripts/services.sh down >/dev/null 2>&1 || true
echo "full log: $log"
}

# The deployment description must stay valid (it is not run here: no container engine).
check_compose() {
  if docker-compose -f docker-compose.yml config -q 2>"$PWD/var/compose.err"; then
    passed=$((passed + 1)); echo "docker-compose.yml                             1 passed, 0 failed"
  else
    failed=$((failed + 1)); echo "docker-compose.yml is invalid:"; cat "$PWD/var/compose.err"
  fi
}

[ $# -gt 0 ] || set -- "${FLICK_BUILD:-build}"
mkdir -p var
check_compose
for b in "$@"; do run_build "$b"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
