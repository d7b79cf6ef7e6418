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

/* What the programs need to know about a packet, independent of the hook. */
struct xvip_pkt {
	struct xvip_flow flow;	/* as received: saddr/daddr/sport/dport/proto */
	__u32 l3_off;		/* from the start of the frame */
	__u32 l4_off;
	__u16 l4_csum_off;	/* 0 when the protocol has no pseudo-header checksum */
	__u8 ipv6;
	__u8 frag;		/* IPv4 MF set or non-zero fragment offset */
};

XVIP_INLINE int parse_eth(struct cursor *c, __be16 *h_proto)
{
	struct ethhdr *eth = c->pos;

	if ((void *)(eth + 1) > c->end)
		return -XVIP_STAT_UNPARSED;
	c->pos = eth + 1;
	*h_proto = eth->h_proto;
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
 * IPv4: returns the L4 protocol. A header too short or with a bad IHL is
 * "unparsed" here; the caller decides whether that is a drop (the packet is
 * for a VIP) or a pass (let the stack judge it).
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
	p->frag = (iph->frag_off & bpf_htons(0x3fff)) != 0;
	p->ipv6 = 0;
	hlen = iph->ihl * 4;
	if (hlen < sizeof(*iph) || iph->version != 4)
		return -XVIP_DROP_BAD_IP;
	if (c->pos + hlen > c->end)
		return -XVIP_DROP_BAD_IP;
	c->pos += hlen;
	p->l4_off = (__u32)(c->pos - data);
	return iph->protocol;
}

/* IPv6 without extension headers; the extension-header walk comes with IPv6 VIP support. */
XVIP_INLINE int parse_ipv6(struct cursor *c, void *data, struct xvip_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;

	if ((void *)(ip6 + 1) > c->end)
		return -XVIP_STAT_UNPARSED;
	p->l3_off = (__u32)((void *)ip6 - data);
	__builtin_memcpy(&p->flow.saddr, &ip6->saddr, sizeof(p->flow.saddr));
	__builtin_memcpy(&p->flow.daddr, &ip6->daddr, sizeof(p->flow.daddr));
	p->flow.proto = ip6->nexthdr;
	p->frag = ip6->nexthdr == IPPROTO_FRAGMENT;
	p->ipv6 = 1;
	c->pos = ip6 + 1;
	p->l4_off = (__u32)(c->pos - data);
	return ip6->nexthdr;
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
