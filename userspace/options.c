// SPDX-License-Identifier: GPL-2.0
/* gilstat's command line: argp's table and parser, and the checks made once after it. */
#include <argp.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exporter.h"
#include "heatmap.h"
#include "options.h"
#include "pygil.h"

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
	OPT_TIMELINE,
	OPT_TIMELINE_LIMIT,
	OPT_BY,
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
	{"by", OPT_BY, "WHAT", 0,
	 "With -a: one series per exe, cgroup or container, not per process; it keeps the figures "
	 "of the processes that ended, so rate() holds across restarts", 0},
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
	 "Write holders' stacks, '--', and their waiters' as folded stacks, weighted by wait in us "
	 "(implies --stacks)", 0},
	{"flamegraph", OPT_FLAMEGRAPH, "FILE", 0,
	 "Write them as an SVG flame graph (implies --stacks)", 0},
	{"timeline", OPT_TIMELINE, "FILE", 0,
	 "Write who held and who waited for the GIL, cycle by cycle, as a Chrome trace (JSON: "
	 "Perfetto, chrome://tracing, speedscope)", 0},
	{"timeline-limit", OPT_TIMELINE_LIMIT, "N", 0,
	 "With --timeline: events written at most, later ones counted (default 1000000)", 0},
	{"verbose", 'v', NULL, 0, "Print libbpf debug output", 0},
	{NULL, 'h', NULL, OPTION_HIDDEN, "Show the full help", 0},
	{},
};

/*
 * A file an option names, opened before anything is traced: one that cannot be written is a
 * usage error then, not a lost report after a whole trace. Not inherited by the command.
 */
static FILE *open_output(const char *path)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		fprintf(stderr, "gilstat: cannot write %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return f;
}

/* --by's arguments, by enum exporter_by */
static const char *const by_names[] = {
	[EXPORTER_BY_EXE] = "exe",
	[EXPORTER_BY_CGROUP] = "cgroup",
	[EXPORTER_BY_CONTAINER] = "container",
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

/* The options that have a long name only: --python, the exporter's, --heatmap, --stacks. */
static error_t parse_long_option(struct options *o, int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case OPT_NO_SCHED:
		o->report.sched = false;
		break;
	case OPT_PYTHON:
		o->python = true;
		o->python_path = arg;
		break;
	case OPT_PYTHON_PROBES:
		if (!strcmp(arg, "symbols"))
			o->python_symbols = true;
		else if (strcmp(arg, "libc"))
			die_usage(state, "invalid --python-probes '%s': expected libc or symbols",
				  arg);
		break;
	case OPT_HEATMAP:
		o->heatmap_file = open_output(arg);
		break;
	case OPT_HEATMAP_OF:
		for (o->heatmap_of = 0; o->heatmap_of < NR_HISTS; o->heatmap_of++)
			if (!strcmp(arg, heatmap_hist_names[o->heatmap_of]))
				break;
		if (o->heatmap_of == NR_HISTS)
			die_usage(state, "invalid --heatmap-of '%s': expected wait, hold, "
					 "handoff or sched-delay", arg);
		break;
	case OPT_NO_DEBUGINFOD:
		o->no_debuginfod = true;
		break;
	case OPT_MAX_KEYS:
		o->max_keys = parse_long(state, "--max-keys", arg, 1, 1 << 24);
		break;
	case OPT_PROMETHEUS:
		o->prometheus = arg;
		break;
	case OPT_TEXTFILE:
		o->textfile_dir = arg;
		break;
	case OPT_GRACE:
		o->grace_sec = parse_long(state, "--grace", arg, 0, 86400);
		break;
	case OPT_MAX_SERIES:
		o->max_series = parse_long(state, "--max-series", arg, 1, 1 << 20);
		break;
	case OPT_STACKS:
		o->stacks = true;
		break;
	case OPT_MIN_WAIT:
		if (!is_number(arg, &o->min_wait_ms) || !(o->min_wait_ms >= 0.001) ||
		    o->min_wait_ms > 3600000)
			die_usage(state, "invalid --min-wait '%s': expected milliseconds, >= 0.001",
				  arg);
		break;
	case OPT_STACK_DEPTH:
		o->stack_depth = parse_long(state, "--stack-depth", arg, 1, PY_MAX_FRAMES);
		break;
	case OPT_FOLDED:
		o->stacks = true;
		o->folded = open_output(arg);
		break;
	case OPT_FLAMEGRAPH:
		o->stacks = true;
		o->flamegraph = open_output(arg);
		o->flamegraph_path = arg;
		break;
	case OPT_TIMELINE:
		o->timeline = open_output(arg);
		o->timeline_path = arg;
		break;
	case OPT_BY:
		for (o->by = EXPORTER_BY_EXE; o->by <= EXPORTER_BY_CONTAINER; o->by++)
			if (!strcmp(arg, by_names[o->by]))
				break;
		if (o->by > EXPORTER_BY_CONTAINER)
			die_usage(state, "invalid --by '%s': expected exe, cgroup or container", arg);
		break;
	case OPT_TIMELINE_LIMIT:
		o->timeline_limit = parse_long(state, "--timeline-limit", arg, 1, 100000000);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

/* argp's input: the options, and how many positional arguments were seen */
struct parse_state {
	struct options *o;
	int pos_args;
};

static error_t parse_arg(int key, char *arg, struct argp_state *state)
{
	struct parse_state *ps = state->input;
	struct options *o = ps->o;

	switch (key) {
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case 'p':
		o->pid = parse_long(state, "PID", arg, 1, INT_MAX);
		break;
	case 'a':
		o->all = true;
		break;
	case 'C':
		o->report.per_cpu_hists = true;
		break;
	case 'L':
		o->report.group |= GROUP_THREAD;
		break;
	case 'P':
		o->report.group |= GROUP_PROCESS;
		break;
	case 'G':
		o->report.group |= GROUP_GIL;
		break;
	case 'm':
		o->report.unit_ns = 1000000;
		o->report.unit_name = "msecs";
		break;
	case 'T':
		o->report.timestamp = true;
		break;
	case 'd':
		if (!is_number(arg, &o->duration_sec) || !(o->duration_sec > 0) ||
		    o->duration_sec > 31536000)
			die_usage(state, "invalid duration '%s': expected seconds, > 0", arg);
		break;
	case 'j':
		o->report.json = true;
		break;
	case 'o':
		o->out = open_output(arg);
		o->out_given = true;
		break;
	case 'v':
		o->verbose = true;
		break;
	case ARGP_KEY_INIT:
		/* getopt's one-line message is enough: no "Try --help" line after it. */
		state->err_stream = NULL;
		break;
	case ARGP_KEY_ARG:
		if (ps->pos_args == 0) {
			double sec;

			if (!is_number(arg, &sec) || !(sec >= 0.01) || sec > 86400)
				die_usage(state, "invalid interval '%s': expected seconds "
						 "from 0.01 to 86400", arg);
			o->interval_ns = (__u64)(sec * 1e9 + 0.5);
		} else if (ps->pos_args == 1)
			o->count = parse_long(state, "count", arg, 1, LONG_MAX);
		else
			die_usage(state, "unexpected argument '%s' (a command goes after --)", arg);
		ps->pos_args++;
		break;
	default:
		return parse_long_option(o, key, arg, state);
	}
	return 0;
}

static const struct options defaults = {
	.min_wait_ms = 1,
	.stack_depth = 32,
	.timeline_limit = 1000000,
	.report = {.unit_ns = 1000, .unit_name = "usecs", .sched = true},
	.grace_sec = EXPORTER_DEFAULT_GRACE_SEC,
	.max_series = EXPORTER_DEFAULT_MAX_SERIES,
};

int options_parse(struct options *o, int argc, char **argv)
{
	static const struct argp argp = {
		.options = opts,
		.parser = parse_arg,
		.args_doc = args_doc,
		.doc = doc,
	};
	struct parse_state ps = {.o = o};
	int dashdash;

	*o = defaults;
	/* Everything after "--" is the command, untouched by option parsing. */
	for (dashdash = 1; dashdash < argc && strcmp(argv[dashdash], "--"); dashdash++)
		;
	if (dashdash < argc) {
		o->command = &argv[dashdash + 1];
		argv[dashdash] = NULL;
	}
	/* getopt starts its messages with argv[0]; ours start with "gilstat:". */
	argv[0] = "gilstat";
	if (argp_parse(&argp, dashdash, argv, 0, NULL, &ps))
		return 2;
	if (!o->out)
		o->out = stdout;
	return 0;
}

static bool is_directory(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

bool options_exports(const struct options *o)
{
	return o->prometheus || o->textfile_dir;
}

/* One line and the status of a usage error. */
static int refuse(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gilstat: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return 2;
}

/* What to trace, and how -a goes with the rest. */
static int check_target(struct options *o)
{
	if (o->command && !o->command[0])
		return refuse("no command after --");
	if (o->pid && o->command)
		return refuse("give either -p PID or a command, not both");
	if (o->all && (o->pid || o->command || o->python))
		return refuse("-a traces every process: no -p, --python or command with it");
	if (o->all && (o->stacks || (o->report.group & GROUP_THREAD)))
		return refuse("-a reports by process and GIL: -L and --stacks follow one process (-p)");
	/* -a's reports: a section for each GIL of each process */
	if (o->all && !options_exports(o))
		o->report.group |= GROUP_PROCESS | GROUP_GIL;
	if (!o->pid && !o->command && !o->all)
		return refuse("nothing to trace: give -p PID or -- COMMAND (see gilstat --help)");
	return 0;
}

int options_check(struct options *o)
{
	int err = check_target(o);

	if (err)
		return err;
	if (o->textfile_dir && (access(o->textfile_dir, W_OK | X_OK) || !is_directory(o->textfile_dir)))
		return refuse("--textfile %s: not a writable directory", o->textfile_dir);
	if (o->heatmap_file && !o->interval_ns)
		return refuse("--heatmap needs an INTERVAL: each of its columns is one interval");
	if (o->heatmap_file && options_exports(o))
		return refuse("--heatmap draws the interval reports, which --prometheus and "
			      "--textfile do not make");
	if (o->heatmap_file && o->heatmap_of == HIST_SCHED_DELAY && !o->report.sched)
		return refuse("--heatmap-of sched-delay needs the scheduler, which --no-sched turns "
			      "off");
	if (o->by && !o->all)
		return refuse("--by groups the processes of -a: a single target is one process");
	if (o->by && (o->report.group & GROUP_GIL))
		return refuse("--by and -G: a group's series sums its processes' GILs");
	if (o->timeline && o->all)
		return refuse("--timeline follows one target's threads, not every process (-a)");
	/* The exporter's per-GIL series are labelled with their process too. */
	if (options_exports(o) && (o->report.group & GROUP_GIL))
		o->report.group |= GROUP_PROCESS;
	return 0;
}
