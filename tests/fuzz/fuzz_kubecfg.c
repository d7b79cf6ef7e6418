// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * libFuzzer target: the kubeconfig parser (libyaml document, current
 * context, cluster, user, base64 data) and the base64 decoder alone. The
 * input is handed over as a file, the way xvipd reads it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kubecfg.h"

#define CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "broken promise: %s\n", #cond);	\
			abort();					\
		}							\
	} while (0)

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xvip_kubecfg c;
	char err[512], *out;
	size_t outlen;

	if (!xvip_base64_decode((const char *)data, size, &out, &outlen)) {
		CHECK(out[outlen] == '\0' && outlen <= size);
		free(out);
	}
	if (fd < 0) {
		fd = memfd_create("kubeconfig", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	err[0] = '\0';
	if (xvip_kubecfg_load(&c, path, err, sizeof(err))) {
		CHECK(err[0]);
		return 0;
	}
	/* A loaded config names an https server and holds no half-decoded data. */
	CHECK(c.server && !strncmp(c.server, "https://", 8));
	CHECK(!c.ca_pem || c.ca_pem[c.ca_pem_len] == '\0');
	CHECK(!c.cert_pem || c.cert_pem[c.cert_pem_len] == '\0');
	CHECK(!c.key_pem || c.key_pem[c.key_pem_len] == '\0');
	xvip_kubecfg_free(&c);
	return 0;
}
