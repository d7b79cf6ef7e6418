/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * Loading the real dataplane for a test binary, the same way everywhere:
 * only a missing privilege is a reason to skip. A program the verifier
 * rejects, or maps that will not pin, is a failure of the test that loads.
 */
#ifndef XVIP_TEST_DPTEST_H
#define XVIP_TEST_DPTEST_H

#include <errno.h>
#include <unistd.h>
#include "test.h"
#include "loader.h"

/*
 * Load into pin_dir. Returns NULL when loaded; otherwise why not, having
 * marked the current test failed unless the reason is a missing privilege.
 */
static inline const char *dptest_load(struct xvip_dp *dp, const char *pin_dir, uint32_t ct_size)
{
	struct xvip_dp_opts o = { .pin_dir = pin_dir, .ct_size = ct_size };
	int ret = xvip_dp_load(dp, &o);

	if (!ret)
		return NULL;
	if (ret == -EPERM && geteuid() != 0)
		return "bpf() not permitted (needs root/CAP_BPF)";
	TEST_FAIL("load the BPF objects into %s: %s (%d)", pin_dir, strerror(-ret), ret);
	return "cannot load the BPF objects (see log)";
}

#endif
