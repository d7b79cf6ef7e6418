/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* Small helpers more than one module needs: error text, whole files, growing arrays. */
#ifndef XVIP_UTIL_H
#define XVIP_UTIL_H

#include <stddef.h>

/* vsnprintf into err, when there is one (err NULL or errlen 0: nothing). */
void xvip_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The whole file at path into a NUL-terminated malloc'd buffer (*lenp bytes
 * before the NUL). Works on pipes and /proc too: st_size is only a hint.
 * Returns 0, -EFBIG if it holds more than max bytes, -ENOMEM, or the -errno
 * of the step that failed, which *step names ("open", "stat" or "read") for
 * the caller's message; step may be NULL.
 */
int xvip_read_file(const char *path, size_t max, char **bufp, size_t *lenp, const char **step);

/* Make room for element n of *arr (capacity *cap, doubling from 8): 0 or -ENOMEM. */
int xvip_grow(void **arr, size_t *cap, size_t n, size_t size);

#endif
