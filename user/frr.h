/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * FRR through vtysh (--frr vtysh): xvipd keeps one `network VIP/32` (or /128)
 * statement under the node's `router bgp` for each VIP it advertises, adding
 * and removing them one by one -- never a configuration reload -- and reads
 * FRR's BGP table back as JSON to confirm (the locally originated routes only:
 * `show bgp ipv4 unicast regexp ^$ json`). Statements bgpd lost (a restart
 * from a frr.conf without them) are noticed on the next poll and re-added.
 * Only statements inside the VIP CIDRs are ever touched.
 *
 * The same vtysh plumbing gives `xvipctl status` the BGP and BFD session states.
 */
#ifndef XVIP_FRR_H
#define XVIP_FRR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"

struct json_object;

struct xvip_frr_opts {
	const char *vtysh;		/* program; NULL: "vtysh" from PATH */
	const char *vty_socket;		/* vtysh --vty_socket DIR; NULL: FRR's default */
	const struct xvip_cidr *cidrs;	/* statements xvipd owns lie inside these */
	size_t ncidrs;
	int timeout_ms;			/* per vtysh run; 0: 5000 */
};

/* What FRR does with a VIP, as read back at the last sync. */
enum xvip_frr_vip {
	XVIP_FRR_ABSENT = 0,		/* no network statement */
	XVIP_FRR_CONFIGURED,		/* statement there, not announced (not in the RIB?) */
	XVIP_FRR_ANNOUNCED,		/* statement there and its path valid: announced */
};

struct xvip_frr;

int xvip_frr_open(struct xvip_frr **f, const struct xvip_frr_opts *o);
void xvip_frr_close(struct xvip_frr *f);

/*
 * Make the network statements inside the VIP CIDRs exactly want[0..n), by
 * difference, and read them back. Returns 0 when FRR's table confirms it,
 * -EAGAIN when a statement is configured but not yet announced, other -errno
 * when FRR cannot be reached or refused (logged once per change of state).
 */
int xvip_frr_sync(struct xvip_frr *f, const struct xvip_addr *want, size_t n);
/* The VIP's state as of the last sync. */
enum xvip_frr_vip xvip_frr_vip_state(const struct xvip_frr *f, const struct xvip_addr *a);
const char *xvip_frr_vip_str(enum xvip_frr_vip s);
/* Times FRR was found to have lost statements xvipd had confirmed (bgpd restarts). */
unsigned int xvip_frr_reapplied(const struct xvip_frr *f);
/* The ASN of the BGP instance, 0 before the first successful read. */
uint32_t xvip_frr_asn(const struct xvip_frr *f);

/*
 * BGP and BFD sessions as FRR reports them:
 * {"bgp": [{"neighbor", "hostname", "remote_as", "state", "uptime_ms",
 *           "prefixes_received", "prefixes_sent"}...],
 *  "bfd": [{"interface", "peer", "status", "uptime_s", "detect_ms"}...]}
 */
int xvip_frr_sessions(const struct xvip_frr_opts *o, struct json_object **out, char *err,
		      size_t errlen);

/*
 * Run vtysh with one -c per command; *out gets what it printed (stdout and
 * stderr, NUL-terminated, malloc'd). Returns its exit status (>= 0) or -errno.
 */
int xvip_frr_vtysh(const struct xvip_frr_opts *o, const char *const *cmds, size_t ncmds,
		   char **out);

#endif
