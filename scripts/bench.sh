#!/usr/bin/env bash
# Runs every benchmark once and writes bench-results/results.md, comparing each Strata
# benchmark with the floor measured in the same run, with the machine's details.
#
# Two passes feed one report:
#   - every package but e2e/bench, each benchmark bounded by BENCHTIME (default 1s);
#   - e2e/bench (256 MiB / 1 GiB through the strata binary, cold start), whose iterations
#     are single large transfers: a fixed count, LARGE_BENCHTIME (default 1x).
# BENCH filters benchmarks (go test -bench), BENCH_PKGS the packages (default ./...).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-results
benchtime=${BENCHTIME:-1s}
large_benchtime=${LARGE_BENCHTIME:-1x}
pkgs=$(go list ${BENCH_PKGS:-./...})
large_pkg=github.com/stratastore/strata/e2e/bench
timed=$(grep -vx "$large_pkg" <<<"$pkgs" || true)
large=$(grep -x "$large_pkg" <<<"$pkgs" || true)
go build -o bin/benchreport ./functions/cmd/benchreport
{
  if [ -n "$timed" ]; then
    go test -run '^$' -bench "${BENCH:-.}" -benchtime "$benchtime" -benchmem -timeout 30m $timed
  fi
  if [ -n "$large" ]; then
    go test -run '^$' -bench "${BENCH:-.}" -benchtime "$large_benchtime" -timeout 30m $large
  fi
} | tee bench-results/raw.txt \
  | ./bin/benchreport -o bench-results/results.md >/dev/null
cat bench-results/results.md
