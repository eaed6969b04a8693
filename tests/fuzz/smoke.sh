#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# usage: smoke.sh FUZZER_BINARY
# Runs a libFuzzer binary over its seed corpus tests/fuzz/corpus/<name without
# fuzz_> for FUZZ_SECONDS (default 10) and prints "PASS fuzz/<name>: N execs",
# or "FAIL fuzz/<name>: ..." with the crash. New inputs go to a temp dir, so
# the checked-in corpus is never modified.
set -u
bin=${1:?usage: smoke.sh FUZZER_BINARY}
secs=${FUZZ_SECONDS:-10}
name=$(basename "$bin")
name=${name#fuzz_}
corpus="$(cd "$(dirname "$0")" && pwd)/corpus/$name"
if [ ! -x "$bin" ]; then
	echo "FAIL fuzz/$name: $bin is not executable"
	exit 1
fi
if [ ! -d "$corpus" ]; then
	echo "FAIL fuzz/$name: no seed corpus at $corpus"
	exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/new"
timeout -k 10 $((secs + 60)) "$bin" -max_total_time="$secs" -print_final_stats=1 \
	-artifact_prefix="$work/" -rss_limit_mb=2048 -timeout=10 \
	"$work/new" "$corpus" >"$work/log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/log" | tail -n 1)
if [ $rc -eq 0 ] && [ -n "$execs" ]; then
	echo "PASS fuzz/$name: $execs execs in ${secs}s"
	exit 0
fi
why=$(grep -m1 -E 'ERROR: (libFuzzer|AddressSanitizer|UndefinedBehaviorSanitizer)|runtime error|BUG:' "$work/log")
echo "FAIL fuzz/$name: exit $rc: ${why:-no stats}"
grep -A 30 -E 'ERROR:|runtime error|BUG:' "$work/log" | head -n 60 >&2
for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
	[ -f "$a" ] || continue
	echo "  artifact $(basename "$a"): $(head -c 300 "$a" | od -An -c | head -n 5)" >&2
done
exit 1
