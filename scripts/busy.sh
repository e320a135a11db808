#!/usr/bin/env bash
# Run a command on a busy machine: two CPU hogs beside it, stopped when it ends.
#   scripts/busy.sh scripts/run-tests.sh
#   HOGS=4 HOG_NICE=-3 scripts/busy.sh .venv/bin/python bench/bench_station.py
set -u
hogs=()
for _ in $(seq "${HOGS:-2}"); do
  nice -n "${HOG_NICE:-0}" python3 -c "while 1: pass" &
  hogs+=($!)
done
"$@"
status=$?
kill "${hogs[@]}" 2>/dev/null
exit $status
