// SPDX-License-Identifier: GPL-2.0
/* A process's mappings as /proc shows them, read each time or once for a look (proc_maps_hold). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procfs.h"

static bool holds_addr(const struct proc_mapping *m, void *ctx)
{
	unsigned long addr = (unsigned long)ctx;

	return m->start <= addr && addr < m->end;
}

static bool is_inode(const struct proc_mapping *m, void *ctx)
{
	return m->ino == *(ino_t *)ctx;
}

/* The line of /proc/self/maps holding fopen: libc's text, every field where the kernel put it. */
static void test_finds_the_mapping_of_an_address(void **state)
{
	unsigned long addr = (unsigned long)(void *)fopen;
	struct proc_mapping m;
	struct stat st;

	assert_int_equal(proc_find_mapping(getpid(), holds_addr, (void *)addr, &m), 1);
	assert_true(m.start <= addr && addr < m.end);
	assert_int_equal(m.perms[2], 'x');
	assert_non_null(strstr(m.name, "libc"));
	assert_int_equal(stat(m.name, &st), 0);
	assert_int_equal(m.ino, st.st_ino);
	assert_true(m.offset > 0); /* text follows the ELF headers' page */
}

static void test_anonymous_mappings_are_not_files(void **state)
{
	void *anon = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct proc_mapping m;

	assert_ptr_not_equal(anon, MAP_FAILED);
	assert_int_equal(proc_find_mapping(getpid(), holds_addr, anon, &m), 0);
	munmap(anon, 4096);
}

/* While held, the maps are those of the moment of the hold; after, the process's own again. */
static void test_a_hold_answers_from_one_read(void **state)
{
	char path[] = "/tmp/test_procfs.XXXXXX";
	int fd = mkstemp(path);
	struct proc_mapping m;
	struct stat st;
	void *map;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	assert_int_equal(fstat(fd, &st), 0);
	proc_maps_hold(getpid());
	map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_ptr_not_equal(map, MAP_FAILED);
	assert_int_equal(proc_find_mapping(getpid(), is_inode, &st.st_ino, &m), 0);
	assert_int_equal(proc_find_mapping(getpid(), holds_addr, (void *)fopen, &m), 1);
	proc_maps_release();
	assert_int_equal(proc_find_mapping(getpid(), is_inode, &st.st_ino, &m), 1);
	assert_int_equal(m.start, (unsigned long)map);
	assert_string_equal(m.name, path);
	munmap(map, 4096);
	close(fd);
	unlink(path);
}

/* A hold on a process that is gone holds nothing: the question goes to /proc and fails there. */
static void test_a_hold_on_no_process(void **state)
{
	struct proc_mapping m;
	pid_t gone = fork();

	assert_true(gone >= 0);
	if (!gone)
		_exit(0);
	waitpid(gone, NULL, 0);
	proc_maps_hold(gone);
	assert_int_equal(proc_find_mapping(gone, holds_addr, (void *)fopen, &m), -ENOENT);
	proc_maps_release();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_the_mapping_of_an_address),
		cmocka_unit_test(test_anonymous_mappings_are_not_files),
		cmocka_unit_test(test_a_hold_answers_from_one_read),
		cmocka_unit_test(test_a_hold_on_no_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
