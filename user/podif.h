/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The pod-facing side of the node: xvip's tc program on every interface
 * that is neither lo nor an uplink, so that every pod's VIP traffic is
 * balanced (not delivered to the host, where the VIP is a local address)
 * and every endpoint's replies are translated. Interfaces appear as pods
 * start; xvipd calls this on every apply and on its timer. And whether an
 * endpoint can take traffic: a route to it that leaves by such an
 * interface, with the tc program on it.
 */
#ifndef XVIP_PODIF_H
#define XVIP_PODIF_H

#include <stdbool.h>
#include <stddef.h>
#include "addr.h"
#include "loader.h"

struct xvip_nl;

/* One route lookup per endpoint address and apply; endpoints share pods' interfaces. */
struct xvip_podif_ep {
	struct xvip_addr addr;
	bool usable;
};

struct xvip_podif {
	struct xvip_dp *dp;
	struct xvip_nl *nl;	/* route lookups */
	const int *uplinks;
	size_t nuplinks;
	struct xvip_podif_ep *epc;	/* sorted by address */
	size_t nepc, capepc;
	bool missed;		/* an endpoint was not usable since the last reset */
};

void xvip_podif_init(struct xvip_podif *p, struct xvip_dp *dp, struct xvip_nl *nl,
		     const int *uplinks, size_t nuplinks);
void xvip_podif_fini(struct xvip_podif *p);
/* Attach where missing. Returns the number of attachments made, or -errno. */
int xvip_podif_sync(struct xvip_podif *p);
/* Before an apply: routes are looked up again, missed is cleared. */
void xvip_podif_reset(struct xvip_podif *p);
/*
 * May the endpoint take traffic? The reconciler's ep_usable, ctx the
 * struct xvip_podif. A no sets missed (the apply is to be retried).
 */
bool xvip_podif_ep_usable(void *ctx, const struct xvip_addr *addr);

#endif
