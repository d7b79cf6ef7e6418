/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Least privilege: once xvipd has loaded, pinned and attached everything,
 * it keeps only the capabilities its steady state needs and drops the rest,
 * from the bounding set too, with no_new_privs, so neither xvipd nor a
 * program it runs (vtysh) can get them back.
 */
#ifndef XVIP_CAPS_H
#define XVIP_CAPS_H

#include <stddef.h>
#include <stdint.h>

#define XVIP_CAPS_MAX	64

/*
 * Keep exactly keep[0..n) (capability numbers, linux/capability.h) in the
 * effective and permitted sets, clear the inheritable and ambient sets,
 * drop every other capability from the bounding set (skipped, and said in
 * *bounding_kept = 1, without CAP_SETPCAP) and set no_new_privs. A
 * capability asked for but not held stays absent. 0 or -errno.
 */
int xvip_caps_drop(const int *keep, size_t n, int *bounding_kept);
/* The effective set as a bit mask (bit N = capability N). */
int xvip_caps_effective(uint64_t *mask);
/* "cap_net_admin,cap_bpf" for a mask, into buf. */
const char *xvip_caps_str(uint64_t mask, char *buf, size_t len);

#endif
