#!/usr/bin/env bash
# Run a command the way a new user's machine would: in a fresh minimal Debian 12 root
# (`mmdebstrap --variant=minbase bookworm` plus git, make and ca-certificates, nothing else),
# from a clone of this repository's committed HEAD. A package that only the CI machine has,
# or a step the README does not name, fails here. `.ci/run` runs `make test` this way.
#
#   scripts/ci/fresh-root.sh [-- COMMAND...]    (default: make test), as root
#
# The base root is made once (about a minute, from the host's Debian mirror) and kept in
# /var/tmp/xvip-fresh-root; it is remade when older than a week. Each run unpacks it afresh,
# so nothing a previous run installed stays. Inside: the host's /proc, /sys (bpffs, cgroups)
# and /dev, fresh tmpfs on /run and /tmp, and /var/tmp/xvip-cache at the same path (downloads
# worth keeping, such as the kernel packages of the QEMU kernel matrix). The mounts live in a
# mount namespace of their own: they go when the run ends, even a killed one. The exit status
# is COMMAND's.
set -euo pipefail

CACHE=/var/tmp/xvip-cache
DIR=/var/tmp/xvip-fresh-root
BASE=$DIR/bookworm-minbase.tar
SUITE=bookworm

die() { echo "fresh-root: $*" >&2; exit 2; }

# fresh-root.sh --inside ROOT COMMAND...: the part that runs in the private mount namespace.
if [ "${1:-}" = --inside ]; then
	root=$2; shift 2
	mount --bind "$root" "$root"	# `ip netns exec` needs / to be a mount point
	mount -t proc proc "$root/proc"
	mount --rbind /sys "$root/sys"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs tmpfs "$root/run"
	mount -t tmpfs tmpfs "$root/tmp"
	mkdir -p "$root/run/netns" "$root$CACHE"
	mount --bind "$CACHE" "$root$CACHE"
	exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb CI=true \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin XVIP_FRESH_ROOT=1 \
		bash -c 'cd /src/xvip && exec "$@"' fresh-root "$@"
fi

[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || set -- make test
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)

# Already in a fresh root (this script's or ../shared/tools/fresh-ci's): just run.
if [ -n "${XVIP_FRESH_ROOT:-}${FRESH_CI_INSIDE:-}" ]; then
	cd "$repo" && exec "$@"
fi
[ "$(id -u)" = 0 ] || die "needs root (chroot, mounts, and the tests need it too)"

if ! command -v mmdebstrap >/dev/null; then
	echo "fresh-root: installing mmdebstrap"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap \
		>/dev/null
fi
# host_uri NAME: the host's apt mirror for the archive NAME (debian, debian-security).
host_uri() {
	local u
	u=$(sed -nE "s#^URIs: *([^ ]*/$1)/?\$#\1#p; s#^deb +(\[[^]]*\] +)?([^ ]*/$1)/? .*#\2#p" \
		/etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -1)
	echo "${u:-http://deb.debian.org/$1}"
}

mkdir -p "$CACHE" "$DIR"
if [ -z "$(find "$BASE" -type f -mtime -7 2>/dev/null)" ]; then
	echo "fresh-root: making the base root file system: $BASE"
	# The suites a Debian 12 installation has: the release, its updates and security.
	mirror=$(host_uri debian)
	mmdebstrap --quiet --format=tar --variant=minbase --include=ca-certificates,git,make "$SUITE" \
		"$BASE.$$.tmp" "deb $mirror $SUITE main" "deb $mirror $SUITE-updates main" \
		"deb $(host_uri debian-security) $SUITE-security main" ||
		{ rm -f "$BASE.$$.tmp"; die "mmdebstrap failed"; }
	mv "$BASE.$$.tmp" "$BASE"
fi

# Roots of earlier runs that were killed (the pid in the name is gone).
for old in "$DIR"/root.*; do
	[ -d "$old" ] || continue
	kill -0 "${old##*.}" 2>/dev/null || rm -rf --one-file-system "$old"
done
root=$DIR/root.$$
trap 'rm -rf --one-file-system "$root"' EXIT
mkdir "$root"
tar -xf "$BASE" -C "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# What every installed Debian system has, and a minbase root lacks.
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
git clone -q --no-checkout "$repo" "$root/src/xvip"
git -C "$root/src/xvip" checkout -q --detach "$(git -C "$repo" rev-parse HEAD)"
git -C "$repo" diff --quiet HEAD ||
	echo "fresh-root: uncommitted changes in $repo are not part of this run" >&2

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
echo "fresh-root: running '$*' in a fresh Debian 12 root," \
	"HEAD $(git -C "$repo" rev-parse --short HEAD)"
set +e
unshare --mount --propagation private "$(realpath "$0")" --inside "$root" "$@" </dev/null
rc=$?
echo "fresh-root: exit $rc"
exit $rc
