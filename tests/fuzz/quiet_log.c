// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The fuzz targets' stand-in for user/log.c: messages are formatted (so the
 * sanitizers see every format string and its arguments) and dropped, and
 * libbpf is not linked in.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <errno.h>

#include "log.h"

void xvip_log_init(enum xvip_log_level level)
{
	(void)level;
}

int xvip_log_parse_level(const char *s, enum xvip_log_level *level)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (unsigned int i = 0; i < 4; i++) {
		if (!strcasecmp(s, names[i])) {
			*level = (enum xvip_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void xvip_log(enum xvip_log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
}

void xvip_log_route_libs(void)
{
}
