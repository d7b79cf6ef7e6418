/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * The pod-facing side of the node: xvip's tc program on every interface
 * that is neither lo nor an uplink, so that every pod's VIP traffic is
 * balanced (not delivered to the host, where the VIP is a local address)
 * and every endpoint's replies are translated. Interfaces appear as pods
 * start; xvipd calls this on every apply and on its timer.
 */
#ifndef XVIP_PODIF_H
#define XVIP_PODIF_H

#include <stddef.h>
#include "loader.h"

/* Attach where missing. Returns the number of attachments made, or -errno. */
int xvip_podif_sync(struct xvip_dp *dp, const int *uplinks, size_t nuplinks);

#endif
