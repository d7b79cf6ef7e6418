// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
#include <stddef.h>
#include "xvip.h"
#include "stats.h"

static const char *const stat_names[XVIP_STAT_MAX] = {
	[XVIP_STAT_PASS] = "pass",
	[XVIP_STAT_LB_NEW] = "lb_new_flow",
	[XVIP_STAT_LB_CT] = "lb_conntrack_hit",
	[XVIP_STAT_RNAT] = "reply_reverse_nat",
	[XVIP_STAT_VIP_ICMP] = "vip_icmp_passed",
	[XVIP_STAT_UNPARSED] = "unparsed_passed",
	[XVIP_STAT_CT_FAIL] = "conntrack_insert_failed",
	[XVIP_DROP_UNSERVED] = "drop_unserved_port",
	[XVIP_DROP_NO_BACKEND] = "drop_no_backend",
	[XVIP_DROP_NO_TABLE] = "drop_no_table",
	[XVIP_DROP_FRAGMENT] = "drop_fragment",
	[XVIP_DROP_TRUNCATED] = "drop_truncated",
	[XVIP_DROP_BAD_IP] = "drop_bad_ip_header",
	[XVIP_DROP_PROTO] = "drop_protocol",
	[XVIP_DROP_SCTP_PORT] = "drop_sctp_port_change",
};

const char *xvip_stat_name(unsigned int idx)
{
	return idx < XVIP_STAT_MAX ? stat_names[idx] : NULL;
}

const char *xvip_be_state_name(unsigned int state)
{
	switch (state) {
	case XVIP_BE_READY:
		return "ready";
	case XVIP_BE_SERVING:
		return "serving";
	case XVIP_BE_DRAINING:
		return "draining";
	default:
		return "unused";
	}
}
