#!/usr/bin/env bash
# xvipd on a kernel without IFA_PROTO (before 6.1): the kernel drops the attribute on an add and
# never dumps it, and IPv6 addresses have no label, so xvipd knows its IPv6 VIPs by its record
# (the pinned map xvip_lo6). Debian has no kernel between 5.12 (xvipd's floor) and 6.1, so the
# mode is forced here (XVIP_TEST_NO_IFA_PROTO: IFA_PROTO never sent, ignored in dumps). The IPv6
# VIP must be withdrawn when its endpoints go, after a restart of xvipd, and by --cleanup; an
# operator's IPv6 address on lo, even one with xvipd's flags, is never touched.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB=xvnop
LAB_ROOT=$ROOT
LAB_PODS=2
# shellcheck source=../scripts/lab.sh
. "$ROOT/scripts/lab.sh"
. "$ROOT/tests/lib/e2e.sh"
export XVIP_TEST_NO_IFA_PROTO=1

VIP=198.18.21.1
VIP6=2001:db8:21::1
OP6=2001:db8:21::77
SVC_FILE=""

write_services() {
	python3 "$ROOT/scripts/lab_services.py" --dual --pods 1,2 "$@" >"$SVC_FILE.tmp" &&
		mv "$SVC_FILE.tmp" "$SVC_FILE"
}

# The addresses in xvipd's record, one per line, as bpftool prints the keys.
recorded() {
	bpftool -j map dump pinned "$LAB_PIN/xvip_lo6" | python3 -c '
import ipaddress, json, sys
for e in json.load(sys.stdin):
    k = e["key"]
    a = k["a"] if isinstance(k, dict) else None
    raw = bytes(int(b, 16) for b in k) if a is None else b"".join(
        int(w).to_bytes(4, "little") for w in a)
    print(ipaddress.IPv6Address(raw))'
}

start_xvipd() {
	lab_xvipd --services-file "$SVC_FILE" --hold-down-seconds 0
}

stop_xvipd() {
	local pid
	pid=$(cat "$LAB_DIR/xvipd.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$LAB_DIR/xvipd.pid"
}

setup() {
	e2e_built xvipd || return 1
	need "the lab did not come up (lab_up)" lab_up || return 1
	SVC_FILE=$LAB_DIR/services.json
	need "cannot write the services file" write_services || return 1
	# The operator's own address in the VIP range, with the flags xvipd adds its own with.
	need "cannot add the operator's address" \
		lab_exec node ip addr add "$OP6/128" dev lo nodad noprefixroute || return 1
	start_xvipd
	e2e_await xvipd "$LAB_DIR/xvipd.pid" "lab_vip_on_lo $VIP6" 100
}

not_on_lo() { ! lab_vip_on_lo "$1"; }
record_is() { [ "$(recorded 2>/dev/null)" = "$1" ]; }
labelled() { lab_exec node ip -o addr show dev lo label lo:xvip | grep -q " $1/"; }

test_v6_vip_added_and_recorded() {
	check "the IPv6 VIP $VIP6 is on lo" lab_vip_on_lo "$VIP6"
	check "the IPv4 VIP carries the label lo:xvip" labelled "$VIP"
	check "the record holds $VIP6 only" record_is "$VIP6"
	check "the log says how IPv6 VIPs are marked" grep -q \
		"lacks the address protocol attribute (IFA_PROTO, Linux 6.1)" "$LAB_DIR/xvipd.log"
}

test_v6_vip_withdrawn_when_endpoints_go() {
	write_services --pods ""
	lab_wait "! lab_vip_on_lo $VIP6" 100
	check "the IPv6 VIP left lo" not_on_lo "$VIP6"
	check "the record is empty" record_is ""
	check "the operator's $OP6 stays" lab_vip_on_lo "$OP6"
	write_services
	lab_wait "lab_vip_on_lo $VIP6" 100
	check "the IPv6 VIP is back" lab_vip_on_lo "$VIP6"
}

test_v6_vip_withdrawn_after_restart() {
	stop_xvipd
	check "SIGTERM leaves the IPv6 VIP on lo" lab_vip_on_lo "$VIP6"
	start_xvipd
	lab_wait "grep -q 'xvipd running' $LAB_DIR/xvipd.log" 100
	write_services --pods ""
	lab_wait "! lab_vip_on_lo $VIP6" 100
	check "the restarted xvipd withdrew the IPv6 VIP" not_on_lo "$VIP6"
	check "the operator's $OP6 stays" lab_vip_on_lo "$OP6"
	write_services
	lab_wait "lab_vip_on_lo $VIP6" 100
}

test_cleanup_withdraws_v6_vip() {
	check "the IPv6 VIP is on lo before the cleanup" lab_vip_on_lo "$VIP6"
	stop_xvipd
	check "xvipd --cleanup" lab_nsenter node "$BUILD/xvipd" --cleanup \
		--pin-dir "$LAB_PIN" --log-level error
	check "the IPv6 VIP left lo" not_on_lo "$VIP6"
	check "the IPv4 VIP left lo" not_on_lo "$VIP"
	check "the operator's $OP6 stays" lab_vip_on_lo "$OP6"
	check "the pins are gone" test ! -e "$LAB_PIN/xvip_lo6"
}

skip=$(e2e_skip_reason)
command -v bpftool >/dev/null || skip=${skip:-bpftool missing}
trap lab_down EXIT
E2E_LOGS="$LAB_DIR/*.log"
e2e_main "$skip" setup test_v6_vip_added_and_recorded test_v6_vip_withdrawn_when_endpoints_go \
	test_v6_vip_withdrawn_after_restart test_cleanup_withdraws_v6_vip
