#!/usr/bin/env bash
# `make bench`: every benchmark in one run, then bench/results.json,
# bench/results.md and bench/results.png (scripts/bench_report.py).
#
#   scripts/bench.sh [--smoke] [--out DIR] [--only dp,veth,cp] [--no-plot]
#
#   dp    per-packet cost of the XDP program (tests/bench_dp, BPF_PROG_TEST_RUN)
#   veth  Mpps through veth on one core: xvip vs kube-proxy-style nftables (tests/bench_veth)
#   cp    the control plane: full sync, change latency, memory, Maglev (tests/bench_cp)
#
# Traffic stays in namespaces named xvbench-<kind><PID>-*, which each
# benchmark removes on exit (and this script removes if a killed run left them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench
ONLY=dp,veth,cp
SMOKE=()
PLOT=()
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) SMOKE=(--smoke) ;;
	--out) OUT=$2; shift ;;
	--only) ONLY=$2; shift ;;
	--no-plot) PLOT=(--no-plot) ;;
	*) echo "usage: $0 [--smoke] [--out DIR] [--only dp,veth,cp] [--no-plot]" >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces, bpf)" >&2; exit 1; }
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

RAW=$(mktemp -d /tmp/xvbench-raw.XXXXXX)
# What killed runs left: namespaces and pins carry their run's pid
# (xvbench-veth<PID>-*, xvbench-cp<PID>-*, ...); a live run's are left alone.
leftovers() {
	local n p
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^xvbench-[a-z]+[0-9]+-' || true); do
		p=$(sed -E 's/^xvbench-[a-z]+([0-9]+)-.*/\1/' <<<"$n")
		kill -0 "$p" 2>/dev/null && continue
		ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$n" 2>/dev/null || true
	done
	for n in /sys/fs/bpf/xvbench-*; do
		[ -e "$n" ] || continue
		p=$(sed -E 's/.*[^0-9]([0-9]+)$/\1/' <<<"$n")
		kill -0 "$p" 2>/dev/null || rm -rf "$n" 2>/dev/null || true
	done
}
cleanup() { rm -rf "$RAW"; }
trap cleanup EXIT
leftovers

# The machine, for the README's Performance section.
python3 - "$RAW/machine.json" "$ROOT" <<'EOF'
import json, os, platform, subprocess, sys, time
def sh(c):
    try:
        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
    except Exception:
        return "?"
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip()
mem = int(sh("awk '/MemTotal/ {print $2}' /proc/meminfo") or 0) / 1048576
m = {
    "cpu": cpu, "cpus": os.cpu_count(), "mem_gib": round(mem, 1),
    "kernel": platform.release(), "virt": sh("systemd-detect-virt 2>/dev/null || echo unknown"),
    "clocksource": sh("cat /sys/devices/system/clocksource/clocksource0/current_clocksource"),
    "loadavg_before": open("/proc/loadavg").read().split()[0:3],
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": sh("git -C %s rev-parse --short HEAD" % sys.argv[2]),
    "libbpf": sh("dpkg-query -W -f='${Version}' libbpf-dev"),
    "clang": sh("clang --version | head -1"),
}
m["loadavg_before"] = " ".join(m["loadavg_before"])
json.dump(m, open(sys.argv[1], "w"), indent=2)
EOF

args=(--out "$OUT" --machine "$RAW/machine.json")
failed=()
# run NAME CMD...: a benchmark that fails is reported, and the others still run.
run() {
	local name=$1; shift
	local rc=0
	"$@" || rc=$?
	if [ $rc -ne 0 ]; then
		echo "bench: $name failed (exit $rc); its results are partial or missing" >&2
		failed+=("$name")
	fi
}
if [[ ",$ONLY," == *,dp,* ]]; then
	echo "bench: per-packet cost (tests/bench_dp)" >&2
	run bench_dp "$ROOT/build/tests/bench_dp" "${SMOKE[@]}" --out "$RAW/dp.json"
	args+=(--dp "$RAW/dp.json")
fi
if [[ ",$ONLY," == *,veth,* ]]; then
	echo "bench: throughput through veth (tests/bench_veth)" >&2
	run bench_veth "$ROOT/build/tests/bench_veth" "${SMOKE[@]}" --root "$ROOT" --out "$RAW/veth.json"
	args+=(--veth "$RAW/veth.json")
fi
if [[ ",$ONLY," == *,cp,* ]]; then
	echo "bench: control plane (tests/bench_cp)" >&2
	api=()
	[ -f "$ROOT/tests/k8s_standin.py" ] && api=(--api)
	run bench_cp "$ROOT/build/tests/bench_cp" "${SMOKE[@]}" "${api[@]}" --root "$ROOT" \
		--out "$RAW/cp.json"
	args+=(--cp "$RAW/cp.json")
fi
python3 - "$RAW/machine.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["loadavg_after"] = " ".join(open("/proc/loadavg").read().split()[0:3])
json.dump(m, open(sys.argv[1], "w"), indent=2)
EOF
python3 "$ROOT/scripts/bench_report.py" "${args[@]}" "${PLOT[@]}"
echo "bench: results in $OUT/results.json, $OUT/results.md$([ ${#PLOT[@]} -eq 0 ] && echo ", $OUT/results.png")" >&2
if [ ${#failed[@]} -gt 0 ]; then
	echo "bench: failed: ${failed[*]}" >&2
	exit 1
fi
