/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Packet builders and checksum helpers shared by the packet tests: a packet
 * is described by named fields and built with every checksum computed from
 * scratch, so comparing a program's output with a freshly built expected
 * packet checks the incremental updates byte for byte.
 */
#ifndef XVIP_TEST_PKT_H
#define XVIP_TEST_PKT_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>

struct pkt_spec {
	const char *saddr, *daddr;	/* IPv4 or IPv6 (then the packet is IPv6) */
	uint16_t sport, dport;		/* host order */
	uint8_t proto;			/* IPPROTO_TCP/UDP/SCTP/ICMP/... */
	uint8_t tcp_flags;		/* TH_SYN etc. (0: ACK) */
	uint16_t payload;		/* bytes of payload (pattern-filled) */
	bool udp_zero_csum;		/* IPv4 UDP without checksum */
	uint8_t ip_opt_words;		/* IPv4 options, in 32-bit words (NOPs) */
	uint16_t frag_off;		/* IPv4 frag_off field, host order (MF = 0x2000) */
	uint8_t ttl;			/* 0: 64 */
	uint16_t ip_id;			/* IPv4 identification (0: 0x1234) */
	/* 802.1Q tags, outermost first; qinq makes the outer one 802.1ad */
	uint8_t nvlan;
	uint16_t vlan[2];
	bool qinq;
	/* IPv6 extension headers before L4 (IPPROTO_HOPOPTS/DSTOPTS/ROUTING) */
	uint8_t nv6ext;
	uint8_t v6ext[8];
	/* IPv6 fragment header: offset in 8-byte units, more fragments, id */
	bool v6frag;
	uint16_t v6frag_offset;
	bool v6frag_more;
	uint32_t v6frag_id;
	/* A later fragment: no L4 header, only payload bytes. */
	bool no_l4;
	/* ICMP error: type/code/the 32-bit rest (e.g. MTU) quoting *inner. */
	const struct pkt_spec *inner;
	uint8_t icmp_type, icmp_code;
	uint32_t icmp_rest;
};

#define PKT_MAX 2048

static inline uint32_t pkt_sum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static inline uint16_t pkt_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Checksum in network order over an IPv4 header. */
static inline uint16_t pkt_ipv4_csum(const struct iphdr *iph)
{
	return htons(pkt_fold(pkt_sum(iph, iph->ihl * 4u, 0)));
}

/* L4 checksum (network order) with the IPv4 or IPv6 pseudo-header, from scratch. */
static inline uint16_t pkt_l4_csum(bool v6, const void *saddr, const void *daddr, uint8_t proto,
				   const void *l4, size_t l4len)
{
	uint32_t sum = 0;

	sum = pkt_sum(saddr, v6 ? 16 : 4, sum);
	sum = pkt_sum(daddr, v6 ? 16 : 4, sum);
	sum += proto;
	sum += (uint32_t)l4len;
	sum = pkt_sum(l4, l4len, sum);
	return htons(pkt_fold(sum));
}

static inline size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	struct in6_addr s6, d6;
	struct in_addr s4, d4;
	bool v6 = strchr(s->saddr, ':') != NULL;
	struct ethhdr *eth = (struct ethhdr *)buf;
	size_t l3len, l4hdr, off;
	uint8_t *l4;

	memset(buf, 0, cap);
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x02", 6);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x01", 6);
	off = offsetof(struct ethhdr, h_proto);
	for (unsigned int i = 0; i < s->nvlan && i < 2; i++) {
		uint16_t tpid = (i == 0 && s->qinq) ? ETH_P_8021AD : ETH_P_8021Q;

		buf[off] = (uint8_t)(tpid >> 8);
		buf[off + 1] = (uint8_t)tpid;
		buf[off + 2] = (uint8_t)(s->vlan[i] >> 8);
		buf[off + 3] = (uint8_t)s->vlan[i];
		off += 4;
	}
	buf[off] = v6 ? 0x86 : 0x08;
	buf[off + 1] = v6 ? 0xdd : 0x00;
	off += 2;
	(void)eth;

	switch (s->proto) {
	case IPPROTO_TCP:
		l4hdr = sizeof(struct tcphdr);
		break;
	case IPPROTO_UDP:
		l4hdr = sizeof(struct udphdr);
		break;
	case IPPROTO_SCTP:
		l4hdr = 12;
		break;
	default:
		l4hdr = 8;	/* ICMP header */
	}
	if (s->no_l4)
		l4hdr = 0;

	/* An ICMP error quotes the inner packet's IP header and 8 bytes of L4. */
	uint8_t quote[128];
	size_t quote_len = 0;

	if (s->inner) {
		uint8_t ib[PKT_MAX];
		size_t ihl = strchr(s->inner->saddr, ':') ? 40 : 20;
		size_t eoff = 14;

		pkt_build(s->inner, ib, sizeof(ib));
		quote_len = ihl + 8;
		memcpy(quote, ib + eoff, quote_len);
	}
	size_t v6ext_len = (size_t)s->nv6ext * 8 + (s->v6frag ? 8 : 0);

	if (!v6) {
		struct iphdr *iph = (struct iphdr *)(buf + off);
		size_t hlen = sizeof(*iph) + s->ip_opt_words * 4u;

		inet_pton(AF_INET, s->saddr, &s4);
		inet_pton(AF_INET, s->daddr, &d4);
		iph->version = 4;
		iph->ihl = (uint8_t)(hlen / 4);
		iph->tot_len = htons((uint16_t)(hlen + l4hdr + quote_len + s->payload));
		iph->id = htons(s->ip_id ? s->ip_id : 0x1234);
		iph->frag_off = htons(s->frag_off);
		iph->ttl = s->ttl ? s->ttl : 64;
		iph->protocol = s->proto;
		iph->saddr = s4.s_addr;
		iph->daddr = d4.s_addr;
		memset(buf + off + sizeof(*iph), 1 /* NOP */, hlen - sizeof(*iph));
		iph->check = pkt_ipv4_csum(iph);
		l3len = hlen;
	} else {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(buf + off);

		inet_pton(AF_INET6, s->saddr, &s6);
		inet_pton(AF_INET6, s->daddr, &d6);
		ip6->version = 6;
		ip6->payload_len = htons((uint16_t)(v6ext_len + l4hdr + quote_len + s->payload));
		ip6->hop_limit = s->ttl ? s->ttl : 64;
		memcpy(&ip6->saddr, &s6, 16);
		memcpy(&ip6->daddr, &d6, 16);
		l3len = sizeof(*ip6);
		/* Chain: the listed extension headers, then the fragment header, then L4. */
		uint8_t *nh = &ip6->nexthdr;

		for (unsigned int i = 0; i < s->nv6ext; i++) {
			uint8_t *e = buf + off + l3len;

			*nh = s->v6ext[i];
			e[1] = 0;	/* 8 bytes */
			e[2] = 1;	/* PadN option filling the rest */
			e[3] = 4;
			nh = &e[0];
			l3len += 8;
		}
		if (s->v6frag) {
			uint8_t *e = buf + off + l3len;
			uint16_t fo = (uint16_t)(s->v6frag_offset << 3 | (s->v6frag_more ? 1 : 0));

			*nh = 44;
			e[2] = (uint8_t)(fo >> 8);
			e[3] = (uint8_t)fo;
			e[4] = (uint8_t)(s->v6frag_id >> 24);
			e[5] = (uint8_t)(s->v6frag_id >> 16);
			e[6] = (uint8_t)(s->v6frag_id >> 8);
			e[7] = (uint8_t)s->v6frag_id;
			nh = &e[0];
			l3len += 8;
		}
		*nh = s->proto;
	}
	l4 = buf + off + l3len;
	for (size_t i = 0; i < s->payload; i++)
		l4[l4hdr + quote_len + i] = (uint8_t)(i * 7 + 3);

	if (s->no_l4) {
		/* payload only */
	} else if (s->proto == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)l4;

		th->source = htons(s->sport);
		th->dest = htons(s->dport);
		th->seq = htonl(0x01020304);
		th->ack_seq = htonl(s->tcp_flags ? 0 : 0x0a0b0c0d);
		th->doff = 5;
		if (s->tcp_flags)
			((uint8_t *)th)[13] = s->tcp_flags;
		else
			th->ack = 1;
		th->window = htons(65535);
	} else if (s->proto == IPPROTO_UDP) {
		struct udphdr *uh = (struct udphdr *)l4;

		uh->source = htons(s->sport);
		uh->dest = htons(s->dport);
		uh->len = htons((uint16_t)(l4hdr + s->payload));
	} else if (s->proto == IPPROTO_SCTP) {
		((uint16_t *)l4)[0] = htons(s->sport);
		((uint16_t *)l4)[1] = htons(s->dport);
		memcpy(l4 + 4, "\xde\xad\xbe\xef\x11\x22\x33\x44", 8);
	} else if (s->inner) {
		l4[0] = s->icmp_type;
		l4[1] = s->icmp_code;
		l4[4] = (uint8_t)(s->icmp_rest >> 24);
		l4[5] = (uint8_t)(s->icmp_rest >> 16);
		l4[6] = (uint8_t)(s->icmp_rest >> 8);
		l4[7] = (uint8_t)s->icmp_rest;
		memcpy(l4 + 8, quote, quote_len);
	} else {
		l4[0] = v6 ? 128 : 8;	/* echo request */
	}

	size_t l4len = l4hdr + quote_len + s->payload;
	const void *sa = v6 ? (const void *)&s6 : (const void *)&s4;
	const void *da = v6 ? (const void *)&d6 : (const void *)&d4;

	if (s->no_l4)
		;	/* the checksum lives in the first fragment */
	else if (s->proto == IPPROTO_TCP)
		((struct tcphdr *)l4)->check = pkt_l4_csum(v6, sa, da, s->proto, l4, l4len);
	else if (s->proto == IPPROTO_UDP && !(s->udp_zero_csum && !v6)) {
		uint16_t c = pkt_l4_csum(v6, sa, da, s->proto, l4, l4len);

		((struct udphdr *)l4)->check = c ? c : 0xffff;
	} else if (s->proto == IPPROTO_ICMP) {
		uint16_t c = htons(pkt_fold(pkt_sum(l4, l4len, 0)));

		memcpy(l4 + 2, &c, 2);
	} else if (s->proto == IPPROTO_ICMPV6) {
		uint16_t c = pkt_l4_csum(true, sa, da, s->proto, l4, l4len);

		memcpy(l4 + 2, &c, 2);
	}
	return off + l3len + l4len;
}

#endif
