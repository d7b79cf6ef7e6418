/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Services and EndpointSlices -> desired state: for each VIP:port/proto the
 * node serves, its local endpoints. One translation for every source (the
 * services file and the API server).
 */
#ifndef XVIP_MODEL_H
#define XVIP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "addr.h"

struct json_object;

struct xvip_model_backend {
	struct xvip_addr addr;	/* endpoint address, same family as the VIP */
	uint16_t port;		/* resolved targetPort, host order */
	uint8_t state;		/* XVIP_BE_READY or XVIP_BE_SERVING */
	uint8_t pad;
	uint32_t weight;	/* 1 for now: EndpointSlices carry no weight */
};

struct xvip_model_svc {
	struct xvip_addr vip;
	uint16_t port;		/* Service port, host order */
	uint8_t proto;
	uint8_t pad;
	char *name;		/* "namespace/name:portname" (":portname" only if named) */
	uint32_t affinity_s;	/* sessionAffinity ClientIP timeout in seconds; 0: none */
	size_t nsrc_ranges;	/* loadBalancerSourceRanges, for load-balancer VIPs only */
	struct xvip_cidr *src_ranges;
	size_t nbackends;	/* local endpoints, sorted by (addr, port) */
	struct xvip_model_backend *backends;
};

/* Entries sorted by (vip, port, proto); each VIP:port/proto appears once. */
struct xvip_model {
	struct xvip_model_svc *svcs;
	size_t nsvcs;
};

struct xvip_model_opts {
	const char *node_name;		/* only endpoints with this nodeName are local */
	const struct xvip_cidr *cidrs;	/* VIPs outside all of these are skipped */
	size_t ncidrs;
	/*
	 * Skipped VIPs (outside every --vip-cidr, not unicast) at debug level
	 * rather than warn: from the API server they are the normal case (most
	 * ClusterIPs are not for the fabric), and the whole cache is translated
	 * again on every change.
	 */
	bool quiet;
};

/*
 * Translate a Kubernetes List (kind "List", items of kind Service and
 * EndpointSlice, as `kubectl get services,endpointslices -A -o json` prints)
 * into *out. On error returns -EINVAL (or -ENOMEM), leaves *out empty and
 * writes one message naming the offending object into err. Skipped objects
 * (headless, ExternalName, VIP outside --vip-cidr, FQDN slices, conflicts)
 * are logged as warnings, not errors. A VIP equal to any endpoint address in
 * the input (on any node) is refused with a warning: it is a pod's address.
 */
int xvip_model_from_json(const char *buf, size_t len, const struct xvip_model_opts *o,
			 struct xvip_model *out, char *err, size_t errlen);
/*
 * The same, but the parsed document is left to the caller (*doc, to
 * json_object_put; set on error too, NULL if nothing parsed): freeing the
 * tree of a 91 MB file takes 100s of ms, better spent after the model is
 * applied. The model does not point into it.
 */
int xvip_model_from_json_doc(const char *buf, size_t len, const struct xvip_model_opts *o,
			     struct xvip_model *out, struct json_object **doc, char *err,
			     size_t errlen);
/*
 * The translation itself, for sources that hold the objects already (the API
 * server's cache): services[] are Service objects and slices[] EndpointSlice
 * (discovery.k8s.io/v1) objects, as the API returns them; kind and apiVersion
 * are not looked at (list responses omit them on items). Same errors as
 * xvip_model_from_json. The objects are only read.
 */
int xvip_model_from_objects(struct json_object *const *services, size_t nservices,
			    struct json_object *const *slices, size_t nslices,
			    const struct xvip_model_opts *o, struct xvip_model *out, char *err,
			    size_t errlen);
/*
 * Incremental translation, for a source that changes one object at a time
 * (the API server): the same model as xvip_model_from_objects over the
 * objects currently set, at a cost in proportion to what changed.
 */
struct xvip_model_index;

int xvip_model_index_new(struct xvip_model_index **x, const struct xvip_model_opts *o);
void xvip_model_index_free(struct xvip_model_index *x);
/*
 * Add or replace (obj) or remove (NULL) the Service or EndpointSlice called
 * key ("namespace/name"); the index holds a reference to obj and reads it
 * until it is replaced. Objects are expected to translate alone without
 * error (the source checks them first). -ENOMEM leaves the index consistent.
 */
int xvip_model_index_service(struct xvip_model_index *x, const char *key,
			     struct json_object *obj);
int xvip_model_index_slice(struct xvip_model_index *x, const char *key, struct json_object *obj);
/*
 * Translate what changed since the last commit. vips[] (sorted, unique) are
 * the VIPs whose entries may differ, and *delta holds every entry those VIPs
 * have now (none: the VIP has no entry any more); every other VIP's entries
 * are as before. Both belong to the index and stay valid until the next call
 * that changes it. On error (-ENOMEM) what changed stays queued.
 */
int xvip_model_index_commit(struct xvip_model_index *x, const struct xvip_model **delta,
			    const struct xvip_addr **vips, size_t *nvips);
/* The whole model as of the last commit; the index's, valid as the delta is. */
int xvip_model_index_model(struct xvip_model_index *x, const struct xvip_model **m);
int xvip_model_from_file(const char *path, const struct xvip_model_opts *o,
			 struct xvip_model *out, char *err, size_t errlen);
void xvip_model_free(struct xvip_model *m);
/* Drops, in place and in order, the entries for which keep() returns false. */
void xvip_model_filter(struct xvip_model *m,
		       bool (*keep)(const struct xvip_model_svc *s, void *ctx), void *ctx);
/* Deep copy of src into *dst (the reconciler keeps the last model to re-apply it on timers). */
int xvip_model_dup(struct xvip_model *dst, const struct xvip_model *src);
/* Binary search by (vip, port, proto); NULL if absent. */
const struct xvip_model_svc *xvip_model_find(const struct xvip_model *m,
					     const struct xvip_addr *vip, uint16_t port,
					     uint8_t proto);

#endif
