// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Per-packet cost of the XDP program, with BPF_PROG_TEST_RUN (`make bench`).
 *
 * Method. BPF_PROG_TEST_RUN with repeat > 1 hands every repeat the packet
 * as the previous one left it: after the first DNAT the program sees a
 * packet to a pod and measures the non-VIP path. So every packet here is one
 * test run with repeat = 1, which copies the input afresh; the kernel times
 * that one run (duration, ns). A repeat = 1 run carries a fixed overhead
 * (local_bh_disable/enable and two clock reads around the program), which
 * is measured in the same run with a program that only returns XDP_PASS
 * (xvip_bench_nop) and subtracted. Each scenario runs `iterations` packets
 * per round, each round measures the overhead before and after, and the
 * figure is the median over rounds of (scenario mean - overhead mean),
 * means without interrupted runs (see dist_of).
 *
 * Checks. Every output packet is compared byte for byte with the expected
 * one (the DNAT to the conntrack entry's backend, or the input untouched),
 * and the program's counters must move by exactly the number of packets in
 * the expected class (lb_new for new flows, lb_ct for established ones,
 * pass for non-VIP traffic); a scenario that fails a check is reported as
 * failed, not measured.
 *
 * Cross-check of the method (method_check in the output): a naive
 * repeat = R run of an established packet moves lb_ct by 1 and pass by
 * R - 1 (the pitfall, shown); a service whose backend is its own VIP:port
 * makes the DNAT idempotent, so a repeat = R run really measures R
 * established packets (lb_ct moves by R, the output equals the input), and
 * its per-packet figure is compared with the repeat = 1 one.
 *
 *   bench_dp [--iterations N] [--rounds R] [--services N] [--ct N] [--cpu C]
 *            [--smoke] [--out FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <json-c/json.h>

#include "pkt.h"
#include "addr.h"
#include "loader.h"
#include "log.h"
#include "maglev.h"
#include "maps.h"
#include "xvip_hash.h"
#define BENCH_PFX	"xvbench-dp"
#define BENCH_NAME	"bench_dp"
#include "bench.h"
#include "xvip_bench.skel.h"
#include "xvip_xdp.skel.h"

#define TH_SYN		0x02
#define NBE		10		/* endpoints per service */
#define TABLE		1021		/* their Maglev table (xvip_maglev_size_for(10)) */
#define SELF_REPEAT	10000

static const char *CLIENT4 = "198.18.30.10";
static const char *CLIENT6 = "2001:db8:30::10";

struct opts {
	unsigned int iterations, rounds, services, cpu;
	unsigned long ct, ct_size;
	const char *out;
	bool smoke;
};

/* The services the scenarios address; fillers only make the maps big. */
enum { SVC_TCP4 = 1, SVC_UDP4, SVC_TCP6, SVC_SELF, SVC_FIRST_FILLER };

struct bench {
	struct xvip_dp dp;
	struct xvip_bench *ref;
	char pin_dir[128];
	int xdp_fd, nop_fd, floor_fd;
	bool loaded;
};

static void addr_or_die(const char *s, struct xvip_addr *a)
{
	if (xvip_addr_parse(s, a)) {
		fprintf(stderr, "bench_dp: bad address %s\n", s);
		exit(2);
	}
}

static void v4_addr(struct xvip_addr *a, uint32_t host_order)
{
	xvip_addr_from_v4(a, htonl(host_order));
}

/* 198.18.0.0/15 is the benchmarking range (RFC 2544); everything stays in our netns. */
#define IP4(a, b, c, d)	((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static void backend_addr(uint32_t svc, uint32_t k, struct xvip_addr *a, uint16_t *port)
{
	if (svc == SVC_TCP6) {
		char s[64];

		snprintf(s, sizeof(s), "2001:db8:20::%x", 0x11 + k);
		addr_or_die(s, a);
		*port = 8443;
	} else {
		v4_addr(a, IP4(198, 18, 20, 11 + k));
		*port = svc == SVC_UDP4 ? 5353 : 8080;
	}
}

static void svc_key(uint32_t svc, struct xvip_svc_key *k)
{
	memset(k, 0, sizeof(*k));
	switch (svc) {
	case SVC_TCP4:
		addr_or_die("198.18.21.1", &k->vip);
		k->port = htons(80);
		k->proto = IPPROTO_TCP;
		break;
	case SVC_UDP4:
		addr_or_die("198.18.21.1", &k->vip);
		k->port = htons(53);
		k->proto = IPPROTO_UDP;
		break;
	case SVC_TCP6:
		addr_or_die("2001:db8:21::1", &k->vip);
		k->port = htons(443);
		k->proto = IPPROTO_TCP;
		break;
	case SVC_SELF:
		addr_or_die("198.18.21.9", &k->vip);
		k->port = htons(80);
		k->proto = IPPROTO_TCP;
		break;
	default:
		/* fillers: 198.19.0.0/16, one VIP each, port 80/tcp */
		v4_addr(&k->vip, IP4(198, 19, 0, 0) + svc);
		k->port = htons(80);
		k->proto = IPPROTO_TCP;
	}
}

/*
 * A filled Maglev inner map, not yet in xvip_maglev. Updating the outer
 * array-of-maps waits for an RCU grace period per update (the kernel makes
 * sure no program still sees the old table), about 9 ms here: 10,000 services
 * one by one take minutes. The benchmark swaps its fillers in with one batch.
 */
static int inner_table(struct bench *b, const uint32_t *table, uint32_t size)
{
	int fd, ret = xvip_maps_maglev_prepare(&b->dp.maps, table, size, &fd);

	return ret ? ret : fd;
}

/*
 * One service as xvipd programs it: backends, a real Maglev table, then the
 * key. With inner_fd, the table is left for the caller to swap in.
 */
static int add_service(struct bench *b, uint32_t svc, int *inner_fd)
{
	struct xvip_maglev_backend mb[NBE];
	struct {
		struct xvip_addr addr;
		uint16_t port;
	} __attribute__((packed)) ident[NBE];
	struct xvip_vip_val vv = { .nports = svc == SVC_TCP4 || svc == SVC_UDP4 ? 2 : 1 };
	struct xvip_svc_val sv = { .id = svc };
	struct xvip_svc_key k;
	uint32_t table[TABLE], n = svc == SVC_SELF ? 1 : NBE;
	int ret;

	svc_key(svc, &k);
	for (uint32_t i = 0; i < n; i++) {
		struct xvip_backend be = { .state = XVIP_BE_READY, .svc_id = svc };
		uint16_t port;

		if (svc == SVC_SELF) {
			/* Backend = the VIP:port itself: the DNAT rewrites nothing. */
			be.addr = k.vip;
			port = ntohs(k.port);
		} else {
			backend_addr(svc, i, &be.addr, &port);
		}
		be.port = htons(port);
		ret = xvip_maps_be_set(&b->dp.maps, svc * NBE + i, &be);
		if (ret)
			return ret;
		ident[i].addr = be.addr;
		ident[i].port = port;
		mb[i] = (struct xvip_maglev_backend){ .id = svc * NBE + i, .weight = 1,
						      .key = &ident[i], .keylen = sizeof(ident[i]) };
	}
	ret = xvip_maglev_build(mb, n, TABLE, table);
	if (ret)
		return ret;
	if (inner_fd) {
		*inner_fd = inner_table(b, table, TABLE);
		return *inner_fd < 0 ? *inner_fd : 0;
	}
	ret = xvip_maps_maglev_swap(&b->dp.maps, svc, table, TABLE);
	ret = ret ?: xvip_maps_svc_set(&b->dp.maps, &k, &sv);
	return ret ?: xvip_maps_vip_set(&b->dp.maps, &k.vip, &vv);
}

static int add_fillers(struct bench *b, uint32_t first, uint32_t last)
{
	uint32_t n = last >= first ? last - first + 1 : 0, cnt = n;
	uint32_t *keys = calloc(n + 1, sizeof(*keys));
	int *fds = calloc(n + 1, sizeof(*fds));
	int ret = 0;

	if (!keys || !fds) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n && !ret; i++) {
		keys[i] = first + i;
		fds[i] = -1;
		ret = add_service(b, first + i, &fds[i]);
	}
	if (!ret && n && bpf_map_update_batch(b->dp.maps.maglev, keys, fds, &cnt, NULL))
		ret = -errno;
	for (uint32_t i = 0; i < n && !ret; i++) {
		struct xvip_vip_val vv = { .nports = 1 };
		struct xvip_svc_val sv = { .id = first + i };
		struct xvip_svc_key k;

		svc_key(first + i, &k);
		ret = xvip_maps_svc_set(&b->dp.maps, &k, &sv);
		ret = ret ?: xvip_maps_vip_set(&b->dp.maps, &k.vip, &vv);
	}
out:
	for (uint32_t i = 0; fds && i < n; i++)
		if (fds[i] > 0)
			close(fds[i]);
	free(keys);
	free(fds);
	return ret;
}

static int count_flow(const struct xvip_flow *k, const struct xvip_ct_val *v, void *arg)
{
	(void)k;
	(void)v;
	++*(unsigned long *)arg;
	return 0;
}

/*
 * Conntrack entries of clients we never send from, to the services in the
 * maps, in both directions. The tables are 4-way caches: n entries in n
 * slots fill them to about 80% (a bucket's fifth flow takes the way seen
 * longest ago), which is what a full table looks like.
 */
static int prefill_ct(struct bench *b, unsigned long n, uint32_t nsvcs, double *secs)
{
	struct xvip_flow *fk = calloc(n, sizeof(*fk)), *rk = calloc(n, sizeof(*rk));
	struct xvip_ct_val *fv = calloc(n, sizeof(*fv));
	struct xvip_rnat_val *rv = calloc(n, sizeof(*rv));
	double t0 = now_s();
	int ret = 0;

	if (!fk || !rk || !fv || !rv) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned long i = 0; i < n; i++) {
		/* services other than SVC_SELF; TCP over IPv4 */
		uint32_t svc = nsvcs > SVC_SELF ? SVC_FIRST_FILLER + (uint32_t)(i % (nsvcs - 4))
						: SVC_TCP4;
		struct xvip_svc_key k;
		struct xvip_addr be_addr;
		uint16_t be_port;

		svc_key(svc, &k);
		backend_addr(svc, (uint32_t)(i % NBE), &be_addr, &be_port);
		v4_addr(&fk[i].saddr, IP4(198, 18, 128, 0) + (uint32_t)(i / 32));
		fk[i].daddr = k.vip;
		fk[i].sport = htons((uint16_t)(20000 + i % 32));
		fk[i].dport = k.port;
		fk[i].proto = IPPROTO_TCP;
		fv[i] = (struct xvip_ct_val){ .backend_id = svc * NBE + (uint32_t)(i % NBE),
					      .svc_id = svc, .seen_ns = 1 };
		rk[i].saddr = be_addr;
		rk[i].daddr = fk[i].saddr;
		rk[i].sport = htons(be_port);
		rk[i].dport = fk[i].sport;
		rk[i].proto = IPPROTO_TCP;
		rv[i].vip = k.vip;
		rv[i].vport = k.port;
		rv[i].svc_id = svc;
	}
	ret = xvip_maps_ct_load(&b->dp.maps, fk, fv, n);
	ret = ret ?: xvip_maps_rnat_load(&b->dp.maps, rk, rv, n);
out:
	*secs = now_s() - t0;
	free(fk);
	free(rk);
	free(fv);
	free(rv);
	return ret;
}

static void teardown(struct bench *b)
{
	xvip_bench__destroy(b->ref);
	b->ref = NULL;
	if (b->loaded)
		xvip_dp_close(&b->dp);
	if (b->pin_dir[0])
		xvip_dp_cleanup(b->pin_dir);
	b->loaded = false;
}

/* A fresh dataplane (new maps) with nsvcs service ports and ct conntrack entries. */
static uint32_t ct_size = XVIP_CT_DEFAULT;

static int setup(struct bench *b, uint32_t nsvcs, unsigned long ct, double *fill_s,
		 double *prefill_s)
{
	struct xvip_dp_opts o = { .ct_size = ct_size };
	double t0;
	int ret;

	snprintf(b->pin_dir, sizeof(b->pin_dir), "/sys/fs/bpf/xvbench-dp-%d", getpid());
	o.pin_dir = b->pin_dir;
	xvip_dp_cleanup(b->pin_dir);
	ret = xvip_dp_load(&b->dp, &o);
	if (ret) {
		fprintf(stderr, "bench_dp: load the dataplane: %s (%d)\n", strerror(-ret), ret);
		return ret;
	}
	b->loaded = true;
	b->ref = xvip_bench__open();
	if (b->ref) {
		bpf_map__set_max_entries(b->ref->maps.bench_lru, ct_size);
		bpf_map__set_max_entries(b->ref->maps.bench_lru_pcpu, ct_size);
		bpf_map__set_max_entries(b->ref->maps.bench_hash, ct_size);
		ret = xvip_bench__load(b->ref);
	}
	if (!b->ref || ret) {
		ret = b->ref ? ret : -errno;
		fprintf(stderr, "bench_dp: load the reference programs: %s\n", strerror(-ret));
		return ret;
	}
	b->xdp_fd = bpf_program__fd(b->dp.xdp->progs.xvip_xdp);
	b->nop_fd = bpf_program__fd(b->ref->progs.xvip_bench_nop);
	b->floor_fd = bpf_program__fd(b->ref->progs.xvip_bench_floor);

	t0 = now_s();
	for (uint32_t svc = SVC_TCP4; svc <= SVC_SELF && !ret; svc++)
		ret = add_service(b, svc, NULL);
	ret = ret ?: add_fillers(b, SVC_FIRST_FILLER, nsvcs);
	*fill_s = now_s() - t0;
	if (ret) {
		fprintf(stderr, "bench_dp: program %u services: %s (%d)\n", nsvcs, strerror(-ret),
			ret);
		return ret;
	}
	*prefill_s = 0;
	if (ct) {
		ret = prefill_ct(b, ct, nsvcs, prefill_s);
		if (ret)
			fprintf(stderr, "bench_dp: prefill %lu conntrack entries: %s (%d)\n", ct,
				strerror(-ret), ret);
	}
	return ret;
}

static uint64_t stat_of(struct bench *b, uint32_t idx)
{
	struct xvip_counter c = {};

	xvip_maps_counter(&b->dp.maps, b->dp.maps.stats, idx, &c);
	return c.packets;
}

struct run {
	uint32_t retval, duration, out_len;
	uint8_t out[PKT_MAX];
};

static int run_once(int fd, const uint8_t *in, size_t len, uint32_t repeat, struct run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	r->retval = o.retval;
	r->duration = o.duration;
	r->out_len = o.data_size_out;
	return 0;
}

/* ---- scenarios */

enum prog { P_XDP, P_FLOOR, P_NOP };

struct scenario {
	const char *name, *what;
	enum prog prog;
	int stat;		/* counter that must move by one per packet; -1: none */
	bool new_flow;		/* a different client (address, port) every packet */
	bool dnat;		/* output is the DNAT to the conntrack entry's backend */
	struct pkt_spec in;
};

static const struct scenario scenarios[] = {
	{ "floor", "parse Ethernet/IPv4/TCP and pass (xvip_bench_floor)", P_FLOOR, -1, false,
	  false, { .daddr = "198.18.21.1", .sport = 40000, .dport = 80, .proto = IPPROTO_TCP,
		   .payload = 6 } },
	{ "non_vip", "TCP to a non-VIP address: parse, one VIP lookup, pass", P_XDP,
	  XVIP_STAT_PASS, false, false,
	  { .daddr = "198.18.19.1", .sport = 40000, .dport = 80, .proto = IPPROTO_TCP,
	    .payload = 6 } },
	{ "established", "TCP to a VIP, conntrack hit, DNAT", P_XDP, XVIP_STAT_LB_CT, false, true,
	  { .daddr = "198.18.21.1", .sport = 40000, .dport = 80, .proto = IPPROTO_TCP,
	    .payload = 6 } },
	{ "new_flow", "TCP SYN to a VIP from a new client each packet: Maglev pick, "
		      "conntrack and reverse-NAT insert, DNAT", P_XDP, XVIP_STAT_LB_NEW, true, true,
	  { .daddr = "198.18.21.1", .sport = 30000, .dport = 80, .proto = IPPROTO_TCP,
	    .tcp_flags = TH_SYN } },
	{ "udp", "UDP to a VIP, conntrack hit, DNAT", P_XDP, XVIP_STAT_LB_CT, false, true,
	  { .daddr = "198.18.21.1", .sport = 40000, .dport = 53, .proto = IPPROTO_UDP,
	    .payload = 18 } },
	{ "ipv6", "TCP over IPv6 to a VIP, conntrack hit, DNAT", P_XDP, XVIP_STAT_LB_CT, false,
	  true, { .daddr = "2001:db8:21::1", .sport = 40000, .dport = 443, .proto = IPPROTO_TCP,
		  .payload = 6 } },
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

static int prog_fd(const struct bench *b, enum prog p)
{
	return p == P_XDP ? b->xdp_fd : p == P_FLOOR ? b->floor_fd : b->nop_fd;
}

static bool is_v6(const struct pkt_spec *s)
{
	return strchr(s->daddr, ':') != NULL;
}

/* The n-th new client of the new-flow scenario: 198.18.64.0/18, 1024 ports each. */
static void new_client(uint64_t n, char *buf, size_t len, uint16_t *sport)
{
	uint32_t a = IP4(198, 18, 64, 0) + (uint32_t)(n >> 10);

	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
	*sport = (uint16_t)(30000 + (n & 1023));
}

static void flow_of(const struct pkt_spec *s, struct xvip_flow *f)
{
	memset(f, 0, sizeof(*f));
	addr_or_die(s->saddr, &f->saddr);
	addr_or_die(s->daddr, &f->daddr);
	f->sport = htons(s->sport);
	f->dport = htons(s->dport);
	f->proto = s->proto;
}

/* The packet the dataplane must emit for input s: DNAT to s's conntrack backend. */
/*
 * The endpoint Maglev gives a flow (a flow whose conntrack entry a later
 * new flow took over: its bucket had four newer flows).
 */
static int maglev_pick(struct bench *b, const struct xvip_flow *f, uint32_t *be_id)
{
	struct xvip_svc_key k = { .vip = f->daddr, .port = f->dport, .proto = f->proto };
	struct xvip_svc_val v;
	struct xvip_cfg cfg;
	uint32_t *table, size;
	int ret = xvip_maps_svc_get(&b->dp.maps, &k, &v);

	ret = ret ?: xvip_maps_cfg_get(&b->dp.maps, &cfg);
	ret = ret ?: xvip_maps_maglev_read(&b->dp.maps, v.id, &table, &size);
	if (ret)
		return ret;
	*be_id = table[xvip_flow_hash(f, cfg.hash_seed) % size];
	free(table);
	return 0;
}

static int expected_dnat(struct bench *b, const struct pkt_spec *s, uint8_t *buf, size_t *len)
{
	struct pkt_spec out = *s;
	struct xvip_backend be;
	struct xvip_ct_val ct;
	struct xvip_flow f;
	char a[XVIP_ADDRSTRLEN];
	int ret;

	flow_of(s, &f);
	ret = xvip_maps_ct_get(&b->dp.maps, &f, &ct);
	if (ret == -ENOENT)
		ret = maglev_pick(b, &f, &ct.backend_id);
	ret = ret ?: xvip_maps_be_get(&b->dp.maps, ct.backend_id, &be);
	if (ret)
		return ret;
	xvip_addr_str(&be.addr, a, sizeof(a));
	out.daddr = a;
	out.dport = ntohs(be.port);
	*len = pkt_build(&out, buf, PKT_MAX);
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The clock here advances in steps of about 10 ns (the TSC of this VM ticks
 * in 26-cycle steps), so a median is only good to 10 ns. The mean of many
 * runs is not: run starts fall at random phases of the tick. Runs that took
 * more than OUTLIER times the median were stalled (a long interrupt, a
 * preempted vCPU) and are left out of the mean; their share is reported.
 * The bound is loose on purpose: slow runs that are part of the cost, like
 * an LRU insert refilling its CPU's free list every 128 inserts (a few
 * microseconds), stay in.
 */
#define OUTLIER	50

struct dist {
	double median, mean, p90, p99, clean_mean, excluded;
};

static void dist_of(uint32_t *v, size_t n, struct dist *d)
{
	double sum = 0, csum = 0;
	size_t cn = 0;

	qsort(v, n, sizeof(*v), cmp_u32);
	d->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
	for (size_t i = 0; i < n; i++) {
		sum += v[i];
		if (v[i] <= OUTLIER * d->median) {
			csum += v[i];
			cn++;
		}
	}
	d->clean_mean = cn ? csum / (double)cn : d->median;
	d->excluded = (double)(n - cn) / (double)n;
	d->mean = sum / (double)n;
	d->p90 = v[(size_t)((double)(n - 1) * 0.90)];
	d->p99 = v[(size_t)((double)(n - 1) * 0.99)];
}

struct result {
	struct dist d;
	uint64_t checked, mismatched, counter_delta, bad_retval;
	bool ok;
	char why[160];
};

static uint64_t new_flow_seq;

static void measure_done(const struct scenario *sc, unsigned int n, uint32_t *v,
			 struct result *r)
{
	dist_of(v, n, &r->d);
	r->ok = !r->mismatched && !r->bad_retval && (sc->stat < 0 || r->counter_delta == n);
	if (!r->ok)
		snprintf(r->why, sizeof(r->why),
			 "%llu of %llu outputs wrong, %llu bad verdicts, counter moved by %llu of %u",
			 (unsigned long long)r->mismatched, (unsigned long long)r->checked,
			 (unsigned long long)r->bad_retval, (unsigned long long)r->counter_delta, n);
}

/*
 * New flows: every packet from another client. They are built first and run
 * back to back, as they would arrive, and checked after the last one (each
 * flow's conntrack entry names the endpoint its output went to), so no
 * system call between two runs empties the caches the program works from.
 */
static int measure_new(struct bench *b, const struct scenario *sc, unsigned int n, uint32_t *v,
		       struct result *r)
{
	uint8_t *in = malloc((size_t)n * PKT_MAX), *out = malloc((size_t)n * PKT_MAX);
	size_t *ilen = calloc(n, sizeof(*ilen)), wlen;
	uint32_t *olen = calloc(n, sizeof(*olen));
	uint64_t seq0 = new_flow_seq, before = 0;
	uint8_t want[PKT_MAX];
	struct pkt_spec s = sc->in;
	char client[64];
	int ret = 0;

	if (!in || !out || !ilen || !olen) {
		ret = -ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		new_client(new_flow_seq++, client, sizeof(client), &s.sport);
		s.saddr = client;
		ilen[i] = pkt_build(&s, in + (size_t)i * PKT_MAX, PKT_MAX);
	}
	if (sc->stat >= 0)
		before = stat_of(b, (uint32_t)sc->stat);
	for (unsigned int i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in + (size_t)i * PKT_MAX,
			    .data_size_in = (uint32_t)ilen[i], .data_out = out + (size_t)i * PKT_MAX,
			    .data_size_out = PKT_MAX, .repeat = 1);

		if (bpf_prog_test_run_opts(prog_fd(b, sc->prog), &o)) {
			ret = -errno;
			snprintf(r->why, sizeof(r->why), "test run: %s", strerror(-ret));
			goto out;
		}
		v[i] = o.duration;
		olen[i] = o.data_size_out;
		if (o.retval != XDP_PASS)
			r->bad_retval++;
	}
	if (sc->stat >= 0)
		r->counter_delta = stat_of(b, (uint32_t)sc->stat) - before;
	for (unsigned int i = 0; i < n; i++) {
		new_client(seq0 + i, client, sizeof(client), &s.sport);
		s.saddr = client;
		r->checked++;
		if (expected_dnat(b, &s, want, &wlen) || olen[i] != wlen ||
		    memcmp(out + (size_t)i * PKT_MAX, want, wlen))
			r->mismatched++;
	}
	measure_done(sc, n, v, r);
out:
	free(in);
	free(out);
	free(ilen);
	free(olen);
	return ret;
}

/* n packets of scenario sc, one test run each; durations into v. */
static int measure(struct bench *b, const struct scenario *sc, unsigned int n, uint32_t *v,
		   struct result *r)
{
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct pkt_spec s = sc->in;
	size_t ilen, wlen = 0;
	uint64_t before = 0;
	struct run run;
	int ret;

	memset(r, 0, sizeof(*r));
	s.saddr = is_v6(&s) ? CLIENT6 : CLIENT4;
	ilen = pkt_build(&s, in, sizeof(in));
	if (sc->dnat && !sc->new_flow) {
		/* Prime: the flow's first packet creates its conntrack entry. */
		ret = run_once(b->xdp_fd, in, ilen, 1, &run);
		ret = ret ?: expected_dnat(b, &s, want, &wlen);
		if (ret) {
			snprintf(r->why, sizeof(r->why), "priming the flow: %s", strerror(-ret));
			return ret;
		}
	} else if (!sc->dnat) {
		memcpy(want, in, ilen);
		wlen = ilen;
	}
	if (sc->stat >= 0)
		before = stat_of(b, (uint32_t)sc->stat);

	if (sc->new_flow)
		return measure_new(b, sc, n, v, r);
	for (unsigned int i = 0; i < n; i++) {
		ret = run_once(prog_fd(b, sc->prog), in, ilen, 1, &run);
		if (ret) {
			snprintf(r->why, sizeof(r->why), "test run: %s", strerror(-ret));
			return ret;
		}
		v[i] = run.duration;
		if (run.retval != XDP_PASS)
			r->bad_retval++;
		r->checked++;
		if (run.out_len != wlen || memcmp(run.out, want, wlen))
			r->mismatched++;
	}
	if (sc->stat >= 0)
		r->counter_delta = stat_of(b, (uint32_t)sc->stat) - before;
	measure_done(sc, n, v, r);
	return 0;
}

static int measure_nop(struct bench *b, unsigned int n, uint32_t *v, struct dist *d)
{
	static const struct pkt_spec s = { .saddr = "198.18.30.10", .daddr = "198.18.21.1",
					   .sport = 40000, .dport = 80, .proto = IPPROTO_TCP,
					   .payload = 6 };
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(&s, in, sizeof(in));
	struct run run;

	for (unsigned int i = 0; i < n; i++) {
		int ret = run_once(b->nop_fd, in, len, 1, &run);

		if (ret)
			return ret;
		v[i] = run.duration;
	}
	dist_of(v, n, d);
	return 0;
}

static double median_of(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* ---- the repeat > 1 pitfall and the idempotent cross-check */

static json_object *method_check(struct bench *b, unsigned int repeat)
{
	static const struct pkt_spec est = { .saddr = "198.18.30.10", .daddr = "198.18.21.1",
					     .sport = 41000, .dport = 80, .proto = IPPROTO_TCP,
					     .payload = 6 };
	static const struct pkt_spec self = { .saddr = "198.18.30.10", .daddr = "198.18.21.9",
					      .sport = 41000, .dport = 80,
					      .proto = IPPROTO_TCP, .payload = 6 };
	json_object *j = json_object_new_object(), *naive, *idem;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	size_t len, wlen;
	uint64_t ct0, pass0;
	struct run run, nop;
	uint32_t *v;
	struct dist d;
	int ret;

	/* Naive: the first repeat DNATs, the rest see a packet to a pod. */
	len = pkt_build(&est, in, sizeof(in));
	run_once(b->xdp_fd, in, len, 1, &run);
	ct0 = stat_of(b, XVIP_STAT_LB_CT);
	pass0 = stat_of(b, XVIP_STAT_PASS);
	ret = run_once(b->xdp_fd, in, len, repeat, &run);
	expected_dnat(b, &est, want, &wlen);
	naive = json_object_new_object();
	json_object_object_add(naive, "repeat", json_object_new_int64(repeat));
	json_object_object_add(naive, "lb_ct_delta",
			       json_object_new_int64((int64_t)(stat_of(b, XVIP_STAT_LB_CT) - ct0)));
	json_object_object_add(naive, "pass_delta",
			       json_object_new_int64((int64_t)(stat_of(b, XVIP_STAT_PASS) - pass0)));
	json_object_object_add(naive, "ns_per_repeat", json_object_new_int64(run.duration));
	json_object_object_add(naive, "output_is_one_dnat",
			       json_object_new_boolean(!ret && run.out_len == wlen &&
						       !memcmp(run.out, want, wlen)));
	json_object_object_add(j, "naive_repeat", naive);

	/* Idempotent: the backend is the VIP:port itself; every repeat is an established packet. */
	len = pkt_build(&self, in, sizeof(in));
	run_once(b->xdp_fd, in, len, 1, &run);
	ct0 = stat_of(b, XVIP_STAT_LB_CT);
	ret = run_once(b->xdp_fd, in, len, repeat, &run);
	ret = ret ?: run_once(b->nop_fd, in, len, repeat, &nop);
	idem = json_object_new_object();
	json_object_object_add(idem, "repeat", json_object_new_int64(repeat));
	json_object_object_add(idem, "lb_ct_delta",
			       json_object_new_int64((int64_t)(stat_of(b, XVIP_STAT_LB_CT) - ct0)));
	json_object_object_add(idem, "output_equals_input",
			       json_object_new_boolean(!ret && run.out_len == len &&
						       !memcmp(run.out, in, len)));
	json_object_object_add(idem, "ns_per_repeat", json_object_new_int64(run.duration));
	json_object_object_add(idem, "nop_ns_per_repeat", json_object_new_int64(nop.duration));
	json_object_object_add(idem, "established_ns",
			       json_object_new_int64((int64_t)run.duration - nop.duration));
	/* The same packet, repeat = 1, the way the scenarios are measured. */
	v = calloc(20000, sizeof(*v));
	if (v) {
		struct dist dn;

		for (int i = 0; i < 20000; i++) {
			run_once(b->xdp_fd, in, len, 1, &run);
			v[i] = run.duration;
		}
		dist_of(v, 20000, &d);
		measure_nop(b, 20000, v, &dn);
		json_object_object_add(idem, "established_ns_repeat1",
				       json_object_new_double(round((d.clean_mean - dn.clean_mean) * 10) / 10));
		free(v);
	}
	json_object_object_add(j, "idempotent_repeat", idem);
	return j;
}

/* ---- building blocks of the hot path, each with repeat = R (they leave the packet alone) */

static double part_ns(int fd, int nop_fd, const uint8_t *in, size_t len, uint32_t repeat)
{
	struct run r, n;

	if (run_once(fd, in, len, repeat, &r) || run_once(nop_fd, in, len, repeat, &n))
		return -1;
	return (double)r.duration - (double)n.duration;
}

static json_object *parts(struct bench *b, uint32_t repeat)
{
	static const struct pkt_spec s = { .saddr = "198.18.30.10", .daddr = "198.18.21.1",
					   .sport = 40000, .dport = 80, .proto = IPPROTO_TCP,
					   .payload = 6 };
	json_object *j = json_object_new_object();
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(&s, in, sizeof(in));
	int nop = b->nop_fd;
	uint32_t fill = ct_size;

#define PART(name, prog, rep)							\
	json_object_object_add(j, name, json_object_new_double(			\
		part_ns(bpf_program__fd(b->ref->progs.prog), nop, in, len, rep)))
	PART("ktime_get_ns", xvip_bench_part_ktime, repeat);
	PART("ktime_get_coarse_ns", xvip_bench_part_ktime_coarse, repeat);
	PART("jiffies64", xvip_bench_part_jiffies, repeat);
	PART("flow_hash", xvip_bench_part_hash, repeat);
	PART("lru_insert_empty", xvip_bench_part_lru_insert, repeat);
	PART("lru_lookup_hit", xvip_bench_part_lru_lookup, repeat);
	PART("lru_pcpu_insert_empty", xvip_bench_part_lru_pcpu_insert, repeat);
	PART("hash_insert_empty", xvip_bench_part_hash_insert, repeat);
	/* Fill both past their size: every further insert evicts. */
	part_ns(bpf_program__fd(b->ref->progs.xvip_bench_part_lru_insert), nop, in, len, fill);
	part_ns(bpf_program__fd(b->ref->progs.xvip_bench_part_lru_pcpu_insert), nop, in, len, fill);
	PART("lru_insert_full", xvip_bench_part_lru_insert, repeat);
	PART("lru_pcpu_insert_full", xvip_bench_part_lru_pcpu_insert, repeat);
#undef PART
	json_object_object_add(j, "map_size", json_object_new_int64(fill));
	json_object_object_add(j, "repeat", json_object_new_int64(repeat));
	return j;
}

/* ---- main */

static json_object *jdist(const struct dist *d)
{
	json_object *j = json_object_new_object();

	json_object_object_add(j, "median", json_object_new_double(d->median));
	json_object_object_add(j, "mean", json_object_new_double(round(d->mean * 10) / 10));
	json_object_object_add(j, "p90", json_object_new_double(d->p90));
	json_object_object_add(j, "p99", json_object_new_double(d->p99));
	json_object_object_add(j, "clean_mean", json_object_new_double(round(d->clean_mean * 10) / 10));
	json_object_object_add(j, "excluded", json_object_new_double(d->excluded));
	return j;
}

static int run_config(struct bench *b, const struct opts *o, uint32_t nsvcs, unsigned long ct,
		      json_object *jconfigs, bool with_method_check)
{
	json_object *jc = json_object_new_object(), *js = json_object_new_object(), *jo;
	double fill_s = 0, prefill_s = 0;
	unsigned long held;
	double *per_round[NSCEN], *ovh;
	struct result last[NSCEN];
	uint32_t *v = calloc(o->iterations, sizeof(*v));
	bool ok = true;
	int ret;

	json_object_object_add(jc, "scenarios", js);
	ovh = calloc(o->rounds, sizeof(*ovh));
	for (size_t s = 0; s < NSCEN; s++)
		per_round[s] = calloc(o->rounds, sizeof(double));
	if (!v || !ovh)
		return -ENOMEM;
	ret = setup(b, nsvcs, ct, &fill_s, &prefill_s);
	if (ret)
		goto out;
	held = 0;
	xvip_maps_ct_foreach(&b->dp.maps, count_flow, &held);
	fprintf(stderr, "bench_dp: %u service ports programmed in %.2f s, %lu conntrack entries "
		"prefilled in %.2f s (%lu held in %u slots)\n", nsvcs, fill_s, ct, prefill_s, held,
		xvip_ft_buckets(ct_size) * XVIP_FT_WAYS);

	for (unsigned int r = 0; r < o->rounds; r++) {
		struct dist d0, d1;

		ret = measure_nop(b, o->iterations, v, &d0);
		for (size_t s = 0; s < NSCEN && !ret; s++) {
			ret = measure(b, &scenarios[s], o->iterations, v, &last[s]);
			per_round[s][r] = last[s].d.clean_mean;
			if (!last[s].ok) {
				fprintf(stderr, "bench_dp: %s: check failed: %s\n", scenarios[s].name,
					last[s].why);
				ok = false;
			}
		}
		ret = ret ?: measure_nop(b, o->iterations, v, &d1);
		if (ret)
			goto out;
		ovh[r] = (d0.clean_mean + d1.clean_mean) / 2;
		for (size_t s = 0; s < NSCEN; s++)
			per_round[s][r] -= ovh[r];
	}

	json_object_object_add(jc, "service_ports", json_object_new_int64(nsvcs));
	json_object_object_add(jc, "conntrack_prefilled", json_object_new_int64((int64_t)ct));
	json_object_object_add(jc, "conntrack_held", json_object_new_int64((int64_t)held));
	json_object_object_add(jc, "conntrack_slots",
			       json_object_new_int64(xvip_ft_buckets(ct_size) * XVIP_FT_WAYS));
	json_object_object_add(jc, "program_services_s", json_object_new_double(fill_s));
	json_object_object_add(jc, "prefill_conntrack_s", json_object_new_double(prefill_s));
	json_object_object_add(jc, "overhead_ns", json_object_new_double(median_of(ovh, o->rounds)));
	for (size_t s = 0; s < NSCEN; s++) {
		const struct scenario *sc = &scenarios[s];
		double ns = median_of(per_round[s], o->rounds);

		jo = json_object_new_object();
		json_object_object_add(jo, "ns", json_object_new_double(round(ns * 10) / 10));
		json_object_object_add(jo, "what", json_object_new_string(sc->what));
		json_object_object_add(jo, "rounds_ns", json_object_new_array());
		for (unsigned int r = 0; r < o->rounds; r++)
			json_object_array_add(json_object_object_get(jo, "rounds_ns"),
					      json_object_new_double(per_round[s][r]));
		json_object_object_add(jo, "last_round_raw_ns", jdist(&last[s].d));
		json_object_object_add(jo, "checked_outputs",
				       json_object_new_int64((int64_t)last[s].checked));
		json_object_object_add(jo, "wrong_outputs",
				       json_object_new_int64((int64_t)last[s].mismatched));
		if (sc->stat >= 0)
			json_object_object_add(jo, "counter_delta",
					       json_object_new_int64((int64_t)last[s].counter_delta));
		json_object_object_add(jo, "ok", json_object_new_boolean(last[s].ok));
		json_object_object_add(js, sc->name, jo);
		fprintf(stderr, "bench_dp:   %-12s %6.1f ns  (raw: median %.0f, mean %.1f, p99 %.0f, "
			"%.2f%% stalled)%s\n", sc->name, ns, last[s].d.median,
			last[s].d.clean_mean, last[s].d.p99, last[s].d.excluded * 100,
			last[s].ok ? "" : "  CHECK FAILED");
	}
	if (with_method_check) {
		json_object_object_add(jc, "method_check", method_check(b, SELF_REPEAT));
		json_object_object_add(jc, "parts_ns", parts(b, o->smoke ? 2000 : 100000));
	}
	json_object_array_add(jconfigs, jc);
	jc = NULL;
	if (!ok)
		ret = -EPROTO;
out:
	if (jc)
		json_object_put(jc);	/* owns js */
	teardown(b);
	free(v);
	free(ovh);
	for (size_t s = 0; s < NSCEN; s++)
		free(per_round[s]);
	return ret;
}

static const char usage_text[] =
	"Usage: bench_dp [--iterations N] [--rounds R] [--services N] [--ct N] [--cpu C]\n"
	"                [--smoke] [--out FILE]\n"
	"Per-packet cost of xvip's XDP program with BPF_PROG_TEST_RUN (see the comment at the\n"
	"top of tests/bench_dp.c for the method). Runs in a network namespace of its own.\n";

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "services", required_argument, NULL, 's' },
		{ "ct", required_argument, NULL, 'c' },
		{ "cpu", required_argument, NULL, 'p' },
		{ "ct-size", required_argument, NULL, 'z' },
		{ "out", required_argument, NULL, 'o' },
		{ "smoke", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct opts o = { .iterations = 100000, .rounds = 5, .services = 10000,
			  .ct = 1000000, .cpu = 0 };
	json_object *root = json_object_new_object(), *jconfigs = json_object_new_array();
	struct bench b = {};
	cpu_set_t set;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int c, ret = 0;
	FILE *f;

	o.cpu = ncpu > 1 ? (unsigned int)ncpu - 1 : 0;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'n': o.iterations = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'r': o.rounds = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 's': o.services = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'c': o.ct = strtoul(optarg, NULL, 0); break;
		case 'p': o.cpu = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'z': ct_size = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'o': o.out = optarg; break;
		case 'S':
			o.smoke = true;
			o.iterations = 2000;
			o.rounds = 1;
			o.services = 100;
			o.ct = 20000;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (!o.iterations || !o.rounds || o.services < SVC_SELF ||
	    o.services * NBE + NBE > XVIP_MAX_BACKENDS || o.ct > ct_size) {
		fprintf(stderr, "bench_dp: bad sizes (services 4..%u, ct < %u)\n",
			XVIP_MAX_BACKENDS / NBE - 1, XVIP_CT_DEFAULT);
		return 2;
	}
	xvip_log_init(XVIP_LOG_WARN);
	xvip_log_route_libs();
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "bench_dp: unshare(CLONE_NEWNET): %s (needs root)\n", strerror(errno));
		return 1;
	}
	CPU_ZERO(&set);
	CPU_SET(o.cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "bench_dp: pin to CPU %u: %s\n", o.cpu, strerror(errno));

	{
		const uint32_t svcs[] = { SVC_SELF, o.services };
		const unsigned long cts[] = { 0, o.ct };

		for (int ci = 0; ci < 2 && !ret; ci++)
			for (int si = 0; si < 2 && !ret; si++)
				ret = run_config(&b, &o, svcs[si], cts[ci], jconfigs,
						 ci == 0 && si == 0);
	}
	json_object_object_add(root, "iterations", json_object_new_int64(o.iterations));
	json_object_object_add(root, "rounds", json_object_new_int64(o.rounds));
	json_object_object_add(root, "cpu", json_object_new_int64(o.cpu));
	json_object_object_add(root, "ok", json_object_new_boolean(ret == 0));
	json_object_object_add(root, "configs", jconfigs);
	f = o.out ? fopen(o.out, "w") : stdout;
	if (!f) {
		fprintf(stderr, "bench_dp: %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	if (f != stdout)
		fclose(f);
	json_object_put(root);
	return ret ? 1 : 0;
}
