#!/usr/bin/env bash
# Benchmarks, side by side with their anchors in one run (see README
# "Performance"). Raw figures go to bench.txt; benchstat summarises them
# when it is installed (go install golang.org/x/perf/cmd/benchstat@latest).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-bench.txt}
count=${BENCH_COUNT:-5}
: >"$out"
# SSH exec against esxisim and against OpenSSH's sshd (the anchor), the
# fabric's data path and route lookups.
go test -run='^$' -bench=. -benchmem -count="$count" ./esxisim ./fabric | tee -a "$out"
# Lab start: each iteration builds and stops a whole lab, so a fixed count.
go test -run='^$' -bench='^BenchmarkLab(Start|Ready)$' -benchtime=20x -count="$count" ./harness | tee -a "$out"
# 32- and 128-host labs (hosts = CVMs), with memory: a few iterations each.
go test -run='^$' -bench=LabStartScale -benchtime=3x -count="$count" ./harness | tee -a "$out"
# Seed 001's failover with Genesis stepped: the emulator's reaction time.
go test -run='^$' -bench=FailoverOutage -benchtime=3x -count="$count" ./harness | tee -a "$out"
./nfs/bench/ganesha.sh | tee -a "$out"
# The cost of a packet capture on NFS throughput: no capture, a capture
# elsewhere, a counting capture and the control API's ring on the NFS
# path, taking turns in one run (ratios to no capture).
go test -run='^$' -bench='^BenchmarkNFSCapture$' -benchtime=10x -count="$count" ./esxisim/datastore | tee -a "$out"
# The control API's reset (goal <= 10 ms) and the event log's throughput.
go test -run='^$' -bench='^Benchmark(Reset|EventThroughput)$' -count="$count" ./harness | tee -a "$out"
# lab conform: the whole scenario set with the reference Genesis at time
# scale 0.05 (wall time; the kit's settle and observe windows dominate).
go build -o "${TMPDIR:-/tmp}/lab" ./cmd/lab
conform="${TMPDIR:-/tmp}/lab conform --autopath builtin:genesis --time-scale 0.05"
if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --runs 3 "$conform" | tee -a "$out"
else
  (time $conform) 2>&1 | tee -a "$out"
fi
# Wall time of seed 001's scenario set (a-g), the test binary built first.
go test -c -o "${TMPDIR:-/tmp}/e2e.test" ./e2e
if command -v hyperfine >/dev/null 2>&1; then
  (cd e2e && hyperfine --runs 3 "${TMPDIR:-/tmp}/e2e.test -test.run Scenario -test.count=1") | tee -a "$out"
else
  (cd e2e && time "${TMPDIR:-/tmp}/e2e.test" -test.run Scenario -test.count=1) 2>&1 | tee -a "$out"
fi
# The compose lab (when Docker answers): image size, compose up until every
# SSH port answers, and seed 001 (c)'s failover with docker stop, next to
# the same scenario in process (lab conform, the built-in Genesis, same
# time scale 0.05).
if docker info >/dev/null 2>&1; then
  go test -count=1 -v -run '^TestComposeLab$' ./e2e 2>&1 | grep -E 'images:|up, every SSH|IO back|route removed' | tee -a "$out"
  "${TMPDIR:-/tmp}/lab" conform --autopath builtin:genesis --time-scale 0.05 --scenario c | tee -a "$out"
fi
if command -v benchstat >/dev/null 2>&1; then benchstat "$out"; fi
