// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "xvip_xdp.skel.h"
#include "xvip_tc.skel.h"
#include "xvip_sock.skel.h"
#include "loader.h"
#include "xvip_hash.h"
#include "log.h"

#define XVIP_XDP_PROG_NAME	"xvip_xdp"
#define XVIP_TC_PROG_NAME	"xvip_tc_pod"
/* Our tc filter's place on clsact ingress; a CNI's filters use other handles. */
#define XVIP_TC_HANDLE		0x7876
#define XVIP_TC_PRIO		1
/* Pinned cgroup links of the socket hooks: <pin dir>/xvip_link_sock_connect4, ... */
#define XVIP_LINK_PREFIX	"xvip_link_"
#define XVIP_CGROUP_ROOT	"/sys/fs/cgroup"
#define XVIP_CGROUP_HYBRID	"/sys/fs/cgroup/unified"	/* systemd's hybrid layout */

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE		71	/* kernel >= 5.14 */
#endif

int xvip_dp_parse_mode(const char *s, enum xvip_xdp_mode *mode)
{
	if (!strcasecmp(s, "auto"))
		*mode = XVIP_XDP_AUTO;
	else if (!strcasecmp(s, "native"))
		*mode = XVIP_XDP_NATIVE;
	else if (!strcasecmp(s, "generic"))
		*mode = XVIP_XDP_GENERIC;
	else
		return -EINVAL;
	return 0;
}

static int check_pin_dir(const char *dir)
{
	char parent[PATH_MAX], *slash;
	struct statfs sfs;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		int ret = -errno;

		log_err("create pin dir %s: %s (%d)", dir, strerror(-ret), ret);
		return ret;
	}
	if (statfs(dir, &sfs)) {
		int ret = -errno;

		log_err("statfs %s: %s (%d)", dir, strerror(-ret), ret);
		return ret;
	}
	if (sfs.f_type != BPF_FS_MAGIC) {
		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		if (slash && slash != parent)
			*slash = '\0';
		log_err("pin dir %s is not on a bpf filesystem; mount it first: "
			"mount -t bpf bpf %s", dir, parent);
		return -ENOTSUP;
	}
	return 0;
}

static bool pins_exist(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, XVIP_MAP_SVC);
	return access(path, F_OK) == 0;
}

/*
 * Pins left by an xvipd of another layout (or --ct-size) cannot be reused:
 * libbpf would refuse them with the same EINVAL as a verifier rejection.
 * Found here first, by the checks libbpf makes, so that only this case
 * gets told to run --cleanup.
 */
static int check_pins(struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj) {
		const char *path = bpf_map__pin_path(map);
		struct bpf_map_info info = {};
		uint32_t len = sizeof(info);
		int fd;

		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue; /* not pinned yet: created at load */
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			close(fd);
			continue; /* libbpf's load will say what is wrong */
		}
		close(fd);
		const struct {
			const char *what;
			uint32_t have, want;
		} f[] = {
			{ "type", info.type, (uint32_t)bpf_map__type(map) },
			{ "key size", info.key_size, bpf_map__key_size(map) },
			{ "value size", info.value_size, bpf_map__value_size(map) },
			{ "entries", info.max_entries, bpf_map__max_entries(map) },
			{ "flags", info.map_flags, bpf_map__map_flags(map) },
		};
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			if (f[i].have == f[i].want)
				continue;
			log_err("pinned map %s has another layout (%s %u, this xvipd's %u): a "
				"map layout or --ct-size change needs xvipd --cleanup first",
				path, f[i].what, f[i].have, f[i].want);
			return -ESTALE;
		}
	}
	return 0;
}

static int size_obj_maps(struct bpf_object *obj, uint32_t ct_size)
{
	struct bpf_map *map;
	int ret = 0;

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);

		if (!strcmp(name, XVIP_MAP_CT) || !strcmp(name, XVIP_MAP_RNAT))
			ret = ret ?: bpf_map__set_max_entries(map, xvip_ft_buckets(ct_size));
	}
	return ret;
}

/*
 * Layout version 1 kept conntrack in LRU hash maps (XVIP_MAP_CT_V1,
 * XVIP_MAP_RNAT_V1) and hashed flows with the fixed XVIP_FLOW_SEED. Their
 * flows are copied into the new tables, with the old seed so Maglev keeps
 * placing new flows where the old programs did, and the old pins go. The old
 * programs still run on the old maps until they are replaced.
 */
/* Every entry of a v1 LRU hash map (key struct xvip_flow), malloc'd. */
static int read_v1(int fd, size_t vlen, struct xvip_flow **keys, void **vals, size_t *n)
{
	struct xvip_flow key, next;
	size_t cap = 0;
	void *prev = NULL;

	*keys = NULL;
	*vals = NULL;
	*n = 0;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (*n == cap) {
			void *k, *v;

			cap = cap ? cap * 2 : 4096;
			k = realloc(*keys, cap * sizeof(**keys));
			v = k ? realloc(*vals, cap * vlen) : NULL;
			if (k)
				*keys = k;
			if (!v)
				return -ENOMEM;
			*vals = v;
		}
		if (bpf_map_lookup_elem(fd, &key, (char *)*vals + *n * vlen))
			continue;	/* gone meanwhile */
		(*keys)[(*n)++] = key;
	}
	return errno == ENOENT ? 0 : -errno;
}

/*
 * Layout version 1 kept conntrack in LRU hash maps (XVIP_MAP_CT_V1,
 * XVIP_MAP_RNAT_V1) and hashed flows with the fixed XVIP_FLOW_SEED. Their
 * flows are copied into the new tables, with the old seed so Maglev keeps
 * placing new flows where the old programs did, and the old pins go. The old
 * programs still run on the old maps until they are replaced.
 */
static int migrate_v1(struct xvip_dp *dp, struct xvip_cfg *cfg)
{
	char ct_path[PATH_MAX], rnat_path[PATH_MAX];
	struct xvip_flow *ck = NULL, *rk = NULL;
	void *cv = NULL, *rv = NULL;
	size_t nct = 0, nrnat = 0;
	int ct, rnat, ret;

	snprintf(ct_path, sizeof(ct_path), "%s/%s", dp->pin_dir, XVIP_MAP_CT_V1);
	snprintf(rnat_path, sizeof(rnat_path), "%s/%s", dp->pin_dir, XVIP_MAP_RNAT_V1);
	ct = bpf_obj_get(ct_path);
	if (ct < 0)
		return errno == ENOENT ? 0 : -errno;
	rnat = bpf_obj_get(rnat_path);
	cfg->hash_seed = XVIP_FLOW_SEED;
	ret = xvip_maps_cfg_set(&dp->maps, cfg);
	ret = ret ?: read_v1(ct, sizeof(struct xvip_ct_val), &ck, &cv, &nct);
	if (rnat >= 0)
		ret = ret ?: read_v1(rnat, sizeof(struct xvip_rnat_val), &rk, &rv, &nrnat);
	ret = ret ?: xvip_maps_ct_load(&dp->maps, ck, cv, nct);
	ret = ret ?: xvip_maps_rnat_load(&dp->maps, rk, rv, nrnat);
	close(ct);
	if (rnat >= 0)
		close(rnat);
	free(ck);
	free(cv);
	free(rk);
	free(rv);
	if (ret)
		return ret;
	log_info("flow tables: %zu conntrack and %zu reverse-NAT entries migrated from layout "
		 "version 1 (%s, %s removed)", nct, nrnat, ct_path, rnat_path);
	unlink(ct_path);
	unlink(rnat_path);
	return 0;
}

/*
 * Layout version 1's Maglev tables (XVIP_MAP_MAGLEV_V1, plain inner arrays)
 * are copied into the new outer map before the new programs run, so no
 * service is without its table across the upgrade; then the old pin goes.
 */
static int migrate_maglev_v1(struct xvip_dp *dp)
{
	struct bpf_map_info info = {};
	uint32_t ilen = sizeof(info), n = 0, done = 0;
	struct xvip_maps old = dp->maps;
	uint32_t *ids = NULL;
	int *fds = NULL, ret = 0;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, XVIP_MAP_MAGLEV_V1);
	old.maglev = bpf_obj_get(path);
	if (old.maglev < 0)
		return errno == ENOENT ? 0 : -errno;
	if (bpf_obj_get_info_by_fd(old.maglev, &info, &ilen)) {
		ret = -errno;
		goto out;
	}
	ids = calloc(info.max_entries, sizeof(*ids));
	fds = calloc(info.max_entries, sizeof(*fds));
	if (!ids || !fds) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t id = 0; id < info.max_entries && !ret; id++) {
		uint32_t *table, size;

		if (xvip_maps_maglev_read(&old, id, &table, &size))
			continue;	/* no table for this id */
		ret = xvip_maps_maglev_prepare(&dp->maps, table, size, &fds[n]);
		free(table);
		if (!ret)
			ids[n++] = id;
	}
	ret = ret ?: xvip_maps_maglev_swap_many(&dp->maps, ids, fds, n, &done);
	if (!ret) {
		log_info("maglev: %u tables migrated from layout version 1 (%s removed)", done, path);
		unlink(path);
	}
out:
	for (uint32_t i = 0; fds && i < n; i++)
		close(fds[i]);
	free(ids);
	free(fds);
	close(old.maglev);
	return ret;
}

/*
 * xvip_cfg before any program runs: adopted tables keep their seed (it
 * places their flows); new ones get a random one, so nobody outside can
 * aim flows at one bucket or one Maglev slot.
 */
static int init_cfg(struct xvip_dp *dp, uint32_t ct_size)
{
	struct xvip_cfg cfg;
	int ret = xvip_maps_cfg_get(&dp->maps, &cfg);

	if (ret) {
		log_err("read %s: %s (%d)", XVIP_MAP_CFG, strerror(-ret), ret);
		return ret;
	}
	if (cfg.hash_seed && cfg.ct_mask == xvip_ft_buckets(ct_size) - 1)
		return 0;
	cfg.ct_mask = xvip_ft_buckets(ct_size) - 1;
	if (!cfg.hash_seed) {
		ret = migrate_v1(dp, &cfg);
		if (ret)
			log_warn("migrate layout version 1 conntrack: %s (%d); its flows are "
				 "balanced by Maglev again", strerror(-ret), ret);
	}
	while (!cfg.hash_seed) {
		if (getrandom(&cfg.hash_seed, sizeof(cfg.hash_seed), 0) < 0) {
			ret = -errno;
			log_err("getrandom: %s (%d)", strerror(-ret), ret);
			return ret;
		}
	}
	ret = xvip_maps_cfg_set(&dp->maps, &cfg);
	if (ret)
		log_err("write %s: %s (%d)", XVIP_MAP_CFG, strerror(-ret), ret);
	return ret;
}

static int netns_cookie(uint64_t *cookie)
{
	socklen_t len = sizeof(*cookie);
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &len))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * The socket hooks are optional: without them (an older kernel, no
 * SO_NETNS_COOKIE) xvipd balances everything but the node's own sockets.
 * They must know the namespace before load: the cookie is read-only data.
 */
static void load_sock(struct xvip_dp *dp, const struct xvip_dp_opts *o,
		      const struct bpf_object_open_opts *oo)
{
	uint64_t cookie = 0;
	int ret;

	ret = netns_cookie(&cookie);
	if (ret) {
		log_warn("read the network namespace cookie (SO_NETNS_COOKIE, kernel >= 5.14): "
			 "%s (%d); node-to-VIP off", strerror(-ret), ret);
		return;
	}
	dp->sock = xvip_sock__open_opts(oo);
	if (!dp->sock) {
		ret = -errno;
		log_warn("open socket-hook object: %s (%d); node-to-VIP off", strerror(-ret), ret);
		return;
	}
	dp->sock->rodata->xvip_netns_cookie = cookie;
	ret = size_obj_maps(dp->sock->obj, o->ct_size);
	ret = ret ?: xvip_sock__load(dp->sock);
	if (ret) {
		log_warn("load socket-hook programs: %s (%d); node-to-VIP off", strerror(-ret),
			 ret);
		xvip_sock__destroy(dp->sock);
		dp->sock = NULL;
	}
}

int xvip_dp_load(struct xvip_dp *dp, const struct xvip_dp_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = o->pin_dir);
	int ret;

	memset(dp, 0, sizeof(*dp));
	dp->lo6 = -1;
	xvip_maps_init(&dp->maps);
	snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", o->pin_dir);
	dp->mode = o->mode;
	ret = check_pin_dir(o->pin_dir);
	if (ret)
		return ret;
	dp->adopted = pins_exist(o->pin_dir);

	dp->xdp = xvip_xdp__open_opts(&oo);
	if (!dp->xdp) {
		ret = -errno;
		log_err("open xdp object: %s (%d)", strerror(-ret), ret);
		return ret;
	}
	dp->tc = xvip_tc__open_opts(&oo);
	if (!dp->tc) {
		ret = -errno;
		log_err("open tc object: %s (%d)", strerror(-ret), ret);
		goto err;
	}
	ret = size_obj_maps(dp->xdp->obj, o->ct_size);
	ret = ret ?: size_obj_maps(dp->tc->obj, o->ct_size);
	if (ret) {
		log_err("size conntrack maps to %u: %s (%d)", o->ct_size, strerror(-ret), ret);
		goto err;
	}
	ret = check_pins(dp->xdp->obj);
	ret = ret ?: check_pins(dp->tc->obj);
	if (ret)
		goto err;
	/* The XDP object creates and pins the maps; the tc object reuses the pins. */
	ret = xvip_xdp__load(dp->xdp);
	if (ret) {
		log_err("load xdp program: %s (%d)", strerror(-ret), ret);
		goto err;
	}
	ret = xvip_tc__load(dp->tc);
	if (ret) {
		log_err("load tc program: %s (%d)", strerror(-ret), ret);
		goto err;
	}
	ret = xvip_maps_from_obj(&dp->maps, dp->xdp->obj);
	if (ret) {
		log_err("find maps in xdp object: %s (%d)", strerror(-ret), ret);
		goto err;
	}
	ret = init_cfg(dp, o->ct_size);
	if (ret)
		goto err;
	dp->lo6 = bpf_map__fd(bpf_object__find_map_by_name(dp->xdp->obj, XVIP_MAP_LO6));
	ret = migrate_maglev_v1(dp);
	if (ret)
		log_warn("migrate layout version 1 Maglev tables: %s (%d); services have no table "
			 "until the first apply", strerror(-ret), ret);
	load_sock(dp, o, &oo);
	return 0;
err:
	xvip_dp_close(dp);
	return ret;
}

void xvip_dp_close(struct xvip_dp *dp)
{
	xvip_sock__destroy(dp->sock);
	dp->sock = NULL;
	xvip_tc__destroy(dp->tc);
	xvip_xdp__destroy(dp->xdp);
	dp->tc = NULL;
	dp->xdp = NULL;
	dp->lo6 = -1;
	xvip_maps_release(&dp->maps);
	xvip_maps_init(&dp->maps);
}

static int prog_name_by_id(uint32_t id, char *name, size_t len)
{
	struct bpf_prog_info info = {};
	uint32_t ilen = sizeof(info);
	int fd, ret;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	ret = bpf_obj_get_info_by_fd(fd, &info, &ilen);
	ret = ret < 0 ? -errno : 0;
	close(fd);
	if (!ret)
		snprintf(name, len, "%s", info.name);
	return ret;
}

int xvip_dp_xdp_prog_name(int ifindex, char *name, size_t len, uint32_t *id)
{
	uint32_t pid = 0;
	int ret;

	ret = bpf_xdp_query_id(ifindex, 0, &pid);
	if (ret)
		return ret;
	if (!pid)
		return -ENOENT;
	if (id)
		*id = pid;
	return prog_name_by_id(pid, name, len);
}

static uint32_t prog_id(int fd)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/*
 * What xvipd attached on each uplink: its program, or the libxdp dispatcher
 * that runs it. Recorded at attach time because the health check runs after
 * xvipd dropped the capabilities that looking into a dispatcher needs.
 */
#define XDP_ATTACHED_MAX	16
static struct {
	int ifindex;
	uint32_t id;
} xdp_attached[XDP_ATTACHED_MAX];

static void xdp_remember(int ifindex)
{
	uint32_t id = 0;
	size_t i, free_slot = XDP_ATTACHED_MAX;

	if (bpf_xdp_query_id(ifindex, 0, &id) || !id)
		return;
	for (i = 0; i < XDP_ATTACHED_MAX; i++) {
		if (xdp_attached[i].ifindex == ifindex)
			break;
		if (!xdp_attached[i].ifindex && free_slot == XDP_ATTACHED_MAX)
			free_slot = i;
	}
	if (i == XDP_ATTACHED_MAX)
		i = free_slot;
	if (i < XDP_ATTACHED_MAX) {
		xdp_attached[i].ifindex = ifindex;
		xdp_attached[i].id = id;
	}
}

/* 1: ours runs on ifindex (alone or in our dispatcher), 0: nothing, -1: another program. */
static int xdp_state(int ifindex, uint32_t ours, uint32_t *attached)
{
	*attached = 0;
	if (bpf_xdp_query_id(ifindex, 0, attached))
		return -errno;
	if (!*attached)
		return 0;
	if (*attached == ours)
		return 1;
	for (size_t i = 0; i < XDP_ATTACHED_MAX; i++)
		if (xdp_attached[i].ifindex == ifindex && xdp_attached[i].id == *attached)
			return 1;
	return -1;
}

int xvip_dp_check(struct xvip_dp *dp, const char *const *uplinks, size_t n, char *why,
		  size_t whylen)
{
	uint32_t ours = prog_id(bpf_program__fd(dp->xdp->progs.xvip_xdp)), attached;
	struct bpf_map *map;

	for (size_t i = 0; i < n; i++) {
		int ifindex = (int)if_nametoindex(uplinks[i]), st;
		char name[64];

		if (!ifindex) {
			snprintf(why, whylen, "uplink %s is gone", uplinks[i]);
			return -ENODEV;
		}
		st = xdp_state(ifindex, ours, &attached);
		if (st == 1)
			continue;
		if (st == 0) {
			snprintf(why, whylen, "xdp detached from %s", uplinks[i]);
			return -ENOENT;
		}
		/* The name needs CAP_SYS_ADMIN, which xvipd may have dropped. */
		if (prog_name_by_id(attached, name + 2, sizeof(name) - 2))
			name[0] = '\0';
		else
			memcpy(name, ", ", 2);
		snprintf(why, whylen, "another xdp program (id %u%s) replaced xvipd's on %s",
			 attached, name, uplinks[i]);
		return -EBUSY;
	}
	bpf_object__for_each_map(map, dp->xdp->obj) {
		const char *path = bpf_map__pin_path(map);
		int fd;

		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			snprintf(why, whylen, "pinned map %s is gone", path);
			return -ENOENT;
		}
		attached = map_id(fd);
		close(fd);
		if (attached != map_id(bpf_map__fd(map))) {
			snprintf(why, whylen, "pin %s names another map (id %u)", path, attached);
			return -ESTALE;
		}
	}
	return 0;
}

/*
 * Re-attach on an uplink where nothing is attached any more (a repair):
 * straight through the kernel, not libxdp. With no other program there is
 * no dispatcher to share, and libxdp's path needs what xvipd gave up after
 * start-up (program BTF by id: CAP_SYS_ADMIN; its dispatcher: CAP_PERFMON),
 * and libxdp 1.3 crashes when those fail. Only CAP_NET_ADMIN is needed here.
 */
static int reattach_xdp(struct xvip_dp *dp, int ifindex)
{
	int fd = bpf_program__fd(dp->xdp->progs.xvip_xdp), ret;
	char ifname[IF_NAMESIZE] = "?";
	uint32_t flags = XDP_FLAGS_UPDATE_IF_NOEXIST;

	if_indextoname((unsigned int)ifindex, ifname);
	ret = bpf_xdp_attach(ifindex, fd, flags | (dp->mode == XVIP_XDP_GENERIC ?
						   XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE), NULL);
	if (ret && ret != -EBUSY && ret != -EEXIST && dp->mode == XVIP_XDP_AUTO) {
		log_warn("re-attach xdp on %s in native mode: %s (%d); trying generic", ifname,
			 strerror(-ret), ret);
		ret = bpf_xdp_attach(ifindex, fd, flags | XDP_FLAGS_SKB_MODE, NULL);
	}
	if (ret)
		log_err("re-attach xdp on %s: %s (%d)", ifname, strerror(-ret), ret);
	else
		log_info("xdp re-attached on %s", ifname);
	return ret;
}

int xvip_dp_repair(struct xvip_dp *dp, const char *const *uplinks, size_t n)
{
	uint32_t ours = prog_id(bpf_program__fd(dp->xdp->progs.xvip_xdp)), attached;
	struct bpf_map *map;
	int ret = 0, r;

	for (size_t i = 0; i < n; i++) {
		int ifindex = (int)if_nametoindex(uplinks[i]);

		if (!ifindex) {
			ret = -ENODEV;
			continue;
		}
		r = xdp_state(ifindex, ours, &attached);
		if (r == 0)
			r = reattach_xdp(dp, ifindex);
		else if (r < 0)
			r = -EBUSY;	/* someone else's program: not ours to replace */
		else
			r = 0;
		ret = ret ?: r;
	}
	if (mkdir(dp->pin_dir, 0700) && errno != EEXIST)
		return -errno;
	bpf_object__for_each_map(map, dp->xdp->obj) {
		const char *path = bpf_map__pin_path(map);
		int fd;

		if (!path)
			continue;
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			close(fd);
			continue;
		}
		r = bpf_obj_pin(bpf_map__fd(map), path) ? -errno : 0;
		if (r)
			log_err("re-pin %s: %s (%d)", path, strerror(-r), r);
		else
			log_info("re-pinned %s", path);
		ret = ret ?: r;
	}
	return ret;
}

static enum xdp_attach_mode libxdp_mode(enum xvip_xdp_mode m)
{
	return m == XVIP_XDP_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE;
}

static int attach_xdp_mode(struct xvip_dp *dp, int ifindex, enum xvip_xdp_mode mode)
{
	int fd = bpf_program__fd(dp->xdp->progs.xvip_xdp);
	struct xdp_program *prog;
	char name[64] = "";
	uint32_t old_id = 0;
	int ret;

	ret = xvip_dp_xdp_prog_name(ifindex, name, sizeof(name), &old_id);
	if (!ret && !strcmp(name, XVIP_XDP_PROG_NAME)) {
		/* A previous xvipd's program: swap it in one step, no gap. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
		int old_fd = bpf_prog_get_fd_by_id(old_id);
		uint32_t flags = XDP_FLAGS_REPLACE |
				 (mode == XVIP_XDP_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE);

		if (old_fd < 0)
			return -errno;
		ao.old_prog_fd = old_fd;
		ret = bpf_xdp_attach(ifindex, fd, flags, &ao);
		close(old_fd);
		return ret;
	}
	if (!ret) {
		log_err("attach xdp on ifindex %d: another XDP program is attached (%s, id %u)",
			ifindex, name, old_id);
		return -EBUSY;
	}
	prog = xdp_program__from_fd(fd);
	ret = (int)libxdp_get_error(prog);
	if (ret)
		return ret;
	/*
	 * libxdp tries its multi-program dispatcher first; where the kernel
	 * refuses freplace it attaches the program alone.
	 */
	ret = xdp_program__attach(prog, ifindex, libxdp_mode(mode), 0);
	xdp_program__close(prog);
	return ret;
}

int xvip_dp_attach_xdp(struct xvip_dp *dp, int ifindex)
{
	char ifname[IF_NAMESIZE] = "?";
	int ret;

	if_indextoname((unsigned int)ifindex, ifname);
	if (dp->mode == XVIP_XDP_AUTO) {
		ret = attach_xdp_mode(dp, ifindex, XVIP_XDP_NATIVE);
		if (ret && ret != -EBUSY) {
			log_warn("attach xdp on %s in native mode: %s (%d); trying generic",
				 ifname, strerror(-ret), ret);
			ret = attach_xdp_mode(dp, ifindex, XVIP_XDP_GENERIC);
		}
	} else {
		ret = attach_xdp_mode(dp, ifindex, dp->mode);
	}
	if (ret) {
		log_err("attach xdp on %s: %s (%d)", ifname, strerror(-ret), ret);
	} else {
		xdp_remember(ifindex);
		log_info("xdp attached on %s", ifname);
	}
	return ret;
}

int xvip_dp_attach_tc(struct xvip_dp *dp, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = XVIP_TC_HANDLE, .priority = XVIP_TC_PRIO,
		    .flags = BPF_TC_F_REPLACE);
	char ifname[IF_NAMESIZE] = "?";
	int ret;

	if_indextoname((unsigned int)ifindex, ifname);
	ret = bpf_tc_hook_create(&hook);
	if (ret && ret != -EEXIST) {
		log_err("create clsact on %s: %s (%d)", ifname, strerror(-ret), ret);
		return ret;
	}
	to.prog_fd = bpf_program__fd(dp->tc->progs.xvip_tc_pod);
	ret = bpf_tc_attach(&hook, &to);
	if (ret)
		log_err("attach tc ingress on %s: %s (%d)", ifname, strerror(-ret), ret);
	else
		log_info("tc attached on %s ingress", ifname);
	return ret;
}

/*
 * Is this process's tc program the one attached on ifindex? Compared by
 * program id, which needs no capability beyond what xvipd keeps (asking
 * the kernel for another program's name needs CAP_SYS_ADMIN).
 */
bool xvip_dp_tc_is_ours(const struct xvip_dp *dp, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = XVIP_TC_HANDLE, .priority = XVIP_TC_PRIO);
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_tc_query(&hook, &to))
		return false;
	if (bpf_obj_get_info_by_fd(bpf_program__fd(dp->tc->progs.xvip_tc_pod), &info, &len))
		return false;
	return to.prog_id == info.id;
}

bool xvip_dp_tc_attached(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = XVIP_TC_HANDLE, .priority = XVIP_TC_PRIO);
	char name[64];

	if (bpf_tc_query(&hook, &to))
		return false;
	return !prog_name_by_id(to.prog_id, name, sizeof(name)) &&
	       !strcmp(name, XVIP_TC_PROG_NAME);
}

/* ---- node-to-VIP: socket hooks on a cgroup v2 */

static int open_cgroup2(const char *path, int *fd, uint64_t *id)
{
	struct statfs sfs;
	struct stat st;

	if (statfs(path, &sfs))
		return -errno;
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return -ENOTSUP;
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	/* A cgroup v2 directory's inode number is its cgroup id. */
	if (fstat(*fd, &st)) {
		int ret = -errno;

		close(*fd);
		return ret;
	}
	*id = st.st_ino;
	return 0;
}

static uint64_t link_cgroup_id(int link_fd)
{
	struct bpf_link_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return 0;
	return info.type == BPF_LINK_TYPE_CGROUP ? info.cgroup.cgroup_id : 0;
}

/* Detach a pinned link whatever holds it open, and remove the pin. */
static int unpin_link(const char *pin)
{
	int fd = bpf_obj_get(pin), ret = 0;

	if (fd >= 0) {
		ret = bpf_link_detach(fd) ? -errno : 0;
		close(fd);
	}
	if (unlink(pin) && errno != ENOENT)
		ret = ret ?: -errno;
	return ret;
}

/*
 * Attach prog to the cgroup, or hand a pinned link of a previous xvipd the
 * new program: the kernel swaps it in place, so sockets never see a moment
 * without the hook. *created says whether a new link was made.
 */
static int attach_sock_prog(struct bpf_program *prog, int cg_fd, uint64_t cg_id,
			    const char *pin, bool *created)
{
	const char *name = bpf_program__name(prog);
	struct bpf_link *link;
	int ret;

	*created = false;
	link = bpf_link__open(pin);
	if (link) {
		if (link_cgroup_id(bpf_link__fd(link)) == cg_id) {
			ret = bpf_link__update_program(link, prog);
			bpf_link__destroy(link);	/* closes our fd; the pin keeps it */
			if (!ret)
				return 0;
			log_warn("replace %s in pinned link %s: %s (%d); attaching anew", name,
				 pin, strerror(-ret), ret);
		} else {
			bpf_link__destroy(link);
			log_info("pinned link %s is on another cgroup; attaching anew", pin);
		}
		unpin_link(pin);
	}
	link = bpf_program__attach_cgroup(prog, cg_fd);
	ret = (int)libbpf_get_error(link);
	if (ret) {
		log_err("attach %s to the cgroup: %s (%d)", name, strerror(-ret), ret);
		return ret;
	}
	ret = bpf_link__pin(link, pin);
	if (ret) {
		log_err("pin link of %s as %s: %s (%d)", name, pin, strerror(-ret), ret);
		bpf_link__destroy(link);	/* unpinned: closing detaches it */
		return ret;
	}
	bpf_link__destroy(link);
	*created = true;
	return 0;
}

int xvip_dp_attach_sock(struct xvip_dp *dp, const char *cgroup)
{
	struct bpf_program *progs[8];
	char pins[8][PATH_MAX];
	bool created[8] = {};
	const char *path = cgroup ?: XVIP_CGROUP_ROOT;
	uint64_t cg_id = 0;
	int cg_fd = -1, ret;
	size_t i, n = 0;

	if (!dp->sock)
		return -ENOTSUP;
	ret = open_cgroup2(path, &cg_fd, &cg_id);
	if (ret == -ENOTSUP && !cgroup) {
		path = XVIP_CGROUP_HYBRID;
		ret = open_cgroup2(path, &cg_fd, &cg_id);
	}
	if (ret) {
		log_warn("cgroup %s: %s; mount cgroup2 there or pass --cgroup PATH",
			 path, ret == -ENOTSUP ? "not a cgroup v2 mount" : strerror(-ret));
		return ret;
	}
	/*
	 * The hooks that show the VIP go first, the ones that send to an
	 * endpoint last: no socket is ever sent to an endpoint it would then
	 * see as its peer instead of the VIP.
	 */
	progs[n++] = dp->sock->progs.xvip_sock_recvmsg4;
	progs[n++] = dp->sock->progs.xvip_sock_recvmsg6;
	progs[n++] = dp->sock->progs.xvip_sock_getpeername4;
	progs[n++] = dp->sock->progs.xvip_sock_getpeername6;
	progs[n++] = dp->sock->progs.xvip_sock_connect4;
	progs[n++] = dp->sock->progs.xvip_sock_connect6;
	progs[n++] = dp->sock->progs.xvip_sock_sendmsg4;
	progs[n++] = dp->sock->progs.xvip_sock_sendmsg6;
	for (i = 0; i < n; i++) {
		/* xvip_sock_connect4 -> xvip_link_sock_connect4 */
		snprintf(pins[i], sizeof(pins[i]), "%s/%s%s", dp->pin_dir, XVIP_LINK_PREFIX,
			 bpf_program__name(progs[i]) + strlen("xvip_"));
		ret = attach_sock_prog(progs[i], cg_fd, cg_id, pins[i], &created[i]);
		if (ret)
			break;
	}
	if (ret) {
		/* Undo what this call attached; replaced links keep working. */
		while (i-- > 0)
			if (created[i])
				unpin_link(pins[i]);
	} else {
		log_info("node-to-VIP socket hooks attached to cgroup %s", path);
	}
	close(cg_fd);
	return ret;
}

static int remove_pins(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "xvip_", 5))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path))
			log_warn("remove pin %s: %s", path, strerror(errno));
		else
			n++;
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT && errno != ENOTEMPTY)
		log_warn("remove pin dir %s: %s", dir, strerror(errno));
	return n;
}

/*
 * The socket hooks are found by their pins, not by looking at the cgroup:
 * other xvipd instances (other namespaces) have the same programs there.
 */
static int detach_sock_links(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0, ret;

	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, XVIP_LINK_PREFIX, strlen(XVIP_LINK_PREFIX)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ret = unpin_link(path);
		if (ret)
			log_warn("detach %s: %s (%d)", path, strerror(-ret), ret);
		else
			n++;
	}
	closedir(d);
	return n;
}

int xvip_dp_open_lo6(const char *pin_dir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, XVIP_MAP_LO6);
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

int xvip_dp_cleanup(const char *pin_dir)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int detached = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		int ifindex = (int)i->if_index;
		char name[64];
		uint32_t id;

		if (!xvip_dp_xdp_prog_name(ifindex, name, sizeof(name), &id) &&
		    !strcmp(name, XVIP_XDP_PROG_NAME)) {
			struct xdp_program *p = xdp_program__from_id(id);

			if (!libxdp_get_error(p) &&
			    !xdp_program__detach(p, ifindex, XDP_MODE_UNSPEC, 0))
				detached++;
			else if (!bpf_xdp_detach(ifindex, 0, NULL))
				detached++;
			else
				log_warn("detach xdp from %s: %s", i->if_name, strerror(errno));
			if (!libxdp_get_error(p))
				xdp_program__close(p);
		}
		if (xvip_dp_tc_attached(ifindex)) {
			LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = BPF_TC_INGRESS);
			LIBBPF_OPTS(bpf_tc_opts, to, .handle = XVIP_TC_HANDLE,
				    .priority = XVIP_TC_PRIO);

			if (!bpf_tc_detach(&hook, &to))
				detached++;
		}
	}
	if_freenameindex(ifs);
	detached += detach_sock_links(pin_dir);
	remove_pins(pin_dir);
	return detached;
}
