// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * API server configuration: in-cluster or a kubeconfig's current context.
 * The kubeconfig is read with libyaml's document loader (anchors, flow and
 * block styles, quoting all handled there); this file only walks the tree.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "kubecfg.h"
#include "util.h"

#define KUBECFG_MAX	(4u << 20)	/* a kubeconfig with embedded certs is a few KiB */
#define TOKEN_MAX	(64u << 10)

int xvip_base64_decode(const char *in, size_t len, char **out, size_t *outlen)
{
	uint32_t acc = 0;
	size_t n = 0, bits = 0, pad = 0;
	char *buf = malloc(len / 4 * 3 + 4);

	*out = NULL;
	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		if (pad)
			goto bad;	/* data after padding */
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+')
			v = 62;
		else if (c == '/')
			v = 63;
		else
			goto bad;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* Leftover bits must be zero padding of a 2- or 3-character final group. */
	if (bits >= 6 || pad > 2 || (acc & ((1u << bits) - 1)))
		goto bad;
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
bad:
	free(buf);
	return -EINVAL;
}

void xvip_kubecfg_free(struct xvip_kubecfg *c)
{
	free(c->origin);
	free(c->server);
	free(c->ca_file);
	free(c->ca_pem);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_pem);
	free(c->key_pem);
	if (c->token)
		explicit_bzero(c->token, strlen(c->token));
	free(c->token);
	free(c->token_file);
	memset(c, 0, sizeof(*c));
}

int xvip_kubecfg_in_cluster(struct xvip_kubecfg *c, const char *sa_dir, char *err, size_t errlen)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	bool v6;

	memset(c, 0, sizeof(*c));
	if (!sa_dir)
		sa_dir = XVIP_SA_DIR;
	if (!host || !*host || !port || !*port) {
		xvip_set_err(err, errlen, "in-cluster config: KUBERNETES_SERVICE_HOST and "
			     "KUBERNETES_SERVICE_PORT are not set (not running in a pod? use "
			     "--kubeconfig or --services-file)");
		return -ENOENT;
	}
	v6 = strchr(host, ':') != NULL;
	c->origin = strdup("in-cluster");
	if (asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
		     port) < 0)
		c->server = NULL;
	if (asprintf(&c->token_file, "%s/token", sa_dir) < 0)
		c->token_file = NULL;
	if (asprintf(&c->ca_file, "%s/ca.crt", sa_dir) < 0)
		c->ca_file = NULL;
	if (!c->origin || !c->server || !c->token_file || !c->ca_file) {
		xvip_kubecfg_free(c);
		xvip_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (access(c->ca_file, R_OK) || access(c->token_file, R_OK)) {
		int ret = -errno;

		xvip_set_err(err, errlen, "in-cluster config: %s: %s", access(c->ca_file, R_OK) ?
			     c->ca_file : c->token_file, strerror(-ret));
		xvip_kubecfg_free(c);
		return ret;
	}
	return 0;
}

/* ---- kubeconfig */

struct kc {
	yaml_document_t doc;
	const char *path;
	char *dir;		/* for relative paths */
	char *err;
	size_t errlen;
};

static int kc_err(struct kc *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int kc_err(struct kc *k, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	xvip_set_err(k->err, k->errlen, "kubeconfig %s: %s", k->path, msg);
	return -EINVAL;
}

static yaml_node_t *map_get(struct kc *k, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(&k->doc, p->key);

		if (kn && kn->type == YAML_SCALAR_NODE &&
		    !strcmp((const char *)kn->data.scalar.value, key))
			return yaml_document_get_node(&k->doc, p->value);
	}
	return NULL;
}

/* map[key] as a string; NULL if absent or empty. *bad set when present but not a scalar. */
static const char *map_str(struct kc *k, yaml_node_t *map, const char *key, const char *where,
			   int *ret)
{
	yaml_node_t *v = map_get(k, map, key);

	if (!v)
		return NULL;
	if (v->type != YAML_SCALAR_NODE) {
		*ret = kc_err(k, "%s.%s: expected a string", where, key);
		return NULL;
	}
	if (!v->data.scalar.length)
		return NULL;
	return (const char *)v->data.scalar.value;
}

/* The element of seq (clusters, users, contexts) whose name is name; its `field` mapping. */
static yaml_node_t *named(struct kc *k, yaml_node_t *root, const char *seqname, const char *name,
			  const char *field, int *ret)
{
	yaml_node_t *seq = map_get(k, root, seqname);

	if (!seq || seq->type != YAML_SEQUENCE_NODE) {
		*ret = kc_err(k, "%s: missing or not a list", seqname);
		return NULL;
	}
	for (yaml_node_item_t *i = seq->data.sequence.items.start;
	     i < seq->data.sequence.items.top; i++) {
		yaml_node_t *e = yaml_document_get_node(&k->doc, *i);
		yaml_node_t *n = map_get(k, e, "name"), *f;

		if (!n || n->type != YAML_SCALAR_NODE ||
		    strcmp((const char *)n->data.scalar.value, name))
			continue;
		f = map_get(k, e, field);
		if (!f || f->type != YAML_MAPPING_NODE) {
			*ret = kc_err(k, "%s[%s].%s: missing or not a mapping", seqname, name,
				      field);
			return NULL;
		}
		return f;
	}
	*ret = kc_err(k, "%s: no entry named \"%s\"", seqname, name);
	return NULL;
}

static int kc_path(struct kc *k, const char *p, char **out)
{
	int n;

	if (p[0] == '/')
		n = asprintf(out, "%s", p);
	else
		n = asprintf(out, "%s/%s", k->dir, p);
	if (n < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int kc_data(struct kc *k, const char *b64, const char *where, char **out, size_t *len)
{
	int ret = xvip_base64_decode(b64, strlen(b64), out, len);

	if (ret == -EINVAL)
		return kc_err(k, "%s: not valid base64", where);
	return ret;
}

static bool is_true(const char *s)
{
	return s && (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"));
}

static int kc_cluster(struct kc *k, struct xvip_kubecfg *c, yaml_node_t *cl, const char *name)
{
	char where[300];
	const char *s;
	int ret = 0;

	snprintf(where, sizeof(where), "clusters[%s].cluster", name);
	s = map_str(k, cl, "server", where, &ret);
	if (ret)
		return ret;
	if (!s)
		return kc_err(k, "%s.server: missing", where);
	if (strncmp(s, "https://", 8))
		return kc_err(k, "%s.server: \"%s\" is not an https:// URL", where, s);
	if (!s[8] || s[8] == '/')
		return kc_err(k, "%s.server: \"%s\" names no host", where, s);
	c->server = strdup(s);
	if (!c->server)
		return -ENOMEM;
	while (c->server[strlen(c->server) - 1] == '/')
		c->server[strlen(c->server) - 1] = '\0';
	if (is_true(map_str(k, cl, "insecure-skip-tls-verify", where, &ret)))
		return kc_err(k, "%s.insecure-skip-tls-verify: not supported, the API server's "
			      "certificate is always verified", where);
	if (map_str(k, cl, "tls-server-name", where, &ret))
		return kc_err(k, "%s.tls-server-name: not supported", where);
	s = map_str(k, cl, "certificate-authority-data", where, &ret);
	if (ret)
		return ret;
	if (s) {
		char w[360];

		snprintf(w, sizeof(w), "%s.certificate-authority-data", where);
		return kc_data(k, s, w, &c->ca_pem, &c->ca_pem_len);
	}
	s = map_str(k, cl, "certificate-authority", where, &ret);
	if (ret)
		return ret;
	if (s)
		return kc_path(k, s, &c->ca_file);
	/* No CA: the system trust store, as kubectl does (a public CA signed the server). */
	return 0;
}

static int kc_user(struct kc *k, struct xvip_kubecfg *c, yaml_node_t *u, const char *name)
{
	char where[300], w[340];
	const char *s;
	int ret = 0;

	snprintf(where, sizeof(where), "users[%s].user", name);
	if (map_get(k, u, "exec") || map_get(k, u, "auth-provider"))
		return kc_err(k, "%s: exec and auth-provider credential plugins are not "
			      "supported; use a token, tokenFile or client certificate", where);
	s = map_str(k, u, "client-certificate-data", where, &ret);
	if (!ret && s) {
		snprintf(w, sizeof(w), "%s.client-certificate-data", where);
		ret = kc_data(k, s, w, &c->cert_pem, &c->cert_pem_len);
	} else if (!ret && (s = map_str(k, u, "client-certificate", where, &ret))) {
		ret = kc_path(k, s, &c->cert_file);
	}
	if (ret)
		return ret;
	s = map_str(k, u, "client-key-data", where, &ret);
	if (!ret && s) {
		snprintf(w, sizeof(w), "%s.client-key-data", where);
		ret = kc_data(k, s, w, &c->key_pem, &c->key_pem_len);
	} else if (!ret && (s = map_str(k, u, "client-key", where, &ret))) {
		ret = kc_path(k, s, &c->key_file);
	}
	if (ret)
		return ret;
	if ((c->cert_pem || c->cert_file) != (c->key_pem || c->key_file))
		return kc_err(k, "%s: a client certificate needs its key and the key its "
			      "certificate", where);
	s = map_str(k, u, "token", where, &ret);
	if (!ret && s) {
		c->token = strdup(s);
		if (!c->token)
			return -ENOMEM;
	} else if (!ret && (s = map_str(k, u, "tokenFile", where, &ret))) {
		ret = kc_path(k, s, &c->token_file);
	}
	if (ret)
		return ret;
	if (map_get(k, u, "username") || map_get(k, u, "password"))
		return kc_err(k, "%s: basic authentication is not supported", where);
	return 0;
}

int xvip_kubecfg_load(struct xvip_kubecfg *c, const char *path, char *err, size_t errlen)
{
	struct kc k = { .path = path, .err = err, .errlen = errlen };
	yaml_node_t *root, *ctx, *cl, *u;
	yaml_parser_t parser;
	const char *cur, *cluster, *user;
	char *buf = NULL, *slash;
	bool loaded = false;
	size_t len = 0;
	int ret = 0;

	memset(c, 0, sizeof(*c));
	ret = xvip_read_file(path, KUBECFG_MAX, &buf, &len, NULL);
	if (ret) {
		xvip_set_err(err, errlen, "kubeconfig %s: %s", path, strerror(-ret));
		return ret;
	}
	k.dir = strdup(path);
	c->origin = strdup(path);
	if (!k.dir || !c->origin) {
		ret = -ENOMEM;
		goto out;
	}
	slash = strrchr(k.dir, '/');
	if (slash)
		*(slash == k.dir ? slash + 1 : slash) = '\0';
	else
		strcpy(k.dir, ".");

	if (!yaml_parser_initialize(&parser)) {
		ret = -ENOMEM;
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &k.doc)) {
		ret = kc_err(&k, "YAML error at line %zu: %s", parser.problem_mark.line + 1,
			     parser.problem ? parser.problem : "unknown");
		yaml_parser_delete(&parser);
		goto out;
	}
	yaml_parser_delete(&parser);
	loaded = true;
	root = yaml_document_get_root_node(&k.doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		ret = kc_err(&k, "top level: expected a mapping");
		goto out;
	}
	cur = map_str(&k, root, "current-context", "top level", &ret);
	if (ret)
		goto out;
	if (!cur) {
		ret = kc_err(&k, "current-context: missing");
		goto out;
	}
	ctx = named(&k, root, "contexts", cur, "context", &ret);
	if (!ctx)
		goto out;
	cluster = map_str(&k, ctx, "cluster", "contexts[].context", &ret);
	user = map_str(&k, ctx, "user", "contexts[].context", &ret);
	if (ret)
		goto out;
	if (!cluster) {
		ret = kc_err(&k, "contexts[%s].context.cluster: missing", cur);
		goto out;
	}
	cl = named(&k, root, "clusters", cluster, "cluster", &ret);
	if (!cl)
		goto out;
	ret = kc_cluster(&k, c, cl, cluster);
	if (ret || !user)
		goto out;
	u = named(&k, root, "users", user, "user", &ret);
	if (!u)
		goto out;
	ret = kc_user(&k, c, u, user);
out:
	if (ret == -ENOMEM)
		xvip_set_err(err, errlen, "kubeconfig %s: out of memory", path);
	if (loaded)
		yaml_document_delete(&k.doc);
	free(k.dir);
	if (buf)
		explicit_bzero(buf, len);	/* it may hold a token or a key */
	free(buf);
	if (ret)
		xvip_kubecfg_free(c);
	return ret;
}

int xvip_kubecfg_token(const struct xvip_kubecfg *c, char **tok, char *err, size_t errlen)
{
	size_t len;
	char *t;
	int ret;

	*tok = NULL;
	if (c->token) {
		*tok = strdup(c->token);
		return *tok ? 0 : -ENOMEM;
	}
	if (!c->token_file)
		return 0;
	ret = xvip_read_file(c->token_file, TOKEN_MAX, &t, &len, NULL);
	if (ret) {
		xvip_set_err(err, errlen, "token file %s: %s", c->token_file, strerror(-ret));
		return ret;
	}
	while (len && strchr(" \t\r\n", t[len - 1]))
		t[--len] = '\0';
	/* A header cannot carry a line break: a file with one is not a token. */
	if (!len || strpbrk(t, "\r\n")) {
		explicit_bzero(t, len);
		free(t);
		xvip_set_err(err, errlen, "token file %s: empty or not a single line",
			     c->token_file);
		return -EINVAL;
	}
	*tok = t;
	return 0;
}
