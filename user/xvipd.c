// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * xvipd: keeps the XDP/tc dataplane and the VIPs on lo in step with the
 * Services and EndpointSlices that name this node. A thin main: options,
 * module init, and one event loop (signals, file changes or the API server's
 * watches, the metrics endpoint, a retry timer).
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <json-c/json.h>
#include <linux/capability.h>

#include "addr.h"
#include "caps.h"
#include "filesrc.h"
#include "frr.h"
#include "health.h"
#include "kfeat.h"
#include "kube.h"
#include "kubecfg.h"
#include "loader.h"
#include "localaddr.h"
#include "log.h"
#include "maglev.h"
#include "metrics.h"
#include "model.h"
#include "nl.h"
#include "opts.h"
#include "podif.h"
#include "reconcile.h"
#include "status.h"

#define MAX_IFACES	16
#define MAX_CIDRS	64
#define RETRY_SECONDS	5
#define HEALTH_MS	1000	/* dataplane check (fail closed) */
#define FRR_POLL_TICKS	2	/* vtysh mode: read FRR back every this many checks */
#define SESSIONS_TICKS	5	/* BGP and BFD session states for status and metrics */
/*
 * The state file after a change: written from a timer at most this long
 * after it, so a burst of applies shares one write and none waits behind one
 * (1 MB at 10k VIPs, a few ms). xvipctl status and the e2e tests that poll
 * the file see every change within this bound plus the write itself.
 */
#define STATE_WRITE_MS	250

enum frr_mode { FRR_CONNECTED, FRR_VTYSH, FRR_OFF };

struct opts {
	const char *ifaces[MAX_IFACES];
	int ifindex[MAX_IFACES];
	size_t nifaces;
	struct xvip_cidr cidrs[MAX_CIDRS];
	size_t ncidrs;
	char node_name[256];
	const char *services_file;
	const char *kubeconfig;		/* NULL with no services file: in-cluster */
	const char *metrics_addr;	/* NULL: no HTTP endpoint */
	const char *state_file;
	bool state_file_given;		/* --cleanup removes only a state file named to it */
	bool withdraw_on_drain;
	uint32_t watch_timeout;		/* seconds without a byte before a watch is resumed */
	const char *pin_dir;
	const char *cgroup;	/* NULL: the default cgroup v2 root */
	enum xvip_xdp_mode xdp_mode;
	enum frr_mode frr;
	const char *frr_vtysh;		/* --frr-vtysh: the vtysh program */
	const char *frr_vty_socket;	/* --frr-vty-socket: FRR's vty socket directory */
	uint32_t drain_s, hold_down_s;
	uint32_t maglev_size;
	uint32_t ct_size;
	enum xvip_log_level log_level;
	bool cleanup;
};

/* The modules main wires together, and what xvipd keeps between events. */
struct daemon {
	struct opts o;
	/* Modules, in the order data flows through them. */
	struct xvip_filesrc files;	/* source: --services-file */
	struct xvip_kubecfg kcfg;	/* source: the API server (without --services-file) */
	struct xvip_kube *kube;
	struct xvip_model_opts mo;	/* the translation, for either source */
	struct xvip_localaddr local;	/* this node's addresses: refused as VIPs */
	struct xvip_podif pods;		/* tc on pod interfaces, which endpoints are usable */
	struct xvip_reconciler rc;	/* model -> maps and lo */
	struct xvip_dp dp;		/* programs, maps, pins */
	struct xvip_nl *nl;
	struct xvip_frr *frr;		/* --frr vtysh: network statements */
	struct xvip_health health;	/* fail closed */
	struct xvip_metrics *metrics;	/* /healthz, /readyz, /metrics */
	/* What every apply records (applied()), for the state file and /metrics. */
	bool retry;		/* last apply incomplete: try again on the timer */
	bool synced;		/* a complete view was programmed: /readyz */
	uint64_t applies;
	time_t last_apply;
	int last_apply_result;
	size_t service_ports;
	const char *policy_reason;	/* the API's reason to withdraw every VIP (drained node) */
	/* What xvipd reports, as last gathered. */
	struct xvip_rc_snapshot snap;	/* the last one status_fill took */
	struct xvip_kube_stats kst;
	int frr_ret;			/* last xvip_frr_sync: 0, -EAGAIN (pending), -errno */
	struct json_object *sessions;	/* FRR's BGP and BFD sessions, or {"error": ...} */
	unsigned int health_ticks;
	/* Timers: drain and hold-down deadlines, the state file. */
	int dfd;			/* timerfd: the next drain or hold-down deadline */
	int wfd;			/* timerfd: the state file's next write */
	bool state_dirty;		/* changed since the state file was written */
};

/* ---- options: one table gives parsing and --help */

static int opt_iface(void *opts, const char *optarg)
{
	struct opts *o = opts;

	if (o->nifaces == MAX_IFACES) {
		fprintf(stderr, "xvipd: at most %d --iface\n", MAX_IFACES);
		return -EINVAL;
	}
	o->ifindex[o->nifaces] = (int)if_nametoindex(optarg);
	if (!o->ifindex[o->nifaces]) {
		fprintf(stderr, "xvipd: --iface %s: no such interface\n", optarg);
		return -ENODEV;
	}
	o->ifaces[o->nifaces++] = optarg;
	return 0;
}

static int opt_cidr(void *opts, const char *optarg)
{
	struct opts *o = opts;

	if (o->ncidrs == MAX_CIDRS) {
		fprintf(stderr, "xvipd: at most %d --vip-cidr\n", MAX_CIDRS);
		return -EINVAL;
	}
	if (xvip_cidr_parse(optarg, &o->cidrs[o->ncidrs])) {
		fprintf(stderr, "xvipd: --vip-cidr %s: not an address/prefix with "
			"zero host bits\n", optarg);
		return -EINVAL;
	}
	o->ncidrs++;
	return 0;
}

static int opt_node(void *opts, const char *optarg)
{
	struct opts *o = opts;

	if (!*optarg || strlen(optarg) >= sizeof(o->node_name)) {
		fprintf(stderr, "xvipd: --node-name: empty or too long\n");
		return -EINVAL;
	}
	snprintf(o->node_name, sizeof(o->node_name), "%s", optarg);
	return 0;
}

static int opt_metrics(void *opts, const char *optarg)
{
	struct opts *o = opts;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (xvip_metrics_parse_addr(optarg, &ss, &sl))
		return -EINVAL;
	o->metrics_addr = optarg;
	return 0;
}

static int opt_state(void *opts, const char *optarg)
{
	struct opts *o = opts;

	if (!*optarg) {
		fprintf(stderr, "xvipd: --state-file: empty path\n");
		return -EINVAL;
	}
	o->state_file = optarg;
	o->state_file_given = true;
	return 0;
}

static int opt_maglev(void *opts, const char *optarg)
{
	struct opts *o = opts;
	uint32_t v;

	if (xvip_opts_parse_u32(optarg, &v) || !xvip_is_prime(v) || v < XVIP_MAGLEV_MIN ||
	    v > XVIP_MAGLEV_MAX) {
		fprintf(stderr, "xvipd: --maglev-size %s: want a prime between %u and "
			"%u\n", optarg, XVIP_MAGLEV_MIN, XVIP_MAGLEV_MAX);
		return -EINVAL;
	}
	o->maglev_size = v;
	return 0;
}

#define F(field) XVIP_OPT_FIELD(struct opts, field)

static const char *const frr_words[] = { "connected", "vtysh", "off", NULL };
static const int frr_values[] = { FRR_CONNECTED, FRR_VTYSH, FRR_OFF };
static const char *const xdp_words[] = { "native", "generic", "auto", NULL };
static const int xdp_values[] = { XVIP_XDP_NATIVE, XVIP_XDP_GENERIC, XVIP_XDP_AUTO };
static const char *const log_words[] = { "error", "warn", "info", "debug", NULL };
static const int log_values[] = { XVIP_LOG_ERR, XVIP_LOG_WARN, XVIP_LOG_INFO, XVIP_LOG_DEBUG };
static const char *const bool_words[] = { "true", "false", NULL };
static const int bool_values[] = { 1, 0 };

/* The same options, argument forms and defaults as README's table (tests/test_options.py). */
static const struct xvip_opt xvipd_opts[] = {
	{ "iface", .type = XVIP_OPT_FUNC, .arg = "IF", .parse = opt_iface,
	  .help = "uplink where XDP attaches (repeatable, required)" },
	{ "vip-cidr", .type = XVIP_OPT_FUNC, .arg = "CIDR", .parse = opt_cidr,
	  .help = "VIPs outside every listed prefix are never programmed nor advertised "
		  "(repeatable, required)" },
	{ "node-name", .type = XVIP_OPT_FUNC, .arg = "NAME", .parse = opt_node,
	  .help = "endpoints with this nodeName are local (default $NODE_NAME, then the "
		  "hostname)" },
	{ "services-file", .type = XVIP_OPT_STR, .arg = "PATH", F(services_file),
	  .help = "Services and EndpointSlices as a Kubernetes List in JSON (kubectl get "
		  "services,endpointslices -A -o json); re-read when it changes and on SIGHUP" },
	{ "kubeconfig", .type = XVIP_OPT_STR, .arg = "PATH", F(kubeconfig),
	  .help = "list and watch Services, EndpointSlices and this node's Node on the API "
		  "server of the kubeconfig's current context; with neither this nor "
		  "--services-file, the in-cluster service account "
		  "(KUBERNETES_SERVICE_HOST/PORT, token, ca.crt)" },
	{ "withdraw-on-drain", .type = XVIP_OPT_ENUM, F(withdraw_on_drain), .words = bool_words,
	  .values = bool_values,
	  .help = "true (default): a cordoned node (spec.unschedulable, the "
		  "ToBeDeletedByClusterAutoscaler or node.kubernetes.io/unschedulable taint) "
		  "withdraws every VIP from lo, as the exclude-from-external-load-balancers "
		  "label always does; maps keep serving flows that still arrive" },
	{ "watch-timeout", .type = XVIP_OPT_U32, .arg = "SECONDS", F(watch_timeout), .min = 1,
	  .max = 3600, .want = "1 to 3600 seconds",
	  .help = "resume an API response silent this long (default 120)" },
	{ "metrics-addr", .type = XVIP_OPT_FUNC, .arg = "HOST:PORT", .parse = opt_metrics,
	  .want = "IP:PORT or [IPv6]:PORT",
	  .help = "serve /healthz, /readyz and /metrics here (default: off)" },
	{ "state-file", .type = XVIP_OPT_FUNC, .arg = "PATH", .parse = opt_state,
	  .help = "sync state for xvipctl status (default " XVIP_STATE_FILE ")" },
	{ "pin-dir", .type = XVIP_OPT_STR, .arg = "DIR", F(pin_dir),
	  .help = "bpffs directory for the pinned maps (default /sys/fs/bpf/xvip)" },
	{ "xdp-mode", .type = XVIP_OPT_ENUM, F(xdp_mode), .words = xdp_words,
	  .values = xdp_values, .nocase = true,
	  .help = "default auto: native, else generic" },
	{ "cgroup", .type = XVIP_OPT_STR, .arg = "PATH", F(cgroup),
	  .help = "cgroup v2 directory for the node-to-VIP socket hooks (default "
		  "/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid layout)" },
	{ "frr", .type = XVIP_OPT_ENUM, F(frr), .words = frr_words, .values = frr_values,
	  .help = "connected (default): VIPs as addresses on lo, for FRR's redistribute "
		  "connected; vtysh: also a network statement per VIP under FRR's router bgp, "
		  "through vtysh; off: never touch lo" },
	{ "frr-vtysh", .type = XVIP_OPT_STR, .arg = "PATH", F(frr_vtysh),
	  .help = "vtysh program for --frr vtysh (default vtysh from PATH)" },
	{ "frr-vty-socket", .type = XVIP_OPT_STR, .arg = "DIR", F(frr_vty_socket),
	  .help = "FRR's vty socket directory (vtysh --vty_socket; default FRR's), for vtysh "
		  "mode and for the BGP/BFD session states (status, metrics) read every 5 s "
		  "unless --frr off" },
	{ "drain-seconds", .type = XVIP_OPT_U32, .arg = "N", F(drain_s), .max = 86400,
	  .want = "0 to 86400 seconds",
	  .help = "a service port that loses its last local endpoint is withdrawn first, then "
		  "its endpoints keep their established flows this long before they are "
		  "removed (default 0: at once)" },
	{ "hold-down-seconds", .type = XVIP_OPT_U32, .arg = "N", F(hold_down_s), .max = 86400,
	  .want = "0 to 86400 seconds",
	  .help = "a withdrawn VIP is advertised again only once it has been ready this long "
		  "without a break (default 2; 0: at once)" },
	{ "maglev-size", .type = XVIP_OPT_FUNC, .arg = "PRIME", .parse = opt_maglev,
	  .help = "largest Maglev table per service (default 16381); each table is the "
		  "smallest prime >= 100 x its endpoints up to this" },
	{ "ct-size", .type = XVIP_OPT_U32, .arg = "N", F(ct_size), .min = 1024, .max = 1u << 27,
	  .want = "1024 to 134217728", .help = "conntrack entries (default 1048576)" },
	{ "log-level", .type = XVIP_OPT_ENUM, .arg = "LEVEL", F(log_level), .words = log_words,
	  .values = log_values, .nocase = true,
	  .help = "error, warn, info (default) or debug" },
	{ "cleanup", .type = XVIP_OPT_FLAG, F(cleanup),
	  .help = "detach the programs, remove the pins and the VIPs xvipd added" },
	{}
};

#undef F

static const struct xvip_opts_prog xvipd_prog = {
	.name = "xvipd",
	.opts = xvipd_opts,
	.col = 24,
	.usage =
		"Usage: xvipd --iface IF [--iface IF...] --vip-cidr CIDR [--vip-cidr CIDR...]\n"
		"             [--services-file PATH | --kubeconfig PATH] [options]\n"
		"       xvipd --cleanup [--pin-dir DIR] [--state-file PATH]\n"
		"\n"
		"Load-balances Kubernetes Service VIPs with XDP on this node's uplinks and keeps\n"
		"each VIP that has a ready local endpoint on lo, where FRR advertises it.\n"
		"\n",
	.footer =
		"SIGHUP re-reads the services file. SIGTERM leaves programs, pins and VIPs in place,\n"
		"so a restarted xvipd adopts them without dropping traffic.\n",
};

/* 0, 1 when --help was printed, or -errno with a message printed. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	const char *env;
	int first, ret;

	memset(o, 0, sizeof(*o));
	o->pin_dir = "/sys/fs/bpf/xvip";
	o->maglev_size = XVIP_MAGLEV_DEFAULT;
	o->ct_size = XVIP_CT_DEFAULT;
	o->log_level = XVIP_LOG_INFO;
	o->frr = FRR_CONNECTED;
	o->drain_s = 0;
	o->hold_down_s = 2;
	o->state_file = XVIP_STATE_FILE;
	o->withdraw_on_drain = true;
	o->watch_timeout = 120;

	ret = xvip_opts_parse(&xvipd_prog, argc, argv, o, &first);
	if (ret)
		return ret;
	if (first < argc) {
		fprintf(stderr, "xvipd: unexpected argument '%s'\n", argv[first]);
		return -EINVAL;
	}
	if (o->cleanup)
		return 0;
	if (!o->nifaces || !o->ncidrs) {
		fprintf(stderr, "xvipd: --iface and --vip-cidr are required\n\n");
		xvip_opts_help(&xvipd_prog, stderr);
		return -EINVAL;
	}
	if (o->services_file && o->kubeconfig) {
		fprintf(stderr, "xvipd: --services-file and --kubeconfig exclude each other\n");
		return -EINVAL;
	}
	if (!o->node_name[0]) {
		env = getenv("NODE_NAME");
		if (env && *env)
			snprintf(o->node_name, sizeof(o->node_name), "%s", env);
		else if (gethostname(o->node_name, sizeof(o->node_name) - 1))
			return -errno;
	}
	return 0;
}

/* ---- fail closed, FRR, deadlines */

/* Why every VIP is kept off lo: the dataplane is down, or the node is drained. */
static const char *withdraw_reason(const struct daemon *d)
{
	return xvip_health_problem(&d->health) ?: d->policy_reason;
}

/* vtysh mode: one network statement per VIP on lo, nothing else in the VIP range. */
static void frr_sync(struct daemon *d)
{
	struct xvip_rc_snapshot s;
	struct xvip_addr *want;
	size_t n = 0;

	if (!d->frr || xvip_rc_snapshot(&d->rc, &s))
		return;
	want = calloc(s.nvips + 1, sizeof(*want));
	if (want) {
		for (size_t i = 0; i < s.nvips; i++)
			if (s.vips[i].advertised)
				want[n++] = s.vips[i].addr;
		d->frr_ret = xvip_frr_sync(d->frr, want, n);
	}
	free(want);
	xvip_rc_snapshot_free(&s);
}

static void arm_deadline(struct daemon *d)
{
	uint64_t t = xvip_rc_next_deadline(&d->rc);
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(t / 1000000000ULL),
			      .tv_nsec = (long)(t % 1000000000ULL) },
	};

	if (d->dfd >= 0 && timerfd_settime(d->dfd, t ? TFD_TIMER_ABSTIME : 0, &its, NULL))
		log_warn("arm the drain/hold-down timer: %s", strerror(errno));
}

static void after_apply(struct daemon *d)
{
	frr_sync(d);
	arm_deadline(d);
}

/* ---- what xvipd reports: the state file, /readyz, /metrics */

static void status_fill(struct daemon *d, struct xvip_status *st)
{
	memset(st, 0, sizeof(*st));
	st->source = d->kube ? "kubernetes" : "file";
	st->origin = d->kube ? d->kcfg.origin : d->o.services_file;
	st->node = d->o.node_name;
	st->synced = d->synced;
	st->applies = d->applies;
	st->last_apply = d->last_apply;
	st->last_apply_result = d->last_apply_result;
	st->service_ports = d->service_ports;
	/* What is programmed, per VIP: the reconciler's snapshot, until the next fill. */
	xvip_rc_snapshot_free(&d->snap);
	if (!xvip_rc_snapshot(&d->rc, &d->snap))
		st->snap = &d->snap;
	st->withdraw_reason = d->rc.withdraw_reason;
	st->vips = d->snap.nvips;
	st->vips_on_lo = d->snap.vips_on_lo;
	if (d->kube) {
		xvip_kube_get_stats(d->kube, &d->kst);
		st->kube = &d->kst;
	}
	st->frr_mode = d->o.frr == FRR_VTYSH ? "vtysh" : d->o.frr == FRR_OFF ? "off" : "connected";
	st->frr = d->frr;
	st->dataplane_problem = xvip_health_problem(&d->health);
	st->frr_sessions = d->sessions;
	st->drain_s = d->o.drain_s;
	st->hold_down_s = d->o.hold_down_s;
}

static void metrics_status(void *ctx, struct xvip_status *st)
{
	status_fill(ctx, st);
}

static void status_write(struct daemon *d)
{
	static int logged;
	struct xvip_status st;
	int ret;

	d->state_dirty = false;
	status_fill(d, &st);
	ret = xvip_status_write(d->o.state_file, &st);
	if (ret && ret != logged)
		log_warn("state file %s: %s (%d); xvipctl status cannot show the sync state",
			 d->o.state_file, strerror(-ret), ret);
	logged = ret;
}

/* Something the state file shows changed: write it within STATE_WRITE_MS. */
static void status_changed(struct daemon *d)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = STATE_WRITE_MS / 1000,
			      .tv_nsec = STATE_WRITE_MS % 1000 * 1000000L },
	};

	if (d->state_dirty)
		return;		/* a write is already due: it shows this change too */
	d->state_dirty = true;
	if (d->wfd < 0 || timerfd_settime(d->wfd, 0, &its, NULL))
		status_write(d);
}

/* What every apply records and sets off, whole or by difference (ret: the apply's). */
static void applied(struct daemon *d, int ret)
{
	if (ret)
		d->retry = true;
	d->applies++;
	d->last_apply = time(NULL);
	d->last_apply_result = ret;
	if (ret >= 0)
		d->service_ports = d->rc.model.nsvcs;	/* the model just applied */
	/* Ready once a complete view (every list, or the whole file) is programmed. */
	if (!d->synced && d->rc.synced && (!d->kube || xvip_kube_synced(d->kube))) {
		d->synced = true;
		log_info("first complete sync programmed: ready");
	}
	after_apply(d);
	status_changed(d);
}

/*
 * This node's own addresses for the reconciler, which refuses VIPs among
 * them; 0 and *changed, or -errno (the apply then warns and goes ahead).
 */
static int local_refresh(struct daemon *d, bool *changed)
{
	d->rc.local_err = xvip_localaddr_refresh(&d->local, changed);
	d->rc.local = d->local.a;
	d->rc.nlocal = d->local.n;
	return d->rc.local_err;
}

static void apply_model(struct daemon *d, const struct xvip_model *m, const char *what)
{
	bool changed;
	int ret;

	local_refresh(d, &changed);
	d->retry = false;
	xvip_podif_reset(&d->pods);
	xvip_podif_sync(&d->pods);
	d->rc.withdraw_reason = withdraw_reason(d);
	ret = xvip_rc_apply(&d->rc, m);
	d->retry |= d->pods.missed;
	if (ret < 0)
		log_err("apply %s: %s (%d)", what, strerror(-ret), ret);
	else
		log_info("applied %s: %zu service ports (+%u ~%u -%u), %u tables swapped, "
			 "VIPs +%u -%u%s%s%s", what, m->nsvcs, d->rc.last.svcs_added,
			 d->rc.last.svcs_changed, d->rc.last.svcs_removed,
			 d->rc.last.tables_swapped, d->rc.last.vips_added,
			 d->rc.last.vips_removed, ret ? ", with errors (will retry)" : "",
			 d->rc.withdraw_reason ? "; every VIP withdrawn: " : "",
			 d->rc.withdraw_reason ? d->rc.withdraw_reason : "");
	applied(d, ret);
}

/* Re-apply the last model: a drain or hold-down deadline, or the dataplane changed. */
static void reapply(struct daemon *d, const char *why)
{
	int ret;

	if (!d->applies)
		return;		/* nothing applied yet: the first apply sees the reason */
	xvip_podif_reset(&d->pods);
	d->rc.withdraw_reason = withdraw_reason(d);
	ret = xvip_rc_reapply(&d->rc);
	d->retry |= d->pods.missed;
	if (ret < 0)
		log_err("re-apply (%s): %s (%d)", why, strerror(-ret), ret);
	else if (d->rc.last.vips_added || d->rc.last.vips_removed || d->rc.last.svcs_removed)
		log_info("re-applied (%s): VIPs +%u -%u, service ports -%u%s%s", why,
			 d->rc.last.vips_added, d->rc.last.vips_removed, d->rc.last.svcs_removed,
			 d->rc.withdraw_reason ? "; every VIP withdrawn: " : "",
			 d->rc.withdraw_reason ? d->rc.withdraw_reason : "");
	if (ret)
		d->retry = true;
	after_apply(d);
	status_changed(d);
}

/* FRR's session states, every few seconds, so a /metrics scrape never waits for vtysh. */
static void poll_sessions(struct daemon *d)
{
	struct xvip_frr_opts fo = {
		.vtysh = d->o.frr_vtysh, .vty_socket = d->o.frr_vty_socket, .timeout_ms = 2000,
	};
	struct json_object *o = NULL;
	char err[256];

	if (xvip_frr_sessions(&fo, &o, err, sizeof(err))) {
		o = json_object_new_object();
		json_object_object_add(o, "error", json_object_new_string(err));
	}
	json_object_put(d->sessions);
	d->sessions = o;
}

/* The dataplane failed the health check, is back, or fails for another reason. */
static void health_event(void *ctx, enum xvip_health_event ev)
{
	struct daemon *d = ctx;

	if (ev == XVIP_HEALTH_DOWN)
		reapply(d, "dataplane down");
	else if (ev == XVIP_HEALTH_BACK)
		reapply(d, "dataplane back");
	else
		status_changed(d);
}

/* Every HEALTH_MS: fail closed (health.c), FRR's sessions and statements. */
static void health_tick(struct daemon *d)
{
	xvip_health_check(&d->health);
	d->health_ticks++;
	if (d->o.frr != FRR_OFF && d->health_ticks % SESSIONS_TICKS == 1)
		poll_sessions(d);
	if (d->frr && d->health_ticks % FRR_POLL_TICKS == 0) {
		unsigned int readded = xvip_frr_reapplied(d->frr);
		int before = d->frr_ret;

		frr_sync(d);	/* statements a restarted bgpd lost */
		if (readded != xvip_frr_reapplied(d->frr) || before != d->frr_ret)
			status_changed(d);
	}
}

/* ---- the API source */

/*
 * Apply only the VIPs that changed: -ESTALE, and nothing applied, when the
 * whole model must be (this node's addresses changed).
 */
static int apply_delta(struct daemon *d, const struct xvip_model *delta,
		       const struct xvip_addr *vips, size_t nvips)
{
	bool changed;
	int ret;

	/*
	 * A new address of this node (or one gone) may refuse (or accept again)
	 * VIPs outside vips[]: only a whole model decides those.
	 */
	if (nvips && (local_refresh(d, &changed) || changed))
		return -ESTALE;
	d->retry = false;
	xvip_podif_reset(&d->pods);
	ret = xvip_rc_apply_delta(&d->rc, delta, vips, nvips);
	d->retry |= d->pods.missed;
	if (ret < 0)
		log_err("apply API change: %s (%d)", strerror(-ret), ret);
	else
		log_info("applied API change: %zu VIP%s, service ports +%u ~%u -%u, %u tables "
			 "swapped, VIPs +%u -%u%s", nvips, nvips == 1 ? "" : "s",
			 d->rc.last.svcs_added, d->rc.last.svcs_changed,
			 d->rc.last.svcs_removed, d->rc.last.tables_swapped,
			 d->rc.last.vips_added, d->rc.last.vips_removed,
			 ret ? ", with errors (will retry)" : "");
	applied(d, ret);
	return ret;
}

/*
 * The cache changed (a burst of events, debounced) or the Node's state did.
 * Only what changed is translated and applied; the whole view after a
 * relist, when the Node's state changed, on SIGHUP and to retry (force).
 */
static void sync_kube(struct daemon *d, bool force)
{
	const struct xvip_model *m;
	const struct xvip_addr *vips;
	const char *reason;
	size_t nvips;
	bool full;
	int ret;

	if (!xvip_kube_synced(d->kube))
		return;
	ret = xvip_kube_changes(d->kube, &m, &vips, &nvips, &full);
	if (ret) {
		log_err("API objects: translate: %s (%d); keeping the programmed state, retrying",
			strerror(-ret), ret);
		d->retry = true;
		return;
	}
	reason = xvip_kube_withdraw_reason(d->kube);
	if (!full && !force && d->applies && reason == d->policy_reason &&
	    apply_delta(d, m, vips, nvips) != -ESTALE)
		return;
	if (!full && xvip_kube_full_model(d->kube, &m)) {
		log_err("API objects: out of memory; keeping the programmed state, retrying");
		d->retry = true;
		return;
	}
	d->policy_reason = reason;
	apply_model(d, m, "API view");
}

static void kube_changed(void *ctx)
{
	sync_kube(ctx, false);
}

static void file_apply(void *ctx, const struct xvip_model *m, const char *what)
{
	apply_model(ctx, m, what);
}

/* ---- setup and the event loop */

static int setup_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int setup_timer(void)
{
	struct itimerspec its = {
		.it_interval = { .tv_sec = RETRY_SECONDS },
		.it_value = { .tv_sec = RETRY_SECONDS },
	};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void drain_fd(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Re-read the services file, or re-translate the API cache. */
static void sync_source(struct daemon *d, bool force)
{
	if (d->kube)
		sync_kube(d, force);
	else
		xvip_filesrc_sync(&d->files, force);
}

static int run_loop(struct daemon *d)
{
	const struct timespec every = {
		.tv_sec = HEALTH_MS / 1000, .tv_nsec = HEALTH_MS % 1000 * 1000000L,
	};
	struct itimerspec hits = { .it_interval = every, .it_value = every };
	struct pollfd pfd[9];
	struct xvip_nl *links = NULL;
	int sfd, tfd, hfd, ret = 0;

	hfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (hfd < 0 || timerfd_settime(hfd, 0, &hits, NULL)) {
		ret = -errno;
		log_err("health timer: %s (%d)", strerror(-ret), ret);
		if (hfd >= 0)
			close(hfd);
		return ret;
	}
	sfd = setup_signals();
	tfd = setup_timer();
	if (sfd < 0 || tfd < 0) {
		ret = sfd < 0 ? sfd : tfd;
		log_err("set up the event loop: %s (%d)", strerror(-ret), ret);
		goto out;
	}
	if (!d->kube)
		xvip_filesrc_sync(&d->files, true);
	status_write(d);

	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = d->kube ? -1 : xvip_filesrc_fd(&d->files),
				  .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	pfd[3] = (struct pollfd){ .fd = d->kube ? xvip_kube_fd(d->kube) : -1, .events = POLLIN };
	pfd[4] = (struct pollfd){ .fd = d->metrics ? xvip_metrics_fd(d->metrics) : -1,
				  .events = POLLIN };
	pfd[5] = (struct pollfd){ .fd = hfd, .events = POLLIN };
	pfd[6] = (struct pollfd){ .fd = d->dfd, .events = POLLIN };
	/* New pod interfaces get tc at once, not on the next timer tick. */
	if (xvip_nl_monitor_open(&links))
		log_warn("no link notifications: new pod interfaces get tc within %d s",
			 RETRY_SECONDS);
	pfd[7] = (struct pollfd){ .fd = links ? xvip_nl_fd(links) : -1, .events = POLLIN };
	pfd[8] = (struct pollfd){ .fd = d->wfd, .events = POLLIN };
	for (;;) {
		if (poll(pfd, 9, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGHUP) {
					log_info("SIGHUP: re-reading %s", d->kube ? "the API view" :
						 d->o.services_file);
					sync_source(d, true);
				} else {
					log_info("signal %u: exiting; programs, pins and VIPs stay "
						 "in place", si.ssi_signo);
					break;
				}
			}
		}
		if (pfd[1].revents & POLLIN)
			xvip_filesrc_dispatch(&d->files);
		if (pfd[2].revents & POLLIN) {
			drain_fd(tfd);
			xvip_podif_sync(&d->pods);	/* new pods */
			if (!d->kube || d->retry)
				sync_source(d, d->retry);
			status_write(d);	/* the heartbeat xvipctl status looks at */
			if (d->metrics)
				xvip_metrics_dispatch(d->metrics);	/* connection timeouts */
		}
		if (pfd[3].revents & POLLIN)
			xvip_kube_dispatch(d->kube);
		if (pfd[4].revents & POLLIN)
			xvip_metrics_dispatch(d->metrics);
		if (pfd[5].revents & POLLIN) {
			drain_fd(hfd);
			health_tick(d);
		}
		if (pfd[6].revents & POLLIN) {
			drain_fd(d->dfd);
			reapply(d, "drain or hold-down deadline");
		}
		if ((pfd[7].revents & POLLIN) && xvip_nl_monitor_drain(links) > 0)
			xvip_podif_sync(&d->pods);
		if (pfd[8].revents & POLLIN) {
			drain_fd(d->wfd);
			if (d->state_dirty)
				status_write(d);
		}
	}
	if (d->state_dirty)
		status_write(d);	/* what the last applies did, before exiting */
out:
	xvip_nl_close(links);
	close(hfd);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	return ret;
}

static void cleanup_lo_cb(const struct xvip_addr *a, void *ctx)
{
	struct xvip_nl *nl = ctx;
	char s[XVIP_ADDRSTRLEN];
	int ret = xvip_nl_lo_del(nl, a);

	xvip_addr_str(a, s, sizeof(s));
	if (ret)
		log_warn("remove VIP %s from lo: %s (%d)", s, strerror(-ret), ret);
	else
		log_info("VIP %s removed from lo", s);
}

static int do_cleanup(const struct opts *o)
{
	struct xvip_nl *nl = NULL;
	int lo6, ret;

	/* IPv6 VIPs added on a kernel without IFA_PROTO are known by their record. */
	lo6 = xvip_dp_open_lo6(o->pin_dir);
	xvip_nl_set_lo6_record(lo6);
	ret = xvip_nl_open(&nl);
	if (!ret) {
		/* Withdraw first, so the fabric stops sending before the programs go. */
		xvip_nl_lo_list(nl, cleanup_lo_cb, nl);
		xvip_nl_close(nl);
	} else {
		log_err("netlink: %s (%d); VIPs on lo left in place", strerror(-ret), ret);
	}
	xvip_nl_set_lo6_record(-1);
	if (lo6 >= 0)
		close(lo6);
	if (o->frr == FRR_VTYSH) {
		struct xvip_frr_opts fo = {
			.vtysh = o->frr_vtysh, .vty_socket = o->frr_vty_socket,
			.cidrs = o->cidrs, .ncidrs = o->ncidrs,
		};
		struct xvip_frr *f = NULL;

		/* Every network statement in the VIP range goes (needs --vip-cidr). */
		if (!xvip_frr_open(&f, &fo) && xvip_frr_sync(f, NULL, 0) < 0)
			log_warn("cleanup: network statements in FRR left in place");
		xvip_frr_close(f);
	}
	ret = xvip_dp_cleanup(o->pin_dir);
	if (ret < 0) {
		log_err("cleanup: %s (%d)", strerror(-ret), ret);
		return 1;
	}
	log_info("cleanup: %d program attachments removed, pins under %s removed", ret,
		 o->pin_dir);
	if (o->state_file_given)
		unlink(o->state_file);
	return 0;
}

/*
 * Least privilege: everything that needed more is loaded, pinned, attached
 * and bound by now. The steady state still updates maps and creates each new
 * Maglev table's inner map (CAP_BPF; CAP_SYS_ADMIN on kernels without it),
 * puts VIPs on lo, attaches tc to new pod interfaces and XDP again after a
 * repair (CAP_NET_ADMIN; the re-attach goes straight to the kernel, see
 * loader.c). Unless --frr off, vtysh reaches FRR's sockets, which belong to
 * the frr user (CAP_DAC_OVERRIDE): the network statements in vtysh mode, the
 * BGP and BFD session states for status and /metrics in every mode (read
 * every 5 s, see poll_sessions). Failing to drop is fatal: running with
 * more than it says would be a silent regression.
 */
static int drop_caps(const struct opts *o)
{
	int keep[3], n = 0, bounding_kept, ret;
	uint64_t eff = 0;
	char buf[256];

	keep[n++] = CAP_NET_ADMIN;
	/* Before 5.8 there is no CAP_BPF and bpf() wants CAP_SYS_ADMIN. */
	keep[n++] = prctl(PR_CAPBSET_READ, CAP_BPF, 0, 0, 0) >= 0 ? CAP_BPF : CAP_SYS_ADMIN;
	if (o->frr != FRR_OFF)
		keep[n++] = CAP_DAC_OVERRIDE;
	ret = xvip_caps_drop(keep, (size_t)n, &bounding_kept);
	if (ret) {
		log_err("drop capabilities: %s (%d)", strerror(-ret), ret);
		return ret;
	}
	xvip_caps_effective(&eff);
	log_info("capabilities: kept %s; every other dropped%s", xvip_caps_str(eff, buf, sizeof(buf)),
		 bounding_kept ? " (bounding set left as it was: no CAP_SETPCAP)"
			       : ", from the bounding set too; no_new_privs set");
	return 0;
}

int main(int argc, char **argv)
{
	struct xvip_dp_opts dpo = {};
	struct daemon d = {};
	char line[256];
	int ret;

	ret = parse_opts(argc, argv, &d.o);
	if (ret)
		return ret > 0 ? 0 : 2;
	/*
	 * No fastbins: json-c allocates a 91 MB services file as millions of
	 * small chunks, and freeing them into fastbins left glibc consolidating
	 * them on the next large allocation (0.5 s per reload at 10,000
	 * Services; 0.15 s without), and the first parse twice as slow.
	 */
	mallopt(M_MXFAST, 0);
	xvip_log_init(d.o.log_level);
	xvip_log_route_libs();
	/* Tests only: behave as on a kernel that drops IFA_PROTO (before 6.1). */
	if (getenv("XVIP_TEST_NO_IFA_PROTO"))
		xvip_nl_force_no_ifa_proto(true);
	if (d.o.cleanup)
		return do_cleanup(&d.o);
	if (!d.o.services_file) {
		char err[512];

		/* Before anything is loaded: a bad config changes nothing on the node. */
		ret = d.o.kubeconfig ? xvip_kubecfg_load(&d.kcfg, d.o.kubeconfig, err, sizeof(err)) :
				       xvip_kubecfg_in_cluster(&d.kcfg, NULL, err, sizeof(err));
		if (ret) {
			log_err("%s", err);
			return 2;
		}
	}

	/* An older kernel is refused with one line, before anything is loaded or attached. */
	if (xvip_kfeat_check(xvip_kfeats, xvip_nkfeats, line, sizeof(line))) {
		fprintf(stderr, "%s\n", line);
		return 1;
	}
	dpo.pin_dir = d.o.pin_dir;
	dpo.ct_size = d.o.ct_size;
	dpo.mode = d.o.xdp_mode;
	ret = xvip_dp_load(&d.dp, &dpo);
	if (ret)
		return 1;
	xvip_nl_set_lo6_record(d.dp.lo6);
	ret = xvip_nl_open(&d.nl);
	if (ret) {
		log_err("open rtnetlink: %s (%d)", strerror(-ret), ret);
		goto out;
	}
	ret = xvip_rc_init(&d.rc, &d.dp.maps, d.o.frr == FRR_OFF ? NULL : d.nl, d.o.maglev_size);
	if (ret) {
		log_err("reconciler: %s (%d)", strerror(-ret), ret);
		goto out;
	}
	xvip_podif_init(&d.pods, &d.dp, d.nl, d.o.ifindex, d.o.nifaces);
	xvip_localaddr_init(&d.local, d.nl);
	xvip_health_init(&d.health, &d.dp, d.o.ifaces, d.o.nifaces, health_event, &d);
	d.rc.ep_usable = xvip_podif_ep_usable;
	d.rc.ctx = &d.pods;
	d.rc.drain_ns = (uint64_t)d.o.drain_s * 1000000000ULL;
	d.rc.hold_down_ns = (uint64_t)d.o.hold_down_s * 1000000000ULL;
	d.wfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d.wfd < 0)
		log_warn("state file timer: %s; writing it on every change", strerror(errno));
	d.dfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (d.dfd < 0) {
		ret = -errno;
		log_err("drain/hold-down timer: %s (%d)", strerror(-ret), ret);
		goto out;
	}
	if (d.o.frr == FRR_VTYSH) {
		struct xvip_frr_opts fo = {
			.vtysh = d.o.frr_vtysh, .vty_socket = d.o.frr_vty_socket,
			.cidrs = d.o.cidrs, .ncidrs = d.o.ncidrs,
		};

		ret = xvip_frr_open(&d.frr, &fo);
		if (ret)
			goto out;
	}
	if (d.dp.adopted) {
		ret = xvip_rc_adopt(&d.rc);
		if (ret)
			goto out;
	}
	/* Maps first (adopted or fresh), then the programs that read them. */
	for (size_t i = 0; i < d.o.nifaces; i++) {
		ret = xvip_dp_attach_xdp(&d.dp, d.o.ifindex[i]);
		if (ret)
			goto out;
	}
	/* Optional: without it the node's own sockets reach VIPs through lo only. */
	if (xvip_dp_attach_sock(&d.dp, d.o.cgroup))
		log_warn("node-to-VIP off: processes on this node are not balanced to VIPs");
	if (d.o.metrics_addr) {
		struct xvip_metrics_src ms = {
			.maps = &d.dp.maps, .status = metrics_status, .ctx = &d,
		};

		ret = xvip_metrics_start(&d.metrics, d.o.metrics_addr, &ms);
		if (ret) {
			log_err("--metrics-addr %s: %s (%d)", d.o.metrics_addr, strerror(-ret), ret);
			goto out;
		}
		log_info("serving /healthz, /readyz and /metrics on %s", d.o.metrics_addr);
	}
	d.mo = (struct xvip_model_opts){
		.node_name = d.o.node_name, .cidrs = d.o.cidrs, .ncidrs = d.o.ncidrs,
	};
	if (d.o.services_file) {
		ret = xvip_filesrc_init(&d.files, d.o.services_file, &d.mo, file_apply, &d);
		if (ret) {
			log_err("services file %s: watch its directory: %s (%d)",
				d.o.services_file, strerror(-ret), ret);
			goto out;
		}
	} else {
		struct xvip_kube_opts ko = {
			.cfg = &d.kcfg,
			.node_name = d.o.node_name,
			.model = &d.mo,
			.withdraw_on_drain = d.o.withdraw_on_drain,
			.stall_seconds = d.o.watch_timeout,
			.changed = kube_changed,
			.ctx = &d,
		};

		ret = xvip_kube_init(&d.kube, &ko);
		if (ret) {
			log_err("API source: %s (%d)", strerror(-ret), ret);
			goto out;
		}
	}
	ret = drop_caps(&d.o);
	if (ret)
		goto out;
	log_info("xvipd running: node %s, %zu uplinks, pins in %s%s", d.o.node_name,
		 d.o.nifaces, d.o.pin_dir, d.dp.adopted ? " (adopted)" : "");
	ret = run_loop(&d);
out:
	xvip_kube_fini(d.kube);
	xvip_filesrc_fini(&d.files);
	xvip_metrics_stop(d.metrics);
	xvip_kubecfg_free(&d.kcfg);
	xvip_rc_snapshot_free(&d.snap);
	xvip_rc_fini(&d.rc);
	xvip_localaddr_fini(&d.local);
	xvip_frr_close(d.frr);
	json_object_put(d.sessions);
	if (d.dfd > 0)
		close(d.dfd);
	if (d.wfd > 0)
		close(d.wfd);
	if (d.nl)
		xvip_nl_close(d.nl);
	xvip_nl_set_lo6_record(-1);
	xvip_dp_close(&d.dp);
	xvip_podif_fini(&d.pods);
	return ret ? 1 : 0;
}
