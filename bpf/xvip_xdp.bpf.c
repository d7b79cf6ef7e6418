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

XVIP_INLINE int rewrite_v4(void *data, void *data_end, const struct xvip_pkt *p,
			   const struct xvip_backend *be)
{
	struct iphdr *iph = data + (p->l3_off & 0xff);
	__be32 old_daddr, new_daddr = be->addr.a[3];
	__be16 *ports;
	__u16 *l4sum;

	if ((void *)(iph + 1) > data_end)
		return -XVIP_DROP_TRUNCATED;
	ports = data + (p->l4_off & 0xff);
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
	struct ipv6hdr *ip6 = data + (p->l3_off & 0xff);
	__be16 *ports;
	__u16 *l4sum;

	if ((void *)(ip6 + 1) > data_end)
		return -XVIP_DROP_TRUNCATED;
	ports = data + (p->l4_off & 0x1ff);
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

/* Returns an enum xvip_stat (>= 0) or a negative drop reason. */
XVIP_INLINE int process(struct xdp_md *ctx, struct xvip_lb_result *res)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = data, .end = data_end };
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

	if (!bpf_map_lookup_elem(&xvip_vip, &p.flow.daddr))
		return l4 < 0 ? XVIP_STAT_UNPARSED : XVIP_STAT_PASS;

	/* From here on the packet is addressed to a VIP: never pass it blindly. */
	if (l4 < 0)
		return l4;
	if (l4 == IPPROTO_ICMP || l4 == IPPROTO_ICMPV6)
		return XVIP_STAT_VIP_ICMP;
	if (p.frag)
		return -XVIP_DROP_FRAGMENT;
	ret = parse_ports(&c, &p);
	if (ret < 0)
		return ret;

	ret = lb_pick(&p.flow, res);
	if (ret < 0)
		return ret;
	if (p.ipv6)
		l4 = rewrite_v6(data, data_end, &p, res->be);
	else
		l4 = rewrite_v4(data, data_end, &p, res->be);
	return l4 < 0 ? l4 : ret;
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
