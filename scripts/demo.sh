#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# `make demo`: by default the fabric demo (scripts/demo_fabric.sh: FRR, ECMP,
# BFD, three nodes). With --single: build the single-node lab (scripts/lab.sh)
# in network namespaces, run xvipd on it and show, step by step, what it does.
# Needs root.
#
#   scripts/demo.sh --single           run the demo, then tear the lab down
#   scripts/demo.sh --single --keep    run the demo and leave the lab up to poke at
#   scripts/demo.sh --single --down    tear down a lab left by --keep (or by a killed run)
#
# Exits non-zero if any check failed. Everything it creates is named "xvdemo*".
set -euo pipefail
set -E

# The default demo is the fabric; --single selects this one.
SINGLE=0
ARGS=()
for arg in "$@"; do
	if [ "$arg" = --single ]; then SINGLE=1; else ARGS+=("$arg"); fi
done
if [ "$SINGLE" -eq 0 ]; then
	exec "$(dirname "${BASH_SOURCE[0]}")/demo_fabric.sh" "$@"
fi
set -- ${ARGS[@]+"${ARGS[@]}"}

usage() {
	cat <<'EOF'
Usage: scripts/demo.sh --single [--keep | --down | --help]
       (without --single: the fabric demo, scripts/demo_fabric.sh)

Builds a single-node lab in network namespaces (client, node with uplink up0
where xvipd attaches XDP, three pods), starts build/xvipd on it and walks
through what it does: TCP and UDP load balancing to the pods with the client's
address preserved, xvipctl, a host port that stays closed on the VIP, endpoint
changes (VIP withdrawn from lo and back) and the pinned maps. Needs root.

  --keep   leave the lab running at the end and print how to use it
  --down   only tear down the lab (namespaces, processes, pins, files)
  --help   this text

Every object is named xvdemo*; a run first removes what an earlier killed run
left behind. Exits non-zero if any check failed.
EOF
}

KEEP=0
DOWN=0
for arg in "$@"; do
	case $arg in
	--keep) KEEP=1 ;;
	--down) DOWN=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "demo.sh: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
	esac
done
if [ "$(id -u)" -ne 0 ]; then
	echo "demo.sh: needs root (network namespaces, XDP, bpffs): sudo make demo" >&2
	exit 2
fi

# A prefix of our own; everything else derives from it in lab.sh.
LAB=xvdemo
LAB_PODS=3
unset LAB_DIR LAB_PIN LAB_ROOT
# shellcheck source=scripts/lab.sh
. "$(dirname "${BASH_SOURCE[0]}")/lab.sh"

PY=${PYTHON:-/usr/bin/python3}
[ -x "$PY" ] || PY=$(command -v python3)
VIP=198.18.21.1
SVC="$LAB_DIR/services.json"

if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
else
	B='' G='' R='' N=''
fi

CHECKS=0
FAILED=0
ERR_LINE=''
ERR_CMD=''
T0=$SECONDS

heading() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
say() { printf '  %s\n' "$*"; }
indent() { sed 's/^/    /'; }
ok() { CHECKS=$((CHECKS + 1)); printf '  %sOK%s      %s\n' "$G" "$N" "$*"; }
bad() { CHECKS=$((CHECKS + 1)); FAILED=$((FAILED + 1)); printf '  %sFAILED%s  %s\n' "$R" "$N" "$*"; }
# check DESCRIPTION COMMAND...: one OK/FAILED line.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else bad "$desc"; fi
}
not() { ! "$@"; }
# The node's lo addresses, one line each, without the "valid_lft ..." tail.
lo_addrs() { lab_exec node ip -o -4 addr show dev lo | sed 's/\\ .*//'; }
stats_nonzero() { lab_xvipctl stats | awk 'NR == 1 || $2 != 0'; }
die() {
	bad "$*"
	exit 1
}

# run_show LABEL COMMAND...: print "$ LABEL", run, indent the output; a failing
# command counts as a failed check.
run_show() {
	local label=$1 out rc=0
	shift
	printf '  $ %s\n' "$label"
	out=$("$@" 2>&1) || rc=$?
	[ -z "$out" ] || printf '%s\n' "$out" | indent
	[ "$rc" -eq 0 ] || bad "'$label' exited with status $rc"
}

pid_alive() { # exists and is not a zombie (procps may be missing: read /proc)
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[[ $s != Z* ]]
}

# Rewrite the services file atomically; xvipd watches its directory.
write_services() {
	"$PY" "$LAB_ROOT/scripts/lab_services.py" "$@" >"$SVC.tmp"
	mv -f "$SVC.tmp" "$SVC"
}

# Aggregate lab_client.py's JSON lines: per-pod table, then one line
# "STATS total errors reply_ok client_ok other pod1 pod2 ...".
AGG='
import json, sys
path, want_reply, client_ip, npods = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pods = ["pod%d" % i for i in range(1, npods + 1)]
rows = []
for line in open(path):
    try:
        rows.append(json.loads(line))
    except ValueError:
        pass
counts = dict.fromkeys(pods, 0)
errors = reply_ok = client_ok = other = 0
for r in rows:
    if "error" in r or r.get("pod") is None:
        errors += 1
        continue
    if r["pod"] in counts:
        counts[r["pod"]] += 1
    else:
        other += 1
    reply_ok += r.get("reply_from") == want_reply
    client_ok += r.get("client_seen") == "%s:%s" % (client_ip, r.get("sport"))
print("    pod    replies")
for p in pods:
    print("    %-6s %7d  %s" % (p, counts[p], "#" * counts[p]))
if other:
    print("    %-6s %7d" % ("other", other))
if errors:
    print("    %-6s %7d" % ("failed", errors))
print("STATS", len(rows), errors, reply_ok, client_ok, other, *[counts[p] for p in pods])
'

# requests PROTO PORT COUNT NAME: send from the client, print the per-pod table
# and set S (array): S[1] total, S[2] failed, S[3] reply from VIP:PORT,
# S[4] client address seen, S[5] unknown pod, S[5+i] replies from pod i.
requests() {
	local proto=$1 port=$2 n=$3 out="$LAB_DIR/$4.jsonl" res
	timeout 20 ip netns exec "$(lab_ns client)" "$PY" "$LAB_ROOT/tests/lab_client.py" \
		"$proto" "$VIP" "$port" "$n" 1 >"$out" 2>"$out.err" || true
	res=$("$PY" -c "$AGG" "$out" "$VIP:$port" "$LAB_CLIENT_IP" "$LAB_PODS")
	printf '%s\n' "$res" | sed '$d'
	read -r -a S <<<"$(printf '%s\n' "$res" | sed -n '$p')"
}

# The usual checks on one batch: all answered, replies from the VIP, client
# address preserved.
check_batch() {
	local n=$1 port=$2 proto=$3 answered=$((S[1] - S[2]))
	check "$answered/$n $proto requests answered" [ "$answered" -eq "$n" ]
	check "${S[3]}/$n replies came from $VIP:$port (the VIP, not the pod)" [ "${S[3]}" -eq "$n" ]
	check "${S[4]}/$n pods saw the client's real address $LAB_CLIENT_IP (and its source port)" \
		[ "${S[4]}" -eq "$n" ]
}

stat_of() {
	lab_xvipctl -o json stats | "$PY" -c \
		'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], {}).get("packets", 0))' "$1"
}

ready_of() { # ready endpoints of VIP:PORT/PROTO as xvipd programmed them
	lab_xvipctl -o json services | "$PY" -c '
import json, sys
for s in json.load(sys.stdin):
    if "%s:%d/%s" % (s["vip"], s["port"], s["protocol"]) == sys.argv[1]:
        print(s["ready"])' "$1"
}
ready_is() { [ "$(ready_of "$1")" = "$2" ]; }

# probe HOST PORT: one TCP connect from the client with a 1 s timeout; prints
# what happened, exits 0 connected, 1 timed out, 2 another error.
PROBE='
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
    s.settimeout(1)
    print("connected, got %r" % s.recv(64))
except socket.timeout:
    print("timed out after 1 s")
    sys.exit(1)
except OSError as e:
    print("failed: %s" % e)
    sys.exit(2)
'
probe() { lab_exec client "$PY" -c "$PROBE" "$@"; }

# A host service in the node namespace, like sshd on a real node.
LISTENER='
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22))
s.listen(16)
while True:
    c, peer = s.accept()
    print("accepted on %s:%d from %s:%d" % (c.getsockname() + peer), flush=True)
    c.sendall(b"SSH-2.0-node-host-listener\r\n")
    c.close()
'

keep_help() {
	local ctl
	ctl="nsenter --net=/run/netns/$(lab_ns node) $LAB_ROOT/build/xvipctl --pin-dir $LAB_PIN"
	ctl="$ctl --state-file $LAB_DIR/status.json"
	heading "Lab kept running (--keep)"
	cat <<EOF
  Requests from the client namespace:
    ip netns exec $(lab_ns client) python3 $LAB_ROOT/tests/lab_client.py tcp $VIP 80 10
    ip netns exec $(lab_ns client) python3 $LAB_ROOT/tests/lab_client.py udp $VIP 53 10
    ip netns exec $(lab_ns client) socat - TCP:$VIP:80
  The dataplane's view (xvipctl must see the host's /sys/fs/bpf, hence nsenter):
    $ctl status
    $ctl services
    $ctl backends $VIP:80/tcp
    $ctl conntrack
    $ctl stats
  The node: ip netns exec $(lab_ns node) ip -o addr show dev lo
            ip netns exec $(lab_ns node) ip -d link show dev up0
  Endpoints: xvipd re-reads $SVC when it changes, e.g.
    python3 $LAB_ROOT/scripts/lab_services.py --not-ready 2 > $SVC.tmp && mv $SVC.tmp $SVC
  xvipd's log: $LAB_DIR/xvipd.log   (pids in $LAB_DIR/*.pid)
  Tear it down: scripts/demo.sh --single --down   (in $LAB_ROOT)
EOF
}

# Tear down and verify that nothing of ours is left.
teardown() {
	local f pids='' p left=''
	for f in "$LAB_DIR"/*.pid; do
		[ -e "$f" ] && pids="$pids $(cat "$f")"
	done
	lab_down || true
	for p in $pids; do
		pid_alive "$p" && left="$left process $p;"
	done
	for p in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${LAB}-" || true); do
		left="$left netns $p;"
	done
	[ -e "$LAB_PIN" ] && left="$left $LAB_PIN;"
	[ -e "$LAB_DIR" ] && left="$left $LAB_DIR;"
	if [ -z "$left" ]; then
		ok "torn down: no ${LAB}-* namespaces, no $LAB_PIN, no processes left"
	else
		bad "left behind:$left"
	fi
}

finish() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [ "$rc" -eq 130 ] || [ "$rc" -eq 143 ]; then
		bad "interrupted"
	elif [ "$rc" -ne 0 ] && [ -n "$ERR_CMD" ]; then
		bad "aborted: '$ERR_CMD' failed (status $rc) at scripts/demo.sh line $ERR_LINE"
	fi
	if [ "$rc" -ne 0 ] && [ -s "$LAB_DIR/xvipd.log" ]; then
		say "last lines of xvipd's log:"
		tail -n 12 "$LAB_DIR/xvipd.log" | indent
	fi
	if [ "$KEEP" -eq 1 ] && [ -d "$LAB_DIR" ]; then
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
	[ "$rc" -ne 0 ] && exit "$rc"
	exit 1
}

if [ "$DOWN" -eq 1 ]; then
	trap - EXIT
	heading "Tearing down the demo lab ($LAB)"
	teardown
	[ "$FAILED" -eq 0 ]
	exit
fi

if [ ! -x "$LAB_ROOT/build/xvipd" ] || [ ! -x "$LAB_ROOT/build/xvipctl" ]; then
	echo "demo.sh: build/xvipd and build/xvipctl missing; run 'make demo'" >&2
	exit 2
fi
command -v bpftool >/dev/null || { echo "demo.sh: bpftool missing (make deps)" >&2; exit 2; }

trap 'ERR_LINE=$LINENO; ERR_CMD=$BASH_COMMAND' ERR
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
heading "Setup: lab '$LAB' in network namespaces, xvipd on the node"
lab_down || true # whatever an earlier, killed run left
lab_up
write_services
say "services file (kubectl get services,endpointslices -A -o json): $SVC"
say "Service default/web: $VIP:80/tcp -> pods :8080 (named port 'http'), $VIP:53/udp -> :5353"
lab_xvipd --services-file "$SVC"
XVIPD_PID=$(cat "$LAB_DIR/xvipd.pid")
for i in $(seq 1 "$LAB_PODS"); do
	lab_wait "lab_exec pod$i ss -Hltn 'sport = :8080' | grep -q ." 50 ||
		die "pod$i's server is not listening on :8080"
done
if ! lab_wait "lab_vip_on_lo $VIP" 100; then
	pid_alive "$XVIPD_PID" || die "xvipd exited"
	die "VIP $VIP did not appear on the node's lo within 10 s"
fi
say "xvipd (pid $XVIPD_PID) is up:"
{ grep -E 'attached|running|added|advertised|applied' "$LAB_DIR/xvipd.log" | grep -v libbpf || true; } | cut -c26- | indent

# ---------------------------------------------------------------------------
heading "1. Topology, and the VIP on the node's lo"
cat <<EOF
      ${LAB}-client              ${LAB}-node                                ${LAB}-pod1..3
   +----------------+   veth   +----------------------------------+  veth  +---------------------+
   | c0             |----------| up0 198.18.30.1   <- XDP (xvip)   |--------| eth0 198.18.20.11   |
   | 198.18.30.10   |          | lo  198.18.21.1 (VIP, by xvipd)  |   x3   |      198.18.20.12   |
   | route          |          | pv1..pv3, gw 169.254.1.1         |        |      198.18.20.13   |
   | 198.18.21.0/24 |          |                  <- tc  (xvip)   |        | :8080/tcp :5353/udp |
   | via node       |          +----------------------------------+        +---------------------+
   +----------------+

   XDP on up0 picks a pod with Maglev + conntrack and rewrites the destination
   to it; tc on the pod veths rewrites the replies' source back to the VIP.
EOF
echo
run_show "ip netns exec ${LAB}-node ip -o -4 addr show dev lo" lo_addrs
LO=$(lab_exec node ip -o addr show dev lo)
check "$VIP/32 is on the node's lo: xvipd put it there (FRR would advertise it)" \
	grep -q " $VIP/32 " <<<"$LO"

# ---------------------------------------------------------------------------
heading "2. TCP: 30 connections to $VIP:80 from the client ($LAB_CLIENT_IP)"
requests tcp 80 30 tcp1
check_batch 30 80 TCP
check "all $LAB_PODS pods answered (pod1 ${S[6]}, pod2 ${S[7]}, pod3 ${S[8]})" \
	[ "${S[6]}" -gt 0 -a "${S[7]}" -gt 0 -a "${S[8]}" -gt 0 ]

# ---------------------------------------------------------------------------
heading "3. UDP: 30 datagrams to $VIP:53, each from its own source port"
requests udp 53 30 udp1
check_batch 30 53 UDP

# ---------------------------------------------------------------------------
heading "4. xvipctl: what the daemon programmed, and what the dataplane counts"
run_show "xvipctl services" lab_xvipctl services
run_show "xvipctl backends $VIP:80/tcp" lab_xvipctl backends "$VIP:80/tcp"
read -r L_SPORT L_POD <<<"$("$PY" -c '
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("pod") and r.get("sport"):
        print(r["sport"], r["pod"]); break' "$LAB_DIR/tcp1.jsonl")" || true
if [ -n "${L_SPORT:-}" ]; then
	say "TCP request #1 came from $LAB_CLIENT_IP:$L_SPORT and was answered by $L_POD:"
	run_show "xvipctl lookup $LAB_CLIENT_IP:$L_SPORT $VIP:80/tcp" \
		lab_xvipctl lookup "$LAB_CLIENT_IP:$L_SPORT" "$VIP:80/tcp"
	L_ADDR=$(lab_xvipctl -o json lookup "$LAB_CLIENT_IP:$L_SPORT" "$VIP:80/tcp" |
		"$PY" -c 'import json, sys; print(json.load(sys.stdin).get("address", ""))') || L_ADDR=''
	L_NAME=pod$((${L_ADDR##*.} - 10))
	check "lookup names $L_ADDR = $L_NAME, the pod that answered that request ($L_POD)" \
		[ "$L_NAME" = "$L_POD" ]
else
	bad "no answered TCP request to look up"
fi
run_show "xvipctl stats   (non-zero rows)" stats_nonzero

# ---------------------------------------------------------------------------
heading "5. A host port on the node is not reachable through the VIP"
say "The VIP is a local address of the node (on lo), so without xvip a host"
say "service listening on 0.0.0.0 would answer on it. Start one on :22 in the node:"
lab_spawn node-listener22 ip netns exec "$(lab_ns node)" "$PY" -c "$LISTENER"
lab_wait "lab_exec node ss -Hltn 'sport = :22' | grep -q ." 50 || die "the :22 listener did not start"
run_show "ip netns exec ${LAB}-node ss -Hltn 'sport = :22'" lab_exec node ss -Hltn 'sport = :22'
DROP0=$(stat_of drop_unserved_port)
printf '  $ (client) connect 198.18.30.1:22   # the node'"'"'s own address\n'
P1=$(probe 198.18.30.1 22) && p1=0 || p1=$?
printf '    %s\n' "$P1"
printf '  $ (client) connect %s:22    # the VIP\n' "$VIP"
P2=$(probe "$VIP" 22) && p2=0 || p2=$?
printf '    %s\n' "$P2"
DROP1=$(stat_of drop_unserved_port)
check "the listener answers on the node's own address 198.18.30.1:22" [ "$p1" -eq 0 ]
check "a connection to $VIP:22 times out (status $p2: XDP drops it, no RST either)" [ "$p2" -eq 1 ]
check "the listener never accepted a connection on $VIP" \
	not grep -q "accepted on $VIP:" "$LAB_DIR/node-listener22.log"
check "drop_unserved_port counted it: $DROP0 -> $DROP1" [ "$DROP1" -gt "$DROP0" ]

# ---------------------------------------------------------------------------
heading "6. Endpoint changes: xvipd follows the EndpointSlices"
say "pod3 becomes not ready (lab_services.py --not-ready 3 rewrites the file):"
write_services --not-ready 3
lab_wait "ready_is $VIP:80/tcp 2" 30 || bad "xvipd did not apply the change within 3 s"
run_show "xvipctl backends $VIP:80/tcp" lab_xvipctl backends "$VIP:80/tcp"
say "30 new TCP connections:"
requests tcp 80 30 tcp2
check_batch 30 80 TCP
check "none reached pod3; pod1 ${S[6]}, pod2 ${S[7]}" \
	[ "${S[8]}" -eq 0 -a "${S[5]}" -eq 0 -a "${S[6]}" -gt 0 -a "${S[7]}" -gt 0 ]

echo
say "No pod is ready (--not-ready 1,2,3): the VIP leaves lo, so FRR withdraws it:"
write_services --not-ready 1,2,3
lab_wait "! lab_vip_on_lo $VIP" 30 || true
run_show "ip netns exec ${LAB}-node ip -o -4 addr show dev lo" lo_addrs
LO=$(lab_exec node ip -o addr show dev lo)
check "$VIP is no longer on lo" not grep -q " $VIP/" <<<"$LO"
say "The lab client still routes to the node; XDP drops what it cannot serve:"
NB0=$(stat_of drop_no_backend)
printf '  $ (client) connect %s:80\n' "$VIP"
P3=$(probe "$VIP" 80) && p3=0 || p3=$?
printf '    %s\n' "$P3"
NB1=$(stat_of drop_no_backend)
check "$VIP:80 does not answer, drop_no_backend $NB0 -> $NB1" [ "$p3" -ne 0 -a "$NB1" -gt "$NB0" ]

echo
say "All pods ready again: the VIP comes back:"
write_services
lab_wait "lab_vip_on_lo $VIP" 30 || true
run_show "ip netns exec ${LAB}-node ip -o -4 addr show dev lo" lo_addrs
LO=$(lab_exec node ip -o addr show dev lo)
check "$VIP/32 is back on lo" grep -q " $VIP/32 " <<<"$LO"
requests tcp 80 30 tcp3
check_batch 30 80 TCP
check "all $LAB_PODS pods answer again (pod1 ${S[6]}, pod2 ${S[7]}, pod3 ${S[8]})" \
	[ "${S[6]}" -gt 0 -a "${S[7]}" -gt 0 -a "${S[8]}" -gt 0 ]

# ---------------------------------------------------------------------------
heading "7. The pinned maps carry BTF: bpftool prints named fields"
DUMP=$(bpftool map dump pinned "$LAB_PIN/xvip_svc")
NENT=$(bpftool -j map dump pinned "$LAB_PIN/xvip_svc" | "$PY" -c 'import json, sys; print(len(json.load(sys.stdin)))')
printf '  $ bpftool map dump pinned %s   (first entry of %s)\n' "$LAB_PIN/xvip_svc" "$NENT"
printf '%s\n' "$DUMP" | sed -n '1,/^    },{/p' | sed '$s/,{$//' | indent
say "key: vip = ::ffff:$VIP as four big-endian words read as host integers,"
say "port in network order (20480 = htons(80), 13568 = htons(53)), proto 6 = TCP, 17 = UDP"
say "value: the service id that indexes the Maglev table and the counters."
MAPS=''
for f in "$LAB_PIN"/*; do MAPS="$MAPS ${f##*/}"; done
say "All pinned maps in $LAB_PIN:$MAPS"
check "xvipd (pid $XVIPD_PID) ran through the whole demo" pid_alive "$XVIPD_PID"
