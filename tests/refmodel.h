/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * A userspace reference model of the XDP and tc programs, for the packet
 * fuzzer (tests/test_pktfuzz.c). Written from the contract (DESIGN.md, the
 * map layouts and drop reasons in include/xvip.h), not from bpf/: it parses
 * the frame itself, looks the packet up in its own copy of the programmed
 * maps and its own conntrack, reverse-NAT, fragment and affinity tables, and
 * says what must come out: the action, the counter bumped, the whole output
 * frame, the conntrack and reverse-NAT entries written.
 *
 * Covered:
 *  - XDP on the uplink: everything (pass, unparsed, every drop reason,
 *    balancing with conntrack, Maglev, source ranges, session affinity,
 *    fragments in any order, ICMP errors about balanced flows);
 *  - tc on a pod interface: pod to VIP (hairpin included), replies, ICMP
 *    errors from pods, for a namespace without routes: the FIB lookup
 *    misses, so translated packets go to the stack (TC_ACT_OK) with their
 *    TTL and MACs untouched. The FIB hit (redirect, TTL, MACs) and "too big"
 *    paths are fixtures in tests/test_bpf.c.
 * Assumed (the fuzzer keeps them true): conntrack and the other LRU maps
 * never evict (the fuzzer clears both sides long before they fill); a
 * sessionAffinity timeout > 0 never expires within a run (the fuzzer uses
 * hours); backends have the family of their VIP.
 *
 * Checksums are judged, not copied: the bytes of a checksum field are left
 * out of the byte-for-byte comparison, and instead, recomputed from scratch
 * over input and output, the one's-complement sum of everything the field
 * covers must be the same (a valid checksum stays valid; a wrong one stays
 * exactly as wrong); a UDP checksum of 0 ("none") stays 0 where the hook
 * must keep it so, and a UDP checksum that was set never becomes 0.
 */
#ifndef XVIP_REFMODEL_H
#define XVIP_REFMODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "xvip.h"
#include "xvip_hash.h"

#define RM_PKT_MAX	4096
#define RM_IDS		64	/* service and backend ids the fuzzer programs */
#define RM_MAX_VIPS	8
#define RM_MAX_SVCS	32
#define RM_MAX_SRC	16
#define RM_RING		512

enum rm_hook { RM_XDP = 0, RM_TC = 1 };

/* ------------------------------------------------------------------ */
/* Byte access: the model reads the frame as bytes, in network order. */

static inline uint16_t rm_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rm_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void rm_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void rm_addr4(struct xvip_addr *a, const uint8_t *p)
{
	memset(a, 0, sizeof(*a));
	((uint8_t *)a)[10] = 0xff;
	((uint8_t *)a)[11] = 0xff;
	memcpy(&a->a[3], p, 4);
}

static inline void rm_addr6(struct xvip_addr *a, const uint8_t *p)
{
	memcpy(a, p, 16);
}

static inline bool rm_addr_eq(const struct xvip_addr *a, const struct xvip_addr *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static inline bool rm_addr_is_v4(const struct xvip_addr *a)
{
	static const uint8_t pfx[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(a, pfx, 12);
}

/* 169.254.42.1 or fd78:7669:70::1: the source a hairpinned flow carries. */
static inline void rm_hairpin_addr(struct xvip_addr *a, bool v6)
{
	static const uint8_t h6[16] = XVIP_HAIRPIN_V6;
	uint8_t h4[4] = { 169, 254, 42, 1 };

	if (v6)
		memcpy(a, h6, 16);
	else
		rm_addr4(a, h4);
}

/* ------------------------------------------------------------------ */
/* One's-complement sums, computed from scratch over bytes. */

static inline uint32_t rm_sum(const uint8_t *p, size_t n, uint32_t acc)
{
	uint64_t s = acc;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/* Folded to 16 bits, with the two zeros of one's complement made one. */
static inline uint16_t rm_norm(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff ? 0 : (uint16_t)s;
}

/*
 * The value a checksum field must take when the words it covers change
 * from old[] to new[] (RFC 1624 eqn. 3), for a field whose coverage the
 * model cannot see whole: the UDP checksum quoted in an ICMP error.
 */
static inline uint16_t rm_csum_adjust(uint16_t field, const uint8_t *old, const uint8_t *new,
				      size_t n)
{
	uint32_t s = (uint16_t)~field;

	for (size_t i = 0; i + 1 < n; i += 2) {
		s += (uint16_t)~(old[i] << 8 | old[i + 1]);
		s += (uint32_t)(new[i] << 8 | new[i + 1]);
	}
	return (uint16_t)~rm_norm(s);
}

/* ------------------------------------------------------------------ */
/* A small open-addressing table for the model's conntrack & co. */

struct rm_tab {
	size_t klen, vlen, cap, n;
	uint8_t *slots;		/* per slot: used byte, key, value */
};

static inline int rm_tab_init(struct rm_tab *t, size_t klen, size_t vlen, size_t cap)
{
	t->klen = klen;
	t->vlen = vlen;
	t->cap = cap;
	t->n = 0;
	t->slots = calloc(cap, 1 + klen + vlen);
	return t->slots ? 0 : -1;
}

static inline void rm_tab_free(struct rm_tab *t)
{
	free(t->slots);
	t->slots = NULL;
}

static inline void rm_tab_clear(struct rm_tab *t)
{
	memset(t->slots, 0, t->cap * (1 + t->klen + t->vlen));
	t->n = 0;
}

static inline uint8_t *rm_tab_slot(const struct rm_tab *t, const void *key, bool *found)
{
	uint64_t h = 1469598103934665603ull;
	size_t sz = 1 + t->klen + t->vlen;

	for (size_t i = 0; i < t->klen; i++)
		h = (h ^ ((const uint8_t *)key)[i]) * 1099511628211ull;
	for (size_t i = 0; i < t->cap; i++) {
		uint8_t *s = t->slots + ((h + i) % t->cap) * sz;

		if (!s[0] || !memcmp(s + 1, key, t->klen)) {
			*found = s[0];
			return s;
		}
	}
	*found = false;
	return NULL;
}

static inline void *rm_tab_get(const struct rm_tab *t, const void *key)
{
	bool found;
	uint8_t *s = rm_tab_slot(t, key, &found);

	return found ? s + 1 + t->klen : NULL;
}

static inline int rm_tab_put(struct rm_tab *t, const void *key, const void *val)
{
	bool found;
	uint8_t *s = rm_tab_slot(t, key, &found);

	if (!s)
		return -1;
	if (!found) {
		s[0] = 1;
		memcpy(s + 1, key, t->klen);
		t->n++;
	}
	memcpy(s + 1 + t->klen, val, t->vlen);
	return 0;
}

/* ------------------------------------------------------------------ */
/* The programmed maps, as the fuzzer wrote them. */

struct rm_config {
	struct {
		struct xvip_addr addr;
		struct xvip_vip_val v;
	} vips[RM_MAX_VIPS];
	int nvips;
	struct {
		struct xvip_svc_key k;
		struct xvip_svc_val v;
	} svcs[RM_MAX_SVCS];
	int nsvcs;
	uint32_t table_size[RM_IDS];	/* by service id; 0: no table */
	uint32_t *table[RM_IDS];
	struct xvip_backend be[RM_IDS];	/* by backend id; others are unused */
	struct {
		uint32_t svc_id;
		struct xvip_addr addr;	/* masked */
		uint8_t plen;		/* over the 128-bit mapped address */
	} src[RM_MAX_SRC];
	int nsrc;
};

struct rm_counts {
	uint64_t packets, bytes;
};

struct rm {
	struct rm_config cfg;
	uint32_t hash_seed;	/* the dataplane's xvip_cfg.hash_seed */
	struct rm_tab ct;	/* xvip_flow -> struct rm_ctv */
	struct rm_tab rnat;	/* xvip_flow -> struct xvip_rnat_val */
	struct rm_tab frag;	/* xvip_frag_key -> struct xvip_frag_val */
	struct rm_tab rfrag;	/* xvip_frag_key -> struct xvip_rnat_val (pods' fragmented replies) */
	struct rm_tab aff;	/* xvip_affinity_key -> backend id */
	struct rm_counts stats[XVIP_STAT_MAX];
	struct rm_counts svc_stats[RM_IDS], be_stats[RM_IDS];
	/* Recent flows, for the generator: replies and ICMP errors about them. */
	struct xvip_flow ct_ring[RM_RING], rnat_ring[RM_RING];
	unsigned int ct_ring_n, rnat_ring_n;
};

struct rm_ctv {
	uint32_t backend_id, svc_id;
};

static inline int rm_init(struct rm *m)
{
	memset(m, 0, sizeof(*m));
	if (rm_tab_init(&m->ct, sizeof(struct xvip_flow), sizeof(struct rm_ctv), 1 << 15) ||
	    rm_tab_init(&m->rnat, sizeof(struct xvip_flow), sizeof(struct xvip_rnat_val), 1 << 15) ||
	    rm_tab_init(&m->frag, sizeof(struct xvip_frag_key), sizeof(struct xvip_frag_val),
			1 << 14) ||
	    rm_tab_init(&m->rfrag, sizeof(struct xvip_frag_key), sizeof(struct xvip_rnat_val),
			1 << 14) ||
	    rm_tab_init(&m->aff, sizeof(struct xvip_affinity_key), sizeof(uint32_t), 1 << 12))
		return -1;
	return 0;
}

static inline void rm_fini(struct rm *m)
{
	rm_tab_free(&m->ct);
	rm_tab_free(&m->rnat);
	rm_tab_free(&m->frag);
	rm_tab_free(&m->rfrag);
	rm_tab_free(&m->aff);
	for (int i = 0; i < RM_IDS; i++)
		free(m->cfg.table[i]);
}

/* Forget every flow (the fuzzer clears the datapath's LRU maps at the same time). */
static inline void rm_reset_flows(struct rm *m)
{
	rm_tab_clear(&m->ct);
	rm_tab_clear(&m->rnat);
	rm_tab_clear(&m->frag);
	rm_tab_clear(&m->rfrag);
	rm_tab_clear(&m->aff);
	m->ct_ring_n = m->rnat_ring_n = 0;
}

static inline size_t rm_flows(const struct rm *m)
{
	size_t n = m->ct.n;

	if (m->rnat.n > n)
		n = m->rnat.n;
	if (m->frag.n > n)
		n = m->frag.n;
	return n > m->aff.n ? n : m->aff.n;
}

static inline const struct xvip_vip_val *rm_vip(const struct rm *m, const struct xvip_addr *a)
{
	for (int i = 0; i < m->cfg.nvips; i++)
		if (rm_addr_eq(&m->cfg.vips[i].addr, a))
			return &m->cfg.vips[i].v;
	return NULL;
}

static inline const struct xvip_svc_val *rm_svc(const struct rm *m, const struct xvip_addr *vip,
						uint16_t port_be, uint8_t proto)
{
	for (int i = 0; i < m->cfg.nsvcs; i++) {
		const struct xvip_svc_key *k = &m->cfg.svcs[i].k;

		if (rm_addr_eq(&k->vip, vip) && k->port == port_be && k->proto == proto)
			return &m->cfg.svcs[i].v;
	}
	return NULL;
}

/* The backend array: ids the fuzzer never wrote read as unused; past the end, nothing. */
static inline const struct xvip_backend *rm_be(const struct rm *m, uint32_t id)
{
	static const struct xvip_backend unused;

	if (id >= XVIP_MAX_BACKENDS)
		return NULL;
	return id < RM_IDS ? &m->cfg.be[id] : &unused;
}

/* May a packet of service svc go to backend id? (conntrack, affinity, fragments, tables) */
static inline bool rm_be_ok(const struct rm *m, uint32_t id, uint32_t svc)
{
	const struct xvip_backend *be = rm_be(m, id);

	return be && be->state != XVIP_BE_UNUSED && be->svc_id == svc;
}

static inline bool rm_src_allowed(const struct rm *m, uint32_t svc, const struct xvip_addr *a)
{
	for (int i = 0; i < m->cfg.nsrc; i++) {
		const uint8_t *p = (const uint8_t *)&m->cfg.src[i].addr, *q = (const uint8_t *)a;
		unsigned int plen = m->cfg.src[i].plen, b;

		if (m->cfg.src[i].svc_id != svc)
			continue;
		for (b = 0; b < plen; b++)
			if ((p[b / 8] ^ q[b / 8]) & (0x80 >> (b % 8)))
				break;
		if (b == plen)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* What the model expects. */

enum rm_ck_kind {
	RM_CK_SUM,	/* a plain sum over [start, start+len): IPv4 header, ICMPv4 */
	RM_CK_PSEUDO,	/* the same plus a pseudo-header: TCP, UDP, ICMPv6 */
	RM_CK_QUOTED,	/* a quoted UDP checksum: must equal `want` */
};

struct rm_ck {
	uint8_t kind;
	bool v6;
	bool udp;		/* a set UDP checksum never becomes 0 */
	bool zero_stays;	/* a UDP checksum of 0 must stay 0 */
	uint8_t proto;		/* pseudo-header next header */
	uint32_t field;		/* offset of the 16-bit field */
	uint32_t start, len;	/* bytes covered */
	uint32_t saddr, daddr;	/* pseudo-header address offsets */
	uint16_t want;		/* RM_CK_QUOTED */
	const char *what;
};

struct rm_result {
	int action;		/* XDP_* or TC_ACT_* */
	int stat;		/* xvip_stats index counted, or -1 (tc leaves passes uncounted) */
	int extra_stat;		/* a second counter (tc hairpin), or -1 */
	bool count_objs;	/* svc_stats[svc_id] and be_stats[be_id] counted */
	uint32_t svc_id, be_id;
	uint8_t out[RM_PKT_MAX];
	uint32_t len;
	struct rm_ck ck[8];
	int nck;
	/* Map writes the datapath must have made, for the fuzzer to read back. */
	bool recorded;
	struct xvip_flow ct_key, rnat_key;
	struct rm_ctv ct_val;
	struct xvip_rnat_val rnat_val;
	bool frag_put;
	struct xvip_frag_key frag_key;
	struct xvip_frag_val frag_val;
	char path[128];		/* how the model decided, for the report */
};

/* ------------------------------------------------------------------ */
/* Parsing the frame: what the datapath can know about it. */

enum { RM_FRAG_NONE = 0, RM_FRAG_FIRST = 1, RM_FRAG_LATER = 2 };

struct rm_ip {
	int fam;		/* 4, 6, or 0: not IP (after at most two VLAN tags) */
	bool unparsed;		/* too short for Ethernet, a tag, or the fixed IP header */
	int err;		/* 0, or the XVIP_DROP_* a malformed IP layer earns */
	uint32_t l3, l4;
	struct xvip_addr src, dst;
	uint8_t proto;		/* IPv4 protocol, or the last IPv6 next header */
	int frag;
	uint32_t frag_id;
};

static inline bool rm_v6_ext(uint8_t nh)
{
	return nh == 0 /* hop-by-hop */ || nh == 43 /* routing */ || nh == 60 /* dst opts */ ||
	       nh == 44 /* fragment */;
}

static inline void rm_parse(const uint8_t *pkt, uint32_t len, struct rm_ip *ip)
{
	uint32_t pos = 14;
	uint16_t type;

	memset(ip, 0, sizeof(*ip));
	if (len < 14) {
		ip->unparsed = true;
		return;
	}
	type = rm_be16(pkt + 12);
	for (int i = 0; i < XVIP_VLAN_MAX && (type == 0x8100 || type == 0x88a8); i++) {
		if (pos + 4 > len) {
			ip->unparsed = true;
			return;
		}
		type = rm_be16(pkt + pos + 2);
		pos += 4;
	}
	ip->l3 = pos;
	if (type == 0x0800) {
		const uint8_t *h = pkt + pos;
		uint32_t hlen;
		uint16_t fo;

		ip->fam = 4;
		if (pos + 20 > len) {
			ip->unparsed = true;
			return;
		}
		rm_addr4(&ip->src, h + 12);
		rm_addr4(&ip->dst, h + 16);
		ip->proto = h[9];
		ip->frag_id = rm_be16(h + 4);
		fo = rm_be16(h + 6);
		if (fo & 0x1fff)
			ip->frag = RM_FRAG_LATER;
		else if (fo & 0x2000)
			ip->frag = RM_FRAG_FIRST;
		hlen = (h[0] & 0xfu) * 4;
		if (hlen < 20 || h[0] >> 4 != 4 || pos + hlen > len)
			ip->err = XVIP_DROP_BAD_IP;
		ip->l4 = pos + hlen;
	} else if (type == 0x86dd) {
		const uint8_t *h = pkt + pos;
		uint8_t nh;
		bool stop = false;

		ip->fam = 6;
		if (pos + 40 > len) {
			ip->unparsed = true;
			return;
		}
		rm_addr6(&ip->src, h + 8);
		rm_addr6(&ip->dst, h + 24);
		nh = h[6];
		pos += 40;
		for (int i = 0; i < XVIP_IPV6_EXT_MAX && !stop; i++) {
			if (nh == 44) {
				uint16_t fo;

				if (pos + 8 > len) {
					ip->err = XVIP_DROP_TRUNCATED;
					return;
				}
				fo = rm_be16(pkt + pos + 2);
				ip->frag_id = rm_be32(pkt + pos + 4);
				nh = pkt[pos];
				pos += 8;
				if (fo & 0xfff8) {
					ip->frag = RM_FRAG_LATER;
					stop = true;	/* what follows is not a header */
				} else if (fo & 1) {
					ip->frag = RM_FRAG_FIRST;
				}
			} else if (rm_v6_ext(nh)) {
				if (pos + 2 > len) {
					ip->err = XVIP_DROP_TRUNCATED;
					return;
				}
				nh = pkt[pos];
				pos += (pkt[pos + 1] + 1u) * 8;
			} else {
				stop = true;
			}
		}
		if (!stop && rm_v6_ext(nh)) {
			ip->err = XVIP_DROP_EXT_HDRS;
			return;
		}
		if (pos > len) {
			ip->err = XVIP_DROP_TRUNCATED;
			return;
		}
		ip->proto = nh;
		ip->l4 = pos;
	}
}

/*
 * Bytes of L4 a checksum covers: what the IP header declares, or what the
 * frame holds when the declared length is inconsistent (past the frame, or
 * too short for the `min` bytes the datapath rewrites).
 */
static inline uint32_t rm_l4_len(const uint8_t *pkt, uint32_t len, const struct rm_ip *ip,
				 uint32_t min)
{
	uint32_t end = ip->fam == 4 ? ip->l3 + rm_be16(pkt + ip->l3 + 2)
				    : ip->l3 + 40 + rm_be16(pkt + ip->l3 + 4);

	if (end >= ip->l4 + min && end <= len)
		return end - ip->l4;
	return len - ip->l4;
}

static inline void rm_flow(const struct rm_ip *ip, uint16_t sport_be, uint16_t dport_be,
			   struct xvip_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->saddr = ip->src;
	f->daddr = ip->dst;
	f->sport = sport_be;
	f->dport = dport_be;
	f->proto = ip->proto;
}

/* ------------------------------------------------------------------ */
/* Result helpers. */

static inline void rm_path(struct rm_result *r, const char *fmt, const char *detail)
{
	snprintf(r->path, sizeof(r->path), fmt, detail);
}

static inline void rm_ck_add(struct rm_result *r, const struct rm_ck *ck)
{
	if (r->nck < (int)(sizeof(r->ck) / sizeof(r->ck[0])))
		r->ck[r->nck++] = *ck;
}

static inline void rm_ck_ip4(struct rm_result *r, uint32_t l3, const char *what)
{
	struct rm_ck ck = { .kind = RM_CK_SUM, .field = l3 + 10, .start = l3,
			    .len = (r->out[l3] & 0xfu) * 4u, .what = what };

	rm_ck_add(r, &ck);
}

/* TCP/UDP/ICMPv6 checksum of the packet's own L4, with its pseudo-header. */
static inline void rm_ck_l4(struct rm_result *r, const uint8_t *pkt, uint32_t len,
			    const struct rm_ip *ip, bool zero_stays, const char *what)
{
	struct rm_ck ck = { .kind = RM_CK_PSEUDO, .v6 = ip->fam == 6, .proto = ip->proto,
			    .start = ip->l4, .what = what };

	/* TCP and UDP headers, or an ICMPv6 error up to the quoted ports. */
	ck.len = rm_l4_len(pkt, len, ip, ip->proto == IPPROTO_TCP ? 20 :
					 ip->proto == IPPROTO_UDP ? 8 : 8 + 40 + 8);
	ck.saddr = ip->l3 + (ip->fam == 6 ? 8 : 12);
	ck.daddr = ip->l3 + (ip->fam == 6 ? 24 : 16);
	ck.udp = ip->proto == IPPROTO_UDP;
	ck.zero_stays = ck.udp && zero_stays;
	ck.field = ip->l4 + (ip->proto == IPPROTO_TCP ? 16 : ip->proto == IPPROTO_UDP ? 6 : 2);
	rm_ck_add(r, &ck);
}

static inline void rm_drop(struct rm_result *r, enum rm_hook hook, int reason, const char *why)
{
	r->action = hook == RM_XDP ? XDP_DROP : TC_ACT_SHOT;
	r->stat = reason;
	rm_path(r, "drop: %s", why);
}

static inline void rm_write_addr(struct rm_result *r, const struct rm_ip *ip, bool dst,
				 const struct xvip_addr *a)
{
	if (ip->fam == 4)
		memcpy(r->out + ip->l3 + (dst ? 16 : 12), &a->a[3], 4);
	else
		memcpy(r->out + ip->l3 + (dst ? 24 : 8), a, 16);
}

/* ------------------------------------------------------------------ */
/* Load balancing: the decisions both hooks share. */

struct rm_pick {
	uint32_t be_id, svc_id;
	const struct xvip_backend *be;
	bool hairpin;
};

static inline void rm_ring_push(struct xvip_flow *ring, unsigned int *n, const struct xvip_flow *f)
{
	ring[*n % RM_RING] = *f;
	(*n)++;
}

static inline void rm_frag_key(const struct rm_ip *ip, struct xvip_frag_key *k)
{
	memset(k, 0, sizeof(*k));
	k->saddr = ip->src;
	k->daddr = ip->dst;
	k->id = ip->frag_id;
	k->proto = ip->proto;
}

/* A balanced flow leaves a conntrack entry and the key its replies will carry. */
static inline void rm_record(struct rm *m, const struct xvip_flow *f, const struct rm_pick *pk,
			     struct rm_result *r)
{
	struct xvip_flow rk = { 0 };
	struct xvip_rnat_val rv = { 0 };
	struct rm_ctv cv = { pk->be_id, pk->svc_id };

	rk.saddr = pk->be->addr;
	if (pk->hairpin)
		rm_hairpin_addr(&rk.daddr, !rm_addr_is_v4(&pk->be->addr));
	else
		rk.daddr = f->saddr;
	rk.sport = pk->be->port;
	rk.dport = f->sport;
	rk.proto = f->proto;
	rv.vip = f->daddr;
	rv.vport = f->dport;
	rv.flags = pk->hairpin ? XVIP_RNAT_F_HAIRPIN : 0;
	rv.svc_id = pk->svc_id;
	rm_tab_put(&m->rnat, &rk, &rv);
	rm_tab_put(&m->ct, f, &cv);
	rm_ring_push(m->ct_ring, &m->ct_ring_n, f);
	rm_ring_push(m->rnat_ring, &m->rnat_ring_n, &rk);
	r->recorded = true;
	r->ct_key = *f;
	r->ct_val = cv;
	r->rnat_key = rk;
	r->rnat_val = rv;
}

/* Maglev: slot hash % M of the service's table, if it names a backend of that service. */
static inline int rm_maglev(const struct rm *m, uint32_t svc, uint32_t hash, struct rm_pick *pk)
{
	uint32_t id;

	if (svc >= RM_IDS || !m->cfg.table_size[svc])
		return -XVIP_DROP_NO_BACKEND;
	id = m->cfg.table[svc][hash % m->cfg.table_size[svc]];
	if (!rm_be_ok(m, id, svc))
		return -XVIP_DROP_NO_TABLE;
	pk->be_id = id;
	pk->svc_id = svc;
	pk->be = rm_be(m, id);
	return XVIP_STAT_LB_NEW;
}

static inline int rm_new_flow(struct rm *m, const struct xvip_flow *f, struct rm_pick *pk)
{
	const struct xvip_svc_val *svc = rm_svc(m, &f->daddr, f->dport, f->proto);
	int ret;

	if (!svc)
		return -XVIP_DROP_UNSERVED;
	if ((svc->flags & XVIP_SVC_F_SRC_RANGES) && !rm_src_allowed(m, svc->id, &f->saddr))
		return -XVIP_DROP_SRC_RANGE;
	ret = rm_maglev(m, svc->id, xvip_flow_hash(f, m->hash_seed), pk);
	if (ret < 0 || !(svc->flags & XVIP_SVC_F_AFFINITY))
		return ret;

	/* sessionAffinity: the client's last endpoint, if still of the class the table picks. */
	struct xvip_affinity_key ak = { .client = f->saddr, .svc_id = svc->id };
	const uint32_t *cur = rm_tab_get(&m->aff, &ak);

	if (cur && svc->affinity_s > 0 && rm_be_ok(m, *cur, svc->id) &&
	    rm_be(m, *cur)->state == pk->be->state) {
		pk->be_id = *cur;
		pk->be = rm_be(m, *cur);
		ret = XVIP_STAT_AFFINITY;
	}
	rm_tab_put(&m->aff, &ak, &pk->be_id);
	return ret;
}

/* A packet with ports, to a VIP. */
static inline int rm_lb(struct rm *m, const struct rm_ip *ip, const struct xvip_flow *f,
			struct rm_pick *pk, struct rm_result *r)
{
	const struct rm_ctv *ct;
	struct xvip_frag_key fk;
	int ret;

	rm_frag_key(ip, &fk);
	if (ip->frag == RM_FRAG_FIRST) {
		const struct xvip_frag_val *fv = rm_tab_get(&m->frag, &fk);

		/* Later fragments came first: this one follows them. */
		if (fv) {
			if (!rm_be_ok(m, fv->backend_id, fv->svc_id))
				return -XVIP_DROP_FRAGMENT;
			pk->be_id = fv->backend_id;
			pk->svc_id = fv->svc_id;
			pk->be = rm_be(m, pk->be_id);
			pk->hairpin = rm_addr_eq(&pk->be->addr, &f->saddr);
			rm_record(m, f, pk, r);
			return XVIP_STAT_LB_NEW;
		}
	}
	ct = rm_tab_get(&m->ct, f);
	if (ct && rm_be_ok(m, ct->backend_id, ct->svc_id)) {
		pk->be_id = ct->backend_id;
		pk->svc_id = ct->svc_id;
		pk->be = rm_be(m, pk->be_id);
		pk->hairpin = rm_addr_eq(&pk->be->addr, &f->saddr);
		ret = XVIP_STAT_LB_CT;
	} else {
		/* New, or its backend is gone: balanced (again). */
		ret = rm_new_flow(m, f, pk);
		if (ret < 0)
			return ret;
		pk->hairpin = rm_addr_eq(&pk->be->addr, &f->saddr);
		rm_record(m, f, pk, r);
	}
	if (ip->frag == RM_FRAG_FIRST) {
		struct xvip_frag_val nv = { pk->be_id, pk->svc_id };

		rm_tab_put(&m->frag, &fk, &nv);
		r->frag_put = true;
		r->frag_key = fk;
		r->frag_val = nv;
	}
	return ret;
}

/* A later fragment (no ports): its datagram's backend, or one chosen for it now. */
static inline int rm_lb_later(struct rm *m, const struct rm_ip *ip, const struct xvip_vip_val *vip,
			      struct rm_pick *pk, struct rm_result *r)
{
	struct xvip_frag_key fk;
	const struct xvip_frag_val *fv;
	struct xvip_flow f;
	uint32_t svc1;
	int ret;

	rm_frag_key(ip, &fk);
	fv = rm_tab_get(&m->frag, &fk);
	if (fv) {
		if (!rm_be_ok(m, fv->backend_id, fv->svc_id))
			return -XVIP_DROP_FRAGMENT;
		pk->be_id = fv->backend_id;
		pk->svc_id = fv->svc_id;
		pk->be = rm_be(m, pk->be_id);
		return XVIP_STAT_FRAG;
	}
	svc1 = ip->proto == IPPROTO_UDP ? vip->frag_svc_udp :
	       ip->proto == IPPROTO_TCP ? vip->frag_svc_tcp : 0;
	if (!svc1)
		return -XVIP_DROP_FRAGMENT;
	rm_flow(ip, 0, 0, &f);
	ret = rm_maglev(m, svc1 - 1, xvip_flow_hash(&f, m->hash_seed), pk);
	if (ret < 0)
		return ret;
	struct xvip_frag_val nv = { pk->be_id, pk->svc_id };

	rm_tab_put(&m->frag, &fk, &nv);
	r->frag_put = true;
	r->frag_key = fk;
	r->frag_val = nv;
	return XVIP_STAT_FRAG_EARLY;
}

/* TCP, UDP, SCTP: the fixed header the datapath needs, or the drop reason. */
static inline int rm_ports(const uint8_t *pkt, uint32_t len, const struct rm_ip *ip,
			   uint16_t *sport, uint16_t *dport)
{
	uint32_t need = ip->proto == IPPROTO_TCP ? 20 : ip->proto == IPPROTO_UDP ? 8 :
			ip->proto == IPPROTO_SCTP ? 12 : 0;

	if (!need)
		return -XVIP_DROP_PROTO;
	if (ip->l4 + need > len)
		return -XVIP_DROP_TRUNCATED;
	memcpy(sport, pkt + ip->l4, 2);
	memcpy(dport, pkt + ip->l4 + 2, 2);
	return 0;
}

/* ------------------------------------------------------------------ */
/* XDP on the uplink. */

static inline bool rm_icmp4_error(uint8_t t)
{
	return t == 3 || t == 11 || t == 12;
}

static inline bool rm_icmp6_error(uint8_t t)
{
	return t >= 1 && t <= 4;
}

/*
 * An ICMP error to a VIP quoting a reply of a balanced flow (VIP:port ->
 * client): to that flow's endpoint, the quote rewritten as the endpoint sent it.
 */
static inline int rm_xdp_icmp(struct rm *m, const uint8_t *pkt, uint32_t len,
			      const struct rm_ip *ip, struct rm_result *r, struct rm_pick *pk)
{
	bool v6 = ip->fam == 6;
	uint32_t l4 = ip->l4, in = l4 + 8, ihl = v6 ? 40 : 20, q = in + ihl;
	const struct rm_ctv *ct;
	struct xvip_flow f = { 0 };

	if (l4 + 8 > len)
		return -XVIP_DROP_TRUNCATED;
	if (!(v6 ? rm_icmp6_error(pkt[l4]) : rm_icmp4_error(pkt[l4])))
		return XVIP_STAT_VIP_ICMP;
	if (in + ihl > len)
		return -XVIP_DROP_TRUNCATED;
	if (!v6 && (pkt[in] & 0xf) != 5)
		return -XVIP_DROP_ICMP_UNKNOWN;
	if (q + 8 > len)
		return -XVIP_DROP_TRUNCATED;
	if (v6) {
		rm_addr6(&f.saddr, pkt + in + 24);
		rm_addr6(&f.daddr, pkt + in + 8);
		f.proto = pkt[in + 6];
	} else {
		rm_addr4(&f.saddr, pkt + in + 16);
		rm_addr4(&f.daddr, pkt + in + 12);
		f.proto = pkt[in + 9];
	}
	if (!rm_addr_eq(&f.daddr, &ip->dst))
		return -XVIP_DROP_ICMP_UNKNOWN;
	memcpy(&f.sport, pkt + q + 2, 2);
	memcpy(&f.dport, pkt + q, 2);
	ct = rm_tab_get(&m->ct, &f);
	if (!ct || !rm_be_ok(m, ct->backend_id, ct->svc_id))
		return -XVIP_DROP_ICMP_UNKNOWN;
	pk->be_id = ct->backend_id;
	pk->svc_id = ct->svc_id;
	pk->be = rm_be(m, pk->be_id);

	const uint8_t *vip = v6 ? (const uint8_t *)&ip->dst : (const uint8_t *)&ip->dst.a[3];
	const uint8_t *be = v6 ? (const uint8_t *)&pk->be->addr : (const uint8_t *)&pk->be->addr.a[3];
	size_t alen = v6 ? 16 : 4;
	uint16_t qsum = rm_be16(pkt + q + 6);

	/* The quoted UDP checksum covers the quoted source address and port. */
	if (f.proto == IPPROTO_UDP && (v6 || qsum)) {
		uint8_t o[18], n[18];
		struct rm_ck ck = { .kind = RM_CK_QUOTED, .udp = true, .field = q + 6,
				    .what = "quoted udp checksum" };

		memcpy(o, vip, alen);
		memcpy(o + alen, pkt + q, 2);
		memcpy(n, be, alen);
		memcpy(n + alen, &pk->be->port, 2);
		ck.want = rm_csum_adjust(qsum, o, n, alen + 2);
		rm_ck_add(r, &ck);
	}
	memcpy(r->out + q, &pk->be->port, 2);
	memcpy(r->out + in + (v6 ? 8 : 12), be, alen);
	rm_write_addr(r, ip, true, &pk->be->addr);
	if (v6) {
		rm_ck_l4(r, pkt, len, ip, false, "icmpv6 checksum");
	} else {
		struct rm_ck ck = { .kind = RM_CK_SUM, .field = l4 + 2, .start = l4,
				    .len = rm_l4_len(pkt, len, ip, 8 + 20 + 8),
				    .what = "icmp checksum" };

		rm_ck_add(r, &ck);
		rm_ck_ip4(r, in, "quoted ip header checksum");
		rm_ck_ip4(r, ip->l3, "ip header checksum");
	}
	return XVIP_STAT_ICMP_XLATE;
}

static inline void rm_xdp(struct rm *m, const uint8_t *pkt, uint32_t len, struct rm_result *r)
{
	const struct xvip_vip_val *vip;
	struct rm_pick pk = { 0 };
	struct rm_ip ip;
	uint16_t sport, dport;
	int ret;

	rm_parse(pkt, len, &ip);
	r->action = XDP_PASS;
	if (ip.unparsed) {
		r->stat = XVIP_STAT_UNPARSED;
		rm_path(r, "pass: %s", "too short to parse");
		return;
	}
	vip = ip.fam ? rm_vip(m, &ip.dst) : NULL;
	if (!vip) {
		r->stat = ip.fam && ip.err ? XVIP_STAT_UNPARSED : XVIP_STAT_PASS;
		rm_path(r, "pass: %s", ip.fam ? "not to a VIP" : "not IP");
		return;
	}
	/* From here on the packet is to a VIP: balanced or dropped, never passed blindly. */
	if (ip.err) {
		rm_drop(r, RM_XDP, ip.err, "malformed IP layer to a VIP");
		return;
	}
	if (ip.frag == RM_FRAG_LATER) {
		ret = rm_lb_later(m, &ip, vip, &pk, r);
		if (ret < 0) {
			rm_drop(r, RM_XDP, -ret, "later fragment not placed");
			return;
		}
		rm_write_addr(r, &ip, true, &pk.be->addr);
		if (ip.fam == 4)
			rm_ck_ip4(r, ip.l3, "ip header checksum");
		rm_path(r, "%s", ret == XVIP_STAT_FRAG ? "later fragment follows its first"
						      : "later fragment before its first");
		goto done;
	}
	if ((ip.fam == 4 && ip.proto == IPPROTO_ICMP) ||
	    (ip.fam == 6 && ip.proto == IPPROTO_ICMPV6)) {
		ret = rm_xdp_icmp(m, pkt, len, &ip, r, &pk);
		if (ret < 0) {
			memcpy(r->out, pkt, len);
			r->nck = 0;
			rm_drop(r, RM_XDP, -ret, "icmp to a VIP");
			return;
		}
		rm_path(r, "%s", ret == XVIP_STAT_VIP_ICMP ? "icmp (not an error) to a VIP passed"
							  : "icmp error sent to the flow's endpoint");
		goto done;
	}
	ret = rm_ports(pkt, len, &ip, &sport, &dport);
	if (ret < 0) {
		rm_drop(r, RM_XDP, -ret, "no ports");
		return;
	}
	struct xvip_flow f;

	rm_flow(&ip, sport, dport, &f);
	ret = rm_lb(m, &ip, &f, &pk, r);
	if (ret < 0) {
		rm_drop(r, RM_XDP, -ret, "not balanced");
		return;
	}
	if (ip.proto == IPPROTO_SCTP) {
		/* CRC32c cannot be updated: the port must already be right. */
		if (pk.be->port != dport) {
			rm_drop(r, RM_XDP, XVIP_DROP_SCTP_PORT, "sctp port change");
			return;
		}
	} else {
		memcpy(r->out + ip.l4 + 2, &pk.be->port, 2);
		/* IPv4 UDP may carry no checksum (0); it stays 0. */
		rm_ck_l4(r, pkt, len, &ip, ip.fam == 4, "l4 checksum");
	}
	rm_write_addr(r, &ip, true, &pk.be->addr);
	if (ip.fam == 4)
		rm_ck_ip4(r, ip.l3, "ip header checksum");
	rm_path(r, "balanced (%s)", ret == XVIP_STAT_LB_CT ? "conntrack" :
				    ret == XVIP_STAT_AFFINITY ? "affinity" : "new flow");
done:
	r->stat = ret;
	if (pk.be) {
		r->count_objs = true;
		r->svc_id = pk.svc_id;
		r->be_id = pk.be_id;
	}
}

/* ------------------------------------------------------------------ */
/* tc on a pod's interface (FIB misses: see the top of the file). */

/* A pod's packet to a VIP. */
static inline void rm_tc_east_west(struct rm *m, const uint8_t *pkt, uint32_t len,
				   const struct rm_ip *ip, const struct xvip_vip_val *vip,
				   struct rm_result *r)
{
	struct rm_pick pk = { 0 };
	struct xvip_flow f;
	uint16_t sport, dport;
	int ret;

	if (ip->frag == RM_FRAG_LATER) {
		ret = rm_lb_later(m, ip, vip, &pk, r);
		if (ret < 0) {
			rm_drop(r, RM_TC, -ret, "later fragment not placed");
			return;
		}
		rm_write_addr(r, ip, true, &pk.be->addr);
		if (ip->fam == 4)
			rm_ck_ip4(r, ip->l3, "ip header checksum");
		r->stat = ret;
		rm_path(r, "%s", "pod's later fragment to a VIP");
		return;
	}
	if (ip->proto == IPPROTO_ICMP || ip->proto == IPPROTO_ICMPV6) {
		r->stat = XVIP_STAT_VIP_ICMP;
		rm_path(r, "%s", "pod's icmp to a VIP, to the stack");
		return;
	}
	ret = rm_ports(pkt, len, ip, &sport, &dport);
	if (ret < 0) {
		rm_drop(r, RM_TC, -ret, "no ports");
		return;
	}
	rm_flow(ip, sport, dport, &f);
	ret = rm_lb(m, ip, &f, &pk, r);
	if (ret < 0) {
		rm_drop(r, RM_TC, -ret, "not balanced");
		return;
	}
	if (pk.be->port != dport) {
		if (ip->proto == IPPROTO_SCTP) {
			rm_drop(r, RM_TC, XVIP_DROP_SCTP_PORT, "sctp port change");
			return;
		}
		memcpy(r->out + ip->l4 + 2, &pk.be->port, 2);
	}
	rm_write_addr(r, ip, true, &pk.be->addr);
	if (pk.hairpin) {
		/* The pod is its own endpoint: the reply must come back through the node. */
		struct xvip_addr h;

		rm_hairpin_addr(&h, ip->fam == 6);
		rm_write_addr(r, ip, false, &h);
		r->extra_stat = XVIP_STAT_HAIRPIN;
	}
	if (ip->proto != IPPROTO_SCTP)
		rm_ck_l4(r, pkt, len, ip, true, "l4 checksum");
	if (ip->fam == 4)
		rm_ck_ip4(r, ip->l3, "ip header checksum");
	r->stat = ret;
	r->count_objs = true;
	r->svc_id = pk.svc_id;
	r->be_id = pk.be_id;
	rm_path(r, "pod to VIP balanced%s", pk.hairpin ? ", hairpin" : "");
}

/* An endpoint's reply to a balanced flow: from VIP:port again. */
static inline void rm_tc_reply(struct rm *m, const uint8_t *pkt, uint32_t len,
			       const struct rm_ip *ip, struct rm_result *r)
{
	const struct xvip_rnat_val *rv;
	struct xvip_flow f;
	uint16_t sport, dport;

	if (rm_ports(pkt, len, ip, &sport, &dport)) {
		rm_path(r, "pass: %s", "reply without ports");
		return;
	}
	rm_flow(ip, sport, dport, &f);
	rv = rm_tab_get(&m->rnat, &f);
	if (!rv) {
		rm_path(r, "pass: %s", "not a reply of a balanced flow");
		return;
	}
	if (rv->vport != sport) {
		if (ip->proto == IPPROTO_SCTP) {
			rm_drop(r, RM_TC, XVIP_DROP_SCTP_PORT, "sctp reply port change");
			return;
		}
		memcpy(r->out + ip->l4, &rv->vport, 2);
	}
	rm_write_addr(r, ip, false, &rv->vip);
	if (rv->flags & XVIP_RNAT_F_HAIRPIN)
		rm_write_addr(r, ip, true, &ip->src);
	if (ip->frag == RM_FRAG_FIRST) {
		struct xvip_frag_key fk;

		/* Its later fragments follow this translation. */
		rm_frag_key(ip, &fk);
		rm_tab_put(&m->rfrag, &fk, rv);
	}
	if (ip->proto != IPPROTO_SCTP)
		rm_ck_l4(r, pkt, len, ip, true, "l4 checksum");
	if (ip->fam == 4)
		rm_ck_ip4(r, ip->l3, "ip header checksum");
	r->stat = XVIP_STAT_RNAT;
	rm_path(r, "reply translated to the VIP%s",
		(rv->flags & XVIP_RNAT_F_HAIRPIN) ? " (hairpin)" : "");
}

/* A later fragment of a pod's reply: the source its first fragment got, no ports. */
static inline void rm_tc_reply_later(struct rm *m, const struct rm_ip *ip, struct rm_result *r)
{
	const struct xvip_rnat_val *rv;
	struct xvip_frag_key fk;

	rm_frag_key(ip, &fk);
	rv = rm_tab_get(&m->rfrag, &fk);
	if (!rv) {
		rm_path(r, "pass: %s", "later fragment of no translated reply");
		return;
	}
	rm_write_addr(r, ip, false, &rv->vip);
	if (rv->flags & XVIP_RNAT_F_HAIRPIN)
		rm_write_addr(r, ip, true, &ip->src);
	if (ip->fam == 4)
		rm_ck_ip4(r, ip->l3, "ip header checksum");
	r->stat = XVIP_STAT_RNAT;
	rm_path(r, "%s", "later fragment of a reply translated to the VIP");
}

/* An endpoint's ICMP error about a balanced flow: from the VIP, quoting client -> VIP:port. */
static inline void rm_tc_icmp(struct rm *m, const uint8_t *pkt, uint32_t len,
			      const struct rm_ip *ip, struct rm_result *r)
{
	bool v6 = ip->fam == 6;
	uint32_t l4 = ip->l4, in = l4 + 8, ihl = v6 ? 40 : 20, q = in + ihl;
	const struct xvip_rnat_val *rv;
	struct xvip_flow k = { 0 };

	rm_path(r, "pass: %s", "icmp from a pod, not about a balanced flow");
	if (l4 + 1 > len || !(v6 ? rm_icmp6_error(pkt[l4]) : rm_icmp4_error(pkt[l4])))
		return;
	if (in + ihl > len || (!v6 && (pkt[in] & 0xf) != 5) || q + 8 > len)
		return;
	if (v6) {
		rm_addr6(&k.saddr, pkt + in + 24);
		rm_addr6(&k.daddr, pkt + in + 8);
		k.proto = pkt[in + 6];
	} else {
		rm_addr4(&k.saddr, pkt + in + 16);
		rm_addr4(&k.daddr, pkt + in + 12);
		k.proto = pkt[in + 9];
	}
	memcpy(&k.sport, pkt + q + 2, 2);
	memcpy(&k.dport, pkt + q, 2);
	if (!rm_addr_eq(&k.saddr, &ip->src))
		return;
	rv = rm_tab_get(&m->rnat, &k);
	if (!rv)
		return;

	const uint8_t *vip = v6 ? (const uint8_t *)&rv->vip : (const uint8_t *)&rv->vip.a[3];
	size_t alen = v6 ? 16 : 4;
	uint16_t qsum = rm_be16(pkt + q + 6);

	/* Quoted client -> pod:tport becomes client -> VIP:port (address, port, checksums). */
	if (k.proto == IPPROTO_UDP && qsum) {
		uint8_t o[18], n[18];
		struct rm_ck ck = { .kind = RM_CK_QUOTED, .udp = true, .field = q + 6,
				    .what = "quoted udp checksum" };

		memcpy(o, pkt + in + (v6 ? 24 : 16), alen);
		memcpy(o + alen, pkt + q + 2, 2);
		memcpy(n, vip, alen);
		memcpy(n + alen, &rv->vport, 2);
		ck.want = rm_csum_adjust(qsum, o, n, alen + 2);
		rm_ck_add(r, &ck);
	}
	memcpy(r->out + q + 2, &rv->vport, 2);
	memcpy(r->out + in + (v6 ? 24 : 16), vip, alen);
	rm_write_addr(r, ip, false, &rv->vip);
	if (v6) {
		rm_ck_l4(r, pkt, len, ip, false, "icmpv6 checksum");
	} else {
		struct rm_ck ck = { .kind = RM_CK_SUM, .field = l4 + 2, .start = l4,
				    .len = rm_l4_len(pkt, len, ip, 8 + 20 + 8),
				    .what = "icmp checksum" };

		rm_ck_add(r, &ck);
		rm_ck_ip4(r, in, "quoted ip header checksum");
		rm_ck_ip4(r, ip->l3, "ip header checksum");
	}
	r->stat = XVIP_STAT_ICMP_XLATE;
	rm_path(r, "%s", "pod's icmp error translated to come from the VIP");
}

static inline void rm_tc(struct rm *m, const uint8_t *pkt, uint32_t len, struct rm_result *r)
{
	const struct xvip_vip_val *vip;
	struct rm_ip ip;

	rm_parse(pkt, len, &ip);
	r->action = TC_ACT_OK;
	r->stat = -1;	/* packets that are not xvip's are the common case: uncounted */
	rm_path(r, "pass: %s", "not xvip's");
	if (ip.unparsed || !ip.fam)
		return;
	vip = rm_vip(m, &ip.dst);
	if (vip) {
		if (ip.err)
			rm_drop(r, RM_TC, ip.err, "malformed IP layer to a VIP");
		else
			rm_tc_east_west(m, pkt, len, &ip, vip, r);
		return;
	}
	if (ip.err)
		return;
	if (ip.frag == RM_FRAG_LATER) {
		rm_tc_reply_later(m, &ip, r);
		return;
	}
	if (ip.fam == 4 && ip.proto == IPPROTO_ICMP)
		rm_tc_icmp(m, pkt, len, &ip, r);
	else if (ip.fam == 6 && ip.proto == IPPROTO_ICMPV6)
		rm_tc_icmp(m, pkt, len, &ip, r);
	else if (ip.proto == IPPROTO_TCP || ip.proto == IPPROTO_UDP || ip.proto == IPPROTO_SCTP)
		rm_tc_reply(m, pkt, len, &ip, r);
}

/*
 * The model's verdict for one packet through one hook; updates the model's
 * flow tables and counters as the datapath must update its maps.
 */
static inline void rm_run(struct rm *m, enum rm_hook hook, const uint8_t *pkt, uint32_t len,
			  struct rm_result *r)
{
	memset(r, 0, offsetof(struct rm_result, out));
	r->stat = r->extra_stat = -1;
	r->nck = 0;
	r->recorded = r->frag_put = false;
	r->path[0] = '\0';
	memcpy(r->out, pkt, len);
	r->len = len;
	if (hook == RM_XDP)
		rm_xdp(m, pkt, len, r);
	else
		rm_tc(m, pkt, len, r);
	if (r->stat >= 0 && r->stat < XVIP_STAT_MAX) {
		m->stats[r->stat].packets++;
		m->stats[r->stat].bytes += len;
	}
	if (r->extra_stat >= 0) {
		m->stats[r->extra_stat].packets++;
		m->stats[r->extra_stat].bytes += len;
	}
	if (r->count_objs && r->svc_id < RM_IDS && r->be_id < RM_IDS) {
		m->svc_stats[r->svc_id].packets++;
		m->svc_stats[r->svc_id].bytes += len;
		m->be_stats[r->be_id].packets++;
		m->be_stats[r->be_id].bytes += len;
	}
}

/* ------------------------------------------------------------------ */
/* Judging the datapath's output against the model's. */

static inline uint16_t rm_ck_sum(const uint8_t *p, const struct rm_ck *ck)
{
	uint32_t s = 0;

	if (ck->kind == RM_CK_PSEUDO) {
		s = rm_sum(p + ck->saddr, ck->v6 ? 16 : 4, s);
		s = rm_sum(p + ck->daddr, ck->v6 ? 16 : 4, s);
		s += ck->proto;
		s += ck->len;
	}
	return rm_norm(rm_sum(p + ck->start, ck->len, s));
}

/*
 * 0 when out (the datapath's frame) is what the model expects of in; else
 * -1 with the first difference described in msg.
 */
static inline int rm_check(const struct rm_result *r, const uint8_t *in, const uint8_t *out,
			   uint32_t out_len, char *msg, size_t msglen)
{
	static uint8_t skip[RM_PKT_MAX];

	if (out_len != r->len) {
		snprintf(msg, msglen, "length %u, expected %u", out_len, r->len);
		return -1;
	}
	memset(skip, 0, r->len);
	for (int i = 0; i < r->nck; i++) {
		const struct rm_ck *ck = &r->ck[i];
		uint16_t fin = rm_be16(in + ck->field), fout = rm_be16(out + ck->field);

		if (ck->field + 2 > r->len || ck->start + ck->len > r->len) {
			snprintf(msg, msglen, "%s: model range outside the frame", ck->what);
			return -1;
		}
		skip[ck->field] = skip[ck->field + 1] = 1;
		if (ck->zero_stays && fin == 0) {
			if (fout != 0) {
				snprintf(msg, msglen, "%s at %u: 0 (none) became 0x%04x", ck->what,
					 ck->field, fout);
				return -1;
			}
			continue;
		}
		if (ck->udp && fout == 0) {
			snprintf(msg, msglen, "%s at %u: became 0 (none), was 0x%04x", ck->what,
				 ck->field, fin);
			return -1;
		}
		if (ck->kind == RM_CK_QUOTED) {
			if (rm_norm(fout) != rm_norm(ck->want)) {
				snprintf(msg, msglen, "%s at %u: 0x%04x, expected 0x%04x", ck->what,
					 ck->field, fout, ck->want);
				return -1;
			}
			continue;
		}
		uint16_t sin = rm_ck_sum(in, ck), sout = rm_ck_sum(out, ck);

		if (sin != sout) {
			snprintf(msg, msglen,
				 "%s at %u (0x%04x -> 0x%04x): sum over the covered bytes %s 0x%04x, "
				 "input had 0x%04x%s",
				 ck->what, ck->field, fin, fout, "is", sout, sin,
				 sin == 0 ? " (valid)" : "");
			return -1;
		}
	}
	for (uint32_t i = 0; i < r->len; i++) {
		if (!skip[i] && out[i] != r->out[i]) {
			snprintf(msg, msglen, "byte %u: 0x%02x, expected 0x%02x (input 0x%02x)", i,
				 out[i], r->out[i], in[i]);
			return -1;
		}
	}
	return 0;
}

#endif /* XVIP_REFMODEL_H */
