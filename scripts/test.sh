#!/usr/bin/env bash
# The whole test suite: what the README's test command and CI run.
# Fails if any test fails or is skipped (except suites listed in
# ALLOWED_SKIPS, which need outside accounts), then runs each fuzzer for a
# short budget and smoke-runs the benchmarks once.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-20s}
# Suites that need an outside account; the README lists them.
ALLOWED_SKIPS='^TestSnowflakeLive'

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Tests keep what a person should look at (the status page test's
# screenshots) under $EXPORTD_ARTIFACTS/<test name>.
export EXPORTD_ARTIFACTS="${EXPORTD_ARTIFACTS:-$PWD/test-artifacts}"
mkdir -p "$EXPORTD_ARTIFACTS"

echo "== go vet"
go vet ./...
(cd deploy && go vet ./...)

echo "== go test"
set +e
go test -json -count=1 -timeout 30m ./... > "$out/test.json"
status=$?
# The deploy checks (Dockerfile, Kubernetes, systemd, started as each
# target) are a module of their own: counted in the same report.
(cd deploy && go test -json -count=1 -timeout 30m ./...) >> "$out/test.json"
deploy_status=$?
[ "$status" -ne 0 ] || status=$deploy_status
set -e
go run ./scripts/testreport "$ALLOWED_SKIPS" < "$out/test.json"
[ "$status" -eq 0 ] || { echo "go test failed (exit $status)"; exit "$status"; }

# Everything again under the race detector: the daemon is concurrent
# throughout (fires, catch-up, run now, reloads, the HTTP API, uploads).
echo "== go test -race"
go test -race -count=1 -timeout 30m ./...

echo "== fuzz ($FUZZTIME each)"
for target in $(grep -rl --include='*_test.go' '^func Fuzz' internal | xargs -n1 dirname | sort -u); do
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$target"/*_test.go | sed 's/^func //'); do
    echo "-- $target $f"
    go test -run '^$' -fuzz "^$f\$" -fuzztime "$FUZZTIME" "./$target"
  done
done

echo "== benchmarks (smoke: one iteration each)"
set +e
go test -run '^$' -bench . -benchtime 1x -short ./... > "$out/bench.txt" 2>&1
bench_status=$?
set -e
grep -E '^(Benchmark|ok|FAIL|---)' "$out/bench.txt" || true
# A benchmark that fails (or leaks goroutines) fails the suite like a test.
[ "$bench_status" -eq 0 ] || { grep -vE '^(Benchmark|ok|---)' "$out/bench.txt" | tail -60; echo "benchmarks failed (exit $bench_status)"; exit "$bench_status"; }
echo "all tests passed"
