/* The live executor on real processes: the fixture target (multi-threaded,
 * PIE) is patched and rolled back through real ptrace while it runs, with
 * the payload compiled from tests/fixtures/live/payload.c. Root only. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hotpatch.h"
#include "live_fixture.h"
#include "support.h"

static char msgs[8192];

static int keep_msgs(enum hp_print_level level, const char *fmt, va_list ap)
{
	size_t used = strlen(msgs);
	va_list cp;

	if (level == HP_DEBUG)
		return 0;
	va_copy(cp, ap);
	vfprintf(stderr, fmt, cp);
	va_end(cp);
	if (used >= sizeof(msgs) - 1)
		return 0;
	return vsnprintf(msgs + used, sizeof(msgs) - used, fmt, ap);
}

static const char *fixdir(void)
{
	return ts_build_path("tests/fixtures/live");
}

static bool start(struct lf_target *t, const char *const *args)
{
	msgs[0] = '\0';
	hp_set_print(keep_msgs);
	if (lf_start(t, fixdir(), args)) {
		lf_stop(t);
		return false;
	}
	return true;
}

static void apply_then_rollback(void)
{
	static const char *const args[] = { "-t", "6", "-c", NULL };
	struct hp_live_result res;
	struct hp_live_status st;
	struct lf_target t;
	uint8_t now[16];

	CU_ASSERT_FATAL(start(&t, args));
	CU_ASSERT(lf_says(&t, "v", "version 1000"));
	CU_ASSERT(lf_says(&t, "w", "workers 1000 1000"));
	CU_ASSERT_EQUAL(hp_live__status(t.c.pid, "KBTEST1", &st), -HP_E_NOT_APPLIED);

	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, NULL, &res), 0);
	CU_ASSERT(res.threads >= 8);
	CU_ASSERT(res.stop_ns > 0);
	CU_ASSERT(res.region && lf_mapped(t.c.pid, res.region));
	/* Within rel32 reach of the code. */
	CU_ASSERT(res.region - t.fn_start < (1ULL << 31) || t.fn_start - res.region < (1ULL << 31));
	CU_ASSERT_FALSE(lf_has_wx(t.c.pid));
	CU_ASSERT(lf_says(&t, "v", "version 2000"));
	CU_ASSERT(lf_says(&t, "w", "workers 2000 2000"));
	CU_ASSERT(lf_says(&t, "c", "churn 2000"));
	CU_ASSERT_EQUAL(hp_live__status(t.c.pid, "KBTEST1", &st), 0);
	CU_ASSERT_STRING_EQUAL(st.id, "KBTEST1");
	CU_ASSERT_EQUAL(st.nfuncs, 1);
	CU_ASSERT_EQUAL(st.applied, 1);
	CU_ASSERT_EQUAL(st.region, res.region);
	CU_ASSERT_EQUAL(hp_live__status(t.c.pid, "KBOTHER", &st), -HP_E_NOT_APPLIED);
	/* The bytes before the jump (endbr64) are untouched. */
	CU_ASSERT_FATAL(lf_read(t.c.pid, t.fn_start, now, sizeof(now)) == 0);
	CU_ASSERT(memcmp(now, t.expect, t.func.patch_off) == 0);
	CU_ASSERT_EQUAL(now[t.func.patch_off], 0xe9);

	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, NULL, NULL), -HP_E_ALREADY);
	CU_ASSERT(lf_says(&t, "v", "version 2000"));

	CU_ASSERT_EQUAL(hp_live__rollback(t.c.pid, "KBTEST1", NULL, &res), 0);
	CU_ASSERT_EQUAL(res.region_released, 1);
	CU_ASSERT_FALSE(lf_mapped(t.c.pid, res.region));
	CU_ASSERT(lf_says(&t, "v", "version 1000"));
	CU_ASSERT(lf_says(&t, "w", "workers 1000 1000"));
	CU_ASSERT(lf_says(&t, "c", "churn 1000"));
	CU_ASSERT_FATAL(lf_read(t.c.pid, t.fn_start, now, sizeof(now)) == 0);
	CU_ASSERT(memcmp(now, t.expect, sizeof(now)) == 0);
	CU_ASSERT_EQUAL(hp_live__status(t.c.pid, "KBTEST1", &st), -HP_E_NOT_APPLIED);
	CU_ASSERT_EQUAL(hp_live__rollback(t.c.pid, "KBTEST1", NULL, NULL), -HP_E_NOT_APPLIED);
	CU_ASSERT_EQUAL(ts_proc_state(t.c.pid) == 'S' || ts_proc_state(t.c.pid) == 'R', 1);
	lf_stop(&t);
}

/* A payload with data: its code page r-x, its data page rw-, never both. */
static void payload_with_data(void)
{
	struct hp_live_result res;
	struct lf_target t;
	char perms[5];

	CU_ASSERT_FATAL(start(&t, NULL));
	t.patch.image_size = 8192;
	t.patch.image_text_size = 4096;
	CU_ASSERT_EQUAL_FATAL(hp_live__apply(t.c.pid, &t.patch, NULL, &res), 0);
	CU_ASSERT(lf_says(&t, "v", "version 2000"));
	CU_ASSERT_EQUAL(res.region_size, 3 * 4096);
	CU_ASSERT(lf_perms(t.c.pid, res.region, perms) && !strcmp(perms, "r-xp"));
	CU_ASSERT(lf_perms(t.c.pid, res.region + 8192, perms) && !strcmp(perms, "rw-p"));
	CU_ASSERT_FALSE(lf_has_wx(t.c.pid));
	CU_ASSERT_EQUAL(hp_live__rollback(t.c.pid, "KBTEST1", NULL, &res), 0);
	CU_ASSERT_EQUAL(res.region_released, 1);
	CU_ASSERT_FALSE(lf_mapped(t.c.pid, res.region));
	CU_ASSERT_FALSE(lf_mapped(t.c.pid, res.region + 8192));
	CU_ASSERT(lf_says(&t, "v", "version 1000"));
	/* Bad split: not a page multiple. */
	t.patch.image_text_size = 100;
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, NULL, NULL), -EINVAL);
	lf_stop(&t);
}

static void repeated_cycles(void)
{
	static const char *const args[] = { "-t", "16", NULL };
	struct lf_target t;
	int i;

	CU_ASSERT_FATAL(start(&t, args));
	for (i = 0; i < 20; i++) {
		CU_ASSERT_EQUAL_FATAL(hp_live__apply(t.c.pid, &t.patch, NULL, NULL), 0);
		CU_ASSERT(lf_says(&t, "w", "workers 2000 2000"));
		CU_ASSERT_EQUAL_FATAL(hp_live__rollback(t.c.pid, "KBTEST1", NULL, NULL), 0);
		CU_ASSERT(lf_says(&t, "w", "workers 1000 1000"));
	}
	CU_ASSERT_FALSE(lf_has_wx(t.c.pid));
	lf_stop(&t);
}

/* A thread waiting inside the function (a return address into it on its
 * stack) makes the default mode refuse; the entry mode only guards the
 * overwritten bytes. */
static void busy_when_parked(void)
{
	struct hp_live_opts opts = { .retries = 3, .backoff_us = 500 };
	struct hp_live_result res;
	struct hp_live_status st;
	struct lf_target t;
	uint8_t now[64];

	CU_ASSERT_FATAL(start(&t, NULL));
	CU_ASSERT_FATAL(lf_says(&t, "park", "parked"));
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, &opts, &res), -HP_E_BUSY);
	CU_ASSERT_EQUAL(res.attempts, 4);
	CU_ASSERT(strstr(msgs, "fixture_version+") != NULL);
	CU_ASSERT(strstr(msgs, "return address") != NULL);
	CU_ASSERT(strstr(msgs, "still busy") != NULL);
	CU_ASSERT_FATAL(lf_read(t.c.pid, t.fn_start, now, sizeof(now)) == 0);
	CU_ASSERT(memcmp(now, t.expect, sizeof(now)) == 0);
	CU_ASSERT_EQUAL(hp_live__status(t.c.pid, NULL, &st), -HP_E_NOT_APPLIED);
	CU_ASSERT_FALSE(lf_mapped(t.c.pid, res.region));
	/* (No "v" here: the command thread would park too.) */
	CU_ASSERT(lf_says(&t, "unpark", "unparked"));
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, &opts, NULL), 0);
	CU_ASSERT(lf_says(&t, "v", "version 2000"));
	CU_ASSERT_EQUAL(hp_live__rollback(t.c.pid, "KBTEST1", &opts, NULL), 0);

	/* Spinning inside: its rip is in the function. */
	CU_ASSERT_FATAL(lf_says(&t, "spin", "parked"));
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, &opts, NULL), -HP_E_BUSY);
	CU_ASSERT(strstr(msgs, "is executing there") != NULL);
	/* Entry mode: the spinning thread is past the entry, so it is safe;
	 * it finishes in the old code, later calls get the new. */
	opts.consistency = HP_LIVE_ENTRY;
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, &opts, NULL), 0);
	CU_ASSERT(lf_says(&t, "unspin", "unparked"));
	CU_ASSERT(lf_says(&t, "w", "workers 2000 2000"));
	CU_ASSERT_EQUAL(hp_live__rollback(t.c.pid, "KBTEST1", &opts, NULL), 0);
	CU_ASSERT(lf_says(&t, "v", "version 1000"));
	lf_stop(&t);
}

static void fingerprint_mismatch(void)
{
	struct hp_live_status st;
	struct lf_target t;
	uint8_t now[64];

	CU_ASSERT_FATAL(start(&t, NULL));
	t.expect[t.func.expect_len - 1] ^= 0xff;
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, NULL, NULL), -HP_E_MISMATCH);
	CU_ASSERT(strstr(msgs, "fixture_version") && strstr(msgs, "fingerprint"));
	t.expect[t.func.expect_len - 1] ^= 0xff;
	CU_ASSERT_FATAL(lf_read(t.c.pid, t.fn_start, now, sizeof(now)) == 0);
	CU_ASSERT(memcmp(now, t.expect, sizeof(now)) == 0);
	CU_ASSERT_EQUAL(hp_live__status(t.c.pid, NULL, &st), -HP_E_NOT_APPLIED);
	CU_ASSERT(lf_says(&t, "v", "version 1000"));
	/* An entry outside the process's code. */
	t.func.entry = 0x1000;
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, NULL, NULL), -HP_E_NOT_FOUND);
	lf_stop(&t);
}

static void not_a_target(void)
{
	struct lf_target t;
	pid_t dead;

	msgs[0] = '\0';
	hp_set_print(keep_msgs);
	CU_ASSERT_FATAL(start(&t, NULL));
	/* A pid that does not exist: a child that already exited. */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	CU_ASSERT_EQUAL(hp_live__apply(dead, &t.patch, NULL, NULL), -HP_E_PROCESS);
	CU_ASSERT(strstr(msgs, "no such process") != NULL);
	CU_ASSERT_EQUAL(hp_live__apply(getpid(), &t.patch, NULL, NULL), -HP_E_PROCESS);
	/* A thread id, not a process. */
	{
		char cmd[128], *out = NULL;
		int tid;

		snprintf(cmd, sizeof(cmd), "ls /proc/%d/task | sort -n | tail -n 1", (int)t.c.pid);
		CU_ASSERT_EQUAL(ts_sh(cmd, &out, NULL), 0);
		tid = out ? atoi(out) : 0;
		free(out);
		CU_ASSERT(tid > 0 && tid != t.c.pid);
		msgs[0] = '\0';
		CU_ASSERT_EQUAL(hp_live__apply(tid, &t.patch, NULL, NULL), -HP_E_PROCESS);
		CU_ASSERT(strstr(msgs, "is a thread of process") != NULL);
	}
	/* A process without the function: the test program itself is not
	 * allowed, so use a sleeping child whose code is elsewhere. */
	{
		char *argv[] = { "sleep", "30", NULL };
		pid_t other = ts_spawn(argv, NULL);

		usleep(100000);
		msgs[0] = '\0';
		CU_ASSERT_EQUAL(hp_live__apply(other, &t.patch, NULL, NULL), -HP_E_NOT_FOUND);
		CU_ASSERT(strstr(msgs, "not inside executable code") != NULL);
		/* Running on: sleeping, or just woken by the detach. The
		 * release is asynchronous for a moment on a busy machine, so
		 * give it up to 2 s; a process left stopped fails here. */
		{
			char st = 0;
			int tries;

			for (tries = 0; tries < 200; tries++) {
				st = ts_proc_state(other);
				if (st == 'S' || st == 'R')
					break;
				usleep(10000);
			}
			if (st != 'S' && st != 'R')
				fprintf(stderr, "pid %d left in state '%c'\n", (int)other, st ? st : '?');
			CU_ASSERT(st == 'S' || st == 'R');
		}
		ts_stop(other, 1000);
	}
	CU_ASSERT(lf_says(&t, "v", "version 1000"));
	lf_stop(&t);
}

static void already_traced(void)
{
	struct lf_target t;
	int sync[2], st;
	pid_t tracer;
	char c;

	CU_ASSERT_FATAL(start(&t, NULL));
	CU_ASSERT_FATAL(pipe(sync) == 0);
	tracer = fork();
	if (tracer == 0) {
		c = ptrace(PTRACE_SEIZE, t.c.pid, 0, 0) == 0 ? 'y' : 'n';
		if (write(sync[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CU_ASSERT_FATAL(read(sync[0], &c, 1) == 1 && c == 'y');
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, NULL, NULL), -HP_E_PROCESS);
	CU_ASSERT(strstr(msgs, "already traced by pid") != NULL);
	kill(tracer, SIGKILL);
	waitpid(tracer, &st, 0);
	close(sync[0]);
	close(sync[1]);
	CU_ASSERT(lf_says(&t, "v", "version 1000"));
	/* Free again: now it works. */
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, NULL, NULL), 0);
	CU_ASSERT(lf_says(&t, "v", "version 2000"));
	lf_stop(&t);
}

/* The process is killed while the patcher retries a busy window. */
static void process_exits_meanwhile(void)
{
	struct hp_live_opts opts = { .retries = 200, .backoff_us = 2000 };
	struct lf_target t;
	pid_t killer;

	CU_ASSERT_FATAL(start(&t, NULL));
	CU_ASSERT_FATAL(lf_says(&t, "park", "parked"));
	killer = fork();
	if (killer == 0) {
		usleep(50000);
		kill(getppid() == 1 ? 0 : t.c.pid, SIGKILL);
		_exit(0);
	}
	msgs[0] = '\0';
	CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, &opts, NULL), -HP_E_PROCESS);
	CU_ASSERT(strstr(msgs, "exited") != NULL);
	waitpid(killer, NULL, 0);
	lf_stop(&t);
}

/* Every register and any interrupted system call continue exactly: the
 * main thread is the one borrowed for mmap/munmap, blocked in read(),
 * in nanosleep() or in a loop checking its registers. */
static void registers_and_syscalls(void)
{
	static const char *const modes[] = { "read", "sleep", "regs" };
	size_t m;
	int i;

	for (m = 0; m < 3; m++) {
		const char *args[] = { "-t", "2", "-m", modes[m], NULL };
		struct lf_target t;

		CU_ASSERT_FATAL(start(&t, args));
		usleep(20000);
		for (i = 0; i < 10; i++) {
			CU_ASSERT_EQUAL(hp_live__apply(t.c.pid, &t.patch, NULL, NULL), 0);
			CU_ASSERT(lf_says(&t, "v", "version 2000"));
			CU_ASSERT_EQUAL(hp_live__rollback(t.c.pid, "KBTEST1", NULL, NULL), 0);
			CU_ASSERT(lf_says(&t, "v", "version 1000"));
		}
		/* Let the sleep loop finish a few full sleeps after the last
		 * interruption. */
		usleep(100000);
		CU_ASSERT(lf_says(&t, "errors", "errors 0 0"));
		lf_stop(&t);
	}
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "apply, see the new code, roll back, see the old", apply_then_rollback },
		{ "20 apply/rollback cycles", repeated_cycles },
		{ "payload with data: r-x code, rw- data", payload_with_data },
		{ "a thread parked inside: busy, then success", busy_when_parked },
		{ "fingerprint mismatch changes nothing", fingerprint_mismatch },
		{ "not a target: no process, self, a thread, no function", not_a_target },
		{ "already traced by another tracer", already_traced },
		{ "process exits during the patch", process_exits_meanwhile },
		{ "registers and interrupted system calls continue exactly", registers_and_syscalls },
		{ NULL, NULL },
	};

	if (geteuid() != 0)
		fprintf(stderr, "test_live: needs root (ptrace); expect failures\n");
	ts_add_suite("live", tests);
}
