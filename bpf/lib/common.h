/* SPDX-License-Identifier: GPL-2.0 */
#ifndef XVIP_BPF_COMMON_H
#define XVIP_BPF_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
/* linux/icmp.h wants only IFNAMSIZ from linux/if.h, which includes glibc's <sys/socket.h>
 * outside the kernel: BPF objects are built without glibc (see the Makefile). */
#define _LINUX_IF_H
#define IFNAMSIZ 16
#include <linux/icmp.h>
#include <stdbool.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define XVIP_INLINE static __always_inline

#include "xvip.h"
#include "xvip_hash.h"

#ifndef offsetof
#define offsetof(t, m) __builtin_offsetof(t, m)
#endif

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define NSEC_PER_SEC	1000000000ULL

#endif
