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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/libbpf.h>

#include "gilstat.h"
#include "gilstat.skel.h"
#include "heatmap.h"
#include "python.h"
#include "report.h"
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
	long max_keys;
	const char *python_path;
	FILE *out;
	struct report_opts report;
	char **command;
	FILE *heatmap_file;
	enum gilstat_hist heatmap_of;
	struct heatmap *heatmap;
} env = {
	.report = { .unit_ns = 1000, .unit_name = "usecs", .sched = true },
};

static volatile sig_atomic_t exiting;

const char *argp_program_version = "gilstat 0.1";
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
	"  gilstat --python -- python3 app.py  # the GIL of a real CPython";
static const char args_doc[] = "(-p PID | -- COMMAND [ARGS...]) [INTERVAL [COUNT]]";

enum {
	OPT_NO_SCHED = 0x100,
	OPT_PYTHON,
	OPT_MAX_KEYS,
	OPT_HEATMAP,
	OPT_HEATMAP_OF,
};

static const struct argp_option opts[] = {
	{ "pid", 'p', "PID", 0, "Trace this process", 0 },
	{ "per-cpu", 'C', NULL, 0, "Also print wait and hold histograms per CPU", 0 },
	{ "threads", 'L', NULL, 0, "One section per thread", 0 },
	{ "processes", 'P', NULL, 0, "One section per process", 0 },
	{ "gils", 'G', NULL, 0, "One section per GIL (per-interpreter GILs)", 0 },
	{ "milliseconds", 'm', NULL, 0, "Histograms in milliseconds (default: microseconds)", 0 },
	{ "timestamp", 'T', NULL, 0, "Print a timestamp with each report", 0 },
	{ "duration", 'd', "SECONDS", 0, "Stop after this many seconds", 0 },
	{ "json", 'j', NULL, 0, "Print reports as JSON, one object per line", 0 },
	{ "output", 'o', "FILE", 0, "Write reports to FILE instead of standard output", 0 },
	{ "no-sched", OPT_NO_SCHED, NULL, 0, "Do not trace the scheduler (no sched delay)", 0 },
	{ "python", OPT_PYTHON, "PATH", OPTION_ARG_OPTIONAL,
	  "Trace a CPython interpreter's own GIL; PATH names the interpreter or libpython", 0 },
	{ "max-keys", OPT_MAX_KEYS, "N", 0,
	  "Size of the -L/-P/-G breakdown map; events of keys beyond it count in the totals only", 0 },
	{ "heatmap", OPT_HEATMAP, "FILE", 0,
	  "With INTERVAL: write a latency heatmap (SVG) to FILE, a column per interval", 0 },
	{ "heatmap-of", OPT_HEATMAP_OF, "HIST", 0,
	  "The heatmap's histogram: wait (default), hold, handoff or sched-delay", 0 },
	{ "verbose", 'v', NULL, 0, "Print libbpf debug output", 0 },
	{ NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0 },
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

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	static int pos_args;
	char *end;

	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case 'p':
		env.pid = parse_long(state, "PID", arg, 1, INT_MAX);
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
		errno = 0;
		env.duration_sec = strtod(arg, &end);
		if (errno || end == arg || *end || !(env.duration_sec > 0) ||
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
		break;
	case OPT_NO_SCHED:
		env.report.sched = false;
		break;
	case OPT_PYTHON:
		env.python = true;
		env.python_path = arg;
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
	case OPT_MAX_KEYS:
		env.max_keys = parse_long(state, "--max-keys", arg, 1, 1 << 24);
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

			errno = 0;
			sec = strtod(arg, &end);
			if (errno || end == arg || *end || !(sec >= 0.01) || sec > 86400)
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

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * Root, or CAP_SYS_ADMIN. CAP_BPF and CAP_PERFMON load and attach the programs since Linux 5.8,
 * but creating a uprobe, which every USDT probe is, needs CAP_SYS_ADMIN again since "perf: Revert
 * to requiring CAP_SYS_ADMIN for uprobes" (ba677dbe77af, 2025, in the stable kernels too).
 */
static int check_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
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

static void read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, len, f))
		snprintf(buf, len, "?");
	buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
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

struct links {
	struct bpf_link *link[MAX_LINKS];
	int nr;
};

static int attach_libgil(struct gilstat_bpf *skel, pid_t pid, const char *path, struct links *l)
{
	struct bpf_program *progs[] = { skel->progs.gil_acquire, skel->progs.gil_release,
					skel->progs.gil_wait_start };
	const char *names[] = { "acquire", "release", "wait__start" };
	int err;

	for (int i = 0; i < 3; i++) {
		err = attach_usdt(progs[i], pid, path, names[i], &l->link[l->nr]);
		if (err)
			return err;
		l->nr++;
	}
	return 0;
}

static int attach_uprobes(struct bpf_program *prog, pid_t pid, const char *path,
			  const struct py_probe *sites, int nr_sites, bool retprobe, struct links *l)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = retprobe);

	for (int i = 0; i < nr_sites && l->nr < MAX_LINKS; i++) {
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

static int attach_python(struct gilstat_bpf *skel, pid_t pid, const struct py_target *t,
			 struct links *l)
{
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

	printf("PID %d runs CPython without a GIL (free-threaded build): no GIL to measure\n",
	       c->pid);
	fflush(stdout);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return 1;
	return err ? 127 : exit_status_of(status);
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
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
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

static int report(const struct snapshot *prev, struct snapshot *cur, int cpu_fd, int key_fd,
		  struct report_meta *meta)
{
	struct snapshot delta = {};
	int err;

	err = snapshot_read(cur, cpu_fd, key_fd, prev->nr_cpus);
	if (!err)
		err = snapshot_delta(&delta, cur, prev, env.report.unit_ns);
	if (err) {
		fprintf(stderr, "gilstat: cannot read the BPF maps: %s\n", strerror(-err));
		snapshot_free(&delta);
		return err;
	}
	report_print(env.out, &delta, meta, &env.report);
	if (env.heatmap)
		err = heatmap_add_column(env.heatmap, &delta.total.hists[env.heatmap_of],
					 meta->duration_ns);
	if (err)
		fprintf(stderr, "gilstat: cannot add to the heatmap: %s\n", strerror(-err));
	snapshot_free(&delta);
	return err;
}

int main(int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.args_doc = args_doc,
		.doc = doc,
	};
	struct links links = {};
	struct py_target py = {};
	struct snapshot prev = {}, cur = {};
	struct report_meta meta = {};
	struct child child = { .pid = 0, .go_fd = -1, .error_fd = -1 };
	char probe_path[PATH_MAX], exe[PATH_MAX], err_msg[PATH_MAX + 128], comm[64];
	struct sigaction stop_action = { .sa_handler = sig_handler };
	sigset_t stop_signals, wait_mask;
	struct gilstat_bpf *skel = NULL;
	__u64 start_ns, last_ns, end_ns = UINT64_MAX;
	int err, pidfd = -1, nr_cpus, cpu_fd, key_fd, dashdash, exit_code = 0;
	long reports_left;
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
	if (!env.pid && !env.command) {
		fprintf(stderr, "gilstat: nothing to trace: give -p PID or -- COMMAND "
				"(see gilstat --help)\n");
		return 2;
	}
	if (env.heatmap_file) {
		if (!env.interval_ns) {
			fprintf(stderr, "gilstat: --heatmap needs an INTERVAL: each of its columns is "
					"one interval\n");
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

	if (env.python) {
		err = env.pid ? python_target_from_pid(env.pid, env.python_path, &py, err_msg,
						       sizeof(err_msg)) :
				python_target_from_command(env.command, env.python_path, &py,
							   err_msg, sizeof(err_msg));
		if (err) {
			fprintf(stderr, "gilstat: %s\n", err_msg);
			/* 127 is for a command that is not there, not for one that is not Python */
			if (err == -ENOENT && env.command &&
			    resolve_command(env.command[0], exe, sizeof(exe)))
				return 127;
			return 1;
		}
		snprintf(probe_path, sizeof(probe_path), "%s", py.path);
		meta.note = py.blind_spot[0] ? py.blind_spot : NULL;
		meta.view = python_view_name(py.view);
	} else if (env.pid) {
		if (find_probes_in_pid(env.pid, probe_path, sizeof(probe_path), err_msg,
				       sizeof(err_msg))) {
			fprintf(stderr, "gilstat: %s\n", err_msg);
			return 1;
		}
	} else {
		err = resolve_command(env.command[0], exe, sizeof(exe));
		if (err) {
			fprintf(stderr, "gilstat: %s: %s\n", env.command[0],
				err == -EACCES ? "permission denied (not executable)" :
						 "command not found");
			/* What a shell returns for each. */
			return err == -EACCES ? 126 : 127;
		}
		if (find_probes_in_exe(exe, probe_path, sizeof(probe_path), err_msg,
				       sizeof(err_msg))) {
			fprintf(stderr, "gilstat: %s\n", err_msg);
			return 1;
		}
	}
	if (env.python && py.view == PY_VIEW_NOGIL && env.pid) {
		printf("PID %d runs CPython without a GIL (free-threaded build): no GIL to measure\n",
		       env.pid);
		return 0;
	}
	if (env.command) {
		err = child_fork(&child, env.command);
		if (err) {
			fprintf(stderr, "gilstat: cannot start %s: %s\n", env.command[0],
				strerror(-err));
			return 1;
		}
		env.pid = child.pid;
		if (env.python && py.view == PY_VIEW_NOGIL)
			return run_without_gil(&child);
	}

	libbpf_set_print(libbpf_print_fn);
	skel = gilstat_bpf__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "gilstat: failed to open BPF object: %s\n", strerror(-err));
		goto cleanup;
	}
	skel->rodata->targ_tgid = env.pid;
	skel->rodata->targ_unit_ns = env.report.unit_ns;
	skel->rodata->targ_group = env.report.group;
	skel->rodata->targ_args_in_regs = !env.python && elf_gil_args_in_regs(probe_path);
	if (env.verbose && !env.python)
		fprintf(stderr, "gilstat: probe arguments read %s\n",
			skel->rodata->targ_args_in_regs ? "from the call registers" :
							  "through bpf_usdt_arg() (as the notes place them)");
	if (!env.report.sched) {
		bpf_program__set_autoload(skel->progs.gil_sched_wakeup, false);
		bpf_program__set_autoload(skel->progs.gil_sched_switch, false);
	}
	if (!env.report.group)
		bpf_map__set_max_entries(skel->maps.key_stats, 1);
	else if (env.max_keys)
		bpf_map__set_max_entries(skel->maps.key_stats, env.max_keys);
	/* Only the programs of the target's kind of GIL are loaded. */
	bpf_program__set_autoload(skel->progs.gil_acquire, !env.python);
	bpf_program__set_autoload(skel->progs.gil_release, !env.python);
	bpf_program__set_autoload(skel->progs.gil_wait_start, !env.python);
	bpf_program__set_autoload(skel->progs.py_acquire_entry, env.python);
	bpf_program__set_autoload(skel->progs.py_acquire_return, env.python);
	bpf_program__set_autoload(skel->progs.py_release, env.python);
	bpf_program__set_autoload(skel->progs.py_forced, env.python);

	err = gilstat_bpf__load(skel);
	if (err) {
		fprintf(stderr, "gilstat: failed to load BPF object: %s\n", strerror(-err));
		goto cleanup;
	}
	/*
	 * The first snapshot is read before anything is attached: one taken after the command
	 * starts would have the events of its first moments subtracted from every report.
	 */
	nr_cpus = libbpf_num_possible_cpus();
	if (nr_cpus < 0) {
		err = nr_cpus;
		fprintf(stderr, "gilstat: cannot count CPUs: %s\n", strerror(-err));
		goto cleanup;
	}
	cpu_fd = bpf_map__fd(skel->maps.cpu_stats);
	key_fd = env.report.group ? bpf_map__fd(skel->maps.key_stats) : -1;
	err = snapshot_read(&prev, cpu_fd, key_fd, nr_cpus);
	if (err)
		goto cleanup;
	err = env.python ? attach_python(skel, env.pid, &py, &links) :
			   attach_libgil(skel, env.pid, probe_path, &links);
	if (err)
		goto cleanup;
	if (env.report.sched) {
		struct bpf_program *progs[] = { skel->progs.gil_sched_wakeup,
						 skel->progs.gil_sched_switch };

		for (int i = 0; i < 2; i++) {
			links.link[links.nr] = bpf_program__attach(progs[i]);
			if (!links.link[links.nr]) {
				err = -errno;
				fprintf(stderr, "gilstat: cannot attach to the scheduler "
						"tracepoints: %s\n",
					strerror(-err));
				goto cleanup;
			}
			links.nr++;
		}
	}
	/* Whatever the options: the report must say when the target forked children it ignores. */
	links.link[links.nr] = bpf_program__attach(skel->progs.gil_fork);
	if (!links.link[links.nr]) {
		err = -errno;
		fprintf(stderr, "gilstat: cannot attach to the task_newtask tracepoint: %s\n",
			strerror(-err));
		goto cleanup;
	}
	links.nr++;

	pidfd = pidfd_open(env.pid);
	if (pidfd < 0) {
		err = -errno;
		fprintf(stderr, "gilstat: PID %d: %s\n", env.pid,
			err == -ESRCH ? "exited before tracing started" : strerror(-err));
		goto cleanup;
	}
	if (child.pid) {
		err = child_start(&child);
		if (err) {
			fprintf(stderr, "gilstat: cannot run %s: %s\n", env.command[0],
				strerror(-err));
			exit_code = err == -ENOENT ? 127 : 126;
			goto cleanup;
		}
	}
	read_comm(env.pid, comm, sizeof(comm));
	if (env.verbose)
		fprintf(stderr, "gilstat: probes attached to PID %d in %s\n", env.pid, probe_path);
	fprintf(stderr, "Tracing the GIL of PID %d (%s)... %s\n", env.pid, comm,
		env.interval_ns ? "Hit Ctrl-C to end." : "Hit Ctrl-C to end and report.");

	start_ns = now_ns();
	if (env.duration_sec)
		end_ns = start_ns + (__u64)(env.duration_sec * 1e9);
	reports_left = env.count ? env.count : LONG_MAX;
	meta.pid = env.pid;
	meta.comm = comm;
	meta.probe_path = probe_path;
	last_ns = start_ns;
	for (;;) {
		__u64 deadline = end_ns;

		if (env.interval_ns && last_ns + env.interval_ns < deadline)
			deadline = last_ns + env.interval_ns;
		while (!exiting && !target_gone && now_ns() < deadline)
			target_gone = wait_until(pidfd, deadline, &wait_mask);
		meta.final = exiting || target_gone || now_ns() >= end_ns || reports_left == 1;
		meta.duration_ns = now_ns() - last_ns;
		meta.forks = skel->bss->target_forks;
		last_ns += meta.duration_ns;
		err = report(&prev, &cur, cpu_fd, key_fd, &meta);
		if (err)
			goto cleanup;
		if (ferror(env.out)) {
			fprintf(stderr, "gilstat: cannot write the report: %s\n", strerror(errno));
			err = -EPIPE;
			goto cleanup;
		}
		snapshot_free(&prev);
		prev = cur;
		memset(&cur, 0, sizeof(cur));
		reports_left--;
		if (meta.final)
			break;
	}
	if (target_gone && !child.pid)
		fprintf(stderr, "gilstat: PID %d exited\n", env.pid);
	if (env.heatmap) {
		err = heatmap_write(env.heatmap, env.pid, comm);
		if (err)
			fprintf(stderr, "gilstat: cannot write the heatmap: %s\n", strerror(-err));
	}

cleanup:
	for (int i = 0; i < links.nr; i++)
		bpf_link__destroy(links.link[i]);
	gilstat_bpf__destroy(skel);
	snapshot_free(&prev);
	snapshot_free(&cur);
	if (child.pid) {
		int status;

		/* A child that never started, or that outlives the trace (-d, a signal), ends now. */
		if (child.go_fd >= 0)
			close(child.go_fd);
		else if (!target_gone)
			kill(child.pid, SIGTERM);
		if (waitpid(child.pid, &status, 0) == child.pid && !err && !exit_code)
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
