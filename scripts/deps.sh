#!/usr/bin/env bash
# Install what xvip needs to build, test and run the demo, from Debian's archive.
# Idempotent: installs only what is missing. Mounts bpffs if it is not mounted.
#   scripts/deps.sh [--bench]   --bench: also what `make bench` needs (the plotting tool)
set -euo pipefail

pkgs=(
	# Build: the C toolchain (gcc, ar from binutils, glibc's headers), clang for the BPF
	# objects, which see only the kernel's UAPI headers (linux-libc-dev) and libbpf's.
	make gcc binutils libc6-dev linux-libc-dev pkg-config clang llvm
	libbpf-dev libxdp-dev bpftool libelf-dev zlib1g-dev
	libjson-c-dev libyaml-dev libmnl-dev libcurl4-openssl-dev libmicrohttpd-dev
	libclang-rt-14-dev	# libFuzzer, ASan and UBSan for clang 14 (make fuzz-build, sanitize-build)
	clang-format		# make format-check
	# What the tests, the labs and the demo run: ip, ss and tc (iproute2), sysctl and kill
	# (procps), /etc/protocols and /etc/services for iproute2's `ipproto tcp` (netbase),
	# ethtool, nft, FRR, python3 and PyYAML, curl and openssl (the API server stand-in's
	# TLS), socat (the demo's --keep hints), modprobe (kmod: scripts/pktgen.sh).
	iproute2 procps netbase ethtool nftables frr python3 python3-yaml curl openssl socat kmod
	# The kernel matrix (scripts/kernel-run.sh): QEMU (below, by architecture), the guest's
	# initramfs (busybox-static, cpio), the kernel packages' modules (kmod's depmod, xz, zstd).
	busybox-static cpio xz-utils zstd
)
case $(dpkg --print-architecture) in
amd64) pkgs+=(qemu-system-x86) ;;
arm64) pkgs+=(qemu-system-arm) ;;
esac
if [ "${1:-}" = --bench ]; then
	pkgs+=(gnuplot-nox)
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$(id -u)" = 0 ] && ! mountpoint -q /sys/fs/bpf; then
	mount -t bpf bpf /sys/fs/bpf
fi
exit 0
