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
	[XVIP_STAT_FRAG] = "fragment_followed_first",
	[XVIP_STAT_FRAG_EARLY] = "fragment_before_first",
	[XVIP_STAT_ICMP_XLATE] = "icmp_error_translated",
	[XVIP_STAT_HAIRPIN] = "hairpin",
	[XVIP_STAT_AFFINITY] = "session_affinity_hit",
	[XVIP_STAT_SOCK_CONNECT] = "sock_connect_balanced",
	[XVIP_STAT_SOCK_SENDMSG] = "sock_sendmsg_balanced",
	[XVIP_STAT_SOCK_REVERSE] = "sock_peer_shown_as_vip",
	[XVIP_STAT_SOCK_REV_FAIL] = "sock_rev_insert_failed",
	[XVIP_DROP_UNSERVED] = "drop_unserved_port",
	[XVIP_DROP_NO_BACKEND] = "drop_no_backend",
	[XVIP_DROP_NO_TABLE] = "drop_no_table",
	[XVIP_DROP_FRAGMENT] = "drop_fragment_unplaceable",
	[XVIP_DROP_TRUNCATED] = "drop_truncated",
	[XVIP_DROP_BAD_IP] = "drop_bad_ip_header",
	[XVIP_DROP_PROTO] = "drop_protocol",
	[XVIP_DROP_SCTP_PORT] = "drop_sctp_port_change",
	[XVIP_DROP_SRC_RANGE] = "drop_source_range",
	[XVIP_DROP_EXT_HDRS] = "drop_ipv6_ext_headers",
	[XVIP_DROP_ICMP_UNKNOWN] = "drop_icmp_error_unknown_flow",
	[XVIP_DROP_FWD] = "drop_pod_to_vip_unforwardable",
	[XVIP_DROP_SOCK_UNSERVED] = "drop_sock_unserved_port",
	[XVIP_DROP_SOCK_NO_BACKEND] = "drop_sock_no_backend",
	[XVIP_DROP_SOCK_FAMILY] = "drop_sock_family",
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
