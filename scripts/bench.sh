#!/usr/bin/env bash
# The benchmarks behind the README's figures (not part of `make test`, which
# only smoke-runs them). Each prints its figures and the ratio against a
# baseline measured in the same run. About 15 minutes on 2 cores.
#
#   scripts/bench.sh              everything below but the scale table
#   scripts/bench.sh scale        peak RSS, CPU and wall time against rows (1M,
#                                 10M), S3 end to end against a plain PutObject
#                                 (and with a second DuckDB thread), exports at
#                                 once: each export a child process measured by
#                                 its own rusage, 5 interleaved rounds
#                                 (EXPORTD_SCALE_REPEATS), min and median.
#                                 EXPORTD_SCALE_ONLY=rows|s3|concurrent runs one
#                                 part; EXPORTD_SCALE_CPUPROFILE=prefix writes
#                                 each child's Go CPU profile. About 30 minutes;
#                                 writes up to 3.5 GB at a time in the temp
#                                 folder and removes it.
#   scripts/bench.sh scale --100m one export of 100M rows with the defaults
#                                 (a 4.7 GB table, 34 GB of CSV; the table is
#                                 made first, then removed; 20-40 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
run() { echo "== $*"; go test -run '^$' -timeout 60m "$@" | grep -vE '^(goos|goarch|pkg|cpu):'; }
if [ "${1:-}" = scale ]; then
  if [ "${2:-}" = --100m ]; then export EXPORTD_SCALE_100M=1; fi
  echo "== scale"
  nice go test -run '^$' -timeout 600m -bench 'Scale$' -benchtime 1x ./internal/scale | grep -vE '^(goos|goarch|pkg|cpu):'
  exit 0
fi
# Issue 2: 1M raw audit rows through the production path vs DuckDB COPY to a file.
run ./internal/app -bench ExportRawRows -benchtime 1x
# Issue 3: compiled Daily Login Activity vs a hand-written query, 5M rows.
run ./internal/workbook -bench 'DailyLoginActivity$' -benchtime 9x
# Issue 4: start-up with 10,000 schedules (whole daemon, and the fire loop
# alone); fire lateness with 1,000 due at once.
run ./internal/app -bench DaemonStartup10k -benchtime 1x
run ./internal/schedule -bench 'Startup|FireLateness' -benchtime 1x
# The metrics of 10,000 schedules: creating them and one scrape, against the
# prometheus vecs they replaced.
run ./internal/metrics -bench . -benchtime 3x
# Issue 5: 1 GiB streamed to versitygw vs a plain PutObject, two part settings.
run ./internal/archive/s3store -bench Put1GiB -benchtime 1x
# Issue 13: verify of five years of a daily schedule (1,826 windows) plus a
# year of an hourly one (8,760), on the folder store (generated on tmpfs) and
# on versitygw, against reading and hashing each object one at a time; and
# archive query of failed logins per month over the five years against
# DuckDB's read_csv over the same files (medians of 5 interleaved rounds).
EXPORTD_BENCH_DIR=/dev/shm run ./internal/archive/audit -bench 'VerifyFolder|VerifyS3' -benchtime 1x
EXPORTD_BENCH_DIR=/dev/shm run ./internal/archive/audit -bench 'QueryFolder' -benchtime 5x
# Issue 14: what catch-up costs per window (fsyncs, CPU), 20-row daily windows.
run ./internal/scale -bench CatchUpWindow -benchtime 400x
# Parts: the CSV encoder and the DuckDB FIFO path.
run ./internal/render -bench . -benchtime 1x
run ./internal/source/duckdb -bench . -benchtime 1x
# Issue 12: Snowflake Arrow batches -> CSV vs DuckDB COPY of the same rows
# (1M and 10M, peak RSS of the Arrow side), and an export through the
# fakesnow emulator with the time per phase.
run ./internal/source/snowflake -bench 'ArrowCSV|EmulatorExport' -benchtime 1x
