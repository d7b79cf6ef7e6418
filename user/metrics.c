// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <microhttpd.h>
#include <json-c/json.h>

#include "addr.h"
#include "kube.h"
#include "log.h"
#include "maps.h"
#include "frr.h"
#include "metrics.h"
#include "rcsnap.h"
#include "stats.h"

#define METRICS_CONN_LIMIT	16
#define METRICS_CONN_TIMEOUT_S	10

struct xvip_metrics {
	struct MHD_Daemon *d;
	struct xvip_metrics_src src;
	int fd;
};

int xvip_metrics_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *port;
	unsigned long p;
	char *end;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		port = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
		/* An IPv6 address needs its brackets, or the port is ambiguous. */
		if (hl >= sizeof(host) || memchr(s, ':', hl))
			return -EINVAL;
		memcpy(host, s, hl);
		port = colon + 1;
	}
	host[hl] = '\0';
	errno = 0;
	p = strtoul(port, &end, 10);
	if (errno || !*port || *end || p < 1 || p > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*s6);
		return 0;
	}
	return -EINVAL;
}

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int xvip_metrics_render(const struct xvip_metrics_src *src, char **buf, size_t *len)
{
	const struct xvip_rc_snapshot *rc;
	struct xvip_status st = {};
	struct xvip_counter c;
	char a[XVIP_ADDRSTRLEN];
	FILE *f;

	*buf = NULL;
	*len = 0;
	f = open_memstream(buf, len);
	if (!f)
		return -ENOMEM;
	src->status(src->ctx, &st);
	rc = st.snap;

	head(f, "xvip_packets_total", "counter",
	     "Packets by what the dataplane did with them (xvip_stats, all CPUs).");
	for (unsigned int i = 0; i < XVIP_STAT_MAX; i++) {
		const char *n = xvip_stat_name(i);

		if (n && !xvip_maps_counter(src->maps, src->maps->stats, i, &c))
			fprintf(f, "xvip_packets_total{counter=\"%s\"} %llu\n", n,
				(unsigned long long)c.packets);
	}
	head(f, "xvip_bytes_total", "counter", "Bytes by what the dataplane did with them.");
	for (unsigned int i = 0; i < XVIP_STAT_MAX; i++) {
		const char *n = xvip_stat_name(i);

		if (n && !xvip_maps_counter(src->maps, src->maps->stats, i, &c))
			fprintf(f, "xvip_bytes_total{counter=\"%s\"} %llu\n", n,
				(unsigned long long)c.bytes);
	}
	head(f, "xvip_service_packets_total", "counter",
	     "Packets balanced to each service port (xvip_svc_stats).");
	for (size_t i = 0; rc && i < rc->nsvcs; i++) {
		const struct xvip_snap_svc *s = &rc->svcs[i];

		if (xvip_maps_counter(src->maps, src->maps->svc_stats, s->id, &c))
			continue;
		fputs("xvip_service_packets_total{service=\"", f);
		label(f, s->name ? s->name : "");
		fprintf(f, "\",vip=\"%s\",port=\"%u\",proto=\"%s\"} %llu\n",
			xvip_addr_str(&s->key.vip, a, sizeof(a)), ntohs(s->key.port),
			xvip_proto_str(s->key.proto), (unsigned long long)c.packets);
	}

	head(f, "xvip_synced", "gauge",
	     "1 once a complete view of Services and EndpointSlices is programmed.");
	fprintf(f, "xvip_synced %d\n", st.synced);
	head(f, "xvip_applies_total", "counter", "Reconciliations of the maps and lo.");
	fprintf(f, "xvip_applies_total %llu\n", (unsigned long long)st.applies);
	head(f, "xvip_last_apply_timestamp_seconds", "gauge", "When the last one ran (Unix time).");
	fprintf(f, "xvip_last_apply_timestamp_seconds %lld\n", (long long)st.last_apply);
	head(f, "xvip_last_apply_errors", "gauge", "Entries the last reconciliation failed on.");
	fprintf(f, "xvip_last_apply_errors %d\n", st.last_apply_result < 0 ? 1 :
		st.last_apply_result);
	head(f, "xvip_service_ports", "gauge", "VIP:port/proto entries programmed.");
	fprintf(f, "xvip_service_ports %zu\n", st.service_ports);
	head(f, "xvip_vips", "gauge", "VIPs in the maps, and how many are on lo (advertised).");
	fprintf(f, "xvip_vips{state=\"programmed\"} %zu\n", st.vips);
	fprintf(f, "xvip_vips{state=\"advertised\"} %zu\n", st.vips_on_lo);
	head(f, "xvip_withdrawn", "gauge", "1 while every VIP is kept off lo (node drained).");
	fprintf(f, "xvip_withdrawn %d\n", st.withdraw_reason != NULL);
	head(f, "xvip_vip_advertised", "gauge",
	     "Per VIP: 1 while on lo (advertised), 0 otherwise; why says which and why not.");
	for (size_t i = 0; rc && i < rc->nvips; i++)
		fprintf(f, "xvip_vip_advertised{vip=\"%s\",why=\"%s\"} %d\n",
			xvip_addr_str(&rc->vips[i].addr, a, sizeof(a)),
			xvip_vip_why_str(rc->vips[i].why), rc->vips[i].advertised);
	if (st.frr_mode) {
		head(f, "xvip_dataplane_ok", "gauge",
		     "1 while XDP is on every uplink and the pins are in place (else every VIP is "
		     "withdrawn).");
		fprintf(f, "xvip_dataplane_ok %d\n", !st.dataplane_problem);
	}
	if (st.frr_sessions) {
		struct json_object *arr;

		head(f, "xvip_frr_up", "gauge", "1 while vtysh answers with FRR's session states.");
		fprintf(f, "xvip_frr_up %d\n",
			!json_object_object_get_ex(st.frr_sessions, "error", NULL));
		head(f, "xvip_frr_bgp_session_up", "gauge",
		     "Per BGP neighbor as FRR reports it: 1 while Established.");
		if (json_object_object_get_ex(st.frr_sessions, "bgp", &arr))
			for (size_t i = 0; i < json_object_array_length(arr); i++) {
				struct json_object *p = json_object_array_get_idx(arr, i), *x;
				const char *state = json_object_object_get_ex(p, "state", &x) ?
						    json_object_get_string(x) : "?";

				fputs("xvip_frr_bgp_session_up{neighbor=\"", f);
				label(f, json_object_object_get_ex(p, "neighbor", &x) ?
					 json_object_get_string(x) : "");
				fputs("\",hostname=\"", f);
				label(f, json_object_object_get_ex(p, "hostname", &x) ?
					 json_object_get_string(x) : "");
				fputs("\",state=\"", f);
				label(f, state);
				fprintf(f, "\"} %d\n", !strcmp(state, "Established"));
			}
		head(f, "xvip_frr_bfd_peer_up", "gauge",
		     "Per BFD peer as FRR reports it: 1 while up.");
		if (json_object_object_get_ex(st.frr_sessions, "bfd", &arr))
			for (size_t i = 0; i < json_object_array_length(arr); i++) {
				struct json_object *p = json_object_array_get_idx(arr, i), *x;
				const char *status = json_object_object_get_ex(p, "status", &x) ?
						     json_object_get_string(x) : "?";

				fputs("xvip_frr_bfd_peer_up{interface=\"", f);
				label(f, json_object_object_get_ex(p, "interface", &x) ?
					 json_object_get_string(x) : "");
				fputs("\",peer=\"", f);
				label(f, json_object_object_get_ex(p, "peer", &x) ?
					 json_object_get_string(x) : "");
				fprintf(f, "\"} %d\n", !strcmp(status, "up"));
			}
	}
	if (st.frr) {
		head(f, "xvip_frr_statements_readded_total", "counter",
		     "Times FRR had lost network statements xvipd added (bgpd restarts).");
		fprintf(f, "xvip_frr_statements_readded_total %u\n", xvip_frr_reapplied(st.frr));
	}
	if (st.kube) {
		head(f, "xvip_api_errors_total", "counter",
		     "Failed Kubernetes API requests and watch streams, by cause.");
		for (int i = 1; i < XVIP_KUBE_CAUSE_MAX; i++)
			fprintf(f, "xvip_api_errors_total{cause=\"%s\"} %llu\n",
				xvip_kube_cause_name((enum xvip_kube_cause)i),
				(unsigned long long)st.kube->errors[i]);
		head(f, "xvip_api_lists_total", "counter", "Complete lists (initial and relists).");
		for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
			fprintf(f, "xvip_api_lists_total{resource=\"%s\"} %llu\n",
				xvip_kube_res_name((enum xvip_kube_res)i),
				(unsigned long long)st.kube->lists[i]);
		head(f, "xvip_api_events_total", "counter", "Watch events applied to the cache.");
		for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
			fprintf(f, "xvip_api_events_total{resource=\"%s\"} %llu\n",
				xvip_kube_res_name((enum xvip_kube_res)i),
				(unsigned long long)st.kube->events[i]);
		head(f, "xvip_api_bookmarks_total", "counter",
		     "Watch BOOKMARKs (resourceVersion progress without a change).");
		for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
			fprintf(f, "xvip_api_bookmarks_total{resource=\"%s\"} %llu\n",
				xvip_kube_res_name((enum xvip_kube_res)i),
				(unsigned long long)st.kube->bookmarks[i]);
		head(f, "xvip_api_objects", "gauge", "Objects in the cache.");
		for (int i = 0; i < XVIP_KUBE_RES_MAX; i++)
			fprintf(f, "xvip_api_objects{resource=\"%s\"} %llu\n",
				xvip_kube_res_name((enum xvip_kube_res)i),
				(unsigned long long)st.kube->objects[i]);
	}
	if (fclose(f)) {
		free(*buf);
		*buf = NULL;
		return -ENOMEM;
	}
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, char *body,
			     size_t len, const char *type)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum MHD_Result text(struct MHD_Connection *conn, unsigned int code, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	return reply(conn, code, s, (size_t)n, "text/plain; charset=utf-8");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **req)
{
	struct xvip_metrics *m = cls;
	struct xvip_status st = {};
	size_t len;
	char *buf;

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
	if (!strcmp(url, "/healthz"))
		return text(conn, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/readyz")) {
		m->src.status(m->src.ctx, &st);
		if (st.synced)
			return text(conn, MHD_HTTP_OK, "ok: synced\n");
		return text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "not ready: the first complete sync is not programmed yet\n");
	}
	if (!strcmp(url, "/metrics")) {
		if (xvip_metrics_render(&m->src, &buf, &len))
			return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
		return reply(conn, MHD_HTTP_OK, buf, len, "text/plain; version=0.0.4");
	}
	return text(conn, MHD_HTTP_NOT_FOUND, "not found: /healthz, /readyz, /metrics\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("metrics http: %s", msg);
}

int xvip_metrics_start(struct xvip_metrics **mp, const char *addr,
		       const struct xvip_metrics_src *src)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	struct xvip_metrics *m;
	socklen_t slen;
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	*mp = NULL;
	if (xvip_metrics_parse_addr(addr, &ss, &slen))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->src = *src;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	m->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, m,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONN_LIMIT,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_CONN_TIMEOUT_S,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_END);
	if (!m->d) {
		int ret = errno ? -errno : -EADDRINUSE;

		free(m);
		return ret;
	}
	info = MHD_get_daemon_info(m->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		MHD_stop_daemon(m->d);
		free(m);
		return -EOPNOTSUPP;
	}
	m->fd = info->epoll_fd;
	*mp = m;
	return 0;
}

int xvip_metrics_fd(const struct xvip_metrics *m)
{
	return m->fd;
}

void xvip_metrics_dispatch(struct xvip_metrics *m)
{
	MHD_run(m->d);
}

void xvip_metrics_stop(struct xvip_metrics *m)
{
	if (!m)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
