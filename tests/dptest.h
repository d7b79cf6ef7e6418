/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Loading the real dataplane for a test binary, the same way everywhere:
 * only a missing privilege, checked before anything is loaded, is a reason
 * to skip. A program the verifier rejects, or maps that will not pin, is a
 * failure of the suite that loads.
 */
#ifndef XVIP_TEST_DPTEST_H
#define XVIP_TEST_DPTEST_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "test.h"
#include "loader.h"
#include "log.h"
#include "nl.h"

/* The effective capabilities, read from /proc (not through the code under test). */
static inline uint64_t dptest_cap_eff(void)
{
	unsigned long long eff = 0;
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff;
}

/* In the initial user namespace, where capabilities count for bpf()? */
static inline bool dptest_initial_userns(void)
{
	unsigned long inside, outside, count;
	FILE *f = fopen("/proc/self/uid_map", "r");
	bool initial;

	if (!f)
		return true;	/* no user namespaces in this kernel */
	initial = fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3 && !inside &&
		  !outside && count == 4294967295UL;
	fclose(f);
	return initial;
}

/*
 * Why this process may not load and attach the dataplane, or NULL: it takes
 * CAP_NET_ADMIN and CAP_SYS_ADMIN (README: without CAP_SYS_ADMIN the XDP
 * program fails verification), in the initial user namespace.
 */
static inline const char *dptest_privilege(void)
{
	uint64_t need = 1ULL << CAP_NET_ADMIN | 1ULL << CAP_SYS_ADMIN;

	if ((dptest_cap_eff() & need) != need)
		return "needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)";
	if (!dptest_initial_userns())
		return "in a user namespace: bpf() needs root in the initial one";
	return NULL;
}

/*
 * The start of a setup that loads the dataplane: logging the way xvipd's
 * goes, and why the suite must skip (it could not enter a network namespace
 * of its own before main, netns_err, or lacks the privilege), or NULL.
 */
static inline const char *dptest_begin(const char *netns_err)
{
	xvip_log_init(XVIP_LOG_WARN);
	xvip_log_route_libs();
	return netns_err ?: dptest_privilege();
}

/*
 * Pin dirs are named PREFIX-PID: remove those of this prefix whose process is
 * gone (a run that was killed), before this run makes its own.
 */
static inline void dptest_remove_stale(const char *pin_dir)
{
	const char *dash = strrchr(pin_dir, '-'), *base = strrchr(pin_dir, '/');
	char path[512];
	struct dirent *de;
	size_t plen;
	DIR *d;

	if (!dash || !base || dash < base)
		return;
	plen = (size_t)(dash - base);	/* "/xvip-test-NAME" */
	d = opendir("/sys/fs/bpf");
	if (!d)
		return;
	while ((de = readdir(d))) {
		long pid;
		char *end;

		if (strncmp(de->d_name, base + 1, plen - 1) || de->d_name[plen - 1] != '-')
			continue;
		pid = strtol(de->d_name + plen, &end, 10);
		if (*end || pid <= 0 || pid == getpid() || !kill((pid_t)pid, 0) || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "/sys/fs/bpf/%s", de->d_name);
		xvip_dp_cleanup(path);
	}
	closedir(d);
}

/*
 * In a fixture's setup: load into pin_dir. Returns 0 when loaded. Without the
 * privilege (checked first) the suite is skipped; any other failure fails it.
 */
static inline int dptest_load(struct xvip_dp *dp, const char *pin_dir, uint32_t ct_size)
{
	struct xvip_dp_opts o = { .pin_dir = pin_dir, .ct_size = ct_size };
	const char *why = dptest_privilege();
	int ret;

	if (why) {
		test_cur.skip_reason = why;
		return -EPERM;
	}
	dptest_remove_stale(pin_dir);
	ret = xvip_dp_load(dp, &o);
	if (ret)
		TEST_FAIL("load the BPF objects into %s: %s (%d)", pin_dir, strerror(-ret), ret);
	return ret;
}

/*
 * The whole fixture of a reconciler-level suite, in the test's own network
 * namespace (netns_err: why the suite could not enter it, before main): lo
 * up, the dataplane in /sys/fs/bpf/xvip-test-NAME-PID, and an rtnetlink
 * handle. Returns 0 when ready; else the suite is skipped or failed (above).
 */
static inline int dptest_start(const char *name, const char *netns_err, struct xvip_dp *dp,
			       char *pin_dir, size_t len, struct xvip_nl **nl)
{
	int ret;

	test_cur.skip_reason = dptest_begin(netns_err);
	if (test_cur.skip_reason)
		return -EPERM;
	if (system("ip link set lo up")) {
		TEST_FAIL("cannot bring lo up in the test's network namespace");
		return -EIO;
	}
	snprintf(pin_dir, len, "/sys/fs/bpf/xvip-test-%s-%d", name, getpid());
	ret = dptest_load(dp, pin_dir, 4096);
	if (ret)
		return ret;
	ret = xvip_nl_open(nl);
	if (!ASSERT_OK(ret, "xvip_nl_open"))
		return ret;
	return 0;
}

/*
 * The verifier's walk of each program against a budget. The kernel refuses a
 * program at 1M verified instructions (BPF_COMPLEXITY_LIMIT_INSNS), long
 * after a change has made it much costlier, and how far the verifier walks
 * differs by kernel (xvip_xdp: 2.5 times further on 6.1 than on 6.12). So
 * each program has a budget per kernel the project is tested on (Debian's 6.1
 * and 6.12, and 6.18), about 1.25 times the walk measured there (clang 14,
 * the tests' map sizes): growth of a quarter fails. On a kernel not measured,
 * the budget is 75% of the limit.
 */
#define DPTEST_VERIFIER_LIMIT	1000000
static const char *const dptest_kernels[] = { "6.1", "6.12", "6.18" };
#define DPTEST_NKERNELS		(sizeof(dptest_kernels) / sizeof(dptest_kernels[0]))

struct dptest_budget {
	const char *prog;
	uint32_t max_verified[DPTEST_NKERNELS];	/* on each of dptest_kernels */
};

/* The running kernel's index in dptest_kernels, or -1 (major.minor of its release). */
static inline int dptest_kernel(void)
{
	struct utsname u;
	unsigned int maj, min;
	char mm[32];

	if (uname(&u) || sscanf(u.release, "%u.%u", &maj, &min) != 2)
		return -1;
	snprintf(mm, sizeof(mm), "%u.%u", maj, min);
	for (size_t k = 0; k < DPTEST_NKERNELS; k++)
		if (!strcmp(mm, dptest_kernels[k]))
			return (int)k;
	return -1;
}

/*
 * Every program of obj: its size and the instructions the verifier walked,
 * printed, and the walk within its budget; a program with no budget fails.
 */
static inline void dptest_verifier_budget(const struct bpf_object *obj,
					  const struct dptest_budget *b, size_t n)
{
	int k = dptest_kernel();
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info), max;
		size_t i;

		for (i = 0; i < n && strcmp(b[i].prog, name); i++)
			;
		if (i == n) {
			TEST_FAIL("%s: no verifier budget stated for it", name);
			continue;
		}
		if (!ASSERT_OK(bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len), name))
			continue;
		max = k >= 0 ? b[i].max_verified[k] : DPTEST_VERIFIER_LIMIT / 4 * 3;
		printf("INFO %s: %u instructions, %u verified (%.1f%% of the 1M limit; "
		       "budget %u %s%s)\n", name, info.xlated_prog_len / 8, info.verified_insns,
		       info.verified_insns * 100.0 / DPTEST_VERIFIER_LIMIT, max,
		       k >= 0 ? "on " : "on a kernel not measured", k >= 0 ? dptest_kernels[k] : "");
		/* 0: the kernel does not report it (before 5.16), which is no pass. */
		ASSERT_TRUE(info.verified_insns > 0, "the kernel reports verified_insns");
		ASSERT_LE(info.verified_insns, max, name);
	}
	fflush(stdout);
}

/* Undo dptest_start; the pin dir must be gone. */
static inline void dptest_stop(struct xvip_dp *dp, const char *pin_dir, struct xvip_nl *nl)
{
	if (nl)
		xvip_nl_close(nl);
	if (dp->xdp)
		xvip_dp_close(dp);
	if (pin_dir[0]) {
		xvip_dp_cleanup(pin_dir);
		ASSERT_TRUE(access(pin_dir, F_OK) != 0, "pin dir removed");
	}
}

#endif
