// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Known answers for xvip_flow_hash (include/xvip_hash.h), the hash the XDP
 * program, the conntrack table and `xvipctl lookup` agree on. A restarted or
 * upgraded xvipd finds its pinned conntrack entries and Maglev slots by it:
 * it must never change. The expected values are not computed by the code
 * under test: tests/test_hash_vectors.py (lookup3's hashlittle in Python,
 * checked against the values lookup3.c publishes) computed them and checks
 * this table on every run; `tests/test_hash_vectors.py --print` prints it.
 */
#include <arpa/inet.h>

#include "test.h"
#include "xvip_hash.h"

struct flow_vector {
	const char *saddr, *daddr;	/* IPv6 text; IPv4 as ::ffff:a.b.c.d, as xvip keys it */
	uint16_t sport, dport;
	uint8_t proto;
	uint32_t seed, hash;
};

static const struct flow_vector vectors[] = {
	{ "::ffff:198.18.30.10", "::ffff:198.18.21.1", 40000, 80, 6, 0x78766970, 0x34182901 },
	{ "::ffff:198.18.30.10", "::ffff:198.18.21.1", 40001, 80, 6, 0x78766970, 0xf7f33caf },
	{ "::ffff:198.18.30.10", "::ffff:198.18.21.1", 40000, 53, 17, 0x78766970, 0x2b3de4d2 },
	{ "::ffff:10.0.0.1", "::ffff:10.10.21.7", 3868, 3868, 132, 0x1b873593, 0xeed0ce04 },
	{ "2001:db8:30::10", "2001:db8:21::1", 51515, 443, 6, 0x78766970, 0xb78731f1 },
	{ "2001:db8:30::10", "2001:db8:21::1", 51515, 443, 6, 0x00000000, 0x29c32a96 },
	{ "::", "::", 0, 0, 0, 0x00000000, 0xc0fed4b2 },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:255.255.255.255", 65535, 65535, 255,
	  0xffffffff, 0x30829f44 },
};

/* The key built from its fields with libc alone, padding zero. */
static bool flow_of(const struct flow_vector *v, struct xvip_flow *f)
{
	memset(f, 0, sizeof(*f));
	f->sport = htons(v->sport);
	f->dport = htons(v->dport);
	f->proto = v->proto;
	return inet_pton(AF_INET6, v->saddr, &f->saddr) == 1 &&
	       inet_pton(AF_INET6, v->daddr, &f->daddr) == 1;
}

TEST(flow_hash_known_answers)
{
	char what[160];

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct flow_vector *v = &vectors[i];
		struct xvip_flow f;

		snprintf(what, sizeof(what), "%s:%u -> %s:%u proto %u seed 0x%08x", v->saddr,
			 v->sport, v->daddr, v->dport, v->proto, v->seed);
		if (!ASSERT_TRUE(flow_of(v, &f), what))
			continue;
		ASSERT_EQ(xvip_flow_hash(&f, v->seed), v->hash, what);
	}
}

TEST_MAIN(TEST_CASE(flow_hash_known_answers))
