#!/usr/bin/env bash
# A short run of every benchmark (scripts/bench.sh --smoke, no plot) and of
# xvip-pktgen against a real receiver: checks that each produced sane output,
# never how fast anything was (timing targets live in `make bench`).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB_ROOT=$ROOT
. "$ROOT/tests/lib/e2e.sh"

PFX=xvbench-smoke$$
OUT=""

# Ours, and those of earlier runs that were killed (the pid in the name is gone).
cleanup_ns() {
	local n p
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^xvbench-smoke[0-9]+-' || true); do
		p=$(sed -E 's/^xvbench-smoke([0-9]+)-.*/\1/' <<<"$n")
		[ "$p" != $$ ] && kill -0 "$p" 2>/dev/null && continue
		ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$n" 2>/dev/null || true
	done
}

cleanup() {
	cleanup_ns
	[ -n "$OUT" ] && rm -rf "$OUT"
}

# jq-less JSON checks: py EXPR evaluates EXPR with d = results.json; true -> exit 0.
py() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("    false: " + sys.argv[2], file=sys.stderr)
sys.exit(0 if ok else 1)' "$OUT/results.json" "$1"
}

# ---- xvip-pktgen's frames, checked by a receiving stack (checksums, flows)

rx_setup() {
	cleanup_ns
	ip netns add $PFX-gen && ip netns add $PFX-rx || return 1
	ip link add g0 netns $PFX-gen type veth peer name r0 netns $PFX-rx || return 1
	ip -n $PFX-gen link set g0 up
	ip -n $PFX-rx link set r0 up
	ip -n $PFX-rx link set lo up
	ip -n $PFX-rx addr add 198.18.30.1/24 dev r0
	ip -n $PFX-rx addr add 2001:db8:30::1/64 dev r0 nodad
	# Frames redirected into a veth need NAPI on the peer: GRO gives it one.
	ip netns exec $PFX-rx ethtool -K r0 gro on >/dev/null
}

# rx ADDR OUT: a receiver on ADDR:9 in the background; after 2 s without a
# datagram it writes "datagrams distinct-sources" to OUT. Ready once OUT.ready exists.
rx() {
	ip netns exec $PFX-rx python3 -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((sys.argv[1], 9))
s.settimeout(2)
open(sys.argv[2] + ".ready", "w").close()
n, flows = 0, set()
try:
    while True:
        _, src = s.recvfrom(2048)
        n += 1
        flows.add(src[:2])
except socket.timeout:
    pass
open(sys.argv[2], "w").write("%d %d\n" % (n, len(flows)))' "$1" "$2" &
	RX_PID=$!
	wait_for "test -e $2.ready" 50
	sleep 0.2
}

wait_for() {
	local tries=$2
	while [ "$tries" -gt 0 ]; do
		eval "$1" && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

snmp() {	# snmp PROTO FIELD: a counter from the rx namespace's /proc/net/snmp(6)
	ip netns exec $PFX-rx awk -v p="$1" -v f="$2" '
		$1 == p":" && !h { for (i = 2; i <= NF; i++) c[i] = $i; h = 1; next }
		$1 == p":" && h { for (i = 2; i <= NF; i++) if (c[i] == f) print $i }' /proc/net/snmp
}

snmp6() { ip netns exec $PFX-rx awk -v f="$1" '$1 == f { print $2 }' /proc/net/snmp6; }

pktgen() {
	local mac
	mac=$(ip netns exec $PFX-rx cat /sys/class/net/r0/address)
	ip netns exec $PFX-gen "$BUILD/xvip-pktgen" --iface g0 --dst-mac "$mac" "$@"
}

test_pktgen_udp4_frames_arrive_valid() {
	local n flows csum0
	rx_setup || { e2e_fail "namespaces"; return; }
	csum0=$(snmp Udp InCsumErrors)
	rx 198.18.30.1 "$OUT/rx4"
	# 3000 frames over 64 flows (4 addresses x 16 ports), paced: no socket overflow.
	pktgen --src 198.18.30.10 --dst 198.18.30.1 --proto udp --dport 9 --count 3000 \
		--flows 64 --src-addrs 4 --size 100 --rate 20000 >/dev/null || e2e_fail "xvip-pktgen failed"
	wait "$RX_PID"
	n=0 flows=0
	[ -s "$OUT/rx4" ] && read -r n flows <"$OUT/rx4"
	check "3000 datagrams received (got $n)" test "$n" -eq 3000
	check "64 distinct (address, port) sources (got $flows)" test "$flows" -eq 64
	check "no UDP checksum errors" test "$(snmp Udp InCsumErrors)" = "$csum0"
}

test_pktgen_flows_and_ipv6() {
	local n flows
	ip netns exec $PFX-rx true 2>/dev/null || rx_setup || { e2e_fail "namespaces"; return; }
	rx 2001:db8:30::1 "$OUT/rx6"
	pktgen --src 2001:db8:30::10 --dst 2001:db8:30::1 --proto udp --dport 9 --count 2000 \
		--flows 50 --src-addrs 5 --rate 20000 >/dev/null || e2e_fail "xvip-pktgen IPv6 failed"
	wait "$RX_PID"
	n=0 flows=0
	[ -s "$OUT/rx6" ] && read -r n flows <"$OUT/rx6"
	check "IPv6: 2000 datagrams received (got $n)" test "$n" -eq 2000
	check "IPv6: 50 distinct (address, port) sources (got $flows)" test "$flows" -eq 50
	check "IPv6: no UDP checksum errors" test "$(snmp6 Udp6InCsumErrors)" = 0
}

test_pktgen_tcp_checksums() {
	local in0 in1
	ip netns exec $PFX-rx true 2>/dev/null || rx_setup || { e2e_fail "namespaces"; return; }
	in0=$(snmp Tcp InSegs)
	pktgen --src 198.18.30.10 --dst 198.18.30.1 --proto tcp --tcp-flags syn --dport 9 \
		--count 1000 --flows 100 --src-addrs 10 --rate 20000 >/dev/null ||
		e2e_fail "xvip-pktgen TCP failed"
	sleep 0.3
	in1=$(snmp Tcp InSegs)
	check "TCP: 1000 segments taken in ($in0 -> $in1)" test $((in1 - in0)) -ge 1000
	check "TCP: no checksum errors" test "$(snmp Tcp InCsumErrors)" = 0
	check "IP: no header errors" test "$(snmp Ip InHdrErrors)" = 0
}

test_pktgen_json_and_refusals() {
	local j
	ip netns exec $PFX-rx true 2>/dev/null || rx_setup || { e2e_fail "namespaces"; return; }
	j=$(pktgen --src 198.18.30.10 --dst 198.18.30.1 --count 5000 --json) ||
		e2e_fail "xvip-pktgen --json failed"
	check "JSON reports 5000 sent and a rate ($j)" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
sys.exit(0 if d["sent"] == 5000 and d["mpps"] > 0 and d["dev_xdp_xmit"] == 5000 else 1)' "$j"
	check "mixed address families refused" bash -c "! ip netns exec $PFX-gen \
		$BUILD/xvip-pktgen --iface g0 --dst-mac 02:00:00:00:00:01 --src 198.18.30.10 \
		--dst 2001:db8::1 2>/dev/null"
	check "a frame shorter than its headers refused" bash -c "! ip netns exec $PFX-gen \
		$BUILD/xvip-pktgen --iface g0 --dst-mac 02:00:00:00:00:01 --src 2001:db8::2 \
		--dst 2001:db8::1 --proto tcp --size 60 2>/dev/null"
	cleanup_ns
}

test_pktgen_script_refuses_without_pktgen() {
	local out
	if [ -d /proc/net/pktgen ]; then
		e2e_skip "this kernel has pktgen (/proc/net/pktgen): the refusal cannot happen here"
		return
	fi
	out=$("$ROOT/scripts/pktgen.sh" --dev lo --dst 198.18.30.1 --dst-mac 02:00:00:00:00:01 2>&1)
	check "scripts/pktgen.sh exits non-zero" test $? -ne 0
	check "and says why ($out)" grep -q "/proc/net/pktgen" <<<"$out"
}

# ---- the benchmarks, short

run_benchmarks() {
	"$ROOT/scripts/bench.sh" --smoke --no-plot --out "$OUT" >"$OUT/bench.log" 2>&1
}

# The benchmarks run once, before the first test of their output.
bench_rc=""
bench_once() {
	[ -z "$bench_rc" ] || return 0
	run_benchmarks
	bench_rc=$?
	if [ "$bench_rc" -ne 0 ]; then
		echo "bench.sh --smoke failed:" >&2
		tail -30 "$OUT/bench.log" >&2
	fi
}

test_bench_dp_output() {
	bench_once
	check "bench_dp ran" test -s "$OUT/results.json"
	check "every scenario checked: outputs, verdicts and counters" py \
		'all(s["ok"] and s["wrong_outputs"] == 0 and s["checked_outputs"] == d["dataplane"]["iterations"] for c in d["dataplane"]["configs"] for s in c["scenarios"].values())'
	check "four configurations, six scenarios each" py \
		'len(d["dataplane"]["configs"]) == 4 and all(len(c["scenarios"]) == 6 for c in d["dataplane"]["configs"])'
	check "counters moved once per packet" py \
		'all(s.get("counter_delta", d["dataplane"]["iterations"]) == d["dataplane"]["iterations"] for c in d["dataplane"]["configs"] for s in c["scenarios"].values())'
	# The floor and non-VIP traffic cost a few ns above the subtracted overhead: in a
	# short run the clock's 10 ns steps can put them a little below zero.
	check "figures are finite, positive where the program does real work" py \
		'all((-20 < s["ns"] if k in ("floor", "non_vip") else 0 < s["ns"]) and s["ns"] < 1e6 for c in d["dataplane"]["configs"] for k, s in c["scenarios"].items()) and all(0 < c["overhead_ns"] < 1e5 for c in d["dataplane"]["configs"])'
	check "the repeat>1 pitfall shows (lb_ct +1, pass +R-1)" py \
		'd["dataplane"]["configs"][0]["method_check"]["naive_repeat"]["lb_ct_delta"] == 1 and d["dataplane"]["configs"][0]["method_check"]["naive_repeat"]["pass_delta"] == d["dataplane"]["configs"][0]["method_check"]["naive_repeat"]["repeat"] - 1'
	check "the idempotent repeat run counts every repeat and keeps the packet" py \
		'(lambda m: m["lb_ct_delta"] == m["repeat"] and m["output_equals_input"])(d["dataplane"]["configs"][0]["method_check"]["idempotent_repeat"])'
}

test_bench_veth_output() {
	bench_once
	check "five paths, UDP and TCP" py \
		'set(d["throughput"]["paths"]) == {"xvip", "nftables", "forward", "redirect", "generator"}'
	# Frames that die after ~64 recycles (TTL, checksum) would show as a low share here.
	check "frames arrive at the sink on every path (>= 50% of those sent)" py \
		'all(r["arrived"] >= r["sent"] / 2 and r["arrived"] <= r["sent"] + 10 for p in d["throughput"]["paths"].values() for pr in ("udp", "tcp") for r in p[pr]["rounds"])'
	check "NAPI ran on the generator's CPU" py \
		'all(r["net_rx_softirqs_per_cpu"][d["throughput"]["cpu"]] > 0 for p in d["throughput"]["paths"].values() for pr in ("udp", "tcp") for r in p[pr]["rounds"])'
	check "rates are positive" py \
		'all(p[pr]["mpps_median"] > 0 for p in d["throughput"]["paths"].values() for pr in ("udp", "tcp"))'
}

test_bench_cp_output() {
	bench_once
	check "bench_cp finished" py 'd["control_plane"]["ok"]'
	check "full sync measured (maps, lo, applied)" py \
		'(lambda f: 0 < f["maps_programmed_s"] <= f["applied_s"] and f["last_vip_on_lo_s"] > 0 and f["maglev_tables"] >= f["services"] - 2)(d["control_plane"]["full_sync"])'
	check "change latencies measured" py \
		'd["control_plane"]["changes"]["endpoint_change_to_map"]["n"] >= 3 and d["control_plane"]["changes"]["ready_endpoint_to_vip_on_lo"]["n"] >= 1'
	check "memory measured" py \
		'd["control_plane"]["full_sync"]["xvipd_rss_kib"] > 0 and d["control_plane"]["full_sync"]["bpf_maps_bytes"] > 0'
	check "Maglev build time for every table size" py \
		'[b["table_size"] for b in d["control_plane"]["maglev_build"]] == [251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071] and all(b["us_10_backends"] > 0 for b in d["control_plane"]["maglev_build"])'
	check "API path measured" py 'd["control_plane"]["api"]["measured"]'
}

# A benchmark namespace whose process (the pid in its name) is gone was left behind.
no_orphan_namespaces() {
	local n p
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^xvbench-(veth|cp)[0-9]+-' || true); do
		p=$(sed -E 's/^xvbench-[a-z]+([0-9]+)-.*/\1/' <<<"$n")
		kill -0 "$p" 2>/dev/null || { echo "    left behind: $n" >&2; return 1; }
	done
}

test_report_written() {
	bench_once
	check "results.md has every table" bash -c "grep -q 'Per packet' $OUT/results.md &&
		grep -q 'Throughput through veth' $OUT/results.md &&
		grep -q 'Control plane' $OUT/results.md && grep -q 'Targets' $OUT/results.md"
	check "targets evaluated" py 'len(d["targets"]) >= 6'
	check "no benchmark namespace left behind" no_orphan_namespaces
}

# The benchmarks (scripts/bench.sh) run what make built in build/.
setup() {
	e2e_built xvip-pktgen || return 1
	BUILD=$ROOT/build e2e_built tests/bench_dp tests/bench_veth tests/bench_cp || return 1
	OUT=$(mktemp -d /tmp/$PFX.XXXXXX)
}

skip=$(e2e_skip_reason)
trap cleanup EXIT
e2e_main "$skip" setup test_pktgen_udp4_frames_arrive_valid test_pktgen_flows_and_ipv6 \
	test_pktgen_tcp_checksums test_pktgen_json_and_refusals \
	test_pktgen_script_refuses_without_pktgen test_bench_dp_output \
	test_bench_veth_output test_bench_cp_output test_report_written
