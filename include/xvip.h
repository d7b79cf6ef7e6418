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

/* Maps, by pinned name. The suffix-free names are layout version 1. */
#define XVIP_MAP_VIP		"xvip_vip"
#define XVIP_MAP_SVC		"xvip_svc"
#define XVIP_MAP_MAGLEV		"xvip_maglev"
#define XVIP_MAP_BE		"xvip_be"
#define XVIP_MAP_CT		"xvip_ct"
#define XVIP_MAP_RNAT		"xvip_rnat"
#define XVIP_MAP_STATS		"xvip_stats"
#define XVIP_MAP_SVC_STATS	"xvip_svc_stats"
#define XVIP_MAP_BE_STATS	"xvip_be_stats"

struct xvip_addr {
	__be32 a[4];
};
_Static_assert(sizeof(struct xvip_addr) == 16, "xvip_addr layout");

/* xvip_vip: every VIP address the node serves on some port. */
struct xvip_vip_val {
	__u32 flags;		/* XVIP_VIP_F_* */
	__u32 nports;		/* VIP:port/proto entries in xvip_svc */
};
_Static_assert(sizeof(struct xvip_vip_val) == 8, "xvip_vip_val layout");

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
};

struct xvip_svc_val {
	__u32 id;		/* index into xvip_maglev and xvip_svc_stats */
	__u32 flags;		/* XVIP_SVC_F_* */
};
_Static_assert(sizeof(struct xvip_svc_val) == 8, "xvip_svc_val layout");

/*
 * xvip_maglev: array of maps indexed by service id. Each inner map is an
 * array of __u32: element 0 holds the table size M (a prime), elements
 * 1..M the backend ids. Keeping M inside the table makes the swap of a
 * whole table (a single update of the outer map) atomic for the datapath.
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

struct xvip_ct_val {
	__u32 backend_id;
	__u32 svc_id;
	__u64 created_ns;	/* bpf_ktime_get_ns() at the first packet */
	__u64 seen_ns;		/* last packet, refreshed at most once a second */
};
_Static_assert(sizeof(struct xvip_ct_val) == 24, "xvip_ct_val layout");

struct xvip_rnat_val {
	struct xvip_addr vip;
	__be16 vport;
	__u8 pad[2];
	__u32 svc_id;
};
_Static_assert(sizeof(struct xvip_rnat_val) == 24, "xvip_rnat_val layout");

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
	XVIP_STAT_VIP_ICMP = 4,		/* ICMP to a VIP, passed to the host */
	XVIP_STAT_UNPARSED = 5,		/* too short or unknown to parse, passed */
	XVIP_STAT_CT_FAIL = 6,		/* conntrack insert failed; flow still balanced */
	XVIP_STAT_DROP_FIRST = 8,
	XVIP_DROP_UNSERVED = 8,		/* VIP on a port/proto no Service serves */
	XVIP_DROP_NO_BACKEND = 9,	/* Service has no endpoint for new flows */
	XVIP_DROP_NO_TABLE = 10,	/* Maglev table missing or empty slot */
	XVIP_DROP_FRAGMENT = 11,	/* IP fragment to a VIP */
	XVIP_DROP_TRUNCATED = 12,	/* VIP packet with a truncated L4 header */
	XVIP_DROP_BAD_IP = 13,		/* VIP packet with a bad IP header length */
	XVIP_DROP_PROTO = 14,		/* VIP packet, protocol not balanced */
	XVIP_DROP_SCTP_PORT = 15,	/* SCTP needs a port rewrite (CRC32c not updatable) */
	XVIP_STAT_MAX = 16,
};

#endif /* XVIP_H */
