// SPDX-License-Identifier: GPL-2.0
/* One gilstat run: signals, the exporter's socket, one loop for every mode, the reporters. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "exporter.h"
#include "fleet.h"
#include "gilstat.skel.h"
#include "heatmap.h"
#include "now_ns.h"
#include "options.h"
#include "procfs.h"
#include "safeio.h"
#include "session.h"
#include "stacks.h"
#include "timeline.h"
#include "traced.h"
#include "tracer.h"

#define NS_PER_SEC 1000000000ull
/* How often --stacks reads the target's maps while it runs. */
#define STACKS_REFRESH_NS 100000000ull
/* How often the exporter drops the series of processes ended longer than --grace ago. */
#define EXPIRE_EVERY_NS NS_PER_SEC

/* Set by the stop signals' handler: what a handler may write. */
static volatile sig_atomic_t exiting;

static void on_stop_signal(int sig)
{
	exiting = 1;
}

/*
 * The stop signals are caught from the start, so that one sent while the BPF object loads still
 * ends in a report and a clean detach. They are blocked except while the loop sleeps in ppoll(),
 * so one that arrives just before the sleep interrupts it instead of being noticed after it.
 */
static void catch_stop_signals(sigset_t *wait_mask)
{
	static const int stops[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction stop_action = {.sa_handler = on_stop_signal};
	sigset_t stop_signals;

	sigemptyset(&stop_signals);
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++)
		sigaddset(&stop_signals, stops[i]);
	sigprocmask(SIG_BLOCK, &stop_signals, wait_mask);
	for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		sigdelset(wait_mask, stops[i]);
		sigaction(stops[i], &stop_action, NULL);
	}
	/* A reader that went away must not kill us before the probes are detached. */
	signal(SIGPIPE, SIG_IGN);
	/* what a look at a process reads gives up at once when a stop comes (safeio.h) */
	safeio_set_stop_flag(&exiting);
}

/*
 * The look at the host's processes runs with the stop signals open: one that comes while it
 * reads a slow file ends the read (no SA_RESTART) and the look, and so gilstat, within a moment.
 */
static int fleet_scan_stoppable(struct session *s)
{
	sigset_t blocked;
	int nr;

	sigprocmask(SIG_SETMASK, &s->wait_mask, &blocked);
	nr = fleet_scan(s->fleet);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
	return nr;
}

static void fleet_poll_stoppable(struct session *s)
{
	sigset_t blocked;

	sigprocmask(SIG_SETMASK, &s->wait_mask, &blocked);
	fleet_poll(s->fleet);
	sigprocmask(SIG_SETMASK, &blocked, NULL);
}

int session_open(struct session *s, const struct options *o)
{
	char err_msg[128];

	*s = (struct session){.o = o, .listen_fd = -1, .pidfd = -1, .end_ns = UINT64_MAX};
	/* Before anything is loaded: a port in use is a usage error, told at once. */
	if (o->prometheus && exporter_listen(o->prometheus, &s->listen_fd, err_msg, sizeof(err_msg))) {
		fprintf(stderr, "gilstat: %s\n", err_msg);
		return 2;
	}
	if (o->heatmap_file) {
		s->heatmap = heatmap_new(o->heatmap_file, o->heatmap_of, o->report.unit_ns);
		if (!s->heatmap) {
			fprintf(stderr, "gilstat: out of memory\n");
			return 1;
		}
	}
	catch_stop_signals(&s->wait_mask);
	return 0;
}

/*
 * Root, or CAP_SYS_ADMIN. CAP_BPF and CAP_PERFMON load and attach the programs since Linux 5.8,
 * but creating a uprobe, which every USDT probe is, needs CAP_SYS_ADMIN again since "perf: Revert
 * to requiring CAP_SYS_ADMIN for uprobes" (ba677dbe77af, 2025, in the stable kernels too).
 */
/* Whether cap is in the effective set: 1, 0, or -errno. */
static int has_capability(int cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	return !!(data[cap / 32].effective & (1u << (cap % 32)));
}

int session_check_privileges(void)
{
	int ret = has_capability(CAP_SYS_ADMIN);

	if (ret < 0) {
		fprintf(stderr, "gilstat: cannot read capabilities: %s\n", strerror(-ret));
		return -1;
	}
	if (ret)
		return 0;
	fprintf(stderr, "gilstat: needs root or CAP_SYS_ADMIN, which uprobes require "
			"(CAP_BPF and CAP_PERFMON are not enough)\n");
	return -1;
}

/*
 * Sleeps until deadline_ns, the readiness of fd or of also (-1: none), or a stop signal; true when
 * fd is readable.
 */
static bool wait_until(int fd, int also, __u64 deadline_ns, const sigset_t *wait_mask)
{
	struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN}, {.fd = also, .events = POLLIN}};
	__u64 now = now_ns();
	struct timespec timeout = {}, *tp = &timeout;

	if (deadline_ns == UINT64_MAX) {
		tp = NULL;
	} else if (deadline_ns > now) {
		timeout.tv_sec = (deadline_ns - now) / NS_PER_SEC;
		timeout.tv_nsec = (deadline_ns - now) % NS_PER_SEC;
	}
	return ppoll(pfd, 2, tp, wait_mask) > 0 && pfd[0].revents;
}

/*
 * One report: the maps read into a new snapshot and what changed since prev printed, the heatmap's
 * column added; prev is then the new snapshot. On an error prev stays as it was.
 */
static int report(struct snapshot *prev, const struct tracer *tr, struct stacks *stacks,
		  struct heatmap *hm, struct report_meta *meta, const struct options *o)
{
	struct snapshot cur = {}, delta = {};
	int err;

	err = snapshot_read(&cur, tr->cpu_fd, tr->key_fd, prev->nr_cpus);
	if (!err)
		err = snapshot_delta(&delta, &cur, prev, o->report.unit_ns);
	if (err) {
		fprintf(stderr, "gilstat: cannot read the BPF maps: %s\n", strerror(-err));
		goto out;
	}
	snapshot_name_groups(&delta, tr->comm_fd, o->report.group);
	if (stacks) {
		err = stacks_read(stacks);
		if (err) {
			fprintf(stderr, "gilstat: cannot read the stacks: %s\n", strerror(-err));
			goto out;
		}
		stacks_set_errors(stacks, tr->skel->bss->py_frame_read_errors,
				  tr->skel->bss->stack_errors);
		meta->stacks = stacks;
	}
	report_print(o->out, &delta, meta, &o->report);
	if (hm)
		err = heatmap_add_column(hm, &delta.total.hists[o->heatmap_of], meta->duration_ns);
	if (err) {
		fprintf(stderr, "gilstat: cannot add to the heatmap: %s\n", strerror(-err));
	} else if (ferror(o->out)) {
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

/* The report of the interval, or of the whole run when final. */
static int session_report(struct session *s, bool final)
{
	struct report_meta *m = &s->meta;

	m->final = final;
	/* the timeline's counts are final once its last events are in: the JSON report has them */
	if (final && s->timeline) {
		m->timeline = timeline_finish(s->timeline, s->tr->skel->bss->timeline_lost);
		m->timeline_path = s->o->timeline_path;
	}
	m->duration_ns = now_ns() - s->last_ns;
	s->last_ns += m->duration_ns;
	if (s->fleet) {
		struct fleet_stats fs;

		fleet_get_stats(s->fleet, &fs);
		snprintf(s->fleet_what, sizeof(s->fleet_what),
			 "every CPython and libgil process (%llu traced, %zu now)",
			 (unsigned long long)fs.nr_traced_total, fs.nr_traced);
		/* GILs of different processes are held at once all the time: no utilisation */
		m->gil_overlaps = 1;
	} else {
		m->forks = s->tr->skel->bss->target_forks;
		m->gil_overlaps = s->tr->skel->bss->gil_overlaps - s->overlaps_before;
		s->overlaps_before += m->gil_overlaps;
	}
	return report(&s->prev, s->tr, s->stacks, s->heatmap, m, s->o);
}

/* --textfile: DIR/gilstat.prom rewritten; a failure is said and the exporter goes on. */
static void write_textfile(const struct session *s)
{
	int err = exporter_write_textfile(s->ex, s->o->textfile_dir);

	if (err)
		fprintf(stderr, "gilstat: cannot write %s/gilstat.prom: %s\n", s->o->textfile_dir,
			strerror(-err));
}

/* What the loop waits for next: the earliest of what is due, and of the end. */
struct due {
	__u64 report_ns, write_ns, expire_ns;
	long reports_left;
};

static __u64 next_deadline(const struct session *s, const struct due *d)
{
	__u64 deadline = d->expire_ns;

	if (d->report_ns < deadline)
		deadline = d->report_ns;
	if (s->o->textfile_dir && d->write_ns < deadline)
		deadline = d->write_ns;
	if (s->fleet && fleet_next_ns(s->fleet) < deadline)
		deadline = fleet_next_ns(s->fleet);
	if (s->stacks && !s->target_gone && now_ns() + STACKS_REFRESH_NS < deadline)
		deadline = now_ns() + STACKS_REFRESH_NS;
	if (s->timeline && now_ns() + TIMELINE_DRAIN_NS < deadline)
		deadline = now_ns() + TIMELINE_DRAIN_NS;
	if (s->end_ns < deadline)
		deadline = s->end_ns;
	return deadline;
}

/* One sleep: then the target's end, the fleet's look, the stacks' refresh. False to stop. */
static bool session_wait(struct session *s, __u64 deadline, bool reports)
{
	/* Once the target has ended its pidfd stays readable: it is no longer polled. */
	int fd = s->fleet ? fleet_fd(s->fleet) : s->target_gone ? -1 : s->pidfd;
	bool ready = wait_until(fd, s->events ? ring_buffer__epoll_fd(s->events) : -1, deadline,
				&s->wait_mask);

	if (s->fleet) {
		/* the exec and fork events first: a process that ends is then known */
		ring_buffer__consume(s->events);
		fleet_poll_stoppable(s);
		return true;
	}
	if (ready && !s->target_gone) {
		s->target_gone = true;
		/* an exporter outlives its target, whose series stay for the grace period */
		if (!reports)
			exporter_target_ended(s->ex, s->pid);
	}
	/* --stacks: the target's maps and code names, kept for after its exit */
	if (s->stacks && !s->target_gone)
		stacks_refresh(s->stacks);
	if (s->timeline)
		timeline_drain(s->timeline);
	return !(reports && s->target_gone);
}

/*
 * The loop of every mode: a report every INTERVAL (reports), the textfile rewritten every INTERVAL
 * (15 s without one) and the expired series dropped each second (an exporter), until the end (-d),
 * COUNT reports, a stop signal, or a reported target's exit. Then the final report.
 */
static int session_loop(struct session *s)
{
	const struct options *o = s->o;
	bool reports = !options_exports(o);
	__u64 period_ns = o->interval_ns ?: EXPORTER_DEFAULT_TEXTFILE_SEC * NS_PER_SEC;
	__u64 now = now_ns();
	struct due d = {
		.report_ns = reports && o->interval_ns ? s->last_ns + o->interval_ns : UINT64_MAX,
		.write_ns = now,
		/* a report covers the processes that ended too: their entries stay until the end */
		.expire_ns = reports ? UINT64_MAX : now,
		.reports_left = o->count ? o->count : LONG_MAX,
	};
	int err;

	while (!exiting && (now = now_ns()) < s->end_ns) {
		if (o->textfile_dir && now >= d.write_ns) {
			write_textfile(s);
			d.write_ns += period_ns;
		}
		if (now >= d.expire_ns) {
			exporter_expire(s->ex);
			d.expire_ns = now + EXPIRE_EVERY_NS;
		}
		if (now >= d.report_ns) {
			if (--d.reports_left == 0)
				break;
			err = session_report(s, false);
			if (err)
				return err;
			d.report_ns += o->interval_ns;
		}
		if (!session_wait(s, next_deadline(s, &d), reports))
			break;
	}
	err = reports ? session_report(s, true) : 0;
	if (o->textfile_dir)
		write_textfile(s);
	return err;
}

/* --stacks: the holders' tables, read from the tracer's maps. */
static int start_stacks(struct session *s)
{
	const struct tracer *tr = s->tr;
	struct stacks_opts so = {
		.pid = s->pid,
		.min_wait_ns = (__u64)(s->o->min_wait_ms * 1e6),
		.depth = s->o->stack_depth,
		.unit_ns = s->o->report.unit_ns,
		.py = tr->py_frames ? &tr->py_layout : NULL,
		.waits_fd = bpf_map__fd(tr->skel->maps.stack_waits),
		.stacks_fd = bpf_map__fd(tr->skel->maps.stacks),
		.py_stacks_fd = bpf_map__fd(tr->skel->maps.py_stacks),
		.comm_fd = tr->comm_fd,
	};

	s->stacks = stacks_new(&so);
	if (!s->stacks) {
		fprintf(stderr, "gilstat: out of memory\n");
		return -ENOMEM;
	}
	stacks_refresh(s->stacks);
	return 0;
}

/* --folded and --flamegraph, of everything since tracing began. */
static int start_timeline(struct session *s)
{
	struct timeline_opts to = {
		.f = s->o->timeline,
		.limit = s->o->timeline_limit,
		.ring_fd = bpf_map__fd(s->tr->skel->maps.timeline),
		.comm_fd = s->tr->comm_fd,
		.stacks = s->stacks,
	};

	s->timeline = timeline_new(&to);
	if (!s->timeline) {
		fprintf(stderr, "gilstat: out of memory\n");
		return -ENOMEM;
	}
	return 0;
}

static int write_stack_files(const struct session *s)
{
	const struct options *o = s->o;
	char title[128];
	int err = 0;

	if (o->folded) {
		err = stacks_write_folded(s->stacks, o->folded);
		if (fclose(o->folded) || err) {
			fprintf(stderr, "gilstat: cannot write the folded stacks: %s\n",
				strerror(errno ?: EIO));
			err = -EIO;
		}
	}
	if (o->flamegraph) {
		snprintf(title, sizeof(title), "GIL waits caused, PID %d (%s)", s->pid, s->comm);
		if (stacks_write_flamegraph(s->stacks, o->flamegraph, title) || fclose(o->flamegraph)) {
			fprintf(stderr, "gilstat: cannot write %s: %s\n", o->flamegraph_path,
				strerror(errno ?: EIO));
			err = -EIO;
		}
	}
	return err;
}

/* The exporter's options: from the command line and the tracer's maps. */
static struct exporter_opts exporter_opts_of(const struct options *o, const struct tracer *tr)
{
	return (struct exporter_opts){
		.cpu_fd = tr->cpu_fd,
		.key_fd = tr->key_fd,
		.nr_cpus = tr->nr_cpus,
		.unit_ns = o->report.unit_ns,
		.grace_ns = o->grace_sec * NS_PER_SEC,
		.max_series = o->max_series,
		.verbose = o->verbose,
		.version = GILSTAT_VERSION,
		/* -a: every process's figures are its breakdown entries */
		.per_process = o->all,
		.split_gil = o->all && (o->report.group & GROUP_GIL),
		.by = o->by,
	};
}

/* The exporter serving on the session's socket (which it takes), if there is one. */
static int serve(struct session *s)
{
	char err_msg[128];
	int err;

	if (s->listen_fd < 0)
		return 0;
	err = exporter_serve(s->ex, s->listen_fd, err_msg, sizeof(err_msg));
	s->listen_fd = -1;
	if (err) {
		fprintf(stderr, "gilstat: %s\n", err_msg);
		return err;
	}
	fprintf(stderr, "Serving http://%s/metrics\n", s->o->prometheus);
	return 0;
}

/* One target's exporter, told of the target. */
static int start_exporter(struct session *s, const char *python)
{
	struct exporter_opts eo = exporter_opts_of(s->o, s->tr);

	s->ex = exporter_new(&eo);
	if (!s->ex || exporter_add_target(s->ex, s->pid, s->comm, python)) {
		fprintf(stderr, "gilstat: out of memory\n");
		return -ENOMEM;
	}
	return serve(s);
}

/* The probes attached, the command started: then the target is traced. */
static int start_target(struct session *s, struct traced *t)
{
	const struct options *o = s->o;
	int err = tracer_attach(s->tr, t);

	if (err)
		return 1;
	s->pidfd = syscall(SYS_pidfd_open, s->pid, 0);
	if (s->pidfd < 0) {
		err = -errno;
		fprintf(stderr, "gilstat: PID %d: %s\n", s->pid,
			err == -ESRCH ? "exited before tracing started" : strerror(-err));
		return 1;
	}
	if (t->child.pid) {
		err = child_start(&t->child);
		if (err) {
			fprintf(stderr, "gilstat: cannot run %s: %s\n", o->command[0],
				strerror(-err));
			return err == -ENOENT ? 127 : 126;
		}
	}
	proc_read_comm(s->pid, s->pid, s->comm, sizeof(s->comm));
	if (o->verbose)
		fprintf(stderr, "gilstat: probes attached to PID %d in %s\n", s->pid,
			t->probe_path);
	fprintf(stderr, "Tracing the GIL of PID %d (%s)... %s\n", s->pid, s->comm,
		o->interval_ns ? "Hit Ctrl-C to end." : "Hit Ctrl-C to end and report.");
	return 0;
}

/* --timeline: the file, and one line of what is in it after the report (stderr with -j). */
static int write_timeline(struct session *s)
{
	const struct options *o = s->o;
	int err;

	/* an exporter's session makes its final report after the files, if at all */
	if (!s->meta.timeline)
		timeline_finish(s->timeline, s->tr->skel->bss->timeline_lost);
	err = timeline_write(s->timeline);

	if (fclose(o->timeline) || err) {
		fprintf(stderr, "gilstat: cannot write %s: %s\n", o->timeline_path,
			strerror(errno ?: EIO));
		return -EIO;
	}
	timeline_print_summary(s->timeline, o->report.json ? stderr : o->out, o->timeline_path);
	return 0;
}

/* After one target's loop: the files of --stacks, --timeline and --heatmap. */
static int finish_target(struct session *s, const struct traced *t)
{
	int err = s->timeline ? write_timeline(s) : 0;

	if (options_exports(s->o)) {
		/* A report only when one was asked for: a service's log is no place for it. */
		if (s->o->out_given || s->o->report.json)
			err = session_report(s, true) ?: err;
		return err;
	}
	if (s->stacks)
		err = write_stack_files(s) ?: err;
	if (s->target_gone && !t->child.pid)
		fprintf(stderr, "gilstat: PID %d exited\n", s->pid);
	if (s->heatmap) {
		err = heatmap_write(s->heatmap, s->pid, s->comm);
		if (err)
			fprintf(stderr, "gilstat: cannot write the heatmap: %s\n", strerror(-err));
	}
	return err;
}

/* The reporters' objects freed: the exporter first, since its server reads the maps. */
static void stop_run(struct session *s)
{
	exporter_free(s->ex);
	s->ex = NULL;
	ring_buffer__free(s->events);
	s->events = NULL;
	fleet_free(s->fleet);
	s->fleet = NULL;
	timeline_free(s->timeline);
	s->timeline = NULL;
	s->meta.timeline = NULL;
	stacks_free(s->stacks);
	s->stacks = NULL;
	snapshot_free(&s->prev);
}

int session_run(struct session *s, struct tracer *tr, struct traced *t)
{
	const struct options *o = s->o;
	int code, err;

	s->tr = tr;
	s->pid = t->pid;
	s->meta = (struct report_meta){.view = t->view, .note = t->note,
				       .no_utilisation = t->no_utilisation};
	/*
	 * The first snapshot is read before anything is attached: one taken after the command
	 * starts would have the events of its first moments subtracted from every report.
	 */
	err = snapshot_read(&s->prev, tr->cpu_fd, tr->key_fd, tr->nr_cpus);
	code = err ? 1 : start_target(s, t);
	if (code)
		goto out;
	s->start_ns = s->last_ns = now_ns();
	if (o->duration_sec)
		s->end_ns = s->start_ns + (__u64)(o->duration_sec * 1e9);
	s->meta.pid = s->pid;
	s->meta.comm = s->comm;
	s->meta.probe_path = t->probe_path;
	err = (o->stacks ? start_stacks(s) : 0) ?: (o->timeline ? start_timeline(s) : 0) ?:
	      (options_exports(o) ? start_exporter(s, t->python_version) : 0) ?:
	      session_loop(s) ?: finish_target(s, t);
	code = err ? 1 : 0;
out:
	stop_run(s);
	return code;
}

/* -a: the exporter, and the fleet that tells it of each process. */
static int start_fleet(struct session *s)
{
	struct exporter_opts eo = exporter_opts_of(s->o, s->tr);
	int nr;

	s->ex = exporter_new(&eo);
	s->fleet = s->ex ? fleet_new(&(struct fleet_opts){ .tr = s->tr, .ex = s->ex,
							  .verbose = s->o->verbose })
			 : NULL;
	s->events = s->fleet ? ring_buffer__new(bpf_map__fd(s->tr->skel->maps.execs),
						fleet_on_event, s->fleet, NULL)
			     : NULL;
	if (!s->events) {
		fprintf(stderr, "gilstat: cannot watch the host's processes: %s\n",
			strerror(errno ?: ENOMEM));
		return -ENOMEM;
	}
	/* the exec events are on before the scan: a process is seen once or twice, never not */
	nr = fleet_scan_stoppable(s);
	if (serve(s))
		return -EIO;
	fprintf(stderr, "Tracing the GIL of every CPython and libgil process (%d now)... Hit "
			"Ctrl-C to end.\n",
		nr < 0 ? 0 : nr);
	return 0;
}

int session_run_fleet(struct session *s, struct tracer *tr)
{
	const struct options *o = s->o;
	int err = 0;

	s->tr = tr;
	/* other users' /proc/PID/exe, maps and mem need it: without, -a would trace none of theirs */
	if (!has_capability(CAP_SYS_PTRACE))
		fprintf(stderr, "gilstat: warning: without CAP_SYS_PTRACE, -a cannot read other users' "
				"processes and traces none of them\n");
	s->meta = (struct report_meta){.comm = s->fleet_what,
				       .probe_path = "every CPython and libgil process",
				       .view = "all"};
	/* before anything is attached: every event is in the first report */
	if (!options_exports(o))
		err = snapshot_read(&s->prev, tr->cpu_fd, tr->key_fd, tr->nr_cpus);
	if (err)
		fprintf(stderr, "gilstat: cannot read the BPF maps: %s\n", strerror(-err));
	err = err ?: tracer_attach_fleet(tr) ?: start_fleet(s);
	if (err)
		goto out;
	s->start_ns = s->last_ns = now_ns();
	if (o->duration_sec)
		s->end_ns = s->start_ns + (__u64)(o->duration_sec * 1e9);
	err = session_loop(s);
	if (!err && s->heatmap) {
		err = heatmap_write(s->heatmap, 0, "every CPython and libgil process");
		if (err)
			fprintf(stderr, "gilstat: cannot write the heatmap: %s\n", strerror(-err));
	}
out:
	stop_run(s);
	return err ? 1 : 0;
}

int session_close(struct session *s, struct traced *t, int code)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (t && t->child.pid) {
		int status;

		/* A child that never started, or that outlives the trace (-d, a signal), ends now. */
		if (t->child.go_fd >= 0)
			close(t->child.go_fd);
		else if (!s->target_gone)
			kill(t->child.pid, SIGTERM);
		if (waitpid(t->child.pid, &status, 0) == t->child.pid && !code)
			code = traced_exit_status(status);
	}
	if (s->pidfd >= 0)
		close(s->pidfd);
	heatmap_free(s->heatmap);
	if (fclose(s->o->out) && !code) {
		fprintf(stderr, "gilstat: cannot write the report: %s\n", strerror(errno));
		return 1;
	}
	return code;
}
