/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Forwarding a translated packet straight to its output device. A reply
 * whose source became the VIP must not go back through the stack's input
 * path on the node: the VIP is a local address there (on lo), and the
 * stack drops packets arriving with a local source as martians.
 */
#ifndef XVIP_BPF_FWD_H
#define XVIP_BPF_FWD_H

#include "common.h"
#include "parse.h"

#define XVIP_AF_INET	2
#define XVIP_AF_INET6	10

/* Decrement TTL / hop limit as a router would; non-zero when it expires here. */
XVIP_INLINE int fwd_dec_ttl(struct __sk_buff *skb, const struct xvip_pkt *p)
{
	__u16 old, new;
	__u8 *ttl = (__u8 *)&new;

	if (p->ipv6) {
		__u32 off = p->l3_off + offsetof(struct ipv6hdr, hop_limit);
		__u8 hl;

		if (bpf_skb_load_bytes(skb, off, &hl, 1) || hl <= 1)
			return -1;
		hl--;
		return bpf_skb_store_bytes(skb, off, &hl, 1, 0) ? -1 : 0;
	}
	/* TTL and protocol share a 16-bit word of the header checksum. */
	if (bpf_skb_load_bytes(skb, p->l3_off + offsetof(struct iphdr, ttl), &old, 2))
		return -1;
	new = old;
	if (ttl[0] <= 1)
		return -1;
	ttl[0]--;
	if (bpf_l3_csum_replace(skb, p->l3_off + offsetof(struct iphdr, check), old, new, 2))
		return -1;
	return bpf_skb_store_bytes(skb, p->l3_off + offsetof(struct iphdr, ttl), &new, 2, 0) ?
	       -1 : 0;
}

/*
 * Route the packet (source src, destination the flow's) and send it out of
 * the device the FIB names. Returns a tc action: TC_ACT_REDIRECT, or
 * TC_ACT_OK to leave the packet to the stack when the FIB has no answer.
 */
XVIP_INLINE int fwd_redirect(struct __sk_buff *skb, const struct xvip_pkt *p,
			     const struct xvip_addr *src, const struct xvip_addr *dst)
{
	struct bpf_fib_lookup f = {};
	int ret;

	f.ifindex = skb->ifindex;
	f.l4_protocol = p->flow.proto;
	f.tot_len = (__u16)(skb->len - p->l3_off);
	if (p->ipv6) {
		f.family = XVIP_AF_INET6;
		__builtin_memcpy(f.ipv6_src, src, sizeof(f.ipv6_src));
		__builtin_memcpy(f.ipv6_dst, dst, sizeof(f.ipv6_dst));
	} else {
		f.family = XVIP_AF_INET;
		f.ipv4_src = src->a[3];
		f.ipv4_dst = dst->a[3];
	}
	ret = bpf_fib_lookup(skb, &f, sizeof(f), 0);
	if (ret != BPF_FIB_LKUP_RET_SUCCESS && ret != BPF_FIB_LKUP_RET_NO_NEIGH)
		return TC_ACT_OK;
	if (fwd_dec_ttl(skb, p))
		return TC_ACT_OK;	/* expired: the stack sends the ICMP error */
	if (ret == BPF_FIB_LKUP_RET_NO_NEIGH)
		return (int)bpf_redirect_neigh(f.ifindex, NULL, 0, 0);
	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), f.dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), f.smac, ETH_ALEN, 0))
		return TC_ACT_OK;
	return (int)bpf_redirect(f.ifindex, 0);
}

#endif
