/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsing with a cursor, one parser per header, each bounds-checking
 * right before it dereferences (the verifier wants the check next to the use).
 * Parsers return the next protocol or a negative enum xvip_stat.
 */
#ifndef XVIP_BPF_PARSE_H
#define XVIP_BPF_PARSE_H

#include "common.h"

struct cursor {
	void *pos;
	void *end;
};

enum xvip_frag_kind {
	XVIP_FRAG_NONE = 0,
	XVIP_FRAG_FIRST = 1,	/* offset 0, more to come: carries the L4 header */
	XVIP_FRAG_LATER = 2,	/* offset > 0: no L4 header */
};

/* What the programs need to know about a packet, independent of the hook. */
struct xvip_pkt {
	struct xvip_flow flow;	/* as received: saddr/daddr/sport/dport/proto */
	__u32 l3_off;		/* from the start of the frame */
	__u32 l4_off;
	__u32 frag_id;		/* IPv4 or IPv6 fragment identification */
	__u16 l4_csum_off;	/* 0 when the protocol has no pseudo-header checksum */
	__u8 ipv6;
	__u8 frag;		/* enum xvip_frag_kind */
};

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* Ethernet and up to XVIP_VLAN_MAX 802.1Q / 802.1ad tags (QinQ). */
XVIP_INLINE int parse_eth(struct cursor *c, __be16 *h_proto)
{
	struct ethhdr *eth = c->pos;
	struct vlan_hdr *vh;
	__be16 proto;

	if ((void *)(eth + 1) > c->end)
		return -XVIP_STAT_UNPARSED;
	c->pos = eth + 1;
	proto = eth->h_proto;
#pragma unroll
	for (int i = 0; i < XVIP_VLAN_MAX; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		vh = c->pos;
		if ((void *)(vh + 1) > c->end)
			return -XVIP_STAT_UNPARSED;
		c->pos = vh + 1;
		proto = vh->encap_proto;
	}
	*h_proto = proto;
	return 0;
}

XVIP_INLINE void addr_set_v4(struct xvip_addr *a, __be32 v4)
{
	a->a[0] = 0;
	a->a[1] = 0;
	a->a[2] = bpf_htonl(0x0000ffff);
	a->a[3] = v4;
}

/*
 * IPv4: returns the L4 protocol. A header too short for the fixed part is
 * "unparsed"; a bad IHL or version is a bad header. The caller decides whether
 * that is a drop (the packet is for a VIP) or a pass (the stack judges it).
 */
XVIP_INLINE int parse_ipv4(struct cursor *c, void *data, struct xvip_pkt *p)
{
	struct iphdr *iph = c->pos;
	__u32 hlen;

	if ((void *)(iph + 1) > c->end)
		return -XVIP_STAT_UNPARSED;
	p->l3_off = (__u32)((void *)iph - data);
	addr_set_v4(&p->flow.saddr, iph->saddr);
	addr_set_v4(&p->flow.daddr, iph->daddr);
	p->flow.proto = iph->protocol;
	p->ipv6 = 0;
	p->frag_id = bpf_ntohs(iph->id);
	if (iph->frag_off & bpf_htons(0x1fff))
		p->frag = XVIP_FRAG_LATER;
	else if (iph->frag_off & bpf_htons(0x2000))
		p->frag = XVIP_FRAG_FIRST;
	hlen = iph->ihl * 4;
	if (hlen < sizeof(*iph) || iph->version != 4)
		return -XVIP_DROP_BAD_IP;
	if (c->pos + hlen > c->end)
		return -XVIP_DROP_BAD_IP;
	c->pos += hlen;
	p->l4_off = (__u32)(c->pos - data);
	return iph->protocol;
}

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;	/* offset << 3 | M */
	__be32 identification;
};

struct ipv6_ext {
	__u8 nexthdr;
	__u8 hdrlen;		/* in 8-byte units, not counting the first 8 */
};

/*
 * IPv6: walks hop-by-hop, routing, destination-options and fragment headers,
 * at most XVIP_IPV6_EXT_MAX of them, and returns the upper-layer protocol.
 * A later fragment stops the walk: what follows is not a header.
 */
XVIP_INLINE int parse_ipv6(struct cursor *c, void *data, struct xvip_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;
	struct ipv6_frag *fh;
	struct ipv6_ext *eh;
	__u8 nexthdr;

	if ((void *)(ip6 + 1) > c->end)
		return -XVIP_STAT_UNPARSED;
	p->l3_off = (__u32)((void *)ip6 - data);
	__builtin_memcpy(&p->flow.saddr, &ip6->saddr, sizeof(p->flow.saddr));
	__builtin_memcpy(&p->flow.daddr, &ip6->daddr, sizeof(p->flow.daddr));
	p->ipv6 = 1;
	nexthdr = ip6->nexthdr;
	c->pos = ip6 + 1;

	for (int i = 0; i < XVIP_IPV6_EXT_MAX; i++) {
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			eh = c->pos;
			if ((void *)(eh + 1) > c->end)
				return -XVIP_DROP_TRUNCATED;
			nexthdr = eh->nexthdr;
			c->pos += (eh->hdrlen + 1) * 8;
			break;
		case IPPROTO_FRAGMENT:
			fh = c->pos;
			if ((void *)(fh + 1) > c->end)
				return -XVIP_DROP_TRUNCATED;
			nexthdr = fh->nexthdr;
			p->frag_id = bpf_ntohl(fh->identification);
			c->pos = fh + 1;
			if (fh->frag_off & bpf_htons(0xfff8))
				p->frag = XVIP_FRAG_LATER;
			else if (fh->frag_off & bpf_htons(1))
				p->frag = XVIP_FRAG_FIRST;
			if (p->frag == XVIP_FRAG_LATER)
				goto done;
			break;
		default:
			goto done;
		}
	}
	if (nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	    nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT)
		return -XVIP_DROP_EXT_HDRS;
done:
	if (c->pos > c->end)
		return -XVIP_DROP_TRUNCATED;
	p->flow.proto = nexthdr;
	p->l4_off = (__u32)(c->pos - data);
	return nexthdr;
}

/*
 * TCP, UDP and SCTP all start with source and destination ports; only the
 * first two need the full fixed header for their checksum field.
 */
XVIP_INLINE int parse_ports(struct cursor *c, struct xvip_pkt *p)
{
	__be16 *ports = c->pos;

	switch (p->flow.proto) {
	case IPPROTO_TCP:
		if (c->pos + sizeof(struct tcphdr) > c->end)
			return -XVIP_DROP_TRUNCATED;
		p->l4_csum_off = offsetof(struct tcphdr, check);
		break;
	case IPPROTO_UDP:
		if (c->pos + sizeof(struct udphdr) > c->end)
			return -XVIP_DROP_TRUNCATED;
		p->l4_csum_off = offsetof(struct udphdr, check);
		break;
	case IPPROTO_SCTP:
		/* common header: ports, verification tag, CRC32c (no pseudo-header) */
		if (c->pos + 12 > c->end)
			return -XVIP_DROP_TRUNCATED;
		p->l4_csum_off = 0;
		break;
	default:
		return -XVIP_DROP_PROTO;
	}
	if ((void *)(ports + 2) > c->end)
		return -XVIP_DROP_TRUNCATED;
	p->flow.sport = ports[0];
	p->flow.dport = ports[1];
	return 0;
}

#endif
