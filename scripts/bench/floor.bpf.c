// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmarks' BPF side: an empty USDT program, whose cost per hit is the uprobe's alone; one
 * that counts its hits, for how many probes a piece of code fires; one that only fetches every
 * argument of the probe, as any USDT tracer must, for what that costs before any work is done.
 *
 * The UAPI pt_regs, not vmlinux.h's: without CO-RE relocations libbpf does not load the kernel's
 * BTF, which would cost more time and memory than everything else the loader does.
 */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
/* Brings the maps libbpf's USDT attach fills in, even though no argument is read. */
#include <bpf/usdt.bpf.h>

__u64 hits = 0;

SEC("usdt")
int empty(struct pt_regs *ctx)
{
	return 0;
}

SEC("usdt")
int count(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

/* Where the fetched arguments go, so that the fetches are not optimised away. */
__u64 args_sum = 0;

SEC("usdt")
int args(struct pt_regs *ctx)
{
	int nr_args = bpf_usdt_arg_cnt(ctx);
	__u64 sum = 0;
	long arg;

	for (int i = 0; i < BPF_USDT_MAX_ARG_CNT && i < nr_args; i++) {
		if (!bpf_usdt_arg(ctx, i, &arg))
			sum += arg;
	}
	args_sum = sum;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
