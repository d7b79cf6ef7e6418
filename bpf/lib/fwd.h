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

struct fwd {
	struct bpf_fib_lookup f;
	int ret;		/* BPF_FIB_LKUP_RET_* */
};

/*
 * Look up the route the translated packet (source src, destination dst)
 * will take, before translating it. Returns 0 when it can be sent straight
 * out, or 1 when it must go to the stack untranslated: too big for the next
 * link (the stack answers the pod with "fragmentation needed", and the pod
 * lowers its path MTU) or its TTL runs out here (the stack sends "time
 * exceeded"). Translated, such a packet would carry the VIP as its source
 * into the stack and be dropped there as a martian.
 */
XVIP_INLINE int fwd_lookup(struct __sk_buff *skb, const struct xvip_pkt *p,
			   const struct xvip_addr *src, const struct xvip_addr *dst,
			   struct fwd *fw)
{
	struct bpf_fib_lookup *f = &fw->f;
	__u8 ttl;

	__builtin_memset(f, 0, sizeof(*f));
	f->ifindex = skb->ifindex;
	f->l4_protocol = p->flow.proto;
	/*
	 * tot_len 0: the kernel checks the skb itself against the output MTU,
	 * which is right for GSO packets (their segments must fit, not the
	 * whole aggregate).
	 */
	f->tot_len = 0;
	if (p->ipv6) {
		f->family = XVIP_AF_INET6;
		__builtin_memcpy(f->ipv6_src, src, sizeof(f->ipv6_src));
		__builtin_memcpy(f->ipv6_dst, dst, sizeof(f->ipv6_dst));
	} else {
		f->family = XVIP_AF_INET;
		f->ipv4_src = src->a[3];
		f->ipv4_dst = dst->a[3];
	}
	fw->ret = bpf_fib_lookup(skb, f, sizeof(*f), 0);
	if (fw->ret == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return 1;
	if (fw->ret != BPF_FIB_LKUP_RET_SUCCESS && fw->ret != BPF_FIB_LKUP_RET_NO_NEIGH)
		return 0;
	if (bpf_skb_load_bytes(skb, p->l3_off + (p->ipv6 ? offsetof(struct ipv6hdr, hop_limit) :
							  offsetof(struct iphdr, ttl)),
			       &ttl, 1) || ttl <= 1)
		return 1;
	return 0;
}

/*
 * Send the translated packet out of the device fwd_lookup found. Returns a
 * tc action: TC_ACT_REDIRECT, or TC_ACT_OK when the FIB had no answer.
 */
XVIP_INLINE int fwd_send(struct __sk_buff *skb, const struct xvip_pkt *p, struct fwd *fw)
{
	if (fw->ret != BPF_FIB_LKUP_RET_SUCCESS && fw->ret != BPF_FIB_LKUP_RET_NO_NEIGH)
		return TC_ACT_OK;
	if (fwd_dec_ttl(skb, p))
		return TC_ACT_OK;
	if (fw->ret == BPF_FIB_LKUP_RET_NO_NEIGH)
		return (int)bpf_redirect_neigh(fw->f.ifindex, NULL, 0, 0);
	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), fw->f.dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), fw->f.smac, ETH_ALEN, 0))
		return TC_ACT_OK;
	return (int)bpf_redirect(fw->f.ifindex, 0);
}

#endif
