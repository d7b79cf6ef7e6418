#!/usr/bin/env bash
# The kernel matrix: Debian's own kernel packages booted in QEMU (scripts/kernel-run.sh), each
# once, running what it needs in that one boot:
#   6.1   Debian 12's kernel: the BPF packet fixtures, the kernel probes, and the single-node
#         and dataplane end-to-end suites (the 802.1Q test must run there: Debian has 8021q)
#   6.12  Debian 12 backports (Debian 13's series): the BPF packet fixtures and the probes
#   5.10  Debian 11's, below the minimum: xvipd refuses it with the one line the README shows,
#         before it loads or attaches anything
# Every result line carries its kernel: "PASS 6.1/xdp_tcp_new_flow", "FAIL 6.12/...". A kernel
# is skipped only when this machine cannot boot it: no QEMU, or its package cannot be fetched
# from Debian's archive (both found before a guest starts). A guest that boots and fails, or
# does not finish, fails. The guest CPU is emulated: nothing here is timed.
#
#   tests/e2e_kernels.sh [KERNEL...]      default: 6.1 6.12 5.10
#   tests/e2e_kernels.sh --guest KERNEL   (inside the guest: what that kernel runs)
# run.sh timeout: 1500
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
BUILD=${BUILD:-$ROOT/build}
export BUILD
GUEST_SUITE_LIMIT=900

# Inside the guest, results are marked, so the host tells them from console noise.
mark() { echo "@@ $*"; }

# guest_suite NAME CMD...: run one suite in the guest, pass its result lines on, and fail it
# if it died without saying why.
guest_suite() {
	local name=$1 out err rc; shift
	out=$(mktemp) err=$(mktemp)
	timeout --kill-after=10 "$GUEST_SUITE_LIMIT" "$@" >"$out" 2>"$err"
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$out" | while read -r line; do mark "$line"; done
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$out"; then
		mark "FAIL $name (exit status $rc)"
	fi
	if [ "$rc" -ne 0 ] || grep -q '^FAIL ' "$out"; then
		echo "-- stderr of $name (last 40 lines):"
		tail -n 40 "$err"
	fi
	# What the matrix exists for: a kernel that has 802.1Q runs the tagged-uplink test.
	if grep -q '^SKIP test_vlan_tagged_uplink' "$out"; then
		mark "FAIL test_vlan_tagged_uplink: skipped on a kernel with 802.1Q ($(grep \
			'^SKIP test_vlan_tagged_uplink' "$out" | cut -d: -f2-))"
	fi
	rm -f "$out" "$err"
}

# xvipd on a kernel below the minimum: exit status 1 and exactly the one line, nothing pinned.
guest_refusal() {
	local want err rc pins=/sys/fs/bpf/xvip-kernels
	err=$(mktemp)
	echo '{"apiVersion": "v1", "kind": "List", "items": []}' >/tmp/xvip-kernels.json
	want="xvipd: this kernel ($(uname -r)) lacks BPF atomic compare-and-exchange"
	want+=" (BPF_CMPXCHG, Linux 5.12): xvipd needs Linux 5.15 or later"
	"$BUILD/xvipd" --iface lo --vip-cidr 198.18.21.0/24 --services-file /tmp/xvip-kernels.json \
		--pin-dir "$pins" --state-file /tmp/xvip-kernels.status 2>"$err" >/dev/null
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$(cat "$err")" = "$want" ] && [ -z "$(ls -A "$pins" 2>/dev/null)" ]
	then
		mark "PASS xvipd_refuses_with_one_line"
	else
		mark "FAIL xvipd_refuses_with_one_line"
		echo "  exit status $rc; want exactly: $want"
		echo "  got:"; sed 's/^/    /' "$err"
		ls -A "$pins" 2>/dev/null | sed 's/^/  left pinned: /'
	fi
	rm -f "$err"
}

guest() {
	echo "guest: $(uname -r), $(nproc) CPUs"
	case $1 in
	6.1)
		guest_suite test_bpf "$BUILD/tests/test_bpf"
		guest_suite test_kfeat "$BUILD/tests/test_kfeat"
		if modprobe 8021q; then mark "PASS 8021q_module"; else mark "FAIL 8021q_module"; fi
		guest_suite e2e_single_node bash tests/e2e_single_node.sh
		guest_suite e2e_dataplane bash tests/e2e_dataplane.sh
		;;
	6.12)
		guest_suite test_bpf "$BUILD/tests/test_bpf"
		guest_suite test_kfeat "$BUILD/tests/test_kfeat"
		;;
	5.10)
		guest_refusal
		# The probes of the features 5.10 has must still find them.
		guest_suite test_kfeat "$BUILD/tests/test_kfeat"
		;;
	*) mark "FAIL guest: no plan for kernel $1" ;;
	esac
}

if [ "${1:-}" = --guest ]; then
	guest "$2"
	exit 0
fi

# The names a kernel reports, for the SKIP lines when it cannot boot.
plan() {
	case $1 in
	6.1) echo "test_bpf test_kfeat e2e_single_node e2e_dataplane" ;;
	6.12) echo "test_bpf test_kfeat" ;;
	5.10) echo "xvipd_refuses_with_one_line test_kfeat" ;;
	esac
}

# result_all RESULT K WHY: the line for each test K would run (it cannot boot, or cannot run them).
result_all() {
	local res=$1 k=$2 why=$3 t
	for t in $(plan "$k"); do echo "$res $k/$t: $why"; done
}

# run_kernel K: boot K once; result lines to stdout with K's prefix, the rest to stderr.
run_kernel() {
	local k=$1 res rc start
	res=$(mktemp)
	start=$(date +%s)
	scripts/kernel-run.sh -k "$k" -t 1400 -- \
		"BUILD=$(printf %q "$BUILD") tests/e2e_kernels.sh --guest $k" 2>&1 |
		while IFS= read -r line; do
			case $line in
			*"@@ "*) line=${line##*@@ }
				 echo "${line%% *} $k/${line#* }" | tee -a "$res" ;;
			*) echo "  [$k] $line" >&2 ;;
			esac
		done
	rc=${PIPESTATUS[0]}
	echo "  [$k] guest done in $(($(date +%s) - start)) s, exit status $rc" >&2
	if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$res"; then
		echo "FAIL $k/guest (kernel-run exit status $rc)"
	fi
	if ! grep -q '^PASS ' "$res" && ! grep -q '^FAIL ' "$res"; then
		echo "FAIL $k/guest: no result from the guest"
	fi
	rm -f "$res"
}

kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(6.1 6.12 5.10)
skip="" missing=""
scripts/kernel-run.sh --check 2>/dev/null
case $? in
0) ;;
4) skip="no QEMU here ($(scripts/kernel-run.sh --check 2>&1 | tail -1))" ;;
*) skip="scripts/kernel-run.sh --check failed" ;;
esac
for f in xvipd tests/test_bpf tests/test_kfeat; do
	[ -x "$BUILD/$f" ] || missing=${missing:-"$BUILD/$f not built (make)"}
done
for k in "${kernels[@]}"; do
	if [ -n "$skip" ]; then
		result_all SKIP "$k" "$skip"
		continue
	fi
	if [ -n "$missing" ]; then
		result_all FAIL "$k" "$missing"
		continue
	fi
	scripts/kernel-run.sh -k "$k" --fetch
	case $? in
	0) run_kernel "$k" ;;
	3) result_all SKIP "$k" "Debian's $k kernel package cannot be fetched from the archive" ;;
	*) echo "FAIL $k/fetch (scripts/kernel-run.sh --fetch)" ;;
	esac
done
exit 0
