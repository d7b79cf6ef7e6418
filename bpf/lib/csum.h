/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Incremental Internet checksum updates for XDP, where the program writes
 * packet memory directly (RFC 1624: HC' = ~(~HC + ~m + m')). tc uses the
 * kernel's bpf_l3/l4_csum_replace instead, which also handle CHECKSUM_PARTIAL.
 */
#ifndef XVIP_BPF_CSUM_H
#define XVIP_BPF_CSUM_H

#include "common.h"

XVIP_INLINE __u32 csum_add(__u32 csum, __u32 addend)
{
	csum += addend;
	return csum + (csum < addend);
}

XVIP_INLINE __u16 csum_fold(__u32 csum)
{
	csum = (csum & 0xffff) + (csum >> 16);
	csum = (csum & 0xffff) + (csum >> 16);
	return (__u16)~csum;
}

/* Replace a 32-bit word covered by *sum. */
XVIP_INLINE void csum_replace4(__u16 *sum, __u32 from, __u32 to)
{
	__u32 c = (__u16)~*sum;

	c = csum_add(c, ~from);
	c = csum_add(c, to);
	*sum = csum_fold(c);
}

/* Replace a 16-bit word covered by *sum. */
XVIP_INLINE void csum_replace2(__u16 *sum, __u16 from, __u16 to)
{
	__u32 c = (__u16)~*sum;

	c = csum_add(c, (__u16)~from);
	c = csum_add(c, to);
	*sum = csum_fold(c);
}

/* Replace a 16-byte address covered by *sum (IPv6 pseudo-header). */
XVIP_INLINE void csum_replace16(__u16 *sum, const struct xvip_addr *from,
				const struct xvip_addr *to)
{
	__u32 c = (__u16)~*sum;

#pragma unroll
	for (int i = 0; i < 4; i++) {
		c = csum_add(c, ~from->a[i]);
		c = csum_add(c, to->a[i]);
	}
	*sum = csum_fold(c);
}

#endif
