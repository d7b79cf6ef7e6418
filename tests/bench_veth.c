// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Throughput through veth, per core (`make bench`):
 *
 *   gen ns: xvip-pktgen --> g0 ==veth== up0 (node ns) --> stack --> pv1 ==veth== eth0 (pod ns)
 *                                        XDP here                              XDP sink here
 *
 * Every path is measured on the same topology with the same frames, in the
 * same run, and counted where the frames arrive: the sink on the pod's eth0
 * counts and drops (xvip_bench_sink), never what was sent.
 *  - xvip:     xvip's XDP program on up0 DNATs VIP:port to a pod, XDP_PASS, the
 *              node's stack forwards to the pod.
 *  - nftables: no XDP; kube-proxy's nftables shape (a verdict map of VIP .
 *              protocol . port, numgen over endpoint chains, dnat) with
 *              conntrack; GRO on up0 gives the veth its NAPI instead of XDP.
 *  - forward:  no XDP, no NAT: frames addressed to the pod, plain forwarding
 *              (what the stack costs on its own).
 *  - redirect: an XDP program on up0 that only redirects to pv1 (no lookup,
 *              no rewrite): the ceiling of an XDP_REDIRECT design here.
 * The generator is pinned to one CPU. It runs the frames in batches of
 * `batch`; each batch is flushed into up0's ring and, when the batch ends
 * (local_bh_enable), up0's NAPI and then eth0's run in softirq on the same
 * CPU (threaded NAPI is off): the whole path runs on that one core, so the
 * rate at the sink is the rate per core. /proc/softirqs shows where NET_RX
 * ran.
 *
 *   bench_veth [--count N] [--rounds R] [--flows N] [--cpu C] [--smoke] [--out FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include <linux/if_link.h>

#include "addr.h"
#include "loader.h"
#include "log.h"
#include "maglev.h"
#include "maps.h"
#include "xvip_bench.skel.h"
#include "xvip_xdp.skel.h"

/*
 * Namespaces are xvbench-veth<PID>-gen/-node/-pod, so runs side by side (a
 * smoke test while `make bench` runs) never touch each other's. Command
 * strings name them with these placeholders; sh() and in_ns() expand them.
 */
#define PFX		"xvbench-veth"
#define BENCH_PFX	PFX
#define BENCH_NAME	"bench_veth"
#include "bench.h"
#define NS_GEN		"@GEN@"
#define NS_NODE		"@NODE@"
#define NS_POD		"@POD@"
#define VIP		"198.18.21.1"
#define CLIENT		"198.18.30.10"
#define NODE_UP		"198.18.30.1"
#define NPODS		4	/* endpoint addresses, all on the pod's eth0 */

struct opts {
	unsigned long count;
	unsigned int rounds, flows, cpu, batch;
	const char *out, *root;
	bool smoke;
	int split_cpu;	/* >= 0: threaded NAPI on up0, pinned there (--split) */
};

static char pin_dir[128];
static struct xvip_dp dp;
static bool dp_loaded;
static struct xvip_bench *ref;

static void pod_ip(int i, char *buf, size_t len)
{
	snprintf(buf, len, "198.18.20.%d", 11 + i);
}

/* Our namespaces, and those of earlier runs whose process is gone. */
static void topology_down(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "for n in $(ip netns list | awk '{print $1}' | grep -E '^" PFX "[0-9]+-'); do "
		 "p=${n#" PFX "}; p=${p%%%%-*}; "
		 "if [ \"$p\" = %d ] || ! kill -0 \"$p\" 2>/dev/null; then "
		 "ip netns pids $n | xargs -r kill -9; ip netns del $n; fi; done 2>/dev/null",
		 getpid());
	if (system(cmd))
		fprintf(stderr, "bench_veth: removing old namespaces failed\n");
}

static int topology_up(void)
{
	char ip[32];
	int ret = 0;

	topology_down();
	ret |= sh("ip netns add " NS_GEN " && ip netns add " NS_NODE " && ip netns add " NS_POD);
	ret |= sh("ip link add g0 netns " NS_GEN " type veth peer name up0 netns " NS_NODE);
	ret |= sh("ip link add eth0 netns " NS_POD " type veth peer name pv1 netns " NS_NODE);
	ret |= sh("ip -n " NS_GEN " addr add " CLIENT "/24 dev g0 && ip -n " NS_GEN
		  " link set g0 up && ip -n " NS_GEN " link set lo up");
	ret |= sh("ip -n " NS_NODE " addr add " NODE_UP "/24 dev up0 && ip -n " NS_NODE
		  " link set up0 up && ip -n " NS_NODE " link set pv1 up && ip -n " NS_NODE
		  " link set lo up");
	ret |= sh("ip netns exec " NS_NODE " sysctl -qw net.ipv4.ip_forward=1 "
		  "net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 "
		  "net.ipv4.conf.up0.rp_filter=0");
	ret |= sh("ip -n " NS_POD " link set eth0 up && ip -n " NS_POD " link set lo up");
	ret |= sh("ip -n " NS_NODE " addr add 169.254.1.1/32 dev pv1");
	for (int i = 0; i < NPODS && !ret; i++) {
		pod_ip(i, ip, sizeof(ip));
		ret |= sh("ip -n " NS_POD " addr add %s/32 dev eth0", ip);
		ret |= sh("ip -n " NS_NODE " route add %s/32 dev pv1", ip);
		/* The sink drops ARP too: the pods' neighbours are static. */
		ret |= sh("ip -n " NS_NODE " neigh replace %s lladdr $(ip -n " NS_POD
			  " -br link show eth0 | awk '{print $3}') dev pv1 nud permanent", ip);
	}
	return ret ? -1 : 0;
}

/* Run fn's work inside network namespace ns, then come back. */
static int in_ns(const char *ns, int (*fn)(void *), void *arg)
{
	char raw[128], path[160];
	int self, target, ret;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(raw, sizeof(raw), "/run/netns/%s", ns);
	expand(raw, path, sizeof(path));
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || target < 0 || setns(target, CLONE_NEWNET)) {
		ret = -errno;
		goto out;
	}
	ret = fn(arg);
	if (setns(self, CLONE_NEWNET))
		ret = ret ?: -errno;
out:
	if (self >= 0)
		close(self);
	if (target >= 0)
		close(target);
	return ret;
}

struct attach {
	const char *ifname;
	int prog_fd;	/* -1: detach */
	int ifindex;	/* out */
};

static int do_attach(void *arg)
{
	struct attach *a = arg;

	a->ifindex = (int)if_nametoindex(a->ifname);
	if (!a->ifindex)
		return -ENODEV;
	if (a->prog_fd < 0)
		return bpf_xdp_detach(a->ifindex, XDP_FLAGS_DRV_MODE, NULL);
	return bpf_xdp_attach(a->ifindex, a->prog_fd, XDP_FLAGS_DRV_MODE, NULL);
}

static int xdp_set(const char *ns, const char *ifname, int prog_fd)
{
	struct attach a = { .ifname = ifname, .prog_fd = prog_fd };
	int ret = in_ns(ns, do_attach, &a);

	if (ret)
		fprintf(stderr, "bench_veth: %s XDP on %s/%s: %s\n", prog_fd < 0 ? "detach" : "attach",
			ns, ifname, strerror(-ret));
	return ret;
}

static int do_ifindex(void *arg)
{
	struct attach *a = arg;

	a->ifindex = (int)if_nametoindex(a->ifname);
	return a->ifindex ? 0 : -ENODEV;
}

static int ifindex_in(const char *ns, const char *ifname)
{
	struct attach a = { .ifname = ifname };

	return in_ns(ns, do_ifindex, &a) ? 0 : a.ifindex;
}

static int load_xvip(void *arg)
{
	struct xvip_dp_opts o = { .pin_dir = pin_dir, .ct_size = 65536,
				  .mode = XVIP_XDP_NATIVE };

	(void)arg;
	xvip_dp_cleanup(pin_dir);
	if (xvip_dp_load(&dp, &o))
		return -EINVAL;
	dp_loaded = true;
	return 0;
}

/* One Service, VIP:80/tcp and VIP:53/udp, NPODS endpoints; as xvipd would program it. */
static int program_service(void)
{
	struct xvip_maglev_backend mb[NPODS];
	struct xvip_addr addrs[NPODS];
	uint32_t table[251];
	static const struct {
		uint16_t port, target;
		uint8_t proto;
	} ports[] = { { 80, 8080, IPPROTO_TCP }, { 53, 5353, IPPROTO_UDP } };
	struct xvip_vip_val vv = { .nports = 2 };
	struct xvip_addr vip;
	int ret = 0;

	xvip_addr_parse(VIP, &vip);
	for (uint32_t s = 0; s < 2 && !ret; s++) {
		struct xvip_svc_key k = { .vip = vip, .port = htons(ports[s].port),
					  .proto = ports[s].proto };
		struct xvip_svc_val v = { .id = s + 1 };

		for (int i = 0; i < NPODS && !ret; i++) {
			struct xvip_backend be = { .port = htons(ports[s].target),
						   .state = XVIP_BE_READY, .svc_id = s + 1 };
			char ip[32];

			pod_ip(i, ip, sizeof(ip));
			xvip_addr_parse(ip, &be.addr);
			addrs[i] = be.addr;
			ret = xvip_maps_be_set(&dp.maps, (s + 1) * 10 + (uint32_t)i, &be);
			mb[i] = (struct xvip_maglev_backend){ .id = (s + 1) * 10 + (uint32_t)i,
							      .weight = 1, .key = &addrs[i],
							      .keylen = sizeof(addrs[i]) };
		}
		ret = ret ?: xvip_maglev_build(mb, NPODS, 251, table);
		ret = ret ?: xvip_maps_maglev_swap(&dp.maps, s + 1, table, 251);
		ret = ret ?: xvip_maps_svc_set(&dp.maps, &k, &v);
	}
	return ret ?: xvip_maps_vip_set(&dp.maps, &vip, &vv);
}

/* kube-proxy's nftables mode, reduced to one Service: vmap dispatch, numgen, dnat. */
static int nft_up(void)
{
	char path[] = "/tmp/xvbench-nft.XXXXXX", ip[32];
	int fd = mkstemp(path), ret;
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f)
		return -errno;
	fprintf(f, "table ip xvbench {\n"
		   "  map service-ips {\n"
		   "    type ipv4_addr . inet_proto . inet_service : verdict\n"
		   "    elements = { " VIP " . tcp . 80 : goto svc-web-tcp, "
		   VIP " . udp . 53 : goto svc-web-udp }\n"
		   "  }\n"
		   "  chain services {\n"
		   "    ip daddr . meta l4proto . th dport vmap @service-ips\n"
		   "  }\n"
		   "  chain nat-prerouting {\n"
		   "    type nat hook prerouting priority dstnat; policy accept;\n"
		   "    jump services\n"
		   "  }\n");
	for (int p = 0; p < 2; p++) {
		const char *proto = p ? "udp" : "tcp";

		fprintf(f, "  chain svc-web-%s {\n    numgen random mod %d vmap { ", proto, NPODS);
		for (int i = 0; i < NPODS; i++)
			fprintf(f, "%d : goto ep-%d-%s%s", i, i, proto, i + 1 < NPODS ? ", " : "");
		fprintf(f, " }\n  }\n");
		for (int i = 0; i < NPODS; i++) {
			pod_ip(i, ip, sizeof(ip));
			fprintf(f, "  chain ep-%d-%s {\n    meta l4proto %s dnat to %s:%d\n  }\n", i,
				proto, proto, ip, p ? 5353 : 8080);
		}
	}
	fprintf(f, "}\n");
	fclose(f);
	ret = sh("ip netns exec " NS_NODE " nft -f %s", path);
	unlink(path);
	return ret;
}

static void nft_down(void)
{
	char cmd[256];

	expand("ip netns exec " NS_NODE " nft delete table ip xvbench 2>/dev/null; "
	       "ip netns exec " NS_NODE " conntrack -F >/dev/null 2>&1", cmd, sizeof(cmd));
	if (system(cmd))
		return;
}

static uint64_t sink_count(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct xvip_counter c[ncpu > 0 ? ncpu : 1];
	uint32_t key = 0;
	uint64_t n = 0;

	if (ncpu < 1 || bpf_map_lookup_elem(bpf_map__fd(ref->maps.bench_sink_count), &key, c))
		return 0;
	for (int i = 0; i < ncpu; i++)
		n += c[i].packets;
	return n;
}

/* NET_RX softirqs per CPU, from /proc/softirqs. */
static int net_rx(uint64_t *per_cpu, int max)
{
	char line[4096];
	FILE *f = fopen("/proc/softirqs", "r");
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "NET_RX:");

		if (!p)
			continue;
		p += 7;
		while (n < max) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			per_cpu[n++] = v;
			p = end;
		}
	}
	fclose(f);
	return n;
}

struct sample {
	double gen_mpps, sink_mpps, delivered;
	uint64_t sent, arrived, ring_full;
	json_object *net_rx;
};

static int run_pktgen(const struct opts *o, const char *dmac, const char *dst, const char *proto,
		      struct sample *s)
{
	char raw[1024], cmd[1280], out[4096] = "";
	uint64_t before = sink_count(), rx0[256] = { 0 }, rx1[256] = { 0 };
	int n0 = net_rx(rx0, 256), n1;
	json_object *j;
	size_t len;
	FILE *p;

	snprintf(raw, sizeof(raw),
		 "ip netns exec " NS_GEN " %s/build/xvip-pktgen --iface g0 --dst-mac %s --src "
		 CLIENT " --dst %s --proto %s --dport %s --flows %u --src-addrs 16 --count %lu "
		 "--batch %u --cpu %u --json", o->root, dmac, dst, proto,
		 !strcmp(proto, "udp") ? (!strcmp(dst, VIP) ? "53" : "5353")
				       : (!strcmp(dst, VIP) ? "80" : "8080"),
		 o->flows, o->count, o->batch, o->cpu);
	expand(raw, cmd, sizeof(cmd));
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	len = fread(out, 1, sizeof(out) - 1, p);
	out[len] = '\0';
	if (pclose(p)) {
		fprintf(stderr, "bench_veth: %s: failed\n", cmd);
		return -EIO;
	}
	n1 = net_rx(rx1, 256);
	j = json_tokener_parse(out);
	if (!j) {
		fprintf(stderr, "bench_veth: xvip-pktgen printed no JSON: %s\n", out);
		return -EIO;
	}
	s->sent = (uint64_t)json_object_get_int64(json_object_object_get(j, "sent"));
	s->gen_mpps = json_object_get_double(json_object_object_get(j, "mpps"));
	s->ring_full = (uint64_t)json_object_get_int64(json_object_object_get(j,
										"dev_xdp_xmit_errors"));
	json_object_put(j);
	s->arrived = sink_count() - before;
	s->delivered = s->sent ? (double)s->arrived / (double)s->sent : 0;
	/* The path runs inside the generator's loop: the sink's rate is its rate times the share. */
	s->sink_mpps = s->gen_mpps * s->delivered;
	s->net_rx = json_object_new_array();
	for (int i = 0; i < n0 && i < n1; i++)
		json_object_array_add(s->net_rx, json_object_new_int64((int64_t)(rx1[i] - rx0[i])));
	return 0;
}

enum path { PATH_XVIP, PATH_NFT, PATH_FWD, PATH_REDIRECT, PATH_GEN, NPATHS };
static const char *const path_names[] = { "xvip", "nftables", "forward", "redirect",
					  "generator" };
static const char *const path_what[] = {
	"xvip XDP DNAT on up0, XDP_PASS, kernel forwarding to the pod",
	"kube-proxy-style nftables DNAT (vmap, numgen, conntrack), kernel forwarding, no XDP",
	"frames addressed to the pod, kernel forwarding, no NAT, no XDP",
	"XDP on up0 redirecting straight to the pod's veth, no lookup or rewrite (ceiling)",
	"the sink on up0 itself: the generator and one veth hop, nothing else (its cost is "
	"part of every other path's, on the same core)",
};

/*
 * --split: up0's NAPI in a kthread ("napi/up0-N") pinned to another CPU, so
 * the path has a core to itself and the generator's cost stays out of it.
 * Re-pinned after every path change: attaching XDP re-creates the NAPI.
 */
static int pin_napi(int cpu)
{
	return sh("ip netns exec " NS_NODE " sh -c 'echo 1 > /sys/class/net/up0/threaded' && "
		  "for t in /proc/[0-9]*/comm; do case $(cat $t 2>/dev/null) in napi/up0-*) "
		  "p=${t#/proc/}; taskset -pc %d ${p%%/comm} >/dev/null;; esac; done", cpu);
}

static int set_path(enum path p, int xvip_fd, int redirect_fd, int sink_fd, int split_cpu)
{
	int ret = 0;

	xdp_set(NS_NODE, "up0", -1);
	nft_down();
	/* Without XDP, GRO gives up0 the NAPI that frames redirected into a veth need. */
	ret |= sh("ip netns exec " NS_NODE " ethtool -K up0 gro %s >/dev/null",
		  p == PATH_NFT || p == PATH_FWD ? "on" : "off");
	if (p == PATH_XVIP)
		ret |= xdp_set(NS_NODE, "up0", xvip_fd);
	else if (p == PATH_REDIRECT)
		ret |= xdp_set(NS_NODE, "up0", redirect_fd);
	else if (p == PATH_GEN)
		ret |= xdp_set(NS_NODE, "up0", sink_fd);
	else if (p == PATH_NFT)
		ret |= nft_up();
	if (split_cpu >= 0)
		ret |= pin_napi(split_cpu);
	return ret ? -1 : 0;
}

static void cleanup(void)
{
	xvip_bench__destroy(ref);
	ref = NULL;
	if (dp_loaded)
		xvip_dp_close(&dp);
	dp_loaded = false;
	if (pin_dir[0])
		xvip_dp_cleanup(pin_dir);
	topology_down();
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static const char usage_text[] =
	"Usage: bench_veth [--count N] [--rounds R] [--flows N] [--batch N] [--cpu C] [--smoke]\n"
	"                  [--split CPU] [--root DIR] [--out FILE]\n"
	"  --split CPU: up0's NAPI threaded and pinned to CPU, the generator on --cpu\n"
	"Mpps per core through veth: xvip vs kube-proxy-style nftables DNAT (see tests/bench_veth.c).\n";

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "flows", required_argument, NULL, 'f' },
		{ "batch", required_argument, NULL, 'b' },
		{ "cpu", required_argument, NULL, 'p' },
		{ "root", required_argument, NULL, 'R' },
		{ "out", required_argument, NULL, 'o' },
		{ "smoke", no_argument, NULL, 'S' },
		{ "split", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct opts o = { .count = 2000000, .rounds = 5, .flows = 1024, .batch = 64, .root = ".",
			  .split_cpu = -1 };
	static const char *const protos[] = { "udp", "tcp" };
	json_object *root = json_object_new_object(), *jpaths = json_object_new_object();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double mpps[2][NPATHS][64];
	char dmac[32] = "", threaded[16] = "?";
	int c, ret = 0, xvip_fd, redirect_fd;
	struct sample s = {};
	FILE *f;

	o.cpu = ncpu > 1 ? (unsigned int)ncpu - 1 : 0;
	while ((c = getopt_long(argc, argv, "h", lopts, NULL)) != -1) {
		switch (c) {
		case 'n': o.count = strtoul(optarg, NULL, 0); break;
		case 'r': o.rounds = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'f': o.flows = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'b': o.batch = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'p': o.cpu = (unsigned int)strtoul(optarg, NULL, 0); break;
		case 'R': o.root = optarg; break;
		case 's': o.split_cpu = atoi(optarg); break;
		case 'o': o.out = optarg; break;
		case 'S':
			o.smoke = true;
			o.count = 50000;
			o.rounds = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (!o.rounds || o.rounds > 64 || !o.count || !o.flows) {
		fputs(usage_text, stderr);
		return 2;
	}
	xvip_log_init(XVIP_LOG_WARN);
	xvip_log_route_libs();
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/" PFX "%d", getpid());

	if (topology_up()) {
		ret = 1;
		goto out;
	}
	ref = xvip_bench__open();
	if (!ref) {
		ret = 1;
		goto out;
	}
	ref->rodata->cfg_redirect_ifindex = (uint32_t)ifindex_in(NS_NODE, "pv1");
	if (xvip_bench__load(ref) || in_ns(NS_NODE, load_xvip, NULL) || program_service()) {
		fprintf(stderr, "bench_veth: load or program the dataplane failed\n");
		ret = 1;
		goto out;
	}
	xvip_fd = bpf_program__fd(dp.xdp->progs.xvip_xdp);
	redirect_fd = bpf_program__fd(ref->progs.xvip_bench_redirect);
	if (xdp_set(NS_POD, "eth0", bpf_program__fd(ref->progs.xvip_bench_sink))) {
		ret = 1;
		goto out;
	}
	{
		char cmd[256];
		FILE *p;

		expand("ip netns exec " NS_NODE " cat /sys/class/net/up0/address "
		       "/sys/class/net/up0/threaded", cmd, sizeof(cmd));
		p = popen(cmd, "r");

		if (!p || !fgets(dmac, sizeof(dmac), p) || !fgets(threaded, sizeof(threaded), p)) {
			fprintf(stderr, "bench_veth: read up0's MAC address failed\n");
			ret = 1;
			if (p)
				pclose(p);
			goto out;
		}
		pclose(p);
		dmac[strcspn(dmac, "\n")] = '\0';
		threaded[strcspn(threaded, "\n")] = '\0';
	}

	for (unsigned int r = 0; r < o.rounds && !ret; r++) {
		for (int pr = 0; pr < 2 && !ret; pr++) {
			for (int p = 0; p < NPATHS && !ret; p++) {
				char dst[32];
				json_object *jp, *jr;

				if (set_path((enum path)p, xvip_fd, redirect_fd,
					     bpf_program__fd(ref->progs.xvip_bench_sink), o.split_cpu)) {
					ret = 1;
					break;
				}
				if (p == PATH_FWD || p == PATH_REDIRECT || p == PATH_GEN)
					pod_ip(0, dst, sizeof(dst));
				else
					snprintf(dst, sizeof(dst), VIP);
				if (run_pktgen(&o, dmac, dst, protos[pr], &s)) {
					ret = 1;
					break;
				}
				mpps[pr][p][r] = s.sink_mpps;
				fprintf(stderr, "bench_veth: round %u %-3s %-9s sent %llu, arrived %llu "
					"(%.1f%%, %llu refused by up0's ring): %.3f Mpps at the sink\n",
					r + 1, protos[pr], path_names[p], (unsigned long long)s.sent,
					(unsigned long long)s.arrived, s.delivered * 100,
					(unsigned long long)s.ring_full, s.sink_mpps);
				jp = json_object_object_get(jpaths, path_names[p]);
				if (!jp) {
					jp = json_object_new_object();
					json_object_object_add(jp, "what",
							       json_object_new_string(path_what[p]));
					json_object_object_add(jpaths, path_names[p], jp);
				}
				jr = json_object_object_get(jp, protos[pr]);
				if (!jr) {
					jr = json_object_new_object();
					json_object_object_add(jr, "rounds", json_object_new_array());
					json_object_object_add(jp, protos[pr], jr);
				}
				{
					json_object *one = json_object_new_object();

					json_object_object_add(one, "sent", json_object_new_int64((int64_t)s.sent));
					json_object_object_add(one, "arrived",
							       json_object_new_int64((int64_t)s.arrived));
					json_object_object_add(one, "refused_by_up0_ring",
							       json_object_new_int64((int64_t)s.ring_full));
					json_object_object_add(one, "generator_mpps",
							       json_object_new_double(s.gen_mpps));
					json_object_object_add(one, "sink_mpps",
							       json_object_new_double(s.sink_mpps));
					json_object_object_add(one, "net_rx_softirqs_per_cpu", s.net_rx);
					json_object_array_add(json_object_object_get(jr, "rounds"), one);
				}
			}
		}
	}
	for (int pr = 0; pr < 2 && !ret; pr++) {
		for (int p = 0; p < NPATHS; p++) {
			json_object *jr = json_object_object_get(
				json_object_object_get(jpaths, path_names[p]), protos[pr]);

			qsort(mpps[pr][p], o.rounds, sizeof(double), cmp_double);
			json_object_object_add(jr, "mpps_median",
					       json_object_new_double(mpps[pr][p][o.rounds / 2]));
			json_object_object_add(jr, "mpps_best",
					       json_object_new_double(mpps[pr][p][o.rounds - 1]));
		}
		/* Without the generator's share: ns per packet of the path alone. */
		for (int p = 0; p < PATH_GEN; p++) {
			double m = mpps[pr][p][o.rounds / 2], g = mpps[pr][PATH_GEN][o.rounds / 2];
			json_object *jr = json_object_object_get(
				json_object_object_get(jpaths, path_names[p]), protos[pr]);

			if (m > 0 && g > m) {
				json_object_object_add(jr, "path_ns_per_packet",
						       json_object_new_double(1e3 / m - 1e3 / g));
				json_object_object_add(jr, "path_mpps",
						       json_object_new_double(1.0 / (1.0 / m - 1.0 / g)));
			}
		}
		if (mpps[pr][PATH_NFT][o.rounds / 2] > 0)
			fprintf(stderr, "bench_veth: %s: xvip %.3f Mpps, nftables %.3f Mpps: %.2fx\n",
				protos[pr], mpps[pr][PATH_XVIP][o.rounds / 2],
				mpps[pr][PATH_NFT][o.rounds / 2],
				mpps[pr][PATH_XVIP][o.rounds / 2] / mpps[pr][PATH_NFT][o.rounds / 2]);
	}
out:
	json_object_object_add(root, "frames_per_run", json_object_new_int64((int64_t)o.count));
	json_object_object_add(root, "frame_bytes", json_object_new_int64(60));
	json_object_object_add(root, "flows", json_object_new_int64(o.flows));
	json_object_object_add(root, "batch", json_object_new_int64(o.batch));
	json_object_object_add(root, "cpu", json_object_new_int64(o.cpu));
	json_object_object_add(root, "rounds", json_object_new_int64(o.rounds));
	json_object_object_add(root, "napi_threaded", json_object_new_string(threaded));
	json_object_object_add(root, "split_cpu", json_object_new_int(o.split_cpu));
	json_object_object_add(root, "endpoints", json_object_new_int64(NPODS));
	json_object_object_add(root, "ok", json_object_new_boolean(ret == 0));
	json_object_object_add(root, "paths", jpaths);
	f = o.out ? fopen(o.out, "w") : stdout;
	if (f) {
		fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
		if (f != stdout)
			fclose(f);
	}
	json_object_put(root);
	cleanup();
	return ret;
}
