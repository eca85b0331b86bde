#!/usr/bin/env bash
# Runs every benchmark once (bounded by -benchtime) and writes bench-results/results.md,
# comparing each Strata benchmark with the floor measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-results
benchtime=${BENCHTIME:-2s}
pkgs=${BENCH_PKGS:-./...}
go build -o bin/benchreport ./functions/cmd/benchreport
go test -run '^$' -bench "${BENCH:-.}" -benchtime "$benchtime" -benchmem -timeout 30m $pkgs \
  | tee bench-results/raw.txt \
  | ./bin/benchreport -o bench-results/results.md >/dev/null
cat bench-results/results.md
