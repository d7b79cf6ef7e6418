/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flow tables (conntrack and reverse NAT), the VIP filter and the
 * packet clock. Layouts and the slot protocol are described in
 * include/xvip.h, next to the structures.
 */
#ifndef XVIP_BPF_CT_H
#define XVIP_BPF_CT_H

#include "common.h"
#include "maps.h"

#define XVIP_READ_ONCE(x)	(*(volatile typeof(x) *)&(x))
#define XVIP_WRITE_ONCE(x, v)	(*(volatile typeof(x) *)&(x) = (v))
#define xvip_barrier()		asm volatile("" ::: "memory")

/*
 * CLOCK_MONOTONIC to the current jiffy. bpf_ktime_get_ns() costs about 35 ns
 * a call on this class of machine (README, building blocks) and a packet
 * needs time only to a second; bpf_jiffies64() is inlined to a load, so the
 * clock is read once per CPU per tick.
 */
XVIP_INLINE __u64 xvip_now(void)
{
	__u64 j = bpf_jiffies64();
	struct xvip_clock *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&xvip_clock, &zero);
	if (!c)
		return bpf_ktime_get_ns();
	if (c->jiffies != j) {
		c->jiffies = j;
		c->ns = bpf_ktime_get_ns();
	}
	return c->ns;
}

XVIP_INLINE const struct xvip_cfg *xvip_cfg_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xvip_cfg, &zero);
}

/* false: certainly not a VIP; true: look it up. */
XVIP_INLINE bool vip_maybe(const struct xvip_addr *a)
{
	__u32 bit = xvip_vip_bit(a);
	__u32 word = bit / 64;
	__u64 *w;

	w = bpf_map_lookup_elem(&xvip_vipbits, &word);
	return w && (*w >> (bit % 64)) & 1;
}

XVIP_INLINE bool flow_eq(const struct xvip_flow *a, const struct xvip_flow *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) |
		(x[4] ^ y[4])) == 0;
}

/*
 * The way of bucket b (a struct xvip_ct_bucket or xvip_rnat_bucket: same
 * meta line, 64-byte entries starting with the flow) holding flow k,
 * stable (even count) when looked at: its entry, *way and the count to
 * check again after copying the entry.
 */
XVIP_INLINE void *ft_find(struct xvip_ft_meta *m, const struct xvip_flow *k, __u32 tag,
			  __u32 *way, __u32 *seq)
{
#pragma unroll
	for (int i = 0; i < XVIP_FT_WAYS; i++) {
		struct xvip_flow *key = (void *)(m + 1) + i * 64;
		__u32 s;

		if (m->tag[i] != tag)
			continue;
		s = XVIP_READ_ONCE(m->seq[i]);
		xvip_barrier();
		if (!(s & 1) && flow_eq(key, k)) {
			*way = i;
			*seq = s;
			return key;
		}
	}
	return NULL;
}

/* True when way did not change while its entry was copied. */
XVIP_INLINE bool ft_stable(struct xvip_ft_meta *m, __u32 way, __u32 seq)
{
	xvip_barrier();
	return way < XVIP_FT_WAYS && XVIP_READ_ONCE(m->seq[way]) == seq;
}

/*
 * Claim the way for flow k: its own, else an empty one, else the one seen
 * longest ago. NULL when another CPU is writing that way right now (the
 * flow is balanced all the same; the caller counts a failed insert). The
 * caller fills the entry and hands it back with ft_publish().
 */
XVIP_INLINE void *ft_claim(struct xvip_ft_meta *m, const struct xvip_flow *k, __u32 tag,
			   __u64 now, __u32 *way, __u32 *seq)
{
	__u64 oldest = ~0ULL;
	__u32 victim = 0, s;

#pragma unroll
	for (int i = 0; i < XVIP_FT_WAYS; i++) {
		if (m->tag[i] == tag && flow_eq((void *)(m + 1) + i * 64, k)) {
			victim = i;
			break;
		}
		if (m->seen_ns[i] < oldest) {
			oldest = m->seen_ns[i];
			victim = i;
		}
	}
	victim &= XVIP_FT_WAYS - 1;
	s = XVIP_READ_ONCE(m->seq[victim]);
	if ((s & 1) || __sync_val_compare_and_swap(&m->seq[victim], s, s + 1) != s)
		return NULL;
	m->tag[victim] = tag;
	m->seen_ns[victim] = now;
	*way = victim;
	*seq = s + 2;
	return (void *)(m + 1) + victim * 64;
}

XVIP_INLINE void ft_publish(struct xvip_ft_meta *m, __u32 way, __u32 seq)
{
	xvip_barrier();
	if (way < XVIP_FT_WAYS)
		XVIP_WRITE_ONCE(m->seq[way], seq);
}

XVIP_INLINE struct xvip_ft_meta *ft_bucket(void *map, const struct xvip_cfg *cfg, __u32 hash)
{
	__u32 idx = hash & cfg->ct_mask;

	return bpf_map_lookup_elem(map, &idx);
}

/*
 * Conntrack hit for flow (hash: its seeded flow hash): endpoint and service,
 * and where its last-seen time is kept.
 */
XVIP_INLINE __u64 *ct_lookup(const struct xvip_cfg *cfg, const struct xvip_flow *flow,
			     __u32 hash, __u32 *be_id, __u32 *svc_id, __u64 *created_ns)
{
	struct xvip_ft_meta *m = ft_bucket(&xvip_ct_v2, cfg, hash);
	struct xvip_ct_entry *e;
	__u32 way, seq;

	if (!m)
		return NULL;
	e = ft_find(m, flow, hash, &way, &seq);
	if (!e)
		return NULL;
	*be_id = e->backend_id;
	*svc_id = e->svc_id;
	*created_ns = e->created_ns;
	return ft_stable(m, way, seq) ? &m->seen_ns[way & (XVIP_FT_WAYS - 1)] : NULL;
}

XVIP_INLINE int ct_insert(const struct xvip_cfg *cfg, const struct xvip_flow *flow, __u32 hash,
			  __u32 be_id, __u32 svc_id, __u64 now)
{
	struct xvip_ft_meta *m = ft_bucket(&xvip_ct_v2, cfg, hash);
	struct xvip_ct_entry *e;
	__u32 way, seq;

	if (!m)
		return -1;
	e = ft_claim(m, flow, hash, now, &way, &seq);
	if (!e)
		return -1;
	e->key = *flow;
	e->backend_id = be_id;
	e->svc_id = svc_id;
	e->created_ns = now;
	ft_publish(m, way, seq);
	return 0;
}

/* Reverse NAT for a reply leaving an endpoint (key: struct xvip_flow as it leaves). */
XVIP_INLINE bool rnat_lookup(const struct xvip_cfg *cfg, const struct xvip_flow *rk,
			     struct xvip_rnat_val *out)
{
	__u32 hash = xvip_flow_hash(rk, cfg->hash_seed), way, seq;
	struct xvip_ft_meta *m = ft_bucket(&xvip_rnat_v2, cfg, hash);
	struct xvip_rnat_entry *e;

	if (!m)
		return false;
	e = ft_find(m, rk, hash, &way, &seq);
	if (!e)
		return false;
	*out = e->val;
	return ft_stable(m, way, seq);
}

XVIP_INLINE int rnat_insert(const struct xvip_cfg *cfg, const struct xvip_flow *rk,
			    const struct xvip_rnat_val *v, __u64 now)
{
	__u32 hash = xvip_flow_hash(rk, cfg->hash_seed), way, seq;
	struct xvip_ft_meta *m = ft_bucket(&xvip_rnat_v2, cfg, hash);
	struct xvip_rnat_entry *e;

	if (!m)
		return -1;
	e = ft_claim(m, rk, hash, now, &way, &seq);
	if (!e)
		return -1;
	e->key = *rk;
	e->val = *v;
	ft_publish(m, way, seq);
	return 0;
}

#endif
