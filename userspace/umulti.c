// SPDX-License-Identifier: GPL-2.0
/* uprobe_multi links through bpf() itself: see umulti.h. */
#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>

#include "umulti.h"

#define UPROBE_MULTI_RETURN 1 /* BPF_F_UPROBE_MULTI_RETURN */

/* BPF_LINK_CREATE's part of union bpf_attr for uprobe_multi: Debian 12's uapi header lacks it. */
struct link_create_uprobe_multi {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 multi_flags;
	__u32 pid;
	__u32 pad[5]; /* what follows in union bpf_attr: zero */
};

int umulti_attach(int prog_fd, pid_t pid, const char *path, const __u64 *offsets,
		  const __u64 *ref_ctr_offsets, int cnt, bool retprobe)
{
	struct link_create_uprobe_multi attr = {
		.prog_fd = prog_fd,
		.attach_type = ATTACH_UPROBE_MULTI,
		.path = (__u64)(unsigned long)path,
		.offsets = (__u64)(unsigned long)offsets,
		.ref_ctr_offsets = (__u64)(unsigned long)ref_ctr_offsets,
		.cnt = cnt,
		.multi_flags = retprobe ? UPROBE_MULTI_RETURN : 0,
		.pid = pid,
	};
	int fd = syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));

	return fd < 0 ? -errno : fd;
}

/*
 * A kernel that knows uprobe_multi loads a program of that attach type, and refuses a link to a
 * path that is not a regular file with EBADF; an older one refuses the program, or the link with
 * EINVAL.
 */
static bool probe_support(void)
{
	const struct bpf_insn insns[] = {
		{.code = 0xb7, .dst_reg = 0, .imm = 0}, /* r0 = 0 */
		{.code = 0x95},				/* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = ATTACH_UPROBE_MULTI);
	__u64 offset = 0;
	int prog, link;

	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "umulti_probe", "GPL", insns, 2, &opts);
	if (prog < 0)
		return false;
	link = umulti_attach(prog, 0, "/", &offset, NULL, 1, false);
	close(prog);
	if (link >= 0) {
		close(link);
		return true;
	}
	return link == -EBADF;
}

bool umulti_supported(void)
{
	static int supported = -1;

	if (supported < 0)
		supported = probe_support();
	return supported;
}
