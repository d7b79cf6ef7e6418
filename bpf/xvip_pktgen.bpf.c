// SPDX-License-Identifier: GPL-2.0
/*
 * xvip-pktgen's frame writer, run with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES: every run writes one frame and redirects it
 * out of cfg_ifindex.
 *
 * Live frames are recycled pages, and whoever handled a frame may have
 * rewritten it in place (xvip's DNAT, the stack's TTL decrement). So every
 * frame gets the whole header copied from the template first, then this
 * frame's source address and port, with both checksums updated from the
 * template's. The payload behind the header is written once by the kernel
 * from data_in and never touched on the path.
 *
 * Pacing and the frame count are enforced here, not by the number of runs:
 * a test-run call costs tens of milliseconds of setup and teardown, so the
 * generator makes one long call and a run that is not due yet (or comes
 * after the last frame) returns XDP_DROP, which recycles the frame unsent.
 */
#include "lib/common.h"
#include "lib/csum.h"

#define PKTGEN_HDR_MAX	80	/* Ethernet + IPv6 + TCP is 74 */

/* Set by xvip-pktgen before load. */
const volatile __u32 cfg_ifindex;
const volatile __u32 cfg_flows = 1;	/* distinct (source address, source port) pairs */
const volatile __u32 cfg_addrs = 1;	/* distinct source addresses among them */
const volatile __u32 cfg_hdr_len;	/* 42, 54, 62 or 74: the template's length */
const volatile __u8 cfg_ipv6;
const volatile __u8 cfg_proto;		/* IPPROTO_TCP or IPPROTO_UDP */
const volatile __u64 cfg_count;		/* frames to send; 0: no limit */
const volatile __u64 cfg_gap_fp;	/* ns between frames << 8; 0: no pacing */

/* Read by userspace through the mmapped .bss while the run goes on. */
__u64 sent;		/* frames written and redirected */
__u64 next_fp;		/* when the next frame is due, ns << 8 */
/*
 * The rate over frames [0, stamp_n), timed here so the call's setup and
 * teardown stay out of it: frame 0 and every 1024th frame are stamped.
 */
__u64 first_ns, stamp_ns, stamp_n;

/* Header of flow 0 with correct checksums; .bss, written before load. */
__u8 tmpl[PKTGEN_HDR_MAX];

/* Frames a pacer may send back to back after falling behind. */
#define PKTGEN_CATCHUP	64

/* The length must be a constant for the verifier: one copy per header shape. */
#define COPY_HDR(len)							\
	do {								\
		if (data + (len) > data_end)				\
			return XDP_ABORTED;				\
		__builtin_memcpy(data, tmpl, (len));			\
	} while (0)

SEC("xdp")
int xvip_pktgen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 flow, l4_off, csum_off;
	__be32 *saddr_lo, old_saddr, new_saddr;
	__be16 *sport, old_sport, new_sport;
	__u16 *l4sum;
	__u64 n;

	if (cfg_count && sent >= cfg_count)
		return XDP_DROP;
	if (cfg_gap_fp) {
		__u64 now = bpf_ktime_get_ns() << 8;

		if (now < next_fp)
			return XDP_DROP;
		if (now - next_fp > PKTGEN_CATCHUP * cfg_gap_fp)
			next_fp = now;
		next_fp += cfg_gap_fp;
	}
	n = __sync_fetch_and_add(&sent, 1);
	if (cfg_count && n >= cfg_count)
		return XDP_DROP;
	if (!n) {
		first_ns = bpf_ktime_get_ns();
	} else if (!(n & 1023)) {
		stamp_ns = bpf_ktime_get_ns();
		stamp_n = n;
	}
	flow = (__u32)(n % cfg_flows);

	switch (cfg_hdr_len) {
	case 42:
		COPY_HDR(42);
		break;
	case 54:
		COPY_HDR(54);
		break;
	case 62:
		COPY_HDR(62);
		break;
	case 74:
		COPY_HDR(74);
		break;
	default:
		return XDP_ABORTED;
	}
	if (cfg_ipv6) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_ABORTED;
		saddr_lo = &ip6->saddr.in6_u.u6_addr32[3];
		l4_off = sizeof(struct ethhdr) + sizeof(*ip6);
	} else {
		struct iphdr *iph = data + sizeof(struct ethhdr);

		if ((void *)(iph + 1) > data_end)
			return XDP_ABORTED;
		saddr_lo = &iph->saddr;
		l4_off = sizeof(struct ethhdr) + sizeof(*iph);
	}
	csum_off = cfg_proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
					    : offsetof(struct udphdr, check);
	sport = data + l4_off;
	l4sum = data + l4_off + csum_off;
	if ((void *)(l4sum + 1) > data_end || (void *)(sport + 1) > data_end)
		return XDP_ABORTED;

	old_saddr = *saddr_lo;
	new_saddr = bpf_htonl(bpf_ntohl(old_saddr) + flow % cfg_addrs);
	old_sport = *sport;
	new_sport = bpf_htons((__u16)(bpf_ntohs(old_sport) + flow / cfg_addrs));
	if (new_saddr != old_saddr) {
		*saddr_lo = new_saddr;
		csum_replace4(l4sum, old_saddr, new_saddr);
		if (!cfg_ipv6) {
			struct iphdr *iph = data + sizeof(struct ethhdr);

			if ((void *)(iph + 1) > data_end)
				return XDP_ABORTED;
			csum_replace4(&iph->check, old_saddr, new_saddr);
		}
	}
	if (new_sport != old_sport) {
		*sport = new_sport;
		csum_replace2(l4sum, old_sport, new_sport);
	}
	/* A UDP checksum that computes to 0 is sent as 0xffff (RFC 768). */
	if (cfg_proto == IPPROTO_UDP && !*l4sum)
		*l4sum = 0xffff;
	return bpf_redirect(cfg_ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
