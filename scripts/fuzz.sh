#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default
# 20000x). `go test -fuzz` takes one target and one package at a time, hence
# the loop. A count (Nx) rather than a duration: with a duration, Go 1.26's
# fuzz coordinator can report a spurious "context deadline exceeded" when
# the time runs out while a worker is mid-call (golang/go#75804, fixed in
# Go 1.27), which would fail CI with no crasher.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${FUZZTIME:-20000x}
status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func \(Fuzz[A-Za-z0-9_]*\)' "$dir"/*_test.go 2>/dev/null | awk '{print $2}' | sort -u); do
    echo "fuzz: $pkg $target ($time)"
    if ! go test -run='^$' -fuzz="^${target}\$" -fuzztime="$time" "$pkg" >/tmp/fuzz.$$.log 2>&1; then
      cat /tmp/fuzz.$$.log
      status=1
    fi
  done
done
rm -f /tmp/fuzz.$$.log
exit $status
