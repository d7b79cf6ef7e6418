// SPDX-License-Identifier: GPL-2.0
/*
 * tc ingress on the node side of each pod's interface: a reply from an
 * endpoint to a client whose flow XDP balanced gets its source rewritten
 * back to VIP:port, and is sent straight to the output device the FIB names
 * (see lib/fwd.h for why not through the stack). Checksums go through
 * bpf_l3/l4_csum_replace, which keep CHECKSUM_PARTIAL packets from local
 * sockets right.
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/lb.h"
#include "lib/fwd.h"

XVIP_INLINE int rnat_v4(struct __sk_buff *skb, const struct xvip_pkt *p,
			const struct xvip_rnat_val *rv)
{
	__be32 old_saddr = p->flow.saddr.a[3], new_saddr = rv->vip.a[3];
	__u32 l4sum = p->l4_off + p->l4_csum_off;
	__u64 mangled0 = p->flow.proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (p->flow.proto != IPPROTO_SCTP) {
		if (bpf_l4_csum_replace(skb, l4sum, old_saddr, new_saddr,
					BPF_F_PSEUDO_HDR | mangled0 | sizeof(new_saddr)))
			return -XVIP_DROP_TRUNCATED;
		if (bpf_l4_csum_replace(skb, l4sum, p->flow.sport, rv->vport,
					mangled0 | sizeof(rv->vport)))
			return -XVIP_DROP_TRUNCATED;
	} else if (p->flow.sport != rv->vport) {
		return -XVIP_DROP_SCTP_PORT;
	}
	if (bpf_skb_store_bytes(skb, p->l4_off, &rv->vport, sizeof(rv->vport), 0))
		return -XVIP_DROP_TRUNCATED;
	if (bpf_l3_csum_replace(skb, p->l3_off + offsetof(struct iphdr, check), old_saddr,
				new_saddr, sizeof(new_saddr)))
		return -XVIP_DROP_TRUNCATED;
	if (bpf_skb_store_bytes(skb, p->l3_off + offsetof(struct iphdr, saddr), &new_saddr,
				sizeof(new_saddr), 0))
		return -XVIP_DROP_TRUNCATED;
	return XVIP_STAT_RNAT;
}

XVIP_INLINE int rnat_v6(struct __sk_buff *skb, const struct xvip_pkt *p,
			const struct xvip_rnat_val *rv)
{
	__u32 l4sum = p->l4_off + p->l4_csum_off;
	__s64 diff;

	if (p->flow.proto != IPPROTO_SCTP) {
		diff = bpf_csum_diff((__be32 *)&p->flow.saddr, sizeof(p->flow.saddr),
				     (__be32 *)&rv->vip, sizeof(rv->vip), 0);
		if (diff < 0 || bpf_l4_csum_replace(skb, l4sum, 0, (__u32)diff, BPF_F_PSEUDO_HDR))
			return -XVIP_DROP_TRUNCATED;
		if (bpf_l4_csum_replace(skb, l4sum, p->flow.sport, rv->vport,
					sizeof(rv->vport)))
			return -XVIP_DROP_TRUNCATED;
	} else if (p->flow.sport != rv->vport) {
		return -XVIP_DROP_SCTP_PORT;
	}
	if (bpf_skb_store_bytes(skb, p->l4_off, &rv->vport, sizeof(rv->vport), 0))
		return -XVIP_DROP_TRUNCATED;
	if (bpf_skb_store_bytes(skb, p->l3_off + offsetof(struct ipv6hdr, saddr), &rv->vip,
				sizeof(rv->vip), 0))
		return -XVIP_DROP_TRUNCATED;
	return XVIP_STAT_RNAT;
}

/*
 * Returns XVIP_STAT_RNAT when translated (and *action how to send it),
 * XVIP_STAT_PASS when not ours, or a drop.
 */
XVIP_INLINE int process(struct __sk_buff *skb, int *action)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	struct xvip_rnat_val *rv;
	struct xvip_addr vip;
	struct xvip_pkt p = {};
	__be16 h_proto;
	int l4, ret;

	if (parse_eth(&c, &h_proto))
		return XVIP_STAT_PASS;
	if (h_proto == bpf_htons(ETH_P_IP))
		l4 = parse_ipv4(&c, data, &p);
	else if (h_proto == bpf_htons(ETH_P_IPV6))
		l4 = parse_ipv6(&c, data, &p);
	else
		return XVIP_STAT_PASS;
	if (l4 < 0 || p.frag)
		return XVIP_STAT_PASS;
	if (l4 != IPPROTO_TCP && l4 != IPPROTO_UDP && l4 != IPPROTO_SCTP)
		return XVIP_STAT_PASS;
	if (parse_ports(&c, &p))
		return XVIP_STAT_PASS;

	rv = bpf_map_lookup_elem(&xvip_rnat, &p.flow);
	if (!rv)
		return XVIP_STAT_PASS;
	vip = rv->vip;
	ret = p.ipv6 ? rnat_v6(skb, &p, rv) : rnat_v4(skb, &p, rv);
	if (ret == XVIP_STAT_RNAT)
		*action = fwd_redirect(skb, &p, &vip, &p.flow.daddr);
	return ret;
}

SEC("tc")
int xvip_tc_reply(struct __sk_buff *skb)
{
	int action = TC_ACT_OK;
	int ret = process(skb, &action);

	/* Replies that are not ours are the common case here: leave them uncounted. */
	if (ret == XVIP_STAT_PASS)
		return TC_ACT_OK;
	if (ret < 0) {
		xvip_count(&xvip_stats, -ret, skb->len);
		return TC_ACT_SHOT;
	}
	xvip_count(&xvip_stats, ret, skb->len);
	return action;
}

char LICENSE[] SEC("license") = "GPL";
