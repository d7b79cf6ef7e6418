// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * List and watch, the way client-go's reflector does it, over libcurl's multi
 * interface: one list (paginated with limit/continue) fills the cache and
 * yields a resourceVersion, one watch from there streams events (one JSON
 * object per line, parsed incrementally with json_tokener as bytes arrive).
 * A watch that ends is resumed from the last resourceVersion seen (events
 * and BOOKMARKs advance it); 410 Gone means that version is too old, and the
 * resource is listed again into a fresh map that replaces the cache only once
 * complete, so the daemon applies the difference and programmed state is
 * never flushed. Errors back off exponentially with jitter; each cause is
 * logged once per resource until that resource makes progress again.
 *
 * Everything runs on the daemon's thread: curl's sockets and two timerfds
 * (curl's timeout, and our retry/debounce deadline) sit in one epoll set
 * whose fd the daemon polls.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <curl/curl.h>
#include <json.h>

#include "kube.h"
#include "log.h"

#define KUBE_JSON_DEPTH		64
#define KUBE_ERRBODY_MAX	4096
#define KUBE_BACKOFF_MIN_MS	500
#define KUBE_BACKOFF_MAX_MS	30000
#define KUBE_CONNECT_TIMEOUT_S	10
/* Like client-go: the server ends a watch after 5 to 10 minutes, spread so they do not align. */
#define KUBE_WATCH_MIN_S	300

#define LABEL_EXCLUDE_LB	"node.kubernetes.io/exclude-from-external-load-balancers"
#define TAINT_CA_DELETE		"ToBeDeletedByClusterAutoscaler"
#define TAINT_UNSCHEDULABLE	"node.kubernetes.io/unschedulable"

enum kw_state { KW_IDLE, KW_LISTING, KW_WATCHING };

struct kw {
	struct xvip_kube *k;
	enum xvip_kube_res res;
	const char *name;		/* "services", for messages */
	const char *path;		/* "/api/v1/services" */
	struct json_object *cache;	/* key -> object; key "ns/name", or "name" for Nodes */
	struct json_object *pending;	/* the list in progress, replaces cache when complete */
	char *rv;			/* resume the watch here; NULL: list first */
	char *cont;			/* continue token of the list in progress */
	bool listed;			/* one complete list at least */
	enum kw_state state;

	CURL *easy;
	struct curl_slist *hdrs;
	struct json_tokener *tok;
	struct json_object *doc;	/* a list response, complete */
	char *body;			/* a non-200 response (a Status), capped */
	size_t bodylen;
	char curlerr[CURL_ERROR_SIZE];
	enum xvip_kube_cause abort_cause;	/* set where we stopped a transfer ourselves */
	char abort_msg[256];
	bool progressed;		/* this connection delivered an event or a page */
	bool partial;			/* the tokener holds the start of an object */

	uint64_t retry_at;		/* ms, CLOCK_MONOTONIC; when state == KW_IDLE */
	unsigned int fails;		/* consecutive, for the backoff */
	unsigned int gones;		/* 410s with no watch event in between */
	enum xvip_kube_cause logged;	/* cause logged last; OK once progress resumed */
	unsigned int since_logged;	/* failures not logged since */
};

struct xvip_kube {
	struct xvip_kube_opts o;
	struct xvip_model_opts mo;	/* o.model, quiet */
	CURLM *multi;
	int epfd, curl_tfd, tick_tfd;
	struct kw w[XVIP_KUBE_RES_MAX];
	bool dirty;
	/*
	 * The cached Services and EndpointSlices, translated as they change; a
	 * relist (or running out of memory there) asks for a whole apply.
	 */
	struct xvip_model_index *ix;
	bool relisted, ix_broken;
	uint64_t debounce_at;		/* 0: not armed */
	uint64_t dirty_since_ms;	/* the first change not applied yet */
	uint64_t last_event_ms;		/* the last change */
	uint64_t last_cost_ms;		/* the last changed() call, translation and apply */
	uint64_t last_end_ms;		/* when it returned */
	const char *node_reason;
	struct xvip_kube_stats st;
	char *node_selector;		/* fieldSelector=metadata.name%3D<node>, escaped */
	char ua[64];
};

static const struct {
	const char *name;
	const char *path;
} res_info[XVIP_KUBE_RES_MAX] = {
	[XVIP_KUBE_SERVICES] = { "services", "/api/v1/services" },
	[XVIP_KUBE_SLICES] = { "endpointslices", "/apis/discovery.k8s.io/v1/endpointslices" },
	[XVIP_KUBE_NODE] = { "nodes", "/api/v1/nodes" },
};

static const char *const cause_names[XVIP_KUBE_CAUSE_MAX] = {
	[XVIP_KUBE_OK] = "ok",
	[XVIP_KUBE_CONNECT] = "connect",
	[XVIP_KUBE_TLS] = "tls",
	[XVIP_KUBE_UNAUTHORIZED] = "unauthorized",
	[XVIP_KUBE_FORBIDDEN] = "forbidden",
	[XVIP_KUBE_THROTTLED] = "throttled",
	[XVIP_KUBE_SERVER] = "server_error",
	[XVIP_KUBE_HTTP] = "http_status",
	[XVIP_KUBE_GONE] = "gone",
	[XVIP_KUBE_STALLED] = "stalled",
	[XVIP_KUBE_CUT] = "cut",
	[XVIP_KUBE_BAD_RESPONSE] = "bad_response",
	[XVIP_KUBE_WATCH_ERROR] = "watch_error",
};

const char *xvip_kube_cause_name(enum xvip_kube_cause c)
{
	return c < XVIP_KUBE_CAUSE_MAX ? cause_names[c] : "?";
}

const char *xvip_kube_res_name(enum xvip_kube_res r)
{
	return r < XVIP_KUBE_RES_MAX ? res_info[r].name : "?";
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t rand32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)rand();
	return r;
}

static void arm_timerfd(int fd, uint64_t at_ms)
{
	struct itimerspec its = {};

	if (at_ms) {
		its.it_value.tv_sec = (time_t)(at_ms / 1000);
		its.it_value.tv_nsec = (long)(at_ms % 1000) * 1000000;
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- the Node */

static bool has_taint(struct json_object *spec, const char *key)
{
	struct json_object *taints, *t, *k;
	size_t n;

	if (!json_object_object_get_ex(spec, "taints", &taints) ||
	    !json_object_is_type(taints, json_type_array))
		return false;
	n = json_object_array_length(taints);
	for (size_t i = 0; i < n; i++) {
		t = json_object_array_get_idx(taints, i);
		if (json_object_object_get_ex(t, "key", &k) &&
		    json_object_is_type(k, json_type_string) &&
		    !strcmp(json_object_get_string(k), key))
			return true;
	}
	return false;
}

const char *xvip_kube_node_reason(struct json_object *node, bool drain)
{
	struct json_object *meta, *labels, *spec, *v;

	if (!node)
		return NULL;
	/* The label excludes the node whatever its value, as the service controller reads it. */
	if (json_object_object_get_ex(node, "metadata", &meta) &&
	    json_object_object_get_ex(meta, "labels", &labels) &&
	    json_object_is_type(labels, json_type_object) &&
	    json_object_object_get_ex(labels, LABEL_EXCLUDE_LB, NULL))
		return "node is labelled " LABEL_EXCLUDE_LB;
	if (!drain || !json_object_object_get_ex(node, "spec", &spec) ||
	    !json_object_is_type(spec, json_type_object))
		return NULL;
	if (has_taint(spec, TAINT_CA_DELETE))
		return "node is tainted " TAINT_CA_DELETE " (cluster autoscaler scale-down)";
	if (json_object_object_get_ex(spec, "unschedulable", &v) &&
	    json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v))
		return "node is cordoned (spec.unschedulable, a drain)";
	if (has_taint(spec, TAINT_UNSCHEDULABLE))
		return "node is tainted " TAINT_UNSCHEDULABLE " (cordoned, a drain)";
	return NULL;
}

static void node_update(struct xvip_kube *k)
{
	struct json_object *node = NULL;
	const char *r;

	json_object_object_get_ex(k->w[XVIP_KUBE_NODE].cache, k->o.node_name, &node);
	r = xvip_kube_node_reason(node, k->o.withdraw_on_drain);
	if (r == k->node_reason)
		return;
	if (r)
		log_warn("Node %s: %s: withdrawing every VIP from lo, maps keep serving",
			 k->o.node_name, r);
	else
		log_info("Node %s: %s cleared: VIPs may be advertised again", k->o.node_name,
			 k->node_reason);
	k->node_reason = r;
	k->last_event_ms = now_ms();
	if (!k->dirty)
		k->dirty_since_ms = k->last_event_ms;
	k->dirty = true;
}

/* ---- the cache */

static const char *obj_str(struct json_object *o, const char *a, const char *b)
{
	struct json_object *x, *y;

	if (!json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y) ||
	    !json_object_is_type(y, json_type_string))
		return NULL;
	return json_object_get_string(y);
}

static int obj_key(const struct kw *w, struct json_object *o, char *key, size_t len)
{
	const char *ns = obj_str(o, "metadata", "namespace");
	const char *name = obj_str(o, "metadata", "name");
	int n;

	if (!name || (w->res != XVIP_KUBE_NODE && !ns))
		return -EINVAL;
	if (w->res == XVIP_KUBE_NODE)
		n = snprintf(key, len, "%s", name);
	else
		n = snprintf(key, len, "%s/%s", ns, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Translation of the object alone: the checks a whole-cache translation would make. */
static bool obj_valid(struct kw *w, struct json_object *o, const char *key)
{
	struct json_object *arr[1] = { o };
	struct xvip_model m;
	char err[512];
	int ret;

	if (w->res == XVIP_KUBE_NODE)
		return true;
	if (w->res == XVIP_KUBE_SERVICES)
		ret = xvip_model_from_objects(arr, 1, NULL, 0, &w->k->mo, &m, err, sizeof(err));
	else
		ret = xvip_model_from_objects(NULL, 0, arr, 1, &w->k->mo, &m, err, sizeof(err));
	xvip_model_free(&m);
	if (ret)
		log_warn("%s; ignored, the version of %s seen before (if any) stays", err, key);
	return !ret;
}

/*
 * What the cache keeps of an object, already checked whole: managedFields and
 * annotations (often most of the bytes), a Node's status (its image list),
 * and EndpointSlice endpoints on other nodes, which never become local. The
 * translation of the rest is the same; a large cluster's cache is a fraction.
 */
static void slim(struct kw *w, struct json_object *o)
{
	struct json_object *meta, *eps, *n;

	if (json_object_object_get_ex(o, "metadata", &meta) &&
	    json_object_is_type(meta, json_type_object)) {
		json_object_object_del(meta, "managedFields");
		json_object_object_del(meta, "annotations");
	}
	if (w->res == XVIP_KUBE_NODE)
		json_object_object_del(o, "status");
	if (w->res != XVIP_KUBE_SLICES || !json_object_object_get_ex(o, "endpoints", &eps) ||
	    !json_object_is_type(eps, json_type_array))
		return;
	for (size_t i = json_object_array_length(eps); i-- > 0;) {
		struct json_object *ep = json_object_array_get_idx(eps, i);

		if (!json_object_object_get_ex(ep, "nodeName", &n) ||
		    !json_object_is_type(n, json_type_string) ||
		    strcmp(json_object_get_string(n), w->k->o.node_name))
			json_object_array_del_idx(eps, i, 1);
	}
}

static void mark_changed(struct xvip_kube *k)
{
	k->last_event_ms = now_ms();
	if (!k->dirty)
		k->dirty_since_ms = k->last_event_ms;
	k->dirty = true;
}

/* The cache's key now holds o (NULL: nothing): the index follows. */
static void index_set(struct kw *w, const char *key, struct json_object *o)
{
	struct xvip_kube *k = w->k;
	int ret = 0;

	if (k->ix_broken)
		return;		/* rebuilt from the cache at the next apply */
	if (w->res == XVIP_KUBE_SERVICES)
		ret = xvip_model_index_service(k->ix, key, o);
	else if (w->res == XVIP_KUBE_SLICES)
		ret = xvip_model_index_slice(k->ix, key, o);
	if (ret) {
		log_err("%s %s: translate: %s (%d); translating the whole cache again", w->name,
			key, strerror(-ret), ret);
		k->ix_broken = true;
	}
}

/* ---- requests */

static void transfer_end(struct kw *w)
{
	if (w->easy) {
		curl_multi_remove_handle(w->k->multi, w->easy);
		curl_easy_cleanup(w->easy);
		w->easy = NULL;
	}
	curl_slist_free_all(w->hdrs);
	w->hdrs = NULL;
	json_object_put(w->doc);
	w->doc = NULL;
	free(w->body);
	w->body = NULL;
	w->bodylen = 0;
	json_tokener_reset(w->tok);
	w->partial = false;
	w->abort_cause = XVIP_KUBE_OK;
	w->abort_msg[0] = '\0';
	w->curlerr[0] = '\0';
}

static int stop_transfer(struct kw *w, enum xvip_kube_cause c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* From the write callback: end this transfer with cause c (curl then reports a write error). */
static int stop_transfer(struct kw *w, enum xvip_kube_cause c, const char *fmt, ...)
{
	va_list ap;

	w->abort_cause = c;
	va_start(ap, fmt);
	vsnprintf(w->abort_msg, sizeof(w->abort_msg), fmt, ap);
	va_end(ap);
	return -1;
}

static void progress(struct kw *w)
{
	w->progressed = true;
	w->fails = 0;
	if (w->logged != XVIP_KUBE_OK) {
		log_info("%s: API requests succeed again (%u failure%s after the last one "
			 "logged)", w->name, w->since_logged, w->since_logged == 1 ? "" : "s");
		w->logged = XVIP_KUBE_OK;
		w->since_logged = 0;
	}
}

static int watch_event(struct kw *w, struct json_object *ev)
{
	struct json_object *t, *o, *v;
	const char *type, *rv;
	char key[512];

	if (!json_object_object_get_ex(ev, "type", &t) ||
	    !json_object_is_type(t, json_type_string) ||
	    !json_object_object_get_ex(ev, "object", &o) ||
	    !json_object_is_type(o, json_type_object))
		return stop_transfer(w, XVIP_KUBE_BAD_RESPONSE,
				     "watch event without type or object");
	type = json_object_get_string(t);
	if (!strcmp(type, "ERROR")) {
		int64_t code = 0;
		const char *msg = obj_str(ev, "object", "message");

		if (json_object_object_get_ex(o, "code", &v))
			code = json_object_get_int64(v);
		return stop_transfer(w, code == 410 ? XVIP_KUBE_GONE : XVIP_KUBE_WATCH_ERROR,
				     "watch ERROR event %" PRId64 ": %s", code, msg ? msg : "");
	}
	rv = obj_str(o, "metadata", "resourceVersion");
	if (!rv || !*rv)
		return stop_transfer(w, XVIP_KUBE_BAD_RESPONSE, "%s event without "
				     "metadata.resourceVersion", type);
	if (!strcmp(type, "BOOKMARK")) {
		w->k->st.bookmarks[w->res]++;
	} else {
		bool del = !strcmp(type, "DELETED");

		if (!del && strcmp(type, "ADDED") && strcmp(type, "MODIFIED"))
			return stop_transfer(w, XVIP_KUBE_BAD_RESPONSE, "unknown watch event type "
					     "\"%s\"", type);
		if (obj_key(w, o, key, sizeof(key)))
			return stop_transfer(w, XVIP_KUBE_BAD_RESPONSE, "%s event: object without "
					     "metadata.name/namespace", type);
		log_debug("%s: %s %s (resourceVersion %s)", w->name, type, key, rv);
		if (del) {
			json_object_object_del(w->cache, key);
			index_set(w, key, NULL);
		} else if (obj_valid(w, o, key)) {
			slim(w, o);
			json_object_object_add(w->cache, key, json_object_get(o));
			index_set(w, key, o);
		}
		w->k->st.events[w->res]++;
		if (w->res == XVIP_KUBE_NODE)
			node_update(w->k);
		else
			mark_changed(w->k);
	}
	free(w->rv);
	w->rv = strdup(rv);
	if (!w->rv)
		return stop_transfer(w, XVIP_KUBE_BAD_RESPONSE, "out of memory");
	w->gones = 0;
	progress(w);
	return 0;
}

static size_t on_data(char *p, size_t sz, size_t nm, void *arg)
{
	struct kw *w = arg;
	size_t len = sz * nm, off = 0;
	long code = 0;

	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		size_t room = KUBE_ERRBODY_MAX - w->bodylen;
		char *b;

		if (len < room)
			room = len;
		if (!room)
			return len;
		b = realloc(w->body, w->bodylen + room + 1);
		if (!b)
			return len;
		memcpy(b + w->bodylen, p, room);
		w->bodylen += room;
		b[w->bodylen] = '\0';
		w->body = b;
		return len;
	}
	while (off < len) {
		size_t chunk = len - off > INT32_MAX ? INT32_MAX : len - off;
		struct json_object *o = json_tokener_parse_ex(w->tok, p + off, (int)chunk);
		enum json_tokener_error e = json_tokener_get_error(w->tok);

		if (e == json_tokener_continue) {
			for (size_t i = off; i < len && !w->partial; i++)
				w->partial = !strchr(" \t\r\n", p[i]);
			break;
		}
		if (e != json_tokener_success) {
			stop_transfer(w, XVIP_KUBE_BAD_RESPONSE, "JSON: %s",
				      json_tokener_error_desc(e));
			return 0;
		}
		off += json_tokener_get_parse_end(w->tok);
		json_tokener_reset(w->tok);
		w->partial = false;
		if (!json_object_is_type(o, json_type_object)) {
			json_object_put(o);
			stop_transfer(w, XVIP_KUBE_BAD_RESPONSE, "expected a JSON object");
			return 0;
		}
		if (w->state == KW_LISTING) {
			if (w->doc) {
				json_object_put(o);
				stop_transfer(w, XVIP_KUBE_BAD_RESPONSE, "data after the list");
				return 0;
			}
			w->doc = o;
			continue;
		}
		if (watch_event(w, o)) {
			json_object_put(o);
			return 0;
		}
		json_object_put(o);
	}
	return len;
}

static int add_header(struct kw *w, const char *h)
{
	struct curl_slist *l = curl_slist_append(w->hdrs, h);

	if (!l)
		return -ENOMEM;
	w->hdrs = l;
	return 0;
}

static int set_tls(struct xvip_kube *k, CURL *e)
{
	const struct xvip_kubecfg *c = k->o.cfg;
	struct curl_blob b;
	CURLcode r = CURLE_OK;

	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_pem || c->ca_file) {
		/* The cluster CA only: a system-trusted CA does not vouch for the API server. */
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		if (c->ca_pem) {
			b = (struct curl_blob){ c->ca_pem, c->ca_pem_len, CURL_BLOB_COPY };
			r = curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
		} else {
			r = curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
		}
	}
	if (!r && c->cert_pem) {
		b = (struct curl_blob){ c->cert_pem, c->cert_pem_len, CURL_BLOB_COPY };
		r = curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	} else if (!r && c->cert_file) {
		r = curl_easy_setopt(e, CURLOPT_SSLCERT, c->cert_file);
	}
	if (!r && c->key_pem) {
		b = (struct curl_blob){ c->key_pem, c->key_pem_len, CURL_BLOB_COPY };
		r = curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	} else if (!r && c->key_file) {
		r = curl_easy_setopt(e, CURLOPT_SSLKEY, c->key_file);
	}
	if (r) {
		log_err("libcurl: TLS option: %s", curl_easy_strerror(r));
		return -EINVAL;
	}
	return 0;
}

static void schedule(struct kw *w, uint64_t delay_ms);

/* Starts the next request of w: a list page, or the watch. */
static void start(struct kw *w)
{
	struct xvip_kube *k = w->k;
	char url[8192], err[256], *tok = NULL, *hdr = NULL, *esc = NULL;
	bool list = !w->rv;
	CURLMcode mr;
	CURL *e;
	int ret, n;

	if (list) {
		if (w->cont)
			esc = curl_easy_escape(NULL, w->cont, 0);
		n = snprintf(url, sizeof(url), "%s%s?limit=%u%s%s%s%s", k->o.cfg->server, w->path,
			     k->o.page_size, esc ? "&continue=" : "", esc ? esc : "",
			     w->res == XVIP_KUBE_NODE ? "&" : "",
			     w->res == XVIP_KUBE_NODE ? k->node_selector : "");
	} else {
		esc = curl_easy_escape(NULL, w->rv, 0);
		n = snprintf(url, sizeof(url), "%s%s?watch=1&allowWatchBookmarks=true"
			     "&resourceVersion=%s&timeoutSeconds=%u%s%s", k->o.cfg->server, w->path,
			     esc ? esc : "", KUBE_WATCH_MIN_S + rand32() % KUBE_WATCH_MIN_S,
			     w->res == XVIP_KUBE_NODE ? "&" : "",
			     w->res == XVIP_KUBE_NODE ? k->node_selector : "");
	}
	curl_free(esc);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		log_err("%s: request URL too long", w->name);
		schedule(w, KUBE_BACKOFF_MAX_MS);
		return;
	}
	/* Read per request: a rotated service account token is used from the next one on. */
	ret = xvip_kubecfg_token(k->o.cfg, &tok, err, sizeof(err));
	if (ret) {
		if (w->logged != XVIP_KUBE_UNAUTHORIZED)
			log_err("%s: %s", w->name, err);
		w->logged = XVIP_KUBE_UNAUTHORIZED;
		k->st.errors[XVIP_KUBE_UNAUTHORIZED]++;
		w->fails++;
		schedule(w, KUBE_BACKOFF_MAX_MS / 4);
		return;
	}
	e = curl_easy_init();
	if (!e)
		goto nomem;
	w->easy = e;
	if (add_header(w, "Accept: application/json"))
		goto nomem;
	if (tok) {
		n = asprintf(&hdr, "Authorization: Bearer %s", tok);
		explicit_bzero(tok, strlen(tok));
		free(tok);
		if (n < 0 || add_header(w, hdr)) {
			if (n >= 0)
				explicit_bzero(hdr, strlen(hdr));
			free(hdr);
			goto nomem;
		}
		explicit_bzero(hdr, strlen(hdr));
		free(hdr);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, w->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, k->ua);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)KUBE_CONNECT_TIMEOUT_S);
	/* A response (list or watch) that sends nothing for this long is given up and resumed. */
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)k->o.stall_seconds);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(e, CURLOPT_PRIVATE, w);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, w->curlerr);
	if (set_tls(k, e)) {
		transfer_end(w);
		w->fails++;
		schedule(w, KUBE_BACKOFF_MAX_MS);
		return;
	}
	w->state = list ? KW_LISTING : KW_WATCHING;
	w->progressed = false;
	mr = curl_multi_add_handle(k->multi, e);
	if (mr) {
		log_err("%s: libcurl: %s", w->name, curl_multi_strerror(mr));
		transfer_end(w);
		w->state = KW_IDLE;
		w->fails++;
		schedule(w, KUBE_BACKOFF_MAX_MS);
		return;
	}
	log_debug("%s: %s%s", w->name, list ? "list" : "watch from resourceVersion ",
		  list ? (w->cont ? " (next page)" : "") : w->rv);
	return;
nomem:
	log_err("%s: out of memory starting a request", w->name);
	transfer_end(w);
	w->state = KW_IDLE;
	w->fails++;
	schedule(w, KUBE_BACKOFF_MAX_MS);
}

static void schedule(struct kw *w, uint64_t delay_ms)
{
	w->state = KW_IDLE;
	w->retry_at = now_ms() + delay_ms;
}

/* Exponential from KUBE_BACKOFF_MIN_MS, capped, with "equal jitter": [d/2, d]. */
static uint64_t backoff_ms(unsigned int fails)
{
	uint64_t d = KUBE_BACKOFF_MIN_MS;

	for (unsigned int i = 1; i < fails && d < KUBE_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > KUBE_BACKOFF_MAX_MS)
		d = KUBE_BACKOFF_MAX_MS;
	return d / 2 + rand32() % (d / 2 + 1);
}

/* The message of a Status body, or the body's first line. */
static void status_message(struct kw *w, char *out, size_t len)
{
	struct json_object *o, *m;

	out[0] = '\0';
	if (!w->body)
		return;
	o = json_tokener_parse(w->body);
	if (o && json_object_object_get_ex(o, "message", &m) &&
	    json_object_is_type(m, json_type_string))
		snprintf(out, len, ": %s", json_object_get_string(m));
	else
		snprintf(out, len, ": %.*s", (int)strcspn(w->body, "\r\n"), w->body);
	json_object_put(o);
}

static enum xvip_kube_cause http_cause(long code)
{
	if (code == 401)
		return XVIP_KUBE_UNAUTHORIZED;
	if (code == 403)
		return XVIP_KUBE_FORBIDDEN;
	if (code == 410)
		return XVIP_KUBE_GONE;
	if (code == 429)
		return XVIP_KUBE_THROTTLED;
	if (code >= 500 && code <= 599)
		return XVIP_KUBE_SERVER;
	return XVIP_KUBE_HTTP;
}

static enum xvip_kube_cause curl_cause(struct kw *w, CURLcode r)
{
	curl_off_t pre = 0;

	switch (r) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return XVIP_KUBE_TLS;
	case CURLE_OPERATION_TIMEDOUT:
		/* Before the request went out it is the connection; after, a stall. */
		curl_easy_getinfo(w->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
		return pre > 0 ? XVIP_KUBE_STALLED : XVIP_KUBE_CONNECT;
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return XVIP_KUBE_CUT;
	default:
		return XVIP_KUBE_CONNECT;
	}
}

static void fail(struct kw *w, enum xvip_kube_cause c, long code, const char *msg)
{
	struct xvip_kube *k = w->k;
	const char *what = w->state == KW_LISTING ? "list" : "watch";
	curl_off_t retry_after = 0;
	uint64_t delay;

	k->st.errors[c]++;
	if (w->progressed)
		w->fails = 0;
	w->fails++;
	if (c == XVIP_KUBE_THROTTLED && w->easy)
		curl_easy_getinfo(w->easy, CURLINFO_RETRY_AFTER, &retry_after);

	if (c == XVIP_KUBE_GONE) {
		/* Normal now and then (compaction, a long disconnection): not logged once only. */
		w->gones++;
		xvip_log(w->gones == 1 ? XVIP_LOG_INFO : XVIP_LOG_WARN,
			 "%s: %s: resourceVersion too old (410 Gone)%s; listing again, the "
			 "programmed state stays until the new list is complete%s", w->name, what,
			 msg, w->gones > 1 ? " (again: backing off)" : "");
	} else if (c != w->logged) {
		if (code)
			log_warn("%s: %s: HTTP %ld (%s)%s; retrying with backoff, logged once "
				 "until it recovers", w->name, what, code, xvip_kube_cause_name(c),
				 msg);
		else
			log_warn("%s: %s: %s%s; retrying with backoff, logged once until it "
				 "recovers", w->name, what, xvip_kube_cause_name(c), msg);
		w->logged = c;
		w->since_logged = 0;
	} else {
		w->since_logged++;
		log_debug("%s: %s: %s again%s", w->name, what, xvip_kube_cause_name(c), msg);
	}

	if (c == XVIP_KUBE_GONE) {
		/* A watch too far behind, or a list whose continue token expired: list afresh. */
		free(w->rv);
		w->rv = NULL;
		free(w->cont);
		w->cont = NULL;
		json_object_put(w->pending);
		w->pending = NULL;
	}
	/*
	 * A watch that made progress before it broke resumes at once, like one the
	 * server ended, and the first 410 relists at once; anything else waits, so a
	 * broken server is not hammered (a relist answered by 410 again included).
	 */
	if (c == XVIP_KUBE_GONE)
		delay = w->gones == 1 ? 0 : backoff_ms(w->gones - 1);
	else if (w->fails == 1 && w->progressed)
		delay = 0;
	else
		delay = backoff_ms(w->fails);
	if (retry_after > 0 && (uint64_t)retry_after * 1000 > delay)
		delay = (uint64_t)(retry_after > 600 ? 600 : retry_after) * 1000;
	transfer_end(w);
	schedule(w, delay);
}

/* A complete 200 list page in w->doc: into w->pending; the last page replaces the cache. */
static int list_page(struct kw *w)
{
	struct json_object *items, *it, *old;
	const char *rv, *cont;
	char key[512];
	size_t n;

	if (!json_object_object_get_ex(w->doc, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		fail(w, XVIP_KUBE_BAD_RESPONSE, 0, ": list without items");
		return -EINVAL;
	}
	rv = obj_str(w->doc, "metadata", "resourceVersion");
	cont = obj_str(w->doc, "metadata", "continue");
	if (!rv || !*rv) {
		fail(w, XVIP_KUBE_BAD_RESPONSE, 0, ": list without metadata.resourceVersion");
		return -EINVAL;
	}
	if (!w->pending)
		w->pending = json_object_new_object();
	if (!w->pending) {
		fail(w, XVIP_KUBE_BAD_RESPONSE, 0, ": out of memory");
		return -ENOMEM;
	}
	n = json_object_array_length(items);
	for (size_t i = 0; i < n; i++) {
		it = json_object_array_get_idx(items, i);
		if (!json_object_is_type(it, json_type_object) ||
		    obj_key(w, it, key, sizeof(key))) {
			log_warn("%s: list item %zu without metadata.name/namespace, ignored",
				 w->name, i);
			continue;
		}
		if (obj_valid(w, it, key)) {
			slim(w, it);
			json_object_object_add(w->pending, key, json_object_get(it));
		}
		else if (json_object_object_get_ex(w->cache, key, &old))
			json_object_object_add(w->pending, key, json_object_get(old));
	}
	progress(w);
	free(w->cont);
	w->cont = cont && *cont ? strdup(cont) : NULL;
	if (w->cont)
		return 0;
	/*
	 * Complete: the new map replaces the cache whole, the index follows
	 * (objects carried over unchanged are not translated again) and the
	 * daemon applies the whole view, by difference.
	 */
	json_object_object_foreach(w->cache, ko, vo) {
		if (!json_object_object_get_ex(w->pending, ko, NULL))
			index_set(w, ko, NULL);
		(void)vo;
	}
	json_object_object_foreach(w->pending, kn, vn) {
		if (!json_object_object_get_ex(w->cache, kn, &old) || old != vn)
			index_set(w, kn, vn);
	}
	w->k->relisted = true;
	json_object_put(w->cache);
	w->cache = w->pending;
	w->pending = NULL;
	free(w->rv);
	w->rv = strdup(rv);
	w->k->st.lists[w->res]++;
	log_info("%s: listed %d object%s at resourceVersion %s", w->name,
		 json_object_object_length(w->cache),
		 json_object_object_length(w->cache) == 1 ? "" : "s", rv);
	w->listed = true;
	if (w->res == XVIP_KUBE_NODE && !json_object_object_length(w->cache))
		log_warn("Node %s not found: is the node name right? (--node-name, $NODE_NAME; it "
			 "also picks the local endpoints)", w->k->o.node_name);
	if (w->res == XVIP_KUBE_NODE)
		node_update(w->k);
	mark_changed(w->k);
	return 0;
}

static double total_s(struct kw *w)
{
	double t = 0;

	curl_easy_getinfo(w->easy, CURLINFO_TOTAL_TIME, &t);
	return t;
}

static void done(struct kw *w, CURLcode r)
{
	char msg[600];
	long code = 0;

	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &code);
	if (w->abort_cause) {
		snprintf(msg, sizeof(msg), ": %s", w->abort_msg);
		fail(w, w->abort_cause, 0, msg);
		return;
	}
	if (r != CURLE_OK) {
		snprintf(msg, sizeof(msg), ": %s",
			 w->curlerr[0] ? w->curlerr : curl_easy_strerror(r));
		fail(w, curl_cause(w, r), 0, msg);
		return;
	}
	if (code != 200) {
		status_message(w, msg, sizeof(msg));
		fail(w, http_cause(code), code, msg);
		return;
	}
	if (w->state == KW_LISTING) {
		if (!w->doc) {
			fail(w, XVIP_KUBE_CUT, 0, ": list response ended before its end");
			return;
		}
		if (list_page(w))
			return;
	} else if (w->partial) {
		fail(w, XVIP_KUBE_CUT, 0, ": watch response ended in the middle of an event");
		return;
	} else if (!w->progressed && total_s(w) < 1.0) {
		/* Not a server's timeoutSeconds: something ends every watch at once. */
		fail(w, XVIP_KUBE_CUT, 0, ": watch ended at once without an event");
		return;
	}
	/* A watch the server ended (timeoutSeconds) or a list page: carry on now. */
	transfer_end(w);
	w->fails = 0;
	start(w);
}

/* ---- curl <-> epoll */

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct xvip_kube *k = userp;
	struct epoll_event ev = { .data.fd = s };

	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(k->epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	if (epoll_ctl(k->epfd, EPOLL_CTL_MOD, s, &ev) && errno == ENOENT)
		epoll_ctl(k->epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct xvip_kube *k = userp;

	/* Never call into curl from here: the timerfd fires and dispatch does it. */
	if (timeout_ms < 0)
		arm_timerfd(k->curl_tfd, 0);
	else
		arm_timerfd(k->curl_tfd, now_ms() + (uint64_t)timeout_ms);
	return 0;
}

static void check_done(struct xvip_kube *k)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(k->multi, &left))) {
		struct kw *w = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&w);
		if (w)
			done(w, msg->data.result);
	}
}

static bool all_listed(const struct xvip_kube *k)
{
	for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
		if (!k->w[i].listed)
			return false;
	return true;
}

static void rearm_tick(struct xvip_kube *k)
{
	uint64_t at = k->debounce_at;

	for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
		if (k->w[i].state == KW_IDLE && (!at || k->w[i].retry_at < at))
			at = k->w[i].retry_at;
	arm_timerfd(k->tick_tfd, at);
}

static void tick(struct xvip_kube *k)
{
	uint64_t now = now_ms();

	for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
		if (k->w[i].state == KW_IDLE && k->w[i].retry_at <= now)
			start(&k->w[i]);
	/*
	 * Nothing is applied until every resource is listed: half a view would
	 * flush the rest. Then the apply waits for the watches to be quiet for
	 * quiet_ms, so a burst of events gives one apply, but never more than
	 * debounce_ms after the first event; and applies start at least twice
	 * their own cost apart, so a large cluster under constant churn spends at
	 * most a third of a core here. Applying one change costs about a
	 * millisecond, so the quiet time is what a lone change waits.
	 */
	if (k->dirty && all_listed(k)) {
		uint64_t gap = 2 * (k->last_cost_ms > 1000 ? 1000 : k->last_cost_ms);
		uint64_t at = k->last_event_ms + k->o.quiet_ms;

		if (at > k->dirty_since_ms + k->o.debounce_ms)
			at = k->dirty_since_ms + k->o.debounce_ms;
		if (k->last_end_ms + gap > at)
			at = k->last_end_ms + gap;
		k->debounce_at = at;
	}
	if (k->debounce_at && k->debounce_at <= now) {
		bool whole = k->relisted || !k->last_end_ms;

		k->debounce_at = 0;
		k->dirty = false;
		for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
			k->st.objects[i] = (uint64_t)json_object_object_length(k->w[i].cache);
		k->o.changed(k->o.ctx);
		k->last_end_ms = now_ms();
		/*
		 * The whole view after a (re)list costs seconds in a large cluster;
		 * the changes after it cost milliseconds and are not held back for
		 * it (relists are paced by their own backoff).
		 */
		k->last_cost_ms = whole ? 0 : k->last_end_ms - now;
	}
}

void xvip_kube_dispatch(struct xvip_kube *k)
{
	struct epoll_event evs[32];
	int n, running;
	uint64_t x;

	n = epoll_wait(k->epfd, evs, 32, 0);
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;

		if (fd == k->curl_tfd) {
			if (read(fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
				log_debug("curl timer: %s", strerror(errno));
			curl_multi_socket_action(k->multi, CURL_SOCKET_TIMEOUT, 0, &running);
		} else if (fd == k->tick_tfd) {
			if (read(fd, &x, sizeof(x)) < 0 && errno != EAGAIN)
				log_debug("tick timer: %s", strerror(errno));
		} else {
			int flags = 0;

			if (evs[i].events & EPOLLIN)
				flags |= CURL_CSELECT_IN;
			if (evs[i].events & EPOLLOUT)
				flags |= CURL_CSELECT_OUT;
			if (evs[i].events & (EPOLLERR | EPOLLHUP))
				flags |= CURL_CSELECT_ERR;
			curl_multi_socket_action(k->multi, fd, flags, &running);
		}
		check_done(k);
	}
	tick(k);
	check_done(k);
	rearm_tick(k);
}

/* ---- module */

int xvip_kube_fd(const struct xvip_kube *k)
{
	return k->epfd;
}

bool xvip_kube_synced(const struct xvip_kube *k)
{
	return all_listed(k);
}

const char *xvip_kube_withdraw_reason(const struct xvip_kube *k)
{
	return k->node_reason;
}

void xvip_kube_get_stats(const struct xvip_kube *k, struct xvip_kube_stats *s)
{
	*s = k->st;
	for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
		s->objects[i] = (uint64_t)json_object_object_length(k->w[i].cache);
}

int xvip_kube_model(struct xvip_kube *k, struct xvip_model *m, char *err, size_t errlen)
{
	struct json_object *sv = k->w[XVIP_KUBE_SERVICES].cache;
	struct json_object *sl = k->w[XVIP_KUBE_SLICES].cache;
	size_t nsv = (size_t)json_object_object_length(sv);
	size_t nsl = (size_t)json_object_object_length(sl);
	struct json_object **a = calloc(nsv + nsl + 1, sizeof(*a));
	size_t i = 0;
	uint64_t t0;
	int ret;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	json_object_object_foreach(sv, ks, vs) {
		(void)ks;
		a[i++] = vs;
	}
	json_object_object_foreach(sl, kl, vl) {
		(void)kl;
		a[i++] = vl;
	}
	t0 = now_ms();
	ret = xvip_model_from_objects(a, nsv, a + nsv, nsl, &k->mo, m, err, errlen);
	log_debug("translated %zu Services and %zu EndpointSlices in %llu ms", nsv, nsl,
		  (unsigned long long)(now_ms() - t0));
	free(a);
	return ret;
}

/* The index again from the cache, after it failed to follow a change. */
static int index_rebuild(struct xvip_kube *k)
{
	int ret;

	xvip_model_index_free(k->ix);
	k->ix = NULL;
	ret = xvip_model_index_new(&k->ix, &k->mo);
	if (ret)
		return ret;
	k->ix_broken = false;
	json_object_object_foreach(k->w[XVIP_KUBE_SERVICES].cache, ks, vs)
		index_set(&k->w[XVIP_KUBE_SERVICES], ks, vs);
	json_object_object_foreach(k->w[XVIP_KUBE_SLICES].cache, kl, vl)
		index_set(&k->w[XVIP_KUBE_SLICES], kl, vl);
	return k->ix_broken ? -ENOMEM : 0;
}

int xvip_kube_changes(struct xvip_kube *k, const struct xvip_model **m,
		      const struct xvip_addr **vips, size_t *nvips, bool *full)
{
	const struct xvip_model *delta;
	uint64_t t0 = now_ms();
	int ret;

	*m = NULL;
	*vips = NULL;
	*nvips = 0;
	*full = k->relisted;
	if (!k->ix || k->ix_broken) {
		ret = index_rebuild(k);
		if (ret) {
			k->ix_broken = true;
			return ret;
		}
		*full = true;
	}
	ret = xvip_model_index_commit(k->ix, &delta, vips, nvips);
	if (!ret && *full)
		ret = xvip_model_index_model(k->ix, m);
	else if (!ret)
		*m = delta;
	if (ret)
		return ret;
	k->relisted = false;
	log_debug("translated the changes (%zu VIPs%s) in %llu ms", *nvips,
		  *full ? ", whole view" : "", (unsigned long long)(now_ms() - t0));
	return 0;
}

int xvip_kube_full_model(struct xvip_kube *k, const struct xvip_model **m)
{
	if (!k->ix || k->ix_broken)
		return -ENOMEM;
	return xvip_model_index_model(k->ix, m);
}

void xvip_kube_fini(struct xvip_kube *k)
{
	if (!k)
		return;
	xvip_model_index_free(k->ix);
	for (int i = 0; i < XVIP_KUBE_RES_MAX; i++) {
		struct kw *w = &k->w[i];

		if (w->tok)
			transfer_end(w);
		json_tokener_free(w->tok);
		json_object_put(w->cache);
		json_object_put(w->pending);
		free(w->rv);
		free(w->cont);
	}
	if (k->multi)
		curl_multi_cleanup(k->multi);
	if (k->epfd >= 0)
		close(k->epfd);
	if (k->curl_tfd >= 0)
		close(k->curl_tfd);
	if (k->tick_tfd >= 0)
		close(k->tick_tfd);
	free(k->node_selector);
	free(k);
	curl_global_cleanup();
}

int xvip_kube_init(struct xvip_kube **kp, const struct xvip_kube_opts *o)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct xvip_kube *k;
	char *esc, *sel = NULL;
	int ret;

	*kp = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	k = calloc(1, sizeof(*k));
	if (!k) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	k->epfd = k->curl_tfd = k->tick_tfd = -1;
	k->o = *o;
	if (!k->o.stall_seconds)
		k->o.stall_seconds = 120;
	if (!k->o.page_size)
		k->o.page_size = 500;
	if (!k->o.debounce_ms)
		k->o.debounce_ms = 75;
	if (!k->o.quiet_ms)
		k->o.quiet_ms = 3;
	k->mo = *o->model;
	k->mo.quiet = true;
	ret = xvip_model_index_new(&k->ix, &k->mo);
	if (ret)
		goto err;
	snprintf(k->ua, sizeof(k->ua), "xvipd (linux) libcurl/%s",
		 curl_version_info(CURLVERSION_NOW)->version);

	if (asprintf(&sel, "metadata.name=%s", o->node_name) < 0) {
		ret = -ENOMEM;
		goto err;
	}
	esc = curl_easy_escape(NULL, sel, 0);
	free(sel);
	if (!esc || asprintf(&k->node_selector, "fieldSelector=%s", esc) < 0) {
		curl_free(esc);
		k->node_selector = NULL;
		ret = -ENOMEM;
		goto err;
	}
	curl_free(esc);

	k->epfd = epoll_create1(EPOLL_CLOEXEC);
	k->curl_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	k->tick_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (k->epfd < 0 || k->curl_tfd < 0 || k->tick_tfd < 0) {
		ret = -errno;
		goto err;
	}
	ev.data.fd = k->curl_tfd;
	if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->curl_tfd, &ev)) {
		ret = -errno;
		goto err;
	}
	ev.data.fd = k->tick_tfd;
	if (epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->tick_tfd, &ev)) {
		ret = -errno;
		goto err;
	}
	k->multi = curl_multi_init();
	if (!k->multi) {
		ret = -ENOMEM;
		goto err;
	}
	curl_multi_setopt(k->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(k->multi, CURLMOPT_SOCKETDATA, k);
	curl_multi_setopt(k->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(k->multi, CURLMOPT_TIMERDATA, k);

	for (int i = 0; i < XVIP_KUBE_RES_MAX; i++) {
		struct kw *w = &k->w[i];

		w->k = k;
		w->res = (enum xvip_kube_res)i;
		w->name = res_info[i].name;
		w->path = res_info[i].path;
		w->cache = json_object_new_object();
		w->tok = json_tokener_new_ex(KUBE_JSON_DEPTH);
		if (!w->cache || !w->tok) {
			ret = -ENOMEM;
			goto err;
		}
		w->state = KW_IDLE;
		w->retry_at = 0;
	}
	log_info("API source: %s, server %s, node %s", o->cfg->origin, o->cfg->server,
		 o->node_name);
	/* The first tick starts the three lists. */
	arm_timerfd(k->tick_tfd, now_ms());
	*kp = k;
	return 0;
err:
	xvip_kube_fini(k);
	return ret;
}
