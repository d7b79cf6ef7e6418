/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every map, declared once and included by each program object. All are
 * pinned by name under the daemon's pin dir, so the XDP and tc objects share
 * them and a restarted daemon adopts them.
 */
#ifndef XVIP_BPF_MAPS_H
#define XVIP_BPF_MAPS_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XVIP_MAX_VIPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xvip_addr);
	__type(value, struct xvip_vip_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_vip SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XVIP_VIPBITS_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_vipbits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xvip_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XVIP_MAX_SVCS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xvip_svc_key);
	__type(value, struct xvip_svc_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_svc SEC(".maps");

/*
 * BPF_F_INNER_MAP lets each service's table have its own size; element 0
 * holds that size (see include/xvip.h).
 */
struct xvip_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XVIP_MAGLEV_MIN + XVIP_MAGLEV_HDR);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, XVIP_MAX_SVCS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct xvip_maglev_inner);
} xvip_maglev_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XVIP_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xvip_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_be SEC(".maps");

/* Flow tables (include/xvip.h); buckets sized by the loader from --ct-size. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XVIP_CT_DEFAULT / XVIP_FT_WAYS);
	__type(key, __u32);
	__type(value, struct xvip_ct_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_ct_v2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XVIP_CT_DEFAULT / XVIP_FT_WAYS);
	__type(key, __u32);
	__type(value, struct xvip_rnat_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_rnat_v2 SEC(".maps");

/* Per CPU, not pinned: the clock read at the current jiffy (lib/ct.h). */
struct xvip_clock {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xvip_clock);
} xvip_clock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XVIP_STAT_MAX);
	__type(key, __u32);
	__type(value, struct xvip_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XVIP_MAX_SVCS);
	__type(key, __u32);
	__type(value, struct xvip_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XVIP_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct xvip_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_be_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XVIP_MAX_SRCRANGES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xvip_srcrange_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_srcrange SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XVIP_AFFINITY_MAX);
	__type(key, struct xvip_affinity_key);
	__type(value, struct xvip_affinity_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XVIP_FRAG_MAX);
	__type(key, struct xvip_frag_key);
	__type(value, struct xvip_frag_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_frag SEC(".maps");

/* Node sockets balanced by the cgroup hooks: see include/xvip.h. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XVIP_SOCK_REV_MAX);
	__type(key, struct xvip_sock_key);
	__type(value, struct xvip_rnat_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_sock_rev SEC(".maps");

/* Replies fragmented by the pod: later fragments follow their first's translation. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XVIP_FRAG_MAX);
	__type(key, struct xvip_frag_key);
	__type(value, struct xvip_rnat_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_rfrag SEC(".maps");

/*
 * The IPv6 VIPs xvipd put on lo, for kernels that drop IFA_PROTO (< 6.1):
 * read and written by userspace only (user/nl.c), pinned with the rest so a
 * restarted xvipd and --cleanup still know which addresses are its own.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XVIP_MAX_VIPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xvip_addr);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xvip_lo6 SEC(".maps");

XVIP_INLINE void xvip_count(void *map, __u32 idx, __u64 bytes)
{
	struct xvip_counter *c = bpf_map_lookup_elem(map, &idx);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

#endif
