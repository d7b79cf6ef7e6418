// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * xvip-pktgen: a traffic generator for machines without kernel pktgen.
 * Frames are written by a small XDP program run with BPF_PROG_TEST_RUN and
 * BPF_F_TEST_XDP_LIVE_FRAMES, which redirects each one out of --iface
 * (bpf/xvip_pktgen.bpf.c). The kernel runs it in batches of --batch frames
 * and flushes each batch to the device; on a veth the peer's NAPI then runs
 * on this CPU when the batch ends.
 */
#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "opts.h"
#include "xvip_pktgen.skel.h"

#define FRAME_MAX	4096	/* one live frame is one page, headroom included */

struct opts {
	const char *iface;
	int ifindex;
	uint8_t dmac[6], smac[6];
	bool have_dmac, have_smac;
	bool ipv6;
	struct in6_addr src6, dst6;
	struct in_addr src4, dst4;
	uint8_t proto;
	uint8_t tcp_flags;
	uint16_t sport, dport;
	uint32_t size;
	uint64_t count;
	double duration;
	uint32_t flows, addrs;
	double rate;
	uint32_t batch;
	int cpu;
	bool json, quiet, size_set;
	const char *src, *dst;	/* as given; src4/6 and dst4/6 parsed */
};

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

static int iface_mac(const char *ifname, uint8_t *mac)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		ret = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return ret;
}

/* ---- options: one table gives parsing and --help */

static int opt_iface(void *opts, const char *optarg)
{
	struct opts *o = opts;

	o->iface = optarg;
	o->ifindex = (int)if_nametoindex(optarg);
	if (!o->ifindex) {
		fprintf(stderr, "xvip-pktgen: --iface %s: no such interface in this "
			"network namespace\n", optarg);
		return -ENODEV;
	}
	return 0;
}

static int opt_dmac(void *opts, const char *optarg)
{
	struct opts *o = opts;

	if (parse_mac(optarg, o->dmac))
		return -EINVAL;
	o->have_dmac = true;
	return 0;
}

static int opt_smac(void *opts, const char *optarg)
{
	struct opts *o = opts;

	if (parse_mac(optarg, o->smac))
		return -EINVAL;
	o->have_smac = true;
	return 0;
}

static int opt_size(void *opts, const char *optarg)
{
	struct opts *o = opts;
	double v;

	if (xvip_opts_parse_num(optarg, 42, 3500, &v) || v != floor(v))
		return -EINVAL;
	o->size = (uint32_t)v;
	o->size_set = true;
	return 0;
}

#define F(field) XVIP_OPT_FIELD(struct opts, field)

static const char *const proto_words[] = { "tcp", "udp", NULL };
static const int proto_values[] = { IPPROTO_TCP, IPPROTO_UDP };
static const char *const flags_words[] = { "syn", "ack", NULL };
static const int flags_values[] = { 0x02, 0x10 };

static const struct xvip_opt pktgen_opts[] = {
	{ "iface", .type = XVIP_OPT_FUNC, .arg = "IF", .parse = opt_iface,
	  .help = "output device (required)" },
	{ "dst-mac", .type = XVIP_OPT_FUNC, .arg = "MAC", .parse = opt_dmac,
	  .want = "xx:xx:xx:xx:xx:xx", .help = "destination MAC, the receiving device's (required)" },
	{ "src-mac", .type = XVIP_OPT_FUNC, .arg = "MAC", .parse = opt_smac,
	  .want = "xx:xx:xx:xx:xx:xx", .help = "source MAC (default: IF's)" },
	{ "src", .type = XVIP_OPT_STR, .arg = "ADDR", F(src),
	  .help = "first source address, IPv4 or IPv6 (required)" },
	{ "dst", .type = XVIP_OPT_STR, .arg = "ADDR", F(dst),
	  .help = "destination address, same family (required)" },
	{ "proto", .type = XVIP_OPT_ENUM, F(proto), .words = proto_words, .values = proto_values,
	  .nocase = true, .help = "default udp" },
	{ "tcp-flags", .type = XVIP_OPT_ENUM, .arg = "F", F(tcp_flags), .words = flags_words,
	  .values = flags_values, .nocase = true, .help = "syn or ack (default ack)" },
	{ "sport", .type = XVIP_OPT_NUM, .arg = "N", F(sport), .dmin = 1, .dmax = 65535,
	  .whole = true, .want = "a port, 1-65535",
	  .help = "first source port (default 10000)" },
	{ "dport", .type = XVIP_OPT_NUM, .arg = "N", F(dport), .dmin = 1, .dmax = 65535,
	  .whole = true, .want = "a port, 1-65535", .help = "destination port (default 80)" },
	{ "size", .type = XVIP_OPT_FUNC, .arg = "BYTES", .parse = opt_size,
	  .want = "42 to 3500 bytes",
	  .help = "frame length without FCS (default 60: 64 on the wire, or the headers' length "
		  "if longer: 62 or 74 over IPv6)" },
	{ "count", .type = XVIP_OPT_NUM, .arg = "N", F(count), .dmax = 1e15, .whole = true,
	  .want = "a whole number",
	  .help = "frames to send (default 1000000; 0: until --duration)" },
	{ "duration", .type = XVIP_OPT_NUM, .arg = "SEC", F(duration), .dmin = 0.001,
	  .dmax = 86400, .real = true, .want = "seconds", .help = "stop after SEC seconds" },
	{ "flows", .type = XVIP_OPT_NUM, .arg = "N", F(flows), .dmin = 1, .dmax = 1 << 24,
	  .whole = true, .want = "1 to 16777216",
	  .help = "distinct flows, cycled frame by frame (default 1)" },
	{ "src-addrs", .type = XVIP_OPT_NUM, .arg = "N", F(addrs), .dmin = 1, .dmax = 1 << 24,
	  .whole = true, .want = "1 to 16777216",
	  .help = "distinct source addresses among the flows (default 1); flow i uses address "
		  "src + i % N and port sport + i / N" },
	{ "rate", .type = XVIP_OPT_NUM, .arg = "PPS", F(rate), .dmin = 1, .dmax = 1e9,
	  .real = true, .want = "frames per second",
	  .help = "target rate in frames per second (default: as fast as possible)" },
	{ "batch", .type = XVIP_OPT_NUM, .arg = "N", F(batch), .dmin = 1, .dmax = 256,
	  .whole = true, .want = "1 to 256",
	  .help = "frames per kernel batch, 1..256 (default 64)" },
	{ "cpu", .type = XVIP_OPT_NUM, .arg = "N", F(cpu), .dmax = CPU_SETSIZE - 1,
	  .whole = true, .want = "a CPU number",
	  .help = "pin to CPU N (the peer veth's NAPI runs there too)" },
	{ "json", .type = XVIP_OPT_FLAG, F(json), .help = "print the result as JSON" },
	{}
};

#undef F

static const struct xvip_opts_prog pktgen_prog = {
	.name = "xvip-pktgen",
	.opts = pktgen_opts,
	.col = 21,
	.usage =
		"Usage: xvip-pktgen --iface IF --dst-mac MAC --src ADDR --dst ADDR [options]\n"
		"\n"
		"Sends generated TCP or UDP frames out of IF with XDP live frames\n"
		"(BPF_PROG_TEST_RUN + BPF_F_TEST_XDP_LIVE_FRAMES + bpf_redirect). Every frame's\n"
		"header is rewritten from a template, so frames the path modified in place\n"
		"(DNAT, TTL) go out right again. Run it in the network namespace of IF.\n"
		"\n",
};

/* 0, 1 when --help was printed, or -errno with a message printed. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	const char *src, *dst;
	int first, ret;

	memset(o, 0, sizeof(*o));
	o->proto = IPPROTO_UDP;
	o->tcp_flags = 0x10;	/* ACK */
	o->sport = 10000;
	o->dport = 80;
	o->size = 60;
	o->count = 1000000;
	o->flows = 1;
	o->addrs = 1;
	o->batch = 64;
	o->cpu = -1;

	ret = xvip_opts_parse(&pktgen_prog, argc, argv, o, &first);
	if (ret)
		return ret;
	src = o->src;
	dst = o->dst;
	if (first < argc) {
		fprintf(stderr, "xvip-pktgen: unexpected argument '%s'\n", argv[first]);
		return -EINVAL;
	}
	if (!o->iface || !o->have_dmac || !src || !dst) {
		fprintf(stderr, "xvip-pktgen: --iface, --dst-mac, --src and --dst are required\n\n");
		xvip_opts_help(&pktgen_prog, stderr);
		return -EINVAL;
	}
	o->ipv6 = strchr(src, ':') != NULL;
	if (o->ipv6 != (strchr(dst, ':') != NULL) ||
	    (o->ipv6 ? inet_pton(AF_INET6, src, &o->src6) != 1 ||
			       inet_pton(AF_INET6, dst, &o->dst6) != 1
		     : inet_pton(AF_INET, src, &o->src4) != 1 ||
			       inet_pton(AF_INET, dst, &o->dst4) != 1)) {
		fprintf(stderr, "xvip-pktgen: --src %s --dst %s: want two IPv4 or two IPv6 "
			"addresses\n", src, dst);
		return -EINVAL;
	}
	if (o->addrs > o->flows) {
		fprintf(stderr, "xvip-pktgen: --src-addrs %u is more than --flows %u\n", o->addrs,
			o->flows);
		return -EINVAL;
	}
	if ((uint32_t)o->sport + (o->flows - 1) / o->addrs > 65535) {
		fprintf(stderr, "xvip-pktgen: --flows %u over %u addresses needs source ports "
			"beyond 65535 from --sport %u\n", o->flows, o->addrs, o->sport);
		return -EINVAL;
	}
	if (!o->count && !o->duration) {
		fprintf(stderr, "xvip-pktgen: --count 0 needs --duration\n");
		return -EINVAL;
	}
	if (!o->have_smac && iface_mac(o->iface, o->smac)) {
		fprintf(stderr, "xvip-pktgen: read the MAC address of %s: %s\n", o->iface,
			strerror(errno));
		return -EINVAL;
	}
	return 0;
}

/* ---- the template frame, with full checksums */

static uint32_t sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Header length of the frame: Ethernet, IP, L4 header. */
static uint32_t hdr_len(const struct opts *o)
{
	return (uint32_t)(sizeof(struct ethhdr) +
			  (o->ipv6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr)) +
			  (o->proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr)));
}

static void build_frame(const struct opts *o, uint8_t *f, uint32_t len)
{
	struct ethhdr *eth = (struct ethhdr *)f;
	uint32_t l3 = sizeof(*eth), l4, l4len;
	uint32_t sum = 0;
	uint8_t *p;

	memset(f, 0, len);
	memcpy(eth->h_dest, o->dmac, 6);
	memcpy(eth->h_source, o->smac, 6);
	eth->h_proto = htons(o->ipv6 ? ETH_P_IPV6 : ETH_P_IP);
	if (o->ipv6) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)(f + l3);

		l4 = l3 + sizeof(*ip6);
		l4len = len - l4;
		ip6->version = 6;
		ip6->payload_len = htons((uint16_t)l4len);
		ip6->nexthdr = o->proto;
		ip6->hop_limit = 64;
		ip6->saddr = o->src6;
		ip6->daddr = o->dst6;
		sum = sum16(&o->src6, 16, sum16(&o->dst6, 16, 0));
	} else {
		struct iphdr *iph = (struct iphdr *)(f + l3);

		l4 = l3 + sizeof(*iph);
		l4len = len - l4;
		iph->version = 4;
		iph->ihl = 5;
		iph->tot_len = htons((uint16_t)(len - l3));
		iph->id = htons(0x7876);
		iph->frag_off = htons(0x4000);	/* DF */
		iph->ttl = 64;
		iph->protocol = o->proto;
		iph->saddr = o->src4.s_addr;
		iph->daddr = o->dst4.s_addr;
		iph->check = fold(sum16(iph, sizeof(*iph), 0));
		sum = sum16(&o->src4, 4, sum16(&o->dst4, 4, 0));
	}
	p = f + l4;
	for (uint32_t i = hdr_len(o); i < len; i++)
		f[i] = (uint8_t)(i * 7 + 3);	/* recognisable payload */
	if (o->proto == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)p;

		th->source = htons(o->sport);
		th->dest = htons(o->dport);
		th->seq = htonl(0x78766970);
		th->doff = 5;
		((uint8_t *)th)[13] = o->tcp_flags;
		if (o->tcp_flags & 0x10)
			th->ack_seq = htonl(1);
		th->window = htons(65535);
	} else {
		struct udphdr *uh = (struct udphdr *)p;

		uh->source = htons(o->sport);
		uh->dest = htons(o->dport);
		uh->len = htons((uint16_t)l4len);
	}
	sum += o->proto + l4len;
	sum = sum16(p, l4len, sum);
	if (o->proto == IPPROTO_TCP) {
		((struct tcphdr *)p)->check = fold(sum);
	} else {
		uint16_t c = fold(sum);

		((struct udphdr *)p)->check = c ? c : 0xffff;
	}
}

/* ---- the device's XDP transmit counters (veth: frames taken, ring overflows) */

struct xmit_stats {
	uint64_t xmit, errors;
	bool ok;
};

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && !memcmp(s + len - n, suffix, n);
}

static void read_xmit_stats(const char *ifname, struct xmit_stats *s)
{
	struct ethtool_sset_info *sset = NULL;
	struct ethtool_gstrings *strs = NULL;
	struct ethtool_stats *st = NULL;
	struct ifreq ifr = {};
	uint32_t n;
	int fd;

	memset(s, 0, sizeof(*s));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sset = calloc(1, sizeof(*sset) + sizeof(uint32_t));
	if (!sset)
		goto out;
	sset->cmd = ETHTOOL_GSSET_INFO;
	sset->sset_mask = 1ULL << ETH_SS_STATS;
	ifr.ifr_data = (void *)sset;
	if (ioctl(fd, SIOCETHTOOL, &ifr) || !sset->sset_mask)
		goto out;
	n = sset->data[0];
	strs = calloc(1, sizeof(*strs) + (size_t)n * ETH_GSTRING_LEN);
	st = calloc(1, sizeof(*st) + (size_t)n * sizeof(uint64_t));
	if (!strs || !st)
		goto out;
	strs->cmd = ETHTOOL_GSTRINGS;
	strs->string_set = ETH_SS_STATS;
	strs->len = n;
	ifr.ifr_data = (void *)strs;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		goto out;
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	ifr.ifr_data = (void *)st;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		const char *name = (const char *)strs->data + (size_t)i * ETH_GSTRING_LEN;
		size_t l = strnlen(name, ETH_GSTRING_LEN);

		/* veth: tx_queue_N_xdp_xmit and tx_queue_N_xdp_xmit_errors */
		if (strncmp(name, "tx_queue_", 9))
			continue;
		if (ends_with(name, l, "_xdp_xmit_errors")) {
			s->errors += st->data[i];
			s->ok = true;
		} else if (ends_with(name, l, "_xdp_xmit")) {
			s->xmit += st->data[i];
			s->ok = true;
		}
	}
out:
	free(sset);
	free(strs);
	free(st);
	close(fd);
}

/* ---- sending */

static volatile sig_atomic_t stop;
static volatile bool done;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct watcher {
	pthread_t main;
	const struct opts *o;
	const volatile __u64 *sent;
	double t0;
};

/*
 * A paced or timed run is one long test-run call; it ends when the kernel
 * sees a signal pending between batches. Keep signalling until the main
 * thread is out of the call: a signal that lands before it is lost.
 */
static void *watch(void *arg)
{
	struct watcher *w = arg;
	const struct timespec tick = { .tv_nsec = 200000 };

	while (!done) {
		if (stop || (w->o->count && *w->sent >= w->o->count) ||
		    (w->o->duration && now_s() - w->t0 >= w->o->duration))
			pthread_kill(w->main, SIGUSR1);
		nanosleep(&tick, NULL);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint8_t frame[FRAME_MAX];
	struct xmit_stats before, after;
	struct xvip_pktgen *skel = NULL;
	struct sigaction sa = {};
	struct watcher w;
	pthread_t wt;
	struct opts o;
	uint64_t sent = 0, rate_n;
	double t0, t1, secs;
	bool timed;
	int fd, ret;

	ret = parse_opts(argc, argv, &o);
	if (ret)
		return ret > 0 ? 0 : 2;
	if (!o.size_set && o.size < hdr_len(&o))
		o.size = hdr_len(&o);	/* IPv6: 62 or 74 bytes at least */
	if (o.size < hdr_len(&o)) {
		fprintf(stderr, "xvip-pktgen: --size %u is shorter than the %u-byte header\n",
			o.size, hdr_len(&o));
		return 2;
	}
	xvip_log_init(XVIP_LOG_WARN);
	xvip_log_route_libs();
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			fprintf(stderr, "xvip-pktgen: pin to CPU %d: %s\n", o.cpu, strerror(errno));
			return 1;
		}
	}
	build_frame(&o, frame, o.size);

	skel = xvip_pktgen__open();
	if (!skel) {
		fprintf(stderr, "xvip-pktgen: open BPF object: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->cfg_ifindex = (uint32_t)o.ifindex;
	skel->rodata->cfg_flows = o.flows;
	skel->rodata->cfg_addrs = o.addrs;
	skel->rodata->cfg_hdr_len = hdr_len(&o);
	skel->rodata->cfg_ipv6 = o.ipv6;
	skel->rodata->cfg_proto = o.proto;
	skel->rodata->cfg_count = o.count;
	skel->rodata->cfg_gap_fp = o.rate ? (uint64_t)(256e9 / o.rate) : 0;
	memcpy(skel->bss->tmpl, frame, hdr_len(&o));
	ret = xvip_pktgen__load(skel);
	if (ret) {
		fprintf(stderr, "xvip-pktgen: load BPF program: %s (%d)\n", strerror(-ret), ret);
		goto out;
	}
	fd = bpf_program__fd(skel->progs.xvip_pktgen);
	sa.sa_handler = on_signal;	/* no SA_RESTART: the test run must return */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	stop = 0;
	read_xmit_stats(o.iface, &before);

	timed = o.rate || o.duration;
	t0 = now_s();
	if (timed) {
		w = (struct watcher){ .main = pthread_self(), .o = &o, .sent = &skel->bss->sent,
				      .t0 = t0 };
		ret = pthread_create(&wt, NULL, watch, &w);
		if (ret) {
			fprintf(stderr, "xvip-pktgen: start the watcher: %s\n", strerror(ret));
			goto out;
		}
	}
	while (!stop) {
		uint64_t left = o.count ? o.count - skel->bss->sent : UINT32_MAX;
		LIBBPF_OPTS(bpf_test_run_opts, ro, .data_in = frame, .data_size_in = o.size,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = o.batch);

		if (o.count && skel->bss->sent >= o.count)
			break;
		/* Unpaced, a run is a frame; paced, most runs wait: let the watcher stop it. */
		ro.repeat = timed || left > UINT32_MAX ? UINT32_MAX : (uint32_t)left;
		ret = bpf_prog_test_run_opts(fd, &ro);
		if (ret && errno == EINTR) {
			ret = 0;
			break;
		}
		if (ret) {
			ret = -errno;
			fprintf(stderr, "xvip-pktgen: test run with live frames: %s (%d)%s\n",
				strerror(-ret), ret,
				ret == -EINVAL ? " (kernel without BPF_F_TEST_XDP_LIVE_FRAMES?)" : "");
			break;
		}
	}
	done = true;
	if (timed)
		pthread_join(wt, NULL);
	if (ret)
		goto out;
	sent = skel->bss->sent;
	if (o.count && sent > o.count)
		sent = o.count;	/* runs past the count drop their frame unsent */
	t1 = now_s();
	read_xmit_stats(o.iface, &after);
	/* The program's own stamps when there are some; else the wall clock. */
	secs = t1 - t0;
	rate_n = sent;
	if (skel->bss->stamp_n && skel->bss->stamp_ns > skel->bss->first_ns) {
		secs = (double)(skel->bss->stamp_ns - skel->bss->first_ns) / 1e9;
		rate_n = skel->bss->stamp_n;
	}

	if (o.json) {
		printf("{\"iface\": \"%s\", \"proto\": \"%s\", \"family\": \"%s\", "
		       "\"frame_bytes\": %u, \"flows\": %u, \"src_addrs\": %u, \"batch\": %u, "
		       "\"cpu\": %d, \"rate_target\": %.0f, \"sent\": %llu, "
		       "\"seconds\": %.6f, \"wall_seconds\": %.6f, \"mpps\": %.4f",
		       o.iface, o.proto == IPPROTO_TCP ? "tcp" : "udp", o.ipv6 ? "ipv6" : "ipv4",
		       o.size, o.flows, o.addrs, o.batch, o.cpu, o.rate,
		       (unsigned long long)sent, (double)sent * secs / (double)rate_n, t1 - t0,
		       secs > 0 ? (double)rate_n / secs / 1e6 : 0);
		if (before.ok && after.ok)
			printf(", \"dev_xdp_xmit\": %llu, \"dev_xdp_xmit_errors\": %llu",
			       (unsigned long long)(after.xmit - before.xmit),
			       (unsigned long long)(after.errors - before.errors));
		printf("}\n");
	} else {
		printf("xvip-pktgen: %llu frames (%s over %s, %u bytes, %u flows) out of %s in "
		       "%.4f s: %.3f Mpps\n", (unsigned long long)sent,
		       o.proto == IPPROTO_TCP ? "tcp" : "udp", o.ipv6 ? "IPv6" : "IPv4", o.size,
		       o.flows, o.iface, (double)sent * secs / (double)rate_n,
		       secs > 0 ? (double)rate_n / secs / 1e6 : 0);
		if (before.ok && after.ok)
			printf("xvip-pktgen: %s took %llu, refused %llu (peer ring full)\n",
			       o.iface, (unsigned long long)(after.xmit - before.xmit),
			       (unsigned long long)(after.errors - before.errors));
	}
	ret = 0;
out:
	xvip_pktgen__destroy(skel);
	return ret ? 1 : 0;
}
