// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <json-c/json.h>

#include "frr.h"
#include "log.h"

#define FRR_TIMEOUT_MS	5000
#define FRR_OUT_MAX	(64u << 20)	/* a BGP table larger than this is not a node's */
#define FRR_MAX_ARGS	512

struct frr_net {
	struct xvip_addr addr;
	uint8_t state;		/* enum xvip_frr_vip */
};

struct xvip_frr {
	struct xvip_frr_opts o;
	uint32_t asn;
	struct frr_net *nets;		/* statements in the VIP range at the last read */
	size_t nnets;
	struct xvip_addr *confirmed;	/* statements xvipd saw in place last time */
	size_t nconfirmed;
	unsigned int reapplied;
	int last_err;			/* log a failure once, not every poll */
	bool v4, v6;			/* address families of the VIP CIDRs */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int xvip_frr_vtysh(const struct xvip_frr_opts *o, const char *const *cmds, size_t ncmds,
		   char **out)
{
	const char *prog = o->vtysh ? o->vtysh : "vtysh";
	int timeout = o->timeout_ms > 0 ? o->timeout_ms : FRR_TIMEOUT_MS;
	const char *argv[FRR_MAX_ARGS];
	size_t argc = 0, len = 0, cap = 4096;
	uint64_t deadline;
	char *buf;
	posix_spawn_file_actions_t fa;
	int fds[2], status, ret = 0;
	sigset_t none, dfl;
	posix_spawnattr_t sa;
	pid_t pid;

	*out = NULL;
	if (2 * ncmds + 4 > FRR_MAX_ARGS)
		return -E2BIG;
	argv[argc++] = prog;
	if (o->vty_socket) {
		argv[argc++] = "--vty_socket";
		argv[argc++] = o->vty_socket;
	}
	for (size_t i = 0; i < ncmds; i++) {
		argv[argc++] = "-c";
		argv[argc++] = cmds[i];
	}
	argv[argc] = NULL;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (pipe2(fds, O_CLOEXEC)) {
		free(buf);
		return -errno;
	}
	/*
	 * posix_spawn, not fork: glibc starts the child with CLONE_VM |
	 * CLONE_VFORK, so nothing of xvipd's address space is copied (a fork
	 * of a daemon holding 10,000 services' state took 15 ms, stalling the
	 * event loop). The child gets /dev/null as stdin, the pipe as stdout
	 * and stderr, no blocked signals (xvipd blocks its own for signalfd)
	 * and SIGPIPE back to its default.
	 */
	ret = posix_spawn_file_actions_init(&fa);
	ret = ret ?: posix_spawnattr_init(&sa);
	if (!ret) {
		sigemptyset(&none);
		sigemptyset(&dfl);
		sigaddset(&dfl, SIGPIPE);
		ret = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		ret = ret ?: posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
		ret = ret ?: posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
		ret = ret ?: posix_spawnattr_setsigmask(&sa, &none);
		ret = ret ?: posix_spawnattr_setsigdefault(&sa, &dfl);
		ret = ret ?: posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGMASK |
							   POSIX_SPAWN_SETSIGDEF);
		ret = ret ?: posix_spawnp(&pid, prog, &fa, &sa, (char *const *)argv, environ);
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&sa);
	if (ret) {
		close(fds[0]);
		close(fds[1]);
		buf[0] = '\0';
		*out = buf;
		return ret == ENOENT ? -ENOENT : -ret;	/* no vtysh: as an exec failure */
	}
	close(fds[1]);
	deadline = mono_ms() + (uint64_t)timeout;
	for (;;) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		uint64_t now = mono_ms();
		ssize_t r;

		if (now >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)(deadline - now)) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (len + 1 >= cap) {
			char *nb;

			if (cap >= FRR_OUT_MAX) {
				ret = -EFBIG;
				break;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fds[0], buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fds[0]);
	if (ret)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	buf[len] = '\0';
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !len)
		return -ENOENT;	/* exec failed */
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Parse vtysh's output as one JSON object; NULL (with why) if it is not one. */
static struct json_object *parse_out(const char *out, char *why, size_t whylen)
{
	struct json_object *j = json_tokener_parse(out);
	size_t n;

	if (j && json_object_is_type(j, json_type_object))
		return j;
	json_object_put(j);
	n = strcspn(out, "\n");
	snprintf(why, whylen, "%.*s", (int)(n > 200 ? 200 : n), n ? out : "no output");
	return NULL;
}

static bool in_range(const struct xvip_frr *f, const struct xvip_addr *a)
{
	for (size_t i = 0; i < f->o.ncidrs; i++)
		if (xvip_cidr_contains(&f->o.cidrs[i], a))
			return true;
	return false;
}

static int add_net(struct frr_net **nets, size_t *n, const struct xvip_addr *a, uint8_t st)
{
	void *p = realloc(*nets, (*n + 1) * sizeof(**nets));

	if (!p)
		return -ENOMEM;
	*nets = p;
	(*nets)[*n].addr = *a;
	(*nets)[*n].state = st;
	(*n)++;
	return 0;
}

/*
 * One address family's BGP table: the network statements (locally sourced,
 * origin IGP) for host routes inside the VIP CIDRs, and whether each is valid.
 */
static int read_table(struct xvip_frr *f, bool v6, struct frr_net **nets, size_t *n)
{
	/*
	 * Only what the node originates (an empty AS path): a node learns every
	 * other node's VIPs from its leaves, thousands of routes in a large cluster.
	 */
	const char *cmd = v6 ? "show bgp ipv6 unicast regexp ^$ json" :
			       "show bgp ipv4 unicast regexp ^$ json";
	struct json_object *root = NULL, *routes, *as;
	char why[256], *out = NULL;
	int ret;

	ret = xvip_frr_vtysh(&f->o, &cmd, 1, &out);
	if (ret) {
		if (ret > 0)
			log_debug("vtysh -c '%s' exited %d: %s", cmd, ret, out ? out : "");
		free(out);
		return ret > 0 ? -EIO : ret;
	}
	root = parse_out(out, why, sizeof(why));
	free(out);
	if (!root) {
		log_debug("vtysh -c '%s': not JSON: %s", cmd, why);
		return -EPROTO;
	}
	if (!json_object_object_get_ex(root, "localAS", &as)) {
		json_object_put(root);
		return -ENOENT;		/* no BGP instance (yet) */
	}
	f->asn = (uint32_t)json_object_get_int64(as);
	if (!json_object_object_get_ex(root, "routes", &routes)) {
		json_object_put(root);
		return 0;
	}
	json_object_object_foreach(routes, pfx, paths) {
		struct xvip_cidr c;
		uint8_t st = XVIP_FRR_ABSENT;
		size_t np;

		if (xvip_cidr_parse(pfx, &c) || c.plen != 128 || !in_range(f, &c.addr) ||
		    !json_object_is_type(paths, json_type_array))
			continue;
		np = json_object_array_length(paths);
		for (size_t i = 0; i < np; i++) {
			struct json_object *p = json_object_array_get_idx(paths, i), *x;
			bool local, igp, valid;

			local = json_object_object_get_ex(p, "peerId", &x) &&
				!strcmp(json_object_get_string(x), "(unspec)");
			igp = json_object_object_get_ex(p, "origin", &x) &&
			      !strcmp(json_object_get_string(x), "IGP");
			valid = json_object_object_get_ex(p, "valid", &x) &&
				json_object_get_boolean(x);
			if (local && igp)
				st = valid ? XVIP_FRR_ANNOUNCED : XVIP_FRR_CONFIGURED;
		}
		if (st != XVIP_FRR_ABSENT && add_net(nets, n, &c.addr, st)) {
			json_object_put(root);
			return -ENOMEM;
		}
	}
	json_object_put(root);
	return 0;
}

static int read_all(struct xvip_frr *f, struct frr_net **nets, size_t *n)
{
	int ret = 0;

	*nets = NULL;
	*n = 0;
	if (f->v4)
		ret = read_table(f, false, nets, n);
	if (!ret && f->v6)
		ret = read_table(f, true, nets, n);
	if (ret) {
		free(*nets);
		*nets = NULL;
		*n = 0;
	}
	return ret;
}

static const struct frr_net *find_net(const struct frr_net *nets, size_t n,
				      const struct xvip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (!xvip_addr_cmp(&nets[i].addr, a))
			return &nets[i];
	return NULL;
}

static bool in_list(const struct xvip_addr *l, size_t n, const struct xvip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (!xvip_addr_cmp(&l[i], a))
			return true;
	return false;
}

static void net_str(const struct xvip_addr *a, char *buf, size_t len)
{
	char s[XVIP_ADDRSTRLEN];

	xvip_addr_str(a, s, sizeof(s));
	snprintf(buf, len, "%s/%d", s, xvip_addr_is_v4(a) ? 32 : 128);
}

/* One vtysh run: `network`/`no network` for each change, per address family. */
static int configure(struct xvip_frr *f, const struct xvip_addr *want, size_t nwant)
{
	size_t cap = 8 + 2 * (nwant + f->nnets), n = 0, nchg = 0;
	const char **cmds = calloc(cap, sizeof(*cmds));
	char **lines = calloc(nwant + f->nnets + 1, sizeof(*lines));
	char asn[32], pfx[XVIP_ADDRSTRLEN + 8], *out = NULL;
	int ret = 0;

	if (!cmds || !lines) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(asn, sizeof(asn), "router bgp %u", f->asn);
	cmds[n++] = "configure terminal";
	cmds[n++] = asn;
	for (int v6 = 0; v6 < 2; v6++) {
		size_t before = n;

		cmds[n++] = v6 ? "address-family ipv6 unicast" : "address-family ipv4 unicast";
		for (size_t i = 0; i < nwant; i++) {
			if (xvip_addr_is_v4(&want[i]) == !!v6 ||
			    find_net(f->nets, f->nnets, &want[i]))
				continue;
			net_str(&want[i], pfx, sizeof(pfx));
			if (asprintf(&lines[nchg], "network %s", pfx) < 0) {
				ret = -ENOMEM;
				goto out;
			}
			log_info("frr: network %s (router bgp %u)", pfx, f->asn);
			cmds[n++] = lines[nchg++];
		}
		for (size_t i = 0; i < f->nnets; i++) {
			if (xvip_addr_is_v4(&f->nets[i].addr) == !!v6 ||
			    in_list(want, nwant, &f->nets[i].addr))
				continue;
			net_str(&f->nets[i].addr, pfx, sizeof(pfx));
			if (asprintf(&lines[nchg], "no network %s", pfx) < 0) {
				ret = -ENOMEM;
				goto out;
			}
			log_info("frr: no network %s (router bgp %u)", pfx, f->asn);
			cmds[n++] = lines[nchg++];
		}
		if (n == before + 1)
			n = before;	/* nothing in this family */
		else
			cmds[n++] = "exit-address-family";
	}
	if (n == 2)
		goto out;
	ret = xvip_frr_vtysh(&f->o, cmds, n, &out);
	if (ret > 0 || (out && strchr(out, '%'))) {
		log_err("frr: vtysh refused the network statements (exit %d): %s", ret,
			out ? out : "");
		ret = -EIO;
	}
out:
	for (size_t i = 0; lines && i < nchg; i++)
		free(lines[i]);
	free(lines);
	free(cmds);
	free(out);
	return ret;
}

static void log_failure(struct xvip_frr *f, int ret, const char *what)
{
	if (ret == f->last_err)
		return;
	f->last_err = ret;
	if (ret == -ENOENT)
		log_err("frr: %s: no BGP instance (is bgpd running, vtysh %s%s?)", what,
			f->o.vty_socket ? "--vty_socket " : "reachable",
			f->o.vty_socket ? f->o.vty_socket : "");
	else
		log_err("frr: %s: %s (%d); VIPs on lo stay, network statements retried", what,
			strerror(-ret), ret);
}

int xvip_frr_sync(struct xvip_frr *f, const struct xvip_addr *want, size_t n)
{
	struct frr_net *nets;
	size_t nnets, lost = 0, pending = 0;
	struct xvip_addr *conf;
	int ret;

	ret = read_all(f, &nets, &nnets);
	if (ret) {
		log_failure(f, ret, "read the BGP table");
		return ret;
	}
	free(f->nets);
	f->nets = nets;
	f->nnets = nnets;
	for (size_t i = 0; i < f->nconfirmed; i++)
		lost += !find_net(f->nets, f->nnets, &f->confirmed[i]);
	if (lost) {
		f->reapplied++;
		log_warn("frr: bgpd lost %zu of the %zu network statements xvipd added "
			 "(restarted?); adding them again", lost, f->nconfirmed);
	}

	ret = configure(f, want, n);
	if (ret) {
		log_failure(f, ret, "configure network statements");
		return ret;
	}
	ret = read_all(f, &nets, &nnets);
	if (ret) {
		log_failure(f, ret, "read the BGP table back");
		return ret;
	}
	free(f->nets);
	f->nets = nets;
	f->nnets = nnets;

	conf = calloc(n ? n : 1, sizeof(*conf));
	if (!conf)
		return -ENOMEM;
	free(f->confirmed);
	f->confirmed = conf;
	f->nconfirmed = 0;
	for (size_t i = 0; i < n; i++) {
		const struct frr_net *net = find_net(f->nets, f->nnets, &want[i]);

		if (net)
			f->confirmed[f->nconfirmed++] = want[i];
		if (!net || net->state != XVIP_FRR_ANNOUNCED)
			pending++;
	}
	for (size_t i = 0; i < f->nnets; i++)
		if (!in_list(want, n, &f->nets[i].addr))
			pending++;	/* a statement that would not go */
	if (f->last_err && f->last_err != -EAGAIN)
		log_info("frr: reachable again, %zu network statements in place", f->nconfirmed);
	f->last_err = pending ? -EAGAIN : 0;
	return f->last_err;
}

enum xvip_frr_vip xvip_frr_vip_state(const struct xvip_frr *f, const struct xvip_addr *a)
{
	const struct frr_net *n = f ? find_net(f->nets, f->nnets, a) : NULL;

	return n ? (enum xvip_frr_vip)n->state : XVIP_FRR_ABSENT;
}

const char *xvip_frr_vip_str(enum xvip_frr_vip s)
{
	switch (s) {
	case XVIP_FRR_ABSENT:
		return "absent";
	case XVIP_FRR_CONFIGURED:
		return "configured, not announced";
	case XVIP_FRR_ANNOUNCED:
		return "announced";
	}
	return "?";
}

unsigned int xvip_frr_reapplied(const struct xvip_frr *f)
{
	return f ? f->reapplied : 0;
}

uint32_t xvip_frr_asn(const struct xvip_frr *f)
{
	return f ? f->asn : 0;
}

int xvip_frr_open(struct xvip_frr **fp, const struct xvip_frr_opts *o)
{
	struct xvip_frr *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->o = *o;
	for (size_t i = 0; i < o->ncidrs; i++) {
		if (xvip_addr_is_v4(&o->cidrs[i].addr))
			f->v4 = true;
		else
			f->v6 = true;
	}
	*fp = f;
	return 0;
}

void xvip_frr_close(struct xvip_frr *f)
{
	if (!f)
		return;
	free(f->nets);
	free(f->confirmed);
	free(f);
}

/* ---- sessions, for status */

static struct json_object *run_json(const struct xvip_frr_opts *o, const char *cmd, char *err,
				    size_t errlen)
{
	struct json_object *j;
	char why[256], *out = NULL;
	int ret = xvip_frr_vtysh(o, &cmd, 1, &out);

	if (ret < 0) {
		snprintf(err, errlen, "vtysh: %s", strerror(-ret));
		free(out);
		return NULL;
	}
	/* `show bfd peers json` prints an array: wrap it for parse_out. */
	j = json_tokener_parse(out ? out : "");
	if (!j) {
		parse_out(out ? out : "", why, sizeof(why));
		snprintf(err, errlen, "vtysh -c '%s': %s", cmd, why);
	}
	free(out);
	return j;
}

static const char *jstr(struct json_object *o, const char *k, const char *def)
{
	struct json_object *x;

	return json_object_object_get_ex(o, k, &x) ? json_object_get_string(x) : def;
}

static int64_t jint(struct json_object *o, const char *k)
{
	struct json_object *x;

	return json_object_object_get_ex(o, k, &x) ? json_object_get_int64(x) : 0;
}

int xvip_frr_sessions(const struct xvip_frr_opts *o, struct json_object **out, char *err,
		      size_t errlen)
{
	struct json_object *sum, *bfd, *res, *bgp_arr, *bfd_arr, *af, *peers;

	*out = NULL;
	sum = run_json(o, "show bgp summary json", err, errlen);
	if (!sum)
		return -EIO;
	bfd = run_json(o, "show bfd peers json", err, errlen);
	res = json_object_new_object();
	bgp_arr = json_object_new_array();
	bfd_arr = json_object_new_array();
	json_object_object_foreach(sum, afname, afobj) {
		(void)afname;
		af = afobj;
		if (!json_object_is_type(af, json_type_object) ||
		    !json_object_object_get_ex(af, "peers", &peers))
			continue;
		json_object_object_foreach(peers, name, p) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "neighbor", json_object_new_string(name));
			json_object_object_add(e, "family", json_object_new_string(afname));
			json_object_object_add(e, "hostname",
					       json_object_new_string(jstr(p, "hostname", "")));
			json_object_object_add(e, "remote_as",
					       json_object_new_int64(jint(p, "remoteAs")));
			json_object_object_add(e, "state",
					       json_object_new_string(jstr(p, "state", "?")));
			json_object_object_add(e, "uptime_ms",
					       json_object_new_int64(jint(p, "peerUptimeMsec")));
			json_object_object_add(e, "prefixes_received",
					       json_object_new_int64(jint(p, "pfxRcd")));
			json_object_object_add(e, "prefixes_sent",
					       json_object_new_int64(jint(p, "pfxSnt")));
			json_object_array_add(bgp_arr, e);
		}
	}
	if (bfd && json_object_is_type(bfd, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(bfd); i++) {
			struct json_object *p = json_object_array_get_idx(bfd, i);
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "interface",
					       json_object_new_string(jstr(p, "interface", "")));
			json_object_object_add(e, "peer",
					       json_object_new_string(jstr(p, "peer", "")));
			json_object_object_add(e, "status",
					       json_object_new_string(jstr(p, "status", "?")));
			json_object_object_add(e, "uptime_s",
					       json_object_new_int64(jint(p, "uptime")));
			json_object_object_add(e, "detect_ms", json_object_new_int64(
				jint(p, "detect-multiplier") * jint(p, "receive-interval")));
			json_object_array_add(bfd_arr, e);
		}
	}
	json_object_object_add(res, "bgp", bgp_arr);
	json_object_object_add(res, "bfd", bfd_arr);
	json_object_put(sum);
	json_object_put(bfd);
	*out = res;
	return 0;
}
