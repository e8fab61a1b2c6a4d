/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The USDT probe contract of libgil, provider "gil". Shared by the runtime that fires the probes
 * and the BPF programs that read them, so it holds only plain #defines.
 *
 * Every probe's first argument is the address of the struct gil. Times are CLOCK_MONOTONIC
 * nanoseconds, the clock bpf_ktime_get_ns() reads; a time is 0 when no tracer was attached at the
 * moment it would have been read. An argument never changes meaning: a new meaning gets a new
 * probe name.
 *
 *   gil:acquire(gil, request_ns, acquired_ns, flags, drop_requests)
 *	The thread now holds the GIL. request_ns: when it asked for it; acquired_ns: when it got
 *	it; flags: GIL_ACQ_*; drop_requests: how many drop requests this thread raised while
 *	waiting.
 *   gil:release(gil, acquired_ns, released_ns, flags)
 *	The thread no longer holds the GIL. flags: GIL_REL_*.
 *   gil:wait__start(gil, request_ns)
 *	The GIL was held by another thread, so the caller is about to block. Only contended
 *	acquisitions fire it: an uncontended acquire+release cycle is two probe hits.
 *
 * On x86-64 every argument is 8 bytes wide and in the register that carries the argument of the
 * same position in a function call; the notes then spell the arguments as GIL_USDT_ARGS_IN_REGS
 * begins, and a tracer that finds them so may read the saved registers instead of decoding them.
 */
#ifndef GIL_USDT_H
#define GIL_USDT_H

#define GIL_USDT_PROVIDER "gil"
/* The arguments of a probe whose argument N is in the Nth call register, as its note spells them. */
#define GIL_USDT_ARGS_IN_REGS "8@%rdi 8@%rsi 8@%rdx 8@%rcx 8@%r8"

/* gil:acquire flags */
#define GIL_ACQ_SWITCH 0x1 /* the holder changed: CPython's switch_number moved */
#define GIL_ACQ_FORCED 0x2 /* ...and the previous holder released on a drop request */
#define GIL_ACQ_WAITED 0x4 /* the GIL was held when this thread asked (it fired wait__start) */

/* gil:release flags */
#define GIL_REL_REQUESTED 0x1 /* a drop request was pending: the release was asked for */

#endif /* GIL_USDT_H */
