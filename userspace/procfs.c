// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "procfs.h"

/*
 * The most of /proc/PID/maps read: 65530 mappings (vm.max_map_count) of short names. A process
 * that maps more, with long names, is given up rather than read for hundreds of MiB.
 */
#define MAPS_MAX_BYTES (32u << 20)

/* The maps of one process read once and searched by every question of one look (proc_maps_hold). */
static struct {
	pid_t pid;
	char *text;
	size_t len;
	bool too_big;
} held;

void proc_maps_hold(pid_t pid)
{
	char path[64];
	size_t cap = 0;
	FILE *maps;

	proc_maps_release();
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return;
	for (;;) {
		char *grown;
		size_t n;

		if (held.len + 4096 > cap) {
			grown = realloc(held.text, cap = cap ? 2 * cap : 16384);
			if (!grown)
				break;
			held.text = grown;
		}
		n = fread(held.text + held.len, 1, cap - held.len - 1, maps);
		held.len += n;
		if (!n || held.len > MAPS_MAX_BYTES || !safeio_budget_left())
			break;
	}
	if (held.text && (held.len > MAPS_MAX_BYTES || !safeio_budget_left())) {
		fclose(maps);
		proc_maps_release();
		held.pid = pid;
		held.too_big = true;
		return;
	}
	if (ferror(maps) || !held.text) {
		fclose(maps);
		proc_maps_release();
		return;
	}
	fclose(maps);
	held.text[held.len] = '\0';
	held.pid = pid;
}

void proc_maps_release(void)
{
	free(held.text);
	memset(&held, 0, sizeof(held));
}

/* "START-END PERMS OFFSET DEV INODE NAME": 0, or -1 for a line that maps no file. */
static int parse_mapping(char *line, struct proc_mapping *m)
{
	unsigned long major, minor;
	char *p = line, *end;
	size_t len;

	m->start = strtoul(p, &end, 16);
	if (*end != '-')
		return -1;
	m->end = strtoul(end + 1, &p, 16);
	while (*p == ' ')
		p++;
	snprintf(m->perms, sizeof(m->perms), "%.*s", (int)strcspn(p, " "), p);
	p += strcspn(p, " ");
	m->offset = strtoul(p, &p, 16);
	while (*p == ' ')
		p++;
	major = strtoul(p, &end, 16);
	if (*end != ':')
		return -1;
	minor = strtoul(end + 1, &p, 16);
	m->dev = makedev(major, minor);
	m->ino = strtoul(p, &p, 10);
	while (*p == ' ')
		p++;
	if (*p != '/')
		return -1;
	len = strcspn(p, "\n");
	/* a name that does not fit would name another file */
	if (len >= sizeof(m->name))
		return -1;
	memcpy(m->name, p, len);
	m->name[len] = '\0';
	return 0;
}

int proc_find_mapping(pid_t pid, bool (*fn)(const struct proc_mapping *m, void *ctx), void *ctx,
		      struct proc_mapping *m)
{
	char path[64], *line = NULL;
	size_t line_cap = 0;
	int found = 0;
	FILE *maps;

	if (held.too_big && held.pid == pid)
		return -EFBIG;
	if (held.text && held.pid == pid) {
		if (!held.len)
			return 0; /* exiting: nothing mapped any more */
		maps = fmemopen(held.text, held.len, "r");
	} else {
		snprintf(path, sizeof(path), "/proc/%d/maps", pid);
		maps = fopen(path, "re");
	}
	if (!maps)
		return -errno;
	/* whole lines: the tail of a long one split off would read as a mapping of its own */
	while (!found && getline(&line, &line_cap, maps) > 0)
		found = !parse_mapping(line, m) && fn(m, ctx);
	free(line);
	fclose(maps);
	return found;
}

struct inode_wanted {
	ino_t ino;
	bool at_offset_0;
};

static bool is_inode_wanted(const struct proc_mapping *m, void *ctx)
{
	const struct inode_wanted *w = ctx;

	return m->ino == w->ino && (!w->at_offset_0 || !m->offset);
}

int proc_find_inode(pid_t pid, ino_t ino, bool at_offset_0, struct proc_mapping *m)
{
	struct inode_wanted w = {ino, at_offset_0};

	return proc_find_mapping(pid, is_inode_wanted, &w, m);
}

/* Whether path opens as the file id names. */
static bool is_file(const char *path, const struct safeio_id *id)
{
	int fd = safeio_open(path, SAFEIO_NOFOLLOW, id, NULL);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

void proc_reachable_path(pid_t pid, const char *name, const struct safeio_id *id,
			 const char *fallback, char *out, size_t out_len)
{
	char rooted[PATH_MAX], real[PATH_MAX];

	if (is_file(name, id)) {
		snprintf(out, out_len, "%s", realpath(name, real) ? real : name);
		return;
	}
	if (snprintf(rooted, sizeof(rooted), "/proc/%d/root%s", pid, name) < (int)sizeof(rooted) &&
	    is_file(rooted, id)) {
		snprintf(out, out_len, "%s", rooted);
		return;
	}
	snprintf(out, out_len, "%s", fallback);
}

void proc_map_file(pid_t pid, const struct proc_mapping *m, char *out, size_t out_len)
{
	snprintf(out, out_len, "/proc/%d/map_files/%lx-%lx", pid, m->start, m->end);
}

int proc_read_nul_list(pid_t pid, const char *what, char *buf, size_t buf_len, char **v, int max)
{
	char path[64];
	ssize_t len = 0, n;
	int fd, nr = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (len < (ssize_t)buf_len - 1 && (n = read(fd, buf + len, buf_len - 1 - len)) > 0)
		len += n;
	close(fd);
	buf[len] = '\0';
	for (ssize_t i = 0; i < len && nr < max - 1; i += strlen(buf + i) + 1)
		v[nr++] = buf + i;
	v[nr] = NULL;
	return nr;
}

void proc_read_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, len, f))
		snprintf(buf, len, "?");
	buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

char *proc_read_maps(pid_t pid, size_t *len)
{
	char path[64], buf[4096], *text = NULL;
	size_t n, total = 0;
	FILE *in, *out;

	*len = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	in = fopen(path, "re");
	if (!in)
		return NULL;
	out = open_memstream(&text, len);
	while (out && total <= MAPS_MAX_BYTES && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
		fwrite(buf, 1, n, out);
		total += n;
	}
	fclose(in);
	if (!out)
		return NULL;
	fclose(out);
	return text;
}
