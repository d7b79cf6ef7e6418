// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model_int.h"
#include "util.h"

/* ---- the index: translation one Service at a time, for the API source */

/*
 * The API source changes one object at a time in a cluster of 10,000s of
 * Services, where translating the whole cache for each event costs 100s of
 * ms. The index keeps each Service's own translation (its candidate
 * entries) and, per VIP, which Services claim it. A changed Service or
 * EndpointSlice re-translates its Service only, plus the Services naming as a
 * VIP an endpoint address that appeared or went (such a VIP is refused), and
 * only the VIPs those Services claim or claimed are resolved again. The model
 * is the one xvip_model_from_objects gives for the same objects: the same
 * functions translate, and conflicts are resolved by the same order
 * (tests/test_model.c compares the two after every step of a random walk).
 */

struct ix_slice;

struct ix_svc {
	char *key;			/* "ns/name"; first member: the trees compare it */
	struct json_object *obj;	/* NULL: only EndpointSlices name it so far */
	struct ix_slice **slices;	/* the kept EndpointSlices labelled with it */
	size_t nslices, capslices;
	struct cand *cands;		/* its entries, translated alone, in input order */
	size_t ncands;
	struct addr_set deps;		/* VIPs it names that an endpoint address refuses */
	bool dirty;
};

struct ix_slice {
	char *key;			/* "ns/name" of the EndpointSlice */
	struct json_object *obj;
	struct slice sl;		/* its strings point into obj */
	struct addr_set addrs;		/* every endpoint address in it, sorted, unique */
	struct ix_svc *svc;		/* NULL: not kept (no service label, FQDN) */
};

/* Service svc's candidate idx claims a port of the VIP. */
struct ix_claim {
	struct ix_svc *svc;
	size_t idx;
};

struct ix_vip {
	struct xvip_addr addr;		/* first member: the tree compares it */
	struct ix_claim *claims;
	size_t nclaims, capclaims;
	struct xvip_model_svc *win;	/* the resolved entries, shallow copies of cands */
	size_t nwin;
	bool changed;
};

struct xvip_model_index {
	struct xvip_model_opts o;
	void *svcs, *slices, *vips;	/* tsearch trees */
	size_t nvips;
	/* Every endpoint address of every kept slice, sorted, and how many slices name it. */
	struct xvip_addr *ep_a;
	size_t *ep_refs;
	size_t neps, capeps;
	struct addr_set eps_changed;	/* addresses that appeared or went since the commit */
	bool all_dirty;			/* out of memory while marking: translate everything */
	struct ix_svc **dirty;
	size_t ndirty, capdirty;
	struct ix_vip **changed;
	size_t nchanged, capchanged;
	/* What the last commit and xvip_model_index_model handed out (shallow). */
	struct xvip_model delta, full;
	struct xvip_addr *delta_vips;
};

static int ix_key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ix_vip_cmp(const void *a, const void *b)
{
	return xvip_addr_cmp(a, b);
}

static void *ix_find(void *const *root, const char *key)
{
	const char *probe = key;
	void **p = tfind(&probe, root, ix_key_cmp);

	return p ? *p : NULL;
}

static void ix_mark(struct xvip_model_index *x, struct ix_svc *s)
{
	if (s->dirty)
		return;
	if (xvip_grow((void **)&x->dirty, &x->capdirty, x->ndirty, sizeof(*x->dirty))) {
		x->all_dirty = true;
		return;
	}
	x->dirty[x->ndirty++] = s;
	s->dirty = true;
}

static struct ix_svc *ix_svc_get(struct xvip_model_index *x, const char *key, bool create)
{
	struct ix_svc *s = ix_find(&x->svcs, key);

	if (s || !create)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->key = strdup(key)) || !tsearch(s, &x->svcs, ix_key_cmp)) {
		if (s)
			free(s->key);
		free(s);
		return NULL;
	}
	return s;
}

static struct ix_vip *ix_vip_get(struct xvip_model_index *x, const struct xvip_addr *a,
				 bool create)
{
	void **p = tfind(a, &x->vips, ix_vip_cmp);
	struct ix_vip *v;

	if (p || !create)
		return p ? *p : NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->addr = *a;
	if (!tsearch(v, &x->vips, ix_vip_cmp)) {
		free(v);
		return NULL;
	}
	x->nvips++;
	return v;
}

static int ix_vip_changed(struct xvip_model_index *x, struct ix_vip *v)
{
	int ret;

	if (v->changed)
		return 0;
	ret = xvip_grow((void **)&x->changed, &x->capchanged, x->nchanged, sizeof(*x->changed));
	if (ret)
		return ret;
	x->changed[x->nchanged++] = v;
	v->changed = true;
	return 0;
}

/* Count one more (delta 1) or one fewer (-1) slice naming endpoint address a. */
static int ix_ep_ref(struct xvip_model_index *x, const struct xvip_addr *a, int delta)
{
	size_t lo = 0, hi = x->neps;
	int ret;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = xvip_addr_cmp(&x->ep_a[mid], a);

		if (!c) {
			lo = mid;
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->neps && !xvip_addr_cmp(&x->ep_a[lo], a)) {
		if (delta > 0) {
			x->ep_refs[lo]++;
			return 0;
		}
		if (--x->ep_refs[lo])
			return 0;
		memmove(&x->ep_a[lo], &x->ep_a[lo + 1], (x->neps - lo - 1) * sizeof(*x->ep_a));
		memmove(&x->ep_refs[lo], &x->ep_refs[lo + 1],
			(x->neps - lo - 1) * sizeof(*x->ep_refs));
		x->neps--;
	} else {
		if (delta < 0)
			return 0;
		if (x->neps == x->capeps) {
			size_t cap = x->capeps ? x->capeps * 2 : 64;
			struct xvip_addr *na = reallocarray(x->ep_a, cap, sizeof(*na));
			size_t *nr;

			if (!na)
				return -ENOMEM;
			x->ep_a = na;
			nr = reallocarray(x->ep_refs, cap, sizeof(*nr));
			if (!nr)
				return -ENOMEM;
			x->ep_refs = nr;
			x->capeps = cap;
		}
		memmove(&x->ep_a[lo + 1], &x->ep_a[lo], (x->neps - lo) * sizeof(*x->ep_a));
		memmove(&x->ep_refs[lo + 1], &x->ep_refs[lo], (x->neps - lo) * sizeof(*x->ep_refs));
		x->ep_a[lo] = *a;
		x->ep_refs[lo] = 1;
		x->neps++;
	}
	/* The set itself changed: Services naming a as a VIP are translated again. */
	ret = xvip_grow((void **)&x->eps_changed.a, &x->eps_changed.cap, x->eps_changed.n,
		        sizeof(*x->eps_changed.a));
	if (ret) {
		x->all_dirty = true;
		return 0;
	}
	x->eps_changed.a[x->eps_changed.n++] = *a;
	return 0;
}

int xvip_model_index_new(struct xvip_model_index **out, const struct xvip_model_opts *o)
{
	struct xvip_model_index *x = calloc(1, sizeof(*x));

	*out = x;
	if (!x)
		return -ENOMEM;
	x->o = *o;
	return 0;
}

/* Take sl out of its Service and of the endpoint addresses; sl keeps its key. */
static void ix_slice_clear(struct xvip_model_index *x, struct ix_slice *sl)
{
	struct ix_svc *s = sl->svc;

	if (s) {
		for (size_t i = 0; i < s->nslices; i++) {
			if (s->slices[i] == sl) {
				s->slices[i] = s->slices[--s->nslices];
				break;
			}
		}
		ix_mark(x, s);
		for (size_t i = 0; i < sl->addrs.n; i++)
			ix_ep_ref(x, &sl->addrs.a[i], -1);
	}
	slice_free(&sl->sl);
	free(sl->addrs.a);
	memset(&sl->addrs, 0, sizeof(sl->addrs));
	json_object_put(sl->obj);
	sl->obj = NULL;
	sl->svc = NULL;
}

int xvip_model_index_slice(struct xvip_model_index *x, const char *key, struct json_object *obj)
{
	struct ix_slice *sl = ix_find(&x->slices, key);
	struct xlate t = { .o = &x->o };
	char err[MODEL_ERRLEN], skey[600];
	struct ix_svc *s;
	bool keep = false;
	int ret;

	t.err = err;
	t.errlen = sizeof(err);
	if (sl)
		ix_slice_clear(x, sl);
	if (!obj) {
		if (sl) {
			tdelete(sl, &x->slices, ix_key_cmp);
			free(sl->key);
			free(sl);
		}
		return 0;
	}
	if (!sl) {
		sl = calloc(1, sizeof(*sl));
		if (!sl || !(sl->key = strdup(key)) || !tsearch(sl, &x->slices, ix_key_cmp)) {
			if (sl)
				free(sl->key);
			free(sl);
			return -ENOMEM;
		}
	}
	sl->obj = json_object_get(obj);
	ret = slice_parse(&t, obj, 0, &sl->sl, &keep);
	if (ret || !keep) {
		/* The source checked the object alone first: only memory can fail here. */
		if (ret)
			log_err("EndpointSlice %s: %s", key, ret == -ENOMEM ? "out of memory" : err);
		free(t.eps.a);
		return ret;
	}
	addr_set_unique(&t.eps);
	sl->addrs = t.eps;
	snprintf(skey, sizeof(skey), "%s/%s", sl->sl.ns, sl->sl.svc);
	s = ix_svc_get(x, skey, true);
	if (!s || xvip_grow((void **)&s->slices, &s->capslices, s->nslices, sizeof(*s->slices))) {
		slice_free(&sl->sl);
		free(sl->addrs.a);
		memset(&sl->addrs, 0, sizeof(sl->addrs));
		return -ENOMEM;
	}
	s->slices[s->nslices++] = sl;
	sl->svc = s;
	ix_mark(x, s);
	for (size_t i = 0; i < sl->addrs.n; i++) {
		ret = ix_ep_ref(x, &sl->addrs.a[i], 1);
		if (ret) {
			/* Count only what was counted, so clearing the slice stays exact. */
			sl->addrs.n = i;
			return ret;
		}
	}
	return 0;
}

int xvip_model_index_service(struct xvip_model_index *x, const char *key,
			     struct json_object *obj)
{
	struct ix_svc *s = ix_svc_get(x, key, obj != NULL);

	if (!s)
		return obj ? -ENOMEM : 0;
	json_object_put(s->obj);
	s->obj = obj ? json_object_get(obj) : NULL;
	ix_mark(x, s);
	return 0;
}

static void ix_claims_drop(struct xvip_model_index *x, struct ix_svc *s)
{
	for (size_t i = 0; i < s->ncands; i++) {
		struct ix_vip *v = ix_vip_get(x, &s->cands[i].s.vip, false);

		if (!v)
			continue;
		for (size_t k = 0; k < v->nclaims; k++) {
			if (v->claims[k].svc == s && v->claims[k].idx == i) {
				v->claims[k] = v->claims[--v->nclaims];
				break;
			}
		}
		/* Its entries point into cands about to be freed: resolved again in any case. */
		if (ix_vip_changed(x, v))
			x->all_dirty = true;
	}
	for (size_t i = 0; i < s->ncands; i++)
		svc_free(&s->cands[i].s);
	free(s->cands);
	s->cands = NULL;
	s->ncands = 0;
	s->deps.n = 0;
}

/* Translate Service s alone again, with its slices and today's endpoint addresses. */
static int ix_translate(struct xvip_model_index *x, struct ix_svc *s)
{
	struct xlate t = { .o = &x->o, .eps = { .a = x->ep_a, .n = x->neps },
			   .eps_deps = &s->deps };
	char err[MODEL_ERRLEN];
	int ret = 0;

	ix_claims_drop(x, s);
	if (!s->obj)
		return 0;
	t.err = err;
	t.errlen = sizeof(err);
	if (s->nslices) {
		t.slices = calloc(s->nslices, sizeof(*t.slices));
		if (!t.slices)
			return -ENOMEM;
		for (size_t i = 0; i < s->nslices; i++)
			t.slices[i] = s->slices[i]->sl;
		t.nslices = s->nslices;
	}
	ret = svc_parse(&t, s->obj, 0);
	free(t.slices);
	if (ret) {
		for (size_t i = 0; i < t.ncands; i++)
			svc_free(&t.cands[i].s);
		free(t.cands);
		if (ret == -ENOMEM)
			return ret;
		/* Checked alone before it came in: not expected; it claims nothing. */
		log_err("Service %s: %s", s->key, err);
		return 0;
	}
	s->cands = t.cands;
	s->ncands = t.ncands;
	for (size_t i = 0; i < s->ncands; i++) {
		struct ix_vip *v = ix_vip_get(x, &s->cands[i].s.vip, true);

		if (!v || xvip_grow((void **)&v->claims, &v->capclaims, v->nclaims,
				    sizeof(*v->claims)))
			return -ENOMEM;
		v->claims[v->nclaims++] = (struct ix_claim){ .svc = s, .idx = i };
		ret = ix_vip_changed(x, v);
		if (ret)
			return ret;
	}
	return 0;
}

/* Claims of one VIP in the order resolve() sorts candidates: port, proto, owner, input. */
static int ix_claim_cmp(const void *pa, const void *pb)
{
	const struct ix_claim *a = pa, *b = pb;
	/* One Service's candidates are numbered in input order, as seq is. */
	return cand_cmp(&a->svc->cands[a->idx], &b->svc->cands[b->idx]);
}

static int ix_resolve(struct ix_vip *v)
{
	char ep[XVIP_EPSTRLEN];
	size_t n = 0;

	free(v->win);
	v->win = NULL;
	v->nwin = 0;
	if (!v->nclaims)
		return 0;
	qsort(v->claims, v->nclaims, sizeof(*v->claims), ix_claim_cmp);
	v->win = calloc(v->nclaims, sizeof(*v->win));
	if (!v->win)
		return -ENOMEM;
	for (size_t i = 0; i < v->nclaims; i++) {
		const struct cand *c = &v->claims[i].svc->cands[v->claims[i].idx];

		if (n && !key_cmp(&v->win[n - 1], &c->s)) {
			log_warn("%s claimed by both %s and %s, keeping %s",
				 xvip_endpoint_str(&c->s.vip, c->s.port, c->s.proto, ep,
						   sizeof(ep)),
				 v->win[n - 1].name, c->s.name, v->win[n - 1].name);
			continue;
		}
		v->win[n++] = c->s;
	}
	v->nwin = n;
	return 0;
}

struct ix_walk {
	struct xvip_model_index *x;
	struct xvip_model *m;		/* full model: entries appended in VIP order */
	int err;
};

static void ix_mark_deps(const void *node, VISIT which, void *arg)
{
	struct ix_walk *w = arg;
	struct ix_svc *s = *(struct ix_svc *const *)node;
	const struct addr_set *ch = &w->x->eps_changed;

	if (which != postorder && which != leaf)
		return;
	if (w->x->all_dirty) {
		ix_mark(w->x, s);
		return;
	}
	for (size_t i = 0; i < s->deps.n && !s->dirty; i++)
		if (bsearch(&s->deps.a[i], ch->a, ch->n, sizeof(*ch->a), addr_cmp_v))
			ix_mark(w->x, s);
}

static int ix_changed_cmp(const void *a, const void *b)
{
	return xvip_addr_cmp(&(*(struct ix_vip *const *)a)->addr,
			     &(*(struct ix_vip *const *)b)->addr);
}

int xvip_model_index_commit(struct xvip_model_index *x, const struct xvip_model **delta,
			    const struct xvip_addr **vips, size_t *nvips)
{
	struct ix_walk w = { .x = x };
	size_t n = 0, nv = 0;
	int ret = 0;

	free(x->delta.svcs);
	free(x->delta_vips);
	memset(&x->delta, 0, sizeof(x->delta));
	x->delta_vips = NULL;
	*delta = &x->delta;
	*vips = NULL;
	*nvips = 0;

	if (x->eps_changed.n || x->all_dirty) {
		if (x->eps_changed.n)	/* qsort's base must not be NULL (UBSan) */
			qsort(x->eps_changed.a, x->eps_changed.n, sizeof(*x->eps_changed.a),
			      addr_cmp_v);
		twalk_r(x->svcs, ix_mark_deps, &w);
		x->eps_changed.n = 0;
		x->all_dirty = false;
	}
	/* Translate from the end, so what fails stays queued for the next commit. */
	while (x->ndirty) {
		struct ix_svc *s = x->dirty[x->ndirty - 1];

		ret = ix_translate(x, s);
		if (ret)
			goto out;
		x->ndirty--;
		s->dirty = false;
		if (!s->obj && !s->nslices) {
			tdelete(s, &x->svcs, ix_key_cmp);
			free(s->deps.a);
			free(s->slices);
			free(s->key);
			free(s);
		}
	}
	if (x->nchanged)
		qsort(x->changed, x->nchanged, sizeof(*x->changed), ix_changed_cmp);
	for (size_t i = 0; i < x->nchanged; i++) {
		ret = ix_resolve(x->changed[i]);
		if (ret)
			goto out;
		n += x->changed[i]->nwin;
	}
	x->delta.svcs = calloc(n + 1, sizeof(*x->delta.svcs));
	x->delta_vips = calloc(x->nchanged + 1, sizeof(*x->delta_vips));
	if (!x->delta.svcs || !x->delta_vips) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < x->nchanged; i++) {
		struct ix_vip *v = x->changed[i];

		if (v->nwin)
			memcpy(&x->delta.svcs[x->delta.nsvcs], v->win, v->nwin * sizeof(*v->win));
		x->delta.nsvcs += v->nwin;
		x->delta_vips[nv++] = v->addr;
		v->changed = false;
		if (!v->nclaims) {
			tdelete(v, &x->vips, ix_vip_cmp);
			x->nvips--;
			free(v->claims);
			free(v->win);
			free(v);
		}
	}
	x->nchanged = 0;
	*vips = x->delta_vips;
	*nvips = nv;
	return 0;
out:
	/* What is queued stays queued: the next commit does it again. */
	free(x->delta.svcs);
	memset(&x->delta, 0, sizeof(x->delta));
	return ret;
}

static void ix_collect(const void *node, VISIT which, void *arg)
{
	struct ix_walk *w = arg;
	const struct ix_vip *v = *(struct ix_vip *const *)node;

	if (which != postorder && which != leaf)
		return;
	if (v->nwin)
		memcpy(&w->m->svcs[w->m->nsvcs], v->win, v->nwin * sizeof(*v->win));
	w->m->nsvcs += v->nwin;
}

static void ix_count(const void *node, VISIT which, void *arg)
{
	size_t *n = arg;

	if (which == postorder || which == leaf)
		*n += (*(struct ix_vip *const *)node)->nwin;
}

int xvip_model_index_model(struct xvip_model_index *x, const struct xvip_model **m)
{
	struct ix_walk w = { .x = x, .m = &x->full };
	size_t n = 0;

	free(x->full.svcs);
	memset(&x->full, 0, sizeof(x->full));
	*m = &x->full;
	twalk_r(x->vips, ix_count, &n);
	x->full.svcs = calloc(n + 1, sizeof(*x->full.svcs));
	if (!x->full.svcs)
		return -ENOMEM;
	twalk_r(x->vips, ix_collect, &w);
	return 0;
}

static void ix_svc_destroy(void *p)
{
	struct ix_svc *s = p;

	for (size_t i = 0; i < s->ncands; i++)
		svc_free(&s->cands[i].s);
	free(s->cands);
	free(s->deps.a);
	free(s->slices);
	json_object_put(s->obj);
	free(s->key);
	free(s);
}

static void ix_slice_destroy(void *p)
{
	struct ix_slice *sl = p;

	slice_free(&sl->sl);
	free(sl->addrs.a);
	json_object_put(sl->obj);
	free(sl->key);
	free(sl);
}

static void ix_vip_destroy(void *p)
{
	struct ix_vip *v = p;

	free(v->claims);
	free(v->win);
	free(v);
}

void xvip_model_index_free(struct xvip_model_index *x)
{
	if (!x)
		return;
	tdestroy(x->vips, ix_vip_destroy);
	tdestroy(x->slices, ix_slice_destroy);
	tdestroy(x->svcs, ix_svc_destroy);
	free(x->ep_a);
	free(x->ep_refs);
	free(x->eps_changed.a);
	free(x->dirty);
	free(x->changed);
	free(x->delta.svcs);
	free(x->full.svcs);
	free(x->delta_vips);
	free(x);
}
