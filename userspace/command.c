// SPDX-License-Identifier: GPL-2.0
/*
 * A command before it runs (see command.h): execvp()'s lookup, binfmt_script's #! rules and
 * env(1)'s options, as gilstat must follow them to find the program a command really runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "command.h"
#include "now_ns.h"
#include "elffile.h"

/* fs/exec.c: an interpreter may itself be a script, this many levels deep. */
#define MAX_INTERP_DEPTH 5
/* binfmt_script reads the #! line from the first BINPRM_BUF_SIZE bytes only. */
#define BINPRM_BUF_SIZE 256
/* env and wrapper hops on top of the kernel's levels, so that a loop of scripts ends. */
#define MAX_HOPS 16
/* the loader listing and a wrapper's answer take well under a second */
#define CHILD_TIMEOUT_MS 10000

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int command_lookup(const char *cmd, char *out, size_t out_len)
{
	const char *path_env = getenv("PATH");
	char *paths, *dir, *save = NULL;
	int err = -ENOENT;

	if (strchr(cmd, '/')) {
		if (access(cmd, F_OK))
			return -ENOENT;
		if (access(cmd, X_OK))
			return -EACCES;
		snprintf(out, out_len, "%s", cmd);
		return 0;
	}
	paths = strdup(path_env ? path_env : "/usr/local/bin:/usr/bin:/bin");
	if (!paths)
		return -ENOMEM;
	for (dir = strtok_r(paths, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		struct stat st;

		snprintf(out, out_len, "%s/%s", *dir ? dir : ".", cmd);
		if (stat(out, &st) || !S_ISREG(st.st_mode))
			continue;
		if (access(out, X_OK) == 0) {
			err = 0;
			break;
		}
		/* execvp() goes on searching past a file it may not run, and reports EACCES last. */
		err = -EACCES;
	}
	free(paths);
	return err;
}

int command_capture(char *const argv[], const char *env_name, char *out, size_t out_len)
{
	__u64 start_ns;
	int pipefd[2], status, err = 0;
	size_t len = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return err;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(pipefd[1], STDOUT_FILENO);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDERR_FILENO);
		}
		if (env_name)
			setenv(env_name, "1", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	start_ns = now_ns();
	for (;;) {
		struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
		long left_ms;
		ssize_t n;

		left_ms = CHILD_TIMEOUT_MS - (long)((now_ns() - start_ns) / 1000000);
		if (left_ms <= 0 || poll(&pfd, 1, left_ms) == 0) {
			kill(pid, SIGKILL);
			err = -ETIMEDOUT;
			break;
		}
		n = read(pipefd[0], out + len, out_len - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		if (len == out_len - 1)
			break;
	}
	out[len] = '\0';
	close(pipefd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!err && (!WIFEXITED(status) || WEXITSTATUS(status)))
		err = -ECHILD;
	return err;
}


int command_loader_libs(const char *exe, bool (*fn)(const char *soname, const char *path, void *ctx),
			void *ctx)
{
	char *argv[] = {(char *)exe, NULL};
	char listing[16384], *line, *save = NULL;
	int err;

	err = command_capture(argv, "LD_TRACE_LOADED_OBJECTS", listing, sizeof(listing));
	if (err)
		return err;
	for (line = strtok_r(listing, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *arrow = strstr(line, " => "), *name = line, *path, *end;

		/*
		 * "soname => path (0xaddr)". A relative LD_LIBRARY_PATH gives relative paths, as
		 * valid from here as from the command, which starts in this directory.
		 */
		if (!arrow || arrow[4] == '(' || !strncmp(arrow + 4, "not found", 9))
			continue;
		while (*name == ' ' || *name == '\t')
			name++;
		*arrow = '\0';
		path = arrow + 4;
		end = strstr(path, " (0x");
		if (end)
			*end = '\0';
		if (fn(name, path, ctx))
			return 0;
	}
	return -ENOENT;
}

struct soname_wanted {
	const char *soname;
	char *out;
	size_t out_len;
};

static bool is_soname_wanted(const char *soname, const char *path, void *ctx)
{
	struct soname_wanted *w = ctx;

	if (strcmp(soname, w->soname))
		return false;
	snprintf(w->out, w->out_len, "%s", path);
	return true;
}

int command_loader_path(const char *exe, const char *soname, char *out, size_t out_len)
{
	struct soname_wanted w = {soname, out, out_len};

	return command_loader_libs(exe, is_soname_wanted, &w);
}

void command_args_free(struct command_args *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
	a->v[0] = NULL;
}

/* Replaces the first `drop` arguments by the `nr` ones in add. */
static int args_splice(struct command_args *a, int drop, char *const add[], int nr)
{
	if (a->n - drop + nr > COMMAND_MAX_ARGS)
		return -E2BIG;
	for (int i = 0; i < drop; i++)
		free(a->v[i]);
	memmove(a->v + nr, a->v + drop, (a->n - drop + 1) * sizeof(a->v[0]));
	a->n += nr - drop;
	for (int i = 0; i < nr; i++) {
		a->v[i] = strdup(add[i]);
		if (!a->v[i]) {
			/* keep the vector whole for args_free() */
			memmove(a->v + i, a->v + nr, (a->n - nr + 1) * sizeof(a->v[0]));
			a->n -= nr - i;
			return -ENOMEM;
		}
	}
	return 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * binfmt_script: "#!", blanks, the interpreter up to a blank (or NUL), then the rest of the line
 * with its trailing blanks trimmed as one optional argument. Only a newline ends the line (a '\r'
 * stays part of it), and without one in the first BINPRM_BUF_SIZE - 1 bytes the interpreter name
 * must end before them. 1 with interp and arg set, 0 if head has no #! line, -ENOEXEC when the
 * kernel refuses it.
 */
static int parse_shebang(char *head, size_t len, char **interp, char **arg)
{
	char *end, *p;

	if (len < 2 || head[0] != '#' || head[1] != '!')
		return 0;
	end = memchr(head, '\n', len);
	if (!end) {
		if (len > BINPRM_BUF_SIZE - 1)
			len = BINPRM_BUF_SIZE - 1;
		end = head + len;
		for (p = head + 2; p < end && is_blank(*p); p++)
			;
		for (; p < end && !is_blank(*p) && *p; p++)
			;
		/* a short file is padded with NULs, which end the name */
		if (p == end && len == BINPRM_BUF_SIZE - 1)
			return -ENOEXEC;
	}
	*end = '\0';
	while (end > head + 2 && is_blank(end[-1]))
		*--end = '\0';
	for (p = head + 2; is_blank(*p); p++)
		;
	if (!*p)
		return -ENOEXEC;
	*interp = p;
	p += strcspn(p, " \t");
	*arg = NULL;
	if (*p) {
		*p++ = '\0';
		while (is_blank(*p))
			p++;
		if (*p)
			*arg = p;
	}
	return 1;
}

/* env -S STRING: its words replace env's arguments up to and including the -S one. */
static int env_split(struct command_args *a, int i, const char *string)
{
	char *words[COMMAND_MAX_ARGS], *copy, *save = NULL;
	int nr = 0, ret;

	copy = strdup(string);
	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, " \t", &save); w && nr < COMMAND_MAX_ARGS;
	     w = strtok_r(NULL, " \t", &save))
		words[nr++] = w;
	ret = args_splice(a, i + 1, words, nr);
	free(copy);
	return ret;
}

/*
 * env(1) as the interpreter, most often from "#!/usr/bin/env python3": drops env, its options and
 * its NAME=VALUE words (remembering env_name's) so that the program it runs comes first.
 */
static int follow_env(struct command_args *a, const char *env_name, char *env_value,
		      size_t env_value_len, char *err, size_t err_len)
{
	size_t name_len = env_name ? strlen(env_name) : 0;
	int i = 1, ret;

	while (i < a->n) {
		const char *w = a->v[i], *split = NULL;

		if (!strcmp(w, "--")) {
			i++;
			break;
		}
		if (!strncmp(w, "-S", 2))
			split = w + 2;
		else if (!strncmp(w, "--split-string=", 15))
			split = w + 15;
		else if (!strcmp(w, "--split-string"))
			split = "";
		if (split) {
			if (!*split && i + 1 < a->n)
				split = a->v[++i];
			ret = env_split(a, i, split);
			if (ret)
				return ret;
			/* the words may hold more options: start over with them */
			i = 0;
			continue;
		}
		if (!strcmp(w, "-u")) {
			i += 2;
			continue;
		}
		if (!strcmp(w, "-i") || !strcmp(w, "--ignore-environment") || !strcmp(w, "-0") ||
		    !strcmp(w, "--null") || !strcmp(w, "-v") || !strcmp(w, "--debug") ||
		    !strncmp(w, "-u", 2) || !strncmp(w, "--unset=", 8)) {
			i++;
			continue;
		}
		if (w[0] == '-') {
			snprintf(err, err_len, "cannot follow env option %s", w);
			return -ENOTSUP;
		}
		if (!strchr(w, '='))
			break;
		if (env_name && !strncmp(w, env_name, name_len) && w[name_len] == '=')
			snprintf(env_value, env_value_len, "%s", w + name_len + 1);
		i++;
	}
	if (i >= a->n) {
		snprintf(err, err_len, "env runs no program");
		return -ENOENT;
	}
	return args_splice(a, i, NULL, 0);
}


int command_args_copy(struct command_args *a, char *const argv[])
{
	a->n = 0;
	for (int i = 0; argv[i]; i++) {
		if (i == COMMAND_MAX_ARGS)
			return -E2BIG;
		a->v[i] = strdup(argv[i]);
		if (!a->v[i])
			return -ENOMEM;
		a->n++;
		a->v[a->n] = NULL;
	}
	return 0;
}

int command_resolve(struct command_args *a, const char *wrapper_prefix, const char *env_name,
		    struct command_resolved *r, char *err, size_t err_len)
{
	char *file = r->file, *wrapper = r->wrapper;
	size_t file_len = sizeof(r->file), wrapper_len = sizeof(r->wrapper);
	char head[BINPRM_BUF_SIZE + 1];
	bool search_path = true;
	int depth = 0, ret;

	for (int hop = 0; hop < MAX_HOPS; hop++) {
		char *interp, *arg;
		struct elf_file ef;
		ssize_t len;
		int fd;

		if (search_path) {
			ret = command_lookup(a->v[0], file, file_len);
			if (ret) {
				snprintf(err, err_len, "%s: %s", a->v[0],
					 ret == -ENOENT ? "command not found" : strerror(-ret));
				return ret;
			}
		} else {
			snprintf(file, file_len, "%s", a->v[0]);
		}
		if (!wrapper[0] && wrapper_prefix &&
		    !strncmp(base_name(file), wrapper_prefix, strlen(wrapper_prefix)))
			snprintf(wrapper, wrapper_len, "%s", file);

		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ret = -errno;
			snprintf(err, err_len, "cannot read %s: %s", file, strerror(errno));
			return ret;
		}
		len = read(fd, head, BINPRM_BUF_SIZE);
		close(fd);
		ret = parse_shebang(head, len > 0 ? len : 0, &interp, &arg);
		if (ret < 0) {
			snprintf(err, err_len, "%s: the kernel refuses its #! line", file);
			return ret;
		}
		if (ret == 1) {
			/* interpreter [arg] script args...: the script's path replaces argv[0] */
			char *add[] = {interp, arg ? arg : file, file};

			if (++depth > MAX_INTERP_DEPTH) {
				snprintf(err, err_len, "%s: too many levels of #! interpreters",
					 file);
				return -ELOOP;
			}
			ret = args_splice(a, 1, add, arg ? 3 : 2);
			if (ret)
				return ret;
			search_path = false;
			continue;
		}

		ret = elf_file_open(&ef, file);
		if (ret == -ENOEXEC) {
			snprintf(err, err_len, "%s is not an ELF file and has no #! line", file);
			return ret;
		}
		if (ret) {
			snprintf(err, err_len, "cannot read %s: %s", file, strerror(-ret));
			return ret;
		}
		elf_file_close(&ef);
		if (strcmp(base_name(file), "env"))
			return 0;
		ret = follow_env(a, env_name, r->env_value, sizeof(r->env_value), err, err_len);
		if (ret)
			return ret;
		/* env execs its program afresh, through PATH, with a new count of levels */
		search_path = true;
		depth = 0;
	}
	snprintf(err, err_len, "%s: too many levels of #! interpreters and env", a->v[0]);
	return -ELOOP;
}

