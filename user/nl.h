/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * rtnetlink through libmnl: the VIP addresses xvipd keeps on `lo`, and the
 * routes that tell which interface leads to an endpoint.
 */
#ifndef XVIP_NL_H
#define XVIP_NL_H

#include <stdbool.h>
#include <stddef.h>
#include "addr.h"

/*
 * Addresses xvipd adds carry IFA_PROTO = XVIP_IFA_PROTO (kernel >= 6.1; the
 * value is outside the kernel's own IFAPROTO_* range) and, for IPv4, the
 * label "lo:xvip", so a restart or --cleanup only ever touches its own.
 * Kernels before 6.1 drop IFA_PROTO, and IPv6 addresses have no label: there
 * xvipd records the IPv6 VIPs it added in a pinned map (see nl.c).
 */
#define XVIP_IFA_PROTO		0x78	/* 'x' */
#define XVIP_IFA_LABEL		"lo:xvip"

struct xvip_nl;

int xvip_nl_open(struct xvip_nl **nl);
void xvip_nl_close(struct xvip_nl *nl);

/*
 * Does this kernel keep IFA_PROTO on addresses (Linux 6.1)? 1, 0, or -errno;
 * asked once per process (the kernel's own addresses on lo carry it).
 */
int xvip_nl_ifa_proto(void);
/*
 * The record of the IPv6 VIPs xvipd added, used when the kernel does not
 * keep IFA_PROTO: the fd of a hash map keyed by struct xvip_addr (the pinned
 * XVIP_MAP_LO6; borrowed, -1: none). Process-wide, like the kernel's answer.
 */
void xvip_nl_set_lo6_record(int fd);
/* Tests: behave as on a kernel without IFA_PROTO (never sent, ignored in dumps). */
void xvip_nl_force_no_ifa_proto(bool on);

/* Add or remove a /32 or /128 on lo (scope global, so FRR redistributes it); idempotent. */
int xvip_nl_lo_add(struct xvip_nl *nl, const struct xvip_addr *a);
int xvip_nl_lo_del(struct xvip_nl *nl, const struct xvip_addr *a);
/*
 * xvip_nl_lo_add for n addresses, many requests per system call: errs[i] is
 * a[i]'s result. Returns how many failed. A full sync puts 10,000s of VIPs
 * on lo, and a request and its acknowledgement each cost a system call.
 */
int xvip_nl_lo_add_many(struct xvip_nl *nl, const struct xvip_addr *a, size_t n, int *errs);
/* Calls cb for each address on lo that xvipd added (IFA_PROTO, label or record). */
int xvip_nl_lo_list(struct xvip_nl *nl, void (*cb)(const struct xvip_addr *a, void *ctx),
		    void *ctx);
/*
 * Link notifications (RTMGRP_LINK): a separate non-blocking socket whose
 * fd wakes the event loop when interfaces appear, change or go.
 */
int xvip_nl_monitor_open(struct xvip_nl **nl);
int xvip_nl_fd(const struct xvip_nl *nl);
/* Read every pending notification; returns how many there were, or -errno. */
int xvip_nl_monitor_drain(struct xvip_nl *nl);

/*
 * Address notifications (IPv4 and IPv6) on a separate non-blocking socket,
 * so the node's own addresses are read again only when one changed: a dump
 * costs milliseconds once 10,000 VIPs sit on lo. Open it before the first
 * dump. changed() reads every pending notification: 1 if an address xvipd
 * did not add came or went (or notifications were lost), 0 if not, -errno.
 */
int xvip_nl_addr_monitor_open(struct xvip_nl **nl);
int xvip_nl_addr_monitor_changed(struct xvip_nl *nl);

/*
 * Calls cb for each address of this network namespace, on any interface,
 * that xvipd did not add: the node's own, an operator's, a CNI's. None of
 * them may become a VIP.
 */
int xvip_nl_local_list(struct xvip_nl *nl, void (*cb)(const struct xvip_addr *a, void *ctx),
		       void *ctx);
/* ifindex of the output interface of the route to dst (RTM_GETROUTE), or -errno. */
int xvip_nl_route_oif(struct xvip_nl *nl, const struct xvip_addr *dst);

#endif
