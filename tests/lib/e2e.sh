#!/usr/bin/env bash
# Shared by the end-to-end tests: result lines the runner counts, and a
# runner that calls each test function and always cleans up.

e2e_cur=""
e2e_failed=0

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

# Why the machine cannot run netns tests, or nothing.
e2e_skip_reason() {
	[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces, bpf)"; return; }
	command -v ip >/dev/null || { echo "iproute2 missing"; return; }
	command -v python3 >/dev/null || { echo "python3 missing"; return; }
	ip netns add xvip-probe-$$ 2>/dev/null || { echo "cannot create network namespaces"; return; }
	ip netns del xvip-probe-$$
	[ -x "$LAB_ROOT/build/xvipd" ] || { echo "build/xvipd not built"; return; }
}
