#!/usr/bin/env bash
# Shared by the end-to-end tests: result lines the runner counts, and a
# runner that sets up the suite's lab, calls each test function and always
# cleans up.
#
# A suite ends with
#   e2e_main "$skip" setup test_a test_b ...
# where $skip says which capability the machine lacks (checked before any of
# the project's code runs: e2e_skip_reason, plus the suite's own checks), or
# is empty. With a reason, every test is a SKIP. Otherwise setup runs (the
# lab, xvipd); if it fails, every test is a FAIL naming why, with the logs in
# $E2E_LOGS on stderr; else each test runs and reports PASS, FAIL or SKIP.

# The build the suite runs (tests/run.sh exports it; BUILD=DIR runs another one).
BUILD=${BUILD:-$ROOT/build}
LAB_BUILD=$BUILD
FAB_BUILD=$BUILD

e2e_cur=""
e2e_failed=0
e2e_why=""

e2e_fail() {
	echo "  $e2e_cur: $*" >&2
	e2e_failed=1
}

# check DESCRIPTION COMMAND...: run COMMAND, record a failure naming DESCRIPTION.
check() {
	local what=$1; shift
	if ! "$@"; then
		e2e_fail "$what"
		return 1
	fi
	return 0
}

# Inside a test: report it skipped with a reason (the machine lacks something).
e2e_skip() {
	e2e_skipped=$1
}

# e2e_run SKIP_REASON test_fn...: runs each test function, prints its result line.
e2e_run() {
	local skip=$1 t; shift
	for t in "$@"; do
		if [ -n "$skip" ]; then
			echo "SKIP $t: $skip"
			continue
		fi
		e2e_cur=$t
		e2e_failed=0
		e2e_skipped=""
		"$t"
		if [ "$e2e_failed" -ne 0 ]; then echo "FAIL $t";
		elif [ -n "$e2e_skipped" ]; then echo "SKIP $t: $e2e_skipped";
		else echo "PASS $t"; fi
	done
}

# In setup: need WHY COMMAND...: run a step; when it fails, WHY is why setup failed.
need() {
	local why=$1; shift
	"$@" && return 0
	e2e_why=${e2e_why:-$why}
	return 1
}

# In setup: e2e_await NAME PIDFILE CONDITION [TENTHS]: wait (default 10 s) for
# CONDITION (a shell command) while the daemon NAME of PIDFILE runs; when it
# exits first or the time runs out, say which as why setup failed.
e2e_await() {
	local name=$1 pidfile=$2 cond=$3 tries=${4:-100} pid rc
	while :; do
		eval "$cond" >/dev/null 2>&1 && return 0
		pid=$(cat "$pidfile" 2>/dev/null)
		if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			rc=$?
			# 127: not this shell's child (disowned), its status is gone.
			[ "$rc" = 127 ] && rc="unknown"
			e2e_why=${e2e_why:-"$name exited (status $rc) before: $cond"}
			return 1
		fi
		[ "$tries" -gt 0 ] || break
		sleep 0.1
		tries=$((tries - 1))
	done
	e2e_why=${e2e_why:-"$name running, but ${4:-100} tenths of a second later still not: $cond"}
	return 1
}

# The last lines of each log the suite names in E2E_LOGS (file names or globs), but empty ones.
e2e_dump_logs() {
	local f
	# shellcheck disable=SC2086
	for f in ${E2E_LOGS:-}; do
		[ -s "$f" ] || continue
		echo "-- $f (last 40 lines):" >&2
		tail -n 40 "$f" >&2
	done
}

# e2e_main SKIP_REASON SETUP test_fn...: see the top of this file.
e2e_main() {
	local skip=$1 setup=$2 t rc
	shift 2
	if [ -n "$skip" ]; then
		e2e_run "$skip" "$@"
		return 0
	fi
	e2e_why=""
	"$setup"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		e2e_why=${e2e_why:-"$setup returned $rc"}
		e2e_dump_logs
		echo "setup failed: $e2e_why" >&2
		for t in "$@"; do echo "FAIL $t: setup failed: $e2e_why"; done
		return 1
	fi
	e2e_run "" "$@"
}

# Why the machine cannot run netns tests, or nothing. Only what the machine
# lacks: a missing build or a daemon that does not start is a failure (setup).
e2e_skip_reason() {
	[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, bpf)"; return; }
	command -v ip >/dev/null || { echo "iproute2 missing"; return; }
	command -v python3 >/dev/null || { echo "python3 missing"; return; }
	command -v nsenter >/dev/null || { echo "nsenter missing (util-linux)"; return; }
	ip netns add xvip-probe-$$ 2>/dev/null || { echo "cannot create network namespaces"; return; }
	ip netns del xvip-probe-$$
}

# In setup: the build has what the suite runs (a missing binary is a failure).
e2e_built() {
	local f
	for f in "$@"; do
		[ -f "$BUILD/$f" ] || {
			e2e_why=${e2e_why:-"$BUILD/$f not built (make)"}
			return 1
		}
	done
}
