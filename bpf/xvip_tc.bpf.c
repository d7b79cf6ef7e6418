// SPDX-License-Identifier: GPL-2.0
/*
 * tc ingress on the node side of pod-facing interfaces. Two jobs, one core:
 *  - a pod's packet to a VIP (east-west) is balanced like XDP does for the
 *    uplinks, including the hairpin case where the pod is its own endpoint;
 *  - a reply from an endpoint to a client whose flow was balanced gets its
 *    source rewritten back to VIP:port (ICMP errors too, quoted packet and
 *    all).
 * Translated packets go straight to the output device the FIB names (see
 * lib/fwd.h for why not through the stack).
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/lb.h"
#include "lib/nat_skb.h"
#include "lib/fwd.h"

/* Pod -> VIP: destination to the endpoint; a hairpin also gets a stand-in source. */
XVIP_INLINE int east_west(struct __sk_buff *skb, struct cursor *c, struct xvip_pkt *p,
			  const struct xvip_vip_val *vip, int *action)
{
	struct xvip_lb_result res = {};
	struct xvip_addr src = p->flow.saddr;
	struct fwd fw;
	int ret, err;

	if (p->frag == XVIP_FRAG_LATER) {
		ret = lb_pick_later_frag(p, vip, &res);
		if (ret < 0)
			return ret;
		if (fwd_lookup(skb, p, &src, &res.be->addr, &fw))
			return -XVIP_DROP_FWD;
		/* A later fragment has no ports: only the address changes. */
		p->flow.proto = 0;
		err = skb_nat_addr(skb, p, true, &p->flow.daddr, &res.be->addr);
		if (err)
			return err;
		*action = fwd_send(skb, p, &fw);
		return ret;
	}
	if (p->flow.proto == IPPROTO_ICMP || p->flow.proto == IPPROTO_ICMPV6)
		return XVIP_STAT_VIP_ICMP;
	ret = parse_ports(c, p);
	if (ret < 0)
		return ret;
	ret = lb_pick(p, &res);
	if (ret < 0)
		return ret;
	if (res.hairpin)
		lb_hairpin_addr(&src, p->ipv6);
	/*
	 * Untranslated, this packet would reach the host's own sockets (the
	 * VIP is local on lo): what cannot be sent straight on is dropped.
	 */
	if (fwd_lookup(skb, p, &src, &res.be->addr, &fw))
		return -XVIP_DROP_FWD;
	err = skb_nat_port(skb, p, true, p->flow.dport, res.be->port);
	err = err ?: skb_nat_addr(skb, p, true, &p->flow.daddr, &res.be->addr);
	if (!err && res.hairpin) {
		err = skb_nat_addr(skb, p, false, &p->flow.saddr, &src);
		xvip_count(&xvip_stats, XVIP_STAT_HAIRPIN, skb->len);
	}
	if (err)
		return err;
	xvip_count(&xvip_svc_stats, res.svc_id, skb->len);
	xvip_count(&xvip_be_stats, res.be_id, skb->len);
	*action = fwd_send(skb, p, &fw);
	return ret;
}

/* Endpoint -> client: the reply's source back to VIP:port (and a hairpin's destination). */
XVIP_INLINE int reply(struct __sk_buff *skb, struct cursor *c, struct xvip_pkt *p, int *action)
{
	const struct xvip_cfg *cfg = xvip_cfg_get();
	struct xvip_addr vip, dst = p->flow.daddr;
	struct xvip_rnat_val rvc;
	struct fwd fw;
	__be16 vport;
	__u8 flags;
	int err;

	if (!cfg || parse_ports(c, p))
		return XVIP_STAT_PASS;
	if (!rnat_lookup(cfg, &p->flow, &rvc))
		return XVIP_STAT_PASS;
	vip = rvc.vip;
	vport = rvc.vport;
	flags = rvc.flags;
	/* The client was the endpoint itself: back to it. */
	if (flags & XVIP_RNAT_F_HAIRPIN)
		dst = p->flow.saddr;
	if (fwd_lookup(skb, p, &vip, &dst, &fw))
		return XVIP_STAT_PASS;	/* too big or TTL out: the stack tells the pod */
	err = skb_nat_port(skb, p, false, p->flow.sport, vport);
	err = err ?: skb_nat_addr(skb, p, false, &p->flow.saddr, &vip);
	if (!err && (flags & XVIP_RNAT_F_HAIRPIN))
		err = skb_nat_addr(skb, p, true, &p->flow.daddr, &dst);
	if (err)
		return err;
	if (p->frag == XVIP_FRAG_FIRST) {
		struct xvip_frag_key fk;

		/* Its later fragments follow this translation. */
		lb_frag_key(&fk, p);
		bpf_map_update_elem(&xvip_rfrag, &fk, &rvc, BPF_ANY);
	}
	*action = fwd_send(skb, p, &fw);
	return XVIP_STAT_RNAT;
}

/* A later fragment of a reply: the source its first fragment got; no ports here. */
XVIP_INLINE int reply_later_frag(struct __sk_buff *skb, struct xvip_pkt *p, int *action)
{
	struct xvip_rnat_val *rv;
	struct xvip_addr vip, dst = p->flow.daddr;
	struct xvip_frag_key fk;
	struct fwd fw;
	__u8 flags;
	int err;

	lb_frag_key(&fk, p);
	rv = bpf_map_lookup_elem(&xvip_rfrag, &fk);
	if (!rv)
		return XVIP_STAT_PASS;
	vip = rv->vip;
	flags = rv->flags;
	if (flags & XVIP_RNAT_F_HAIRPIN)
		dst = p->flow.saddr;
	if (fwd_lookup(skb, p, &vip, &dst, &fw))
		return XVIP_STAT_PASS;
	p->flow.proto = 0;	/* no L4 header to fix */
	err = skb_nat_addr(skb, p, false, &p->flow.saddr, &vip);
	if (!err && (flags & XVIP_RNAT_F_HAIRPIN))
		err = skb_nat_addr(skb, p, true, &p->flow.daddr, &dst);
	if (err)
		return err;
	*action = fwd_send(skb, p, &fw);
	return XVIP_STAT_RNAT;
}

struct icmp_quote {
	__u32 icmp_off;		/* ICMP header */
	__u32 ip_off;		/* quoted IP header */
	__u32 l4_off;		/* quoted L4 header */
};

/*
 * An ICMP error from an endpoint about a balanced flow (port unreachable,
 * fragmentation needed on the pod's link...): it quotes client -> pod:port;
 * the client must see it from the VIP, quoting client -> VIP:port.
 */
XVIP_INLINE int icmp_reply_v4(struct __sk_buff *skb, struct xvip_pkt *p, int *action)
{
	struct icmp_quote q = { .icmp_off = p->l4_off, .ip_off = p->l4_off + 8,
				.l4_off = p->l4_off + 8 + 20 };
	__u32 icsum = q.icmp_off + offsetof(struct icmphdr, checksum);
	const struct xvip_cfg *cfg = xvip_cfg_get();
	struct xvip_flow rk = {};
	struct xvip_rnat_val *rv, rvc;
	struct xvip_addr vip, pod = p->flow.saddr;
	struct fwd fw;
	struct iphdr in;
	__be16 ports[4];
	__u16 old_check, new_check;
	__u8 type;

	if (bpf_skb_load_bytes(skb, q.icmp_off, &type, 1) || !(type == 3 || type == 11 ||
							       type == 12))
		return XVIP_STAT_PASS;
	if (bpf_skb_load_bytes(skb, q.ip_off, &in, sizeof(in)) || in.ihl != 5 ||
	    bpf_skb_load_bytes(skb, q.l4_off, ports, sizeof(ports)))
		return XVIP_STAT_PASS;
	/* Quoted: client:cport -> pod:tport. The reply key runs the other way. */
	addr_set_v4(&rk.saddr, in.daddr);
	addr_set_v4(&rk.daddr, in.saddr);
	rk.sport = ports[1];
	rk.dport = ports[0];
	rk.proto = in.protocol;
	if (rk.saddr.a[3] != pod.a[3])
		return XVIP_STAT_PASS;
	if (!cfg || !rnat_lookup(cfg, &rk, &rvc))
		return XVIP_STAT_PASS;
	rv = &rvc;
	vip = rv->vip;
	p->flow.proto = IPPROTO_ICMP;
	if (fwd_lookup(skb, p, &vip, &p->flow.daddr, &fw))
		return XVIP_STAT_PASS;

	/* Quoted UDP checksum (inside the 8 quoted bytes) covers address and port. */
	if (in.protocol == IPPROTO_UDP && ports[3]) {
		__u16 c = ports[3];

		csum_replace4(&c, in.daddr, vip.a[3]);
		csum_replace2(&c, ports[1], rv->vport);
		if (!c)
			c = 0xffff;
		if (bpf_l4_csum_replace(skb, icsum, ports[3], c, 2) ||
		    bpf_skb_store_bytes(skb, q.l4_off + 6, &c, 2, 0))
			return -XVIP_DROP_TRUNCATED;
	}
	if (bpf_l4_csum_replace(skb, icsum, ports[1], rv->vport, 2) ||
	    bpf_skb_store_bytes(skb, q.l4_off + 2, &rv->vport, 2, 0))
		return -XVIP_DROP_TRUNCATED;
	old_check = in.check;
	new_check = in.check;
	csum_replace4(&new_check, in.daddr, vip.a[3]);
	if (bpf_l4_csum_replace(skb, icsum, in.daddr, vip.a[3], 4) ||
	    bpf_l4_csum_replace(skb, icsum, old_check, new_check, 2) ||
	    bpf_skb_store_bytes(skb, q.ip_off + offsetof(struct iphdr, daddr), &vip.a[3], 4, 0) ||
	    bpf_skb_store_bytes(skb, q.ip_off + offsetof(struct iphdr, check), &new_check, 2, 0))
		return -XVIP_DROP_TRUNCATED;
	/* Outer source: ICMPv4 has no pseudo-header, so only the IP checksum. */
	if (skb_nat_addr(skb, p, false, &pod, &vip))
		return -XVIP_DROP_TRUNCATED;
	*action = fwd_send(skb, p, &fw);
	return XVIP_STAT_ICMP_XLATE;
}

XVIP_INLINE bool icmp6_error(__u8 type)
{
	return type >= 1 && type <= 4;	/* unreachable, too big, time exceeded, parameter */
}

/* The same for ICMPv6, whose checksum also covers the outer addresses. */
XVIP_INLINE int icmp_reply_v6(struct __sk_buff *skb, struct xvip_pkt *p, int *action)
{
	__u32 ip_off = p->l4_off + 8, l4_off = p->l4_off + 8 + 40;
	__u32 icsum = p->l4_off + 2;
	const struct xvip_cfg *cfg = xvip_cfg_get();
	struct xvip_flow rk = {};
	struct xvip_rnat_val *rv, rvc;
	struct xvip_addr vip, pod = p->flow.saddr;
	struct ipv6hdr in;
	struct fwd fw;
	__be16 ports[4], vport;
	__s64 diff;
	__u8 type;

	if (bpf_skb_load_bytes(skb, p->l4_off, &type, 1) || !icmp6_error(type))
		return XVIP_STAT_PASS;
	if (bpf_skb_load_bytes(skb, ip_off, &in, sizeof(in)) ||
	    bpf_skb_load_bytes(skb, l4_off, ports, sizeof(ports)))
		return XVIP_STAT_PASS;
	/* Quoted: client:cport -> pod:tport (quoted extension headers are not followed). */
	__builtin_memcpy(&rk.saddr, &in.daddr, sizeof(rk.saddr));
	__builtin_memcpy(&rk.daddr, &in.saddr, sizeof(rk.daddr));
	rk.sport = ports[1];
	rk.dport = ports[0];
	rk.proto = in.nexthdr;
	if (!addr_eq(&rk.saddr, &pod))
		return XVIP_STAT_PASS;
	if (!cfg || !rnat_lookup(cfg, &rk, &rvc))
		return XVIP_STAT_PASS;
	rv = &rvc;
	vip = rv->vip;
	vport = rv->vport;
	if (fwd_lookup(skb, p, &vip, &p->flow.daddr, &fw))
		return XVIP_STAT_PASS;

	diff = bpf_csum_diff((__be32 *)&pod, 16, (__be32 *)&vip, 16, 0);
	if (diff < 0)
		return -XVIP_DROP_TRUNCATED;
	if (in.nexthdr == IPPROTO_UDP && ports[3]) {
		__u16 c = ports[3];
		__u32 sum = (__u16)~c;

		/* the quoted UDP checksum covers the quoted destination and port */
		sum = csum_add(sum, (__u32)diff);
		c = csum_fold(sum);
		csum_replace2(&c, ports[1], vport);
		if (!c)
			c = 0xffff;
		if (bpf_l4_csum_replace(skb, icsum, ports[3], c, 2) ||
		    bpf_skb_store_bytes(skb, l4_off + 6, &c, 2, 0))
			return -XVIP_DROP_TRUNCATED;
	}
	if (bpf_l4_csum_replace(skb, icsum, ports[1], vport, 2) ||
	    bpf_skb_store_bytes(skb, l4_off + 2, &vport, 2, 0) ||
	    bpf_l4_csum_replace(skb, icsum, 0, (__u32)diff, 0) ||
	    bpf_skb_store_bytes(skb, ip_off + offsetof(struct ipv6hdr, daddr), &vip, 16, 0))
		return -XVIP_DROP_TRUNCATED;
	/* Outer source, through the pseudo-header. */
	if (skb_nat_addr(skb, p, false, &pod, &vip))
		return -XVIP_DROP_TRUNCATED;
	*action = fwd_send(skb, p, &fw);
	return XVIP_STAT_ICMP_XLATE;
}

/* Returns an XVIP_STAT_* (with *action set) or a drop. */
XVIP_INLINE int process(struct __sk_buff *skb, int *action)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	struct xvip_vip_val *vip;
	struct xvip_pkt p = {};
	__be16 h_proto;
	int l4;

	if (parse_eth(&c, &h_proto))
		return XVIP_STAT_PASS;
	if (h_proto == bpf_htons(ETH_P_IP))
		l4 = parse_ipv4(&c, data, &p);
	else if (h_proto == bpf_htons(ETH_P_IPV6))
		l4 = parse_ipv6(&c, data, &p);
	else
		return XVIP_STAT_PASS;
	if (l4 == -XVIP_STAT_UNPARSED)
		return XVIP_STAT_PASS;

	vip = vip_maybe(&p.flow.daddr) ? bpf_map_lookup_elem(&xvip_vip, &p.flow.daddr) : NULL;
	if (vip)
		return l4 < 0 ? l4 : east_west(skb, &c, &p, vip, action);
	if (l4 < 0)
		return XVIP_STAT_PASS;
	if (p.frag == XVIP_FRAG_LATER)
		return reply_later_frag(skb, &p, action);
	if (l4 == IPPROTO_ICMP && !p.ipv6)
		return icmp_reply_v4(skb, &p, action);
	if (l4 == IPPROTO_ICMPV6 && p.ipv6)
		return icmp_reply_v6(skb, &p, action);
	if (l4 != IPPROTO_TCP && l4 != IPPROTO_UDP && l4 != IPPROTO_SCTP)
		return XVIP_STAT_PASS;
	return reply(skb, &c, &p, action);
}

SEC("tc")
int xvip_tc_pod(struct __sk_buff *skb)
{
	int action = TC_ACT_OK;
	int ret = process(skb, &action);

	/* Packets that are not ours are the common case here: leave them uncounted. */
	if (ret == XVIP_STAT_PASS)
		return TC_ACT_OK;
	if (ret < 0) {
		xvip_count(&xvip_stats, -ret, skb->len);
		return TC_ACT_SHOT;
	}
	xvip_count(&xvip_stats, ret, skb->len);
	return action;
}

char LICENSE[] SEC("license") = "GPL";
