#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# `make demo` (the default of scripts/demo.sh): a Clos fabric with real FRR in
# network namespaces (scripts/fabric.sh), xvipd on three dual-homed nodes, and
# what the fabric does with the VIPs: the leaves' ECMP routes, requests spread
# over nodes and pods, a path withdrawn when a node loses its last endpoint, a
# silent node failure caught by BFD (the loss window measured), and xvipctl's
# view of VIPs and BGP/BFD sessions. Needs root.
#
#   scripts/demo_fabric.sh           run the demo, then tear the fabric down
#   scripts/demo_fabric.sh --keep    leave the fabric up to poke at
#   scripts/demo_fabric.sh --down    tear down a fabric left by --keep or a killed run
#
# Exits non-zero if any check failed. Everything it creates is named "xvfdemo*".
set -uo pipefail

usage() {
	cat <<'EOF'
Usage: scripts/demo.sh [--keep | --down | --help]      (the fabric demo)
       scripts/demo.sh --single [--keep | --down]      (the single-node demo)

Builds a spine, two leaves and three nodes with FRR in network namespaces
(BGP unnumbered, BFD, ECMP), runs build/xvipd on every node and shows the
leaves' ECMP routes per VIP, client requests spread over nodes and pods, a VIP
withdrawn from one node only, a silent node failure (BFD, measured loss window)
and xvipctl status with the BGP and BFD sessions. Needs root and FRR.

  --keep   leave the fabric running at the end and print how to use it
  --down   only tear down the fabric (FRR daemons, xvipd, namespaces, pins, files)
EOF
}

KEEP=0
DOWN=0
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	--down) DOWN=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "demo: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (network namespaces, XDP, bpffs, FRR): sudo make demo" >&2
	exit 2
fi

FAB=xvfdemo
unset FAB_DIR FAB_PIN FAB_ROOT
FAB_VTYSH_NODES=node3
FAB_XVIPD_ARGS="--hold-down-seconds 2 --drain-seconds 5"
FAB_QUIET=1
# shellcheck source=scripts/fabric.sh
. "$(dirname "${BASH_SOURCE[0]}")/fabric.sh"

WEB=198.18.21.1 API=198.18.21.2 API_LB=198.18.21.102 JOBS=198.18.21.3
if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
else
	B='' G='' R='' N=''
fi
CHECKS=0
FAILED=0
T0=$SECONDS

heading() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
say() { printf '  %s\n' "$*"; }
indent() { sed 's/^/    /'; }
ok() { CHECKS=$((CHECKS + 1)); printf '  %sOK%s      %s\n' "$G" "$N" "$*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILED=$((FAILED + 1)); printf '  %sFAILED%s  %s\n' "$R" "$N" "$*"; }
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else bad "$desc"; fi
}
run_show() {
	printf '  $ %s\n' "$1"
	shift
	"$@" 2>&1 | indent
}
now_ms() { date +%s%3N; }
leaves_are() { [ "$(fab_leaf_nodes leaf1 "$1")" = "$2" ] && [ "$(fab_leaf_nodes leaf2 "$1")" = "$2" ]; }

teardown() {
	local left=''
	fab_down
	for p in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${FAB}-" || true); do
		left="$left netns $p;"
	done
	[ -e "$FAB_PIN" ] && left="$left $FAB_PIN;"
	[ -e "$FAB_DIR" ] && left="$left $FAB_DIR;"
	if [ -z "$left" ]; then
		ok "torn down: FRR daemons and xvipd stopped by pid, no ${FAB}-* namespaces, no pins"
	else
		bad "left behind:$left"
	fi
}

keep_help() {
	heading "Fabric kept running (--keep)"
	cat <<EOF
  Routers (FRR): vtysh --vty_socket $FAB_DIR/frr-ROUTER -c 'show ip route $WEB'
    ROUTER: spine leaf1 leaf2 node1 node2 node3; e.g. -c 'show bgp summary' -c 'show bfd peers'
  Requests:  ip netns exec ${FAB}-client python3 $FAB_ROOT/tests/lab_client.py tcp $WEB 80 20
  Probe:     ip netns exec ${FAB}-client python3 $FAB_ROOT/tests/fabric_probe.py $WEB 53 --seconds 5
  A node's view: nsenter --net=/run/netns/${FAB}-node1 $FAB_ROOT/build/xvipctl \\
                   --pin-dir $FAB_PIN/node1 --state-file $FAB_DIR/status-node1.json \\
                   --frr-vty-socket $FAB_DIR/frr-node1 status
  Endpoints: python3 $FAB_ROOT/scripts/fabric_services.py --set n2p1=gone > $FAB_DIR/s.tmp &&
             mv $FAB_DIR/s.tmp $FAB_DIR/services.json       (xvipd on every node follows)
  Logs: $FAB_DIR/xvipd-nodeN.log, $FAB_DIR/frr-ROUTER/frr.log
  Tear it down: scripts/demo.sh --down
EOF
}

finish() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$KEEP" -eq 1 ] && [ -d "$FAB_DIR" ]; then
		keep_help
	else
		heading "Teardown"
		teardown
	fi
	echo
	if [ "$FAILED" -eq 0 ] && [ "$rc" -eq 0 ]; then
		printf '%sdemo: all %d checks OK (%ds)%s\n' "$G$B" "$CHECKS" $((SECONDS - T0)) "$N"
		exit 0
	fi
	printf '%sdemo: %d of %d checks FAILED (%ds)%s\n' "$R$B" "$FAILED" "$CHECKS" \
		$((SECONDS - T0)) "$N"
	exit 1
}

if [ "$DOWN" -eq 1 ]; then
	heading "Tearing down the fabric demo ($FAB)"
	teardown
	[ "$FAILED" -eq 0 ]
	exit
fi
for f in build/xvipd build/xvipctl; do
	[ -x "$FAB_ROOT/$f" ] || { echo "demo: $f missing; run 'make demo'" >&2; exit 2; }
done
if [ ! -x /usr/lib/frr/bgpd ] || ! command -v vtysh >/dev/null; then
	echo "demo: FRR missing (scripts/deps.sh installs it)" >&2
	exit 2
fi
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
heading "Setup: a Clos fabric '$FAB' with FRR on every router and node"
t0=$(now_ms)
fab_up || { bad "FRR daemons did not start (see $FAB_DIR/frr-*/start.log)"; exit 1; }
fab_wait fab_converged 300 || bad "BGP did not converge within 30 s"
say "FRR up and every BGP session Established in $(( $(now_ms) - t0 )) ms"
fab_services
fab_xvipd_all
fab_wait "leaves_are $WEB 'node1 node2 node3'" 150 || bad "$WEB not on both leaves within 15 s"
say "xvipd on node1..3 (node1, node2: --frr connected; node3: --frr vtysh); one services file"
cat <<EOF

                          client 198.18.30.10
                               |
                        spine  AS 65000
                      /                 \\
           leaf1 AS 65101             leaf2 AS 65102        eBGP unnumbered (IPv6 LL),
            |     |     |              |     |     |        BFD 100 ms x 3, ECMP
          eno5  eno5  eno5           eno7  eno7  eno7       (multipath-relax)
         node1  node2  node3   (AS 65201..65203, lo 198.18.19.11..13, XDP on eno5+eno7)
         n1p1 n1p2  n2p1 n2p2  n3p1 n3p2   pods 198.18.20.11 .12 .21 .22 .31 .32

  Services: web  $WEB     80/tcp 53/udp  endpoints on every node
            api  $API $API_LB  80/tcp    endpoints on node1 and node2
            jobs $JOBS     80/tcp         endpoints on node3
EOF

# ---------------------------------------------------------------------------
heading "1. BGP and BFD sessions (leaf1)"
run_show "vtysh (leaf1) -c 'show bgp summary'" fab_vtysh leaf1 -c 'show bgp summary'
run_show "vtysh (leaf1) -c 'show bfd peers brief'" fab_vtysh leaf1 -c 'show bfd peers brief'
check "every BGP session of every router Established" fab_converged

# ---------------------------------------------------------------------------
heading "2. The leaves ECMP each VIP to exactly the nodes with a ready endpoint"
run_show "vtysh (leaf1) -c 'show ip route $WEB'" fab_vtysh leaf1 -c "show ip route $WEB"
for v in "$WEB:node1 node2 node3" "$API:node1 node2" "$API_LB:node1 node2" "$JOBS:node3"; do
	vip=${v%%:*}
	say "$(printf '%-14s leaf1 -> %-18s leaf2 -> %-18s spine -> %s' "$vip" \
		"$(fab_leaf_nodes leaf1 "$vip")" "$(fab_leaf_nodes leaf2 "$vip")" \
		"$(fab_route_ifaces spine "$vip" | sed 's/swp1/leaf1/;s/swp2/leaf2/' | tr '\n' ' ')")"
	check "$vip: both leaves hold one path per node with a ready endpoint (${v#*:})" \
		leaves_are "$vip" "${v#*:}"
done

# ---------------------------------------------------------------------------
heading "3. 120 TCP connections from the client to $WEB:80"
OUT=$(fab_exec client python3 "$FAB_ROOT/tests/lab_client.py" tcp "$WEB" 80 120 2 | python3 -c '
import json, sys, collections
pods = collections.Counter(); err = bad = 0
for l in sys.stdin:
    r = json.loads(l)
    if "error" in r: err += 1; continue
    pods[r["pod"]] += 1
    bad += r["reply_from"] != sys.argv[1] or not r["client_seen"].startswith(sys.argv[2] + ":")
for n in ("n1", "n2", "n3"):
    row = ["%s %3d %s" % (p, pods[p], "#" * pods[p]) for p in sorted(pods) if p.startswith(n)]
    print("node%s  %s" % (n[1], "   ".join(row)))
print("STATS %d %d %d %d" % (sum(pods.values()), err, bad, len(pods)))' "$WEB:80" "$FAB_CLIENT_IP")
printf '%s\n' "$OUT" | sed '$d' | indent
read -r _ NOK NERR NBAD NPODS <<<"$(tail -1 <<<"$OUT")"
check "$NOK/120 answered, every reply from $WEB:80, every pod saw the client's address" \
	[ "$NOK" -eq 120 -a "$NERR" -eq 0 -a "$NBAD" -eq 0 ]
check "spread over all three nodes and all six pods ($NPODS pods answered)" [ "$NPODS" -eq 6 ]

# ---------------------------------------------------------------------------
heading "4. node2 loses its last api endpoint: its path goes, and only that one"
say "fabric_services.py --set n2p1=gone (the EndpointSlice drops node2's pod):"
fab_services --set n2p1=gone
t0=$(now_ms)
fab_wait "leaves_are $API node1" 100
t1=$(now_ms)
check "both leaves: $API via node1 only, $((t1 - t0)) ms after the file changed" leaves_are "$API" node1
check "both leaves: $WEB still via node1 node2 node3" leaves_are "$WEB" "node1 node2 node3"
run_show "vtysh (leaf1) -c 'show ip route $API'" fab_vtysh leaf1 -c "show ip route $API"
fab_services
t0=$(now_ms)
fab_wait "leaves_are $API 'node1 node2'" 150
check "endpoint back: node2 re-advertised after $(( $(now_ms) - t0 )) ms (hold-down 2 s)" \
	leaves_are "$API" "node1 node2"

# ---------------------------------------------------------------------------
heading "5. node1 fails silently (both links drop everything, carrier up): BFD"
say "A UDP probe stream of 1000 datagrams/s over 64 flows to $WEB:53 while it happens:"
rm -f "$FAB_DIR/probe.start"
fab_exec client python3 "$FAB_ROOT/tests/fabric_probe.py" "$WEB" 53 --seconds 5 \
	--start-file "$FAB_DIR/probe.start" >"$FAB_DIR/probe.json" &
PP=$!
fab_wait "test -e $FAB_DIR/probe.start" 50
sleep 1.5
fab_fail_link 1 1
fab_fail_link 1 2
wait "$PP"
read -r LOST SENT WIN RATE <<<"$(python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); print(d["lost"], d["sent"], d["loss_window_ms"], d["rate"])' "$FAB_DIR/probe.json")"
say "lost $LOST of $SENT datagrams at $RATE/s: loss window $WIN ms"
check "the leaves dropped node1 from $WEB" leaves_are "$WEB" "node2 node3"
check "loss window under 1 s ($WIN ms; BFD detects in 300 ms)" \
	python3 -c "import sys; sys.exit(0 if 0 < $WIN < 1000 else 1)"
fab_heal_link 1 1
fab_heal_link 1 2
t0=$(now_ms)
fab_wait "leaves_are $WEB 'node1 node2 node3'" 200
check "links healed: node1 back on both leaves after $(( $(now_ms) - t0 )) ms" \
	leaves_are "$WEB" "node1 node2 node3"

# ---------------------------------------------------------------------------
heading "6. xvipctl status on node3 (--frr vtysh): VIPs, why, and FRR's sessions"
run_show "xvipctl status   (node3)" fab_xvipctl 3 --state-file "$FAB_DIR/status-node3.json" \
	--frr-vty-socket "$(fab_frr_dir node3)" status
run_show "vtysh (node3) -c 'show running-config bgpd' | grep network" \
	bash -c "vtysh --vty_socket $(fab_frr_dir node3) -c 'show running-config bgpd' | grep network"
check "node3 announces $WEB and $JOBS through network statements" bash -c \
	"vtysh --vty_socket $(fab_frr_dir node3) -c 'show running-config bgpd' | grep -q 'network $JOBS/32'"
