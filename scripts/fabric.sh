#!/usr/bin/env bash
# A Clos fabric in network namespaces with real FRR on every router and node, the
# reference design at lab scale. Shared by `make demo` (scripts/demo.sh) and
# tests/e2e_fabric.sh. Source it, set FAB (a unique prefix), call fab_up; or run
# it: scripts/fabric.sh up|down|status.
#
#                          client 198.18.30.10
#                             | c0
#                             | swp10 198.18.30.1/24
#                          spine  AS 65000  (lo 198.18.19.1)
#                     swp1 /          \ swp2
#                   swp49 /            \ swp49
#     AS 65101 leaf1 (.19.2)          leaf2 (.19.3) AS 65102
#          swp1 swp2 swp3              swp1 swp2 swp3
#            |    |    |  \ ......... /  |    |    |
#          eno5  eno5 eno5              eno7 eno7 eno7     every link: eBGP unnumbered
#         node1  node2  node3  (AS 65201..65203, lo 198.18.19.11..13)  (IPv6 LL) + BFD
#          pv1 pv2 ... routed /32s to the pods, gateway 169.254.1.1 on each pod veth
#         n1p1 n1p2  n2p1 n2p2  n3p1 n3p2   (198.18.20.11, .12, .21, .22, .31, .32)
#
# Every router: `bgp bestpath as-path multipath-relax`, BGP timers 1/3, BFD 100 ms x 3,
# L4 ECMP hashing (fib_multipath_hash_policy=1) so flows from one client spread.
# xvipd runs on each node (nsenter, so it sees /sys/fs/bpf), XDP on eno5 and eno7,
# its own pin dir and --node-name, all from one services file.
#
# Everything is named "${FAB}-*" (namespaces), /tmp/${FAB} (files, FRR state, pid
# files) and /sys/fs/bpf/${FAB} (pins): fab_down removes exactly that, processes by
# the pids in their pid files.

FAB=${FAB:-xvfab}
FAB_DIR=${FAB_DIR:-/tmp/${FAB}}
FAB_PIN=${FAB_PIN:-/sys/fs/bpf/${FAB}}
FAB_ROOT=${FAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FAB_BUILD=${FAB_BUILD:-$FAB_ROOT/build}	# where xvipd and xvipctl are
FAB_NODES=${FAB_NODES:-3}
FAB_PODS=${FAB_PODS:-2}		# per node
FAB_CLIENT_IP=198.18.30.10
FAB_VIP_CIDR=198.18.21.0/24
# Extra xvipd options for every node, and per node (FAB_XVIPD_ARGS_node2=...).
FAB_XVIPD_ARGS=${FAB_XVIPD_ARGS:-}
# Nodes whose xvipd runs --frr vtysh (network statements) rather than --frr connected.
FAB_VTYSH_NODES=${FAB_VTYSH_NODES-node3}
FAB_FRR_DAEMONS="zebra bgpd bfdd"

fab_ns() { echo "${FAB}-$1"; }
fab_exec() { local ns=$1; shift; ip netns exec "$(fab_ns "$ns")" "$@"; }
# Daemons that need the host's /sys/fs/bpf (ip netns exec remounts /sys).
fab_nsenter() { local ns=$1; shift; nsenter --net="/run/netns/$(fab_ns "$ns")" "$@"; }
fab_pod_ip() { echo "198.18.20.$((10 * $1 + $2))"; }	# node, pod
fab_node_lo() { echo "198.18.19.$((10 + $1))"; }
fab_frr_dir() { echo "$FAB_DIR/frr-$1"; }
fab_vtysh() { local r=$1; shift; vtysh --vty_socket "$(fab_frr_dir "$r")" "$@"; }
fab_routers() { local n; echo spine leaf1 leaf2; for n in $(seq 1 "$FAB_NODES"); do echo "node$n"; done; }

fab_log() { [ -n "${FAB_QUIET:-}" ] || echo "fabric: $*" >&2; }

fab_kill_pidfile() {
	local f=$1 pid
	[ -e "$f" ] || return 0
	pid=$(cat "$f" 2>/dev/null)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null
		for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -f "$f"
}

# Remove what an earlier run with this prefix left: xvipd and helpers by their pid
# files, FRR daemons by theirs, then the programs and pins, namespaces and files.
fab_down() {
	local f ns n pid pids=()
	# All at once (FRR daemons take ~2 s each to stop), each by its own pid.
	for f in "$FAB_DIR"/*.pid "$FAB_DIR"/frr-*/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		[ -n "$pid" ] && kill "$pid" 2>/dev/null && pids+=("$pid")
		rm -f "$f"
	done
	for _ in $(seq 1 50); do
		n=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && n=$((n + 1)); done
		[ "$n" -eq 0 ] && break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
	if [ -x "$FAB_BUILD/xvipd" ]; then
		for n in $(seq 1 "$FAB_NODES"); do
			[ -e "/run/netns/$(fab_ns "node$n")" ] || continue
			fab_nsenter "node$n" "$FAB_BUILD/xvipd" --cleanup \
				--pin-dir "$FAB_PIN/node$n" --log-level error >/dev/null 2>&1 || true
		done
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${FAB}-" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$FAB_PIN" 2>/dev/null || true
	rm -rf "$FAB_DIR"
}

# Remove the fabrics that runs named BASE<pid> left behind when they were killed: those
# whose pid is gone (tests use a prefix per run, so two runs never share a fabric).
fab_reap_stale() {
	local base=$1 p pid
	for p in $({
		ip netns list 2>/dev/null | awk '{print $1}' | sed -n "s/^\(${base}[0-9]*\)-.*/\1/p"
		for d in /tmp/"$base"*; do [ -d "$d" ] && basename "$d"; done
	} | grep -x "${base}[0-9]*" | sort -u); do
		pid=${p#"$base"}
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && continue
		(FAB=$p FAB_DIR=/tmp/$p FAB_PIN=/sys/fs/bpf/$p; fab_down)
	done
}

fab_spawn() {
	local name=$1; shift
	"$@" >"$FAB_DIR/$name.log" 2>&1 &
	echo $! >"$FAB_DIR/$name.pid"
}

# Wait (up to $2 tenths of a second) until a command succeeds.
fab_wait() {
	local cmd=$1 tries=${2:-50}
	while [ "$tries" -gt 0 ]; do
		eval "$cmd" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

fab_router_ns() {
	local r=$1
	ip netns add "$(fab_ns "$r")"
	fab_exec "$r" ip link set lo up
	fab_exec "$r" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0 \
		net.ipv4.conf.all.ignore_routes_with_linkdown=1
	# A seed of its own per router (kernel >= 6.11), as switches have: with one shared
	# seed the spine and a leaf hash a flow alike and a leaf sees only some of its paths.
	fab_exec "$r" sysctl -qw net.ipv4.fib_multipath_hash_seed="$(cksum <<<"$r" | cut -d' ' -f1)" \
		2>/dev/null || true
}

# fab_link NS1 IF1 NS2 IF2: a veth between two namespaces, both ends up, plain
# (no TSO/GSO/GRO: XDP on veth sees every frame as it was sent).
fab_link() {
	local a=$1 ai=$2 b=$3 bi=$4
	ip link add "$ai" netns "$(fab_ns "$a")" type veth peer name "$bi" netns "$(fab_ns "$b")"
	fab_exec "$a" ip link set "$ai" up
	fab_exec "$b" ip link set "$bi" up
	fab_exec "$a" ethtool -K "$ai" tso off gso off gro off >/dev/null 2>&1 || true
	fab_exec "$b" ethtool -K "$bi" tso off gso off gro off >/dev/null 2>&1 || true
}

# fab_frr_conf ROUTER TEMPLATE sed-expressions...: write ROUTER's frr.conf.
fab_frr_conf() {
	local r=$1 tpl=$2 d
	shift 2
	d=$(fab_frr_dir "$r")
	mkdir -p "$d"
	sed -e "s|@NAME@|$r|g" -e "s|@DIR@|$d|g" "$@" "$FAB_ROOT/scripts/frr/$tpl" >"$d/frr.conf"
	chown -R frr:frr "$d"
}

# The recipe from ENVIRONMENT.md: each daemon in the router's namespace, with its own
# pid file, vty socket dir and zserv socket.
fab_frr_start() {
	local r=$1 dmn d
	d=$(fab_frr_dir "$r")
	for dmn in $FAB_FRR_DAEMONS; do
		fab_frr_start_daemon "$r" "$dmn"
		if [ "$dmn" = zebra ]; then fab_wait "test -S $d/zserv.api" 50; fi
	done
}

# Every FRR daemon of every router running (by its pid file).
fab_frr_running() {
	local r dmn pid
	for r in $(fab_routers); do
		for dmn in $FAB_FRR_DAEMONS; do
			pid=$(cat "$(fab_frr_dir "$r")/$dmn.pid" 2>/dev/null) || return 1
			kill -0 "$pid" 2>/dev/null || return 1
		done
	done
}

fab_frr_start_daemon() {
	local r=$1 dmn=$2 d
	d=$(fab_frr_dir "$r")
	fab_exec "$r" "/usr/lib/frr/$dmn" -d -N "${FAB}-$r" -f "$d/frr.conf" -i "$d/$dmn.pid" \
		--vty_socket "$d" -z "$d/zserv.api" -A 127.0.0.1 >>"$d/start.log" 2>&1
}

fab_frr_stop_daemon() {
	fab_kill_pidfile "$(fab_frr_dir "$1")/$2.pid"
}

# Node n's FRR mode: vtysh for the nodes listed in FAB_VTYSH_NODES, else connected.
fab_node_frr_mode() {
	case " ${FAB_VTYSH_NODES:-} " in *" node$1 "*) echo vtysh ;; *) echo connected ;; esac
}

fab_up() {
	local n p l leaf_nbrs redist
	fab_down
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	mkdir -p "$FAB_DIR" "$FAB_PIN"
	chmod 755 "$FAB_DIR"

	ip netns add "$(fab_ns client)"
	fab_exec client ip link set lo up
	for r in $(fab_routers); do fab_router_ns "$r"; done

	fab_link client c0 spine swp10
	fab_exec client ip addr add "$FAB_CLIENT_IP/24" dev c0
	fab_exec client ip route add default via 198.18.30.1
	fab_exec spine ip addr add 198.18.30.1/24 dev swp10
	fab_exec spine ip addr add 198.18.19.1/32 dev lo
	for l in 1 2; do
		fab_link spine "swp$l" "leaf$l" swp49
		fab_exec "leaf$l" ip addr add "198.18.19.$((1 + l))/32" dev lo
	done
	for n in $(seq 1 "$FAB_NODES"); do
		fab_link leaf1 "swp$n" "node$n" eno5
		fab_link leaf2 "swp$n" "node$n" eno7
		fab_exec "node$n" ip addr add "$(fab_node_lo "$n")/32" dev lo
		for p in $(seq 1 "$FAB_PODS"); do
			fab_pod "$n" "$p"
		done
	done

	fab_frr_conf spine spine.conf -e "s|@ASN@|65000|" -e "s|@LO@|198.18.19.1|g" \
		-e "s|@CLIENT_NET@|198.18.30.0/24|" \
		-e "s|^@NEIGHBORS@| neighbor swp1 interface peer-group FABRIC\n neighbor swp2 interface peer-group FABRIC|"
	leaf_nbrs=" neighbor swp49 interface peer-group FABRIC"
	for n in $(seq 1 "$FAB_NODES"); do
		leaf_nbrs="$leaf_nbrs\n neighbor swp$n interface peer-group FABRIC"
	done
	for l in 1 2; do
		fab_frr_conf "leaf$l" leaf.conf -e "s|@ASN@|$((65100 + l))|" \
			-e "s|@LO@|198.18.19.$((1 + l))|g" -e "s|^@NEIGHBORS@|$leaf_nbrs|"
	done
	for n in $(seq 1 "$FAB_NODES"); do
		redist="redistribute connected route-map XVIP-CONNECTED"
		[ "$(fab_node_frr_mode "$n")" = vtysh ] && redist="! vtysh mode: VIPs come from network statements"
		fab_frr_conf "node$n" node.conf -e "s|@ASN@|$((65200 + n))|" \
			-e "s|@LO@|$(fab_node_lo "$n")|g" -e "s|@UPLINK1@|eno5|g" -e "s|@UPLINK2@|eno7|g" \
			-e "s|@VIP_CIDR@|$FAB_VIP_CIDR|" \
			-e "s|@POD_CIDR@|198.18.20.0/24|" -e "s|@REDIST_CONNECTED@|$redist|"
	done
	for r in $(fab_routers); do fab_frr_start "$r"; done
	fab_wait fab_frr_running 30
}

# Pod p of node n: its own namespace, a routed /32 through veth pv$p on the node, and
# an echo server (TCP 8080, UDP 5353) that names itself in every answer.
fab_pod() {
	local n=$1 p=$2 pod="n$1p$2" ip
	ip=$(fab_pod_ip "$n" "$p")
	ip netns add "$(fab_ns "$pod")"
	fab_exec "$pod" ip link set lo up
	ip link add eth0 netns "$(fab_ns "$pod")" type veth peer name "pv$p" netns "$(fab_ns "node$n")"
	fab_exec "$pod" ip addr add "$ip/32" dev eth0
	fab_exec "$pod" ip link set eth0 up
	fab_exec "$pod" ip route add 169.254.1.1 dev eth0 scope link
	fab_exec "$pod" ip route add default via 169.254.1.1 dev eth0
	fab_exec "node$n" ip link set "pv$p" up
	fab_exec "node$n" ip addr add 169.254.1.1/32 dev "pv$p"
	fab_exec "node$n" ip route add "$ip/32" dev "pv$p"
	fab_spawn "$pod-server" ip netns exec "$(fab_ns "$pod")" python3 \
		"$FAB_ROOT/tests/fabric_pod.py" "$pod" 8080 5353
}

# Every BGP session of every router Established and its BFD peer up.
fab_converged() {
	local r
	for r in $(fab_routers); do
		fab_vtysh "$r" -c 'show bgp summary json' 2>/dev/null | python3 -c '
import json, sys
peers = json.load(sys.stdin).get("ipv4Unicast", {}).get("peers", {})
sys.exit(0 if peers and all(p.get("state") == "Established" for p in peers.values()) else 1)' ||
			return 1
	done
}

# Paths (next-hop interfaces) ROUTER has for PREFIX in its FIB, one per line, sorted.
fab_route_ifaces() {
	fab_vtysh "$1" -c "show ip route $2 json" 2>/dev/null | python3 -c '
import json, sys
pfx = sys.argv[1] if "/" in sys.argv[1] else sys.argv[1] + "/32"
routes = json.load(sys.stdin).get(pfx, [])
out = set()
for r in routes:
    if r.get("selected") and r.get("protocol") == "bgp":
        for nh in r.get("nexthops", []):
            if nh.get("fib") and nh.get("active"):
                out.add(nh.get("interfaceName", "?"))
print("\n".join(sorted(out)))' "$2"
}

# The nodes a leaf sends PREFIX to, as "node1 node3" (leaf port swpN faces nodeN).
fab_leaf_nodes() {
	fab_route_ifaces "$1" "$2" | sed -n 's/^swp\([0-9]\)$/node\1/p' | tr '\n' ' ' | sed 's/ $//'
}

# A link that dies silently: leafL's port to node n drops everything both ways
# (nftables netdev hooks), the carrier stays up, so only BFD (or the BGP hold
# timer) notices. fab_heal_link undoes it.
fab_fail_link() {
	local n=$1 l=$2
	fab_exec "leaf$l" nft -f - <<-EOF
	table netdev xvfab_fail_$n {
		chain in { type filter hook ingress device "swp$n" priority -500; policy drop; }
		chain out { type filter hook egress device "swp$n" priority -500; policy drop; }
	}
	EOF
}

fab_heal_link() {
	fab_exec "leaf$2" nft delete table netdev "xvfab_fail_$1" 2>/dev/null || true
}

fab_ll() {
	fab_exec "$1" ip -6 -o addr show dev "$2" scope link | awk '{print $4}' | cut -d/ -f1 | head -1
}

# Keep one client TCP flow (source port sport, to vip) on the path spine -> leaf1 ->
# node n whatever BGP says, with policy routes: a client whose packets still reach a
# node that withdrew the VIP (the fabric not yet converged, a static route, ...).
fab_pin_flow() {
	local sport=$1 vip=$2 n=$3
	fab_exec spine ip route replace "$vip/32" via inet6 "$(fab_ll leaf1 swp49)" dev swp1 table 100
	fab_exec spine ip rule add from "$FAB_CLIENT_IP" to "$vip" ipproto tcp sport "$sport" \
		lookup 100 priority 100
	fab_exec leaf1 ip route replace "$vip/32" via inet6 "$(fab_ll "node$n" eno5)" dev "swp$n" \
		table 100
	fab_exec leaf1 ip rule add from "$FAB_CLIENT_IP" to "$vip" ipproto tcp sport "$sport" \
		lookup 100 priority 100
}

fab_unpin_flow() {
	local r
	for r in spine leaf1; do
		fab_exec "$r" ip rule del priority 100 2>/dev/null || true
		fab_exec "$r" ip route flush table 100 2>/dev/null || true
	done
}

# Start xvipd on node n (extra args appended), logging to $FAB_DIR/xvipd-node$n.log.
fab_xvipd() {
	local n=$1 extra mode
	shift
	mode=$(fab_node_frr_mode "$n")
	extra="FAB_XVIPD_ARGS_node$n"
	mkdir -p "$FAB_PIN"
	# The vty socket: for the network statements (vtysh mode) and the session states (both).
	local frr_args=(--frr "$mode" --frr-vty-socket "$(fab_frr_dir "node$n")")
	# shellcheck disable=SC2086
	fab_spawn "xvipd-node$n" nsenter --net="/run/netns/$(fab_ns "node$n")" \
		"$FAB_BUILD/xvipd" --iface eno5 --iface eno7 --vip-cidr "$FAB_VIP_CIDR" \
		--node-name "node$n" --pin-dir "$FAB_PIN/node$n" \
		--services-file "$FAB_DIR/services.json" --state-file "$FAB_DIR/status-node$n.json" \
		"${frr_args[@]}" $FAB_XVIPD_ARGS ${!extra:-} "$@"
}

fab_xvipd_all() {
	local n
	for n in $(seq 1 "$FAB_NODES"); do fab_xvipd "$n" "$@"; done
}

fab_xvipctl() {
	local n=$1
	shift
	fab_nsenter "node$n" "$FAB_BUILD/xvipctl" --pin-dir "$FAB_PIN/node$n" "$@"
}

# Write the services file (arguments for scripts/fabric_services.py), atomically.
fab_services() {
	python3 "$FAB_ROOT/scripts/fabric_services.py" --nodes "$FAB_NODES" --pods "$FAB_PODS" "$@" \
		>"$FAB_DIR/services.json.tmp" && mv "$FAB_DIR/services.json.tmp" "$FAB_DIR/services.json"
}

fab_vip_on_lo() {
	fab_exec "node$1" ip -o addr show dev lo | grep -q " $2/"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case "${1:-}" in
	up)
		fab_up
		fab_wait fab_converged 300 && fab_log "converged" || fab_log "not converged yet"
		fab_services
		fab_xvipd_all
		;;
	down) fab_down ;;
	status)
		for r in $(fab_routers); do
			echo "== $r"
			fab_vtysh "$r" -c 'show bgp summary' -c 'show bfd peers brief'
		done
		;;
	*)
		echo "usage: FAB=prefix $0 up|down|status" >&2
		exit 2
		;;
	esac
fi
