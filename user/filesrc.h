/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The services file as a source: read whole, translated (model.h) and handed
 * to apply() when its content changed; its directory is watched, so editors'
 * and ConfigMap volumes' rename-replace is seen. Run from the daemon's poll
 * loop like the API source (kube.h): poll the fd, then dispatch.
 */
#ifndef XVIP_FILESRC_H
#define XVIP_FILESRC_H

#include <stdbool.h>
#include <stdint.h>
#include "model.h"

struct xvip_filesrc {
	const char *path;
	const struct xvip_model_opts *mo;
	/* A complete model of the file, what names its origin in messages. */
	void (*apply)(void *ctx, const struct xvip_model *m, const char *what);
	void *ctx;
	int fd;		       /* inotify, on the file's directory */
	uint64_t applied_hash; /* of the content last applied (or refused) */
};

int xvip_filesrc_init(struct xvip_filesrc *fs, const char *path, const struct xvip_model_opts *mo,
		      void (*apply)(void *ctx, const struct xvip_model *m, const char *what),
		      void *ctx);
void xvip_filesrc_fini(struct xvip_filesrc *fs);
int xvip_filesrc_fd(const struct xvip_filesrc *fs);
/* The fd is readable: read the file again if an event is about it. */
void xvip_filesrc_dispatch(struct xvip_filesrc *fs);
/* force: apply even when the content did not change (SIGHUP, retries). */
void xvip_filesrc_sync(struct xvip_filesrc *fs, bool force);

#endif
