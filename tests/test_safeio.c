// SPDX-License-Identifier: GPL-2.0
/*
 * Files other users plant for gilstat, which runs as root, read through userspace/safeio.c and the
 * modules that use it: a FIFO, a device behind a symlink, a file truncated while it is parsed, a
 * sparse huge file, a call graph built to make the walk long, a symlink out of a process's root,
 * an empty cmdline and escape codes in names. Each test ends (alarm) rather than hang.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gelf.h>
#include <libelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "debuginfo.h"
#include "elffile.h"
#include "procfs.h"
#include "python.h"
#include "safeio.h"
#include "target.h"
#include "skip.h"

/* far beyond what any of these takes with the bounds in place, far below the time without */
#define HANG_SEC 60

static char tmp_dir[] = "/tmp/test_safeio.XXXXXX";
static char err[PATH_MAX + 256];

static void tmp_path(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", tmp_dir, name);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, n), n);
	close(in);
	close(out);
}

/* A library built from src with gcc into tmp_dir/name; a skip without gcc. */
static void build_lib(const char *name, const char *src, char *out, size_t len)
{
	char c_path[PATH_MAX + 8], cmd[3 * PATH_MAX];
	FILE *f;

	tmp_path(name, out, len);
	snprintf(c_path, sizeof(c_path), "%s.c", out);
	f = fopen(c_path, "w");
	assert_non_null(f);
	fputs(src, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "gcc -shared -fPIC -O1 -o %s %s 2>/dev/null", out, c_path);
	if (system(cmd))
		skip_because(SHOULD_HAVE_RUN, "gcc cannot build %s", c_path);
}

static void test_a_fifo_is_refused_at_once(void **state)
{
	char fifo[PATH_MAX];
	struct elf_file ef;

	tmp_path("fifo", fifo, sizeof(fifo));
	assert_int_equal(mkfifo(fifo, 0666), 0);
	alarm(HANG_SEC);
	assert_int_equal(safeio_open(fifo, 0, NULL, NULL), -EINVAL);
	assert_true(elf_file_open(&ef, fifo) < 0);
	assert_true(target_has_gil_probes(fifo) < 0);
	alarm(0);
}

/* A process whose executable was deleted, and a FIFO planted at "<exe> (deleted)". */
static void test_a_fifo_at_a_deleted_executable(void **state)
{
	char exe[PATH_MAX], fifo[PATH_MAX + 16], link[64], now[PATH_MAX + 16], found[PATH_MAX];
	char *argv[] = {exe, "60", NULL};
	ssize_t n = -1;
	pid_t pid;

	tmp_path("sleeper", exe, sizeof(exe));
	copy_file("/bin/sleep", exe);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execv(exe, argv);
		_exit(127);
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	/* until the exec is done: /proc/PID/exe names the copy */
	for (int i = 0; i < 10000; i++) {
		n = readlink(link, now, sizeof(now) - 1);
		if (n > 0 && (now[n] = '\0', !strcmp(now, exe)))
			break;
		usleep(1000);
	}
	assert_string_equal(now, exe);
	assert_int_equal(unlink(exe), 0);
	snprintf(fifo, sizeof(fifo), "%s (deleted)", exe);
	assert_int_equal(mkfifo(fifo, 0666), 0);
	alarm(HANG_SEC);
	assert_true(target_find_probes_in_pid(pid, found, sizeof(found), err, sizeof(err)) < 0);
	alarm(0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_a_device_behind_a_symlink_is_refused(void **state)
{
	char link[PATH_MAX];
	struct elf_file ef;

	tmp_path("zero", link, sizeof(link));
	assert_int_equal(symlink("/dev/zero", link), 0);
	assert_int_equal(safeio_open(link, 0, NULL, NULL), -EINVAL);
	assert_int_equal(safeio_open(link, SAFEIO_NOFOLLOW, NULL, NULL), -ELOOP);
	assert_true(elf_file_open(&ef, link) < 0);
}

static void test_the_identity_is_checked(void **state)
{
	struct safeio_id other = {.ino = 1};
	struct stat st;
	int fd;

	fd = safeio_open("/proc/self/exe", 0, NULL, &st);
	assert_true(fd >= 0);
	close(fd);
	fd = safeio_open("/proc/self/exe", 0, &(struct safeio_id){st.st_dev, st.st_ino}, NULL);
	assert_true(fd >= 0);
	close(fd);
	other.dev = st.st_dev;
	assert_int_equal(safeio_open("/proc/self/exe", 0, &other, NULL), -ESTALE);
	other = (struct safeio_id){.dev = st.st_dev + 1, .ino = st.st_ino};
	assert_int_equal(safeio_open("/proc/self/exe", 0, &other, NULL), -ESTALE);
}

/* Every byte of every section's data, as a parser would touch them. */
static unsigned long touch_sections(Elf *elf)
{
	unsigned long sum = 0;
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data = elf_getdata(scn, NULL);

		for (size_t i = 0; data && data->d_buf && i < data->d_size; i++)
			sum += ((unsigned char *)data->d_buf)[i];
	}
	return sum;
}

/* A file cut while it is parsed: read errors, no SIGBUS (which ends this test program). */
static void test_a_file_truncated_during_the_parse(void **state)
{
	char copy[PATH_MAX];
	struct elf_file ef;

	tmp_path("truncated", copy, sizeof(copy));
	copy_file("/proc/self/exe", copy);
	assert_int_equal(elf_file_open(&ef, copy), 0);
	assert_int_equal(truncate(copy, 64), 0);
	touch_sections(ef.elf);
	elf_file_close(&ef);
}

static void test_a_sparse_huge_file_is_refused(void **state)
{
	char sparse[PATH_MAX];
	struct py_target t;
	int fd;

	tmp_path("sparse", sparse, sizeof(sparse));
	copy_file("/proc/self/exe", sparse);
	assert_int_equal(truncate(sparse, 4ll << 30), 0);
	assert_int_equal(safeio_open(sparse, 0, NULL, NULL), -EFBIG);
	assert_true(python_target_from_file(sparse, &t, err, sizeof(err)) < 0);
	fd = open(sparse, O_RDONLY);
	assert_null(safeio_elf_begin(fd));
	assert_null(safeio_pread_alloc(fd, (size_t)SAFEIO_MAX_READ_BYTES + 1, 0));
	close(fd);
}

/* Sets the size of the symbol name in path's .symtab, the file's layout unchanged. */
static void set_symbol_size(const char *path, const char *name, GElf_Xword size)
{
	int fd = open(path, O_RDWR);
	Elf_Scn *scn = NULL;
	bool done = false;
	Elf *elf;

	assert_true(fd >= 0 && elf_version(EV_CURRENT) != EV_NONE);
	elf = elf_begin(fd, ELF_C_RDWR, NULL);
	assert_non_null(elf);
	elf_flagelf(elf, ELF_C_SET, ELF_F_LAYOUT);
	while (!done && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_SYMTAB)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; !done && i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Sym sym;
			const char *n;

			if (!gelf_getsym(data, i, &sym) ||
			    !(n = elf_strptr(elf, shdr.sh_link, sym.st_name)) || strcmp(n, name))
				continue;
			sym.st_size = size;
			assert_true(gelf_update_sym(data, i, &sym));
			elf_flagdata(data, ELF_C_SET, ELF_F_DIRTY);
			done = true;
		}
	}
	assert_true(done);
	assert_true(elf_update(elf, ELF_C_WRITE) >= 0);
	elf_end(elf);
	close(fd);
}

static const char gil_src[] =
	"static volatile int gil;\n"
	"__attribute__((noinline, used)) static void take_gil(void) { gil = 1; }\n"
	"__attribute__((noinline, used)) static void drop_gil(void) { gil = 0; }\n"
	"void PyEval_RestoreThread(void) { take_gil(); }\n";

/*
 * A handler symbol (the eval breaker's function) whose size says 600 MiB, in a sparse file: it is
 * not read whole. The size of a child that parses it shows what it read.
 */
static void test_a_huge_handler_symbol_is_not_read(void **state)
{
	char src[1024], lib[PATH_MAX];
	struct rusage ru;
	int status;
	pid_t pid;

#ifndef __x86_64__
	skip_because(CANNOT_HERE, "the eval breaker's calls are looked for on x86-64 only");
#endif
	snprintf(src, sizeof(src),
		 "%s__attribute__((noinline, used)) static void _PyEval_EvalFrameDefault(void) "
		 "{ drop_gil(); take_gil(); }\n"
		 "void PyEval_SaveThread(void) { drop_gil(); }\n",
		 gil_src);
	build_lib("handler.so", src, lib, sizeof(lib));
	set_symbol_size(lib, "_PyEval_EvalFrameDefault", 600ull << 20);
	assert_int_equal(truncate(lib, 800ll << 20), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct py_target t;

		alarm(HANG_SEC);
		_exit(python_target_from_file(lib, &t, err, sizeof(err)) || t.view != PY_VIEW_GIL);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(getrusage(RUSAGE_CHILDREN, &ru), 0);
	/* KiB: what gilstat needs is a few MiB; reading the handler whole takes 600 */
	assert_true(ru.ru_maxrss < 200 * 1024);
}

/*
 * PyEval_SaveThread calls B 2000 times, B calls C 2000 times, C calls D 2000 times, and none of
 * them reaches drop_gil: a walk that reads each callee at each call reads C four million times.
 */
static void test_a_deep_call_graph_is_walked_once(void **state)
{
	size_t len = 1 << 20, n = 0;
	char *src = malloc(len), lib[PATH_MAX];
	const char *names[] = {"D", "C", "B", "PyEval_SaveThread"};
	struct py_target t;

#ifndef __x86_64__
	skip_because(CANNOT_HERE, "the walk reads x86-64 calls only");
#endif
	assert_non_null(src);
	n += snprintf(src + n, len - n,
		      "%s__attribute__((noinline, used)) static void D(void) "
		      "{ __asm__ volatile(\"\"); }\n",
		      gil_src);
	for (int f = 1; f < 4; f++) {
		n += snprintf(src + n, len - n, "%s void %s(void) {\n",
			      f < 3 ? "__attribute__((noinline, used)) static" : "", names[f]);
		for (int i = 0; i < 2000; i++)
			n += snprintf(src + n, len - n, "%s();\n", names[f - 1]);
		n += snprintf(src + n, len - n, "}\n");
	}
	build_lib("deep.so", src, lib, sizeof(lib));
	free(src);
	alarm(HANG_SEC);
	assert_int_equal(python_target_from_file(lib, &t, err, sizeof(err)), 0);
	alarm(0);
	assert_int_equal(t.view, PY_VIEW_GIL);
	/* PyEval_SaveThread reaches no drop_gil: it is a probe point of its own */
	assert_int_equal(t.nr_release, 2);
	assert_string_equal(t.release[1].name, "PyEval_SaveThread");
	/* PyEval_RestoreThread calls take_gil */
	assert_int_equal(t.nr_acquire, 1);
}

/* A process that became a zombie has an empty cmdline: no argv[1] is read after the NULL. */
static void test_an_empty_cmdline(void **state)
{
	char *empty[] = {NULL, "-X", "gil=1", NULL};

	assert_true(python_gil_disabled(NULL, empty));
	assert_false(python_gil_disabled("1", empty));
}

/* A child in a root of its own (tmp_dir/root), where lib.so is a symlink to a file outside. */
static pid_t spawn_chrooted(const char *root)
{
	int ready[2];
	pid_t pid;
	char c;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		/* gone by itself should the test fail before it kills it */
		alarm(HANG_SEC);
		if (chroot(root) || chdir("/"))
			_exit(1);
		c = 1;
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	return pid;
}

static void test_a_symlink_out_of_the_root(void **state)
{
	char root[PATH_MAX], outside[PATH_MAX], link[PATH_MAX + 16], rooted[PATH_MAX + 64],
		out[PATH_MAX];
	struct safeio_id id;
	struct debuginfo di;
	struct stat st;
	pid_t pid;

	if (geteuid())
		skip_because(CANNOT_HERE, "a root of its own needs chroot(), which needs root");
	tmp_path("root", root, sizeof(root));
	tmp_path("outside.so", outside, sizeof(outside));
	assert_int_equal(mkdir(root, 0755), 0);
	copy_file("/proc/self/exe", outside);
	snprintf(link, sizeof(link), "%s/lib.so", root);
	/* absolute: inside the root it names nothing, from the host the file outside */
	assert_int_equal(symlink(outside, link), 0);
	assert_int_equal(stat(outside, &st), 0);
	id = (struct safeio_id){.dev = st.st_dev, .ino = st.st_ino};
	pid = spawn_chrooted(root);
	snprintf(rooted, sizeof(rooted), "/proc/%d/root/lib.so", pid);
	assert_int_equal(safeio_open(rooted, 0, NULL, NULL), -ENOENT);
	assert_true(debuginfo_open(rooted, NULL, &di, err, sizeof(err)) < 0);
	proc_reachable_path(pid, "/lib.so", &id, "fallback", out, sizeof(out));
	assert_string_equal(out, "fallback");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_names_are_escaped(void **state)
{
	char out[256];

	safeio_escape("\x1b]0;owned\x07tab\there\\", out, sizeof(out));
	assert_string_equal(out, "\\x1b]0;owned\\x07tab\\x09here\\x5c");
	/* UTF-8 stays, but not C1 controls (CSI is U+009B) nor bytes that are no UTF-8 */
	safeio_escape("caf\xc3\xa9 \xc2\x9b[2J \xff", out, sizeof(out));
	assert_string_equal(out, "caf\xc3\xa9 \\xc2\\x9b[2J \\xff");
	/* cut at a whole escape, never in the middle of one */
	safeio_escape("\x1b\x1b", out, 6);
	assert_string_equal(out, "\\x1b");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	return mkdtemp(tmp_dir) ? 0 : -1;
}

static int teardown(void **state)
{
	nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_fifo_is_refused_at_once),
		cmocka_unit_test(test_a_fifo_at_a_deleted_executable),
		cmocka_unit_test(test_a_device_behind_a_symlink_is_refused),
		cmocka_unit_test(test_the_identity_is_checked),
		cmocka_unit_test(test_a_file_truncated_during_the_parse),
		cmocka_unit_test(test_a_sparse_huge_file_is_refused),
		cmocka_unit_test(test_a_huge_handler_symbol_is_not_read),
		cmocka_unit_test(test_a_deep_call_graph_is_walked_once),
		cmocka_unit_test(test_an_empty_cmdline),
		cmocka_unit_test(test_a_symlink_out_of_the_root),
		cmocka_unit_test(test_names_are_escaped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
