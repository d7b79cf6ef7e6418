#!/usr/bin/env bash
# End to end with the Kubernetes API source: xvipd lists and watches a stand-in
# API server (tests/k8s_standin.py: HTTPS with a CA made here, bearer tokens,
# paginated lists, chunked watch streams, BOOKMARKs, 410 Gone, faults) from the
# lab's node namespace, and every test checks what ends up in the maps, on lo
# and on the wire, not only what the client parsed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# One lab per run (the pid in its name): runs by several people on one machine
# do not tear down each other's namespaces; leftovers of dead runs are removed.
LAB=xvk8s$$
LAB_ROOT=$ROOT
# shellcheck source=../scripts/lab.sh
. "$ROOT/scripts/lab.sh"
. "$ROOT/tests/lib/e2e.sh"

# Namespaces, pins and files of earlier runs whose process is gone.
cleanup_dead_runs() {
	local lab pid
	for lab in $( (ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^\(xvk8s[0-9]*\)-.*/\1/p'
		ls -d /tmp/xvk8s[0-9]* /sys/fs/bpf/xvk8s[0-9]* 2>/dev/null | xargs -rn1 basename) |
		sort -u); do
		pid=${lab#xvk8s}
		[ -n "$pid" ] && [ "$pid" != $$ ] && kill -0 "$pid" 2>/dev/null && continue
		(LAB=$lab LAB_DIR=/tmp/$lab LAB_PIN=/sys/fs/bpf/$lab; lab_down) >/dev/null 2>&1
	done
}

VIP=198.18.21.1
VIP2=198.18.21.2
API=127.0.0.1:6443
CTL=127.0.0.1:6444
METRICS=127.0.0.1:9101
TOKEN=t0ken-$$-a
TOKEN2=t0ken-$$-b
SA=""
STATE=""

# ---- helpers

# ctl METHOD PATH [JSON]: the stand-in's control endpoint.
ctl() {
	if [ $# -ge 3 ]; then
		lab_exec node curl -sS -X "$1" -H 'Content-Type: application/json' \
			--data-binary "$3" "http://$CTL$2"
	else
		lab_exec node curl -sS -X "$1" "http://$CTL$2"
	fi
}

# apply ARGS...: k8s_objects.py ARGS, each object applied (ADDED or MODIFIED).
apply() {
	local o
	python3 "$ROOT/tests/k8s_objects.py" "$@" | while read -r o; do
		ctl POST /apply "{\"object\": $o}" >/dev/null
	done
}

http_code() {
	lab_exec node curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$METRICS$1"
}

metric() {
	lab_exec node curl -s --max-time 2 "http://$METRICS/metrics" |
		awk -v m="$1" '$1 == m { print $2 }'
}

# requests_where PYTHON_CONDITION: how many API requests r match.
requests_where() {
	ctl GET /requests | python3 -c '
import json, sys
rs = json.load(sys.stdin)
print(sum(1 for r in rs if eval(sys.argv[1])))' "$1"
}

ctlx() {
	nsenter --net="/run/netns/$(lab_ns node)" "$BUILD/xvipctl" --pin-dir "$LAB_PIN" \
		--state-file "$STATE" "$@"
}

requests() {
	lab_exec client python3 "$ROOT/tests/lab_client.py" "$1" "$2" "$3" "$4" 2
}

# ok_count VIP N: N TCP requests to VIP:80, prints how many were answered.
ok_count() {
	requests tcp "$1" 80 "$2" | grep -vc '"error"'
}

log_count() { grep -c -- "$1" "$LAB_DIR/xvipd.log"; }
vip_off() { ! lab_vip_on_lo "$1"; }
not() { ! "$@"; }
svc_present() { ctlx services | grep -q "$1:80/tcp"; }
# backends_has VIP ADDR: ADDR is an endpoint of VIP:80/tcp in the maps.
backends_has() { ctlx backends "$1:80/tcp" | grep -q "$2"; }
status_has() { ctlx status | grep -q "$1"; }

stop_xvipd() {
	local pid
	pid=$(cat "$LAB_DIR/xvipd.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	lab_wait "! kill -0 $pid" 50
	rm -f "$LAB_DIR/xvipd.pid"
}

# Certificates, made here: the cluster CA, the API server's (127.0.0.1), and a stranger CA.
make_pki() {
	local d=$LAB_DIR/pki
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		for ca in ca wrong-ca; do
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout "$ca.key" -out "$ca.crt" -days 2 -subj "/CN=xvip-test-$ca" \
				2>/dev/null || exit 1
		done
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
			-out server.csr -subj /CN=kube-apiserver 2>/dev/null || exit 1
		printf 'subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n' >ext.cnf
		printf 'extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >>ext.cnf
		openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out server.crt -days 2 -extfile ext.cnf 2>/dev/null || exit 1
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout client.key \
			-out client.csr -subj "/O=xvip/CN=system:serviceaccount:kube-system:xvipd" \
			2>/dev/null || exit 1
		printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.cnf
		openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
			-out client.crt -days 2 -extfile client.cnf 2>/dev/null || exit 1
	)
}

kubeconfig() {
	local ca=$1 out=$2
	cat >"$out" <<EOF
apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: https://$API
    certificate-authority-data: $(base64 -w0 <"$ca")
contexts:
- name: lab
  context: {cluster: lab, user: xvipd}
users:
- name: xvipd
  user:
    tokenFile: sa/token
EOF
}

# The daemon in the node namespace, in a private mount namespace where the
# service account directory is $SA, as the kubelet mounts it: in-cluster config.
start_xvipd_in_cluster() {
	lab_spawn xvipd nsenter --net="/run/netns/$(lab_ns node)" unshare -m --propagation private \
		sh -c 'mount -t tmpfs tmpfs /run &&
		       mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
		       mount --bind "$0" /run/secrets/kubernetes.io/serviceaccount &&
		       exec "$@"' "$SA" env KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=6443 \
		"$BUILD/xvipd" --iface up0 --vip-cidr "$LAB_VIP_CIDR" --node-name node1 \
		--pin-dir "$LAB_PIN" --metrics-addr "$METRICS" --state-file "$STATE" \
		--watch-timeout 3 "$@"
}

setup() {
	e2e_built xvipd xvipctl || return 1
	cleanup_dead_runs
	need "the lab did not come up (lab_up)" lab_up || return 1
	SA=$LAB_DIR/sa
	STATE=$LAB_DIR/status.json
	mkdir -p "$SA"
	need "openssl could not make the test PKI" make_pki || return 1
	cp "$LAB_DIR/pki/ca.crt" "$SA/ca.crt"
	printf '%s\n' "$TOKEN" >"$SA/token"
	printf 'default\n' >"$SA/namespace"
	need "tests/k8s_objects.py initial failed" \
		python3 "$ROOT/tests/k8s_objects.py" initial >"$LAB_DIR/objects.json" || return 1
	lab_spawn standin ip netns exec "$(lab_ns node)" python3 "$ROOT/tests/k8s_standin.py" \
		--listen "$API" --control "$CTL" --cert "$LAB_DIR/pki/server.crt" \
		--key "$LAB_DIR/pki/server.key" --token "$TOKEN" --objects "$LAB_DIR/objects.json" \
		--bookmark-interval 1 --client-ca "$LAB_DIR/pki/ca.crt"
	e2e_await "the API server stand-in" "$LAB_DIR/standin.pid" "ctl GET /state" 50 || return 1
	# Pages of two: three Services take two pages, as 1000 would take several of 500.
	need "the stand-in refused its page size" ctl POST /config '{"max_page": 2}' >/dev/null
}

# ---- tests

test_wrong_ca_refused() {
	local tls
	kubeconfig "$LAB_DIR/pki/wrong-ca.crt" "$LAB_DIR/wrong.kubeconfig"
	lab_spawn xvipd nsenter --net="/run/netns/$(lab_ns node)" "$BUILD/xvipd" \
		--iface up0 --vip-cidr "$LAB_VIP_CIDR" --node-name node1 --pin-dir "$LAB_PIN" \
		--metrics-addr "$METRICS" --state-file "$STATE" --kubeconfig "$LAB_DIR/wrong.kubeconfig"
	lab_wait "[ \"\$(metric 'xvip_api_errors_total{cause=\"tls\"}')\" -ge 6 ] 2>/dev/null" 80
	tls=$(metric 'xvip_api_errors_total{cause="tls"}')
	check "TLS failures counted, retried ($tls)" test "${tls:-0}" -ge 6
	check "logged once per resource, not per retry" \
		test "$(log_count 'services: list: tls')" -eq 1
	check "the log says why" grep -q "certificate" "$LAB_DIR/xvipd.log"
	check "no request reached the API server" test "$(requests_where 'True')" -eq 0
	check "/readyz 503 while nothing is synced" test "$(http_code /readyz)" = 503
	check "/healthz 200" test "$(http_code /healthz)" = 200
	check "nothing advertised" vip_off "$VIP"
	check "xvipctl status: not synced" status_has "not synced"
	grep -q "token" "$LAB_DIR/xvipd.log" && grep -q "$TOKEN" "$LAB_DIR/xvipd.log" &&
		e2e_fail "the token appears in the log"
	stop_xvipd
	mv "$LAB_DIR/xvipd.log" "$LAB_DIR/xvipd.wrong-ca.log"
}

test_readyz_503_until_first_sync() {
	local code seen503=0
	# Each list page takes 1.5 s: the first complete sync takes a few seconds.
	ctl POST /config '{"list_delay": 1.5}' >/dev/null
	start_xvipd_in_cluster
	lab_wait "[ \"\$(http_code /healthz)\" = 200 ]" 50
	for _ in $(seq 1 100); do
		code=$(http_code /readyz)
		[ "$code" = 503 ] && { seen503=1; vip_off "$VIP" || e2e_fail "VIP on lo before sync"; }
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	ctl POST /config '{"list_delay": 0}' >/dev/null
	check "/readyz 503 before the first sync" test "$seen503" = 1
	check "/readyz 200 after it" test "$(http_code /readyz)" = 200
	check "/healthz 200" test "$(http_code /healthz)" = 200
	lab_wait "lab_vip_on_lo $VIP" 50
	check "VIP on lo once synced" lab_vip_on_lo "$VIP"
}

test_initial_list_paginated_programs_maps() {
	local s
	check "services listed in pages: limit sent" \
		test "$(requests_where 'r["resource"] == "services" and r["query"].get("limit") == "500"')" -ge 1
	check "and the next page fetched with continue" \
		test "$(requests_where 'r["resource"] == "services" and "continue" in r["query"]')" -ge 1
	check "all three Services seen" grep -q "services: listed 3 objects" "$LAB_DIR/xvipd.log"
	check "the Node listed by field selector" \
		test "$(requests_where 'r["resource"] == "nodes" and r["query"].get("fieldSelector") == "metadata.name=node1"')" -ge 1
	check "$VIP:80/tcp in the maps with pods 1-3" \
		test "$(ctlx backends "$VIP:80/tcp" | grep -cE '198\.18\.20\.1[123]')" -eq 3
	check "$VIP:53/udp in the maps" grep -q "$VIP:53/udp" <<<"$(ctlx services)"
	check "ClusterIPs outside --vip-cidr not programmed" not grep -q 10.96.0 <<<"$(ctlx services)"
	s=$(requests tcp "$VIP" 80 30 | python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
print("ok=%d pods=%s" % (sum("error" not in r for r in rs), ",".join(sorted({r.get("pod", "-") for r in rs}))))')
	check "traffic balanced over the three pods ($s)" test "$s" = "ok=30 pods=pod1,pod2,pod3"
}

test_added_modified_deleted_change_maps_and_lo() {
	apply api
	lab_wait "lab_vip_on_lo $VIP2" 50
	check "ADDED: $VIP2 on lo" lab_vip_on_lo "$VIP2"
	check "ADDED: $VIP2:80/tcp in the maps" svc_present "$VIP2"
	check "ADDED: traffic to $VIP2" test "$(ok_count "$VIP2" 5)" -eq 5
	apply web --not-ready 3
	lab_wait "not backends_has $VIP 198.18.20.13" 50
	check "MODIFIED: pod3 (not ready) left the backends" not backends_has "$VIP" 198.18.20.13
	apply web
	lab_wait "backends_has $VIP 198.18.20.13" 50
	check "MODIFIED: pod3 back" backends_has "$VIP" 198.18.20.13
	ctl POST /delete '{"kind": "Service", "namespace": "default", "name": "api"}' >/dev/null
	lab_wait "vip_off $VIP2" 50
	check "DELETED: $VIP2 withdrawn from lo" vip_off "$VIP2"
	lab_wait "! svc_present $VIP2" 50
	check "DELETED: $VIP2 gone from the maps" not svc_present "$VIP2"
	ctl POST /delete '{"kind": "EndpointSlice", "namespace": "default", "name": "api-a"}' >/dev/null
}

# 15 events in one burst: one translation and apply, not fifteen.
test_burst_debounced_into_one_apply() {
	local objs before after ev_before ev_after
	objs=$(python3 "$ROOT/tests/k8s_objects.py" web | python3 -c '
import json, sys
objs = [json.loads(l) for l in sys.stdin]
print(json.dumps({"objects": objs * 5}))')
	before=$(metric xvip_applies_total)
	ev_before=$(( $(metric 'xvip_api_events_total{resource="services"}') + \
		$(metric 'xvip_api_events_total{resource="endpointslices"}') ))
	ctl POST /apply "$objs" >/dev/null
	sleep 1
	after=$(metric xvip_applies_total)
	ev_after=$(( $(metric 'xvip_api_events_total{resource="services"}') + \
		$(metric 'xvip_api_events_total{resource="endpointslices"}') ))
	check "15 events received ($ev_before -> $ev_after)" test $((ev_after - ev_before)) -eq 15
	check "one apply for the burst ($before -> $after)" test $((after - before)) -eq 1
}

test_bookmark_advances_resource_version() {
	local rv before
	# A Service event moves the store's resourceVersion past every EndpointSlice's.
	apply api
	rv=$(ctl GET /state | python3 -c 'import json,sys; print(json.load(sys.stdin)["rv"])')
	before=$(metric 'xvip_api_bookmarks_total{resource="endpointslices"}')
	sleep 2.5	# bookmarks every second
	ctl POST /fault '{"resource": "endpointslices", "fault": "close"}' >/dev/null
	sleep 1
	check "bookmarks counted" test "$(metric 'xvip_api_bookmarks_total{resource="endpointslices"}')" \
		-gt "${before:-999}"
	check "the watch resumed from the bookmark's resourceVersion (>= $rv)" \
		test "$(requests_where "r['resource'] == 'endpointslices' and r['query'].get('watch') == '1' and int(r['query']['resourceVersion']) >= $rv")" -ge 1
	check "resumed, not relisted" test "$(log_count 'endpointslices: listed')" -eq 1
	ctl POST /delete '{"kind": "Service", "namespace": "default", "name": "api"}' >/dev/null
	ctl POST /delete '{"kind": "EndpointSlice", "namespace": "default", "name": "api-a"}' >/dev/null
	lab_wait "vip_off $VIP2" 50
}

svc_state() {
	# The programmed services without counters: ids, tables, backends.
	ctlx -o json services | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = d if isinstance(d, list) else d.get("services", d)
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if "packets" not in k and "bytes" not in k and k not in ("counters", "stats")}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
print(json.dumps(strip(rows), sort_keys=True))'
}

test_410_relists_without_flush() {
	local before after mon lists_before ok
	before=$(svc_state)
	lists_before=$(log_count 'services: listed')
	mon=$LAB_DIR/addrmon.log
	lab_spawn addrmon ip netns exec "$(lab_ns node)" ip -o monitor address
	sleep 0.3
	# Slow lists, so the relist takes a while and traffic runs through it.
	ctl POST /config '{"list_delay": 0.7}' >/dev/null
	ctl POST /fault '{"resource": "services", "fault": "gone"}' >/dev/null
	ctl POST /fault '{"resource": "endpointslices", "fault": "gone"}' >/dev/null
	ok=$(ok_count "$VIP" 20)
	lab_wait "[ \$(log_count 'services: listed') -gt $lists_before ]" 100
	lab_wait "[ \$(log_count 'endpointslices: listed') -ge 2 ]" 100
	ctl POST /config '{"list_delay": 0}' >/dev/null
	sleep 0.5
	# Control: the monitor does see an address leaving lo.
	lab_exec node ip addr add 198.18.19.250/32 dev lo
	lab_exec node ip addr del 198.18.19.250/32 dev lo
	sleep 0.3
	kill "$(cat "$LAB_DIR/addrmon.pid")" 2>/dev/null
	check "control: the address monitor saw a deletion" grep -q 'Deleted.* 198.18.19.250/' "$mon"
	after=$(svc_state)
	check "410 logged as a relist" grep -q "410 Gone" "$LAB_DIR/xvipd.log"
	check "services listed again" test "$(log_count 'services: listed')" -gt "$lists_before"
	check "endpointslices listed again" test "$(log_count 'endpointslices: listed')" -ge 2
	check "relisted from scratch (a list without continue after the 410)" \
		test "$(requests_where 'r["resource"] == "services" and "watch" not in r["query"] and "continue" not in r["query"]')" -ge 2
	check "traffic answered throughout the relist ($ok/20)" test "$ok" -eq 20
	check "VIP never left lo during the relist" bash -c "! grep -q 'Deleted.* $VIP/' $mon"
	check "maps unchanged by the relist" test "$before" = "$after"
	check "the relist applied no change" bash -c \
		"grep 'applied API view' $LAB_DIR/xvipd.log | tail -1 | grep -qE '\\(\\+0 ~[0-9]+ -0\\), 0 tables swapped, VIPs \\+0 -0'"
	check "still on lo" lab_vip_on_lo "$VIP"
}

test_401_logged_once_then_recovers() {
	local n
	ctl POST /token "{\"token\": \"$TOKEN2\"}" >/dev/null
	for r in services endpointslices nodes; do
		ctl POST /fault "{\"resource\": \"$r\", \"fault\": \"close\"}" >/dev/null
	done
	apply api	# made while xvipd cannot see it
	lab_wait "[ \"\$(metric 'xvip_api_errors_total{cause=\"unauthorized\"}')\" -ge 9 ] 2>/dev/null" 100
	n=$(metric 'xvip_api_errors_total{cause="unauthorized"}')
	check "401s counted and retried ($n)" test "${n:-0}" -ge 9
	check "401 logged once for services" test "$(log_count 'services: watch: HTTP 401')" -eq 1
	check "401 logged once for nodes" test "$(log_count 'nodes: watch: HTTP 401')" -eq 1
	check "$VIP2 not seen while unauthorized" vip_off "$VIP2"
	check "VIP stays on lo while the API refuses us" lab_vip_on_lo "$VIP"
	check "the token is never logged" bash -c "! grep -q '$TOKEN' $LAB_DIR/xvipd.log"
	# The kubelet rotates the token: a new file replaces the old.
	printf '%s\n' "$TOKEN2" >"$SA/token.new" && mv "$SA/token.new" "$SA/token"
	lab_wait "lab_vip_on_lo $VIP2" 200
	check "recovered with the rotated token: $VIP2 on lo" lab_vip_on_lo "$VIP2"
	check "recovery logged" grep -q "API requests succeed again" "$LAB_DIR/xvipd.log"
	ctl POST /delete '{"kind": "Service", "namespace": "default", "name": "api"}' >/dev/null
	ctl POST /delete '{"kind": "EndpointSlice", "namespace": "default", "name": "api-a"}' >/dev/null
	lab_wait "vip_off $VIP2" 50
}

test_cut_stream_resumes() {
	local lists rv
	lists=$(log_count 'services: listed')
	rv=$(ctl GET /state | python3 -c 'import json,sys; print(json.load(sys.stdin)["rv"])')
	ctl POST /fault '{"resource": "services", "fault": "cut"}' >/dev/null
	apply api	# the Service's ADDED event is the one cut in half
	lab_wait "lab_vip_on_lo $VIP2" 100
	check "the cut logged" grep -q "services: watch: cut" "$LAB_DIR/xvipd.log"
	check "the event cut in half arrived after the reconnect: $VIP2 on lo" lab_vip_on_lo "$VIP2"
	check "resumed from before the cut event (resourceVersion <= $rv)" \
		test "$(requests_where "r['resource'] == 'services' and r['query'].get('watch') == '1' and int(r['query']['resourceVersion']) <= $rv and r['t'] > 0")" -ge 1
	check "resumed, not relisted" test "$(log_count 'services: listed')" -eq "$lists"
}

test_stall_resumes() {
	local lists
	lists=$(log_count 'endpointslices: listed')
	ctl POST /fault '{"resource": "endpointslices", "fault": "stall"}' >/dev/null
	sleep 0.3
	apply web --not-ready 3
	# --watch-timeout 3: the silent stream is given up after 3 s and resumed.
	lab_wait "not backends_has $VIP 198.18.20.13" 100
	check "the stall logged" grep -q "endpointslices: watch: stalled" "$LAB_DIR/xvipd.log"
	check "the change made during the stall arrived: pod3 left" \
		not backends_has "$VIP" 198.18.20.13
	check "resumed, not relisted" test "$(log_count 'endpointslices: listed')" -eq "$lists"
	apply web
}

test_403_429_500_backoff() {
	local t s f
	ctl POST /fail '{"status": 429, "count": 2, "retry_after": 1, "resource": "services"}' >/dev/null
	ctl POST /fail '{"status": 500, "count": 3, "resource": "endpointslices"}' >/dev/null
	ctl POST /fail '{"status": 403, "count": 2, "resource": "nodes"}' >/dev/null
	ctl POST /fault '{"resource": "services", "fault": "close"}' >/dev/null
	ctl POST /fault '{"resource": "endpointslices", "fault": "close"}' >/dev/null
	ctl POST /fault '{"resource": "nodes", "fault": "close"}' >/dev/null
	ctl POST /delete '{"kind": "Service", "namespace": "default", "name": "api"}' >/dev/null
	lab_wait "vip_off $VIP2" 150
	t=$(metric 'xvip_api_errors_total{cause="throttled"}')
	s=$(metric 'xvip_api_errors_total{cause="server_error"}')
	check "429s counted ($t)" test "${t:-0}" -eq 2
	check "500s counted ($s)" test "${s:-0}" -eq 3
	lab_wait "[ \"\$(metric 'xvip_api_errors_total{cause=\"forbidden\"}')\" -ge 2 ] 2>/dev/null" 50
	f=$(metric 'xvip_api_errors_total{cause="forbidden"}')
	check "403s counted ($f)" test "${f:-0}" -eq 2
	check "429 logged once" test "$(log_count 'HTTP 429')" -eq 1
	check "500 logged once" test "$(log_count 'HTTP 500')" -eq 1
	check "403 logged once" test "$(log_count 'nodes: watch: HTTP 403')" -eq 1
	check "recovered: the deletion made during the errors applied" vip_off "$VIP2"
	check "Retry-After honoured: 2 requests at least 1 s apart" python3 -c '
import json, sys, urllib.request
rs = [r for r in json.loads(sys.argv[1]) if r["resource"] == "services"]
i = max(i for i, r in enumerate(rs) if r["status"] == 429)
sys.exit(not (rs[i]["t"] - rs[i - 1]["t"] >= 0.95))' "$(ctl GET /requests)"
	ctl POST /delete '{"kind": "EndpointSlice", "namespace": "default", "name": "api-a"}' >/dev/null
}

node_withdraw_cycle() {
	local what=$1; shift
	apply node "$@"
	lab_wait "vip_off $VIP" 50
	check "$what: VIP withdrawn from lo" vip_off "$VIP"
	check "$what: maps kept" svc_present "$VIP"
	check "$what: flows still served ($(ok_count "$VIP" 5)/5)" test "$(ok_count "$VIP" 5)" -eq 5
	check "$what: /metrics says withdrawn" test "$(metric xvip_withdrawn)" = 1
	# The state file follows an apply within STATE_WRITE_MS (250 ms), not at once.
	lab_wait "status_has 'withdrawn: node is'" 20
	check "$what: xvipctl status says why" status_has "withdrawn: node is"
	apply node
	lab_wait "lab_vip_on_lo $VIP" 50
	check "$what cleared: VIP advertised again" lab_vip_on_lo "$VIP"
}

test_node_drain_withdraws_and_clears() {
	node_withdraw_cycle "cordon (spec.unschedulable)" --unschedulable
	node_withdraw_cycle "exclude-from-external-load-balancers label" --exclude-label
	node_withdraw_cycle "ToBeDeletedByClusterAutoscaler taint" --taint ToBeDeletedByClusterAutoscaler
	check "withdrawal logged" grep -q "Node node1: node is cordoned" "$LAB_DIR/xvipd.log"
}

test_metrics_and_status() {
	local m
	m=$(lab_exec node curl -s --max-time 2 "http://$METRICS/metrics")
	check "lb_new_flow counted" grep -qE '^xvip_packets_total\{counter="lb_new_flow"\} [1-9]' <<<"$m"
	check "per-service counter" grep -qE \
		"^xvip_service_packets_total\\{service=\"default/web:http\",vip=\"$VIP\",port=\"80\",proto=\"tcp\"\\} [1-9]" <<<"$m"
	check "synced" grep -q '^xvip_synced 1$' <<<"$m"
	check "last apply time" grep -qE '^xvip_last_apply_timestamp_seconds [1-9]' <<<"$m"
	check "API errors by cause" grep -qE '^xvip_api_errors_total\{cause="gone"\} [1-9]' <<<"$m"
	lab_wait "status_has 'sync: *synced'" 20
	check "xvipctl status: synced" status_has "sync: *synced"
	check "xvipctl status: running" status_has "xvipd: *running"
	check "xvipctl -o json status: daemon synced, running, kubernetes" python3 -c '
import json, sys
d = json.loads(sys.argv[1])["daemon"]
sys.exit(not (d["synced"] and d["running"] and d["source"] == "kubernetes"))' "$(ctlx -o json status)"
	check "unknown path 404" test "$(http_code /nope)" = 404
}

test_sigterm_keeps_state() {
	stop_xvipd
	check "VIP stays on lo after SIGTERM" lab_vip_on_lo "$VIP"
	check "traffic flows while xvipd is down" test "$(ok_count "$VIP" 5)" -eq 5
	sed -i 's/"updated": *[0-9]*/"updated": 1/' "$STATE"	# as if written long ago
	check "xvipctl status: xvipd not running" status_has "xvipd: *not running"
}

# A restart from a kubeconfig with a CA file and a client certificate: adopts, no flush.
test_restart_with_kubeconfig_client_cert() {
	local mon=$LAB_DIR/addrmon2.log
	cat >"$LAB_DIR/cert.kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: https://$API
    certificate-authority: pki/ca.crt
contexts:
- name: lab
  context:
    cluster: lab
    user: xvipd
users:
- name: xvipd
  user:
    client-certificate-data: $(base64 -w0 <"$LAB_DIR/pki/client.crt")
    client-key-data: $(base64 -w0 <"$LAB_DIR/pki/client.key")
EOF
	mv "$LAB_DIR/xvipd.log" "$LAB_DIR/xvipd.1.log"
	lab_spawn addrmon2 ip netns exec "$(lab_ns node)" ip -o monitor address
	sleep 0.3
	lab_spawn xvipd nsenter --net="/run/netns/$(lab_ns node)" "$BUILD/xvipd" \
		--iface up0 --vip-cidr "$LAB_VIP_CIDR" --node-name node1 --pin-dir "$LAB_PIN" \
		--metrics-addr "$METRICS" --state-file "$STATE" --kubeconfig "$LAB_DIR/cert.kubeconfig"
	lab_wait "[ \"\$(http_code /readyz)\" = 200 ]" 100
	kill "$(cat "$LAB_DIR/addrmon2.pid")" 2>/dev/null
	check "ready with the client certificate" test "$(http_code /readyz)" = 200
	check "the API server saw the certificate" \
		test "$(requests_where 'r["auth"] == "cert" and r["status"] == 200')" -ge 3
	check "pinned state adopted" grep -q "adopted pinned state: 2 service ports" "$LAB_DIR/xvipd.log"
	check "nothing rebuilt: no table swapped, no VIP moved" grep -qE \
		'applied API view: 2 service ports \(\+0 ~2 -0\), 0 tables swapped, VIPs \+0 -0' \
		"$LAB_DIR/xvipd.log"
	check "VIP never left lo across the restart" not grep -q "Deleted.* $VIP/" "$mon"
	check "traffic after the restart" test "$(ok_count "$VIP" 5)" -eq 5
}

skip=$(e2e_skip_reason)
[ -z "$skip" ] && ! command -v openssl >/dev/null && skip="openssl missing"
[ -z "$skip" ] && ! command -v curl >/dev/null && skip="curl missing"
trap lab_down EXIT
E2E_LOGS="$LAB_DIR/*.log"
e2e_main "$skip" setup test_wrong_ca_refused test_readyz_503_until_first_sync \
	test_initial_list_paginated_programs_maps test_added_modified_deleted_change_maps_and_lo \
	test_burst_debounced_into_one_apply test_bookmark_advances_resource_version \
	test_410_relists_without_flush \
	test_401_logged_once_then_recovers test_cut_stream_resumes test_stall_resumes \
	test_403_429_500_backoff test_node_drain_withdraws_and_clears test_metrics_and_status \
	test_sigterm_keeps_state test_restart_with_kubeconfig_client_cert
if [ -n "${E2E_KEEP_LOGS:-}" ]; then cp -r "$LAB_DIR" "$E2E_KEEP_LOGS"; fi
