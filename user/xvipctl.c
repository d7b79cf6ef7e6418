// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * xvipctl: inspect xvip's pinned maps. Works while xvipd is down. Tables for
 * people, `-o json` for scripts.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <json-c/json.h>

#include "addr.h"
#include "frr.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "opts.h"
#include "stats.h"
#include "status.h"
#include "xvip_hash.h"

struct ctl {
	struct xvip_maps m;
	bool json;
	const char *pin_dir;
	const char *state_file;
	struct xvip_frr_opts frr;	/* vtysh for the BGP and BFD sessions */
	bool no_frr;
};

#define F(field) XVIP_OPT_FIELD(struct ctl, field)

static const char *const output_words[] = { "json", "table", NULL };
static const int output_values[] = { 1, 0 };

static const struct xvip_opt ctl_opts[] = {
	{ "pin-dir", 'p', XVIP_OPT_STR, .arg = "DIR", F(pin_dir),
	  .help = "where xvipd pinned its maps (default /sys/fs/bpf/xvip)" },
	{ "state-file", .type = XVIP_OPT_STR, .arg = "PATH", F(state_file),
	  .help = "xvipd's sync state (default " XVIP_STATE_FILE ")" },
	{ "frr-vtysh", .type = XVIP_OPT_STR, .arg = "PATH", F(frr.vtysh),
	  .help = "vtysh program for FRR's sessions (default vtysh from PATH)" },
	{ "frr-vty-socket", .type = XVIP_OPT_STR, .arg = "DIR", F(frr.vty_socket),
	  .help = "FRR's vty socket directory (default FRR's)" },
	{ "no-frr", .type = XVIP_OPT_FLAG, F(no_frr), .help = "status: do not ask FRR" },
	{ "output", 'o', XVIP_OPT_ENUM, F(json), .words = output_words, .values = output_values,
	  .help = "json, or table (default)" },
	{}
};

#undef F

static const struct xvip_opts_prog ctl_prog = {
	.name = "xvipctl",
	.opts = ctl_opts,
	.col = 26,
	.usage =
		"Usage: xvipctl [--pin-dir DIR] [--state-file PATH] [-o json] COMMAND\n"
		"       [--frr-vtysh PATH] [--frr-vty-socket DIR] [--no-frr]  (status: FRR's sessions)\n"
		"\n"
		"Commands (read the maps pinned by xvipd, default /sys/fs/bpf/xvip):\n"
		"  status                               programs attached, map fill, sync summary,\n"
		"                                       each VIP advertised or not and why, and\n"
		"                                       FRR's BGP and BFD sessions (through vtysh)\n"
		"  services                             every VIP:port/proto with its counters\n"
		"  backends VIP:PORT/PROTO              local endpoints of one service port\n"
		"  lookup CLIENT_IP:PORT VIP:PORT/PROTO the endpoint the dataplane picks for that flow\n"
		"  conntrack                            balanced flows with endpoint and age\n"
		"  stats                                packet counters and drop reasons\n"
		"\n"
		"Options:\n",
};

static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);	/* bpf_ktime_get_ns() runs on this clock */
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- services */

struct svc_row {
	struct xvip_svc_key k;
	struct xvip_svc_val v;
	uint32_t table_size;
	unsigned int nready, nserving, nother;
	struct xvip_counter c;
};

struct svc_list {
	struct svc_row *rows;
	size_t n, cap;
};

static int svc_collect(const struct xvip_svc_key *k, const struct xvip_svc_val *v, void *arg)
{
	struct svc_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		void *p = realloc(l->rows, cap * sizeof(*l->rows));

		if (!p)
			return -ENOMEM;
		l->rows = p;
		l->cap = cap;
	}
	memset(&l->rows[l->n], 0, sizeof(l->rows[0]));
	l->rows[l->n].k = *k;
	l->rows[l->n].v = *v;
	l->n++;
	return 0;
}

static int svc_row_cmp(const void *a, const void *b)
{
	const struct svc_row *x = a, *y = b;
	int c = xvip_addr_cmp(&x->k.vip, &y->k.vip);

	if (c)
		return c;
	if (x->k.port != y->k.port)
		return ntohs(x->k.port) < ntohs(y->k.port) ? -1 : 1;
	return (int)x->k.proto - (int)y->k.proto;
}

struct be_count_ctx {
	struct svc_list *l;
	struct svc_row **by_id;
};

static int be_count(uint32_t id, const struct xvip_backend *be, void *arg)
{
	struct be_count_ctx *c = arg;
	struct svc_row *r = be->svc_id < XVIP_MAX_SVCS ? c->by_id[be->svc_id] : NULL;

	if (!r)
		return 0;
	if (be->state == XVIP_BE_READY)
		r->nready++;
	else if (be->state == XVIP_BE_SERVING)
		r->nserving++;
	else
		r->nother++;
	return 0;
}

static int load_services(struct ctl *c, struct svc_list *l)
{
	struct be_count_ctx bc = { .l = l };
	int ret;

	ret = xvip_maps_svc_foreach(&c->m, svc_collect, l);
	if (ret)
		return ret;
	qsort(l->rows, l->n, sizeof(*l->rows), svc_row_cmp);
	bc.by_id = calloc(XVIP_MAX_SVCS, sizeof(*bc.by_id));
	if (!bc.by_id)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		uint32_t *t, size;

		if (l->rows[i].v.id < XVIP_MAX_SVCS)
			bc.by_id[l->rows[i].v.id] = &l->rows[i];
		if (!xvip_maps_maglev_read(&c->m, l->rows[i].v.id, &t, &size)) {
			l->rows[i].table_size = size;
			free(t);
		}
		xvip_maps_counter(&c->m, c->m.svc_stats, l->rows[i].v.id, &l->rows[i].c);
	}
	ret = xvip_maps_be_foreach(&c->m, be_count, &bc);
	free(bc.by_id);
	return ret;
}

static int cmd_services(struct ctl *c)
{
	struct svc_list l = {};
	char ep[XVIP_EPSTRLEN];
	int ret = load_services(c, &l);

	if (ret)
		goto out;
	if (c->json) {
		struct json_object *arr = json_object_new_array();

		for (size_t i = 0; i < l.n; i++) {
			struct svc_row *r = &l.rows[i];
			struct json_object *o = json_object_new_object();
			char a[XVIP_ADDRSTRLEN];

			json_object_object_add(o, "vip", json_object_new_string(
				xvip_addr_str(&r->k.vip, a, sizeof(a))));
			json_object_object_add(o, "port", json_object_new_int(ntohs(r->k.port)));
			json_object_object_add(o, "protocol", json_object_new_string(
				xvip_proto_str(r->k.proto)));
			json_object_object_add(o, "id", json_object_new_int64(r->v.id));
			json_object_object_add(o, "maglev_size", json_object_new_int64(r->table_size));
			json_object_object_add(o, "ready", json_object_new_int(r->nready));
			json_object_object_add(o, "serving", json_object_new_int(r->nserving));
			json_object_object_add(o, "packets", json_object_new_uint64(r->c.packets));
			json_object_object_add(o, "bytes", json_object_new_uint64(r->c.bytes));
			json_object_array_add(arr, o);
		}
		print_json(arr);
		goto out;
	}
	printf("%-28s %6s %7s %6s %8s %14s %16s\n", "SERVICE", "ID", "MAGLEV", "READY", "SERVING",
	       "PACKETS", "BYTES");
	for (size_t i = 0; i < l.n; i++) {
		struct svc_row *r = &l.rows[i];

		printf("%-28s %6u %7u %6u %8u %14llu %16llu\n",
		       xvip_endpoint_str(&r->k.vip, ntohs(r->k.port), r->k.proto, ep, sizeof(ep)),
		       r->v.id, r->table_size, r->nready, r->nserving,
		       (unsigned long long)r->c.packets, (unsigned long long)r->c.bytes);
	}
out:
	free(l.rows);
	return ret;
}

/* ---- backends of one service */

struct be_list_ctx {
	uint32_t svc_id;
	struct {
		uint32_t id;
		struct xvip_backend be;
	} *rows;
	size_t n, cap;
};

static int be_collect(uint32_t id, const struct xvip_backend *be, void *arg)
{
	struct be_list_ctx *c = arg;

	if (be->svc_id != c->svc_id)
		return 0;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		void *p = realloc(c->rows, cap * sizeof(*c->rows));

		if (!p)
			return -ENOMEM;
		c->rows = p;
		c->cap = cap;
	}
	c->rows[c->n].id = id;
	c->rows[c->n].be = *be;
	c->n++;
	return 0;
}

static int parse_svc_arg(const char *s, struct xvip_svc_key *k)
{
	uint16_t port;

	memset(k, 0, sizeof(*k));
	if (xvip_endpoint_parse(s, &k->vip, &port, &k->proto)) {
		fprintf(stderr, "xvipctl: '%s': want VIP:PORT/PROTO, e.g. 198.18.21.1:80/tcp\n", s);
		return -EINVAL;
	}
	k->port = htons(port);
	return 0;
}

static int cmd_backends(struct ctl *c, const char *arg)
{
	struct be_list_ctx bl = {};
	struct xvip_svc_key k;
	struct xvip_svc_val v;
	uint32_t *table = NULL, size = 0;
	char ep[XVIP_EPSTRLEN];
	int ret;

	if (parse_svc_arg(arg, &k))
		return -EINVAL;
	ret = xvip_maps_svc_get(&c->m, &k, &v);
	if (ret) {
		fprintf(stderr, "xvipctl: no service %s\n", arg);
		return ret;
	}
	bl.svc_id = v.id;
	ret = xvip_maps_be_foreach(&c->m, be_collect, &bl);
	if (ret)
		goto out;
	xvip_maps_maglev_read(&c->m, v.id, &table, &size);

	struct json_object *arr = c->json ? json_object_new_array() : NULL;

	if (!c->json)
		printf("%-8s %-32s %-9s %7s %14s %16s\n", "ID", "ENDPOINT", "STATE", "SLOTS",
		       "PACKETS", "BYTES");
	for (size_t i = 0; i < bl.n; i++) {
		struct xvip_counter cnt = {};
		uint32_t slots = 0;
		char a[XVIP_ADDRSTRLEN];

		for (uint32_t s = 0; s < size; s++)
			slots += table[s] == bl.rows[i].id;
		xvip_maps_counter(&c->m, c->m.be_stats, bl.rows[i].id, &cnt);
		if (c->json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "id", json_object_new_int64(bl.rows[i].id));
			json_object_object_add(o, "address", json_object_new_string(
				xvip_addr_str(&bl.rows[i].be.addr, a, sizeof(a))));
			json_object_object_add(o, "port",
					       json_object_new_int(ntohs(bl.rows[i].be.port)));
			json_object_object_add(o, "state", json_object_new_string(
				xvip_be_state_name(bl.rows[i].be.state)));
			json_object_object_add(o, "maglev_slots", json_object_new_int64(slots));
			json_object_object_add(o, "packets", json_object_new_uint64(cnt.packets));
			json_object_object_add(o, "bytes", json_object_new_uint64(cnt.bytes));
			json_object_array_add(arr, o);
		} else {
			printf("%-8u %-32s %-9s %7u %14llu %16llu\n", bl.rows[i].id,
			       xvip_endpoint_str(&bl.rows[i].be.addr, ntohs(bl.rows[i].be.port), -1,
						 ep, sizeof(ep)),
			       xvip_be_state_name(bl.rows[i].be.state), slots,
			       (unsigned long long)cnt.packets, (unsigned long long)cnt.bytes);
		}
	}
	if (arr)
		print_json(arr);
out:
	free(table);
	free(bl.rows);
	return ret;
}

/* ---- lookup: what the dataplane would do with one flow */

static int cmd_lookup(struct ctl *c, const char *client, const char *svc)
{
	struct xvip_flow f = {};
	struct xvip_svc_key k;
	struct xvip_svc_val v;
	struct xvip_ct_val ct;
	struct xvip_backend be;
	uint32_t *table = NULL, size = 0, be_id, slot = 0;
	const char *via;
	char ep[XVIP_EPSTRLEN], a[XVIP_ADDRSTRLEN];
	uint16_t cport;
	int ret;

	if (xvip_endpoint_parse(client, &f.saddr, &cport, NULL)) {
		fprintf(stderr, "xvipctl: '%s': want CLIENT_IP:PORT\n", client);
		return -EINVAL;
	}
	if (parse_svc_arg(svc, &k))
		return -EINVAL;
	if (xvip_addr_is_v4(&f.saddr) != xvip_addr_is_v4(&k.vip)) {
		fprintf(stderr, "xvipctl: client and VIP are of different address families\n");
		return -EINVAL;
	}
	f.daddr = k.vip;
	f.sport = htons(cport);
	f.dport = k.port;
	f.proto = k.proto;

	if (!xvip_maps_ct_get(&c->m, &f, &ct) && !xvip_maps_be_get(&c->m, ct.backend_id, &be) &&
	    be.state != XVIP_BE_UNUSED && be.svc_id == ct.svc_id) {
		be_id = ct.backend_id;
		via = "conntrack";
	} else {
		ret = xvip_maps_svc_get(&c->m, &k, &v);
		if (ret) {
			fprintf(stderr, "xvipctl: %s is not served: the dataplane drops it%s\n", svc,
				"");
			return ret;
		}
		ret = xvip_maps_maglev_read(&c->m, v.id, &table, &size);
		if (ret) {
			fprintf(stderr, "xvipctl: %s has no endpoint for new flows: the dataplane "
				"drops it\n", svc);
			return ret;
		}
		struct xvip_cfg cfg;

		ret = xvip_maps_cfg_get(&c->m, &cfg);
		if (ret) {
			free(table);
			return ret;
		}
		slot = xvip_flow_hash(&f, cfg.hash_seed) % size;
		be_id = table[slot];
		free(table);
		ret = xvip_maps_be_get(&c->m, be_id, &be);
		if (ret)
			return ret;
		via = "maglev";
	}
	xvip_endpoint_str(&be.addr, ntohs(be.port), -1, ep, sizeof(ep));
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "backend_id", json_object_new_int64(be_id));
		json_object_object_add(o, "address", json_object_new_string(
			xvip_addr_str(&be.addr, a, sizeof(a))));
		json_object_object_add(o, "port", json_object_new_int(ntohs(be.port)));
		json_object_object_add(o, "state", json_object_new_string(
			xvip_be_state_name(be.state)));
		json_object_object_add(o, "via", json_object_new_string(via));
		if (!strcmp(via, "maglev"))
			json_object_object_add(o, "slot", json_object_new_int64(slot));
		print_json(o);
	} else if (!strcmp(via, "maglev")) {
		printf("%s (backend %u, %s) via maglev slot %u\n", ep, be_id,
		       xvip_be_state_name(be.state), slot);
	} else {
		printf("%s (backend %u, %s) via conntrack\n", ep, be_id,
		       xvip_be_state_name(be.state));
	}
	return 0;
}

/* ---- conntrack */

struct ct_ctx {
	struct ctl *c;
	struct json_object *arr;
	uint64_t now;
	size_t n;
};

static int ct_print(const struct xvip_flow *k, const struct xvip_ct_val *v, void *arg)
{
	struct ct_ctx *x = arg;
	struct xvip_backend be = {};
	char cl[XVIP_EPSTRLEN], vip[XVIP_EPSTRLEN], ep[XVIP_EPSTRLEN] = "-";
	double age = x->now > v->created_ns ? (double)(x->now - v->created_ns) / 1e9 : 0;
	double idle = x->now > v->seen_ns ? (double)(x->now - v->seen_ns) / 1e9 : 0;

	if (!xvip_maps_be_get(&x->c->m, v->backend_id, &be) && be.state != XVIP_BE_UNUSED &&
	    be.svc_id == v->svc_id)
		xvip_endpoint_str(&be.addr, ntohs(be.port), -1, ep, sizeof(ep));
	xvip_endpoint_str(&k->saddr, ntohs(k->sport), -1, cl, sizeof(cl));
	xvip_endpoint_str(&k->daddr, ntohs(k->dport), k->proto, vip, sizeof(vip));
	x->n++;
	if (x->arr) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "client", json_object_new_string(cl));
		json_object_object_add(o, "service", json_object_new_string(vip));
		json_object_object_add(o, "backend", json_object_new_string(ep));
		json_object_object_add(o, "backend_id", json_object_new_int64(v->backend_id));
		json_object_object_add(o, "age_seconds", json_object_new_double(age));
		json_object_object_add(o, "idle_seconds", json_object_new_double(idle));
		json_object_array_add(x->arr, o);
	} else {
		printf("%-30s %-30s %-30s %9.1f %9.1f\n", cl, vip, ep, age, idle);
	}
	return 0;
}

static int cmd_conntrack(struct ctl *c)
{
	struct ct_ctx x = { .c = c, .now = now_ns() };
	int ret;

	if (c->json)
		x.arr = json_object_new_array();
	else
		printf("%-30s %-30s %-30s %9s %9s\n", "CLIENT", "SERVICE", "BACKEND", "AGE(s)",
		       "IDLE(s)");
	ret = xvip_maps_ct_foreach(&c->m, ct_print, &x);
	if (x.arr)
		print_json(x.arr);
	return ret;
}

/* ---- stats */

static int cmd_stats(struct ctl *c)
{
	struct json_object *o = c->json ? json_object_new_object() : NULL;

	if (!o)
		printf("%-28s %16s %18s\n", "COUNTER", "PACKETS", "BYTES");
	for (unsigned int i = 0; i < XVIP_STAT_MAX; i++) {
		const char *name = xvip_stat_name(i);
		struct xvip_counter cnt = {};
		int ret;

		if (!name)
			continue;
		ret = xvip_maps_counter(&c->m, c->m.stats, i, &cnt);
		if (ret) {
			json_object_put(o);
			return ret;
		}
		if (o) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "packets", json_object_new_uint64(cnt.packets));
			json_object_object_add(e, "bytes", json_object_new_uint64(cnt.bytes));
			json_object_object_add(o, name, e);
		} else {
			printf("%-28s %16llu %18llu\n", name, (unsigned long long)cnt.packets,
			       (unsigned long long)cnt.bytes);
		}
	}
	if (o)
		print_json(o);
	return 0;
}

/* ---- status */

static int count_ct(const struct xvip_flow *k, const struct xvip_ct_val *v, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

/*
 * xvipd's own report (sync state, source, drain), from the state file it
 * rewrites every few seconds; NULL in *out when there is none.
 */
static struct json_object *daemon_state(struct ctl *c, bool *running, int64_t *age)
{
	struct json_object *st = NULL, *v;

	*running = false;
	*age = -1;
	if (xvip_status_read(c->state_file, &st))
		return NULL;
	if (json_object_object_get_ex(st, "updated", &v))
		*age = (int64_t)time(NULL) - json_object_get_int64(v);
	*running = *age >= 0 && *age <= XVIP_STATE_STALE_S;
	return st;
}

static const char *js(struct json_object *o, const char *k)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t ji(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

/* The daemon's per-VIP view: advertised or not, why, FRR's view (vtysh mode). */
static void print_vips(struct json_object *st)
{
	struct json_object *dp, *arr, *v;
	const char *mode = js(st, "frr_mode");

	if (json_object_object_get_ex(st, "dataplane", &dp))
		printf("dataplane:      %s\n", js(dp, "problem") ?: "ok (XDP on every uplink, pins "
		       "in place)");
	if (mode)
		printf("frr mode:       %s, drain %lld s, hold-down %lld s\n", mode,
		       (long long)ji(st, "drain_seconds"), (long long)ji(st, "hold_down_seconds"));
	if (!json_object_object_get_ex(st, "vip_states", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return;
	printf("\n%-40s %-10s %-26s %s\n", "VIP", "ADVERTISED", "WHY", "DETAIL");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		char detail[160] = "";
		size_t n = 0;

		if (json_object_object_get_ex(o, "hold_down_left_s", &v))
			n += (size_t)snprintf(detail + n, sizeof(detail) - n,
					      "re-advertised in %.1f s ", json_object_get_double(v));
		if (json_object_object_get_ex(o, "drain_left_s", &v) && n < sizeof(detail))
			n += (size_t)snprintf(detail + n, sizeof(detail) - n,
					      "%lld port(s) draining, %.1f s left ",
					      (long long)ji(o, "draining_ports"),
					      json_object_get_double(v));
		if (js(o, "frr") && n < sizeof(detail))
			snprintf(detail + n, sizeof(detail) - n, "frr: %s", js(o, "frr"));
		bool adv = json_object_object_get_ex(o, "advertised", &v) &&
			   json_object_get_boolean(v);

		printf("%-40s %-10s %-26s %s\n", js(o, "vip") ?: "?", adv ? "yes" : "no",
		       js(o, "why") ?: "?", detail);
	}
}

/* FRR's BGP and BFD sessions, read through vtysh; NULL with *err set if FRR is not there. */
static struct json_object *frr_sessions(struct ctl *c, char *err, size_t errlen)
{
	struct json_object *o = NULL;

	if (c->no_frr) {
		snprintf(err, errlen, "not asked (--no-frr)");
		return NULL;
	}
	if (xvip_frr_sessions(&c->frr, &o, err, errlen))
		return NULL;
	return o;
}

static void print_frr(struct ctl *c)
{
	struct json_object *o, *arr;
	char err[256] = "";

	o = frr_sessions(c, err, sizeof(err));
	if (!o) {
		printf("\nFRR:            unavailable (%s)\n", err);
		return;
	}
	printf("\n%-16s %-16s %-10s %-12s %10s %8s %8s\n", "BGP NEIGHBOR", "HOSTNAME", "AS",
	       "STATE", "UP (s)", "PFX IN", "PFX OUT");
	json_object_object_get_ex(o, "bgp", &arr);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *p = json_object_array_get_idx(arr, i);

		printf("%-16s %-16s %-10lld %-12s %10.1f %8lld %8lld\n", js(p, "neighbor") ?: "?",
		       js(p, "hostname") ?: "", (long long)ji(p, "remote_as"),
		       js(p, "state") ?: "?", (double)ji(p, "uptime_ms") / 1000,
		       (long long)ji(p, "prefixes_received"), (long long)ji(p, "prefixes_sent"));
	}
	printf("\n%-16s %-28s %-8s %10s %10s\n", "BFD INTERFACE", "PEER", "STATUS", "UP (s)",
	       "DETECT ms");
	json_object_object_get_ex(o, "bfd", &arr);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *p = json_object_array_get_idx(arr, i);

		printf("%-16s %-28s %-8s %10lld %10lld\n", js(p, "interface") ?: "?",
		       js(p, "peer") ?: "?", js(p, "status") ?: "?", (long long)ji(p, "uptime_s"),
		       (long long)ji(p, "detect_ms"));
	}
	json_object_put(o);
}

static void print_daemon(struct ctl *c)
{
	struct json_object *st, *v;
	const char *wr, *src;
	bool running, synced;
	int64_t age, last, res;

	st = daemon_state(c, &running, &age);
	if (!st) {
		printf("xvipd:          not running or unknown (no state file %s)\n", c->state_file);
		return;
	}
	synced = json_object_object_get_ex(st, "synced", &v) && json_object_get_boolean(v);
	src = js(st, "source");
	if (running)
		printf("xvipd:          running (pid %lld), source %s (%s)\n",
		       (long long)ji(st, "pid"), src ? src : "?", js(st, "origin") ?: "?");
	else
		printf("xvipd:          not running or unknown (state file %s last written %lld s "
		       "ago)\n", c->state_file, (long long)age);
	printf("sync:           %s\n", synced ? "synced (a complete view is programmed)" :
	       "not synced (waiting for the first complete list)");
	last = ji(st, "last_apply");
	res = ji(st, "last_apply_result");
	if (last)
		printf("last apply:     %lld s ago, %s\n", (long long)(time(NULL) - last),
		       res == 0 ? "ok" : res > 0 ? "with errors (retrying)" : "failed");
	wr = js(st, "withdraw_reason");
	printf("advertising:    %s%s\n", wr ? "withdrawn: " : "VIPs with a ready endpoint on lo",
	       wr ? wr : "");
	print_vips(st);
	json_object_put(st);
}

static int cmd_status(struct ctl *c)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct json_object *xdp_arr = json_object_new_array(), *tc_arr = json_object_new_array();
	struct svc_list l = {};
	size_t nct = 0, nvip = 0, nready = 0, nserving = 0;
	int ret;

	ret = load_services(c, &l);
	if (!ret)
		ret = xvip_maps_ct_foreach(&c->m, count_ct, &nct);
	for (size_t s = 0; s < l.n; s++) {
		nvip += !s || xvip_addr_cmp(&l.rows[s].k.vip, &l.rows[s - 1].k.vip);
		nready += l.rows[s].nready;
		nserving += l.rows[s].nserving;
	}
	for (i = ifs; i && i->if_index; i++) {
		char name[64];

		if (!xvip_dp_xdp_prog_name((int)i->if_index, name, sizeof(name), NULL) &&
		    !strcmp(name, "xvip_xdp"))
			json_object_array_add(xdp_arr, json_object_new_string(i->if_name));
		if (xvip_dp_tc_attached((int)i->if_index))
			json_object_array_add(tc_arr, json_object_new_string(i->if_name));
	}
	if (ifs)
		if_freenameindex(ifs);
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "pin_dir", json_object_new_string(c->pin_dir));
		json_object_object_add(o, "xdp_interfaces", xdp_arr);
		json_object_object_add(o, "tc_interfaces", tc_arr);
		json_object_object_add(o, "vips", json_object_new_int64((int64_t)nvip));
		json_object_object_add(o, "service_ports", json_object_new_int64((int64_t)l.n));
		json_object_object_add(o, "endpoints_ready", json_object_new_int64((int64_t)nready));
		json_object_object_add(o, "endpoints_serving",
				       json_object_new_int64((int64_t)nserving));
		json_object_object_add(o, "conntrack_entries", json_object_new_int64((int64_t)nct));
		{
			bool running;
			int64_t age;
			struct json_object *st = daemon_state(c, &running, &age);

			if (st) {
				json_object_object_add(st, "running", json_object_new_boolean(running));
				json_object_object_add(st, "age_seconds", json_object_new_int64(age));
			}
			json_object_object_add(o, "daemon", st);
		}
		{
			char err[256] = "";
			struct json_object *fo = frr_sessions(c, err, sizeof(err));

			if (!fo) {
				fo = json_object_new_object();
				json_object_object_add(fo, "error", json_object_new_string(err));
			}
			json_object_object_add(o, "frr", fo);
		}
		print_json(o);
	} else {
		printf("pin dir:        %s\n", c->pin_dir);
		printf("xdp on:         %s\n", json_object_array_length(xdp_arr) ?
		       json_object_to_json_string(xdp_arr) : "(none in this network namespace)");
		printf("tc on:          %s\n", json_object_array_length(tc_arr) ?
		       json_object_to_json_string(tc_arr) : "(none)");
		printf("VIPs:           %zu\n", nvip);
		printf("service ports:  %zu\n", l.n);
		printf("endpoints:      %zu ready, %zu serving (terminating)\n", nready, nserving);
		printf("conntrack:      %zu flows\n", nct);
		print_daemon(c);
		print_frr(c);
		json_object_put(xdp_arr);
		json_object_put(tc_arr);
	}
	free(l.rows);
	return ret;
}

int main(int argc, char **argv)
{
	struct ctl c = { .pin_dir = "/sys/fs/bpf/xvip", .state_file = XVIP_STATE_FILE };
	char err[512];
	const char *cmd;
	int ret, nargs, first;

	ret = xvip_opts_parse(&ctl_prog, argc, argv, &c, &first);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (first >= argc) {
		xvip_opts_help(&ctl_prog, stderr);
		return 2;
	}
	cmd = argv[first];
	nargs = argc - first - 1;
	xvip_log_init(XVIP_LOG_WARN);
	xvip_log_route_libs();

	struct {
		const char *name;
		int nargs;
	} cmds[] = { { "status", 0 }, { "services", 0 }, { "backends", 1 }, { "lookup", 2 },
		     { "conntrack", 0 }, { "stats", 0 } };
	bool known = false;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmd, cmds[i].name))
			continue;
		known = true;
		if (nargs != cmds[i].nargs) {
			fprintf(stderr, "xvipctl %s: takes %d argument(s)\n\n", cmd, cmds[i].nargs);
			xvip_opts_help(&ctl_prog, stderr);
			return 2;
		}
	}
	if (!known) {
		fprintf(stderr, "xvipctl: unknown command '%s'\n\n", cmd);
		xvip_opts_help(&ctl_prog, stderr);
		return 2;
	}
	ret = xvip_maps_open_pinned(&c.m, c.pin_dir, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "xvipctl: %s; is xvipd running with --pin-dir %s?\n", err,
			c.pin_dir);
		return 1;
	}
	if (!strcmp(cmd, "status"))
		ret = cmd_status(&c);
	else if (!strcmp(cmd, "services"))
		ret = cmd_services(&c);
	else if (!strcmp(cmd, "backends"))
		ret = cmd_backends(&c, argv[first + 1]);
	else if (!strcmp(cmd, "lookup"))
		ret = cmd_lookup(&c, argv[first + 1], argv[first + 2]);
	else if (!strcmp(cmd, "conntrack"))
		ret = cmd_conntrack(&c);
	else
		ret = cmd_stats(&c);
	xvip_maps_close(&c.m);
	if (ret && ret != -EINVAL && ret != -ENOENT)
		fprintf(stderr, "xvipctl %s: %s (%d)\n", cmd, strerror(-ret), ret);
	return ret ? 1 : 0;
}
