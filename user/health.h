/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Fail closed: xvipd's XDP program on every uplink and its pins in place, or
 * every VIP withdrawn -- first withdraw, then repair what can be repaired,
 * then advertise again (after the hold-down) once the check passes. xvipd
 * runs the check every second; what it must do about a change comes back
 * through event().
 */
#ifndef XVIP_HEALTH_H
#define XVIP_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

struct xvip_dp;

enum xvip_health_event {
	XVIP_HEALTH_DOWN, /* the check failed, it passed before: withdraw every VIP */
	XVIP_HEALTH_WHY,  /* still failing, for another reason */
	XVIP_HEALTH_BACK, /* it passes again: advertise (after the hold-down) */
};

struct xvip_health {
	struct xvip_dp *dp;
	const char *const *ifaces; /* the uplinks */
	size_t nifaces;
	void (*event)(void *ctx, enum xvip_health_event ev);
	void *ctx;
	bool down;
	char why[256]; /* while down: "dataplane down: <the check's reason>" */
};

void xvip_health_init(struct xvip_health *h, struct xvip_dp *dp, const char *const *ifaces,
		      size_t nifaces, void (*event)(void *ctx, enum xvip_health_event ev),
		      void *ctx);
/* Check, repair if it fails, check again; event() for each change, in order. */
void xvip_health_check(struct xvip_health *h);
/* NULL while the dataplane passes the check, else why it does not. */
const char *xvip_health_problem(const struct xvip_health *h);

#endif
