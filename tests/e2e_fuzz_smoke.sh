#!/usr/bin/env bash
# libFuzzer targets (tests/fuzz/fuzz_*.c, built by `make fuzz-build` with
# AddressSanitizer and UndefinedBehaviorSanitizer), each started from its seed
# corpus in tests/fuzz/corpus/<target>/:
#   tests/e2e_fuzz_smoke.sh          a short run of each (make test): FUZZ_RUNS inputs
#   tests/e2e_fuzz_smoke.sh --long   FUZZ_TIME seconds of each (make fuzz-long); the
#                                    corpus grows in build/fuzz/corpus/<target>/
# One line per target: "PASS fuzz_<target>: N execs ..." or FAIL with the crashing input.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
long=0
[ "${1:-}" = "--long" ] && long=1
FUZZ_RUNS=${FUZZ_RUNS:-50000}
FUZZ_TIME=${FUZZ_TIME:-600}
tmp=$(mktemp -d /tmp/xvip-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# fuzz TARGET [libFuzzer flags...]
fuzz() {
	local t=$1 bin=$BUILD/fuzz/fuzz_$1 corpus art log rc execs; shift
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz_$t ($bin not built: make fuzz-build)"
		return
	fi
	if [ "$long" = 1 ]; then
		corpus=$BUILD/fuzz/corpus/$t
		art=$BUILD/fuzz/
		mkdir -p "$corpus"
		set -- "$@" -max_total_time="$FUZZ_TIME"
	else
		corpus=$tmp/corpus-$t
		art=$tmp/
		mkdir -p "$corpus"
		set -- "$@" -runs="$FUZZ_RUNS"
	fi
	cp -n "$ROOT/tests/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null
	log=$tmp/$t.log
	# Leak checks stay on: a leak is a failure like any other.
	(cd "$tmp" && "$bin" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$art" "$@" "$corpus" >"$log" 2>&1)
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -eq 0 ]; then
		echo "PASS fuzz_$t: ${execs:-?} execs, corpus $(ls "$corpus" | wc -l) inputs"
	else
		echo "FAIL fuzz_$t (exit $rc after ${execs:-?} execs)"
		grep -E 'ERROR|SUMMARY|broken promise|Test unit written|^    #[0-9]' "$log" | head -30 >&2
		for f in "$art"crash-* "$art"leak-* "$art"timeout-* "$art"oom-*; do
			[ -e "$f" ] || continue
			echo "  input $f:" >&2
			head -c 2000 "$f" | od -c | head -20 >&2
			[ "$long" = 1 ] || cp "$f" "$BUILD/fuzz/" 2>/dev/null
		done
	fi
}

fuzz model -dict="$ROOT/tests/fuzz/model.dict" -max_len=24576
fuzz addr -max_len=256
fuzz kubecfg -max_len=4096
