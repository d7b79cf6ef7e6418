// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The services file: a Kubernetes List (what `kubectl get
 * services,endpointslices -A -o json` prints) read whole, parsed strictly,
 * and split into the Services and EndpointSlices the translation takes.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model_int.h"
#include "util.h"

/* A cluster with 10k Services and 100k endpoints prints well under this. */
#define MODEL_FILE_MAX		(256u << 20)
/*
 * kubectl output nests about 8 deep (List, items, metadata, annotations...);
 * json-c's default of 32 would do, the margin is for managedFields.
 */
#define MODEL_JSON_DEPTH	64

#define SLICE_API_VERSION	"discovery.k8s.io/v1"

static struct json_object *parse_json(const char *buf, size_t len, char *err, size_t errlen)
{
	enum json_tokener_error jerr;
	struct json_tokener *tok;
	struct json_object *root;
	size_t end;

	if (len > INT_MAX) {
		xvip_set_err(err, errlen, "JSON document of %zu bytes is too large", len);
		return NULL;
	}
	tok = json_tokener_new_ex(MODEL_JSON_DEPTH);
	if (!tok) {
		xvip_set_err(err, errlen, "out of memory");
		return NULL;
	}
	/* kubectl writes strict JSON: no comments, single quotes or trailing commas. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	/*
	 * At the end of the buffer json-c cannot tell "12" from "123": a NUL
	 * ends a top-level scalar and makes a truncated document an error.
	 */
	if (jerr == json_tokener_continue) {
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	if (jerr != json_tokener_success) {
		xvip_set_err(err, errlen, "JSON parse error at offset %zu: %s", end,
			     json_tokener_error_desc(jerr));
		goto err;
	}
	/* json-c stops at a NUL byte; whitespace after the value is all there may be. */
	for (; end < len; end++) {
		if (!strchr(" \t\r\n", buf[end]) || !buf[end]) {
			xvip_set_err(err, errlen, "JSON parse error at offset %zu: data after "
				     "the document", end);
			goto err;
		}
	}
	json_tokener_free(tok);
	if (!root)
		xvip_set_err(err, errlen, "top level: expected a List object, got null");
	return root;
err:
	json_object_put(root);
	json_tokener_free(tok);
	return NULL;
}

enum item_kind {
	ITEM_OTHER,
	ITEM_SERVICE,
	ITEM_SLICE,
};

/* Which translation items[i] of the List goes to. */
static int item_kind(struct json_object *it, size_t i, enum item_kind *k, char *err,
		     size_t errlen)
{
	struct json_object *v = NULL;
	const char *kind, *api = NULL;

	*k = ITEM_OTHER;
	if (!json_object_is_type(it, json_type_object)) {
		xvip_set_err(err, errlen, "items[%zu]: expected object, got %s", i, json_kind(it));
		return -EINVAL;
	}
	if (!json_object_object_get_ex(it, "kind", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		xvip_set_err(err, errlen, "items[%zu]: kind: expected string, got %s", i,
			     v ? json_kind(v) : "nothing");
		return -EINVAL;
	}
	kind = json_object_get_string(v);
	if (!strcmp(kind, "Service")) {
		*k = ITEM_SERVICE;
	} else if (!strcmp(kind, "EndpointSlice")) {
		v = NULL;
		if (json_object_object_get_ex(it, "apiVersion", &v) &&
		    json_object_is_type(v, json_type_string))
			api = json_object_get_string(v);
		/* v1beta1 differs (topology, no nodeName) and was removed in Kubernetes 1.25. */
		if (api && !strcmp(api, SLICE_API_VERSION))
			*k = ITEM_SLICE;
		else
			log_warn("items[%zu]: EndpointSlice apiVersion %s is not %s, ignored", i,
				 api ? api : "(none)", SLICE_API_VERSION);
	}
	return 0;
}

/* Splits a List's items into Services and discovery/v1 EndpointSlices. */
static int list_split(struct json_object *root, struct json_object ***svcs, size_t *nsvcs,
		      struct json_object ***slices, size_t *nslices, char *err, size_t errlen)
{
	struct json_object *v = NULL, *items = NULL, *it;
	enum item_kind k;
	size_t n;
	int ret;

	*svcs = *slices = NULL;
	*nsvcs = *nslices = 0;
	if (!json_object_is_type(root, json_type_object)) {
		xvip_set_err(err, errlen, "top level: expected a List object, got %s",
			     json_kind(root));
		return -EINVAL;
	}
	if (!json_object_object_get_ex(root, "kind", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		xvip_set_err(err, errlen, "top level: kind: expected string, got %s",
			     v ? json_kind(v) : "nothing");
		return -EINVAL;
	}
	if (strcmp(json_object_get_string(v), "List")) {
		xvip_set_err(err, errlen, "top level: kind: expected \"List\", got \"%s\"",
			     json_object_get_string(v));
		return -EINVAL;
	}
	if (!json_object_object_get_ex(root, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		xvip_set_err(err, errlen, "top level: items: expected array, got %s",
			     items ? json_kind(items) : "nothing");
		return -EINVAL;
	}
	n = json_object_array_length(items);
	if (!n)
		return 0;
	*svcs = calloc(n, sizeof(**svcs));
	*slices = calloc(n, sizeof(**slices));
	if (!*svcs || !*slices) {
		xvip_set_err(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto err;
	}
	for (size_t i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		ret = item_kind(it, i, &k, err, errlen);
		if (ret)
			goto err;
		if (k == ITEM_SERVICE)
			(*svcs)[(*nsvcs)++] = it;
		else if (k == ITEM_SLICE)
			(*slices)[(*nslices)++] = it;
	}
	return 0;
err:
	free(*svcs);
	free(*slices);
	*svcs = *slices = NULL;
	*nsvcs = *nslices = 0;
	return ret;
}

int xvip_model_from_json_doc(const char *buf, size_t len, const struct xvip_model_opts *o,
			     struct xvip_model *out, struct json_object **doc, char *err,
			     size_t errlen)
{
	struct json_object **svcs = NULL, **slices = NULL;
	size_t nsvcs = 0, nslices = 0;
	struct json_object *root;
	int ret;

	memset(out, 0, sizeof(*out));
	*doc = NULL;
	xvip_set_err(err, errlen, "%s", "");
	root = parse_json(buf, len, err, errlen);
	if (!root)
		return -EINVAL;
	ret = list_split(root, &svcs, &nsvcs, &slices, &nslices, err, errlen);
	if (ret)
		goto out;
	ret = xvip_model_from_objects(svcs, nsvcs, slices, nslices, o, out, err, errlen);
out:
	free(svcs);
	free(slices);
	*doc = root;
	return ret;
}

int xvip_model_from_json(const char *buf, size_t len, const struct xvip_model_opts *o,
			 struct xvip_model *out, char *err, size_t errlen)
{
	struct json_object *doc;
	int ret;

	ret = xvip_model_from_json_doc(buf, len, o, out, &doc, err, errlen);
	json_object_put(doc);
	return ret;
}

/* The whole file into a NUL-terminated buffer, or a message naming what failed. */
static int read_file(const char *path, char **bufp, size_t *lenp, char *err, size_t errlen)
{
	const char *step;
	int ret;

	ret = xvip_read_file(path, MODEL_FILE_MAX, bufp, lenp, &step);
	if (ret == -EFBIG)
		xvip_set_err(err, errlen, "%s: larger than the %u MiB limit", path,
			     MODEL_FILE_MAX >> 20);
	else if (ret == -ENOMEM)
		xvip_set_err(err, errlen, "%s: out of memory", path);
	else if (ret)
		xvip_set_err(err, errlen, "%s: %s: %s", path, step, strerror(-ret));
	return ret;
}

int xvip_model_from_file(const char *path, const struct xvip_model_opts *o,
			 struct xvip_model *out, char *err, size_t errlen)
{
	char msg[MODEL_ERRLEN];
	char *buf = NULL;
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	xvip_set_err(err, errlen, "%s", "");
	ret = read_file(path, &buf, &len, err, errlen);
	if (ret)
		return ret;
	ret = xvip_model_from_json(buf, len, o, out, msg, sizeof(msg));
	if (ret)
		xvip_set_err(err, errlen, "%s: %s", path, msg);
	free(buf);
	return ret;
}
