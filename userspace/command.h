/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A command before it runs: what execvp() finds, which program the kernel and env(1) really run
 * (#! lines, env's options), what the dynamic loader maps for it, and a helper that asks a
 * program a question with a time limit.
 */
#ifndef GILSTAT_COMMAND_H
#define GILSTAT_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

#define COMMAND_MAX_ARGS 256

/* The argument vector a command ends up with as the kernel and env rewrite it. */
struct command_args {
	char *v[COMMAND_MAX_ARGS + 1];
	int n;
};

int command_args_copy(struct command_args *a, char *const argv[]);
void command_args_free(struct command_args *a);

/* What resolve_interpreter() found, and what it remembered on the way. */
struct command_resolved {
	char file[4096];    /* the ELF file that runs: the interpreter, or a wrapper */
	char wrapper[4096]; /* the first file on the way whose name starts with wrapper_prefix */
	char env_value[64]; /* the value env_name was given by an env(1) on the way, or empty */
};

/*
 * What execvp(a) runs, followed through #! lines the way binfmt_script does and through env(1)
 * until an ELF file that is neither env nor a script; a is rewritten as the kernel would. 0, or a
 * negative errno and one line in err.
 */
int command_resolve(struct command_args *a, const char *wrapper_prefix, const char *env_name,
		    struct command_resolved *r, char *err, size_t err_len);

/* Looks up cmd as execvp() would; 0 with the path in out, or -ENOENT / -EACCES. */
int command_lookup(const char *cmd, char *out, size_t out_len);

/*
 * Runs argv (a full path) with stdin and stderr on /dev/null and, if env_name is set, env_name=1
 * in its environment, for at most 10 s; its stdout, NUL-terminated, in out. 0 if it exited 0.
 */
int command_capture(char *const argv[], const char *env_name, char *out, size_t out_len);

/*
 * The libraries the dynamic loader maps for exe, asked of the loader itself
 * (LD_TRACE_LOADED_OBJECTS, what ldd does), so that RUNPATH, $ORIGIN and LD_LIBRARY_PATH resolve
 * as they will when the command runs: fn(soname, path, ctx) for each until it returns true.
 * 0 when fn did, -ENOENT when it never did, -errno when the loader could not be asked.
 */
int command_loader_libs(const char *exe, bool (*fn)(const char *soname, const char *path, void *ctx),
			void *ctx);

/* Where the dynamic loader finds soname for exe; 0, or -ENOENT. */
int command_loader_path(const char *exe, const char *soname, char *out, size_t out_len);

#endif
