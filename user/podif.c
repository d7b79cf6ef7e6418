// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>

#include "podif.h"
#include "log.h"

static bool is_uplink(int ifindex, const int *uplinks, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (uplinks[i] == ifindex)
			return true;
	return false;
}

int xvip_podif_sync(struct xvip_dp *dp, const int *uplinks, size_t nuplinks)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int attached = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		int ifindex = (int)i->if_index;

		if (!strcmp(i->if_name, "lo") || is_uplink(ifindex, uplinks, nuplinks))
			continue;
		if (xvip_dp_tc_is_ours(dp, ifindex))
			continue;
		/* Interfaces come and go with pods: a failure here is retried next time. */
		if (!xvip_dp_attach_tc(dp, ifindex))
			attached++;
	}
	if_freenameindex(ifs);
	return attached;
}
