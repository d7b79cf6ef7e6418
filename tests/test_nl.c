// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * user/nl.c against the kernel. Every test runs in a fresh, anonymous network
 * namespace: nothing touches the host's, and a namespace (with its veths and
 * addresses) vanishes with the next test or the process, even a killed one.
 * Outcomes are read back independently: `ip -j` output, and for IFA_PROTO
 * (which iproute2 6.1 neither sets nor prints) a separate netlink dump.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <unistd.h>
#include <sys/wait.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "test.h"
#include "addr.h"
#include "log.h"
#include "maps.h"
#include "nl.h"

#define JSON_MAX	65536
#define LIST_MAX	16

static int netns_err;
static char netns_skip[128];

/* Before main: not even the first test may run in the host's namespace. */
__attribute__((constructor)) static void enter_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0) {
		netns_err = -errno;
		snprintf(netns_skip, sizeof(netns_skip), "unshare(CLONE_NEWNET): %s",
			 strerror(errno));
	}
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "  command failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

/* Whole stdout of cmd into buf (NUL-terminated); 0 or -1. */
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

/* A new namespace for this test, lo up; the previous one is freed by the kernel. */
static int netns_fresh(void)
{
	if (netns_err)
		return netns_err;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	return run("ip link set lo up") ? -EIO : 0;
}

#define SETUP(nl)							\
	do {								\
		int __ns_err = netns_fresh();				\
		if (__ns_err == -EPERM)					\
			TEST_SKIP(netns_skip);				\
		if (!ASSERT_OK(__ns_err, "fresh network namespace"))	\
			return;						\
		if (!ASSERT_OK(xvip_nl_open(&(nl)), "xvip_nl_open"))	\
			return;						\
	} while (0)

static struct xvip_addr A(const char *s)
{
	struct xvip_addr a = {};

	if (xvip_addr_parse(s, &a))
		TEST_FAIL("bad address literal %s", s);
	return a;
}

/*
 * The JSON object `ip -j addr show dev lo` prints for addr/plen, copied into
 * obj; false if absent. iproute2 prints "local" then "prefixlen" first.
 */
static bool lo_addr_obj(const char *addr, int plen, char *obj, size_t len)
{
	static char json[JSON_MAX];
	char needle[96];
	const char *p, *end;

	if (capture("ip -j addr show dev lo", json, sizeof(json)))
		return false;
	snprintf(needle, sizeof(needle), "\"local\":\"%s\",\"prefixlen\":%d,", addr, plen);
	p = strstr(json, needle);
	if (!p)
		return false;
	end = strchr(p, '}');
	if (!end)
		return false;
	snprintf(obj, len, "%.*s", (int)(end - p), p);
	return true;
}

static bool lo_has(const char *addr, int plen)
{
	char obj[512];

	return lo_addr_obj(addr, plen, obj, sizeof(obj));
}

/* Fields of addr/plen's object contain want ("\"scope\":\"global\""). */
static bool lo_addr_field(const char *addr, int plen, const char *want)
{
	char obj[512];

	return lo_addr_obj(addr, plen, obj, sizeof(obj)) && strstr(obj, want);
}

static int lo_addr_count(const char *addr)
{
	static char json[JSON_MAX];
	char needle[64];
	int n = 0;

	if (capture("ip -j addr show dev lo", json, sizeof(json)))
		return -1;
	snprintf(needle, sizeof(needle), "\"local\":\"%s\"", addr);
	for (const char *p = json; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

struct proto_q {
	struct xvip_addr want;
	int proto;	/* -1: address not found, 0: no IFA_PROTO */
};

static int proto_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct proto_q *q = data;
	const struct nlattr *attr;
	struct xvip_addr a = {};
	bool match = false;
	int proto = 0;

	if (ifa->ifa_index != if_nametoindex("lo"))
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa)) {
		uint16_t len = mnl_attr_get_payload_len(attr);

		if (mnl_attr_get_type(attr) == IFA_ADDRESS) {
			if (len == 4)
				xvip_addr_from_v4(&a, *(uint32_t *)mnl_attr_get_payload(attr));
			else if (len == 16)
				xvip_addr_from_v6(&a, mnl_attr_get_payload(attr));
			match = !xvip_addr_cmp(&a, &q->want);
		} else if (mnl_attr_get_type(attr) == IFA_PROTO && len == 1) {
			proto = mnl_attr_get_u8(attr);
		}
	}
	if (match)
		q->proto = proto;
	return MNL_CB_OK;
}

/* IFA_PROTO of addr on lo, read with a netlink dump of our own; -1 if absent or on error. */
static int lo_addr_proto(const char *addr)
{
	static char buf[32768];
	struct proto_q q = { .want = A(addr), .proto = -1 };
	struct mnl_socket *sk;
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	int ret;

	sk = mnl_socket_open(NETLINK_ROUTE);
	if (!sk)
		return -1;
	if (mnl_socket_bind(sk, 0, MNL_SOCKET_AUTOPID) < 0)
		goto out;
	memset(buf, 0, 64);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETADDR;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	if (mnl_socket_sendto(sk, nlh, nlh->nlmsg_len) < 0)
		goto out;
	do {
		ret = mnl_socket_recvfrom(sk, buf, sizeof(buf));
		if (ret <= 0)
			break;
		ret = mnl_cb_run(buf, ret, 1, mnl_socket_get_portid(sk), proto_cb, &q);
	} while (ret > MNL_CB_STOP);
out:
	mnl_socket_close(sk);
	return q.proto;
}

struct list_res {
	int n;
	struct xvip_addr a[LIST_MAX];
};

static void list_cb(const struct xvip_addr *a, void *ctx)
{
	struct list_res *r = ctx;

	if (r->n < LIST_MAX)
		r->a[r->n] = *a;
	r->n++;
}

static bool list_has(const struct list_res *r, const char *addr)
{
	struct xvip_addr a = A(addr);

	for (int i = 0; i < r->n && i < LIST_MAX; i++)
		if (!xvip_addr_cmp(&r->a[i], &a))
			return true;
	return false;
}

TEST(lo_add_v4)
{
	struct xvip_nl *nl = NULL;
	struct xvip_addr a;

	SETUP(nl);
	a = A("198.18.21.1");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add 198.18.21.1");
	ASSERT_TRUE(lo_has("198.18.21.1", 32), "198.18.21.1/32 on lo");
	ASSERT_TRUE(lo_addr_field("198.18.21.1", 32, "\"scope\":\"global\""), "scope global");
	ASSERT_TRUE(lo_addr_field("198.18.21.1", 32, "\"label\":\"lo:xvip\""), "label lo:xvip");
	ASSERT_EQ(lo_addr_proto("198.18.21.1"), XVIP_IFA_PROTO, "IFA_PROTO");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add 198.18.21.1 again");
	ASSERT_EQ(lo_addr_count("198.18.21.1"), 1, "entries for 198.18.21.1");
	xvip_nl_close(nl);
}

TEST(lo_add_v6)
{
	struct xvip_nl *nl = NULL;
	struct xvip_addr a;

	SETUP(nl);
	a = A("2001:db8:21::1");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add 2001:db8:21::1");
	ASSERT_TRUE(lo_has("2001:db8:21::1", 128), "2001:db8:21::1/128 on lo");
	ASSERT_TRUE(lo_addr_field("2001:db8:21::1", 128, "\"scope\":\"global\""), "scope global");
	ASSERT_TRUE(lo_addr_field("2001:db8:21::1", 128, "\"nodad\":true"), "nodad");
	ASSERT_TRUE(lo_addr_field("2001:db8:21::1", 128, "\"noprefixroute\":true"),
		    "noprefixroute");
	ASSERT_EQ(lo_addr_proto("2001:db8:21::1"), XVIP_IFA_PROTO, "IFA_PROTO");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add 2001:db8:21::1 again");
	ASSERT_EQ(lo_addr_count("2001:db8:21::1"), 1, "entries for 2001:db8:21::1");
	xvip_nl_close(nl);
}

TEST(lo_add_special_refused)
{
	struct xvip_nl *nl = NULL;
	struct xvip_addr a;

	SETUP(nl);
	a = A("127.0.0.2");
	ASSERT_EQ(xvip_nl_lo_add(nl, &a), -EINVAL, "add 127.0.0.2");
	ASSERT_EQ(lo_addr_count("127.0.0.2"), 0, "127.0.0.2 on lo");
	a = A("fe80::1");
	ASSERT_EQ(xvip_nl_lo_add(nl, &a), -EINVAL, "add fe80::1");
	ASSERT_EQ(lo_addr_count("fe80::1"), 0, "fe80::1 on lo");
	xvip_nl_close(nl);
}

TEST(lo_list_marked_only)
{
	struct xvip_nl *nl = NULL;
	struct list_res r = {};
	struct xvip_addr a;

	SETUP(nl);
	ASSERT_OK(xvip_nl_lo_list(nl, list_cb, &r), "list on a fresh lo");
	ASSERT_EQ(r.n, 0, "addresses listed on a fresh lo");

	a = A("198.18.21.1");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add 198.18.21.1");
	a = A("2001:db8:21::1");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add 2001:db8:21::1");
	ASSERT_OK(run("ip addr add 198.18.21.200/32 dev lo"), "operator's IPv4 address");
	ASSERT_OK(run("ip addr add 2001:db8:21::200/128 dev lo"), "operator's IPv6 address");
	/* What a pre-6.1 kernel leaves: the label without IFA_PROTO. */
	ASSERT_OK(run("ip addr add 198.18.21.7/32 dev lo label lo:xvip"), "label-only address");

	memset(&r, 0, sizeof(r));
	ASSERT_OK(xvip_nl_lo_list(nl, list_cb, &r), "list");
	ASSERT_EQ(r.n, 3, "addresses listed");
	ASSERT_TRUE(list_has(&r, "198.18.21.1"), "198.18.21.1 listed");
	ASSERT_TRUE(list_has(&r, "2001:db8:21::1"), "2001:db8:21::1 listed");
	ASSERT_TRUE(list_has(&r, "198.18.21.7"), "label-marked 198.18.21.7 listed");
	ASSERT_TRUE(!list_has(&r, "198.18.21.200"), "operator's 198.18.21.200 not listed");
	ASSERT_TRUE(!list_has(&r, "2001:db8:21::200"), "operator's 2001:db8:21::200 not listed");
	xvip_nl_close(nl);
}

/* The node's own addresses, on every interface, but never the VIPs xvipd added. */
TEST(local_list_all_but_xvipd_vips)
{
	struct xvip_nl *nl = NULL;
	struct list_res r = {};
	struct xvip_addr a;

	SETUP(nl);
	a = A("198.18.21.1");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add VIP 198.18.21.1");
	a = A("2001:db8:21::1");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add VIP 2001:db8:21::1");
	ASSERT_OK(run("ip addr add 198.18.21.200/32 dev lo"), "operator's address on lo");
	ASSERT_OK(run("ip link add xvnl0 type veth peer name xvnl1 && ip link set xvnl0 up && "
		      "ip addr add 198.18.30.1/24 dev xvnl0 && "
		      "ip addr add 2001:db8:30::1/64 dev xvnl0 nodad"), "an uplink's addresses");
	ASSERT_OK(xvip_nl_local_list(nl, list_cb, &r), "list");
	ASSERT_TRUE(list_has(&r, "198.18.30.1"), "uplink IPv4 listed");
	ASSERT_TRUE(list_has(&r, "2001:db8:30::1"), "uplink IPv6 listed");
	ASSERT_TRUE(list_has(&r, "198.18.21.200"), "operator's address on lo listed");
	ASSERT_TRUE(list_has(&r, "127.0.0.1"), "127.0.0.1 listed");
	ASSERT_TRUE(!list_has(&r, "198.18.21.1"), "xvipd's VIP not listed");
	ASSERT_TRUE(!list_has(&r, "2001:db8:21::1"), "xvipd's IPv6 VIP not listed");
	xvip_nl_close(nl);
}

TEST(lo_del)
{
	struct xvip_nl *nl = NULL;
	struct list_res r = {};
	struct xvip_addr a4, a6, never;

	SETUP(nl);
	a4 = A("198.18.21.1");
	a6 = A("2001:db8:21::1");
	never = A("198.18.21.99");
	ASSERT_OK(xvip_nl_lo_add(nl, &a4), "add 198.18.21.1");
	ASSERT_OK(xvip_nl_lo_add(nl, &a6), "add 2001:db8:21::1");
	ASSERT_OK(xvip_nl_lo_del(nl, &a4), "delete 198.18.21.1");
	ASSERT_OK(xvip_nl_lo_del(nl, &a6), "delete 2001:db8:21::1");
	ASSERT_EQ(lo_addr_count("198.18.21.1"), 0, "198.18.21.1 left on lo");
	ASSERT_EQ(lo_addr_count("2001:db8:21::1"), 0, "2001:db8:21::1 left on lo");
	ASSERT_TRUE(lo_has("127.0.0.1", 8), "127.0.0.1/8 still on lo");
	ASSERT_OK(xvip_nl_lo_list(nl, list_cb, &r), "list");
	ASSERT_EQ(r.n, 0, "addresses listed after delete");
	ASSERT_OK(xvip_nl_lo_del(nl, &a4), "delete 198.18.21.1 again");
	ASSERT_OK(xvip_nl_lo_del(nl, &a6), "delete 2001:db8:21::1 again");
	ASSERT_OK(xvip_nl_lo_del(nl, &never), "delete 198.18.21.99, never added");
	xvip_nl_close(nl);
}

TEST(lo_del_unmarked_refused)
{
	struct xvip_nl *nl = NULL;
	struct xvip_addr a4, a6;

	SETUP(nl);
	a4 = A("198.18.21.200");
	a6 = A("2001:db8:21::200");
	ASSERT_OK(run("ip addr add 198.18.21.200/32 dev lo"), "operator's IPv4 address");
	ASSERT_OK(run("ip addr add 2001:db8:21::200/128 dev lo"), "operator's IPv6 address");
	ASSERT_EQ(xvip_nl_lo_del(nl, &a4), -EPERM, "delete operator's 198.18.21.200");
	ASSERT_EQ(xvip_nl_lo_del(nl, &a6), -EPERM, "delete operator's 2001:db8:21::200");
	ASSERT_TRUE(lo_has("198.18.21.200", 32), "198.18.21.200/32 still on lo");
	ASSERT_TRUE(lo_has("2001:db8:21::200", 128), "2001:db8:21::200/128 still on lo");

	/* Adding over it succeeds (the VIP is served) but does not adopt it. */
	ASSERT_OK(xvip_nl_lo_add(nl, &a4), "add over operator's 198.18.21.200");
	ASSERT_OK(xvip_nl_lo_add(nl, &a6), "add over operator's 2001:db8:21::200");
	ASSERT_EQ(lo_addr_proto("198.18.21.200"), 0, "IFA_PROTO of operator's IPv4 address");
	ASSERT_EQ(lo_addr_proto("2001:db8:21::200"), 0, "IFA_PROTO of operator's IPv6 address");
	ASSERT_EQ(xvip_nl_lo_del(nl, &a4), -EPERM, "delete operator's 198.18.21.200 after add");
	ASSERT_EQ(xvip_nl_lo_del(nl, &a6), -EPERM, "delete operator's 2001:db8:21::200 after add");
	ASSERT_TRUE(lo_has("198.18.21.200", 32), "198.18.21.200/32 still on lo after add");
	ASSERT_TRUE(lo_has("2001:db8:21::200", 128), "2001:db8:21::200/128 still on lo after add");
	xvip_nl_close(nl);
}

/* IPv4 keeps one address under several prefix lengths: only xvipd's /32 goes. */
TEST(lo_del_keeps_operator_prefix)
{
	struct xvip_nl *nl = NULL;
	struct xvip_addr a;

	SETUP(nl);
	a = A("198.18.21.3");
	ASSERT_OK(run("ip addr add 198.18.21.3/24 dev lo"), "operator's 198.18.21.3/24");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add 198.18.21.3");
	ASSERT_TRUE(lo_has("198.18.21.3", 32), "198.18.21.3/32 on lo");
	ASSERT_OK(xvip_nl_lo_del(nl, &a), "delete 198.18.21.3");
	ASSERT_TRUE(!lo_has("198.18.21.3", 32), "198.18.21.3/32 gone");
	ASSERT_TRUE(lo_has("198.18.21.3", 24), "operator's 198.18.21.3/24 still on lo");
	ASSERT_EQ(xvip_nl_lo_del(nl, &a), -EPERM, "delete 198.18.21.3 again");
	ASSERT_TRUE(lo_has("198.18.21.3", 24), "operator's 198.18.21.3/24 still on lo");
	xvip_nl_close(nl);
}

static int veth_setup(void)
{
	if (run("ip link add xvt0 type veth peer name xvt1") ||
	    run("ip addr add 198.18.20.1/24 dev xvt0") ||
	    run("ip addr add 2001:db8:20::1/64 dev xvt0 nodad") ||
	    run("ip link set xvt0 up") || run("ip link set xvt1 up"))
		return -1;
	return 0;
}

TEST(route_oif)
{
	static char json[JSON_MAX];
	struct xvip_nl *nl = NULL;
	struct xvip_addr a;
	int ifindex;

	SETUP(nl);
	if (!ASSERT_OK(veth_setup(), "veth xvt0 with 198.18.20.1/24, 2001:db8:20::1/64"))
		goto out;
	ifindex = (int)if_nametoindex("xvt0");
	ASSERT_TRUE(ifindex > 0, "xvt0 ifindex");

	a = A("198.18.20.5");
	ASSERT_EQ(xvip_nl_route_oif(nl, &a), ifindex, "oif of 198.18.20.5");
	ASSERT_OK(capture("ip -j route get 198.18.20.5", json, sizeof(json)), "ip route get");
	ASSERT_TRUE(strstr(json, "\"dev\":\"xvt0\""), "ip route get 198.18.20.5 says xvt0");
	a = A("2001:db8:20::5");
	ASSERT_EQ(xvip_nl_route_oif(nl, &a), ifindex, "oif of 2001:db8:20::5");

	/* A second interface: the answer follows the route, not the first veth. */
	ASSERT_OK(run("ip link add xvt2 type veth peer name xvt3"), "veth xvt2");
	ASSERT_OK(run("ip link set xvt2 up"), "xvt2 up");
	ASSERT_OK(run("ip link set xvt3 up"), "xvt3 up");
	ASSERT_OK(run("ip route add 198.18.30.0/24 via 198.18.20.2 dev xvt0"), "route via xvt0");
	ASSERT_OK(run("ip route add 198.18.31.0/24 dev xvt2"), "route on xvt2");
	a = A("198.18.30.9");
	ASSERT_EQ(xvip_nl_route_oif(nl, &a), ifindex, "oif of 198.18.30.9 (via gateway)");
	a = A("198.18.31.9");
	ASSERT_EQ(xvip_nl_route_oif(nl, &a), (int)if_nametoindex("xvt2"), "oif of 198.18.31.9");
out:
	xvip_nl_close(nl);
}

/*
 * IPv6 inserts an address's local route from the DAD work item, even with
 * IFA_F_NODAD: it lands a moment after the RTM_NEWADDR ACK. Wait up to 1 s.
 */
static bool wait_local_route6(const char *addr)
{
	static char json[JSON_MAX];
	char cmd[128], needle[96];

	snprintf(cmd, sizeof(cmd), "ip -j -6 route show table local %s", addr);
	snprintf(needle, sizeof(needle), "\"dst\":\"%s\"", addr);
	for (int i = 0; i < 100; i++) {
		if (!capture(cmd, json, sizeof(json)) && strstr(json, needle))
			return true;
		usleep(10000);
	}
	return false;
}

TEST(route_oif_unreachable)
{
	struct xvip_nl *nl = NULL;
	struct xvip_addr a;

	SETUP(nl);
	a = A("198.18.21.1");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add 198.18.21.1");
	ASSERT_EQ(xvip_nl_route_oif(nl, &a), -EHOSTUNREACH, "oif of VIP 198.18.21.1 on lo");
	a = A("2001:db8:21::1");
	ASSERT_OK(xvip_nl_lo_add(nl, &a), "add 2001:db8:21::1");
	ASSERT_TRUE(wait_local_route6("2001:db8:21::1"), "local route to 2001:db8:21::1");
	ASSERT_EQ(xvip_nl_route_oif(nl, &a), -EHOSTUNREACH, "oif of VIP 2001:db8:21::1 on lo");
	a = A("198.18.19.1");
	ASSERT_EQ(xvip_nl_route_oif(nl, &a), -ENETUNREACH, "oif of 198.18.19.1, no route");
	ASSERT_OK(run("ip route add unreachable 198.18.22.0/24"), "unreachable route");
	a = A("198.18.22.1");
	ASSERT_EQ(xvip_nl_route_oif(nl, &a), -EHOSTUNREACH, "oif of 198.18.22.1, unreachable");
	xvip_nl_close(nl);
}

/*
 * Many VIPs in batched requests: each address gets its own outcome, the
 * failures in the middle of a batch included, and every one that succeeded
 * is on lo, marked as xvipd's.
 */
TEST(lo_add_many_outcome_per_address)
{
	struct xvip_nl *nl = NULL;
	struct list_res r = {};
	struct xvip_addr *a;
	size_t n = 300;
	int *errs, failed;
	char s[64];

	SETUP(nl);
	a = calloc(n, sizeof(*a));
	errs = calloc(n, sizeof(*errs));
	if (!ASSERT_TRUE(a && errs, "calloc"))
		goto out;
	/* An operator's address, already there: success, and it stays unmarked. */
	ASSERT_OK(run("ip addr add 198.18.21.150/32 dev lo"), "operator's address");
	for (size_t i = 0; i < n; i++) {
		if (i % 10 == 9)
			snprintf(s, sizeof(s), "2001:db8:21::%zx", i);
		else
			snprintf(s, sizeof(s), "198.18.%zu.%zu", 21 + i / 250, i % 250);
		a[i] = A(s);
	}
	a[70] = A("127.0.0.9");		/* refused before it is sent */
	a[130] = A("224.0.0.9");	/* multicast: refused too */
	a[200] = a[199];		/* twice in one batch: the second finds the first */
	failed = xvip_nl_lo_add_many(nl, a, n, errs);
	ASSERT_EQ(failed, 2, "failures");
	ASSERT_EQ(errs[70], -EINVAL, "127.0.0.9");
	ASSERT_EQ(errs[130], -EINVAL, "224.0.0.9");
	ASSERT_EQ(errs[150], 0, "the operator's address");
	ASSERT_EQ(errs[200], 0, "the same address again");
	ASSERT_EQ(lo_addr_count("127.0.0.9"), 0, "127.0.0.9 on lo");
	ASSERT_OK(xvip_nl_lo_list(nl, list_cb, &r), "list");
	/* All but the two refused, the duplicate and the operator's (not xvipd's). */
	ASSERT_EQ(r.n, (int)n - 4, "xvipd's addresses on lo");
	ASSERT_TRUE(lo_has("198.18.21.0", 32) && lo_has("198.18.22.48", 32) &&
		    lo_has("2001:db8:21::12b", 128), "first, middle and last on lo");
	ASSERT_EQ(lo_addr_proto("198.18.22.48"), XVIP_IFA_PROTO, "IFA_PROTO");
	ASSERT_TRUE(lo_addr_field("198.18.21.150", 32, "\"label\":\"lo\""),
		    "the operator's address keeps its label");
out:
	free(a);
	free(errs);
	xvip_nl_close(nl);
}

/* This kernel keeps IFA_PROTO (it is newer than 6.1): the record stays unused. */
TEST(ifa_proto_detected)
{
	struct xvip_nl *nl = NULL;

	SETUP(nl);
	xvip_nl_close(nl);
	ASSERT_EQ(xvip_nl_ifa_proto(), 1, "this kernel keeps IFA_PROTO");
	xvip_nl_force_no_ifa_proto(true);
	ASSERT_EQ(xvip_nl_ifa_proto(), 0, "forced off");
	xvip_nl_force_no_ifa_proto(false);
	ASSERT_EQ(xvip_nl_ifa_proto(), 1, "asked again");
}

/*
 * A kernel without IFA_PROTO (before 6.1; Debian has none between 5.12 and
 * 6.1, so the mode is forced here: IFA_PROTO never sent, ignored in dumps):
 * IPv6 VIPs are known by the record, across a new netlink handle (a restart
 * keeps the pinned record), and are withdrawn; the operator's stay.
 */
TEST(no_ifa_proto_v6_by_record)
{
	struct xvip_nl *nl = NULL;
	struct list_res r = {};
	struct xvip_addr v4, v6, op, opf, stale, many[3];
	int rec, bad, errs[3];

	SETUP(nl);
	rec = xvip_maps_lo6_create();
	if (!ASSERT_TRUE(rec >= 0, "create a record map")) {
		xvip_nl_close(nl);
		return;
	}
	xvip_nl_force_no_ifa_proto(true);
	xvip_nl_set_lo6_record(rec);
	v4 = A("198.18.21.1");
	v6 = A("2001:db8:21::1");
	op = A("2001:db8:21::200");
	opf = A("2001:db8:21::201");
	stale = A("2001:db8:21::5");

	ASSERT_OK(xvip_nl_lo_add(nl, &v4), "add 198.18.21.1");
	ASSERT_OK(xvip_nl_lo_add(nl, &v6), "add 2001:db8:21::1");
	ASSERT_TRUE(lo_has("2001:db8:21::1", 128), "2001:db8:21::1/128 on lo");
	ASSERT_EQ(lo_addr_proto("2001:db8:21::1"), 0, "no IFA_PROTO sent");
	ASSERT_EQ(xvip_maps_lo6_has(rec, &v6), 1, "2001:db8:21::1 recorded");
	ASSERT_EQ(xvip_maps_lo6_has(rec, &v4), 0, "IPv4 VIP not recorded (the label marks it)");
	/* The operator's: one plain, one with xvipd's flags but never recorded. */
	ASSERT_OK(run("ip addr add 2001:db8:21::200/128 dev lo"), "operator's address");
	ASSERT_OK(run("ip addr add 2001:db8:21::201/128 dev lo nodad noprefixroute"),
		  "operator's address with xvipd's flags");
	/* Adding over the operator's: served, but neither recorded nor removable. */
	ASSERT_OK(xvip_nl_lo_add(nl, &op), "add over the operator's 2001:db8:21::200");
	ASSERT_EQ(xvip_maps_lo6_has(rec, &op), 0, "the operator's address not recorded");
	/* A record whose address is not on lo: pruned by the next listing. */
	ASSERT_OK(xvip_maps_lo6_put(rec, &stale), "stale record");

	/* A restarted xvipd: a new handle, the same (pinned) record. */
	xvip_nl_close(nl);
	nl = NULL;
	if (!ASSERT_OK(xvip_nl_open(&nl), "xvip_nl_open again"))
		goto out;
	ASSERT_OK(xvip_nl_lo_list(nl, list_cb, &r), "list");
	ASSERT_EQ(r.n, 2, "xvipd's addresses listed");
	ASSERT_TRUE(list_has(&r, "198.18.21.1"), "198.18.21.1 listed (label)");
	ASSERT_TRUE(list_has(&r, "2001:db8:21::1"), "2001:db8:21::1 listed (record)");
	ASSERT_EQ(xvip_maps_lo6_has(rec, &stale), 0, "stale record pruned");
	memset(&r, 0, sizeof(r));
	ASSERT_OK(xvip_nl_local_list(nl, list_cb, &r), "local list");
	ASSERT_TRUE(!list_has(&r, "2001:db8:21::1"), "xvipd's IPv6 VIP is not a node address");
	ASSERT_TRUE(list_has(&r, "2001:db8:21::200") && list_has(&r, "2001:db8:21::201"),
		    "the operator's are node addresses");

	ASSERT_OK(xvip_nl_lo_del(nl, &v6), "withdraw 2001:db8:21::1");
	ASSERT_EQ(lo_addr_count("2001:db8:21::1"), 0, "2001:db8:21::1 left on lo");
	ASSERT_EQ(xvip_maps_lo6_has(rec, &v6), 0, "record of 2001:db8:21::1 dropped");
	ASSERT_EQ(xvip_nl_lo_del(nl, &op), -EPERM, "withdraw the operator's 2001:db8:21::200");
	ASSERT_EQ(xvip_nl_lo_del(nl, &opf), -EPERM, "withdraw the operator's 2001:db8:21::201");
	ASSERT_TRUE(lo_has("2001:db8:21::200", 128) && lo_has("2001:db8:21::201", 128),
		    "the operator's addresses still on lo");

	/* Batched adds are recorded too, and withdrawn. */
	many[0] = A("2001:db8:21::10");
	many[1] = A("198.18.21.10");
	many[2] = A("2001:db8:21::11");
	ASSERT_EQ(xvip_nl_lo_add_many(nl, many, 3, errs), 0, "add three");
	ASSERT_TRUE(xvip_maps_lo6_has(rec, &many[0]) == 1 && xvip_maps_lo6_has(rec, &many[2]) == 1,
		    "batched IPv6 VIPs recorded");
	for (int i = 0; i < 3; i++)
		ASSERT_OK(xvip_nl_lo_del(nl, &many[i]), "withdraw a batched VIP");
	ASSERT_TRUE(!lo_has("2001:db8:21::10", 128) && !lo_has("2001:db8:21::11", 128),
		    "batched IPv6 VIPs withdrawn");

	/*
	 * A VIP that cannot be recorded is not added, alone or batched: xvipd
	 * could never withdraw it. (An array of one slot takes no IPv6 key.)
	 */
	bad = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xvip_test_bad", 4, 1, 1, NULL);
	if (ASSERT_TRUE(bad >= 0, "create an array map")) {
		xvip_nl_set_lo6_record(bad);
		ASSERT_TRUE(xvip_nl_lo_add(nl, &many[0]) < 0, "add a VIP that cannot be recorded");
		ASSERT_EQ(xvip_nl_lo_add_many(nl, many, 3, errs), 2, "batch of three, two IPv6");
		ASSERT_TRUE(errs[0] < 0 && errs[1] == 0 && errs[2] < 0, "only the IPv4 one added");
		ASSERT_TRUE(!lo_has("2001:db8:21::10", 128) && !lo_has("2001:db8:21::11", 128),
			    "unrecordable IPv6 VIPs not on lo");
		ASSERT_TRUE(lo_has("198.18.21.10", 32), "the IPv4 VIP on lo");
		close(bad);
	}
out:
	xvip_nl_set_lo6_record(-1);
	xvip_nl_force_no_ifa_proto(false);
	close(rec);
	xvip_nl_close(nl);
}

TEST_MAIN(TEST_CASE(lo_add_v4), TEST_CASE(lo_add_v6), TEST_CASE(lo_add_special_refused),
	  TEST_CASE(lo_list_marked_only), TEST_CASE(local_list_all_but_xvipd_vips),
	  TEST_CASE(lo_del), TEST_CASE(lo_del_unmarked_refused),
	  TEST_CASE(lo_del_keeps_operator_prefix), TEST_CASE(route_oif),
	  TEST_CASE(route_oif_unreachable),
	  TEST_CASE(lo_add_many_outcome_per_address), TEST_CASE(ifa_proto_detected),
	  TEST_CASE(no_ifa_proto_v6_by_record))
