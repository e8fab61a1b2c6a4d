// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <microhttpd.h>

#include "exporter.h"
#include "now_ns.h"
#include "snapshot.h"

#define CONTAINER_ID_LEN 64
/* Scrapers beyond these wait in the kernel's backlog; a silent one is dropped at the timeout. */
#define HTTP_MAX_CONNECTIONS 512
#define HTTP_TIMEOUT_SEC     10
#define TEXTFILE_NAME	     "gilstat.prom"

struct target {
	pid_t pid;
	char labels[PROM_LABELS_MAX];
	__u64 ended_ns; /* 0 while it runs */
	long group;	/* --by: its index in groups, or -1 for the "other" one */
};

/*
 * --by: a group's series. The figures of its processes that have gone are kept here, so that the
 * series only ever grows, whatever the processes do (a restart, a new PID): rate() stays right.
 */
struct group {
	char value[PROM_LABELS_MAX / 2];
	struct gil_stats retired;
};

const char *const exporter_by_labels[] = {
	[EXPORTER_BY_PROCESS] = "pid",
	[EXPORTER_BY_EXE] = "exe",
	[EXPORTER_BY_CGROUP] = "cgroup",
	[EXPORTER_BY_CONTAINER] = "container_id",
};

/* A breakdown entry seen once keeps its series, or its place in the folded one, for good. */
struct known_key {
	struct gil_key key;
	bool folded;
};

struct exporter {
	struct exporter_opts o;
	pthread_mutex_t lock; /* everything below, against the server's thread */
	struct target *targets;
	size_t nr_targets;
	struct known_key *keys;
	size_t nr_keys, nr_own_series;
	__u64 folded_series;
	/* Folded entries of ended processes: the folded series stays monotonic without them. */
	struct gil_stats folded_retired;
	/* --by: the groups seen, at most max_series, and the one the others fold into */
	struct group *groups;
	size_t nr_groups;
	struct gil_stats other_retired;
	bool any_other;
	struct MHD_Daemon *daemon;
};

int exporter_listen(const char *spec, int *fd, char *err, size_t err_len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256], *end;
	const char *colon = strrchr(spec, ':'), *port = colon ? colon + 1 : spec;
	size_t host_len = colon ? (size_t)(colon - spec) : 0;
	long port_nr;
	int one = 1, rc;

	errno = 0;
	port_nr = strtol(port, &end, 10);
	if (!*port || *end || errno || port_nr < 1 || port_nr > 65535 || !isdigit(*port) ||
	    host_len >= sizeof(host)) {
		snprintf(err, err_len, "invalid address '%s': expected [ADDR:]PORT, PORT 1-65535",
			 spec);
		return -EINVAL;
	}
	memcpy(host, spec, host_len);
	host[host_len] = '\0';
	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		memmove(host, host + 1, host_len - 2);
		host[host_len - 2] = '\0';
	}
	rc = getaddrinfo(host[0] ? host : EXPORTER_DEFAULT_ADDR, port, &hints, &res);
	if (rc) {
		snprintf(err, err_len, "invalid address '%s': %s", spec, gai_strerror(rc));
		return -EINVAL;
	}
	/* Close-on-exec: the traced command must not hold our port. */
	*fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*fd < 0 || setsockopt(*fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(*fd, res->ai_addr, res->ai_addrlen) || listen(*fd, SOMAXCONN)) {
		rc = -errno;
		snprintf(err, err_len, "cannot listen on %s: %s", spec, strerror(-rc));
		if (*fd >= 0)
			close(*fd);
		freeaddrinfo(res);
		return rc;
	}
	freeaddrinfo(res);
	return 0;
}

static bool is_hex_run(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

bool exporter_container_id(const char *text, char *out, size_t out_len)
{
	const char *found = NULL;

	/* A run of exactly 64 lowercase hex digits, not part of a longer word of them. */
	for (const char *p = text; *p; p++) {
		if (p != text && isxdigit((unsigned char)p[-1]))
			continue;
		if (strlen(p) >= CONTAINER_ID_LEN && is_hex_run(p, CONTAINER_ID_LEN) &&
		    !isxdigit((unsigned char)p[CONTAINER_ID_LEN]))
			found = p;
	}
	if (out_len)
		out[0] = '\0';
	if (!found || out_len <= CONTAINER_ID_LEN)
		return false;
	memcpy(out, found, CONTAINER_ID_LEN);
	out[CONTAINER_ID_LEN] = '\0';
	return true;
}

bool exporter_cgroup_path(const char *text, char *out, size_t out_len)
{
	const char *line = text, *end;
	size_t len;

	if (out_len)
		out[0] = '\0';
	for (; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (strncmp(line, "0::", 3))
			continue;
		line += 3;
		len = end ? (size_t)(end - line) : strlen(line);
		if (!len || len >= out_len)
			return false;
		memcpy(out, line, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

/*
 * What the labels say of a process besides its comm: its executable's base name, its cgroup and
 * its container. Files the kernel writes, read with a bound; a process gone leaves them empty.
 */
struct process_labels {
	char exe[NAME_MAX + 1];
	char cgroup[PROM_LABELS_MAX / 4];
	char container[CONTAINER_ID_LEN + 1];
};

static void read_process_labels(pid_t pid, struct process_labels *pl)
{
	char path[64], text[4096], exe[PATH_MAX];
	const char *base;
	ssize_t len = 0;
	int fd;

	memset(pl, 0, sizeof(*pl));
	snprintf(path, sizeof(path), "/proc/%d/cgroup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
	if (fd >= 0) {
		len = read(fd, text, sizeof(text) - 1);
		close(fd);
	}
	text[len > 0 ? len : 0] = '\0';
	exporter_container_id(text, pl->container, sizeof(pl->container));
	exporter_cgroup_path(text, pl->cgroup, sizeof(pl->cgroup));
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	len = readlink(path, exe, sizeof(exe) - 1);
	if (len <= 0)
		return;
	exe[len] = '\0';
	/* an executable replaced since it started reads "PATH (deleted)" */
	if (len > 10 && !strcmp(exe + len - 10, " (deleted)"))
		exe[len - 10] = '\0';
	base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	snprintf(pl->exe, sizeof(pl->exe), "%.*s", NAME_MAX, base);
}

/* --by: the group of a process with labels pl, made on first sight while the cap allows. */
static long group_of(struct exporter *ex, const struct process_labels *pl)
{
	const char *value = ex->o.by == EXPORTER_BY_EXE	   ? pl->exe
			    : ex->o.by == EXPORTER_BY_CGROUP ? pl->cgroup
							     : pl->container;
	struct group *grown;

	for (size_t i = 0; i < ex->nr_groups; i++)
		if (!strcmp(ex->groups[i].value, value))
			return i;
	if (ex->nr_groups >= ex->o.max_series)
		goto other;
	grown = realloc(ex->groups, (ex->nr_groups + 1) * sizeof(*grown));
	if (!grown)
		goto other;
	ex->groups = grown;
	memset(&grown[ex->nr_groups], 0, sizeof(*grown));
	snprintf(grown[ex->nr_groups].value, sizeof(grown->value), "%s", value);
	return ex->nr_groups++;
other:
	ex->folded_series++;
	ex->any_other = true;
	return -1;
}

struct exporter *exporter_new(const struct exporter_opts *opts)
{
	struct exporter *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return NULL;
	ex->o = *opts;
	pthread_mutex_init(&ex->lock, NULL);
	/*
	 * One arena for every thread: malloc_trim() gives back the top of the main arena only, and
	 * the server's thread would otherwise keep its largest scrape in an arena of its own.
	 */
	mallopt(M_ARENA_MAX, 1);
	return ex;
}

static size_t expire_locked(struct exporter *ex, pid_t pid);

static struct target *find_target(struct exporter *ex, __u32 pid)
{
	for (size_t i = 0; i < ex->nr_targets; i++)
		if (ex->targets[i].pid == (pid_t)pid)
			return &ex->targets[i];
	return NULL;
}

int exporter_add_target(struct exporter *ex, pid_t pid, const char *comm, const char *python)
{
	struct process_labels pl;
	struct target *grown, *t;
	char pid_str[16];

	pthread_mutex_lock(&ex->lock);
	if (find_target(ex, pid))
		expire_locked(ex, pid);
	grown = realloc(ex->targets, (ex->nr_targets + 1) * sizeof(*grown));
	if (!grown) {
		pthread_mutex_unlock(&ex->lock);
		return -ENOMEM;
	}
	ex->targets = grown;
	t = &ex->targets[ex->nr_targets++];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	snprintf(pid_str, sizeof(pid_str), "%d", pid);
	read_process_labels(pid, &pl);
	prom_label_append(t->labels, sizeof(t->labels), "pid", pid_str);
	prom_label_append(t->labels, sizeof(t->labels), "comm", comm);
	if (pl.exe[0])
		prom_label_append(t->labels, sizeof(t->labels), "exe", pl.exe);
	if (python && python[0])
		prom_label_append(t->labels, sizeof(t->labels), "python", python);
	if (pl.cgroup[0])
		prom_label_append(t->labels, sizeof(t->labels), "cgroup", pl.cgroup);
	if (pl.container[0])
		prom_label_append(t->labels, sizeof(t->labels), "container_id", pl.container);
	t->group = ex->o.by ? group_of(ex, &pl) : -1;
	pthread_mutex_unlock(&ex->lock);
	return 0;
}

void exporter_target_ended(struct exporter *ex, pid_t pid)
{
	pthread_mutex_lock(&ex->lock);
	for (size_t i = 0; i < ex->nr_targets; i++)
		if (ex->targets[i].pid == pid && !ex->targets[i].ended_ns)
			ex->targets[i].ended_ns = now_ns();
	pthread_mutex_unlock(&ex->lock);
}

/* The entry of key, created on first sight: its own series while the cap allows, else folded. */
static struct known_key *know_key(struct exporter *ex, const struct gil_key *key)
{
	struct known_key *grown;

	for (size_t i = 0; i < ex->nr_keys; i++)
		if (!memcmp(&ex->keys[i].key, key, sizeof(*key)))
			return &ex->keys[i];
	grown = realloc(ex->keys, (ex->nr_keys + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	ex->keys = grown;
	grown = &ex->keys[ex->nr_keys++];
	grown->key = *key;
	/* Each process has a series of its own besides its breakdown entries. */
	grown->folded = ex->nr_targets + ex->nr_own_series >= ex->o.max_series;
	if (grown->folded)
		ex->folded_series++;
	else
		ex->nr_own_series++;
	return grown;
}

/*
 * The breakdown entries of an ended target go, from the map and from what is known; with --by,
 * into its group's figures.
 */
static void retire(struct exporter *ex, const struct target *t, const struct snapshot *snap)
{
	for (size_t k = 0; k < snap->nr_keys; k++) {
		if (snap->keys[k].key.tgid != (__u32)t->pid)
			continue;
		if (ex->o.by)
			snapshot_stats_add(t->group < 0 ? &ex->other_retired
							: &ex->groups[t->group].retired,
					   &snap->keys[k].s);
		bpf_map_delete_elem(ex->o.key_fd, &snap->keys[k].key);
		for (size_t j = 0; j < ex->nr_keys; j++) {
			if (memcmp(&ex->keys[j].key, &snap->keys[k].key, sizeof(struct gil_key)))
				continue;
			if (ex->keys[j].folded)
				snapshot_stats_add(&ex->folded_retired, &snap->keys[k].s);
			else
				ex->nr_own_series--;
			ex->keys[j] = ex->keys[--ex->nr_keys];
			break;
		}
	}
}

/* Drops the targets whose grace period is over, or all of pid's (> 0); the number left. */
static size_t expire_locked(struct exporter *ex, pid_t pid)
{
	struct snapshot snap = {};
	__u64 now = now_ns();
	size_t kept = 0;

	if (ex->o.key_fd >= 0 && snapshot_read(&snap, ex->o.cpu_fd, ex->o.key_fd, ex->o.nr_cpus))
		snapshot_free(&snap);
	for (size_t i = 0; i < ex->nr_targets; i++) {
		struct target *t = &ex->targets[i];

		if (pid ? t->pid != pid : !t->ended_ns || now - t->ended_ns < ex->o.grace_ns) {
			ex->targets[kept++] = *t;
			continue;
		}
		retire(ex, t, &snap);
	}
	ex->nr_targets = kept;
	snapshot_free(&snap);
	return kept;
}

size_t exporter_expire(struct exporter *ex)
{
	size_t before, left;

	pthread_mutex_lock(&ex->lock);
	before = ex->nr_targets;
	left = expire_locked(ex, 0);
	pthread_mutex_unlock(&ex->lock);
	/*
	 * A scrape's body grows with the fleet (some 13 kB a process) and the allocator keeps the
	 * largest for the next scrape, which then costs no page faults. Once processes are gone for
	 * good, the memory of their bodies goes back: a burst of short-lived processes does not leave
	 * the exporter at its peak.
	 */
	if (left < before)
		malloc_trim(0);
	return left;
}

/*
 * One target per run so far: the per-CPU totals are its figures. The breakdown by GIL, when
 * asked for, adds a series per GIL of the figures the BPF side splits by key.
 */
/*
 * --by: a series per group, its processes' figures (ended ones in their grace period included)
 * added to those of its processes that have gone. sums has a place per group and one more.
 */
static int collect_groups(struct exporter *ex, const struct snapshot *snap, struct gil_stats *sums,
			  struct prom_series **out, size_t *nr_out, unsigned int *nr_live)
{
	struct prom_series *series = calloc(ex->nr_groups + 1, sizeof(*series));
	const char *label = exporter_by_labels[ex->o.by];
	struct gil_stats *other = &sums[ex->nr_groups];
	size_t n = 0;

	if (!series)
		return -ENOMEM;
	*nr_live = 0;
	for (size_t g = 0; g < ex->nr_groups; g++)
		sums[g] = ex->groups[g].retired;
	*other = ex->other_retired;
	for (size_t i = 0; i < ex->nr_targets; i++) {
		const struct target *t = &ex->targets[i];

		for (size_t k = 0; k < snap->nr_keys; k++)
			if (snap->keys[k].key.tgid == (__u32)t->pid)
				snapshot_stats_add(t->group < 0 ? other : &sums[t->group],
						   &snap->keys[k].s);
		*nr_live += !t->ended_ns;
	}
	for (size_t g = 0; g <= ex->nr_groups; g++) {
		if (g == ex->nr_groups && !ex->any_other)
			break;
		series[n] = (struct prom_series){ .s = &sums[g], .process = true, .keyed = true };
		prom_label_append(series[n].labels, sizeof(series[n].labels), label,
				  g < ex->nr_groups ? ex->groups[g].value : "other");
		n++;
	}
	*out = series;
	*nr_out = n;
	return 0;
}

static int collect(struct exporter *ex, const struct snapshot *snap, struct gil_stats *sums,
		   struct prom_series **out, size_t *nr_out, struct gil_stats *folded,
		   unsigned int *nr_live)
{
	size_t cap = ex->nr_targets + snap->nr_keys + 1, n = 0;
	struct prom_series *series = calloc(cap, sizeof(*series));
	bool any_folded = ex->folded_series > 0;
	char gil[32];

	if (!series)
		return -ENOMEM;
	*nr_live = 0;
	for (size_t i = 0; i < ex->nr_targets; i++) {
		series[n] = (struct prom_series){ .s = &snap->total, .process = true,
						  .keyed = ex->o.key_fd < 0 };
		/* -a: the process's own entries, summed over its GILs */
		if (ex->o.per_process) {
			for (size_t k = 0; k < snap->nr_keys; k++)
				if (snap->keys[k].key.tgid == (__u32)ex->targets[i].pid)
					snapshot_stats_add(&sums[i], &snap->keys[k].s);
			series[n].s = &sums[i];
			series[n].keyed = !ex->o.split_gil;
		}
		memcpy(series[n].labels, ex->targets[i].labels, sizeof(series[n].labels));
		n++;
		*nr_live += !ex->targets[i].ended_ns;
	}
	*folded = ex->folded_retired;
	for (size_t k = 0; k < snap->nr_keys; k++) {
		const struct group_stats *ks = &snap->keys[k];
		struct target *t = find_target(ex, ks->key.tgid);
		struct known_key *known;

		if (!t || (ex->o.per_process && !ex->o.split_gil))
			continue;
		known = know_key(ex, &ks->key);
		if (!known || known->folded) {
			snapshot_stats_add(folded, &ks->s);
			any_folded = true;
			continue;
		}
		series[n] = (struct prom_series){ .s = &ks->s, .keyed = true };
		memcpy(series[n].labels, t->labels, sizeof(series[n].labels));
		snprintf(gil, sizeof(gil), "0x%llx", (unsigned long long)ks->key.gil);
		prom_label_append(series[n].labels, sizeof(series[n].labels), "gil", gil);
		n++;
	}
	if (any_folded) {
		series[n] = (struct prom_series){ .s = folded, .keyed = true };
		prom_label_append(series[n].labels, sizeof(series[n].labels), "pid", "other");
		prom_label_append(series[n].labels, sizeof(series[n].labels), "gil", "other");
		n++;
	}
	*out = series;
	*nr_out = n;
	return 0;
}

int exporter_write(struct exporter *ex, FILE *f, enum prom_format fmt)
{
	struct prom_scrape scrape = { .unit_ns = ex->o.unit_ns, .version = ex->o.version };
	struct prom_series *series = NULL;
	struct gil_stats folded, *sums;
	struct snapshot snap = {};
	struct mallinfo2 heap;
	int err;

	pthread_mutex_lock(&ex->lock);
	/* before this scrape's own allocations */
	heap = mallinfo2();
	scrape.heap_inuse_bytes = heap.uordblks + heap.hblkhd;
	sums = calloc((ex->o.by ? ex->nr_groups : ex->nr_targets) + 1, sizeof(*sums));
	err = sums ? snapshot_read(&snap, ex->o.cpu_fd, ex->o.key_fd, ex->o.nr_cpus) : -ENOMEM;
	if (!err && ex->o.by)
		err = collect_groups(ex, &snap, sums, &series, &scrape.nr_series,
				     &scrape.nr_targets);
	else if (!err)
		err = collect(ex, &snap, sums, &series, &scrape.nr_series, &folded,
			      &scrape.nr_targets);
	if (!err) {
		scrape.series = series;
		scrape.folded_series = ex->folded_series;
		prom_write(f, &scrape, fmt);
	}
	pthread_mutex_unlock(&ex->lock);
	free(sums);
	free(series);
	snapshot_free(&snap);
	return err;
}

int exporter_write_textfile(struct exporter *ex, const char *dir)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, err = 0;
	FILE *f;

	/* node_exporter reads only *.prom: the temporary file is never half-read. */
	snprintf(path, sizeof(path), "%s/%s", dir, TEXTFILE_NAME);
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, TEXTFILE_NAME);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	err = exporter_write(ex, f, PROM_TEXT);
	if (!err && (fflush(f) || fchmod(fd, 0644)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static const char landing_page[] =
	"<!DOCTYPE html>\n<html><head><title>gilstat</title></head><body>\n"
	"<h1>gilstat</h1>\n<p>The GIL of traced Python processes: waits, holds, handoffs and "
	"switches.</p>\n<p><a href=\"/metrics\">Metrics</a></p>\n</body></html>\n";

static enum MHD_Result queue(struct MHD_Connection *c, unsigned int status, const char *type,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	return queue(c, status, "text/plain; charset=utf-8", (char *)text, strlen(text),
		     MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	static int first_call;
	struct exporter *ex = cls;
	enum prom_format fmt;
	char *body = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	/* The first call only announces the request; the answer goes with the second. */
	if (!*req_cls) {
		*req_cls = &first_call;
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (!strcmp(url, "/"))
		return queue(c, MHD_HTTP_OK, "text/html; charset=utf-8", (char *)landing_page,
			     sizeof(landing_page) - 1, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics"))
		return queue_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");

	fmt = prom_negotiate(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							  MHD_HTTP_HEADER_ACCEPT));
	f = open_memstream(&body, &len);
	if (!f)
		return queue_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	err = exporter_write(ex, f, fmt);
	if (fclose(f) || err) {
		free(body);
		return queue_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot read the BPF maps\n");
	}
	return queue(c, MHD_HTTP_OK, prom_content_type(fmt), body, len, MHD_RESPMEM_MUST_FREE);
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
	fprintf(stderr, "gilstat: http: ");
	vfprintf(stderr, fmt, ap);
}

int exporter_serve(struct exporter *ex, int listen_fd, char *err, size_t err_len)
{
	/*
	 * One thread polling every connection, never blocked by one: a scraper that does not read
	 * fills only its own socket's buffer, and the tracing never waits for the server.
	 */
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | (ex->o.verbose ? MHD_USE_ERROR_LOG : 0);

	ex->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, ex, MHD_OPTION_LISTEN_SOCKET,
				      listen_fd, MHD_OPTION_CONNECTION_LIMIT,
				      (unsigned int)HTTP_MAX_CONNECTIONS,
				      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_TIMEOUT_SEC,
				      MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL, MHD_OPTION_END);
	if (!ex->daemon) {
		snprintf(err, err_len, "cannot start the HTTP server");
		close(listen_fd);
		return -EIO;
	}
	return 0;
}

void exporter_free(struct exporter *ex)
{
	if (!ex)
		return;
	if (ex->daemon)
		MHD_stop_daemon(ex->daemon);
	pthread_mutex_destroy(&ex->lock);
	free(ex->targets);
	free(ex->keys);
	free(ex->groups);
	free(ex);
}
