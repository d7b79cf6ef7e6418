// SPDX-License-Identifier: GPL-2.0
/*
 * Reference programs for `make bench`, never attached by xvipd:
 *  - xvip_bench_nop:   returns XDP_PASS; its test-run time is the fixed
 *                      overhead subtracted from every per-packet figure.
 *  - xvip_bench_floor: parses the headers with the dataplane's own parsers
 *                      (Ethernet, IPv4/IPv6, ports) and passes: the least an
 *                      XDP load balancer can cost.
 *  - xvip_bench_sink:  counts TCP/UDP over IPv4 and drops everything; attached
 *                      on the pod side of the throughput topology to count
 *                      what arrives.
 *  - xvip_bench_redirect: redirects every frame to cfg_redirect_ifindex: the
 *                      ceiling of an XDP_REDIRECT design on the same path.
 *  - xvip_bench_part_*: one building block of the hot path each (a clock
 *                      read, the flow hash, a conntrack-shaped LRU insert or
 *                      lookup), to break the per-packet cost down. They leave
 *                      the packet alone, so a repeat = R run measures R of them.
 */
#include "lib/common.h"
#include "lib/parse.h"

/* Resized by the benchmark before load to the conntrack size it compares with. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, struct xvip_flow);
	__type(value, struct xvip_ct_val);
} bench_lru SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct xvip_flow);
	__type(value, struct xvip_ct_val);
} bench_lru_pcpu SEC(".maps");

/* A plain preallocated hash of the same shape: what an insert costs without the LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct xvip_flow);
	__type(value, struct xvip_ct_val);
} bench_hash SEC(".maps");

__u64 part_seq;

const volatile __u32 cfg_redirect_ifindex;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xvip_counter);
} bench_sink_count SEC(".maps");

SEC("xdp")
int xvip_bench_nop(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int xvip_bench_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	struct xvip_pkt p = {};
	__be16 h_proto;
	int l4;

	if (parse_eth(&c, &h_proto))
		return XDP_PASS;
	if (h_proto == bpf_htons(ETH_P_IP))
		l4 = parse_ipv4(&c, data, &p);
	else if (h_proto == bpf_htons(ETH_P_IPV6))
		l4 = parse_ipv6(&c, data, &p);
	else
		return XDP_PASS;
	if (l4 >= 0)
		parse_ports(&c, &p);
	/* Keep the parsed flow: without a use the compiler drops the loads. */
	asm volatile("" : : "r"(&p) : "memory");
	return XDP_PASS;
}

/* Counts TCP and UDP over IPv4 (what the benchmark sends), not the links' own chatter. */
SEC("xdp")
int xvip_bench_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u32 key = 0;
	struct xvip_counter *c;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP))
		return XDP_DROP;
	c = bpf_map_lookup_elem(&bench_sink_count, &key);
	if (c) {
		c->packets++;
		c->bytes += ctx->data_end - ctx->data;
	}
	return XDP_DROP;
}

SEC("xdp")
int xvip_bench_redirect(struct xdp_md *ctx)
{
	return bpf_redirect(cfg_redirect_ifindex, 0);
}

SEC("xdp")
int xvip_bench_part_ktime(struct xdp_md *ctx)
{
	__u64 t = bpf_ktime_get_ns();

	asm volatile("" : : "r"(t));
	return XDP_PASS;
}

SEC("xdp")
int xvip_bench_part_ktime_coarse(struct xdp_md *ctx)
{
	__u64 t = bpf_ktime_get_coarse_ns();

	asm volatile("" : : "r"(t));
	return XDP_PASS;
}

SEC("xdp")
int xvip_bench_part_jiffies(struct xdp_md *ctx)
{
	__u64 t = bpf_jiffies64();

	asm volatile("" : : "r"(t));
	return XDP_PASS;
}

/* A client -> VIP key that differs every run: the n-th new flow. */
XVIP_INLINE void part_flow(struct xvip_flow *f, __u64 n)
{
	__builtin_memset(f, 0, sizeof(*f));
	addr_set_v4(&f->saddr, bpf_htonl(0xc6124000 + (__u32)(n >> 10)));	/* 198.18.64.0/18 */
	addr_set_v4(&f->daddr, bpf_htonl(0xc6121501));				/* 198.18.21.1 */
	f->sport = bpf_htons((__u16)(30000 + (n & 1023)));
	f->dport = bpf_htons(80);
	f->proto = IPPROTO_TCP;
}

SEC("xdp")
int xvip_bench_part_hash(struct xdp_md *ctx)
{
	struct xvip_flow f;
	__u32 h;

	part_flow(&f, part_seq++);
	h = xvip_flow_hash(&f, XVIP_FLOW_SEED);
	asm volatile("" : : "r"(h));
	return XDP_PASS;
}

XVIP_INLINE int part_insert(void *map)
{
	struct xvip_ct_val v = { .backend_id = 1, .svc_id = 1 };
	struct xvip_flow f;

	part_flow(&f, part_seq++);
	bpf_map_update_elem(map, &f, &v, BPF_ANY);
	return XDP_PASS;
}

SEC("xdp")
int xvip_bench_part_lru_insert(struct xdp_md *ctx)
{
	return part_insert(&bench_lru);
}

SEC("xdp")
int xvip_bench_part_lru_pcpu_insert(struct xdp_md *ctx)
{
	return part_insert(&bench_lru_pcpu);
}

SEC("xdp")
int xvip_bench_part_hash_insert(struct xdp_md *ctx)
{
	return part_insert(&bench_hash);
}

/* A hit on the flow inserted last (run it after an insert). */
SEC("xdp")
int xvip_bench_part_lru_lookup(struct xdp_md *ctx)
{
	struct xvip_ct_val *v;
	struct xvip_flow f;

	part_flow(&f, part_seq - 1);
	v = bpf_map_lookup_elem(&bench_lru, &f);
	asm volatile("" : : "r"(v));
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
