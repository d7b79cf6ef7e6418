// SPDX-License-Identifier: GPL-2.0
/*
 * XDP on the node's uplinks: packets to a VIP:port/proto are balanced to a
 * local endpoint (destination rewritten, checksums updated) and passed to the
 * stack, which routes them to the pod. Everything else passes untouched.
 * A VIP on a port no Service serves is dropped, so host sockets bound to
 * 0.0.0.0 are never reachable through a VIP that sits on `lo`.
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/lb.h"

/*
 * Header offsets are reloaded from struct xvip_pkt and masked so the
 * verifier can bound the packet pointers. A mask must never alias a real
 * offset: two VLAN tags end the L2 header before 64 bytes, and an L4 header
 * can sit past 1 KiB behind IPv6 extension headers; process() drops a VIP
 * packet whose L4 header lies beyond XDP_L4_MASK (more than a 4 KiB page
 * of headers) rather than let the mask wrap.
 */
#define XDP_L3_MASK	0x3f
#define XDP_L4_MASK	0xfff

XVIP_INLINE int rewrite_v4(void *data, void *data_end, const struct xvip_pkt *p,
			   const struct xvip_backend *be)
{
	struct iphdr *iph = data + (p->l3_off & XDP_L3_MASK);
	__be32 old_daddr, new_daddr = be->addr.a[3];
	__be16 *ports;
	__u16 *l4sum;

	if ((void *)(iph + 1) > data_end)
		return -XVIP_DROP_TRUNCATED;
	ports = data + (p->l4_off & XDP_L4_MASK);
	if ((void *)(ports + 2) > data_end)
		return -XVIP_DROP_TRUNCATED;
	old_daddr = iph->daddr;

	if (p->flow.proto == IPPROTO_SCTP) {
		if (be->port != ports[1])
			return -XVIP_DROP_SCTP_PORT;
	} else {
		l4sum = (void *)ports + (p->l4_csum_off & 0x1f);
		if ((void *)(l4sum + 1) > data_end)
			return -XVIP_DROP_TRUNCATED;
		/* UDP over IPv4 may carry no checksum (0); it must stay 0. */
		if (p->flow.proto != IPPROTO_UDP || *l4sum) {
			csum_replace4(l4sum, old_daddr, new_daddr);
			csum_replace2(l4sum, ports[1], be->port);
			/* A computed 0 is sent as 0xffff in UDP (RFC 768). */
			if (p->flow.proto == IPPROTO_UDP && !*l4sum)
				*l4sum = 0xffff;
		}
		ports[1] = be->port;
	}
	csum_replace4(&iph->check, old_daddr, new_daddr);
	iph->daddr = new_daddr;
	return 0;
}

XVIP_INLINE int rewrite_v6(void *data, void *data_end, const struct xvip_pkt *p,
			   const struct xvip_backend *be)
{
	struct ipv6hdr *ip6 = data + (p->l3_off & XDP_L3_MASK);
	__be16 *ports;
	__u16 *l4sum;

	if ((void *)(ip6 + 1) > data_end)
		return -XVIP_DROP_TRUNCATED;
	ports = data + (p->l4_off & XDP_L4_MASK);
	if ((void *)(ports + 2) > data_end)
		return -XVIP_DROP_TRUNCATED;
	if (p->flow.proto == IPPROTO_SCTP) {
		if (be->port != ports[1])
			return -XVIP_DROP_SCTP_PORT;
	} else {
		l4sum = (void *)ports + (p->l4_csum_off & 0x1f);
		if ((void *)(l4sum + 1) > data_end)
			return -XVIP_DROP_TRUNCATED;
		csum_replace16(l4sum, (struct xvip_addr *)&ip6->daddr, &be->addr);
		csum_replace2(l4sum, ports[1], be->port);
		if (p->flow.proto == IPPROTO_UDP && !*l4sum)
			*l4sum = 0xffff;
		ports[1] = be->port;
	}
	__builtin_memcpy(&ip6->daddr, &be->addr, sizeof(be->addr));
	return 0;
}

/* A later fragment carries no L4 header: only the destination address changes. */
XVIP_INLINE int rewrite_addr_only(void *data, void *data_end, const struct xvip_pkt *p,
				  const struct xvip_backend *be)
{
	if (p->ipv6) {
		struct ipv6hdr *ip6 = data + (p->l3_off & XDP_L3_MASK);

		if ((void *)(ip6 + 1) > data_end)
			return -XVIP_DROP_TRUNCATED;
		__builtin_memcpy(&ip6->daddr, &be->addr, sizeof(be->addr));
	} else {
		struct iphdr *iph = data + (p->l3_off & XDP_L3_MASK);

		if ((void *)(iph + 1) > data_end)
			return -XVIP_DROP_TRUNCATED;
		csum_replace4(&iph->check, iph->daddr, be->addr.a[3]);
		iph->daddr = be->addr.a[3];
	}
	return 0;
}

XVIP_INLINE bool icmp4_is_error(__u8 type)
{
	return type == 3 /* destination unreachable, incl. fragmentation needed */ ||
	       type == 11 /* time exceeded */ || type == 12 /* parameter problem */;
}

XVIP_INLINE bool icmp6_is_error(__u8 type)
{
	return type >= 1 && type <= 4;	/* unreachable, packet too big, time exceeded, param */
}

/* The endpoint of the balanced flow an ICMP error quotes. */
XVIP_INLINE bool icmp_flow_resolve(const struct xvip_flow *f, struct xvip_lb_result *res)
{
	__u32 be_id, svc_id;
	__u64 created;

	return lb_init(res, f) && ct_lookup(res->cfg, f, res->hash, &be_id, &svc_id, &created) &&
	       lb_resolve(res, be_id, svc_id);
}

/*
 * An ICMP error to a VIP about a balanced flow (a router on the way back to
 * the client answering a reply whose source was the VIP, e.g. fragmentation
 * needed): send it to the flow's endpoint, translating the outer destination
 * and the embedded packet's source address and port, with every checksum.
 */
XVIP_INLINE int icmp_xlate_v4(void *data, void *data_end, const struct xvip_pkt *p,
			      struct xvip_lb_result *res)
{
	struct iphdr *iph = data + (p->l3_off & XDP_L3_MASK);
	struct icmphdr *ic = data + (p->l4_off & XDP_L4_MASK);
	struct xvip_flow f = {};
	struct iphdr *in;
	__be32 vip, be_addr;
	__be16 *ports;
	__u16 old_check;

	if ((void *)(iph + 1) > data_end || (void *)(ic + 1) > data_end)
		return -XVIP_DROP_TRUNCATED;
	if (!icmp4_is_error(ic->type))
		return XVIP_STAT_VIP_ICMP;
	in = (void *)(ic + 1);
	if ((void *)(in + 1) > data_end)
		return -XVIP_DROP_TRUNCATED;
	if (in->ihl != 5)
		return -XVIP_DROP_ICMP_UNKNOWN;	/* options in the quoted header: rare, not followed */
	ports = (void *)(in + 1);
	if ((void *)(ports + 4) > data_end)	/* ICMP quotes at least 8 bytes of L4 */
		return -XVIP_DROP_TRUNCATED;
	vip = iph->daddr;
	if (in->saddr != vip)
		return -XVIP_DROP_ICMP_UNKNOWN;
	addr_set_v4(&f.saddr, in->daddr);
	addr_set_v4(&f.daddr, vip);
	f.sport = ports[1];
	f.dport = ports[0];
	f.proto = in->protocol;
	if (!icmp_flow_resolve(&f, res))
		return -XVIP_DROP_ICMP_UNKNOWN;
	be_addr = res->be->addr.a[3];

	/* Quoted L4: UDP's checksum lies in the quoted 8 bytes; TCP's does not. */
	if (in->protocol == IPPROTO_UDP && ports[3]) {
		__u16 old = ports[3];

		csum_replace4(&ports[3], vip, be_addr);
		csum_replace2(&ports[3], ports[0], res->be->port);
		if (!ports[3])
			ports[3] = 0xffff;
		csum_replace2(&ic->checksum, old, ports[3]);
	}
	csum_replace2(&ic->checksum, ports[0], res->be->port);
	ports[0] = res->be->port;
	old_check = in->check;
	csum_replace4(&in->check, vip, be_addr);
	csum_replace4(&ic->checksum, vip, be_addr);
	csum_replace2(&ic->checksum, old_check, in->check);
	in->saddr = be_addr;
	csum_replace4(&iph->check, vip, be_addr);
	iph->daddr = be_addr;
	return XVIP_STAT_ICMP_XLATE;
}

XVIP_INLINE int icmp_xlate_v6(void *data, void *data_end, const struct xvip_pkt *p,
			      struct xvip_lb_result *res)
{
	struct ipv6hdr *ip6 = data + (p->l3_off & XDP_L3_MASK);
	struct icmphdr *ic = data + (p->l4_off & XDP_L4_MASK);
	struct xvip_flow f = {};
	struct xvip_addr vip;
	struct ipv6hdr *in;
	__be16 *ports;

	if ((void *)(ip6 + 1) > data_end || (void *)(ic + 1) > data_end)
		return -XVIP_DROP_TRUNCATED;
	if (!icmp6_is_error(ic->type))
		return XVIP_STAT_VIP_ICMP;
	in = (void *)(ic + 1);
	if ((void *)(in + 1) > data_end)
		return -XVIP_DROP_TRUNCATED;
	ports = (void *)(in + 1);
	if ((void *)(ports + 4) > data_end)
		return -XVIP_DROP_TRUNCATED;
	__builtin_memcpy(&vip, &ip6->daddr, sizeof(vip));
	__builtin_memcpy(&f.saddr, &in->daddr, sizeof(f.saddr));
	__builtin_memcpy(&f.daddr, &in->saddr, sizeof(f.daddr));
	if (!addr_eq(&f.daddr, &vip))
		return -XVIP_DROP_ICMP_UNKNOWN;
	f.sport = ports[1];
	f.dport = ports[0];
	f.proto = in->nexthdr;	/* quoted extension headers are not followed */
	if (!icmp_flow_resolve(&f, res))
		return -XVIP_DROP_ICMP_UNKNOWN;

	if (in->nexthdr == IPPROTO_UDP) {
		__u16 old = ports[3];

		csum_replace16(&ports[3], &vip, &res->be->addr);
		csum_replace2(&ports[3], ports[0], res->be->port);
		if (!ports[3])
			ports[3] = 0xffff;
		csum_replace2(&ic->checksum, old, ports[3]);
	}
	csum_replace2(&ic->checksum, ports[0], res->be->port);
	ports[0] = res->be->port;
	/* ICMPv6's checksum covers the outer pseudo-header and the quoted source. */
	csum_replace16(&ic->checksum, &vip, &res->be->addr);
	csum_replace16(&ic->checksum, &vip, &res->be->addr);
	__builtin_memcpy(&in->saddr, &res->be->addr, sizeof(res->be->addr));
	__builtin_memcpy(&ip6->daddr, &res->be->addr, sizeof(res->be->addr));
	return XVIP_STAT_ICMP_XLATE;
}

XVIP_INLINE int rewrite(void *data, void *data_end, const struct xvip_pkt *p,
			const struct xvip_lb_result *res, int ret)
{
	int err;

	if (p->ipv6)
		err = rewrite_v6(data, data_end, p, res->be);
	else
		err = rewrite_v4(data, data_end, p, res->be);
	return err < 0 ? err : ret;
}

/*
 * The common case, a TCP, UDP or SCTP packet that is not a fragment, in as
 * few lookups as it takes: conntrack, else the service and Maglev; the
 * VIP map only when no service has the port (a VIP's port nobody serves is
 * dropped; another address whose filter bit is shared passes).
 */
XVIP_INLINE int process_l4(void *data, void *data_end, const struct xvip_pkt *p,
			   struct xvip_lb_result *res)
{
	int ret;

	if (!lb_init(res, &p->flow))
		return -XVIP_DROP_NO_TABLE;
	if (lb_established(&p->flow, res))
		return rewrite(data, data_end, p, res, XVIP_STAT_LB_CT);
	ret = lb_balance_new(&p->flow, res);
	if (ret == -XVIP_DROP_UNSERVED) {
		res->be = NULL;
		return bpf_map_lookup_elem(&xvip_vip, &p->flow.daddr) ? ret : XVIP_STAT_PASS;
	}
	if (ret < 0)
		return ret;
	return rewrite(data, data_end, p, res, ret);
}

/* Returns an enum xvip_stat (>= 0) or a negative drop reason. */
XVIP_INLINE int process(struct xdp_md *ctx, struct xvip_lb_result *res)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	struct xvip_vip_val *vip;
	struct xvip_pkt p = {};
	__be16 h_proto;
	int ret, l4;

	if (parse_eth(&c, &h_proto))
		return XVIP_STAT_UNPARSED;
	if (h_proto == bpf_htons(ETH_P_IP))
		l4 = parse_ipv4(&c, data, &p);
	else if (h_proto == bpf_htons(ETH_P_IPV6))
		l4 = parse_ipv6(&c, data, &p);
	else
		return XVIP_STAT_PASS;
	if (l4 == -XVIP_STAT_UNPARSED)
		return XVIP_STAT_UNPARSED;
	if (!vip_maybe(&p.flow.daddr))
		return l4 < 0 ? XVIP_STAT_UNPARSED : XVIP_STAT_PASS;

	if (likely(l4 >= 0 && p.frag == XVIP_FRAG_NONE && p.l4_off <= XDP_L4_MASK &&
		   (l4 == IPPROTO_TCP || l4 == IPPROTO_UDP || l4 == IPPROTO_SCTP))) {
		struct cursor l4c = c;

		if (!parse_ports(&l4c, &p))
			return process_l4(data, data_end, &p, res);
	}

	vip = bpf_map_lookup_elem(&xvip_vip, &p.flow.daddr);
	if (!vip)
		return l4 < 0 ? XVIP_STAT_UNPARSED : XVIP_STAT_PASS;

	/* From here on the packet is addressed to a VIP: never pass it blindly. */
	if (l4 < 0)
		return l4;
	if (p.l4_off > XDP_L4_MASK)
		return -XVIP_DROP_EXT_HDRS;
	if (p.frag == XVIP_FRAG_LATER) {
		ret = lb_pick_later_frag(&p, vip, res);
		if (ret < 0)
			return ret;
		l4 = rewrite_addr_only(data, data_end, &p, res->be);
		return l4 < 0 ? l4 : ret;
	}
	if (l4 == IPPROTO_ICMP && !p.ipv6)
		return icmp_xlate_v4(data, data_end, &p, res);
	if (l4 == IPPROTO_ICMPV6 && p.ipv6)
		return icmp_xlate_v6(data, data_end, &p, res);
	ret = parse_ports(&c, &p);
	if (ret < 0)
		return ret;

	ret = lb_pick(&p, res);
	if (ret < 0)
		return ret;
	return rewrite(data, data_end, &p, res, ret);
}

SEC("xdp")
int xvip_xdp(struct xdp_md *ctx)
{
	struct xvip_lb_result res = {};
	__u64 bytes = ctx->data_end - ctx->data;
	int ret = process(ctx, &res);

	if (ret < 0) {
		xvip_count(&xvip_stats, -ret, bytes);
		return XDP_DROP;
	}
	xvip_count(&xvip_stats, ret, bytes);
	if (res.be) {
		xvip_count(&xvip_svc_stats, res.svc_id, bytes);
		xvip_count(&xvip_be_stats, res.be_id, bytes);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
