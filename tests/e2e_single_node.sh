#!/usr/bin/env bash
# End to end on one node, in network namespaces: real TCP connections and UDP
# datagrams from a client through XDP on the node's uplink to three pods and
# back, with the daemon driven by a services file.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB=xve2e1
LAB_ROOT=$ROOT
# shellcheck source=../scripts/lab.sh
. "$ROOT/scripts/lab.sh"
. "$ROOT/tests/lib/e2e.sh"

VIP=198.18.21.1
SVC_FILE=""
TCP_OUT=""

write_services() {
	python3 "$ROOT/scripts/lab_services.py" "$@" >"$SVC_FILE.tmp" && mv "$SVC_FILE.tmp" "$SVC_FILE"
}

# requests PROTO PORT N -> JSON lines in stdout
requests() {
	lab_exec client python3 "$ROOT/tests/lab_client.py" "$1" "$VIP" "$2" "$3" 2
}

# Summarise client JSON lines: "ok=N errors=N pods=a,b,c bad_src=N bad_client=N"
summary() {
	python3 -c '
import json, sys
want_src, client_ip = sys.argv[1], sys.argv[2]
ok = err = bad_src = bad_client = 0
pods = set()
for line in sys.stdin:
    r = json.loads(line)
    if "error" in r:
        err += 1
        continue
    ok += 1
    pods.add(r["pod"])
    if r["reply_from"] != want_src:
        bad_src += 1
    if r["client_seen"] != "%s:%d" % (client_ip, r["sport"]):
        bad_client += 1
print("ok=%d errors=%d pods=%s bad_src=%d bad_client=%d" % (ok, err, ",".join(sorted(pods)), bad_src, bad_client))
' "$1" "$LAB_CLIENT_IP"
}

stat_of() {
	lab_xvipctl -o json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["packets"])' "$1"
}

setup() {
	e2e_built xvipd xvipctl || return 1
	need "the lab did not come up (lab_up)" lab_up || return 1
	SVC_FILE=$LAB_DIR/services.json
	TCP_OUT=$LAB_DIR/tcp.jsonl
	need "cannot write the services file" write_services || return 1
	lab_xvipd --services-file "$SVC_FILE"
	e2e_await xvipd "$LAB_DIR/xvipd.pid" "lab_vip_on_lo $VIP" 100
}

test_vip_advertised() {
	check "VIP $VIP on the node's lo" lab_vip_on_lo "$VIP"
	check "marked as xvipd's (label lo:xvip)" bash -c "ip netns exec $(lab_ns node) ip -o addr show dev lo label lo:xvip | grep -q ' $VIP/'"
}

test_tcp_spread_over_pods() {
	local s
	requests tcp 80 30 >"$TCP_OUT"
	s=$(summary "$VIP:80" <"$TCP_OUT")
	echo "  tcp: $s" >&2
	check "30 TCP connections answered ($s)" grep -q "ok=30 errors=0" <<<"$s"
	check "every pod answered ($s)" grep -q "pods=pod1,pod2,pod3 " <<<"$s"
	check "replies from the VIP, pods saw the client ($s)" grep -q "bad_src=0 bad_client=0" <<<"$s"
}

test_udp_spread_over_pods() {
	local s
	s=$(requests udp 53 30 | summary "$VIP:53")
	echo "  udp: $s" >&2
	check "30 UDP datagrams answered ($s)" grep -q "ok=30 errors=0" <<<"$s"
	check "every pod answered ($s)" grep -q "pods=pod1,pod2,pod3 " <<<"$s"
	check "replies from VIP:53, pods saw the client ($s)" grep -q "bad_src=0 bad_client=0" <<<"$s"
}

# xvipctl lookup must name, for each flow, the pod that actually answered it.
test_lookup_names_the_answering_pod() {
	local line sport pod want got n=0
	while read -r line; do
		sport=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sport"])' "$line")
		pod=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["pod"])' "$line")
		want=$(lab_pod_ip "${pod#pod}")
		got=$(lab_xvipctl -o json lookup "$LAB_CLIENT_IP:$sport" "$VIP:80/tcp" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["address"])')
		[ "$got" = "$want" ] || e2e_fail "flow from port $sport: lookup says $got, $pod ($want) answered"
		n=$((n + 1))
		[ $n -ge 10 ] && break
	done <"$TCP_OUT"
	check "looked up 10 flows" test "$n" -eq 10
}

test_host_socket_not_reachable_through_vip() {
	local before after
	lab_spawn sshd-standin ip netns exec "$(lab_ns node)" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(b"SSH-2.0-standin\n"); c.close()'
	lab_wait "lab_exec client python3 -c 'import socket; socket.create_connection((\"$LAB_NODE_UP_IP\", 22), timeout=1)'" 30
	check "control: the listener answers on the node address" \
		lab_exec client python3 -c "import socket; socket.create_connection(('$LAB_NODE_UP_IP', 22), timeout=1)"
	before=$(stat_of drop_unserved_port)
	if lab_exec client python3 -c "import socket; socket.create_connection(('$VIP', 22), timeout=1)" 2>/dev/null; then
		e2e_fail "port 22 of the node answered through the VIP"
	fi
	after=$(stat_of drop_unserved_port)
	check "drop_unserved_port counted the SYNs ($before -> $after)" test "$after" -gt "$before"
}

pod3_gone() { ! lab_xvipctl backends "$VIP:80/tcp" | grep -q 198.18.20.13; }
vip_off_lo() { ! lab_vip_on_lo "$VIP"; }

test_not_ready_endpoint_gets_no_new_flows() {
	local s
	write_services --not-ready 3
	lab_wait pod3_gone 50
	check "pod3 left the backends" pod3_gone
	s=$(requests tcp 80 30 | summary "$VIP:80")
	echo "  tcp without pod3: $s" >&2
	check "all answered ($s)" grep -q "ok=30 errors=0" <<<"$s"
	check "only pod1 and pod2 ($s)" grep -q "pods=pod1,pod2 " <<<"$s"
}

test_terminating_only_withdraws_but_serves() {
	local s
	write_services --terminating 1,2,3
	lab_wait vip_off_lo 50
	check "VIP withdrawn from lo with no ready endpoint" vip_off_lo
	s=$(requests tcp 80 10 | summary "$VIP:80")
	echo "  tcp to serving-terminating pods: $s" >&2
	check "serving terminating endpoints still take flows ($s)" grep -q "ok=10 errors=0" <<<"$s"
	write_services
	lab_wait "lab_vip_on_lo $VIP" 50
	check "VIP back on lo once ready again" lab_vip_on_lo "$VIP"
}

test_bad_file_keeps_state() {
	local s
	printf '{"apiVersion": "v1", "kind": "List", "items": [{"kind": "Service", "metadata": ' >"$SVC_FILE"
	sleep 1
	check "VIP still on lo after a truncated file" lab_vip_on_lo "$VIP"
	check "error logged naming the file" grep -q "services.json: .*keeping the programmed state" "$LAB_DIR/xvipd.log"
	# 30 connections: all three pods answer but with a chance of 3 x (2/3)^30, under 1e-4.
	s=$(requests tcp 80 30 | summary "$VIP:80")
	check "traffic still balanced ($s)" grep -q "ok=30 errors=0 pods=pod1,pod2,pod3 " <<<"$s"
	write_services
}

test_bpftool_prints_named_fields() {
	local out
	out=$(bpftool map dump pinned "$LAB_PIN/xvip_svc" 2>&1)
	check "xvip_svc dump has named fields" grep -q '"vip"' <<<"$out"
	check "xvip_svc dump has the port" grep -q '"port"' <<<"$out"
	out=$(bpftool map dump pinned "$LAB_PIN/xvip_be" 2>&1 | head -40)
	check "xvip_be dump has named fields" grep -q '"svc_id"' <<<"$out"
}

test_restart_adopts_pinned_state() {
	local pid s
	pid=$(cat "$LAB_DIR/xvipd.pid")
	kill -TERM "$pid"
	lab_wait "! kill -0 $pid" 50
	check "VIP stays on lo while xvipd is down" lab_vip_on_lo "$VIP"
	s=$(requests tcp 80 10 | summary "$VIP:80")
	check "traffic flows while xvipd is down ($s)" grep -q "ok=10 errors=0" <<<"$s"
	mv "$LAB_DIR/xvipd.log" "$LAB_DIR/xvipd.1.log"
	lab_xvipd --services-file "$SVC_FILE"
	lab_wait "grep -q 'applied' $LAB_DIR/xvipd.log" 100
	check "restart adopted the pins" grep -q "adopted pinned state: 2 service ports" "$LAB_DIR/xvipd.log"
	check "nothing rebuilt on restart" grep -q "(+0 ~2 -0), 0 tables swapped" "$LAB_DIR/xvipd.log"
	s=$(requests tcp 80 10 | summary "$VIP:80")
	check "traffic after restart ($s)" grep -q "ok=10 errors=0" <<<"$s"
}

test_cleanup_removes_everything() {
	local pid
	pid=$(cat "$LAB_DIR/xvipd.pid")
	kill -TERM "$pid"
	lab_wait "! kill -0 $pid" 50
	lab_nsenter node "$BUILD/xvipd" --cleanup --pin-dir "$LAB_PIN" >/dev/null 2>&1
	check "VIP removed from lo" vip_off_lo
	check "XDP detached from up0" bash -c "! ip netns exec $(lab_ns node) ip link show up0 | grep -q xdp"
	check "pins removed" test ! -e "$LAB_PIN/xvip_svc"
}

skip=$(e2e_skip_reason)
trap lab_down EXIT
E2E_LOGS="$LAB_DIR/*.log"
e2e_main "$skip" setup test_vip_advertised test_tcp_spread_over_pods test_udp_spread_over_pods \
	test_lookup_names_the_answering_pod test_host_socket_not_reachable_through_vip \
	test_not_ready_endpoint_gets_no_new_flows test_terminating_only_withdraws_but_serves \
	test_bad_file_keeps_state test_bpftool_prints_named_fields test_restart_adopts_pinned_state \
	test_cleanup_removes_everything
if [ -n "${E2E_KEEP_LOGS:-}" ]; then cp -r "$LAB_DIR" "$E2E_KEEP_LOGS"; fi
