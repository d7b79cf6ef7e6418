#!/usr/bin/env bash
# Fault injection on the single-node lab, each fault under steady traffic
# (tests/lab_steady.py: one long-lived TCP connection echoing a message every
# 20 ms and 300 UDP probes a second, both through the VIP), each with its
# "nothing lost" measurement printed as "# fault: ...":
#  - the services file replaced by garbage, truncated JSON, a wrong type:
#    the programmed state is kept, no connection breaks, no probe is lost;
#  - the uplink flapping (down 1 s, up): XDP is still attached (or xvipd
#    attaches it again), traffic flows again, the TCP connection survives;
#  - XDP detached from the uplink: xvipd attaches it again (with only the
#    capabilities it kept) and advertises again after the hold-down;
#  - conntrack at capacity (--ct-size 1024, 3000 new flows): every new flow
#    is still balanced to a pod, the table stays at its size; replies left
#    untranslated and what happens to established flows are measured and
#    printed (not asserted: an LRU flood can evict a live flow's reverse-NAT
#    entry, see SECURITY.md).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB=xvflt
LAB_ROOT=$ROOT
# shellcheck source=../scripts/lab.sh
. "$ROOT/scripts/lab.sh"
. "$ROOT/tests/lib/e2e.sh"

VIP=198.18.21.1
ECHO_PORT=7007		# the pods' echo servers; the Service port is 7
CT_SIZE=1024
SVC_FILE=""

json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
stat_of() {
	lab_xvipctl -o json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["packets"])' "$1"
}
ct_entries() { lab_xvipctl -o json status | json_field conntrack_entries; }
nbackends() {
	lab_xvipctl -o json backends "$VIP:$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
write_services() {
	python3 "$ROOT/scripts/lab_services.py" --echo-port "$ECHO_PORT" "$@" >"$SVC_FILE.tmp" &&
		mv "$SVC_FILE.tmp" "$SVC_FILE"
}
# Replace the services file the way an editor or a ConfigMap update does.
put_file() { cat >"$SVC_FILE.tmp" && mv "$SVC_FILE.tmp" "$SVC_FILE"; }
xdp_prog_name() {
	lab_exec node ip -j -d link show up0 | python3 -c '
import json, sys
l = json.load(sys.stdin)[0]
x = l.get("xdp") or {}
p = x.get("prog") or next((a.get("prog") for a in x.get("attached", []) if a.get("prog")), None)
print(p["name"] if p else "none")'
}

# steady_start NAME / steady_stop NAME -> result JSON on stdout
steady_start() {
	local st=$LAB_DIR/steady-$1
	mkdir -p "$st"
	lab_spawn "steady-$1" ip netns exec "$(lab_ns client)" python3 "$ROOT/tests/lab_steady.py" \
		client "$VIP" 7 "$st" --interval 0.02 --rate 300
	lab_wait "test -s $st/progress.json && [ \"\$(json_field tcp_echoed <$st/progress.json)\" -ge 10 ]" 80
}
steady_stop() {
	local st=$LAB_DIR/steady-$1
	touch "$st/stop"
	lab_wait "test -s $st/result.json" 100
	cat "$st/result.json" 2>/dev/null || echo '{}'
}
# nothing_lost NAME RESULT [MAX_UDP_LOST]: the standard checks and the "# NAME:" line.
nothing_lost() {
	local name=$1 r=$2 max=${3:-0}
	# shellcheck disable=SC2046
	set -- $(python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r.get("udp_sent", 0), r.get("udp_lost", -1), r.get("tcp_sent", 0), r.get("tcp_echoed", -1),
      1 if r.get("tcp_error") else 0, len(r.get("tcp_pods", [])), r.get("udp_max_gap_ms", -1),
      r.get("tcp_max_rtt_ms", -1))' <<<"$r")
	printf '# %s: %s UDP probes sent, %s lost (longest gap %s ms); %s TCP messages sent, %s echoed (slowest %s ms); connection %s\n' \
		"$name" "$1" "$2" "$7" "$3" "$4" "$8" "$([ "$5" = 0 ] && echo intact || echo BROKEN)"
	check "$name: probes were sent ($1)" test "$1" -ge 300
	check "$name: UDP probes lost: $2 (at most $max)" test "$2" -ge 0 -a "$2" -le "$max"
	check "$name: the TCP connection never broke" test "$5" -eq 0
	# The client stops with at most one message in flight; any other would have
	# timed out (5 s) and broken the connection above.
	check "$name: every TCP message echoed ($4 of $3, one may be in flight at the stop)" \
		test "$3" -le $(($4 + 1))
	check "$name: one pod served the connection throughout" test "$6" -eq 1
}

setup() {
	local i
	e2e_built xvipd xvipctl || return 1
	need "the lab did not come up (lab_up)" lab_up || return 1
	SVC_FILE=$LAB_DIR/services.json
	for i in $(seq 1 "$LAB_PODS"); do
		lab_spawn "pod$i-echo" ip netns exec "$(lab_ns "pod$i")" python3 \
			"$ROOT/tests/lab_steady.py" serve "pod$i" "$ECHO_PORT"
	done
	need "cannot write the services file" write_services || return 1
	lab_xvipd --services-file "$SVC_FILE" --ct-size "$CT_SIZE" --state-file "$LAB_DIR/state.json"
	e2e_await xvipd "$LAB_DIR/xvipd.pid" "lab_vip_on_lo $VIP" 100 &&
		e2e_await xvipd "$LAB_DIR/xvipd.pid" "[ \"\$(nbackends 7/tcp)\" = 3 ]" 50
}

test_bad_services_file_keeps_state() {
	local r good errs n before
	good=$(cat "$SVC_FILE")
	steady_start file
	before=$(grep -c "keeping the programmed state" "$LAB_DIR/xvipd.log")
	head -c 3000 /dev/urandom | put_file
	sleep 1
	printf '%s' "${good:0:$((${#good} / 2))}" | put_file
	sleep 1
	printf '{"apiVersion":"v1","kind":"List","items":[{"kind":"Service","metadata":{"name":"x","namespace":"y"},"spec":{"clusterIP":"198.18.21.1","ports":"eighty"}}]}' | put_file
	sleep 1
	: | put_file	# empty
	sleep 1
	n=$(lab_exec client python3 "$ROOT/tests/lab_client.py" tcp "$VIP" 80 10 2 | grep -c '"pod"')
	check "new connections during the bad files answered ($n of 10)" test "$n" -eq 10
	check "VIP still on lo" lab_vip_on_lo "$VIP"
	check "all 3 backends still programmed" test "$(nbackends 7/tcp)" -eq 3
	errs=$(($(grep -c "keeping the programmed state" "$LAB_DIR/xvipd.log") - before))
	check "each bad file refused with a message ($errs of 4)" test "$errs" -ge 4
	grep "keeping the programmed state" "$LAB_DIR/xvipd.log" | tail -4 | cut -c1-160 | sed 's/^/  xvipd: /' >&2
	printf '%s' "$good" | put_file
	sleep 1
	r=$(steady_stop file)
	nothing_lost "bad services file (garbage, truncated, wrong type, empty)" "$r" 0
}

test_uplink_flap() {
	local r lost_max t0 t1 n
	steady_start flap
	t0=$(date +%s%N)
	lab_exec node ip link set up0 down
	sleep 1
	lab_exec node ip link set up0 up
	t1=$(date +%s%N)
	lab_wait "[ \"\$(xdp_prog_name)\" = xvip_xdp ]" 50
	check "XDP still (or again) xvipd's on up0 after the flap ($(xdp_prog_name))" \
		test "$(xdp_prog_name)" = xvip_xdp
	lab_wait "lab_exec client python3 $ROOT/tests/lab_client.py tcp $VIP 80 1 1 | grep -q '\"pod\"'" 100
	sleep 2
	n=$(lab_exec client python3 "$ROOT/tests/lab_client.py" tcp "$VIP" 80 10 2 | grep -c '"pod"')
	check "new connections after the flap answered ($n of 10)" test "$n" -eq 10
	check "VIP on lo after the flap" lab_vip_on_lo "$VIP"
	if grep -q "dataplane down" "$LAB_DIR/xvipd.log"; then
		grep -E "dataplane|re-attached" "$LAB_DIR/xvipd.log" | sed 's/^/  xvipd: /' >&2
	fi
	r=$(steady_stop flap)
	# Probes sent while the link was down are lost on the wire (300/s), and
	# those of the second or so neighbours and queues take to recover.
	lost_max=$(( (t1 - t0) / 1000000 * 300 / 1000 + 450 ))
	nothing_lost "uplink down for $(( (t1 - t0) / 1000000 )) ms" "$r" "$lost_max"
}

# Someone detaches XDP (no program left): xvipd withdraws, attaches it again
# with the capabilities it kept, and advertises again after the hold-down.
test_xdp_detached_is_reattached() {
	local t0 t1 n
	t0=$(date +%s%N)
	lab_exec node ip link set dev up0 xdp off
	lab_wait "grep -q 'xdp re-attached on up0' $LAB_DIR/xvipd.log" 50
	t1=$(date +%s%N)
	check "xvipd re-attached XDP on up0" grep -q "xdp re-attached on up0" "$LAB_DIR/xvipd.log"
	check "it is xvipd's program ($(xdp_prog_name))" test "$(xdp_prog_name)" = xvip_xdp
	lab_wait "lab_vip_on_lo $VIP" 80
	check "VIP advertised again" lab_vip_on_lo "$VIP"
	n=$(lab_exec client python3 "$ROOT/tests/lab_client.py" tcp "$VIP" 80 10 2 | grep -c '"pod"')
	check "traffic balanced again ($n of 10)" test "$n" -eq 10
	printf '# xdp detached: re-attached by xvipd after %s ms\n' $(( (t1 - t0) / 1000000 ))
	grep -E "dataplane|re-attached" "$LAB_DIR/xvipd.log" | tail -3 | cut -c1-160 | sed 's/^/  xvipd: /' >&2
}

test_conntrack_at_capacity() {
	local r before_new before_fail out answered untranslated pods ct
	steady_start ct
	before_new=$(stat_of lb_new_flow)
	before_fail=$(stat_of conntrack_insert_failed)
	# 3000 UDP flows (one source port each) to VIP:53: three times the table.
	out=$(lab_exec client python3 - "$VIP" <<'PY'
import json, resource, select, socket, sys
vip, n, batch = sys.argv[1], 3000, 200
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, n + 256))
answered, untranslated, pods, socks = 0, 0, {}, []
# Every socket stays open to the end: 3000 distinct source ports, 3000 flows.
for b in range(0, n, batch):
    new = []
    for i in range(batch):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 0))
        s.setblocking(False)
        s.sendto(b"flow %d" % (b + i), (vip, 53))
        new.append(s)
    socks += new
    byfd = {s.fileno(): s for s in new}
    poll = select.poll()    # select() stops at fd 1024
    for fd in byfd:
        poll.register(fd, select.POLLIN)
    while byfd:
        r = poll.poll(2000)
        if not r:
            break
        for fd, _ in r:
            s = byfd.pop(fd)
            poll.unregister(fd)
            data, src = s.recvfrom(2048)
            if src == (vip, 53):
                answered += 1
                pod = dict(f.split("=", 1) for f in data.decode().split()).get("pod", "?")
                pods[pod] = pods.get(pod, 0) + 1
            else:
                untranslated += 1   # the pod answered, the reply left without the VIP
print(json.dumps({"sent": n, "answered": answered, "untranslated": untranslated, "pods": pods,
                  "ports": len({s.getsockname()[1] for s in socks})}))
PY
)
	# Past the steady client's 5 s echo timeout: a stalled connection shows as broken.
	sleep 6
	answered=$(json_field answered <<<"$out")
	pods=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["pods"]))' <<<"$out")
	ct=$(ct_entries)
	r=$(steady_stop ct)
	printf '# conntrack at capacity (--ct-size %s): %s\n' "$CT_SIZE" "$out"
	printf '# conntrack at capacity (--ct-size %s): 3000 new UDP flows, %s answered from the VIP, over %s pods; conntrack holds %s entries; lb_new +%s\n' \
		"$CT_SIZE" "$answered" "$pods" "$ct" "$(( $(stat_of lb_new_flow) - before_new ))"
	untranslated=$(json_field untranslated <<<"$out")
	check "every new flow balanced to a pod and answered ($answered from the VIP, $untranslated from the pod's address)" \
		test $((answered + untranslated)) -eq 3000
	# Measured, not asserted: a reply whose reverse-NAT entry the flood evicted
	# before it came back leaves with the pod's address (SECURITY.md).
	printf '# conntrack at capacity: %s of 3000 replies left untranslated (reverse-NAT entry evicted before the reply)\n' \
		"$untranslated"
	check "spread over the 3 pods ($out)" test "$pods" -eq 3
	check "conntrack stays within its size ($ct <= $CT_SIZE)" test "$ct" -le "$CT_SIZE"
	check "conntrack full, not flushed ($ct)" test "$ct" -ge $((CT_SIZE / 2))
	check "no conntrack insert failed (the LRU evicts)" \
		test "$(stat_of conntrack_insert_failed)" -eq "$before_fail"
	check "each new flow counted as new (lb_new +$(( $(stat_of lb_new_flow) - before_new )))" \
		test "$(( $(stat_of lb_new_flow) - before_new ))" -ge 3000
	# Established flows at capacity: measured, not asserted. The LRU maps are
	# approximate; during a flood an active flow can lose its reverse-NAT
	# entry while its conntrack entry stays, its next reply leaves with the
	# pod's address and the client resets the connection (SECURITY.md).
	python3 -c '
import json, sys
r = json.load(sys.stdin)
ok = not r.get("tcp_error")
print("# conntrack at capacity, established flows: %d UDP probes sent, %d lost; TCP %d sent, %d echoed; connection %s%s"
      % (r.get("udp_sent", 0), r.get("udp_lost", -1), r.get("tcp_sent", 0), r.get("tcp_echoed", -1),
         "intact" if ok else "BROKEN",
         "" if ok else " (reverse-NAT entry evicted: known limitation, see SECURITY.md)"))' <<<"$r"
	check "the steady flows ran through the flood" \
		test "$(json_field udp_sent <<<"$r")" -ge 300
}

skip=$(e2e_skip_reason)
trap lab_down EXIT
E2E_LOGS="$LAB_DIR/*.log"
e2e_main "$skip" setup test_bad_services_file_keeps_state test_uplink_flap \
	test_xdp_detached_is_reattached test_conntrack_at_capacity
if [ -n "${E2E_KEEP_LOGS:-}" ]; then cp -r "$LAB_DIR" "$E2E_KEEP_LOGS"; fi
