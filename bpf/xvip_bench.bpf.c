// SPDX-License-Identifier: GPL-2.0
/*
 * Reference programs for `make bench`, never attached by xvipd:
 *  - xvip_bench_nop:   returns XDP_PASS; its test-run time is the fixed
 *                      overhead subtracted from every per-packet figure.
 *  - xvip_bench_floor: parses the headers with the dataplane's own parsers
 *                      (Ethernet, IPv4/IPv6, ports) and passes: the least an
 *                      XDP load balancer can cost.
 *  - xvip_bench_sink:  counts and drops; attached on the pod side of the
 *                      throughput topology to count what arrives.
 *  - xvip_bench_redirect: redirects every frame to cfg_redirect_ifindex: the
 *                      ceiling of an XDP_REDIRECT design on the same path.
 */
#include "lib/common.h"
#include "lib/parse.h"

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

SEC("xdp")
int xvip_bench_sink(struct xdp_md *ctx)
{
	__u32 key = 0;
	struct xvip_counter *c = bpf_map_lookup_elem(&bench_sink_count, &key);

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

char LICENSE[] SEC("license") = "GPL";
