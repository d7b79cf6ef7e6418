/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * What the reconciler publishes about what it programmed, for those who
 * report it (the state file, /metrics, FRR's network statements): a copy
 * taken when asked (xvip_rc_snapshot in reconcile.h), so nothing outside the
 * reconciler reads its own arrays.
 */
#ifndef XVIP_RCSNAP_H
#define XVIP_RCSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xvip.h"

/* Why a VIP is, or is not, advertised (on lo). */
enum xvip_vip_why {
	XVIP_VIP_ADVERTISED = 0, /* a ready local endpoint, maps complete */
	XVIP_VIP_NO_READY,	 /* no ready local endpoint */
	XVIP_VIP_HOLD_DOWN,	 /* ready again, not yet for the hold-down */
	XVIP_VIP_DRAINING,	 /* no local endpoint left: existing flows drain */
	XVIP_VIP_WITHDRAWN,	 /* withdraw_reason: node drained, dataplane down */
	XVIP_VIP_INCOMPLETE,	 /* its maps could not be programmed (retrying) */
	XVIP_VIP_LO_FAILED,	 /* the address on lo could not be changed (retrying) */
};

const char *xvip_vip_why_str(int why);

struct xvip_snap_vip {
	struct xvip_addr addr;
	bool advertised;    /* on lo */
	uint8_t why;	    /* enum xvip_vip_why */
	unsigned int ports; /* its service ports in the maps */
	unsigned int draining_ports;
	uint64_t hold_down_end_ns; /* why is XVIP_VIP_HOLD_DOWN: advertised from then on */
	uint64_t drain_end_ns;	   /* when its last draining port is removed; 0: none drains */
};

struct xvip_snap_svc {
	struct xvip_svc_key key;
	uint32_t id;	  /* index in xvip_svc_stats */
	const char *name; /* the reconciler's: valid until it applies again */
};

struct xvip_rc_snapshot {
	uint64_t now_ns;	     /* the reconciler's clock (CLOCK_MONOTONIC) when taken */
	const char *withdraw_reason; /* every VIP kept off lo, and why; NULL: none */
	struct xvip_snap_vip *vips;  /* sorted */
	size_t nvips;
	size_t vips_on_lo;
	struct xvip_snap_svc *svcs; /* sorted by (VIP, port, proto) */
	size_t nsvcs;
};

void xvip_rc_snapshot_free(struct xvip_rc_snapshot *s);

#endif
