// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Capabilities through the capget/capset syscalls and prctl (libcap is not
 * needed for this much).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "caps.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT			47
#define PR_CAP_AMBIENT_CLEAR_ALL	4
#endif

static const char *const cap_names[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
	"setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
	"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
	"sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
	"sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
	"audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};

static int caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };

	memset(d, 0, 2 * sizeof(*d));
	return syscall(SYS_capget, &h, d) ? -errno : 0;
}

int xvip_caps_effective(uint64_t *mask)
{
	struct __user_cap_data_struct d[2];
	int ret = caps_get(d);

	if (!ret)
		*mask = d[0].effective | (uint64_t)d[1].effective << 32;
	return ret;
}

const char *xvip_caps_str(uint64_t mask, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned int c = 0; c < 64 && off < len; c++) {
		if (!(mask & (1ULL << c)))
			continue;
		if (c < sizeof(cap_names) / sizeof(cap_names[0]))
			off += (size_t)snprintf(buf + off, len - off, "%scap_%s", off ? "," : "",
						cap_names[c]);
		else
			off += (size_t)snprintf(buf + off, len - off, "%scap_%u", off ? "," : "",
						c);
	}
	if (!mask)
		snprintf(buf, len, "none");
	return buf;
}

int xvip_caps_drop(const int *keep, size_t n, int *bounding_kept)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	uint64_t want = 0, prm;
	int ret;

	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0 || keep[i] >= XVIP_CAPS_MAX)
			return -EINVAL;
		want |= 1ULL << keep[i];
	}
	ret = caps_get(d);
	if (ret)
		return ret;
	prm = d[0].permitted | (uint64_t)d[1].permitted << 32;
	/*
	 * The bounding set first, while CAP_SETPCAP is still effective: it caps
	 * what any later execve can hand back (root's programs get the full set).
	 */
	*bounding_kept = !(d[0].effective & (1U << CAP_SETPCAP));
	for (int c = 0; !*bounding_kept && c < XVIP_CAPS_MAX; c++) {
		int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);

		if (r < 0)
			break;	/* past the kernel's last capability */
		if (r == 1 && !(want & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0))
			return -errno;
	}
	/* Ambient capabilities would survive an execve of a program without file caps. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	want &= prm;
	d[0].effective = d[0].permitted = (uint32_t)want;
	d[1].effective = d[1].permitted = (uint32_t)(want >> 32);
	d[0].inheritable = d[1].inheritable = 0;
	if (syscall(SYS_capset, &h, d))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
