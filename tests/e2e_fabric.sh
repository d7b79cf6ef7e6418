#!/usr/bin/env bash
# The fabric end to end: a Clos lab in network namespaces with real FRR on a
# spine, two leaves and three dual-homed nodes (scripts/fabric.sh), xvipd on
# every node from one services file. Asserts what the fabric does, read from
# FRR's JSON and the wire: which nodes the leaves ECMP each VIP to, the loss
# window of a 1000 datagram/s UDP probe stream through a silent node failure
# and a silent uplink failure (BFD), drain and hold-down, a bgpd restart, and
# fail-closed withdrawal when the dataplane breaks. Measurements are printed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# A prefix per run: a run never tears down another one's fabric.
FAB=xvfab$$
FAB_ROOT=$ROOT
LAB_ROOT=$ROOT
FAB_QUIET=1
# node3 talks to FRR through vtysh (network statements), node1 and node2 through lo.
FAB_VTYSH_NODES=node3
DRAIN=6
HOLD=3
FAB_XVIPD_ARGS="--drain-seconds $DRAIN --hold-down-seconds $HOLD"
# /metrics on node1, inside its namespace.
FAB_XVIPD_ARGS_node1="--metrics-addr 127.0.0.1:9742"
# shellcheck source=../scripts/fabric.sh
. "$ROOT/scripts/fabric.sh"
. "$ROOT/tests/lib/e2e.sh"

WEB=198.18.21.1		# endpoints on every node
API=198.18.21.2		# node1 and node2 (and its load-balancer IP .102)
API_LB=198.18.21.102
JOBS=198.18.21.3	# node3 only
LOSS_LIMIT_MS=1000

now_ms() { date +%s%3N; }
say() { echo "  $*"; }		# measurements: shown in the test output

leaf_nodes() { fab_leaf_nodes "$1" "$2"; }
# Both leaves send VIP to exactly the nodes listed ("node1 node3").
leaves_are() { [ "$(leaf_nodes leaf1 "$1")" = "$2" ] && [ "$(leaf_nodes leaf2 "$1")" = "$2" ]; }
# Wait up to $3 tenths of a second for leaves_are, printing how long it took.
wait_leaves() {
	local vip=$1 want=$2 tries=${3:-100}
	fab_wait "leaves_are '$vip' '$want'" "$tries"
}

status_of() {	# node, python expression over the state file as d
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$FAB_DIR/status-node$1.json" "$2" 2>/dev/null
}
vip_why() {	# node, vip
	status_of "$1" "next((v['why'] for v in d['vip_states'] if v['vip'] == '$2'), 'absent')"
}

not_on_lo() { ! fab_vip_on_lo "$1" "$2"; }
not() { ! "$@"; }
ctl_services_has() { fab_xvipctl "$1" services | grep -q "^$2 "; }
xvip_addrs_on_lo() { fab_exec "node$1" ip -o addr show dev lo | grep -q lo:xvip; }
xdp_is_xvip() { fab_exec "node$1" ip -d link show "$2" | grep -q 'name xvip_xdp'; }
ctl_backends_has() { fab_xvipctl "$1" backends "$2" | grep -q " $3 "; }

# Every xvipd still running (by its pid file).
xvipds_running() {
	local n pid
	for n in $(seq 1 "$FAB_NODES"); do
		pid=$(cat "$FAB_DIR/xvipd-node$n.pid" 2>/dev/null) || return 1
		kill -0 "$pid" 2>/dev/null || return 1
	done
}

# FRR is installed (checked before): daemons that do not start, a fabric that does
# not converge or an xvipd that does not advertise are failures, never skips.
setup() {
	local t0
	e2e_built xvipd xvipctl tests/progs/xdp_pass.bpf.o || return 1
	t0=$(now_ms)
	need "the FRR daemons did not all start (fab_up; frr-*/start.log below)" fab_up || return 1
	need "FRR did not converge in 30 s" fab_wait fab_converged 300 || return 1
	need "cannot write the services file" fab_services || return 1
	fab_xvipd_all
	need "the leaves do not ECMP $WEB to node1 node2 node3 after 15 s" \
		wait_leaves "$WEB" "node1 node2 node3" 150 &&
		need "the leaves do not send $JOBS to node3" wait_leaves "$JOBS" "node3" 50 &&
		need "an xvipd exited" xvipds_running || return 1
	echo "  fabric up, converged, xvipd on three nodes: $(( $(now_ms) - t0 )) ms"
}

test_bgp_and_bfd_up_everywhere() {
	local r out
	for r in $(fab_routers); do
		out=$(fab_vtysh "$r" -c 'show bfd peers json' | python3 -c '
import json, sys
p = json.load(sys.stdin)
bad = [x["interface"] for x in p if x["status"] != "up" or x["receive-interval"] != 100]
print("%d %s" % (len(p), ",".join(bad)))')
		check "$r: BGP sessions Established" fab_converged
		check "$r: BFD peers up at 100 ms ($out)" test "${out#* }" = ""
		check "$r: BFD on every link ($out)" test "${out%% *}" -ge 2
	done
	out=$(fab_vtysh leaf1 -c 'show running-config bgpd' | grep -c 'multipath-relax')
	check "leaf1: bgp bestpath as-path multipath-relax" test "$out" -eq 1
}

test_vip_advertised_by_exactly_ready_nodes() {
	local v n want
	for v in "$WEB:node1 node2 node3" "$API:node1 node2" "$API_LB:node1 node2" "$JOBS:node3"; do
		want=${v#*:}
		check "leaf1 ECMPs ${v%%:*} to $want (has: $(leaf_nodes leaf1 "${v%%:*}"))" \
			test "$(leaf_nodes leaf1 "${v%%:*}")" = "$want"
		check "leaf2 ECMPs ${v%%:*} to $want (has: $(leaf_nodes leaf2 "${v%%:*}"))" \
			test "$(leaf_nodes leaf2 "${v%%:*}")" = "$want"
		check "spine ECMPs ${v%%:*} over both leaves" \
			test "$(fab_route_ifaces spine "${v%%:*}" | tr '\n' ' ')" = "swp1 swp2 "
		for n in 1 2 3; do
			if [[ " $want " = *" node$n "* ]]; then
				check "${v%%:*} on node$n's lo" fab_vip_on_lo "$n" "${v%%:*}"
			else
				check "${v%%:*} not on node$n's lo" not_on_lo "$n" "${v%%:*}"
				check "node$n says why: no ready local endpoint" \
					test "$(vip_why "$n" "${v%%:*}")" = "no ready local endpoint"
			fi
		done
	done
	check "node3 (vtysh) has network statements for exactly its VIPs" test \
		"$(fab_vtysh node3 -c 'show running-config bgpd' | grep -o 'network 198.18.21.[0-9]*/32' | sort | tr '\n' ' ')" \
		= "network $WEB/32 network $JOBS/32 "
}

test_requests_spread_over_nodes_and_pods() {
	local s
	s=$(fab_exec client python3 "$ROOT/tests/lab_client.py" tcp "$WEB" 80 90 2 | python3 -c '
import json, sys, collections
pods = collections.Counter(); bad = err = 0
for l in sys.stdin:
    r = json.loads(l)
    if "error" in r: err += 1; continue
    pods[r["pod"]] += 1
    bad += r["reply_from"] != sys.argv[1] or not r["client_seen"].startswith(sys.argv[2] + ":")
nodes = collections.Counter(p[:2] for p in pods.elements())
print("errors=%d bad=%d nodes=%s pods=%s" % (err, bad, ",".join(sorted(nodes)), ",".join(sorted(pods))))
print(" ".join("%s:%d" % kv for kv in sorted(pods.items())))' "$WEB:80" "$FAB_CLIENT_IP")
	say "90 TCP connections to $WEB:80: $(tail -1 <<<"$s")"
	check "all answered, replies from the VIP, client address kept ($s)" \
		grep -q "errors=0 bad=0 " <<<"$s"
	check "spread over the three nodes ($s)" grep -q "nodes=n1,n2,n3 " <<<"$s"
	check "and over all six pods ($s)" grep -q "pods=n1p1,n1p2,n2p1,n2p2,n3p1,n3p2" <<<"$s"
}

# The api service's endpoint on node2 goes: node2 withdraws API and only API.
test_last_endpoint_removed_withdraws_that_path_only() {
	local t0 t1
	t0=$(now_ms)
	fab_services --set n2p1=gone
	wait_leaves "$API" "node1" 100
	t1=$(now_ms)
	check "leaves: $API now only via node1" leaves_are "$API" "node1"
	check "leaves: $API_LB now only via node1" leaves_are "$API_LB" "node1"
	check "leaves: $WEB still via all three nodes" leaves_are "$WEB" "node1 node2 node3"
	check "leaves: $JOBS still via node3" leaves_are "$JOBS" "node3"
	# The state file is rewritten within 250 ms of an apply: wait that long, not longer.
	fab_wait "[ \"\$(vip_why 2 $API)\" = draining ]" 10
	check "node2 says why: draining (says: $(vip_why 2 "$API"))" test "$(vip_why 2 "$API")" = "draining"
	say "withdrawal: services file written -> both leaves drop node2's path: $((t1 - t0)) ms"
	fab_services
	t0=$(now_ms)
	wait_leaves "$API" "node1 node2" 150
	t1=$(now_ms)
	check "leaves: $API back via node1 and node2" leaves_are "$API" "node1 node2"
	say "re-advertisement: endpoint back -> both leaves have node2 again: $((t1 - t0)) ms" \
		"(hold-down $HOLD s)"
	check "re-advertised no sooner than the hold-down" test $((t1 - t0)) -ge $((HOLD * 1000 - 300))
}

# probe_with NAME ACTION...: a 6 s probe stream to WEB:53/udp, ACTION run 1.5 s in;
# leaves the probe's JSON in $FAB_DIR/probe-NAME.json.
probe_with() {
	local name=$1 pid
	shift
	rm -f "$FAB_DIR/probe.start"
	fab_exec client python3 "$ROOT/tests/fabric_probe.py" "$WEB" 53 --rate 1000 --seconds 6 \
		--flows 64 --start-file "$FAB_DIR/probe.start" >"$FAB_DIR/probe-$name.json" &
	pid=$!
	fab_wait "test -e $FAB_DIR/probe.start" 50
	sleep 1.5
	"$@"
	wait "$pid"
}

probe_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$FAB_DIR/probe-$1.json" "$2"; }

# check_probe NAME WHAT [NODE]: the probe's loss window is under the limit. With NODE (a
# failure the leaves see at once, which may cost nothing), that NODE's pods answered
# some of the stream, so the probe did cross it; otherwise the failure cost datagrams.
check_probe() {
	local name=$1 what=$2 node=${3:-} lost window gap rate
	lost=$(probe_field "$name" lost)
	window=$(probe_field "$name" loss_window_ms)
	gap=$(probe_field "$name" max_flow_gap_ms)
	rate=$(probe_field "$name" rate)
	say "$what: $lost of $(probe_field "$name" sent) datagrams lost at $rate/s," \
		"loss window ${window} ms, longest gap in one flow ${gap} ms"
	check "$what: probe ran at >= 1000 datagrams/s ($rate)" test "$rate" -ge 990
	if [ -n "$node" ]; then
		check "$what: the probe crossed $node before it went" python3 -c "
import json, sys
p = json.load(open('$FAB_DIR/probe-$name.json'))['pods']
sys.exit(0 if sum(v for k, v in p.items() if k.startswith('n${node#node}')) > 100 else 1)"
	else
		check "$what: the failure cost datagrams (the probe crossed it: $lost lost)" \
			test "$lost" -gt 0
	fi
	check "$what: loss window under $LOSS_LIMIT_MS ms (${window} ms)" \
		python3 -c "import sys; sys.exit(0 if $window < $LOSS_LIMIT_MS else 1)"
}

heal_and_wait() {
	local l
	for l in "$@"; do fab_heal_link "${l%:*}" "${l#*:}"; done
	wait_leaves "$WEB" "node1 node2 node3" 150
	fab_wait fab_converged 150
}

fail_node1() { fab_fail_link 1 1; fab_fail_link 1 2; }

test_node_failure_loss_window() {
	probe_with node fail_node1
	check_probe node "node1 fails silently (both links)"
	check "leaves dropped node1 from $WEB" leaves_are "$WEB" "node2 node3"
	heal_and_wait 1:1 1:2
	check "node1 back on both leaves after the links heal" leaves_are "$WEB" "node1 node2 node3"
}

test_uplink_failure_loss_window() {
	probe_with uplink fab_fail_link 2 1
	check_probe uplink "node2's uplink to leaf1 fails silently"
	check "leaf1 dropped node2 from $WEB" test "$(leaf_nodes leaf1 "$WEB")" = "node1 node3"
	check "leaf2 still sends $WEB to node2" test "$(leaf_nodes leaf2 "$WEB")" = "node1 node2 node3"
	check "node2 kept serving through leaf2" python3 -c "
import json, sys
p = json.load(open('$FAB_DIR/probe-uplink.json'))['pods']
sys.exit(0 if p.get('n2p1', 0) + p.get('n2p2', 0) > 500 else 1)"
	check "node2 kept $WEB on lo (one uplink is enough)" fab_vip_on_lo 2 "$WEB"
	heal_and_wait 2:1
}

links_down_node3() { fab_exec node3 ip link set eno5 down; fab_exec node3 ip link set eno7 down; }

# The plain case: the node's links lose carrier, the leaves see it at once.
test_node_links_down_loss_window() {
	probe_with linkdown links_down_node3
	check_probe linkdown "node3's links go down (carrier lost)" node3
	check "leaves dropped node3 from $WEB" leaves_are "$WEB" "node1 node2"
	check "... and $JOBS is gone from the fabric" test "$(leaf_nodes leaf1 "$JOBS")" = ""
	fab_exec node3 ip link set eno5 up
	fab_exec node3 ip link set eno7 up
	wait_leaves "$WEB" "node1 node2 node3" 200
	fab_wait fab_converged 150
	check "links up: node3 back on both leaves" leaves_are "$WEB" "node1 node2 node3"
}

# Drain: node1's only api endpoint turns terminating, then goes. The fabric
# withdraws node1's path at the first step; a client connection that still
# reaches node1 (pinned there by policy routes, as during a fabric's convergence)
# keeps working while the endpoint serves and for --drain-seconds after it is
# gone, then stops.
test_drain_keeps_established_tcp() {
	local sport=40444 log=$FAB_DIR/drain-tcp.jsonl pid t_term t_gone out rc
	fab_pin_flow "$sport" "$API" 1
	fab_exec client python3 "$ROOT/tests/fabric_tcp.py" "$API" 80 "$sport" --seconds 16 \
		--interval 0.2 >"$log" &
	pid=$!
	fab_wait "grep -q greeting $log" 30
	check "the pinned connection reached node1's pod" grep -q '"pod": "n1p1", "greeting"' "$log"
	sleep 1

	fab_services --set n1p1=terminating
	t_term=$(now_ms)
	fab_wait "leaves_are $API node2" 50
	check "terminating: the leaves withdrew node1's path for $API, kept node2's" \
		leaves_are "$API" "node2"
	check "terminating: $API off node1's lo" not_on_lo 1 "$API"
	check "terminating: node1 keeps the endpoint, serving" ctl_backends_has 1 "$API:80/tcp" serving
	sleep 2

	fab_services --set n1p1=gone
	t_gone=$(now_ms)
	fab_wait "[ \"\$(vip_why 1 $API)\" = draining ]" 30
	check "gone: node1 keeps the endpoint, draining" ctl_backends_has 1 "$API:80/tcp" draining
	check "gone: status says draining" test "$(vip_why 1 "$API")" = "draining"
	wait "$pid"
	out=$(python3 - "$log" "$t_term" "$t_gone" "$DRAIN" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t_term, t_gone, drain = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) * 1000
t0 = rows[0]["wall_ms"]
rows = [r for r in rows if not r.get("greeting")]
end = t_gone + drain
during = [r for r in rows if r["wall_ms"] < end - 500]
after = [r for r in rows if r["wall_ms"] > end + 1500]
pods = sorted({r["pod"] for r in rows if r["ok"]})
failed = [r for r in rows if not r["ok"]]
print("terminating at %.1f s, gone at %.1f s, drain ends at %.1f s; answered before: %d/%d, "
      "after: %d/%d; first failure at %s s (%s); pods %s" % (
      (t_term - t0) / 1000, (t_gone - t0) / 1000, (end - t0) / 1000,
      sum(r["ok"] for r in during), len(during), sum(r["ok"] for r in after), len(after),
      "%.1f" % ((failed[0]["wall_ms"] - t0) / 1000) if failed else "-",
      failed[0]["error"] if failed else "", ",".join(pods)))
ok = during and all(r["ok"] for r in during) and after and not any(r["ok"] for r in after)
sys.exit(0 if ok and pods == ["n1p1"] else 1)
EOF
)
	rc=$?
	say "drain (--drain-seconds $DRAIN), one TCP connection through node1: $out"
	check "drain: answered while terminating and draining, not after ($out)" test "$rc" -eq 0
	fab_unpin_flow
	fab_services
	wait_leaves "$API" "node1 node2" 150
}

# Hold-down: node2's api endpoint bounces (not ready / ready, 0.5 s apart) three
# times; node2's path goes once and comes back once, HOLD s after the last bounce.
test_hold_down_stops_flapping() {
	local mon=$FAB_DIR/holddown.mon pid i t_last t_back changes
	( while :; do echo "$(now_ms) $(leaf_nodes leaf1 "$API")"; sleep 0.1; done ) >"$mon" &
	pid=$!
	for i in 1 2 3; do
		fab_services --set n2p1=not-ready
		sleep 0.5
		fab_services
		sleep 0.5
	done
	t_last=$(now_ms)
	sleep 0.5
	check "held: $API still withdrawn from node2 right after the bounces" \
		test "$(vip_why 2 "$API")" = "hold-down"
	wait_leaves "$API" "node1 node2" $((HOLD * 10 + 40))
	t_back=$(now_ms)
	sleep 0.3
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	changes=$(awk '{ s = $2 " " $3; if (NR > 1 && s != prev) n++; prev = s } END { print n + 0 }' "$mon")
	say "hold-down: 3 bounces in 3 s -> $changes changes of leaf1's path set;" \
		"back $((t_back - t_last)) ms after the last bounce (hold-down $HOLD s)"
	check "one withdrawal and one re-advertisement, no flapping ($changes changes)" \
		test "$changes" -eq 2
	check "re-advertised after the hold-down ($((t_back - t_last)) ms)" \
		test $((t_back - t_last)) -ge $((HOLD * 1000 - 300))
	check "leaves: $API via node1 and node2 again" leaves_are "$API" "node1 node2"
}

restart_bgpd() {
	local n=$1 t0 t1 pid
	pid=$(cat "$FAB_DIR/xvipd-node$n.pid")
	fab_frr_stop_daemon "node$n" bgpd
	fab_wait "! leaves_are '$WEB' 'node1 node2 node3'" 50
	check "node$n's bgpd down: the leaves dropped its path" not leaves_are "$WEB" "node1 node2 node3"
	t0=$(now_ms)
	fab_frr_start_daemon "node$n" bgpd
	wait_leaves "$WEB" "node1 node2 node3" 200
	t1=$(now_ms)
	check "node$n's VIPs back on both leaves after bgpd restarted" leaves_are "$WEB" "node1 node2 node3"
	check "the same xvipd still running (pid $pid)" kill -0 "$pid"
	say "bgpd restart on node$n ($(fab_node_frr_mode "$n") mode): VIPs back on both leaves" \
		"$((t1 - t0)) ms after bgpd started"
}

test_bgpd_restart_vips_come_back() {
	restart_bgpd 1
	restart_bgpd 3
	check "node3 (vtysh) re-added its network statements" \
		grep -q "bgpd lost 2 of the 2 network statements" "$FAB_DIR/xvipd-node3.log"
	fab_wait "[ \"\$(status_of 3 \"d['frr_statements_readded']\")\" -ge 1 ]" 30
	check "node3's state file counts the re-add" test "$(status_of 3 "d['frr_statements_readded']")" -ge 1
	check "node3 has network statements for exactly its VIPs again" test \
		"$(fab_vtysh node3 -c 'show running-config bgpd' | grep -o 'network 198.18.21.[0-9]*/32' | sort | tr '\n' ' ')" \
		= "network $WEB/32 network $JOBS/32 "
}

# A trivial XDP program that is not xvipd's (tests/progs/xdp_pass.bpf.c, built by make).
foreign_xdp() {
	local o=$BUILD/tests/progs/xdp_pass.bpf.o
	[ -s "$o" ] && echo "$o"
}

test_fail_closed_when_xdp_replaced() {
	local obj t0 t1
	obj=$(foreign_xdp)
	check "built a foreign XDP program" test -n "$obj"
	fab_exec node2 ip -force link set dev eno7 xdpdrv obj "$obj" sec xdp
	t0=$(now_ms)
	fab_wait "leaves_are $WEB 'node1 node3'" 40
	t1=$(now_ms)
	check "XDP replaced on node2's eno7: node2's paths withdrawn" leaves_are "$WEB" "node1 node3"
	check "... $API too" leaves_are "$API" "node1"
	say "fail closed: XDP replaced -> both leaves drop node2: $((t1 - t0)) ms"
	check "status says why" grep -q "another xdp program" <<<"$(status_of 2 "d['dataplane']['problem']")"
	check "logged why" grep -q "dataplane down: another xdp program" "$FAB_DIR/xvipd-node2.log"
	sleep 3
	check "not xvipd's to replace: still withdrawn 3 s later" leaves_are "$WEB" "node1 node3"
	check "node2's VIPs off lo" not xvip_addrs_on_lo 2
	fab_exec node2 ip link set dev eno7 xdpdrv off
	t0=$(now_ms)
	wait_leaves "$WEB" "node1 node2 node3" $((HOLD * 10 + 120))
	t1=$(now_ms)
	check "foreign program gone: xvipd re-attached and node2 is back" leaves_are "$WEB" "node1 node2 node3"
	check "xvipd's program on eno7 again" xdp_is_xvip 2 eno7
	say "fail closed: dataplane back -> node2 re-advertised after $((t1 - t0)) ms (hold-down $HOLD s)"
}

test_fail_closed_when_pins_removed() {
	local seen
	rm -f "$FAB_PIN/node2/xvip_svc"
	# xvipd withdraws, re-pins, and advertises again after the hold-down: watch leaf1.
	fab_wait "! leaves_are $WEB 'node1 node2 node3'" 30
	seen=$(leaf_nodes leaf1 "$WEB")
	check "pin removed: node2 withdrawn (leaf1 has: $seen)" test "$seen" = "node1 node3"
	check "logged why" grep -q "dataplane down: pinned map $FAB_PIN/node2/xvip_svc is gone" \
		"$FAB_DIR/xvipd-node2.log"
	check "xvipd re-pinned the map" test -e "$FAB_PIN/node2/xvip_svc"
	wait_leaves "$WEB" "node1 node2 node3" $((HOLD * 10 + 120))
	check "node2 advertised again" leaves_are "$WEB" "node1 node2 node3"
	check "xvipctl reads the re-pinned map" ctl_services_has 2 "$WEB:80/tcp"
}

test_status_shows_vips_and_sessions() {
	local out
	out=$(fab_xvipctl 3 --state-file "$FAB_DIR/status-node3.json" \
		--frr-vty-socket "$(fab_frr_dir node3)" -o json status)
	check "xvipctl status: per-VIP state from xvipd" python3 -c '
import json, sys
d = json.loads(sys.argv[1])["daemon"]
v = {x["vip"]: x for x in d["vip_states"]}
ok = v["198.18.21.1"]["advertised"] and v["198.18.21.1"]["frr"] == "announced" \
     and not v["198.18.21.2"]["advertised"] and v["198.18.21.2"]["why"] == "no ready local endpoint"
sys.exit(0 if ok and d["dataplane"]["ok"] and d["frr_mode"] == "vtysh" else 1)' "$out"
	check "xvipctl status: BGP sessions Established, BFD up, read from FRR" python3 -c '
import json, sys
f = json.loads(sys.argv[1])["frr"]
bgp = {b["neighbor"]: b["state"] for b in f["bgp"]}
bfd = {b["interface"]: b["status"] for b in f["bfd"]}
sys.exit(0 if bgp == {"eno5": "Established", "eno7": "Established"} and bfd == {"eno5": "up", "eno7": "up"} else 1)' "$out"
	out=$(fab_xvipctl 1 --state-file "$FAB_DIR/status-node1.json" \
		--frr-vty-socket "$(fab_frr_dir node1)" status)
	check "xvipctl status (table): $JOBS not advertised by node1, and why" \
		grep -q "^$JOBS .* no .*no ready local endpoint" <<<"$out"
	check "xvipctl status (table): BGP session to leaf1 Established" \
		grep -q "^eno5 .*leaf1 .*Established" <<<"$out"
	out=$(fab_exec node1 curl -s --max-time 5 http://127.0.0.1:9742/metrics)
	check "/metrics: per-VIP advertised" \
		grep -qx "xvip_vip_advertised{vip=\"$WEB\",why=\"advertised\"} 1" <<<"$out"
	check "/metrics: per-VIP not advertised, and why" \
		grep -qx "xvip_vip_advertised{vip=\"$JOBS\",why=\"no ready local endpoint\"} 0" <<<"$out"
	check "/metrics: dataplane ok" grep -qx "xvip_dataplane_ok 1" <<<"$out"
	check "/metrics: BGP sessions from FRR" grep -qx \
		"xvip_frr_bgp_session_up{neighbor=\"eno5\",hostname=\"leaf1\",state=\"Established\"} 1" <<<"$out"
	check "/metrics: BFD peers from FRR" grep -q "^xvip_frr_bfd_peer_up{interface=\"eno7\",peer=\"fe80::.*\"} 1$" <<<"$out"
}

# Last: xvipd stopped on node3 (VIPs stay), then --cleanup withdraws them and removes its
# network statements, and nothing else.
test_cleanup_withdraws_and_removes_statements() {
	local pid conf
	pid=$(cat "$FAB_DIR/xvipd-node3.pid")
	kill -TERM "$pid"
	fab_wait "! kill -0 $pid" 50
	check "SIGTERM: xvipd gone, node3 still announces $JOBS" leaves_are "$JOBS" node3
	fab_nsenter node3 "$BUILD/xvipd" --cleanup --pin-dir "$FAB_PIN/node3" --frr vtysh \
		--frr-vty-socket "$(fab_frr_dir node3)" --vip-cidr "$FAB_VIP_CIDR" \
		--state-file "$FAB_DIR/status-node3.json" >"$FAB_DIR/cleanup-node3.log" 2>&1
	fab_wait "[ -z \"\$(leaf_nodes leaf1 $JOBS)\" ]" 50
	conf=$(fab_vtysh node3 -c 'show running-config bgpd')
	check "cleanup: $JOBS gone from the fabric" test "$(leaf_nodes leaf1 "$JOBS")" = ""
	check "cleanup: $WEB via node1 and node2 only" leaves_are "$WEB" "node1 node2"
	check "cleanup: no network statement in the VIP range left on node3" \
		not grep -q "network 198.18.21." <<<"$conf"
	check "cleanup: the node loopback's statement kept" grep -q "network 198.18.19.13/32" <<<"$conf"
	check "cleanup: no xvipd address on node3's lo" not xvip_addrs_on_lo 3
	check "cleanup: XDP detached from eno5 and eno7" bash -c \
		"! ip netns exec $(fab_ns node3) ip -d link show eno5 | grep -q xvip_xdp &&
		 ! ip netns exec $(fab_ns node3) ip -d link show eno7 | grep -q xvip_xdp"
	check "cleanup: pins removed" test ! -e "$FAB_PIN/node3/xvip_svc"
}

trap fab_down EXIT
fab_reap_stale xvfab
skip=$(e2e_skip_reason)
if [ -z "$skip" ]; then
	if ! (for d in $FAB_FRR_DAEMONS; do [ -x "/usr/lib/frr/$d" ] || exit 1; done) ||
		! command -v vtysh >/dev/null; then
		skip="FRR is not installed (scripts/deps.sh installs it)"
	elif ! id frr >/dev/null 2>&1; then
		skip="no frr user (the FRR package creates it)"
	elif ! command -v nft >/dev/null; then
		skip="nft missing (silent link failures use nftables)"
	fi
fi
E2E_LOGS="$FAB_DIR/*.log $FAB_DIR/frr-*/start.log"
e2e_main "$skip" setup test_bgp_and_bfd_up_everywhere test_vip_advertised_by_exactly_ready_nodes \
	test_requests_spread_over_nodes_and_pods test_last_endpoint_removed_withdraws_that_path_only \
	test_node_failure_loss_window test_uplink_failure_loss_window test_node_links_down_loss_window \
	test_drain_keeps_established_tcp test_hold_down_stops_flapping \
	test_bgpd_restart_vips_come_back test_fail_closed_when_xdp_replaced \
	test_fail_closed_when_pins_removed test_status_shows_vips_and_sessions \
	test_cleanup_withdraws_and_removes_statements
if [ -n "${E2E_KEEP_LOGS:-}" ]; then cp -r "$FAB_DIR" "$E2E_KEEP_LOGS"; fi
