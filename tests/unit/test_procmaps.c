/* procmaps: parsing /proc/PID/maps text (real and crafted), thread lists,
 * and the search for a gap within rel32 reach. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "procmaps.h"
#include "support.h"

static const char sample[] =
	"555555554000-555555556000 r--p 00000000 08:01 1234                       /usr/bin/my prog\n"
	"555555556000-55555555a000 r-xp 00002000 08:01 1234                       /usr/bin/my prog\n"
	"7ffff7dd0000-7ffff7df0000 r-xp 00000000 fd:02 99 /lib/libx.so (deleted)\n"
	"7ffff7ff0000-7ffff7ff1000 rw-s 00000000 00:00 0 \n"
	"7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static void parses_fields(void)
{
	struct procmaps pm = { 0 };
	const struct procmap *m;

	CU_ASSERT_EQUAL_FATAL(procmaps_parse(42, sample, &pm), 0);
	CU_ASSERT_EQUAL_FATAL(pm.n, 6);
	m = &pm.maps[1];
	CU_ASSERT_EQUAL(m->start, 0x555555556000ULL);
	CU_ASSERT_EQUAL(m->end, 0x55555555a000ULL);
	CU_ASSERT_EQUAL(m->offset, 0x2000);
	CU_ASSERT_EQUAL(m->perms, PM_READ | PM_EXEC | PM_PRIVATE);
	CU_ASSERT_EQUAL(m->dev_major, 8);
	CU_ASSERT_EQUAL(m->dev_minor, 1);
	CU_ASSERT_EQUAL(m->inode, 1234);
	CU_ASSERT_STRING_EQUAL(m->path, "/usr/bin/my prog");
	CU_ASSERT_FALSE(m->deleted);
	CU_ASSERT_STRING_EQUAL(pm.maps[2].path, "/lib/libx.so");
	CU_ASSERT(pm.maps[2].deleted);
	CU_ASSERT_EQUAL(pm.maps[2].dev_major, 0xfd);
	CU_ASSERT_STRING_EQUAL(pm.maps[3].path, "");
	CU_ASSERT_EQUAL(pm.maps[3].perms, PM_READ | PM_WRITE);
	CU_ASSERT_STRING_EQUAL(pm.maps[4].path, "[stack]");
	CU_ASSERT_EQUAL(pm.maps[5].perms, PM_EXEC | PM_PRIVATE);

	CU_ASSERT_PTR_EQUAL(procmaps_find(&pm, 0x555555556000ULL), &pm.maps[1]);
	CU_ASSERT_PTR_EQUAL(procmaps_find(&pm, 0x555555559fffULL), &pm.maps[1]);
	CU_ASSERT_PTR_EQUAL(procmaps_find(&pm, 0x7ffffffdf000ULL), &pm.maps[4]);
	CU_ASSERT_PTR_NULL(procmaps_find(&pm, 0x55555555a000ULL));
	CU_ASSERT_PTR_NULL(procmaps_find(&pm, 0x1000));
	procmaps_free(&pm);
	procmaps_free(&pm);
}

static void rejects_bad_lines(void)
{
	static const char *const bad[] = {
		"zzzz-1000 r-xp 00000000 00:00 0 x\n",
		"1000-2000 r-xp 00000000 00:00\n",
		"2000-1000 r-xp 00000000 00:00 0\n",
		"1000-2000 rx 00000000 00:00 0\n",
	};
	struct procmaps pm = { 0 };
	hp_print_fn_t old = hp_set_print(NULL);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++)
		CU_ASSERT_EQUAL(procmaps_parse(1, bad[i], &pm), -HP_E_FORMAT);
	CU_ASSERT_EQUAL(pm.n, 0);
	hp_set_print(old);
}

static void reads_own_maps(void)
{
	struct procmaps pm = { 0 };
	const struct procmap *m;
	char buf[64];

	CU_ASSERT_EQUAL_FATAL(procmaps_read(getpid(), &pm), 0);
	CU_ASSERT(pm.n > 5);
	/* This very function is in an executable mapping of this program. */
	m = procmaps_find(&pm, (uint64_t)(uintptr_t)reads_own_maps);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT(m->perms & PM_EXEC);
	CU_ASSERT(strstr(m->path, "test_procmaps") != NULL);
	/* And a stack variable is in a writable, non-executable one. */
	m = procmaps_find(&pm, (uint64_t)(uintptr_t)buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT((m->perms & (PM_WRITE | PM_EXEC)) == PM_WRITE);
	procmaps_free(&pm);
}

static void no_such_process(void)
{
	struct procmaps pm = { 0 };
	pid_t *tids = NULL;
	size_t n = 0;
	pid_t dead = fork();

	if (dead == 0)
		_exit(0);
	CU_ASSERT_FATAL(dead > 0);
	waitpid(dead, NULL, 0);
	CU_ASSERT_EQUAL(procmaps_read(dead, &pm), -ESRCH);
	CU_ASSERT_EQUAL(procmaps_tasks(dead, &tids, &n), -ESRCH);
}

static volatile int stop_thread;

static void *spin(void *arg)
{
	*(volatile pid_t *)arg = (pid_t)syscall(SYS_gettid);
	while (!stop_thread)
		usleep(1000);
	return NULL;
}

static void lists_threads(void)
{
	volatile pid_t tid = 0;
	pthread_t t;
	pid_t *tids = NULL;
	size_t n = 0, i;
	bool self = false, other = false;

	stop_thread = 0;
	CU_ASSERT_FATAL(pthread_create(&t, NULL, spin, (void *)&tid) == 0);
	while (!tid)
		usleep(100);
	CU_ASSERT_EQUAL_FATAL(procmaps_tasks(getpid(), &tids, &n), 0);
	CU_ASSERT(n >= 2);
	for (i = 0; i < n; i++) {
		self |= tids[i] == getpid();
		other |= tids[i] == tid;
		if (i)
			CU_ASSERT(tids[i] > tids[i - 1]);
	}
	CU_ASSERT(self && other);
	free(tids);
	stop_thread = 1;
	pthread_join(t, NULL);
}

#define GIB (1ULL << 30)

static void finds_gaps_in_reach(void)
{
	/* Code at 0x5555_0000_0000, a library 1 GiB above, a mapping right
	 * below the code. */
	static const char maps[] =
		"554fffff0000-555000000000 rw-p 00000000 00:00 0\n"
		"555000000000-555000010000 r-xp 00000000 08:01 1 /bin/t\n"
		"555000010000-555000018000 rw-p 00010000 08:01 1 /bin/t\n"
		"555040000000-555040100000 r-xp 00000000 08:01 2 /lib/l.so\n";
	struct procmaps pm = { 0 };
	uint64_t addr = 0, lo = 0x555000000000ULL, hi = 0x555000010000ULL;

	CU_ASSERT_EQUAL_FATAL(procmaps_parse(1, maps, &pm), 0);
	CU_ASSERT_EQUAL(procmaps_find_gap(&pm, lo, hi, 5000, 0, &addr), 0);
	/* Closest: just above the data, after a guard page. */
	CU_ASSERT_EQUAL(addr, 0x555000019000ULL);
	CU_ASSERT_EQUAL(addr % 4096, 0);
	/* Too big for the hole between data and library: goes below. */
	CU_ASSERT_EQUAL(procmaps_find_gap(&pm, lo, hi, (size_t)(1100ULL << 20), 0, &addr), 0);
	CU_ASSERT(addr + (1100ULL << 20) <= 0x554fffff0000ULL - 4096);
	CU_ASSERT(hi - addr < 2 * GIB);
	/* Bigger than the reach allows: nothing. */
	CU_ASSERT_EQUAL(procmaps_find_gap(&pm, lo, hi, (size_t)(3 * GIB), 0, &addr),
			-HP_E_NOT_FOUND);
	procmaps_free(&pm);
}

static void gap_respects_reach_and_floor(void)
{
	/* Everything within 2 GiB around the code is taken. */
	static const char full[] =
		"000000010000-555100000000 r--p 00000000 00:00 0\n"
		"555100000000-555100001000 r-xp 00000000 08:01 1 /bin/t\n"
		"555100001000-7ffffffff000 r--p 00000000 00:00 0\n";
	static const char low[] = "000000400000-000000401000 r-xp 00000000 08:01 1 /bin/t\n";
	struct procmaps pm = { 0 };
	uint64_t addr = 0;

	CU_ASSERT_EQUAL_FATAL(procmaps_parse(1, full, &pm), 0);
	CU_ASSERT_EQUAL(procmaps_find_gap(&pm, 0x555100000000ULL, 0x555100001000ULL, 4096, 0, &addr),
			-HP_E_NOT_FOUND);
	procmaps_free(&pm);
	/* Non-PIE code at 4 MiB: the gap may be below it, but never under
	 * the floor asked for. */
	CU_ASSERT_EQUAL_FATAL(procmaps_parse(1, low, &pm), 0);
	CU_ASSERT_EQUAL(procmaps_find_gap(&pm, 0x400000, 0x401000, 4096, 0x300000, &addr), 0);
	CU_ASSERT(addr >= 0x300000);
	CU_ASSERT(addr + 4096 <= 0x400000 - 4096 || addr >= 0x402000);
	procmaps_free(&pm);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "parses every field, paths with spaces, deleted files", parses_fields },
		{ "rejects malformed lines", rejects_bad_lines },
		{ "reads its own maps", reads_own_maps },
		{ "a process that is gone", no_such_process },
		{ "lists threads, sorted", lists_threads },
		{ "finds the closest gap within rel32 reach", finds_gaps_in_reach },
		{ "no gap out of reach or under the floor", gap_respects_reach_and_floor },
		{ NULL, NULL },
	};

	ts_add_suite("procmaps", tests);
}
