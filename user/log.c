// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "log.h"

static enum xvip_log_level log_level = XVIP_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void xvip_log_init(enum xvip_log_level level)
{
	log_level = level;
}

int xvip_log_parse_level(const char *s, enum xvip_log_level *level)
{
	for (unsigned int i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcasecmp(s, level_names[i])) {
			*level = (enum xvip_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

static void vlog(enum xvip_log_level level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %-5s ", stamp, ts.tv_nsec / 1000000, level_names[level]);
	vfprintf(stderr, fmt, ap);
	if (!*fmt || fmt[strlen(fmt) - 1] != '\n')
		fputc('\n', stderr);
}

void xvip_log(enum xvip_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum xvip_log_level l = level == LIBBPF_WARN ? XVIP_LOG_INFO : XVIP_LOG_DEBUG;

	vlog(l, fmt, ap);
	return 0;
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	enum xvip_log_level l = level == LIBXDP_WARN ? XVIP_LOG_INFO : XVIP_LOG_DEBUG;

	vlog(l, fmt, ap);
	return 0;
}

void xvip_log_route_libs(void)
{
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}
