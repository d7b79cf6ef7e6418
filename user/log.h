/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* One logging module for xvipd and xvipctl; libbpf and libxdp output is routed here. */
#ifndef XVIP_LOG_H
#define XVIP_LOG_H

enum xvip_log_level {
	XVIP_LOG_ERR = 0,
	XVIP_LOG_WARN = 1,
	XVIP_LOG_INFO = 2,
	XVIP_LOG_DEBUG = 3,
};

void xvip_log_init(enum xvip_log_level level);
int xvip_log_parse_level(const char *s, enum xvip_log_level *level);
void xvip_log(enum xvip_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Route libbpf and libxdp messages into xvip_log, one level lower than they ask. */
void xvip_log_route_libs(void);

#define log_err(...)	xvip_log(XVIP_LOG_ERR, __VA_ARGS__)
#define log_warn(...)	xvip_log(XVIP_LOG_WARN, __VA_ARGS__)
#define log_info(...)	xvip_log(XVIP_LOG_INFO, __VA_ARGS__)
#define log_debug(...)	xvip_log(XVIP_LOG_DEBUG, __VA_ARGS__)

#endif
