// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json.h>

#include "addr.h"
#include "frr.h"
#include "kube.h"
#include "rcsnap.h"
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

/*
 * The state file's text grows here. At 10k VIPs the per-VIP list is most
 * of its 1 MB: formatted straight into one buffer rather than built as
 * json-c objects and serialized (a tree of 60k objects took 10-20 ms).
 */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool sb_room(struct sbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (b->oom)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3))) sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!sb_room(b, 128))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {	/* rare: longer than the room left */
		if (!sb_room(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* A JSON string: withdraw reasons can name paths, so escape what JSON needs. */
static void sb_str(struct sbuf *b, const char *s)
{
	char u[8];

	if (!s) {
		sb_add(b, "null", 4);
		return;
	}
	sb_add(b, "\"", 1);
	for (;;) {
		size_t run = 0;

		while (s[run] && s[run] != '"' && s[run] != '\\' && (unsigned char)s[run] >= 0x20)
			run++;
		sb_add(b, s, run);
		s += run;
		if (!*s)
			break;
		if (*s == '"' || *s == '\\')
			snprintf(u, sizeof(u), "\\%c", *s);
		else
			snprintf(u, sizeof(u), "\\u%04x", (unsigned char)*s);
		sb_add(b, u, strlen(u));
		s++;
	}
	sb_add(b, "\"", 1);
}

/* Each VIP on one line: advertised or not, why, and what is pending (hold-down, drain). */
static void vip_states(struct sbuf *b, const struct xvip_status *st)
{
	const struct xvip_rc_snapshot *rc = st->snap;
	uint64_t now = rc->now_ns;
	char a[XVIP_ADDRSTRLEN];

	sb_printf(b, "  \"vip_states\":[");
	for (size_t i = 0; i < rc->nvips; i++) {
		const struct xvip_snap_vip *v = &rc->vips[i];
		uint64_t drain_end = v->drain_end_ns;

		sb_printf(b, "%s\n    {\"vip\":\"%s\",\"advertised\":%s,\"why\":",
			  i ? "," : "", xvip_addr_str(&v->addr, a, sizeof(a)),
			  v->advertised ? "true" : "false");
		sb_str(b, xvip_vip_why_str(v->why));
		if (v->why == XVIP_VIP_WITHDRAWN) {
			sb_printf(b, ",\"withdraw_reason\":");
			sb_str(b, rc->withdraw_reason);
		}
		if (v->why == XVIP_VIP_HOLD_DOWN) {
			uint64_t end = v->hold_down_end_ns;

			sb_printf(b, ",\"hold_down_left_s\":%.3f",
				  end > now ? (double)(end - now) / 1e9 : 0.0);
		}
		sb_printf(b, ",\"ports\":%u,\"draining_ports\":%u", v->ports, v->draining_ports);
		if (drain_end)
			sb_printf(b, ",\"drain_left_s\":%.3f",
				  drain_end > now ? (double)(drain_end - now) / 1e9 : 0.0);
		if (st->frr) {
			sb_printf(b, ",\"frr\":");
			sb_str(b, xvip_frr_vip_str(xvip_frr_vip_state(st->frr, &v->addr)));
		}
		sb_add(b, "}", 1);
	}
	sb_printf(b, "%s]", rc->nvips ? "\n  " : "");
}

/* Everything but the per-VIP list, which xvip_status_format appends. */
static struct json_object *status_json(const struct xvip_status *st)
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

int xvip_status_format(const struct xvip_status *st, char **out, size_t *len)
{
	struct json_object *o = status_json(st);
	struct sbuf b = {};
	const char *s;
	size_t n;

	*out = NULL;
	*len = 0;
	if (!o)
		return -ENOMEM;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					   JSON_C_TO_STRING_NOSLASHESCAPE);
	n = s ? strlen(s) : 0;
	/* json-c ends a non-empty object with "\n}": the list goes in before it. */
	if (st->snap && n >= 2 && !strcmp(s + n - 2, "\n}")) {
		sb_add(&b, s, n - 2);
		sb_add(&b, ",\n", 2);
		vip_states(&b, st);
		sb_add(&b, "\n}\n", 3);
	} else if (s) {
		sb_add(&b, s, n);
		sb_add(&b, "\n", 1);
	}
	json_object_put(o);
	if (b.oom || !b.len) {
		free(b.p);
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int xvip_status_write(const char *path, const struct xvip_status *st)
{
	char tmp[PATH_MAX], *s = NULL;
	size_t len;
	int fd, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	ret = xvip_status_format(st, &s, &len);
	if (ret)
		return ret;
	ret = mkdir_parent(path);
	if (ret)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, s, len);
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
out:
	free(s);
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
