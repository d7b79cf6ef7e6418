// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * user/kfeat.c: every probe finds the features the running kernel is new
 * enough for, the refusal names the first required feature that
 * is missing in exactly the line the README shows, optional ones only warn,
 * and the table agrees with the minimum it states; a failed load names its
 * cause, and only pins of another layout get told to run --cleanup.
 * tests/e2e_kernels.sh runs this on Debian's 6.1, 6.12 and 5.10 too.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/utsname.h>

#include "test.h"
#include "dptest.h"
#include "kfeat.h"
#include "loader.h"
#include "log.h"

/* "5.12" -> 5012: compares releases. */
static int rel(const char *s)
{
	int major = 0, minor = 0;

	if (sscanf(s, "%d.%d", &major, &minor) != 2)
		return -1;
	return major * 1000 + minor;
}

static int present(void)
{
	return 1;
}

static int missing(void)
{
	return 0;
}

static int cannot_tell(void)
{
	return -EPERM;
}

/*
 * On the running kernel (this machine's, or one of the matrix's): each
 * feature it is new enough for is found, and it is refused exactly when it
 * is older than a required feature, with that feature's line.
 */
TEST(probes_agree_with_this_kernel)
{
	const struct xvip_kfeat *first_missing = NULL;
	char line[256] = "", want[256] = "";
	struct utsname u;

	if (dptest_privilege())
		TEST_SKIP(dptest_privilege());
	ASSERT_OK(uname(&u), "uname");
	for (size_t i = 0; i < xvip_nkfeats; i++) {
		const struct xvip_kfeat *f = &xvip_kfeats[i];
		int ret = f->probe();

		/* A kernel older than the feature is not asked to have it (backports may). */
		if (rel(u.release) < rel(f->since)) {
			if (!f->without && !first_missing && ret == 0)
				first_missing = f;
			continue;
		}
		if (ret != 1)
			TEST_FAIL("probe of %s (%s, Linux %s) on %s: %d", f->token, f->what,
				  f->since, u.release, ret);
	}
	if (first_missing)
		snprintf(want, sizeof(want), "xvipd: this kernel (%s) lacks %s (%s, Linux %s): "
			 "xvipd needs Linux %s or later", u.release, first_missing->what,
			 first_missing->token, first_missing->since, XVIP_KERNEL_MIN);
	ASSERT_EQ(xvip_kfeat_check(xvip_kfeats, xvip_nkfeats, line, sizeof(line)),
		  first_missing ? -EOPNOTSUPP : 0, "xvip_kfeat_check on this kernel");
	ASSERT_STREQ(line, want, "refusal line");
}

TEST(refusal_names_the_first_required_feature_missing)
{
	const struct xvip_kfeat table[] = {
		{ "a feature present", "PRESENT", "4.0", NULL, present },
		{ "an optional feature", "OPTIONAL", "5.0", "something is off", missing },
		{ "a probe that cannot tell", "UNKNOWN", "5.1", NULL, cannot_tell },
		{ "BPF atomic compare-and-exchange", "BPF_CMPXCHG", "5.12", NULL, missing },
		{ "a later required feature", "LATER", "5.13", NULL, missing },
	};
	char line[256] = "", want[256];
	struct utsname u;

	ASSERT_OK(uname(&u), "uname");
	snprintf(want, sizeof(want), "xvipd: this kernel (%s) lacks BPF atomic "
		 "compare-and-exchange (BPF_CMPXCHG, Linux 5.12): xvipd needs Linux 5.15 or later",
		 u.release);
	ASSERT_EQ(xvip_kfeat_check(table, 5, line, sizeof(line)), -EOPNOTSUPP, "check");
	ASSERT_STREQ(line, want, "refusal line");
	/* Without the required ones: an optional feature missing and an unknown one pass. */
	line[0] = '\0';
	ASSERT_OK(xvip_kfeat_check(table, 3, line, sizeof(line)), "check of the first three");
	ASSERT_STREQ(line, "", "no refusal line");
}

TEST(table_in_release_order_below_the_minimum)
{
	int prev = 0, newest_required = 0;

	for (size_t i = 0; i < xvip_nkfeats; i++) {
		const struct xvip_kfeat *f = &xvip_kfeats[i];
		int r = rel(f->since);

		ASSERT_TRUE(r > 0, f->since);
		ASSERT_TRUE(r >= prev, f->token);
		ASSERT_TRUE(f->what && *f->what && f->token && *f->token && f->probe, f->token);
		prev = r;
		if (!f->without && r > newest_required)
			newest_required = r;
	}
	/* The stated minimum has every required feature. */
	ASSERT_LE(newest_required, rel(XVIP_KERNEL_MIN), "newest required feature vs minimum");
}

/* xvip_dp_load with what it logs captured into log (NUL-terminated). */
static int load_logged(struct xvip_dp *dp, const char *pin_dir, uint32_t ct_size, char *log,
		       size_t len)
{
	struct xvip_dp_opts o = { .pin_dir = pin_dir, .ct_size = ct_size };
	char path[] = "/tmp/xvip-test-kfeat-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(2), ret;
	ssize_t n;

	log[0] = '\0';
	if (fd < 0 || saved < 0)
		return -EIO;
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	ret = xvip_dp_load(dp, &o);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, log, len - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
	return ret;
}

/*
 * A kernel below the minimum (the matrix's 5.10) fails the load if xvipd
 * loads anyway, and nothing tells the user to run --cleanup; on one that
 * loads, pins of another --ct-size are refused with that hint, by name.
 */
TEST(load_failure_names_its_cause)
{
	static char log[65536];
	struct xvip_dp dp = {};
	char pin_dir[128], line[256];
	int ret;

	if (dptest_privilege())
		TEST_SKIP(dptest_privilege());
	xvip_log_init(XVIP_LOG_INFO);
	xvip_log_route_libs();
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/xvip-test-kfeat-%d", getpid());
	dptest_remove_stale(pin_dir);
	if (xvip_kfeat_check(xvip_kfeats, xvip_nkfeats, line, sizeof(line))) {
		ret = load_logged(&dp, pin_dir, 4096, log, sizeof(log));
		ASSERT_TRUE(ret < 0, "the load fails on a kernel below the minimum");
		ASSERT_TRUE(!strstr(log, "--cleanup"), "no --cleanup hint for a kernel too old");
		ASSERT_TRUE(strstr(log, "load xdp program: "), "the failed load is named");
		goto out;
	}
	if (!ASSERT_OK(load_logged(&dp, pin_dir, 4096, log, sizeof(log)), "load, 4096 flows"))
		goto out;
	xvip_dp_close(&dp);
	ret = load_logged(&dp, pin_dir, 8192, log, sizeof(log));
	ASSERT_EQ(ret, -ESTALE, "load over pins of another --ct-size");
	ASSERT_TRUE(strstr(log, "pinned map ") && strstr(log, "/xvip_ct_v2 has another layout") &&
		    strstr(log, "needs xvipd --cleanup first"), "the pin and the hint named");
	if (!ret)
		xvip_dp_close(&dp);
	ASSERT_OK(load_logged(&dp, pin_dir, 4096, log, sizeof(log)), "load, 4096 flows again");
	xvip_dp_close(&dp);
out:
	xvip_log_init(XVIP_LOG_ERR);
	xvip_dp_cleanup(pin_dir);
	ASSERT_TRUE(access(pin_dir, F_OK) != 0, "pin dir removed");
}

TEST_MAIN(TEST_CASE(probes_agree_with_this_kernel),
	  TEST_CASE(refusal_names_the_first_required_feature_missing),
	  TEST_CASE(table_in_release_order_below_the_minimum),
	  TEST_CASE(load_failure_names_its_cause))
