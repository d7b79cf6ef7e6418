// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libFuzzer target: addresses, CIDRs, VIP:PORT/PROTO endpoints, protocols
 * and --log-level, as a user or a Service object writes them. Whatever
 * parses must print back to a string that parses to the same value.
 * (--metrics-addr's parser lives in user/metrics.c with the HTTP server and
 * every counter source; it is not linked here.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "log.h"

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "broken promise: %s\n", #cond);	\
			abort();					\
		}							\
	} while (0)

static void addr_roundtrip(const struct xvip_addr *a)
{
	char buf[XVIP_ADDRSTRLEN];
	struct xvip_addr b;

	(void)xvip_addr_is_special(a);
	xvip_addr_str(a, buf, sizeof(buf));
	/* ::ffff:0:0/96 prints as a dotted quad; every other address as itself. */
	CHECK(xvip_addr_parse(buf, &b) == 0);
	CHECK(xvip_addr_cmp(a, &b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char buf[XVIP_EPSTRLEN + 8];
	enum xvip_log_level level;
	struct xvip_cidr c, c2;
	struct xvip_addr a, b;
	uint16_t port, port2;
	uint8_t proto, proto2;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	if (!xvip_addr_parse(s, &a))
		addr_roundtrip(&a);
	if (size >= 16) {
		memcpy(&a, data, 16);
		addr_roundtrip(&a);
	}
	if (!xvip_cidr_parse(s, &c)) {
		CHECK(xvip_cidr_contains(&c, &c.addr));
		xvip_cidr_str(&c, buf, sizeof(buf));
		CHECK(!xvip_cidr_parse(buf, &c2));
		CHECK(!xvip_addr_cmp(&c.addr, &c2.addr) && c.plen == c2.plen);
	}
	if (!xvip_cidr_parse_masked(s, &c)) {
		CHECK(xvip_cidr_contains(&c, &c.addr));
		xvip_cidr_str(&c, buf, sizeof(buf));
		CHECK(!xvip_cidr_parse(buf, &c2));
		CHECK(!xvip_addr_cmp(&c.addr, &c2.addr) && c.plen == c2.plen);
	}
	if (!xvip_endpoint_parse(s, &a, &port, &proto)) {
		xvip_endpoint_str(&a, port, proto, buf, sizeof(buf));
		CHECK(!xvip_endpoint_parse(buf, &b, &port2, &proto2));
		CHECK(!xvip_addr_cmp(&a, &b) && port == port2 && proto == proto2);
	}
	if (!xvip_endpoint_parse(s, &a, &port, NULL)) {
		xvip_endpoint_str(&a, port, -1, buf, sizeof(buf));
		CHECK(!xvip_endpoint_parse(buf, &b, &port2, NULL));
		CHECK(!xvip_addr_cmp(&a, &b) && port == port2);
	}
	if (!xvip_proto_parse(s, &proto))
		CHECK(!xvip_proto_parse(xvip_proto_str(proto), &proto2) && proto == proto2);
	(void)xvip_log_parse_level(s, &level);
	free(s);
	return 0;
}
