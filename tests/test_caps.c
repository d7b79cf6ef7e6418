// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * user/caps.c: after xvip_caps_drop a process holds only what it kept, in
 * every set the kernel reports (/proc/self/status), cannot use what it
 * dropped, and programs it runs cannot get the rest back. Each case runs in
 * a child process, so the test binary keeps its own capabilities.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/capability.h>

#include "test.h"
#include "caps.h"

#define MASK(c)	(1ULL << (c))

/* The hex mask of a "Cap...:" line, or the value of "NoNewPrivs:", from a status file. */
static int status_field(const char *path, const char *field, uint64_t *v)
{
	char line[256];
	FILE *f = fopen(path, "r");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		size_t n = strlen(field);

		if (!strncmp(line, field, n) && line[n] == ':') {
			*v = strtoull(line + n + 1, NULL, field[0] == 'C' ? 16 : 10);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/*
 * Runs fn in a child; its exit status is the number of failed checks (the
 * child prints what failed). Returns that number, or -1 if it did not run.
 */
static int in_child(int (*fn)(void))
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(fn());
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

#define CHILD_CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "  child: " __VA_ARGS__);	\
			fprintf(stderr, "\n");				\
			bad++;						\
		}							\
	} while (0)

static const uint64_t KEPT = MASK(CAP_NET_ADMIN) | MASK(CAP_BPF);

static int drop_and_look(void)
{
	static const int keep[] = { CAP_NET_ADMIN, CAP_BPF };
	const char *sets[] = { "CapEff", "CapPrm", "CapBnd" };
	uint64_t v, eff;
	int bounding_kept = -1, bad = 0, ret;
	char buf[256];

	ret = xvip_caps_drop(keep, 2, &bounding_kept);
	CHILD_CHECK(!ret, "xvip_caps_drop: %s", strerror(-ret));
	CHILD_CHECK(bounding_kept == 0, "bounding set dropped (root has CAP_SETPCAP)");
	for (size_t i = 0; i < 3; i++) {
		CHILD_CHECK(!status_field("/proc/self/status", sets[i], &v) && v == KEPT,
			    "%s %016llx, expected %016llx", sets[i], (unsigned long long)v,
			    (unsigned long long)KEPT);
	}
	CHILD_CHECK(!status_field("/proc/self/status", "CapInh", &v) && v == 0, "CapInh %llx",
		    (unsigned long long)v);
	CHILD_CHECK(!status_field("/proc/self/status", "CapAmb", &v) && v == 0, "CapAmb %llx",
		    (unsigned long long)v);
	CHILD_CHECK(!status_field("/proc/self/status", "NoNewPrivs", &v) && v == 1, "NoNewPrivs");
	CHILD_CHECK(!xvip_caps_effective(&eff) && eff == KEPT, "xvip_caps_effective");
	CHILD_CHECK(!strcmp(xvip_caps_str(eff, buf, sizeof(buf)), "cap_net_admin,cap_bpf"),
		    "names: %s", buf);

	/* A dropped capability is gone: CAP_CHOWN to give a file away, CAP_SETUID. */
	char path[] = "/tmp/xvip-test-caps-XXXXXX";
	int fd = mkstemp(path);

	CHILD_CHECK(fd >= 0, "mkstemp");
	if (fd >= 0) {
		CHILD_CHECK(fchown(fd, 12345, 12345) && errno == EPERM, "chown refused");
		close(fd);
		unlink(path);
	}
	CHILD_CHECK(setuid(12345) && errno == EPERM, "setuid refused");
	return bad;
}

/* A program run after the drop (as xvipd runs vtysh) starts with no more than was kept. */
static int exec_gets_no_more(void)
{
	static const int keep[] = { CAP_NET_ADMIN, CAP_BPF };
	int bounding_kept, bad = 0, p[2], st;
	char out[8192] = "", *line;
	ssize_t n, got = 0;
	pid_t pid;

	if (xvip_caps_drop(keep, 2, &bounding_kept) || pipe(p))
		return 1;
	pid = fork();
	if (!pid) {
		dup2(p[1], STDOUT_FILENO);
		execl("/bin/cat", "cat", "/proc/self/status", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	waitpid(pid, &st, 0);
	line = strstr(out, "CapEff:");
	CHILD_CHECK(line, "exec'd program's status read");
	if (line) {
		uint64_t v = strtoull(line + 7, NULL, 16);

		CHILD_CHECK((v & ~KEPT) == 0, "exec'd program has CapEff %016llx",
			    (unsigned long long)v);
	}
	line = strstr(out, "CapBnd:");
	CHILD_CHECK(line && (strtoull(line + 7, NULL, 16) & ~KEPT) == 0, "exec'd CapBnd");
	return bad;
}

/* Asking to keep what the process no longer has does not give it back. */
static int keep_what_is_not_held(void)
{
	static const int first[] = { CAP_NET_ADMIN };
	static const int then[] = { CAP_NET_ADMIN, CAP_BPF, CAP_SYS_ADMIN };
	int bounding_kept, bad = 0;
	uint64_t eff;

	CHILD_CHECK(!xvip_caps_drop(first, 1, &bounding_kept), "first drop");
	CHILD_CHECK(!xvip_caps_drop(then, 3, &bounding_kept), "second drop");
	CHILD_CHECK(bounding_kept == 1, "no CAP_SETPCAP left: bounding set left alone");
	CHILD_CHECK(!xvip_caps_effective(&eff) && eff == MASK(CAP_NET_ADMIN),
		    "effective %llx", (unsigned long long)eff);
	return bad;
}

/* What the tests need, read from /proc (not through the code under test). */
static bool is_root_with_caps(void)
{
	uint64_t eff = 0;

	return !status_field("/proc/self/status", "CapEff", &eff) && (eff & MASK(CAP_SETPCAP)) &&
	       (eff & MASK(CAP_CHOWN)) && (eff & MASK(CAP_SETUID));
}

TEST(drop_keeps_only_what_was_asked)
{
	if (!is_root_with_caps())
		TEST_SKIP("needs root with CAP_SETPCAP, CAP_CHOWN, CAP_SETUID");
	ASSERT_EQ(in_child(drop_and_look), 0, "failed checks in the child");
}

TEST(exec_after_drop_gets_no_more)
{
	if (!is_root_with_caps())
		TEST_SKIP("needs root with CAP_SETPCAP");
	ASSERT_EQ(in_child(exec_gets_no_more), 0, "failed checks in the child");
}

TEST(keep_cannot_regain)
{
	if (!is_root_with_caps())
		TEST_SKIP("needs root with CAP_SETPCAP");
	ASSERT_EQ(in_child(keep_what_is_not_held), 0, "failed checks in the child");
}

TEST(bad_capability_number)
{
	int bk;

	ASSERT_EQ(xvip_caps_drop((const int[]){ 64 }, 1, &bk), -EINVAL, "64");
	ASSERT_EQ(xvip_caps_drop((const int[]){ -1 }, 1, &bk), -EINVAL, "-1");
}

TEST_MAIN(TEST_CASE(drop_keeps_only_what_was_asked), TEST_CASE(exec_after_drop_gets_no_more),
	  TEST_CASE(keep_cannot_regain), TEST_CASE(bad_capability_number))
