// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Weighted Maglev table population (Eisenbud et al., NSDI 2016, 3.4).
 *
 * Each backend walks its own permutation of the m slots, (offset + j * skip) % m,
 * and in each round claims the next slot of that permutation still empty. Weights
 * leave the permutations alone and only ration the turns: a backend sits out once it
 * holds its target, so the table matches the weights to within one slot instead of
 * only in expectation. With equal weights this is exactly the paper's Algorithm 1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xvip.h"
#include "maglev.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Primes of roughly doubling size. With m >= 100 * n every backend's share is
 * within 1% of its weight, and a removal moves only a few percent of the slots
 * between surviving backends; both shrink as m / n grows (tests/test_maglev.c
 * measures the latter).
 */
static const uint32_t size_ladder[] = {
	251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
};

_Static_assert(XVIP_MAGLEV_MIN == 251 && XVIP_MAGLEV_MAX == 131071,
	       "size ladder spans XVIP_MAGLEV_MIN..XVIP_MAGLEV_MAX");

/*
 * SipHash-2-4 keys, the ASCII strings "xvip-maglev-offs" and "xvip-maglev-skip"
 * read little-endian. Two keys give the paper's two independent hashes.
 * Never change them: every table would reshuffle on upgrade and move the flows
 * of every service at once.
 */
#define MAGLEV_OFFSET_K0	0x67616d2d70697678ULL
#define MAGLEV_OFFSET_K1	0x7366666f2d76656cULL
#define MAGLEV_SKIP_K0		0x67616d2d70697678ULL
#define MAGLEV_SKIP_K1		0x70696b732d76656cULL

struct maglev_state {
	const struct xvip_maglev_backend *be;
	uint64_t pos;		/* current slot of this backend's permutation */
	uint64_t skip;
	uint64_t rem;		/* (m * weight) % total, for largest remainder */
	uint32_t target;	/* slots this backend ends up with */
	uint32_t count;		/* slots claimed so far */
};

bool xvip_is_prime(uint32_t n)
{
	uint32_t d;

	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	/* d <= n / d rather than d * d <= n: the square overflows near 2^32. */
	for (d = 3; d <= n / d; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

uint32_t xvip_maglev_size_for(size_t n, uint32_t max)
{
	uint32_t m = size_ladder[ARRAY_SIZE(size_ladder) - 1];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(size_ladder); i++) {
		/* n <= L / 100 is 100 * n <= L without overflowing for huge n. */
		if (n <= size_ladder[i] / 100) {
			m = size_ladder[i];
			break;
		}
	}
	return m < max ? m : max;
}

static inline uint64_t rotl64(uint64_t x, unsigned int b)
{
	return (x << b) | (x >> (64 - b));
}

static void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl64(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3];
	v[3] = rotl64(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl64(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl64(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl64(v[2], 32);
}

/* Bytes are assembled explicitly so a key hashes the same on any host's byte order. */
static uint64_t load_le(const uint8_t *p, size_t len)
{
	uint64_t w = 0;
	size_t i;

	for (i = 0; i < len; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

/*
 * SipHash-2-4 (Aumasson and Bernstein, 2012), as in its reference
 * implementation: keyed, so the offset and skip hashes are independent, and
 * well mixed even for keys that differ in one byte, like neighbouring
 * endpoint addresses.
 */
static uint64_t siphash24(const void *data, size_t len, uint64_t k0, uint64_t k1)
{
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ULL,
		k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL,
		k1 ^ 0x7465646279746573ULL,
	};
	const uint8_t *p = data;
	size_t left = len;
	uint64_t w;

	for (; left >= 8; left -= 8, p += 8) {
		w = load_le(p, 8);
		v[3] ^= w;
		sipround(v);
		sipround(v);
		v[0] ^= w;
	}
	w = load_le(p, left) | (uint64_t)len << 56;
	v[3] ^= w;
	sipround(v);
	sipround(v);
	v[0] ^= w;
	v[2] ^= 0xff;
	sipround(v);
	sipround(v);
	sipround(v);
	sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/*
 * A total order on everything that reaches the table, so the table depends on
 * the set of backends and not on the order the caller lists them in, even when
 * two share a key.
 */
static int cmp_backend(const void *pa, const void *pb)
{
	const struct xvip_maglev_backend *a = ((const struct maglev_state *)pa)->be;
	const struct xvip_maglev_backend *b = ((const struct maglev_state *)pb)->be;
	size_t len = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c = len ? memcmp(a->key, b->key, len) : 0;

	if (c)
		return c;
	if (a->keylen != b->keylen)
		return a->keylen < b->keylen ? -1 : 1;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	return 0;
}

/* Largest remainder first; ties go to the backend earlier in key order. */
static int cmp_remainder(const void *pa, const void *pb)
{
	const struct maglev_state *a = *(const struct maglev_state *const *)pa;
	const struct maglev_state *b = *(const struct maglev_state *const *)pb;

	if (a->rem != b->rem)
		return a->rem > b->rem ? -1 : 1;
	return a < b ? -1 : a > b;
}

int xvip_maglev_build(const struct xvip_maglev_backend *be, size_t n, uint32_t m,
		      uint32_t *table)
{
	struct maglev_state *st = NULL, **by_rem = NULL;
	uint8_t *taken = NULL;
	uint64_t total = 0, floors = 0, filled = 0;
	size_t i, extra;
	int err = 0;

	if (!be || !table || n == 0 || n > m || !xvip_is_prime(m))
		return -EINVAL;
	/* n <= m < 2^32 weights of < 2^32 each: total cannot overflow. */
	for (i = 0; i < n; i++) {
		if (be[i].weight == 0 || (!be[i].key && be[i].keylen))
			return -EINVAL;
		total += be[i].weight;
	}

	st = calloc(n, sizeof(*st));
	by_rem = calloc(n, sizeof(*by_rem));
	taken = calloc(m, sizeof(*taken));
	if (!st || !by_rem || !taken) {
		err = -ENOMEM;
		goto out;
	}

	for (i = 0; i < n; i++)
		st[i].be = &be[i];
	qsort(st, n, sizeof(*st), cmp_backend);

	for (i = 0; i < n; i++) {
		struct maglev_state *s = &st[i];
		/* Both factors are below 2^32, so the product fits. */
		uint64_t share = (uint64_t)m * s->be->weight;

		s->pos = siphash24(s->be->key, s->be->keylen, MAGLEV_OFFSET_K0,
				   MAGLEV_OFFSET_K1) % m;
		/* m is prime, so any skip in 1..m-1 makes the walk visit every slot. */
		s->skip = siphash24(s->be->key, s->be->keylen, MAGLEV_SKIP_K0,
				    MAGLEV_SKIP_K1) % (m - 1) + 1;
		s->target = (uint32_t)(share / total);
		s->rem = share % total;
		floors += s->target;
		by_rem[i] = s;
	}

	/* The floors fall short of m by fewer than n slots; hand those out. */
	extra = m - floors;
	qsort(by_rem, n, sizeof(*by_rem), cmp_remainder);
	for (i = 0; i < extra; i++)
		by_rem[i]->target++;

	/* The targets sum to m, so every round fills at least one slot. */
	while (filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			struct maglev_state *s = &st[i];

			if (s->count == s->target)
				continue;
			/*
			 * Ends: the walk covers all m slots, the slots it has
			 * passed are taken for good, and one is still empty.
			 */
			while (taken[s->pos])
				s->pos = (s->pos + s->skip) % m;
			taken[s->pos] = 1;
			table[s->pos] = s->be->id;
			s->count++;
			filled++;
		}
	}

out:
	free(taken);
	free(by_rem);
	free(st);
	return err;
}
