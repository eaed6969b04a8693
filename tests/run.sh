#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the whole suite for each build directory given (build, build-san):
# unit binaries, the fuzz smoke runs, then tests/integ/*.sh with $KTLSGW set.
# Every test prints "PASS|FAIL|SKIP name"; this counts them and ends with
# "N passed, N failed, N skipped". Exit 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run_one LABEL TIMEOUT CMD...: runs a test program, relays its lines with the
# build label, and records a FAIL when it dies without saying why.
run_one() {
	local label=$1 tmo=$2 rc
	shift 2
	timeout -k 5 "$tmo" "$@" >"$log" 2>"$log.err"
	rc=$?
	sed "s/^\(PASS\|FAIL\|SKIP\) /\1 [$label] /" "$log" | grep -E '^(PASS|FAIL|SKIP) '
	pass=$((pass + $(grep -c '^PASS ' "$log")))
	fail=$((fail + $(grep -c '^FAIL ' "$log")))
	skip=$((skip + $(grep -c '^SKIP ' "$log")))
	if grep -q '^FAIL ' "$log" || { [ $rc -ne 0 ] && [ $rc -ne 77 ]; }; then
		tail -n 40 "$log.err" | sed 's/^/    | /'
	fi
	if [ $rc -eq 77 ] && ! grep -qE '^(PASS|FAIL|SKIP) ' "$log"; then
		echo "SKIP [$label] $*: $(tail -n 1 "$log.err")"
		skip=$((skip + 1))
	elif [ $rc -ne 0 ] && [ $rc -ne 77 ] && ! grep -q '^FAIL ' "$log"; then
		echo "FAIL [$label] $*: exit $rc"
		fail=$((fail + 1))
	fi
	rm -f "$log.err"
}

run_one tree 60 tests/lint.sh
for build in "$@"; do
	case $build in /*) ;; *) build=$PWD/$build ;; esac
	label=$(basename "$build"); label=${label#build}; label=${label#-}; label=${label:-plain}
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] && run_one "$label" 120 "$t"
	done
	for f in "$build"/tests/fuzz_*; do
		[ -x "$f" ] && run_one "$label" 120 tests/fuzz/smoke.sh "$f"
	done
	for s in tests/integ/*.sh; do
		[ -f "$s" ] || continue
		KTLSGW="$build/ktlsgw" BUILD="$build" run_one "$label" 300 bash "$s"
	done
done
# kTLS is proven in a QEMU VM once, with the normal build.
if [ -f tests/vm/run.sh ]; then
	first=$1
	case $first in /*) ;; *) first=$PWD/$first ;; esac
	KTLSGW="$first/ktlsgw" BUILD="$first" run_one vm 900 bash tests/vm/run.sh
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
