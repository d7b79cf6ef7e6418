#!/usr/bin/env bash
# Drive the kernel's packet generator (/proc/net/pktgen) from a traffic host
# with a real NIC towards an xvip node: UDP to a Service VIP, many flows, one
# pktgen thread per CPU, and the rate each thread reached.
#
#   scripts/pktgen.sh --dev IF --dst VIP --dst-mac MAC [options]
#
#   --dev IF          NIC to send from (required)
#   --dst ADDR        destination: the Service VIP (IPv4 or IPv6, required)
#   --dst-mac MAC     next hop's MAC: the leaf switch, or the xvip node on a
#                     direct cable (required)
#   --src ADDR        source address (default: IF's first address); with
#                     --src-addrs N the sources are ADDR .. ADDR+N-1 (IPv4)
#   --src-addrs N     distinct source addresses (IPv4 only, default 1)
#   --sport N         first UDP source port (default 10000)
#   --flows N         distinct UDP source ports per address (default 1024)
#   --dport N         UDP destination port: the Service port (default 80)
#   --size BYTES      frame length without FCS (default 60: 64 on the wire)
#   --count N         frames per thread (default 10000000; 0: until Ctrl-C)
#   --rate PPS        per-thread rate limit in frames per second (default: none)
#   --threads N       pktgen threads, on CPUs 0..N-1 (default 1)
#   --burst N         frames per xmit call (default 32; needs driver support)
#   --clone N         times each skb is sent before a new one is built (default 0:
#                     always fresh, safe with every NIC; higher is faster)
#
# Needs root and kernel pktgen (CONFIG_NET_PKTGEN, `modprobe pktgen`); the
# script loads the module if it can and refuses clearly otherwise. Kernel
# pktgen sends UDP only; for TCP, or on machines without pktgen (as the
# project's build machines), use build/xvip-pktgen, which does the same with
# XDP live frames. Run it only on a test network you own: it sends as fast as
# the NIC allows.
set -euo pipefail

dev="" dst="" dst_mac="" src="" src_addrs=1 sport=10000 flows=1024 dport=80
size=60 count=10000000 rate=0 threads=1 burst=32 clone=0
usage() { sed -n '5,28p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--dev) dev=$2; shift ;;
	--dst) dst=$2; shift ;;
	--dst-mac) dst_mac=$2; shift ;;
	--src) src=$2; shift ;;
	--src-addrs) src_addrs=$2; shift ;;
	--sport) sport=$2; shift ;;
	--flows) flows=$2; shift ;;
	--dport) dport=$2; shift ;;
	--size) size=$2; shift ;;
	--count) count=$2; shift ;;
	--rate) rate=$2; shift ;;
	--threads) threads=$2; shift ;;
	--burst) burst=$2; shift ;;
	--clone) clone=$2; shift ;;
	-h|--help) usage ;;
	*) echo "pktgen.sh: unknown option $1" >&2; usage ;;
	esac
	shift
done
[ -n "$dev" ] && [ -n "$dst" ] && [ -n "$dst_mac" ] || usage
for n in "$src_addrs" "$sport" "$flows" "$dport" "$size" "$count" "$rate" "$threads" "$burst" \
	"$clone"; do
	[[ $n =~ ^[0-9]+$ ]] || { echo "pktgen.sh: '$n' is not a number" >&2; exit 2; }
done
[[ $dst_mac =~ ^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$ ]] ||
	{ echo "pktgen.sh: --dst-mac $dst_mac: want xx:xx:xx:xx:xx:xx" >&2; exit 2; }
[ $((sport + flows - 1)) -le 65535 ] ||
	{ echo "pktgen.sh: --sport $sport + --flows $flows goes past port 65535" >&2; exit 2; }

if [ ! -d /proc/net/pktgen ]; then
	modprobe pktgen 2>/dev/null || true
fi
if [ ! -d /proc/net/pktgen ]; then
	echo "pktgen.sh: kernel pktgen is not available here (/proc/net/pktgen is missing:" \
		"the kernel needs CONFIG_NET_PKTGEN and 'modprobe pktgen')." >&2
	echo "pktgen.sh: use build/xvip-pktgen instead (XDP live frames; see the README)." >&2
	exit 1
fi
[ "$(id -u)" = 0 ] || { echo "pktgen.sh: needs root" >&2; exit 1; }
[ -e "/sys/class/net/$dev" ] || { echo "pktgen.sh: no interface $dev" >&2; exit 1; }
ncpu=$(nproc)
[ "$threads" -ge 1 ] && [ "$threads" -le "$ncpu" ] ||
	{ echo "pktgen.sh: --threads $threads: this host has $ncpu CPUs" >&2; exit 2; }

v6=0
[[ $dst == *:* ]] && v6=1
if [ -z "$src" ]; then
	if [ $v6 = 1 ]; then
		src=$(ip -6 -o addr show dev "$dev" scope global | awk '{print $4}' | cut -d/ -f1 | head -1)
	else
		src=$(ip -4 -o addr show dev "$dev" | awk '{print $4}' | cut -d/ -f1 | head -1)
	fi
	[ -n "$src" ] || { echo "pktgen.sh: $dev has no address; give --src" >&2; exit 1; }
fi
if [ $v6 = 1 ] && [ "$src_addrs" -ne 1 ]; then
	echo "pktgen.sh: --src-addrs works for IPv4 only (vary --flows instead)" >&2
	exit 2
fi

# pgset FILE CMD: one pktgen command; pktgen reports the outcome in the file.
pgset() {
	local f=$1 cmd=$2
	echo "$cmd" >"$f"
	if ! grep -q "Result: OK:" "$f" && [[ $f != */pgctrl ]]; then
		echo "pktgen.sh: '$cmd' refused by $f:" >&2
		grep "Result:" "$f" >&2 || true
		exit 1
	fi
}

ip4_add() {	# ip4_add ADDR N: ADDR + N
	local IFS=. a b c d
	read -r a b c d <<<"$1"
	local x=$(((a << 24 | b << 16 | c << 8 | d) + $2))
	echo "$((x >> 24 & 255)).$((x >> 16 & 255)).$((x >> 8 & 255)).$((x & 255))"
}

stop() {
	echo "stop" >/proc/net/pktgen/pgctrl 2>/dev/null || true
	for ((t = 0; t < threads; t++)); do
		echo "rem_device_all" >"/proc/net/pktgen/kpktgend_$t" 2>/dev/null || true
	done
}
trap stop EXIT
trap 'exit 130' INT TERM

for ((t = 0; t < threads; t++)); do
	th=/proc/net/pktgen/kpktgend_$t
	pgset "$th" "rem_device_all"
	pgset "$th" "add_device $dev@$t"
	d=/proc/net/pktgen/$dev@$t
	pgset "$d" "count $count"
	pgset "$d" "clone_skb $clone"
	pgset "$d" "pkt_size $size"
	pgset "$d" "burst $burst"
	pgset "$d" "delay 0"
	[ "$rate" -gt 0 ] && pgset "$d" "ratep $rate"
	pgset "$d" "dst_mac $dst_mac"
	if [ $v6 = 1 ]; then
		pgset "$d" "dst6 $dst"
		pgset "$d" "src6 $src"
	else
		pgset "$d" "dst_min $dst"
		pgset "$d" "dst_max $dst"
		pgset "$d" "src_min $src"
		pgset "$d" "src_max $(ip4_add "$src" $((src_addrs - 1)))"
	fi
	pgset "$d" "udp_dst_min $dport"
	pgset "$d" "udp_dst_max $dport"
	# Each thread its own slice of the source ports: flows never collide across threads.
	lo=$((sport + t * flows / threads))
	hi=$((sport + (t + 1) * flows / threads - 1))
	[ "$hi" -ge "$lo" ] || hi=$lo
	pgset "$d" "udp_src_min $lo"
	pgset "$d" "udp_src_max $hi"
	# Walk sources and ports in sequence, so every flow is sent, evenly.
	pgset "$d" "flag !UDPSRC_RND"
	pgset "$d" "flag !IPSRC_RND"
	# Full UDP checksums, as a real client sends them.
	pgset "$d" "flag UDPCSUM"
	pgset "$d" "flag NO_TIMESTAMP"
done

echo "pktgen.sh: $threads thread(s) on $dev: UDP $src -> [$dst]:$dport, $size-byte frames," \
	"$((src_addrs * flows)) flows, $count frames each${rate:+, }$([ "$rate" -gt 0 ] && echo "$rate pps each")" >&2
# Blocks until every thread has sent its count (or Ctrl-C).
echo "start" >/proc/net/pktgen/pgctrl || true

total=0
for ((t = 0; t < threads; t++)); do
	res=$(grep -A1 "Result:" "/proc/net/pktgen/$dev@$t" | tr '\n' ' ')
	echo "thread $t: $res"
	pps=$(sed -n 's/.* \([0-9]*\)pps.*/\1/p' <<<"$res")
	total=$((total + ${pps:-0}))
done
echo "pktgen.sh: $total pps in all ($(awk -v p="$total" 'BEGIN { printf "%.3f", p / 1e6 }') Mpps)"
