#!/usr/bin/env bash
# Benchmarks, side by side with their anchors in one run (see README
# "Performance"). Figures go to bench.txt; benchstat summarises when present.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-bench.txt}
go test -run='^$' -bench=. -benchmem -count="${BENCH_COUNT:-5}" -benchtime="${BENCHTIME:-1s}" ./... | tee "$out"
if command -v benchstat >/dev/null 2>&1; then benchstat "$out"; fi
