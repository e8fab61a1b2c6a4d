// SPDX-License-Identifier: GPL-2.0
/*
 * gilstat: per-core histograms of GIL wait, hold and handoff times and GIL switch counts, from
 * the gil:* USDT probes of libgil and the scheduler's tracepoints, aggregated in the kernel.
 */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "exporter.h"
#include "command.h"
#include "fleet.h"
#include "gilstat.h"
#include "now_ns.h"
#include "gilstat.skel.h"
#include "heatmap.h"
#include "debuginfo.h"
#include "procfs.h"
#include "python.h"
#include "pygil.h"
#include "report.h"
#include "stacks.h"
#include "target.h"

/* A command killed by signal N exits 128 + N, as a shell reports it. */
#define EXIT_SIGNAL_BASE 128

static struct env {
	pid_t pid;
	__u64 interval_ns;
	long count;
	double duration_sec;
	bool verbose;
	bool python;
	bool no_debuginfod;
	bool all; /* -a: every CPython and libgil process */
	long max_keys;
	const char *python_path;
	const char *prometheus; /* [ADDR:]PORT */
	const char *textfile_dir;
	long grace_sec;
	long max_series;
	bool out_given;
	FILE *out;
	struct report_opts report;
	char **command;
	FILE *heatmap_file;
	enum gilstat_hist heatmap_of;
	struct heatmap *heatmap;
	int comm_fd; /* the comms map, or -1 */
	/* --stacks */
	bool stacks;
	double min_wait_ms;
	long stack_depth;
	FILE *folded, *flamegraph;
	const char *flamegraph_path;
	struct py_layout py_layout;
	bool py_frames;
	struct stacks *stacks_state;
	const struct gilstat_bpf__bss *stacks_bss;
} env = {
	.min_wait_ms = 1,
	.stack_depth = 32,
	.comm_fd = -1,
	.report = {.unit_ns = 1000, .unit_name = "usecs", .sched = true},
	.grace_sec = EXPORTER_DEFAULT_GRACE_SEC,
	.max_series = EXPORTER_DEFAULT_MAX_SERIES,
};

static volatile sig_atomic_t exiting;

#define GILSTAT_VERSION "0.1"
const char *argp_program_version = "gilstat " GILSTAT_VERSION;
const char *argp_program_bug_address = NULL;
static const char doc[] =
	"Show how threads wait for, hold and hand over a GIL: per-core histograms and switch "
	"counts, aggregated in the kernel from libgil's gil:* USDT probes.\n"
	"\n"
	"EXAMPLES:\n"
	"  gilstat -- ./build/gilwork convoy  # run a workload, report when it exits\n"
	"  gilstat -p 4242                    # trace a process until Ctrl-C\n"
	"  gilstat -p 4242 5 3                # three reports, 5 seconds apart\n"
	"  gilstat -C -L -- ./build/gilwork cpu  # per-core histograms, per thread\n"
	"  gilstat -m -d 10 -p 4242           # milliseconds, stop after 10 s\n"
	"  gilstat -j -o gil.json -- ./build/gilwork io  # JSON, into a file\n"
	"  gilstat --heatmap w.svg -p 4242 0.5 20  # heatmap, 20 columns of 0.5 s\n"
	"  gilstat --python -- python3 app.py  # the GIL of a real CPython\n"
	"  gilstat --python --prometheus 9464 -p 4242  # serve http://127.0.0.1:9464/metrics\n"
	"  gilstat -a                         # every CPython and libgil process on the host\n"
	"  gilstat -a --prometheus 9464       # the same, served";
static const char args_doc[] = "(-p PID | -a | -- COMMAND [ARGS...]) [INTERVAL [COUNT]]";

enum {
	OPT_NO_SCHED = 0x100,
	OPT_PYTHON,
	OPT_PYTHON_PROBES,
	OPT_MAX_KEYS,
	OPT_PROMETHEUS,
	OPT_TEXTFILE,
	OPT_GRACE,
	OPT_MAX_SERIES,
	OPT_HEATMAP,
	OPT_HEATMAP_OF,
	OPT_NO_DEBUGINFOD,
	OPT_STACKS,
	OPT_MIN_WAIT,
	OPT_STACK_DEPTH,
	OPT_FOLDED,
	OPT_FLAMEGRAPH,
};

static const struct argp_option opts[] = {
	{"pid", 'p', "PID", 0, "Trace this process", 0},
	{"all", 'a', NULL, 0,
	 "Trace every CPython (3.8 and later) and libgil process on the host, those that start "
	 "later too: a section for each GIL of each process, or series with --prometheus or "
	 "--textfile",
	 0},
	{"per-cpu", 'C', NULL, 0, "Also print wait and hold histograms per CPU", 0},
	{"threads", 'L', NULL, 0, "One section per thread", 0},
	{"processes", 'P', NULL, 0, "One section per process", 0},
	{"gils", 'G', NULL, 0, "One section per GIL (per-interpreter GILs)", 0},
	{"milliseconds", 'm', NULL, 0, "Histograms in milliseconds (default: microseconds)", 0},
	{"timestamp", 'T', NULL, 0, "Print a timestamp with each report", 0},
	{"duration", 'd', "SECONDS", 0, "Stop after this many seconds", 0},
	{"json", 'j', NULL, 0, "Print reports as JSON, one object per line", 0},
	{"output", 'o', "FILE", 0, "Write reports to FILE instead of standard output", 0},
	{"no-sched", OPT_NO_SCHED, NULL, 0, "Do not trace the scheduler (no sched delay)", 0},
	{"python", OPT_PYTHON, "PATH", OPTION_ARG_OPTIONAL,
	 "Trace a CPython interpreter's own GIL; PATH names the interpreter or libpython", 0},
	{"python-probes", OPT_PYTHON_PROBES, "KIND", 0,
	 "With --python: 'libc' (default: libc's pthread_cond_* on the GIL, 3.8 and later, any "
	 "build) or 'symbols' (the interpreter's own functions only)",
	 0},
	{"no-debuginfod", OPT_NO_DEBUGINFOD, NULL, 0,
	 "With --python: do not ask debuginfod servers for a stripped build's symbols", 0},
	{"max-keys", OPT_MAX_KEYS, "N", 0,
	 "Size of the -L/-P/-G breakdown map; events of keys beyond it count in the totals only",
	 0},
	{"prometheus", OPT_PROMETHEUS, "[ADDR:]PORT", 0,
	 "Serve /metrics for Prometheus on ADDR (default 127.0.0.1) until stopped", 0},
	{"textfile", OPT_TEXTFILE, "DIR", 0,
	 "Write DIR/gilstat.prom for node_exporter every INTERVAL (default 15 s)", 0},
	{"grace", OPT_GRACE, "SECONDS", 0,
	 "Keep the series of an ended process this long (default 60)", 0},
	{"max-series", OPT_MAX_SERIES, "N", 0,
	 "Fold the -G series beyond N into one labelled other (default 1000)", 0},
	{"heatmap", OPT_HEATMAP, "FILE", 0,
	 "With INTERVAL: write a latency heatmap (SVG) to FILE, a column per interval", 0},
	{"heatmap-of", OPT_HEATMAP_OF, "HIST", 0,
	 "The heatmap's histogram: wait (default), hold, handoff or sched-delay", 0},
	{"stacks", OPT_STACKS, NULL, 0,
	 "Charge each long wait to the holder's stack at its release (Python and native frames): "
	 "top table of holders and waiters",
	 0},
	{"min-wait", OPT_MIN_WAIT, "MS", 0, "With --stacks: the waits charged (default 1 ms)", 0},
	{"stack-depth", OPT_STACK_DEPTH, "N", 0,
	 "With --stacks: frames kept per stack, deeper ones are marked truncated (default 32)", 0},
	{"folded", OPT_FOLDED, "FILE", 0,
	 "Write the holders' stacks as folded stacks, weighted by wait in us (implies --stacks)", 0},
	{"flamegraph", OPT_FLAMEGRAPH, "FILE", 0,
	 "Write them as an SVG flame graph (implies --stacks)", 0},
	{"verbose", 'v', NULL, 0, "Print libbpf debug output", 0},
	{NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0},
	{},
};

static void die_usage(struct argp_state *state, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gilstat: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	(void)state;
	exit(2);
}

static long parse_long(struct argp_state *state, const char *what, const char *arg, long min,
		       long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max)
		die_usage(state, "invalid %s '%s': expected a whole number from %ld to %ld", what,
			  arg, min, max);
	return v;
}

/* arg as a number, the whole of it: the callers say which numbers they take, and how. */
static bool is_number(const char *arg, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(arg, &end);
	return !errno && end != arg && !*end;
}

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	static int pos_args;

	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case 'p':
		env.pid = parse_long(state, "PID", arg, 1, INT_MAX);
		break;
	case 'a':
		env.all = true;
		break;
	case 'C':
		env.report.per_cpu_hists = true;
		break;
	case 'L':
		env.report.group |= GROUP_THREAD;
		break;
	case 'P':
		env.report.group |= GROUP_PROCESS;
		break;
	case 'G':
		env.report.group |= GROUP_GIL;
		break;
	case 'm':
		env.report.unit_ns = 1000000;
		env.report.unit_name = "msecs";
		break;
	case 'T':
		env.report.timestamp = true;
		break;
	case 'd':
		if (!is_number(arg, &env.duration_sec) || !(env.duration_sec > 0) ||
		    env.duration_sec > 31536000)
			die_usage(state, "invalid duration '%s': expected seconds, > 0", arg);
		break;
	case 'j':
		env.report.json = true;
		break;
	case 'o':
		/* Not inherited by the command, whose own output stays apart. */
		env.out = fopen(arg, "we");
		if (!env.out) {
			fprintf(stderr, "gilstat: cannot write %s: %s\n", arg, strerror(errno));
			exit(2);
		}
		env.out_given = true;
		break;
	case OPT_NO_SCHED:
		env.report.sched = false;
		break;
	case OPT_PYTHON:
		env.python = true;
		env.python_path = arg;
		break;
	case OPT_PYTHON_PROBES:
		if (!strcmp(arg, "symbols"))
			python_set_probes(PY_PROBES_SYMBOLS);
		else if (strcmp(arg, "libc"))
			die_usage(state, "invalid --python-probes '%s': expected libc or symbols",
				  arg);
		break;
	case OPT_HEATMAP:
		/* Refused now, like -o, rather than after a whole trace. */
		env.heatmap_file = fopen(arg, "we");
		if (!env.heatmap_file) {
			fprintf(stderr, "gilstat: cannot write %s: %s\n", arg, strerror(errno));
			exit(2);
		}
		break;
	case OPT_HEATMAP_OF:
		for (env.heatmap_of = 0; env.heatmap_of < NR_HISTS; env.heatmap_of++)
			if (!strcmp(arg, heatmap_hist_names[env.heatmap_of]))
				break;
		if (env.heatmap_of == NR_HISTS)
			die_usage(state, "invalid --heatmap-of '%s': expected wait, hold, "
					 "handoff or sched-delay", arg);
		break;
	case OPT_NO_DEBUGINFOD:
		env.no_debuginfod = true;
		break;
	case OPT_MAX_KEYS:
		env.max_keys = parse_long(state, "--max-keys", arg, 1, 1 << 24);
		break;
	case OPT_PROMETHEUS:
		env.prometheus = arg;
		break;
	case OPT_TEXTFILE:
		env.textfile_dir = arg;
		break;
	case OPT_GRACE:
		env.grace_sec = parse_long(state, "--grace", arg, 0, 86400);
		break;
	case OPT_MAX_SERIES:
		env.max_series = parse_long(state, "--max-series", arg, 1, 1 << 20);
		break;
	case OPT_STACKS:
		env.stacks = true;
		break;
	case OPT_MIN_WAIT:
		if (!is_number(arg, &env.min_wait_ms) || !(env.min_wait_ms >= 0.001) ||
		    env.min_wait_ms > 3600000)
			die_usage(state, "invalid --min-wait '%s': expected milliseconds, >= 0.001",
				  arg);
		break;
	case OPT_STACK_DEPTH:
		env.stack_depth = parse_long(state, "--stack-depth", arg, 1, PY_MAX_FRAMES);
		break;
	case OPT_FOLDED:
	case OPT_FLAMEGRAPH:
		env.stacks = true;
		/* before anything is attached: a path that cannot be written is a usage error */
		if (key == OPT_FOLDED)
			env.folded = fopen(arg, "we");
		else
			env.flamegraph = fopen(arg, "we");
		if (!(key == OPT_FOLDED ? env.folded : env.flamegraph)) {
			fprintf(stderr, "gilstat: cannot write %s: %s\n", arg, strerror(errno));
			exit(2);
		}
		if (key == OPT_FLAMEGRAPH)
			env.flamegraph_path = arg;
		break;
	case 'v':
		env.verbose = true;
		break;
	case ARGP_KEY_INIT:
		/* getopt's one-line message is enough: no "Try --help" line after it. */
		state->err_stream = NULL;
		break;
	case ARGP_KEY_ARG:
		if (pos_args == 0) {
			double sec;

			if (!is_number(arg, &sec) || !(sec >= 0.01) || sec > 86400)
				die_usage(state, "invalid interval '%s': expected seconds "
						 "from 0.01 to 86400", arg);
			env.interval_ns = (__u64)(sec * 1e9 + 0.5);
		} else if (pos_args == 1)
			env.count = parse_long(state, "count", arg, 1, LONG_MAX);
		else
			die_usage(state, "unexpected argument '%s' (a command goes after --)", arg);
		pos_args++;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static int libbpf_print_fn(enum libbpf_print_level level, const char *format, va_list args)
{
	if (level == LIBBPF_DEBUG && !env.verbose)
		return 0;
	if (level == LIBBPF_INFO && !env.verbose)
		return 0;
	return vfprintf(stderr, format, args);
}

static void sig_handler(int sig)
{
	exiting = 1;
}

/*
 * Root, or CAP_SYS_ADMIN. CAP_BPF and CAP_PERFMON load and attach the programs since Linux 5.8,
 * but creating a uprobe, which every USDT probe is, needs CAP_SYS_ADMIN again since "perf: Revert
 * to requiring CAP_SYS_ADMIN for uprobes" (ba677dbe77af, 2025, in the stable kernels too).
 */
static int check_privileges(void)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data)) {
		fprintf(stderr, "gilstat: cannot read capabilities: %s\n", strerror(errno));
		return -1;
	}
	if (data[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32)))
		return 0;
	fprintf(stderr, "gilstat: needs root or CAP_SYS_ADMIN, which uprobes require "
			"(CAP_BPF and CAP_PERFMON are not enough)\n");
	return -1;
}

static int attach_usdt(struct bpf_program *prog, pid_t pid, const char *path, const char *name,
		       struct bpf_link **link)
{
	*link = bpf_program__attach_usdt(prog, pid, path, "gil", name, NULL);
	if (!*link) {
		int err = -errno;

		fprintf(stderr, "gilstat: cannot attach to gil:%s in %s: %s\n", name, path,
			strerror(-err));
		return err;
	}
	return 0;
}

/*
 * gilstat's links: three USDT probes for libgil or up to four uprobe lists for CPython, and three
 * scheduler tracepoints.
 */
#define MAX_LINKS (4 * PY_MAX_PROBES + 3)
/* the GILs a running process has in its _PyRuntime: the main interpreter's, one as a rule */
#define MAX_GILS_SEEN 8

struct links {
	struct bpf_link *link[MAX_LINKS];
	int nr;
};

/* 0 when l has room for one more link, else -E2BIG and one line. */
static int links_room(const struct links *l)
{
	if (l->nr < MAX_LINKS)
		return 0;
	fprintf(stderr, "gilstat: more probe sites than the %d links gilstat can hold\n",
		MAX_LINKS);
	return -E2BIG;
}

/* Attaches a raw tracepoint program; what names the tracepoint in the one line of an error. */
static int attach_tracepoint(struct bpf_program *prog, const char *what, struct links *l)
{
	int err = links_room(l);

	if (err)
		return err;
	l->link[l->nr] = bpf_program__attach(prog);
	if (!l->link[l->nr]) {
		err = -errno;
		fprintf(stderr, "gilstat: cannot attach to the %s: %s\n", what, strerror(-err));
		return err;
	}
	l->nr++;
	return 0;
}

static int attach_libgil(struct gilstat_bpf *skel, pid_t pid, const char *path, struct links *l)
{
	struct bpf_program *progs[] = {skel->progs.gil_acquire, skel->progs.gil_release,
				       skel->progs.gil_wait_start};
	const char *names[] = {"acquire", "release", "wait__start"};
	int err;

	for (int i = 0; i < 3; i++) {
		err = links_room(l) ?: attach_usdt(progs[i], pid, path, names[i], &l->link[l->nr]);
		if (err)
			return err;
		l->nr++;
	}
	return 0;
}

static int attach_uprobes(struct bpf_program *prog, pid_t pid, const char *path,
			  const struct py_probe *sites, int nr_sites, bool retprobe,
			  struct links *l)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);

	for (int i = 0; i < nr_sites; i++) {
		int err = links_room(l);

		if (err)
			return err;
		l->link[l->nr] =
			bpf_program__attach_uprobe_opts(prog, pid, path, sites[i].offset, &opts);
		if (!l->link[l->nr]) {
			int err = -errno;

			fprintf(stderr, "gilstat: cannot attach to %s%s in %s: %s\n", sites[i].name,
				retprobe ? " (return)" : "", path, strerror(-err));
			return err;
		}
		l->nr++;
	}
	return 0;
}

/*
 * The condition-variable view: libc's functions, and the main GIL of a running process, found
 * in its _PyRuntime (one that -p cannot find there is an error worth one line). A command's GILs
 * are created after this, and py_cond_init() finds them; the BPF side tests any other condition
 * variable once (a sub-interpreter's GIL created before -p).
 */
static int attach_python_conds(struct gilstat_bpf *skel, pid_t pid, const struct py_target *t,
			       bool running, struct links *l)
{
	const struct py_libc *c = &t->libc;
	struct py_probe signal = {"pthread_cond_signal", c->cond_signal},
			init = {"pthread_cond_init", c->cond_init},
			destroy = {"pthread_cond_destroy", c->cond_destroy},
			waits[2] = {{"pthread_cond_timedwait", c->cond_timedwait},
				    {"pthread_cond_clockwait", c->cond_clockwait}};
	int nr_waits = c->cond_clockwait ? 2 : 1, err;
	__u64 gils[MAX_GILS_SEEN];
	char why[PATH_MAX + 128];
	int nr_gils = 0;

	if (running) {
		nr_gils = pygil_find_gils(pid, t->path, t->cond_offset, gils, MAX_GILS_SEEN, why,
					  sizeof(why));
		if (nr_gils <= 0) {
			/* a layout this gilstat does not know, or a process still starting */
			if (!nr_gils && t->major)
				fprintf(stderr,
					"gilstat: %s (CPython %d.%d: a GIL laid out as in 3.8-3.15 "
					"was looked for; run the command under gilstat instead)\n",
					why, t->major, t->minor);
			else
				fprintf(stderr, "gilstat: %s\n", why);
			return nr_gils ?: -ENOENT;
		}
	}
	for (int i = 0; i < nr_gils; i++) {
		struct py_cond_key key = {.tgid = pid, .addr = gils[i] + t->cond_offset};
		struct py_cond val = {.gil = gils[i], .role = PY_COND_GIL};
		int fd = bpf_map__fd(skel->maps.py_conds);

		err = bpf_map_update_elem(fd, &key, &val, BPF_ANY);
		key.addr += PY_SWITCH_COND_OFFSET;
		val.role = PY_COND_SWITCH;
		err = err ?: bpf_map_update_elem(fd, &key, &val, BPF_ANY);
		if (err) {
			fprintf(stderr, "gilstat: cannot record the GIL at 0x%llx: %s\n",
				(unsigned long long)gils[i], strerror(errno));
			return -errno;
		}
	}
	if (!c->cond_timedwait)
		waits[0] = waits[1], nr_waits = 1;
	return attach_uprobes(skel->progs.py_cond_init, pid, c->path, &init, 1, false, l) ?:
	       attach_uprobes(skel->progs.py_cond_destroy, pid, c->path, &destroy, 1, false, l) ?:
	       attach_uprobes(skel->progs.py_cond_signal, pid, c->path, &signal, 1, false, l) ?:
	       attach_uprobes(skel->progs.py_cond_wait, pid, c->path, waits, nr_waits, false, l) ?:
	       attach_uprobes(skel->progs.py_cond_wait_return, pid, c->path, waits, nr_waits, true,
			      l);
}

static int attach_python(struct gilstat_bpf *skel, pid_t pid, const struct py_target *t,
			 bool running, struct links *l)
{
	if (t->view == PY_VIEW_CONDVAR)
		return attach_python_conds(skel, pid, t, running, l);
	return attach_uprobes(skel->progs.py_acquire_entry, pid, t->path, t->acquire,
			      t->nr_acquire, false, l) ?:
	       attach_uprobes(skel->progs.py_acquire_return, pid, t->path, t->acquire,
			      t->nr_acquire, true, l) ?:
	       attach_uprobes(skel->progs.py_release, pid, t->path, t->release, t->nr_release,
			      false, l) ?:
	       attach_uprobes(skel->progs.py_forced, pid, t->path, t->forced, t->nr_forced, false,
			      l);
}

static int exit_status_of(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return EXIT_SIGNAL_BASE + WTERMSIG(status);
	return 1;
}

/* Runs the command of a free-threaded CPython unobserved: there is no GIL to measure. */
static int run_without_gil(struct child *c)
{
	int err = child_start(c), status;

	printf("PID %d: this interpreter runs without a GIL (free-threaded build): nothing to "
	       "measure\n",
	       c->pid);
	fflush(stdout);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return 1;
	return err ? 127 : exit_status_of(status);
}

static bool is_directory(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static int pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Sleeps until deadline_ns, the target's exit or a signal; true when the target has exited. The
 * stop signals are blocked except inside ppoll(), so one that arrives just before the sleep
 * interrupts it instead of being noticed only after it.
 */
static bool wait_until(int pidfd, __u64 deadline_ns, const sigset_t *wait_mask)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	__u64 now = now_ns();
	struct timespec timeout = {}, *tp = &timeout;

	if (deadline_ns == UINT64_MAX) {
		tp = NULL;
	} else if (deadline_ns > now) {
		timeout.tv_sec = (deadline_ns - now) / 1000000000ull;
		timeout.tv_nsec = (deadline_ns - now) % 1000000000ull;
	}
	return ppoll(&pfd, 1, tp, wait_mask) > 0;
}

/*
 * One report: the maps read into a new snapshot and what changed since prev printed; prev is then
 * the new snapshot. On an error prev stays as it was.
 */
static int report(struct snapshot *prev, int cpu_fd, int key_fd, struct report_meta *meta)
{
	struct snapshot cur = {}, delta = {};
	int err;

	err = snapshot_read(&cur, cpu_fd, key_fd, prev->nr_cpus);
	if (!err)
		err = snapshot_delta(&delta, &cur, prev, env.report.unit_ns);
	if (err) {
		fprintf(stderr, "gilstat: cannot read the BPF maps: %s\n", strerror(-err));
		goto out;
	}
	snapshot_name_groups(&delta, env.comm_fd, env.report.group);
	if (env.stacks_state) {
		err = stacks__read(env.stacks_state);
		if (err) {
			fprintf(stderr, "gilstat: cannot read the stacks: %s\n", strerror(-err));
			goto out;
		}
		stacks__set_errors(env.stacks_state, env.stacks_bss->py_frame_read_errors,
				   env.stacks_bss->stack_errors);
		meta->stacks = env.stacks_state;
	}
	report_print(env.out, &delta, meta, &env.report);
	if (env.heatmap)
		err = heatmap_add_column(env.heatmap, &delta.total.hists[env.heatmap_of],
					 meta->duration_ns);
	if (err) {
		fprintf(stderr, "gilstat: cannot add to the heatmap: %s\n", strerror(-err));
	} else if (ferror(env.out)) {
		fprintf(stderr, "gilstat: cannot write the report: %s\n", strerror(errno));
		err = -EPIPE;
	}
out:
	snapshot_free(&delta);
	if (err) {
		snapshot_free(&cur);
	} else {
		snapshot_free(prev);
		*prev = cur;
	}
	return err;
}

/* --textfile: DIR/gilstat.prom rewritten; a failure is said and the exporter goes on. */
static void write_textfile(struct exporter *ex)
{
	int err = exporter__write_textfile(ex, env.textfile_dir);

	if (err)
		fprintf(stderr, "gilstat: cannot write %s/gilstat.prom: %s\n", env.textfile_dir,
			strerror(-err));
}

/* The exporter's options that come from the command line. */
static struct exporter_opts exporter_opts_of_env(void)
{
	return (struct exporter_opts){
		.unit_ns = env.report.unit_ns,
		.grace_ns = env.grace_sec * 1000000000ull,
		.max_series = env.max_series,
		.verbose = env.verbose,
		.version = GILSTAT_VERSION,
	};
}

/*
 * The exporter's loop: it outlives its target, whose series stay for the grace period, and ends on
 * a stop signal or -d. It wakes each second to drop expired series, and rewrites the textfile
 * every interval.
 */
static void run_exporter(struct exporter *ex, int pidfd, __u64 end_ns, const sigset_t *wait_mask,
			 bool *target_gone)
{
	__u64 period_ns = env.interval_ns ?: EXPORTER_DEFAULT_TEXTFILE_SEC * 1000000000ull;
	__u64 next_write_ns = now_ns(), deadline;

	while (!exiting && now_ns() < end_ns) {
		if (env.textfile_dir && now_ns() >= next_write_ns) {
			write_textfile(ex);
			next_write_ns += period_ns;
		}
		deadline = now_ns() + 1000000000ull;
		if (env.textfile_dir && next_write_ns < deadline)
			deadline = next_write_ns;
		if (end_ns < deadline)
			deadline = end_ns;
		/* Once the target has ended its pidfd stays readable: it is no longer polled. */
		if (wait_until(*target_gone ? -1 : pidfd, deadline, wait_mask) && !*target_gone) {
			*target_gone = true;
			exporter__target_ended(ex, env.pid);
		}
		exporter__expire(ex);
	}
	if (env.textfile_dir)
		write_textfile(ex);
}

/* What is traced, found before anything is loaded. */
struct traced {
	char probe_path[PATH_MAX];
	struct py_target py;
	char python_version[16]; /* "3.12", or empty */
	struct child child;
};

/* The loaded BPF object, its links and the maps the reports read. */
struct tracer {
	struct gilstat_bpf *skel;
	struct links links;
	int nr_cpus, cpu_fd, key_fd;
};

/*
 * Part one: what to trace, before anything is loaded: the probes of the process, the command or
 * its CPython, and the command forked, held until the probes are attached. -1 to go on, or the
 * exit status to end with.
 */
static int resolve_target(struct traced *t, struct report_meta *meta)
{
	char exe[PATH_MAX], err_msg[PATH_MAX + 128];
	int err;

	if (env.python) {
		python_set_debuginfo_opts(
			&(struct debuginfo_opts){ .no_debuginfod = env.no_debuginfod });
		err = env.pid ? python_target_from_pid(env.pid, env.python_path, &t->py, err_msg,
						       sizeof(err_msg))
			      : python_target_from_command(env.command, env.python_path, &t->py,
							   err_msg, sizeof(err_msg));
		if (err) {
			fprintf(stderr, "gilstat: %s\n", err_msg);
			/* 127 is for a command that is not there, not for one that is not Python */
			if (err == -ENOENT && env.command &&
			    resolve_command(env.command[0], exe, sizeof(exe)))
				return 127;
			return 1;
		}
		/* a stripped build without its debug file: say where it was looked for */
		if (t->py.symbols_missing[0])
			fprintf(stderr, "gilstat: %s\n", t->py.symbols_missing);
		if (env.verbose && t->py.symbols_from[0])
			fprintf(stderr, "gilstat: symbols of %s from %s\n", t->py.path,
				t->py.symbols_from);
		snprintf(t->probe_path, sizeof(t->probe_path), "%s", t->py.path);
		if (t->py.major)
			snprintf(t->python_version, sizeof(t->python_version), "%d.%d", t->py.major,
				 t->py.minor);
		meta->note = t->py.blind_spot[0] ? t->py.blind_spot : NULL;
		meta->view = python_view_name(t->py.view);
		if (t->py.view == PY_VIEW_THREADSTATE)
			meta->no_utilisation = "not measured: this view sees the releases around "
					       "blocking calls only";
		else if (t->py.view == PY_VIEW_GIL && (t->py.major > 3 || t->py.minor >= 12))
			meta->no_utilisation = "not measured: take_gil/drop_gil do not say which "
					       "interpreter's GIL they take (3.12 has one each)";
	} else if (env.pid) {
		if (find_probes_in_pid(env.pid, t->probe_path, sizeof(t->probe_path), err_msg,
				       sizeof(err_msg))) {
			fprintf(stderr, "gilstat: %s\n", err_msg);
			return 1;
		}
	} else {
		err = resolve_command(env.command[0], exe, sizeof(exe));
		if (err) {
			fprintf(stderr, "gilstat: %s: %s\n", env.command[0],
				err == -EACCES ? "permission denied (not executable)"
					       : "command not found");
			/* What a shell returns for each. */
			return err == -EACCES ? 126 : 127;
		}
		if (find_probes_in_exe(exe, t->probe_path, sizeof(t->probe_path), err_msg,
				       sizeof(err_msg))) {
			fprintf(stderr, "gilstat: %s\n", err_msg);
			return 1;
		}
	}
	if (env.python && t->py.view == PY_VIEW_NOGIL && env.pid) {
		printf("PID %d: this interpreter runs without a GIL (free-threaded build): nothing "
		       "to measure\n",
		       env.pid);
		return 0;
	}
	if (env.command) {
		err = child_fork(&t->child, env.command);
		if (err) {
			fprintf(stderr, "gilstat: cannot start %s: %s\n", env.command[0],
				strerror(-err));
			return 1;
		}
		env.pid = t->child.pid;
		if (env.python && t->py.view == PY_VIEW_NOGIL)
			return run_without_gil(&t->child);
	}
	return -1;
}

/*
 * --stacks: the threshold, the depth and CPython's frame layout into the BPF object; without it
 * its maps shrink to one entry. A CPython whose layout gilstat does not know is traced without
 * Python frames, which one line says.
 */
static int setup_stacks(struct gilstat_bpf *skel, const struct traced *t)
{
	struct bpf_map *maps[] = {skel->maps.stacks, skel->maps.stack_waits, skel->maps.py_stacks};
	char why[PATH_MAX + 128];

	if (!env.stacks) {
		for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
			bpf_map__set_max_entries(maps[i], 1);
		return 0;
	}
	skel->rodata->targ_stacks = true;
	skel->rodata->targ_min_wait_ns = (__u64)(env.min_wait_ms * 1e6);
	skel->rodata->targ_py_depth = env.stack_depth;
	/* one frame more than kept: a stack that fills it was truncated */
	bpf_map__set_value_size(skel->maps.stacks, (env.stack_depth + 1) * sizeof(__u64));
	if (!env.python)
		return 0;
	if (t->py.view != PY_VIEW_CONDVAR) {
		fprintf(stderr, "gilstat: --stacks: Python frames need the condition-variable view "
				"(--python-probes=libc): native stacks only\n");
		return 0;
	}
	if (py_layout_for(t->py.major, t->py.minor, t->py.path, &env.py_layout, why,
			  sizeof(why))) {
		fprintf(stderr, "gilstat: --stacks: %s: native stacks only\n", why);
		return 0;
	}
	env.py_layout.frames.gil_last_holder = 8;
	memcpy((void *)&skel->rodata->targ_py, &env.py_layout.frames, sizeof(env.py_layout.frames));
	env.py_frames = true;
	return 0;
}

/*
 * Part two: the BPF object loaded and attached to the target. The first snapshot is taken in
 * between, before anything is attached.
 */
static int attach(struct tracer *tr, const struct traced *t, struct snapshot *first)
{
	struct bpf_program *cond_progs[5];
	int err;

	libbpf_set_print(libbpf_print_fn);
	tr->skel = gilstat_bpf__open();
	if (!tr->skel) {
		err = -errno;
		fprintf(stderr, "gilstat: failed to open BPF object: %s\n", strerror(-err));
		return err;
	}
	tr->skel->rodata->targ_tgid = env.pid;
	tr->skel->rodata->targ_unit_ns = env.report.unit_ns;
	tr->skel->rodata->targ_group = env.report.group;
	/* --stacks records the names of the threads it charges, on its own slow path */
	tr->skel->rodata->targ_comms = !!(env.report.group & (GROUP_THREAD | GROUP_PROCESS));
	err = setup_stacks(tr->skel, t);
	if (err)
		return err;
	tr->skel->rodata->targ_args_in_regs = !env.python && elf_gil_args_in_regs(t->probe_path);
	if (env.verbose && !env.python)
		fprintf(stderr, "gilstat: probe arguments read %s\n",
			tr->skel->rodata->targ_args_in_regs
				? "from the call registers"
				: "through bpf_usdt_arg() (as the notes place them)");
	if (!env.report.sched) {
		bpf_program__set_autoload(tr->skel->progs.gil_sched_wakeup, false);
		bpf_program__set_autoload(tr->skel->progs.gil_sched_switch, false);
	}
	if (!env.report.group)
		bpf_map__set_max_entries(tr->skel->maps.key_stats, 1);
	else if (env.max_keys)
		bpf_map__set_max_entries(tr->skel->maps.key_stats, env.max_keys);
	/* Only the programs of the target's kind of GIL are loaded. */
	cond_progs[0] = tr->skel->progs.py_cond_init;
	cond_progs[1] = tr->skel->progs.py_cond_signal;
	cond_progs[2] = tr->skel->progs.py_cond_wait;
	cond_progs[3] = tr->skel->progs.py_cond_wait_return;
	cond_progs[4] = tr->skel->progs.py_cond_destroy;
	bpf_program__set_autoload(tr->skel->progs.gil_acquire, !env.python);
	bpf_program__set_autoload(tr->skel->progs.gil_release, !env.python);
	bpf_program__set_autoload(tr->skel->progs.gil_wait_start, !env.python);
	bpf_program__set_autoload(tr->skel->progs.py_acquire_entry, env.python);
	bpf_program__set_autoload(tr->skel->progs.py_acquire_return, env.python);
	bpf_program__set_autoload(tr->skel->progs.py_release, env.python);
	bpf_program__set_autoload(tr->skel->progs.py_forced, env.python);
	for (size_t i = 0; i < sizeof(cond_progs) / sizeof(cond_progs[0]); i++)
		bpf_program__set_autoload(cond_progs[i],
					  env.python && t->py.view == PY_VIEW_CONDVAR);
	tr->skel->rodata->targ_py_cond_offset = t->py.cond_offset;

	err = gilstat_bpf__load(tr->skel);
	if (err) {
		fprintf(stderr, "gilstat: failed to load BPF object: %s\n", strerror(-err));
		return err;
	}
	/*
	 * The first snapshot is read before anything is attached: one taken after the command
	 * starts would have the events of its first moments subtracted from every report.
	 */
	tr->nr_cpus = libbpf_num_possible_cpus();
	if (tr->nr_cpus < 0) {
		err = tr->nr_cpus;
		fprintf(stderr, "gilstat: cannot count CPUs: %s\n", strerror(-err));
		return err;
	}
	tr->cpu_fd = bpf_map__fd(tr->skel->maps.cpu_stats);
	tr->key_fd = env.report.group ? bpf_map__fd(tr->skel->maps.key_stats) : -1;
	env.comm_fd = bpf_map__fd(tr->skel->maps.comms);
	err = snapshot_read(first, tr->cpu_fd, tr->key_fd, tr->nr_cpus);
	if (err)
		return err;
	err = env.python ? attach_python(tr->skel, env.pid, &t->py, !t->child.pid, &tr->links)
			 : attach_libgil(tr->skel, env.pid, t->probe_path, &tr->links);
	if (err)
		return err;
	if (env.report.sched) {
		struct bpf_program *progs[] = {tr->skel->progs.gil_sched_wakeup,
					       tr->skel->progs.gil_sched_switch};

		for (int i = 0; i < 2 && !err; i++)
			err = attach_tracepoint(progs[i], "scheduler tracepoints", &tr->links);
	}
	/* Whatever the options: the report must say when the target forked children it ignores. */
	if (!err)
		err = attach_tracepoint(tr->skel->progs.gil_fork, "task_newtask tracepoint",
					&tr->links);
	if (err)
		return err;
	return 0;
}

/* How often --stacks reads the target's maps while it runs. */
#define STACKS_REFRESH_NS 100000000ull

static int start_stacks(const struct tracer *tr)
{
	struct stacks_opts so = {
		.pid = env.pid,
		.min_wait_ns = (__u64)(env.min_wait_ms * 1e6),
		.depth = env.stack_depth,
		.unit_ns = env.report.unit_ns,
		.py = env.py_frames ? &env.py_layout : NULL,
		.waits_fd = bpf_map__fd(tr->skel->maps.stack_waits),
		.stacks_fd = bpf_map__fd(tr->skel->maps.stacks),
		.py_stacks_fd = bpf_map__fd(tr->skel->maps.py_stacks),
		.comm_fd = env.comm_fd,
	};

	env.stacks_state = stacks__new(&so);
	if (!env.stacks_state) {
		fprintf(stderr, "gilstat: out of memory\n");
		return -ENOMEM;
	}
	env.stacks_bss = tr->skel->bss;
	stacks__refresh(env.stacks_state);
	return 0;
}

/* --folded and --flamegraph, of everything since tracing began. */
static int write_stack_files(const char *comm)
{
	char title[128];
	int err = 0;

	if (env.folded) {
		err = stacks__write_folded(env.stacks_state, env.folded);
		if (fclose(env.folded) || err) {
			fprintf(stderr, "gilstat: cannot write the folded stacks: %s\n",
				strerror(errno ?: EIO));
			err = -EIO;
		}
		env.folded = NULL;
	}
	if (env.flamegraph) {
		snprintf(title, sizeof(title), "GIL waits caused, PID %d (%s)", env.pid, comm);
		if (stacks__write_flamegraph(env.stacks_state, env.flamegraph, title) ||
		    fclose(env.flamegraph)) {
			fprintf(stderr, "gilstat: cannot write %s: %s\n", env.flamegraph_path,
				strerror(errno ?: EIO));
			err = -EIO;
		}
		env.flamegraph = NULL;
	}
	return err;
}

/*
 * Part three, the report loop: one report at the end, or one every interval, each of the events
 * since the previous one; it ends with the target, -d, COUNT or a stop signal.
 */
static int run_reports(struct tracer *tr, int pidfd, struct snapshot *prev,
		       struct report_meta *meta, __u64 end_ns, const sigset_t *wait_mask,
		       bool *target_gone)
{
	long reports_left = env.count ? env.count : LONG_MAX;
	__u64 last_ns = now_ns(), overlaps_before = 0;
	int err;

	for (;;) {
		__u64 deadline = end_ns;

		if (env.interval_ns && last_ns + env.interval_ns < deadline)
			deadline = last_ns + env.interval_ns;
		while (!exiting && !*target_gone && now_ns() < deadline) {
			__u64 until = deadline;

			/* --stacks: the target's maps and code names, kept for after its exit */
			if (env.stacks_state && now_ns() + STACKS_REFRESH_NS < until)
				until = now_ns() + STACKS_REFRESH_NS;
			*target_gone = wait_until(pidfd, until, wait_mask);
			if (env.stacks_state && !*target_gone)
				stacks__refresh(env.stacks_state);
		}
		meta->final = exiting || *target_gone || now_ns() >= end_ns || reports_left == 1;
		meta->duration_ns = now_ns() - last_ns;
		meta->forks = tr->skel->bss->target_forks;
		meta->gil_overlaps = tr->skel->bss->gil_overlaps - overlaps_before;
		overlaps_before += meta->gil_overlaps;
		last_ns += meta->duration_ns;
		err = report(prev, tr->cpu_fd, tr->key_fd, meta);
		if (err)
			return err;
		reports_left--;
		if (meta->final)
			break;
	}
	return 0;
}

/* The exporter of the attached target, serving on listen_fd (which it takes) if there is one. */
static struct exporter *start_exporter(const struct tracer *tr, const char *comm,
				       const char *python, int listen_fd)
{
	struct exporter_opts eo = exporter_opts_of_env();
	struct exporter *ex;
	char err_msg[128];

	eo.cpu_fd = tr->cpu_fd;
	eo.key_fd = tr->key_fd;
	eo.nr_cpus = tr->nr_cpus;
	ex = exporter__new(&eo);

	if (!ex || exporter__add_target(ex, env.pid, comm, python)) {
		fprintf(stderr, "gilstat: out of memory\n");
		if (listen_fd >= 0)
			close(listen_fd);
		exporter__free(ex);
		return NULL;
	}
	if (listen_fd < 0)
		return ex;
	if (exporter__serve(ex, listen_fd, err_msg, sizeof(err_msg))) {
		fprintf(stderr, "gilstat: %s\n", err_msg);
		exporter__free(ex);
		return NULL;
	}
	fprintf(stderr, "Serving http://%s/metrics\n", env.prometheus);
	return ex;
}

/*
 * -a: the BPF object loaded for every process at once (the libgil and condition-variable
 * programs, the exec events), figures split by process in key_stats.
 */
static struct gilstat_bpf *load_fleet(void)
{
	struct gilstat_bpf *skel;
	int err;

	libbpf_set_print(libbpf_print_fn);
	skel = gilstat_bpf__open();
	if (!skel) {
		fprintf(stderr, "gilstat: failed to open BPF object: %s\n", strerror(errno));
		return NULL;
	}
	skel->rodata->targ_fleet = true;
	/* the reports name each process; the exporter has its comm from /proc already */
	skel->rodata->targ_comms = !env.prometheus && !env.textfile_dir;
	skel->rodata->targ_unit_ns = env.report.unit_ns;
	skel->rodata->targ_group = GROUP_PROCESS | (env.report.group & GROUP_GIL);
	skel->rodata->targ_py_cond_offset = PY_GIL_COND_OFFSET;
	if (env.max_keys)
		bpf_map__set_max_entries(skel->maps.key_stats, env.max_keys);
	bpf_program__set_autoload(skel->progs.py_acquire_entry, false);
	bpf_program__set_autoload(skel->progs.py_acquire_return, false);
	bpf_program__set_autoload(skel->progs.py_release, false);
	bpf_program__set_autoload(skel->progs.py_forced, false);
	bpf_program__set_autoload(skel->progs.gil_sched_wakeup, env.report.sched);
	bpf_program__set_autoload(skel->progs.gil_sched_switch, env.report.sched);
	fleet_prepare(skel);
	err = gilstat_bpf__load(skel);
	if (err) {
		fprintf(stderr, "gilstat: failed to load BPF object: %s\n", strerror(-err));
		gilstat_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/* -a without an exporter: the report of every process so far, or of the interval. */
static int fleet_report(struct gilstat_bpf *skel, struct fleet *fleet, struct snapshot *prev,
			__u64 *last_ns, bool final)
{
	struct fleet_stats fs;
	char what[96];
	struct report_meta meta = {
		.comm = what,
		.probe_path = "every CPython and libgil process",
		.view = "all",
		.final = final,
	};

	fleet__stats(fleet, &fs);
	snprintf(what, sizeof(what), "every CPython and libgil process (%llu traced, %zu now)",
		 (unsigned long long)fs.nr_traced_total, fs.nr_traced);
	meta.duration_ns = now_ns() - *last_ns;
	*last_ns += meta.duration_ns;
	/* GILs of different processes are held at once all the time: the total has no utilisation */
	meta.gil_overlaps = 1;
	return report(prev, bpf_map__fd(skel->maps.cpu_stats), bpf_map__fd(skel->maps.key_stats),
		      &meta);
}

/*
 * -a: every CPython and libgil process, exported (--prometheus, --textfile) or reported (every
 * INTERVAL, and at the end) until a stop signal or -d.
 */
static int run_fleet(int listen_fd, const sigset_t *wait_mask)
{
	struct exporter_opts eo = exporter_opts_of_env();
	__u64 period_ns = env.interval_ns ?: EXPORTER_DEFAULT_TEXTFILE_SEC * 1000000000ull;
	__u64 end_ns = UINT64_MAX, next_write_ns, next_expire_ns, next_report_ns, deadline, last_ns;
	bool reports = listen_fd < 0 && !env.textfile_dir;
	long reports_left = env.count ? env.count : LONG_MAX;
	struct gilstat_bpf *skel = load_fleet();
	struct snapshot prev = {};
	struct exporter *ex = NULL;
	struct fleet *fleet = NULL;
	struct links links = {};
	char err_msg[128];
	int err = -EIO, nr;

	if (!skel)
		goto out;
	/* before anything is attached: every event is in the first report */
	err = reports ? snapshot_read(&prev, bpf_map__fd(skel->maps.cpu_stats),
				      bpf_map__fd(skel->maps.key_stats), libbpf_num_possible_cpus())
		      : 0;
	if (err) {
		fprintf(stderr, "gilstat: cannot read the BPF maps: %s\n", strerror(-err));
		goto out;
	}
	env.comm_fd = bpf_map__fd(skel->maps.comms);
	if (env.report.sched)
		err = attach_tracepoint(skel->progs.gil_sched_wakeup, "scheduler tracepoints",
					&links) ?:
		      attach_tracepoint(skel->progs.gil_sched_switch, "scheduler tracepoints",
					&links);
	err = err ?: attach_tracepoint(skel->progs.gil_exec, "sched_process_exec tracepoint",
				       &links) ?:
		      attach_tracepoint(skel->progs.gil_fork, "task_newtask tracepoint", &links);
	if (err)
		goto out;
	eo.per_process = true;
	eo.split_gil = env.report.group & GROUP_GIL;
	eo.cpu_fd = bpf_map__fd(skel->maps.cpu_stats);
	eo.key_fd = bpf_map__fd(skel->maps.key_stats);
	eo.nr_cpus = libbpf_num_possible_cpus();
	err = -ENOMEM;
	ex = exporter__new(&eo);
	fleet = ex ? fleet__new(&(struct fleet_opts){ .skel = skel, .ex = ex,
						      .verbose = env.verbose })
		   : NULL;
	if (!fleet) {
		fprintf(stderr, "gilstat: cannot watch the host's processes: %s\n",
			strerror(errno ?: ENOMEM));
		goto out;
	}
	/* the exec events are on before the scan: a process is seen once or twice, never not */
	nr = fleet__scan(fleet);
	if (listen_fd >= 0) {
		err = exporter__serve(ex, listen_fd, err_msg, sizeof(err_msg));
		listen_fd = -1;
		if (err) {
			fprintf(stderr, "gilstat: %s\n", err_msg);
			goto out;
		}
		fprintf(stderr, "Serving http://%s/metrics\n", env.prometheus);
	}
	fprintf(stderr, "Tracing the GIL of every CPython and libgil process (%d now)... Hit "
			"Ctrl-C to end.\n",
		nr < 0 ? 0 : nr);
	if (env.duration_sec)
		end_ns = now_ns() + (__u64)(env.duration_sec * 1e9);
	next_write_ns = next_expire_ns = last_ns = now_ns();
	next_report_ns = reports && env.interval_ns ? last_ns + env.interval_ns : UINT64_MAX;
	/* a report covers the processes that ended too: their entries stay until the end */
	if (reports)
		next_expire_ns = UINT64_MAX;
	while (!exiting && now_ns() < end_ns) {
		if (env.textfile_dir && now_ns() >= next_write_ns) {
			write_textfile(ex);
			next_write_ns += period_ns;
		}
		if (now_ns() >= next_expire_ns) {
			exporter__expire(ex);
			next_expire_ns = now_ns() + 1000000000ull;
		}
		if (now_ns() >= next_report_ns) {
			if (--reports_left == 0)
				break;
			err = fleet_report(skel, fleet, &prev, &last_ns, false);
			if (err)
				goto out;
			next_report_ns += env.interval_ns;
		}
		deadline = next_expire_ns;
		if (next_report_ns < deadline)
			deadline = next_report_ns;
		if (env.textfile_dir && next_write_ns < deadline)
			deadline = next_write_ns;
		if (fleet__next_ns(fleet) < deadline)
			deadline = fleet__next_ns(fleet);
		if (end_ns < deadline)
			deadline = end_ns;
		wait_until(fleet__fd(fleet), deadline, wait_mask);
		fleet__poll(fleet);
	}
	err = reports ? fleet_report(skel, fleet, &prev, &last_ns, true) : 0;
	if (env.textfile_dir)
		write_textfile(ex);
	if (!err && env.heatmap) {
		err = heatmap_write(env.heatmap, 0, "every CPython and libgil process");
		if (err)
			fprintf(stderr, "gilstat: cannot write the heatmap: %s\n", strerror(-err));
	}
out:
	/* The server reads the maps: it stops first. */
	exporter__free(ex);
	fleet__free(fleet);
	if (listen_fd >= 0)
		close(listen_fd);
	for (int i = 0; i < links.nr; i++)
		bpf_link__destroy(links.link[i]);
	gilstat_bpf__destroy(skel);
	snapshot_free(&prev);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.args_doc = args_doc,
		.doc = doc,
	};
	static struct traced traced = {.child = {.pid = 0, .go_fd = -1, .error_fd = -1}};
	struct tracer tracer = {};
	struct snapshot prev = {};
	struct report_meta meta = {};
	char err_msg[PATH_MAX + 128], comm[64];
	struct sigaction stop_action = {.sa_handler = sig_handler};
	sigset_t stop_signals, wait_mask;
	struct exporter *ex = NULL;
	int listen_fd = -1;
	__u64 start_ns, end_ns = UINT64_MAX;
	int err, pidfd = -1, dashdash, exit_code = 0;
	bool target_gone = false;

	/* Everything after "--" is the command, untouched by option parsing. */
	for (dashdash = 1; dashdash < argc && strcmp(argv[dashdash], "--"); dashdash++)
		;
	if (dashdash < argc) {
		env.command = &argv[dashdash + 1];
		argv[dashdash] = NULL;
	}
	/* getopt starts its messages with argv[0]; ours start with "gilstat:". */
	argv[0] = "gilstat";
	err = argp_parse(&argp, dashdash, argv, 0, NULL, NULL);
	if (err)
		return 2;
	if (!env.out)
		env.out = stdout;
	if (env.command && !env.command[0]) {
		fprintf(stderr, "gilstat: no command after --\n");
		return 2;
	}
	if (env.pid && env.command) {
		fprintf(stderr, "gilstat: give either -p PID or a command, not both\n");
		return 2;
	}
	if (env.all && (env.pid || env.command || env.python)) {
		fprintf(stderr, "gilstat: -a traces every process: no -p, --python or command with it\n");
		return 2;
	}
	if (env.all && (env.stacks || (env.report.group & GROUP_THREAD))) {
		fprintf(stderr, "gilstat: -a reports by process and GIL: -L and --stacks follow one "
				"process (-p)\n");
		return 2;
	}
	/* -a's reports: a section for each GIL of each process */
	if (env.all && !env.prometheus && !env.textfile_dir)
		env.report.group |= GROUP_PROCESS | GROUP_GIL;
	if (!env.pid && !env.command && !env.all) {
		fprintf(stderr, "gilstat: nothing to trace: give -p PID or -- COMMAND "
				"(see gilstat --help)\n");
		return 2;
	}
	if (env.textfile_dir &&
	    (access(env.textfile_dir, W_OK | X_OK) || !is_directory(env.textfile_dir))) {
		fprintf(stderr, "gilstat: --textfile %s: not a writable directory\n",
			env.textfile_dir);
		return 2;
	}
	/* Before anything is loaded: a port in use is a usage error, told at once. */
	if (env.prometheus &&
	    exporter_listen(env.prometheus, &listen_fd, err_msg, sizeof(err_msg))) {
		fprintf(stderr, "gilstat: %s\n", err_msg);
		return 2;
	}
	if (env.heatmap_file) {
		if (!env.interval_ns) {
			fprintf(stderr, "gilstat: --heatmap needs an INTERVAL: each of its columns is "
					"one interval\n");
			return 2;
		}
		if (env.prometheus || env.textfile_dir) {
			fprintf(stderr, "gilstat: --heatmap draws the interval reports, which "
					"--prometheus and --textfile do not make\n");
			return 2;
		}
		if (env.heatmap_of == HIST_SCHED_DELAY && !env.report.sched) {
			fprintf(stderr, "gilstat: --heatmap-of sched-delay needs the scheduler, "
					"which --no-sched turns off\n");
			return 2;
		}
		env.heatmap = heatmap_new(env.heatmap_file, env.heatmap_of, env.report.unit_ns);
		if (!env.heatmap) {
			fprintf(stderr, "gilstat: out of memory\n");
			return 1;
		}
	}
	/* The exporter's per-GIL series are labelled with their process too. */
	if ((env.prometheus || env.textfile_dir) && (env.report.group & GROUP_GIL))
		env.report.group |= GROUP_PROCESS;

	/*
	 * The stop signals are caught from the start, so that one sent while the BPF object loads
	 * still ends in a report and a clean detach.
	 */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGHUP);
	sigaction(SIGINT, &stop_action, NULL);
	sigaction(SIGTERM, &stop_action, NULL);
	sigaction(SIGHUP, &stop_action, NULL);
	/* A reader that went away must not kill us before the probes are detached. */
	signal(SIGPIPE, SIG_IGN);

	if (check_privileges())
		return 1;
	if (env.all) {
		exit_code = run_fleet(listen_fd, &wait_mask);
		listen_fd = -1; /* run_fleet's */
		err = 0;
		goto cleanup;
	}

	exit_code = resolve_target(&traced, &meta);
	if (exit_code >= 0)
		return exit_code;
	exit_code = 0;

	err = attach(&tracer, &traced, &prev);
	if (err)
		goto cleanup;

	pidfd = pidfd_open(env.pid);
	if (pidfd < 0) {
		err = -errno;
		fprintf(stderr, "gilstat: PID %d: %s\n", env.pid,
			err == -ESRCH ? "exited before tracing started" : strerror(-err));
		goto cleanup;
	}
	if (traced.child.pid) {
		err = child_start(&traced.child);
		if (err) {
			fprintf(stderr, "gilstat: cannot run %s: %s\n", env.command[0],
				strerror(-err));
			exit_code = err == -ENOENT ? 127 : 126;
			goto cleanup;
		}
	}
	proc_read_comm(env.pid, env.pid, comm, sizeof(comm));
	if (env.verbose)
		fprintf(stderr, "gilstat: probes attached to PID %d in %s\n", env.pid,
			traced.probe_path);
	fprintf(stderr, "Tracing the GIL of PID %d (%s)... %s\n", env.pid, comm,
		env.interval_ns ? "Hit Ctrl-C to end." : "Hit Ctrl-C to end and report.");

	start_ns = now_ns();
	if (env.duration_sec)
		end_ns = start_ns + (__u64)(env.duration_sec * 1e9);
	meta.pid = env.pid;
	meta.comm = comm;
	meta.probe_path = traced.probe_path;
	if (env.stacks) {
		err = start_stacks(&tracer);
		if (err)
			goto cleanup;
	}
	if (env.prometheus || env.textfile_dir) {
		ex = start_exporter(&tracer, comm, traced.python_version, listen_fd);
		listen_fd = -1;
		if (!ex) {
			err = -EIO;
			goto cleanup;
		}
		run_exporter(ex, pidfd, end_ns, &wait_mask, &target_gone);
		/* A report only when one was asked for: a service's log is no place for it. */
		if (env.out_given || env.report.json) {
			meta.final = true;
			meta.duration_ns = now_ns() - start_ns;
			meta.forks = tracer.skel->bss->target_forks;
			meta.gil_overlaps = tracer.skel->bss->gil_overlaps;
			err = report(&prev, tracer.cpu_fd, tracer.key_fd, &meta);
		}
		goto cleanup;
	}
	err = run_reports(&tracer, pidfd, &prev, &meta, end_ns, &wait_mask, &target_gone);
	if (err)
		goto cleanup;
	if (env.stacks_state)
		err = write_stack_files(comm);
	if (target_gone && !traced.child.pid)
		fprintf(stderr, "gilstat: PID %d exited\n", env.pid);
	if (env.heatmap) {
		err = heatmap_write(env.heatmap, env.pid, comm);
		if (err)
			fprintf(stderr, "gilstat: cannot write the heatmap: %s\n", strerror(-err));
	}

cleanup:
	/* The server reads the maps: it stops first. */
	exporter__free(ex);
	stacks__free(env.stacks_state);
	if (listen_fd >= 0)
		close(listen_fd);
	for (int i = 0; i < tracer.links.nr; i++)
		bpf_link__destroy(tracer.links.link[i]);
	gilstat_bpf__destroy(tracer.skel);
	snapshot_free(&prev);
	if (traced.child.pid) {
		int status;

		/* A child that never started, or that outlives the trace (-d, a signal), ends now.
		 */
		if (traced.child.go_fd >= 0)
			close(traced.child.go_fd);
		else if (!target_gone)
			kill(traced.child.pid, SIGTERM);
		if (waitpid(traced.child.pid, &status, 0) == traced.child.pid && !err && !exit_code)
			exit_code = exit_status_of(status);
	}
	if (pidfd >= 0)
		close(pidfd);
	heatmap_free(env.heatmap);
	if (fclose(env.out) && !err && !exit_code) {
		fprintf(stderr, "gilstat: cannot write the report: %s\n", strerror(errno));
		return 1;
	}
	if (exit_code)
		return exit_code;
	return err ? 1 : 0;
}
