// SPDX-License-Identifier: GPL-2.0
/* An XDP program that is not xvipd's: the fail-closed tests attach it in xvipd's place. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
