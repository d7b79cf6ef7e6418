/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * What xvipd reports about itself, in one struct read by /readyz, /metrics
 * and the state file. The state file (default /run/xvip/status.json; bpffs
 * holds only maps and programs) is how xvipctl, which reads nothing but
 * pinned objects otherwise, learns the sync state: xvipd rewrites it whole
 * (write and rename) at most 250 ms after an apply and every few seconds as
 * a heartbeat (STATE_WRITE_MS in xvipd.c).
 */
#ifndef XVIP_STATUS_H
#define XVIP_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define XVIP_STATE_FILE		"/run/xvip/status.json"
/* xvipd rewrites the file at least this often; older means it is not running. */
#define XVIP_STATE_HEARTBEAT_S	5
#define XVIP_STATE_STALE_S	30

struct json_object;
struct xvip_kube_stats;
struct xvip_rc_snapshot;
struct xvip_frr;

struct xvip_status {
	const char *source;		/* "kubernetes" or "file" */
	const char *origin;		/* kubeconfig path, "in-cluster" or the services file */
	const char *node;
	bool synced;			/* a complete view was listed and programmed */
	const char *withdraw_reason;	/* every VIP kept off lo, and why; NULL: none */
	uint64_t applies;
	time_t last_apply;		/* wall clock; 0: never */
	int last_apply_result;		/* 0, > 0 entries that failed, < 0 -errno */
	size_t service_ports;
	size_t vips;			/* VIPs in the maps */
	size_t vips_on_lo;
	const struct xvip_kube_stats *kube;	/* NULL with --services-file */
	/* Per VIP: advertised or not and why; FRR's view in vtysh mode; fail closed. */
	const struct xvip_rc_snapshot *snap;	/* NULL: no per-VIP list */
	const char *frr_mode;		/* "connected", "vtysh" or "off" */
	const struct xvip_frr *frr;	/* vtysh mode: what FRR does with each VIP */
	const char *dataplane_problem;	/* NULL: XDP on every uplink, pins in place */
	struct json_object *frr_sessions;	/* xvip_frr_sessions() as last polled; NULL: none */
	uint32_t drain_s, hold_down_s;
};

/* The state file's text (what xvipctl -o json status shows), "\n"-terminated; free() it. */
int xvip_status_format(const struct xvip_status *st, char **out, size_t *len);
/* Atomically replace path (its directory created if missing). */
int xvip_status_write(const char *path, const struct xvip_status *st);
/* The last state file written; -ENOENT if there is none. */
int xvip_status_read(const char *path, struct json_object **out);

#endif
