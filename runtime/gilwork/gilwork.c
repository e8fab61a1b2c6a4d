// SPDX-License-Identifier: GPL-2.0
/*
 * gilwork SCENARIO [options]: the tutorial's GIL experiments, run on libgil. Every thread that
 * plays Python holds a libgil thread state, runs its "bytecode" only under the GIL and polls the
 * eval breaker on every back edge, so the timings and the GIL's own counters come out as
 * CPython's do, and gilstat can watch them through libgil's probes.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gilwork.h"

static const struct gw_scenario scenarios[] = {
	{"cpu", "cpu_work (sum of 0..n) twice, then on 2 threads: no speed-up", gw_run_cpu, 2, 0,
	 GW_TAKES_WORK | GW_TAKES_INTERVAL},
	{"io", "a 1 s sleep with the GIL released twice, then on 2 threads: 2x", gw_run_io, 2, 1.0,
	 GW_TAKES_INTERVAL},
	{"procs", "cpu_work in processes (fork), each with its own GIL: scales", gw_run_procs, 2, 0,
	 GW_TAKES_WORK | GW_TAKES_INTERVAL},
	{"cext", "cpu_work as a C extension runs it, GIL released (NumPy): scales", gw_run_cext, 2,
	 0, GW_TAKES_WORK | GW_TAKES_INTERVAL},
	{"convoy", "echo round trips alone, then with CPU threads spinning (bpo-7946)",
	 gw_run_convoy, 1, 2.0, GW_TAKES_INTERVAL},
	{"interval", "convoy swept over switch intervals and CPU-thread counts", gw_run_interval, 2,
	 0.2, GW_TAKES_INTERVAL | GW_TAKES_SWEEP},
	{"subinterp", "cpu_work on 2 interpreters with a GIL each (3.12, PEP 684): scales",
	 gw_run_subinterp, 2, 0, GW_TAKES_WORK | GW_TAKES_INTERVAL},
	{"nogil", "cpu_work on 2 threads, GIL disabled (3.13t, PEP 703): scales", gw_run_nogil, 2,
	 0, GW_TAKES_WORK},
};

#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void usage(void)
{
	printf("Usage: gilwork SCENARIO [--threads N] [--work N | --seconds S] [--interval-us U]\n"
	       "                        [--policy P] [--json]\n"
	       "The GIL experiments of the tutorial, on libgil (CPython's GIL in C).\n\n"
	       "Scenarios:\n");
	for (size_t i = 0; i < NR_SCENARIOS; i++)
		printf("  %-10s %s\n", scenarios[i].name, scenarios[i].summary);
	printf("\nOptions:\n"
	       "  --threads N      threads that run at once (processes for procs,\n"
	       "                   interpreters for subinterp), default 2; convoy: CPU\n"
	       "                   threads, default 1; interval: sweeps 1..N, default 2\n"
	       "  --work N         additions per cpu_work call, default %llu\n"
	       "  --seconds S      cpu, procs, cext, subinterp, nogil: size the work so\n"
	       "                   that each mode takes about S s; io: the sleep (1);\n"
	       "                   convoy: the contended phase (2; alone: 0.5 at most);\n"
	       "                   interval: each point (0.2)\n"
	       "  --interval-us U  switch interval (sys.setswitchinterval), default %d;\n"
	       "                   interval takes a list U,U,... (default 10000,5000,\n"
	       "                   1000,500,100,10,1)\n"
	       "  --policy P       the GIL's policy: cpython (the default) or io-priority\n"
	       "                   (a thread back from I/O preempts a CPU-bound holder);\n"
	       "                   convoy then runs the contended phase under both\n"
	       "                   (GIL_POLICY=P in the environment sets it too)\n"
	       "  --json           one JSON object; with GIL_STATS=1 in the environment,\n"
	       "                   the runtime's ground truth under \"gil_stats\"\n"
	       "  -h, --help       this text\n\n"
	       "Examples:\n"
	       "  gilwork cpu                        # 2 threads are no faster than 1\n"
	       "  gilwork convoy --interval-us 100   # a shorter interval, a smaller convoy\n"
	       "  gilwork convoy --policy io-priority # the convoy fixed, beside CPython's\n"
	       "  GIL_STATS=1 gilwork cpu --json     # with the ground truth gilstat must match\n"
	       "  gilstat -- gilwork convoy          # watch the convoy from the outside\n",
	       GW_DEFAULT_WORK, GIL_DEFAULT_INTERVAL_US);
}

/* A usage error is one line on stderr and exit status 2. */
static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("gilwork: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static const struct gw_scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < NR_SCENARIOS; i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}

static const char *scenario_names(void)
{
	static char names[128];
	size_t len = 0;

	for (size_t i = 0; i < NR_SCENARIOS && len < sizeof(names); i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
					scenarios[i].name);
	return names;
}

static long long parse_count(const char *opt, const char *arg, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > max)
		usage_error("%s: '%s' is not a whole number from 1 to %lld", opt, arg, max);
	return v;
}

static double parse_positive(const char *opt, const char *arg, const char *unit, char **endp)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || (!endp && *end) || !isfinite(v) || v <= 0 || v > 1e9)
		usage_error("%s: '%s' is not a positive number of %s", opt, arg, unit);
	if (endp)
		*endp = end;
	return v;
}

/* U or U,U,...: the switch intervals, in microseconds. */
static void parse_intervals(struct gw_opts *opts, const char *arg)
{
	const char *p = arg;

	opts->nr_intervals = 0;
	for (;;) {
		char *end;

		if (opts->nr_intervals == GW_MAX_INTERVALS)
			usage_error("--interval-us: more than %d intervals in '%s'",
				    GW_MAX_INTERVALS, arg);
		opts->interval_us[opts->nr_intervals++] =
			parse_positive("--interval-us", p, "microseconds", &end);
		if (*end == '\0')
			break;
		if (*end != ',')
			usage_error("--interval-us: '%s' is not a list of positive numbers of "
				    "microseconds",
				    arg);
		p = end + 1;
	}
}

enum { OPT_THREADS = 256, OPT_WORK, OPT_SECONDS, OPT_INTERVAL, OPT_POLICY, OPT_JSON };

static enum gil_policy parse_policy(const char *what, const char *arg)
{
	int policy = gil_policy_from_name(arg);

	if (policy < 0)
		usage_error("%s: '%s' is not a policy; one of %s, %s", what, arg,
			    gil_policy_name(GIL_POLICY_CPYTHON),
			    gil_policy_name(GIL_POLICY_IO_PRIORITY));
	return (enum gil_policy)policy;
}

static void parse_args(int argc, char **argv, struct gw_opts *opts)
{
	static const struct option longopts[] = {
		{"threads", required_argument, NULL, OPT_THREADS},
		{"work", required_argument, NULL, OPT_WORK},
		{"seconds", required_argument, NULL, OPT_SECONDS},
		{"interval-us", required_argument, NULL, OPT_INTERVAL},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"json", no_argument, NULL, OPT_JSON},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const struct gw_scenario *sc;
	const char *name;
	int c;

	/* getopt's own messages would start with argv[0], a path: ours start with "gilwork:". */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_THREADS:
			opts->threads = (int)parse_count("--threads", optarg, GW_MAX_THREADS);
			break;
		case OPT_WORK:
			opts->work = (uint64_t)parse_count("--work", optarg, 1000000000000ll);
			break;
		case OPT_SECONDS:
			opts->seconds = parse_positive("--seconds", optarg, "seconds", NULL);
			break;
		case OPT_INTERVAL:
			parse_intervals(opts, optarg);
			break;
		case OPT_POLICY:
			opts->policy = parse_policy("--policy", optarg);
			opts->policy_set = true;
			break;
		case OPT_JSON:
			opts->json = true;
			break;
		case 'h':
			usage();
			exit(0);
		case ':':
			usage_error("%s needs a value", argv[optind - 1]);
		default:
			usage_error("unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind == argc)
		usage_error("no scenario given; one of %s (see --help)", scenario_names());
	name = argv[optind++];
	if (optind < argc)
		usage_error("unexpected argument '%s' after the scenario %s", argv[optind], name);
	sc = find_scenario(name);
	if (!sc)
		usage_error("unknown scenario '%s'; one of %s (see --help)", name,
			    scenario_names());
	opts->scenario = sc;

	if (opts->work && !(sc->takes & GW_TAKES_WORK))
		usage_error("%s does no cpu_work: --work does not apply", name);
	if (opts->work && opts->seconds)
		usage_error("%s: give --work or --seconds, not both", name);
	if (opts->nr_intervals && !(sc->takes & GW_TAKES_INTERVAL))
		usage_error("%s has no GIL, so no switch interval: --interval-us does not apply",
			    name);
	if (opts->policy_set && !(sc->takes & GW_TAKES_INTERVAL))
		usage_error("%s has no GIL, so no policy: --policy does not apply", name);
	/* libgil refuses to create a GIL under an unknown GIL_POLICY: say so here, once. */
	if (getenv("GIL_POLICY") && *getenv("GIL_POLICY"))
		parse_policy("GIL_POLICY", getenv("GIL_POLICY"));
	if (opts->nr_intervals > 1 && !(sc->takes & GW_TAKES_SWEEP))
		usage_error("%s runs at one switch interval: --interval-us takes one value", name);
	if (!opts->threads)
		opts->threads = sc->default_threads;
	if (!opts->seconds)
		opts->seconds = sc->default_seconds;
	if (!opts->seconds && !opts->work)
		opts->work = GW_DEFAULT_WORK;
}

int main(int argc, char **argv)
{
	struct gw_opts opts = {0};
	struct gw_report report = {0};
	int err;

	parse_args(argc, argv, &opts);
	report.scenario = opts.scenario;
	err = opts.scenario->run(&opts, &report);
	if (!err) {
		if (opts.json)
			gw_print_json(&report);
		else
			gw_print_text(&report);
	}
	gw_report_free(&report);
	return err ? 1 : 0;
}
