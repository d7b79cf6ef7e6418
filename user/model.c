// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Services and EndpointSlices -> the VIP:port/proto entries this node serves
 * and their local endpoints.
 *
 * The translation (xvip_model_from_objects) works on json_objects of one Service or
 * one EndpointSlice each and does not care where they came from; the services
 * file only adds the List envelope around them. Every object is validated in
 * full, including endpoints on other nodes: a bad file is rejected as a whole
 * so the daemon keeps its previous state instead of programming half of it.
 */
#include <errno.h>
#include <search.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json.h>

#include "log.h"
#include "model.h"
#include "util.h"

/* A cluster with 10k Services and 100k endpoints prints well under this. */
#define MODEL_FILE_MAX		(256u << 20)
/*
 * kubectl output nests about 8 deep (List, items, metadata, annotations...);
 * json-c's default of 32 would do, the margin is for managedFields.
 */
#define MODEL_JSON_DEPTH	64
#define MODEL_ERRLEN		1024

#define SLICE_API_VERSION	"discovery.k8s.io/v1"
#define LABEL_SERVICE_NAME	"kubernetes.io/service-name"

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

struct svc_port {
	const char *name;	/* "" when unnamed */
	uint16_t port;
	uint8_t proto;
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

/* Kubernetes' vocabulary rather than json-c's ("int", "double"). */
static const char *json_kind(struct json_object *v)
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
static int obj_err(const struct obj *ob, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int obj_err(const struct obj *ob, const char *path, const char *key, const char *fmt, ...)
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
static int get_member(const struct obj *ob, struct json_object *parent, const char *path,
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
static int get_elem(const struct obj *ob, struct json_object *arr, size_t i, const char *path,
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

static int get_str(const struct obj *ob, struct json_object *parent, const char *path,
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

static int get_bool(const struct obj *ob, struct json_object *parent, const char *path,
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
static int get_port(const struct obj *ob, struct json_object *parent, const char *path,
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
static int get_proto(const struct obj *ob, struct json_object *parent, const char *path,
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
static int get_addr(const struct obj *ob, struct json_object *v, const char *path,
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
static int obj_init(struct obj *ob, const char *kind, const char *label, struct json_object *j,
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

static void slice_free(struct slice *sl)
{
	free(sl->ports);
	free(sl->eps);
	memset(sl, 0, sizeof(*sl));
}

/*
 * As the EndpointSlice API defines them: ready absent means ready; serving
 * absent means the same as ready (it only differs while terminating);
 * terminating absent means not terminating.
 */
static int ep_state(const struct obj *ob, struct json_object *ep, const char *path,
		    uint8_t *state)
{
	struct json_object *cond;
	int ready, serving, terminating;
	char cpath[64];
	int ret;

	*state = XVIP_BE_UNUSED;
	ret = get_member(ob, ep, path, "conditions", json_type_object, false, &cond);
	if (ret)
		return ret;
	ready = serving = terminating = -1;
	if (cond) {
		snprintf(cpath, sizeof(cpath), "%s.conditions", path);
		ret = get_bool(ob, cond, cpath, "ready", &ready) ?:
		      get_bool(ob, cond, cpath, "serving", &serving) ?:
		      get_bool(ob, cond, cpath, "terminating", &terminating);
		if (ret)
			return ret;
	}
	if (ready < 0)
		ready = 1;
	if (serving < 0)
		serving = ready;
	if (terminating < 0)
		terminating = 0;
	if (ready && !terminating)
		*state = XVIP_BE_READY;
	else if (serving && terminating)
		*state = XVIP_BE_SERVING;
	return 0;
}

static int slice_endpoint(const struct obj *ob, struct slice *sl, struct json_object *ep,
			  size_t i, const char *node, size_t *cap, struct addr_set *all)
{
	struct json_object *addrs;
	struct xvip_addr a, first = { { 0 } };
	const char *node_name, *s;
	char path[32], apath[64];
	uint8_t state;
	size_t n;
	int ret;

	snprintf(path, sizeof(path), "endpoints[%zu]", i);
	ret = get_member(ob, ep, path, "addresses", json_type_array, true, &addrs);
	if (ret)
		return ret;
	n = json_object_array_length(addrs);
	if (!n)
		return obj_err(ob, path, "addresses", "empty");
	/* Only addresses[0] is used, as kube-proxy does; the others must still be valid. */
	for (size_t j = 0; j < n; j++) {
		snprintf(apath, sizeof(apath), "%s.addresses[%zu]", path, j);
		ret = get_addr(ob, json_object_array_get_idx(addrs, j), apath, &a, &s);
		if (ret)
			return ret;
		if (xvip_addr_is_v4(&a) != sl->v4)
			return obj_err(ob, apath, NULL, "\"%s\" is not an %s address", s,
				       sl->v4 ? "IPv4" : "IPv6");
		if (!j)
			first = a;
		ret = xvip_grow((void **)&all->a, &all->cap, all->n, sizeof(*all->a));
		if (ret)
			return ret;
		all->a[all->n++] = a;
	}
	ret = ep_state(ob, ep, path, &state) ?:
	      get_str(ob, ep, path, "nodeName", false, &node_name);
	if (ret)
		return ret;
	if (!node || !node_name || strcmp(node, node_name) || state == XVIP_BE_UNUSED)
		return 0;
	ret = xvip_grow((void **)&sl->eps, cap, sl->neps, sizeof(*sl->eps));
	if (ret)
		return ret;
	sl->eps[sl->neps].addr = first;
	sl->eps[sl->neps].state = state;
	sl->neps++;
	return 0;
}

static int slice_ports(const struct obj *ob, struct slice *sl, struct json_object *j)
{
	struct json_object *ports, *p;
	char path[64];
	size_t n;
	int ret;

	ret = get_member(ob, j, "", "ports", json_type_array, false, &ports);
	if (ret || !ports)
		return ret;
	n = json_object_array_length(ports);
	if (!n)
		return 0;
	sl->ports = calloc(n, sizeof(*sl->ports));
	if (!sl->ports)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct slice_port *sp = &sl->ports[i];

		snprintf(path, sizeof(path), "ports[%zu]", i);
		ret = get_elem(ob, ports, i, "ports", json_type_object, &p) ?:
		      get_str(ob, p, path, "name", false, &sp->name) ?:
		      get_port(ob, p, path, "port", false, &sp->port) ?:
		      get_proto(ob, p, path, &sp->proto);
		if (ret)
			return ret;
		if (!sp->name)
			sp->name = "";
		sl->nports++;
	}
	return 0;
}

/*
 * One EndpointSlice into *sl, keeping only local endpoints that may take
 * flows. *keep is false for slices that serve no Service xvip handles.
 */
static int slice_parse(struct xlate *x, struct json_object *j, size_t idx, struct slice *sl,
		       bool *keep)
{
	struct json_object *meta, *labels, *eps, *ep;
	const char *atype;
	size_t cap = 0, n;
	char label[32];
	struct obj ob;
	int ret;

	memset(sl, 0, sizeof(*sl));
	*keep = false;
	snprintf(label, sizeof(label), "#%zu", idx);
	ret = obj_init(&ob, "EndpointSlice", label, j, x->err, x->errlen);
	if (ret)
		return ret;
	sl->ns = ob.ns;
	json_object_object_get_ex(j, "metadata", &meta);
	ret = get_member(&ob, meta, "metadata", "labels", json_type_object, false, &labels);
	if (!ret && labels)
		ret = get_str(&ob, labels, "metadata.labels", LABEL_SERVICE_NAME, false, &sl->svc);
	if (ret)
		return ret;
	if (!sl->svc) {
		log_debug("EndpointSlice %s/%s: no %s label, ignored", ob.ns, ob.name,
			  LABEL_SERVICE_NAME);
		return 0;
	}
	ret = get_str(&ob, j, "", "addressType", true, &atype);
	if (ret)
		return ret;
	if (!strcmp(atype, "IPv4")) {
		sl->v4 = true;
	} else if (!strcmp(atype, "IPv6")) {
		sl->v4 = false;
	} else if (!strcmp(atype, "FQDN")) {
		log_debug("EndpointSlice %s/%s: addressType FQDN, ignored", ob.ns, ob.name);
		return 0;
	} else {
		return obj_err(&ob, "", "addressType", "unknown address type \"%s\"", atype);
	}
	ret = slice_ports(&ob, sl, j);
	if (ret)
		goto err;
	ret = get_member(&ob, j, "", "endpoints", json_type_array, false, &eps);
	if (ret)
		goto err;
	n = eps ? json_object_array_length(eps) : 0;
	for (size_t i = 0; i < n; i++) {
		ret = get_elem(&ob, eps, i, "endpoints", json_type_object, &ep) ?:
		      slice_endpoint(&ob, sl, ep, i, x->o->node_name, &cap, &x->eps);
		if (ret)
			goto err;
	}
	*keep = true;
	return 0;
err:
	slice_free(sl);
	return ret;
}

static int slice_key_cmp(const char *ns_a, const char *svc_a, const char *ns_b, const char *svc_b)
{
	int c = strcmp(ns_a, ns_b);

	return c ? c : strcmp(svc_a, svc_b);
}

static int slice_cmp(const void *a, const void *b)
{
	const struct slice *x = a, *y = b;

	return slice_key_cmp(x->ns, x->svc, y->ns, y->svc);
}

/* The first slice of Service ns/name in x->slices, and how many there are. */
static struct slice *slices_of(const struct xlate *x, const char *ns, const char *name, size_t *n)
{
	size_t lo = 0, hi = x->nslices, end;

	*n = 0;
	if (!x->nslices)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (slice_key_cmp(x->slices[mid].ns, x->slices[mid].svc, ns, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < x->nslices; end++)
		if (slice_key_cmp(x->slices[end].ns, x->slices[end].svc, ns, name))
			break;
	*n = end - lo;
	return &x->slices[lo];
}

static int backend_cmp(const void *a, const void *b)
{
	const struct xvip_model_backend *x = a, *y = b;
	int c = xvip_addr_cmp(&x->addr, &y->addr);

	if (c)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	/* READY (1) before SERVING (2), so the dedupe below keeps the better state. */
	return (int)x->state - (int)y->state;
}

/*
 * Local endpoints of Service ns/name for one port, on VIPs of one family.
 * targetPort resolves through the slice's port of the same name and protocol:
 * the Service's targetPort may be a container port name only the pods know.
 */
static int collect_backends(const struct xlate *x, const char *ns, const char *name, bool v4,
			    const struct svc_port *sp, struct xvip_model_svc *s)
{
	struct xvip_model_backend *be = NULL;
	size_t nsl, n = 0, cap = 0, out;
	struct slice *sl;
	int ret;

	sl = slices_of(x, ns, name, &nsl);
	for (size_t i = 0; i < nsl; i++) {
		const struct slice_port *p = NULL;

		if (sl[i].v4 != v4)
			continue;
		for (size_t k = 0; k < sl[i].nports; k++) {
			if (sl[i].ports[k].proto == sp->proto &&
			    !strcmp(sl[i].ports[k].name, sp->name)) {
				p = &sl[i].ports[k];
				break;
			}
		}
		if (!p || p->port < 0)
			continue;
		for (size_t k = 0; k < sl[i].neps; k++) {
			ret = xvip_grow((void **)&be, &cap, n, sizeof(*be));
			if (ret)
				goto err;
			memset(&be[n], 0, sizeof(be[n]));
			be[n].addr = sl[i].eps[k].addr;
			be[n].port = (uint16_t)p->port;
			be[n].state = sl[i].eps[k].state;
			be[n].weight = 1;
			n++;
		}
	}
	if (n)
		qsort(be, n, sizeof(*be), backend_cmp);
	/* One endpoint can sit in several slices while the controller moves it. */
	out = 0;
	for (size_t i = 0; i < n; i++) {
		if (out && !xvip_addr_cmp(&be[out - 1].addr, &be[i].addr) &&
		    be[out - 1].port == be[i].port)
			continue;
		be[out++] = be[i];
	}
	s->backends = be;
	s->nbackends = out;
	return 0;
err:
	free(be);
	return ret;
}

static int addr_cmp_v(const void *a, const void *b)
{
	return xvip_addr_cmp(a, b);
}

static bool vip_in_cidrs(const struct xvip_model_opts *o, const struct xvip_addr *a)
{
	for (size_t i = 0; i < o->ncidrs; i++)
		if (xvip_cidr_contains(&o->cidrs[i], a))
			return true;
	return false;
}

struct vips {
	struct xvip_addr *a;
	size_t n;
	size_t cap;
};

static enum xvip_log_level skip_level(const struct xlate *x)
{
	return x->o->quiet ? XVIP_LOG_DEBUG : XVIP_LOG_WARN;
}

/* Appends the VIP in string v unless it is to be skipped or already there. */
static int add_vip(const struct xlate *x, const struct obj *ob, struct json_object *v,
		   const char *path, struct vips *vips)
{
	char buf[XVIP_ADDRSTRLEN];
	struct xvip_addr a;
	const char *s;
	int ret;

	ret = get_addr(ob, v, path, &a, &s);
	if (ret)
		return ret;
	xvip_addr_str(&a, buf, sizeof(buf));
	if (xvip_addr_is_special(&a)) {
		xvip_log(skip_level(x), "Service %s/%s: %s: %s is not a unicast address, skipped",
			 ob->ns, ob->name, path, buf);
		return 0;
	}
	if (!vip_in_cidrs(x->o, &a)) {
		xvip_log(skip_level(x), "Service %s/%s: %s: %s is outside every --vip-cidr, "
			 "skipped", ob->ns, ob->name, path, buf);
		return 0;
	}
	if (x->eps_deps) {
		ret = xvip_grow((void **)&x->eps_deps->a, &x->eps_deps->cap, x->eps_deps->n,
			        sizeof(*x->eps_deps->a));
		if (ret)
			return ret;
		x->eps_deps->a[x->eps_deps->n++] = a;
	}
	/*
	 * A pod's (or a host-network endpoint's) own address: as a VIP it would
	 * take that endpoint's traffic over on every node. Always a warning.
	 */
	if (x->eps.n && bsearch(&a, x->eps.a, x->eps.n, sizeof(a), addr_cmp_v)) {
		log_warn("Service %s/%s: %s: %s is the address of an endpoint, refused as a VIP",
			 ob->ns, ob->name, path, buf);
		return 0;
	}
	/* externalIPs often repeat the load balancer's ingress IP. */
	for (size_t k = 0; k < vips->n; k++)
		if (!xvip_addr_cmp(&vips->a[k], &a))
			return 0;
	ret = xvip_grow((void **)&vips->a, &vips->cap, vips->n, sizeof(*vips->a));
	if (ret)
		return ret;
	vips->a[vips->n++] = a;
	return 0;
}

static int add_vip_array(const struct xlate *x, const struct obj *ob, struct json_object *arr,
			 const char *arrpath, struct vips *vips)
{
	size_t n = arr ? json_object_array_length(arr) : 0;
	char path[64];
	int ret;

	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s[%zu]", arrpath, i);
		ret = add_vip(x, ob, json_object_array_get_idx(arr, i), path, vips);
		if (ret)
			return ret;
	}
	return 0;
}

static int lb_vips(const struct xlate *x, const struct obj *ob, struct json_object *j,
		   struct vips *vips)
{
	struct json_object *status, *lb = NULL, *ingress = NULL, *ing, *ip;
	char path[64];
	size_t n;
	int ret;

	ret = get_member(ob, j, "", "status", json_type_object, false, &status);
	if (!ret && status)
		ret = get_member(ob, status, "status", "loadBalancer", json_type_object, false,
				 &lb);
	if (!ret && lb)
		ret = get_member(ob, lb, "status.loadBalancer", "ingress", json_type_array, false,
				 &ingress);
	if (ret || !ingress)
		return ret;
	n = json_object_array_length(ingress);
	for (size_t i = 0; i < n; i++) {
		ret = get_elem(ob, ingress, i, "status.loadBalancer.ingress", json_type_object,
			       &ing);
		if (ret)
			return ret;
		snprintf(path, sizeof(path), "status.loadBalancer.ingress[%zu]", i);
		ret = get_member(ob, ing, path, "ip", json_type_string, false, &ip);
		if (ret)
			return ret;
		/* A hostname-only ingress (a cloud load balancer) has no address to serve. */
		if (!ip)
			continue;
		snprintf(path, sizeof(path), "status.loadBalancer.ingress[%zu].ip", i);
		ret = add_vip(x, ob, ip, path, vips);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * spec.clusterIPs (spec.clusterIP for objects written before dual-stack),
 * spec.externalIPs, status.loadBalancer.ingress[].ip. *headless is set for
 * clusterIP "None": such a Service has no VIP at all, as in kube-proxy.
 */
static int svc_vips(const struct xlate *x, const struct obj *ob, struct json_object *j,
		    struct json_object *spec, struct vips *vips, bool *headless, size_t *lb_first)
{
	struct json_object *cips, *eips, *first;
	const char *cip;
	int ret;

	*headless = false;
	ret = get_str(ob, spec, "spec", "clusterIP", false, &cip) ?:
	      get_member(ob, spec, "spec", "clusterIPs", json_type_array, false, &cips) ?:
	      get_member(ob, spec, "spec", "externalIPs", json_type_array, false, &eips);
	if (ret)
		return ret;
	first = cips ? json_object_array_get_idx(cips, 0) : NULL;
	if ((cip && !strcmp(cip, "None")) ||
	    (json_object_is_type(first, json_type_string) &&
	     !strcmp(json_object_get_string(first), "None"))) {
		*headless = true;
		return 0;
	}
	if (cips) {
		ret = add_vip_array(x, ob, cips, "spec.clusterIPs", vips);
	} else if (cip && *cip) {
		struct json_object *v;

		json_object_object_get_ex(spec, "clusterIP", &v);
		ret = add_vip(x, ob, v, "spec.clusterIP", vips);
	}
	if (ret)
		return ret;
	ret = add_vip_array(x, ob, eips, "spec.externalIPs", vips);
	if (ret)
		return ret;
	*lb_first = vips->n;
	return lb_vips(x, ob, j, vips);
}

/* Per-Service settings every entry of the Service carries. */
struct svc_opts {
	uint32_t affinity_s;
	struct xvip_cidr *ranges;
	size_t nranges;
};

#define AFFINITY_DEFAULT_S	10800	/* the API server's default timeoutSeconds */
#define AFFINITY_MAX_S		86400	/* the API server's validation limit */

static int svc_opts_parse(const struct obj *ob, struct json_object *spec, struct svc_opts *so)
{
	struct json_object *cfg = NULL, *cip = NULL, *t = NULL, *ranges = NULL, *r;
	const char *aff;
	char path[64];
	int64_t v;
	size_t n;
	int ret;

	memset(so, 0, sizeof(*so));
	ret = get_str(ob, spec, "spec", "sessionAffinity", false, &aff);
	if (ret)
		return ret;
	if (aff && !strcmp(aff, "ClientIP")) {
		so->affinity_s = AFFINITY_DEFAULT_S;
		ret = get_member(ob, spec, "spec", "sessionAffinityConfig", json_type_object,
				 false, &cfg);
		if (!ret && cfg)
			ret = get_member(ob, cfg, "spec.sessionAffinityConfig", "clientIP",
					 json_type_object, false, &cip);
		if (!ret && cip)
			ret = get_member(ob, cip, "spec.sessionAffinityConfig.clientIP",
					 "timeoutSeconds", json_type_int, false, &t);
		if (ret)
			return ret;
		if (t) {
			v = json_object_get_int64(t);
			if (v < 1 || v > AFFINITY_MAX_S)
				return obj_err(ob, "spec.sessionAffinityConfig.clientIP",
					       "timeoutSeconds", "%lld is outside 1..%d",
					       (long long)v, AFFINITY_MAX_S);
			so->affinity_s = (uint32_t)v;
		}
	} else if (aff && strcmp(aff, "None")) {
		return obj_err(ob, "spec", "sessionAffinity", "\"%s\" is not None or ClientIP",
			       aff);
	}

	ret = get_member(ob, spec, "spec", "loadBalancerSourceRanges", json_type_array, false,
			 &ranges);
	if (ret || !ranges || !(n = json_object_array_length(ranges)))
		return ret;
	so->ranges = calloc(n, sizeof(*so->ranges));
	if (!so->ranges)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		ret = get_elem(ob, ranges, i, "spec.loadBalancerSourceRanges", json_type_string,
			       &r);
		if (ret)
			goto err;
		/* A bare address means that one host, as kube-proxy reads it. */
		const char *str = json_object_get_string(r);
		char buf[64];

		snprintf(buf, sizeof(buf), "%s%s", str,
			 strchr(str, '/') ? "" : (strchr(str, ':') ? "/128" : "/32"));
		if (xvip_cidr_parse_masked(buf, &so->ranges[i])) {
			snprintf(path, sizeof(path), "spec.loadBalancerSourceRanges[%zu]", i);
			ret = obj_err(ob, path, NULL, "\"%s\" is not a CIDR", str);
			goto err;
		}
	}
	so->nranges = n;
	return 0;
err:
	free(so->ranges);
	so->ranges = NULL;
	return ret;
}

static int svc_ports(const struct obj *ob, struct json_object *spec, struct svc_port **out,
		     size_t *nout)
{
	struct json_object *ports, *p;
	struct svc_port *sp = NULL;
	char path[64];
	size_t n;
	int port, ret;

	*out = NULL;
	*nout = 0;
	ret = get_member(ob, spec, "spec", "ports", json_type_array, false, &ports);
	if (ret || !ports)
		return ret;
	n = json_object_array_length(ports);
	if (!n)
		return 0;
	sp = calloc(n, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "spec.ports[%zu]", i);
		ret = get_elem(ob, ports, i, "spec.ports", json_type_object, &p) ?:
		      get_str(ob, p, path, "name", false, &sp[i].name) ?:
		      get_port(ob, p, path, "port", true, &port) ?:
		      get_proto(ob, p, path, &sp[i].proto);
		if (ret)
			goto err;
		if (!sp[i].name)
			sp[i].name = "";
		sp[i].port = (uint16_t)port;
	}
	*out = sp;
	*nout = n;
	return 0;
err:
	free(sp);
	return ret;
}

static int add_cand(struct xlate *x, const struct obj *ob, const struct xvip_addr *vip,
		    const struct svc_port *sp, const struct svc_opts *so, bool lb)
{
	struct cand *c;
	int ret;

	ret = xvip_grow((void **)&x->cands, &x->capcands, x->ncands, sizeof(*x->cands));
	if (ret)
		return ret;
	c = &x->cands[x->ncands];
	memset(c, 0, sizeof(*c));
	c->s.vip = *vip;
	c->s.port = sp->port;
	c->s.proto = sp->proto;
	c->s.affinity_s = so->affinity_s;
	c->seq = x->ncands;
	/* Ranges of the same address family as the VIP, on load-balancer VIPs only. */
	for (size_t i = 0; lb && i < so->nranges; i++) {
		if (xvip_addr_is_v4(&so->ranges[i].addr) != xvip_addr_is_v4(vip))
			continue;
		if (!c->s.src_ranges) {
			c->s.src_ranges = calloc(so->nranges, sizeof(*c->s.src_ranges));
			if (!c->s.src_ranges)
				return -ENOMEM;
		}
		c->s.src_ranges[c->s.nsrc_ranges++] = so->ranges[i];
	}
	if (asprintf(&c->s.name, "%s/%s%s%s", ob->ns, ob->name, *sp->name ? ":" : "",
		     sp->name) < 0) {
		c->s.name = NULL;
		free(c->s.src_ranges);
		c->s.src_ranges = NULL;
		return -ENOMEM;
	}
	c->owner_len = strlen(ob->ns) + 1 + strlen(ob->name);
	ret = collect_backends(x, ob->ns, ob->name, xvip_addr_is_v4(vip), sp, &c->s);
	if (ret) {
		free(c->s.name);
		free(c->s.src_ranges);
		return ret;
	}
	x->ncands++;
	return 0;
}

/* One Service: one candidate entry per (VIP, port). */
static int svc_parse(struct xlate *x, struct json_object *j, size_t idx)
{
	struct svc_port *ports = NULL;
	struct vips vips = { 0 };
	struct svc_opts so = { 0 };
	struct json_object *spec;
	const char *type;
	size_t nports = 0, lb_first = 0;
	bool headless;
	char label[32];
	struct obj ob;
	int ret;

	snprintf(label, sizeof(label), "#%zu", idx);
	ret = obj_init(&ob, "Service", label, j, x->err, x->errlen) ?:
	      get_member(&ob, j, "", "spec", json_type_object, true, &spec) ?:
	      get_str(&ob, spec, "spec", "type", false, &type);
	if (ret)
		return ret;
	/* Normal objects in any cluster: debug, so a reload does not flood the log. */
	if (type && !strcmp(type, "ExternalName")) {
		log_debug("Service %s/%s: type ExternalName, ignored", ob.ns, ob.name);
		return 0;
	}
	ret = svc_vips(x, &ob, j, spec, &vips, &headless, &lb_first);
	if (ret)
		goto out;
	if (headless) {
		log_debug("Service %s/%s: headless, ignored", ob.ns, ob.name);
		goto out;
	}
	ret = svc_ports(&ob, spec, &ports, &nports) ?: svc_opts_parse(&ob, spec, &so);
	if (ret)
		goto out;
	for (size_t v = 0; v < vips.n; v++) {
		for (size_t p = 0; p < nports; p++) {
			ret = add_cand(x, &ob, &vips.a[v], &ports[p], &so, v >= lb_first);
			if (ret)
				goto out;
		}
	}
out:
	free(ports);
	free(vips.a);
	free(so.ranges);
	return ret;
}

/* The model order: (vip, port, proto). */
static int key_cmp(const struct xvip_model_svc *a, const struct xvip_model_svc *b)
{
	int c = xvip_addr_cmp(&a->vip, &b->vip);

	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return 0;
}

static int cand_cmp(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	size_t n = a->owner_len < b->owner_len ? a->owner_len : b->owner_len;
	int c;

	c = key_cmp(&a->s, &b->s);
	if (c)
		return c;
	/* strcmp of the two "ns/name" prefixes. */
	c = memcmp(a->s.name, b->s.name, n);
	if (c)
		return c;
	if (a->owner_len != b->owner_len)
		return a->owner_len < b->owner_len ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void svc_free(struct xvip_model_svc *s)
{
	free(s->name);
	free(s->backends);
	free(s->src_ranges);
	memset(s, 0, sizeof(*s));
}

/* Sorts the candidates and keeps, for each VIP:port/proto, the Service sorting first. */
static int resolve(struct xlate *x, struct xvip_model *out)
{
	char ep[XVIP_EPSTRLEN];
	size_t n = 0;

	if (!x->ncands)
		return 0;
	qsort(x->cands, x->ncands, sizeof(*x->cands), cand_cmp);
	out->svcs = calloc(x->ncands, sizeof(*out->svcs));
	if (!out->svcs)
		return -ENOMEM;
	for (size_t i = 0; i < x->ncands; i++) {
		struct cand *c = &x->cands[i];

		if (n && !key_cmp(&out->svcs[n - 1], &c->s)) {
			log_warn("%s claimed by both %s and %s, keeping %s",
				 xvip_endpoint_str(&c->s.vip, c->s.port, c->s.proto, ep,
						   sizeof(ep)),
				 out->svcs[n - 1].name, c->s.name, out->svcs[n - 1].name);
			svc_free(&c->s);
			continue;
		}
		out->svcs[n++] = c->s;
		memset(&c->s, 0, sizeof(c->s));
	}
	out->nsvcs = n;
	return 0;
}

/*
 * The translation proper, independent of where the objects came from: the
 * services file and the API source both end here.
 */
int xvip_model_from_objects(struct json_object *const *services, size_t nservices,
			    struct json_object *const *slices, size_t nslices,
			    const struct xvip_model_opts *o, struct xvip_model *out, char *err,
			    size_t errlen)
{
	struct xlate x = { .o = o, .err = err, .errlen = errlen };
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (nslices) {
		x.slices = calloc(nslices, sizeof(*x.slices));
		if (!x.slices) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < nslices; i++) {
		bool keep;

		ret = slice_parse(&x, slices[i], i, &x.slices[x.nslices], &keep);
		if (ret)
			goto out;
		if (keep)
			x.nslices++;
	}
	if (x.nslices)
		qsort(x.slices, x.nslices, sizeof(*x.slices), slice_cmp);
	if (x.eps.n) {
		size_t w = 1;

		qsort(x.eps.a, x.eps.n, sizeof(*x.eps.a), addr_cmp_v);
		for (size_t r = 1; r < x.eps.n; r++)
			if (xvip_addr_cmp(&x.eps.a[r], &x.eps.a[w - 1]))
				x.eps.a[w++] = x.eps.a[r];
		x.eps.n = w;
	}
	for (size_t i = 0; i < nservices; i++) {
		ret = svc_parse(&x, services[i], i);
		if (ret)
			goto out;
	}
	ret = resolve(&x, out);
out:
	if (ret == -ENOMEM)
		xvip_set_err(err, errlen, "out of memory");
	if (ret)
		xvip_model_free(out);
	for (size_t i = 0; i < x.ncands; i++)
		svc_free(&x.cands[i].s);
	free(x.cands);
	for (size_t i = 0; i < x.nslices; i++)
		slice_free(&x.slices[i]);
	free(x.slices);
	free(x.eps.a);
	return ret;
}

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

void xvip_model_free(struct xvip_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsvcs; i++)
		svc_free(&m->svcs[i]);
	free(m->svcs);
	memset(m, 0, sizeof(*m));
}

void xvip_model_filter(struct xvip_model *m,
		       bool (*keep)(const struct xvip_model_svc *s, void *ctx), void *ctx)
{
	size_t w = 0;

	for (size_t i = 0; i < m->nsvcs; i++) {
		if (keep(&m->svcs[i], ctx))
			m->svcs[w++] = m->svcs[i];
		else
			svc_free(&m->svcs[i]);
	}
	m->nsvcs = w;
}

static void *memdup(const void *p, size_t len)
{
	void *q = len ? malloc(len) : NULL;

	if (q)
		memcpy(q, p, len);
	return q;
}

int xvip_model_dup(struct xvip_model *dst, const struct xvip_model *src)
{
	memset(dst, 0, sizeof(*dst));
	if (!src->nsvcs)
		return 0;
	dst->svcs = calloc(src->nsvcs, sizeof(*dst->svcs));
	if (!dst->svcs)
		return -ENOMEM;
	for (size_t i = 0; i < src->nsvcs; i++) {
		const struct xvip_model_svc *s = &src->svcs[i];
		struct xvip_model_svc *d = &dst->svcs[i];

		*d = *s;
		d->name = s->name ? strdup(s->name) : NULL;
		d->backends = memdup(s->backends, s->nbackends * sizeof(*s->backends));
		d->src_ranges = memdup(s->src_ranges, s->nsrc_ranges * sizeof(*s->src_ranges));
		dst->nsvcs++;
		if ((s->name && !d->name) || (s->nbackends && !d->backends) ||
		    (s->nsrc_ranges && !d->src_ranges)) {
			xvip_model_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

const struct xvip_model_svc *xvip_model_find(const struct xvip_model *m,
					     const struct xvip_addr *vip, uint16_t port,
					     uint8_t proto)
{
	struct xvip_model_svc key = { .vip = *vip, .port = port, .proto = proto };
	size_t lo = 0, hi = m->nsvcs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(&m->svcs[mid], &key);

		if (!c)
			return &m->svcs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- the index: translation one Service at a time, for the API source */

/*
 * The API source changes one object at a time in a cluster of 10,000s of
 * Services, where translating the whole cache for each event costs 100s of
 * ms. The index keeps each Service's own translation (its candidate
 * entries) and, per VIP, which Services claim it. A changed Service or
 * EndpointSlice re-translates its Service only, plus the Services naming as a
 * VIP an endpoint address that appeared or went (such a VIP is refused), and
 * only the VIPs those Services claim or claimed are resolved again. The model
 * is the one xvip_model_from_objects gives for the same objects: the same
 * functions translate, and conflicts are resolved by the same order
 * (tests/test_model.c compares the two after every step of a random walk).
 */

struct ix_slice;

struct ix_svc {
	char *key;			/* "ns/name"; first member: the trees compare it */
	struct json_object *obj;	/* NULL: only EndpointSlices name it so far */
	struct ix_slice **slices;	/* the kept EndpointSlices labelled with it */
	size_t nslices, capslices;
	struct cand *cands;		/* its entries, translated alone, in input order */
	size_t ncands;
	struct addr_set deps;		/* VIPs it names that an endpoint address refuses */
	bool dirty;
};

struct ix_slice {
	char *key;			/* "ns/name" of the EndpointSlice */
	struct json_object *obj;
	struct slice sl;		/* its strings point into obj */
	struct addr_set addrs;		/* every endpoint address in it, sorted, unique */
	struct ix_svc *svc;		/* NULL: not kept (no service label, FQDN) */
};

/* Service svc's candidate idx claims a port of the VIP. */
struct ix_claim {
	struct ix_svc *svc;
	size_t idx;
};

struct ix_vip {
	struct xvip_addr addr;		/* first member: the tree compares it */
	struct ix_claim *claims;
	size_t nclaims, capclaims;
	struct xvip_model_svc *win;	/* the resolved entries, shallow copies of cands */
	size_t nwin;
	bool changed;
};

struct xvip_model_index {
	struct xvip_model_opts o;
	void *svcs, *slices, *vips;	/* tsearch trees */
	size_t nvips;
	/* Every endpoint address of every kept slice, sorted, and how many slices name it. */
	struct xvip_addr *ep_a;
	size_t *ep_refs;
	size_t neps, capeps;
	struct addr_set eps_changed;	/* addresses that appeared or went since the commit */
	bool all_dirty;			/* out of memory while marking: translate everything */
	struct ix_svc **dirty;
	size_t ndirty, capdirty;
	struct ix_vip **changed;
	size_t nchanged, capchanged;
	/* What the last commit and xvip_model_index_model handed out (shallow). */
	struct xvip_model delta, full;
	struct xvip_addr *delta_vips;
};

static int ix_key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ix_vip_cmp(const void *a, const void *b)
{
	return xvip_addr_cmp(a, b);
}

static void *ix_find(void *const *root, const char *key)
{
	const char *probe = key;
	void **p = tfind(&probe, root, ix_key_cmp);

	return p ? *p : NULL;
}

static void ix_mark(struct xvip_model_index *x, struct ix_svc *s)
{
	if (s->dirty)
		return;
	if (xvip_grow((void **)&x->dirty, &x->capdirty, x->ndirty, sizeof(*x->dirty))) {
		x->all_dirty = true;
		return;
	}
	x->dirty[x->ndirty++] = s;
	s->dirty = true;
}

static struct ix_svc *ix_svc_get(struct xvip_model_index *x, const char *key, bool create)
{
	struct ix_svc *s = ix_find(&x->svcs, key);

	if (s || !create)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->key = strdup(key)) || !tsearch(s, &x->svcs, ix_key_cmp)) {
		if (s)
			free(s->key);
		free(s);
		return NULL;
	}
	return s;
}

static struct ix_vip *ix_vip_get(struct xvip_model_index *x, const struct xvip_addr *a,
				 bool create)
{
	void **p = tfind(a, &x->vips, ix_vip_cmp);
	struct ix_vip *v;

	if (p || !create)
		return p ? *p : NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->addr = *a;
	if (!tsearch(v, &x->vips, ix_vip_cmp)) {
		free(v);
		return NULL;
	}
	x->nvips++;
	return v;
}

static int ix_vip_changed(struct xvip_model_index *x, struct ix_vip *v)
{
	int ret;

	if (v->changed)
		return 0;
	ret = xvip_grow((void **)&x->changed, &x->capchanged, x->nchanged, sizeof(*x->changed));
	if (ret)
		return ret;
	x->changed[x->nchanged++] = v;
	v->changed = true;
	return 0;
}

/* Count one more (delta 1) or one fewer (-1) slice naming endpoint address a. */
static int ix_ep_ref(struct xvip_model_index *x, const struct xvip_addr *a, int delta)
{
	size_t lo = 0, hi = x->neps;
	int ret;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = xvip_addr_cmp(&x->ep_a[mid], a);

		if (!c) {
			lo = mid;
			break;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < x->neps && !xvip_addr_cmp(&x->ep_a[lo], a)) {
		if (delta > 0) {
			x->ep_refs[lo]++;
			return 0;
		}
		if (--x->ep_refs[lo])
			return 0;
		memmove(&x->ep_a[lo], &x->ep_a[lo + 1], (x->neps - lo - 1) * sizeof(*x->ep_a));
		memmove(&x->ep_refs[lo], &x->ep_refs[lo + 1],
			(x->neps - lo - 1) * sizeof(*x->ep_refs));
		x->neps--;
	} else {
		if (delta < 0)
			return 0;
		if (x->neps == x->capeps) {
			size_t cap = x->capeps ? x->capeps * 2 : 64;
			struct xvip_addr *na = reallocarray(x->ep_a, cap, sizeof(*na));
			size_t *nr;

			if (!na)
				return -ENOMEM;
			x->ep_a = na;
			nr = reallocarray(x->ep_refs, cap, sizeof(*nr));
			if (!nr)
				return -ENOMEM;
			x->ep_refs = nr;
			x->capeps = cap;
		}
		memmove(&x->ep_a[lo + 1], &x->ep_a[lo], (x->neps - lo) * sizeof(*x->ep_a));
		memmove(&x->ep_refs[lo + 1], &x->ep_refs[lo], (x->neps - lo) * sizeof(*x->ep_refs));
		x->ep_a[lo] = *a;
		x->ep_refs[lo] = 1;
		x->neps++;
	}
	/* The set itself changed: Services naming a as a VIP are translated again. */
	ret = xvip_grow((void **)&x->eps_changed.a, &x->eps_changed.cap, x->eps_changed.n,
		        sizeof(*x->eps_changed.a));
	if (ret) {
		x->all_dirty = true;
		return 0;
	}
	x->eps_changed.a[x->eps_changed.n++] = *a;
	return 0;
}

int xvip_model_index_new(struct xvip_model_index **out, const struct xvip_model_opts *o)
{
	struct xvip_model_index *x = calloc(1, sizeof(*x));

	*out = x;
	if (!x)
		return -ENOMEM;
	x->o = *o;
	return 0;
}

/* Take sl out of its Service and of the endpoint addresses; sl keeps its key. */
static void ix_slice_clear(struct xvip_model_index *x, struct ix_slice *sl)
{
	struct ix_svc *s = sl->svc;

	if (s) {
		for (size_t i = 0; i < s->nslices; i++) {
			if (s->slices[i] == sl) {
				s->slices[i] = s->slices[--s->nslices];
				break;
			}
		}
		ix_mark(x, s);
		for (size_t i = 0; i < sl->addrs.n; i++)
			ix_ep_ref(x, &sl->addrs.a[i], -1);
	}
	slice_free(&sl->sl);
	free(sl->addrs.a);
	memset(&sl->addrs, 0, sizeof(sl->addrs));
	json_object_put(sl->obj);
	sl->obj = NULL;
	sl->svc = NULL;
}

int xvip_model_index_slice(struct xvip_model_index *x, const char *key, struct json_object *obj)
{
	struct ix_slice *sl = ix_find(&x->slices, key);
	struct xlate t = { .o = &x->o };
	char err[MODEL_ERRLEN], skey[600];
	struct ix_svc *s;
	bool keep = false;
	int ret;

	t.err = err;
	t.errlen = sizeof(err);
	if (sl)
		ix_slice_clear(x, sl);
	if (!obj) {
		if (sl) {
			tdelete(sl, &x->slices, ix_key_cmp);
			free(sl->key);
			free(sl);
		}
		return 0;
	}
	if (!sl) {
		sl = calloc(1, sizeof(*sl));
		if (!sl || !(sl->key = strdup(key)) || !tsearch(sl, &x->slices, ix_key_cmp)) {
			if (sl)
				free(sl->key);
			free(sl);
			return -ENOMEM;
		}
	}
	sl->obj = json_object_get(obj);
	ret = slice_parse(&t, obj, 0, &sl->sl, &keep);
	if (ret || !keep) {
		/* The source checked the object alone first: only memory can fail here. */
		if (ret)
			log_err("EndpointSlice %s: %s", key, ret == -ENOMEM ? "out of memory" : err);
		free(t.eps.a);
		return ret;
	}
	if (t.eps.n) {
		size_t w = 1;

		qsort(t.eps.a, t.eps.n, sizeof(*t.eps.a), addr_cmp_v);
		for (size_t r = 1; r < t.eps.n; r++)
			if (xvip_addr_cmp(&t.eps.a[r], &t.eps.a[w - 1]))
				t.eps.a[w++] = t.eps.a[r];
		t.eps.n = w;
	}
	sl->addrs = t.eps;
	snprintf(skey, sizeof(skey), "%s/%s", sl->sl.ns, sl->sl.svc);
	s = ix_svc_get(x, skey, true);
	if (!s || xvip_grow((void **)&s->slices, &s->capslices, s->nslices, sizeof(*s->slices))) {
		slice_free(&sl->sl);
		free(sl->addrs.a);
		memset(&sl->addrs, 0, sizeof(sl->addrs));
		return -ENOMEM;
	}
	s->slices[s->nslices++] = sl;
	sl->svc = s;
	ix_mark(x, s);
	for (size_t i = 0; i < sl->addrs.n; i++) {
		ret = ix_ep_ref(x, &sl->addrs.a[i], 1);
		if (ret) {
			/* Count only what was counted, so clearing the slice stays exact. */
			sl->addrs.n = i;
			return ret;
		}
	}
	return 0;
}

int xvip_model_index_service(struct xvip_model_index *x, const char *key,
			     struct json_object *obj)
{
	struct ix_svc *s = ix_svc_get(x, key, obj != NULL);

	if (!s)
		return obj ? -ENOMEM : 0;
	json_object_put(s->obj);
	s->obj = obj ? json_object_get(obj) : NULL;
	ix_mark(x, s);
	return 0;
}

static void ix_claims_drop(struct xvip_model_index *x, struct ix_svc *s)
{
	for (size_t i = 0; i < s->ncands; i++) {
		struct ix_vip *v = ix_vip_get(x, &s->cands[i].s.vip, false);

		if (!v)
			continue;
		for (size_t k = 0; k < v->nclaims; k++) {
			if (v->claims[k].svc == s && v->claims[k].idx == i) {
				v->claims[k] = v->claims[--v->nclaims];
				break;
			}
		}
		/* Its entries point into cands about to be freed: resolved again in any case. */
		if (ix_vip_changed(x, v))
			x->all_dirty = true;
	}
	for (size_t i = 0; i < s->ncands; i++)
		svc_free(&s->cands[i].s);
	free(s->cands);
	s->cands = NULL;
	s->ncands = 0;
	s->deps.n = 0;
}

/* Translate Service s alone again, with its slices and today's endpoint addresses. */
static int ix_translate(struct xvip_model_index *x, struct ix_svc *s)
{
	struct xlate t = { .o = &x->o, .eps = { .a = x->ep_a, .n = x->neps },
			   .eps_deps = &s->deps };
	char err[MODEL_ERRLEN];
	int ret = 0;

	ix_claims_drop(x, s);
	if (!s->obj)
		return 0;
	t.err = err;
	t.errlen = sizeof(err);
	if (s->nslices) {
		t.slices = calloc(s->nslices, sizeof(*t.slices));
		if (!t.slices)
			return -ENOMEM;
		for (size_t i = 0; i < s->nslices; i++)
			t.slices[i] = s->slices[i]->sl;
		t.nslices = s->nslices;
	}
	ret = svc_parse(&t, s->obj, 0);
	free(t.slices);
	if (ret) {
		for (size_t i = 0; i < t.ncands; i++)
			svc_free(&t.cands[i].s);
		free(t.cands);
		if (ret == -ENOMEM)
			return ret;
		/* Checked alone before it came in: not expected; it claims nothing. */
		log_err("Service %s: %s", s->key, err);
		return 0;
	}
	s->cands = t.cands;
	s->ncands = t.ncands;
	for (size_t i = 0; i < s->ncands; i++) {
		struct ix_vip *v = ix_vip_get(x, &s->cands[i].s.vip, true);

		if (!v || xvip_grow((void **)&v->claims, &v->capclaims, v->nclaims,
				    sizeof(*v->claims)))
			return -ENOMEM;
		v->claims[v->nclaims++] = (struct ix_claim){ .svc = s, .idx = i };
		ret = ix_vip_changed(x, v);
		if (ret)
			return ret;
	}
	return 0;
}

/* Claims of one VIP in the order resolve() sorts candidates: port, proto, owner, input. */
static int ix_claim_cmp(const void *pa, const void *pb)
{
	const struct ix_claim *a = pa, *b = pb;
	/* One Service's candidates are numbered in input order, as seq is. */
	return cand_cmp(&a->svc->cands[a->idx], &b->svc->cands[b->idx]);
}

static int ix_resolve(struct ix_vip *v)
{
	char ep[XVIP_EPSTRLEN];
	size_t n = 0;

	free(v->win);
	v->win = NULL;
	v->nwin = 0;
	if (!v->nclaims)
		return 0;
	qsort(v->claims, v->nclaims, sizeof(*v->claims), ix_claim_cmp);
	v->win = calloc(v->nclaims, sizeof(*v->win));
	if (!v->win)
		return -ENOMEM;
	for (size_t i = 0; i < v->nclaims; i++) {
		const struct cand *c = &v->claims[i].svc->cands[v->claims[i].idx];

		if (n && !key_cmp(&v->win[n - 1], &c->s)) {
			log_warn("%s claimed by both %s and %s, keeping %s",
				 xvip_endpoint_str(&c->s.vip, c->s.port, c->s.proto, ep,
						   sizeof(ep)),
				 v->win[n - 1].name, c->s.name, v->win[n - 1].name);
			continue;
		}
		v->win[n++] = c->s;
	}
	v->nwin = n;
	return 0;
}

struct ix_walk {
	struct xvip_model_index *x;
	struct xvip_model *m;		/* full model: entries appended in VIP order */
	int err;
};

static void ix_mark_deps(const void *node, VISIT which, void *arg)
{
	struct ix_walk *w = arg;
	struct ix_svc *s = *(struct ix_svc *const *)node;
	const struct addr_set *ch = &w->x->eps_changed;

	if (which != postorder && which != leaf)
		return;
	if (w->x->all_dirty) {
		ix_mark(w->x, s);
		return;
	}
	for (size_t i = 0; i < s->deps.n && !s->dirty; i++)
		if (bsearch(&s->deps.a[i], ch->a, ch->n, sizeof(*ch->a), addr_cmp_v))
			ix_mark(w->x, s);
}

static int ix_changed_cmp(const void *a, const void *b)
{
	return xvip_addr_cmp(&(*(struct ix_vip *const *)a)->addr,
			     &(*(struct ix_vip *const *)b)->addr);
}

int xvip_model_index_commit(struct xvip_model_index *x, const struct xvip_model **delta,
			    const struct xvip_addr **vips, size_t *nvips)
{
	struct ix_walk w = { .x = x };
	size_t n = 0, nv = 0;
	int ret = 0;

	free(x->delta.svcs);
	free(x->delta_vips);
	memset(&x->delta, 0, sizeof(x->delta));
	x->delta_vips = NULL;
	*delta = &x->delta;
	*vips = NULL;
	*nvips = 0;

	if (x->eps_changed.n || x->all_dirty) {
		if (x->eps_changed.n)	/* qsort's base must not be NULL (UBSan) */
			qsort(x->eps_changed.a, x->eps_changed.n, sizeof(*x->eps_changed.a),
			      addr_cmp_v);
		twalk_r(x->svcs, ix_mark_deps, &w);
		x->eps_changed.n = 0;
		x->all_dirty = false;
	}
	/* Translate from the end, so what fails stays queued for the next commit. */
	while (x->ndirty) {
		struct ix_svc *s = x->dirty[x->ndirty - 1];

		ret = ix_translate(x, s);
		if (ret)
			goto out;
		x->ndirty--;
		s->dirty = false;
		if (!s->obj && !s->nslices) {
			tdelete(s, &x->svcs, ix_key_cmp);
			free(s->deps.a);
			free(s->slices);
			free(s->key);
			free(s);
		}
	}
	if (x->nchanged)
		qsort(x->changed, x->nchanged, sizeof(*x->changed), ix_changed_cmp);
	for (size_t i = 0; i < x->nchanged; i++) {
		ret = ix_resolve(x->changed[i]);
		if (ret)
			goto out;
		n += x->changed[i]->nwin;
	}
	x->delta.svcs = calloc(n + 1, sizeof(*x->delta.svcs));
	x->delta_vips = calloc(x->nchanged + 1, sizeof(*x->delta_vips));
	if (!x->delta.svcs || !x->delta_vips) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < x->nchanged; i++) {
		struct ix_vip *v = x->changed[i];

		if (v->nwin)
			memcpy(&x->delta.svcs[x->delta.nsvcs], v->win, v->nwin * sizeof(*v->win));
		x->delta.nsvcs += v->nwin;
		x->delta_vips[nv++] = v->addr;
		v->changed = false;
		if (!v->nclaims) {
			tdelete(v, &x->vips, ix_vip_cmp);
			x->nvips--;
			free(v->claims);
			free(v->win);
			free(v);
		}
	}
	x->nchanged = 0;
	*vips = x->delta_vips;
	*nvips = nv;
	return 0;
out:
	/* What is queued stays queued: the next commit does it again. */
	free(x->delta.svcs);
	memset(&x->delta, 0, sizeof(x->delta));
	return ret;
}

static void ix_collect(const void *node, VISIT which, void *arg)
{
	struct ix_walk *w = arg;
	const struct ix_vip *v = *(struct ix_vip *const *)node;

	if (which != postorder && which != leaf)
		return;
	if (v->nwin)
		memcpy(&w->m->svcs[w->m->nsvcs], v->win, v->nwin * sizeof(*v->win));
	w->m->nsvcs += v->nwin;
}

static void ix_count(const void *node, VISIT which, void *arg)
{
	size_t *n = arg;

	if (which == postorder || which == leaf)
		*n += (*(struct ix_vip *const *)node)->nwin;
}

int xvip_model_index_model(struct xvip_model_index *x, const struct xvip_model **m)
{
	struct ix_walk w = { .x = x, .m = &x->full };
	size_t n = 0;

	free(x->full.svcs);
	memset(&x->full, 0, sizeof(x->full));
	*m = &x->full;
	twalk_r(x->vips, ix_count, &n);
	x->full.svcs = calloc(n + 1, sizeof(*x->full.svcs));
	if (!x->full.svcs)
		return -ENOMEM;
	twalk_r(x->vips, ix_collect, &w);
	return 0;
}

static void ix_svc_destroy(void *p)
{
	struct ix_svc *s = p;

	for (size_t i = 0; i < s->ncands; i++)
		svc_free(&s->cands[i].s);
	free(s->cands);
	free(s->deps.a);
	free(s->slices);
	json_object_put(s->obj);
	free(s->key);
	free(s);
}

static void ix_slice_destroy(void *p)
{
	struct ix_slice *sl = p;

	slice_free(&sl->sl);
	free(sl->addrs.a);
	json_object_put(sl->obj);
	free(sl->key);
	free(sl);
}

static void ix_vip_destroy(void *p)
{
	struct ix_vip *v = p;

	free(v->claims);
	free(v->win);
	free(v);
}

void xvip_model_index_free(struct xvip_model_index *x)
{
	if (!x)
		return;
	tdestroy(x->vips, ix_vip_destroy);
	tdestroy(x->slices, ix_slice_destroy);
	tdestroy(x->svcs, ix_svc_destroy);
	free(x->ep_a);
	free(x->ep_refs);
	free(x->eps_changed.a);
	free(x->dirty);
	free(x->changed);
	free(x->delta.svcs);
	free(x->full.svcs);
	free(x->delta_vips);
	free(x);
}
