/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * What the benchmarks share: a monotonic clock in seconds, a qsort order for
 * doubles, and shell commands whose @GEN@, @NODE@ and @POD@ name this run's
 * network namespaces (BENCH_PFX<pid>-gen, -node, -pod), so concurrent and
 * killed runs never touch each other's. Define BENCH_PFX and BENCH_NAME
 * before including.
 */
#ifndef XVIP_TESTS_BENCH_H
#define XVIP_TESTS_BENCH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* in with @GEN@, @NODE@, @POD@ replaced by this run's namespace names. */
static inline void expand(const char *in, char *out, size_t len)
{
	static const char *const tok[] = { "@GEN@", "@NODE@", "@POD@" };
	static const char *const sfx[] = { "gen", "node", "pod" };
	size_t o = 0;

	while (*in && o + 1 < len) {
		int t = -1;

		for (int i = 0; i < 3 && t < 0; i++)
			if (!strncmp(in, tok[i], strlen(tok[i])))
				t = i;
		if (t < 0) {
			out[o++] = *in++;
			continue;
		}
		o += (size_t)snprintf(out + o, len - o, BENCH_PFX "%d-%s", getpid(), sfx[t]);
		in += strlen(tok[t]);
		if (o >= len)
			o = len - 1;
	}
	out[o] = '\0';
}

/* A shell command (expanded); 0, or -1 with the command on stderr. */
static inline int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline int sh(const char *fmt, ...)
{
	char raw[4096], cmd[4600];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	expand(raw, cmd, sizeof(cmd));
	ret = system(cmd);
	if (ret)
		fprintf(stderr, BENCH_NAME ": `%s` failed (%d)\n", cmd, ret);
	return ret ? -1 : 0;
}

#endif
