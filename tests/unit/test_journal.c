/* The journal: records written and read back through a real state
 * directory, a torn last line, malformed lines named by number, the bound
 * on line length, and replay (what is applied where, what was started and
 * not finished). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hotpatch.h"
#include "support.h"

static struct hp_state *fresh_state(const char **dirp)
{
	const char *dir = ts_join(ts_tmpdir(), "state");
	struct hp_state *st = hp_state__open(dir, 0, 0);

	CU_ASSERT_PTR_NOT_NULL(st);
	if (dirp)
		*dirp = dir;
	return st;
}

static struct hp_journal_rec disk_intent(const char *pkg, enum hp_journal_action action,
					 const char *path)
{
	struct hp_journal_rec r;

	memset(&r, 0, sizeof(r));
	r.package = pkg;
	r.action = action;
	r.kind = HP_JOURNAL_DISK;
	r.step = HP_JOURNAL_INTENT;
	r.path = path;
	return r;
}

static struct hp_journal_rec live_intent(const char *pkg, enum hp_journal_action action, pid_t pid,
					 uint64_t start)
{
	struct hp_journal_rec r;

	memset(&r, 0, sizeof(r));
	r.package = pkg;
	r.action = action;
	r.kind = HP_JOURNAL_LIVE;
	r.step = HP_JOURNAL_INTENT;
	r.pid = pid;
	r.start_time = start;
	return r;
}

static void write_and_read_back(void)
{
	/* A path with every byte the line format has to escape. */
	static const char odd_path[] = "/opt/with\ttab/new\nline/back\\slash/\x01\x7f/caf\xc3\xa9";
	static const struct hp_journal_detail d1[] = {
		{ "functions", "srv_negotiate_signing,srv_build_negotiate" },
		{ "old_sha256", "8f4c7d8a3b1e0e5f6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b" },
	};
	static const struct hp_journal_detail d2[] = { { "backup", "aa=bb\tcc" } };
	struct hp_journal_rec a, b;
	const struct hp_journal_rec *r;
	struct hp_journal *j = NULL;
	struct hp_state *st;
	const char *dir;
	struct timespec now;
	uint64_t seq = 0;

	st = fresh_state(&dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	a = disk_intent("KB916846", HP_JOURNAL_APPLY, odd_path);
	a.dev = 2049;
	a.ino = 1234567;
	a.ndetails = 2;
	memcpy(a.details, d1, sizeof(d1));
	CU_ASSERT_EQUAL_FATAL(hp_journal__append(st, &a), 0);
	CU_ASSERT_EQUAL(a.seq, 1);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &a, HP_JOURNAL_DONE, d2, 1, &seq), 0);
	CU_ASSERT_EQUAL(seq, 2);
	b = live_intent("KB916846", HP_JOURNAL_APPLY, 4121, 987654);
	b.path = "/usr/sbin/srv";
	CU_ASSERT_EQUAL(hp_journal__append(st, &b), 0);
	CU_ASSERT_EQUAL(b.seq, 3);
	hp_state__close(st);

	/* A new run continues the numbering and can close an intent of an
	 * earlier run. */
	st = hp_state__open(dir, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &b, HP_JOURNAL_FAILED, NULL, 0, &seq), 0);
	CU_ASSERT_EQUAL(seq, 4);
	CU_ASSERT_EQUAL_FATAL(hp_journal__read(st, &j), 0);
	hp_state__close(st);

	clock_gettime(CLOCK_REALTIME, &now);
	CU_ASSERT_EQUAL_FATAL(hp_journal__count(j), 4);
	CU_ASSERT_EQUAL(hp_journal__torn_line(j), 0);
	r = hp_journal__get(j, 0);
	CU_ASSERT_EQUAL(r->seq, 1);
	CU_ASSERT_STRING_EQUAL(r->package, "KB916846");
	CU_ASSERT_EQUAL(r->action, HP_JOURNAL_APPLY);
	CU_ASSERT_EQUAL(r->kind, HP_JOURNAL_DISK);
	CU_ASSERT_EQUAL(r->step, HP_JOURNAL_INTENT);
	CU_ASSERT_STRING_EQUAL(r->path, odd_path);
	CU_ASSERT_EQUAL(r->dev, 2049);
	CU_ASSERT_EQUAL(r->ino, 1234567);
	CU_ASSERT_EQUAL(r->ndetails, 2);
	CU_ASSERT_STRING_EQUAL(hp_journal_rec__detail(r, "functions"), d1[0].value);
	CU_ASSERT_STRING_EQUAL(hp_journal_rec__detail(r, "old_sha256"), d1[1].value);
	CU_ASSERT_PTR_NULL(hp_journal_rec__detail(r, "backup"));
	/* The time is now, in UTC, to the microsecond as written. */
	CU_ASSERT_EQUAL(r->time_us, a.time_us);
	CU_ASSERT(r->time_us <= (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000);
	CU_ASSERT(r->time_us > ((int64_t)now.tv_sec - 60) * 1000000);

	r = hp_journal__get(j, 1);
	CU_ASSERT_EQUAL(r->step, HP_JOURNAL_DONE);
	CU_ASSERT_EQUAL(r->ref, 1);
	CU_ASSERT_STRING_EQUAL(r->path, odd_path);
	CU_ASSERT_STRING_EQUAL(hp_journal_rec__detail(r, "backup"), "aa=bb\tcc");

	r = hp_journal__get(j, 3);
	CU_ASSERT_EQUAL(r->kind, HP_JOURNAL_LIVE);
	CU_ASSERT_EQUAL(r->step, HP_JOURNAL_FAILED);
	CU_ASSERT_EQUAL(r->ref, 3);
	CU_ASSERT_EQUAL(r->pid, 4121);
	CU_ASSERT_EQUAL(r->start_time, 987654);
	CU_ASSERT_STRING_EQUAL(r->path, "/usr/sbin/srv");
	CU_ASSERT_PTR_NULL(hp_journal__get(j, 4));
	hp_journal__free(j);

	/* Every record is one line: four newlines, no raw tab inside a value. */
	{
		char *text = ts_read_file(ts_join(dir, "journal"), NULL);
		size_t lines = 0;
		char *p;

		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		for (p = text; *p; p++)
			lines += *p == '\n';
		CU_ASSERT_EQUAL(lines, 4);
		CU_ASSERT_EQUAL(strncmp(text, "hpj1\tseq=1\ttime=", 16), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(text, "path=/opt/with\\ttab/new\\nline/back\\\\slash/"
						    "\\x01\\x7f/caf\xc3\xa9\t"));
		free(text);
	}
}

static void torn_last_line_is_reported_then_cut(void)
{
	struct hp_journal_rec a = disk_intent("KB916846", HP_JOURNAL_APPLY, "/usr/sbin/srv");
	struct hp_journal *j = NULL;
	struct hp_state *st;
	const char *dir;
	hp_print_fn_t old;
	char *text;
	int fd;

	st = fresh_state(&dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(hp_journal__append(st, &a), 0);
	CU_ASSERT_EQUAL_FATAL(hp_journal__append_step(st, &a, HP_JOURNAL_DONE, NULL, 0, NULL), 0);
	hp_state__close(st);

	/* What a crash in the middle of the third append leaves. */
	fd = open(ts_join(dir, "journal"), O_WRONLY | O_APPEND);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "hpj1\tseq=3\ttime=2026-11-2", 25), 25);
	close(fd);

	st = hp_state__open(dir, HP_STATE_READ_ONLY, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	old = ts_capture_start();
	CU_ASSERT_EQUAL(hp_journal__read(st, &j), 0);
	hp_set_print(old);
	hp_state__close(st);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(hp_journal__count(j), 2);
	CU_ASSERT_EQUAL(hp_journal__torn_line(j), 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "line 3"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "incomplete"));
	hp_journal__free(j);

	/* The next writer cuts the torn line off and goes on at seq 3. */
	st = hp_state__open(dir, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	a = disk_intent("KB916846", HP_JOURNAL_ROLLBACK, "/usr/sbin/srv");
	old = ts_capture_start();
	CU_ASSERT_EQUAL(hp_journal__append(st, &a), 0);
	hp_set_print(old);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "torn"));
	CU_ASSERT_EQUAL(a.seq, 3);
	CU_ASSERT_EQUAL(hp_journal__read(st, &j), 0);
	hp_state__close(st);
	CU_ASSERT_EQUAL(hp_journal__count(j), 3);
	CU_ASSERT_EQUAL(hp_journal__torn_line(j), 0);
	hp_journal__free(j);
	text = ts_read_file(ts_join(dir, "journal"), NULL);
	CU_ASSERT_PTR_NULL(strstr(text, "time=2026-11-2\t"));
	CU_ASSERT_PTR_NULL(strstr(text, "2026-11-2hpj1"));
	free(text);
}

#define L1 "hpj1\tseq=1\ttime=2026-11-25T04:51:03.123456Z\tpkg=KB916846\taction=apply\tkind=disk\tstep=intent\tpath=/a\n"
#define L2 "hpj1\tseq=2\ttime=2026-11-25T04:51:03.223456Z\tpkg=KB916846\taction=apply\tkind=disk\tstep=done\tref=1\tpath=/a\n"
#define L3 "hpj1\tseq=3\ttime=2026-11-25T04:51:04.000000Z\tpkg=KB916846\taction=apply\tkind=live\tstep=intent\tpid=77\tstart=1000\n"

static void malformed_lines_are_named(void)
{
	static const struct {
		const char *text;  /* the journal */
		const char *line;  /* "line N" expected in the message */
		const char *words; /* and this */
	} cases[] = {
		{ L1 "hpj1\tseq=2\ttime=2026-11-25T04:51:03.223456Z\tpkg=KB916846\taction=apply\tkind=disk\tstep=dne\tref=1\tpath=/a\n" L3,
		  "line 2", "step" },
		{ L1 L3, "line 2", "sequence number" },
		{ L1 L2 "hpj2\tseq=3\n", "line 3", "version" },
		{ "garbage\n", "line 1", "not a journal record" },
		{ L1 "hpj1\tseq=2\ttime=2026-11-25T04:51:03.223456Z\tpkg=KB916846\taction=apply\tkind=disk\tstep=intent\tpath=/a\\q\n",
		  "line 2", "escape" },
		{ L1 "hpj1\tseq=2\ttime=2026-11-25 04:51:03\tpkg=KB916846\taction=apply\tkind=disk\tstep=intent\tpath=/b\n",
		  "line 2", "time" },
		{ L1 "hpj1\tseq=2\ttime=2026-11-25T04:51:03.223456Z\tpkg=KB916846\taction=apply\tkind=disk\tstep=done\tref=1\tpath=/other\n",
		  "line 2", "ref" },
		{ L1 L2 "hpj1\tseq=3\ttime=2026-11-25T04:51:03.323456Z\tpkg=KB916846\taction=apply\tkind=disk\tstep=done\tref=1\tpath=/a\n",
		  "line 3", "ref" },
		{ L1 "hpj1\tseq=2\ttime=2026-11-25T04:51:03.223456Z\tpkg=KB916846\taction=apply\tkind=live\tstep=intent\tpid=77\n",
		  "line 2", "start time" },
		{ L1 "hpj1\tseq=2\ttime=2026-11-25T04:51:03.223456Z\tpkg=KB916846\taction=apply\tkind=disk\tstep=intent\tpath=/b\tpath=/c\n",
		  "line 2", "path" },
		{ L1 "hpj1\tseq=2\ttime=2026-11-25T04:51:03.223456Z\tpkg=KB916846\taction=apply\tkind=disk\tstep=intent\tpath=/b\tBad=1\n",
		  "line 2", "invalid key" },
		{ L1 "hpj1\tseq=99999999999999999999999\n", "line 2", "seq" },
		{ L1 "\n", "line 2", "not a journal record" },
		{ L1 "hpj1\tseq=2\ttime=2026-11-25T04:51:03.223456Z\tpkg=KB916846\taction=apply\tkind=disk\tstep=intent\tpath=/b\tstart=5\n",
		  "line 2", "no start time" },
	};
	struct hp_journal *j;
	hp_print_fn_t old;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = NULL;
		old = ts_capture_start();
		CU_ASSERT_EQUAL(hp_journal__parse(cases[i].text, strlen(cases[i].text), "J", &j),
				-HP_E_FORMAT);
		hp_set_print(old);
		CU_ASSERT_PTR_NULL(j);
		CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "journal: J: "));
		CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, cases[i].line));
		CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, cases[i].words));
		if (!strstr(ts_messages, cases[i].line) || !strstr(ts_messages, cases[i].words))
			fprintf(stderr, "case %zu: message was: %s", i, ts_messages);
		hp_journal__free(j);
	}

	/* A NUL byte inside a line. */
	{
		static const char nul[] = L1 "hpj1\tseq=2\0\n";

		old = ts_capture_start();
		j = NULL;
		CU_ASSERT_EQUAL(hp_journal__parse(nul, sizeof(nul) - 1, "J", &j), -HP_E_FORMAT);
		hp_set_print(old);
		CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "line 2"));
	}

	/* And the good ones parse. */
	j = NULL;
	CU_ASSERT_EQUAL(hp_journal__parse(L1 L2 L3, strlen(L1 L2 L3), "J", &j), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(hp_journal__count(j), 3);
	CU_ASSERT_EQUAL(hp_journal__get(j, 2)->pid, 77);
	hp_journal__free(j);

	/* A process started at tick 0 (early boot) is still named. */
	{
		static const char early[] = L1 L2 "hpj1\tseq=3\ttime=2026-11-25T04:51:04.000000Z\tpkg=KB916846\taction=apply\tkind=live\tstep=intent\tpid=1\tstart=0\n";

		j = NULL;
		CU_ASSERT_EQUAL(hp_journal__parse(early, strlen(early), "J", &j), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(j);
		CU_ASSERT_EQUAL(hp_journal__get(j, 2)->pid, 1);
		CU_ASSERT_EQUAL(hp_journal__get(j, 2)->start_time, 0);
		hp_journal__free(j);
	}
}

static void corrupt_journal_on_disk_stops_writers_and_readers(void)
{
	static const char bad[] = L1 "hpj1\tseq=2\tgarbage\n";
	struct hp_journal_rec a = disk_intent("KB916846", HP_JOURNAL_APPLY, "/b");
	struct hp_journal *j = NULL;
	struct hp_state *st;
	const char *dir;
	hp_print_fn_t old;
	char *text;

	st = fresh_state(&dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(ts_join(dir, "journal"), bad, sizeof(bad) - 1), 0);
	CU_ASSERT_EQUAL(chmod(ts_join(dir, "journal"), 0600), 0);
	old = ts_capture_start();
	CU_ASSERT_EQUAL(hp_journal__read(st, &j), -HP_E_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "line 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, dir));
	ts_messages[0] = '\0';
	CU_ASSERT_EQUAL(hp_journal__append(st, &a), -HP_E_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "line 2"));
	hp_set_print(old);
	hp_state__close(st);
	text = ts_read_file(ts_join(dir, "journal"), NULL);
	CU_ASSERT_STRING_EQUAL(text, bad);
	free(text);
}

static void line_length_is_bounded(void)
{
	size_t big = HP_JOURNAL_LINE_MAX + 100, i;
	struct hp_journal_rec a;
	struct hp_journal *j = NULL;
	struct hp_state *st;
	hp_print_fn_t old;
	const char *dir;
	char *text, *path, *before;
	size_t len_before, len_after;

	/* Read: a line past the bound, with or without its newline. */
	text = malloc(big + 2);
	memcpy(text, "hpj1\tseq=1\tpath=", 16);
	memset(text + 16, 'a', big - 16);
	text[big] = '\n';
	text[big + 1] = '\0';
	old = ts_capture_start();
	CU_ASSERT_EQUAL(hp_journal__parse(text, big + 1, "J", &j), -HP_E_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "line 1: longer than 4096 bytes"));
	ts_messages[0] = '\0';
	CU_ASSERT_EQUAL(hp_journal__parse(text, big, "J", &j), -HP_E_FORMAT);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "line 1: longer than 4096 bytes"));
	hp_set_print(old);
	free(text);

	/* Write: a record that would not fit is refused, nothing written. */
	st = fresh_state(&dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	a = disk_intent("KB916846", HP_JOURNAL_APPLY, "/small");
	CU_ASSERT_EQUAL(hp_journal__append(st, &a), 0);
	before = ts_read_file(ts_join(dir, "journal"), &len_before);
	path = malloc(big);
	path[0] = '/';
	for (i = 1; i < big - 1; i++)
		path[i] = 'p';
	path[big - 1] = '\0';
	a = disk_intent("KB916846", HP_JOURNAL_APPLY, path);
	old = ts_capture_start();
	CU_ASSERT_EQUAL(hp_journal__append(st, &a), -HP_E_TOO_BIG);
	hp_set_print(old);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "longer than 4096"));
	text = ts_read_file(ts_join(dir, "journal"), &len_after);
	CU_ASSERT_EQUAL(len_after, len_before);
	CU_ASSERT_EQUAL(memcmp(text, before, len_before), 0);
	/* The numbering did not move. */
	a = disk_intent("KB916846", HP_JOURNAL_APPLY, "/small2");
	CU_ASSERT_EQUAL(hp_journal__append(st, &a), 0);
	CU_ASSERT_EQUAL(a.seq, 2);
	hp_state__close(st);
	free(text);
	free(before);
	free(path);
}

static void bad_records_are_never_written(void)
{
	struct hp_journal_rec a, b, c;
	struct hp_state *st;
	const char *dir;
	hp_print_fn_t old;
	size_t len0, len1;
	char *t;

	st = fresh_state(&dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	a = disk_intent("KB916846", HP_JOURNAL_APPLY, "/a");
	CU_ASSERT_EQUAL_FATAL(hp_journal__append(st, &a), 0);
	t = ts_read_file(ts_join(dir, "journal"), &len0);
	free(t);

	old = ts_capture_start();
	b = disk_intent("KB 916846", HP_JOURNAL_APPLY, "/a"); /* bad package id */
	CU_ASSERT_EQUAL(hp_journal__append(st, &b), -EINVAL);
	b = disk_intent("KB916846", HP_JOURNAL_APPLY, "/a");
	b.step = HP_JOURNAL_DONE;
	b.ref = 42; /* no such intent */
	CU_ASSERT_EQUAL(hp_journal__append(st, &b), -EINVAL);
	b.ref = a.seq;
	b.path = "/elsewhere"; /* another target */
	CU_ASSERT_EQUAL(hp_journal__append(st, &b), -EINVAL);
	b.path = "/a";
	b.action = HP_JOURNAL_ROLLBACK; /* another step */
	CU_ASSERT_EQUAL(hp_journal__append(st, &b), -EINVAL);
	c = live_intent("KB916846", HP_JOURNAL_APPLY, 0, 5); /* no pid */
	CU_ASSERT_EQUAL(hp_journal__append(st, &c), -EINVAL);
	c = live_intent("KB916846", HP_JOURNAL_APPLY, 10, 5);
	c.ndetails = 1;
	c.details[0].key = "pid"; /* a detail may not shadow a field */
	c.details[0].value = "11";
	CU_ASSERT_EQUAL(hp_journal__append(st, &c), -EINVAL);
	hp_set_print(old);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "refusing to write a bad record"));
	t = ts_read_file(ts_join(dir, "journal"), &len1);
	free(t);
	CU_ASSERT_EQUAL(len1, len0);

	/* Closing twice: the second is refused. */
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &a, HP_JOURNAL_DONE, NULL, 0, NULL), 0);
	old = ts_capture_start();
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &a, HP_JOURNAL_ABORTED, NULL, 0, NULL), -EINVAL);
	hp_set_print(old);
	hp_state__close(st);
}

static void refuses_a_symlinked_journal(void)
{
	struct hp_journal_rec a = disk_intent("KB916846", HP_JOURNAL_APPLY, "/a");
	const char *victim = ts_join(ts_tmpdir(), "victim");
	struct hp_journal *j = NULL;
	struct hp_state *st;
	const char *dir;
	hp_print_fn_t old;
	size_t len;
	char *t;

	st = fresh_state(&dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(ts_write_file(victim, "precious\n", 9), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(victim, ts_join(dir, "journal")), 0);
	old = ts_capture_start();
	CU_ASSERT_EQUAL(hp_journal__append(st, &a), -HP_E_STATE);
	CU_ASSERT_EQUAL(hp_journal__read(st, &j), -HP_E_STATE);
	hp_set_print(old);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "symbolic link"));
	hp_state__close(st);
	t = ts_read_file(victim, &len);
	CU_ASSERT_EQUAL(len, 9);
	free(t);
}

/* Is there a record in list for (kind, path or pid+start)? */
static const struct hp_journal_rec *find(const struct hp_journal_rec **list, size_t n,
					 enum hp_journal_kind kind, const char *path, pid_t pid,
					 uint64_t start)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (list[i]->kind != kind)
			continue;
		if (kind == HP_JOURNAL_DISK ? !strcmp(list[i]->path, path)
					    : list[i]->pid == pid && list[i]->start_time == start)
			return list[i];
	}
	return NULL;
}

static void replay_says_what_is_applied_and_unfinished(void)
{
	static const struct hp_journal_detail fa[] = { { "functions", "srv_negotiate_signing" } };
	struct hp_journal_rec r;
	const struct hp_journal_rec **list = NULL;
	struct hp_journal *j = NULL;
	struct hp_state *st;
	size_t n = 0;
	uint64_t a_done = 0;

	st = fresh_state(NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	/* /a: applied, rolled back, applied again. */
	r = disk_intent("KB916846", HP_JOURNAL_APPLY, "/a");
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_DONE, NULL, 0, NULL), 0);
	r = disk_intent("KB916846", HP_JOURNAL_ROLLBACK, "/a");
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_DONE, NULL, 0, NULL), 0);
	r = disk_intent("KB916846", HP_JOURNAL_APPLY, "/a");
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_DONE, fa, 1, &a_done), 0);
	/* /b: applied then rolled back. */
	r = disk_intent("KB916846", HP_JOURNAL_APPLY, "/b");
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_DONE, NULL, 0, NULL), 0);
	r = disk_intent("KB916846", HP_JOURNAL_ROLLBACK, "/b");
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_DONE, NULL, 0, NULL), 0);
	/* /c: started, never finished (a crash). */
	r = disk_intent("KB916846", HP_JOURNAL_APPLY, "/c");
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	/* pid 100 twice: the pid was recycled, the start time tells them apart. */
	r = live_intent("KB916846", HP_JOURNAL_APPLY, 100, 5000);
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_DONE, NULL, 0, NULL), 0);
	r = live_intent("KB916846", HP_JOURNAL_APPLY, 100, 7000);
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_DONE, NULL, 0, NULL), 0);
	/* pid 200: failed; pid 300: aborted by recovery; pid 400 rollback started. */
	r = live_intent("KB916846", HP_JOURNAL_APPLY, 200, 1);
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_FAILED, NULL, 0, NULL), 0);
	r = live_intent("KB916846", HP_JOURNAL_APPLY, 300, 1);
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_ABORTED, NULL, 0, NULL), 0);
	r = live_intent("KB916846", HP_JOURNAL_ROLLBACK, 100, 5000);
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	/* A process started at tick 0. */
	r = live_intent("KB916846", HP_JOURNAL_APPLY, 1, 0);
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_DONE, NULL, 0, NULL), 0);
	/* Another package on /b. */
	r = disk_intent("KB999999", HP_JOURNAL_APPLY, "/b");
	CU_ASSERT_EQUAL(hp_journal__append(st, &r), 0);
	CU_ASSERT_EQUAL(hp_journal__append_step(st, &r, HP_JOURNAL_DONE, NULL, 0, NULL), 0);

	CU_ASSERT_EQUAL_FATAL(hp_journal__read(st, &j), 0);
	hp_state__close(st);

	CU_ASSERT_EQUAL(hp_journal__applied(j, &list, &n), 0);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_PTR_NOT_NULL(find(list, n, HP_JOURNAL_LIVE, NULL, 1, 0));
	CU_ASSERT_PTR_NOT_NULL(find(list, n, HP_JOURNAL_DISK, "/a", 0, 0));
	if (find(list, n, HP_JOURNAL_DISK, "/a", 0, 0)) {
		const struct hp_journal_rec *ra = find(list, n, HP_JOURNAL_DISK, "/a", 0, 0);

		CU_ASSERT_EQUAL(ra->seq, a_done);
		CU_ASSERT_STRING_EQUAL(hp_journal_rec__detail(ra, "functions"),
				       "srv_negotiate_signing");
	}
	CU_ASSERT_PTR_NOT_NULL(find(list, n, HP_JOURNAL_LIVE, NULL, 100, 5000));
	CU_ASSERT_PTR_NOT_NULL(find(list, n, HP_JOURNAL_LIVE, NULL, 100, 7000));
	CU_ASSERT_PTR_NULL(find(list, n, HP_JOURNAL_LIVE, NULL, 200, 1));
	CU_ASSERT_PTR_NULL(find(list, n, HP_JOURNAL_LIVE, NULL, 300, 1));
	CU_ASSERT_PTR_NULL(find(list, n, HP_JOURNAL_DISK, "/c", 0, 0));
	{
		const struct hp_journal_rec *rb = find(list, n, HP_JOURNAL_DISK, "/b", 0, 0);

		CU_ASSERT_PTR_NOT_NULL(rb);
		if (rb)
			CU_ASSERT_STRING_EQUAL(rb->package, "KB999999");
	}
	free(list);

	CU_ASSERT_EQUAL(hp_journal__unfinished(j, &list, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_PTR_NOT_NULL(find(list, n, HP_JOURNAL_DISK, "/c", 0, 0));
	{
		const struct hp_journal_rec *rl = find(list, n, HP_JOURNAL_LIVE, NULL, 100, 5000);

		CU_ASSERT_PTR_NOT_NULL(rl);
		if (rl)
			CU_ASSERT_EQUAL(rl->action, HP_JOURNAL_ROLLBACK);
	}
	free(list);
	hp_journal__free(j);
}

static void a_process_is_named_by_pid_and_start(void)
{
	uint64_t self = 0, child_start = 0, again = 0;
	int ready[2], status;
	char *cmd = NULL, *out = NULL, c;
	pid_t child;

	/* Our own, against what the kernel shows (our name has no spaces). */
	CU_ASSERT_EQUAL_FATAL(hp_journal__proc_start(getpid(), &self), 0);
	CU_ASSERT(asprintf(&cmd, "awk '{print $22}' /proc/%d/stat", (int)getpid()) > 0);
	CU_ASSERT_EQUAL(ts_sh(cmd, &out, NULL), 0);
	CU_ASSERT_EQUAL(strtoull(out ? out : "0", NULL, 10), self);
	free(cmd);
	free(out);

	/* A process whose name holds spaces and parentheses, started after us. */
	CU_ASSERT_EQUAL_FATAL(pipe(ready), 0);
	child = fork();
	CU_ASSERT_FATAL(child >= 0);
	if (child == 0) {
		prctl(PR_SET_NAME, "a) b (c 9 9", 0, 0, 0);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CU_ASSERT_EQUAL(read(ready[0], &c, 1), 1);
	CU_ASSERT_EQUAL(hp_journal__proc_start(child, &child_start), 0);
	CU_ASSERT(child_start >= self);
	CU_ASSERT_EQUAL(hp_journal__proc_start(child, &again), 0);
	CU_ASSERT_EQUAL(again, child_start);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	/* Gone: said as such. */
	CU_ASSERT_EQUAL(hp_journal__proc_start(child, &again), -ESRCH);
	CU_ASSERT_EQUAL(hp_journal__proc_start(0, &again), -EINVAL);
	close(ready[0]);
	close(ready[1]);
}

static void names_are_stable(void)
{
	CU_ASSERT_STRING_EQUAL(hp_journal_action__str(HP_JOURNAL_APPLY), "apply");
	CU_ASSERT_STRING_EQUAL(hp_journal_action__str(HP_JOURNAL_ROLLBACK), "rollback");
	CU_ASSERT_STRING_EQUAL(hp_journal_kind__str(HP_JOURNAL_DISK), "disk");
	CU_ASSERT_STRING_EQUAL(hp_journal_kind__str(HP_JOURNAL_LIVE), "live");
	CU_ASSERT_STRING_EQUAL(hp_journal_step__str(HP_JOURNAL_INTENT), "intent");
	CU_ASSERT_STRING_EQUAL(hp_journal_step__str(HP_JOURNAL_DONE), "done");
	CU_ASSERT_STRING_EQUAL(hp_journal_step__str(HP_JOURNAL_FAILED), "failed");
	CU_ASSERT_STRING_EQUAL(hp_journal_step__str(HP_JOURNAL_ABORTED), "aborted");
	CU_ASSERT_PTR_NULL(hp_journal_step__str((enum hp_journal_step)0));
	CU_ASSERT_PTR_NULL(hp_journal_step__str((enum hp_journal_step)99));
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "records are written, fsync'd and read back", write_and_read_back },
		{ "a torn last line is reported, then cut by the next writer",
		  torn_last_line_is_reported_then_cut },
		{ "malformed lines are errors naming the line", malformed_lines_are_named },
		{ "a corrupt journal stops readers and writers, untouched",
		  corrupt_journal_on_disk_stops_writers_and_readers },
		{ "line length is bounded on read and write", line_length_is_bounded },
		{ "bad records are never written", bad_records_are_never_written },
		{ "refuses a symlinked journal", refuses_a_symlinked_journal },
		{ "replay: applied per target, unfinished intents",
		  replay_says_what_is_applied_and_unfinished },
		{ "a process is named by pid and start time", a_process_is_named_by_pid_and_start },
		{ "names of actions, kinds, steps", names_are_stable },
		{ NULL, NULL },
	};

	ts_add_suite("journal", tests);
}
