/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Where the API server is and how to authenticate to it: in-cluster (the
 * service account's token and CA, KUBERNETES_SERVICE_HOST/PORT) or a
 * kubeconfig file (libyaml). The token is held here and handed to the client
 * per request; it is never logged.
 */
#ifndef XVIP_KUBECFG_H
#define XVIP_KUBECFG_H

#include <stddef.h>

#define XVIP_SA_DIR	"/var/run/secrets/kubernetes.io/serviceaccount"

struct xvip_kubecfg {
	char *origin;		/* "in-cluster" or the kubeconfig path, for messages */
	char *server;		/* https://host[:port][/prefix], no trailing slash */
	/* The cluster CA: a file, or PEM bytes (certificate-authority-data). */
	char *ca_file;
	char *ca_pem;
	size_t ca_pem_len;
	/* Client certificate and key: files, or PEM bytes (...-data). */
	char *cert_file, *key_file;
	char *cert_pem, *key_pem;
	size_t cert_pem_len, key_pem_len;
	/* Bearer token: fixed, or a file re-read on every request (rotation). */
	char *token;
	char *token_file;
};

/*
 * In-cluster: server from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT,
 * token and CA from sa_dir (XVIP_SA_DIR when NULL). Errors name what is missing.
 */
int xvip_kubecfg_in_cluster(struct xvip_kubecfg *c, const char *sa_dir, char *err, size_t errlen);
/* The current context of a kubeconfig file; relative paths are relative to the file. */
int xvip_kubecfg_load(struct xvip_kubecfg *c, const char *path, char *err, size_t errlen);
void xvip_kubecfg_free(struct xvip_kubecfg *c);
/*
 * The bearer token for the next request into *tok (malloc'd, NULL when the
 * config has none). A token file is read again each time, so a rotated token
 * is picked up without a restart.
 */
int xvip_kubecfg_token(const struct xvip_kubecfg *c, char **tok, char *err, size_t errlen);
/* RFC 4648 base64 (whitespace ignored) into a malloc'd, NUL-terminated buffer. */
int xvip_base64_decode(const char *in, size_t len, char **out, size_t *outlen);

#endif
