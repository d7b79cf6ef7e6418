/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * This node's own addresses, on any interface, that xvipd did not add: the
 * reconciler refuses a VIP among them (reconcile.h). They are read again only
 * when the address monitor saw one change (reading them takes milliseconds
 * with 10,000 VIPs on lo).
 */
#ifndef XVIP_LOCALADDR_H
#define XVIP_LOCALADDR_H

#include <stdbool.h>
#include <stddef.h>
#include "addr.h"

struct xvip_nl;

struct xvip_localaddr {
	struct xvip_nl *nl;  /* for the dump; NULL: one is opened for each (--frr off) */
	struct xvip_nl *mon; /* tells when they must be read again */
	bool mon_failed;
	struct xvip_addr *a; /* sorted */
	size_t n;
	bool ok; /* a[] is what the last read found */
};

void xvip_localaddr_init(struct xvip_localaddr *la, struct xvip_nl *nl);
void xvip_localaddr_fini(struct xvip_localaddr *la);
/*
 * Read them again if they may have changed; *changed tells whether the
 * list differs from the one held before. On error (-errno) ok is false
 * until a read succeeds.
 */
int xvip_localaddr_refresh(struct xvip_localaddr *la, bool *changed);

#endif
