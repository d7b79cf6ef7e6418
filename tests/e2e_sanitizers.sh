#!/usr/bin/env bash
# The C test binaries built with AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer (`make sanitize-build`, into build/san/tests/),
# each run whole. One line per binary: PASS when every test in it passed and
# the sanitizers stayed silent; FAIL with the report otherwise, or when a
# binary was not built.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
tmp=$(mktemp -d /tmp/xvip-san.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Every C test (make's SAN_TESTS, by default tests/test_*.c); one not built is a failure.
for t in ${SAN_TESTS:-$(cd "$ROOT/tests" && ls test_*.c | sed 's/\.c$//')}; do
	bin=$BUILD/san/tests/$t
	if [ ! -x "$bin" ]; then
		echo "FAIL sanitizers:$t ($bin not built: make sanitize-build)"
		continue
	fi
	timeout --kill-after=10 300 "$bin" >"$tmp/$t.out" 2>"$tmp/$t.err"
	rc=$?
	p=$(grep -c '^PASS ' "$tmp/$t.out")
	f=$(grep -c '^FAIL ' "$tmp/$t.out")
	s=$(grep -c '^SKIP ' "$tmp/$t.out")
	if [ "$rc" -eq 0 ] && [ "$f" -eq 0 ] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/$t.err"; then
		if [ "$p" -eq 0 ]; then
			# Nothing ran under the sanitizers: no pass (the reason is the binary's).
			echo "SKIP sanitizers:$t: all $s skipped ($(sed -n '1s/^SKIP [^:]*: //p' "$tmp/$t.out"))"
			continue
		fi
		echo "PASS sanitizers:$t ($p passed, $s skipped under ASan+UBSan)"
	else
		echo "FAIL sanitizers:$t (exit $rc, $f failed)"
		grep -E '^FAIL ' "$tmp/$t.out" >&2
		grep -A30 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$tmp/$t.err" | head -60 >&2
	fi
done
