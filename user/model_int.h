/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Inside the model: what its four files share, nothing any other module
 * includes. model_obj.c reads fields of one Kubernetes object, with messages
 * that name it; model.c translates Services and EndpointSlices (and holds
 * the model's own operations); model_list.c reads a List (the services
 * file); model_index.c translates one changed object at a time.
 */
#ifndef XVIP_MODEL_INT_H
#define XVIP_MODEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json.h>

#include "model.h"

#define MODEL_ERRLEN		1024

struct slice_port {
	const char *name;	/* "" when unnamed, as the EndpointSlice controller writes it */
	int port;		/* -1: null, "all ports", which cannot resolve a targetPort */
	uint8_t proto;
};

struct slice_ep {
	struct xvip_addr addr;
	uint8_t state;		/* XVIP_BE_READY or XVIP_BE_SERVING */
};

/* The parts of one EndpointSlice the translation needs; strings point into its json_object. */
struct slice {
	const char *ns;
	const char *svc;	/* label kubernetes.io/service-name */
	bool v4;
	struct slice_port *ports;
	size_t nports;
	struct slice_ep *eps;	/* local endpoints that may take flows, nothing else */
	size_t neps;
};

/* A VIP:port/proto entry before conflicts between Services are resolved. */
struct cand {
	struct xvip_model_svc s;
	size_t owner_len;	/* s.name[0..owner_len) is "ns/name", which wins a conflict */
	size_t seq;		/* input order, the last tie-break so the sort is deterministic */
};

/* Every endpoint address in the input, on any node: none of them may be a VIP. */
struct addr_set {
	struct xvip_addr *a;	/* sorted and unique once the slices are read */
	size_t n, cap;
};

struct xlate {
	const struct xvip_model_opts *o;
	char *err;
	size_t errlen;
	struct slice *slices;	/* sorted by (ns, svc) */
	size_t nslices;
	struct addr_set eps;
	struct cand *cands;
	size_t ncands;
	size_t capcands;
	/*
	 * Non-NULL (the index): every VIP whose fate the endpoint addresses
	 * decide is appended here, so a change of those addresses finds the
	 * Services to translate again.
	 */
	struct addr_set *eps_deps;
};

/* The object being read, so that every message names it. */
struct obj {
	const char *kind;
	const char *ns;
	const char *name;
	const char *label;	/* when metadata cannot name it: "#3", its index in the input */
	char *err;
	size_t errlen;
};

/* ---- model_obj.c: typed access to one object's fields */

const char *json_kind(struct json_object *v);
int obj_err(const struct obj *ob, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int get_member(const struct obj *ob, struct json_object *parent, const char *path,
	       const char *key, enum json_type type, bool required, struct json_object **v);
int get_elem(const struct obj *ob, struct json_object *arr, size_t i, const char *path,
	     enum json_type type, struct json_object **v);
int get_str(const struct obj *ob, struct json_object *parent, const char *path,
	    const char *key, bool required, const char **s);
int get_bool(const struct obj *ob, struct json_object *parent, const char *path,
	     const char *key, int *b);
int get_port(const struct obj *ob, struct json_object *parent, const char *path,
	     const char *key, bool required, int *port);
int get_proto(const struct obj *ob, struct json_object *parent, const char *path,
	      uint8_t *proto);
int get_addr(const struct obj *ob, struct json_object *v, const char *path,
	     struct xvip_addr *a, const char **s);
int obj_init(struct obj *ob, const char *kind, const char *label, struct json_object *j,
	     char *err, size_t errlen);

/* ---- model.c: the translation, for model_index.c */

void slice_free(struct slice *sl);
int slice_parse(struct xlate *x, struct json_object *j, size_t idx, struct slice *sl,
		bool *keep);
int addr_cmp_v(const void *a, const void *b);
/* Sorts s and drops repeated addresses. */
void addr_set_unique(struct addr_set *s);
int svc_parse(struct xlate *x, struct json_object *j, size_t idx);
int key_cmp(const struct xvip_model_svc *a, const struct xvip_model_svc *b);
int cand_cmp(const void *pa, const void *pb);
void svc_free(struct xvip_model_svc *s);

#endif
