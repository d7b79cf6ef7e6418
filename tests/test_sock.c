// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Node-to-VIP socket hooks, tested for real: BPF_PROG_TEST_RUN does not run
 * cgroup sock_addr programs, so the test loads the dataplane in a network
 * namespace of its own, attaches the hooks to the cgroup v2 root through the
 * loader (netns-filtered, pinned links), puts the VIP and the "pods" on lo
 * with a listener on each, and opens real sockets: what connect, sendto,
 * recvfrom and getpeername return is the assertion.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/magic.h>

#include "test.h"
#include "dptest.h"
#include "addr.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "nl.h"
#include "xvip_sock.skel.h"

#define PIN_PREFIX	"/sys/fs/bpf/xvip-test-sock-"
#define NPODS		3

static const char *const VIP = "198.18.21.1";
static const char *const VIP_NOBE = "198.18.21.3";	/* a Service without endpoints */
static const char *const VIP_V6BE = "198.18.21.4";	/* (bad data) an IPv6 endpoint */
static const char *const VIP6 = "2001:db8:21::1";
static const char *const POD6 = "2001:db8:20::11";
static const char *const PODS[NPODS] = { "198.18.20.11", "198.18.20.12", "198.18.20.13" };

static const char *netns_err;

__attribute__((constructor)) static void enter_netns(void)
{
	if (unshare(CLONE_NEWNET) < 0)
		netns_err = "unshare(CLONE_NEWNET) failed (needs root)";
}

static struct xvip_dp dp;
static char pin_dir[128];
static bool dp_ok;

/* Servers, one per pod address, so the local address names the pod. */
static int tcp_pod[NPODS], udp_pod[NPODS], tcp_pod6 = -1, tcp_any22 = -1, udp_any22 = -1;

/* ---- helpers */

static socklen_t sa_make(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
		abort();
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	return sizeof(*s6);
}

/* "a.b.c.d:port" or "[v6]:port" */
static const char *sa_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	}
	return buf;
}

static const char *peer_str(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss = {};
	socklen_t sl = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &sl))
		snprintf(buf, len, "getpeername: %s", strerror(errno));
	else
		sa_str(&ss, buf, len);
	return buf;
}

static int sock_bound(int family, int type, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_make(&ss, ip, port);
	int fd = socket(family, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) ||
	    (type == SOCK_STREAM && listen(fd, 64))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* connect() to ip:port; returns the fd, or -errno. */
static int connect_to(int family, int type, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_make(&ss, ip, port);
	int fd = socket(family, type | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sl)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Index of the fd in fds[] that becomes readable within 1 s, or -1. */
static int ready_one(const int *fds, int n)
{
	struct pollfd p[8];

	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	if (poll(p, (nfds_t)n, 1000) <= 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (p[i].revents & POLLIN)
			return i;
	return -1;
}

/* Accept the connection that reached a pod; returns the pod index or -1. */
static int accept_pod(void)
{
	int i = ready_one(tcp_pod, NPODS), c;

	if (i < 0)
		return -1;
	c = accept(tcp_pod[i], NULL, NULL);
	if (c < 0)
		return -1;
	close(c);
	return i;
}

/* Answer one datagram at whichever pod it reached, from that pod's address. */
static int udp_pod_echo(void)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	char buf[64];
	ssize_t n;
	int i = ready_one(udp_pod, NPODS);

	if (i < 0)
		return -1;
	n = recvfrom(udp_pod[i], buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
	if (n < 0 || sendto(udp_pod[i], buf, (size_t)n, 0, (struct sockaddr *)&from, fl) != n)
		return -1;
	return i;
}

/* recvfrom on a client socket; the source as a string in src. */
static int udp_reply(int fd, char *src, size_t len)
{
	struct sockaddr_storage from = {};
	socklen_t fl = sizeof(from);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[64];

	if (poll(&p, 1, 1000) != 1)
		return -ETIMEDOUT;
	if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) < 0)
		return -errno;
	sa_str(&from, src, len);
	return 0;
}

static int sendto_ip(int fd, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sa_make(&ss, ip, port);

	return sendto(fd, "q", 1, 0, (struct sockaddr *)&ss, sl) == 1 ? 0 : -errno;
}

static uint64_t stat_of(uint32_t idx)
{
	struct xvip_counter c = {};

	xvip_maps_counter(&dp.maps, dp.maps.stats, idx, &c);
	return c.packets;
}

static int lo_up(void)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		ret = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!ret && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int lo_add(const char *const *ips, size_t n)
{
	struct xvip_nl *nl;
	struct xvip_addr a;
	int ret = xvip_nl_open(&nl);

	for (size_t i = 0; !ret && i < n; i++) {
		ret = xvip_addr_parse(ips[i], &a);
		ret = ret ?: xvip_nl_lo_add(nl, &a);
	}
	if (nl)
		xvip_nl_close(nl);
	return ret;
}

static int add_service(uint32_t id, const char *vip, uint16_t port, uint8_t proto,
		       const char *const *pods, uint16_t pod_port, size_t n, uint32_t first_be)
{
	struct xvip_svc_key k = { .port = htons(port), .proto = proto };
	struct xvip_svc_val v = { .id = id };
	struct xvip_vip_val vv = { .nports = 1 };
	uint32_t table[251];
	int ret;

	if (xvip_addr_parse(vip, &k.vip))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		struct xvip_backend be = { .port = htons(pod_port), .state = XVIP_BE_READY,
					   .svc_id = id };

		if (xvip_addr_parse(pods[i], &be.addr))
			return -EINVAL;
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
	}
	ret = xvip_maps_svc_set(&dp.maps, &k, &v);
	return ret ?: xvip_maps_vip_set(&dp.maps, &k.vip, &vv);
}

/* A pin dir of an earlier run that was killed: its links are still attached. */
static void remove_stale_runs(void)
{
	glob_t g;

	if (glob(PIN_PREFIX "*", 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		long pid = strtol(g.gl_pathv[i] + strlen(PIN_PREFIX), NULL, 10);

		if (pid > 0 && kill((pid_t)pid, 0) && errno == ESRCH)
			xvip_dp_cleanup(g.gl_pathv[i]);
	}
	globfree(&g);
}

static int open_servers(void)
{
	for (int i = 0; i < NPODS; i++) {
		tcp_pod[i] = sock_bound(AF_INET, SOCK_STREAM, PODS[i], 8080);
		udp_pod[i] = sock_bound(AF_INET, SOCK_DGRAM, PODS[i], 5353);
		if (tcp_pod[i] < 0 || udp_pod[i] < 0)
			return -1;
	}
	tcp_pod6 = sock_bound(AF_INET6, SOCK_STREAM, POD6, 8443);
	/* A host service on every address, as sshd would be. */
	tcp_any22 = sock_bound(AF_INET, SOCK_STREAM, "0.0.0.0", 22);
	udp_any22 = sock_bound(AF_INET, SOCK_DGRAM, "0.0.0.0", 22);
	return tcp_pod6 < 0 || tcp_any22 < 0 || udp_any22 < 0 ? -1 : 0;
}

/*
 * What the hooks need from the machine, probed before any of xvip's code runs:
 * a cgroup v2 hierarchy where the loader looks, SO_NETNS_COOKIE (kernel 5.14).
 */
static const char *hooks_unsupported(void)
{
	static const char *const cg[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified" };
	bool cgroup2 = false;
	uint64_t cookie;
	socklen_t len = sizeof(cookie);
	struct statfs sf;
	int fd, ret;

	for (size_t i = 0; i < sizeof(cg) / sizeof(cg[0]); i++)
		cgroup2 = cgroup2 || (!statfs(cg[i], &sf) && sf.f_type == CGROUP2_SUPER_MAGIC);
	if (!cgroup2)
		return "no cgroup v2 mount at /sys/fs/cgroup(/unified)";
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ret = fd < 0 ? -1 : getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len);
	if (fd >= 0)
		close(fd);
	return ret ? "no SO_NETNS_COOKIE on this kernel (5.14)" : NULL;
}

/* Not a test: runs once before them (test.h). */
static void setup(void)
{
	static const char *const lo_ips[] = { "198.18.21.1", "198.18.21.3", "198.18.21.4",
					      "198.18.20.11", "198.18.20.12", "198.18.20.13",
					      "2001:db8:21::1", "2001:db8:20::11" };
	const char *why = dptest_begin(netns_err) ?: hooks_unsupported();

	if (why)
		TEST_SKIP(why);
	remove_stale_runs();
	if (!ASSERT_TRUE(!lo_up() && !lo_add(lo_ips, sizeof(lo_ips) / sizeof(lo_ips[0])),
			 "lo up with the VIPs and pods in the test namespace"))
		return;
	snprintf(pin_dir, sizeof(pin_dir), PIN_PREFIX "%d", getpid());
	if (dptest_load(&dp, pin_dir, 4096))
		return;
	if (!ASSERT_TRUE(dp.sock, "socket-hook programs loaded (the log says why not)"))
		return;
	if (!ASSERT_TRUE(!add_service(1, VIP, 80, IPPROTO_TCP, PODS, 8080, NPODS, 1) &&
			 !add_service(2, VIP, 53, IPPROTO_UDP, PODS, 5353, NPODS, 4) &&
			 !add_service(3, VIP_NOBE, 80, IPPROTO_TCP, NULL, 0, 0, 0) &&
			 !add_service(4, VIP6, 443, IPPROTO_TCP, &POD6, 8443, 1, 7) &&
			 !add_service(5, VIP_V6BE, 80, IPPROTO_TCP, &POD6, 8443, 1, 8) &&
			 !open_servers(), "services in the maps, servers on lo"))
		return;
	dp_ok = ASSERT_OK(xvip_dp_attach_sock(&dp, NULL), "attach the socket hooks");
}

static void teardown(void)
{
	dptest_stop(&dp, pin_dir, NULL);
}

/* A test that reloads the dataplane and fails leaves none for those after it. */
#define NEED_DP()							\
	do {								\
		if (!dp_ok) {						\
			TEST_FAIL("no dataplane: an earlier test lost it");	\
			return;						\
		}							\
	} while (0)

/* ---- tests */

TEST(tcp_connect_to_vip_reaches_every_pod_and_shows_the_vip)
{
	NEED_DP();
	uint64_t conn = stat_of(XVIP_STAT_SOCK_CONNECT), rev = stat_of(XVIP_STAT_SOCK_REVERSE);
	int seen[NPODS] = {};
	char peer[128];

	for (int i = 0; i < 30; i++) {
		int fd = connect_to(AF_INET, SOCK_STREAM, VIP, 80), pod;

		if (!ASSERT_TRUE(fd >= 0, "connect to VIP:80"))
			break;
		ASSERT_STREQ(peer_str(fd, peer, sizeof(peer)), "198.18.21.1:80", "getpeername");
		pod = accept_pod();
		close(fd);
		if (!ASSERT_TRUE(pod >= 0, "a pod accepted the connection"))
			break;
		seen[pod]++;
	}
	for (int i = 0; i < NPODS; i++)
		ASSERT_TRUE(seen[i] > 0, "every pod took connections");
	ASSERT_EQ(stat_of(XVIP_STAT_SOCK_CONNECT), conn + 30, "sock_connect counter");
	ASSERT_TRUE(stat_of(XVIP_STAT_SOCK_REVERSE) >= rev + 30, "sock_reverse counter");
}

TEST(host_socket_not_reachable_through_vip)
{
	NEED_DP();
	uint64_t before = stat_of(XVIP_DROP_SOCK_UNSERVED);
	int fd;

	/* Control: the listener on 0.0.0.0:22 answers on a local non-VIP address. */
	fd = connect_to(AF_INET, SOCK_STREAM, PODS[0], 22);
	if (ASSERT_TRUE(fd >= 0, "control: host listener reachable on another address"))
		close(fd);
	fd = accept(tcp_any22, NULL, NULL);
	if (fd >= 0)
		close(fd);

	fd = connect_to(AF_INET, SOCK_STREAM, VIP, 22);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(fd, -EPERM, "connect to VIP:22 refused with EPERM");
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ASSERT_EQ(sendto_ip(fd, VIP, 22), -EPERM, "UDP to VIP:22 refused with EPERM");
	close(fd);
	/* TCP-only port 80 over UDP is just as unserved. */
	fd = connect_to(AF_INET, SOCK_DGRAM, VIP, 80);
	if (fd >= 0)
		close(fd);
	ASSERT_EQ(fd, -EPERM, "UDP connect to VIP:80 (a TCP port) refused");
	ASSERT_EQ(stat_of(XVIP_DROP_SOCK_UNSERVED), before + 3, "drop_sock_unserved counter");
}

TEST(service_without_endpoints_is_refused)
{
	NEED_DP();
	uint64_t before = stat_of(XVIP_DROP_SOCK_NO_BACKEND);
	int fd = connect_to(AF_INET, SOCK_STREAM, VIP_NOBE, 80);

	if (fd >= 0)
		close(fd);
	ASSERT_EQ(fd, -EPERM, "connect refused");
	ASSERT_EQ(stat_of(XVIP_DROP_SOCK_NO_BACKEND), before + 1, "drop_sock_no_backend counter");
}

TEST(other_destinations_untouched)
{
	NEED_DP();
	uint64_t conn = stat_of(XVIP_STAT_SOCK_CONNECT);
	char peer[128];
	int fd = connect_to(AF_INET, SOCK_STREAM, PODS[1], 8080);

	if (ASSERT_TRUE(fd >= 0, "connect to a pod directly")) {
		ASSERT_STREQ(peer_str(fd, peer, sizeof(peer)), "198.18.20.12:8080", "getpeername");
		ASSERT_EQ(accept_pod(), 1, "that pod accepted");
		close(fd);
	}
	ASSERT_EQ(stat_of(XVIP_STAT_SOCK_CONNECT), conn, "not counted as balanced");
}

TEST(udp_sendto_vip_replies_come_from_the_vip)
{
	NEED_DP();
	uint64_t sent = stat_of(XVIP_STAT_SOCK_SENDMSG);
	int seen[NPODS] = {}, first = -1;
	char src[128];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	/* One socket: every datagram to the same pod, every reply from VIP:53. */
	for (int i = 0; i < 10; i++) {
		int pod;

		if (!ASSERT_OK(sendto_ip(fd, VIP, 53), "sendto VIP:53"))
			break;
		pod = udp_pod_echo();
		if (!ASSERT_TRUE(pod >= 0, "a pod got the datagram"))
			break;
		if (first < 0)
			first = pod;
		ASSERT_EQ(pod, first, "same socket, same pod");
		if (ASSERT_OK(udp_reply(fd, src, sizeof(src)), "reply"))
			ASSERT_STREQ(src, "198.18.21.1:53", "recvfrom source");
	}
	close(fd);
	/* Many sockets: spread over the pods. */
	for (int i = 0; i < 30; i++) {
		int pod;

		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (ASSERT_OK(sendto_ip(fd, VIP, 53), "sendto") &&
		    ASSERT_TRUE((pod = udp_pod_echo()) >= 0, "a pod got it")) {
			seen[pod]++;
			if (ASSERT_OK(udp_reply(fd, src, sizeof(src)), "reply"))
				ASSERT_STREQ(src, "198.18.21.1:53", "recvfrom source");
		}
		close(fd);
	}
	for (int i = 0; i < NPODS; i++)
		ASSERT_TRUE(seen[i] > 0, "every pod took datagrams");
	ASSERT_EQ(stat_of(XVIP_STAT_SOCK_SENDMSG), sent + 40, "sock_sendmsg counter");
}

TEST(udp_connected_socket_sees_the_vip)
{
	NEED_DP();
	char src[128], peer[128];
	int fd = connect_to(AF_INET, SOCK_DGRAM, VIP, 53);

	if (!ASSERT_TRUE(fd >= 0, "UDP connect to VIP:53"))
		return;
	ASSERT_STREQ(peer_str(fd, peer, sizeof(peer)), "198.18.21.1:53", "getpeername");
	if (ASSERT_TRUE(send(fd, "q", 1, 0) == 1, "send") &&
	    ASSERT_TRUE(udp_pod_echo() >= 0, "a pod got it") &&
	    ASSERT_OK(udp_reply(fd, src, sizeof(src)), "reply"))
		ASSERT_STREQ(src, "198.18.21.1:53", "recvfrom source");
	close(fd);
}

TEST(ipv6_vip)
{
	NEED_DP();
	char peer[128];
	int fd = connect_to(AF_INET6, SOCK_STREAM, VIP6, 443), c;

	if (!ASSERT_TRUE(fd >= 0, "connect to [VIP6]:443"))
		return;
	ASSERT_STREQ(peer_str(fd, peer, sizeof(peer)), "[2001:db8:21::1]:443", "getpeername");
	ASSERT_EQ(ready_one(&tcp_pod6, 1), 0, "the IPv6 pod got the connection");
	c = accept(tcp_pod6, NULL, NULL);
	if (c >= 0)
		close(c);
	close(fd);
}

TEST(dual_stack_socket_to_mapped_ipv4_vip)
{
	NEED_DP();
	char peer[128];
	int fd = connect_to(AF_INET6, SOCK_STREAM, "::ffff:198.18.21.1", 80);

	if (!ASSERT_TRUE(fd >= 0, "connect to [::ffff:VIP]:80"))
		return;
	ASSERT_STREQ(peer_str(fd, peer, sizeof(peer)), "[::ffff:198.18.21.1]:80", "getpeername");
	ASSERT_TRUE(accept_pod() >= 0, "an IPv4 pod accepted");
	close(fd);
}

TEST(endpoint_of_the_other_family_is_refused)
{
	NEED_DP();
	uint64_t before = stat_of(XVIP_DROP_SOCK_FAMILY);
	int fd = connect_to(AF_INET, SOCK_STREAM, VIP_V6BE, 80);

	if (fd >= 0)
		close(fd);
	ASSERT_EQ(fd, -EPERM, "IPv4 socket, IPv6 endpoint: refused");
	ASSERT_EQ(stat_of(XVIP_DROP_SOCK_FAMILY), before + 1, "drop_sock_family counter");
}

/*
 * The hooks sit on the root cgroup, so they run for every process of the
 * machine: a socket in any other network namespace must be left alone. A
 * child in a fresh namespace, with the VIP on its own lo and listeners on
 * 0.0.0.0, reaches them through the VIP untranslated.
 */
static int other_netns_child(void)
{
	char peer[128];
	int l22, l80, fd;

	if (unshare(CLONE_NEWNET) || lo_up() || lo_add(&VIP, 1))
		return 10;
	l22 = sock_bound(AF_INET, SOCK_STREAM, "0.0.0.0", 22);
	l80 = sock_bound(AF_INET, SOCK_STREAM, "0.0.0.0", 80);
	if (l22 < 0 || l80 < 0)
		return 11;
	fd = connect_to(AF_INET, SOCK_STREAM, VIP, 22);
	if (fd < 0)
		return 12;
	close(fd);
	fd = connect_to(AF_INET, SOCK_STREAM, VIP, 80);
	if (fd < 0)
		return 13;
	if (strcmp(peer_str(fd, peer, sizeof(peer)), "198.18.21.1:80"))
		return 14;
	close(fd);
	fd = accept(l80, NULL, NULL);	/* the local listener, not a pod */
	return fd < 0 ? 15 : 0;
}

TEST(other_network_namespaces_untouched)
{
	NEED_DP();
	uint64_t before = stat_of(XVIP_DROP_SOCK_UNSERVED) + stat_of(XVIP_STAT_SOCK_CONNECT);
	int status = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(other_netns_child());
	if (!ASSERT_TRUE(pid > 0, "fork"))
		return;
	waitpid(pid, &status, 0);
	ASSERT_TRUE(WIFEXITED(status), "child exited");
	ASSERT_EQ(WEXITSTATUS(status), 0,
		  "child: 1x setup, 12 VIP:22 refused, 13 VIP:80 refused, 14 peer changed");
	ASSERT_EQ(stat_of(XVIP_DROP_SOCK_UNSERVED) + stat_of(XVIP_STAT_SOCK_CONNECT), before,
		  "nothing counted for the other namespace");
}

struct link_ids {
	uint32_t link[8], prog[8];
	int n;
};

static int pinned_links(struct link_ids *ids)
{
	glob_t g;
	char pat[256];

	memset(ids, 0, sizeof(*ids));
	snprintf(pat, sizeof(pat), "%s/xvip_link_*", pin_dir);
	if (glob(pat, 0, NULL, &g))
		return -ENOENT;
	for (size_t i = 0; i < g.gl_pathc && ids->n < 8; i++) {
		struct bpf_link_info info = {};
		uint32_t len = sizeof(info);
		int fd = bpf_obj_get(g.gl_pathv[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			ids->link[ids->n] = info.id;
			ids->prog[ids->n] = info.prog_id;
			ids->n++;
		}
		close(fd);
	}
	globfree(&g);
	return 0;
}

/* A restarted xvipd hands the pinned links its new programs: same links, no gap. */
TEST(restart_replaces_programs_in_place)
{
	NEED_DP();
	struct xvip_dp_opts o = { .pin_dir = pin_dir, .ct_size = 4096 };
	struct link_ids before, after;
	char peer[128];
	int fd;

	ASSERT_OK(pinned_links(&before), "pinned links");
	ASSERT_EQ(before.n, 8, "eight hooks pinned");
	xvip_dp_close(&dp);
	if (!ASSERT_OK(xvip_dp_load(&dp, &o), "reload") ||
	    !ASSERT_OK(xvip_dp_attach_sock(&dp, NULL), "re-attach")) {
		dp_ok = false;
		return;
	}
	ASSERT_TRUE(dp.adopted, "pins adopted");
	ASSERT_OK(pinned_links(&after), "pinned links after");
	ASSERT_EQ(after.n, 8, "still eight");
	for (int i = 0; i < before.n && i < after.n; i++) {
		ASSERT_EQ(after.link[i], before.link[i], "same link");
		ASSERT_TRUE(after.prog[i] != before.prog[i], "new program in it");
	}
	fd = connect_to(AF_INET, SOCK_STREAM, VIP, 80);
	if (ASSERT_TRUE(fd >= 0, "connect after restart")) {
		ASSERT_STREQ(peer_str(fd, peer, sizeof(peer)), "198.18.21.1:80", "getpeername");
		ASSERT_TRUE(accept_pod() >= 0, "a pod accepted");
		close(fd);
	}
}

/*
 * Verified instructions measured on 6.1, 6.12 and 6.18 (dptest.h): connect4
 * and sendmsg4 734, 742, 719; connect6 and sendmsg6 741, 749, 814; recvmsg and
 * getpeername 46 to 50 everywhere.
 */
TEST(verifier_instruction_counts)
{
	static const struct dptest_budget b[] = {
		{ "xvip_sock_connect4", { 920, 930, 900 } },
		{ "xvip_sock_connect6", { 930, 940, 1020 } },
		{ "xvip_sock_sendmsg4", { 920, 930, 900 } },
		{ "xvip_sock_sendmsg6", { 930, 940, 1020 } },
		{ "xvip_sock_recvmsg4", { 60, 60, 60 } },
		{ "xvip_sock_recvmsg6", { 65, 65, 65 } },
		{ "xvip_sock_getpeername4", { 60, 60, 60 } },
		{ "xvip_sock_getpeername6", { 65, 65, 65 } },
	};

	NEED_DP();
	dptest_verifier_budget(dp.sock->obj, b, sizeof(b) / sizeof(b[0]));
}

/* --cleanup detaches the hooks: the links are gone and VIP:22 is plain lo again. */
TEST(zz_cleanup_detaches_the_hooks)
{
	struct link_ids ids;
	int fd, n;

	NEED_DP();
	pinned_links(&ids);
	if (dp.xdp)
		xvip_dp_close(&dp);
	n = xvip_dp_cleanup(pin_dir);
	ASSERT_TRUE(access(pin_dir, F_OK) != 0, "pin dir removed");
	ASSERT_TRUE(n >= 8, "eight socket hooks detached");
	for (int i = 0; i < ids.n; i++) {
		fd = bpf_link_get_fd_by_id(ids.link[i]);
		ASSERT_TRUE(fd < 0, "link released");
		if (fd >= 0)
			close(fd);
	}
	fd = connect_to(AF_INET, SOCK_STREAM, VIP, 22);
	ASSERT_TRUE(fd >= 0, "without the hooks VIP:22 reaches the host listener");
	if (fd >= 0)
		close(fd);
}

TEST_MAIN_FIXTURE(setup, teardown,
	  TEST_CASE(tcp_connect_to_vip_reaches_every_pod_and_shows_the_vip),
	  TEST_CASE(host_socket_not_reachable_through_vip),
	  TEST_CASE(service_without_endpoints_is_refused), TEST_CASE(other_destinations_untouched),
	  TEST_CASE(udp_sendto_vip_replies_come_from_the_vip),
	  TEST_CASE(udp_connected_socket_sees_the_vip), TEST_CASE(ipv6_vip),
	  TEST_CASE(dual_stack_socket_to_mapped_ipv4_vip),
	  TEST_CASE(endpoint_of_the_other_family_is_refused),
	  TEST_CASE(other_network_namespaces_untouched),
	  TEST_CASE(restart_replaces_programs_in_place), TEST_CASE(verifier_instruction_counts),
	  TEST_CASE(zz_cleanup_detaches_the_hooks))
