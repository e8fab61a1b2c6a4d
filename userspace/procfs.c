// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procfs.h"

int proc_find_mapping(pid_t pid, bool (*fn)(const struct proc_mapping *m, void *ctx), void *ctx,
		      struct proc_mapping *m)
{
	char path[64], line[PATH_MAX + 256];
	int found = 0;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return -errno;
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long inode;
		char *file;
		int n = 0;

		if (sscanf(line, "%lx-%lx %7s %lx %*s %lu %n", &m->start, &m->end, m->perms,
			   &m->offset, &inode, &n) != 5 ||
		    !n)
			continue;
		file = line + n;
		if (*file != '/')
			continue;
		file[strcspn(file, "\n")] = '\0';
		m->ino = inode;
		snprintf(m->name, sizeof(m->name), "%s", file);
		found = fn(m, ctx);
	}
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

void proc_reachable_path(pid_t pid, const char *name, ino_t ino, const char *fallback, char *out,
			 size_t out_len)
{
	char rooted[PATH_MAX], real[PATH_MAX];
	struct stat st;

	if (!stat(name, &st) && st.st_ino == ino) {
		snprintf(out, out_len, "%s", realpath(name, real) ? real : name);
		return;
	}
	if (snprintf(rooted, sizeof(rooted), "/proc/%d/root%s", pid, name) < (int)sizeof(rooted) &&
	    !stat(rooted, &st) && st.st_ino == ino) {
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
