/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Address and port rewrites on an skb (tc), through the kernel's checksum
 * helpers, which also keep CHECKSUM_PARTIAL packets from local sockets
 * right (their L4 field holds only the pseudo-header sum).
 */
#ifndef XVIP_BPF_NAT_SKB_H
#define XVIP_BPF_NAT_SKB_H

#include "common.h"
#include "parse.h"

/*
 * The checksum field that covers the IP addresses (a pseudo-header), or 0
 * when there is none: TCP, UDP and ICMPv6 have one; ICMPv4 and SCTP do not.
 */
XVIP_INLINE __u32 skb_l4_csum_at(const struct xvip_pkt *p)
{
	if (p->flow.proto == IPPROTO_TCP || p->flow.proto == IPPROTO_UDP)
		return p->l4_off + p->l4_csum_off;
	if (p->flow.proto == IPPROTO_ICMPV6 && p->ipv6)
		return p->l4_off + 2;
	return 0;
}

/* Rewrite the source (dst = false) or destination address, L3 and L4 checksums. */
XVIP_INLINE int skb_nat_addr(struct __sk_buff *skb, const struct xvip_pkt *p, bool dst,
			     const struct xvip_addr *from, const struct xvip_addr *to)
{
	__u32 l4sum = skb_l4_csum_at(p);
	__u64 mangled0 = p->flow.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (!p->ipv6) {
		__u32 off = p->l3_off + (dst ? offsetof(struct iphdr, daddr) :
					       offsetof(struct iphdr, saddr));

		if (l4sum && bpf_l4_csum_replace(skb, l4sum, from->a[3], to->a[3],
						 BPF_F_PSEUDO_HDR | mangled0 | 4))
			return -XVIP_DROP_TRUNCATED;
		if (bpf_l3_csum_replace(skb, p->l3_off + offsetof(struct iphdr, check),
					from->a[3], to->a[3], 4))
			return -XVIP_DROP_TRUNCATED;
		if (bpf_skb_store_bytes(skb, off, &to->a[3], 4, 0))
			return -XVIP_DROP_TRUNCATED;
		return 0;
	}
	if (l4sum) {
		__s64 diff = bpf_csum_diff((__be32 *)from, 16, (__be32 *)to, 16, 0);

		if (diff < 0 || bpf_l4_csum_replace(skb, l4sum, 0, (__u32)diff,
						    BPF_F_PSEUDO_HDR | mangled0))
			return -XVIP_DROP_TRUNCATED;
	}
	if (bpf_skb_store_bytes(skb, p->l3_off + (dst ? offsetof(struct ipv6hdr, daddr) :
							offsetof(struct ipv6hdr, saddr)),
				to, 16, 0))
		return -XVIP_DROP_TRUNCATED;
	return 0;
}

/* Rewrite the source or destination port and the L4 checksum. */
XVIP_INLINE int skb_nat_port(struct __sk_buff *skb, const struct xvip_pkt *p, bool dst,
			     __be16 from, __be16 to)
{
	__u32 l4sum = skb_l4_csum_at(p);
	__u64 mangled0 = p->flow.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (from == to)
		return 0;
	if (p->flow.proto == IPPROTO_SCTP)
		return -XVIP_DROP_SCTP_PORT;	/* CRC32c: no incremental update */
	if (l4sum && bpf_l4_csum_replace(skb, l4sum, from, to, mangled0 | 2))
		return -XVIP_DROP_TRUNCATED;
	if (bpf_skb_store_bytes(skb, p->l4_off + (dst ? 2 : 0), &to, 2, 0))
		return -XVIP_DROP_TRUNCATED;
	return 0;
}

#endif
