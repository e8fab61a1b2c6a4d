// SPDX-License-Identifier: GPL-2.0
/*
 * userspace/python.c against the real interpreters of this image: pyenv builds with symbols under
 * $PYENV_ROOT/versions (default /root/.pyenv) and Debian's stripped /usr/bin/python3.11. An
 * interpreter that is absent is skipped with the reason printed; tests/run.sh fails the run when
 * the machine should have had it (skip_because()).
 *
 * Offsets are checked against tools that share no code with the module: nm for the symbol's
 * address (turned into a file offset through the program headers, where the module goes through
 * section headers) and objdump for what the instruction at a forced-release site calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "python.h"
#include "skip.h"

#define DEBIAN_PYTHON "/usr/bin/python3.11"
/* how long a spawned interpreter may take to map its libpython */
#define START_TIMEOUT_MS 5000

static char tmp_dir[] = "/tmp/test_python.XXXXXX";
static char *saved_path;
static pid_t spawned = -1;
static char err[512];


static const char *pyenv_root(void)
{
	const char *root = getenv("PYENV_ROOT");

	return root && *root ? root : "/root/.pyenv";
}

/* A machine with pyenv's builds should have every one of them; one without pyenv cannot. */
static const char *pyenv_class(void)
{
	char versions[PATH_MAX];
	struct stat st;

	snprintf(versions, sizeof(versions), "%s/versions", pyenv_root());
	return stat(versions, &st) == 0 && S_ISDIR(st.st_mode) ? SHOULD_HAVE_RUN : CANNOT_HERE;
}

/* The first path matching pattern, or false. */
static bool glob_first(const char *pattern, char *out, size_t out_len)
{
	glob_t g;
	bool found = false;

	if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		snprintf(out, out_len, "%s", g.gl_pathv[0]);
		found = true;
	}
	globfree(&g);
	return found;
}

/* A pyenv build of version ("3.12"): its prefix directory, or a skip. */
static void need_pyenv(const char *version, char *prefix, size_t len)
{
	char pattern[PATH_MAX], python[PATH_MAX + 16];

	snprintf(pattern, sizeof(pattern), "%s/versions/%s.*[0-9]", pyenv_root(), version);
	if (!glob_first(pattern, prefix, len))
		skip_because(pyenv_class(), "no CPython %s under %s/versions", version,
			     pyenv_root());
	snprintf(python, sizeof(python), "%s/bin/python3", prefix);
	if (access(python, X_OK))
		skip_because(pyenv_class(), "%s is not executable", python);
}

static void need_pyenv_lib(const char *version, char *lib, size_t len)
{
	char prefix[PATH_MAX], pattern[PATH_MAX + 64];

	need_pyenv(version, prefix, sizeof(prefix));
	snprintf(pattern, sizeof(pattern), "%s/lib/libpython%s*.so.1.0", prefix, version);
	if (!glob_first(pattern, lib, len))
		skip_because(CANNOT_HERE, "CPython %s in %s has no libpython (a static build)",
			     version, prefix);
}

/* Debian's stripped python3.11: no .symtab, only the exported API. */
static void need_debian_python(void)
{
	char line[256];
	bool stripped = true;
	FILE *f;

	if (access(DEBIAN_PYTHON, X_OK))
		skip_because(SHOULD_HAVE_RUN, "no %s", DEBIAN_PYTHON);
	f = popen("readelf -SW " DEBIAN_PYTHON " 2>/dev/null", "r");
	if (!f)
		skip_because(SHOULD_HAVE_RUN, "readelf cannot run");
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, " .symtab "))
			stripped = false;
	}
	pclose(f);
	if (!stripped)
		skip_because(CANNOT_HERE, "%s has a symbol table: not the stripped build",
			     DEBIAN_PYTHON);
}

static void need_tool(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	if (system(cmd))
		skip_because(SHOULD_HAVE_RUN, "%s is not installed", tool);
}

/*
 * Through the program headers of file: the file offset of a virtual address (to_offset), or the
 * virtual address of a file offset. 0 when no loaded segment holds it.
 */
static uint64_t translate(const char *file, uint64_t from, bool to_offset)
{
	uint64_t to = 0;
	size_t nr;
	int fd;
	Elf *e;

	elf_version(EV_CURRENT);
	fd = open(file, O_RDONLY);
	assert_true(fd >= 0);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	assert_int_equal(elf_getphdrnum(e, &nr), 0);
	for (size_t i = 0; i < nr; i++) {
		GElf_Phdr ph;
		uint64_t base;

		if (!gelf_getphdr(e, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		base = to_offset ? ph.p_vaddr : ph.p_offset;
		if (from >= base && from < base + ph.p_filesz)
			to = from - base + (to_offset ? ph.p_offset : ph.p_vaddr);
	}
	elf_end(e);
	close(fd);
	return to;
}

/* Where nm says sym is (-D: the dynamic symbols of a stripped file), as a file offset. */
static uint64_t nm_offset(const char *file, const char *sym, bool dynamic)
{
	char cmd[PATH_MAX + 64], line[512], name[256], type;
	unsigned long long addr, found = 0;
	FILE *f;

	need_tool("nm");
	snprintf(cmd, sizeof(cmd), "nm %s--defined-only '%s' 2>/dev/null", dynamic ? "-D " : "",
		 file);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 && !strcmp(name, sym))
			found = addr;
	}
	pclose(f);
	assert_true(found != 0);
	return translate(file, found, true);
}

static void assert_probe(const struct py_probe *p, const char *file, const char *sym, bool dynamic)
{
	assert_string_equal(p->name, sym);
	assert_int_equal(p->offset, nm_offset(file, sym, dynamic));
}

/*
 * The callees of the call instructions objdump finds in [offset, offset + len) of file, in order,
 * separated by spaces.
 */
static void objdump_calls(const char *file, uint64_t offset, unsigned len, char *out,
			  size_t out_len)
{
	char cmd[PATH_MAX + 128], line[512];
	uint64_t vaddr = translate(file, offset, false);
	FILE *f;

	need_tool("objdump");
	snprintf(cmd, sizeof(cmd), "objdump -d --start-address=0x%llx --stop-address=0x%llx '%s'",
		 (unsigned long long)vaddr, (unsigned long long)vaddr + len, file);
	f = popen(cmd, "r");
	assert_non_null(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		char *callee = strchr(line, '<');

		if (!strstr(line, "\tcall ") || !callee)
			continue;
		callee[strcspn(callee, "\n")] = '\0';
		snprintf(out + strlen(out), out_len - strlen(out), "%s%s", out[0] ? " " : "",
			 callee);
	}
	pclose(f);
}

static void check_version(const struct py_target *t, const char *version)
{
	char v[16];

	snprintf(v, sizeof(v), "%d.%d", t->major, t->minor);
	assert_string_equal(v, version);
}

static void check_same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	assert_true(sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev);
}

/*
 * A pyenv build with symbols: take_gil/drop_gil where nm puts them, and one forced-release site in
 * handler that calls release_callee and then take_gil or _PyThreadState_Attach.
 */
static void check_gil_view(const char *version, const char *handler, const char *release_callee,
			   const char *acquire_callee)
{
	char lib[PATH_MAX], calls[512], expect[256];
	struct py_target t;

	need_pyenv_lib(version, lib, sizeof(lib));
	assert_int_equal(python_target_from_file(lib, &t, err, sizeof(err)), 0);
	check_same_file(t.path, lib);
	check_version(&t, version);
	assert_int_equal(t.view, PY_VIEW_GIL);
	assert_false(t.free_threaded);
	assert_int_equal(t.nr_acquire, 1);
	assert_probe(&t.acquire[0], lib, "take_gil", false);
	assert_int_equal(t.nr_release, 1);
	assert_probe(&t.release[0], lib, "drop_gil", false);
	assert_int_equal(t.nr_forced, 1);
	assert_true(!strncmp(t.forced[0].name, handler, strlen(handler)));
	assert_string_equal(t.blind_spot, "");
	/* the call, the argument set-up for the next one (8 bytes at most here), the next call */
	objdump_calls(lib, t.forced[0].offset, 5 + 8 + 5, calls, sizeof(calls));
	snprintf(expect, sizeof(expect), "<%s> <%s>", release_callee, acquire_callee);
	assert_string_equal(calls, expect);
}

static void test_gil_view_3_9(void **state)
{
	/* eval_frame_handle_pending is inlined into the eval loop */
	check_gil_view("3.9", "_PyEval_EvalFrameDefault+", "drop_gil", "take_gil");
}

static void test_gil_view_3_11(void **state)
{
	check_gil_view("3.11", "_PyEval_EvalFrameDefault+", "drop_gil", "take_gil");
}

static void test_gil_view_3_12(void **state)
{
	check_gil_view("3.12", "_Py_HandlePending+", "drop_gil", "take_gil");
}

static void test_gil_view_3_13(void **state)
{
	/* 3.13 releases through _PyThreadState_Detach -> _PyEval_ReleaseLock -> drop_gil */
	check_gil_view("3.13", "_Py_HandlePending+", "_PyThreadState_Detach",
		       "_PyThreadState_Attach");
}

static void test_gil_view_takes_every_clone(void **state)
{
	char lib[PATH_MAX];
	struct py_target t;
	int plain;

	/* 3.8 has take_gil and take_gil.constprop.0, each called from somewhere */
	need_pyenv_lib("3.8", lib, sizeof(lib));
	assert_int_equal(python_target_from_file(lib, &t, err, sizeof(err)), 0);
	assert_int_equal(t.view, PY_VIEW_GIL);
	assert_int_equal(t.nr_acquire, 2);
	/* in the symbol table's order, which this test does not fix */
	plain = strcmp(t.acquire[0].name, "take_gil") ? 1 : 0;
	assert_probe(&t.acquire[plain], lib, "take_gil", false);
	assert_probe(&t.acquire[1 - plain], lib, "take_gil.constprop.0", false);
	assert_int_equal(t.nr_forced, 1);
}

static void test_threadstate_view_of_stripped_build(void **state)
{
	struct py_target t;

	need_debian_python();
	assert_int_equal(python_target_from_file(DEBIAN_PYTHON, &t, err, sizeof(err)), 0);
	assert_string_equal(t.path, DEBIAN_PYTHON);
	check_version(&t, "3.11");
	assert_int_equal(t.view, PY_VIEW_THREADSTATE);
	/* ET_EXEC: file offsets are not addresses there */
	assert_int_equal(t.nr_acquire, 2);
	assert_probe(&t.acquire[0], DEBIAN_PYTHON, "PyEval_RestoreThread", true);
	assert_probe(&t.acquire[1], DEBIAN_PYTHON, "PyEval_AcquireThread", true);
	assert_int_equal(t.nr_release, 2);
	assert_probe(&t.release[0], DEBIAN_PYTHON, "PyEval_SaveThread", true);
	assert_probe(&t.release[1], DEBIAN_PYTHON, "PyEval_ReleaseThread", true);
	assert_int_equal(t.nr_forced, 0);
	assert_non_null(strstr(t.blind_spot, "forced switches"));
}

static void test_python2_is_refused(void **state)
{
	char pattern[PATH_MAX], lib[PATH_MAX];
	struct py_target t;

	snprintf(pattern, sizeof(pattern), "%s/versions/2.7.*/lib/libpython2.7.so.1.0",
		 pyenv_root());
	if (!glob_first(pattern, lib, sizeof(lib)))
		skip_because(pyenv_class(), "no CPython 2.7 under %s/versions", pyenv_root());
	assert_int_equal(python_target_from_file(lib, &t, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "3.2 or later"));
}

static void write_file(const char *name, const char *text, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", tmp_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_non_elf_file_is_refused(void **state)
{
	char path[PATH_MAX];
	struct py_target t;

	write_file("notes.txt", "just text\n", path, sizeof(path));
	assert_int_equal(python_target_from_file(path, &t, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "is not an ELF file"));
}

static void test_elf_without_python_is_refused(void **state)
{
	struct py_target t;

	assert_int_equal(python_target_from_file("/bin/sleep", &t, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "holds no CPython interpreter"));
}

static void set_path(const char *first)
{
	char path[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s:/usr/bin:/bin", first);
	setenv("PATH", path, 1);
}

static void check_command(char *const argv[], const char *version, enum py_view view)
{
	struct py_target t;
	int ret = python_target_from_command(argv, NULL, &t, err, sizeof(err));

	if (ret)
		print_message("# %s\n", err);
	assert_int_equal(ret, 0);
	check_version(&t, version);
	assert_int_equal(t.view, view);
}

static void test_command_through_path(void **state)
{
	char prefix[PATH_MAX], bin[PATH_MAX + 8];
	char *argv[] = {"python3", "app.py", NULL};

	need_pyenv("3.12", prefix, sizeof(prefix));
	snprintf(bin, sizeof(bin), "%s/bin", prefix);
	set_path(bin);
	/* bin/python3 -> python3.12, which links lib/libpython3.12.so.1.0 */
	check_command(argv, "3.12", PY_VIEW_CONDVAR);
}

static void test_command_debian_python3(void **state)
{
	char *argv[] = {"python3", "-c", "pass", NULL};
	char real[PATH_MAX];
	struct py_target t;

	need_debian_python();
	if (!realpath("/usr/bin/python3", real) || strcmp(real, DEBIAN_PYTHON))
		skip_because(CANNOT_HERE, "/usr/bin/python3 is not %s", DEBIAN_PYTHON);
	setenv("PATH", "/usr/bin:/bin", 1);
	assert_int_equal(python_target_from_command(argv, NULL, &t, err, sizeof(err)), 0);
	assert_string_equal(t.path, DEBIAN_PYTHON);
	assert_int_equal(t.view, PY_VIEW_CONDVAR);
}

static void test_command_env_shebang(void **state)
{
	char prefix[PATH_MAX], bin[PATH_MAX + 8], script[PATH_MAX];
	char *argv[] = {script, "--flag", NULL};

	need_pyenv("3.9", prefix, sizeof(prefix));
	if (access("/usr/bin/env", X_OK))
		skip_because(SHOULD_HAVE_RUN, "no /usr/bin/env");
	snprintf(bin, sizeof(bin), "%s/bin", prefix);
	set_path(bin);
	write_file("env.py", "#!/usr/bin/env python3\nprint('hi')\n", script, sizeof(script));
	check_command(argv, "3.9", PY_VIEW_CONDVAR);
}

static void test_command_env_split_shebang(void **state)
{
	char prefix[PATH_MAX], bin[PATH_MAX + 8], script[PATH_MAX];
	char *argv[] = {script, NULL};

	need_pyenv("3.11", prefix, sizeof(prefix));
	if (access("/usr/bin/env", X_OK))
		skip_because(SHOULD_HAVE_RUN, "no /usr/bin/env");
	snprintf(bin, sizeof(bin), "%s/bin", prefix);
	set_path(bin);
	write_file("split.py", "#!/usr/bin/env -S PYTHONUNBUFFERED=1 python3 -u\n", script,
		   sizeof(script));
	check_command(argv, "3.11", PY_VIEW_CONDVAR);
}

static void test_command_absolute_shebang(void **state)
{
	char prefix[PATH_MAX], text[PATH_MAX + 64], script[PATH_MAX];
	char *argv[] = {script, NULL};

	need_pyenv("3.12", prefix, sizeof(prefix));
	snprintf(text, sizeof(text), "#!%s/bin/python3\nprint('hi')\n", prefix);
	write_file("abs.py", text, script, sizeof(script));
	check_command(argv, "3.12", PY_VIEW_CONDVAR);
	/* one optional argument, blanks around it */
	snprintf(text, sizeof(text), "#!  %s/bin/python3  -u \t\nprint('hi')\n", prefix);
	write_file("abs_arg.py", text, script, sizeof(script));
	check_command(argv, "3.12", PY_VIEW_CONDVAR);
}

static void test_command_nested_shebang(void **state)
{
	char prefix[PATH_MAX], text[PATH_MAX + 64], inner[PATH_MAX], outer[PATH_MAX];
	char *argv[] = {outer, NULL};

	need_pyenv("3.13", prefix, sizeof(prefix));
	snprintf(text, sizeof(text), "#!%s/bin/python3\n", prefix);
	write_file("inner.py", text, inner, sizeof(inner));
	snprintf(text, sizeof(text), "#!%s\n", inner);
	write_file("outer.py", text, outer, sizeof(outer));
	check_command(argv, "3.13", PY_VIEW_CONDVAR);
}

static void test_command_too_many_shebang_levels(void **state)
{
	char prefix[PATH_MAX], text[PATH_MAX + 64], name[32], script[PATH_MAX + 16] = "";
	char *argv[] = {script, NULL};
	struct py_target t;

	need_pyenv("3.12", prefix, sizeof(prefix));
	snprintf(script, sizeof(script), "%s/bin/python3", prefix);
	/* the kernel follows 5 levels of scripts and refuses a 6th (fs/exec.c) */
	for (int level = 1; level <= 6; level++) {
		snprintf(text, sizeof(text), "#!%s\n", script);
		snprintf(name, sizeof(name), "level%d", level);
		write_file(name, text, script, sizeof(script));
		if (level == 5)
			check_command(argv, "3.12", PY_VIEW_CONDVAR);
	}
	assert_int_equal(python_target_from_command(argv, NULL, &t, err, sizeof(err)), -ELOOP);
}

static void test_command_pyenv_shim(void **state)
{
	char prefix[PATH_MAX], shims[PATH_MAX + 8], shim[PATH_MAX + 16];
	char *argv[] = {"python3", "app.py", NULL};

	need_pyenv("3.12", prefix, sizeof(prefix));
	snprintf(shims, sizeof(shims), "%s/shims", pyenv_root());
	snprintf(shim, sizeof(shim), "%s/python3", shims);
	if (access(shim, X_OK))
		skip_because(pyenv_class(), "no pyenv shim %s", shim);
	set_path(shims);
	/* the shim is a bash script: the interpreter is whatever pyenv picks, here 3.12 */
	setenv("PYENV_VERSION", strrchr(prefix, '/') + 1, 1);
	check_command(argv, "3.12", PY_VIEW_CONDVAR);
}

static void test_command_override_names_interpreter(void **state)
{
	char prefix[PATH_MAX], python[PATH_MAX + 16];
	char *argv[] = {"/bin/true", NULL};
	struct py_target t;

	need_pyenv("3.13", prefix, sizeof(prefix));
	snprintf(python, sizeof(python), "%s/bin/python3.13", prefix);
	assert_int_equal(python_target_from_command(argv, python, &t, err, sizeof(err)), 0);
	assert_non_null(strstr(t.path, "/libpython3.13"));
	check_version(&t, "3.13");
}

static void test_command_script_without_shebang(void **state)
{
	char script[PATH_MAX];
	char *argv[] = {script, NULL};
	struct py_target t;

	write_file("plain.sh", "echo hi\n", script, sizeof(script));
	assert_int_equal(python_target_from_command(argv, NULL, &t, err, sizeof(err)), -ENOEXEC);
	assert_non_null(strstr(err, "not an ELF file"));
}

static void test_command_not_python(void **state)
{
	char *argv[] = {"sleep", "1", NULL};
	char *missing[] = {"no-such-command-gilstat", NULL};
	struct py_target t;

	setenv("PATH", "/usr/bin:/bin", 1);
	assert_int_equal(python_target_from_command(argv, NULL, &t, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "holds no CPython interpreter"));
	assert_int_equal(python_target_from_command(missing, NULL, &t, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "command not found"));
}

/* Starts argv with extra_env (NAME=VALUE or NULL) added; returns once the exec happened. */
static pid_t spawn(char *const argv[], const char *extra_env)
{
	int pipefd[2];
	char byte;
	pid_t pid;

	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (extra_env)
			putenv((char *)extra_env);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	/* EOF: the exec closed the write end */
	assert_int_equal(read(pipefd[0], &byte, 1), 0);
	close(pipefd[0]);
	spawned = pid;
	return pid;
}

static void wait_for_mapping(pid_t pid, const char *what)
{
	char path[64], line[PATH_MAX + 128];

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	for (int ms = 0; ms < START_TIMEOUT_MS; ms += 10) {
		FILE *f = fopen(path, "r");
		bool found = false;

		assert_non_null(f);
		while (!found && fgets(line, sizeof(line), f))
			found = strstr(line, what) != NULL;
		fclose(f);
		if (found)
			return;
		usleep(10000);
	}
	fail_msg("PID %d did not map %s", pid, what);
}

static void stop_spawned(void)
{
	if (spawned > 0) {
		kill(spawned, SIGKILL);
		waitpid(spawned, NULL, 0);
		spawned = -1;
	}
}

/* pyenv's CPython version, sleeping for a minute, once its libpython is mapped. */
static pid_t spawn_sleeping_pyenv(const char *version)
{
	char prefix[PATH_MAX], python[PATH_MAX + 16], lib[32];
	char *argv[] = {python, "-c", "import time; time.sleep(60)", NULL};
	pid_t pid;

	need_pyenv(version, prefix, sizeof(prefix));
	snprintf(python, sizeof(python), "%s/bin/python3", prefix);
	snprintf(lib, sizeof(lib), "libpython%s", version);
	pid = spawn(argv, NULL);
	wait_for_mapping(pid, lib);
	return pid;
}

static void test_pid_of_running_python(void **state)
{
	char lib[PATH_MAX];
	struct py_target t;
	pid_t pid;

	need_pyenv_lib("3.12", lib, sizeof(lib));
	pid = spawn_sleeping_pyenv("3.12");
	assert_int_equal(python_target_from_pid(pid, NULL, &t, err, sizeof(err)), 0);
	check_same_file(t.path, lib);
	check_version(&t, "3.12");
	assert_int_equal(t.view, PY_VIEW_CONDVAR);
	assert_probe(&t.acquire[0], lib, "take_gil", false);
	stop_spawned();
}

static void test_pid_of_stripped_python(void **state)
{
	char *argv[] = {DEBIAN_PYTHON, "-c", "import time; time.sleep(60)", NULL};
	struct py_target t;
	pid_t pid;

	need_debian_python();
	pid = spawn(argv, NULL);
	/* the condition-variable view needs the libc the loader maps after the exec */
	wait_for_mapping(pid, "libc.so.6");
	assert_int_equal(python_target_from_pid(pid, NULL, &t, err, sizeof(err)), 0);
	assert_string_equal(t.path, DEBIAN_PYTHON);
	assert_int_equal(t.view, PY_VIEW_CONDVAR);
	stop_spawned();
}

static void test_pid_of_non_python(void **state)
{
	char *argv[] = {"/bin/sleep", "60", NULL};
	struct py_target t;
	char expect[128];
	pid_t pid;

	pid = spawn(argv, NULL);
	assert_int_equal(python_target_from_pid(pid, NULL, &t, err, sizeof(err)), -ENOENT);
	snprintf(expect, sizeof(expect), "no CPython interpreter found in PID %d", pid);
	assert_non_null(strstr(err, expect));
	stop_spawned();
}

static void test_pid_gone(void **state)
{
	char *argv[] = {"/bin/true", NULL};
	struct py_target t;
	pid_t pid;

	pid = spawn(argv, NULL);
	stop_spawned();
	assert_int_equal(python_target_from_pid(pid, NULL, &t, err, sizeof(err)), -ESRCH);
	assert_non_null(strstr(err, "no process with PID"));
}

static void test_pid_override_must_be_mapped(void **state)
{
	char other[PATH_MAX];
	struct py_target t;
	pid_t pid;

	need_pyenv_lib("3.9", other, sizeof(other));
	pid = spawn_sleeping_pyenv("3.12");
	assert_int_equal(python_target_from_pid(pid, other, &t, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "is not mapped in PID"));
	stop_spawned();
}

static void need_fake_python(char *path, size_t len)
{
	/* room for "/fake_python" in path */
	char self[PATH_MAX - 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	assert_true(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(path, len, "%s/fake_python", self);
	if (access(path, X_OK))
		skip_because(SHOULD_HAVE_RUN, "%s is not built (make tests)", path);
}

static void test_free_threaded_runs_without_gil(void **state)
{
	char fake[PATH_MAX];
	char *argv[] = {fake, NULL};
	char *gil_on[] = {fake, "-X", "gil=1", "app.py", NULL};
	struct py_target t;

	need_fake_python(fake, sizeof(fake));
	unsetenv("PYTHON_GIL");
	assert_int_equal(python_target_from_command(argv, NULL, &t, err, sizeof(err)), 0);
	assert_true(t.free_threaded);
	check_version(&t, "3.13");
	assert_int_equal(t.view, PY_VIEW_NOGIL);
	/* the probes are there all the same, should the GIL come back */
	assert_int_equal(t.nr_acquire, 1);
	assert_int_equal(t.nr_forced, 1);

	setenv("PYTHON_GIL", "1", 1);
	assert_int_equal(python_target_from_command(argv, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.view, PY_VIEW_GIL);
	unsetenv("PYTHON_GIL");
	assert_int_equal(python_target_from_command(gil_on, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.view, PY_VIEW_GIL);
}

static void test_free_threaded_pid_reads_its_environment(void **state)
{
	char fake[PATH_MAX];
	char *argv[] = {fake, "60", NULL};
	struct py_target t;
	pid_t pid;

	need_fake_python(fake, sizeof(fake));
	unsetenv("PYTHON_GIL");
	pid = spawn(argv, "PYTHON_GIL=1");
	assert_int_equal(python_target_from_pid(pid, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.view, PY_VIEW_GIL);
	stop_spawned();

	pid = spawn(argv, "PYTHON_GIL=0");
	assert_int_equal(python_target_from_pid(pid, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.view, PY_VIEW_NOGIL);
	stop_spawned();
}

/* A stripped free-threaded build says what it is in _Py_DebugOffsets only. */
static void test_free_threaded_from_debug_offsets(void **state)
{
	char fake[PATH_MAX];
	char *argv[] = {fake, NULL};
	struct py_target t;

	need_fake_python(fake, sizeof(fake));
	strcat(fake, "_ft");
	if (access(fake, X_OK))
		skip_because("%s is not built (make tests)", fake);
	assert_int_equal(python_target_from_file(fake, &t, err, sizeof(err)), 0);
	assert_true(t.free_threaded);
	check_version(&t, "3.14");
	unsetenv("PYTHON_GIL");
	assert_int_equal(python_target_from_command(argv, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.view, PY_VIEW_NOGIL);
	/* with its GIL on, the GIL's struct starts with the int enabled */
	setenv("PYTHON_GIL", "1", 1);
	assert_int_equal(python_target_from_command(argv, NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.view, PY_VIEW_CONDVAR);
	assert_int_equal(t.cond_offset, PY_GIL_COND_OFFSET_FT);
}

static void test_c_api_with_inlined_drop_gil_is_probed(void **state)
{
	char fake[PATH_MAX];
	struct py_target t;

	need_fake_python(fake, sizeof(fake));
	assert_int_equal(python_target_from_file(fake, &t, err, sizeof(err)), 0);
	assert_int_equal(t.view, PY_VIEW_GIL);
	/* PyEval_SaveThread and PyEval_RestoreThread still reach drop_gil and take_gil */
	assert_int_equal(t.nr_acquire, 1);
	assert_probe(&t.acquire[0], fake, "take_gil", false);
	assert_int_equal(t.nr_release, 2);
	assert_probe(&t.release[0], fake, "drop_gil", false);
	assert_probe(&t.release[1], fake, "PyEval_ReleaseThread", false);
}

static void test_gil_setting_precedence(void **state)
{
	char *plain[] = {"python3.13t", "app.py", NULL};
	char *x_on[] = {"python3.13t", "-X", "gil=1", "app.py", NULL};
	char *x_on_joined[] = {"python3.13t", "-u", "-Xgil=1", NULL};
	char *x_off[] = {"python3.13t", "-X", "gil=0", NULL};
	char *after_script[] = {"python3.13t", "app.py", "-X", "gil=1", NULL};
	char *after_c[] = {"python3.13t", "-c", "pass", "-X", "gil=1", NULL};

	assert_true(python_gil_disabled(NULL, plain));
	assert_true(python_gil_disabled("0", plain));
	assert_false(python_gil_disabled("1", plain));
	assert_false(python_gil_disabled(NULL, x_on));
	assert_false(python_gil_disabled(NULL, x_on_joined));
	/* the command line wins over the environment */
	assert_true(python_gil_disabled("1", x_off));
	assert_false(python_gil_disabled("0", x_on));
	/* arguments of the script are not the interpreter's */
	assert_true(python_gil_disabled(NULL, after_script));
	assert_true(python_gil_disabled(NULL, after_c));
}

/*
 * The frame layout from _Py_DebugOffsets, found by what CPython's structs make true and not by
 * index: sid's 3.15.2, as its _PyRuntime starts (the cookie as 0), read and then doctored.
 */
static const __u64 debug_offsets_3_15[] = {
	0, 51315440, 0, 346568, 912, 936, 226240, 7272, 7264, 7336, 7352, 7400, 7592, 7576, 7584,
	16, 7736, 0, 7752, 7744, 7944, 0, 888, 0, 8, 16, 72, 80, 88, 96, 176, 184, 256, 32, 36,
	40, 136, 288, 0, 88, 8, 0, 56, 80, 74, 64, 0, 216, 112, 120, 128, 136, 68, 52, 96, 104,
	208, 0, 16, 8, 424, 24, 88, 168, 32, 288, 944, 888, 40, 32, 16, 40, 24, 16, 200, 24, 40,
	32, 48, 32, 40, 24, 16, 32, 16, 24, 40, 16, 32, 64, 32, 16, 40, 56, 176, 112, 120, 1120,
	104, 160, 24, 72, 67, 0, 8, 24, 344, 8028, 0, 4, 512,
};

static void test_frame_layout_from_debug_offsets(void **state)
{
	__u64 dbg[sizeof(debug_offsets_3_15) / sizeof(__u64)];
	const int len = sizeof(dbg) / sizeof(dbg[0]);
	struct py_layout l;

	memcpy(dbg, debug_offsets_3_15, sizeof(dbg));
	assert_int_equal(pygil_layout_from_debug(dbg, len, &l, err, sizeof(err)), 0);
	assert_int_equal(l.frames.tstate_frame, 72);
	assert_int_equal(l.frames.frame_back, 8);
	assert_int_equal(l.frames.frame_code, 0);
	assert_int_equal(l.code.filename, 112);
	assert_int_equal(l.code.name, 120);
	assert_int_equal(l.code.qualname, 128);
	assert_int_equal(l.code.firstlineno, 68);
	assert_int_equal(l.code.str_state, 32);
	assert_int_equal(l.code.ascii_data, 40);
	/* a thread state whose next is not where CPython's is: refused, not misread */
	dbg[24] = 12;
	assert_int_equal(pygil_layout_from_debug(dbg, len, &l, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "thread state"));
	/* a second section that looks like the code object's: ambiguous, refused */
	memcpy(dbg, debug_offsets_3_15, sizeof(dbg));
	memcpy(dbg + 60, dbg + 47, 6 * sizeof(__u64));
	assert_int_equal(pygil_layout_from_debug(dbg, len, &l, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "code object"));
	/* cut before the strings' section */
	assert_int_equal(pygil_layout_from_debug(debug_offsets_3_15, 80, &l, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "string"));
}

static int restore_env(void **state)
{
	stop_spawned();
	setenv("PATH", saved_path, 1);
	unsetenv("PYENV_VERSION");
	unsetenv("PYTHON_GIL");
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int group_setup(void **state)
{
	const char *path = getenv("PATH");

	saved_path = strdup(path ? path : "/usr/bin:/bin");
	return saved_path && mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	free(saved_path);
	return nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#define TEST(f) cmocka_unit_test_teardown(f, restore_env)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_gil_view_3_9),
		TEST(test_gil_view_3_11),
		TEST(test_gil_view_3_12),
		TEST(test_gil_view_3_13),
		TEST(test_gil_view_takes_every_clone),
		TEST(test_threadstate_view_of_stripped_build),
		TEST(test_python2_is_refused),
		TEST(test_non_elf_file_is_refused),
		TEST(test_elf_without_python_is_refused),
		TEST(test_command_through_path),
		TEST(test_command_debian_python3),
		TEST(test_command_env_shebang),
		TEST(test_command_env_split_shebang),
		TEST(test_command_absolute_shebang),
		TEST(test_command_nested_shebang),
		TEST(test_command_too_many_shebang_levels),
		TEST(test_command_pyenv_shim),
		TEST(test_command_override_names_interpreter),
		TEST(test_command_script_without_shebang),
		TEST(test_command_not_python),
		TEST(test_pid_of_running_python),
		TEST(test_pid_of_stripped_python),
		TEST(test_pid_of_non_python),
		TEST(test_pid_gone),
		TEST(test_pid_override_must_be_mapped),
		TEST(test_free_threaded_runs_without_gil),
		TEST(test_free_threaded_pid_reads_its_environment),
		TEST(test_free_threaded_from_debug_offsets),
		TEST(test_c_api_with_inlined_drop_gil_is_probed),
		TEST(test_gil_setting_precedence),
		TEST(test_frame_layout_from_debug_offsets),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
