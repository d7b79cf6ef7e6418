// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"

static const struct {
	const char *name;
	size_t off;
} map_table[] = {
	{ XVIP_MAP_VIP, offsetof(struct xvip_maps, vip) },
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
	for (size_t i = 0; i < NMAPS; i++) {
		if (*map_fd(m, i) >= 0)
			close(*map_fd(m, i));
		*map_fd(m, i) = -1;
	}
}

int xvip_maps_vip_set(const struct xvip_maps *m, const struct xvip_addr *vip,
		      const struct xvip_vip_val *v)
{
	return ret_errno(bpf_map_update_elem(m->vip, vip, v, BPF_ANY));
}

int xvip_maps_vip_del(const struct xvip_maps *m, const struct xvip_addr *vip)
{
	int ret = ret_errno(bpf_map_delete_elem(m->vip, vip));

	return ret == -ENOENT ? 0 : ret;
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

int xvip_maps_maglev_prepare(const struct xvip_maps *m, const uint32_t *table, uint32_t size,
			     int *fd_out)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_INNER_MAP);
	uint32_t n = size + XVIP_MAGLEV_HDR, *keys = NULL, *vals = NULL;
	int fd, ret;

	(void)m;
	if (!size)
		return -EINVAL;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xvip_mtab", sizeof(uint32_t), sizeof(uint32_t),
			    n, &opts);
	if (fd < 0)
		return -errno;
	keys = malloc(n * sizeof(*keys));
	vals = malloc(n * sizeof(*vals));
	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	vals[0] = size;
	memcpy(vals + XVIP_MAGLEV_HDR, table, size * sizeof(*table));
	ret = ret_errno(bpf_map_update_batch(fd, keys, vals, &n, NULL));
	if (ret == -EINVAL || ret == -EOPNOTSUPP) {
		/* Older kernels: element by element, still before the swap. */
		ret = 0;
		for (uint32_t i = 0; i < size + XVIP_MAGLEV_HDR && !ret; i++)
			ret = ret_errno(bpf_map_update_elem(fd, &keys[i], &vals[i], BPF_ANY));
	}
out:
	free(keys);
	free(vals);
	if (ret)
		close(fd);
	else
		*fd_out = fd;
	return ret;
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
	for (uint32_t i = 0; i < n && !ret; i++) {
		key = i + XVIP_MAGLEV_HDR;
		ret = ret_errno(bpf_map_lookup_elem(fd, &key, &t[i]));
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

int xvip_maps_ct_foreach(const struct xvip_maps *m,
			 int (*cb)(const struct xvip_flow *k, const struct xvip_ct_val *v,
				   void *ctx),
			 void *ctx)
{
	struct xvip_flow key, next;
	struct xvip_ct_val val;
	void *prev = NULL;
	int ret;

	while (bpf_map_get_next_key(m->ct, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(m->ct, &key, &val))
			continue;
		ret = cb(&key, &val, ctx);
		if (ret)
			return ret;
	}
	return errno == ENOENT ? 0 : -errno;
}

int xvip_maps_ct_get(const struct xvip_maps *m, const struct xvip_flow *k,
		     struct xvip_ct_val *v)
{
	return ret_errno(bpf_map_lookup_elem(m->ct, k, v));
}
