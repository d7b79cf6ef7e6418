/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The load-balancing core, shared by every hook: conntrack lookup, source
 * ranges, session affinity, Maglev pick for new flows, conntrack and
 * reverse-NAT insert, fragment steering. It decides; the hook rewrites the
 * packet its own way (direct writes in XDP, skb helpers in tc).
 */
#ifndef XVIP_BPF_LB_H
#define XVIP_BPF_LB_H

#include "common.h"
#include "maps.h"
#include "parse.h"
#include "ct.h"

struct xvip_lb_result {
	struct xvip_backend *be;
	const struct xvip_cfg *cfg;
	__u64 now;		/* xvip_now() */
	__u32 hash;		/* the flow's seeded hash: table bucket and Maglev slot */
	__u32 be_id;
	__u32 svc_id;
	__u8 hairpin;		/* the client is the chosen endpoint itself */
};

/* Clock, config and flow hash for a packet about to be balanced; false: not loaded. */
XVIP_INLINE bool lb_init(struct xvip_lb_result *res, const struct xvip_flow *flow)
{
	res->cfg = xvip_cfg_get();
	if (!res->cfg)
		return false;
	res->now = xvip_now();
	res->hash = xvip_flow_hash(flow, res->cfg->hash_seed);
	return true;
}

XVIP_INLINE bool lb_be_valid(const struct xvip_backend *be, __u32 svc_id)
{
	return be && be->state != XVIP_BE_UNUSED && be->svc_id == svc_id;
}

XVIP_INLINE bool addr_eq(const struct xvip_addr *a, const struct xvip_addr *b)
{
	return a->a[0] == b->a[0] && a->a[1] == b->a[1] && a->a[2] == b->a[2] &&
	       a->a[3] == b->a[3];
}

XVIP_INLINE void lb_hairpin_addr(struct xvip_addr *a, bool v6)
{
	if (v6) {
		const __u8 h6[16] = XVIP_HAIRPIN_V6;

		__builtin_memcpy(a, h6, sizeof(*a));
	} else {
		addr_set_v4(a, bpf_htonl(XVIP_HAIRPIN_V4));
	}
}

XVIP_INLINE bool addr_is_v4(const struct xvip_addr *a)
{
	return a->a[0] == 0 && a->a[1] == 0 && a->a[2] == bpf_htonl(0x0000ffff);
}

/*
 * Resolve a backend a conntrack, fragment or ICMP lookup named; true when it
 * still exists for the same service (ids are reused only long after).
 */
XVIP_INLINE bool lb_resolve(struct xvip_lb_result *res, __u32 be_id, __u32 svc_id)
{
	res->be_id = be_id;
	res->svc_id = svc_id;
	res->be = bpf_map_lookup_elem(&xvip_be, &res->be_id);
	return lb_be_valid(res->be, svc_id);
}

/* Maglev: the backend in svc_id's table for this hash. */
XVIP_INLINE int lb_maglev(__u32 svc_id, __u32 hash, struct xvip_lb_result *res)
{
	__u32 *size, *be_id, idx = 0;
	void *table;

	table = bpf_map_lookup_elem(&xvip_maglev_v2, &svc_id);
	if (!table)
		return -XVIP_DROP_NO_BACKEND;
	size = bpf_map_lookup_elem(table, &idx);
	if (!size || !*size)
		return -XVIP_DROP_NO_BACKEND;
	idx = hash % *size + XVIP_MAGLEV_HDR;
	be_id = bpf_map_lookup_elem(table, &idx);
	if (!be_id)
		return -XVIP_DROP_NO_TABLE;
	res->svc_id = svc_id;
	res->be_id = *be_id;
	res->be = bpf_map_lookup_elem(&xvip_be, be_id);
	if (!lb_be_valid(res->be, svc_id))
		return -XVIP_DROP_NO_TABLE;
	return XVIP_STAT_LB_NEW;
}

/*
 * sessionAffinity ClientIP: a client keeps its endpoint for affinity_s
 * seconds after its last new flow, as long as that endpoint is still of
 * the class the table balances to (ready, else serving).
 */
XVIP_INLINE int lb_affinity(const struct xvip_flow *flow, const struct xvip_svc_val *svc,
			    struct xvip_lb_result *res, __u64 now)
{
	struct xvip_affinity_key ak = { .client = flow->saddr, .svc_id = svc->id };
	struct xvip_affinity_val av = { .backend_id = res->be_id, .seen_ns = now };
	struct xvip_affinity_val *cur;
	struct xvip_backend *be;
	int ret = XVIP_STAT_LB_NEW;

	cur = bpf_map_lookup_elem(&xvip_affinity, &ak);
	/* signed: another CPU's clock may be a tick ahead of this one's (xvip_now) */
	if (cur && (__s64)(now - cur->seen_ns) < (__s64)svc->affinity_s * (__s64)NSEC_PER_SEC) {
		be = bpf_map_lookup_elem(&xvip_be, &cur->backend_id);
		if (lb_be_valid(be, svc->id) && be->state == res->be->state) {
			res->be = be;
			res->be_id = cur->backend_id;
			av.backend_id = cur->backend_id;
			ret = XVIP_STAT_AFFINITY;
		}
	}
	bpf_map_update_elem(&xvip_affinity, &ak, &av, BPF_ANY);
	return ret;
}

XVIP_INLINE int lb_new_flow(const struct xvip_flow *flow, struct xvip_lb_result *res)
{
	struct xvip_svc_key skey = {};
	struct xvip_svc_val *svc;
	int ret;

	skey.vip = flow->daddr;
	skey.port = flow->dport;
	skey.proto = flow->proto;
	svc = bpf_map_lookup_elem(&xvip_svc, &skey);
	if (!svc)
		return -XVIP_DROP_UNSERVED;
	if (svc->flags & XVIP_SVC_F_SRC_RANGES) {
		struct xvip_srcrange_key rk = {
			.prefixlen = 32 + 128,
			.svc_id = bpf_htonl(svc->id),
			.addr = flow->saddr,
		};

		if (!bpf_map_lookup_elem(&xvip_srcrange, &rk))
			return -XVIP_DROP_SRC_RANGE;
	}
	ret = lb_maglev(svc->id, res->hash, res);
	if (ret < 0)
		return ret;
	if (svc->flags & XVIP_SVC_F_AFFINITY)
		ret = lb_affinity(flow, svc, res, res->now);
	return ret;
}

/* Reverse-NAT key: the reply as it leaves the endpoint, towards the client. */
XVIP_INLINE void lb_rnat_key(struct xvip_flow *rk, const struct xvip_flow *flow,
			     const struct xvip_backend *be, bool hairpin)
{
	rk->saddr = be->addr;
	if (hairpin)
		lb_hairpin_addr(&rk->daddr, !addr_is_v4(&be->addr));
	else
		rk->daddr = flow->saddr;
	rk->sport = be->port;
	rk->dport = flow->sport;
	rk->proto = flow->proto;
	rk->pad[0] = rk->pad[1] = rk->pad[2] = 0;
}

XVIP_INLINE int lb_rnat_refresh(const struct xvip_flow *flow, const struct xvip_lb_result *res)
{
	struct xvip_rnat_val rv = {
		.vip = flow->daddr,
		.vport = flow->dport,
		.flags = res->hairpin ? XVIP_RNAT_F_HAIRPIN : 0,
		.svc_id = res->svc_id,
	};
	struct xvip_flow rk;

	lb_rnat_key(&rk, flow, res->be, res->hairpin);
	return rnat_insert(res->cfg, &rk, &rv, res->now);
}

/* Conntrack and reverse NAT for a flow just balanced. */
XVIP_INLINE int lb_record(const struct xvip_flow *flow, const struct xvip_lb_result *res)
{
	if (lb_rnat_refresh(flow, res))
		return -1;
	return ct_insert(res->cfg, flow, res->hash, res->be_id, res->svc_id, res->now);
}

/*
 * An established flow keeps its endpoint while it exists for the same
 * service; false sends the flow to Maglev again (a flow whose endpoint is
 * gone then gets a RST from the new one rather than silence).
 */
XVIP_INLINE bool lb_established(const struct xvip_flow *flow, struct xvip_lb_result *res)
{
	__u64 *seen, created;
	__u32 be_id, svc_id;

	seen = ct_lookup(res->cfg, flow, res->hash, &be_id, &svc_id, &created);
	if (!seen || !lb_resolve(res, be_id, svc_id))
		return false;
	res->hairpin = addr_eq(&res->be->addr, &flow->saddr);
	/*
	 * The clock moves once a tick, so this is one write a tick at most:
	 * recent enough for the table to replace the way seen longest ago.
	 * The reverse-NAT entry is written again each 2^30 ns of the flow's
	 * life, so one a flood of new flows pushed out comes back within
	 * about a second instead of breaking the flow.
	 */
	if (*seen != res->now) {
		if ((res->now - created) >> 30 != (*seen - created) >> 30)
			lb_rnat_refresh(flow, res);
		*seen = res->now;
	}
	return true;
}

XVIP_INLINE void lb_frag_key(struct xvip_frag_key *fk, const struct xvip_pkt *p)
{
	fk->saddr = p->flow.saddr;
	fk->daddr = p->flow.daddr;
	fk->id = p->frag_id;
	fk->proto = p->flow.proto;
	fk->pad[0] = fk->pad[1] = fk->pad[2] = 0;
}

/* A flow conntrack does not know: Maglev (or affinity) picks, conntrack records. */
XVIP_INLINE int lb_balance_new(const struct xvip_flow *flow, struct xvip_lb_result *res)
{
	int ret = lb_new_flow(flow, res);

	if (ret < 0)
		return ret;
	res->hairpin = addr_eq(&res->be->addr, &flow->saddr);
	if (lb_record(flow, res))
		xvip_count(&xvip_stats, XVIP_STAT_CT_FAIL, 0);
	return ret;
}

/*
 * Pick the backend for a packet to a VIP: the conntrack entry's, else
 * Maglev's. The first fragment of a datagram whose later fragments came
 * first follows them. Returns an XVIP_STAT_* or a negative drop reason.
 */
XVIP_INLINE int lb_pick(const struct xvip_pkt *p, struct xvip_lb_result *res)
{
	const struct xvip_flow *flow = &p->flow;
	struct xvip_frag_val *fv = NULL;
	struct xvip_frag_key fk;
	int ret;

	if (!lb_init(res, flow))
		return -XVIP_DROP_NO_TABLE;
	if (unlikely(p->frag == XVIP_FRAG_FIRST)) {
		lb_frag_key(&fk, p);
		fv = bpf_map_lookup_elem(&xvip_frag, &fk);
		if (fv) {
			if (!lb_resolve(res, fv->backend_id, fv->svc_id))
				return -XVIP_DROP_FRAGMENT;
			res->hairpin = addr_eq(&res->be->addr, &flow->saddr);
			lb_record(flow, res);
			return XVIP_STAT_LB_NEW;
		}
	}
	if (lb_established(flow, res)) {
		ret = XVIP_STAT_LB_CT;
		goto frag;
	}
	ret = lb_balance_new(flow, res);
	if (ret < 0)
		return ret;
frag:
	if (unlikely(p->frag == XVIP_FRAG_FIRST)) {
		struct xvip_frag_val nv = { .backend_id = res->be_id, .svc_id = res->svc_id };

		bpf_map_update_elem(&xvip_frag, &fk, &nv, BPF_ANY);
	}
	return ret;
}

/*
 * A later fragment (no L4 header): the backend its datagram's first
 * fragment went to; or, when it arrives first, the backend chosen now for
 * the whole datagram from the VIP's one service of that protocol (the
 * first fragment follows it when it comes).
 */
XVIP_INLINE int lb_pick_later_frag(const struct xvip_pkt *p, const struct xvip_vip_val *vip,
				   struct xvip_lb_result *res)
{
	struct xvip_frag_val *fv, nv;
	struct xvip_frag_key fk;
	struct xvip_flow f;
	__u32 svc;
	int ret;

	lb_frag_key(&fk, p);
	fv = bpf_map_lookup_elem(&xvip_frag, &fk);
	if (fv) {
		if (!lb_resolve(res, fv->backend_id, fv->svc_id))
			return -XVIP_DROP_FRAGMENT;
		return XVIP_STAT_FRAG;
	}
	svc = p->flow.proto == IPPROTO_UDP ? vip->frag_svc_udp :
	      p->flow.proto == IPPROTO_TCP ? vip->frag_svc_tcp : 0;
	if (!svc)
		return -XVIP_DROP_FRAGMENT;
	res->cfg = xvip_cfg_get();
	if (!res->cfg)
		return -XVIP_DROP_NO_TABLE;
	f = p->flow;
	f.sport = 0;
	f.dport = 0;
	ret = lb_maglev(svc - 1, xvip_flow_hash(&f, res->cfg->hash_seed), res);
	if (ret < 0)
		return ret;
	nv.backend_id = res->be_id;
	nv.svc_id = res->svc_id;
	bpf_map_update_elem(&xvip_frag, &fk, &nv, BPF_ANY);
	return XVIP_STAT_FRAG_EARLY;
}

#endif
