// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Packet fixtures for the XDP and tc programs, run with BPF_PROG_TEST_RUN:
 * each names its input packet by fields, sets up the maps, and asserts the
 * action, the whole output packet (rebuilt from scratch with full checksums)
 * and the counters.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sched.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include "test.h"
#include "dptest.h"
#include "pkt.h"
#include "addr.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "xvip_hash.h"
#include "xvip_xdp.skel.h"
#include "xvip_tc.skel.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_ACK 0x10

/*
 * A network namespace of our own: the tc program consults the FIB, and the
 * fixtures must not depend on the host's routes.
 */
static const char *netns_err;

__attribute__((constructor)) static void enter_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		netns_err = "unshare(CLONE_NEWNET) failed (needs root)";
}

static struct xvip_dp dp;
static char pin_dir[128];

static const char *CLIENT = "198.18.30.10";
static const char *VIP = "198.18.21.1";
static const char *POD1 = "198.18.20.11";
static const char *POD2 = "198.18.20.12";
static const char *POD3 = "198.18.20.13";

static int xdp_fd(void)
{
	return bpf_program__fd(dp.xdp->progs.xvip_xdp);
}

static int tc_fd(void)
{
	return bpf_program__fd(dp.tc->progs.xvip_tc_pod);
}

static void addr(const char *s, struct xvip_addr *a)
{
	if (xvip_addr_parse(s, a))
		abort();
}

/* Map setup: service id `id` on VIP:port/proto, backends with ids first_be.. */
static int add_service(uint32_t id, const char *vip, uint16_t port, uint8_t proto,
		       const char *const *pods, const uint16_t *pod_ports, size_t n,
		       uint32_t first_be)
{
	struct xvip_svc_key k = { .port = htons(port), .proto = proto };
	struct xvip_svc_val v = { .id = id };
	struct xvip_vip_val vv = { .nports = 1 };
	uint32_t table[251];
	int ret;

	addr(vip, &k.vip);
	for (size_t i = 0; i < n; i++) {
		struct xvip_backend be = { .port = htons(pod_ports[i]), .state = XVIP_BE_READY,
					   .svc_id = id };

		addr(pods[i], &be.addr);
		ret = xvip_maps_be_set(&dp.maps, first_be + (uint32_t)i, &be);
		if (ret)
			return ret;
	}
	if (n) {
		for (size_t i = 0; i < 251; i++)
			table[i] = first_be + (uint32_t)(i % n);
		ret = xvip_maps_maglev_swap(&dp.maps, id, table, 251);
		if (ret)
			return ret;
	} else {
		xvip_maps_maglev_del(&dp.maps, id);
	}
	ret = xvip_maps_svc_set(&dp.maps, &k, &v);
	return ret ?: xvip_maps_vip_set(&dp.maps, &k.vip, &vv);
}

static int set_frag_svcs(const char *vip, uint32_t nports, uint32_t udp_id1, uint32_t tcp_id1)
{
	struct xvip_vip_val vv = { .nports = nports, .frag_svc_udp = udp_id1,
				   .frag_svc_tcp = tcp_id1 };
	struct xvip_addr a;

	addr(vip, &a);
	return xvip_maps_vip_set(&dp.maps, &a, &vv);
}

/* The seed the loader gave the flow hash (xvip_cfg). */
static uint32_t flow_seed(void)
{
	struct xvip_cfg cfg = { 0 };

	xvip_maps_cfg_get(&dp.maps, &cfg);
	return cfg.hash_seed;
}

static uint64_t stat_of(uint32_t idx)
{
	struct xvip_counter c = {};

	xvip_maps_counter(&dp.maps, dp.maps.stats, idx, &c);
	return c.packets;
}

static uint64_t be_packets(uint32_t be)
{
	struct xvip_counter c = {};

	xvip_maps_counter(&dp.maps, dp.maps.be_stats, be, &c);
	return c.packets;
}

static uint64_t svc_packets(uint32_t svc)
{
	struct xvip_counter c = {};

	xvip_maps_counter(&dp.maps, dp.maps.svc_stats, svc, &c);
	return c.packets;
}

struct run {
	uint32_t action;
	uint8_t out[PKT_MAX];
	uint32_t out_len;
};

static int run_prog(int fd, const uint8_t *in, size_t len, struct run *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);
	int ret = bpf_prog_test_run_opts(fd, &o);

	r->action = o.retval;
	r->out_len = o.data_size_out;
	return ret ? -errno : 0;
}

/*
 * One fixture: input packet, expected action, expected output packet
 * (NULL: identical to the input).
 */
static void expect(const char *what, int fd, const struct pkt_spec *in, uint32_t action,
		   const struct pkt_spec *out)
{
	uint8_t ibuf[PKT_MAX], obuf[PKT_MAX];
	size_t ilen = pkt_build(in, ibuf, sizeof(ibuf));
	size_t olen = out ? pkt_build(out, obuf, sizeof(obuf)) : ilen;
	struct run r;

	if (!out)
		memcpy(obuf, ibuf, ilen);
	if (!ASSERT_OK(run_prog(fd, ibuf, ilen, &r), what))
		return;
	ASSERT_EQ(r.action, action, what);
	if (action == XDP_DROP && fd == xdp_fd())
		return;
	if (ASSERT_EQ(r.out_len, olen, what))
		ASSERT_MEMEQ(r.out, obuf, olen, what);
}

/* Not a test: runs once before them (test.h); a failure here fails them all. */
static void setup(void)
{
	static const char *const pods[] = { "198.18.20.11", "198.18.20.12", "198.18.20.13" };
	static const uint16_t tports[] = { 8080, 8080, 8080 };
	static const uint16_t uports[] = { 5353 };
	static const uint16_t sports[] = { 3868 };
	const char *why = dptest_begin(netns_err);

	if (why)
		TEST_SKIP(why);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/xvip-test-bpf-%d", getpid());
	if (dptest_load(&dp, pin_dir, 4096))
		return;
	ASSERT_TRUE(!add_service(1, VIP, 80, IPPROTO_TCP, pods, tports, 1, 1) &&
		    !add_service(2, VIP, 53, IPPROTO_UDP, pods + 1, uports, 1, 2) &&
		    !add_service(3, "198.18.21.2", 80, IPPROTO_TCP, pods, tports, 3, 10) &&
		    !add_service(4, "198.18.21.3", 80, IPPROTO_TCP, pods, tports, 0, 0) &&
		    !add_service(5, "2001:db8:21::1", 443, IPPROTO_TCP,
				 (const char *const[]){ "2001:db8:20::11" },
				 (const uint16_t[]){ 8443 }, 1, 20) &&
		    !add_service(6, VIP, 3868, IPPROTO_SCTP, pods + 2, sports, 1, 30) &&
		    !add_service(7, VIP, 3869, IPPROTO_SCTP, pods + 2, sports, 1, 31),
		    "services in the maps");
	/* What the reconciler derives: the one service per protocol taking early fragments. */
	ASSERT_TRUE(!set_frag_svcs(VIP, 3, 3, 2) && !set_frag_svcs("198.18.21.2", 1, 0, 4) &&
		    !set_frag_svcs("2001:db8:21::1", 1, 0, 6), "fragment services");
}

static void teardown(void)
{
	dptest_stop(&dp, pin_dir, NULL);
}

TEST(xdp_tcp_syn_to_vip_is_dnatted)
{
	uint64_t before = stat_of(XVIP_STAT_LB_NEW), be_before = be_packets(1),
		 svc_before = svc_packets(1);
	struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .sport = 40000, .dport = 80,
			       .proto = IPPROTO_TCP, .tcp_flags = TH_SYN, .payload = 0 };
	struct pkt_spec out = in;

	out.daddr = POD1;
	out.dport = 8080;
	expect("tcp syn", xdp_fd(), &in, XDP_PASS, &out);
	ASSERT_EQ(stat_of(XVIP_STAT_LB_NEW), before + 1, "lb_new counter");
	ASSERT_EQ(be_packets(1), be_before + 1, "backend counter");
	ASSERT_EQ(svc_packets(1), svc_before + 1, "service counter");
}

TEST(xdp_tcp_established_hits_conntrack)
{
	struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .sport = 40001, .dport = 80,
			       .proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	struct pkt_spec out = in;
	struct xvip_flow f = { .sport = htons(40001), .dport = htons(80), .proto = IPPROTO_TCP };
	struct xvip_ct_val ct;
	uint64_t before;

	out.daddr = POD1;
	out.dport = 8080;
	expect("syn", xdp_fd(), &in, XDP_PASS, &out);
	addr(CLIENT, &f.saddr);
	addr(VIP, &f.daddr);
	if (ASSERT_OK(xvip_maps_ct_get(&dp.maps, &f, &ct), "conntrack entry")) {
		ASSERT_EQ(ct.backend_id, 1, "conntrack backend");
		ASSERT_EQ(ct.svc_id, 1, "conntrack service");
	}
	before = stat_of(XVIP_STAT_LB_CT);
	in.tcp_flags = 0;
	in.payload = 100;
	out = in;
	out.daddr = POD1;
	out.dport = 8080;
	expect("ack with data", xdp_fd(), &in, XDP_PASS, &out);
	ASSERT_EQ(stat_of(XVIP_STAT_LB_CT), before + 1, "lb_ct counter");
}

TEST(xdp_udp_to_vip_is_dnatted)
{
	struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .sport = 5000, .dport = 53,
			       .proto = IPPROTO_UDP, .payload = 33 };
	struct pkt_spec out = in;

	out.daddr = POD2;
	out.dport = 5353;
	expect("udp", xdp_fd(), &in, XDP_PASS, &out);
}

TEST(xdp_udp_zero_checksum_stays_zero)
{
	struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .sport = 5001, .dport = 53,
			       .proto = IPPROTO_UDP, .payload = 20, .udp_zero_csum = true };
	struct pkt_spec out = in;

	out.daddr = POD2;
	out.dport = 5353;
	expect("udp zero csum", xdp_fd(), &in, XDP_PASS, &out);
}

TEST(xdp_non_vip_passes_untouched)
{
	uint64_t before = stat_of(XVIP_STAT_PASS);
	struct pkt_spec in = { .saddr = CLIENT, .daddr = "198.18.19.1", .sport = 40000,
			       .dport = 80, .proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	struct pkt_spec udp = { .saddr = CLIENT, .daddr = POD1, .sport = 1, .dport = 53,
				.proto = IPPROTO_UDP, .payload = 8 };
	struct pkt_spec v6 = { .saddr = "2001:db8:30::10", .daddr = "2001:db8:21::99",
			       .sport = 1, .dport = 443, .proto = IPPROTO_TCP };

	expect("non-vip tcp", xdp_fd(), &in, XDP_PASS, NULL);
	expect("non-vip udp to a pod", xdp_fd(), &udp, XDP_PASS, NULL);
	expect("non-vip ipv6", xdp_fd(), &v6, XDP_PASS, NULL);
	ASSERT_EQ(stat_of(XVIP_STAT_PASS), before + 3, "pass counter");
}

TEST(xdp_vip_unserved_port_is_dropped)
{
	uint64_t before = stat_of(XVIP_DROP_UNSERVED);
	struct pkt_spec ssh = { .saddr = CLIENT, .daddr = VIP, .sport = 40000, .dport = 22,
				.proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	struct pkt_spec udp = { .saddr = CLIENT, .daddr = VIP, .sport = 40000, .dport = 80,
				.proto = IPPROTO_UDP, .payload = 4 };

	expect("tcp/22 on a vip", xdp_fd(), &ssh, XDP_DROP, NULL);
	expect("udp/80 on a tcp-only vip port", xdp_fd(), &udp, XDP_DROP, NULL);
	ASSERT_EQ(stat_of(XVIP_DROP_UNSERVED), before + 2, "unserved counter");
}

TEST(xdp_service_without_endpoints_drops)
{
	uint64_t before = stat_of(XVIP_DROP_NO_BACKEND);
	struct pkt_spec in = { .saddr = CLIENT, .daddr = "198.18.21.3", .sport = 40000,
			       .dport = 80, .proto = IPPROTO_TCP, .tcp_flags = TH_SYN };

	expect("no endpoints", xdp_fd(), &in, XDP_DROP, NULL);
	ASSERT_EQ(stat_of(XVIP_DROP_NO_BACKEND), before + 1, "no_backend counter");
}

TEST(xdp_truncated_headers)
{
	uint8_t buf[PKT_MAX];
	struct pkt_spec tcp = { .saddr = CLIENT, .daddr = VIP, .sport = 40000, .dport = 80,
				.proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	size_t len = pkt_build(&tcp, buf, sizeof(buf));
	uint64_t trunc = stat_of(XVIP_DROP_TRUNCATED), unparsed = stat_of(XVIP_STAT_UNPARSED);
	struct run r;

	/* Whole IPv4 header, 10 of 20 TCP bytes: for a VIP, a counted drop. */
	if (ASSERT_OK(run_prog(xdp_fd(), buf, 14 + 20 + 10, &r), "run"))
		ASSERT_EQ(r.action, XDP_DROP, "vip with truncated tcp");
	ASSERT_EQ(stat_of(XVIP_DROP_TRUNCATED), trunc + 1, "truncated counter");
	/*
	 * Cut inside the IPv4 header: pass, untouched (the stack judges it).
	 * Test runs refuse frames shorter than an Ethernet header.
	 */
	for (size_t cut = 14; cut < 14 + 20; cut += 6) {
		if (!ASSERT_OK(run_prog(xdp_fd(), buf, cut, &r), "run"))
			continue;
		ASSERT_EQ(r.action, XDP_PASS, "truncated ip header passes");
		if (ASSERT_EQ(r.out_len, cut, "length kept"))
			ASSERT_MEMEQ(r.out, buf, cut, "untouched");
	}
	ASSERT_EQ(stat_of(XVIP_STAT_UNPARSED), unparsed + 4, "unparsed counter");
	ASSERT_TRUE(len > 14 + 20 + 10, "fixture longer than the cuts");
}

TEST(xdp_bad_ihl_to_vip_is_dropped)
{
	uint8_t buf[PKT_MAX];
	struct pkt_spec tcp = { .saddr = CLIENT, .daddr = VIP, .sport = 40000, .dport = 80,
				.proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	size_t len = pkt_build(&tcp, buf, sizeof(buf));
	uint64_t before = stat_of(XVIP_DROP_BAD_IP);
	struct iphdr *iph = (struct iphdr *)(buf + 14);
	struct run r;

	iph->ihl = 4;
	iph->check = 0;
	iph->check = pkt_ipv4_csum(iph);
	if (ASSERT_OK(run_prog(xdp_fd(), buf, len, &r), "run"))
		ASSERT_EQ(r.action, XDP_DROP, "ihl 4");
	iph->ihl = 15;	/* 60-byte header claimed, 40 bytes follow */
	iph->check = 0;
	iph->check = pkt_ipv4_csum(iph);
	if (ASSERT_OK(run_prog(xdp_fd(), buf, len, &r), "run"))
		ASSERT_EQ(r.action, XDP_DROP, "ihl 15 beyond the packet");
	ASSERT_EQ(stat_of(XVIP_DROP_BAD_IP), before + 2, "bad_ip counter");
}

TEST(xdp_ip_options_are_skipped)
{
	struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .sport = 40100, .dport = 80,
			       .proto = IPPROTO_TCP, .tcp_flags = TH_SYN, .ip_opt_words = 2 };
	struct pkt_spec out = in;

	out.daddr = POD1;
	out.dport = 8080;
	expect("ip options", xdp_fd(), &in, XDP_PASS, &out);
}

/* Every fragment of a datagram goes where its first fragment went, in any order. */
TEST(xdp_fragments_follow_their_first)
{
	struct pkt_spec first = { .saddr = CLIENT, .daddr = VIP, .sport = 5000, .dport = 53,
				  .proto = IPPROTO_UDP, .payload = 64, .frag_off = 0x2000,
				  .ip_id = 0x4001 };
	struct pkt_spec later = { .saddr = CLIENT, .daddr = VIP, .proto = IPPROTO_UDP,
				  .payload = 40, .frag_off = 0x0009, .ip_id = 0x4001,
				  .no_l4 = true };
	struct pkt_spec first_out = first, later_out = later;
	struct pkt_spec other = later;
	uint64_t frag = stat_of(XVIP_STAT_FRAG), early = stat_of(XVIP_STAT_FRAG_EARLY);

	first_out.daddr = POD2;
	first_out.dport = 5353;
	later_out.daddr = POD2;
	expect("first fragment", xdp_fd(), &first, XDP_PASS, &first_out);
	expect("later fragment follows", xdp_fd(), &later, XDP_PASS, &later_out);
	ASSERT_EQ(stat_of(XVIP_STAT_FRAG), frag + 1, "fragment counter");

	/* Out of order: the later fragment first, then the first follows it. */
	later.ip_id = first.ip_id = 0x4002;
	later_out.ip_id = first_out.ip_id = 0x4002;
	expect("later fragment before its first", xdp_fd(), &later, XDP_PASS, &later_out);
	expect("first fragment after it", xdp_fd(), &first, XDP_PASS, &first_out);
	ASSERT_EQ(stat_of(XVIP_STAT_FRAG_EARLY), early + 1, "early fragment counter");

	other.daddr = POD1;
	expect("fragment to a non-vip", xdp_fd(), &other, XDP_PASS, NULL);
}

TEST(xdp_unplaceable_fragment_is_dropped)
{
	/* 198.18.21.2 serves only TCP/80: a UDP fragment there has no service. */
	struct pkt_spec later = { .saddr = CLIENT, .daddr = "198.18.21.2",
				  .proto = IPPROTO_UDP, .payload = 40, .frag_off = 0x0009,
				  .ip_id = 0x4003, .no_l4 = true };
	uint64_t before = stat_of(XVIP_DROP_FRAGMENT);

	expect("udp fragment, no udp service", xdp_fd(), &later, XDP_DROP, NULL);
	ASSERT_EQ(stat_of(XVIP_DROP_FRAGMENT), before + 1, "fragment drop counter");
}

TEST(xdp_ipv6_fragments)
{
	struct pkt_spec first = { .saddr = "2001:db8:30::10", .daddr = "2001:db8:21::1",
				  .sport = 40000, .dport = 443, .proto = IPPROTO_TCP,
				  .payload = 64, .v6frag = true, .v6frag_more = true,
				  .v6frag_id = 0xabcdef01 };
	struct pkt_spec later = { .saddr = "2001:db8:30::10", .daddr = "2001:db8:21::1",
				  .proto = IPPROTO_TCP, .payload = 48, .v6frag = true,
				  .v6frag_offset = 10, .v6frag_id = 0xabcdef01, .no_l4 = true };
	struct pkt_spec fo = first, lo = later;

	fo.daddr = lo.daddr = "2001:db8:20::11";
	fo.dport = 8443;
	expect("ipv6 first fragment", xdp_fd(), &first, XDP_PASS, &fo);
	expect("ipv6 later fragment", xdp_fd(), &later, XDP_PASS, &lo);
}

TEST(xdp_vlan_tagged_uplink)
{
	struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .sport = 40200, .dport = 80,
			       .proto = IPPROTO_TCP, .tcp_flags = TH_SYN, .nvlan = 1,
			       .vlan = { 100 } };
	struct pkt_spec out = in;
	struct pkt_spec qinq = in;

	out.daddr = POD1;
	out.dport = 8080;
	expect("802.1Q", xdp_fd(), &in, XDP_PASS, &out);
	qinq.nvlan = 2;
	qinq.qinq = true;
	qinq.vlan[1] = 200;
	qinq.sport = 40201;
	out = qinq;
	out.daddr = POD1;
	out.dport = 8080;
	expect("802.1ad + 802.1Q", xdp_fd(), &qinq, XDP_PASS, &out);
}

TEST(xdp_ipv6_extension_headers)
{
	struct pkt_spec in = { .saddr = "2001:db8:30::10", .daddr = "2001:db8:21::1",
			       .sport = 40010, .dport = 443, .proto = IPPROTO_TCP,
			       .tcp_flags = TH_SYN, .payload = 10, .nv6ext = 2,
			       .v6ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS } };
	struct pkt_spec out = in;
	struct pkt_spec many = in;
	uint64_t before = stat_of(XVIP_DROP_EXT_HDRS);

	out.daddr = "2001:db8:20::11";
	out.dport = 8443;
	expect("hop-by-hop + destination options", xdp_fd(), &in, XDP_PASS, &out);
	many.nv6ext = XVIP_IPV6_EXT_MAX + 1;
	for (int i = 0; i < XVIP_IPV6_EXT_MAX + 1; i++)
		many.v6ext[i] = IPPROTO_DSTOPTS;
	expect("too many extension headers", xdp_fd(), &many, XDP_DROP, NULL);
	ASSERT_EQ(stat_of(XVIP_DROP_EXT_HDRS), before + 1, "ext header drop counter");
	many.daddr = "2001:db8:21::99";
	expect("too many, not a vip: passed", xdp_fd(), &many, XDP_PASS, NULL);
}

/* Insert a hop-by-hop header of n bytes (Pad1 options) behind an untagged IPv6 header. */
static size_t add_hop_by_hop(uint8_t *buf, size_t len, size_t n)
{
	struct ipv6hdr *ip6 = (struct ipv6hdr *)(buf + 14);
	uint8_t *e = buf + 14 + sizeof(*ip6);

	memmove(e + n, e, len - 14 - sizeof(*ip6));
	memset(e, 0, n);
	e[0] = ip6->nexthdr;
	e[1] = (uint8_t)(n / 8 - 1);
	ip6->nexthdr = IPPROTO_HOPOPTS;
	ip6->payload_len = htons((uint16_t)(ntohs(ip6->payload_len) + n));
	return len + n;
}

/*
 * Found by the packet fuzzer: with more than ~1 KiB of extension headers the
 * L4 offset used to be masked with 0x3ff, so XDP wrote the port and checksum
 * into the extension headers and left the real ones stale.
 */
TEST(xdp_ipv6_long_extension_chain)
{
	struct pkt_spec in = { .saddr = "2001:db8:30::10", .daddr = "2001:db8:21::1",
			       .sport = 40020, .dport = 443, .proto = IPPROTO_TCP,
			       .tcp_flags = TH_SYN };
	struct pkt_spec out = in;
	uint8_t ibuf[PKT_MAX], obuf[PKT_MAX];
	size_t ilen, olen;
	struct run r;

	out.daddr = "2001:db8:20::11";
	out.dport = 8443;
	ilen = add_hop_by_hop(ibuf, pkt_build(&in, ibuf, sizeof(ibuf)), 1024);
	olen = add_hop_by_hop(obuf, pkt_build(&out, obuf, sizeof(obuf)), 1024);
	if (!ASSERT_OK(run_prog(xdp_fd(), ibuf, ilen, &r), "run"))
		return;
	ASSERT_EQ(r.action, XDP_PASS, "balanced");
	if (ASSERT_EQ(r.out_len, olen, "length"))
		ASSERT_MEMEQ(r.out, obuf, olen, "port and checksum rewritten at L4, headers intact");
}

/* Fragmentation needed from a router on the way back: to the flow's pod, translated. */
TEST(xdp_icmp_frag_needed_goes_to_the_flow_endpoint)
{
	struct pkt_spec syn = { .saddr = CLIENT, .daddr = VIP, .sport = 43000, .dport = 80,
				.proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	struct pkt_spec dnat = syn;
	/* The reply the router could not forward: VIP:80 -> client, as it left the node. */
	struct pkt_spec reply = { .saddr = VIP, .daddr = CLIENT, .sport = 80, .dport = 43000,
				  .proto = IPPROTO_TCP, .payload = 1400 };
	struct pkt_spec icmp = { .saddr = "198.18.30.254", .daddr = VIP, .proto = IPPROTO_ICMP,
				 .inner = &reply, .icmp_type = 3, .icmp_code = 4,
				 .icmp_rest = 1300 };
	struct pkt_spec want_inner = reply;
	struct pkt_spec want = icmp;
	uint64_t before = stat_of(XVIP_STAT_ICMP_XLATE), unknown = stat_of(XVIP_DROP_ICMP_UNKNOWN);

	dnat.daddr = POD1;
	dnat.dport = 8080;
	expect("syn", xdp_fd(), &syn, XDP_PASS, &dnat);
	want_inner.saddr = POD1;
	want_inner.sport = 8080;
	want.daddr = POD1;
	want.inner = &want_inner;
	expect("frag needed", xdp_fd(), &icmp, XDP_PASS, &want);
	ASSERT_EQ(stat_of(XVIP_STAT_ICMP_XLATE), before + 1, "icmp translated counter");

	reply.dport = 43999;	/* no such flow */
	expect("frag needed, unknown flow", xdp_fd(), &icmp, XDP_DROP, NULL);
	ASSERT_EQ(stat_of(XVIP_DROP_ICMP_UNKNOWN), unknown + 1, "icmp unknown counter");
}

TEST(xdp_icmp_error_udp_quote)
{
	struct pkt_spec q = { .saddr = CLIENT, .daddr = VIP, .sport = 6100, .dport = 53,
			      .proto = IPPROTO_UDP, .payload = 12 };
	struct pkt_spec dnat = q;
	struct pkt_spec reply = { .saddr = VIP, .daddr = CLIENT, .sport = 53, .dport = 6100,
				  .proto = IPPROTO_UDP, .payload = 30 };
	struct pkt_spec icmp = { .saddr = "198.18.30.254", .daddr = VIP, .proto = IPPROTO_ICMP,
				 .inner = &reply, .icmp_type = 11 /* time exceeded */ };
	struct pkt_spec wi = reply, want = icmp;

	dnat.daddr = POD2;
	dnat.dport = 5353;
	expect("query", xdp_fd(), &q, XDP_PASS, &dnat);
	wi.saddr = POD2;
	wi.sport = 5353;
	want.daddr = POD2;
	want.inner = &wi;
	expect("time exceeded quoting udp", xdp_fd(), &icmp, XDP_PASS, &want);
}

TEST(xdp_icmpv6_packet_too_big)
{
	struct pkt_spec syn = { .saddr = "2001:db8:30::10", .daddr = "2001:db8:21::1",
				.sport = 44000, .dport = 443, .proto = IPPROTO_TCP,
				.tcp_flags = TH_SYN };
	struct pkt_spec dnat = syn;
	struct pkt_spec reply = { .saddr = "2001:db8:21::1", .daddr = "2001:db8:30::10",
				  .sport = 443, .dport = 44000, .proto = IPPROTO_TCP,
				  .payload = 1400 };
	struct pkt_spec ptb = { .saddr = "2001:db8:30::fe", .daddr = "2001:db8:21::1",
				.proto = IPPROTO_ICMPV6, .inner = &reply, .icmp_type = 2,
				.icmp_rest = 1280 };
	struct pkt_spec wi = reply, want = ptb;

	dnat.daddr = "2001:db8:20::11";
	dnat.dport = 8443;
	expect("v6 syn", xdp_fd(), &syn, XDP_PASS, &dnat);
	wi.saddr = "2001:db8:20::11";
	wi.sport = 8443;
	want.daddr = "2001:db8:20::11";
	want.inner = &wi;
	expect("packet too big", xdp_fd(), &ptb, XDP_PASS, &want);
}

TEST(xdp_icmp_to_vip_passes)
{
	uint64_t before = stat_of(XVIP_STAT_VIP_ICMP);
	struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .proto = IPPROTO_ICMP };

	expect("icmp echo to a vip", xdp_fd(), &in, XDP_PASS, NULL);
	ASSERT_EQ(stat_of(XVIP_STAT_VIP_ICMP), before + 1, "vip icmp counter");
}

TEST(xdp_other_protocol_to_vip_is_dropped)
{
	uint64_t before = stat_of(XVIP_DROP_PROTO);
	struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .proto = 47 /* GRE */ };

	expect("gre to a vip", xdp_fd(), &in, XDP_DROP, NULL);
	ASSERT_EQ(stat_of(XVIP_DROP_PROTO), before + 1, "proto counter");
}

TEST(xdp_sctp_address_only)
{
	struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .sport = 3868, .dport = 3868,
			       .proto = IPPROTO_SCTP, .payload = 16 };
	struct pkt_spec out = in;
	struct pkt_spec moved = in;

	out.daddr = POD3;
	expect("sctp same port", xdp_fd(), &in, XDP_PASS, &out);
	moved.dport = 3869;	/* backend listens on 3868: port rewrite impossible */
	expect("sctp port change", xdp_fd(), &moved, XDP_DROP, NULL);
}

TEST(xdp_ipv6_tcp_to_vip)
{
	struct pkt_spec in = { .saddr = "2001:db8:30::10", .daddr = "2001:db8:21::1",
			       .sport = 40000, .dport = 443, .proto = IPPROTO_TCP,
			       .tcp_flags = TH_SYN, .payload = 10 };
	struct pkt_spec out = in;

	out.daddr = "2001:db8:20::11";
	out.dport = 8443;
	expect("ipv6 tcp", xdp_fd(), &in, XDP_PASS, &out);
}

/* The pick must be exactly table[hash % size], the rule `xvipctl lookup` uses. */
TEST(xdp_maglev_pick_matches_flow_hash)
{
	const char *pods[] = { POD1, POD2, POD3 };
	unsigned int seen[3] = { 0 };

	for (uint16_t sport = 20000; sport < 20300; sport++) {
		struct pkt_spec in = { .saddr = CLIENT, .daddr = "198.18.21.2", .sport = sport,
				       .dport = 80, .proto = IPPROTO_TCP,
				       .tcp_flags = TH_SYN };
		struct xvip_flow f = { .sport = htons(sport), .dport = htons(80),
				       .proto = IPPROTO_TCP };
		struct pkt_spec out = in;
		uint32_t slot;

		addr(CLIENT, &f.saddr);
		addr("198.18.21.2", &f.daddr);
		slot = xvip_flow_hash(&f, flow_seed()) % 251;
		out.daddr = pods[slot % 3];	/* table[i] = first_be + i % 3 */
		out.dport = 8080;
		seen[slot % 3]++;
		expect("maglev pick", xdp_fd(), &in, XDP_PASS, &out);
		if (test_cur.failed)
			break;
	}
	for (int i = 0; i < 3; i++)
		ASSERT_TRUE(seen[i] > 50, "every backend takes flows");
}

TEST(tc_reply_is_reverse_translated)
{
	struct pkt_spec syn = { .saddr = CLIENT, .daddr = VIP, .sport = 41000, .dport = 80,
				.proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	struct pkt_spec dnat = syn;
	struct pkt_spec reply = { .saddr = POD1, .daddr = CLIENT, .sport = 8080, .dport = 41000,
				  .proto = IPPROTO_TCP, .tcp_flags = TH_SYN | TH_ACK,
				  .payload = 0 };
	struct pkt_spec want = reply;
	uint64_t before = stat_of(XVIP_STAT_RNAT);

	dnat.daddr = POD1;
	dnat.dport = 8080;
	expect("syn", xdp_fd(), &syn, XDP_PASS, &dnat);
	want.saddr = VIP;
	want.sport = 80;
	expect("syn-ack", tc_fd(), &reply, TC_ACT_OK, &want);
	reply.tcp_flags = 0;
	reply.payload = 321;
	want = reply;
	want.saddr = VIP;
	want.sport = 80;
	expect("data", tc_fd(), &reply, TC_ACT_OK, &want);
	ASSERT_EQ(stat_of(XVIP_STAT_RNAT), before + 2, "rnat counter");
}

TEST(tc_udp_reply_zero_checksum_stays_zero)
{
	struct pkt_spec q = { .saddr = CLIENT, .daddr = VIP, .sport = 6000, .dport = 53,
			      .proto = IPPROTO_UDP, .payload = 12 };
	struct pkt_spec dnat = q;
	struct pkt_spec reply = { .saddr = POD2, .daddr = CLIENT, .sport = 5353, .dport = 6000,
				  .proto = IPPROTO_UDP, .payload = 40 };
	struct pkt_spec want = reply;

	dnat.daddr = POD2;
	dnat.dport = 5353;
	expect("query", xdp_fd(), &q, XDP_PASS, &dnat);
	want.saddr = VIP;
	want.sport = 53;
	expect("udp reply", tc_fd(), &reply, TC_ACT_OK, &want);
	reply.udp_zero_csum = true;
	want.udp_zero_csum = true;
	expect("udp reply without checksum", tc_fd(), &reply, TC_ACT_OK, &want);
}

TEST(tc_other_traffic_passes_untouched)
{
	struct pkt_spec unknown = { .saddr = POD3, .daddr = CLIENT, .sport = 8080,
				    .dport = 1, .proto = IPPROTO_TCP };
	struct pkt_spec icmp = { .saddr = POD3, .daddr = CLIENT, .proto = IPPROTO_ICMP };

	expect("reply of no balanced flow", tc_fd(), &unknown, TC_ACT_OK, NULL);
	expect("icmp from a pod", tc_fd(), &icmp, TC_ACT_OK, NULL);
}

TEST(xdp_flow_to_removed_backend_is_rebalanced)
{
	static const char *const pods[] = { "198.18.20.12" };
	static const uint16_t ports[] = { 8080 };
	struct pkt_spec in = { .saddr = CLIENT, .daddr = "198.18.21.4", .sport = 42000,
			       .dport = 80, .proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	struct pkt_spec out = in;

	if (!ASSERT_OK(add_service(8, "198.18.21.4", 80, IPPROTO_TCP, pods, ports, 1, 40),
		       "setup"))
		return;
	out.daddr = POD2;
	out.dport = 8080;
	expect("to the first backend", xdp_fd(), &in, XDP_PASS, &out);
	/* Replace the backend: new id, the old one cleared, as the daemon does. */
	static const char *const pods2[] = { "198.18.20.13" };

	if (!ASSERT_OK(add_service(8, "198.18.21.4", 80, IPPROTO_TCP, pods2, ports, 1, 41),
		       "swap"))
		return;
	ASSERT_OK(xvip_maps_be_clear(&dp.maps, 40), "clear old backend");
	in.tcp_flags = 0;
	out = in;
	out.daddr = POD3;
	out.dport = 8080;
	expect("same flow, backend gone", xdp_fd(), &in, XDP_PASS, &out);
}

/* East-west: a pod to a VIP, balanced in tc on its interface; the reply comes back from the VIP. */
TEST(tc_pod_to_vip_and_back)
{
	struct pkt_spec in = { .saddr = POD3, .daddr = VIP, .sport = 45000, .dport = 53,
			       .proto = IPPROTO_UDP, .payload = 20 };
	struct pkt_spec out = in;
	struct pkt_spec reply = { .saddr = POD2, .daddr = POD3, .sport = 5353, .dport = 45000,
				  .proto = IPPROTO_UDP, .payload = 30 };
	struct pkt_spec want = reply;

	out.daddr = POD2;
	out.dport = 5353;
	expect("pod3 -> vip:53", tc_fd(), &in, TC_ACT_OK, &out);
	want.saddr = VIP;
	want.sport = 53;
	expect("pod2 -> pod3 reply", tc_fd(), &reply, TC_ACT_OK, &want);
}

/* Hairpin: pod1 reaches a VIP whose only endpoint is pod1 itself. */
TEST(tc_hairpin_pod_to_itself)
{
	uint64_t before = stat_of(XVIP_STAT_HAIRPIN);
	struct pkt_spec in = { .saddr = POD1, .daddr = VIP, .sport = 46000, .dport = 80,
			       .proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	struct pkt_spec out = in;
	struct pkt_spec reply = { .saddr = POD1, .daddr = "169.254.42.1", .sport = 8080,
				  .dport = 46000, .proto = IPPROTO_TCP,
				  .tcp_flags = TH_SYN | TH_ACK };
	struct pkt_spec want = reply;

	out.saddr = "169.254.42.1";
	out.daddr = POD1;
	out.dport = 8080;
	expect("pod1 -> vip:80, hairpinned", tc_fd(), &in, TC_ACT_OK, &out);
	ASSERT_EQ(stat_of(XVIP_STAT_HAIRPIN), before + 1, "hairpin counter");
	want.saddr = VIP;
	want.sport = 80;
	want.daddr = POD1;
	expect("reply to the hairpin address", tc_fd(), &reply, TC_ACT_OK, &want);
}

TEST(tc_pod_to_unserved_vip_port_is_dropped)
{
	uint64_t before = stat_of(XVIP_DROP_UNSERVED);
	struct pkt_spec in = { .saddr = POD3, .daddr = VIP, .sport = 45001, .dport = 22,
			       .proto = IPPROTO_TCP, .tcp_flags = TH_SYN };

	expect("pod -> vip:22", tc_fd(), &in, TC_ACT_SHOT, NULL);
	ASSERT_EQ(stat_of(XVIP_DROP_UNSERVED), before + 1, "unserved counter");
}

/* An endpoint's ICMP error about a balanced flow reaches the client as if from the VIP. */
TEST(tc_icmp_error_from_pod_is_reverse_translated)
{
	struct pkt_spec q = { .saddr = CLIENT, .daddr = VIP, .sport = 6200, .dport = 53,
			      .proto = IPPROTO_UDP, .payload = 12 };
	struct pkt_spec dnat = q;
	struct pkt_spec quoted = dnat;
	struct pkt_spec unreach = { .saddr = POD2, .daddr = CLIENT, .proto = IPPROTO_ICMP,
				    .inner = &quoted, .icmp_type = 3, .icmp_code = 3 };
	struct pkt_spec wq = q;
	struct pkt_spec want = unreach;

	dnat.daddr = POD2;
	dnat.dport = 5353;
	quoted = dnat;
	expect("query", xdp_fd(), &q, XDP_PASS, &dnat);
	want.saddr = VIP;
	want.inner = &wq;	/* the quote as the client sent it: client -> VIP:53 */
	expect("port unreachable from the pod", tc_fd(), &unreach, TC_ACT_OK, &want);
}

TEST(tc_icmpv6_error_from_pod_is_reverse_translated)
{
	struct pkt_spec q = { .saddr = "2001:db8:30::10", .daddr = "2001:db8:21::1",
			      .sport = 48000, .dport = 443, .proto = IPPROTO_TCP,
			      .tcp_flags = TH_SYN };
	struct pkt_spec dnat = q;
	struct pkt_spec quoted, wq = q;
	struct pkt_spec unreach = { .saddr = "2001:db8:20::11", .daddr = "2001:db8:30::10",
				    .proto = IPPROTO_ICMPV6, .inner = &quoted, .icmp_type = 1,
				    .icmp_code = 4 };
	struct pkt_spec want = unreach;

	dnat.daddr = "2001:db8:20::11";
	dnat.dport = 8443;
	quoted = dnat;
	expect("v6 syn", xdp_fd(), &q, XDP_PASS, &dnat);
	want.saddr = "2001:db8:21::1";
	want.inner = &wq;
	expect("icmpv6 port unreachable from the pod", tc_fd(), &unreach, TC_ACT_OK, &want);
}

/* With a route and a neighbour, a translated reply leaves by redirect, TTL decremented. */
TEST(tc_reply_is_redirected_by_the_fib)
{
	struct pkt_spec syn = { .saddr = CLIENT, .daddr = VIP, .sport = 47000, .dport = 80,
				.proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	struct pkt_spec dnat = syn;
	struct pkt_spec reply = { .saddr = POD1, .daddr = CLIENT, .sport = 8080, .dport = 47000,
				  .proto = IPPROTO_TCP, .tcp_flags = TH_SYN | TH_ACK };
	struct pkt_spec want = reply;
	uint8_t ibuf[PKT_MAX], wbuf[PKT_MAX];
	size_t ilen, wlen;
	struct run r;

	if (system("ip link add xvt-up type veth peer name xvt-peer && ip link set xvt-peer up && ip link set xvt-up address 02:00:00:00:aa:01 && "
		   "ip link set xvt-up up && ip link set lo up && "
		   "ip addr add 198.18.30.1/24 dev xvt-up && "
		   "ip neigh add 198.18.30.10 lladdr 02:00:00:00:bb:02 dev xvt-up nud permanent && "
		   "sysctl -qw net.ipv4.ip_forward=1")) {
		TEST_FAIL("set up a route in the test namespace");
		return;
	}
	dnat.daddr = POD1;
	dnat.dport = 8080;
	expect("syn", xdp_fd(), &syn, XDP_PASS, &dnat);
	want.saddr = VIP;
	want.sport = 80;
	want.ttl = 63;
	ilen = pkt_build(&reply, ibuf, sizeof(ibuf));
	wlen = pkt_build(&want, wbuf, sizeof(wbuf));
	memcpy(wbuf, "\x02\x00\x00\x00\xbb\x02\x02\x00\x00\x00\xaa\x01", 12);
	if (ASSERT_OK(run_prog(tc_fd(), ibuf, ilen, &r), "run")) {
		ASSERT_EQ(r.action, TC_ACT_REDIRECT, "redirected");
		if (ASSERT_EQ(r.out_len, wlen, "length"))
			ASSERT_MEMEQ(r.out, wbuf, wlen, "translated, MACs set, TTL 63");
	}
	system("ip link del xvt-up");
}

/*
 * A flow whose reverse-NAT entry the LRU evicted (a flood of new flows)
 * gets it back from its next packet after a second, not a broken flow.
 */
TEST(xdp_conntrack_hit_restores_evicted_reverse_nat)
{
	struct pkt_spec syn = { .saddr = CLIENT, .daddr = VIP, .sport = 49000, .dport = 80,
				.proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
	struct pkt_spec dnat = syn;
	struct pkt_spec reply = { .saddr = POD1, .daddr = CLIENT, .sport = 8080, .dport = 49000,
				  .proto = IPPROTO_TCP, .tcp_flags = TH_ACK, .payload = 10 };
	struct pkt_spec want = reply;
	struct xvip_flow f = { .sport = htons(49000), .dport = htons(80), .proto = IPPROTO_TCP };
	struct xvip_flow rk = { .sport = htons(8080), .dport = htons(49000), .proto = IPPROTO_TCP };
	struct xvip_ct_val ct;

	dnat.daddr = POD1;
	dnat.dport = 8080;
	expect("syn", xdp_fd(), &syn, XDP_PASS, &dnat);
	addr(CLIENT, &f.saddr);
	addr(VIP, &f.daddr);
	addr(POD1, &rk.saddr);
	addr(CLIENT, &rk.daddr);
	if (!ASSERT_OK(xvip_maps_rnat_del(&dp.maps, &rk), "evict the reverse entry"))
		return;
	expect("reply without its entry: untranslated", tc_fd(), &reply, TC_ACT_OK, NULL);
	/* A second later (as far as the entry knows), the flow's next packet. */
	if (!ASSERT_OK(xvip_maps_ct_get(&dp.maps, &f, &ct), "conntrack entry"))
		return;
	ct.seen_ns = 0;
	ASSERT_OK(xvip_maps_ct_put(&dp.maps, &f, &ct), "age it");
	syn.tcp_flags = TH_ACK;
	dnat.tcp_flags = TH_ACK;
	expect("established packet", xdp_fd(), &syn, XDP_PASS, &dnat);
	want.saddr = VIP;
	want.sport = 80;
	expect("reply translated again", tc_fd(), &reply, TC_ACT_OK, &want);
}

/* A reply the pod had to fragment: every fragment leaves from the VIP. */
TEST(tc_fragmented_reply_is_translated)
{
	struct pkt_spec q = { .saddr = CLIENT, .daddr = VIP, .sport = 6300, .dport = 53,
			      .proto = IPPROTO_UDP, .payload = 12 };
	struct pkt_spec dnat = q;
	struct pkt_spec first = { .saddr = POD2, .daddr = CLIENT, .sport = 5353, .dport = 6300,
				  .proto = IPPROTO_UDP, .payload = 64, .frag_off = 0x2000,
				  .ip_id = 0x5001 };
	struct pkt_spec later = { .saddr = POD2, .daddr = CLIENT, .proto = IPPROTO_UDP,
				  .payload = 40, .frag_off = 0x0009, .ip_id = 0x5001,
				  .no_l4 = true };
	struct pkt_spec wf = first, wl = later;

	dnat.daddr = POD2;
	dnat.dport = 5353;
	expect("query", xdp_fd(), &q, XDP_PASS, &dnat);
	wf.saddr = VIP;
	wf.sport = 53;
	wl.saddr = VIP;
	expect("first fragment of the reply", tc_fd(), &first, TC_ACT_OK, &wf);
	expect("later fragment of the reply", tc_fd(), &later, TC_ACT_OK, &wl);
	later.ip_id = 0x5002;
	expect("a later fragment of an unknown reply: untouched", tc_fd(), &later, TC_ACT_OK, NULL);
}

/* The verifier's view of each program, so growth shows in every test run. */

/* Source ports of CLIENT -> VIP:80/tcp flows whose conntrack entries share one bucket. */
static int same_bucket_flows(struct xvip_flow *f, uint16_t *sport, int n)
{
	struct xvip_cfg cfg;
	uint32_t bucket = 0;
	int found = 0;

	if (xvip_maps_cfg_get(&dp.maps, &cfg))
		return -1;
	for (uint32_t p = 10000; p < 65000 && found < n; p++) {
		struct xvip_flow x = { .sport = htons((uint16_t)p), .dport = htons(80),
				       .proto = IPPROTO_TCP };
		uint32_t b;

		addr(CLIENT, &x.saddr);
		addr(VIP, &x.daddr);
		b = xvip_flow_hash(&x, cfg.hash_seed) & cfg.ct_mask;
		if (found && b != bucket)
			continue;
		bucket = b;
		f[found] = x;
		sport[found++] = (uint16_t)p;
	}
	return found == n ? 0 : -1;
}

static int count_flow(const struct xvip_flow *k, const struct xvip_ct_val *v, void *arg)
{
	(void)k;
	(void)v;
	++*(unsigned long *)arg;
	return 0;
}

TEST(conntrack_full_bucket_gives_up_the_way_seen_longest_ago)
{
	unsigned long held;
	struct xvip_flow f[XVIP_FT_WAYS + 1];
	uint16_t sport[XVIP_FT_WAYS + 1];
	struct xvip_ct_val ct;
	int i;

	if (!ASSERT_OK(same_bucket_flows(f, sport, XVIP_FT_WAYS + 1), "five flows, one bucket") ||
	    !ASSERT_OK(xvip_maps_ft_clear(&dp.maps), "empty the tables"))
		return;
	for (i = 0; i <= XVIP_FT_WAYS; i++) {
		struct pkt_spec in = { .saddr = CLIENT, .daddr = VIP, .sport = sport[i],
				       .dport = 80, .proto = IPPROTO_TCP, .tcp_flags = TH_SYN };
		struct pkt_spec out = in;

		out.daddr = POD1;
		out.dport = 8080;
		if (i == XVIP_FT_WAYS) {
			/* ways 0..2 seen again a few clock ticks later; way 3 not */
			usleep(30000);
			for (int j = 0; j < XVIP_FT_WAYS - 1; j++) {
				struct pkt_spec a = in, ao;

				a.sport = sport[j];
				a.tcp_flags = TH_ACK;
				ao = a;
				ao.daddr = POD1;
				ao.dport = 8080;
				expect("established", xdp_fd(), &a, XDP_PASS, &ao);
			}
			usleep(30000);
		}
		expect("syn", xdp_fd(), &in, XDP_PASS, &out);
	}
	for (i = 0; i <= XVIP_FT_WAYS; i++) {
		int ret = xvip_maps_ct_get(&dp.maps, &f[i], &ct);

		if (i == XVIP_FT_WAYS - 1)
			ASSERT_EQ(ret, -ENOENT, "the flow seen longest ago gave up its way");
		else if (ASSERT_OK(ret, "flow kept"))
			ASSERT_EQ(ct.backend_id, 1, "its endpoint");
	}
	held = 0;
	ASSERT_OK(xvip_maps_ct_foreach(&dp.maps, count_flow, &held), "walk the table");
	ASSERT_EQ(held, XVIP_FT_WAYS, "the walk finds the four flows the tables hold");
}

static void v4_addr_of(uint32_t host, struct xvip_addr *a)
{
	memset(a, 0, sizeof(*a));
	a->a[2] = htonl(0xffff);
	a->a[3] = htonl(host);
}

static bool vip_bit_set(const struct xvip_addr *a)
{
	uint32_t bit = xvip_vip_bit(a), word = bit / 64;
	uint64_t w = 0;

	bpf_map_lookup_elem(dp.maps.vipbits, &word, &w);
	return (w >> (bit % 64)) & 1;
}

TEST(vip_filter_bit_is_set_while_a_vip_uses_it)
{
	struct xvip_vip_val v = { .nports = 1 };
	struct xvip_addr a, b;
	uint32_t n = 0;

	/* two addresses on one filter bit no configured VIP uses */
	do {
		v4_addr_of(0xc6336400u + n++, &a);	/* 198.51.100.0 + n */
	} while (vip_bit_set(&a));
	do {
		v4_addr_of(0xcb007100u + n++, &b);	/* 203.0.113.0 + n */
	} while (xvip_vip_bit(&b) != xvip_vip_bit(&a) && n < 10000000);
	if (!ASSERT_EQ(xvip_vip_bit(&b), xvip_vip_bit(&a), "a second address on the bit"))
		return;
	ASSERT_OK(xvip_maps_vip_set(&dp.maps, &a, &v), "add one");
	ASSERT_TRUE(vip_bit_set(&a), "bit set with the first VIP");
	ASSERT_OK(xvip_maps_vip_set(&dp.maps, &b, &v), "add the other");
	ASSERT_OK(xvip_maps_vip_set(&dp.maps, &a, &v), "update the first");
	ASSERT_OK(xvip_maps_vip_del(&dp.maps, &a), "remove the first");
	ASSERT_TRUE(vip_bit_set(&a), "bit still set: the other VIP uses it");
	ASSERT_OK(xvip_maps_vip_del(&dp.maps, &b), "remove the other");
	ASSERT_TRUE(!vip_bit_set(&a), "bit cleared with the last VIP");
	addr(VIP, &a);
	ASSERT_TRUE(vip_bit_set(&a), "a configured VIP's bit stays");
}

TEST(layout_v1_conntrack_is_migrated)
{
	struct xvip_dp_opts o = { .ct_size = 4096 };
	struct xvip_flow f = { .sport = htons(41000), .dport = htons(80), .proto = IPPROTO_TCP };
	struct xvip_flow rk = { .sport = htons(8080), .dport = htons(41000), .proto = IPPROTO_TCP };
	struct xvip_ct_val cv = { .backend_id = 1, .svc_id = 1, .created_ns = 5, .seen_ns = 6 }, got;
	struct xvip_rnat_val rv = { .vport = htons(80), .svc_id = 1 }, rgot;
	char dir[128], path[256], mpath[256];
	uint32_t *table, size;
	struct xvip_dp d2;
	struct xvip_cfg cfg;
	int ct, rn, ret;

	addr(CLIENT, &f.saddr);
	addr(VIP, &f.daddr);
	addr(POD1, &rk.saddr);
	addr(CLIENT, &rk.daddr);
	addr(VIP, &rv.vip);
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/xvip-test-bpf-v1-%d", getpid());
	if (!ASSERT_OK(mkdir(dir, 0700), "pin dir"))
		return;
	ct = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "xvip_ct", sizeof(f), sizeof(cv), 1024, NULL);
	rn = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "xvip_rnat", sizeof(rk), sizeof(rv), 1024,
			    NULL);
	snprintf(path, sizeof(path), "%s/%s", dir, XVIP_MAP_CT_V1);
	ret = ct < 0 || rn < 0 || bpf_map_update_elem(ct, &f, &cv, BPF_ANY) ||
	      bpf_map_update_elem(rn, &rk, &rv, BPF_ANY) || bpf_obj_pin(ct, path);
	snprintf(path, sizeof(path), "%s/%s", dir, XVIP_MAP_RNAT_V1);
	ret = ret || bpf_obj_pin(rn, path);
	close(ct);
	close(rn);
	/* a version 1 Maglev outer map, plain inner arrays, one table at id 3 */
	{
		LIBBPF_OPTS(bpf_map_create_opts, io, .map_flags = BPF_F_INNER_MAP);
		uint32_t n = 251 + XVIP_MAGLEV_HDR;
		int inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "v1_inner", 4, 4, n, &io);
		int outer;

		for (uint32_t i = 0; inner >= 0 && i < n; i++) {
			uint32_t v = i ? 100 + i % 7 : 251;

			ret = ret || bpf_map_update_elem(inner, &i, &v, BPF_ANY);
		}
		LIBBPF_OPTS(bpf_map_create_opts, oo, .inner_map_fd = inner);
		outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "xvip_maglev", 4, 4, 16, &oo);
		snprintf(mpath, sizeof(mpath), "%s/%s", dir, XVIP_MAP_MAGLEV_V1);
		ret = ret || inner < 0 || outer < 0 ||
		      bpf_map_update_elem(outer, &(uint32_t){ 3 }, &inner, BPF_ANY) ||
		      bpf_obj_pin(outer, mpath);
		close(inner);
		close(outer);
	}
	o.pin_dir = dir;
	if (ASSERT_OK(ret, "version 1 maps pinned") && ASSERT_OK(xvip_dp_load(&d2, &o), "load")) {
		if (ASSERT_OK(xvip_maps_cfg_get(&d2.maps, &cfg), "config"))
			ASSERT_EQ(cfg.hash_seed, XVIP_FLOW_SEED, "the old seed kept");
		if (ASSERT_OK(xvip_maps_ct_get(&d2.maps, &f, &got), "conntrack entry migrated"))
			ASSERT_MEMEQ(&got, &cv, sizeof(cv), "its value");
		if (ASSERT_OK(xvip_maps_rnat_get(&d2.maps, &rk, &rgot), "reverse entry migrated"))
			ASSERT_MEMEQ(&rgot, &rv, sizeof(rv), "its value");
		ASSERT_TRUE(access(path, F_OK) != 0, "old pins removed");
		if (ASSERT_OK(xvip_maps_maglev_read(&d2.maps, 3, &table, &size), "table migrated")) {
			bool same = size == 251;

			for (uint32_t i = 0; same && i < size; i++)
				same = table[i] == 100 + (i + 1) % 7;
			ASSERT_TRUE(same, "its slots");
			free(table);
		}
		ASSERT_TRUE(access(mpath, F_OK) != 0, "old Maglev pin removed");
		xvip_dp_close(&d2);
	}
	xvip_dp_cleanup(dir);
	rmdir(dir);
}

/*
 * Verified instructions measured on 6.1, 6.12 and 6.18 (dptest.h):
 * xvip_xdp 581706, 140842, 228801; xvip_tc_pod 164509, 81319, 117012.
 */
TEST(verifier_instruction_counts)
{
	static const struct dptest_budget xdp[] = {
		{ "xvip_xdp", { 730000, 180000, 290000 } },
	};
	static const struct dptest_budget tc[] = {
		{ "xvip_tc_pod", { 210000, 110000, 150000 } },
	};

	dptest_verifier_budget(dp.xdp->obj, xdp, 1);
	dptest_verifier_budget(dp.tc->obj, tc, 1);
}

TEST_MAIN_FIXTURE(setup, teardown, TEST_CASE(xdp_tcp_syn_to_vip_is_dnatted),
	  TEST_CASE(xdp_tcp_established_hits_conntrack), TEST_CASE(xdp_udp_to_vip_is_dnatted),
	  TEST_CASE(xdp_udp_zero_checksum_stays_zero), TEST_CASE(xdp_non_vip_passes_untouched),
	  TEST_CASE(xdp_vip_unserved_port_is_dropped),
	  TEST_CASE(xdp_service_without_endpoints_drops), TEST_CASE(xdp_truncated_headers),
	  TEST_CASE(xdp_bad_ihl_to_vip_is_dropped), TEST_CASE(xdp_ip_options_are_skipped),
	  TEST_CASE(xdp_fragments_follow_their_first),
	  TEST_CASE(xdp_unplaceable_fragment_is_dropped), TEST_CASE(xdp_ipv6_fragments),
	  TEST_CASE(xdp_vlan_tagged_uplink), TEST_CASE(xdp_ipv6_extension_headers),
	  TEST_CASE(xdp_ipv6_long_extension_chain),
	  TEST_CASE(xdp_icmp_frag_needed_goes_to_the_flow_endpoint),
	  TEST_CASE(xdp_icmp_error_udp_quote), TEST_CASE(xdp_icmpv6_packet_too_big), TEST_CASE(xdp_icmp_to_vip_passes),
	  TEST_CASE(xdp_other_protocol_to_vip_is_dropped), TEST_CASE(xdp_sctp_address_only),
	  TEST_CASE(xdp_ipv6_tcp_to_vip), TEST_CASE(xdp_maglev_pick_matches_flow_hash),
	  TEST_CASE(tc_reply_is_reverse_translated),
	  TEST_CASE(tc_udp_reply_zero_checksum_stays_zero),
	  TEST_CASE(tc_other_traffic_passes_untouched),
	  TEST_CASE(xdp_flow_to_removed_backend_is_rebalanced),
	  TEST_CASE(tc_pod_to_vip_and_back), TEST_CASE(tc_hairpin_pod_to_itself),
	  TEST_CASE(tc_pod_to_unserved_vip_port_is_dropped),
	  TEST_CASE(tc_icmp_error_from_pod_is_reverse_translated),
	  TEST_CASE(tc_icmpv6_error_from_pod_is_reverse_translated),
	  TEST_CASE(tc_reply_is_redirected_by_the_fib), TEST_CASE(xdp_conntrack_hit_restores_evicted_reverse_nat),
	  TEST_CASE(tc_fragmented_reply_is_translated),
	  TEST_CASE(conntrack_full_bucket_gives_up_the_way_seen_longest_ago),
	  TEST_CASE(vip_filter_bit_is_set_while_a_vip_uses_it),
	  TEST_CASE(layout_v1_conntrack_is_migrated),
	  TEST_CASE(verifier_instruction_counts))
