/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Desired state (a model) -> BPF maps and VIPs on lo, applying only the
 * difference from what is programmed. Order matters and is fixed here:
 * VIPs are withdrawn from lo before their maps change, backends and whole
 * Maglev tables are written before the service key that leads to them,
 * and VIPs go onto lo only once their maps are complete.
 */
#ifndef XVIP_RECONCILE_H
#define XVIP_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "maps.h"
#include "model.h"
#include "rcsnap.h"

struct xvip_nl;

struct xvip_rc_backend {
	struct xvip_addr addr;
	uint16_t port;		/* host order */
	uint8_t state;		/* enum xvip_be_state as programmed */
	uint8_t pad;
	uint32_t weight;
	uint32_t id;		/* index in xvip_be */
};

struct xvip_rc_svc {
	struct xvip_svc_key key;
	uint32_t id;		/* index in xvip_maglev / xvip_svc_stats */
	char *name;
	size_t n;
	struct xvip_rc_backend *be;	/* sorted by (addr, port) */
	uint32_t table_size;	/* 0: no table (no endpoint takes new flows) */
	uint32_t affinity_s;	/* sessionAffinity ClientIP timeout; 0: none */
	size_t nranges;		/* loadBalancerSourceRanges, sorted */
	struct xvip_cidr *ranges;
	/*
	 * Non-zero: the port lost its last local endpoint (or left the model)
	 * and its backends are XVIP_BE_DRAINING until then (CLOCK_MONOTONIC ns):
	 * no table, so new flows are dropped; conntrack'd flows keep going.
	 */
	uint64_t drain_until_ns;
};

struct xvip_id_pool {
	uint32_t max;		/* ids are 1..max-1; 0 means none */
	uint8_t *used;
	uint32_t *ring;		/* FIFO of free ids: a freed id is reused last */
	uint32_t head, count;
};

struct xvip_rc_vip {
	struct xvip_addr addr;
	bool on_lo;
	bool in_map;		/* val is what xvip_vip holds */
	struct xvip_vip_val val;
	bool eligible;		/* at the last apply: want_lo */
	bool held;		/* withdrawn since last advertised: re-advertising waits */
	uint8_t why;		/* enum xvip_vip_why */
	uint64_t eligible_since_ns;	/* CLOCK_MONOTONIC ns when eligible turned true */
	/* during an apply: */
	bool want_lo;		/* some port of it has a ready endpoint */
	bool ready_ok;		/* ... and that port's maps were programmed */
};

struct xvip_rc_stats {
	unsigned int svcs_added, svcs_changed, svcs_removed;
	unsigned int tables_swapped, vips_added, vips_removed, errors;
};

struct xvip_reconciler {
	struct xvip_maps *maps;
	struct xvip_nl *nl;		/* NULL: never touch lo (--frr off) */
	uint32_t maglev_max;
	/* May an endpoint take traffic? (route to it found, return path ready) */
	bool (*ep_usable)(void *ctx, const struct xvip_addr *addr);
	void *ctx;
	/*
	 * Non-NULL: keep every VIP off lo whatever its endpoints (the node is
	 * drained, the dataplane is down, ...); the text says why. Maps are
	 * still programmed, so flows that still arrive are served.
	 */
	const char *withdraw_reason;
	/*
	 * Drain: a service port that loses its last local endpoint (or leaves
	 * the model) is withdrawn first, then its backends stay DRAINING this
	 * long before they are removed. 0: removed at once.
	 */
	uint64_t drain_ns;
	/*
	 * Hold-down: a VIP withdrawn for want of a ready endpoint (or for
	 * withdraw_reason) goes back on lo only once it has been ready this long
	 * without a break. Withdrawal is always immediate. 0: at once.
	 */
	uint64_t hold_down_ns;
	/* CLOCK_MONOTONIC ns; NULL: the real clock (tests set their own). */
	uint64_t (*clock)(void);
	struct xvip_model model;	/* the last model applied, for xvip_rc_reapply */

	struct xvip_rc_svc *svcs;	/* sorted like the model */
	size_t nsvcs;
	struct xvip_rc_vip *vips;	/* VIPs in the maps, sorted */
	size_t nvips;
	struct xvip_id_pool svc_ids, be_ids;
	struct xvip_rc_stats last;
	bool synced;			/* one full apply succeeded */
	/*
	 * VIPs refused at the last apply: addresses of this node that xvipd did
	 * not put on lo (see xvip_rc_apply). Sorted; kept to warn once per VIP.
	 */
	struct xvip_addr *refused;
	size_t nrefused;
	/*
	 * This node's addresses xvipd did not add (sorted; localaddr.h reads
	 * them), set by the caller before an apply: VIPs among them are
	 * refused. local_err: they could not be read (-errno); the apply then
	 * goes ahead unchecked, with an error.
	 */
	const struct xvip_addr *local;
	size_t nlocal;
	int local_err;
};

int xvip_rc_init(struct xvip_reconciler *rc, struct xvip_maps *maps, struct xvip_nl *nl,
		 uint32_t maglev_max);
void xvip_rc_fini(struct xvip_reconciler *rc);
/*
 * Rebuild the in-memory view from maps a previous xvipd pinned, and the
 * VIPs it left on lo, so the next apply is a difference, not a flush.
 */
int xvip_rc_adopt(struct xvip_reconciler *rc);
/*
 * Make the maps and lo match m (copied: the reconciler keeps it). Returns 0, or
 * the number of entries that failed (> 0). A VIP that is an address of this
 * node (on any interface) that xvipd did not add itself (local[]) is refused
 * first, with a warning: XDP would take over traffic to the node, lo would
 * announce it. The copy kept is the model without them.
 */
int xvip_rc_apply(struct xvip_reconciler *rc, const struct xvip_model *m);
/*
 * The same for a source that knows what changed (the API source), at a cost
 * in proportion to that: delta holds every entry the VIPs in vips[] (sorted,
 * unique) have now, and the entries of every other VIP are those of the last
 * model applied. Only those VIPs and their service ports are looked at (and
 * their endpoints checked with ep_usable). Returns as xvip_rc_apply does.
 * Call xvip_rc_apply first; withdraw_reason and local[] must not have changed
 * since (that, too, takes xvip_rc_apply or xvip_rc_reapply: a new address of
 * this node, or one gone, may refuse or accept again VIPs outside vips[]).
 */
int xvip_rc_apply_delta(struct xvip_reconciler *rc, const struct xvip_model *delta,
			const struct xvip_addr *vips, size_t nvips);
/*
 * Apply the last model again: when a deadline passed (hold-down, drain) or
 * withdraw_reason changed. 0 with nothing applied yet.
 */
int xvip_rc_reapply(struct xvip_reconciler *rc);
/* The earliest hold-down or drain deadline (CLOCK_MONOTONIC ns), 0: none pending. */
uint64_t xvip_rc_next_deadline(const struct xvip_reconciler *rc);
uint64_t xvip_rc_now(const struct xvip_reconciler *rc);
/*
 * What is programmed, per VIP and per service port, as of now: a copy for
 * those who report it (rcsnap.h). 0 or -ENOMEM (*s then empty).
 */
int xvip_rc_snapshot(const struct xvip_reconciler *rc, struct xvip_rc_snapshot *s);
/* Withdraw every VIP xvipd put on lo (used by --cleanup and on fatal errors). */
int xvip_rc_withdraw_all(struct xvip_reconciler *rc);

#endif
