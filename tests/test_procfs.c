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

/*
 * A file at a path longer than a line buffer of PATH_MAX + 256, whose component past that length
 * reads as a maps line of its own: a "libpython" at an inode the path's owner chose (4242).
 */
#define FORGED_TAIL "7f0000000000-7f0000001000 r-xp 00000000 00:00 4242 "
#define OLD_LINE_LEN (PATH_MAX + 256 - 1)
#define NAME_COLUMN 73

static int deep_dir(const char *base, size_t prefix_len)
{
	size_t len = strlen(base) + 1;
	int dirfd = open(base, O_PATH | O_DIRECTORY), next;
	char name[256];

	/* base/aaa.../aaa/ is prefix_len long */
	while (dirfd >= 0 && len < prefix_len) {
		size_t n = prefix_len - len - 1 > 200 ? 200 : prefix_len - len - 1;

		if (prefix_len - len - 1 - n > 0 && prefix_len - len - 1 - n < 2)
			n -= 2;
		memset(name, 'a', n);
		name[n] = '\0';
		if (mkdirat(dirfd, name, 0755))
			return -1;
		next = openat(dirfd, name, O_PATH | O_DIRECTORY);
		close(dirfd);
		dirfd = next;
		len += n + 1;
	}
	return len == prefix_len ? dirfd : -1;
}

static bool is_forged(const struct proc_mapping *m, void *ctx)
{
	return m->ino == 4242 || strstr(m->name, "libpython3.12") != NULL;
}

static void test_a_long_line_is_read_whole(void **state)
{
	char base[] = "/tmp/test_procfs_long.XXXXXX", cmd[64], *line = NULL;
	size_t cap = 0;
	int dirfd, fd, column = -1;
	struct proc_mapping m;
	void *map;
	FILE *maps;

	assert_non_null(mkdtemp(base));
	dirfd = deep_dir(base, OLD_LINE_LEN - NAME_COLUMN);
	assert_true(dirfd >= 0);
	assert_int_equal(mkdirat(dirfd, FORGED_TAIL, 0755), 0);
	fd = openat(dirfd, FORGED_TAIL, O_PATH | O_DIRECTORY);
	close(dirfd);
	dirfd = fd;
	fd = openat(dirfd, "libpython3.12.so.1.0", O_CREAT | O_RDWR, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4096), 0);
	map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(map != MAP_FAILED);
	maps = fopen("/proc/self/maps", "r");
	while (maps && getline(&line, &cap, maps) > 0)
		if (strstr(line, "libpython3.12") && strstr(line, base))
			column = strstr(line, base) - line;
	fclose(maps);
	free(line);
	assert_int_equal(column, NAME_COLUMN);

	assert_int_equal(proc_find_mapping(getpid(), is_forged, NULL, &m), 0);
	proc_maps_hold(getpid());
	assert_int_equal(proc_find_mapping(getpid(), is_forged, NULL, &m), 0);
	proc_maps_release();

	munmap(map, 4096);
	close(fd);
	close(dirfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_the_mapping_of_an_address),
		cmocka_unit_test(test_anonymous_mappings_are_not_files),
		cmocka_unit_test(test_a_hold_answers_from_one_read),
		cmocka_unit_test(test_a_hold_on_no_process),
		cmocka_unit_test(test_a_long_line_is_read_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
