/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Loads the XDP and tc skeletons with their maps pinned under the pin dir,
 * attaches XDP to the uplinks (libxdp, single-program fallback) and tc to
 * the pod-facing interfaces (libbpf), the node-to-VIP socket hooks to a
 * cgroup v2 (bpf_links pinned under the pin dir), and undoes all of it on
 * --cleanup.
 */
#ifndef XVIP_LOADER_H
#define XVIP_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include "maps.h"

enum xvip_xdp_mode {
	XVIP_XDP_AUTO = 0,	/* native, else generic */
	XVIP_XDP_NATIVE,
	XVIP_XDP_GENERIC,
};

struct xvip_dp_opts {
	const char *pin_dir;
	uint32_t ct_size;
	enum xvip_xdp_mode mode;
};

struct xvip_dp {
	struct xvip_xdp *xdp;
	struct xvip_tc *tc;
	struct xvip_sock *sock;	/* NULL when the socket hooks did not load */
	struct xvip_maps maps;	/* borrowed from the XDP object */
	int lo6;		/* XVIP_MAP_LO6, borrowed too (user/nl.c) */
	char pin_dir[256];
	enum xvip_xdp_mode mode;
	bool adopted;		/* the maps were already pinned: a restart */
};

int xvip_dp_parse_mode(const char *s, enum xvip_xdp_mode *mode);
/* Loads both objects; maps are created and pinned, or reused from the pins. */
int xvip_dp_load(struct xvip_dp *dp, const struct xvip_dp_opts *o);
void xvip_dp_close(struct xvip_dp *dp);	/* leaves programs attached and pins in place */

/*
 * Attach XDP on ifindex. An xvip program already there (a previous xvipd) is
 * replaced atomically; any other program is an error (-EBUSY).
 */
int xvip_dp_attach_xdp(struct xvip_dp *dp, int ifindex);
/* tc ingress filter on a pod-facing interface; replaces ours in place. */
int xvip_dp_attach_tc(struct xvip_dp *dp, int ifindex);
/* True when ifindex has xvip's tc filter attached (by name: needs CAP_SYS_ADMIN). */
bool xvip_dp_tc_attached(int ifindex);
/* True when ifindex has this process's tc program attached (by id: no extra capability). */
bool xvip_dp_tc_is_ours(const struct xvip_dp *dp, int ifindex);

/*
 * Node-to-VIP: attach the socket hooks (connect, sendmsg, recvmsg,
 * getpeername; IPv4 and IPv6) to the cgroup v2 directory cgroup (NULL: the
 * root at /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid layout).
 * They act only on sockets of the current network namespace. Each link is
 * pinned as <pin dir>/xvip_link_sock_*, so it outlives xvipd; a pinned
 * link from a previous xvipd gets the new program in place (no gap).
 * -ENOTSUP when cgroup is not a cgroup v2 mount or the hooks did not load.
 */
int xvip_dp_attach_sock(struct xvip_dp *dp, const char *cgroup);

/*
 * --cleanup: detach xvip's XDP and tc programs from every interface of the
 * current network namespace, detach the socket hooks pinned under pin_dir
 * (whatever the namespace) and remove the pins. Returns the number of
 * detached attachments or -errno.
 */
int xvip_dp_cleanup(const char *pin_dir);
/* The pinned record of IPv6 VIPs on lo (XVIP_MAP_LO6) under pin_dir: an fd, or -errno. */
int xvip_dp_open_lo6(const char *pin_dir);

/*
 * Fail closed: is the dataplane whole? This process's XDP program on every
 * uplink (alone or in a libxdp dispatcher) and every map pin in place,
 * naming the same maps. 0, or -errno with the first problem in why.
 */
int xvip_dp_check(struct xvip_dp *dp, const char *const *uplinks, size_t n, char *why,
		  size_t whylen);
/*
 * Put back what can be put back: XDP on an uplink with no XDP program (never
 * over another one), pins that were removed. 0 when nothing was left to do.
 */
int xvip_dp_repair(struct xvip_dp *dp, const char *const *uplinks, size_t n);

/* Name of the XDP program attached on ifindex, or -ENOENT. */
int xvip_dp_xdp_prog_name(int ifindex, char *name, size_t len, uint32_t *id);

#endif
