/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Services and EndpointSlices -> desired state: for each VIP:port/proto the
 * node serves, its local endpoints. One translation for every source (the
 * services file now, the API server later).
 */
#ifndef XVIP_MODEL_H
#define XVIP_MODEL_H

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
};

/*
 * Translate a Kubernetes List (kind "List", items of kind Service and
 * EndpointSlice, as `kubectl get services,endpointslices -A -o json` prints)
 * into *out. On error returns -EINVAL (or -ENOMEM), leaves *out empty and
 * writes one message naming the offending object into err. Skipped objects
 * (headless, ExternalName, VIP outside --vip-cidr, FQDN slices, conflicts)
 * are logged as warnings, not errors.
 */
int xvip_model_from_json(const char *buf, size_t len, const struct xvip_model_opts *o,
			 struct xvip_model *out, char *err, size_t errlen);
int xvip_model_from_file(const char *path, const struct xvip_model_opts *o,
			 struct xvip_model *out, char *err, size_t errlen);
void xvip_model_free(struct xvip_model *m);
/* Binary search by (vip, port, proto); NULL if absent. */
const struct xvip_model_svc *xvip_model_find(const struct xvip_model *m,
					     const struct xvip_addr *vip, uint16_t port,
					     uint8_t proto);

#endif
