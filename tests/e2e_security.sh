#!/usr/bin/env bash
# Security end to end, on the single-node lab: what a hostile or mistaken
# Service cannot do, what a pod cannot reach, and what xvipd keeps of root.
#  - VIPs that are the node's own address, a pod's address, 0.0.0.0 or
#    outside --vip-cidr never reach lo or the maps, and traffic to those
#    addresses is not taken over;
#  - a listener on the node at 0.0.0.0:22 is unreachable through a VIP from
#    a client (XDP) and from a pod (tc);
#  - a running xvipd holds only the capabilities it says.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB=xvsec
LAB_ROOT=$ROOT
# shellcheck source=../scripts/lab.sh
. "$ROOT/scripts/lab.sh"
. "$ROOT/tests/lib/e2e.sh"

VIP=198.18.21.1
NODE_VIPRANGE_ADDR=198.18.21.250	# an address of the node inside --vip-cidr
POD2_ADDR=198.18.20.12			# inside the second --vip-cidr below
SVC_FILE=""

# The lab's Services, plus one that claims every address it must not get.
services_json() {
	python3 - "$ROOT" <<'PY'
import json, subprocess, sys
root = sys.argv[1]
lst = json.loads(subprocess.check_output(["python3", root + "/scripts/lab_services.py"]))
claims = ["198.18.21.250", "0.0.0.0", "198.18.22.5", "198.18.20.12", "255.255.255.255"]
lst["items"].append({
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "grabby", "namespace": "evil"},
    "spec": {"type": "ClusterIP", "clusterIP": "198.18.21.9", "clusterIPs": ["198.18.21.9"],
             "externalIPs": claims,
             "ports": [{"name": "ssh", "port": 22, "protocol": "TCP", "targetPort": 8080},
                       {"name": "web", "port": 8080, "protocol": "TCP", "targetPort": 8080}]}})
lst["items"].append({
    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
    "metadata": {"name": "grabby-1", "namespace": "evil",
                 "labels": {"kubernetes.io/service-name": "grabby"}},
    "addressType": "IPv4",
    "ports": [{"name": "ssh", "port": 8080, "protocol": "TCP"},
              {"name": "web", "port": 8080, "protocol": "TCP"}],
    "endpoints": [{"addresses": ["198.18.20.11"], "nodeName": "node1",
                   "conditions": {"ready": True}}]})
print(json.dumps(lst))
PY
}

stat_of() {
	lab_xvipctl -o json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["packets"])' "$1"
}

# connect FROM_NS ADDR PORT: print the first line the server sends, or "FAILED".
connect() {
	lab_exec "$1" python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)
    s.settimeout(1.5)
    print(s.recv(100).decode(errors="replace").strip() or "EMPTY")
except OSError:
    print("FAILED")' "$2" "$3"
}

in_maps() {
	lab_xvipctl -o json services | python3 -c '
import json, sys
rows = json.load(sys.stdin)
rows = rows.get("services", rows) if isinstance(rows, dict) else rows
print(" ".join(sorted({str(r.get("vip", r.get("address", ""))) for r in rows})))'
}

setup() {
	e2e_built xvipd xvipctl || return 1
	need "the lab did not come up (lab_up)" lab_up || return 1
	SVC_FILE=$LAB_DIR/services.json
	lab_exec node ip addr add "$NODE_VIPRANGE_ADDR/32" dev up0
	lab_exec client ip route add "$NODE_VIPRANGE_ADDR/32" via "$LAB_NODE_UP_IP"
	need "cannot write the services file" services_json >"$SVC_FILE" || return 1
	# The node's sshd stand-in, on every address.
	lab_spawn sshd-standin ip netns exec "$(lab_ns node)" python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(16)
while True:
    c, _ = s.accept(); c.sendall(b"SSH-2.0-node\n"); c.close()'
	# A second --vip-cidr over the pods, so a pod address is inside a VIP range.
	lab_xvipd --services-file "$SVC_FILE" --vip-cidr 198.18.20.0/24 \
		--state-file "$LAB_DIR/state.json"
	e2e_await xvipd "$LAB_DIR/xvipd.pid" "lab_vip_on_lo $VIP && lab_vip_on_lo 198.18.21.9" 100
}

test_refused_vips_never_reach_lo_or_maps() {
	local a lo maps
	lo=$(lab_exec node ip -o addr show dev lo)
	maps=$(in_maps)
	echo "  VIPs in the maps: $maps" >&2
	check "the Service's good VIP is served ($maps)" grep -qw 198.18.21.9 <<<"$maps"
	for a in "$NODE_VIPRANGE_ADDR" 0.0.0.0 198.18.22.5 "$POD2_ADDR" 255.255.255.255; do
		check "$a not in the maps" bash -c "! grep -qw '$a' <<<'$maps'"
		check "$a not on lo" bash -c "! grep -q ' $a/' <<<'$lo'"
	done
	check "node address refused, logged" grep -q \
		"VIP $NODE_VIPRANGE_ADDR is an address of this node that xvipd did not add: refused" \
		"$LAB_DIR/xvipd.log"
	check "pod address refused, logged" grep -q \
		"$POD2_ADDR is the address of an endpoint, refused as a VIP" "$LAB_DIR/xvipd.log"
	check "0.0.0.0 skipped, logged" grep -q "0.0.0.0 is not a unicast address" "$LAB_DIR/xvipd.log"
	check "outside --vip-cidr skipped, logged" grep -q "198.18.22.5 is outside every --vip-cidr" \
		"$LAB_DIR/xvipd.log"
}

# Traffic to the addresses the Service claimed still goes where it went before.
test_claimed_addresses_not_taken_over() {
	local r
	r=$(connect client "$NODE_VIPRANGE_ADDR" 22)
	check "client -> node's $NODE_VIPRANGE_ADDR:22 reaches the node's listener ($r)" \
		test "$r" = "SSH-2.0-node"
	r=$(lab_exec client python3 "$ROOT/tests/lab_client.py" tcp "$POD2_ADDR" 8080 3 2 |
		python3 -c 'import json,sys; print(",".join(sorted({json.loads(l).get("pod","ERR") for l in sys.stdin})))')
	check "client -> pod2's own address reaches pod2 only ($r)" test "$r" = "pod2"
}

test_node_listener_unreachable_through_vip() {
	local before after r
	r=$(connect client "$LAB_NODE_UP_IP" 22)
	check "control: the listener answers on the node's address ($r)" test "$r" = "SSH-2.0-node"
	before=$(stat_of drop_unserved_port)
	r=$(connect client "$VIP" 22)
	check "client -> VIP:22 does not reach the node ($r)" test "$r" = "FAILED"
	r=$(connect pod1 "$VIP" 22)
	check "pod -> VIP:22 does not reach the node ($r)" test "$r" = "FAILED"
	r=$(connect pod1 169.254.1.1 22)
	check "control: the pod reaches the listener on its gateway address ($r)" \
		test "$r" = "SSH-2.0-node"
	after=$(stat_of drop_unserved_port)
	check "drop_unserved_port counted both ($before -> $after)" test "$after" -ge $((before + 2))
}

test_capabilities_dropped() {
	local pid st eff bnd nnp want=0000008000001002
	pid=$(cat "$LAB_DIR/xvipd.pid")
	check "xvipd runs as pid $pid" grep -qx xvipd "/proc/$pid/comm"
	st=$(cat "/proc/$pid/status")
	eff=$(awk '/^CapEff:/ {print $2}' <<<"$st")
	bnd=$(awk '/^CapBnd:/ {print $2}' <<<"$st")
	nnp=$(awk '/^NoNewPrivs:/ {print $2}' <<<"$st")
	echo "  xvipd: CapEff $eff CapBnd $bnd NoNewPrivs $nnp" >&2
	check "CapEff is cap_dac_override,cap_net_admin,cap_bpf ($eff)" test "$eff" = "$want"
	check "CapPrm too" grep -q "^CapPrm:[[:space:]]*$want" <<<"$st"
	check "CapBnd too ($bnd)" test "$bnd" = "$want"
	check "no inheritable or ambient" bash -c "grep -q '^CapInh:[[:space:]]*0000000000000000' <<<'$st' && grep -q '^CapAmb:[[:space:]]*0000000000000000' <<<'$st'"
	check "no_new_privs ($nnp)" test "$nnp" = 1
	check "logged what it kept" grep -q \
		"capabilities: kept cap_dac_override,cap_net_admin,cap_bpf; every other dropped" \
		"$LAB_DIR/xvipd.log"
	# Still does its job without them: a VIP withdrawn and added back on lo.
	python3 "$ROOT/scripts/lab_services.py" --not-ready 1,2,3 >"$SVC_FILE.tmp" &&
		mv "$SVC_FILE.tmp" "$SVC_FILE"
	lab_wait "! lab_vip_on_lo $VIP" 50
	check "VIP withdrawn from lo after the drop" bash -c "! ip netns exec $(lab_ns node) ip -o addr show dev lo | grep -q ' $VIP/'"
	services_json >"$SVC_FILE.tmp" && mv "$SVC_FILE.tmp" "$SVC_FILE"
	lab_wait "lab_vip_on_lo $VIP" 80
	check "VIP back on lo after the drop" lab_vip_on_lo "$VIP"
}

skip=$(e2e_skip_reason)
trap lab_down EXIT
E2E_LOGS="$LAB_DIR/*.log"
e2e_main "$skip" setup test_refused_vips_never_reach_lo_or_maps \
	test_claimed_addresses_not_taken_over \
	test_node_listener_unreachable_through_vip test_capabilities_dropped
