// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * rtnetlink for xvipd: VIP addresses on lo and route lookups, through libmnl.
 *
 * Every request carries NLM_F_ACK (or is a dump), so every exchange ends with
 * exactly one NLMSG_ERROR or NLMSG_DONE. The receive loop always reads up to
 * that message, even after an error, so no reply is ever left on the socket
 * for the next request to trip over.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/version.h>

#include "log.h"
#include "maps.h"
#include "nl.h"

/* IFA_PROTO is ABI since kernel 6.1; older uapi headers just lack the name. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 1, 0)
#define IFA_PROTO	11
#define NL_IFA_MAX	IFA_PROTO
#else
#define NL_IFA_MAX	IFA_MAX
#endif

/*
 * The kernel sizes dump skbs after the largest buffer recvmsg() was given,
 * up to 32 KiB: a buffer that large takes a full dump skb in one call.
 */
#define NL_BUFSZ		32768
#define NL_REQSZ		512	/* largest request: ifaddrmsg and five attributes */
/* A lost reply must not wedge the reconcile loop; the kernel answers in microseconds. */
#define NL_RECV_TIMEOUT_S	5
/* An address dump racing with changes is redone, but not forever. */
#define NL_DUMP_TRIES		4

/*
 * Kernels before 6.1 accept IFA_PROTO on an add and silently drop it, and
 * their dumps never carry it. IPv4 VIPs still carry the label lo:xvip, but
 * IPv6 addresses have no label, so there xvipd keeps its own record of the
 * IPv6 VIPs it added: a hash map pinned under the pin dir (XVIP_MAP_LO6).
 * Chosen over a marker on the address itself: the one the kernel keeps on
 * an IPv6 address without side effects would be IFA_RT_PRIORITY (4.18), but
 * FRR's zebra takes it as the connected route's metric and bgpd sends that as
 * the MED of every redistributed VIP. The record lives exactly as long as
 * what it describes: both survive xvipd's restarts and go at a reboot, and
 * --cleanup reads it before it removes the pins. An address counts as
 * xvipd's only if it is recorded and carries the flags xvipd adds with
 * (nodad, noprefixroute), so a stale entry does not claim an operator's
 * address added by hand.
 */
static struct {
	int proto;	 /* the kernel keeps IFA_PROTO: 1, 0; -1: not asked yet */
	bool forced_off; /* tests: behave as a kernel without it */
	int record;	 /* XVIP_MAP_LO6's fd, or -1 */
} nl_kern = { .proto = -1, .record = -1 };

#define LO6_FLAGS (IFA_F_NODAD | IFA_F_NOPREFIXROUTE)

struct xvip_nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	unsigned int lo_ifindex;
	char errmsg[128];	/* extended ACK message of the last failed request */
	char buf[NL_BUFSZ];
};

/* Data callbacks return 0 or -errno; the first error is kept, the exchange read to its end. */
typedef int (*nl_msg_fn)(const struct nlmsghdr *nlh, void *data);

struct nl_ctx {
	struct xvip_nl *nl;
	nl_msg_fn fn;
	void *data;
	int err;		/* from NLMSG_ERROR or NLMSG_DONE */
	int cb_err;		/* from fn */
	bool done;
	bool intr;		/* the dump was inconsistent (NLM_F_DUMP_INTR) */
};

/* One address on lo (or any interface: addr_dump), as a dump reports it. */
struct lo_entry {
	struct xvip_addr addr;
	unsigned char family;
	unsigned char plen;
	bool marked;
	bool has_proto; /* the kernel reported an IFA_PROTO */
	char label[IFNAMSIZ];
};

struct lo_dump {
	unsigned int ifindex;	/* 0: every interface */
	unsigned int lo_ifindex; /* only addresses on lo can be xvipd's */
	struct lo_entry *v;
	size_t n, cap;
};

/* Use the record: a kernel that does not keep IFA_PROTO (or not known yet). */
static bool lo6_record_on(void)
{
	return nl_kern.record >= 0 && nl_kern.proto != 1;
}

/*
 * Before an IPv6 VIP is added: record it, so that a crash right after the
 * add leaves it recorded. *was says whether it already was (ours from an
 * earlier add); lo6_settle() undoes the record when the add did not make
 * the address ours. A VIP that cannot be recorded is not added: xvipd could
 * never withdraw it.
 */
static int lo6_claim(const struct xvip_addr *a, bool *claimed, bool *was)
{
	char s[XVIP_ADDRSTRLEN];
	int ret;

	*claimed = *was = false;
	if (xvip_addr_is_v4(a) || !lo6_record_on())
		return 0;
	*was = xvip_maps_lo6_has(nl_kern.record, a) == 1;
	ret = *was ? 0 : xvip_maps_lo6_put(nl_kern.record, a);
	*claimed = !ret;
	if (ret)
		log_err("record IPv6 VIP %s in %s: %s (%d); not adding it",
			xvip_addr_str(a, s, sizeof(s)), XVIP_MAP_LO6, strerror(-ret), ret);
	return ret;
}

/* err: the add's outcome; -EEXIST on an address not recorded before is someone else's. */
static void lo6_settle(const struct xvip_addr *a, bool claimed, bool was, int err)
{
	if (claimed && err && !was)
		xvip_maps_lo6_del(nl_kern.record, a);
}

static void lo6_forget(const struct xvip_addr *a)
{
	if (!xvip_addr_is_v4(a) && lo6_record_on())
		xvip_maps_lo6_del(nl_kern.record, a);
}

void xvip_nl_set_lo6_record(int fd)
{
	nl_kern.record = fd;
}

void xvip_nl_force_no_ifa_proto(bool on)
{
	nl_kern.forced_off = on;
	nl_kern.proto = on ? 0 : -1;
}

static const char *nl_errmsg_sep(const struct xvip_nl *nl)
{
	return nl->errmsg[0] ? ": " : "";
}

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, NLMSGERR_ATTR_MAX) < 0)
		return MNL_CB_OK;
	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_ERROR;
	tb[mnl_attr_get_type(attr)] = attr;
	return MNL_CB_OK;
}

/* Keep the kernel's extended ACK text: it often says which attribute it disliked. */
static void nl_save_extack(struct xvip_nl *nl, const struct nlmsghdr *nlh, size_t off)
{
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = {};

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || off > mnl_nlmsg_get_payload_len(nlh))
		return;
	if (mnl_attr_parse(nlh, off, extack_attr_cb, tb) == MNL_CB_ERROR)
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(nl->errmsg, sizeof(nl->errmsg), "%s",
			 mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]));
}

static int nl_error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct nl_ctx *ctx = data;
	size_t off = sizeof(*e);

	ctx->done = true;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e)) {
		ctx->err = -EBADMSG;
		return MNL_CB_STOP;
	}
	/* error is 0 for an ACK, -errno otherwise; never trust a positive one. */
	ctx->err = e->error > 0 ? -e->error : e->error;
	if (!ctx->err)
		return MNL_CB_STOP;
	/* Without NETLINK_CAP_ACK the failed request is echoed before the TLVs. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	nl_save_extack(ctx->nl, nlh, off);
	return MNL_CB_STOP;
}

/* A dump that failed part way ends with NLMSG_DONE carrying -errno. */
static int nl_done_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_ctx *ctx = data;
	int err;

	ctx->done = true;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(err))
		return MNL_CB_STOP;
	memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (err < 0) {
		ctx->err = err;
		nl_save_extack(ctx->nl, nlh, sizeof(err));
	}
	return MNL_CB_STOP;
}

static int nl_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_ctx *ctx = data;
	int err;

	if (!ctx->fn)
		return MNL_CB_OK;
	err = ctx->fn(nlh, ctx->data);
	if (err && !ctx->cb_err)
		ctx->cb_err = err;
	return MNL_CB_OK;
}

/*
 * Entries left NULL are skipped (NLMSG_NOOP, NLMSG_OVERRUN). Not const only
 * because mnl_cb_run2() takes a non-const array.
 */
static mnl_cb_t nl_ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_ERROR] = nl_error_cb,
	[NLMSG_DONE] = nl_done_cb,
};

/*
 * Send one request and read its replies up to the final NLMSG_ERROR or
 * NLMSG_DONE, calling fn for each data message. Returns 0 or -errno: the
 * kernel's error first, then fn's, then -EINTR for an inconsistent dump.
 */
static int nl_talk(struct xvip_nl *nl, struct nlmsghdr *req, nl_msg_fn fn, void *data)
{
	struct nl_ctx ctx = { .nl = nl, .fn = fn, .data = data };
	struct nlmsghdr *nlh;
	unsigned int seq;
	ssize_t n;
	int len, ret;

	seq = ++nl->seq;
	req->nlmsg_seq = seq;
	nl->errmsg[0] = '\0';
	if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
		return -errno;

	while (!ctx.done) {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		len = (int)n;
		/*
		 * One message at a time: libmnl stops a whole buffer at the first
		 * NLM_F_DUMP_INTR or foreign sequence number, but the rest of the
		 * dump must still be consumed, and a late reply to a request that
		 * timed out must be skipped rather than fail this one.
		 */
		for (nlh = (struct nlmsghdr *)nl->buf; mnl_nlmsg_ok(nlh, len) && !ctx.done;
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			bool intr = nlh->nlmsg_flags & NLM_F_DUMP_INTR;

			nlh->nlmsg_flags &= ~NLM_F_DUMP_INTR;
			ret = mnl_cb_run2(nlh, nlh->nlmsg_len, seq, nl->portid, nl_data_cb, &ctx,
					  nl_ctl_cbs, NLMSG_MIN_TYPE);
			if (ret == MNL_CB_ERROR) {
				/* Our callbacks never fail: this is libmnl's seq/portid check. */
				log_debug("netlink: skip message seq %u portid %u (want %u/%u)",
					  nlh->nlmsg_seq, nlh->nlmsg_pid, seq, nl->portid);
				continue;
			}
			ctx.intr |= intr;
		}
	}
	if (ctx.err)
		return ctx.err;
	if (ctx.cb_err)
		return ctx.cb_err;
	return ctx.intr ? -EINTR : 0;
}

int xvip_nl_open(struct xvip_nl **out)
{
	struct timeval tv = { .tv_sec = NL_RECV_TIMEOUT_S };
	struct xvip_nl *nl;
	int one = 1;
	int err;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->lo_ifindex = if_nametoindex("lo");
	if (!nl->lo_ifindex) {
		err = -errno;
		log_err("netlink: find lo: %s (%d)", strerror(-err), err);
		goto err_free;
	}
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock) {
		err = -errno;
		log_err("netlink: open NETLINK_ROUTE socket: %s (%d)", strerror(-err), err);
		goto err_free;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		log_err("netlink: bind NETLINK_ROUTE socket: %s (%d)", strerror(-err), err);
		goto err_close;
	}
	if (setsockopt(mnl_socket_get_fd(nl->sock), SOL_SOCKET, SO_RCVTIMEO, &tv,
		       sizeof(tv)) < 0) {
		err = -errno;
		log_err("netlink: set receive timeout: %s (%d)", strerror(-err), err);
		goto err_close;
	}
	/*
	 * Best effort, all three: extended ACKs explain errors (4.12+), capped
	 * ACKs keep error replies small, and strict checking (4.20+) lets the
	 * kernel filter address dumps by ifindex instead of sending every address.
	 */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sock, NETLINK_GET_STRICT_CHK, &one, sizeof(one));

	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned int)time(NULL);
	*out = nl;
	return 0;

err_close:
	mnl_socket_close(nl->sock);
err_free:
	free(nl);
	return err;
}

/* A non-blocking socket subscribed to groups (what: for the log). */
static int monitor_open(struct xvip_nl **out, unsigned int groups, const char *what)
{
	struct xvip_nl *nl;
	int err;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	nl->lo_ifindex = if_nametoindex("lo");
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!nl->sock) {
		err = -errno;
		goto err_free;
	}
	if (mnl_socket_bind(nl->sock, groups, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		mnl_socket_close(nl->sock);
		goto err_free;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	*out = nl;
	return 0;
err_free:
	log_err("netlink: %s monitor: %s (%d)", what, strerror(-err), err);
	free(nl);
	return err;
}

int xvip_nl_monitor_open(struct xvip_nl **out)
{
	return monitor_open(out, RTMGRP_LINK, "link");
}

int xvip_nl_addr_monitor_open(struct xvip_nl **out)
{
	return monitor_open(out, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, "address");
}

int xvip_nl_fd(const struct xvip_nl *nl)
{
	return mnl_socket_get_fd(nl->sock);
}

int xvip_nl_monitor_drain(struct xvip_nl *nl)
{
	int n = 0;

	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		const struct nlmsghdr *h = (const struct nlmsghdr *)nl->buf;
		int left = (int)len;

		if (len < 0) {
			/* ENOBUFS: notifications were lost; the caller rescans anyway. */
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return n;
			if (errno == ENOBUFS)
				return n + 1;
			return -errno;
		}
		for (; mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left))
			n++;
	}
}

static int lo_addr_cb(const struct nlmsghdr *nlh, void *data);

int xvip_nl_addr_monitor_changed(struct xvip_nl *nl)
{
	bool changed = false;

	for (;;) {
		ssize_t len = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		const struct nlmsghdr *h = (const struct nlmsghdr *)nl->buf;
		int left = (int)len;

		if (len < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return changed;
			/* ENOBUFS: notifications were lost (a full sync adds 1000s). */
			if (errno == ENOBUFS || errno == EINTR) {
				changed |= errno == ENOBUFS;
				continue;
			}
			return -errno;
		}
		for (; mnl_nlmsg_ok(h, left) && !changed; h = mnl_nlmsg_next(h, &left)) {
			struct lo_dump d = { .lo_ifindex = nl->lo_ifindex };

			if (h->nlmsg_type != RTM_NEWADDR && h->nlmsg_type != RTM_DELADDR)
				continue;
			/* Our own VIPs come and go on every apply: only other addresses count. */
			changed = lo_addr_cb(h, &d) || !d.n || !d.v[0].marked;
			free(d.v);
		}
	}
}

void xvip_nl_close(struct xvip_nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

static int lo_dump(struct xvip_nl *nl, struct lo_dump *d);

/*
 * Since 6.1 the kernel gives its own addresses on lo a protocol (127.0.0.1
 * and ::1 are IFAPROT_KERNEL_LO) and dumps it: one dump of lo tells. A lo
 * that is down has none of them: then the record is used, which is right
 * on every kernel, only slower.
 */
int xvip_nl_ifa_proto(void)
{
	struct xvip_nl *nl;
	struct lo_dump d;
	int ret;

	if (nl_kern.proto >= 0)
		return nl_kern.proto;
	ret = xvip_nl_open(&nl);
	if (ret)
		return ret;
	ret = lo_dump(nl, &d);
	xvip_nl_close(nl);
	if (ret)
		return ret;
	nl_kern.proto = 0;
	for (size_t i = 0; i < d.n; i++)
		nl_kern.proto |= d.v[i].has_proto;
	free(d.v);
	return nl_kern.proto;
}

static int addr_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);
	enum mnl_attr_data_type t;

	/* Attributes newer than these headers are none of our business. */
	if (mnl_attr_type_valid(attr, NL_IFA_MAX) < 0)
		return MNL_CB_OK;
	switch (type) {
	case IFA_ADDRESS:
	case IFA_LOCAL:
		t = MNL_TYPE_BINARY;
		break;
	case IFA_LABEL:
		t = MNL_TYPE_NUL_STRING;
		break;
	case IFA_PROTO:
		t = MNL_TYPE_U8;
		break;
	case IFA_FLAGS:
		t = MNL_TYPE_U32;
		break;
	default:
		return MNL_CB_OK;
	}
	if (mnl_attr_validate(attr, t) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int lo_dump_push(struct lo_dump *d, const struct lo_entry *e)
{
	struct lo_entry *v;
	size_t cap;

	if (d->n == d->cap) {
		cap = d->cap ? d->cap * 2 : 16;
		v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	d->v[d->n++] = *e;
	return 0;
}

static int lo_addr_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NL_IFA_MAX + 1] = {};
	const struct ifaddrmsg *ifa;
	const struct nlattr *at;
	struct lo_dump *d = data;
	struct lo_entry e = {};
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifa))
		return -EBADMSG;
	ifa = mnl_nlmsg_get_payload(nlh);
	/* Strict checking filters by ifindex, but older kernels send every address. */
	if (d->ifindex && ifa->ifa_index != d->ifindex)
		return 0;
	if (ifa->ifa_family == AF_INET)
		alen = 4;
	else if (ifa->ifa_family == AF_INET6)
		alen = 16;
	else
		return 0;
	if (mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, tb) == MNL_CB_ERROR)
		return -EBADMSG;
	/* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer when both exist. */
	at = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
	if (!at || mnl_attr_get_payload_len(at) != alen)
		return -EBADMSG;
	if (alen == 4) {
		uint32_t v4;

		memcpy(&v4, mnl_attr_get_payload(at), sizeof(v4));
		xvip_addr_from_v4(&e.addr, v4);
	} else {
		xvip_addr_from_v6(&e.addr, mnl_attr_get_payload(at));
	}
	e.family = ifa->ifa_family;
	e.plen = ifa->ifa_prefixlen;
	if (tb[IFA_LABEL])
		snprintf(e.label, sizeof(e.label), "%s", mnl_attr_get_str(tb[IFA_LABEL]));
	e.has_proto = tb[IFA_PROTO] && !nl_kern.forced_off;
	/* The label marks IPv4 addresses added on kernels that drop IFA_PROTO (< 6.1). */
	e.marked = (e.has_proto && mnl_attr_get_u8(tb[IFA_PROTO]) == XVIP_IFA_PROTO) ||
		   (alen == 4 && !strcmp(e.label, XVIP_IFA_LABEL));
	/* IPv6 ones there are in the record, and carry the flags xvipd adds them with. */
	if (!e.marked && alen == 16 && lo6_record_on() && ifa->ifa_index == d->lo_ifindex) {
		uint32_t flags = tb[IFA_FLAGS] ? mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;

		e.marked = (flags & LO6_FLAGS) == LO6_FLAGS &&
			   xvip_maps_lo6_has(nl_kern.record, &e.addr) == 1;
	}
	return lo_dump_push(d, &e);
}

/*
 * All addresses on ifindex (0: on every interface), from one consistent
 * dump. The caller frees d->v.
 */
static int addr_dump(struct xvip_nl *nl, unsigned int ifindex, struct lo_dump *d)
{
	const char *where = ifindex ? "on lo" : "of this node";
	char req[NL_REQSZ];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int err = 0;

	memset(d, 0, sizeof(*d));
	d->ifindex = ifindex;
	d->lo_ifindex = nl->lo_ifindex;
	for (int i = 0; i < NL_DUMP_TRIES; i++) {
		memset(req, 0, sizeof(req));
		nlh = mnl_nlmsg_put_header(req);
		nlh->nlmsg_type = RTM_GETADDR;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
		ifa->ifa_family = AF_UNSPEC;	/* both families in one dump */
		ifa->ifa_index = ifindex;

		d->n = 0;
		err = nl_talk(nl, nlh, lo_addr_cb, d);
		if (err != -EINTR)
			break;
		log_debug("netlink: dump addresses %s: changed while dumping, retrying", where);
	}
	if (err) {
		log_err("netlink: dump addresses %s: %s (%d)%s%s", where, strerror(-err), err,
			nl_errmsg_sep(nl), nl->errmsg);
		free(d->v);
		d->v = NULL;
		d->n = 0;
	}
	return err;
}

static int lo_dump(struct xvip_nl *nl, struct lo_dump *d)
{
	return addr_dump(nl, nl->lo_ifindex, d);
}

/* Fills the ifaddrmsg and address attributes shared by RTM_NEWADDR and RTM_DELADDR. */
static struct nlmsghdr *addr_req(char *req, uint16_t type, uint16_t flags, unsigned int ifindex,
				 const struct xvip_addr *a, unsigned char plen)
{
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	bool v4 = xvip_addr_is_v4(a);

	memset(req, 0, NL_REQSZ);
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = v4 ? AF_INET : AF_INET6;
	ifa->ifa_prefixlen = plen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	/* Equal IFA_LOCAL and IFA_ADDRESS: a plain address, no peer. */
	if (v4) {
		mnl_attr_put(nlh, IFA_LOCAL, 4, &a->a[3]);
		mnl_attr_put(nlh, IFA_ADDRESS, 4, &a->a[3]);
	} else {
		mnl_attr_put(nlh, IFA_LOCAL, 16, a);
		mnl_attr_put(nlh, IFA_ADDRESS, 16, a);
	}
	return nlh;
}

/* The RTM_NEWADDR for VIP a on lo, into req (NL_REQSZ); NULL for an unusable address. */
static struct nlmsghdr *lo_add_req(struct xvip_nl *nl, char *req, const struct xvip_addr *a)
{
	char s[XVIP_ADDRSTRLEN];
	bool v4 = xvip_addr_is_v4(a);
	unsigned char plen = v4 ? 32 : 128;
	struct nlmsghdr *nlh;

	if (xvip_addr_is_special(a)) {
		log_err("add %s/%u on lo: not a usable VIP address",
			xvip_addr_str(a, s, sizeof(s)), plen);
		return NULL;
	}
	/* NLM_F_EXCL: an address already there must not be rewritten as ours. */
	nlh = addr_req(req, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, nl->lo_ifindex, a, plen);
	if (v4) {
		mnl_attr_put_strz(nlh, IFA_LABEL, XVIP_IFA_LABEL);
	} else {
		/*
		 * No DAD: lo never answers it, and a tentative VIP could not be used as
		 * a source. No prefix route: the kernel's local route already covers
		 * the /128, and FRR redistributes the address, not the route.
		 */
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD | IFA_F_NOPREFIXROUTE);
	}
	/* Kernels before 6.1 ignore IFA_PROTO: the label or the record marks the address. */
	if (!nl_kern.forced_off)
		mnl_attr_put_u8(nlh, IFA_PROTO, XVIP_IFA_PROTO);
	return nlh;
}

/* The outcome of adding a on lo, logged; -EEXIST is success. */
static int lo_add_result(struct xvip_nl *nl, const struct xvip_addr *a, int err)
{
	char s[XVIP_ADDRSTRLEN];
	unsigned int plen = xvip_addr_is_v4(a) ? 32 : 128;

	xvip_addr_str(a, s, sizeof(s));
	if (err == -EEXIST) {
		/*
		 * Already on lo: ours from an earlier run, or the operator's. Either way
		 * the VIP is served; an unmarked one stays unmarked, so del leaves it.
		 */
		log_debug("add %s/%u on lo: already present", s, plen);
		return 0;
	}
	if (err) {
		log_err("add %s/%u on lo: %s (%d)%s%s", s, plen, strerror(-err), err,
			nl_errmsg_sep(nl), nl->errmsg);
		return err;
	}
	log_debug("add %s/%u on lo", s, plen);
	return 0;
}

int xvip_nl_lo_add(struct xvip_nl *nl, const struct xvip_addr *a)
{
	char req[NL_REQSZ];
	struct nlmsghdr *nlh = lo_add_req(nl, req, a);
	bool claimed, was;
	int err;

	if (!nlh)
		return -EINVAL;
	err = lo6_claim(a, &claimed, &was);
	if (err)
		return err;
	err = nl_talk(nl, nlh, NULL, NULL);
	lo6_settle(a, claimed, was, err);
	return lo_add_result(nl, a, err);
}

/*
 * Requests per sendmsg in xvip_nl_lo_add_many. The kernel handles them all in
 * the one call and queues an acknowledgement for each on our socket, where
 * they must fit (about 1 KiB each of the default 208 KiB receive buffer): one
 * lost would be a request whose outcome is unknown.
 */
#define NL_ADD_BATCH		64

int xvip_nl_lo_add_many(struct xvip_nl *nl, const struct xvip_addr *a, size_t n, int *errs)
{
	unsigned int seqs[NL_ADD_BATCH];
	size_t idx[NL_ADD_BATCH];
	bool claimed[NL_ADD_BATCH], was[NL_ADD_BATCH];
	char *req;
	int failed = 0;

	req = malloc(NL_ADD_BATCH * NL_REQSZ);
	if (!req) {
		for (size_t i = 0; i < n; i++)
			errs[i] = -ENOMEM;
		return (int)n;
	}
	for (size_t i = 0; i < n;) {
		size_t off = 0, k = 0, acked = 0;
		bool got[NL_ADD_BATCH] = {};

		/* One batch: the requests back to back, each with its own sequence number. */
		for (; i < n && k < NL_ADD_BATCH; i++) {
			struct nlmsghdr *nlh = lo_add_req(nl, req + off, &a[i]);

			if (!nlh) {
				errs[i] = -EINVAL;
				continue;
			}
			errs[i] = lo6_claim(&a[i], &claimed[k], &was[k]);
			if (errs[i])
				continue;
			errs[i] = -ETIMEDOUT; /* until its acknowledgement says otherwise */
			nlh->nlmsg_seq = seqs[k] = ++nl->seq;
			idx[k++] = i;
			off += NLMSG_ALIGN(nlh->nlmsg_len);
		}
		if (!k)
			continue;
		if (mnl_socket_sendto(nl->sock, req, off) < 0) {
			int err = -errno;

			nl->errmsg[0] = '\0';
			for (size_t j = 0; j < k; j++) {
				lo6_settle(&a[idx[j]], claimed[j], was[j], err);
				errs[idx[j]] = lo_add_result(nl, &a[idx[j]], err);
			}
			continue;
		}
		/* Acknowledgements in order; late replies to an earlier request are skipped. */
		while (acked < k) {
			ssize_t len = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
			struct nlmsghdr *nlh = (struct nlmsghdr *)nl->buf;
			int left = (int)len;

			if (len < 0 && errno == EINTR)
				continue;
			if (len < 0)
				break;	/* timed out: the rest stay -ETIMEDOUT */
			for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				unsigned int seq = nlh->nlmsg_seq - seqs[0];
				size_t eoff = sizeof(*e);
				int err;

				if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_pid != nl->portid ||
				    seq >= k || seqs[seq] != nlh->nlmsg_seq ||
				    mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
					continue;
				if (got[seq])
					continue;
				nl->errmsg[0] = '\0';
				if (e->error && !(nlh->nlmsg_flags & NLM_F_CAPPED))
					eoff += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
				if (e->error)
					nl_save_extack(nl, nlh, eoff);
				err = e->error > 0 ? -e->error : e->error;
				lo6_settle(&a[idx[seq]], claimed[seq], was[seq], err);
				errs[idx[seq]] = lo_add_result(nl, &a[idx[seq]], err);
				got[seq] = true;
				acked++;
			}
		}
		nl->errmsg[0] = '\0';
		/* Unanswered: maybe on lo, so an IPv6 one stays recorded (lo_list prunes). */
		for (size_t j = 0; j < k; j++)
			if (!got[j])
				errs[idx[j]] = lo_add_result(nl, &a[idx[j]], errs[idx[j]]);
	}
	for (size_t i = 0; i < n; i++)
		failed += errs[i] != 0;
	free(req);
	return failed;
}

int xvip_nl_lo_del(struct xvip_nl *nl, const struct xvip_addr *a)
{
	char s[XVIP_ADDRSTRLEN], req[NL_REQSZ];
	const struct lo_entry *mine = NULL;
	bool foreign = false;
	struct nlmsghdr *nlh;
	struct lo_dump d;
	int err;

	xvip_addr_str(a, s, sizeof(s));
	/*
	 * Only an address xvipd marked is deleted: an operator's own address equal
	 * to a VIP must survive. IPv4 allows one address under several prefix
	 * lengths, so look for a marked entry among all of them.
	 */
	err = lo_dump(nl, &d);
	if (err)
		return err;
	for (size_t i = 0; i < d.n; i++) {
		if (xvip_addr_cmp(&d.v[i].addr, a))
			continue;
		if (d.v[i].marked) {
			mine = &d.v[i];
			break;
		}
		foreign = true;
	}
	if (!mine) {
		if (foreign) {
			log_warn("delete %s on lo: not added by xvipd, leaving it: %s (%d)", s,
				 strerror(EPERM), -EPERM);
			err = -EPERM;
		}
		lo6_forget(a); /* a record of it, if any, is stale */
		goto out;
	}

	nlh = addr_req(req, RTM_DELADDR, 0, nl->lo_ifindex, a, mine->plen);
	/* With the label the kernel itself refuses an IPv4 entry relabelled meanwhile. */
	if (mine->family == AF_INET && mine->label[0])
		mnl_attr_put_strz(nlh, IFA_LABEL, mine->label);
	err = nl_talk(nl, nlh, NULL, NULL);
	if (err == -EADDRNOTAVAIL || err == -ENOENT) {
		/* Gone between the dump and the delete: the outcome asked for. */
		err = 0;
		lo6_forget(a);
		goto out;
	}
	if (err) {
		log_err("delete %s/%u on lo: %s (%d)%s%s", s, mine->plen, strerror(-err), err,
			nl_errmsg_sep(nl), nl->errmsg);
		goto out;
	}
	lo6_forget(a);
	log_debug("delete %s/%u on lo", s, mine->plen);
out:
	free(d.v);
	return err;
}

/* A recorded IPv6 VIP that is not on lo (any more) leaves the record. */
static int lo6_prune_cb(const struct xvip_addr *a, void *ctx)
{
	const struct lo_dump *d = ctx;

	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].marked && !xvip_addr_cmp(&d->v[i].addr, a))
			return 0;
	xvip_maps_lo6_del(nl_kern.record, a);
	return 0;
}

int xvip_nl_lo_list(struct xvip_nl *nl, void (*cb)(const struct xvip_addr *a, void *ctx),
		    void *ctx)
{
	struct lo_dump d;
	int err;

	/* Collected first, so cb sees one consistent dump even when it had to be redone. */
	err = lo_dump(nl, &d);
	if (err)
		return err;
	if (lo6_record_on())
		xvip_maps_lo6_foreach(nl_kern.record, lo6_prune_cb, &d);
	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].marked)
			cb(&d.v[i].addr, ctx);
	free(d.v);
	return 0;
}

int xvip_nl_local_list(struct xvip_nl *nl, void (*cb)(const struct xvip_addr *a, void *ctx),
		       void *ctx)
{
	struct lo_dump d;
	int err;

	err = addr_dump(nl, 0, &d);
	if (err)
		return err;
	for (size_t i = 0; i < d.n; i++)
		if (!d.v[i].marked)
			cb(&d.v[i].addr, ctx);
	free(d.v);
	return 0;
}

struct route_res {
	bool seen;
	unsigned char type;
	unsigned int oif;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(attr, RTA_MAX) < 0 || mnl_attr_get_type(attr) != RTA_OIF)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return MNL_CB_ERROR;
	tb[RTA_OIF] = attr;
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[RTA_MAX + 1] = {};
	struct route_res *r = data;
	const struct rtmsg *rtm;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm))
		return -EBADMSG;
	rtm = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, tb) == MNL_CB_ERROR)
		return -EBADMSG;
	r->seen = true;
	r->type = rtm->rtm_type;
	r->oif = tb[RTA_OIF] ? mnl_attr_get_u32(tb[RTA_OIF]) : 0;
	return 0;
}

int xvip_nl_route_oif(struct xvip_nl *nl, const struct xvip_addr *dst)
{
	char s[XVIP_ADDRSTRLEN], req[NL_REQSZ];
	bool v4 = xvip_addr_is_v4(dst);
	struct route_res r = {};
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	int err;

	xvip_addr_str(dst, s, sizeof(s));
	memset(req, 0, sizeof(req));
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETROUTE;
	/* The ACK after the reply ends the exchange like every other request. */
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = v4 ? AF_INET : AF_INET6;
	rtm->rtm_dst_len = v4 ? 32 : 128;
	if (v4)
		mnl_attr_put(nlh, RTA_DST, 4, &dst->a[3]);
	else
		mnl_attr_put(nlh, RTA_DST, 16, dst);

	err = nl_talk(nl, nlh, route_cb, &r);
	if (err) {
		/* Expected for endpoints behind no route: the caller decides how loud. */
		log_debug("route to %s: %s (%d)%s%s", s, strerror(-err), err, nl_errmsg_sep(nl),
			  nl->errmsg);
		return err;
	}
	if (!r.seen) {
		log_debug("route to %s: no route in the reply", s);
		return -EBADMSG;
	}
	/* Local, blackhole, prohibit...: no interface leads there. */
	if (r.type != RTN_UNICAST || !r.oif) {
		log_debug("route to %s: type %u oif %u, not a unicast route out", s, r.type,
			  r.oif);
		return -EHOSTUNREACH;
	}
	return (int)r.oif;
}
