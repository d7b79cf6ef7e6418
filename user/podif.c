// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "podif.h"
#include "log.h"
#include "nl.h"

void xvip_podif_init(struct xvip_podif *p, struct xvip_dp *dp, struct xvip_nl *nl,
		     const int *uplinks, size_t nuplinks)
{
	memset(p, 0, sizeof(*p));
	p->dp = dp;
	p->nl = nl;
	p->uplinks = uplinks;
	p->nuplinks = nuplinks;
}

void xvip_podif_fini(struct xvip_podif *p)
{
	free(p->epc);
	p->epc = NULL;
	p->nepc = p->capepc = 0;
}

static bool is_uplink(int ifindex, const int *uplinks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (uplinks[i] == ifindex)
			return true;
	return false;
}

int xvip_podif_sync(struct xvip_podif *p)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int attached = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		int ifindex = (int)i->if_index;

		if (!strcmp(i->if_name, "lo") || is_uplink(ifindex, p->uplinks, p->nuplinks))
			continue;
		if (xvip_dp_tc_is_ours(p->dp, ifindex))
			continue;
		/* Interfaces come and go with pods: a failure here is retried next time. */
		if (!xvip_dp_attach_tc(p->dp, ifindex))
			attached++;
	}
	if_freenameindex(ifs);
	return attached;
}

void xvip_podif_reset(struct xvip_podif *p)
{
	p->nepc = 0;
	p->missed = false;
}

/* The endpoint's interface carries this process's tc program (podif attaches it everywhere). */
static int ensure_tc(struct xvip_podif *p, int ifindex)
{
	if (xvip_dp_tc_is_ours(p->dp, ifindex))
		return 0;
	return xvip_dp_attach_tc(p->dp, ifindex);
}

bool xvip_podif_ep_usable(void *ctx, const struct xvip_addr *addr)
{
	struct xvip_podif *d = ctx;
	char a[XVIP_ADDRSTRLEN];
	bool usable = false;
	int oif;

	size_t lo = 0, hi = d->nepc;

	/* Sorted: a whole apply looks up 100,000 endpoints of a few 100 pods. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = xvip_addr_cmp(&d->epc[mid].addr, addr);

		if (!c)
			return d->epc[mid].usable;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}

	xvip_addr_str(addr, a, sizeof(a));
	oif = xvip_nl_route_oif(d->nl, addr);
	if (oif < 0)
		log_warn("endpoint %s: no route (%s)", a, strerror(-oif));
	else if (is_uplink(oif, d->uplinks, d->nuplinks))
		log_warn("endpoint %s: routed out of an uplink, not a local pod", a);
	else
		usable = ensure_tc(d, oif) == 0;
	if (!usable)
		d->missed = true;

	if (d->nepc == d->capepc) {
		size_t cap = d->capepc ? d->capepc * 2 : 64;
		void *p = realloc(d->epc, cap * sizeof(*d->epc));

		if (!p)
			return usable;
		d->epc = p;
		d->capepc = cap;
	}
	memmove(&d->epc[lo + 1], &d->epc[lo], (d->nepc - lo) * sizeof(*d->epc));
	d->epc[lo].addr = *addr;
	d->epc[lo].usable = usable;
	d->nepc++;
	return usable;
}
