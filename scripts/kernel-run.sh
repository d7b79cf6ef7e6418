#!/usr/bin/env bash
# kernel-run.sh: run a command under another Linux kernel, the way users' nodes boot it: Debian's
# own kernel packages, booted in QEMU (software emulation unless /dev/kvm is usable), with this
# machine's root file system as the guest's root (read-only underneath, writes go to a tmpfs).
#
#   scripts/kernel-run.sh [-k KERNEL] [-m MiB] [-c CPUS] [-t SECONDS] -- 'COMMAND'
#   scripts/kernel-run.sh -k KERNEL --fetch     fetch and prepare KERNEL only
#   scripts/kernel-run.sh --check               can this machine boot a guest at all?
#     KERNEL   6.1 (default: Debian 12's), 6.12 (Debian 12 backports, Debian 13's series),
#              5.10 (Debian 11's)
#     COMMAND  a shell command, run as root from the current directory inside the guest
#   Exit status: the command's; 124 the guest ran out of time; 125 it did not run the command;
#   2 bad usage; 3 the kernel package cannot be fetched; 4 this machine cannot run QEMU
#   (3 and 4 are what the machine lacks, found before any guest starts).
#
# Inside: /proc, /sys, devtmpfs, bpffs on /sys/fs/bpf, cgroup2 on /sys/fs/cgroup, fresh tmpfs on
# /tmp and /run, and the kernel's own modules (modprobe and automatic module loading work: veth,
# 8021q, sch_ingress, nf_tables, ...). Nothing the guest writes reaches the host: results come
# back through the command's output (the serial console: stdout and stderr in one stream).
# A boot takes about 20 s and an emulated CPU is several times slower: fine for loading BPF
# programs, the verifier, BPF_PROG_TEST_RUN fixtures and network-namespace tests, never timing.
#
# Kernel packages come from Debian's archive (deb.debian.org, or XVIP_DEBIAN_MIRROR), verified
# by apt against the archive keyring, and are kept in /var/tmp/xvip-cache/kernels (or
# XVIP_CACHE/kernels): only a kernel's first use downloads it. The tools (QEMU, busybox, cpio,
# kmod, xz, zstd) are installed by scripts/deps.sh.
set -euo pipefail
kernel=6.1 mem=3072 cpus=2 limit=1200 mode=run
usage() { sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	-k) kernel=$2; shift 2 ;;
	-m) mem=$2; shift 2 ;;
	-c) cpus=$2; shift 2 ;;
	-t) limit=$2; shift 2 ;;
	--fetch) mode=fetch; shift ;;
	--check) mode=check; shift ;;
	--) shift; break ;;
	-h|--help) usage ;;
	*) break ;;
	esac
done
[ "$mode" != run ] || [ $# -gt 0 ] || usage
cmd="$*"
say() { echo "kernel-run: $*" >&2; }

case $(uname -m) in
x86_64) darch=amd64 qemu=qemu-system-x86_64 console=ttyS0 qargs=() ;;
aarch64) darch=arm64 qemu=qemu-system-aarch64 console=ttyAMA0 qargs=(-M virt -cpu max) ;;
*) say "no QEMU recipe for $(uname -m)"; exit 4 ;;
esac
# Package name patterns: the newest of the series wins, once; the cache keeps it after that.
case $kernel in
5.10) suite=bullseye pat="^linux-image-5\\.10\\.0-[0-9]+-$darch-unsigned\$" ;;
6.1) suite=bookworm pat="^linux-image-6\\.1\\.0-[0-9]+-$darch-unsigned\$" ;;
6.12) suite=bookworm-backports pat="^linux-image-6\\.12\\.[0-9.]+\\+deb12-$darch-unsigned\$" ;;
*) say "unknown kernel '$kernel' (5.10, 6.1, 6.12)"; exit 2 ;;
esac

# What the machine lacks is exit status 4, before anything is fetched or booted.
[ "$(id -u)" = 0 ] || { say "needs root (9p export of /, modules)"; exit 4; }
missing=()
command -v "$qemu" >/dev/null || missing+=("$qemu")
{ [ -x /usr/bin/busybox ] && /usr/bin/busybox --list 2>/dev/null | grep -qx switch_root; } ||
	missing+=("busybox-static")
for t in cpio depmod xz zstd gzip dpkg-deb apt-get; do
	command -v "$t" >/dev/null || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "missing ${missing[*]} (scripts/deps.sh installs them)"
	exit 4
fi
if ! "$qemu" -version >/dev/null 2>&1; then
	say "$qemu does not run"
	exit 4
fi
accel=(-accel tcg,thread=multi)
if [ -w /dev/kvm ] && [ "$darch" = amd64 ]; then accel=(-accel kvm -cpu host); fi
[ "$mode" = check ] && exit 0

cache_root=${XVIP_CACHE:-/var/tmp/xvip-cache}/kernels
cache=$cache_root/$kernel-$darch
mirror=${XVIP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$cache_root"

# The initramfs: busybox, the modules that reach the root file system, and an /init that
# stacks a tmpfs over the host's root (9p) and switches to it.
make_initrd() {
	local kv=$1 ird=$cache/ird m f
	rm -rf "$ird"; mkdir -p "$ird"/{bin,mods,newroot,lower,upper,proc,sys,dev}
	cp /usr/bin/busybox "$ird/bin/"
	for m in sh mount umount insmod mkdir poweroff echo cat cp chmod base64 switch_root; do
		ln -sf busybox "$ird/bin/$m"
	done
	for m in virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci \
		virtio_mmio fscache netfs 9pnet 9pnet_virtio 9p overlay; do
		f=$(find "$cache/k/lib/modules/$kv" \( -name "$m.ko" -o -name "$m.ko.xz" \
			-o -name "$m.ko.zst" \) | head -1)
		[ -n "$f" ] || continue		# built in, or not needed by this kernel
		case $f in
		*.xz) xz -dc "$f" >"$ird/mods/$m.ko" ;;
		*.zst) zstd -qdc "$f" >"$ird/mods/$m.ko" ;;
		*) cp "$f" "$ird/mods/" ;;
		esac
		echo "$m" >>"$ird/mods/order"
	done
	cat >"$ird/init" <<'EOF'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
# Dependencies first would need modules.dep; three passes load any order.
for pass in 1 2 3; do for m in $(cat /mods/order); do insmod /mods/$m.ko 2>/dev/null; done; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /lower ||
	{ echo "kernel-run: 9p mount failed"; poweroff -f; }
mount -t tmpfs upper /upper; mkdir -p /upper/u /upper/w
mount -t overlay overlay -o lowerdir=/lower,upperdir=/upper/u,workdir=/upper/w /newroot ||
	{ echo "kernel-run: overlay failed"; poweroff -f; }
X=$(cat /proc/cmdline); X=${X##*xcmd=}; X=${X%% *}
echo "$X" | base64 -d >/newroot/.kernel-run-cmd
M=$(cat /proc/cmdline); M=${M##*xmods=}; M=${M%% *}
echo "$M" >/newroot/.kernel-run-mods
mkdir -p /newroot/.kernel-run; cp /bin/busybox /newroot/.kernel-run/busybox
cp /stage2 /newroot/.kernel-run-init; chmod +x /newroot/.kernel-run-init
umount /proc /sys 2>/dev/null
exec switch_root /newroot /.kernel-run-init
EOF
	cat >"$ird/stage2" <<'EOF'
#!/.kernel-run/busybox sh
B=/.kernel-run/busybox
$B mount -t proc proc /proc; $B mount -t sysfs sys /sys; $B mount -t devtmpfs dev /dev 2>/dev/null
$B ln -sf /proc/self/fd /dev/fd; $B ln -sf /proc/self/fd/0 /dev/stdin
$B ln -sf /proc/self/fd/1 /dev/stdout; $B ln -sf /proc/self/fd/2 /dev/stderr
$B mkdir -p /dev/pts /dev/shm; $B mount -t devpts devpts /dev/pts; $B mount -t tmpfs shm /dev/shm
$B mount -t tmpfs tmp /tmp; $B mount -t tmpfs run /run; $B mkdir -p /run/netns /run/lock
$B mount -t bpf bpf /sys/fs/bpf; $B mount -t cgroup2 cg /sys/fs/cgroup 2>/dev/null
$B mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
$B mkdir -p /lib/modules && $B mount --bind "$($B cat /.kernel-run-mods)" /lib/modules
$B hostname kernel-run
echo "kernel-run: guest kernel $($B cat /proc/sys/kernel/osrelease)"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root CI=true
ip link set lo up 2>/dev/null	# as on every booted system
/bin/bash /.kernel-run-cmd </dev/null
echo "kernel-run: guest exit $?"
$B poweroff -f
EOF
	chmod +x "$ird/init" "$ird/stage2"
	(cd "$ird" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$cache/initrd.gz.tmp")
	mv "$cache/initrd.gz.tmp" "$cache/initrd.gz"
	rm -rf "$ird"
}

fetch() {
	local aptc pkg kv
	say "fetching Debian's $kernel kernel ($suite, $darch) from $mirror, once"
	rm -rf "$cache"; mkdir -p "$cache/apt/lists/partial" "$cache/deb"
	echo "deb [arch=$darch] $mirror $suite main" >"$cache/apt/sources.list"
	aptc=(-o Dir::Etc::sourcelist="$cache/apt/sources.list" -o Dir::Etc::sourceparts=-
	      -o Dir::State::Lists="$cache/apt/lists" -o Dir::Cache="$cache/apt"
	      -o APT::Architecture="$darch" -o APT::Sandbox::User=root)
	apt-get "${aptc[@]}" update -qq >/dev/null 2>"$cache/apt.err" ||
		{ cat "$cache/apt.err" >&2; return 3; }
	pkg=$(apt-cache "${aptc[@]}" search --names-only '^linux-image-' | awk '{print $1}' |
		grep -E "$pat" | sort -V | tail -1)
	[ -n "$pkg" ] || { say "no package matches $pat in $suite"; return 3; }
	(cd "$cache/deb" && apt-get "${aptc[@]}" download "$pkg" >/dev/null 2>"$cache/apt.err") ||
		{ cat "$cache/apt.err" >&2; return 3; }
	dpkg-deb -x "$cache"/deb/*.deb "$cache/k"
	kv=$(ls "$cache/k/lib/modules")
	# Hardware a guest never has: 400 MB of modules become about 100.
	(cd "$cache/k/lib/modules/$kv/kernel" && rm -rf sound \
		drivers/{gpu,media,scsi,usb,infiniband,iio,hwmon,staging,hid,platform,input} \
		drivers/{comedi,ata,mmc,bluetooth,isdn,mtd} \
		drivers/net/{wireless,ethernet,can,usb,wwan})
	depmod -b "$cache/k" "$kv" 2>/dev/null || true
	make_initrd "$kv"
	rm -rf "$cache/deb" "$cache/apt"
	echo "$pkg" >"$cache/package"
	echo "$kv" >"$cache/ready"
	say "$pkg ready in $cache"
}

# One fetch at a time per kernel: the suite may boot kernels side by side.
exec 9>"$cache_root/.$kernel-$darch.lock"
flock 9
if [ ! -f "$cache/ready" ]; then
	st=0; fetch || st=$?
	if [ "$st" != 0 ]; then rm -rf "$cache"; exit 3; fi
fi
exec 9>&-
kv=$(cat "$cache/ready")
[ "$mode" = fetch ] && exit 0

# The command reaches the guest base64-encoded on the kernel command line.
enc=$(printf 'cd %q && %s\n' "$PWD" "$cmd" | base64 -w0)
[ ${#enc} -lt 3000 ] || { say "command too long (put it in a script)"; exit 2; }
out=$(mktemp /tmp/xvip-kernel-run.XXXXXX)
trap 'rm -f "$out"' EXIT
set +e
timeout --kill-after=10 "$limit" "$qemu" "${qargs[@]}" "${accel[@]}" -m "$mem" -smp "$cpus" \
	-nographic -no-reboot -monitor none \
	-kernel "$cache/k/boot/vmlinuz-$kv" -initrd "$cache/initrd.gz" \
	-fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
	-append "console=$console quiet panic=-1 xmods=$cache/k/lib/modules xcmd=$enc" \
	</dev/null 2>&1 | tee "$out" |
	sed -u -e 's/\r$//' -e 's/\x1b\[[0-9;?]*[a-zA-Z]//g' \
		-e 's/^.*\(kernel-run: guest kernel\)/\1/' \
		-e '/kernel-run: guest kernel/,$!d' -e '/reboot: Power down/d' \
		-e '/kernel-run: guest exit/d'
st=${PIPESTATUS[0]}
set -e
rc=$(sed -n 's/.*kernel-run: guest exit \([0-9]*\).*/\1/p' "$out" | tail -1 | tr -d '\r')
if [ -n "$rc" ]; then exit "$rc"; fi
if [ "$st" = 124 ]; then say "guest ran past ${limit}s"; exit 124; fi
say "the guest did not run the command (qemu exit $st); its console:"
sed -e 's/\r$//' "$out" | tail -n 20 >&2
exit 125
