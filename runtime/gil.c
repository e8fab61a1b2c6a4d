// SPDX-License-Identifier: GPL-2.0
/*
 * libgil: the algorithm of CPython's Python/ceval_gil.c (3.2-3.13), step by step.
 *
 * Notes about the implementation, following CPython's own:
 *
 *  - The GIL is a boolean, `locked`, protected by `mutex`, with a condition variable `cond` on
 *    which threads wait for it to be released.
 *
 *  - A thread waiting for the GIL waits on `cond` for at most `interval` microseconds. If the wait
 *    times out and no switch happened during it (`switch_number` did not move), the waiter sets
 *    `drop_request` and sets the drop bit in the holder's eval breaker.
 *
 *  - The holder polls its eval breaker on every back edge (gil_poll()); when the drop bit is set it
 *    drops the GIL and takes it again, which lets a waiter in. That is the "forced" switch.
 *
 *  - On a multi-core machine the dropping thread would usually win the GIL back: it is running,
 *    the waiter still has to be woken and scheduled. So a thread that drops while a drop request is
 *    pending waits once on `switch_cond` until another thread has taken the GIL
 *    (FORCE_SWITCHING). Without it a CPU-bound thread starves every other one.
 *
 *  - Releases signal `cond` rather than broadcast: one waiter is enough to take the GIL, and
 *    waking all of them would have them fight over `mutex` for nothing.
 *
 * The convoy effect, and an opt-in policy against it. A thread that releases the GIL around a
 * blocking call and wants it back while a CPU-bound thread holds it must wait out a whole interval
 * before it may even ask, on every call: a socket round trip of tens of microseconds alone takes
 * milliseconds beside one CPU-bound thread. David Beazley reported this as bpo-7946 ("Convoy
 * effect with I/O bound threads and New GIL", 2010); his talk "Understanding the Python GIL"
 * (PyCon 2010) analysed the new GIL and sketched priorities as the remedy: a thread that gives the
 * GIL up by itself is rewarded, one that had to be asked is penalised, and a high-priority thread
 * preempts a low-priority one at once. Patches posted to the issue made such threads' requests
 * priority requests. CPython kept its scheduler, so libgil does by default; GIL_POLICY_IO_PRIORITY
 * (gil_set_policy(), GIL_POLICY=io-priority) is the proposal, with one bound added (the slice) so
 * that the CPU-bound threads keep most of their time:
 *
 *  - A thread whose latest release was its own (gil_release(): a blocking call) is "back from
 *    I/O" until it is made to drop (gil_handle_pending()). The holder is CPU-bound unless it took
 *    the GIL back from I/O.
 *
 *  - Back from I/O with a CPU-bound holder, a waiter raises the drop request as soon as the
 *    holder has run for a slice of the interval (a thousandth: 5 us of the default 5 ms) instead
 *    of a whole interval: at once if it has. It is an ordinary request: the holder drops at its
 *    next poll and waits in FORCE_SWITCHING, the switch is forced, and the probes and the ground
 *    truth count the request and the switch as they count any other. The slice is the CPU-bound
 *    threads' guarantee: however many round trips the I/O threads make, they interrupt a holder
 *    at most once per slice.
 *
 *  - Waiters back from I/O wait on a condition of their own, `io_cond`, which a release signals
 *    while any of them waits, and CPU-bound waiters leave a free GIL to them. So the GIL goes to
 *    the thread back from I/O, not to whichever waiter the kernel happens to wake.
 *
 *  - A holder that is itself back from I/O is not preempted early: such threads take turns as
 *    in CPython, and one that computes for a whole interval is asked to drop as usual, which makes
 *    it CPU-bound.
 *
 *  - The handoffs the policy adds are short: a thread back from I/O runs a little bytecode and
 *    blocks again. A waiter that sleeps pays a wake-up (5-20 us on the machines measured) on each
 *    side of each handoff, more than the I/O thread's whole turn, and all of it comes out of the
 *    CPU-bound threads' time. So under this policy a waiter spins, for 20 us at most, before it
 *    sleeps, when the GIL is about to change hands (a drop request is pending, or the holder is
 *    back from I/O), and again each time a release woke it but another thread won the GIL; the
 *    FORCE_SWITCHING wait spins first too. Without the spins the CPU-bound thread sleeps through
 *    most of the I/O thread's blocking calls, and the GIL stays free meanwhile.
 *
 * docs/gilwork.md has the measurements (gilwork convoy --policy io-priority).
 *
 * USDT probes (their contract: runtime/gil_usdt.h; their machinery: runtime/gil_probes.h) are
 * 5-byte nops, the form the kernel can optimise into a jump instead of a trap; their clock
 * arguments are read only while a tracer holds the probe's semaphore, so a process nobody traces
 * pays one load per probe site.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gil.h"
#include "gil_probes.h"
#include "gil_usdt.h"
#include "now_ns.h"

/* The drop bit of struct gil_eval_breaker (CPython's _PY_GIL_DROP_REQUEST_BIT). */
#define EVAL_DROP_REQUEST 0x1u

struct gil {
	/* Protects locked, switch_number, release_requested, io_waiters, holder_io, the truth. */
	pthread_mutex_t mutex;
	/* Signalled when locked goes to 0. */
	pthread_cond_t cond;
	/*
	 * FORCE_SWITCHING: last_holder changes under switch_mutex, and a thread that dropped on
	 * request waits on switch_cond until someone else took the GIL.
	 */
	pthread_mutex_t switch_mutex;
	pthread_cond_t switch_cond;
	/* GIL_POLICY_IO_PRIORITY: waiters back from I/O wait here, and releases signal it first. */
	pthread_cond_t io_cond;

	/* Atomic so that a waiter may look without the mutex (CPython's _Py_atomic_int locked). */
	atomic_int locked;
	/* The thread that holds, or last held, the GIL: re-taking your own GIL is not a switch. */
	_Atomic(struct gil_thread *) last_holder;
	/* Counts holder changes; a waiter asks for a drop only if it did not move for an interval. */
	unsigned long switch_number;
	/* Did the latest release happen with a drop request pending? Makes the next switch forced. */
	bool release_requested;
	atomic_int drop_request;
	atomic_ulong interval_us;
	atomic_int policy;
	/*
	 * Waiters back from I/O: while there are any, CPU-bound waiters leave a free GIL alone.
	 * Changed under mutex; atomic so that a spinning waiter may look without it.
	 */
	atomic_uint io_waiters;
	/* The holder took the GIL back from I/O, so another such thread does not preempt it. */
	bool holder_io;
	/* GIL_POLICY_IO_PRIORITY: when the holder took the GIL, the start of its slice. */
	uint64_t holder_since_ns;

	bool nogil;
	atomic_bool truth_on;
	struct gil_truth truth;

	/* Every thread state bound to this GIL, and every GIL, for fork(); under registry_lock. */
	struct gil_thread *threads;
	struct gil *next;
};

struct gil_thread {
	/* First, so that gil_poll() reaches it without a pointer chase. */
	struct gil_eval_breaker eb;
	struct gil *gil;
	pthread_t owner;
	bool holding;
	/* Its latest release was its own (gil_release()), not asked for: it is back from I/O. */
	bool released_itself;
	/* When this thread got the GIL; 0 when nobody measured it. */
	uint64_t acquired_ns;
	struct gil_truth truth;
	struct gil_thread *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gil *registry;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fatal(const char *what)
{
	/* Like Py_FatalError(): a broken GIL protocol cannot be recovered from. */
	fprintf(stderr, "libgil: fatal: %s\n", what);
	abort();
}

static void gil_atomics_unchecked(struct gil *gil, bool on)
{
	GIL_UNCHECKED(gil->locked, on);
	GIL_UNCHECKED(gil->last_holder, on);
	GIL_UNCHECKED(gil->drop_request, on);
	GIL_UNCHECKED(gil->interval_us, on);
	GIL_UNCHECKED(gil->policy, on);
	GIL_UNCHECKED(gil->io_waiters, on);
	GIL_UNCHECKED(gil->truth_on, on);
}

static void init_locks(struct gil *gil)
{
	pthread_condattr_t attr;

	/* Timed waits must not stretch or shrink when the wall clock is set. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&gil->mutex, NULL) || pthread_cond_init(&gil->cond, &attr) ||
	    pthread_mutex_init(&gil->switch_mutex, NULL) ||
	    pthread_cond_init(&gil->switch_cond, NULL) || pthread_cond_init(&gil->io_cond, &attr))
		fatal("cannot initialise the GIL's locks");
	pthread_condattr_destroy(&attr);
}

static void add_duration(uint64_t *total, uint64_t *max, uint64_t ns)
{
	*total += ns;
	if (ns > *max)
		*max = ns;
}

static void account_acquire(struct gil_truth *s, unsigned int flags, uint64_t drop_requests,
			    uint64_t wait_ns)
{
	s->acquisitions++;
	s->switches += !!(flags & GIL_ACQ_SWITCH);
	s->forced_switches += !!(flags & GIL_ACQ_FORCED);
	s->drop_requests += drop_requests;
	add_duration(&s->wait_ns_total, &s->wait_ns_max, wait_ns);
}

static void account_release(struct gil_truth *s, bool requested, uint64_t hold_ns)
{
	s->releases++;
	s->voluntary_releases += !requested;
	add_duration(&s->hold_ns_total, &s->hold_ns_max, hold_ns);
}

/* Asks the current holder to drop the GIL. Called with gil->mutex held and the GIL locked. */
static void set_drop_request(struct gil *gil)
{
	struct gil_thread *holder = atomic_load_explicit(&gil->last_holder, memory_order_relaxed);

	atomic_store_explicit(&gil->drop_request, 1, memory_order_relaxed);
	if (holder)
		atomic_fetch_or_explicit(&holder->eb.bits, EVAL_DROP_REQUEST, memory_order_relaxed);
}

static void reset_drop_request(struct gil *gil)
{
	atomic_store_explicit(&gil->drop_request, 0, memory_order_relaxed);
}

struct take_wait {
	struct gil *gil;
	uint64_t drop_requests;
	/* GIL_POLICY_IO_PRIORITY: the waiter may spin before it sleeps... */
	bool spin;
	uint64_t spin_deadline_ns;
	/* ...and is back from I/O. */
	bool io;
};

/*
 * A waiter cancelled inside pthread_cond_timedwait() wakes up owning gil->mutex. It must give it
 * back, withdraw a drop request it raised (CPython does the same for a thread that must exit while
 * waiting), and wake a holder stuck in the FORCE_SWITCHING wait for a switch this waiter will now
 * never make; otherwise the remaining threads wedge. The request is withdrawn before the
 * broadcast, which is made under switch_mutex: drop_gil() reads the request again under that
 * mutex, so it either sees it withdrawn or is already waiting when the broadcast comes.
 */
static void take_cancelled(void *arg)
{
	struct take_wait *w = arg;
	struct gil *gil = w->gil;

	if (w->drop_requests)
		reset_drop_request(gil);
	/* The CPU-bound waiters that left a free GIL to this one may have it now. */
	if (w->io && atomic_fetch_sub_explicit(&gil->io_waiters, 1, memory_order_relaxed) == 1 &&
	    !atomic_load_explicit(&gil->locked, memory_order_relaxed))
		pthread_cond_signal(&gil->cond);
	pthread_mutex_unlock(&gil->mutex);
	pthread_mutex_lock(&gil->switch_mutex);
	pthread_cond_broadcast(&gil->switch_cond);
	pthread_mutex_unlock(&gil->switch_mutex);
}

static int cond_timedwait_us(pthread_cond_t *cond, pthread_mutex_t *mutex, unsigned long us)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += us / 1000000;
	deadline.tv_nsec += (long)(us % 1000000) * 1000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	return pthread_cond_timedwait(cond, mutex, &deadline);
}

/* Must the waiter wait? A CPU-bound one also while a waiter back from I/O is served first. */
static bool must_wait(const struct take_wait *w)
{
	struct gil *gil = w->gil;

	return atomic_load_explicit(&gil->locked, memory_order_relaxed) ||
	       (!w->io && atomic_load_explicit(&gil->io_waiters, memory_order_relaxed));
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/*
 * GIL_POLICY_IO_PRIORITY: the share of the switch interval a CPU-bound holder runs before a thread
 * back from I/O preempts it (5 us of the default 5 ms: a round trip asks for the GIL two or three
 * times, and longer slices made it 7 to 16 times the round trip alone, docs/gilwork.md), and how
 * long a waiter spins before it sleeps (SPIN_NS each time it starts or is woken, and in the
 * FORCE_SWITCHING wait). The block comment at the top says why.
 */
#define IO_SLICE_PER_INTERVAL 1000
#define SPIN_NS 20000

/*
 * With gil->mutex released, spins until the waiter need not wait any more or its spin budget is
 * spent; true if it spun (the caller looks again).
 */
static bool spin_while_waiting(struct take_wait *w)
{
	struct gil *gil = w->gil;
	uint64_t now;

	if (!w->spin)
		return false;
	now = now_ns();
	if (!w->spin_deadline_ns)
		w->spin_deadline_ns = now + SPIN_NS;
	else if (now >= w->spin_deadline_ns)
		return false;
	pthread_mutex_unlock(&gil->mutex);
	for (unsigned int i = 1; must_wait(w); i++) {
		cpu_relax();
		/* The clock every 64 turns: a turn is tens of nanoseconds, a clock read as long. */
		if (i % 64 == 0 && now_ns() >= w->spin_deadline_ns)
			break;
	}
	pthread_mutex_lock(&gil->mutex);
	return true;
}

/*
 * The waiting half of take_gil(), with gil->mutex held. Apart so that the setjmp() behind
 * pthread_cleanup_push() leaves take_gil()'s locals alone.
 */
static void wait_for_release(struct take_wait *w)
{
	struct gil *gil = w->gil;

	pthread_cleanup_push(take_cancelled, w);
	while (must_wait(w)) {
		unsigned long saved_switchnum = gil->switch_number;
		unsigned long interval_us =
			atomic_load_explicit(&gil->interval_us, memory_order_relaxed);
		unsigned long wait_us = interval_us ? interval_us : 1;
		bool dropping = atomic_load_explicit(&gil->drop_request, memory_order_relaxed);
		int err;

		/*
		 * GIL_POLICY_IO_PRIORITY: back from I/O, with a CPU-bound holder, ask as soon as
		 * its slice is over instead of after an interval: now, or when the timed wait
		 * below ends (it then asks as any waiter does). A request already pending will do.
		 */
		if (w->io && atomic_load_explicit(&gil->locked, memory_order_relaxed) &&
		    !gil->holder_io && !dropping) {
			uint64_t held_ns = now_ns() - gil->holder_since_ns;
			uint64_t slice_ns = interval_us * 1000 / IO_SLICE_PER_INTERVAL;

			if (held_ns >= slice_ns) {
				set_drop_request(gil);
				w->drop_requests++;
				dropping = true;
			} else if ((slice_ns - held_ns) / 1000 + 1 < wait_us) {
				wait_us = (slice_ns - held_ns) / 1000 + 1;
			}
		}
		/* The wait is short when the holder is about to drop or is back from I/O: spin. */
		if ((dropping || gil->holder_io) && spin_while_waiting(w))
			continue;

		/* The timer restarts on each loop: a wake-up that lost the race waits a full interval. */
		err = cond_timedwait_us(w->io ? &gil->io_cond : &gil->cond, &gil->mutex, wait_us);
		/* Woken, maybe by a release another thread won: a fresh spin budget. */
		w->spin_deadline_ns = 0;

		/*
		 * Timed out, still locked and nobody else got the GIL meanwhile: the holder has run
		 * for a whole interval (or slice) while we waited, so ask it to drop. A switch
		 * during the interval means the GIL is changing hands anyway, and asking would only
		 * force an extra switch.
		 */
		if (err == ETIMEDOUT && atomic_load_explicit(&gil->locked, memory_order_relaxed) &&
		    gil->switch_number == saved_switchnum) {
			set_drop_request(gil);
			w->drop_requests++;
		}
	}
	pthread_cleanup_pop(0);
}

/* CPython's take_gil(). */
static void take_gil(struct gil_thread *t)
{
	struct gil *gil = t->gil;
	bool truth = atomic_load_explicit(&gil->truth_on, memory_order_relaxed);
	bool timed = truth || GIL_PROBE_ENABLED(acquire) || GIL_PROBE_ENABLED(release);
	bool io_priority =
		atomic_load_explicit(&gil->policy, memory_order_relaxed) == GIL_POLICY_IO_PRIORITY;
	struct take_wait w = {
		.gil = gil,
		.spin = io_priority,
		.io = io_priority && t->released_itself,
	};
	uint64_t request_ns = timed ? now_ns() : 0;
	uint64_t acquired_ns = 0;
	unsigned int flags = 0;

	/*
	 * A look without the mutex decides whether this acquisition is contended: only then does
	 * wait__start fire, so that an uncontended cycle costs two probe hits, and outside the
	 * mutex, so that a tracer's trap never lengthens the holder's critical sections.
	 */
	if (atomic_load_explicit(&gil->locked, memory_order_relaxed)) {
		flags |= GIL_ACQ_WAITED;
		/* A tracer of wait__start alone is a tracer too: its time must not be 0. */
		if (!request_ns && GIL_PROBE_ENABLED(wait__start))
			request_ns = now_ns();
		GIL_PROBE2(wait__start, gil, request_ns);
	}

	pthread_mutex_lock(&gil->mutex);
	if (w.io)
		atomic_fetch_add_explicit(&gil->io_waiters, 1, memory_order_relaxed);
	wait_for_release(&w);
	if (w.io)
		atomic_fetch_sub_explicit(&gil->io_waiters, 1, memory_order_relaxed);
	gil->holder_io = w.io;
	if (w.spin)
		gil->holder_since_ns = now_ns();

	/* last_holder changes under switch_mutex so that a FORCE_SWITCHING waiter sees it. */
	pthread_mutex_lock(&gil->switch_mutex);
	atomic_store_explicit(&gil->locked, 1, memory_order_relaxed);
	if (t != atomic_load_explicit(&gil->last_holder, memory_order_relaxed)) {
		atomic_store_explicit(&gil->last_holder, t, memory_order_relaxed);
		gil->switch_number++;
		flags |= GIL_ACQ_SWITCH;
		if (gil->release_requested)
			flags |= GIL_ACQ_FORCED;
	}
	pthread_cond_signal(&gil->switch_cond);
	pthread_mutex_unlock(&gil->switch_mutex);

	/* Whoever asked has been served: the new holder starts with a clean slate. */
	if (atomic_load_explicit(&gil->drop_request, memory_order_relaxed))
		reset_drop_request(gil);
	atomic_fetch_and_explicit(&t->eb.bits, ~EVAL_DROP_REQUEST, memory_order_relaxed);

	if (timed)
		acquired_ns = now_ns();
	if (truth && request_ns) {
		account_acquire(&gil->truth, flags, w.drop_requests, acquired_ns - request_ns);
		account_acquire(&t->truth, flags, w.drop_requests, acquired_ns - request_ns);
	}
	pthread_mutex_unlock(&gil->mutex);

	t->holding = true;
	t->acquired_ns = acquired_ns;
	GIL_PROBE5(acquire, gil, request_ns, acquired_ns, flags, w.drop_requests);
}

/*
 * GIL_POLICY_IO_PRIORITY: the FORCE_SWITCHING wait spins first, as waiters do (see
 * spin_while_waiting()), until another thread took the GIL or the request was withdrawn.
 */
static void spin_until_switched(struct gil *gil, struct gil_thread *t)
{
	uint64_t deadline_ns = now_ns() + SPIN_NS;

	for (unsigned int i = 1;
	     atomic_load_explicit(&gil->last_holder, memory_order_relaxed) == t &&
	     atomic_load_explicit(&gil->drop_request, memory_order_relaxed);
	     i++) {
		cpu_relax();
		if (i % 64 == 0 && now_ns() >= deadline_ns)
			break;
	}
}

/* CPython's drop_gil(). */
static void drop_gil(struct gil_thread *t)
{
	struct gil *gil = t->gil;
	bool truth = atomic_load_explicit(&gil->truth_on, memory_order_relaxed);
	uint64_t released_ns = 0;
	unsigned int flags = 0;
	bool requested;

	pthread_mutex_lock(&gil->mutex);
	requested = atomic_load_explicit(&gil->drop_request, memory_order_relaxed);
	gil->release_requested = requested;
	if (requested)
		flags |= GIL_REL_REQUESTED;
	/* A tracer attached during this hold still gets the release time (handoffs start there). */
	if (t->acquired_ns || GIL_PROBE_ENABLED(release))
		released_ns = now_ns();
	if (truth && t->acquired_ns) {
		account_release(&gil->truth, requested, released_ns - t->acquired_ns);
		account_release(&t->truth, requested, released_ns - t->acquired_ns);
	}
	t->holding = false;
	atomic_store_explicit(&gil->locked, 0, memory_order_relaxed);
	/* A waiter back from I/O first (GIL_POLICY_IO_PRIORITY); without one, CPython's wake-up. */
	pthread_cond_signal(atomic_load_explicit(&gil->io_waiters, memory_order_relaxed) ?
				    &gil->io_cond : &gil->cond);
	/*
	 * Fired before the mutex is given back, so that a tracer always sees a release before the
	 * acquisition it lets in, which takes the mutex first: handoffs and migrations are measured
	 * from it. Untraced it costs nothing; traced it lengthens only this critical section.
	 */
	GIL_PROBE4(release, gil, t->acquired_ns, released_ns, flags);
	pthread_mutex_unlock(&gil->mutex);

	/*
	 * FORCE_SWITCHING. The drop request is read again: it is what CPython tests here, whether
	 * this release came from the eval breaker or from a blocking call.
	 */
	if (atomic_load_explicit(&gil->drop_request, memory_order_relaxed)) {
		int cancel_state;

		if (atomic_load_explicit(&gil->policy, memory_order_relaxed) ==
		    GIL_POLICY_IO_PRIORITY)
			spin_until_switched(gil, t);
		/* The wait is one-shot and its wake-up is someone's take: it must not be skipped. */
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
		pthread_mutex_lock(&gil->switch_mutex);
		/*
		 * Not switched yet: wait until the GIL changed hands. The request is read once
		 * more under switch_mutex because a waiter cancelled since the first look has
		 * withdrawn it and broadcast switch_cond (take_cancelled()): that wake-up is
		 * already gone, and if that waiter was the only one, nobody will ever switch.
		 */
		if (atomic_load_explicit(&gil->last_holder, memory_order_relaxed) == t &&
		    atomic_load_explicit(&gil->drop_request, memory_order_relaxed)) {
			reset_drop_request(gil);
			/*
			 * One untimed wait, not a loop, as in CPython: a spurious wake-up only costs
			 * one more round of the usual competition.
			 */
			pthread_cond_wait(&gil->switch_cond, &gil->switch_mutex);
		}
		pthread_mutex_unlock(&gil->switch_mutex);
		pthread_setcancelstate(cancel_state, NULL);
	}
}

/*
 * Linux 6.18 optimises a traced 5-byte nop into a call to a trampoline page of the traced process,
 * a page fork() does not copy: a child that reaches such a site dies of SIGSEGV. Tracers attach
 * to the parent's PID, so the child is not traced anyway: it puts its nops back. Only
 * async-signal-safe calls here, as in any child of a threaded process.
 */
static void unpatch_probe_sites(void)
{
#ifndef GIL_NO_PROBES
	static const unsigned char nop5[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 };
	const unsigned char call_rel32 = 0xe8;
	int fd = -1;

	for (const uintptr_t *site = __start_gil_probe_sites; site < __stop_gil_probe_sites; site++) {
		if (*(const unsigned char *)*site != call_rel32)
			continue;
		/* Writes through /proc/self/mem reach read-only text, as a debugger's do. */
		if (fd < 0)
			fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (fd < 0 || pwrite(fd, nop5, sizeof(nop5), (off_t)*site) != sizeof(nop5))
			break;
	}
	if (fd >= 0)
		close(fd);
#endif
}

static void gil_atfork_prepare(void)
{
	pthread_mutex_lock(&registry_lock);
}

static void gil_atfork_parent(void)
{
	pthread_mutex_unlock(&registry_lock);
}

/*
 * The child has one thread, the one that forked; every other thread state is gone and the locks
 * may have been copied in any state. Like CPython's _PyEval_ReInitThreads(), recreate the locks;
 * the forking thread keeps the GIL if it held it, and the statistics start again from zero.
 */
static void gil_atfork_child(void)
{
	pthread_t self = pthread_self();

	unpatch_probe_sites();

	for (struct gil *gil = registry; gil; gil = gil->next) {
		struct gil_thread **pp = &gil->threads;
		struct gil_thread *holder = NULL;

		init_locks(gil);
		while (*pp) {
			struct gil_thread *t = *pp;

			if (pthread_equal(t->owner, self)) {
				atomic_store(&t->eb.bits, 0);
				memset(&t->truth, 0, sizeof(t->truth));
				if (t->holding)
					holder = t;
				pp = &t->next;
			} else {
				*pp = t->next;
				free(t);
			}
		}
		atomic_store(&gil->locked, holder != NULL);
		atomic_store(&gil->last_holder, holder);
		atomic_store(&gil->drop_request, 0);
		gil->release_requested = false;
		atomic_store(&gil->io_waiters, 0);
		gil->holder_io = false;
		gil->switch_number = 0;
		memset(&gil->truth, 0, sizeof(gil->truth));
	}
	pthread_mutex_init(&registry_lock, NULL);
}

static void register_atfork(void)
{
	pthread_atfork(gil_atfork_prepare, gil_atfork_parent, gil_atfork_child);
}

static bool truth_from_env(void)
{
	const char *v = getenv("GIL_STATS");

	return v && strcmp(v, "1") == 0;
}

static const char *const policy_names[] = {
	[GIL_POLICY_CPYTHON] = "cpython",
	[GIL_POLICY_IO_PRIORITY] = "io-priority",
};

#define NR_POLICIES (sizeof(policy_names) / sizeof(policy_names[0]))

const char *gil_policy_name(enum gil_policy policy)
{
	return (unsigned int)policy < NR_POLICIES ? policy_names[policy] : NULL;
}

int gil_policy_from_name(const char *name)
{
	for (unsigned int i = 0; i < NR_POLICIES; i++)
		if (strcmp(name, policy_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

/* The policy a GIL created with opts starts with; -EINVAL for an unknown one. */
static int initial_policy(const struct gil_opts *opts)
{
	const char *v = getenv("GIL_POLICY");

	if (opts->policy != GIL_POLICY_CPYTHON || !v || !*v)
		return gil_policy_name(opts->policy) ? (int)opts->policy : -EINVAL;
	return gil_policy_from_name(v);
}

struct gil *gil_new(const struct gil_opts *opts)
{
	struct gil_opts defaults = { 0 };
	struct gil *gil;
	int policy;

	if (!opts)
		opts = &defaults;
	policy = initial_policy(opts);
	if (opts->interval_us < 0 || policy < 0) {
		errno = EINVAL;
		return NULL;
	}
	gil = calloc(1, sizeof(*gil));
	if (!gil)
		return NULL;
	init_locks(gil);
	gil_atomics_unchecked(gil, true);
	atomic_init(&gil->interval_us,
		    opts->interval_us ? (unsigned long)opts->interval_us : GIL_DEFAULT_INTERVAL_US);
	gil->nogil = opts->nogil;
	atomic_init(&gil->policy, policy);
	atomic_init(&gil->truth_on, opts->truth || truth_from_env());

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&registry_lock);
	gil->next = registry;
	registry = gil;
	pthread_mutex_unlock(&registry_lock);
	return gil;
}

void gil_free(struct gil *gil)
{
	struct gil **pp;

	if (!gil)
		return;
	pthread_mutex_lock(&registry_lock);
	if (gil->threads)
		fatal("gil_free: thread states are still bound to this GIL");
	for (pp = &registry; *pp; pp = &(*pp)->next) {
		if (*pp == gil) {
			*pp = gil->next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	pthread_mutex_destroy(&gil->mutex);
	pthread_cond_destroy(&gil->cond);
	pthread_mutex_destroy(&gil->switch_mutex);
	pthread_cond_destroy(&gil->switch_cond);
	pthread_cond_destroy(&gil->io_cond);
	gil_atomics_unchecked(gil, false);
	free(gil);
}

int gil_set_interval_us(struct gil *gil, double interval_us)
{
	/* !(x > 0) also rejects NaN. */
	if (!(interval_us > 0))
		return -EINVAL;
	if (interval_us > (double)(ULONG_MAX / 2))
		return -ERANGE;
	atomic_store(&gil->interval_us, interval_us < 1 ? 1 : (unsigned long)interval_us);
	return 0;
}

long gil_interval_us(const struct gil *gil)
{
	return (long)atomic_load(&gil->interval_us);
}

bool gil_is_nogil(const struct gil *gil)
{
	return gil->nogil;
}

int gil_set_policy(struct gil *gil, enum gil_policy policy)
{
	if (!gil_policy_name(policy))
		return -EINVAL;
	atomic_store(&gil->policy, policy);
	return 0;
}

enum gil_policy gil_policy(const struct gil *gil)
{
	return (enum gil_policy)atomic_load(&gil->policy);
}

void gil_enable_truth(struct gil *gil, bool on)
{
	atomic_store(&gil->truth_on, on);
}

bool gil_truth_enabled(const struct gil *gil)
{
	return atomic_load(&gil->truth_on);
}

void gil_get_truth(const struct gil *gil, struct gil_truth *out)
{
	struct gil *g = (struct gil *)gil;

	pthread_mutex_lock(&g->mutex);
	*out = g->truth;
	pthread_mutex_unlock(&g->mutex);
}

void gil_thread_get_truth(const struct gil_thread *t, struct gil_truth *out)
{
	struct gil *g = t->gil;

	pthread_mutex_lock(&g->mutex);
	*out = t->truth;
	pthread_mutex_unlock(&g->mutex);
}

struct gil_thread *gil_thread_new(struct gil *gil)
{
	struct gil_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->gil = gil;
	t->owner = pthread_self();
	GIL_UNCHECKED(t->eb.bits, true);
	pthread_mutex_lock(&registry_lock);
	t->next = gil->threads;
	gil->threads = t;
	pthread_mutex_unlock(&registry_lock);
	return t;
}

void gil_thread_free(struct gil_thread *t)
{
	struct gil *gil;
	struct gil_thread **pp;

	if (!t)
		return;
	gil = t->gil;
	if (t->holding)
		gil_release(t);

	/* A thread state that no longer exists must not stay the "last holder". */
	pthread_mutex_lock(&gil->mutex);
	pthread_mutex_lock(&gil->switch_mutex);
	if (atomic_load(&gil->last_holder) == t)
		atomic_store(&gil->last_holder, NULL);
	pthread_mutex_unlock(&gil->switch_mutex);
	pthread_mutex_unlock(&gil->mutex);

	pthread_mutex_lock(&registry_lock);
	for (pp = &gil->threads; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	GIL_UNCHECKED(t->eb.bits, false);
	free(t);
}

struct gil *gil_thread_gil(const struct gil_thread *t)
{
	return t->gil;
}

void gil_acquire(struct gil_thread *t)
{
	if (t->holding)
		fatal("gil_acquire: this thread already holds the GIL");
	if (t->gil->nogil) {
		t->holding = true;
		return;
	}
	take_gil(t);
}

void gil_release(struct gil_thread *t)
{
	if (!t->holding)
		fatal("gil_release: this thread does not hold the GIL");
	if (t->gil->nogil) {
		t->holding = false;
		return;
	}
	t->released_itself = true;
	drop_gil(t);
}

bool gil_held(const struct gil_thread *t)
{
	return t->holding;
}

/* CPython's _Py_HandlePending(), GIL part: give another thread a chance. */
void gil_handle_pending(struct gil_thread *t)
{
	atomic_fetch_and_explicit(&t->eb.bits, ~EVAL_DROP_REQUEST, memory_order_relaxed);
	if (!t->holding || !atomic_load_explicit(&t->gil->drop_request, memory_order_relaxed))
		return;
	t->released_itself = false;
	drop_gil(t);
	/* Other threads may run now. */
	take_gil(t);
}
