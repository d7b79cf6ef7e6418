/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * /healthz, /readyz and /metrics (Prometheus text format) over libmicrohttpd,
 * run from the daemon's poll loop (MHD's epoll fd; no thread of its own).
 */
#ifndef XVIP_METRICS_H
#define XVIP_METRICS_H

#include <stddef.h>
#include <sys/socket.h>
#include "status.h"

struct xvip_maps;
struct xvip_metrics;

struct xvip_metrics_src {
	const struct xvip_maps *maps;		/* packet counters */
	/* What xvipd reports; its snapshot names the service ports whose counters are shown. */
	void (*status)(void *ctx, struct xvip_status *st);
	void *ctx;
};

/* "HOST:PORT" or "[V6]:PORT", HOST an IP address. */
int xvip_metrics_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);
int xvip_metrics_start(struct xvip_metrics **mp, const char *addr,
		       const struct xvip_metrics_src *src);
/* Poll for POLLIN, then xvip_metrics_dispatch; call dispatch every few seconds too (timeouts). */
int xvip_metrics_fd(const struct xvip_metrics *m);
void xvip_metrics_dispatch(struct xvip_metrics *m);
void xvip_metrics_stop(struct xvip_metrics *m);
/* The /metrics page, malloc'd. */
int xvip_metrics_render(const struct xvip_metrics_src *src, char **buf, size_t *len);

#endif
