/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The load-balancing core, shared by every hook: conntrack lookup, Maglev
 * pick for new flows, conntrack and reverse-NAT insert. It decides; the
 * hook rewrites the packet its own way (direct writes in XDP, skb helpers
 * in tc).
 */
#ifndef XVIP_BPF_LB_H
#define XVIP_BPF_LB_H

#include "common.h"
#include "maps.h"

struct xvip_lb_result {
	struct xvip_backend *be;
	__u32 be_id;
	__u32 svc_id;
};

XVIP_INLINE int lb_new_flow(const struct xvip_flow *flow, struct xvip_lb_result *res)
{
	struct xvip_svc_key skey = {};
	struct xvip_svc_val *svc;
	__u32 *size, *be_id, idx = 0;
	void *table;

	skey.vip = flow->daddr;
	skey.port = flow->dport;
	skey.proto = flow->proto;
	svc = bpf_map_lookup_elem(&xvip_svc, &skey);
	if (!svc)
		return -XVIP_DROP_UNSERVED;
	res->svc_id = svc->id;

	table = bpf_map_lookup_elem(&xvip_maglev, &svc->id);
	if (!table)
		return -XVIP_DROP_NO_BACKEND;
	size = bpf_map_lookup_elem(table, &idx);
	if (!size || !*size)
		return -XVIP_DROP_NO_BACKEND;
	idx = xvip_flow_hash(flow) % *size + XVIP_MAGLEV_HDR;
	be_id = bpf_map_lookup_elem(table, &idx);
	if (!be_id)
		return -XVIP_DROP_NO_TABLE;
	res->be_id = *be_id;
	res->be = bpf_map_lookup_elem(&xvip_be, be_id);
	if (!res->be || res->be->state == XVIP_BE_UNUSED || res->be->svc_id != res->svc_id)
		return -XVIP_DROP_NO_TABLE;
	return XVIP_STAT_LB_NEW;
}

/* Reverse-NAT key: the reply as it leaves the endpoint, towards the client. */
XVIP_INLINE void lb_rnat_key(struct xvip_flow *rk, const struct xvip_flow *flow,
			     const struct xvip_backend *be)
{
	rk->saddr = be->addr;
	rk->daddr = flow->saddr;
	rk->sport = be->port;
	rk->dport = flow->sport;
	rk->proto = flow->proto;
	rk->pad[0] = rk->pad[1] = rk->pad[2] = 0;
}

XVIP_INLINE int lb_record(const struct xvip_flow *flow, const struct xvip_lb_result *res,
			  __u64 now)
{
	struct xvip_ct_val ct = {
		.backend_id = res->be_id,
		.svc_id = res->svc_id,
		.created_ns = now,
		.seen_ns = now,
	};
	struct xvip_rnat_val rv = {
		.vip = flow->daddr,
		.vport = flow->dport,
		.svc_id = res->svc_id,
	};
	struct xvip_flow rk;

	lb_rnat_key(&rk, flow, res->be);
	if (bpf_map_update_elem(&xvip_rnat, &rk, &rv, BPF_ANY))
		return -1;
	if (bpf_map_update_elem(&xvip_ct, flow, &ct, BPF_ANY))
		return -1;
	return 0;
}

/*
 * Pick the backend for a packet to a VIP. Established flows keep their
 * backend while it exists for the same service; a flow whose backend is
 * gone is balanced again (TCP then gets a RST from the new endpoint
 * rather than silence). Returns XVIP_STAT_LB_NEW, XVIP_STAT_LB_CT or a
 * negative drop reason.
 */
XVIP_INLINE int lb_pick(const struct xvip_flow *flow, struct xvip_lb_result *res)
{
	struct xvip_ct_val *ct;
	__u64 now = bpf_ktime_get_ns();
	int ret;

	ct = bpf_map_lookup_elem(&xvip_ct, flow);
	if (ct) {
		res->be_id = ct->backend_id;
		res->svc_id = ct->svc_id;
		res->be = bpf_map_lookup_elem(&xvip_be, &res->be_id);
		if (likely(res->be && res->be->state != XVIP_BE_UNUSED &&
			   res->be->svc_id == res->svc_id)) {
			/* One write a second at most: keeps the cache line shared. */
			if (now - ct->seen_ns > NSEC_PER_SEC)
				ct->seen_ns = now;
			return XVIP_STAT_LB_CT;
		}
	}
	ret = lb_new_flow(flow, res);
	if (ret < 0)
		return ret;
	if (lb_record(flow, res, now))
		xvip_count(&xvip_stats, XVIP_STAT_CT_FAIL, 0);
	return ret;
}

#endif
