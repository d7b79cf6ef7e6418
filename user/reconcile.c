// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <arpa/inet.h>

#include "reconcile.h"
#include "maglev.h"
#include "nl.h"
#include "log.h"
#include "util.h"

/* ---- id pools: FIFO reuse, so a freed id (still named by old conntrack
 * entries until they age out) is handed out again as late as possible. */

static int pool_init(struct xvip_id_pool *p, uint32_t max)
{
	p->max = max;
	p->used = calloc(max, 1);
	p->ring = malloc(max * sizeof(*p->ring));
	if (!p->used || !p->ring)
		return -ENOMEM;
	p->head = 0;
	p->count = 0;
	for (uint32_t id = 1; id < max; id++)
		p->ring[p->count++] = id;
	return 0;
}

static void pool_fini(struct xvip_id_pool *p)
{
	free(p->used);
	free(p->ring);
	memset(p, 0, sizeof(*p));
}

static uint32_t pool_alloc(struct xvip_id_pool *p)
{
	while (p->count) {
		uint32_t id = p->ring[p->head];

		p->head = (p->head + 1) % p->max;
		p->count--;
		if (!p->used[id]) {	/* skip ids taken by adoption */
			p->used[id] = 1;
			return id;
		}
	}
	return 0;
}

static void pool_free(struct xvip_id_pool *p, uint32_t id)
{
	if (!id || id >= p->max || !p->used[id])
		return;
	p->used[id] = 0;
	p->ring[(p->head + p->count) % p->max] = id;
	p->count++;
}

static void pool_mark(struct xvip_id_pool *p, uint32_t id)
{
	if (id && id < p->max)
		p->used[id] = 1;
}

/*
 * After pool_mark: queue only the free ids. A marked id left in the ring would
 * come out first once freed (its old slot is near the head), and each free of
 * one would grow count past the ring's size and overwrite the head.
 */
static void pool_requeue(struct xvip_id_pool *p)
{
	p->head = 0;
	p->count = 0;
	for (uint32_t id = 1; id < p->max; id++)
		if (!p->used[id])
			p->ring[p->count++] = id;
}

/* ---- ordering, identical to the model's */

static int cmp_entry(const struct xvip_addr *va, uint16_t pa, uint8_t ra,
		     const struct xvip_addr *vb, uint16_t pb, uint8_t rb)
{
	int c = xvip_addr_cmp(va, vb);

	if (c)
		return c;
	if (pa != pb)
		return pa < pb ? -1 : 1;
	return ra < rb ? -1 : ra > rb;
}

static int cmp_rc_svc(const struct xvip_rc_svc *a, const struct xvip_rc_svc *b)
{
	return cmp_entry(&a->key.vip, ntohs(a->key.port), a->key.proto, &b->key.vip,
			 ntohs(b->key.port), b->key.proto);
}

static int qcmp_rc_svc(const void *a, const void *b)
{
	return cmp_rc_svc(a, b);
}

static int cmp_be(const struct xvip_rc_backend *a, const struct xvip_rc_backend *b)
{
	int c = xvip_addr_cmp(&a->addr, &b->addr);

	if (c)
		return c;
	return a->port < b->port ? -1 : a->port > b->port;
}

static int qcmp_be(const void *a, const void *b)
{
	return cmp_be(a, b);
}

static void svc_free(struct xvip_rc_svc *s)
{
	free(s->name);
	free(s->be);
	free(s->ranges);
	s->name = NULL;
	s->be = NULL;
	s->ranges = NULL;
	s->n = 0;
	s->nranges = 0;
}

static int cmp_cidr(const void *a, const void *b)
{
	const struct xvip_cidr *x = a, *y = b;
	int c = xvip_addr_cmp(&x->addr, &y->addr);

	return c ? c : (int)x->plen - (int)y->plen;
}

static bool has_range(const struct xvip_rc_svc *s, const struct xvip_cidr *c)
{
	return bsearch(c, s->ranges, s->nranges, sizeof(*c), cmp_cidr) != NULL;
}

static uint32_t svc_flags(const struct xvip_rc_svc *s)
{
	return (s->affinity_s ? XVIP_SVC_F_AFFINITY : 0) |
	       (s->nranges ? XVIP_SVC_F_SRC_RANGES : 0);
}

/*
 * Source ranges and the service value: new prefixes before the flags that
 * make the datapath consult them, stale ones after.
 */
static int program_svc_val(struct xvip_reconciler *rc, const struct xvip_rc_svc *cur,
			   const struct xvip_rc_svc *next, bool fresh)
{
	struct xvip_svc_val v = { .id = next->id, .flags = svc_flags(next),
				  .affinity_s = next->affinity_s };
	int ret;

	for (size_t i = 0; i < next->nranges; i++) {
		if (!fresh && has_range(cur, &next->ranges[i]))
			continue;
		ret = xvip_maps_srcrange_set(rc->maps, next->id, &next->ranges[i].addr,
					     next->ranges[i].plen);
		if (ret)
			return ret;
	}
	if (fresh || svc_flags(cur) != svc_flags(next) || cur->affinity_s != next->affinity_s) {
		ret = xvip_maps_svc_set(rc->maps, &next->key, &v);
		if (ret)
			return ret;
	}
	for (size_t i = 0; !fresh && i < cur->nranges; i++)
		if (!has_range(next, &cur->ranges[i]))
			xvip_maps_srcrange_del(rc->maps, cur->id, &cur->ranges[i].addr,
					       cur->ranges[i].plen);
	return 0;
}

static const char *svc_str(const struct xvip_rc_svc *s, char *buf, size_t len)
{
	return xvip_endpoint_str(&s->key.vip, ntohs(s->key.port), s->key.proto, buf, len);
}

/* Backends that take new flows: ready ones, else serving terminating ones. */
static uint8_t new_flow_state(const struct xvip_rc_svc *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->be[i].state == XVIP_BE_READY)
			return XVIP_BE_READY;
	return XVIP_BE_SERVING;
}

static bool has_ready(const struct xvip_rc_svc *s)
{
	return new_flow_state(s) == XVIP_BE_READY && s->n;
}

/* Should s's VIP be advertised on s's account? */
static bool wants_lo(const struct xvip_reconciler *rc, const struct xvip_rc_svc *s)
{
	return !rc->withdraw_reason && has_ready(s);
}

static bool same_new_flow_set(const struct xvip_rc_svc *a, const struct xvip_rc_svc *b)
{
	uint8_t sa = new_flow_state(a), sb = new_flow_state(b);
	size_t i = 0, j = 0;

	for (;;) {
		while (i < a->n && a->be[i].state != sa)
			i++;
		while (j < b->n && b->be[j].state != sb)
			j++;
		if (i == a->n || j == b->n)
			return i == a->n && j == b->n;
		if (a->be[i].id != b->be[j].id || a->be[i].weight != b->be[j].weight)
			return false;
		i++;
		j++;
	}
}

/*
 * New services' tables, filled during one pass and swapped in together after
 * it (stage_commit): each update of the outer map waits for an RCU grace
 * period in the kernel, so a table at a time makes a sync of 10,000 services
 * take minutes; one batch waits once. Their keys go in after the swap.
 */
struct stage {
	uint32_t *ids, *sizes;
	int *fds;
	size_t *next_idx, *model_idx;
	size_t n, cap;
};

static int stage_push(struct stage *st, uint32_t id, int fd, uint32_t size)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 256;
		uint32_t *ids = realloc(st->ids, cap * sizeof(*ids));
		uint32_t *sizes = ids ? realloc(st->sizes, cap * sizeof(*sizes)) : NULL;
		int *fds = sizes ? realloc(st->fds, cap * sizeof(*fds)) : NULL;
		size_t *ni = fds ? realloc(st->next_idx, cap * sizeof(*ni)) : NULL;
		size_t *mi = ni ? realloc(st->model_idx, cap * sizeof(*mi)) : NULL;

		st->ids = ids ? ids : st->ids;
		st->sizes = sizes ? sizes : st->sizes;
		st->fds = fds ? fds : st->fds;
		st->next_idx = ni ? ni : st->next_idx;
		st->model_idx = mi ? mi : st->model_idx;
		if (!mi)
			return -ENOMEM;
		st->cap = cap;
	}
	st->ids[st->n] = id;
	st->fds[st->n] = fd;
	st->sizes[st->n] = size;
	st->n++;
	return 0;
}

static void stage_free(struct stage *st)
{
	for (size_t i = 0; i < st->n; i++)
		close(st->fds[i]);
	free(st->ids);
	free(st->sizes);
	free(st->fds);
	free(st->next_idx);
	free(st->model_idx);
	memset(st, 0, sizeof(*st));
}

/*
 * Build and swap in s's Maglev table, or remove it when nothing takes new
 * flows. With stage, a new table is only filled and left there for stage_commit.
 */
static int program_table(struct xvip_reconciler *rc, struct xvip_rc_svc *s, struct stage *stage)
{
	struct xvip_maglev_backend *mb;
	uint8_t st = new_flow_state(s);
	uint32_t *table = NULL, m;
	size_t n = 0;
	int ret;

	mb = calloc(s->n ? s->n : 1, sizeof(*mb));
	if (!mb)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		if (s->be[i].state != st)
			continue;
		mb[n].id = s->be[i].id;
		mb[n].weight = s->be[i].weight ? s->be[i].weight : 1;
		/* address and port: the identity that must keep its slots */
		mb[n].key = &s->be[i].addr;
		mb[n].keylen = sizeof(s->be[i].addr) + sizeof(s->be[i].port);
		n++;
	}
	if (!n) {
		ret = xvip_maps_maglev_del(rc->maps, s->id);
		if (!ret)
			s->table_size = 0;
		goto out;
	}
	m = xvip_maglev_size_for(n, rc->maglev_max);
	table = malloc(m * sizeof(*table));
	if (!table) {
		ret = -ENOMEM;
		goto out;
	}
	ret = xvip_maglev_build(mb, n, m, table);
	if (!ret && stage) {
		int fd;

		ret = xvip_maps_maglev_prepare(rc->maps, table, m, &fd);
		if (!ret && stage_push(stage, s->id, fd, m)) {
			close(fd);
			ret = -ENOMEM;
		}
		goto out;
	}
	ret = ret ?: xvip_maps_maglev_swap(rc->maps, s->id, table, m);
	if (!ret) {
		s->table_size = m;
		rc->last.tables_swapped++;
	}
out:
	free(table);
	free(mb);
	return ret;
}

static int write_backend(struct xvip_reconciler *rc, const struct xvip_rc_svc *s,
			 const struct xvip_rc_backend *b)
{
	struct xvip_backend be = {
		.addr = b->addr,
		.port = htons(b->port),
		.state = b->state,
		.svc_id = s->id,
	};

	return xvip_maps_be_set(rc->maps, b->id, &be);
}

static void remove_svc(struct xvip_reconciler *rc, struct xvip_rc_svc *s)
{
	char buf[XVIP_EPSTRLEN];
	int ret;

	/* Key first: from here no packet reaches the table or the backends. */
	ret = xvip_maps_svc_del(rc->maps, &s->key);
	ret = ret ?: xvip_maps_maglev_del(rc->maps, s->id);
	for (size_t i = 0; i < s->nranges && !ret; i++)
		ret = xvip_maps_srcrange_del(rc->maps, s->id, &s->ranges[i].addr,
					     s->ranges[i].plen);
	for (size_t i = 0; i < s->n && !ret; i++) {
		ret = xvip_maps_be_clear(rc->maps, s->be[i].id);
		pool_free(&rc->be_ids, s->be[i].id);
	}
	if (ret) {
		log_err("remove service %s (%s): %s (%d)", svc_str(s, buf, sizeof(buf)),
			s->name ? s->name : "?", strerror(-ret), ret);
		rc->last.errors++;
	} else {
		log_info("service %s (%s) removed", svc_str(s, buf, sizeof(buf)),
			 s->name ? s->name : "?");
	}
	pool_free(&rc->svc_ids, s->id);
	rc->last.svcs_removed++;
	svc_free(s);
}

/*
 * Bring cur (programmed; may be an empty new entry with id 0) to des.
 * On failure cur is left as it was programmed before and the error returned.
 */
static int update_svc(struct xvip_reconciler *rc, struct xvip_rc_svc *cur,
		      const struct xvip_model_svc *des_m, const struct xvip_rc_svc *des,
		      struct stage *st)
{
	struct xvip_rc_svc next = *des;
	size_t i = 0, j = 0, k = 0, nremoved = 0, staged;
	uint32_t *removed = NULL;
	bool fresh = cur->id == 0;
	int ret = 0;

	next.id = fresh ? pool_alloc(&rc->svc_ids) : cur->id;
	if (!next.id)
		return -ENOSPC;
	next.be = calloc(des->n ? des->n : 1, sizeof(*next.be));
	removed = calloc(cur->n ? cur->n : 1, sizeof(*removed));
	next.name = strdup(des_m->name ? des_m->name : "");
	next.ranges = NULL;
	if (des->nranges) {
		next.ranges = malloc(des->nranges * sizeof(*next.ranges));
		if (next.ranges)
			memcpy(next.ranges, des->ranges, des->nranges * sizeof(*next.ranges));
	}
	if (!next.be || !removed || !next.name || (des->nranges && !next.ranges)) {
		ret = -ENOMEM;
		goto fail;
	}
	next.n = des->n;
	next.table_size = cur->table_size;

	/* Merge the sorted backend lists: keep ids, allocate for new ones. */
	while (i < cur->n || j < des->n) {
		int c = i == cur->n ? 1 : j == des->n ? -1 : cmp_be(&cur->be[i], &des->be[j]);

		if (c < 0) {
			removed[nremoved++] = cur->be[i++].id;
			continue;
		}
		next.be[k] = des->be[j];
		if (c == 0) {
			next.be[k].id = cur->be[i].id;
			if (cur->be[i].state != des->be[j].state)
				ret = write_backend(rc, &next, &next.be[k]);
			i++;
		} else {
			next.be[k].id = pool_alloc(&rc->be_ids);
			ret = next.be[k].id ? write_backend(rc, &next, &next.be[k]) : -ENOSPC;
			if (ret && next.be[k].id) {
				pool_free(&rc->be_ids, next.be[k].id);
				next.be[k].id = 0;
			}
		}
		j++;
		k++;
		if (ret)
			goto fail;
	}

	staged = st ? st->n : 0;
	if (fresh || !same_new_flow_set(cur, &next)) {
		ret = program_table(rc, &next, fresh ? st : NULL);
		if (ret)
			goto fail;
	}
	/* A staged table is not in place yet: its key waits for stage_commit. */
	if (!st || st->n == staged)
		ret = program_svc_val(rc, cur, &next, fresh);
	if (ret)
		goto fail;
	/* The new table is in place: backends only the old one named can go. */
	for (size_t r = 0; r < nremoved; r++) {
		xvip_maps_be_clear(rc->maps, removed[r]);
		pool_free(&rc->be_ids, removed[r]);
	}
	free(removed);
	svc_free(cur);
	*cur = next;
	return 0;
fail:
	/* Undo the ids this attempt took; the programmed entries still name the old ones. */
	for (size_t b = 0; next.be && b < k; b++) {
		bool old = false;

		for (size_t o = 0; o < cur->n && !old; o++)
			old = cur->be[o].id == next.be[b].id;
		if (!old && next.be[b].id) {
			xvip_maps_be_clear(rc->maps, next.be[b].id);
			pool_free(&rc->be_ids, next.be[b].id);
		}
	}
	if (fresh) {
		xvip_maps_maglev_del(rc->maps, next.id);
		pool_free(&rc->svc_ids, next.id);
	}
	free(removed);
	free(next.be);
	free(next.name);
	free(next.ranges);
	return ret;
}

/* The model entry as the reconciler wants it: usable endpoints, sorted. */
static int desired_svc(struct xvip_reconciler *rc, const struct xvip_model_svc *ms,
		       struct xvip_rc_svc *d)
{
	memset(d, 0, sizeof(*d));
	d->key.vip = ms->vip;
	d->key.port = htons(ms->port);
	d->key.proto = ms->proto;
	d->be = calloc(ms->nbackends ? ms->nbackends : 1, sizeof(*d->be));
	if (!d->be)
		return -ENOMEM;
	for (size_t i = 0; i < ms->nbackends; i++) {
		const struct xvip_model_backend *mb = &ms->backends[i];
		char a[XVIP_ADDRSTRLEN];

		if (rc->ep_usable && !rc->ep_usable(rc->ctx, &mb->addr)) {
			log_warn("service %s: endpoint %s not usable yet (no route or return "
				 "path); not balancing to it", ms->name,
				 xvip_addr_str(&mb->addr, a, sizeof(a)));
			continue;
		}
		d->be[d->n].addr = mb->addr;
		d->be[d->n].port = mb->port;
		d->be[d->n].state = mb->state;
		d->be[d->n].weight = mb->weight ? mb->weight : 1;
		d->n++;
	}
	qsort(d->be, d->n, sizeof(*d->be), qcmp_be);
	d->affinity_s = ms->affinity_s;
	if (ms->nsrc_ranges) {
		d->ranges = malloc(ms->nsrc_ranges * sizeof(*d->ranges));
		if (!d->ranges)
			return -ENOMEM;
		memcpy(d->ranges, ms->src_ranges, ms->nsrc_ranges * sizeof(*d->ranges));
		d->nranges = ms->nsrc_ranges;
		qsort(d->ranges, d->nranges, sizeof(*d->ranges), cmp_cidr);
	}
	return 0;
}

static struct xvip_rc_vip *find_vip(struct xvip_rc_vip *v, size_t n, const struct xvip_addr *a)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = xvip_addr_cmp(&v[mid].addr, a);

		if (!c)
			return &v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int qcmp_vip(const void *a, const void *b)
{
	return xvip_addr_cmp(&((const struct xvip_rc_vip *)a)->addr,
			     &((const struct xvip_rc_vip *)b)->addr);
}

static void lo_set(struct xvip_reconciler *rc, struct xvip_rc_vip *v, bool want)
{
	char a[XVIP_ADDRSTRLEN];
	int ret;

	if (v->on_lo == want)
		return;
	xvip_addr_str(&v->addr, a, sizeof(a));
	if (!rc->nl) {
		v->on_lo = want;
		return;
	}
	ret = want ? xvip_nl_lo_add(rc->nl, &v->addr) : xvip_nl_lo_del(rc->nl, &v->addr);
	if (ret) {
		log_err("%s VIP %s on lo: %s (%d)", want ? "add" : "remove", a, strerror(-ret),
			ret);
		rc->last.errors++;
		return;
	}
	log_info("VIP %s %s", a, want ? "advertised (added to lo)" : "withdrawn (removed from lo)");
	if (want)
		rc->last.vips_added++;
	else
		rc->last.vips_removed++;
	v->on_lo = want;
}

/* lo_set(rc, v[i], true) for n VIPs, with the requests batched. */
static void lo_add_many(struct xvip_reconciler *rc, struct xvip_rc_vip **v, size_t n)
{
	struct xvip_addr *a;
	char s[XVIP_ADDRSTRLEN];
	int *errs;

	if (!n)
		return;
	a = calloc(n, sizeof(*a));
	errs = calloc(n, sizeof(*errs));
	if (!rc->nl || !a || !errs) {
		for (size_t i = 0; i < n; i++)
			lo_set(rc, v[i], true);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		a[i] = v[i]->addr;
	xvip_nl_lo_add_many(rc->nl, a, n, errs);
	for (size_t i = 0; i < n; i++) {
		xvip_addr_str(&a[i], s, sizeof(s));
		if (errs[i]) {
			log_err("add VIP %s on lo: %s (%d)", s, strerror(-errs[i]), errs[i]);
			rc->last.errors++;
			continue;
		}
		log_info("VIP %s advertised (added to lo)", s);
		rc->last.vips_added++;
		v[i]->on_lo = true;
	}
out:
	free(a);
	free(errs);
}

/*
 * The VIP's value: its port count, and the one UDP and one TCP service (if
 * exactly one, without source ranges) that takes fragments arriving before
 * their datagram's first. svcs is sorted, so a VIP's entries are adjacent.
 */
static void vip_value(const struct xvip_rc_svc *svcs, size_t n, size_t first,
		      const struct xvip_addr *vip, struct xvip_vip_val *vv)
{
	unsigned int nudp = 0, ntcp = 0;

	memset(vv, 0, sizeof(*vv));
	for (size_t i = first; i < n && !xvip_addr_cmp(&svcs[i].key.vip, vip); i++) {
		const struct xvip_rc_svc *s = &svcs[i];
		uint32_t take = s->nranges ? 0 : s->id + 1;

		vv->nports++;
		if (s->key.proto == IPPROTO_UDP && !nudp++)
			vv->frag_svc_udp = take;
		else if (s->key.proto == IPPROTO_UDP)
			vv->frag_svc_udp = 0;
		if (s->key.proto == IPPROTO_TCP && !ntcp++)
			vv->frag_svc_tcp = take;
		else if (s->key.proto == IPPROTO_TCP)
			vv->frag_svc_tcp = 0;
	}
}

/* ---- drain and hold-down */

uint64_t xvip_rc_now(const struct xvip_reconciler *rc)
{
	struct timespec ts;

	if (rc->clock)
		return rc->clock();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

const char *xvip_vip_why_str(int why)
{
	switch (why) {
	case XVIP_VIP_ADVERTISED:
		return "advertised";
	case XVIP_VIP_NO_READY:
		return "no ready local endpoint";
	case XVIP_VIP_HOLD_DOWN:
		return "hold-down";
	case XVIP_VIP_DRAINING:
		return "draining";
	case XVIP_VIP_WITHDRAWN:
		return "withdrawn";
	case XVIP_VIP_INCOMPLETE:
		return "maps incomplete";
	case XVIP_VIP_LO_FAILED:
		return "lo update failed";
	}
	return "?";
}

/* Index of the first service of vip in the sorted svcs (n if none). */
static size_t svc_lower(const struct xvip_rc_svc *svcs, size_t n, const struct xvip_addr *vip)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (xvip_addr_cmp(&svcs[mid].key.vip, vip) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool vip_has_svcs(const struct xvip_reconciler *rc, const struct xvip_addr *vip)
{
	size_t i = svc_lower(rc->svcs, rc->nsvcs, vip);

	return i < rc->nsvcs && !xvip_addr_cmp(&rc->svcs[i].key.vip, vip);
}

static bool vip_draining(const struct xvip_reconciler *rc, const struct xvip_addr *vip)
{
	for (size_t i = svc_lower(rc->svcs, rc->nsvcs, vip);
	     i < rc->nsvcs && !xvip_addr_cmp(&rc->svcs[i].key.vip, vip); i++)
		if (rc->svcs[i].drain_until_ns)
			return true;
	return false;
}

/*
 * s lost its last local endpoint: its VIP was withdrawn (step 1 ran first);
 * remove the table so new flows are dropped, and mark the backends DRAINING so
 * conntrack'd flows keep their endpoint until the drain ends.
 */
static int start_drain(struct xvip_reconciler *rc, struct xvip_rc_svc *s, uint64_t now)
{
	char buf[XVIP_EPSTRLEN];
	int ret;

	ret = xvip_maps_maglev_del(rc->maps, s->id);
	for (size_t i = 0; i < s->n && !ret; i++) {
		if (s->be[i].state == XVIP_BE_DRAINING)
			continue;
		s->be[i].state = XVIP_BE_DRAINING;
		ret = write_backend(rc, s, &s->be[i]);
	}
	if (ret) {
		log_err("drain service %s (%s): %s (%d); removing it now",
			svc_str(s, buf, sizeof(buf)), s->name ? s->name : "?", strerror(-ret), ret);
		rc->last.errors++;
		return ret;
	}
	s->table_size = 0;
	s->drain_until_ns = now + rc->drain_ns;
	log_info("service %s (%s): no local endpoint left; %zu endpoints drain existing flows "
		 "for %llu s", svc_str(s, buf, sizeof(buf)), s->name ? s->name : "?", s->n,
		 (unsigned long long)(rc->drain_ns / 1000000000ULL));
	return 0;
}

/* A programmed port with no endpoint in the model: true while it is to stay, draining. */
static bool drain_keep(struct xvip_reconciler *rc, struct xvip_rc_svc *s, uint64_t now)
{
	if (s->drain_until_ns)
		return now < s->drain_until_ns;
	if (!rc->drain_ns || !s->n)
		return false;
	return start_drain(rc, s, now) == 0;
}

/* Eligibility changes of one VIP at this apply (want_lo just computed). */
static void vip_track(const struct xvip_reconciler *rc, struct xvip_rc_vip *v, uint64_t now)
{
	if (v->want_lo && !v->eligible)
		v->eligible_since_ns = now;
	if (!v->want_lo && (v->eligible || v->on_lo) && rc->hold_down_ns)
		v->held = true;
	v->eligible = v->want_lo;
}

static uint8_t vip_why_not(const struct xvip_reconciler *rc, const struct xvip_rc_vip *v)
{
	if (rc->withdraw_reason)
		return XVIP_VIP_WITHDRAWN;
	if (v->want_lo)
		return XVIP_VIP_INCOMPLETE;
	if (vip_draining(rc, &v->addr))
		return XVIP_VIP_DRAINING;
	return XVIP_VIP_NO_READY;
}

uint64_t xvip_rc_next_deadline(const struct xvip_reconciler *rc)
{
	uint64_t next = 0, t;

	for (size_t i = 0; i < rc->nvips; i++) {
		const struct xvip_rc_vip *v = &rc->vips[i];

		if (v->why != XVIP_VIP_HOLD_DOWN)
			continue;
		t = v->eligible_since_ns + rc->hold_down_ns;
		if (!next || t < next)
			next = t;
	}
	for (size_t i = 0; i < rc->nsvcs; i++) {
		t = rc->svcs[i].drain_until_ns;
		if (t && (!next || t < next))
			next = t;
	}
	return next;
}

static int rc_apply(struct xvip_reconciler *rc, const struct xvip_model *m,
		    const struct xvip_addr *scope, size_t nscope);

static int addr_cmp_v(const void *a, const void *b)
{
	return xvip_addr_cmp(a, b);
}

static bool is_local(const struct xvip_reconciler *rc, const struct xvip_addr *a)
{
	return rc->nlocal && bsearch(a, rc->local, rc->nlocal, sizeof(*a), addr_cmp_v);
}

static bool was_refused(const struct xvip_reconciler *rc, const struct xvip_addr *a)
{
	return rc->nrefused && bsearch(a, rc->refused, rc->nrefused, sizeof(*a), addr_cmp_v);
}

struct refuse_ctx {
	struct xvip_reconciler *rc;
	struct xvip_addr *refused;	/* this apply's, sorted as found (the model is) */
	size_t nrefused;
};

static bool not_local(const struct xvip_model_svc *s, void *ctx)
{
	struct refuse_ctx *r = ctx;
	char a[XVIP_ADDRSTRLEN];

	if (!is_local(r->rc, &s->vip))
		return true;
	if (!r->nrefused || xvip_addr_cmp(&r->refused[r->nrefused - 1], &s->vip)) {
		if (!was_refused(r->rc, &s->vip))
			log_warn("%s: VIP %s is an address of this node that xvipd did not add: "
				 "refused, never programmed nor advertised",
				 s->name, xvip_addr_str(&s->vip, a, sizeof(a)));
		r->refused[r->nrefused++] = s->vip;
	}
	return false;
}

/*
 * Drops from m (the reconciler's own copy) every entry whose VIP is an
 * address of this node xvipd did not add. If the addresses cannot be read,
 * m is applied as it is, with an error: withdrawing everything on a netlink
 * hiccup would be the bigger harm.
 */
static void refuse_local_vips(struct xvip_reconciler *rc, struct xvip_model *m)
{
	struct refuse_ctx r = { .rc = rc };
	char a[XVIP_ADDRSTRLEN];
	int ret = rc->local_err;

	if (ret) {
		log_err("read this node's addresses: %s (%d); VIPs not checked against them",
			strerror(-ret), ret);
		return;
	}
	r.refused = calloc(m->nsvcs + 1, sizeof(*r.refused));
	if (!r.refused)
		return;
	xvip_model_filter(m, not_local, &r);
	for (size_t i = 0; i < rc->nrefused; i++)
		if (!r.nrefused || !bsearch(&rc->refused[i], r.refused, r.nrefused,
					    sizeof(*r.refused), addr_cmp_v))
			log_info("VIP %s is no longer an address of this node: accepted again",
				 xvip_addr_str(&rc->refused[i], a, sizeof(a)));
	free(rc->refused);
	rc->refused = r.refused;
	rc->nrefused = r.nrefused;
}

int xvip_rc_apply(struct xvip_reconciler *rc, const struct xvip_model *m)
{
	struct xvip_model copy;
	int ret;

	if (m != &rc->model) {
		ret = xvip_model_dup(&copy, m);
		if (ret)
			return ret;
		xvip_model_free(&rc->model);
		rc->model = copy;
	}
	refuse_local_vips(rc, &rc->model);
	return rc_apply(rc, &rc->model, NULL, 0);
}

int xvip_rc_reapply(struct xvip_reconciler *rc)
{
	return rc_apply(rc, &rc->model, NULL, 0);
}

static bool in_list(const struct xvip_addr *v, size_t n, const struct xvip_addr *a)
{
	return n && bsearch(a, v, n, sizeof(*a), addr_cmp_v);
}

/* A deep copy of one model entry. */
static int dup_entry(struct xvip_model_svc *d, const struct xvip_model_svc *s)
{
	*d = *s;
	d->name = s->name ? strdup(s->name) : NULL;
	d->backends = s->nbackends ? malloc(s->nbackends * sizeof(*s->backends)) : NULL;
	d->src_ranges = s->nsrc_ranges ? malloc(s->nsrc_ranges * sizeof(*s->src_ranges)) : NULL;
	if ((s->name && !d->name) || (s->nbackends && !d->backends) ||
	    (s->nsrc_ranges && !d->src_ranges)) {
		free(d->name);
		free(d->backends);
		free(d->src_ranges);
		return -ENOMEM;
	}
	if (s->nbackends)
		memcpy(d->backends, s->backends, s->nbackends * sizeof(*s->backends));
	if (s->nsrc_ranges)
		memcpy(d->src_ranges, s->src_ranges, s->nsrc_ranges * sizeof(*s->src_ranges));
	return 0;
}

int xvip_rc_apply_delta(struct xvip_reconciler *rc, const struct xvip_model *delta,
			const struct xvip_addr *vips, size_t nvips)
{
	struct xvip_model next = {};
	struct xvip_addr *refused = NULL;
	size_t nrefused = 0, i = 0, j = 0;
	char a[XVIP_ADDRSTRLEN];
	int ret;

	if (!nvips)
		return 0;
	next.svcs = calloc(rc->model.nsvcs + delta->nsvcs + 1, sizeof(*next.svcs));
	refused = calloc(rc->nrefused + nvips + 1, sizeof(*refused));
	if (!next.svcs || !refused) {
		ret = -ENOMEM;
		goto err;
	}
	/*
	 * The new model: the entries of VIPs outside vips[] moved over, those of
	 * vips[] replaced by the delta's (both sorted, so one merge), less the
	 * VIPs that are this node's addresses.
	 */
	while (i < rc->model.nsvcs || j < delta->nsvcs) {
		struct xvip_model_svc *o = i < rc->model.nsvcs ? &rc->model.svcs[i] : NULL;
		const struct xvip_model_svc *d = j < delta->nsvcs ? &delta->svcs[j] : NULL;

		if (o && in_list(vips, nvips, &o->vip)) {
			i++;
			continue;
		}
		if (o && (!d || xvip_addr_cmp(&o->vip, &d->vip) < 0)) {
			next.svcs[next.nsvcs++] = *o;
			i++;
			continue;
		}
		j++;
		if (is_local(rc, &d->vip)) {
			if (!nrefused || xvip_addr_cmp(&refused[nrefused - 1], &d->vip)) {
				if (!was_refused(rc, &d->vip))
					log_warn("%s: VIP %s is an address of this node that xvipd "
						 "did not add: refused, never programmed nor "
						 "advertised", d->name,
						 xvip_addr_str(&d->vip, a, sizeof(a)));
				refused[nrefused++] = d->vip;
			}
			continue;
		}
		ret = dup_entry(&next.svcs[next.nsvcs], d);
		if (ret)
			goto err;
		next.nsvcs++;
	}
	/* Entries replaced: free them; the moved ones now belong to next. */
	for (i = 0; i < rc->model.nsvcs; i++) {
		struct xvip_model_svc *o = &rc->model.svcs[i];

		if (in_list(vips, nvips, &o->vip)) {
			free(o->name);
			free(o->backends);
			free(o->src_ranges);
		}
	}
	free(rc->model.svcs);
	rc->model = next;
	/* Refused VIPs: outside vips[] as before, inside as just found. */
	for (i = 0; i < rc->nrefused; i++)
		if (!in_list(vips, nvips, &rc->refused[i]))
			refused[nrefused++] = rc->refused[i];
	if (nrefused)
		qsort(refused, nrefused, sizeof(*refused), addr_cmp_v);
	free(rc->refused);
	rc->refused = refused;
	rc->nrefused = nrefused;
	return rc_apply(rc, &rc->model, vips, nvips);
err:
	/* Nothing of rc->model was freed or changed yet; only the copies go. */
	for (i = 0; next.svcs && i < next.nsvcs; i++) {
		struct xvip_model_svc *n = &next.svcs[i];

		if (in_list(vips, nvips, &n->vip)) {
			free(n->name);
			free(n->backends);
			free(n->src_ranges);
		}
	}
	free(next.svcs);
	free(refused);
	return ret;
}

/* A new service whose table or key could not go in: as if never added. */
static void undo_fresh(struct xvip_reconciler *rc, struct xvip_rc_svc *s)
{
	for (size_t b = 0; b < s->n; b++) {
		xvip_maps_be_clear(rc->maps, s->be[b].id);
		pool_free(&rc->be_ids, s->be[b].id);
	}
	xvip_maps_maglev_del(rc->maps, s->id);
	pool_free(&rc->svc_ids, s->id);
	svc_free(s);
	s->id = 0;
}

/*
 * One apply's working state, for the VIPs in scope: rc_apply runs the steps
 * below over it, in order.
 */
struct rc_want {
	const struct xvip_model_svc *ms;	/* a model entry in scope */
	struct xvip_rc_svc des;			/* ... as the reconciler wants it */
	bool ok;				/* ... and programmed so */
};

struct rc_pass {
	const struct xvip_model *m;
	const struct xvip_addr *scope;	/* sorted, unique; NULL: every VIP */
	size_t nscope;
	uint64_t now;
	struct rc_want *want;		/* sorted like the model */
	size_t nwant, capwant;
	size_t *old;			/* rc->vips in scope, by index */
	size_t nold;
	struct xvip_rc_svc *next;	/* the services once applied, sorted */
	size_t nnext;
	struct xvip_rc_vip *nv;		/* the scope's VIPs once applied */
	size_t nnv;
	struct stage st;		/* new services' tables, swapped in after step 2 */
	int failed;			/* entries that could not be programmed */
};

/*
 * Swap the staged tables in with one batch update, then write the keys that
 * lead to them; what the batch did not take is tried one by one. Returns how
 * many services failed; those leave next[] (nnext shrinks).
 */
static int stage_commit(struct xvip_reconciler *rc, struct rc_pass *p)
{
	struct stage *st = &p->st;
	uint32_t done = 0;
	size_t w = 0;
	int failed = 0;

	if (!st->n)
		return 0;
	xvip_maps_maglev_swap_many(rc->maps, st->ids, st->fds, (uint32_t)st->n, &done);
	for (size_t i = 0; i < st->n; i++) {
		struct xvip_rc_svc *s = &p->next[st->next_idx[i]];
		struct rc_want *wj = &p->want[st->model_idx[i]];
		char buf[XVIP_EPSTRLEN];
		struct xvip_rc_vip *v;
		int ret = 0;

		if (i >= done)
			ret = xvip_maps_maglev_swap_many(rc->maps, &st->ids[i], &st->fds[i], 1, NULL);
		ret = ret ?: program_svc_val(rc, NULL, s, true);
		if (ret) {
			log_err("add service %s (%s): %s (%d)", svc_str(s, buf, sizeof(buf)),
				wj->ms->name, strerror(-ret), ret);
			undo_fresh(rc, s);
			failed++;
			continue;
		}
		s->table_size = st->sizes[i];
		rc->last.tables_swapped++;
		rc->last.svcs_added++;
		wj->ok = true;
		log_info("service %s (%s) added, %zu local endpoints", svc_str(s, buf, sizeof(buf)),
			 s->name, s->n);
		if (wants_lo(rc, &wj->des)) {
			v = find_vip(p->nv, p->nnv, &wj->des.key.vip);
			if (v)
				v->ready_ok = true;
		}
	}
	/* Drop the services that failed (id 0) from next[], keeping its order. */
	for (size_t r = 0; r < p->nnext; r++)
		if (p->next[r].id)
			p->next[w++] = p->next[r];
	p->nnext = w;
	stage_free(st);
	return failed;
}

/* Index of the first entry of vip in the sorted model (m->nsvcs if none). */
static size_t model_lower(const struct xvip_model *m, const struct xvip_addr *vip)
{
	size_t lo = 0, hi = m->nsvcs;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (xvip_addr_cmp(&m->svcs[mid].vip, vip) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Is a in scope (sorted, unique)? A NULL scope holds every VIP. */
static bool scoped(const struct xvip_addr *scope, size_t nscope, const struct xvip_addr *a)
{
	return !scope || in_list(scope, nscope, a);
}

/* The model's entries in scope, as the reconciler wants them, and the VIPs programmed there. */
static int pass_init(struct xvip_reconciler *rc, struct rc_pass *p)
{
	const struct xvip_model *m = p->m;
	struct xvip_rc_vip *v;
	size_t i;
	int ret;

	/* A scope's entries, not the whole model's: an apply by difference costs what changed. */
	p->capwant = p->scope ? 0 : m->nsvcs + 1;
	p->want = p->capwant ? calloc(p->capwant, sizeof(*p->want)) : NULL;
	p->old = calloc(rc->nvips + 1, sizeof(*p->old));
	if ((p->capwant && !p->want) || !p->old)
		return -ENOMEM;
	if (!p->scope) {
		for (i = 0; i < m->nsvcs; i++)
			p->want[p->nwant++].ms = &m->svcs[i];
		for (i = 0; i < rc->nvips; i++)
			p->old[p->nold++] = i;
	} else {
		for (size_t s = 0; s < p->nscope; s++) {
			for (i = model_lower(m, &p->scope[s]);
			     i < m->nsvcs && !xvip_addr_cmp(&m->svcs[i].vip, &p->scope[s]); i++) {
				if (xvip_grow((void **)&p->want, &p->capwant, p->nwant,
					      sizeof(*p->want)))
					return -ENOMEM;
				memset(&p->want[p->nwant], 0, sizeof(*p->want));
				p->want[p->nwant++].ms = &m->svcs[i];
			}
			v = find_vip(rc->vips, rc->nvips, &p->scope[s]);
			if (v)
				p->old[p->nold++] = (size_t)(v - rc->vips);
		}
	}
	p->next = calloc(p->nwant + rc->nsvcs + 1, sizeof(*p->next));
	p->nv = calloc(p->nwant + p->nold + 1, sizeof(*p->nv));
	if (!p->next || !p->nv)
		return -ENOMEM;
	for (i = 0; i < p->nwant; i++) {
		ret = desired_svc(rc, p->want[i].ms, &p->want[i].des);
		if (ret)
			return ret;
	}
	return 0;
}

/* The VIPs wanted in the maps (the entries are sorted by VIP), and which want lo. */
static void pass_vips(struct xvip_reconciler *rc, struct rc_pass *p)
{
	struct xvip_rc_vip *v;

	for (size_t i = 0; i < p->nwant; i++) {
		const struct xvip_rc_svc *des = &p->want[i].des;

		if (!p->nnv || xvip_addr_cmp(&p->nv[p->nnv - 1].addr, &des->key.vip)) {
			p->nv[p->nnv].addr = des->key.vip;
			v = find_vip(rc->vips, rc->nvips, &p->nv[p->nnv].addr);
			if (v) {
				p->nv[p->nnv] = *v;
				p->nv[p->nnv].want_lo = p->nv[p->nnv].ready_ok = false;
			}
			p->nnv++;
		}
		p->nv[p->nnv - 1].want_lo |= wants_lo(rc, des);
	}
	for (size_t i = 0; i < p->nnv; i++)
		vip_track(rc, &p->nv[i], p->now);
}

/* 1. Withdraw first: VIPs that lose their last ready endpoint or go away. */
static void step_withdraw(struct xvip_reconciler *rc, struct rc_pass *p)
{
	for (size_t k = 0; k < p->nold; k++) {
		struct xvip_rc_vip *o = &rc->vips[p->old[k]];
		struct xvip_rc_vip *v = find_vip(p->nv, p->nnv, &o->addr);

		if (!v || !v->want_lo) {
			lo_set(rc, o, false);
			if (v)
				v->on_lo = o->on_lo;
		}
	}
}

/* 2. Services: merge the sorted programmed and desired lists. */
static void step_services(struct xvip_reconciler *rc, struct rc_pass *p)
{
	struct xvip_rc_vip *v;
	size_t i = 0, j = 0;
	int ret;

	while (i < rc->nsvcs || j < p->nwant) {
		struct rc_want *wj = j < p->nwant ? &p->want[j] : NULL;
		int c = i == rc->nsvcs ? 1 : !wj ? -1 : cmp_rc_svc(&rc->svcs[i], &wj->des);
		char buf[XVIP_EPSTRLEN];

		if (c < 0 && !scoped(p->scope, p->nscope, &rc->svcs[i].key.vip)) {
			p->next[p->nnext++] = rc->svcs[i++];	/* another VIP's: as it is */
			continue;
		}
		if (c < 0) {
			/* Gone from the model: drain first when it had endpoints. */
			if (drain_keep(rc, &rc->svcs[i], p->now))
				p->next[p->nnext++] = rc->svcs[i++];
			else
				remove_svc(rc, &rc->svcs[i++]);
			continue;
		}
		if (c == 0 && !wj->des.n && drain_keep(rc, &rc->svcs[i], p->now)) {
			p->next[p->nnext++] = rc->svcs[i++];
			wj->ok = true;
		} else if (c == 0) {
			p->next[p->nnext] = rc->svcs[i++];
			ret = update_svc(rc, &p->next[p->nnext], wj->ms, &wj->des, NULL);
			if (ret) {
				log_err("update service %s (%s): %s (%d)",
					svc_str(&wj->des, buf, sizeof(buf)), wj->ms->name,
					strerror(-ret), ret);
				p->failed++;
			} else {
				wj->ok = true;
				rc->last.svcs_changed++;
			}
			p->nnext++;
		} else {
			struct xvip_rc_svc fresh = { .key = wj->des.key };
			size_t staged = p->st.n;

			ret = update_svc(rc, &fresh, wj->ms, &wj->des, &p->st);
			if (ret) {
				log_err("add service %s (%s): %s (%d)",
					svc_str(&wj->des, buf, sizeof(buf)), wj->ms->name,
					strerror(-ret), ret);
				p->failed++;
			} else if (p->st.n > staged) {
				/* Its table goes in with the others after the loop. */
				p->st.next_idx[p->st.n - 1] = p->nnext;
				p->st.model_idx[p->st.n - 1] = j;
				p->next[p->nnext++] = fresh;
			} else {
				log_info("service %s (%s) added, %zu local endpoints",
					 svc_str(&fresh, buf, sizeof(buf)), fresh.name, fresh.n);
				p->next[p->nnext++] = fresh;
				wj->ok = true;
				rc->last.svcs_added++;
			}
		}
		if (wj->ok && wants_lo(rc, &wj->des)) {
			v = find_vip(p->nv, p->nnv, &wj->des.key.vip);
			if (v)
				v->ready_ok = true;
		}
		j++;
	}
	p->failed += stage_commit(rc, p);
	free(rc->svcs);
	rc->svcs = p->next;
	rc->nsvcs = p->nnext;
	p->next = NULL;
}

/* VIPs gone from the model whose ports still drain keep their entry (and stay off lo). */
static void step_keep_draining(struct xvip_reconciler *rc, struct rc_pass *p)
{
	size_t k = p->nnv;

	for (size_t i = 0; i < p->nold; i++) {
		struct xvip_rc_vip *o = &rc->vips[p->old[i]];

		if (find_vip(p->nv, k, &o->addr) || !vip_has_svcs(rc, &o->addr))
			continue;
		p->nv[p->nnv] = *o;
		p->nv[p->nnv].want_lo = p->nv[p->nnv].ready_ok = false;
		vip_track(rc, &p->nv[p->nnv], p->now);
		p->nnv++;
	}
	if (p->nnv != k)
		qsort(p->nv, p->nnv, sizeof(*p->nv), qcmp_vip);
}

/*
 * 3. VIP entries, once the services behind them are in: until then a new
 * VIP is not on lo, so nothing reaches it. (A VIP entry alone drops.)
 */
static void step_vip_entries(struct xvip_reconciler *rc, struct rc_pass *p)
{
	for (size_t i = 0; i < p->nnv; i++) {
		struct xvip_rc_vip *nv = &p->nv[i];
		struct xvip_vip_val vv;
		size_t k;
		int ret;

		k = svc_lower(rc->svcs, rc->nsvcs, &nv->addr);
		vip_value(rc->svcs, rc->nsvcs, k, &nv->addr, &vv);
		if (!vv.nports)
			vv.nports = 1;	/* its ports failed to program: keep dropping */
		if (nv->in_map && !memcmp(&vv, &nv->val, sizeof(vv)))
			continue;
		ret = xvip_maps_vip_set(rc->maps, &nv->addr, &vv);
		if (ret) {
			char a[XVIP_ADDRSTRLEN];

			log_err("program VIP %s: %s (%d)", xvip_addr_str(&nv->addr, a, sizeof(a)),
				strerror(-ret), ret);
			p->failed++;
			nv->ready_ok = false;
			continue;
		}
		nv->in_map = true;
		nv->val = vv;
	}
}

/* 4. VIP entries no longer wanted; their withdrawal happened in step 1. */
static void step_vip_remove(struct xvip_reconciler *rc, struct rc_pass *p)
{
	size_t k = p->nnv;

	for (size_t i = 0; i < p->nold; i++) {
		struct xvip_rc_vip *o = &rc->vips[p->old[i]];

		if (find_vip(p->nv, k, &o->addr))
			continue;
		if (o->on_lo) {
			p->nv[p->nnv] = *o;	/* could not withdraw: keep trying */
			p->nv[p->nnv].want_lo = p->nv[p->nnv].ready_ok = false;
			p->nnv++;
			continue;
		}
		xvip_maps_vip_del(rc->maps, &o->addr);
	}
	qsort(p->nv, p->nnv, sizeof(*p->nv), qcmp_vip);
}

/* The VIPs outside the scope as they were, and the scope's as they are now. */
static int step_vips_publish(struct xvip_reconciler *rc, struct rc_pass *p)
{
	struct xvip_rc_vip *vips;
	size_t i, j, nvips = 0;

	vips = calloc(rc->nvips + p->nnv + 1, sizeof(*vips));
	if (!vips)
		return -ENOMEM;
	for (i = 0, j = 0; i < rc->nvips || j < p->nnv;) {
		if (i < rc->nvips && scoped(p->scope, p->nscope, &rc->vips[i].addr))
			i++;
		else if (i < rc->nvips &&
			 (j == p->nnv || xvip_addr_cmp(&rc->vips[i].addr, &p->nv[j].addr) < 0))
			vips[nvips++] = rc->vips[i++];
		else
			vips[nvips++] = p->nv[j++];
	}
	free(rc->vips);
	rc->vips = vips;
	rc->nvips = nvips;
	return 0;
}

/*
 * 5. Advertise VIPs whose maps are complete and that have a ready endpoint;
 * after a withdrawal, only once they have been ready for the hold-down.
 * Those going onto lo now go together (a full sync adds 10,000s).
 */
static void step_advertise(struct xvip_reconciler *rc, struct rc_pass *p)
{
	struct xvip_rc_vip **adds = calloc(p->nnv + 1, sizeof(*adds)), *v;
	size_t nadds = 0;

	for (size_t i = 0; i < p->nnv; i++) {
		v = find_vip(rc->vips, rc->nvips, &p->nv[i].addr);
		if (!v->ready_ok) {
			v->why = v->on_lo && v->want_lo ? XVIP_VIP_ADVERTISED :
				 v->on_lo ? XVIP_VIP_LO_FAILED : vip_why_not(rc, v);
			continue;
		}
		if (!v->on_lo && v->held && p->now - v->eligible_since_ns < rc->hold_down_ns) {
			v->why = XVIP_VIP_HOLD_DOWN;
			continue;
		}
		if (!v->on_lo && adds)
			adds[nadds++] = v;
		else if (!v->on_lo)
			lo_set(rc, v, true);
		v->why = v->on_lo ? XVIP_VIP_ADVERTISED : XVIP_VIP_LO_FAILED;
		if (v->on_lo)
			v->held = false;
	}
	lo_add_many(rc, adds, nadds);
	for (size_t i = 0; i < nadds; i++) {
		adds[i]->why = adds[i]->on_lo ? XVIP_VIP_ADVERTISED : XVIP_VIP_LO_FAILED;
		if (adds[i]->on_lo)
			adds[i]->held = false;
	}
	free(adds);
}

static void pass_free(struct rc_pass *p)
{
	stage_free(&p->st);
	for (size_t i = 0; p->want && i < p->nwant; i++) {
		free(p->want[i].des.be);
		free(p->want[i].des.ranges);
	}
	free(p->want);
	free(p->next);
	free(p->nv);
	free(p->old);
}

/*
 * Make the maps and lo match m for the VIPs in scope (NULL: all of them).
 * A VIP's service ports and its entry always go together: its value (port
 * count, fragment owners) and whether it is advertised depend on all of them.
 * What is programmed for other VIPs is carried over untouched.
 */
static int rc_apply(struct xvip_reconciler *rc, const struct xvip_model *m,
		    const struct xvip_addr *scope, size_t nscope)
{
	struct rc_pass p = { .m = m, .scope = scope, .nscope = nscope, .now = xvip_rc_now(rc) };
	int ret;

	memset(&rc->last, 0, sizeof(rc->last));
	ret = pass_init(rc, &p);
	if (!ret) {
		pass_vips(rc, &p);
		step_withdraw(rc, &p);
		step_services(rc, &p);
		step_keep_draining(rc, &p);
		step_vip_entries(rc, &p);
		step_vip_remove(rc, &p);
		ret = step_vips_publish(rc, &p);
	}
	if (!ret)
		step_advertise(rc, &p);
	pass_free(&p);
	if (ret)
		return ret;
	p.failed += (int)rc->last.errors;
	rc->synced = rc->synced || !p.failed;
	return p.failed;
}

/* ---- what is programmed, for the state file, /metrics and FRR */

int xvip_rc_snapshot(const struct xvip_reconciler *rc, struct xvip_rc_snapshot *s)
{
	size_t k = 0;

	memset(s, 0, sizeof(*s));
	s->now_ns = xvip_rc_now(rc);
	s->withdraw_reason = rc->withdraw_reason;
	s->vips = calloc(rc->nvips + 1, sizeof(*s->vips));
	s->svcs = calloc(rc->nsvcs + 1, sizeof(*s->svcs));
	if (!s->vips || !s->svcs) {
		xvip_rc_snapshot_free(s);
		return -ENOMEM;
	}
	for (size_t i = 0; i < rc->nvips; i++) {
		const struct xvip_rc_vip *v = &rc->vips[i];
		struct xvip_snap_vip *sv = &s->vips[s->nvips++];

		sv->addr = v->addr;
		sv->advertised = v->on_lo;
		sv->why = v->why;
		if (v->why == XVIP_VIP_HOLD_DOWN)
			sv->hold_down_end_ns = v->eligible_since_ns + rc->hold_down_ns;
		s->vips_on_lo += v->on_lo;
		while (k < rc->nsvcs && xvip_addr_cmp(&rc->svcs[k].key.vip, &v->addr) < 0)
			k++;
		for (size_t j = k; j < rc->nsvcs && !xvip_addr_cmp(&rc->svcs[j].key.vip, &v->addr);
		     j++) {
			sv->ports++;
			if (rc->svcs[j].drain_until_ns) {
				sv->draining_ports++;
				if (rc->svcs[j].drain_until_ns > sv->drain_end_ns)
					sv->drain_end_ns = rc->svcs[j].drain_until_ns;
			}
		}
	}
	for (size_t i = 0; i < rc->nsvcs; i++) {
		s->svcs[i].key = rc->svcs[i].key;
		s->svcs[i].id = rc->svcs[i].id;
		s->svcs[i].name = rc->svcs[i].name;
	}
	s->nsvcs = rc->nsvcs;
	return 0;
}

void xvip_rc_snapshot_free(struct xvip_rc_snapshot *s)
{
	free(s->vips);
	free(s->svcs);
	memset(s, 0, sizeof(*s));
}

int xvip_rc_withdraw_all(struct xvip_reconciler *rc)
{
	for (size_t i = 0; i < rc->nvips; i++)
		lo_set(rc, &rc->vips[i], false);
	return (int)rc->last.errors;
}

/* ---- adoption of a previous xvipd's pinned state */

struct adopt_ctx {
	struct xvip_reconciler *rc;
	struct xvip_rc_svc *svcs;
	struct xvip_rc_svc **by_id;
	size_t n, cap, nbe;
};

static int adopt_be_cb(uint32_t id, const struct xvip_backend *be, void *arg)
{
	struct adopt_ctx *a = arg;
	struct xvip_rc_svc *s;
	void *p;

	s = be->svc_id < XVIP_MAX_SVCS ? a->by_id[be->svc_id] : NULL;
	if (!s || !id) {
		xvip_maps_be_clear(a->rc->maps, id);	/* orphan */
		return 0;
	}
	p = realloc(s->be, (s->n + 1) * sizeof(*s->be));
	if (!p)
		return -ENOMEM;
	s->be = p;
	s->be[s->n] = (struct xvip_rc_backend){
		.addr = be->addr, .port = ntohs(be->port), .state = be->state,
		.weight = 1, .id = id,
	};
	s->n++;
	pool_mark(&a->rc->be_ids, id);
	a->nbe++;
	return 0;
}

static int adopt_svc_cb(const struct xvip_svc_key *k, const struct xvip_svc_val *v, void *arg)
{
	struct adopt_ctx *a = arg;
	struct xvip_rc_svc *s;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void *p = realloc(a->svcs, cap * sizeof(*a->svcs));

		if (!p)
			return -ENOMEM;
		a->svcs = p;
		a->cap = cap;
	}
	s = &a->svcs[a->n++];
	memset(s, 0, sizeof(*s));
	s->key = *k;
	s->id = v->id;
	s->affinity_s = (v->flags & XVIP_SVC_F_AFFINITY) ? v->affinity_s : 0;
	return 0;
}

static int adopt_range_cb(uint32_t svc_id, const struct xvip_addr *addr, uint8_t plen,
			  void *arg)
{
	struct adopt_ctx *a = arg;
	struct xvip_rc_svc *s = svc_id < XVIP_MAX_SVCS ? a->by_id[svc_id] : NULL;
	void *p;

	if (!s) {
		xvip_maps_srcrange_del(a->rc->maps, svc_id, addr, plen);	/* orphan */
		return 0;
	}
	p = realloc(s->ranges, (s->nranges + 1) * sizeof(*s->ranges));
	if (!p)
		return -ENOMEM;
	s->ranges = p;
	s->ranges[s->nranges].addr = *addr;
	s->ranges[s->nranges].plen = plen;
	s->nranges++;
	return 0;
}

static void adopt_lo_cb(const struct xvip_addr *addr, void *arg)
{
	struct xvip_reconciler *rc = arg;
	struct xvip_rc_vip *v = find_vip(rc->vips, rc->nvips, addr);
	void *p;

	if (v) {
		v->on_lo = true;
		return;
	}
	p = realloc(rc->vips, (rc->nvips + 1) * sizeof(*rc->vips));
	if (!p)
		return;
	rc->vips = p;
	memset(&rc->vips[rc->nvips], 0, sizeof(*rc->vips));	/* eligible, held, in_map... */
	rc->vips[rc->nvips].addr = *addr;
	rc->vips[rc->nvips].on_lo = true;
	rc->nvips++;
	qsort(rc->vips, rc->nvips, sizeof(*rc->vips), qcmp_vip);
}

int xvip_rc_adopt(struct xvip_reconciler *rc)
{
	struct adopt_ctx a = { .rc = rc };
	struct xvip_rc_svc **by_id = NULL;
	int ret;

	ret = xvip_maps_svc_foreach(rc->maps, adopt_svc_cb, &a);
	if (ret)
		goto fail;
	by_id = calloc(XVIP_MAX_SVCS, sizeof(*by_id));
	if (!by_id) {
		ret = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < a.n; i++) {
		uint32_t *t, size;

		if (a.svcs[i].id >= XVIP_MAX_SVCS || by_id[a.svcs[i].id]) {
			ret = -EINVAL;	/* corrupt: two keys, one id */
			goto fail;
		}
		by_id[a.svcs[i].id] = &a.svcs[i];
		pool_mark(&rc->svc_ids, a.svcs[i].id);
		if (!xvip_maps_maglev_read(rc->maps, a.svcs[i].id, &t, &size)) {
			a.svcs[i].table_size = size;
			free(t);
		}
	}
	a.by_id = by_id;
	ret = xvip_maps_be_foreach(rc->maps, adopt_be_cb, &a);
	ret = ret ?: xvip_maps_srcrange_foreach(rc->maps, adopt_range_cb, &a);
	if (ret)
		goto fail;
	for (size_t i = 0; i < a.n; i++) {
		size_t ndrain = 0;

		if (a.svcs[i].n)	/* qsort's base must not be NULL (UBSan) */
			qsort(a.svcs[i].be, a.svcs[i].n, sizeof(*a.svcs[i].be), qcmp_be);
		/* A previous xvipd stopped mid-drain: the drain starts over from now. */
		for (size_t b = 0; b < a.svcs[i].n; b++)
			ndrain += a.svcs[i].be[b].state == XVIP_BE_DRAINING;
		if (ndrain && ndrain == a.svcs[i].n)
			a.svcs[i].drain_until_ns = xvip_rc_now(rc) + rc->drain_ns;
		if (a.svcs[i].nranges)
			qsort(a.svcs[i].ranges, a.svcs[i].nranges, sizeof(*a.svcs[i].ranges),
			      cmp_cidr);
		if (!rc->nvips || xvip_addr_cmp(&rc->vips[rc->nvips - 1].addr, &a.svcs[i].key.vip)) {
			void *p = realloc(rc->vips, (rc->nvips + 1) * sizeof(*rc->vips));

			if (!p) {
				ret = -ENOMEM;
				goto fail;
			}
			rc->vips = p;
			memset(&rc->vips[rc->nvips], 0, sizeof(*rc->vips));
			rc->vips[rc->nvips].addr = a.svcs[i].key.vip;
			rc->vips[rc->nvips].on_lo = false;
			rc->nvips++;
		}
	}
	if (a.n)
		qsort(a.svcs, a.n, sizeof(*a.svcs), qcmp_rc_svc);
	if (rc->nvips)
		qsort(rc->vips, rc->nvips, sizeof(*rc->vips), qcmp_vip);
	/* VIP addresses we left on lo; vips were collected before svcs sorted: dedupe. */
	if (rc->nvips > 1) {
		size_t w = 1;

		for (size_t r = 1; r < rc->nvips; r++)
			if (xvip_addr_cmp(&rc->vips[r].addr, &rc->vips[w - 1].addr))
				rc->vips[w++] = rc->vips[r];
		rc->nvips = w;
	}
	if (rc->nl)
		xvip_nl_lo_list(rc->nl, adopt_lo_cb, rc);
	pool_requeue(&rc->svc_ids);
	pool_requeue(&rc->be_ids);
	rc->svcs = a.svcs;
	rc->nsvcs = a.n;
	free(by_id);
	log_info("adopted pinned state: %zu service ports, %zu endpoints, %zu VIPs",
		 rc->nsvcs, a.nbe, rc->nvips);
	return 0;
fail:
	for (size_t i = 0; i < a.n; i++)
		svc_free(&a.svcs[i]);
	free(a.svcs);
	free(by_id);
	log_err("adopt pinned state: %s (%d)", strerror(-ret), ret);
	return ret;
}

int xvip_rc_init(struct xvip_reconciler *rc, struct xvip_maps *maps, struct xvip_nl *nl,
		 uint32_t maglev_max)
{
	int ret;

	memset(rc, 0, sizeof(*rc));
	rc->maps = maps;
	rc->nl = nl;
	rc->maglev_max = maglev_max;
	ret = pool_init(&rc->svc_ids, XVIP_MAX_SVCS);
	ret = ret ?: pool_init(&rc->be_ids, XVIP_MAX_BACKENDS);
	if (ret)
		xvip_rc_fini(rc);
	return ret;
}

void xvip_rc_fini(struct xvip_reconciler *rc)
{
	for (size_t i = 0; i < rc->nsvcs; i++)
		svc_free(&rc->svcs[i]);
	free(rc->svcs);
	free(rc->vips);
	free(rc->refused);
	rc->refused = NULL;
	rc->nrefused = 0;
	xvip_model_free(&rc->model);
	pool_fini(&rc->svc_ids);
	pool_fini(&rc->be_ids);
	rc->svcs = NULL;
	rc->vips = NULL;
	rc->nsvcs = rc->nvips = 0;
}
