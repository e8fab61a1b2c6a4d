// SPDX-License-Identifier: GPL-2.0
/*
 * userspace/debuginfo.c on ELF files built for the test (tests/debuginfo/make-fixtures.sh): a
 * small library whose take_gil/drop_gil are local functions, stripped, with its debug file in
 * each place the lookup searches, and debug files that must be refused (another build, a wrong
 * CRC32, truncated, corrupt xz, garbage from debuginfod). debuginfod is reached through file://
 * URLs, and a server that never answers is a listening socket on 127.0.0.1 that accepts nothing.
 * Symbol addresses are compared with the unstripped library's own .symtab. Then python.c on a
 * stripped copy of pyenv's libpython (skipped without one): each debug file must give it the very
 * probes of the unstripped build.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "debuginfo.h"
#include "python.h"

#define MAX_WARNINGS 8

static char fixtures[] = "/tmp/test_debuginfo.XXXXXX";
static bool have_fixtures;
static char build_id[64];
static char err[2 * PATH_MAX];
static char warnings[MAX_WARNINGS][PATH_MAX + 256];
static int nr_warnings;
static int cache_nr;
/* a libpython with its symbols, and the file name of its stripped copies under py/ */
static char libpython[PATH_MAX];
static const char *libpython_name;

static void collect_warning(void *ctx, const char *line)
{
	if (nr_warnings < MAX_WARNINGS)
		snprintf(warnings[nr_warnings], sizeof(warnings[0]), "%s", line);
	nr_warnings++;
}

static const char *fx(const char *rel)
{
	static char paths[4][PATH_MAX];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", fixtures, rel);
	return p;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/*
 * The class of a skip for want of a pyenv build, as tests/run.sh reads it: a machine with pyenv
 * should have every build the tests use, one without pyenv cannot run them.
 */
static const char *pyenv_skip_class(void)
{
	const char *pyenv = getenv("PYENV_ROOT");
	char versions[PATH_MAX];
	struct stat st;

	snprintf(versions, sizeof(versions), "%s/versions", pyenv ? pyenv : "/root/.pyenv");
	return !stat(versions, &st) && S_ISDIR(st.st_mode) ? "should have run" : "cannot here";
}

static int group_setup(void **state)
{
	char cmd[3 * PATH_MAX], script[PATH_MAX];
	const char *slash = strrchr(__FILE__, '/');
	FILE *f;

	const char *pyenv = getenv("PYENV_ROOT");
	char pattern[PATH_MAX];
	glob_t g;

	if (!mkdtemp(fixtures))
		return -1;
	snprintf(pattern, sizeof(pattern), "%s/versions/3.12.*/lib/libpython3.12.so.1.0",
		 pyenv ? pyenv : "/root/.pyenv");
	if (!glob(pattern, 0, NULL, &g) && g.gl_pathc) {
		snprintf(libpython, sizeof(libpython), "%s", g.gl_pathv[g.gl_pathc - 1]);
		libpython_name = strrchr(libpython, '/') + 1;
	}
	globfree(&g);
	/* tests/run.sh runs the tests from the top of the tree, where __FILE__ is relative to */
	snprintf(script, sizeof(script), "%.*s/debuginfo/make-fixtures.sh",
		 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
	snprintf(cmd, sizeof(cmd), "bash %s %s %s >%s/make.log 2>&1", script, fixtures, libpython,
		 fixtures);
	have_fixtures = system(cmd) == 0;
	if (!have_fixtures)
		return 0;
	f = fopen(fx("build-id"), "r");
	if (!f || !fgets(build_id, sizeof(build_id), f))
		have_fixtures = false;
	if (f)
		fclose(f);
	build_id[strcspn(build_id, "\n")] = '\0';
	return 0;
}

static int group_teardown(void **state)
{
	nftw(fixtures, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Each test: no warnings yet, no debuginfod unless it sets one up, a cache of its own. */
static int setup(void **state)
{
	char cache[PATH_MAX];

	nr_warnings = 0;
	err[0] = '\0';
	unsetenv("DEBUGINFOD_URLS");
	unsetenv("DEBUGINFOD_TIMEOUT");
	snprintf(cache, sizeof(cache), "%s/cache-%d", fixtures, cache_nr++);
	setenv("DEBUGINFOD_CACHE_PATH", cache, 1);
	if (!have_fixtures) {
		print_message("# SKIP cannot build the fixtures (gcc, objcopy, strip, nm, xz): "
			      "see %s/make.log\n",
			      fixtures);
		skip();
	}
	return 0;
}

static struct debuginfo_opts opts_with(const char *debug_root, bool no_debuginfod)
{
	return (struct debuginfo_opts){
		.debug_root = debug_root ? fx(debug_root) : fx("no-such-root"),
		.no_debuginfod = no_debuginfod,
		.warn = collect_warning,
	};
}

/* The value of a symbol in elf's .symtab, 0 if absent. */
static GElf_Addr symbol_value(Elf *elf, const char *want)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr shdr;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_SYMTAB ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; i++) {
			const char *name;
			GElf_Sym sym;

			if (gelf_getsym(data, i, &sym) &&
			    (name = elf_strptr(elf, shdr.sh_link, sym.st_name)) &&
			    !strcmp(name, want))
				return sym.st_value;
		}
	}
	return 0;
}

/* take_gil and drop_gil in di at the addresses the unstripped library gives them. */
static void assert_symbols_of_libfix(struct debuginfo *di)
{
	struct debuginfo full;
	struct debuginfo_opts opts = opts_with(NULL, true);

	assert_int_equal(debuginfo_open(fx("libfix.so"), &opts, &full, err, sizeof(err)), 0);
	assert_int_equal(full.kind, DEBUGINFO_SELF);
	assert_true(symbol_value(full.elf, "take_gil") != 0);
	assert_int_equal(symbol_value(di->elf, "take_gil"), symbol_value(full.elf, "take_gil"));
	assert_int_equal(symbol_value(di->elf, "drop_gil"), symbol_value(full.elf, "drop_gil"));
	debuginfo_close(&full);
}

static void test_own_symtab(void **state)
{
	struct debuginfo_opts opts = opts_with("root-good", true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("libfix.so"), &opts, &di, err, sizeof(err)), 0);
	assert_int_equal(di.kind, DEBUGINFO_SELF);
	assert_string_equal(di.source, "the file itself");
	assert_int_equal(nr_warnings, 0);
	debuginfo_close(&di);
}

static void test_build_id_tree(void **state)
{
	struct debuginfo_opts opts = opts_with("root-good", true);
	char want[PATH_MAX];
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("stripped/libfix.so"), &opts, &di, err, sizeof(err)), 0);
	assert_int_equal(di.kind, DEBUGINFO_BUILD_ID);
	snprintf(want, sizeof(want), "%s/root-good/.build-id/%.2s/%s.debug", fixtures, build_id,
		 build_id + 2);
	assert_string_equal(di.source, want);
	assert_symbols_of_libfix(&di);
	assert_int_equal(nr_warnings, 0);
	debuginfo_close(&di);
}

static void test_build_id_comes_before_debuglink(void **state)
{
	struct debuginfo_opts opts = opts_with("root-good", true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("link-beside/libfix.so"), &opts, &di, err, sizeof(err)),
			 0);
	assert_int_equal(di.kind, DEBUGINFO_BUILD_ID);
	debuginfo_close(&di);
}

static void test_other_build_id_is_refused(void **state)
{
	struct debuginfo_opts opts = opts_with("root-other", true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("stripped/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(nr_warnings, 1);
	assert_non_null(strstr(warnings[0], "build-id"));
	assert_non_null(strstr(warnings[0], build_id));
	assert_null(strchr(warnings[0], '\n'));
	assert_non_null(strstr(err, "refused"));
	assert_null(di.elf);
}

static void test_other_build_id_then_debuglink(void **state)
{
	struct debuginfo_opts opts = opts_with("root-other", true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("link-beside/libfix.so"), &opts, &di, err, sizeof(err)),
			 0);
	assert_int_equal(nr_warnings, 1);
	assert_int_equal(di.kind, DEBUGINFO_DEBUGLINK);
	assert_symbols_of_libfix(&di);
	debuginfo_close(&di);
}

static void test_truncated_debug_file_is_refused(void **state)
{
	struct debuginfo_opts opts = opts_with("root-truncated", true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("stripped/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(nr_warnings, 1);
	assert_non_null(strstr(warnings[0], "truncated or corrupt"));
}

static void test_debuglink_places(void **state)
{
	static const struct {
		const char *file, *root, *debug;
	} cases[] = {
		{"link-beside/libfix.so", NULL, "link-beside/libfix.debug"},
		{"link-dotdebug/libfix.so", NULL, "link-dotdebug/.debug/libfix.debug"},
		{"link-root/libfix.so", "root-link", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct debuginfo_opts opts = opts_with(cases[i].root, true);
		char want[2 * PATH_MAX];
		struct debuginfo di;

		if (cases[i].debug)
			snprintf(want, sizeof(want), ".gnu_debuglink %s/%s", fixtures,
				 cases[i].debug);
		else
			snprintf(want, sizeof(want),
				 ".gnu_debuglink %s/root-link%s/link-root/"
				 "libfix.debug",
				 fixtures, fixtures);
		assert_int_equal(debuginfo_open(fx(cases[i].file), &opts, &di, err, sizeof(err)),
				 0);
		assert_int_equal(di.kind, DEBUGINFO_DEBUGLINK);
		assert_string_equal(di.source, want);
		assert_symbols_of_libfix(&di);
		debuginfo_close(&di);
	}
	assert_int_equal(nr_warnings, 0);
}

static void test_debuglink_crc_mismatch_is_refused(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("link-crc/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(nr_warnings, 1);
	assert_non_null(strstr(warnings[0], "CRC32"));
}

static void test_debuglink_other_build_id_is_refused(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("link-otherid/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(nr_warnings, 1);
	assert_non_null(strstr(warnings[0], "build-id"));
}

/*
 * What the file's owner may put beside it under the debug link's name: /dev/zero, a FIFO, or a
 * symlink to a debug file elsewhere (which root could read and the owner not). None is read.
 */
static void test_debuglink_to_a_device_fifo_or_symlink_is_refused(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, true);
	char dir[PATH_MAX], cmd[3 * PATH_MAX], link[PATH_MAX + 32], lib[PATH_MAX + 32];
	struct debuginfo di;

	for (int kind = 0; kind < 3; kind++) {
		snprintf(dir, sizeof(dir), "%s/hostile-%d", fixtures, kind);
		snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s %s/", dir, fx("link-beside/libfix.so"),
			 dir);
		assert_int_equal(system(cmd), 0);
		snprintf(lib, sizeof(lib), "%s/libfix.so", dir);
		snprintf(link, sizeof(link), "%s/libfix.debug", dir);
		if (kind == 0)
			assert_int_equal(symlink("/dev/zero", link), 0);
		else if (kind == 1)
			assert_int_equal(mkfifo(link, 0666), 0);
		else
			assert_int_equal(symlink(fx("libfix.debug"), link), 0);
		/* before: hashing /dev/zero for ever, or blocked in the FIFO's open */
		alarm(60);
		assert_int_equal(debuginfo_open(lib, &opts, &di, err, sizeof(err)), -ENOENT);
		alarm(0);
	}
}

static void test_minidebuginfo(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("mini/libfix.so"), &opts, &di, err, sizeof(err)), 0);
	assert_int_equal(di.kind, DEBUGINFO_MINIDEBUGINFO);
	assert_non_null(strstr(di.source, "MiniDebugInfo"));
	assert_symbols_of_libfix(&di);
	assert_int_equal(nr_warnings, 0);
	debuginfo_close(&di);
}

static void test_corrupt_minidebuginfo_is_refused(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("mini-bad/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(nr_warnings, 1);
	assert_non_null(strstr(warnings[0], "xz"));
}

static void test_nothing_found_says_where_it_looked(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("stripped/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(nr_warnings, 0);
	assert_non_null(strstr(err, "no .symtab"));
	assert_non_null(strstr(err, "/.build-id/"));
	assert_non_null(strstr(err, "no .gnu_debuglink"));
	assert_non_null(strstr(err, "no .gnu_debugdata"));
	assert_non_null(strstr(err, "--no-debuginfod"));
	assert_null(strchr(err, '\n'));

	opts.no_debuginfod = false;
	assert_int_equal(debuginfo_open(fx("stripped/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "DEBUGINFOD_URLS is empty"));
}

static void test_not_elf(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, true);
	struct debuginfo di;

	assert_int_equal(debuginfo_open(fx("fix.c"), &opts, &di, err, sizeof(err)), -ENOEXEC);
	assert_int_equal(debuginfo_open(fx("no-such-file"), &opts, &di, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot read"));
}

static void set_server(const char *dir)
{
	char url[PATH_MAX + 16];

	snprintf(url, sizeof(url), "file://%s", fx(dir));
	setenv("DEBUGINFOD_URLS", url, 1);
}

static void test_debuginfod(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, false);
	struct debuginfo di;

	set_server("srv-good");
	assert_int_equal(debuginfo_open(fx("stripped/libfix.so"), &opts, &di, err, sizeof(err)), 0);
	assert_int_equal(di.kind, DEBUGINFO_DEBUGINFOD);
	assert_non_null(strstr(di.source, "debuginfod"));
	assert_symbols_of_libfix(&di);
	assert_int_equal(nr_warnings, 0);
	debuginfo_close(&di);

	/* the order: MiniDebugInfo first, debuginfod only when nothing on the machine has it */
	assert_int_equal(debuginfo_open(fx("mini/libfix.so"), &opts, &di, err, sizeof(err)), 0);
	assert_int_equal(di.kind, DEBUGINFO_MINIDEBUGINFO);
	debuginfo_close(&di);
}

static void test_debuginfod_other_build_is_refused(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, false);
	struct debuginfo di;

	set_server("srv-other");
	assert_int_equal(debuginfo_open(fx("stripped/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(nr_warnings, 1);
	assert_non_null(strstr(warnings[0], "build-id"));
	assert_non_null(strstr(warnings[0], "debuginfod"));
}

static void test_debuginfod_garbage_is_refused(void **state)
{
	struct debuginfo_opts opts = opts_with(NULL, false);
	struct debuginfo di;

	set_server("srv-garbage");
	assert_int_equal(debuginfo_open(fx("stripped/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(nr_warnings, 1);
	assert_non_null(strstr(warnings[0], "not an ELF file"));
}

static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A server whose connection is taken by the kernel's backlog and that never says a word. */
static void test_silent_debuginfod_is_bounded(void **state)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct debuginfo_opts opts = opts_with(NULL, false);
	socklen_t addr_len = sizeof(addr);
	char url[64];
	struct debuginfo di;
	double start, took;
	int sock;

	sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sock >= 0);
	assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(sock, 16), 0);
	assert_int_equal(getsockname(sock, (struct sockaddr *)&addr, &addr_len), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(addr.sin_port));
	setenv("DEBUGINFOD_URLS", url, 1);
	setenv("DEBUGINFOD_TIMEOUT", "2", 1);

	start = now_sec();
	assert_int_equal(debuginfo_open(fx("stripped/libfix.so"), &opts, &di, err, sizeof(err)),
			 -ENOENT);
	took = now_sec() - start;
	close(sock);
	print_message("# a silent server given up after %.1f s (DEBUGINFOD_TIMEOUT=2)\n", took);
	assert_true(took >= 1.5 && took < 6);
	assert_int_equal(nr_warnings, 1);
	assert_non_null(strstr(warnings[0], "no answer"));
	assert_non_null(strstr(err, "timed out"));
}

static void assert_same_probes(const struct py_probe *a, int nr_a, const struct py_probe *b,
			       int nr_b)
{
	assert_int_equal(nr_a, nr_b);
	for (int i = 0; i < nr_a; i++) {
		assert_string_equal(a[i].name, b[i].name);
		assert_int_equal(a[i].offset, b[i].offset);
	}
}

/* python.c on libpython stripped, with its debug file in each place: the unstripped probes. */
static void test_python_target_from_debug_file(void **state)
{
	static const struct {
		const char *dir, *root, *source;
	} cases[] = {
		{"py/stripped", "py/root", "/py/root/.build-id/"},
		{"py/link", NULL, ".gnu_debuglink "},
		{"py/mini", NULL, "MiniDebugInfo"},
	};
	struct debuginfo_opts opts = opts_with(NULL, true);
	struct py_target full, t;
	char path[PATH_MAX];

	if (!libpython[0]) {
		print_message("# SKIP %s: no pyenv CPython 3.12 with a libpython\n",
			      pyenv_skip_class());
		skip();
	}
	/* the symbols are looked for when they are the view asked for */
	python_set_probes(PY_PROBES_SYMBOLS);
	python_set_debuginfo_opts(&opts);
	assert_int_equal(python_target_from_file(libpython, &full, err, sizeof(err)), 0);
	assert_int_equal(full.view, PY_VIEW_GIL);
	assert_string_equal(full.symbols_from, "the file itself");
	assert_true(full.nr_forced > 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		opts = opts_with(cases[i].root, true);
		python_set_debuginfo_opts(&opts);
		snprintf(path, sizeof(path), "%s/%s/%s", fixtures, cases[i].dir, libpython_name);
		assert_int_equal(python_target_from_file(path, &t, err, sizeof(err)), 0);
		print_message("# %s: symbols from %s\n", cases[i].dir, t.symbols_from);
		assert_non_null(strstr(t.symbols_from, cases[i].source));
		assert_int_equal(t.view, PY_VIEW_GIL);
		assert_int_equal(t.major, full.major);
		assert_int_equal(t.minor, full.minor);
		assert_same_probes(t.acquire, t.nr_acquire, full.acquire, full.nr_acquire);
		assert_same_probes(t.release, t.nr_release, full.release, full.nr_release);
		assert_same_probes(t.forced, t.nr_forced, full.forced, full.nr_forced);
		assert_string_equal(t.blind_spot, full.blind_spot);
		assert_string_equal(t.symbols_missing, "");
	}

	/* without any: the exported functions, and one line on where it looked */
	opts = opts_with(NULL, true);
	python_set_debuginfo_opts(&opts);
	snprintf(path, sizeof(path), "%s/py/stripped/%s", fixtures, libpython_name);
	assert_int_equal(python_target_from_file(path, &t, err, sizeof(err)), 0);
	assert_int_equal(t.view, PY_VIEW_THREADSTATE);
	assert_non_null(strstr(t.symbols_missing, "--no-debuginfod"));

	/* by default a 3.12 needs none: no lookup, no line */
	python_set_probes(PY_PROBES_AUTO);
	assert_int_equal(python_target_from_file(path, &t, err, sizeof(err)), 0);
	assert_string_equal(t.symbols_missing, "");
	assert_int_equal(t.cond_offset, PY_GIL_COND_OFFSET);
	python_set_debuginfo_opts(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_own_symtab, setup),
		cmocka_unit_test_setup(test_build_id_tree, setup),
		cmocka_unit_test_setup(test_build_id_comes_before_debuglink, setup),
		cmocka_unit_test_setup(test_other_build_id_is_refused, setup),
		cmocka_unit_test_setup(test_other_build_id_then_debuglink, setup),
		cmocka_unit_test_setup(test_truncated_debug_file_is_refused, setup),
		cmocka_unit_test_setup(test_debuglink_places, setup),
		cmocka_unit_test_setup(test_debuglink_crc_mismatch_is_refused, setup),
		cmocka_unit_test_setup(test_debuglink_other_build_id_is_refused, setup),
		cmocka_unit_test_setup(test_minidebuginfo, setup),
		cmocka_unit_test_setup(test_corrupt_minidebuginfo_is_refused, setup),
		cmocka_unit_test_setup(test_nothing_found_says_where_it_looked, setup),
		cmocka_unit_test_setup(test_not_elf, setup),
		cmocka_unit_test_setup(test_debuginfod, setup),
		cmocka_unit_test_setup(test_debuginfod_other_build_is_refused, setup),
		cmocka_unit_test_setup(test_debuginfod_garbage_is_refused, setup),
		cmocka_unit_test_setup(test_silent_debuginfod_is_bounded, setup),
		cmocka_unit_test_setup(test_python_target_from_debug_file, setup),
		cmocka_unit_test_setup(test_debuglink_to_a_device_fifo_or_symlink_is_refused, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
