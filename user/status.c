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

#include "kube.h"
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
