#!/usr/bin/env bash
# The test runner itself: tests/run.sh against builds broken on purpose, in a
# build directory of its own (BUILD=DIR; the real build is never touched):
#  - xvipd replaced by a program that exits 1: the single-node suite fails
#    every test, names why, shows the daemon's output, and run.sh exits 1;
#  - a test binary that is missing, or one that reports nothing: a failure,
#    and run.sh exits 1 (the same binary present and working: exit 0).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/lib/e2e.sh"

REAL=$BUILD
TMP=""

cleanup() { [ -n "$TMP" ] && rm -rf "$TMP"; }

# A build directory whose every entry is the real build's, but for what a test replaces.
setup() {
	local f
	TMP=$(mktemp -d /tmp/xvip-runner.XXXXXX) || return 1
	mkdir -p "$TMP/build/tests"
	for f in "$REAL"/*; do
		[ "$(basename "$f")" = tests ] || ln -s "$f" "$TMP/build/"
	done
	for f in "$REAL"/tests/*; do ln -s "$f" "$TMP/build/tests/"; done
	need "$REAL/xvipd and $REAL/tests/test_hash are not built (make)" \
		test -x "$REAL/xvipd" -a -x "$REAL/tests/test_hash"
}

# run_runner NAME FILTER: BUILD=$TMP/build tests/run.sh FILTER, output in $TMP/NAME.*
run_runner() {
	local logs
	BUILD=$TMP/build "$ROOT/tests/run.sh" "$2" >"$TMP/$1.out" 2>"$TMP/$1.err"
	echo $? >"$TMP/$1.rc"
	logs=$(sed -n 's/^logs: //p' "$TMP/$1.out")
	[[ "$logs" = /tmp/xvip-test-logs.* ]] && rm -rf "$logs"
}

test_broken_xvipd_fails_the_suite() {
	local n
	if [ -n "$(e2e_skip_reason)" ]; then
		e2e_skip "the single-node suite cannot run here: $(e2e_skip_reason)"
		return
	fi
	rm "$TMP/build/xvipd"
	printf '#!/bin/sh\necho "fake xvipd of tests/e2e_runner.sh: exit 1" >&2\nexit 1\n' \
		>"$TMP/build/xvipd"
	chmod +x "$TMP/build/xvipd"
	run_runner xvipd e2e_single_node
	n=$(grep -c '^FAIL test_.*: setup failed: xvipd exited (status 1)' "$TMP/xvipd.out")
	sed -n 's/^/  run.sh: /p' "$TMP/xvipd.out" | grep -v '^  run.sh: FAIL test_' >&2
	check "run.sh exits 1 ($(cat "$TMP/xvipd.rc"))" test "$(cat "$TMP/xvipd.rc")" = 1
	check "every test of the suite a FAIL naming why ($n of 11)" test "$n" -eq 11
	check "nothing passed or skipped" grep -qx '0 passed, 11 failed, 0 skipped' "$TMP/xvipd.out"
	check "the daemon's own output shown" grep -q 'fake xvipd of tests/e2e_runner.sh' \
		"$TMP/xvipd.out"
	ln -sf "$REAL/xvipd" "$TMP/build/xvipd"
}

test_missing_test_binary_is_a_failure() {
	run_runner present test_hash
	check "control: with the binary, run.sh exits 0 ($(cat "$TMP/present.rc"))" \
		test "$(cat "$TMP/present.rc")" = 0
	check "control: its test passed" grep -qx 'PASS flow_hash_known_answers' "$TMP/present.out"
	rm "$TMP/build/tests/test_hash"
	run_runner missing test_hash
	check "run.sh exits 1 ($(cat "$TMP/missing.rc"))" test "$(cat "$TMP/missing.rc")" = 1
	check "a FAIL line names it" grep -q "^FAIL test_hash (.*not built" "$TMP/missing.out"
	check "and it is counted" grep -q '^[0-9]* passed, 1 failed, ' "$TMP/missing.out"
}

test_silent_test_binary_is_a_failure() {
	rm -f "$TMP/build/tests/test_hash"
	printf '#!/bin/sh\nexit 0\n' >"$TMP/build/tests/test_hash"
	chmod +x "$TMP/build/tests/test_hash"
	run_runner silent test_hash
	check "run.sh exits 1 ($(cat "$TMP/silent.rc"))" test "$(cat "$TMP/silent.rc")" = 1
	check "a FAIL line says nothing was reported" \
		grep -q '^FAIL test_hash (no test reported a result)' "$TMP/silent.out"
	ln -sf "$REAL/tests/test_hash" "$TMP/build/tests/test_hash"
}

trap cleanup EXIT
e2e_main "" setup test_broken_xvipd_fails_the_suite test_missing_test_binary_is_a_failure \
	test_silent_test_binary_is_a_failure
