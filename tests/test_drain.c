// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Drain and hold-down in user/reconcile.c, against the real dataplane maps,
 * a real lo (in a network namespace of the test's own) and the real XDP
 * program run with BPF_PROG_TEST_RUN: a flow in conntrack keeps reaching its
 * endpoint while the port drains, a new flow is dropped, and after the drain
 * both are. Time is a fake clock the tests move, so nothing here sleeps.
 */
#include <errno.h>
#include <sched.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "test.h"
#include "dptest.h"
#include "pkt.h"
#include "addr.h"
#include "loader.h"
#include "log.h"
#include "maglev.h"
#include "maps.h"
#include "model.h"
#include "nl.h"
#include "reconcile.h"
#include "xvip_xdp.skel.h"

#define SEC_NS		1000000000ULL
#define TH_SYN		0x02
#define TH_ACK		0x10

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
static uint64_t fake_now = 1000 * SEC_NS;

static uint64_t fake_clock(void)
{
	return fake_now;
}

static const char *VIP = "198.18.21.1";
static const char *CLIENT = "198.18.30.10";
static const char *POD1 = "198.18.20.11";
static const char *POD2 = "198.18.20.12";

static struct xvip_addr A(const char *s)
{
	struct xvip_addr a = {};

	if (xvip_addr_parse(s, &a))
		TEST_FAIL("bad address literal %s", s);
	return a;
}

/* ---- models: VIP:80/tcp (web) and VIP:53/udp (dns) with the given endpoints */

static void m_svc(struct xvip_model *m, uint16_t port, uint8_t proto, const char *name)
{
	struct xvip_model_svc *s;

	m->svcs = realloc(m->svcs, (m->nsvcs + 1) * sizeof(*m->svcs));
	if (!m->svcs)
		abort();
	s = &m->svcs[m->nsvcs++];
	memset(s, 0, sizeof(*s));
	s->vip = A(VIP);
	s->port = port;
	s->proto = proto;
	s->name = strdup(name);
}

static void m_be(struct xvip_model *m, const char *addr, uint8_t state)
{
	struct xvip_model_svc *s = &m->svcs[m->nsvcs - 1];

	s->backends = realloc(s->backends, (s->nbackends + 1) * sizeof(*s->backends));
	if (!s->backends)
		abort();
	s->backends[s->nbackends++] = (struct xvip_model_backend){
		.addr = A(addr), .port = 8080, .state = state, .weight = 1,
	};
}

/* web:80/tcp with endpoints pods[] (NULL-terminated; all in one state). Sorted as required. */
static void model_web(struct xvip_model *m, uint8_t state, const char *const *pods)
{
	memset(m, 0, sizeof(*m));
	m_svc(m, 80, IPPROTO_TCP, "default/web:http");
	for (size_t i = 0; pods && pods[i]; i++)
		m_be(m, pods[i], state);
}

static int apply(struct xvip_reconciler *rc, struct xvip_model *m)
{
	int ret = xvip_rc_apply(rc, m);

	xvip_model_free(m);
	return ret;
}

static void rc_setup(struct xvip_reconciler *rc, uint64_t drain_s, uint64_t hold_s)
{
	ASSERT_OK(xvip_rc_init(rc, &dp.maps, nl, XVIP_MAGLEV_DEFAULT), "xvip_rc_init");
	rc->clock = fake_clock;
	rc->drain_ns = drain_s * SEC_NS;
	rc->hold_down_ns = hold_s * SEC_NS;
}

/* Leave the maps and lo empty for the next test. */
static void rc_teardown(struct xvip_reconciler *rc)
{
	struct xvip_model empty = {};

	rc->drain_ns = 0;
	for (size_t i = 0; i < rc->nsvcs; i++)
		rc->svcs[i].drain_until_ns = 0;
	ASSERT_EQ(xvip_rc_apply(rc, &empty), 0, "apply the empty model");
	ASSERT_EQ(rc->nsvcs, 0, "no service left");
	xvip_rc_fini(rc);
}

/* ---- reading the outcome back, independently of the reconciler's view */

static int capture(const char *cmd, char *buf, size_t len)
{
	size_t n = 0, r;
	FILE *f = popen(cmd, "r");

	if (!f)
		return -1;
	while (n < len - 1 && (r = fread(buf + n, 1, len - 1 - n, f)) > 0)
		n += r;
	buf[n] = '\0';
	return pclose(f) == 0 ? 0 : -1;
}

static bool on_lo(const char *addr)
{
	char out[8192], want[64];

	if (capture("ip -o addr show dev lo", out, sizeof(out))) {
		TEST_FAIL("ip -o addr show dev lo failed");
		return false;
	}
	snprintf(want, sizeof(want), " inet %s/32 ", addr);
	return strstr(out, want) != NULL;
}

static uint32_t svc_id(uint16_t port, uint8_t proto)
{
	struct xvip_svc_key k = { .vip = A(VIP), .port = htons(port), .proto = proto };
	struct xvip_svc_val v = {};

	return xvip_maps_svc_get(&dp.maps, &k, &v) ? 0 : v.id;
}

static bool vip_in_map(void)
{
	struct xvip_addr a = A(VIP);
	struct xvip_vip_val v;

	return bpf_map_lookup_elem(dp.maps.vip, &a, &v) == 0;
}

static bool has_table(uint32_t sid)
{
	uint32_t *t = NULL, n = 0;
	int ret = xvip_maps_maglev_read(&dp.maps, sid, &t, &n);

	free(t);
	return ret == 0;
}

struct be_count {
	uint32_t svc_id;
	int n[4];	/* per enum xvip_be_state */
};

static int be_count_cb(uint32_t id, const struct xvip_backend *be, void *ctx)
{
	struct be_count *c = ctx;

	if (be->svc_id == c->svc_id && be->state < 4)
		c->n[be->state]++;
	return 0;
}

/* Backends of sid programmed in xvip_be in state st. */
static int nbe(uint32_t sid, uint8_t st)
{
	struct be_count c = { .svc_id = sid };

	xvip_maps_be_foreach(&dp.maps, be_count_cb, &c);
	return c.n[st];
}

static const struct xvip_rc_vip *rc_vip(const struct xvip_reconciler *rc)
{
	struct xvip_addr a = A(VIP);

	for (size_t i = 0; i < rc->nvips; i++)
		if (!xvip_addr_cmp(&rc->vips[i].addr, &a))
			return &rc->vips[i];
	return NULL;
}

static int vip_why(const struct xvip_reconciler *rc)
{
	const struct xvip_rc_vip *v = rc_vip(rc);

	return v ? v->why : -1;
}

/* ---- packets through the XDP program */

struct verdict {
	uint32_t action;
	uint32_t daddr;		/* network order, after the program */
	uint16_t dport;		/* host order */
};

static struct verdict send_tcp(uint16_t sport, uint8_t flags)
{
	struct pkt_spec s = { .saddr = CLIENT, .daddr = VIP, .sport = sport, .dport = 80,
			      .proto = IPPROTO_TCP, .tcp_flags = flags };
	uint8_t in[PKT_MAX], out[PKT_MAX];
	size_t len = pkt_build(&s, in, sizeof(in));
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	struct verdict v = { .action = 0xffff };
	const struct iphdr *iph = (const void *)(out + sizeof(struct ethhdr));
	const struct tcphdr *th;

	if (bpf_prog_test_run_opts(bpf_program__fd(dp.xdp->progs.xvip_xdp), &o)) {
		TEST_FAIL("bpf_prog_test_run_opts: %s", strerror(errno));
		return v;
	}
	v.action = o.retval;
	th = (const void *)((const uint8_t *)iph + iph->ihl * 4);
	v.daddr = iph->daddr;
	v.dport = ntohs(th->dest);
	return v;
}

static bool to_pod(struct verdict v, const char *pod)
{
	return v.action == XDP_PASS && v.daddr == A(pod).a[3] && v.dport == 8080;
}

static const char *pod_of(struct verdict v)
{
	if (v.action != XDP_PASS)
		return NULL;
	if (v.daddr == A(POD1).a[3])
		return POD1;
	if (v.daddr == A(POD2).a[3])
		return POD2;
	return NULL;
}

/* ---- drain */

TEST(drain_withdraws_first_and_keeps_established_flows)
{
	static const char *const pods[] = { "198.18.20.11", "198.18.20.12", NULL };
	struct xvip_reconciler rc;
	struct xvip_model m;
	struct verdict v;
	const char *pod;
	uint32_t sid;

	rc_setup(&rc, 10, 0);
	model_web(&m, XVIP_BE_READY, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply two ready endpoints");
	ASSERT_TRUE(on_lo(VIP), "VIP advertised");
	sid = svc_id(80, IPPROTO_TCP);
	ASSERT_TRUE(sid != 0, "service programmed");

	/* An established flow, in conntrack. */
	v = send_tcp(41001, TH_SYN);
	pod = pod_of(v);
	if (!ASSERT_TRUE(pod != NULL, "SYN balanced to a pod"))
		goto out;

	/* Every endpoint gone from the EndpointSlice. */
	model_web(&m, XVIP_BE_READY, NULL);
	ASSERT_EQ(apply(&rc, &m), 0, "apply: no endpoint");
	ASSERT_TRUE(!on_lo(VIP), "VIP withdrawn at once");
	ASSERT_EQ(vip_why(&rc), XVIP_VIP_DRAINING, "why: draining");
	ASSERT_TRUE(vip_in_map(), "VIP entry kept while draining");
	ASSERT_EQ(svc_id(80, IPPROTO_TCP), sid, "service key kept while draining");
	ASSERT_TRUE(!has_table(sid), "no table: new flows get no endpoint");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 2, "both endpoints draining");
	ASSERT_EQ(xvip_rc_next_deadline(&rc), fake_now + 10 * SEC_NS,
		  "deadline at the drain's end");

	v = send_tcp(41001, TH_ACK);
	ASSERT_TRUE(to_pod(v, pod), "established flow still reaches its pod while draining");
	v = send_tcp(41002, TH_SYN);
	ASSERT_EQ(v.action, XDP_DROP, "new flow dropped while draining");

	/* Halfway: nothing changes. */
	fake_now += 5 * SEC_NS;
	ASSERT_EQ(xvip_rc_reapply(&rc), 0, "reapply at 5 s");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 2, "still draining at 5 s");
	v = send_tcp(41001, TH_ACK);
	ASSERT_TRUE(to_pod(v, pod), "established flow served at 5 s");

	/* The drain ends: endpoints removed, the flow has nowhere to go. */
	fake_now += 5 * SEC_NS;
	ASSERT_EQ(xvip_rc_reapply(&rc), 0, "reapply at 10 s");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 0, "drained endpoints removed");
	ASSERT_EQ(xvip_rc_next_deadline(&rc), 0, "no deadline left");
	ASSERT_EQ(vip_why(&rc), XVIP_VIP_NO_READY, "why: no ready endpoint");
	v = send_tcp(41001, TH_ACK);
	ASSERT_EQ(v.action, XDP_DROP, "established flow dropped after the drain");
	ASSERT_TRUE(!on_lo(VIP), "VIP still withdrawn");
out:
	rc_teardown(&rc);
}

TEST(drain_when_the_service_is_deleted)
{
	static const char *const pods[] = { "198.18.20.11", NULL };
	struct xvip_reconciler rc;
	struct xvip_model m = {};
	struct verdict v;
	uint32_t sid;

	rc_setup(&rc, 30, 0);
	model_web(&m, XVIP_BE_READY, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply");
	sid = svc_id(80, IPPROTO_TCP);
	v = send_tcp(42001, TH_SYN);
	ASSERT_TRUE(to_pod(v, POD1), "SYN to pod1");

	memset(&m, 0, sizeof(m));
	ASSERT_EQ(apply(&rc, &m), 0, "apply: the Service is gone");
	ASSERT_TRUE(!on_lo(VIP), "VIP withdrawn");
	ASSERT_TRUE(vip_in_map(), "VIP entry kept while its port drains");
	ASSERT_EQ(svc_id(80, IPPROTO_TCP), sid, "service key kept while draining");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 1, "endpoint draining");
	ASSERT_EQ(vip_why(&rc), XVIP_VIP_DRAINING, "why: draining");
	v = send_tcp(42001, TH_ACK);
	ASSERT_TRUE(to_pod(v, POD1), "established flow served while draining");

	fake_now += 30 * SEC_NS;
	ASSERT_EQ(xvip_rc_reapply(&rc), 0, "reapply after the drain");
	ASSERT_EQ(svc_id(80, IPPROTO_TCP), 0, "service key removed");
	ASSERT_TRUE(!vip_in_map(), "VIP entry removed");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 0, "endpoint removed");
	ASSERT_EQ(rc.nvips, 0, "no VIP left in the reconciler");
	v = send_tcp(42001, TH_ACK);
	ASSERT_TRUE(v.action == XDP_PASS && v.daddr == A(VIP).a[3],
		    "not a VIP any more: passed untouched");
	rc_teardown(&rc);
}

TEST(drain_ends_when_an_endpoint_returns)
{
	static const char *const pods[] = { "198.18.20.11", NULL };
	static const char *const pods2[] = { "198.18.20.11", "198.18.20.12", NULL };
	struct xvip_reconciler rc;
	struct xvip_model m;
	uint32_t sid;

	rc_setup(&rc, 30, 0);
	model_web(&m, XVIP_BE_READY, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply");
	sid = svc_id(80, IPPROTO_TCP);
	model_web(&m, XVIP_BE_READY, NULL);
	ASSERT_EQ(apply(&rc, &m), 0, "apply: none");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 1, "draining");

	fake_now += 3 * SEC_NS;
	model_web(&m, XVIP_BE_READY, pods2);
	ASSERT_EQ(apply(&rc, &m), 0, "apply: two ready again");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 0, "no longer draining");
	ASSERT_EQ(nbe(sid, XVIP_BE_READY), 2, "both ready");
	ASSERT_TRUE(has_table(sid), "table back");
	ASSERT_TRUE(on_lo(VIP), "VIP advertised again");
	ASSERT_EQ(xvip_rc_next_deadline(&rc), 0, "no deadline");
	ASSERT_TRUE(to_pod(send_tcp(43001, TH_SYN), POD1) ||
		    to_pod(send_tcp(43001, TH_SYN), POD2), "new flows balanced again");
	rc_teardown(&rc);
}

TEST(no_drain_removes_at_once)
{
	static const char *const pods[] = { "198.18.20.11", NULL };
	struct xvip_reconciler rc;
	struct xvip_model m;
	uint32_t sid;

	rc_setup(&rc, 0, 0);
	model_web(&m, XVIP_BE_READY, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply");
	sid = svc_id(80, IPPROTO_TCP);
	ASSERT_TRUE(to_pod(send_tcp(44001, TH_SYN), POD1), "SYN to pod1");
	model_web(&m, XVIP_BE_READY, NULL);
	ASSERT_EQ(apply(&rc, &m), 0, "apply: none");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING) + nbe(sid, XVIP_BE_READY), 0, "removed at once");
	ASSERT_EQ(send_tcp(44001, TH_ACK).action, XDP_DROP, "established flow dropped at once");
	ASSERT_EQ(xvip_rc_next_deadline(&rc), 0, "no deadline");
	rc_teardown(&rc);
}

/* Terminating (serving) endpoints are not "gone": no drain, they keep taking flows. */
TEST(terminating_endpoints_do_not_drain)
{
	static const char *const pods[] = { "198.18.20.11", NULL };
	struct xvip_reconciler rc;
	struct xvip_model m;
	uint32_t sid;

	rc_setup(&rc, 30, 0);
	model_web(&m, XVIP_BE_READY, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply");
	sid = svc_id(80, IPPROTO_TCP);
	model_web(&m, XVIP_BE_SERVING, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply: terminating");
	ASSERT_TRUE(!on_lo(VIP), "withdrawn: no ready endpoint");
	ASSERT_EQ(vip_why(&rc), XVIP_VIP_NO_READY, "why: no ready endpoint");
	ASSERT_EQ(nbe(sid, XVIP_BE_SERVING), 1, "serving, not draining");
	ASSERT_TRUE(to_pod(send_tcp(45001, TH_SYN), POD1), "new flow to the serving endpoint");
	ASSERT_EQ(xvip_rc_next_deadline(&rc), 0, "no deadline");
	rc_teardown(&rc);
}

/* A restarted xvipd finds DRAINING backends in the pins: the drain starts over. */
TEST(adopted_drain_restarts_and_ends)
{
	static const char *const pods[] = { "198.18.20.11", NULL };
	struct xvip_reconciler rc, rc2;
	struct xvip_model m;
	uint32_t sid;

	rc_setup(&rc, 30, 0);
	model_web(&m, XVIP_BE_READY, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply");
	sid = svc_id(80, IPPROTO_TCP);
	model_web(&m, XVIP_BE_READY, NULL);
	ASSERT_EQ(apply(&rc, &m), 0, "apply: none");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 1, "draining");
	xvip_rc_fini(&rc);	/* xvipd stops: maps stay */

	fake_now += 20 * SEC_NS;
	rc_setup(&rc2, 30, 0);
	ASSERT_OK(xvip_rc_adopt(&rc2), "adopt");
	ASSERT_EQ(xvip_rc_next_deadline(&rc2), fake_now + 30 * SEC_NS, "drain restarted");
	model_web(&m, XVIP_BE_READY, NULL);
	ASSERT_EQ(apply(&rc2, &m), 0, "apply: none");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 1, "still draining after the restart");
	fake_now += 30 * SEC_NS;
	ASSERT_EQ(xvip_rc_reapply(&rc2), 0, "reapply");
	ASSERT_EQ(nbe(sid, XVIP_BE_DRAINING), 0, "drained");
	rc_teardown(&rc2);
}

/* ---- hold-down */

TEST(first_advertisement_is_not_held)
{
	static const char *const pods[] = { "198.18.20.11", NULL };
	struct xvip_reconciler rc;
	struct xvip_model m;

	rc_setup(&rc, 0, 5);
	model_web(&m, XVIP_BE_READY, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply");
	ASSERT_TRUE(on_lo(VIP), "a new VIP is advertised at once");
	ASSERT_EQ(vip_why(&rc), XVIP_VIP_ADVERTISED, "why: advertised");
	rc_teardown(&rc);
}

TEST(hold_down_stops_a_bouncing_endpoint_from_flapping)
{
	static const char *const pods[] = { "198.18.20.11", NULL };
	struct xvip_reconciler rc;
	struct xvip_model m;
	uint64_t t0;
	unsigned int added = 0, removed = 0;

	rc_setup(&rc, 0, 5);
	model_web(&m, XVIP_BE_READY, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply");
	ASSERT_TRUE(on_lo(VIP), "advertised");

	/* The endpoint bounces: not ready, ready, not ready, ready, 1 s apart. */
	for (int i = 0; i < 4; i++) {
		fake_now += SEC_NS;
		model_web(&m, i % 2 ? XVIP_BE_READY : XVIP_BE_SERVING, pods);
		ASSERT_EQ(apply(&rc, &m), 0, "apply a bounce");
		added += rc.last.vips_added;
		removed += rc.last.vips_removed;
		ASSERT_TRUE(!on_lo(VIP), "stays withdrawn while bouncing");
	}
	ASSERT_EQ(removed, 1, "withdrawn once, at the first bounce");
	ASSERT_EQ(added, 0, "not re-advertised while bouncing");
	ASSERT_EQ(vip_why(&rc), XVIP_VIP_HOLD_DOWN, "why: hold-down");
	t0 = fake_now;
	ASSERT_EQ(xvip_rc_next_deadline(&rc), t0 + 5 * SEC_NS,
		  "deadline: 5 s after the last bounce");

	fake_now = t0 + 4 * SEC_NS;
	ASSERT_EQ(xvip_rc_reapply(&rc), 0, "reapply at 4 s");
	ASSERT_TRUE(!on_lo(VIP), "still held at 4 s");
	fake_now = t0 + 5 * SEC_NS;
	ASSERT_EQ(xvip_rc_reapply(&rc), 0, "reapply at 5 s");
	ASSERT_TRUE(on_lo(VIP), "advertised once stable for the hold-down");
	ASSERT_EQ(vip_why(&rc), XVIP_VIP_ADVERTISED, "why: advertised");
	ASSERT_EQ(xvip_rc_next_deadline(&rc), 0, "no deadline");

	/* Withdrawal is immediate, hold-down or not. */
	fake_now += SEC_NS;
	model_web(&m, XVIP_BE_SERVING, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply: not ready");
	ASSERT_TRUE(!on_lo(VIP), "withdrawn at once");
	rc_teardown(&rc);
}

TEST(hold_down_after_withdraw_reason)
{
	static const char *const pods[] = { "198.18.20.11", NULL };
	struct xvip_reconciler rc;
	struct xvip_model m;

	rc_setup(&rc, 0, 2);
	model_web(&m, XVIP_BE_READY, pods);
	ASSERT_EQ(apply(&rc, &m), 0, "apply");
	rc.withdraw_reason = "xdp detached from eno5";
	ASSERT_EQ(xvip_rc_reapply(&rc), 0, "reapply with a withdraw reason");
	ASSERT_TRUE(!on_lo(VIP), "withdrawn");
	ASSERT_EQ(vip_why(&rc), XVIP_VIP_WITHDRAWN, "why: withdrawn");
	ASSERT_TRUE(to_pod(send_tcp(46001, TH_SYN), POD1), "maps still serve flows that arrive");
	fake_now += SEC_NS;
	rc.withdraw_reason = NULL;
	ASSERT_EQ(xvip_rc_reapply(&rc), 0, "reapply: dataplane back");
	ASSERT_TRUE(!on_lo(VIP), "held after the dataplane came back");
	ASSERT_EQ(vip_why(&rc), XVIP_VIP_HOLD_DOWN, "why: hold-down");
	fake_now += 2 * SEC_NS;
	ASSERT_EQ(xvip_rc_reapply(&rc), 0, "reapply after the hold-down");
	ASSERT_TRUE(on_lo(VIP), "advertised again");
	rc_teardown(&rc);
}

/* Not tests: run once around them (test.h). */
static void setup(void)
{
	dptest_start("drain", netns_err, &dp, pin_dir, sizeof(pin_dir), &nl);
}

static void teardown(void)
{
	dptest_stop(&dp, pin_dir, nl);
}

TEST_MAIN_FIXTURE(setup, teardown, TEST_CASE(drain_withdraws_first_and_keeps_established_flows),
	  TEST_CASE(drain_when_the_service_is_deleted),
	  TEST_CASE(drain_ends_when_an_endpoint_returns),
	  TEST_CASE(no_drain_removes_at_once), TEST_CASE(terminating_endpoints_do_not_drain),
	  TEST_CASE(adopted_drain_restarts_and_ends), TEST_CASE(first_advertisement_is_not_held),
	  TEST_CASE(hold_down_stops_a_bouncing_endpoint_from_flapping),
	  TEST_CASE(hold_down_after_withdraw_reason))
