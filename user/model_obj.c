// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Typed access to the fields of one Kubernetes object: each getter checks the
 * JSON type (absent and null are alike, as the API treats them) and each
 * error names the object and the field's path, in Kubernetes' vocabulary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model_int.h"
#include "util.h"

/* Kubernetes' vocabulary rather than json-c's ("int", "double"). */
const char *json_kind(struct json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "boolean";
	case json_type_double:
		return "number";
	case json_type_int:
		return "integer";
	case json_type_object:
		return "object";
	case json_type_array:
		return "array";
	case json_type_string:
		return "string";
	}
	return "?";
}

static const char *type_name(enum json_type t)
{
	switch (t) {
	case json_type_int:
		return "integer";
	case json_type_double:
		return "number";
	default:
		return json_type_to_name(t);
	}
}

/* "<kind> <ns>/<name>: <path>: <message>"; returns -EINVAL. */
int obj_err(const struct obj *ob, const char *path, const char *key, const char *fmt, ...)
{
	char msg[MODEL_ERRLEN];
	char who[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ob->name && ob->ns)
		snprintf(who, sizeof(who), "%s %s/%s", ob->kind, ob->ns, ob->name);
	else if (ob->name)
		snprintf(who, sizeof(who), "%s %s", ob->kind, ob->name);
	else
		snprintf(who, sizeof(who), "%s %s", ob->kind, ob->label);
	if (!*path && !key)
		xvip_set_err(ob->err, ob->errlen, "%s: %s", who, msg);
	else
		xvip_set_err(ob->err, ob->errlen, "%s: %s%s%s: %s", who, path,
			     *path && key ? "." : "", key ? key : "", msg);
	return -EINVAL;
}

/*
 * parent[key] into *v, NULL when absent or null (Kubernetes omits and nulls
 * optional fields alike). path is where parent sits, for the message.
 */
int get_member(const struct obj *ob, struct json_object *parent, const char *path,
	       const char *key, enum json_type type, bool required, struct json_object **v)
{
	struct json_object *m = NULL;

	*v = NULL;
	if (!json_object_object_get_ex(parent, key, &m) || !m) {
		if (required)
			return obj_err(ob, path, key, "missing");
		return 0;
	}
	if (!json_object_is_type(m, type))
		return obj_err(ob, path, key, "expected %s, got %s", type_name(type), json_kind(m));
	*v = m;
	return 0;
}

/* arr[i], which must be of the given type; path is the array's. */
int get_elem(const struct obj *ob, struct json_object *arr, size_t i, const char *path,
	     enum json_type type, struct json_object **v)
{
	struct json_object *e = json_object_array_get_idx(arr, i);
	char epath[128];

	*v = NULL;
	if (!json_object_is_type(e, type)) {
		snprintf(epath, sizeof(epath), "%s[%zu]", path, i);
		return obj_err(ob, epath, NULL, "expected %s, got %s", type_name(type),
			       json_kind(e));
	}
	*v = e;
	return 0;
}

int get_str(const struct obj *ob, struct json_object *parent, const char *path,
	    const char *key, bool required, const char **s)
{
	struct json_object *v;
	int ret;

	*s = NULL;
	ret = get_member(ob, parent, path, key, json_type_string, required, &v);
	if (!ret && v)
		*s = json_object_get_string(v);
	return ret;
}

int get_bool(const struct obj *ob, struct json_object *parent, const char *path,
	     const char *key, int *b)
{
	struct json_object *v;
	int ret;

	*b = -1;
	ret = get_member(ob, parent, path, key, json_type_boolean, false, &v);
	if (!ret && v)
		*b = json_object_get_boolean(v);
	return ret;
}

/* A port 1..65535 into *port, or -1 when absent or null and not required. */
int get_port(const struct obj *ob, struct json_object *parent, const char *path,
	     const char *key, bool required, int *port)
{
	struct json_object *v;
	int64_t p;
	int ret;

	*port = -1;
	ret = get_member(ob, parent, path, key, json_type_int, required, &v);
	if (ret || !v)
		return ret;
	/* json-c saturates larger values to INT64_MAX, which still fails the range check. */
	p = json_object_get_int64(v);
	if (p < 1 || p > 65535)
		return obj_err(ob, path, key, "%" PRId64 " out of range 1..65535", p);
	*port = (int)p;
	return 0;
}

/* protocol, "TCP" when absent as in the API defaults. */
int get_proto(const struct obj *ob, struct json_object *parent, const char *path,
	      uint8_t *proto)
{
	const char *s;
	int ret;

	ret = get_str(ob, parent, path, "protocol", false, &s);
	if (ret)
		return ret;
	if (!s)
		s = "TCP";
	if (xvip_proto_parse(s, proto))
		return obj_err(ob, path, "protocol", "unsupported protocol \"%s\"", s);
	return 0;
}

/* A string holding an IP address; path names v itself. */
int get_addr(const struct obj *ob, struct json_object *v, const char *path,
	     struct xvip_addr *a, const char **s)
{
	*s = NULL;
	if (!json_object_is_type(v, json_type_string))
		return obj_err(ob, path, NULL, "expected string, got %s", json_kind(v));
	*s = json_object_get_string(v);
	if (xvip_addr_parse(*s, a))
		return obj_err(ob, path, NULL, "invalid IP address \"%s\"", *s);
	return 0;
}

/* Fills ob from metadata; label names the object if metadata is unusable. */
int obj_init(struct obj *ob, const char *kind, const char *label, struct json_object *j,
	     char *err, size_t errlen)
{
	struct json_object *meta;
	int ret;

	memset(ob, 0, sizeof(*ob));
	ob->kind = kind;
	ob->label = label;
	ob->err = err;
	ob->errlen = errlen;
	if (!json_object_is_type(j, json_type_object))
		return obj_err(ob, "", NULL, "expected object, got %s", json_kind(j));
	ret = get_member(ob, j, "", "metadata", json_type_object, true, &meta);
	if (ret)
		return ret;
	ret = get_str(ob, meta, "metadata", "name", true, &ob->name);
	if (ret)
		return ret;
	return get_str(ob, meta, "metadata", "namespace", true, &ob->ns);
}
