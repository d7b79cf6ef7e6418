// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "localaddr.h"
#include "nl.h"

void xvip_localaddr_init(struct xvip_localaddr *la, struct xvip_nl *nl)
{
	memset(la, 0, sizeof(*la));
	la->nl = nl;
}

void xvip_localaddr_fini(struct xvip_localaddr *la)
{
	xvip_nl_close(la->mon);
	free(la->a);
	memset(la, 0, sizeof(*la));
}

struct local_addrs {
	struct xvip_addr *a;
	size_t n, cap;
	int err;
};

static void local_cb(const struct xvip_addr *a, void *ctx)
{
	struct local_addrs *l = ctx;

	if (l->err)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		void *p = realloc(l->a, cap * sizeof(*l->a));

		if (!p) {
			l->err = -ENOMEM;
			return;
		}
		l->a = p;
		l->cap = cap;
	}
	l->a[l->n++] = *a;
}

static int addr_cmp_v(const void *a, const void *b)
{
	return xvip_addr_cmp(a, b);
}

int xvip_localaddr_refresh(struct xvip_localaddr *la, bool *changed)
{
	struct local_addrs l = {};
	struct xvip_nl *nl = la->nl;
	int ret = 0;

	*changed = false;
	/* The monitor first: a change during the dump then shows at the next call. */
	if (!la->mon && !la->mon_failed && xvip_nl_addr_monitor_open(&la->mon))
		la->mon_failed = true;
	if (la->ok && la->mon && xvip_nl_addr_monitor_changed(la->mon) == 0)
		return 0;
	if (!nl)
		ret = xvip_nl_open(&nl);
	if (!ret)
		ret = xvip_nl_local_list(nl, local_cb, &l) ?: l.err;
	if (nl && nl != la->nl)
		xvip_nl_close(nl);
	if (ret) {
		free(l.a);
		la->ok = false;
		return ret;
	}
	if (l.n)
		qsort(l.a, l.n, sizeof(*l.a), addr_cmp_v);
	*changed = !la->ok || l.n != la->n ||
		   (l.n && memcmp(l.a, la->a, l.n * sizeof(*l.a)));
	free(la->a);
	la->a = l.a;
	la->n = l.n;
	la->ok = true;
	return 0;
}
