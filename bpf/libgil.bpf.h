/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libgil: the gil:* USDT probes (runtime/gil_usdt.h), one program each.
 * Included by gilstat.bpf.c, after the GIL's state and its counting: one object, one skeleton.
 */
#ifndef GILSTAT_LIBGIL_BPF_H
#define GILSTAT_LIBGIL_BPF_H

/*
 * The first nr_args arguments of a gil:* probe. Straight from the saved registers when the
 * collector found them named in the notes: bpf_usdt_arg() costs a helper call per argument, more
 * than the rest of these handlers together. The registers are read all at once, every one a
 * load at a constant offset, the only form of context access the verifier takes.
 */
static __always_inline void probe_args(struct pt_regs *ctx, __u64 *args, int nr_args)
{
	if (targ_args_in_regs) {
		args[0] = PT_REGS_PARM1(ctx);
		args[1] = PT_REGS_PARM2(ctx);
		args[2] = PT_REGS_PARM3(ctx);
		args[3] = PT_REGS_PARM4(ctx);
		args[4] = PT_REGS_PARM5(ctx);
		return;
	}
	for (int i = 0; i < nr_args; i++) {
		long v = 0;

		bpf_usdt_arg(ctx, i, &v);
		args[i] = v;
	}
}

SEC("usdt")
int gil_wait_start(struct pt_regs *ctx)
{
	__u64 a[5];

	probe_args(ctx, a, 2);
	on_wait_start(a[0], a[1]);
	return 0;
}

SEC("usdt")
int gil_acquire(struct pt_regs *ctx)
{
	struct gil_state *st;
	__u64 a[5];

	probe_args(ctx, a, 5);
	st = on_acquire(bpf_get_current_pid_tgid(), a[0], a[1], a[2], a[3], a[4], NULL);
	if (targ_stacks)
		stacks_on_acquire(ctx, st, a[0], a[1], a[2], a[3], false);
	return 0;
}

SEC("usdt")
int gil_release(struct pt_regs *ctx)
{
	struct gil_state *st;
	__u64 a[5];

	probe_args(ctx, a, 4);
	st = on_release(bpf_get_current_pid_tgid(), a[0], a[1], a[2], a[3], NULL);
	if (targ_stacks)
		stacks_on_release(ctx, st, a[0], a[2], a[1], false);
	return 0;
}

#endif
