/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Flow hash shared by the XDP program and `xvipctl lookup`, so the CLI names
 * exactly the backend the dataplane picks. Bob Jenkins' lookup3 ("jhash",
 * public domain) over the 10 words of struct xvip_flow, as the kernel's
 * jhash2() computes it.
 */
#ifndef XVIP_HASH_H
#define XVIP_HASH_H

#include "xvip.h"

#ifndef XVIP_INLINE
#define XVIP_INLINE static inline __attribute__((always_inline))
#endif

#define XVIP_JHASH_INITVAL	0xdeadbeef
#define XVIP_FLOW_SEED		0x78766970	/* "xvip" */

XVIP_INLINE __u32 xvip_rol32(__u32 word, unsigned int shift)
{
	return (word << shift) | (word >> ((-shift) & 31));
}

#define __xvip_jhash_mix(a, b, c)				\
	do {							\
		a -= c; a ^= xvip_rol32(c, 4);  c += b;		\
		b -= a; b ^= xvip_rol32(a, 6);  a += c;		\
		c -= b; c ^= xvip_rol32(b, 8);  b += a;		\
		a -= c; a ^= xvip_rol32(c, 16); c += b;		\
		b -= a; b ^= xvip_rol32(a, 19); a += c;		\
		c -= b; c ^= xvip_rol32(b, 4);  b += a;		\
	} while (0)

#define __xvip_jhash_final(a, b, c)				\
	do {							\
		c ^= b; c -= xvip_rol32(b, 14);			\
		a ^= c; a -= xvip_rol32(c, 11);			\
		b ^= a; b -= xvip_rol32(a, 25);			\
		c ^= b; c -= xvip_rol32(b, 16);			\
		a ^= c; a -= xvip_rol32(c, 4);			\
		b ^= a; b -= xvip_rol32(a, 14);			\
		c ^= b; c -= xvip_rol32(b, 24);			\
	} while (0)

/*
 * Hash of a flow, seeded with xvip_cfg.hash_seed (XVIP_FLOW_SEED was the
 * fixed seed of layout version 1); the key's padding must be zero.
 */
XVIP_INLINE __u32 xvip_flow_hash(const struct xvip_flow *f, __u32 seed)
{
	const __u32 *k = (const __u32 *)f;
	__u32 a, b, c;

	_Static_assert(sizeof(*f) == 10 * sizeof(__u32), "flow hash covers the whole key");
	a = b = c = XVIP_JHASH_INITVAL + (10 << 2) + seed;
	a += k[0]; b += k[1]; c += k[2];
	__xvip_jhash_mix(a, b, c);
	a += k[3]; b += k[4]; c += k[5];
	__xvip_jhash_mix(a, b, c);
	a += k[6]; b += k[7]; c += k[8];
	__xvip_jhash_mix(a, b, c);
	a += k[9];
	__xvip_jhash_final(a, b, c);
	return c;
}

/* The xvip_vipbits bit of a VIP address: Fibonacci hashing of its folded words. */
XVIP_INLINE __u32 xvip_vip_bit(const struct xvip_addr *a)
{
	__u32 x = a->a[0] ^ a->a[1] ^ a->a[2] ^ a->a[3];

	return (x * 0x9e3779b1u) >> (32 - XVIP_VIPBITS_SHIFT);
}

#endif /* XVIP_HASH_H */
