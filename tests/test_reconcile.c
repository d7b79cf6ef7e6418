// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * user/reconcile.c against the real dataplane maps and a real lo. The BPF
 * objects are loaded once into a private pin dir; the process runs in a
 * network namespace of its own, so the VIPs it puts on lo never reach the
 * host's. Models are built in C, each test starts from empty maps and ends
 * by applying an empty model, and outcomes are read back from the maps and
 * from `ip -o addr show dev lo`, not from the reconciler's own view.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <bpf/bpf.h>

#include "test.h"
#include "dptest.h"
#include "addr.h"
#include "loader.h"
#include "log.h"
#include "maglev.h"
#include "maps.h"
#include "model.h"
#include "nl.h"
#include "localaddr.h"
#include "reconcile.h"

static const char *netns_err;

/* Before main: no test may touch the host's lo. */
__attribute__((constructor)) static void enter_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		netns_err = "unshare(CLONE_NEWNET) failed (needs root)";
}

static struct xvip_dp dp;
static struct xvip_nl *nl;
static char pin_dir[128];

static const char *VIP = "198.18.21.1";
static const char *VIP2 = "198.18.21.2";
static const char *VIP6 = "2001:db8:21::1";
static const char *POD1 = "198.18.20.11";
static const char *POD2 = "198.18.20.12";
static const char *POD3 = "198.18.20.13";
static const char *POD4 = "198.18.20.14";
static const char *POD5 = "198.18.20.15";

#define READY	XVIP_BE_READY
#define SERVING	XVIP_BE_SERVING
#define TCP	IPPROTO_TCP
#define UDP	IPPROTO_UDP

static struct xvip_addr A(const char *s)
{
	struct xvip_addr a = {};

	if (xvip_addr_parse(s, &a))
		TEST_FAIL("bad address literal %s", s);
	return a;
}

/* ---- model builder: every string and array on the heap, freed by xvip_model_free */

static void m_svc(struct xvip_model *m, const char *vip, uint16_t port, uint8_t proto,
		  const char *name)
{
	struct xvip_model_svc *s;

	m->svcs = realloc(m->svcs, (m->nsvcs + 1) * sizeof(*m->svcs));
	if (!m->svcs)
		abort();
	s = &m->svcs[m->nsvcs++];
	memset(s, 0, sizeof(*s));
	s->vip = A(vip);
	s->port = port;
	s->proto = proto;
	s->name = strdup(name);
	if (!s->name)
		abort();
}

/* A local endpoint of the service added last. */
static void m_be(struct xvip_model *m, const char *addr, uint16_t port, uint8_t state)
{
	struct xvip_model_svc *s = &m->svcs[m->nsvcs - 1];

	s->backends = realloc(s->backends, (s->nbackends + 1) * sizeof(*s->backends));
	if (!s->backends)
		abort();
	s->backends[s->nbackends++] = (struct xvip_model_backend){
		.addr = A(addr), .port = port, .state = state, .weight = 1,
	};
}

static int cmp_model_be(const void *pa, const void *pb)
{
	const struct xvip_model_backend *a = pa, *b = pb;
	int c = xvip_addr_cmp(&a->addr, &b->addr);

	return c ? c : a->port < b->port ? -1 : a->port > b->port;
}

static int cmp_model_svc(const void *pa, const void *pb)
{
	const struct xvip_model_svc *a = pa, *b = pb;
	int c = xvip_addr_cmp(&a->vip, &b->vip);

	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->proto < b->proto ? -1 : a->proto > b->proto;
}

/* The model's ordering contract, whatever order a test added entries in. */
static void m_sort(struct xvip_model *m)
{
	/* qsort's base must not be NULL, even for no elements (UBSan). */
	for (size_t i = 0; i < m->nsvcs; i++)
		if (m->svcs[i].nbackends)
			qsort(m->svcs[i].backends, m->svcs[i].nbackends,
			      sizeof(*m->svcs[i].backends), cmp_model_be);
	if (m->nsvcs)
		qsort(m->svcs, m->nsvcs, sizeof(*m->svcs), cmp_model_svc);
}

/* ---- reading the outcome back */

static int capture(const char *cmd, char *buf, size_t len)
{
	size_t n = 0, r;
	FILE *f;

	f = popen(cmd, "r");
	if (!f)
		return -1;
	while (n < len - 1 && (r = fread(buf + n, 1, len - 1 - n, f)) > 0)
		n += r;
	buf[n] = '\0';
	return pclose(f) == 0 ? 0 : -1;
}

/* Is addr on lo as a host address? Read with iproute2, independently of nl.c. */
static bool on_lo(const char *addr)
{
	static char out[16384];
	char want[96];
	bool v6 = strchr(addr, ':');
	const char *p;
	size_t wl;

	if (capture("ip -o addr show dev lo", out, sizeof(out))) {
		TEST_FAIL("ip -o addr show dev lo failed");
		return false;
	}
	snprintf(want, sizeof(want), " %s %s/%d ", v6 ? "inet6" : "inet", addr, v6 ? 128 : 32);
	wl = strlen(want);
	for (p = out; (p = strstr(p, want + 1)); p++)
		if (p > out && p[-1] == ' ' && !strncmp(p - 1, want, wl))
			return true;
	return false;
}

/* How many addresses xvipd owns on lo, as nl.c lists them. */
static void count_cb(const struct xvip_addr *a, void *ctx)
{
	(*(int *)ctx)++;
}

static int lo_owned(void)
{
	int n = 0;

	if (!ASSERT_OK(xvip_nl_lo_list(nl, count_cb, &n), "xvip_nl_lo_list"))
		return -1;
	return n;
}

static struct xvip_svc_key svc_key(const char *vip, uint16_t port, uint8_t proto)
{
	return (struct xvip_svc_key){ .vip = A(vip), .port = htons(port), .proto = proto };
}

/* Service id of VIP:port/proto in xvip_svc, or 0 if absent. */
static uint32_t svc_id(const char *vip, uint16_t port, uint8_t proto)
{
	struct xvip_svc_key k = svc_key(vip, port, proto);
	struct xvip_svc_val v = {};

	return xvip_maps_svc_get(&dp.maps, &k, &v) ? 0 : v.id;
}

/* nports of vip in xvip_vip, or -1 if absent. */
static long vip_nports(const char *vip)
{
	struct xvip_addr a = A(vip);
	struct xvip_vip_val v = {};

	return bpf_map_lookup_elem(dp.maps.vip, &a, &v) ? -1 : (long)v.nports;
}

struct be_find {
	struct xvip_addr addr;
	uint16_t port;
	uint32_t svc_id, id;
};

static int be_find_cb(uint32_t id, const struct xvip_backend *be, void *ctx)
{
	struct be_find *f = ctx;

	if (!xvip_addr_cmp(&be->addr, &f->addr) && be->port == htons(f->port) &&
	    be->svc_id == f->svc_id) {
		f->id = id;
		return 1;
	}
	return 0;
}

/* Backend id programmed for (svc, addr, port) in xvip_be, or 0. */
static uint32_t be_id(uint32_t sid, const char *addr, uint16_t port)
{
	struct be_find f = { .addr = A(addr), .port = port, .svc_id = sid };

	xvip_maps_be_foreach(&dp.maps, be_find_cb, &f);
	return f.id;
}

static void expect_be(uint32_t id, const char *addr, uint16_t port, uint8_t state, uint32_t sid)
{
	struct xvip_backend be = {};
	struct xvip_addr a = A(addr);
	char what[96];

	snprintf(what, sizeof(what), "backend %u (%s:%u)", id, addr, port);
	if (!ASSERT_OK(xvip_maps_be_get(&dp.maps, id, &be), what))
		return;
	ASSERT_MEMEQ(&be.addr, &a, sizeof(a), what);
	ASSERT_EQ(be.port, htons(port), what);	/* network order in the map */
	ASSERT_EQ(be.state, state, what);
	ASSERT_EQ(be.svc_id, sid, what);
}

static void expect_be_unused(uint32_t id)
{
	struct xvip_backend be = { .state = 0xff };
	char what[64];

	snprintf(what, sizeof(what), "backend %u cleared", id);
	/* An array map: the slot still exists, zeroed. */
	if (ASSERT_OK(xvip_maps_be_get(&dp.maps, id, &be), what))
		ASSERT_EQ(be.state, XVIP_BE_UNUSED, what);
}

/*
 * sid's Maglev table has size `size` and names exactly the ids in want
 * (each at least once, nothing else).
 */
static void expect_table(uint32_t sid, uint32_t size, const uint32_t *want, size_t nwant)
{
	uint32_t *t = NULL, n = 0;
	size_t seen[8] = {};
	char what[64];

	snprintf(what, sizeof(what), "maglev table of service %u", sid);
	if (!ASSERT_OK(xvip_maps_maglev_read(&dp.maps, sid, &t, &n), what))
		return;
	ASSERT_EQ(n, size, what);
	for (uint32_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < nwant && t[i] != want[k]; k++)
			;
		if (k == nwant) {
			TEST_FAIL("%s: slot %u names backend %u, not a new-flow backend", what, i,
				  t[i]);
			break;
		}
		seen[k]++;
	}
	for (size_t k = 0; k < nwant; k++)
		if (!seen[k])
			TEST_FAIL("%s: backend %u has no slot", what, want[k]);
	free(t);
}

static void expect_no_table(uint32_t sid)
{
	uint32_t *t = NULL, n = 0;

	ASSERT_EQ(xvip_maps_maglev_read(&dp.maps, sid, &t, &n), -ENOENT, "no maglev table");
	free(t);
}

static int count_svc_cb(const struct xvip_svc_key *k, const struct xvip_svc_val *v, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_be_cb(uint32_t id, const struct xvip_backend *be, void *ctx)
{
	(*(int *)ctx)++;
	return 0;
}

static int count_vips(void)
{
	struct xvip_addr k, next;
	void *prev = NULL;
	int n = 0;

	while (!bpf_map_get_next_key(dp.maps.vip, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* Every table slot of the ids a test could have used. */
static int count_tables(void)
{
	int n = 0;

	for (uint32_t id = 0; id < 64; id++) {
		uint32_t *t = NULL, size;

		if (!xvip_maps_maglev_read(&dp.maps, id, &t, &size)) {
			n++;
			free(t);
		}
	}
	return n;
}

static void expect_clean(const char *when)
{
	int nsvc = 0, nbe = 0;
	char what[96];

	xvip_maps_svc_foreach(&dp.maps, count_svc_cb, &nsvc);
	xvip_maps_be_foreach(&dp.maps, count_be_cb, &nbe);
	snprintf(what, sizeof(what), "%s: xvip_svc empty", when);
	ASSERT_EQ(nsvc, 0, what);
	snprintf(what, sizeof(what), "%s: xvip_be empty", when);
	ASSERT_EQ(nbe, 0, what);
	snprintf(what, sizeof(what), "%s: xvip_vip empty", when);
	ASSERT_EQ(count_vips(), 0, what);
	snprintf(what, sizeof(what), "%s: xvip_maglev empty", when);
	ASSERT_EQ(count_tables(), 0, what);
	snprintf(what, sizeof(what), "%s: no VIP on lo", when);
	ASSERT_EQ(lo_owned(), 0, what);
}

/* ---- per-test reconciler: starts on empty maps, ends by applying an empty model */

#define RC_START(rc, max)						\
	do {								\
		expect_clean("before");					\
		if (!ASSERT_OK(xvip_rc_init(&(rc), &dp.maps, nl, (max)), "xvip_rc_init")) \
			return;						\
		(rc).ep_usable = NULL;					\
	} while (0)

static void rc_stop(struct xvip_reconciler *rc)
{
	struct xvip_model empty = {};

	ASSERT_OK(xvip_rc_apply(rc, &empty), "apply empty model");
	xvip_rc_fini(rc);
	expect_clean("after empty model");
}

static int apply(struct xvip_reconciler *rc, struct xvip_model *m)
{
	m_sort(m);
	return xvip_rc_apply(rc, m);
}

/* ---- tests */

/* 1. Adds: key -> id, table of ready backends only, backend entries, VIP entry, VIP on lo. */
TEST(apply_adds_service_and_advertises_vip)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	uint32_t sid, sid_udp, b1, b2, b3, bu;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_be(&m, POD2, 8080, READY);
	m_be(&m, POD3, 8080, SERVING);
	m_svc(&m, VIP, 53, UDP, "default/dns:dns");
	m_be(&m, POD2, 5353, READY);
	ASSERT_OK(apply(&rc, &m), "apply");
	ASSERT_EQ(rc.last.svcs_added, 2, "services added");
	ASSERT_EQ(rc.last.tables_swapped, 2, "tables swapped");
	ASSERT_EQ(rc.last.vips_added, 1, "VIPs added");
	ASSERT_TRUE(rc.synced, "synced after a full apply");

	sid = svc_id(VIP, 80, TCP);
	sid_udp = svc_id(VIP, 53, UDP);
	ASSERT_TRUE(sid, "VIP:80/tcp in xvip_svc");
	ASSERT_TRUE(sid_udp, "VIP:53/udp in xvip_svc");
	ASSERT_TRUE(sid != sid_udp, "distinct service ids");
	ASSERT_EQ(svc_id(VIP, 80, UDP), 0, "VIP:80/udp not served");

	b1 = be_id(sid, POD1, 8080);
	b2 = be_id(sid, POD2, 8080);
	b3 = be_id(sid, POD3, 8080);
	bu = be_id(sid_udp, POD2, 5353);
	ASSERT_TRUE(b1 && b2 && b3 && bu, "every endpoint has a backend slot");
	ASSERT_TRUE(b1 != b2 && b1 != b3 && b2 != b3 && bu != b1 && bu != b2 && bu != b3,
		    "distinct backend ids");
	expect_be(b1, POD1, 8080, READY, sid);
	expect_be(b2, POD2, 8080, READY, sid);
	expect_be(b3, POD3, 8080, SERVING, sid);	/* programmed, but not in the table */
	expect_be(bu, POD2, 5353, READY, sid_udp);

	expect_table(sid, xvip_maglev_size_for(2, XVIP_MAGLEV_DEFAULT), (uint32_t[]){ b1, b2 },
		     2);
	expect_table(sid_udp, XVIP_MAGLEV_MIN, (uint32_t[]){ bu }, 1);

	ASSERT_EQ(vip_nports(VIP), 2, "xvip_vip nports");
	ASSERT_TRUE(on_lo(VIP), "VIP on lo");
	ASSERT_EQ(lo_owned(), 1, "one xvip address on lo");

	xvip_model_free(&m);
	rc_stop(&rc);
	ASSERT_TRUE(!on_lo(VIP), "VIP withdrawn by the empty model");
}

/* IPv6 VIPs take the same path: mapped key layout, /128 on lo. */
TEST(apply_ipv6_service)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	uint32_t sid, b;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP6, 443, TCP, "default/web6:https");
	m_be(&m, "2001:db8:20::11", 8443, READY);
	ASSERT_OK(apply(&rc, &m), "apply");
	sid = svc_id(VIP6, 443, TCP);
	b = be_id(sid, "2001:db8:20::11", 8443);
	ASSERT_TRUE(sid && b, "service and backend programmed");
	expect_be(b, "2001:db8:20::11", 8443, READY, sid);
	expect_table(sid, XVIP_MAGLEV_MIN, &b, 1);
	ASSERT_EQ(vip_nports(VIP6), 1, "xvip_vip nports");
	ASSERT_TRUE(on_lo(VIP6), "IPv6 VIP on lo");
	xvip_model_free(&m);
	rc_stop(&rc);
}

/* 2. Only terminating-but-serving endpoints: they take new flows, the VIP is not advertised. */
TEST(serving_only_is_balanced_but_not_advertised)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	uint32_t sid, b1, b2;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, SERVING);
	m_be(&m, POD2, 8080, SERVING);
	ASSERT_OK(apply(&rc, &m), "apply");
	sid = svc_id(VIP, 80, TCP);
	b1 = be_id(sid, POD1, 8080);
	b2 = be_id(sid, POD2, 8080);
	ASSERT_TRUE(sid && b1 && b2, "service and backends programmed");
	expect_be(b1, POD1, 8080, SERVING, sid);
	expect_be(b2, POD2, 8080, SERVING, sid);
	expect_table(sid, XVIP_MAGLEV_MIN, (uint32_t[]){ b1, b2 }, 2);
	/* The entry makes the datapath handle the VIP's traffic instead of passing it up. */
	ASSERT_EQ(vip_nports(VIP), 1, "xvip_vip entry exists");
	ASSERT_TRUE(!on_lo(VIP), "VIP not advertised");
	ASSERT_EQ(rc.last.vips_added, 0, "no VIP added");

	/* One endpoint turns ready: now it is advertised and the table is the ready one. */
	m.svcs[0].backends[0].state = READY;
	ASSERT_OK(apply(&rc, &m), "apply with one ready");
	ASSERT_EQ(rc.last.tables_swapped, 1, "table rebuilt");
	expect_table(sid, XVIP_MAGLEV_MIN, &b1, 1);
	expect_be(b1, POD1, 8080, READY, sid);
	ASSERT_TRUE(on_lo(VIP), "VIP advertised once a ready endpoint exists");

	/* And back: the VIP is withdrawn, the entry stays. */
	m.svcs[0].backends[0].state = SERVING;
	ASSERT_OK(apply(&rc, &m), "apply serving only again");
	ASSERT_EQ(rc.last.vips_removed, 1, "VIP withdrawn");
	ASSERT_TRUE(!on_lo(VIP), "VIP not on lo");
	ASSERT_EQ(vip_nports(VIP), 1, "xvip_vip entry kept");
	expect_table(sid, XVIP_MAGLEV_MIN, (uint32_t[]){ b1, b2 }, 2);
	xvip_model_free(&m);
	rc_stop(&rc);
}

/* 3. No endpoints: the key exists (traffic dropped as no-backend), no table, no VIP on lo. */
TEST(no_endpoints_keeps_key_without_table)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	uint32_t sid;
	int nbe = 0;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/empty:http");
	ASSERT_OK(apply(&rc, &m), "apply");
	ASSERT_EQ(rc.last.svcs_added, 1, "service added");
	ASSERT_EQ(rc.last.tables_swapped, 0, "no table");
	sid = svc_id(VIP, 80, TCP);
	ASSERT_TRUE(sid, "key in xvip_svc");
	expect_no_table(sid);
	xvip_maps_be_foreach(&dp.maps, count_be_cb, &nbe);
	ASSERT_EQ(nbe, 0, "no backend slot");
	ASSERT_EQ(vip_nports(VIP), 1, "xvip_vip entry");
	ASSERT_TRUE(!on_lo(VIP), "VIP not on lo");

	/* Endpoints appear: same id, a table, the VIP advertised. */
	m_be(&m, POD1, 8080, READY);
	ASSERT_OK(apply(&rc, &m), "apply with an endpoint");
	ASSERT_EQ(svc_id(VIP, 80, TCP), sid, "service id kept");
	ASSERT_EQ(rc.last.tables_swapped, 1, "table installed");
	expect_table(sid, XVIP_MAGLEV_MIN, (uint32_t[]){ be_id(sid, POD1, 8080) }, 1);
	ASSERT_TRUE(on_lo(VIP), "VIP on lo");

	/* And gone again: table removed, slot cleared, VIP withdrawn. */
	uint32_t b1 = be_id(sid, POD1, 8080);

	free(m.svcs[0].backends);
	m.svcs[0].backends = NULL;
	m.svcs[0].nbackends = 0;
	ASSERT_OK(apply(&rc, &m), "apply without endpoints");
	expect_no_table(sid);
	expect_be_unused(b1);
	ASSERT_TRUE(!on_lo(VIP), "VIP withdrawn");
	ASSERT_EQ(svc_id(VIP, 80, TCP), sid, "key kept");
	xvip_model_free(&m);
	rc_stop(&rc);
}

/* 4. One of three backends removed: new table, slot cleared, ids kept; re-apply is a no-op. */
TEST(backend_removal_swaps_table)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {}, m2 = {};
	uint32_t sid, b1, b2, b3;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_be(&m, POD2, 8080, READY);
	m_be(&m, POD3, 8080, READY);
	ASSERT_OK(apply(&rc, &m), "apply three");
	sid = svc_id(VIP, 80, TCP);
	b1 = be_id(sid, POD1, 8080);
	b2 = be_id(sid, POD2, 8080);
	b3 = be_id(sid, POD3, 8080);
	ASSERT_TRUE(sid && b1 && b2 && b3, "programmed");
	expect_table(sid, 509, (uint32_t[]){ b1, b2, b3 }, 3);

	m_svc(&m2, VIP, 80, TCP, "default/web:http");
	m_be(&m2, POD1, 8080, READY);
	m_be(&m2, POD3, 8080, READY);
	ASSERT_OK(apply(&rc, &m2), "apply without POD2");
	ASSERT_EQ(rc.last.tables_swapped, 1, "one table swapped");
	ASSERT_EQ(rc.last.svcs_added, 0, "no service added");
	ASSERT_EQ(rc.last.svcs_removed, 0, "no service removed");
	ASSERT_EQ(svc_id(VIP, 80, TCP), sid, "service id kept");
	expect_table(sid, XVIP_MAGLEV_MIN, (uint32_t[]){ b1, b3 }, 2);
	expect_be_unused(b2);
	expect_be(b1, POD1, 8080, READY, sid);
	expect_be(b3, POD3, 8080, READY, sid);
	ASSERT_TRUE(on_lo(VIP), "VIP still on lo");

	ASSERT_OK(apply(&rc, &m2), "apply the same model again");
	ASSERT_EQ(rc.last.tables_swapped, 0, "no-op: no table swapped");
	ASSERT_EQ(rc.last.svcs_added, 0, "no-op: no service added");
	ASSERT_EQ(rc.last.svcs_removed, 0, "no-op: no service removed");
	ASSERT_EQ(rc.last.vips_added + rc.last.vips_removed, 0, "no-op: lo untouched");
	ASSERT_EQ(rc.last.errors, 0, "no-op: no error");
	ASSERT_EQ(be_id(sid, POD1, 8080), b1, "no-op: ids kept");
	ASSERT_EQ(be_id(sid, POD3, 8080), b3, "no-op: ids kept");

	xvip_model_free(&m);
	xvip_model_free(&m2);
	rc_stop(&rc);
}

/* 5. READY -> SERVING for one of two: table rebuilt without it, its entry SERVING. */
TEST(ready_to_serving_leaves_table_keeps_flows)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	uint32_t sid, b1, b2;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_be(&m, POD2, 8080, READY);
	ASSERT_OK(apply(&rc, &m), "apply");
	sid = svc_id(VIP, 80, TCP);
	b1 = be_id(sid, POD1, 8080);
	b2 = be_id(sid, POD2, 8080);
	expect_table(sid, XVIP_MAGLEV_MIN, (uint32_t[]){ b1, b2 }, 2);

	m.svcs[0].backends[1].state = SERVING;
	ASSERT_OK(apply(&rc, &m), "apply with POD2 terminating");
	ASSERT_EQ(rc.last.tables_swapped, 1, "table rebuilt");
	expect_table(sid, XVIP_MAGLEV_MIN, &b1, 1);
	expect_be(b2, POD2, 8080, SERVING, sid);	/* its conntrack entries still resolve */
	expect_be(b1, POD1, 8080, READY, sid);
	ASSERT_EQ(be_id(sid, POD2, 8080), b2, "terminating backend keeps its id");
	ASSERT_TRUE(on_lo(VIP), "VIP stays advertised");
	xvip_model_free(&m);
	rc_stop(&rc);
}

/* 6. Whole services removed: the VIP goes with its last port, a VIP still served stays. */
TEST(service_removal_withdraws_last_port_vip)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {}, m2 = {};
	uint32_t s80, s443, s2, b80, b443, b2;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_svc(&m, VIP, 443, TCP, "default/web:https");
	m_be(&m, POD1, 8443, READY);
	m_svc(&m, VIP2, 80, TCP, "default/other:http");
	m_be(&m, POD2, 8080, READY);
	ASSERT_OK(apply(&rc, &m), "apply");
	s80 = svc_id(VIP, 80, TCP);
	s443 = svc_id(VIP, 443, TCP);
	s2 = svc_id(VIP2, 80, TCP);
	b80 = be_id(s80, POD1, 8080);
	b443 = be_id(s443, POD1, 8443);
	b2 = be_id(s2, POD2, 8080);
	ASSERT_TRUE(s80 && s443 && s2 && b80 && b443 && b2, "programmed");
	ASSERT_EQ(vip_nports(VIP), 2, "VIP nports");
	ASSERT_EQ(vip_nports(VIP2), 1, "VIP2 nports");
	ASSERT_TRUE(on_lo(VIP) && on_lo(VIP2), "both VIPs on lo");

	m_svc(&m2, VIP, 80, TCP, "default/web:http");
	m_be(&m2, POD1, 8080, READY);
	ASSERT_OK(apply(&rc, &m2), "apply without VIP:443 and VIP2");
	ASSERT_EQ(rc.last.svcs_removed, 2, "two services removed");
	ASSERT_EQ(rc.last.vips_removed, 1, "one VIP withdrawn");
	ASSERT_EQ(svc_id(VIP, 443, TCP), 0, "VIP:443 key gone");
	ASSERT_EQ(svc_id(VIP2, 80, TCP), 0, "VIP2:80 key gone");
	expect_no_table(s443);
	expect_no_table(s2);
	expect_be_unused(b443);
	expect_be_unused(b2);
	ASSERT_EQ(vip_nports(VIP2), -1, "VIP2 gone from xvip_vip");
	ASSERT_TRUE(!on_lo(VIP2), "VIP2 withdrawn from lo");
	ASSERT_EQ(vip_nports(VIP), 1, "VIP keeps one port");
	ASSERT_TRUE(on_lo(VIP), "VIP still on lo");
	ASSERT_EQ(svc_id(VIP, 80, TCP), s80, "VIP:80 untouched");
	expect_be(b80, POD1, 8080, READY, s80);
	expect_table(s80, XVIP_MAGLEV_MIN, &b80, 1);
	xvip_model_free(&m);
	xvip_model_free(&m2);
	rc_stop(&rc);
}

/* A VIP whose ready port goes while a port without endpoints stays: withdrawn, entry kept. */
TEST(vip_withdrawn_when_last_ready_port_goes)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {}, m2 = {};
	uint32_t s443;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_svc(&m, VIP, 443, TCP, "default/web:https");
	ASSERT_OK(apply(&rc, &m), "apply");
	s443 = svc_id(VIP, 443, TCP);
	ASSERT_TRUE(on_lo(VIP), "VIP on lo: one port has a ready endpoint");
	ASSERT_EQ(vip_nports(VIP), 2, "nports");

	m_svc(&m2, VIP, 443, TCP, "default/web:https");
	ASSERT_OK(apply(&rc, &m2), "apply without VIP:80");
	ASSERT_EQ(rc.last.vips_removed, 1, "VIP withdrawn");
	ASSERT_TRUE(!on_lo(VIP), "VIP not on lo");
	ASSERT_EQ(vip_nports(VIP), 1, "xvip_vip entry kept with one port");
	ASSERT_EQ(svc_id(VIP, 80, TCP), 0, "VIP:80 gone");
	ASSERT_EQ(svc_id(VIP, 443, TCP), s443, "VIP:443 kept");
	xvip_model_free(&m);
	xvip_model_free(&m2);
	rc_stop(&rc);
}

/* 7. A restart: B adopts A's maps and lo, the same model changes nothing, an empty one clears. */
TEST(adopt_previous_state)
{
	struct xvip_reconciler a, b;
	struct xvip_model m = {}, empty = {};
	uint32_t s80, s53, b1, b2, bu;

	RC_START(a, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_be(&m, POD2, 8080, READY);
	m_be(&m, POD3, 8080, SERVING);
	m_svc(&m, VIP, 53, UDP, "default/dns:dns");
	m_be(&m, POD2, 5353, READY);
	m_svc(&m, VIP2, 80, TCP, "default/empty:http");
	m_svc(&m, VIP2, 81, TCP, "default/leaving:http");
	m_be(&m, POD4, 8080, SERVING);
	m_svc(&m, VIP6, 443, TCP, "default/web6:https");
	m_be(&m, "2001:db8:20::11", 8443, READY);
	ASSERT_OK(apply(&a, &m), "A: apply");
	s80 = svc_id(VIP, 80, TCP);
	s53 = svc_id(VIP, 53, UDP);
	b1 = be_id(s80, POD1, 8080);
	b2 = be_id(s80, POD2, 8080);
	bu = be_id(s53, POD2, 5353);
	ASSERT_TRUE(on_lo(VIP) && on_lo(VIP6) && !on_lo(VIP2), "A: VIPs on lo");
	xvip_rc_fini(&a);	/* exit without touching maps or lo */

	if (!ASSERT_OK(xvip_rc_init(&b, &dp.maps, nl, XVIP_MAGLEV_DEFAULT), "B: init"))
		goto out;
	if (!ASSERT_OK(xvip_rc_adopt(&b), "B: adopt"))
		goto out_b;
	ASSERT_EQ(b.nsvcs, 5, "B adopted five service ports");
	ASSERT_EQ(b.nvips, 3, "B knows three VIPs");
	ASSERT_OK(apply(&b, &m), "B: apply the same model");
	ASSERT_EQ(b.last.tables_swapped, 0, "no table swapped");
	ASSERT_EQ(b.last.svcs_added, 0, "no service added");
	ASSERT_EQ(b.last.svcs_removed, 0, "no service removed");
	ASSERT_EQ(b.last.vips_added + b.last.vips_removed, 0, "lo untouched");
	ASSERT_EQ(b.last.errors, 0, "no error");
	ASSERT_EQ(svc_id(VIP, 80, TCP), s80, "service id kept");
	ASSERT_EQ(svc_id(VIP, 53, UDP), s53, "service id kept");
	ASSERT_EQ(be_id(s80, POD1, 8080), b1, "backend id kept");
	ASSERT_EQ(be_id(s80, POD2, 8080), b2, "backend id kept");
	ASSERT_EQ(be_id(s53, POD2, 5353), bu, "backend id kept");
	expect_table(s80, XVIP_MAGLEV_MIN, (uint32_t[]){ b1, b2 }, 2);
	{
		uint32_t s81 = svc_id(VIP2, 81, TCP), b4 = be_id(s81, POD4, 8080);

		expect_table(s81, XVIP_MAGLEV_MIN, &b4, 1);	/* serving-only table kept */
		expect_be(b4, POD4, 8080, SERVING, s81);
	}
	ASSERT_TRUE(on_lo(VIP) && on_lo(VIP6) && !on_lo(VIP2), "B: VIPs still on lo");

	ASSERT_OK(xvip_rc_apply(&b, &empty), "B: apply empty model");
	ASSERT_EQ(b.last.svcs_removed, 5, "every service removed");
	ASSERT_EQ(b.last.vips_removed, 2, "both advertised VIPs withdrawn");
	expect_clean("B after empty model");
out_b:
	xvip_rc_fini(&b);
out:
	xvip_model_free(&m);
	if (test_cur.failed) {
		/* Leave nothing behind for the next test. */
		if (!xvip_rc_init(&b, &dp.maps, nl, XVIP_MAGLEV_DEFAULT)) {
			xvip_rc_adopt(&b);
			xvip_rc_apply(&b, &empty);
			xvip_rc_fini(&b);
		}
	}
}

/* Adoption picks up a VIP left on lo that no longer has a service, and withdraws it. */
TEST(adopt_withdraws_stale_lo_vip)
{
	struct xvip_reconciler a, b;
	struct xvip_model m = {}, empty = {};

	RC_START(a, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	ASSERT_OK(apply(&a, &m), "A: apply");
	ASSERT_TRUE(on_lo(VIP), "A: VIP on lo");
	xvip_rc_fini(&a);
	/* Whoever ran between A and B removed the service from the maps but not lo. */
	{
		struct xvip_svc_key k = svc_key(VIP, 80, TCP);
		struct xvip_svc_val v = {};
		uint32_t sid = svc_id(VIP, 80, TCP);

		ASSERT_OK(xvip_maps_svc_get(&dp.maps, &k, &v), "svc get");
		ASSERT_OK(xvip_maps_svc_del(&dp.maps, &k), "svc del");
		ASSERT_OK(xvip_maps_maglev_del(&dp.maps, sid), "maglev del");
	}
	if (!ASSERT_OK(xvip_rc_init(&b, &dp.maps, nl, XVIP_MAGLEV_DEFAULT), "B: init"))
		goto out;
	ASSERT_OK(xvip_rc_adopt(&b), "B: adopt");
	ASSERT_EQ(b.nsvcs, 0, "no service adopted");
	{
		int nbe = 0;

		xvip_maps_be_foreach(&dp.maps, count_be_cb, &nbe);
		ASSERT_EQ(nbe, 0, "orphan backend cleared by adoption");
	}
	ASSERT_OK(xvip_rc_apply(&b, &empty), "B: apply empty model");
	ASSERT_EQ(b.last.vips_removed, 1, "stale VIP withdrawn");
	ASSERT_TRUE(!on_lo(VIP), "VIP gone from lo");
	/* Known from lo, so its xvip_vip entry goes too. */
	ASSERT_EQ(vip_nports(VIP), -1, "xvip_vip entry removed");
	expect_clean("B after empty model");
	xvip_rc_fini(&b);
out:
	xvip_model_free(&m);
}

/* 8. Freed ids are reused last, so a stale conntrack entry does not reach a new backend. */
TEST(id_pool_reuses_freed_ids_last)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {}, m2 = {}, empty = {};
	uint32_t sid, b1, b2, b3, b4, nsid, n1, n2, n3;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_be(&m, POD2, 8080, READY);
	m_be(&m, POD3, 8080, READY);
	ASSERT_OK(apply(&rc, &m), "apply three");
	sid = svc_id(VIP, 80, TCP);
	b1 = be_id(sid, POD1, 8080);
	b2 = be_id(sid, POD2, 8080);
	b3 = be_id(sid, POD3, 8080);

	/* POD3 replaced by POD4: POD4 does not get POD3's id. */
	m_svc(&m2, VIP, 80, TCP, "default/web:http");
	m_be(&m2, POD1, 8080, READY);
	m_be(&m2, POD2, 8080, READY);
	m_be(&m2, POD4, 8080, READY);
	ASSERT_OK(apply(&rc, &m2), "apply with POD4 for POD3");
	b4 = be_id(sid, POD4, 8080);
	ASSERT_TRUE(b4, "POD4 programmed");
	ASSERT_TRUE(b4 != b3, "freed id not reused first");
	ASSERT_TRUE(b4 != b1 && b4 != b2, "id in use not reused");
	expect_be_unused(b3);

	/* The whole service goes and comes back: fresh service and backend ids. */
	ASSERT_OK(xvip_rc_apply(&rc, &empty), "apply empty");
	ASSERT_OK(apply(&rc, &m), "apply three again");
	nsid = svc_id(VIP, 80, TCP);
	n1 = be_id(nsid, POD1, 8080);
	n2 = be_id(nsid, POD2, 8080);
	n3 = be_id(nsid, POD3, 8080);
	ASSERT_TRUE(nsid && nsid != sid, "service id not reused first");
	ASSERT_TRUE(n1 && n2 && n3, "backends programmed");
	for (int i = 0; i < 3; i++) {
		uint32_t n = (uint32_t[]){ n1, n2, n3 }[i];

		ASSERT_TRUE(n != b1 && n != b2 && n != b3 && n != b4,
			    "a just-freed backend id not reused first");
	}
	xvip_model_free(&m);
	xvip_model_free(&m2);
	rc_stop(&rc);
}

/* The same after a restart: ids B adopted and then freed go to the back of the queue. */
TEST(id_pool_after_adopt_reuses_freed_ids_last)
{
	struct xvip_reconciler a, b;
	struct xvip_model m = {}, m2 = {}, empty = {};
	uint32_t sid, b1, b2, b3, nsid, n4, n5;

	RC_START(a, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_be(&m, POD2, 8080, READY);
	m_be(&m, POD3, 8080, READY);
	ASSERT_OK(apply(&a, &m), "A: apply three");
	sid = svc_id(VIP, 80, TCP);
	b1 = be_id(sid, POD1, 8080);
	b2 = be_id(sid, POD2, 8080);
	b3 = be_id(sid, POD3, 8080);
	xvip_rc_fini(&a);

	if (!ASSERT_OK(xvip_rc_init(&b, &dp.maps, nl, XVIP_MAGLEV_DEFAULT), "B: init"))
		goto out;
	ASSERT_OK(xvip_rc_adopt(&b), "B: adopt");

	/* POD2 and POD3 go, POD4 and POD5 come: neither takes a just-freed id. */
	m_svc(&m2, VIP, 80, TCP, "default/web:http");
	m_be(&m2, POD1, 8080, READY);
	ASSERT_OK(apply(&b, &m2), "B: apply POD1 only");
	m_be(&m2, POD4, 8080, READY);
	m_be(&m2, POD5, 8080, READY);
	ASSERT_OK(apply(&b, &m2), "B: apply POD1, POD4, POD5");
	ASSERT_EQ(be_id(sid, POD1, 8080), b1, "B: POD1 keeps its id");
	n4 = be_id(sid, POD4, 8080);
	n5 = be_id(sid, POD5, 8080);
	ASSERT_TRUE(n4 && n5 && n4 != n5, "B: POD4, POD5 programmed");
	ASSERT_TRUE(n4 != b1 && n4 != b2 && n4 != b3, "B: POD4 id not in use nor just freed");
	ASSERT_TRUE(n5 != b1 && n5 != b2 && n5 != b3, "B: POD5 id not in use nor just freed");
	expect_be(b1, POD1, 8080, READY, sid);

	/* The adopted service id, freed, is not handed out again at once either. */
	ASSERT_OK(xvip_rc_apply(&b, &empty), "B: apply empty");
	ASSERT_OK(apply(&b, &m), "B: apply three again");
	nsid = svc_id(VIP, 80, TCP);
	ASSERT_TRUE(nsid && nsid != sid, "B: adopted service id not reused first");
	for (int i = 0; i < 3; i++) {
		const char *pod = (const char *[]){ POD1, POD2, POD3 }[i];
		uint32_t n = be_id(nsid, pod, 8080);

		ASSERT_TRUE(n && n != b1 && n != b2 && n != b3 && n != n4 && n != n5,
			    "B: a just-freed backend id not reused first");
	}
	ASSERT_OK(xvip_rc_apply(&b, &empty), "B: apply empty");
	xvip_rc_fini(&b);
	expect_clean("B after empty model");
out:
	xvip_model_free(&m);
	xvip_model_free(&m2);
}

/* 9. The table size follows the ladder (>= 100 slots per backend) and stops at the cap. */
TEST(maglev_size_cap)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	uint32_t sid, b[3];

	RC_START(rc, XVIP_MAGLEV_MIN);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_be(&m, POD2, 8080, READY);
	m_be(&m, POD3, 8080, READY);
	ASSERT_OK(apply(&rc, &m), "apply with cap 251");
	sid = svc_id(VIP, 80, TCP);
	b[0] = be_id(sid, POD1, 8080);
	b[1] = be_id(sid, POD2, 8080);
	b[2] = be_id(sid, POD3, 8080);
	expect_table(sid, 251, b, 3);
	rc_stop(&rc);

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	ASSERT_OK(apply(&rc, &m), "apply with cap 16381");
	sid = svc_id(VIP, 80, TCP);
	b[0] = be_id(sid, POD1, 8080);
	b[1] = be_id(sid, POD2, 8080);
	b[2] = be_id(sid, POD3, 8080);
	ASSERT_EQ(xvip_maglev_size_for(3, XVIP_MAGLEV_DEFAULT), 509, "ladder: 3 backends");
	expect_table(sid, 509, b, 3);
	xvip_model_free(&m);
	rc_stop(&rc);
}

/* Endpoints the usability check rejects are left out, as if absent. */
static bool not_pod2(void *ctx, const struct xvip_addr *a)
{
	struct xvip_addr p2 = A(POD2);

	(*(int *)ctx)++;
	return xvip_addr_cmp(a, &p2) != 0;
}

TEST(unusable_endpoints_are_skipped)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	uint32_t sid, b1;
	int calls = 0;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	rc.ep_usable = not_pod2;
	rc.ctx = &calls;
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_be(&m, POD2, 8080, READY);
	ASSERT_OK(apply(&rc, &m), "apply");
	ASSERT_EQ(calls, 2, "asked about each endpoint");
	sid = svc_id(VIP, 80, TCP);
	b1 = be_id(sid, POD1, 8080);
	ASSERT_TRUE(b1, "POD1 programmed");
	ASSERT_EQ(be_id(sid, POD2, 8080), 0, "POD2 not programmed");
	expect_table(sid, XVIP_MAGLEV_MIN, &b1, 1);
	xvip_model_free(&m);
	rc.ep_usable = NULL;
	rc_stop(&rc);
}

/* withdraw_reason (drain, dataplane down): every VIP off lo, maps still served. */
TEST(withdraw_reason_keeps_vips_off_lo)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	uint32_t sid, b1;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_svc(&m, VIP6, 443, TCP, "default/web6:https");
	m_be(&m, "2001:db8:20::11", 8443, READY);
	ASSERT_OK(apply(&rc, &m), "apply");
	sid = svc_id(VIP, 80, TCP);
	b1 = be_id(sid, POD1, 8080);
	ASSERT_TRUE(on_lo(VIP) && on_lo(VIP6), "VIPs on lo");

	rc.withdraw_reason = "node drained";
	ASSERT_OK(apply(&rc, &m), "apply while withdrawn");
	ASSERT_EQ(rc.last.vips_removed, 2, "both VIPs withdrawn");
	ASSERT_EQ(rc.last.tables_swapped, 0, "maps untouched");
	ASSERT_TRUE(!on_lo(VIP) && !on_lo(VIP6), "no VIP on lo");
	ASSERT_EQ(svc_id(VIP, 80, TCP), sid, "service kept");
	expect_table(sid, XVIP_MAGLEV_MIN, &b1, 1);
	ASSERT_EQ(vip_nports(VIP), 1, "xvip_vip entry kept");

	rc.withdraw_reason = NULL;
	ASSERT_OK(apply(&rc, &m), "apply after the reason is gone");
	ASSERT_EQ(rc.last.vips_added, 2, "both VIPs advertised again");
	ASSERT_TRUE(on_lo(VIP) && on_lo(VIP6), "VIPs back on lo");
	xvip_model_free(&m);
	rc_stop(&rc);
}

/* Without netlink (--frr off) the maps are programmed and lo is never touched. */
TEST(no_nl_never_touches_lo)
{
	struct xvip_reconciler rc;
	struct xvip_model m = {}, empty = {};
	uint32_t sid;

	expect_clean("before");
	if (!ASSERT_OK(xvip_rc_init(&rc, &dp.maps, NULL, XVIP_MAGLEV_DEFAULT), "init"))
		return;
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	ASSERT_OK(apply(&rc, &m), "apply");
	sid = svc_id(VIP, 80, TCP);
	ASSERT_TRUE(sid, "service programmed");
	expect_table(sid, XVIP_MAGLEV_MIN, (uint32_t[]){ be_id(sid, POD1, 8080) }, 1);
	ASSERT_EQ(vip_nports(VIP), 1, "xvip_vip entry");
	ASSERT_TRUE(!on_lo(VIP), "lo untouched");
	ASSERT_OK(xvip_rc_apply(&rc, &empty), "apply empty");
	xvip_rc_fini(&rc);
	expect_clean("after empty model");
	xvip_model_free(&m);
}

/* ---- setup and teardown */

/* Not tests: run once around them (test.h). */
static void setup(void)
{
	dptest_start("reconcile", netns_err, &dp, pin_dir, sizeof(pin_dir), &nl);
}

static void teardown(void)
{
	dptest_stop(&dp, pin_dir, nl);
}

/* ---- session affinity, source ranges, fragment services */

static void m_ranges(struct xvip_model *m, uint32_t affinity_s, const char *const *cidrs,
		     size_t n)
{
	struct xvip_model_svc *s = &m->svcs[m->nsvcs - 1];

	s->affinity_s = affinity_s;
	s->src_ranges = n ? calloc(n, sizeof(*s->src_ranges)) : NULL;
	for (size_t i = 0; i < n; i++)
		if (xvip_cidr_parse(cidrs[i], &s->src_ranges[i]))
			TEST_FAIL("bad cidr literal %s", cidrs[i]);
	s->nsrc_ranges = n;
}

struct range_list {
	uint32_t svc;
	char got[8][64];
	int n;
};

static int range_cb(uint32_t svc_id, const struct xvip_addr *addr, uint8_t plen, void *ctx)
{
	struct range_list *l = ctx;
	struct xvip_cidr c = { .addr = *addr, .plen = plen };

	if (svc_id == l->svc && l->n < 8)
		xvip_cidr_str(&c, l->got[l->n++], sizeof(l->got[0]));
	return 0;
}

static bool has_range_str(const struct range_list *l, const char *want)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->got[i], want))
			return true;
	return false;
}

TEST(affinity_and_source_ranges_programmed_by_difference)
{
	static const char *const r1[] = { "198.18.30.0/24", "198.18.31.0/25" };
	static const char *const r2[] = { "198.18.31.0/25", "198.18.32.0/26" };
	struct xvip_reconciler rc, rc2;
	struct xvip_model m = {};
	struct xvip_svc_key k = svc_key(VIP, 443, TCP);
	struct xvip_svc_val v;
	struct range_list l = {};

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 443, TCP, "default/lb:https");
	m_be(&m, POD1, 8443, READY);
	m_ranges(&m, 600, r1, 2);
	ASSERT_OK(apply(&rc, &m), "apply");
	if (ASSERT_OK(xvip_maps_svc_get(&dp.maps, &k, &v), "svc value")) {
		ASSERT_EQ(v.flags, XVIP_SVC_F_AFFINITY | XVIP_SVC_F_SRC_RANGES, "flags");
		ASSERT_EQ(v.affinity_s, 600, "affinity timeout");
		l.svc = v.id;
	}
	xvip_maps_srcrange_foreach(&dp.maps, range_cb, &l);
	ASSERT_EQ(l.n, 2, "two prefixes");
	ASSERT_TRUE(has_range_str(&l, "198.18.30.0/24"), "first prefix");

	/* Change the ranges: the new one added, the dropped one removed. */
	xvip_model_free(&m);
	m_svc(&m, VIP, 443, TCP, "default/lb:https");
	m_be(&m, POD1, 8443, READY);
	m_ranges(&m, 0, r2, 2);
	ASSERT_OK(apply(&rc, &m), "apply changed ranges");
	memset(l.got, 0, sizeof(l.got));
	l.n = 0;
	xvip_maps_srcrange_foreach(&dp.maps, range_cb, &l);
	ASSERT_EQ(l.n, 2, "still two prefixes");
	ASSERT_TRUE(!has_range_str(&l, "198.18.30.0/24"), "dropped prefix removed");
	ASSERT_TRUE(has_range_str(&l, "198.18.32.0/26"), "new prefix added");
	if (ASSERT_OK(xvip_maps_svc_get(&dp.maps, &k, &v), "svc value"))
		ASSERT_EQ(v.flags, XVIP_SVC_F_SRC_RANGES, "affinity off, ranges on");

	/* A restart adopts the ranges: a range removed meanwhile is removed, not kept. */
	xvip_rc_fini(&rc);
	ASSERT_OK(xvip_rc_init(&rc2, &dp.maps, nl, XVIP_MAGLEV_DEFAULT), "init");
	ASSERT_OK(xvip_rc_adopt(&rc2), "adopt");
	xvip_model_free(&m);
	m_svc(&m, VIP, 443, TCP, "default/lb:https");
	m_be(&m, POD1, 8443, READY);
	m_ranges(&m, 0, r2 + 1, 1);
	ASSERT_OK(apply(&rc2, &m), "apply after restart");
	memset(l.got, 0, sizeof(l.got));
	l.n = 0;
	xvip_maps_srcrange_foreach(&dp.maps, range_cb, &l);
	ASSERT_EQ(l.n, 1, "one prefix left");
	ASSERT_TRUE(has_range_str(&l, "198.18.32.0/26"), "the kept prefix");
	xvip_model_free(&m);
	rc_stop(&rc2);
	memset(l.got, 0, sizeof(l.got));
	l.n = 0;
	l.svc = 0;
	xvip_maps_srcrange_foreach(&dp.maps, range_cb, &l);
}

static bool vip_val(const char *vip, struct xvip_vip_val *vv)
{
	struct xvip_addr a = A(vip);

	return bpf_map_lookup_elem(dp.maps.vip, &a, vv) == 0;
}

TEST(vip_value_names_the_fragment_services)
{
	static const char *const r[] = { "198.18.30.0/24" };
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	struct xvip_vip_val vv;

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	m_svc(&m, VIP, 53, UDP, "default/dns:dns");
	m_be(&m, POD1, 5353, READY);
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_svc(&m, VIP, 443, TCP, "default/web:https");
	m_be(&m, POD1, 8443, READY);
	m_svc(&m, VIP2, 80, TCP, "default/lb:http");
	m_be(&m, POD2, 8080, READY);
	m_ranges(&m, 0, r, 1);
	ASSERT_OK(apply(&rc, &m), "apply");
	if (ASSERT_TRUE(vip_val(VIP, &vv), "vip entry")) {
		ASSERT_EQ(vv.nports, 3, "ports");
		ASSERT_EQ(vv.frag_svc_udp, svc_id(VIP, 53, UDP) + 1, "the one UDP service");
		ASSERT_EQ(vv.frag_svc_tcp, 0, "two TCP services: ambiguous");
	}
	if (ASSERT_TRUE(vip_val(VIP2, &vv), "vip2 entry"))
		ASSERT_EQ(vv.frag_svc_tcp, 0, "a ranged service takes no early fragments");
	xvip_model_free(&m);
	rc_stop(&rc);
}

/*
 * Security: a VIP that is an address of this node (on any interface) that
 * xvipd did not add is never programmed nor advertised, however the Service
 * claims it; it is accepted once the node no longer has it. VIPs xvipd put
 * on lo itself are not "addresses of this node" for this purpose.
 */
/* What xvipd does before each apply: this node's addresses, as the reconciler refuses them. */
static void rc_local(struct xvip_reconciler *rc, struct xvip_localaddr *la)
{
	bool changed;

	rc->local_err = xvip_localaddr_refresh(la, &changed);
	rc->local = la->a;
	rc->nlocal = la->n;
}

TEST(vip_that_is_a_node_address_is_refused)
{
	static const char *const NODE_ADDR = "198.18.21.77";
	struct xvip_reconciler rc;
	struct xvip_localaddr la;
	struct xvip_model m = {};

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	xvip_localaddr_init(&la, nl);
	if (!ASSERT_OK(system("ip link add xvrt-node type veth peer name xvrt-peer && ip link set xvrt-node up && "
			      "ip addr add 198.18.21.77/32 dev xvrt-node && "
			      "ip addr add 2001:db8:21::77/128 dev xvrt-node nodad"),
		       "a node address inside the VIP range")) {
		xvip_rc_fini(&rc);
		xvip_localaddr_fini(&la);
		return;
	}
	m_svc(&m, VIP, 80, TCP, "default/web:http");
	m_be(&m, POD1, 8080, READY);
	m_svc(&m, NODE_ADDR, 22, TCP, "evil/ssh:ssh");
	m_be(&m, POD2, 22, READY);
	m_svc(&m, "2001:db8:21::77", 22, TCP, "evil/ssh6:ssh");
	m_be(&m, "2001:db8:20::12", 22, READY);
	rc_local(&rc, &la);
	ASSERT_OK(apply(&rc, &m), "apply");
	ASSERT_TRUE(svc_id(VIP, 80, TCP), "the other VIP is programmed");
	ASSERT_TRUE(on_lo(VIP), "the other VIP is on lo");
	ASSERT_EQ(svc_id(NODE_ADDR, 22, TCP), 0, "node address not in xvip_svc");
	ASSERT_EQ(vip_nports(NODE_ADDR), -1, "node address not in xvip_vip");
	ASSERT_TRUE(!on_lo(NODE_ADDR), "node address not added to lo");
	ASSERT_EQ(svc_id("2001:db8:21::77", 22, TCP), 0, "IPv6 node address not in xvip_svc");
	ASSERT_EQ(rc.nrefused, 2, "two VIPs refused");
	ASSERT_EQ(rc.model.nsvcs, 1, "the kept model has only the other VIP");
	/* Applying again: VIP is on lo now, by xvipd's hand, and stays accepted. */
	rc_local(&rc, &la);
	ASSERT_OK(xvip_rc_apply(&rc, &rc.model), "apply again");
	ASSERT_TRUE(svc_id(VIP, 80, TCP) && on_lo(VIP), "xvipd's own VIP on lo is not refused");

	ASSERT_OK(system("ip link del xvrt-node"), "the node gives the address up");
	xvip_model_free(&m);
	m_svc(&m, NODE_ADDR, 22, TCP, "evil/ssh:ssh");
	m_be(&m, POD2, 22, READY);
	rc_local(&rc, &la);
	ASSERT_OK(apply(&rc, &m), "apply");
	ASSERT_TRUE(svc_id(NODE_ADDR, 22, TCP), "accepted once no longer the node's");
	ASSERT_EQ(rc.nrefused, 0, "nothing refused");
	rc_stop(&rc);
	xvip_localaddr_fini(&la);
	xvip_model_free(&m);
}

/*
 * Many new services in one apply: their tables go into xvip_maglev in one batch
 * (each single update of the outer map waits for an RCU grace period), and
 * every one still ends up whole, with its key and its VIP on lo after it.
 */
TEST(many_new_services_swapped_in_as_one_batch)
{
	enum { N = 300 };
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	char vip[32];

	RC_START(rc, XVIP_MAGLEV_DEFAULT);
	for (int i = 0; i < N; i++) {
		snprintf(vip, sizeof(vip), "198.18.%d.%d", 22 + i / 250, i % 250 + 1);
		m_svc(&m, vip, 80, TCP, "bench/many:http");
		m_be(&m, POD1, 8080, READY);
		m_be(&m, POD2, 8080, READY);
	}
	ASSERT_OK(apply(&rc, &m), "apply");
	ASSERT_EQ(rc.last.svcs_added, N, "services added");
	ASSERT_EQ(rc.last.tables_swapped, N, "tables swapped");
	ASSERT_EQ(lo_owned(), N, "every VIP on lo");
	for (int i = 0, keys = 0; i < N; i++) {
		snprintf(vip, sizeof(vip), "198.18.%d.%d", 22 + i / 250, i % 250 + 1);
		keys += svc_id(vip, 80, TCP) != 0;
		if (i == N - 1)
			ASSERT_EQ(keys, N, "every key in xvip_svc");
	}
	for (int i = 0; i < N; i += 37) {
		uint32_t sid, b1, b2;

		snprintf(vip, sizeof(vip), "198.18.%d.%d", 22 + i / 250, i % 250 + 1);
		sid = svc_id(vip, 80, TCP);
		if (!ASSERT_TRUE(sid, "key in xvip_svc"))
			continue;
		b1 = be_id(sid, POD1, 8080);
		b2 = be_id(sid, POD2, 8080);
		ASSERT_TRUE(b1 && b2 && b1 != b2, "backends of the service");
		expect_table(sid, xvip_maglev_size_for(2, XVIP_MAGLEV_DEFAULT),
			     (uint32_t[]){ b1, b2 }, 2);
	}
	ASSERT_OK(apply(&rc, &m), "apply again");
	ASSERT_EQ(rc.last.tables_swapped, 0, "nothing swapped when nothing changed");
	ASSERT_EQ(rc.last.svcs_added, 0, "nothing added");
	xvip_model_free(&m);
	rc_stop(&rc);
}

/* ---- deltas: applying only what changed ends where applying everything does */

static int snap_svc_cb(const struct xvip_svc_key *k, const struct xvip_svc_val *v, void *ctx)
{
	char ep[XVIP_EPSTRLEN];
	uint32_t *t = NULL, size = 0;
	uint64_t h = 0;

	if (!xvip_maps_maglev_read(&dp.maps, v->id, &t, &size))
		for (uint32_t i = 0; i < size; i++)
			h = h * 31 + t[i];
	free(t);
	fprintf(ctx, "svc %s id %u flags %u affinity %u table %u/%" PRIx64 "\n",
		xvip_endpoint_str(&k->vip, ntohs(k->port), k->proto, ep, sizeof(ep)), v->id,
		v->flags, v->affinity_s, size, h);
	return 0;
}

static int snap_be_cb(uint32_t id, const struct xvip_backend *be, void *ctx)
{
	char ep[XVIP_EPSTRLEN];

	fprintf(ctx, "be %u %s state %u svc %u\n", id,
		xvip_endpoint_str(&be->addr, ntohs(be->port), -1, ep, sizeof(ep)), be->state,
		be->svc_id);
	return 0;
}

static void snap_lo_cb(const struct xvip_addr *a, void *ctx)
{
	char s[XVIP_ADDRSTRLEN];

	fprintf(ctx, "lo %s\n", xvip_addr_str(a, s, sizeof(s)));
}

static int snap_line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Everything the reconciler programs, one sorted line per entry; free() it. */
static char *snapshot(void)
{
	struct xvip_addr k, next;
	char *buf = NULL, *out, *lines[4096], *p;
	size_t len = 0, n = 0, off = 0;
	void *prev = NULL;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	xvip_maps_svc_foreach(&dp.maps, snap_svc_cb, f);
	xvip_maps_be_foreach(&dp.maps, snap_be_cb, f);
	while (!bpf_map_get_next_key(dp.maps.vip, prev, &next)) {
		struct xvip_vip_val v = {};
		char s[XVIP_ADDRSTRLEN];

		k = next;
		prev = &k;
		bpf_map_lookup_elem(dp.maps.vip, &k, &v);
		fprintf(f, "vip %s nports %u frag %u/%u\n", xvip_addr_str(&k, s, sizeof(s)),
			v.nports, v.frag_svc_tcp, v.frag_svc_udp);
	}
	xvip_nl_lo_list(nl, snap_lo_cb, f);
	fclose(f);
	for (p = strtok(buf, "\n"); p && n < 4096; p = strtok(NULL, "\n"))
		lines[n++] = p;
	qsort(lines, n, sizeof(*lines), snap_line_cmp);
	out = calloc(1, len + n + 1);
	for (size_t i = 0; out && i < n; i++)
		off += (size_t)sprintf(out + off, "%s\n", lines[i]);
	free(buf);
	return out;
}

static int addr_cmp_v(const void *a, const void *b)
{
	return xvip_addr_cmp(a, b);
}

static const char *const dl_vips[] = { "198.18.21.1", "198.18.21.2", "198.18.21.3",
				       "2001:db8:21::1" };
static const char *const dl_pods4[] = { "198.18.20.11", "198.18.20.12", "198.18.20.13",
					"198.18.20.14" };
static const char *const dl_pods6[] = { "2001:db8:20::11", "2001:db8:20::12" };

/* Random entries for VIP v (maybe none), appended to m. */
static void dl_entries(struct xvip_model *m, const char *v)
{
	bool v6 = strchr(v, ':');

	for (uint16_t port = 80; port <= 81; port++) {
		for (int pr = 0; pr < 2; pr++) {
			uint8_t proto = pr ? UDP : TCP;

			if (rand() % 3 == 0)
				continue;
			m_svc(m, v, port, proto, "default/delta");
			if (rand() % 4 == 0)
				m->svcs[m->nsvcs - 1].affinity_s = 60;
			for (int b = 0; b < 4; b++) {
				if (rand() % 2)
					continue;
				if (v6 && b >= 2)
					continue;
				m_be(m, v6 ? dl_pods6[b] : dl_pods4[b], 8080,
				     rand() % 3 ? READY : SERVING);
			}
		}
	}
}

TEST(delta_apply_ends_where_full_apply_does)
{
	struct xvip_reconciler rc;
	struct xvip_model cur = {};
	unsigned int deltas = 0, tables = 0;

	RC_START(rc, 251);
	srand(7);
	ASSERT_OK(apply(&rc, &cur), "first, whole apply");
	for (int step = 0; step < 120 && !test_cur.failed; step++) {
		struct xvip_model next = {}, delta = {};
		struct xvip_addr vips[4];
		size_t nvips = 0;
		char what[64], *a, *b;
		bool pick[4];
		int ret;

		for (int v = 0; v < 4; v++)
			pick[v] = rand() % 3 == 0;
		/* next: the picked VIPs' entries new, the others' copied. */
		for (int v = 0; v < 4; v++) {
			struct xvip_addr va = A(dl_vips[v]);

			if (pick[v]) {
				dl_entries(&next, dl_vips[v]);
				vips[nvips++] = va;
				continue;
			}
			for (size_t i = 0; i < cur.nsvcs; i++) {
				if (xvip_addr_cmp(&cur.svcs[i].vip, &va))
					continue;
				m_svc(&next, dl_vips[v], cur.svcs[i].port, cur.svcs[i].proto,
				      cur.svcs[i].name);
				next.svcs[next.nsvcs - 1].affinity_s = cur.svcs[i].affinity_s;
				for (size_t k = 0; k < cur.svcs[i].nbackends; k++) {
					const struct xvip_model_backend *be = &cur.svcs[i].backends[k];
					char s[XVIP_ADDRSTRLEN];

					m_be(&next, xvip_addr_str(&be->addr, s, sizeof(s)), be->port,
					     be->state);
				}
			}
		}
		m_sort(&next);
		qsort(vips, nvips, sizeof(*vips), addr_cmp_v);
		/* The delta: every entry of the picked VIPs. */
		for (size_t i = 0; i < next.nsvcs; i++) {
			bool in = false;

			for (size_t k = 0; k < nvips; k++)
				in |= !xvip_addr_cmp(&vips[k], &next.svcs[i].vip);
			if (!in)
				continue;
			delta.svcs = realloc(delta.svcs, (delta.nsvcs + 1) * sizeof(*delta.svcs));
			delta.svcs[delta.nsvcs++] = next.svcs[i];
		}
		snprintf(what, sizeof(what), "step %d: delta of %zu VIPs", step, nvips);
		ret = xvip_rc_apply_delta(&rc, &delta, vips, nvips);
		ASSERT_EQ(ret, 0, what);
		free(delta.svcs);
		deltas++;
		tables += rc.last.tables_swapped;
		xvip_model_free(&cur);
		cur = next;
		/* Several deltas in a row now and then, before the comparison. */
		if (rand() % 3 == 0)
			continue;
		a = snapshot();
		snprintf(what, sizeof(what), "step %d: whole apply after the deltas", step);
		ASSERT_OK(xvip_rc_apply(&rc, &cur), what);
		ASSERT_EQ(rc.last.tables_swapped + rc.last.svcs_added + rc.last.svcs_removed +
			  rc.last.vips_added + rc.last.vips_removed, 0, what);
		b = snapshot();
		if (!ASSERT_TRUE(a && b, "snapshot") || !ASSERT_STREQ(b, a, what)) {
			free(a);
			free(b);
			break;
		}
		/* And it is the model: each service port with its table, VIPs with a ready endpoint on lo. */
		{
			int nready = 0, nsvc = 0, nvip = 0;

			for (int v = 0; v < 4; v++) {
				bool ready = false, any = false;

				for (size_t i = 0; i < cur.nsvcs; i++) {
					const struct xvip_model_svc *ms = &cur.svcs[i];
					char vs[XVIP_ADDRSTRLEN];

					xvip_addr_str(&ms->vip, vs, sizeof(vs));
					if (strcmp(vs, dl_vips[v]))
						continue;
					ASSERT_TRUE(svc_id(vs, ms->port, ms->proto) != 0, what);
					any = true;
					for (size_t k = 0; k < ms->nbackends; k++)
						ready |= ms->backends[k].state == READY;
				}
				nready += ready;
				nvip += any;
				ASSERT_EQ(on_lo(dl_vips[v]), ready, dl_vips[v]);
			}
			xvip_maps_svc_foreach(&dp.maps, count_svc_cb, &nsvc);
			ASSERT_EQ(nsvc, cur.nsvcs, "service ports programmed");
			ASSERT_EQ(lo_owned(), nready, "VIPs on lo");
			ASSERT_EQ(count_vips(), nvip, "VIPs in xvip_vip");
		}
		free(a);
		free(b);
	}
	/* The walk did change tables through deltas, not only through whole applies. */
	ASSERT_TRUE(deltas > 100 && tables > 50, "deltas swapped tables");
	xvip_model_free(&cur);
	rc_stop(&rc);
}

TEST_MAIN_FIXTURE(setup, teardown, TEST_CASE(apply_adds_service_and_advertises_vip),
	  TEST_CASE(apply_ipv6_service), TEST_CASE(serving_only_is_balanced_but_not_advertised),
	  TEST_CASE(no_endpoints_keeps_key_without_table), TEST_CASE(backend_removal_swaps_table),
	  TEST_CASE(ready_to_serving_leaves_table_keeps_flows),
	  TEST_CASE(service_removal_withdraws_last_port_vip),
	  TEST_CASE(vip_withdrawn_when_last_ready_port_goes), TEST_CASE(adopt_previous_state),
	  TEST_CASE(adopt_withdraws_stale_lo_vip), TEST_CASE(id_pool_reuses_freed_ids_last),
	  TEST_CASE(id_pool_after_adopt_reuses_freed_ids_last), TEST_CASE(maglev_size_cap),
	  TEST_CASE(unusable_endpoints_are_skipped), TEST_CASE(withdraw_reason_keeps_vips_off_lo),
	  TEST_CASE(no_nl_never_touches_lo),
	  TEST_CASE(affinity_and_source_ranges_programmed_by_difference),
	  TEST_CASE(vip_value_names_the_fragment_services),
	  TEST_CASE(vip_that_is_a_node_address_is_refused),
	  TEST_CASE(many_new_services_swapped_in_as_one_batch),
	  TEST_CASE(delta_apply_ends_where_full_apply_does))
