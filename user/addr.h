/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Addresses, CIDRs and VIP:PORT/PROTO strings; IPv4 is kept IPv4-mapped (see include/xvip.h). */
#ifndef XVIP_ADDR_H
#define XVIP_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <netinet/in.h>
#include "xvip.h"

/* Long enough for an IPv6 address, brackets, port and protocol. */
#define XVIP_ADDRSTRLEN		(INET6_ADDRSTRLEN + 2)
#define XVIP_EPSTRLEN		(INET6_ADDRSTRLEN + 16)

struct xvip_cidr {
	struct xvip_addr addr;	/* masked */
	uint8_t plen;		/* over the 128-bit (mapped) address */
};

bool xvip_addr_is_v4(const struct xvip_addr *a);
void xvip_addr_from_v4(struct xvip_addr *a, uint32_t be_v4);
void xvip_addr_from_v6(struct xvip_addr *a, const struct in6_addr *in6);
/* Parse "198.18.21.1" or "2001:db8::1" (no brackets); 0 or -EINVAL. */
int xvip_addr_parse(const char *s, struct xvip_addr *a);
/* Formats an address into buf (XVIP_ADDRSTRLEN) and returns buf. */
const char *xvip_addr_str(const struct xvip_addr *a, char *buf, size_t len);
/* 0.0.0.0, ::, ::ffff:0.0.0.0, multicast, loopback and link-local are never VIPs. */
bool xvip_addr_is_special(const struct xvip_addr *a);
int xvip_addr_cmp(const struct xvip_addr *a, const struct xvip_addr *b);

/* Parse "198.18.21.0/24" or "2001:db8:21::/64"; host bits must be zero. */
int xvip_cidr_parse(const char *s, struct xvip_cidr *c);
/* Like xvip_cidr_parse, but host bits are masked off (Kubernetes accepts "10.0.0.1/8"). */
int xvip_cidr_parse_masked(const char *s, struct xvip_cidr *c);
bool xvip_cidr_contains(const struct xvip_cidr *c, const struct xvip_addr *a);
const char *xvip_cidr_str(const struct xvip_cidr *c, char *buf, size_t len);

int xvip_proto_parse(const char *s, uint8_t *proto);	/* "tcp"/"TCP"/"udp"/"sctp" */
const char *xvip_proto_str(uint8_t proto);		/* "tcp", "udp", "sctp", "?" */

/*
 * "VIP:PORT/PROTO" ("198.18.21.1:80/tcp", "[2001:db8::1]:443/tcp") and
 * "ADDR:PORT" (proto NULL). Port is in host order.
 */
int xvip_endpoint_parse(const char *s, struct xvip_addr *a, uint16_t *port, uint8_t *proto);
const char *xvip_endpoint_str(const struct xvip_addr *a, uint16_t port, int proto,
			      char *buf, size_t len);	/* proto < 0: no "/proto" */

#endif
