// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The kernel features xvipd uses, with the release that brought each, and a
 * probe for each: the one place to change when the code starts or stops
 * needing one. The maps and programs made here are throwaway probes, closed
 * at once; xvip's own maps are reached through maps.c only.
 *
 * Why 5.15: the dataplane's newest need is BPF_CMPXCHG (5.12, the conntrack
 * way claim) and node-to-VIP's is SO_NETNS_COOKIE (5.14); 5.15 is the first
 * long-term release with both (Ubuntu 22.04's kernel; RHEL 9's 5.14 carries
 * these from later releases, which is why the probes ask the kernel, not
 * its version). Older ones, Debian 11's 5.10 among them, are refused.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kfeat.h"
#include "log.h"
#include "nl.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* bpf(2) said no: missing if the kernel did not understand, unknown if it refused us. */
static int bpf_verdict(int err)
{
	if (err == EPERM || err == EACCES || err == ENOMEM)
		return -err;
	return 0;
}

static int probe_map(enum bpf_map_type type, __u32 flags, bool mmap_it)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	int fd, ret = 1;

	fd = bpf_map_create(type, "xvip_probe", sizeof(__u32), sizeof(__u32), 1, &o);
	if (fd < 0)
		return bpf_verdict(errno);
	if (mmap_it) {
		void *p = mmap(NULL, (size_t)getpagesize(), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			       0);

		if (p == MAP_FAILED)
			ret = bpf_verdict(errno);
		else
			munmap(p, (size_t)getpagesize());
	}
	close(fd);
	return ret;
}

static int probe_mmapable(void)
{
	return probe_map(BPF_MAP_TYPE_ARRAY, BPF_F_MMAPABLE, true);
}

static int probe_inner_map(void)
{
	return probe_map(BPF_MAP_TYPE_ARRAY, BPF_F_INNER_MAP, false);
}

static int probe_batch(void)
{
	__u32 keys[1], vals[1], out, count = 1;
	int fd, ret;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xvip_probe", sizeof(__u32), sizeof(__u32), 1,
			    NULL);
	if (fd < 0)
		return bpf_verdict(errno);
	/* The one element, or ENOENT for the end of the map: both mean it is there. */
	ret = bpf_map_lookup_batch(fd, NULL, &out, keys, vals, &count, NULL);
	ret = ret && errno != ENOENT ? bpf_verdict(errno) : 1;
	close(fd);
	return ret;
}

static int probe_helper(enum bpf_prog_type type, enum bpf_func_id id)
{
	int ret = libbpf_probe_bpf_helper(type, id, NULL);

	/* libbpf says -EOPNOTSUPP when the program type itself is missing. */
	if (ret == -EOPNOTSUPP)
		return 0;
	return ret < 0 ? bpf_verdict(-ret) : ret > 0;
}

static int probe_jiffies64(void)
{
	return probe_helper(BPF_PROG_TYPE_XDP, BPF_FUNC_jiffies64);
}

static int probe_redirect_neigh(void)
{
	return probe_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_neigh);
}

/*
 * lib/ct.h claims a conntrack way with a 32-bit compare-and-swap. Before
 * 5.12 the only atomic was BPF_XADD, and the verifier refuses any other
 * operation in its immediate with EINVAL.
 */
static int probe_cmpxchg(void)
{
	const struct bpf_insn insns[] = {
		/* *(u32 *)(r10 - 4) = 0 */
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10, .off = -4, .imm = 0 },
		/* w0 = 0, the expected value; w1 = 1, the new one */
		{ .code = BPF_ALU | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_ALU | BPF_MOV | BPF_K, .dst_reg = BPF_REG_1, .imm = 1 },
		/* w0 = cmpxchg((u32 *)(r10 - 4), w0, w1) */
		{ .code = BPF_STX | BPF_ATOMIC | BPF_W,
		  .dst_reg = BPF_REG_10,
		  .src_reg = BPF_REG_1,
		  .off = -4,
		  .imm = BPF_CMPXCHG },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xvip_probe", "GPL", insns,
			       sizeof(insns) / sizeof(insns[0]), NULL);

	if (fd < 0)
		return bpf_verdict(errno);
	close(fd);
	return 1;
}

static int probe_netns_cookie(void)
{
	__u64 cookie;
	socklen_t len = sizeof(cookie);
	int fd, ret = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
		ret = errno == ENOPROTOOPT ? 0 : -errno;
	close(fd);
	return ret;
}

/* In order of release; the newest required one sets XVIP_KERNEL_MIN's floor. */
const struct xvip_kfeat xvip_kfeats[] = {
	{ "mmapable BPF arrays", "BPF_F_MMAPABLE", "5.5", NULL, probe_mmapable },
	{ "the jiffies clock helper", "bpf_jiffies64", "5.5", NULL, probe_jiffies64 },
	{ "batched BPF map lookups", "BPF_MAP_LOOKUP_BATCH", "5.6", NULL, probe_batch },
	{ "inner maps of their own size", "BPF_F_INNER_MAP", "5.10", NULL, probe_inner_map },
	{ "the neighbour-resolving redirect helper", "bpf_redirect_neigh", "5.10", NULL,
	  probe_redirect_neigh },
	{ "BPF atomic compare-and-exchange", "BPF_CMPXCHG", "5.12", NULL, probe_cmpxchg },
	{ "socket network namespace cookies", "SO_NETNS_COOKIE", "5.14",
	  "node-to-VIP (the cgroup socket hooks) is off", probe_netns_cookie },
	{ "the address protocol attribute", "IFA_PROTO", "6.1",
	  "IPv6 VIPs xvipd adds are recorded under the pin dir instead (xvip_lo6)",
	  xvip_nl_ifa_proto },
};
const size_t xvip_nkfeats = sizeof(xvip_kfeats) / sizeof(xvip_kfeats[0]);

int xvip_kfeat_check(const struct xvip_kfeat *table, size_t n, char *line, size_t len)
{
	struct utsname u;
	const char *rel = uname(&u) ? "unknown" : u.release;

	for (size_t i = 0; i < n; i++) {
		const struct xvip_kfeat *f = &table[i];
		int ret = f->probe();

		if (ret < 0) {
			log_warn("kernel probe %s (Linux %s): %s (%d); assuming it is there",
				 f->token, f->since, strerror(-ret), ret);
			continue;
		}
		if (ret > 0) {
			log_debug("kernel has %s (%s, Linux %s)", f->what, f->token, f->since);
			continue;
		}
		if (f->without) {
			log_info("this kernel (%s) lacks %s (%s, Linux %s): %s", rel, f->what,
				 f->token, f->since, f->without);
			continue;
		}
		snprintf(line, len,
			 "xvipd: this kernel (%s) lacks %s (%s, Linux %s): xvipd needs "
			 "Linux %s or later",
			 rel, f->what, f->token, f->since, XVIP_KERNEL_MIN);
		return -EOPNOTSUPP;
	}
	return 0;
}
