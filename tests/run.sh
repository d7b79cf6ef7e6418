#!/usr/bin/env bash
# Runs every test: the C test binaries (unit tests and BPF_PROG_TEST_RUN
# fixtures) and the network-namespace end-to-end tests. Each prints one line
# per test, "PASS name", "FAIL name" or "SKIP name: reason"; this runner
# counts them and ends with "N passed, N failed, N skipped". A suite that
# crashes, times out or reports nothing, and a test binary that was not built,
# count as failures; the exit status is non-zero when anything failed.
#
#   tests/run.sh [FILTER]    only suites whose file name contains FILTER
#   BUILD=DIR tests/run.sh   the binaries (test suites, xvipd, xvipctl) of DIR
set -u
cd "$(dirname "$0")/.."

filter=${1:-}
build=${BUILD:-build}
[[ "$build" = /* ]] || build=$PWD/$build
# The e2e suites run the daemon and the tools of the same build.
export BUILD=$build
passed=0 failed=0 skipped=0
failed_names=()
log_dir=$(mktemp -d /tmp/xvip-test-logs.XXXXXX)

run_suite() {
	local name=$1 limit=$2; shift 2
	local out="$log_dir/$name.out" err="$log_dir/$name.err" rc
	printf '== %s\n' "$name"
	timeout --kill-after=10 "$limit" "$@" >"$out" 2>"$err"
	rc=$?
	cat "$out"
	local p f s
	p=$(grep -c '^PASS ' "$out")
	f=$(grep -c '^FAIL ' "$out")
	s=$(grep -c '^SKIP ' "$out")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	while read -r t; do failed_names+=("$name: $t"); done < <(grep '^FAIL ' "$out" | cut -c6-)
	if [ "$f" -eq 0 ] && { [ "$rc" -ne 0 ] || [ $((p + s)) -eq 0 ]; }; then
		# A crash or time-out that no test reported, or a suite that ran
		# nothing, is a failure of its own.
		local why="exit status $rc"
		[ "$rc" -eq 0 ] && why="no test reported a result"
		echo "FAIL $name ($why)"
		f=1
		failed=$((failed + 1))
		failed_names+=("$name: $why")
	fi
	if [ "$f" -gt 0 ]; then
		echo "-- stderr of $name (last 40 lines):"
		tail -n 40 "$err"
	fi
}

# The C suites: one binary per tests/test_*.c (the Makefile's TEST_SRCS); one
# that was not built is a failure, not a suite less.
for src in tests/test_*.c; do
	name=$(basename "$src" .c)
	bin=$build/tests/$name
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	if [ ! -x "$bin" ]; then
		printf '== %s\n' "$name"
		echo "FAIL $name ($bin not built: make)"
		failed=$((failed + 1))
		failed_names+=("$name: not built")
		continue
	fi
	run_suite "$name" 300 "$bin"
done

# Offline checks written in Python (deployment manifests), same result lines.
for py in tests/test_*.py; do
	[ -f "$py" ] || continue
	name=$(basename "$py" .py)
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	run_suite "$name" 300 python3 "$py"
done

for script in tests/e2e_*.sh; do
	[ -f "$script" ] || continue
	name=$(basename "$script" .sh)
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	# A suite may ask for more time in a "# run.sh timeout: SECONDS" line (the kernel matrix).
	limit=$(sed -n 's/^# run.sh timeout: \([0-9][0-9]*\)$/\1/p' "$script" | head -1)
	run_suite "$name" "${limit:-600}" bash "$script"
done

if [ ${#failed_names[@]} -gt 0 ]; then
	echo
	echo "Failed:"
	printf '  %s\n' "${failed_names[@]}"
fi
echo "logs: $log_dir"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
