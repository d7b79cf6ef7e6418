#!/usr/bin/env bash
# Single-node lab in network namespaces, shared by `make demo` and the
# end-to-end tests. Source it, set LAB (a unique prefix), call lab_up.
#
#   client ns (198.18.30.10) --veth-- node ns: uplink "up0" (198.18.30.1), XDP here
#                                        |  pv1..pvN: veths to the pods (routed /32s,
#                                        |  gateway 169.254.1.1 on each, like a routed CNI)
#                                     pod ns 1..N (198.18.20.11..), TCP :8080, UDP :5353
#
# Everything is named "${LAB}*": lab_down removes exactly that, by name and by pid.

LAB=${LAB:-xvl}
LAB_PODS=${LAB_PODS:-3}
LAB_DIR=${LAB_DIR:-/tmp/${LAB}}
LAB_PIN=${LAB_PIN:-/sys/fs/bpf/${LAB}}
LAB_ROOT=${LAB_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
LAB_BUILD=${LAB_BUILD:-$LAB_ROOT/build}	# where xvipd and xvipctl are
LAB_CLIENT_IP=198.18.30.10
if [ -n "${LAB_ROUTER:-}" ]; then LAB_NODE_UP_IP=198.18.29.2; else LAB_NODE_UP_IP=198.18.30.1; fi
LAB_VIP_CIDR=198.18.21.0/24

lab_ns() { echo "${LAB}-$1"; }
lab_exec() { local ns=$1; shift; ip netns exec "$(lab_ns "$ns")" "$@"; }
# The daemon needs the host's /sys/fs/bpf, which `ip netns exec` hides (it remounts /sys).
lab_nsenter() { local ns=$1; shift; nsenter --net="/run/netns/$(lab_ns "$ns")" "$@"; }
lab_pod_ip() { echo "198.18.20.$((10 + $1))"; }
lab_pod_ip6() { echo "2001:db8:20::$((10 + $1))"; }
LAB_CLIENT_IP6=2001:db8:30::10
LAB_VIP_CIDR6=2001:db8:21::/64

lab_bpffs() {
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
}

# Kill what an earlier run with this prefix left: processes by their pid files,
# then namespaces, pins and files by name.
lab_down() {
	local f pid ns
	for f in "$LAB_DIR"/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null
			for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
	if [ -x "$LAB_BUILD/xvipd" ] && [ -e "/run/netns/$(lab_ns node)" ]; then
		lab_nsenter node "$LAB_BUILD/xvipd" --cleanup --pin-dir "$LAB_PIN" \
			--log-level error >/dev/null 2>&1 || true
	elif [ -x "$LAB_BUILD/xvipd" ] && [ -d "$LAB_PIN" ]; then
		# The node namespace is gone, but the node-to-VIP socket hooks its pins
		# hold stay on the root cgroup: detach them from an empty namespace
		# (nothing else there to clean; unshare keeps the host's bpffs).
		unshare --net "$LAB_BUILD/xvipd" --cleanup --pin-dir "$LAB_PIN" \
			--log-level error >/dev/null 2>&1 || true
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${LAB}-" || true); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$LAB_PIN" 2>/dev/null || true
	rm -rf "$LAB_DIR"
}

# Start a background process and remember its pid in $LAB_DIR/NAME.pid.
lab_spawn() {
	local name=$1; shift
	"$@" >"$LAB_DIR/$name.log" 2>&1 &
	echo $! >"$LAB_DIR/$name.pid"
}

lab_pod_servers() {
	local i=$1
	lab_spawn "pod$i-server" ip netns exec "$(lab_ns "pod$i")" python3 \
		"$LAB_ROOT/tests/lab_server.py" "pod$i" 8080 5353 8081
}

# Pod i: its namespace, a routed veth to the node (pv$i), its server.
lab_pod_up() {
	local i=$1 pod=pod$1
	ip netns add "$(lab_ns "$pod")"
	lab_exec "$pod" ip link set lo up
	ip link add eth0 netns "$(lab_ns "$pod")" type veth peer name "pv$i" netns "$(lab_ns node)"
	lab_exec "$pod" ip addr add "$(lab_pod_ip "$i")/32" dev eth0
	lab_exec "$pod" ip link set eth0 up
	lab_exec "$pod" ip route add 169.254.1.1 dev eth0 scope link
	lab_exec "$pod" ip route add default via 169.254.1.1 dev eth0
	lab_exec node ip link set "pv$i" up
	# The pods' gateway, as routed CNIs do it: the same link address on every pod veth.
	lab_exec node ip addr add 169.254.1.1/32 dev "pv$i"
	lab_exec node ip route add "$(lab_pod_ip "$i")/32" dev "pv$i"
	lab_exec "$pod" ip addr add "$(lab_pod_ip6 "$i")/128" dev eth0 nodad
	lab_exec node ip addr add fe80::1/64 dev "pv$i" nodad
	lab_exec "$pod" ip -6 route add default via fe80::1 dev eth0
	lab_exec node ip -6 route add "$(lab_pod_ip6 "$i")/128" dev "pv$i"
	lab_pod_servers "$i"
}

# LAB_ROUTER=1: a router between the client and the node, as the fabric would be
#   client c0 198.18.30.10 -- rc 198.18.30.1 [router] ru 198.18.29.1 -- up0 198.18.29.2 node
lab_router_up() {
	ip netns add "$(lab_ns rtr)"
	lab_exec rtr ip link set lo up
	lab_exec rtr sysctl -qw net.ipv4.ip_forward=1
	ip link add c0 netns "$(lab_ns client)" type veth peer name rc netns "$(lab_ns rtr)"
	ip link add ru netns "$(lab_ns rtr)" type veth peer name up0 netns "$(lab_ns node)"
	lab_exec client ip addr add "$LAB_CLIENT_IP/24" dev c0
	lab_exec client ip link set c0 up
	lab_exec client ip route add default via 198.18.30.1
	lab_exec rtr ip addr add 198.18.30.1/24 dev rc
	lab_exec rtr ip addr add 198.18.29.1/24 dev ru
	lab_exec rtr ip link set rc up
	lab_exec rtr ip link set ru up
	lab_exec rtr ip route add "$LAB_VIP_CIDR" via "$LAB_NODE_UP_IP"
	lab_exec rtr ip route add 198.18.20.0/24 via "$LAB_NODE_UP_IP"
	lab_exec node ip addr add "$LAB_NODE_UP_IP/24" dev up0
	lab_exec node ip link set up0 up
	lab_exec node ip route add 198.18.30.0/24 via 198.18.29.1
	lab_exec rtr sysctl -qw net.ipv6.conf.all.forwarding=1
	lab_exec client ip addr add "$LAB_CLIENT_IP6/64" dev c0 nodad
	lab_exec client ip -6 route add default via 2001:db8:30::1
	lab_exec rtr ip addr add 2001:db8:30::1/64 dev rc nodad
	lab_exec rtr ip addr add 2001:db8:29::1/64 dev ru nodad
	lab_exec rtr ip -6 route add "$LAB_VIP_CIDR6" via 2001:db8:29::2
	lab_exec rtr ip -6 route add 2001:db8:20::/64 via 2001:db8:29::2
	lab_exec node ip addr add 2001:db8:29::2/64 dev up0 nodad
	lab_exec node ip -6 route add 2001:db8:30::/64 via 2001:db8:29::1
}

lab_up() {
	local i pod
	lab_down
	lab_bpffs
	mkdir -p "$LAB_DIR"
	ip netns add "$(lab_ns client)"
	ip netns add "$(lab_ns node)"
	lab_exec client ip link set lo up
	lab_exec node ip link set lo up
	lab_exec node sysctl -qw net.ipv4.ip_forward=1
	lab_exec node sysctl -qw net.ipv4.conf.all.rp_filter=0
	lab_exec node sysctl -qw net.ipv4.conf.default.rp_filter=0
	lab_exec node sysctl -qw net.ipv6.conf.all.forwarding=1

	if [ -n "${LAB_ROUTER:-}" ]; then
		lab_router_up
	else
		ip link add c0 netns "$(lab_ns client)" type veth peer name up0 netns "$(lab_ns node)"
		lab_exec client ip addr add "$LAB_CLIENT_IP/24" dev c0
		lab_exec client ip link set c0 up
		lab_exec client ip route add "$LAB_VIP_CIDR" via "$LAB_NODE_UP_IP"
		lab_exec client ip route add 198.18.20.0/24 via "$LAB_NODE_UP_IP"
		lab_exec node ip addr add "$LAB_NODE_UP_IP/24" dev up0
		lab_exec node ip link set up0 up
		lab_exec client ip addr add "$LAB_CLIENT_IP6/64" dev c0 nodad
		lab_exec client ip -6 route add "$LAB_VIP_CIDR6" via 2001:db8:30::1
		lab_exec client ip -6 route add 2001:db8:20::/64 via 2001:db8:30::1
		lab_exec node ip addr add 2001:db8:30::1/64 dev up0 nodad
	fi
	# The client sends plain frames, as a remote host's NIC would put them on the wire.
	lab_exec client ethtool -K c0 tso off gso off >/dev/null 2>&1 || true

	for i in $(seq 1 "$LAB_PODS"); do
		lab_pod_up "$i"
	done
	lab_ready
}

# The lab as lab_up left it: each step above only prints its error, so check
# that the client's link, the uplink and every pod's veth exist and are up.
lab_ready() {
	local i dev ns
	for dev in client:c0 node:up0 $(for i in $(seq 1 "$LAB_PODS"); do echo "node:pv$i"; done)
	do
		ns=${dev%%:*} dev=${dev#*:}
		if ! lab_exec "$ns" ip link show dev "$dev" up 2>/dev/null | grep -q .; then
			echo "lab: $dev in $(lab_ns "$ns") is missing or down" >&2
			return 1
		fi
	done
}

# Start xvipd in the node namespace on the lab's uplink; extra args are passed on.
lab_xvipd() {
	lab_spawn xvipd nsenter --net="/run/netns/$(lab_ns node)" "$LAB_BUILD/xvipd" \
		--iface up0 --vip-cidr "$LAB_VIP_CIDR" --vip-cidr "$LAB_VIP_CIDR6" --node-name node1 \
		--pin-dir "$LAB_PIN" --state-file "$LAB_DIR/status.json" "$@"
}

lab_xvipctl() {
	lab_nsenter node "$LAB_BUILD/xvipctl" --pin-dir "$LAB_PIN" \
		--state-file "$LAB_DIR/status.json" "$@"
}

# Wait (up to $2 tenths of a second) until a command succeeds.
lab_wait() {
	local cmd=$1 tries=${2:-50}
	while [ "$tries" -gt 0 ]; do
		eval "$cmd" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

lab_vip_on_lo() {
	lab_exec node ip -o addr show dev lo | grep -q " $1/"
}
