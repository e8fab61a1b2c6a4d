/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libgil's private machinery, included by gil.c alone: the USDT probe sites and their semaphores
 * (the contract they keep is runtime/gil_usdt.h), and the marks that tell valgrind's race detectors
 * which atomic fields are read without a lock by design. It defines the semaphores, so no other
 * file may include it.
 *
 *   GIL_PROBE_ENABLED(name)           a tracer holds the probe's semaphore
 *   GIL_PROBE2/4/5(name, args...)     fire gil:name
 *   __start/__stop_gil_probe_sites    every site's address, for unpatch_probe_sites()
 *   GIL_UNCHECKED(field, on)          hide an atomic field from drd and helgrind, or show it again
 *
 * GIL_NO_PROBES compiles the probes out (the benchmark's baseline); GIL_SDT_DEFAULT_ARGS keeps
 * sys/sdt.h's own argument placement (the tests' build of a tracer's general path).
 */
#ifndef GIL_PROBES_H
#define GIL_PROBES_H

#include <stdint.h>

#ifndef GIL_NO_PROBES
#define _SDT_HAS_SEMAPHORES 1
/*
 * GIL_SDT_DEFAULT_ARGS leaves the arguments where the compiler likes, as plain sys/sdt.h does: the
 * build the tests use to exercise a tracer's general path.
 */
#if defined(__x86_64__) && !defined(GIL_SDT_DEFAULT_ARGS)
#define GIL_ARGS_IN_REGS 1
/* Every argument in a register: the probe macros below choose which. */
#define STAP_SDT_ARG_CONSTRAINT r
#endif
#include <sys/sdt.h>
/*
 * sys/sdt.h emits a 1-byte nop, on which every hit is an int3 trap. The kernel optimises uprobes
 * on the 5-byte nopl 0x0(%rax,%rax,1) into a jump, 3-4 times cheaper per hit. _SDT_NOP is expanded
 * only when a probe is used, so redefining it here changes every site. It names an assembler
 * macro because sys/sdt.h stringifies it, where a ',' would split the macro argument. The macro
 * also records each site's address in the section gil_probe_sites, for unpatch_probe_sites().
 */
__asm__(".macro gil_probe_nop5\n"
	"991:\t.byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n"
	"\t.pushsection gil_probe_sites, \"aw\"\n"
	"\t.balign 8\n"
	"\t.quad 991b\n"
	"\t.popsection\n"
	".endm");
#undef _SDT_NOP
#define _SDT_NOP gil_probe_nop5
extern const uintptr_t __start_gil_probe_sites[] __attribute__((visibility("hidden")));
extern const uintptr_t __stop_gil_probe_sites[] __attribute__((visibility("hidden")));

/*
 * The semaphores a tracer increments when it attaches; tracers find them through the notes, so
 * they stay hidden and a check is one PC-relative load.
 */
#define GIL_SEMAPHORE(name)                                                                        \
	__attribute__((section(".probes"), used, visibility("hidden"))) volatile unsigned short gil_##name##_semaphore
GIL_SEMAPHORE(acquire);
GIL_SEMAPHORE(release);
GIL_SEMAPHORE(wait__start);

#define GIL_PROBE_ENABLED(name) __builtin_expect(gil_##name##_semaphore != 0, 0)
#ifdef GIL_ARGS_IN_REGS
/*
 * Argument N is in the register that carries argument N of a function call (rdi, rsi, rdx, rcx,
 * r8) and is 8 bytes wide, as the notes then say (GIL_USDT_ARGS_IN_REGS). A tracer that has checked
 * the notes reads the saved registers directly: libbpf's bpf_usdt_arg() costs a helper call per
 * argument, more than the rest of gilstat's handlers together. Untraced, the moves cost nothing
 * measurable: make bench times the detached cycle at the cost of one with the probes compiled out.
 */
#define GIL_ARG(n, reg, v) register uint64_t gil_arg##n __asm__(reg) = (uint64_t)(v)
#define GIL_PROBE2(name, a, b)                                                                     \
	do {                                                                                       \
		GIL_ARG(1, "rdi", a);                                                              \
		GIL_ARG(2, "rsi", b);                                                              \
		STAP_PROBE2(gil, name, gil_arg1, gil_arg2);                                        \
	} while (0)
#define GIL_PROBE4(name, a, b, c, d)                                                               \
	do {                                                                                       \
		GIL_ARG(1, "rdi", a);                                                              \
		GIL_ARG(2, "rsi", b);                                                              \
		GIL_ARG(3, "rdx", c);                                                              \
		GIL_ARG(4, "rcx", d);                                                              \
		STAP_PROBE4(gil, name, gil_arg1, gil_arg2, gil_arg3, gil_arg4);                    \
	} while (0)
#define GIL_PROBE5(name, a, b, c, d, e)                                                            \
	do {                                                                                       \
		GIL_ARG(1, "rdi", a);                                                              \
		GIL_ARG(2, "rsi", b);                                                              \
		GIL_ARG(3, "rdx", c);                                                              \
		GIL_ARG(4, "rcx", d);                                                              \
		GIL_ARG(5, "r8", e);                                                               \
		STAP_PROBE5(gil, name, gil_arg1, gil_arg2, gil_arg3, gil_arg4, gil_arg5);          \
	} while (0)
#else
#define GIL_PROBE2(name, a, b) STAP_PROBE2(gil, name, a, b)
#define GIL_PROBE4(name, a, b, c, d) STAP_PROBE4(gil, name, a, b, c, d)
#define GIL_PROBE5(name, a, b, c, d, e) STAP_PROBE5(gil, name, a, b, c, d, e)
#endif
#else
#define GIL_PROBE_ENABLED(name) 0
#define GIL_PROBE2(name, a, b) ((void)(a), (void)(b))
#define GIL_PROBE4(name, a, b, c, d) ((void)(a), (void)(b), (void)(c), (void)(d))
#define GIL_PROBE5(name, a, b, c, d, e) ((void)(a), (void)(b), (void)(c), (void)(d), (void)(e))
#endif

/*
 * valgrind's race detectors, drd and helgrind, do not know C11 atomics: a relaxed load or store is
 * a plain move to them, and every lock-free look at an atomic field would be reported as a race.
 * The fields given to GIL_UNCHECKED() are atomics that are read without a lock by design; all
 * other memory stays checked. Outside valgrind a client request is a few instructions, made only
 * when a GIL or a thread state is created or freed. Without valgrind's headers, nothing.
 */
#if defined(__has_include) && __has_include(<valgrind/helgrind.h>) && __has_include(<valgrind/drd.h>)
#include <valgrind/helgrind.h>
#include <valgrind/drd.h>
#define GIL_UNCHECKED(x, on)                                                                       \
	do {                                                                                       \
		if (on) {                                                                          \
			VALGRIND_HG_DISABLE_CHECKING(&(x), sizeof(x));                             \
			DRD_IGNORE_VAR(x);                                                         \
		} else {                                                                           \
			VALGRIND_HG_ENABLE_CHECKING(&(x), sizeof(x));                              \
			DRD_STOP_IGNORING_VAR(x);                                                  \
		}                                                                                  \
	} while (0)
#else
#define GIL_UNCHECKED(x, on) ((void)(on))
#endif

#endif /* GIL_PROBES_H */
