/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The only module that calls bpf_map_*: typed access to xvip's maps, by fd,
 * whether they came from a freshly loaded skeleton or from the pin dir.
 */
#ifndef XVIP_MAPS_H
#define XVIP_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "xvip.h"

struct bpf_object;

struct xvip_vipbit_refs;

struct xvip_maps {
	int vip, vipbits, svc, maglev, be, ct, rnat, cfg, stats, svc_stats, be_stats;
	int srcrange, affinity, frag, rfrag;
	int ncpus;
	struct xvip_vipbit_refs *vb;	/* VIPs per filter bit, built on first VIP change */
};

/* Every fd set to -1 (memory of an earlier use is released first by xvip_maps_close). */
void xvip_maps_init(struct xvip_maps *m);
/* Borrow the fds of a loaded object (not closed by xvip_maps_close's caller). */
int xvip_maps_from_obj(struct xvip_maps *m, struct bpf_object *obj);
/* Open the maps pinned under dir; -ENOENT names the missing pin in err. */
int xvip_maps_open_pinned(struct xvip_maps *m, const char *dir, char *err, size_t errlen);
void xvip_maps_close(struct xvip_maps *m);

/*
 * A VIP's xvip_vipbits bit is set before its entry is added and cleared
 * after the last entry sharing the bit is deleted.
 */
int xvip_maps_vip_set(const struct xvip_maps *m, const struct xvip_addr *vip,
		      const struct xvip_vip_val *v);
int xvip_maps_vip_del(const struct xvip_maps *m, const struct xvip_addr *vip);
/* Release the filter bookkeeping (fds untouched). */
void xvip_maps_release(struct xvip_maps *m);

int xvip_maps_cfg_get(const struct xvip_maps *m, struct xvip_cfg *cfg);
int xvip_maps_cfg_set(const struct xvip_maps *m, const struct xvip_cfg *cfg);

int xvip_maps_svc_set(const struct xvip_maps *m, const struct xvip_svc_key *k,
		      const struct xvip_svc_val *v);
int xvip_maps_svc_get(const struct xvip_maps *m, const struct xvip_svc_key *k,
		      struct xvip_svc_val *v);
int xvip_maps_svc_del(const struct xvip_maps *m, const struct xvip_svc_key *k);
/* loadBalancerSourceRanges: one prefix of one service. */
int xvip_maps_srcrange_set(const struct xvip_maps *m, uint32_t svc_id,
			   const struct xvip_addr *addr, uint8_t plen);
int xvip_maps_srcrange_del(const struct xvip_maps *m, uint32_t svc_id,
			   const struct xvip_addr *addr, uint8_t plen);
int xvip_maps_srcrange_foreach(const struct xvip_maps *m,
			       int (*cb)(uint32_t svc_id, const struct xvip_addr *addr,
					 uint8_t plen, void *ctx),
			       void *ctx);
/* Calls cb for every service entry; stops and returns cb's value if non-zero. */
int xvip_maps_svc_foreach(const struct xvip_maps *m,
			  int (*cb)(const struct xvip_svc_key *k, const struct xvip_svc_val *v,
				    void *ctx),
			  void *ctx);

int xvip_maps_be_set(const struct xvip_maps *m, uint32_t id, const struct xvip_backend *be);
int xvip_maps_be_get(const struct xvip_maps *m, uint32_t id, struct xvip_backend *be);
/* Mark id unused; its address and port stay in place (see maps.c for why). */
int xvip_maps_be_clear(const struct xvip_maps *m, uint32_t id);
/* Calls cb for every backend slot in use (state != XVIP_BE_UNUSED). */
int xvip_maps_be_foreach(const struct xvip_maps *m,
			 int (*cb)(uint32_t id, const struct xvip_backend *be, void *ctx),
			 void *ctx);

/*
 * Install a whole Maglev table for svc_id: a new inner map is created and
 * filled, then swapped into xvip_maglev with one update, so the datapath
 * sees either the old table or the new one, never a mix.
 */
int xvip_maps_maglev_swap(const struct xvip_maps *m, uint32_t svc_id, const uint32_t *table,
			  uint32_t size);
/*
 * The same in two steps, for many tables at once: every update of the outer
 * map waits for an RCU grace period in the kernel (about 10 ms; it makes sure
 * no program still runs on the old table), once per call, so swapping the
 * tables of a whole sync one by one takes minutes. prepare fills a new inner
 * map (*fd, the caller's to close); swap_many swaps fds[i] in as svc_ids[i]'s
 * table with one batch update and sets *done to how many went in.
 */
int xvip_maps_maglev_prepare(const struct xvip_maps *m, const uint32_t *table, uint32_t size,
			     int *fd);
int xvip_maps_maglev_swap_many(const struct xvip_maps *m, const uint32_t *svc_ids,
			       const int *fds, uint32_t n, uint32_t *done);
int xvip_maps_maglev_del(const struct xvip_maps *m, uint32_t svc_id);
/* Read svc_id's table into a malloc'd array (*table, *size); -ENOENT if none. */
int xvip_maps_maglev_read(const struct xvip_maps *m, uint32_t svc_id, uint32_t **table,
			  uint32_t *size);

/* Per-CPU counters summed over all CPUs. */
int xvip_maps_counter(const struct xvip_maps *m, int fd, uint32_t idx, struct xvip_counter *out);

/*
 * The flow tables (include/xvip.h). Reads are safe while programs run (a
 * slot being written is skipped); ct_put, rnat_put, *_del and ft_clear write
 * whole buckets and are for migration and tests, with no program writing.
 */
int xvip_maps_ct_foreach(const struct xvip_maps *m,
			 int (*cb)(const struct xvip_flow *k, const struct xvip_ct_val *v,
				   void *ctx),
			 void *ctx);
int xvip_maps_ct_get(const struct xvip_maps *m, const struct xvip_flow *k,
		     struct xvip_ct_val *v);
int xvip_maps_ct_put(const struct xvip_maps *m, const struct xvip_flow *k,
		     const struct xvip_ct_val *v);
int xvip_maps_ct_del(const struct xvip_maps *m, const struct xvip_flow *k);
int xvip_maps_rnat_get(const struct xvip_maps *m, const struct xvip_flow *k,
		       struct xvip_rnat_val *v);
int xvip_maps_rnat_put(const struct xvip_maps *m, const struct xvip_flow *k,
		       const struct xvip_rnat_val *v, uint64_t seen_ns);
int xvip_maps_rnat_del(const struct xvip_maps *m, const struct xvip_flow *k);
/* Many entries into one table, in batches (see ft_load). */
int xvip_maps_ct_load(const struct xvip_maps *m, const struct xvip_flow *keys,
		      const struct xvip_ct_val *vals, size_t n);
int xvip_maps_rnat_load(const struct xvip_maps *m, const struct xvip_flow *keys,
			const struct xvip_rnat_val *vals, size_t n);
/* Empty both flow tables. */
int xvip_maps_ft_clear(const struct xvip_maps *m);
/* Buckets of each flow table for a --ct-size (flows): a power of two. */
uint32_t xvip_ft_buckets(uint32_t flows);

/*
 * The record of IPv6 VIPs on lo (XVIP_MAP_LO6, by fd), for user/nl.c on
 * kernels without IFA_PROTO. has: 1, 0 or -errno; del of an absent one is 0.
 */
int xvip_maps_lo6_has(int fd, const struct xvip_addr *a);
int xvip_maps_lo6_put(int fd, const struct xvip_addr *a);
int xvip_maps_lo6_del(int fd, const struct xvip_addr *a);
/* Every recorded address, collected first (cb may delete); stops at cb's non-zero value. */
int xvip_maps_lo6_foreach(int fd, int (*cb)(const struct xvip_addr *a, void *ctx), void *ctx);
/* An unpinned record of the same layout (tests), or -errno. */
int xvip_maps_lo6_create(void);

#endif
