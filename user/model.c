// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Services and EndpointSlices -> the VIP:port/proto entries this node serves
 * and their local endpoints.
 *
 * The translation (xvip_model_from_objects) works on json_objects of one Service or
 * one EndpointSlice each and does not care where they came from; the services
 * file (model_list.c) only adds the List envelope around them, the API source
 * hands them over one by one (model_index.c). Every object is validated in
 * full, including endpoints on other nodes: a bad file is rejected as a whole
 * so the daemon keeps its previous state instead of programming half of it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model_int.h"
#include "util.h"

#define LABEL_SERVICE_NAME	"kubernetes.io/service-name"

struct svc_port {
	const char *name;	/* "" when unnamed */
	uint16_t port;
	uint8_t proto;
};

void slice_free(struct slice *sl)
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
int slice_parse(struct xlate *x, struct json_object *j, size_t idx, struct slice *sl,
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

int addr_cmp_v(const void *a, const void *b)
{
	return xvip_addr_cmp(a, b);
}

void addr_set_unique(struct addr_set *s)
{
	size_t w = 1;

	if (!s->n)
		return;
	qsort(s->a, s->n, sizeof(*s->a), addr_cmp_v);
	for (size_t r = 1; r < s->n; r++)
		if (xvip_addr_cmp(&s->a[r], &s->a[w - 1]))
			s->a[w++] = s->a[r];
	s->n = w;
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
int svc_parse(struct xlate *x, struct json_object *j, size_t idx)
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
int key_cmp(const struct xvip_model_svc *a, const struct xvip_model_svc *b)
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

int cand_cmp(const void *pa, const void *pb)
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

void svc_free(struct xvip_model_svc *s)
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
	addr_set_unique(&x.eps);
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
