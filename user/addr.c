// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>

#include "addr.h"

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

bool xvip_addr_is_v4(const struct xvip_addr *a)
{
	return memcmp(a, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0;
}

void xvip_addr_from_v4(struct xvip_addr *a, uint32_t be_v4)
{
	memcpy(a, v4mapped_prefix, sizeof(v4mapped_prefix));
	a->a[3] = be_v4;
}

void xvip_addr_from_v6(struct xvip_addr *a, const struct in6_addr *in6)
{
	memcpy(a, in6, sizeof(*a));
}

int xvip_addr_parse(const char *s, struct xvip_addr *a)
{
	struct in6_addr in6;
	struct in_addr in4;

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, &in4) == 1) {
		xvip_addr_from_v4(a, in4.s_addr);
		return 0;
	}
	if (strchr(s, ':') && inet_pton(AF_INET6, s, &in6) == 1) {
		/* "::ffff:1.2.3.4" would alias an IPv4 address: refuse it. */
		if (memcmp(&in6, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0)
			return -EINVAL;
		xvip_addr_from_v6(a, &in6);
		return 0;
	}
	return -EINVAL;
}

const char *xvip_addr_str(const struct xvip_addr *a, char *buf, size_t len)
{
	if (xvip_addr_is_v4(a))
		inet_ntop(AF_INET, &a->a[3], buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
	return buf;
}

bool xvip_addr_is_special(const struct xvip_addr *a)
{
	if (xvip_addr_is_v4(a)) {
		uint32_t h = ntohl(a->a[3]);

		return h == 0 || (h >> 24) == 127 || (h >> 28) == 0xe || h == 0xffffffff ||
		       (h >> 16) == 0xa9fe /* 169.254/16 */ || (h >> 24) == 0;
	}
	const uint8_t *b = (const uint8_t *)a;
	static const uint8_t zero[16], one[16] = { [15] = 1 };

	return !memcmp(b, zero, 16) || !memcmp(b, one, 16) || b[0] == 0xff ||
	       (b[0] == 0xfe && (b[1] & 0xc0) == 0x80);
}

int xvip_addr_cmp(const struct xvip_addr *a, const struct xvip_addr *b)
{
	return memcmp(a, b, sizeof(*a));
}

static void mask_addr(struct xvip_addr *a, unsigned int plen)
{
	uint8_t *b = (uint8_t *)a;

	for (unsigned int i = 0; i < 16; i++) {
		unsigned int bits = plen > i * 8 ? plen - i * 8 : 0;

		if (bits < 8)
			b[i] &= (uint8_t)(0xff00 >> bits);
	}
}

static int cidr_parse(const char *s, struct xvip_cidr *c, bool mask);

int xvip_cidr_parse(const char *s, struct xvip_cidr *c)
{
	return cidr_parse(s, c, false);
}

int xvip_cidr_parse_masked(const char *s, struct xvip_cidr *c)
{
	return cidr_parse(s, c, true);
}

static int cidr_parse(const char *s, struct xvip_cidr *c, bool mask)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct xvip_addr masked;
	const char *slash;
	char *end;
	long plen;
	size_t n;

	if (!s || !(slash = strchr(s, '/')))
		return -EINVAL;
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (xvip_addr_parse(buf, &c->addr))
		return -EINVAL;
	errno = 0;
	plen = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || plen < 0)
		return -EINVAL;
	if (xvip_addr_is_v4(&c->addr)) {
		if (plen > 32)
			return -EINVAL;
		plen += 96;
	} else if (plen > 128) {
		return -EINVAL;
	}
	c->plen = (uint8_t)plen;
	masked = c->addr;
	mask_addr(&masked, c->plen);
	if (mask)
		c->addr = masked;
	if (xvip_addr_cmp(&masked, &c->addr))
		return -EINVAL;	/* host bits set: almost always a typo */
	return 0;
}

bool xvip_cidr_contains(const struct xvip_cidr *c, const struct xvip_addr *a)
{
	struct xvip_addr m = *a;

	mask_addr(&m, c->plen);
	return xvip_addr_cmp(&m, &c->addr) == 0;
}

const char *xvip_cidr_str(const struct xvip_cidr *c, char *buf, size_t len)
{
	char a[XVIP_ADDRSTRLEN];
	bool v4 = xvip_addr_is_v4(&c->addr);

	snprintf(buf, len, "%s/%u", xvip_addr_str(&c->addr, a, sizeof(a)),
		 v4 ? c->plen - 96 : c->plen);
	return buf;
}

int xvip_proto_parse(const char *s, uint8_t *proto)
{
	if (!strcasecmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcasecmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else if (!strcasecmp(s, "sctp"))
		*proto = IPPROTO_SCTP;
	else
		return -EINVAL;
	return 0;
}

const char *xvip_proto_str(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_SCTP:
		return "sctp";
	default:
		return "?";
	}
}

int xvip_endpoint_parse(const char *s, struct xvip_addr *a, uint16_t *port, uint8_t *proto)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *p, *colon, *slash;
	char *end;
	size_t n;
	long v;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (proto && !slash)
		return -EINVAL;
	if (!proto && slash)
		return -EINVAL;
	if (s[0] == '[') {
		p = strchr(s, ']');
		if (!p || p[1] != ':')
			return -EINVAL;
		n = (size_t)(p - s - 1);
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, n);
		colon = p + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (slash && colon > slash))
			return -EINVAL;
		n = (size_t)(colon - s);
		if (n >= sizeof(host) || memchr(s, ':', n))
			return -EINVAL;	/* bare IPv6 needs brackets */
		memcpy(host, s, n);
	}
	host[n] = '\0';
	if (xvip_addr_parse(host, a))
		return -EINVAL;
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || v < 0 || v > 65535)
		return -EINVAL;
	if (proto) {
		if (end != slash || xvip_proto_parse(slash + 1, proto))
			return -EINVAL;
	} else if (*end) {
		return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

const char *xvip_endpoint_str(const struct xvip_addr *a, uint16_t port, int proto,
			      char *buf, size_t len)
{
	char h[XVIP_ADDRSTRLEN];
	bool v4 = xvip_addr_is_v4(a);

	xvip_addr_str(a, h, sizeof(h));
	if (proto < 0)
		snprintf(buf, len, v4 ? "%s:%u" : "[%s]:%u", h, port);
	else
		snprintf(buf, len, v4 ? "%s:%u/%s" : "[%s]:%u/%s", h, port,
			 xvip_proto_str((uint8_t)proto));
	return buf;
}
