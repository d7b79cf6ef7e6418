/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Loading the real dataplane for a test binary, the same way everywhere:
 * only a missing privilege is a reason to skip. A program the verifier
 * rejects, or maps that will not pin, is a failure of the test that loads.
 */
#ifndef XVIP_TEST_DPTEST_H
#define XVIP_TEST_DPTEST_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include "test.h"
#include "loader.h"
#include "log.h"
#include "nl.h"

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
 * Load into pin_dir. Returns NULL when loaded; otherwise why not, having
 * marked the current test failed unless the reason is a missing privilege.
 */
static inline const char *dptest_load(struct xvip_dp *dp, const char *pin_dir, uint32_t ct_size)
{
	struct xvip_dp_opts o = { .pin_dir = pin_dir, .ct_size = ct_size };
	int ret;

	dptest_remove_stale(pin_dir);
	ret = xvip_dp_load(dp, &o);

	if (!ret)
		return NULL;
	if (ret == -EPERM && geteuid() != 0)
		return "bpf() not permitted (needs root/CAP_BPF)";
	TEST_FAIL("load the BPF objects into %s: %s (%d)", pin_dir, strerror(-ret), ret);
	return "cannot load the BPF objects (see log)";
}

/*
 * The whole fixture of a reconciler-level suite, in the test's own network
 * namespace: lo up, the dataplane in /sys/fs/bpf/xvip-test-NAME-PID, and an
 * rtnetlink handle. Returns NULL when ready, else why not (see dptest_load).
 */
static inline const char *dptest_start(const char *name, struct xvip_dp *dp, char *pin_dir,
				       size_t len, struct xvip_nl **nl)
{
	const char *why;

	xvip_log_init(XVIP_LOG_WARN);
	xvip_log_route_libs();
	if (system("ip link set lo up"))
		return "cannot bring lo up";
	snprintf(pin_dir, len, "/sys/fs/bpf/xvip-test-%s-%d", name, getpid());
	why = dptest_load(dp, pin_dir, 4096);
	if (why)
		return why;
	if (xvip_nl_open(nl)) {
		TEST_FAIL("xvip_nl_open");
		return "rtnetlink unavailable";
	}
	return NULL;
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
