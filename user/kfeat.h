/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * What xvipd needs from the kernel, probed at start: one table (kfeat.c), each
 * feature with the first Linux release that has it and a probe that asks the
 * running kernel (a tiny program, a map creation, a helper probe), never its
 * version number, so a distribution kernel with the feature backported passes.
 * A required feature missing refuses the start with one line naming it.
 */
#ifndef XVIP_KFEAT_H
#define XVIP_KFEAT_H

#include <stdbool.h>
#include <stddef.h>

/* The oldest Linux release xvipd supports: the first long-term one with every feature. */
#define XVIP_KERNEL_MIN "5.15"

struct xvip_kfeat {
	const char *what;    /* "BPF atomic compare-and-exchange" */
	const char *token;   /* "BPF_CMPXCHG": the name users search for */
	const char *since;   /* "5.12": the first release that has it */
	const char *without; /* NULL: required; else what runs without it */
	/* 1: present, 0: missing, -errno: cannot tell (no privilege, ...) */
	int (*probe)(void);
};

extern const struct xvip_kfeat xvip_kfeats[];
extern const size_t xvip_nkfeats;

/*
 * Probe every feature of table[0..n): for each optional one missing, a
 * warning; for the first required one missing, the refusal in line:
 *   xvipd: this kernel (5.10.0-32-amd64) lacks BPF atomic compare-and-exchange
 *   (BPF_CMPXCHG, Linux 5.12): xvipd needs Linux 5.15 or later
 * Returns 0, or -EOPNOTSUPP with line filled in. A probe that cannot tell is
 * logged and passes: the load that follows then reports the real error.
 */
int xvip_kfeat_check(const struct xvip_kfeat *table, size_t n, char *line, size_t len);

#endif
