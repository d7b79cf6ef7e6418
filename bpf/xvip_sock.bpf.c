// SPDX-License-Identifier: GPL-2.0
/*
 * Node-to-VIP: cgroup socket hooks, so processes on the node itself reach a
 * VIP's endpoints. A connect (TCP, UDP, SCTP) or an unconnected UDP sendmsg
 * to VIP:port/proto gets its destination rewritten to an endpoint before any
 * packet exists; recvmsg and getpeername turn the endpoint back into the
 * VIP, so the application only ever sees the VIP. A VIP port no Service
 * serves is refused (EPERM): the VIP sits on lo, and without this a host
 * socket bound to 0.0.0.0 would answer for it.
 *
 * cgroup hooks act on every process of the cgroup, whatever its network
 * namespace, and xvipd attaches them to the root: each program first checks
 * that the socket lives in xvipd's own network namespace (its cookie is set
 * by the loader) and leaves every other socket alone.
 */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/lb.h"

/* bpf_get_netns_cookie() of the namespace xvipd runs in; 0 matches no socket. */
const volatile __u64 xvip_netns_cookie = 0;

#define SOCK_REFUSE	0	/* connect/sendmsg fail with EPERM */
#define SOCK_ALLOW	1

XVIP_INLINE bool sock_ours(struct bpf_sock_addr *ctx)
{
	return bpf_get_netns_cookie(ctx) == xvip_netns_cookie;
}

/*
 * Remember which VIP:port this socket asked for when it reaches this
 * endpoint. The LRU refreshes an entry on lookup, so a socket that keeps
 * sending does not rewrite it every datagram.
 */
XVIP_INLINE void sock_remember(__u64 cookie, const struct xvip_addr *vip, __be16 vport,
			       const struct xvip_lb_result *res)
{
	struct xvip_sock_key k = { .cookie = cookie, .addr = res->be->addr,
				   .port = res->be->port };
	struct xvip_rnat_val rv = { .vip = *vip, .vport = vport, .svc_id = res->svc_id };
	struct xvip_rnat_val *cur;

	cur = bpf_map_lookup_elem(&xvip_sock_rev, &k);
	if (cur && addr_eq(&cur->vip, vip) && cur->vport == vport)
		return;
	if (bpf_map_update_elem(&xvip_sock_rev, &k, &rv, BPF_ANY))
		xvip_count(&xvip_stats, XVIP_STAT_SOCK_REV_FAIL, 0);
}

/*
 * The new-flow pick for a socket. The packet hooks hash the 5-tuple; here
 * the source port is not chosen yet (connect) or not known to the hook, and
 * the source address waits for routing. The flow identity is instead the
 * socket cookie, unique per socket while the machine runs, with the
 * VIP:port/proto: connects spread over the endpoints as random picks would,
 * and every datagram an unconnected UDP socket sends to one VIP:port goes to
 * the same endpoint while the Maglev table stands, so a request/response
 * protocol keeps one peer (a bpf_get_prandom_u32() per call would scatter
 * them). Session affinity sees the node as one client, address ::.
 * loadBalancerSourceRanges does not apply: it keeps outside clients off a
 * VIP, and the node reaches its pods directly anyway.
 *
 * Returns `stat` with the destination rewritten to the endpoint, XVIP_STAT_PASS
 * for a destination that is not a VIP, or a negative drop reason.
 */
XVIP_INLINE int sock_balance(void *ctx, struct xvip_addr *dst, __be16 *dport, __u32 proto,
			     int stat)
{
	struct xvip_lb_result res = {};
	struct xvip_svc_key skey = {};
	struct xvip_svc_val *svc;
	struct xvip_flow flow = {};
	__u64 cookie;

	if (!bpf_map_lookup_elem(&xvip_vip, dst))
		return XVIP_STAT_PASS;
	/* ICMP (ping sockets) to a VIP is answered by the node, as in XDP. */
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP && proto != IPPROTO_SCTP)
		return XVIP_STAT_PASS;

	skey.vip = *dst;
	skey.port = *dport;
	skey.proto = (__u8)proto;
	svc = bpf_map_lookup_elem(&xvip_svc, &skey);
	if (!svc)
		return -XVIP_DROP_SOCK_UNSERVED;

	cookie = bpf_get_socket_cookie(ctx);
	flow.saddr.a[0] = (__u32)(cookie >> 32);
	flow.saddr.a[1] = (__u32)cookie;
	flow.daddr = *dst;
	flow.dport = *dport;
	flow.proto = (__u8)proto;
	if (!lb_init(&res, &flow) || lb_maglev(svc->id, res.hash, &res) < 0)
		return -XVIP_DROP_SOCK_NO_BACKEND;
	if (svc->flags & XVIP_SVC_F_AFFINITY) {
		__builtin_memset(&flow.saddr, 0, sizeof(flow.saddr));
		lb_affinity(&flow, svc, &res, res.now);
	}
	/* An IPv4 socket cannot be sent to an IPv6 endpoint, nor the reverse. */
	if (addr_is_v4(&res.be->addr) != addr_is_v4(dst))
		return -XVIP_DROP_SOCK_FAMILY;

	sock_remember(cookie, dst, *dport, &res);
	*dst = res.be->addr;
	*dport = res.be->port;
	return stat;
}

/* The one exit of every forward hook: count, and refuse on a drop. */
XVIP_INLINE int sock_verdict(int ret)
{
	if (ret < 0) {
		xvip_count(&xvip_stats, -ret, 0);
		return SOCK_REFUSE;
	}
	if (ret != XVIP_STAT_PASS)
		xvip_count(&xvip_stats, ret, 0);
	return SOCK_ALLOW;
}

XVIP_INLINE int sock_fwd4(struct bpf_sock_addr *ctx, int stat)
{
	struct xvip_addr dst;
	__be16 port;
	int ret;

	if (!sock_ours(ctx))
		return SOCK_ALLOW;
	addr_set_v4(&dst, ctx->user_ip4);
	port = (__be16)ctx->user_port;
	ret = sock_balance(ctx, &dst, &port, ctx->protocol, stat);
	if (ret == stat) {
		ctx->user_ip4 = dst.a[3];
		ctx->user_port = port;
	}
	return sock_verdict(ret);
}

/* IPv4-mapped destinations of dual-stack sockets match IPv4 VIPs as stored. */
XVIP_INLINE int sock_fwd6(struct bpf_sock_addr *ctx, int stat)
{
	struct xvip_addr dst;
	__be16 port;
	int ret;

	if (!sock_ours(ctx))
		return SOCK_ALLOW;
	dst.a[0] = ctx->user_ip6[0];
	dst.a[1] = ctx->user_ip6[1];
	dst.a[2] = ctx->user_ip6[2];
	dst.a[3] = ctx->user_ip6[3];
	port = (__be16)ctx->user_port;
	ret = sock_balance(ctx, &dst, &port, ctx->protocol, stat);
	if (ret == stat) {
		ctx->user_ip6[0] = dst.a[0];
		ctx->user_ip6[1] = dst.a[1];
		ctx->user_ip6[2] = dst.a[2];
		ctx->user_ip6[3] = dst.a[3];
		ctx->user_port = port;
	}
	return sock_verdict(ret);
}

/* The endpoint a node socket talks to, shown as the VIP it asked for. */
XVIP_INLINE const struct xvip_rnat_val *sock_rev_lookup(struct bpf_sock_addr *ctx,
							 const struct xvip_addr *peer,
							 __be16 port)
{
	struct xvip_sock_key k = { .cookie = bpf_get_socket_cookie(ctx), .addr = *peer,
				   .port = port };

	return bpf_map_lookup_elem(&xvip_sock_rev, &k);
}

/* recvmsg and getpeername cannot refuse: they always return SOCK_ALLOW. */
XVIP_INLINE int sock_rev4(struct bpf_sock_addr *ctx)
{
	const struct xvip_rnat_val *rv;
	struct xvip_addr peer;

	if (!sock_ours(ctx))
		return SOCK_ALLOW;
	addr_set_v4(&peer, ctx->user_ip4);
	rv = sock_rev_lookup(ctx, &peer, (__be16)ctx->user_port);
	if (!rv)
		return SOCK_ALLOW;
	ctx->user_ip4 = rv->vip.a[3];
	ctx->user_port = rv->vport;
	xvip_count(&xvip_stats, XVIP_STAT_SOCK_REVERSE, 0);
	return SOCK_ALLOW;
}

XVIP_INLINE int sock_rev6(struct bpf_sock_addr *ctx)
{
	const struct xvip_rnat_val *rv;
	struct xvip_addr peer;

	if (!sock_ours(ctx))
		return SOCK_ALLOW;
	peer.a[0] = ctx->user_ip6[0];
	peer.a[1] = ctx->user_ip6[1];
	peer.a[2] = ctx->user_ip6[2];
	peer.a[3] = ctx->user_ip6[3];
	rv = sock_rev_lookup(ctx, &peer, (__be16)ctx->user_port);
	if (!rv)
		return SOCK_ALLOW;
	ctx->user_ip6[0] = rv->vip.a[0];
	ctx->user_ip6[1] = rv->vip.a[1];
	ctx->user_ip6[2] = rv->vip.a[2];
	ctx->user_ip6[3] = rv->vip.a[3];
	ctx->user_port = rv->vport;
	xvip_count(&xvip_stats, XVIP_STAT_SOCK_REVERSE, 0);
	return SOCK_ALLOW;
}

SEC("cgroup/connect4")
int xvip_sock_connect4(struct bpf_sock_addr *ctx)
{
	return sock_fwd4(ctx, XVIP_STAT_SOCK_CONNECT);
}

SEC("cgroup/connect6")
int xvip_sock_connect6(struct bpf_sock_addr *ctx)
{
	return sock_fwd6(ctx, XVIP_STAT_SOCK_CONNECT);
}

SEC("cgroup/sendmsg4")
int xvip_sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_fwd4(ctx, XVIP_STAT_SOCK_SENDMSG);
}

SEC("cgroup/sendmsg6")
int xvip_sock_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_fwd6(ctx, XVIP_STAT_SOCK_SENDMSG);
}

SEC("cgroup/recvmsg4")
int xvip_sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock_rev4(ctx);
}

SEC("cgroup/recvmsg6")
int xvip_sock_recvmsg6(struct bpf_sock_addr *ctx)
{
	return sock_rev6(ctx);
}

SEC("cgroup/getpeername4")
int xvip_sock_getpeername4(struct bpf_sock_addr *ctx)
{
	return sock_rev4(ctx);
}

SEC("cgroup/getpeername6")
int xvip_sock_getpeername6(struct bpf_sock_addr *ctx)
{
	return sock_rev6(ctx);
}

char LICENSE[] SEC("license") = "GPL";
