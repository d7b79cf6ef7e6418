#!/usr/bin/env bash
# Node-to-VIP end to end: processes in the node's own network namespace reach
# the Service VIP through the cgroup socket hooks xvipd attaches (TCP and UDP
# to the pods, the VIP as the peer they see), a host listener on 0.0.0.0:22
# stays unreachable through the VIP, sockets of other namespaces are left
# alone, the hooks survive a restart in place, and --cleanup (or lab_down,
# even after the node namespace is gone) detaches them from the root cgroup.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB=xvsock
LAB_ROOT=$ROOT
# shellcheck source=../scripts/lab.sh
. "$ROOT/scripts/lab.sh"
. "$ROOT/tests/lib/e2e.sh"

VIP=198.18.21.1
SVC_FILE=""
HOOK=xvip_link_sock_connect4

# node_requests PROTO PORT N -> JSON lines, from a process in the node namespace
node_requests() {
	lab_exec node python3 "$ROOT/tests/lab_client.py" "$1" "$VIP" "$2" "$3" 2
}

# "ok=N errors=N pods=a,b,c bad_peer=N nat_port=N": bad_peer counts replies or
# peers not shown as VIP:PORT; nat_port counts pods that saw another source
# port than the socket's own (a socket is connected to the pod, nothing NATs it).
summary() {
	python3 -c '
import json, sys
want = sys.argv[1]
ok = err = bad_peer = nat_port = 0
pods = set()
for line in sys.stdin:
    r = json.loads(line)
    if "error" in r:
        err += 1
        print("  client error: %s" % r["error"], file=sys.stderr)
        continue
    ok += 1
    pods.add(r["pod"])
    bad_peer += r["reply_from"] != want
    nat_port += not r["client_seen"].endswith(":%d" % r["sport"])
print("ok=%d errors=%d pods=%s bad_peer=%d nat_port=%d" % (ok, err, ",".join(sorted(pods)), bad_peer, nat_port))
' "$1"
}

stat_of() {
	lab_xvipctl -o json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["packets"])' "$1"
}

# link_field PIN FIELD: a field of the bpf_link pinned as $LAB_PIN/PIN
link_field() {
	bpftool -j link show pinned "$LAB_PIN/$1" 2>/dev/null |
		python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

link_gone() { ! bpftool link show id "$1" >/dev/null 2>&1; }

# connect_errno NS IP PORT: "ok" or the errno name of a TCP connect from NS
connect_errno() {
	lab_exec "$1" python3 -c '
import errno, socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)))' "$2" "$3"
}

start_xvipd() {
	lab_xvipd --services-file "$SVC_FILE"
	e2e_await xvipd "$LAB_DIR/xvipd.pid" "lab_vip_on_lo $VIP" 100 &&
		e2e_await xvipd "$LAB_DIR/xvipd.pid" "test -e $LAB_PIN/$HOOK" 50
}

stop_xvipd() {
	local pid
	pid=$(cat "$LAB_DIR/xvipd.pid")
	kill -TERM "$pid"
	lab_wait "! kill -0 $pid" 50
}

setup() {
	e2e_built xvipd xvipctl || return 1
	need "the lab did not come up (lab_up)" lab_up || return 1
	SVC_FILE=$LAB_DIR/services.json
	need "cannot write the services file" \
		python3 "$ROOT/scripts/lab_services.py" >"$SVC_FILE" || return 1
	start_xvipd
}

# What the socket hooks need from the machine, probed without xvip's code:
# a cgroup v2 hierarchy where xvipd looks, and SO_NETNS_COOKIE (kernel 5.14).
sock_hooks_skip_reason() {
	local cg
	cg=$(stat -fc %T /sys/fs/cgroup 2>/dev/null)
	[ "$cg" = cgroup2fs ] || cg=$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)
	[ "$cg" = cgroup2fs ] || { echo "no cgroup v2 mount at /sys/fs/cgroup(/unified)"; return; }
	python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.getsockopt(socket.SOL_SOCKET, 71, 8)	# SO_NETNS_COOKIE' 2>/dev/null ||
		echo "no SO_NETNS_COOKIE on this kernel (5.14)"
}

test_hooks_attached_to_the_root_cgroup() {
	local cg
	check "xvipd logged the attachment" grep -q "node-to-VIP socket hooks attached" "$LAB_DIR/xvipd.log"
	for h in connect4 connect6 sendmsg4 sendmsg6 recvmsg4 recvmsg6 getpeername4 getpeername6; do
		check "link for $h pinned" test -e "$LAB_PIN/xvip_link_sock_$h"
	done
	cg=$(link_field "$HOOK" cgroup_id)
	check "on the cgroup v2 root (id $cg)" test "$cg" = 1
}

test_node_tcp_to_vip_reaches_pods() {
	local s before after
	before=$(stat_of sock_connect_balanced)
	s=$(node_requests tcp 80 30 | summary "$VIP:80")
	echo "  node tcp: $s" >&2
	after=$(stat_of sock_connect_balanced)
	check "30 connections from the node answered ($s)" grep -q "ok=30 errors=0" <<<"$s"
	check "every pod answered ($s)" grep -q "pods=pod1,pod2,pod3 " <<<"$s"
	check "the app's peer is $VIP:80 ($s)" grep -q "bad_peer=0" <<<"$s"
	check "pods saw the socket's own port ($s)" grep -q "nat_port=0" <<<"$s"
	check "sock_connect_balanced counted 30 ($before -> $after)" test "$after" -eq $((before + 30))
}

test_node_udp_to_vip_replies_from_vip() {
	local s before after
	before=$(stat_of sock_sendmsg_balanced)
	s=$(node_requests udp 53 30 | summary "$VIP:53")
	echo "  node udp: $s" >&2
	after=$(stat_of sock_sendmsg_balanced)
	check "30 datagrams from the node answered ($s)" grep -q "ok=30 errors=0" <<<"$s"
	check "every pod answered ($s)" grep -q "pods=pod1,pod2,pod3 " <<<"$s"
	check "recvfrom shows $VIP:53 as the source ($s)" grep -q "bad_peer=0" <<<"$s"
	check "sock_sendmsg_balanced counted 30 ($before -> $after)" test "$after" -eq $((before + 30))
}

test_host_listener_not_reachable_via_vip() {
	local before after r
	lab_spawn sshd-standin ip netns exec "$(lab_ns node)" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(16)
while True:
    c, _ = s.accept(); c.close()'
	lab_wait "test \"\$(connect_errno node $LAB_NODE_UP_IP 22)\" = ok" 30
	check "control: the listener answers the node on its uplink address" \
		test "$(connect_errno node "$LAB_NODE_UP_IP" 22)" = ok
	before=$(stat_of drop_sock_unserved_port)
	r=$(connect_errno node "$VIP" 22)
	after=$(stat_of drop_sock_unserved_port)
	check "connect from the node to $VIP:22 refused with EPERM (got $r)" test "$r" = EPERM
	check "drop_sock_unserved_port counted it ($before -> $after)" test "$after" -eq $((before + 1))
}

# Another namespace with the VIP on its own lo and a listener on 0.0.0.0:
# the hooks run for its processes too (same root cgroup) and must not act.
test_other_namespace_untouched() {
	local ns before after
	ns=$(lab_ns other)
	ip netns add "$ns"
	lab_exec other ip link set lo up
	lab_exec other ip addr add "$VIP/32" dev lo
	lab_spawn other-listener ip netns exec "$ns" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(16)
while True:
    c, _ = s.accept(); c.close()'
	before=$(stat_of drop_sock_unserved_port)
	lab_wait "test \"\$(connect_errno other $VIP 22)\" = ok" 30
	check "$VIP:22 reaches the other namespace's own listener" test "$(connect_errno other "$VIP" 22)" = ok
	after=$(stat_of drop_sock_unserved_port)
	check "nothing counted for it ($before -> $after)" test "$after" -eq "$before"
}

test_restart_replaces_hooks_in_place() {
	local id prog s
	id=$(link_field "$HOOK" id)
	prog=$(link_field "$HOOK" prog_id)
	stop_xvipd
	s=$(node_requests tcp 80 5 | summary "$VIP:80")
	check "node traffic while xvipd is down ($s)" grep -q "ok=5 errors=0 .* bad_peer=0" <<<"$s"
	mv "$LAB_DIR/xvipd.log" "$LAB_DIR/xvipd.1.log"
	start_xvipd
	lab_wait "grep -q 'node-to-VIP socket hooks attached' $LAB_DIR/xvipd.log" 50
	check "same link after restart ($id)" test "$(link_field "$HOOK" id)" = "$id"
	check "new program in it (was $prog)" test "$(link_field "$HOOK" prog_id)" != "$prog"
	s=$(node_requests tcp 80 5 | summary "$VIP:80")
	check "node traffic after restart ($s)" grep -q "ok=5 errors=0 .* bad_peer=0" <<<"$s"
}

test_cleanup_detaches_hooks() {
	local id
	id=$(link_field "$HOOK" id)
	stop_xvipd
	lab_nsenter node "$BUILD/xvipd" --cleanup --pin-dir "$LAB_PIN" >/dev/null 2>&1
	check "link pins removed" test ! -e "$LAB_PIN/$HOOK"
	check "link $id detached from the cgroup" link_gone "$id"
}

# A lab whose node namespace vanished (a killed run) still has its hooks on
# the root cgroup until lab_down, which must detach them without it.
test_lab_down_detaches_without_the_namespace() {
	local id pid
	start_xvipd
	id=$(link_field "$HOOK" id)
	check "hooks attached again ($id)" test -n "$id"
	pid=$(cat "$LAB_DIR/xvipd.pid")
	{ kill -9 "$pid"; wait "$pid"; } 2>/dev/null
	ip netns del "$(lab_ns node)"
	check "still attached with the namespace gone" bash -c "bpftool link show id $id >/dev/null"
	lab_down
	check "lab_down detached link $id" link_gone "$id"
	check "pin dir removed" test ! -e "$LAB_PIN"
}

skip=$(e2e_skip_reason)
if [ -z "$skip" ] && ! command -v bpftool >/dev/null; then skip="bpftool missing"; fi
[ -n "$skip" ] || skip=$(sock_hooks_skip_reason)
trap lab_down EXIT
E2E_LOGS="$LAB_DIR/*.log"
e2e_main "$skip" setup test_hooks_attached_to_the_root_cgroup test_node_tcp_to_vip_reaches_pods \
	test_node_udp_to_vip_replies_from_vip test_host_listener_not_reachable_via_vip \
	test_other_namespace_untouched test_restart_replaces_hooks_in_place \
	test_cleanup_detaches_hooks test_lab_down_detaches_without_the_namespace
if [ -n "${E2E_KEEP_LOGS:-}" ]; then cp -r "$LAB_DIR" "$E2E_KEEP_LOGS"; fi
