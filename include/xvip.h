/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Structures shared by the BPF programs and userspace: map keys and values,
 * counters and drop reasons. Each is defined once, here, with fixed-width
 * types and explicit padding; the _Static_asserts catch a layout drift that
 * would make a restarted daemon misread pinned maps.
 *
 * Addresses are always 16 bytes in network order. IPv4 addresses are stored
 * IPv4-mapped (::ffff:a.b.c.d, RFC 4291 2.5.5.2) so one key layout serves both
 * families and no family field is needed to tell them apart.
 */
#ifndef XVIP_H
#define XVIP_H

#include <linux/types.h>

/* Capacities (compile-time; runtime-sized maps are set by the loader). */
#define XVIP_MAX_VIPS		65536	/* distinct VIP addresses */
#define XVIP_MAX_SVCS		65536	/* VIP:port/proto entries, also svc ids */
#define XVIP_MAX_BACKENDS	262144	/* (service, endpoint) pairs, also backend ids */
#define XVIP_CT_DEFAULT		1048576	/* flows, forward and reverse maps each */
#define XVIP_MAGLEV_MIN		251	/* smallest table, prime */
#define XVIP_MAGLEV_MAX		131071	/* largest table, prime */
#define XVIP_MAGLEV_DEFAULT	16381	/* see README "Maglev table size" */

/*
 * Maps, by pinned name. The suffix-free names are layout version 1; a map
 * whose layout changed gets the next version's suffix, so a new xvipd never
 * misreads an old pin (the loader migrates and removes the old one).
 */
#define XVIP_MAP_VIP		"xvip_vip"
#define XVIP_MAP_VIPBITS	"xvip_vipbits"
#define XVIP_MAP_SVC		"xvip_svc"
#define XVIP_MAP_MAGLEV		"xvip_maglev_v2"
#define XVIP_MAP_BE		"xvip_be"
#define XVIP_MAP_CT		"xvip_ct_v2"
#define XVIP_MAP_RNAT		"xvip_rnat_v2"
#define XVIP_MAP_CFG		"xvip_cfg"
#define XVIP_MAP_MAGLEV_V1	"xvip_maglev"	/* inner arrays not mmapable */
#define XVIP_MAP_CT_V1		"xvip_ct"	/* LRU hash: struct xvip_flow -> xvip_ct_val */
#define XVIP_MAP_RNAT_V1	"xvip_rnat"	/* LRU hash: struct xvip_flow -> xvip_rnat_val */
#define XVIP_MAP_STATS		"xvip_stats"
#define XVIP_MAP_SVC_STATS	"xvip_svc_stats"
#define XVIP_MAP_BE_STATS	"xvip_be_stats"
#define XVIP_MAP_SRCRANGE	"xvip_srcrange"
#define XVIP_MAP_AFFINITY	"xvip_affinity"
#define XVIP_MAP_FRAG		"xvip_frag"
#define XVIP_MAP_RFRAG		"xvip_rfrag"
#define XVIP_MAP_SOCK_REV	"xvip_sock_rev"
#define XVIP_MAP_LO6		"xvip_lo6"	/* IPv6 VIPs xvipd put on lo (user/nl.c) */

#define XVIP_MAX_SRCRANGES	65536	/* source prefixes over all services */
#define XVIP_AFFINITY_MAX	262144	/* client affinity entries */
#define XVIP_FRAG_MAX		65536	/* datagrams being fragmented at once */
#define XVIP_VLAN_MAX		2	/* 802.1Q / 802.1ad tags on an uplink */
#define XVIP_IPV6_EXT_MAX	6	/* IPv6 extension headers walked before L4 */

struct xvip_addr {
	__be32 a[4];
};
_Static_assert(sizeof(struct xvip_addr) == 16, "xvip_addr layout");

/* xvip_vip: every VIP address the node serves on some port. */
struct xvip_vip_val {
	__u32 flags;		/* reserved, 0 */
	__u32 nports;		/* VIP:port/proto entries in xvip_svc */
	/*
	 * Service id + 1 that takes fragments whose first fragment has not
	 * been seen yet (no ports to look up), when exactly one Service port
	 * of that protocol is on this VIP; 0 when none or ambiguous.
	 */
	__u32 frag_svc_udp;
	__u32 frag_svc_tcp;
};
_Static_assert(sizeof(struct xvip_vip_val) == 16, "xvip_vip_val layout");

/* xvip_svc key: one Service port on one VIP. */
struct xvip_svc_key {
	struct xvip_addr vip;
	__be16 port;
	__u8 proto;		/* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP */
	__u8 pad;
};
_Static_assert(sizeof(struct xvip_svc_key) == 20, "xvip_svc_key layout");

enum xvip_svc_flags {
	XVIP_SVC_F_NONE = 0,
	XVIP_SVC_F_AFFINITY = 1 << 0,	/* sessionAffinity: ClientIP */
	XVIP_SVC_F_SRC_RANGES = 1 << 1,	/* loadBalancerSourceRanges in xvip_srcrange */
};

struct xvip_svc_val {
	__u32 id;		/* index into xvip_maglev and xvip_svc_stats */
	__u32 flags;		/* XVIP_SVC_F_* */
	__u32 affinity_s;	/* sessionAffinityConfig.clientIP.timeoutSeconds */
	__u32 pad;
};
_Static_assert(sizeof(struct xvip_svc_val) == 16, "xvip_svc_val layout");

/*
 * xvip_srcrange: LPM trie of the source prefixes a service admits. The
 * service id comes first in network order so the trie matches it whole
 * (prefixlen = 32 + prefix length over the 128-bit mapped address).
 */
struct xvip_srcrange_key {
	__u32 prefixlen;
	__be32 svc_id;
	struct xvip_addr addr;
};
_Static_assert(sizeof(struct xvip_srcrange_key) == 24, "xvip_srcrange_key layout");

/* xvip_affinity: sessionAffinity ClientIP, per client address and service. */
struct xvip_affinity_key {
	struct xvip_addr client;
	__u32 svc_id;
};
_Static_assert(sizeof(struct xvip_affinity_key) == 20, "xvip_affinity_key layout");

struct xvip_affinity_val {
	__u32 backend_id;
	__u32 pad;
	__u64 seen_ns;
};
_Static_assert(sizeof(struct xvip_affinity_val) == 16, "xvip_affinity_val layout");

/*
 * xvip_frag: which backend an IP datagram's fragments go to, keyed by the
 * datagram's identity, so later fragments (no L4 header) follow the first
 * and the first follows later fragments that arrived before it.
 */
struct xvip_frag_key {
	struct xvip_addr saddr;
	struct xvip_addr daddr;
	__u32 id;		/* IPv4 identification (16 bits) or IPv6 (32 bits) */
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct xvip_frag_key) == 40, "xvip_frag_key layout");

struct xvip_frag_val {
	__u32 backend_id;
	__u32 svc_id;
};
_Static_assert(sizeof(struct xvip_frag_val) == 8, "xvip_frag_val layout");

/*
 * Source address a hairpinned flow (a pod balanced to itself) carries into
 * the pod, so its reply comes back through the node to be translated.
 */
#define XVIP_HAIRPIN_V4		0xa9fe2a01	/* 169.254.42.1, host order */
#define XVIP_HAIRPIN_V6		{ 0xfd, 0x78, 0x76, 0x69, 0x70, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 }

/*
 * xvip_maglev_v2: array of maps indexed by service id. Each inner map is an
 * array of __u32: element 0 holds the table size M (a prime), elements
 * 1..M the backend ids. Keeping M inside the table makes the swap of a
 * whole table (a single update of the outer map) atomic for the datapath.
 * The inner arrays are BPF_F_MMAPABLE: the daemon fills a new table with
 * one memcpy into its mapping (elements 8 bytes apart) instead of the
 * kernel copying M + 1 elements one by one (2.3 s for 10,000 tables of
 * 1021 slots); version 1 (xvip_maglev) had plain inner arrays.
 */
#define XVIP_MAGLEV_HDR		1

/* xvip_be: indexed by backend id. */
enum xvip_be_state {
	XVIP_BE_UNUSED = 0,
	XVIP_BE_READY = 1,	/* takes new flows */
	XVIP_BE_SERVING = 2,	/* terminating but serving: new flows only if none ready */
	XVIP_BE_DRAINING = 3,	/* existing flows only */
};

struct xvip_backend {
	struct xvip_addr addr;	/* endpoint (pod) address */
	__be16 port;		/* endpoint port (resolved targetPort) */
	__u8 state;		/* enum xvip_be_state */
	__u8 pad;
	__u32 svc_id;		/* owning service; a conntrack hit must agree */
};
_Static_assert(sizeof(struct xvip_backend) == 24, "xvip_backend layout");

/*
 * xvip_ct key (client -> VIP, as received) and xvip_rnat key
 * (endpoint -> client, as the reply leaves the pod).
 */
struct xvip_flow {
	struct xvip_addr saddr;
	struct xvip_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct xvip_flow) == 40, "xvip_flow layout");

/* A conntrack entry as xvipctl and the tests see it (in the map: struct xvip_ct_bucket). */
struct xvip_ct_val {
	__u32 backend_id;
	__u32 svc_id;
	__u64 created_ns;	/* CLOCK_MONOTONIC at the first packet (to a clock tick) */
	__u64 seen_ns;		/* last packet, refreshed at most once a second */
};
_Static_assert(sizeof(struct xvip_ct_val) == 24, "xvip_ct_val layout");

struct xvip_rnat_val {
	struct xvip_addr vip;
	__be16 vport;
	__u8 flags;		/* XVIP_RNAT_F_* */
	__u8 pad;
	__u32 svc_id;
};

/* The flow was hairpinned: the reply's destination goes back to the pod itself. */
#define XVIP_RNAT_F_HAIRPIN	1
_Static_assert(sizeof(struct xvip_rnat_val) == 24, "xvip_rnat_val layout");

/*
 * Flow tables: xvip_ct_v2 (client -> VIP flow -> endpoint) and xvip_rnat_v2
 * (reply leaving the endpoint -> VIP:port) are set-associative caches in
 * BPF arrays, not kernel hash maps: an array element is found by address
 * arithmetic, with no lock, no LRU list and no allocation, which makes a
 * lookup about a fifth and an insert about a twentieth of an LRU hash's
 * cost (README, Performance). The Maglev design paper's connection table
 * is the same idea.
 *
 * Element i of each array is a bucket: a first cache line with the four
 * ways' sequence counts, hash tags and last-seen times, then four 64-byte
 * entries (flow and value), so a miss reads one line and a hit two. A flow
 * lives in bucket (seeded flow hash & ct_mask) of its map. An insert takes
 * the way of the same flow, else an empty one, else the one seen longest
 * ago. A way is written under its sequence count: a writer makes it odd
 * with a compare-and-swap (a second writer gives up), writes, then makes it
 * even; a reader checks the count is even and unchanged around its copy, so
 * a half-written entry is read as a miss, never as another flow's endpoint.
 * (Stores and loads stay in program order on x86-64, the architecture the
 * dataplane is built and tested for; see README.)
 */
#define XVIP_FT_WAYS		4

struct xvip_ft_meta {
	__u32 seq[XVIP_FT_WAYS];	/* even: stable; odd: being written; 0: never used */
	__u32 tag[XVIP_FT_WAYS];	/* the flow's hash: a cheap first compare */
	__u64 seen_ns[XVIP_FT_WAYS];	/* last refresh: the way seen longest ago goes first */
};
_Static_assert(sizeof(struct xvip_ft_meta) == 64, "xvip_ft_meta layout");

struct xvip_ct_entry {
	struct xvip_flow key;
	__u32 backend_id;
	__u32 svc_id;
	__u64 created_ns;
	__u64 pad;
};
_Static_assert(sizeof(struct xvip_ct_entry) == 64, "xvip_ct_entry layout");

struct xvip_rnat_entry {
	struct xvip_flow key;
	struct xvip_rnat_val val;
};
_Static_assert(sizeof(struct xvip_rnat_entry) == 64, "xvip_rnat_entry layout");

struct xvip_ct_bucket {
	struct xvip_ft_meta m;
	struct xvip_ct_entry way[XVIP_FT_WAYS];
};

struct xvip_rnat_bucket {
	struct xvip_ft_meta m;
	struct xvip_rnat_entry way[XVIP_FT_WAYS];
};
_Static_assert(sizeof(struct xvip_ct_bucket) == 320 && sizeof(struct xvip_rnat_bucket) == 320,
	       "flow table buckets");

/*
 * xvip_cfg, one element, written by the loader before any program runs:
 * the flow hash seed (random per map set; it places flows in the tables and
 * in Maglev, so it lives as long as the pinned tables) and the bucket mask
 * of both flow tables (buckets = a power of two).
 */
struct xvip_cfg {
	__u32 hash_seed;
	__u32 ct_mask;
};
_Static_assert(sizeof(struct xvip_cfg) == 8, "xvip_cfg layout");

/*
 * xvip_vipbits: a one-bit-per-hash filter of the VIP addresses (XVIP_VIPBITS
 * bits in 64-bit words), so traffic to other addresses, nearly all of it,
 * passes after one array read instead of a hash lookup. A set bit only
 * means "look in xvip_vip". The daemon sets a VIP's bit before adding the
 * VIP and clears it after the last VIP using it is gone.
 */
#define XVIP_VIPBITS_SHIFT	17
#define XVIP_VIPBITS		(1u << XVIP_VIPBITS_SHIFT)
#define XVIP_VIPBITS_WORDS	(XVIP_VIPBITS / 64)

/*
 * xvip_sock_rev (LRU, XVIP_SOCK_REV_MAX entries): for a socket on the node
 * whose connect or sendmsg to a VIP was sent to an endpoint, the endpoint
 * address and port -> the VIP:port asked for (value: struct xvip_rnat_val),
 * so recvmsg and getpeername show the VIP. The socket cookie is never
 * reused while the machine runs, so an entry outliving its socket is only
 * dead weight for the LRU to evict, never a wrong answer.
 */
#define XVIP_SOCK_REV_MAX	131072
struct xvip_sock_key {
	__u64 cookie;		/* bpf_get_socket_cookie() */
	struct xvip_addr addr;	/* endpoint */
	__be16 port;		/* endpoint port */
	__u8 pad[6];
};
_Static_assert(sizeof(struct xvip_sock_key) == 32, "xvip_sock_key layout");

/* Per-CPU packet and byte counts: xvip_stats, xvip_svc_stats, xvip_be_stats. */
struct xvip_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct xvip_counter) == 16, "xvip_counter layout");

/*
 * xvip_stats index: what happened to a packet. Drop reasons are the
 * negative values returned by helpers; the index is the negated reason.
 * Keep xvip_stat_names[] in user/stats.c in the same order.
 */
enum xvip_stat {
	XVIP_STAT_PASS = 0,		/* not VIP traffic, passed untouched */
	XVIP_STAT_LB_NEW = 1,		/* new flow balanced (conntrack insert) */
	XVIP_STAT_LB_CT = 2,		/* established flow (conntrack hit) */
	XVIP_STAT_RNAT = 3,		/* reply translated back to the VIP */
	XVIP_STAT_VIP_ICMP = 4,		/* ICMP (not an error) to a VIP, passed to the host */
	XVIP_STAT_UNPARSED = 5,		/* too short or unknown to parse, passed */
	XVIP_STAT_CT_FAIL = 6,		/* conntrack insert failed; flow still balanced */
	XVIP_STAT_FRAG = 7,		/* later fragment sent after its datagram's first */
	XVIP_STAT_FRAG_EARLY = 8,	/* later fragment before its first: backend chosen for it */
	XVIP_STAT_ICMP_XLATE = 9,	/* ICMP error about a balanced flow translated */
	XVIP_STAT_HAIRPIN = 10,		/* pod balanced to itself, source rewritten */
	XVIP_STAT_AFFINITY = 11,	/* new flow placed by session affinity */
	XVIP_STAT_SOCK_CONNECT = 12,	/* node socket connect to a VIP: sent to an endpoint */
	XVIP_STAT_SOCK_SENDMSG = 13,	/* node UDP datagram to a VIP: sent to an endpoint */
	XVIP_STAT_SOCK_REVERSE = 14,	/* recvmsg/getpeername of a node socket shown as the VIP */
	XVIP_STAT_SOCK_REV_FAIL = 15,	/* xvip_sock_rev insert failed; peer shown as the endpoint */
	XVIP_STAT_DROP_FIRST = 16,
	XVIP_DROP_UNSERVED = 16,	/* VIP on a port/proto no Service serves */
	XVIP_DROP_NO_BACKEND = 17,	/* Service has no endpoint for new flows */
	XVIP_DROP_NO_TABLE = 18,	/* Maglev table missing or empty slot */
	XVIP_DROP_FRAGMENT = 19,	/* fragment to a VIP that cannot be placed */
	XVIP_DROP_TRUNCATED = 20,	/* VIP packet with a truncated L4 header */
	XVIP_DROP_BAD_IP = 21,		/* VIP packet with a bad IP header */
	XVIP_DROP_PROTO = 22,		/* VIP packet, protocol not balanced */
	XVIP_DROP_SCTP_PORT = 23,	/* SCTP needs a port rewrite (CRC32c not updatable) */
	XVIP_DROP_SRC_RANGE = 24,	/* source outside loadBalancerSourceRanges */
	XVIP_DROP_EXT_HDRS = 25,	/* more IPv6 extension headers than XVIP_IPV6_EXT_MAX */
	XVIP_DROP_ICMP_UNKNOWN = 26,	/* ICMP error to a VIP about no known flow */
	XVIP_DROP_FWD = 30,		/* pod to VIP: too big for the endpoint's link, or TTL out */
	XVIP_DROP_SOCK_UNSERVED = 27,	/* node socket to a VIP port no Service serves: EPERM */
	XVIP_DROP_SOCK_NO_BACKEND = 28,	/* node socket to a Service without endpoints: EPERM */
	XVIP_DROP_SOCK_FAMILY = 29,	/* endpoint of the other family than the socket: EPERM */
	XVIP_STAT_MAX = 32,
};

#endif /* XVIP_H */
