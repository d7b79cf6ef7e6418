/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The Kubernetes API source: list then watch Services, EndpointSlices and
 * this node's Node object with libcurl (multi interface, driven from the
 * daemon's poll loop through one epoll fd), keep them in a cache keyed by
 * namespace/name, and tell the daemon when the cache changed (debounced).
 * The daemon translates the cache with the same model code as the services
 * file and applies it; this module never touches maps or lo.
 */
#ifndef XVIP_KUBE_H
#define XVIP_KUBE_H

#include <stdbool.h>
#include <stdint.h>
#include "kubecfg.h"
#include "model.h"

struct json_object;
struct xvip_kube;

/* Why a request failed; each is counted and logged once until the watch recovers. */
enum xvip_kube_cause {
	XVIP_KUBE_OK = 0,
	XVIP_KUBE_CONNECT,	/* no connection (refused, unreachable, DNS, connect timeout) */
	XVIP_KUBE_TLS,		/* TLS handshake or certificate verification failed */
	XVIP_KUBE_UNAUTHORIZED,	/* 401: token missing, wrong or expired */
	XVIP_KUBE_FORBIDDEN,	/* 403: RBAC */
	XVIP_KUBE_THROTTLED,	/* 429: retried after Retry-After */
	XVIP_KUBE_SERVER,	/* 5xx */
	XVIP_KUBE_HTTP,		/* another unexpected status */
	XVIP_KUBE_GONE,		/* 410: resourceVersion too old, relisted */
	XVIP_KUBE_STALLED,	/* no byte for the stall time */
	XVIP_KUBE_CUT,		/* connection closed in the middle of a response */
	XVIP_KUBE_BAD_RESPONSE,	/* not the JSON a list or a watch returns */
	XVIP_KUBE_WATCH_ERROR,	/* an ERROR event other than 410 */
	XVIP_KUBE_CAUSE_MAX,
};

enum xvip_kube_res {
	XVIP_KUBE_SERVICES,
	XVIP_KUBE_SLICES,
	XVIP_KUBE_NODE,
	XVIP_KUBE_RES_MAX,
};

struct xvip_kube_opts {
	const struct xvip_kubecfg *cfg;
	const char *node_name;
	/* To check each object as it arrives and to translate the cache. */
	const struct xvip_model_opts *model;
	/* Cordon and drain taints withdraw the VIPs too, not only the exclude label. */
	bool withdraw_on_drain;
	unsigned int stall_seconds;	/* reconnect a response silent this long (default 120) */
	unsigned int page_size;		/* list limit (default 500) */
	unsigned int debounce_ms;	/* a burst of events within this gives one call (75) */
	unsigned int quiet_ms;		/* ... once no event came for this long (3) */
	/* The cache or the Node's state changed; called from xvip_kube_dispatch only. */
	void (*changed)(void *ctx);
	void *ctx;
};

struct xvip_kube_stats {
	uint64_t errors[XVIP_KUBE_CAUSE_MAX];
	uint64_t lists[XVIP_KUBE_RES_MAX];	/* complete lists (initial and relists) */
	uint64_t events[XVIP_KUBE_RES_MAX];	/* ADDED, MODIFIED, DELETED */
	uint64_t bookmarks[XVIP_KUBE_RES_MAX];
	uint64_t objects[XVIP_KUBE_RES_MAX];	/* in the cache now */
};

int xvip_kube_init(struct xvip_kube **kp, const struct xvip_kube_opts *o);
void xvip_kube_fini(struct xvip_kube *k);
/* Poll this fd for POLLIN and call xvip_kube_dispatch when it is readable. */
int xvip_kube_fd(const struct xvip_kube *k);
void xvip_kube_dispatch(struct xvip_kube *k);
/* Every resource has been listed in full at least once. */
bool xvip_kube_synced(const struct xvip_kube *k);
/* Translate the cached Services and EndpointSlices (as xvip_model_from_objects). */
int xvip_kube_model(struct xvip_kube *k, struct xvip_model *m, char *err, size_t errlen);
/*
 * What changed in the cache since the last call, translated: *m is the
 * delta and vips[] the VIPs it covers, as xvip_model_index_commit gives
 * them, or, with *full set, *m is the whole model (the first call, after a
 * relist) and vips[] is to be ignored. Both stay valid until the next call
 * or dispatch. -ENOMEM: nothing is lost, the next call does it again.
 */
int xvip_kube_changes(struct xvip_kube *k, const struct xvip_model **m,
		      const struct xvip_addr **vips, size_t *nvips, bool *full);
/* The whole model as of the last xvip_kube_changes. */
int xvip_kube_full_model(struct xvip_kube *k, const struct xvip_model **m);
/* Why this node's VIPs must stay off lo (a static string), or NULL. */
const char *xvip_kube_withdraw_reason(const struct xvip_kube *k);
void xvip_kube_get_stats(const struct xvip_kube *k, struct xvip_kube_stats *s);
const char *xvip_kube_cause_name(enum xvip_kube_cause c);
const char *xvip_kube_res_name(enum xvip_kube_res r);
/*
 * What a Node object says about advertising: the exclude-from-external-load-
 * balancers label always; with drain, spec.unschedulable and the
 * ToBeDeletedByClusterAutoscaler / node.kubernetes.io/unschedulable taints.
 */
const char *xvip_kube_node_reason(struct json_object *node, bool drain);

#endif
