/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
#ifndef XVIP_STATS_H
#define XVIP_STATS_H

/* Stable name of an enum xvip_stat index ("pass", "drop_unserved", ...), or NULL if unused. */
const char *xvip_stat_name(unsigned int idx);
const char *xvip_be_state_name(unsigned int state);

#endif
