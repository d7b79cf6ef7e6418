#!/usr/bin/env bash
# Hitless restart: `kill -9` of xvipd under steady traffic, the services file
# changed while it is down, then the same xvipd command again. Traffic is one
# long-lived TCP connection exchanging a message every 20 ms and a UDP probe
# stream of 700 datagrams a second with sequence numbers, both to the VIP and
# both checked end to end: no probe lost, no message missing, the connection
# never broken. The new process must adopt the pinned maps (conntrack kept,
# the flows on the same endpoints), replace the XDP program in one step and
# apply the change made while it was down.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB=xvrst
LAB_ROOT=$ROOT
# shellcheck source=../scripts/lab.sh
. "$ROOT/scripts/lab.sh"
. "$ROOT/tests/lib/e2e.sh"

VIP=198.18.21.1
ECHO_PORT=7007
SVC_FILE=""
STATE=""
XVIPD_ARGS=()
PODS="1,2,3"
TCP_SPORT="" UDP_SPORT=""
TCP_POD="" UDP_POD="" GONE_POD=""
CT_BEFORE="" PROG_BEFORE=""

write_services() {
	python3 "$ROOT/scripts/lab_services.py" --echo-port "$ECHO_PORT" "$@" >"$SVC_FILE.tmp" &&
		mv "$SVC_FILE.tmp" "$SVC_FILE"
}

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Id of the XDP program on up0 as iproute2 reports it, or "none".
xdp_prog_id() {
	lab_exec node ip -j -d link show up0 | python3 -c '
import json, sys
l = json.load(sys.stdin)[0]
x = l.get("xdp") or {}
p = x.get("prog") or next((a.get("prog") for a in x.get("attached", []) if a.get("prog")), None)
print(p["id"] if p else "none")'
}

ct_entries() { lab_xvipctl -o json status | json_field conntrack_entries; }

# lookup_addr CLIENT_PORT PROTO -> "ADDRESS via" for the client's flow to VIP:7/PROTO
lookup() {
	lab_xvipctl -o json lookup "$LAB_CLIENT_IP:$1" "$VIP:7/$2" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["address"], d["via"])'
}

not_backend() { ! lab_xvipctl backends "$VIP:$2" | grep -q "$1"; }
nbackends() {
	lab_xvipctl -o json backends "$VIP:$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}

pod_of_ip() { echo "pod$(( ${1##*.} - 10 ))"; }

prog_gone() { ! bpftool prog show id "$1" >/dev/null 2>&1; }

xvipd_pid() { cat "$LAB_DIR/xvipd.pid"; }

# The same command line every time; disowned, so the shell does not report the kill -9.
start_xvipd() {
	lab_xvipd "${XVIPD_ARGS[@]}"
	disown
}

applied() { grep -q "applied $SVC_FILE" "$LAB_DIR/xvipd.log"; }

setup() {
	local i
	e2e_built xvipd xvipctl || return 1
	need "the lab did not come up (lab_up)" lab_up || return 1
	SVC_FILE=$LAB_DIR/services.json
	STATE=$LAB_DIR/steady
	mkdir -p "$STATE"
	for i in $(seq 1 "$LAB_PODS"); do
		lab_spawn "pod$i-echo" ip netns exec "$(lab_ns "pod$i")" python3 \
			"$ROOT/tests/lab_steady.py" serve "pod$i" "$ECHO_PORT"
	done
	need "cannot write the services file" write_services --pods "$PODS" || return 1
	XVIPD_ARGS=(--services-file "$SVC_FILE")
	start_xvipd
	e2e_await xvipd "$LAB_DIR/xvipd.pid" "lab_vip_on_lo $VIP" 100 &&
		e2e_await xvipd "$LAB_DIR/xvipd.pid" \
			"lab_xvipctl backends $VIP:7/udp | grep -q 198.18.20.13" 50
}

progress() { json_field "$1" <"$STATE/progress.json" 2>/dev/null; }

test_steady_traffic_flows() {
	local p
	lab_spawn steady ip netns exec "$(lab_ns client)" python3 "$ROOT/tests/lab_steady.py" \
		client "$VIP" 7 "$STATE" --interval 0.02 --rate 700
	lab_wait "test -s $STATE/ports.json" 50
	if ! check "client connected to $VIP:7 (log: $(tail -n 3 "$LAB_DIR/steady.log" 2>/dev/null))" \
		test -s "$STATE/ports.json"; then
		return
	fi
	TCP_SPORT=$(json_field tcp_sport <"$STATE/ports.json")
	UDP_SPORT=$(json_field udp_sport <"$STATE/ports.json")
	lab_wait '[ "$(progress tcp_echoed)" -ge 20 ] && [ "$(progress udp_received)" -ge 300 ]' 50
	p=$(cat "$STATE/progress.json" 2>/dev/null)
	echo "  before the kill: $p" >&2
	check "messages echoed and probes answered before the kill" \
		test "$(progress tcp_echoed)" -ge 20 -a "$(progress udp_received)" -ge 300
}

test_flows_tracked_before_kill() {
	local t u n
	# Short flows whose conntrack entries no later packet refreshes: a flush shows.
	n=$(lab_exec client python3 "$ROOT/tests/lab_client.py" tcp "$VIP" 80 20 2 | grep -c '"pod"')
	check "20 short TCP flows answered ($n)" test "$n" -eq 20
	t=$(lookup "$TCP_SPORT" tcp)
	u=$(lookup "$UDP_SPORT" udp)
	echo "  tcp flow -> $t, udp flow -> $u" >&2
	check "TCP flow in conntrack ($t)" grep -q " conntrack$" <<<"$t"
	check "UDP flow in conntrack ($u)" grep -q " conntrack$" <<<"$u"
	TCP_POD=$(pod_of_ip "${t%% *}")
	UDP_POD=$(pod_of_ip "${u%% *}")
	CT_BEFORE=$(ct_entries)
	PROG_BEFORE=$(xdp_prog_id)
	check "conntrack entries counted ($CT_BEFORE)" test "${CT_BEFORE:-0}" -ge 22
	check "XDP program on up0 ($PROG_BEFORE)" test "$PROG_BEFORE" != none
}

test_kill9_leaves_dataplane_running() {
	local pid n0 i keep=""
	pid=$(xvipd_pid)
	kill -9 "$pid"
	lab_wait "! kill -0 $pid" 50
	check "xvipd $pid is gone" lab_wait "! kill -0 $pid" 1
	check "XDP program still attached (id $PROG_BEFORE)" test "$(xdp_prog_id)" = "$PROG_BEFORE"
	check "VIP still on lo" lab_vip_on_lo "$VIP"
	# While xvipd is down, remove a pod that carries neither flow.
	for i in ${PODS//,/ }; do
		if [ "pod$i" != "$TCP_POD" ] && [ "pod$i" != "$UDP_POD" ] && [ -z "$GONE_POD" ]; then
			GONE_POD=pod$i
		else
			keep=${keep:+$keep,}$i
		fi
	done
	write_services --pods "$keep"
	n0=$(progress tcp_echoed)
	sleep 1
	echo "  down for 1 s: $GONE_POD removed from the services file; messages echoed" \
		"$n0 -> $(progress tcp_echoed)" >&2
	check "messages still echoed while xvipd is down" test "$(progress tcp_echoed)" -gt "$n0"
}

test_restart_adopts_pinned_state() {
	local ct_after t u
	mv "$LAB_DIR/xvipd.log" "$LAB_DIR/xvipd.1.log"
	start_xvipd
	lab_wait applied 100
	check "restarted xvipd applied the services file" applied
	check "it adopted the pinned state" grep -q "adopted pinned state" "$LAB_DIR/xvipd.log"
	grep -E "adopted pinned state|applied " "$LAB_DIR/xvipd.log" | sed 's/^/  xvipd: /' >&2
	ct_after=$(ct_entries)
	echo "  conntrack entries: $CT_BEFORE before the kill, $ct_after after the restart" >&2
	check "conntrack not flushed ($CT_BEFORE -> $ct_after)" test "${ct_after:-0}" -ge "$CT_BEFORE"
	t=$(lookup "$TCP_SPORT" tcp)
	u=$(lookup "$UDP_SPORT" udp)
	check "TCP flow still on $TCP_POD via conntrack ($t)" \
		test "$(pod_of_ip "${t%% *}") ${t#* }" = "$TCP_POD conntrack"
	check "UDP flow still on $UDP_POD via conntrack ($u)" \
		test "$(pod_of_ip "${u%% *}") ${u#* }" = "$UDP_POD conntrack"
}

test_restart_replaces_xdp_program() {
	local now
	now=$(xdp_prog_id)
	echo "  XDP program on up0: id $PROG_BEFORE before, $now after" >&2
	check "a new program is attached ($PROG_BEFORE -> $now)" \
		test "$now" != none -a "$now" != "$PROG_BEFORE"
	check "the old program was released" lab_wait "prog_gone $PROG_BEFORE" 30
}

test_restart_applies_change_made_while_down() {
	local ip
	ip=$(lab_pod_ip "${GONE_POD#pod}")
	check "$GONE_POD ($ip) gone from $VIP:7/tcp" not_backend "$ip" 7/tcp
	check "$GONE_POD ($ip) gone from $VIP:80/tcp" not_backend "$ip" 80/tcp
	check "the two other pods stay on $VIP:7/tcp" test "$(nbackends 7/tcp)" -eq 2
}

test_no_probe_lost_no_message_missed() {
	local r
	sleep 2
	touch "$STATE/stop"
	lab_wait "test -s $STATE/result.json" 100
	if ! check "client finished (log: $(tail -n 3 "$LAB_DIR/steady.log"))" \
		test -s "$STATE/result.json"; then
		return
	fi
	r=$(cat "$STATE/result.json")
	echo "  steady traffic: $r" >&2
	# shellcheck disable=SC2046
	set -- $(python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["udp_sent"], r["udp_lost"], r["udp_bad"], r["tcp_sent"], r["tcp_echoed"],
      len(r["tcp_pods"]), 1 if r["tcp_error"] else 0)' <<<"$r")
	printf '# restart: %s UDP probes sent, %s lost; %s TCP messages sent, %s echoed\n' \
		"$1" "$2" "$4" "$5"
	check "probes sent across the restart ($1)" test "$1" -ge 1000
	check "no UDP probe lost ($2 of $1)" test "$2" -eq 0
	check "no stray UDP reply ($3)" test "$3" -eq 0
	check "TCP connection never broke" test "$7" -eq 0
	check "every TCP message echoed ($5 of $4)" test "$4" -eq "$5"
	check "messages kept flowing (${5} in the run)" test "$5" -ge 100
	check "one pod served the connection throughout" test "$6" -eq 1
}

skip=$(e2e_skip_reason)
trap lab_down EXIT
E2E_LOGS="$LAB_DIR/*.log"
e2e_main "$skip" setup test_steady_traffic_flows test_flows_tracked_before_kill \
	test_kill9_leaves_dataplane_running test_restart_adopts_pinned_state \
	test_restart_replaces_xdp_program test_restart_applies_change_made_while_down \
	test_no_probe_lost_no_message_missed
if [ -n "${E2E_KEEP_LOGS:-}" ]; then cp -r "$LAB_DIR" "$E2E_KEEP_LOGS"; fi
