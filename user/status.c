// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json.h>

#include "frr.h"
#include "kube.h"
#include "reconcile.h"
#include "status.h"

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static struct json_object *per_res(const uint64_t *v)
{
	struct json_object *o = json_object_new_object();

	for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
		add_u64(o, xvip_kube_res_name((enum xvip_kube_res)i), v[i]);
	return o;
}

/* Each VIP: advertised or not, why, and what is pending (hold-down, drain). */
static struct json_object *vip_states(const struct xvip_status *st)
{
	const struct xvip_reconciler *rc = st->rc;
	struct json_object *arr = json_object_new_array();
	uint64_t now = xvip_rc_now(rc);
	char a[XVIP_ADDRSTRLEN];
	size_t k = 0;

	for (size_t i = 0; i < rc->nvips; i++) {
		const struct xvip_rc_vip *v = &rc->vips[i];
		struct json_object *o = json_object_new_object();
		uint64_t drain_end = 0;
		unsigned int ports = 0, draining = 0;

		while (k < rc->nsvcs && xvip_addr_cmp(&rc->svcs[k].key.vip, &v->addr) < 0)
			k++;
		for (size_t j = k; j < rc->nsvcs && !xvip_addr_cmp(&rc->svcs[j].key.vip, &v->addr);
		     j++) {
			ports++;
			if (rc->svcs[j].drain_until_ns) {
				draining++;
				if (rc->svcs[j].drain_until_ns > drain_end)
					drain_end = rc->svcs[j].drain_until_ns;
			}
		}
		add_str(o, "vip", xvip_addr_str(&v->addr, a, sizeof(a)));
		json_object_object_add(o, "advertised", json_object_new_boolean(v->on_lo));
		add_str(o, "why", xvip_vip_why_str(v->why));
		if (v->why == XVIP_VIP_WITHDRAWN)
			add_str(o, "withdraw_reason", rc->withdraw_reason);
		if (v->why == XVIP_VIP_HOLD_DOWN) {
			uint64_t end = v->eligible_since_ns + rc->hold_down_ns;

			json_object_object_add(o, "hold_down_left_s", json_object_new_double(
				end > now ? (double)(end - now) / 1e9 : 0));
		}
		json_object_object_add(o, "ports", json_object_new_int(ports));
		json_object_object_add(o, "draining_ports", json_object_new_int(draining));
		if (drain_end)
			json_object_object_add(o, "drain_left_s", json_object_new_double(
				drain_end > now ? (double)(drain_end - now) / 1e9 : 0));
		if (st->frr)
			add_str(o, "frr", xvip_frr_vip_str(xvip_frr_vip_state(st->frr, &v->addr)));
		json_object_array_add(arr, o);
	}
	return arr;
}

struct json_object *xvip_status_json(const struct xvip_status *st)
{
	struct json_object *o = json_object_new_object(), *api, *errs;

	if (!o)
		return NULL;
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	json_object_object_add(o, "updated", json_object_new_int64((int64_t)time(NULL)));
	add_str(o, "source", st->source);
	add_str(o, "origin", st->origin);
	add_str(o, "node", st->node);
	json_object_object_add(o, "synced", json_object_new_boolean(st->synced));
	add_str(o, "withdraw_reason", st->withdraw_reason);
	add_u64(o, "applies", st->applies);
	json_object_object_add(o, "last_apply", json_object_new_int64((int64_t)st->last_apply));
	json_object_object_add(o, "last_apply_result",
			       json_object_new_int64(st->last_apply_result));
	add_u64(o, "service_ports", st->service_ports);
	add_u64(o, "vips", st->vips);
	add_u64(o, "vips_on_lo", st->vips_on_lo);
	if (st->frr_mode) {
		struct json_object *dp = json_object_new_object();

		add_str(o, "frr_mode", st->frr_mode);
		json_object_object_add(dp, "ok", json_object_new_boolean(!st->dataplane_problem));
		add_str(dp, "problem", st->dataplane_problem);
		json_object_object_add(o, "dataplane", dp);
		add_u64(o, "drain_seconds", st->drain_s);
		add_u64(o, "hold_down_seconds", st->hold_down_s);
		if (st->frr) {
			add_u64(o, "frr_asn", xvip_frr_asn(st->frr));
			add_u64(o, "frr_statements_readded", xvip_frr_reapplied(st->frr));
		}
	}
	if (st->rc)
		json_object_object_add(o, "vip_states", vip_states(st));
	if (st->frr_sessions)
		json_object_object_add(o, "frr_sessions", json_object_get(st->frr_sessions));
	if (st->kube) {
		api = json_object_new_object();
		errs = json_object_new_object();
		for (int i = 1; i < XVIP_KUBE_CAUSE_MAX; i++)
			add_u64(errs, xvip_kube_cause_name((enum xvip_kube_cause)i),
				st->kube->errors[i]);
		json_object_object_add(api, "errors", errs);
		json_object_object_add(api, "lists", per_res(st->kube->lists));
		json_object_object_add(api, "events", per_res(st->kube->events));
		json_object_object_add(api, "bookmarks", per_res(st->kube->bookmarks));
		json_object_object_add(api, "objects", per_res(st->kube->objects));
		json_object_object_add(o, "api", api);
	}
	return o;
}

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *s;

	snprintf(dir, sizeof(dir), "%s", path);
	s = strrchr(dir, '/');
	if (!s || s == dir)
		return 0;
	*s = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int xvip_status_write(const char *path, const struct xvip_status *st)
{
	struct json_object *o = xvip_status_json(st);
	char tmp[PATH_MAX];
	const char *s;
	size_t len;
	int fd, ret = 0;

	if (!o)
		return -ENOMEM;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		ret = -ENAMETOOLONG;
		goto out;
	}
	ret = mkdir_parent(path);
	if (ret)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (write(fd, s, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		ret = errno ? -errno : -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
out:
	json_object_put(o);
	return ret;
}

int xvip_status_read(const char *path, struct json_object **out)
{
	struct json_object *o;

	*out = NULL;
	if (access(path, R_OK))
		return -errno;
	o = json_object_from_file(path);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EINVAL;
	}
	*out = o;
	return 0;
}
