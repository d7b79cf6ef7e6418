// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"
#include "xvip_hash.h"

static const struct {
	const char *name;
	size_t off;
} map_table[] = {
	{ XVIP_MAP_VIP, offsetof(struct xvip_maps, vip) },
	{ XVIP_MAP_VIPBITS, offsetof(struct xvip_maps, vipbits) },
	{ XVIP_MAP_CFG, offsetof(struct xvip_maps, cfg) },
	{ XVIP_MAP_SVC, offsetof(struct xvip_maps, svc) },
	{ XVIP_MAP_MAGLEV, offsetof(struct xvip_maps, maglev) },
	{ XVIP_MAP_BE, offsetof(struct xvip_maps, be) },
	{ XVIP_MAP_CT, offsetof(struct xvip_maps, ct) },
	{ XVIP_MAP_RNAT, offsetof(struct xvip_maps, rnat) },
	{ XVIP_MAP_STATS, offsetof(struct xvip_maps, stats) },
	{ XVIP_MAP_SVC_STATS, offsetof(struct xvip_maps, svc_stats) },
	{ XVIP_MAP_BE_STATS, offsetof(struct xvip_maps, be_stats) },
	{ XVIP_MAP_SRCRANGE, offsetof(struct xvip_maps, srcrange) },
	{ XVIP_MAP_AFFINITY, offsetof(struct xvip_maps, affinity) },
	{ XVIP_MAP_FRAG, offsetof(struct xvip_maps, frag) },
	{ XVIP_MAP_RFRAG, offsetof(struct xvip_maps, rfrag) },
};
#define NMAPS (sizeof(map_table) / sizeof(map_table[0]))

static int *map_fd(struct xvip_maps *m, size_t i)
{
	return (int *)((char *)m + map_table[i].off);
}

static int ret_errno(int ret)
{
	return ret < 0 ? -errno : ret;
}

void xvip_maps_init(struct xvip_maps *m)
{
	for (size_t i = 0; i < NMAPS; i++)
		*map_fd(m, i) = -1;
	m->ncpus = libbpf_num_possible_cpus();
	m->vb = NULL;
}

int xvip_maps_from_obj(struct xvip_maps *m, struct bpf_object *obj)
{
	xvip_maps_init(m);
	if (m->ncpus < 1)
		return m->ncpus < 0 ? m->ncpus : -EINVAL;
	for (size_t i = 0; i < NMAPS; i++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, map_table[i].name);

		if (!map || bpf_map__fd(map) < 0)
			return -ENOENT;
		*map_fd(m, i) = bpf_map__fd(map);
	}
	return 0;
}

int xvip_maps_open_pinned(struct xvip_maps *m, const char *dir, char *err, size_t errlen)
{
	char path[4096];
	int ret;

	xvip_maps_init(m);
	if (m->ncpus < 1)
		return m->ncpus < 0 ? m->ncpus : -EINVAL;
	for (size_t i = 0; i < NMAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, map_table[i].name);
		*map_fd(m, i) = bpf_obj_get(path);
		if (*map_fd(m, i) < 0) {
			ret = -errno;
			snprintf(err, errlen, "open pinned map %s: %s (%d)", path, strerror(-ret),
				 ret);
			xvip_maps_close(m);
			return ret;
		}
	}
	return 0;
}

void xvip_maps_close(struct xvip_maps *m)
{
	xvip_maps_release(m);
	for (size_t i = 0; i < NMAPS; i++) {
		if (*map_fd(m, i) >= 0)
			close(*map_fd(m, i));
		*map_fd(m, i) = -1;
	}
}

struct xvip_vipbit_refs {
	uint32_t n[XVIP_VIPBITS];
};

void xvip_maps_release(struct xvip_maps *m)
{
	free(m->vb);
	m->vb = NULL;
}

static int vipbits_write(const struct xvip_maps *m, uint32_t bit)
{
	uint32_t word = bit / 64;
	uint64_t w = 0;

	for (uint32_t b = 0; b < 64; b++)
		if (m->vb->n[word * 64 + b])
			w |= 1ULL << b;
	return ret_errno(bpf_map_update_elem(m->vipbits, &word, &w, BPF_ANY));
}

/*
 * Count the VIPs behind every bit from the map itself (a restarted daemon
 * adopts what is there) and rewrite every word from the counts.
 */
static int vipbits_build(struct xvip_maps *mm)
{
	struct xvip_addr key, next;
	void *prev = NULL;
	int ret = 0;

	mm->vb = calloc(1, sizeof(*mm->vb));
	if (!mm->vb)
		return -ENOMEM;
	while (bpf_map_get_next_key(mm->vip, prev, &next) == 0) {
		key = next;
		prev = &key;
		mm->vb->n[xvip_vip_bit(&key)]++;
	}
	if (errno != ENOENT)
		ret = -errno;
	for (uint32_t word = 0; !ret && word < XVIP_VIPBITS_WORDS; word++)
		ret = vipbits_write(mm, word * 64);
	if (ret)
		xvip_maps_release(mm);
	return ret;
}

int xvip_maps_vip_set(const struct xvip_maps *m, const struct xvip_addr *vip,
		      const struct xvip_vip_val *v)
{
	struct xvip_maps *mm = (struct xvip_maps *)m;
	uint32_t bit = xvip_vip_bit(vip);
	struct xvip_vip_val cur;
	int ret;

	if (!m->vb && (ret = vipbits_build(mm)))
		return ret;
	if (bpf_map_lookup_elem(m->vip, vip, &cur)) {
		if (m->vb->n[bit]++ == 0 && (ret = vipbits_write(m, bit))) {
			m->vb->n[bit]--;
			return ret;
		}
		ret = ret_errno(bpf_map_update_elem(m->vip, vip, v, BPF_NOEXIST));
		if (ret && --m->vb->n[bit] == 0)
			vipbits_write(m, bit);
		return ret;
	}
	return ret_errno(bpf_map_update_elem(m->vip, vip, v, BPF_ANY));
}

int xvip_maps_vip_del(const struct xvip_maps *m, const struct xvip_addr *vip)
{
	struct xvip_maps *mm = (struct xvip_maps *)m;
	uint32_t bit = xvip_vip_bit(vip);
	int ret;

	if (!m->vb && (ret = vipbits_build(mm)))
		return ret;
	ret = ret_errno(bpf_map_delete_elem(m->vip, vip));
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (m->vb->n[bit] && --m->vb->n[bit] == 0)
		return vipbits_write(m, bit);
	return 0;
}

int xvip_maps_cfg_get(const struct xvip_maps *m, struct xvip_cfg *cfg)
{
	uint32_t zero = 0;

	return ret_errno(bpf_map_lookup_elem(m->cfg, &zero, cfg));
}

int xvip_maps_cfg_set(const struct xvip_maps *m, const struct xvip_cfg *cfg)
{
	uint32_t zero = 0;

	return ret_errno(bpf_map_update_elem(m->cfg, &zero, cfg, BPF_ANY));
}

int xvip_maps_svc_set(const struct xvip_maps *m, const struct xvip_svc_key *k,
		      const struct xvip_svc_val *v)
{
	return ret_errno(bpf_map_update_elem(m->svc, k, v, BPF_ANY));
}

int xvip_maps_svc_get(const struct xvip_maps *m, const struct xvip_svc_key *k,
		      struct xvip_svc_val *v)
{
	return ret_errno(bpf_map_lookup_elem(m->svc, k, v));
}

int xvip_maps_svc_del(const struct xvip_maps *m, const struct xvip_svc_key *k)
{
	int ret = ret_errno(bpf_map_delete_elem(m->svc, k));

	return ret == -ENOENT ? 0 : ret;
}

static void srcrange_key(struct xvip_srcrange_key *k, uint32_t svc_id,
			 const struct xvip_addr *addr, uint8_t plen)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 32u + plen;
	k->svc_id = htonl(svc_id);
	k->addr = *addr;
}

int xvip_maps_srcrange_set(const struct xvip_maps *m, uint32_t svc_id,
			   const struct xvip_addr *addr, uint8_t plen)
{
	struct xvip_srcrange_key k;
	uint8_t one = 1;

	srcrange_key(&k, svc_id, addr, plen);
	return ret_errno(bpf_map_update_elem(m->srcrange, &k, &one, BPF_ANY));
}

int xvip_maps_srcrange_del(const struct xvip_maps *m, uint32_t svc_id,
			   const struct xvip_addr *addr, uint8_t plen)
{
	struct xvip_srcrange_key k;
	int ret;

	srcrange_key(&k, svc_id, addr, plen);
	ret = ret_errno(bpf_map_delete_elem(m->srcrange, &k));
	return ret == -ENOENT ? 0 : ret;
}

int xvip_maps_srcrange_foreach(const struct xvip_maps *m,
			       int (*cb)(uint32_t svc_id, const struct xvip_addr *addr,
					 uint8_t plen, void *ctx),
			       void *ctx)
{
	struct xvip_srcrange_key key, next;
	void *prev = NULL;
	int ret;

	/* Collect first: callbacks may delete, which would derail the walk. */
	struct xvip_srcrange_key *all = NULL;
	size_t n = 0, cap = 0;

	while (bpf_map_get_next_key(m->srcrange, prev, &next) == 0) {
		if (n == cap) {
			void *p = realloc(all, (cap = cap ? cap * 2 : 64) * sizeof(*all));

			if (!p) {
				free(all);
				return -ENOMEM;
			}
			all = p;
		}
		all[n++] = next;
		key = next;
		prev = &key;
	}
	ret = errno == ENOENT || !n ? 0 : -errno;
	for (size_t i = 0; i < n && !ret; i++)
		if (all[i].prefixlen >= 32)
			ret = cb(ntohl(all[i].svc_id), &all[i].addr,
				 (uint8_t)(all[i].prefixlen - 32), ctx);
	free(all);
	return ret;
}

int xvip_maps_svc_foreach(const struct xvip_maps *m,
			  int (*cb)(const struct xvip_svc_key *k, const struct xvip_svc_val *v,
				    void *ctx),
			  void *ctx)
{
	struct xvip_svc_key key, next;
	struct xvip_svc_val val;
	void *prev = NULL;
	int ret;

	while (bpf_map_get_next_key(m->svc, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->svc, &key, &val))
			continue;	/* deleted while we walked */
		ret = cb(&key, &val, ctx);
		if (ret)
			return ret;
	}
	return errno == ENOENT ? 0 : -errno;
}

int xvip_maps_be_set(const struct xvip_maps *m, uint32_t id, const struct xvip_backend *be)
{
	return ret_errno(bpf_map_update_elem(m->be, &id, be, BPF_ANY));
}

int xvip_maps_be_get(const struct xvip_maps *m, uint32_t id, struct xvip_backend *be)
{
	return ret_errno(bpf_map_lookup_elem(m->be, &id, be));
}

/*
 * Only the state byte changes. The datapath holds a pointer into this array
 * element (a conntrack, affinity or fragment entry named the id), checks the
 * state and then reads the address and port; an update copies over the
 * element in place, so zeroing it could hand a packet that passed the check
 * 0.0.0.0:0. Rewriting the address and port with the same bytes cannot tear.
 */
int xvip_maps_be_clear(const struct xvip_maps *m, uint32_t id)
{
	struct xvip_backend be;
	int ret = xvip_maps_be_get(m, id, &be);

	if (ret || be.state == XVIP_BE_UNUSED)
		return ret;
	be.state = XVIP_BE_UNUSED;
	return xvip_maps_be_set(m, id, &be);
}

int xvip_maps_be_foreach(const struct xvip_maps *m,
			 int (*cb)(uint32_t id, const struct xvip_backend *be, void *ctx),
			 void *ctx)
{
	enum { CHUNK = 4096 };
	struct xvip_backend *vals = calloc(CHUNK, sizeof(*vals));
	uint32_t *keys = calloc(CHUNK, sizeof(*keys));
	uint32_t out_batch, count;
	void *in = NULL;
	int ret = 0, err;

	if (!vals || !keys) {
		ret = -ENOMEM;
		goto out;
	}
	do {
		count = CHUNK;
		err = bpf_map_lookup_batch(m->be, in, &out_batch, keys, vals, &count, NULL);
		if (err && errno != ENOENT) {
			ret = -errno;
			break;
		}
		for (uint32_t i = 0; i < count && !ret; i++)
			if (vals[i].state != XVIP_BE_UNUSED)
				ret = cb(keys[i], &vals[i], ctx);
		in = &out_batch;
	} while (!err && !ret);
out:
	free(vals);
	free(keys);
	return ret;
}

/*
 * A new inner map of size + 1 elements holding the table, written through
 * its mapping: an mmapable array keeps element i at byte 8 * i (values are
 * rounded up to 8 bytes), and mapped pages start zeroed.
 */
static int maglev_new(const uint32_t *table, uint32_t size, __u32 flags, int *fd_out)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = flags);
	uint32_t n = size + XVIP_MAGLEV_HDR;
	size_t len = ((size_t)n * 8 + (size_t)getpagesize() - 1) & ~((size_t)getpagesize() - 1);
	uint32_t *mem;
	int fd, ret = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xvip_mtab", sizeof(uint32_t), sizeof(uint32_t),
			    n, &opts);
	if (fd < 0)
		return -errno;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	mem[0] = size;
	for (uint32_t i = 0; i < size; i++)
		mem[2 * (i + XVIP_MAGLEV_HDR)] = table[i];
	munmap(mem, len);
	*fd_out = fd;
	return 0;
}

int xvip_maps_maglev_prepare(const struct xvip_maps *m, const uint32_t *table, uint32_t size,
			     int *fd_out)
{
	(void)m;
	if (!size)
		return -EINVAL;
	return maglev_new(table, size, BPF_F_INNER_MAP | BPF_F_MMAPABLE, fd_out);
}

int xvip_maps_maglev_swap_many(const struct xvip_maps *m, const uint32_t *svc_ids,
			       const int *fds, uint32_t n, uint32_t *done)
{
	uint32_t cnt = n;
	int ret = 0;

	if (n)
		ret = ret_errno(bpf_map_update_batch(m->maglev, svc_ids, fds, &cnt, NULL));
	if (ret == -EINVAL || ret == -EOPNOTSUPP || ret == -524 /* ENOTSUPP */) {
		/* Kernels without batch updates of an array of maps: one by one. */
		ret = 0;
		for (cnt = 0; cnt < n && !ret; cnt += !ret)
			ret = ret_errno(bpf_map_update_elem(m->maglev, &svc_ids[cnt], &fds[cnt],
							    BPF_ANY));
	}
	if (done)
		*done = ret ? cnt : n;
	return ret;
}

int xvip_maps_maglev_swap(const struct xvip_maps *m, uint32_t svc_id, const uint32_t *table,
			  uint32_t size)
{
	int fd, ret;

	ret = xvip_maps_maglev_prepare(m, table, size, &fd);
	if (ret)
		return ret;
	ret = xvip_maps_maglev_swap_many(m, &svc_id, &fd, 1, NULL);
	close(fd);	/* the outer map holds the reference now */
	return ret;
}

int xvip_maps_maglev_del(const struct xvip_maps *m, uint32_t svc_id)
{
	int ret = ret_errno(bpf_map_delete_elem(m->maglev, &svc_id));

	return ret == -ENOENT ? 0 : ret;
}

/* Read an mmapable table's n slots through a read-only mapping. */
static int maglev_copy_out(int fd, uint32_t *t, uint32_t n)
{
	size_t len = ((size_t)(n + XVIP_MAGLEV_HDR) * 8 + (size_t)getpagesize() - 1) &
		     ~((size_t)getpagesize() - 1);
	const uint32_t *mem = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);

	if (mem == MAP_FAILED)
		return -errno;
	for (uint32_t i = 0; i < n; i++)
		t[i] = mem[2 * (i + XVIP_MAGLEV_HDR)];
	munmap((void *)mem, len);
	return 0;
}

int xvip_maps_maglev_read(const struct xvip_maps *m, uint32_t svc_id, uint32_t **table,
			  uint32_t *size)
{
	uint32_t inner_id, key = 0, n;
	uint32_t *t;
	int fd, ret;

	if (bpf_map_lookup_elem(m->maglev, &svc_id, &inner_id))
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	ret = ret_errno(bpf_map_lookup_elem(fd, &key, &n));
	if (ret)
		goto out;
	if (!n || n > XVIP_MAGLEV_MAX) {
		ret = -EINVAL;
		goto out;
	}
	t = malloc(n * sizeof(*t));
	if (!t) {
		ret = -ENOMEM;
		goto out;
	}
	if (maglev_copy_out(fd, t, n)) {
		/* a version 1 table (not mmapable): element by element */
		for (uint32_t i = 0; i < n && !ret; i++) {
			key = i + XVIP_MAGLEV_HDR;
			ret = ret_errno(bpf_map_lookup_elem(fd, &key, &t[i]));
		}
	}
	if (ret) {
		free(t);
		goto out;
	}
	*table = t;
	*size = n;
out:
	close(fd);
	return ret;
}

int xvip_maps_counter(const struct xvip_maps *m, int fd, uint32_t idx, struct xvip_counter *out)
{
	struct xvip_counter *percpu;
	int ret;

	percpu = calloc((size_t)m->ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	ret = ret_errno(bpf_map_lookup_elem(fd, &idx, percpu));
	memset(out, 0, sizeof(*out));
	for (int i = 0; !ret && i < m->ncpus; i++) {
		out->packets += percpu[i].packets;
		out->bytes += percpu[i].bytes;
	}
	free(percpu);
	return ret;
}

uint32_t xvip_ft_buckets(uint32_t flows)
{
	uint32_t b = 1;

	while (b * XVIP_FT_WAYS < flows && b < (1u << 30))
		b <<= 1;
	return b;
}

/*
 * One flow table: ct or rnat. Their buckets have the same shape (meta line,
 * four 64-byte entries starting with the flow), so one bucket type serves.
 */
struct ft {
	int fd;
	uint32_t seed, mask;
};

typedef struct xvip_rnat_bucket ft_bucket;

static int ft_open(const struct xvip_maps *m, struct ft *t, bool rnat)
{
	struct xvip_cfg cfg;
	int ret = xvip_maps_cfg_get(m, &cfg);

	if (ret)
		return ret;
	t->fd = rnat ? m->rnat : m->ct;
	t->seed = cfg.hash_seed;
	t->mask = cfg.ct_mask;
	return 0;
}

static bool ft_used(const ft_bucket *b, int w)
{
	return b->m.seq[w] && !(b->m.seq[w] & 1) && b->way[w].key.proto;
}

/* The way of bucket b holding k, or -1. */
static int ft_way_of(const ft_bucket *b, const struct xvip_flow *k, uint32_t hash)
{
	for (int w = 0; w < XVIP_FT_WAYS; w++)
		if (ft_used(b, w) && b->m.tag[w] == hash && !memcmp(&b->way[w].key, k, sizeof(*k)))
			return w;
	return -1;
}

/* The way an insert of k takes: its own, else empty, else seen longest ago. */
static int ft_way_for(const ft_bucket *b, const struct xvip_flow *k, uint32_t hash)
{
	int w = ft_way_of(b, k, hash), v = 0;

	if (w >= 0)
		return w;
	for (w = 0; w < XVIP_FT_WAYS; w++) {
		if (!ft_used(b, w))
			return w;
		if (b->m.seen_ns[w] < b->m.seen_ns[v])
			v = w;
	}
	return v;
}

static void ft_write(ft_bucket *b, int w, const struct xvip_flow *k, uint32_t hash,
		     uint64_t seen_ns, const void *val, size_t vlen)
{
	b->m.seq[w] = (b->m.seq[w] | 1) + 1;
	b->m.tag[w] = hash;
	b->m.seen_ns[w] = seen_ns;
	memset(&b->way[w], 0, sizeof(b->way[w]));
	b->way[w].key = *k;
	memcpy((char *)&b->way[w] + sizeof(*k), val, vlen);
}

/* Read k's bucket into *b; the way holding k, or -ENOENT. */
static int ft_get(const struct xvip_maps *m, bool rnat, const struct xvip_flow *k,
		  ft_bucket *b, struct ft *t, uint32_t *idx)
{
	uint32_t hash;
	int ret = ft_open(m, t, rnat), w;

	if (ret)
		return ret;
	hash = xvip_flow_hash(k, t->seed);
	*idx = hash & t->mask;
	if (bpf_map_lookup_elem(t->fd, idx, b))
		return -errno;
	w = ft_way_of(b, k, hash);
	return w < 0 ? -ENOENT : w;
}

/* Write k's entry as the dataplane's insert would (same way choice). */
static int ft_put(const struct xvip_maps *m, bool rnat, const struct xvip_flow *k,
		  uint64_t seen_ns, const void *val, size_t vlen)
{
	ft_bucket b;
	struct ft t;
	uint32_t idx, hash;
	int w = ft_get(m, rnat, k, &b, &t, &idx);

	if (w < 0 && w != -ENOENT)
		return w;
	hash = xvip_flow_hash(k, t.seed);
	ft_write(&b, ft_way_for(&b, k, hash), k, hash, seen_ns, val, vlen);
	return ret_errno(bpf_map_update_elem(t.fd, &idx, &b, BPF_ANY));
}

static int ft_del(const struct xvip_maps *m, bool rnat, const struct xvip_flow *k)
{
	ft_bucket b;
	struct ft t;
	uint32_t idx;
	int w = ft_get(m, rnat, k, &b, &t, &idx);

	if (w < 0)
		return w;
	b.m.seq[w] += 2;
	b.m.tag[w] = 0;
	b.m.seen_ns[w] = 0;
	memset(&b.way[w], 0, sizeof(b.way[w]));
	return ret_errno(bpf_map_update_elem(t.fd, &idx, &b, BPF_ANY));
}

static void ct_val_of(const struct xvip_ct_bucket *b, int w, struct xvip_ct_val *v)
{
	v->backend_id = b->way[w].backend_id;
	v->svc_id = b->way[w].svc_id;
	v->created_ns = b->way[w].created_ns;
	v->seen_ns = b->m.seen_ns[w];
}

int xvip_maps_ct_foreach(const struct xvip_maps *m,
			 int (*cb)(const struct xvip_flow *k, const struct xvip_ct_val *v,
				   void *ctx),
			 void *ctx)
{
	const uint32_t chunk = 1024;
	struct xvip_ct_bucket *b;
	struct xvip_ct_val v;
	uint32_t *keys, batch, n;
	bool first = true;
	struct ft t;
	int ret = ft_open(m, &t, false);

	if (ret)
		return ret;
	b = calloc(chunk, sizeof(*b));
	keys = calloc(chunk, sizeof(*keys));
	if (!b || !keys) {
		ret = -ENOMEM;
		goto out;
	}
	/* buckets in batches of chunk: one system call each, not one per bucket */
	for (bool more = true; more && !ret;) {
		n = chunk;
		if (bpf_map_lookup_batch(t.fd, first ? NULL : &batch, &batch, keys, b, &n, NULL)) {
			if (errno != ENOENT) {
				ret = -errno;
				break;
			}
			more = false;	/* the last, possibly partial, batch */
		}
		first = false;
		for (uint32_t i = 0; !ret && i < n; i++) {
			for (int w = 0; !ret && w < XVIP_FT_WAYS; w++) {
				if (!ft_used((const ft_bucket *)&b[i], w))
					continue;
				ct_val_of(&b[i], w, &v);
				ret = cb(&b[i].way[w].key, &v, ctx);
			}
		}
	}
out:
	free(b);
	free(keys);
	return ret;
}

int xvip_maps_ct_get(const struct xvip_maps *m, const struct xvip_flow *k,
		     struct xvip_ct_val *v)
{
	ft_bucket b;
	struct ft t;
	uint32_t idx;
	int w = ft_get(m, false, k, &b, &t, &idx);

	if (w < 0)
		return w;
	ct_val_of((const struct xvip_ct_bucket *)&b, w, v);
	return 0;
}

struct ct_entry_val {
	uint32_t backend_id, svc_id;
	uint64_t created_ns;
};

int xvip_maps_ct_put(const struct xvip_maps *m, const struct xvip_flow *k,
		     const struct xvip_ct_val *v)
{
	struct ct_entry_val sv = { v->backend_id, v->svc_id, v->created_ns };

	return ft_put(m, false, k, v->seen_ns, &sv, sizeof(sv));
}

int xvip_maps_ct_del(const struct xvip_maps *m, const struct xvip_flow *k)
{
	return ft_del(m, false, k);
}

int xvip_maps_rnat_get(const struct xvip_maps *m, const struct xvip_flow *k,
		       struct xvip_rnat_val *v)
{
	ft_bucket b;
	struct ft t;
	uint32_t idx;
	int w = ft_get(m, true, k, &b, &t, &idx);

	if (w < 0)
		return w;
	*v = b.way[w].val;
	return 0;
}

int xvip_maps_rnat_put(const struct xvip_maps *m, const struct xvip_flow *k,
		       const struct xvip_rnat_val *v, uint64_t seen_ns)
{
	return ft_put(m, true, k, seen_ns, v, sizeof(*v));
}

int xvip_maps_rnat_del(const struct xvip_maps *m, const struct xvip_flow *k)
{
	return ft_del(m, true, k);
}

/*
 * Many entries at once: the whole table is read, the entries placed as
 * ft_put would and the table written back in batches.
 */
static int ft_load(const struct xvip_maps *m, bool rnat, const struct xvip_flow *keys,
		   const void *vals, size_t vlen, const uint64_t *seen, size_t n)
{
	const uint32_t chunk = 4096;
	uint32_t cnt, *idx = NULL;
	ft_bucket *tab = NULL;
	struct ft t;
	int ret = ft_open(m, &t, rnat);

	if (ret)
		return ret;
	tab = malloc((size_t)(t.mask + 1) * sizeof(*tab));
	idx = malloc(sizeof(*idx) * chunk);
	if (!tab || !idx) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i <= t.mask; i++) {
		if (bpf_map_lookup_elem(t.fd, &i, &tab[i])) {
			ret = -errno;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t hash = xvip_flow_hash(&keys[i], t.seed);
		ft_bucket *b = &tab[hash & t.mask];

		ft_write(b, ft_way_for(b, &keys[i], hash), &keys[i], hash, seen ? seen[i] : 0,
			 (const char *)vals + i * vlen, vlen);
	}
	for (uint32_t first = 0; !ret && first <= t.mask; first += cnt) {
		cnt = t.mask + 1 - first < chunk ? t.mask + 1 - first : chunk;
		for (uint32_t i = 0; i < cnt; i++)
			idx[i] = first + i;
		ret = ret_errno(bpf_map_update_batch(t.fd, idx, &tab[first], &cnt, NULL));
	}
out:
	free(tab);
	free(idx);
	return ret;
}

int xvip_maps_ct_load(const struct xvip_maps *m, const struct xvip_flow *keys,
		      const struct xvip_ct_val *vals, size_t n)
{
	struct ct_entry_val *sv = calloc(n ?: 1, sizeof(*sv));
	uint64_t *seen = calloc(n ?: 1, sizeof(*seen));
	int ret = -ENOMEM;

	if (sv && seen) {
		for (size_t i = 0; i < n; i++) {
			sv[i] = (struct ct_entry_val){ vals[i].backend_id, vals[i].svc_id,
						       vals[i].created_ns };
			seen[i] = vals[i].seen_ns;
		}
		ret = ft_load(m, false, keys, sv, sizeof(*sv), seen, n);
	}
	free(sv);
	free(seen);
	return ret;
}

int xvip_maps_rnat_load(const struct xvip_maps *m, const struct xvip_flow *keys,
			const struct xvip_rnat_val *vals, size_t n)
{
	return ft_load(m, true, keys, vals, sizeof(*vals), NULL, n);
}

int xvip_maps_ft_clear(const struct xvip_maps *m)
{
	const uint32_t chunk = 1024;
	struct xvip_rnat_bucket *zero;
	uint32_t *keys, n;
	struct xvip_cfg cfg;
	int ret = xvip_maps_cfg_get(m, &cfg);

	if (ret)
		return ret;
	zero = calloc(chunk, sizeof(*zero));
	keys = calloc(chunk, sizeof(*keys));
	if (!zero || !keys)
		ret = -ENOMEM;
	for (uint32_t first = 0; !ret && first <= cfg.ct_mask; first += chunk) {
		n = cfg.ct_mask + 1 - first < chunk ? cfg.ct_mask + 1 - first : chunk;
		for (uint32_t i = 0; i < n; i++)
			keys[i] = first + i;
		/* the ct buckets are smaller: the zeroed buffer serves both */
		ret = ret_errno(bpf_map_update_batch(m->rnat, keys, zero, &n, NULL));
		ret = ret ?: ret_errno(bpf_map_update_batch(m->ct, keys, zero, &n, NULL));
	}
	free(zero);
	free(keys);
	return ret;
}

int xvip_maps_lo6_has(int fd, const struct xvip_addr *a)
{
	__u8 v;

	if (!bpf_map_lookup_elem(fd, a, &v))
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int xvip_maps_lo6_put(int fd, const struct xvip_addr *a)
{
	const __u8 v = 1;

	return ret_errno(bpf_map_update_elem(fd, a, &v, BPF_ANY));
}

int xvip_maps_lo6_del(int fd, const struct xvip_addr *a)
{
	int ret = ret_errno(bpf_map_delete_elem(fd, a));

	return ret == -ENOENT ? 0 : ret;
}

int xvip_maps_lo6_foreach(int fd, int (*cb)(const struct xvip_addr *a, void *ctx), void *ctx)
{
	struct xvip_addr key, next, *v = NULL, *grown;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	int ret = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				free(v);
				return -ENOMEM;
			}
			v = grown;
		}
		v[n++] = key = next;
		prev = &key;
	}
	if (errno != ENOENT)
		ret = -errno;
	for (size_t i = 0; i < n && !ret; i++)
		ret = cb(&v[i], ctx);
	free(v);
	return ret;
}

int xvip_maps_lo6_create(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, XVIP_MAP_LO6, sizeof(struct xvip_addr),
				sizeof(__u8), XVIP_MAX_VIPS, &o);

	return fd < 0 ? -errno : fd;
}
