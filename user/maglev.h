/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Weighted Maglev lookup tables (Eisenbud et al., NSDI 2016, section 3.4),
 * built in userspace and handed to the datapath whole.
 */
#ifndef XVIP_MAGLEV_H
#define XVIP_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct xvip_maglev_backend {
	uint32_t id;		/* value written into the table's slots */
	uint32_t weight;	/* > 0; relative share of the slots */
	const void *key;	/* stable identity hashed for the permutation */
	size_t keylen;		/* (endpoint address and port) */
};

bool xvip_is_prime(uint32_t n);

/*
 * Table size for n backends: the smallest prime in xvip's size ladder that
 * is at least 100 * n (so weights resolve to 1% and a removal disturbs few
 * slots), never above max (itself a prime). Small services get small tables.
 */
uint32_t xvip_maglev_size_for(size_t n, uint32_t max);

/*
 * Fill table[0..m-1] with backend ids; m must be prime and n >= 1, weights > 0.
 * Each backend gets round(m * weight / total) slots (largest remainder), so
 * with equal weights the counts differ by at most one. Returns 0 or -EINVAL,
 * -ENOMEM.
 */
int xvip_maglev_build(const struct xvip_maglev_backend *be, size_t n, uint32_t m,
		      uint32_t *table);

#endif
