// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <stdio.h>
#include <string.h>

#include "health.h"
#include "loader.h"
#include "log.h"

void xvip_health_init(struct xvip_health *h, struct xvip_dp *dp, const char *const *ifaces,
		      size_t nifaces, void (*event)(void *ctx, enum xvip_health_event ev),
		      void *ctx)
{
	memset(h, 0, sizeof(*h));
	h->dp = dp;
	h->ifaces = ifaces;
	h->nifaces = nifaces;
	h->event = event;
	h->ctx = ctx;
}

const char *xvip_health_problem(const struct xvip_health *h)
{
	return h->down ? h->why : NULL;
}

void xvip_health_check(struct xvip_health *d)
{
	char why[200];
	int ret = xvip_dp_check(d->dp, d->ifaces, d->nifaces, why, sizeof(why));

	if (ret && !d->down) {
		d->down = true;
		snprintf(d->why, sizeof(d->why), "dataplane down: %s", why);
		log_err("%s; withdrawing every VIP until it is back", d->why);
		d->event(d->ctx, XVIP_HEALTH_DOWN);
	} else if (ret && strcmp(d->why + strlen("dataplane down: "), why)) {
		snprintf(d->why, sizeof(d->why), "dataplane down: %s", why);
		log_err("%s", d->why);
		d->event(d->ctx, XVIP_HEALTH_WHY);
	}
	if (ret) {
		xvip_dp_repair(d->dp, d->ifaces, d->nifaces);
		ret = xvip_dp_check(d->dp, d->ifaces, d->nifaces, why, sizeof(why));
	}
	if (!ret && d->down) {
		log_info("dataplane back (was: %s); VIPs advertised again after the hold-down",
			 d->why + strlen("dataplane down: "));
		d->down = false;
		d->why[0] = '\0';
		d->event(d->ctx, XVIP_HEALTH_BACK);
	}
}
