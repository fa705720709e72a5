/* The state directory: private creation, the refusals that keep another
 * user from redirecting or forging what hotpatch writes there, and the
 * backups kept in it. Real directories, files, owners and modes. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "support.h"

/* Open dir expecting a refusal with err, and a message containing want. */
static void expect_refusal(const char *dir, int err, const char *want)
{
	hp_print_fn_t old = ts_capture_start();
	struct hp_state *st;

	ts_messages[0] = '\0';
	st = hp_state__open(dir, 0, 0);
	hp_set_print(old);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_EQUAL(errno, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, dir));
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, want));
	if (!strstr(ts_messages, want))
		fprintf(stderr, "message was: %s", ts_messages);
	hp_state__close(st);
}

static void creates_a_private_directory(void)
{
	const char *dir = ts_join(ts_tmpdir(), "state");
	struct hp_state *st;
	struct stat sb;
	mode_t old_umask = umask(0);

	st = hp_state__open(dir, 0, 0);
	umask(old_umask);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_STRING_EQUAL(hp_state__path(st), dir);
	CU_ASSERT_EQUAL_FATAL(lstat(dir, &sb), 0);
	CU_ASSERT(S_ISDIR(sb.st_mode));
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0700);
	CU_ASSERT_EQUAL(sb.st_uid, geteuid());
	/* The lock file is there and private too. */
	CU_ASSERT_EQUAL(stat(ts_join(dir, "lock"), &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	hp_state__close(st);

	/* Opened again: the same directory, accepted. */
	st = hp_state__open(dir, 0, 0);
	CU_ASSERT_PTR_NOT_NULL(st);
	hp_state__close(st);
}

static void default_dir_comes_from_the_environment(void)
{
	const char *saved = getenv(HP_STATE_DIR_ENV);
	char *keep = saved ? strdup(saved) : NULL;

	unsetenv(HP_STATE_DIR_ENV);
	CU_ASSERT_STRING_EQUAL(hp_state__default_dir(), "/var/lib/hotpatch");
	setenv(HP_STATE_DIR_ENV, "", 1);
	CU_ASSERT_STRING_EQUAL(hp_state__default_dir(), "/var/lib/hotpatch");
	setenv(HP_STATE_DIR_ENV, "/somewhere/else", 1);
	CU_ASSERT_STRING_EQUAL(hp_state__default_dir(), "/somewhere/else");
	if (keep)
		setenv(HP_STATE_DIR_ENV, keep, 1);
	else
		unsetenv(HP_STATE_DIR_ENV);
	free(keep);
}

static void env_dir_is_used_when_none_is_given(void)
{
	const char *dir = ts_join(ts_tmpdir(), "from-env");
	struct hp_state *st;
	struct stat sb;

	setenv(HP_STATE_DIR_ENV, dir, 1);
	st = hp_state__open(NULL, 0, 0);
	unsetenv(HP_STATE_DIR_ENV);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_STRING_EQUAL(hp_state__path(st), dir);
	CU_ASSERT_EQUAL(stat(dir, &sb), 0);
	hp_state__close(st);
}

static void refuses_a_symlink(void)
{
	const char *tmp = ts_tmpdir();
	const char *real = ts_join(tmp, "real");
	const char *link = ts_join(tmp, "link");

	CU_ASSERT_EQUAL_FATAL(mkdir(real, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(real, link), 0);
	expect_refusal(link, HP_E_STATE, "symbolic link");
	/* Nothing was created through the link. */
	CU_ASSERT_NOT_EQUAL(access(ts_join(tmp, "real/lock"),
				   F_OK), 0);
}

static void refuses_a_file(void)
{
	const char *file = ts_join(ts_tmpdir(), "file");

	CU_ASSERT_EQUAL_FATAL(ts_write_file(file, "x", 1), 0);
	expect_refusal(file, HP_E_STATE, "not a directory");
}

static void refuses_group_or_other_writable(void)
{
	const char *tmp = ts_tmpdir();
	const char *g = ts_join(tmp, "g");
	const char *o = ts_join(tmp, "o");

	CU_ASSERT_EQUAL_FATAL(mkdir(g, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(g, 0770), 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(o, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(o, 01777), 0);
	expect_refusal(g, HP_E_STATE, "writable by group or others");
	expect_refusal(o, HP_E_STATE, "writable by group or others");
	CU_ASSERT_NOT_EQUAL(access(ts_join(tmp, "g/lock"),
				   F_OK), 0);
}

static void refuses_someone_elses(void)
{
	const char *dir = ts_join(ts_tmpdir(), "theirs");

	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	if (geteuid() != 0) {
		/* Only root can give a directory away; the check itself is
		 * covered by every other user's directory, e.g. "/". */
		expect_refusal("/", HP_E_STATE, "owned by uid");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(chown(dir, 65534, 65534), 0);
	expect_refusal(dir, HP_E_STATE, "owned by uid 65534");
}

static void refuses_a_symlinked_lock_file(void)
{
	const char *dir = ts_join(ts_tmpdir(), "state");
	const char *victim = ts_join(ts_tmpdir(), "victim");
	struct stat sb;
	char *lock;

	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(victim, "keep", 4), 0);
	CU_ASSERT_FATAL(asprintf(&lock, "%s/lock", dir) > 0);
	CU_ASSERT_EQUAL_FATAL(symlink(victim, lock), 0);
	expect_refusal(dir, HP_E_STATE, "symbolic link");
	CU_ASSERT_EQUAL(stat(victim, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_size, 4);
	free(lock);
}

static void refuses_a_symlinked_backups_directory(void)
{
	const char *tmp = ts_tmpdir();
	const char *dir = ts_join(tmp, "state"), *elsewhere = ts_join(tmp, "elsewhere");
	const char *file = ts_join(tmp, "file");
	struct hp_state *st;
	hp_print_fn_t old;
	char sha[65];
	int fd;

	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(elsewhere, 0700), 0);
	CU_ASSERT_EQUAL_FATAL(symlink(elsewhere, ts_join(dir, "backups")), 0);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(file, "original", 8), 0);
	st = hp_state__open(dir, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	fd = open(file, O_RDONLY);
	old = ts_capture_start();
	ts_messages[0] = '\0';
	CU_ASSERT_EQUAL(hp_backup__store(st, fd, file, NULL, sha), -HP_E_STATE);
	hp_set_print(old);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "backups"));
	close(fd);
	hp_state__close(st);
	/* Nothing was written through the link. */
	{
		char *cmd = NULL;
		char *out = NULL;

		CU_ASSERT(asprintf(&cmd, "ls -A '%s' | wc -l", elsewhere) > 0);
		CU_ASSERT_EQUAL(ts_sh(cmd, &out, NULL), 0);
		CU_ASSERT_EQUAL(atoi(out ? out : "1"), 0);
		free(cmd);
		free(out);
	}
}

static void read_only_open_of_a_missing_directory_is_empty(void)
{
	const char *dir = ts_join(ts_tmpdir(), "never-created");
	struct hp_journal *j = NULL;
	struct hp_state *st;
	char **names = NULL;
	size_t n = 1;

	st = hp_state__open(dir, HP_STATE_READ_ONLY, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_NOT_EQUAL(access(dir, F_OK), 0);
	CU_ASSERT_EQUAL(hp_journal__read(st, &j), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(hp_journal__count(j), 0);
	CU_ASSERT_EQUAL(hp_backup__list(st, &names, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* And it writes nothing. */
	{
		hp_print_fn_t old = hp_set_print(NULL);
		struct hp_journal_rec r = { .package = "KB916846", .action = HP_JOURNAL_APPLY,
					    .kind = HP_JOURNAL_DISK, .step = HP_JOURNAL_INTENT,
					    .path = "/x" };

		CU_ASSERT_EQUAL(hp_journal__append(st, &r), -HP_E_STATE);
		hp_set_print(old);
	}
	hp_journal__free(j);
	hp_state__close(st);
	CU_ASSERT_NOT_EQUAL(access(dir, F_OK), 0);
}

/* A file of n pseudo-random bytes, its content in *data. */
static const char *make_file(const char *dir, const char *name, size_t n, unsigned int seed,
			     char **data)
{
	const char *path = ts_join(dir, name);
	char *buf = malloc(n);
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (char)(seed >> 16);
	}
	CU_ASSERT_EQUAL(ts_write_file(path, buf, n), 0);
	*data = buf;
	return path;
}

static void backups_round_trip(void)
{
	const char *tmp = ts_tmpdir();
	const char *dir = ts_join(tmp, "state");
	char sha[65], sha2[65], want[65], *orig, *patched, *back, **names = NULL;
	const char *target, *other;
	struct hp_state *st;
	struct stat sb;
	size_t n = 0, len;
	int fd;

	target = make_file(tmp, "target", 300000, 1, &orig);
	other = make_file(tmp, "other", 5000, 2, &patched);
	CU_ASSERT_EQUAL_FATAL(chmod(target, 0751), 0);
	CU_ASSERT_EQUAL(hp_sha256_buf(orig, 300000, want), 0);

	st = hp_state__open(dir, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	fd = open(target, O_RDONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(hp_backup__store(st, fd, target, want, sha), 0);
	CU_ASSERT_STRING_EQUAL(sha, want);
	/* Stored again: the same backup, kept. */
	CU_ASSERT_EQUAL(hp_backup__store(st, fd, target, NULL, sha2), 0);
	CU_ASSERT_STRING_EQUAL(sha2, want);
	close(fd);
	CU_ASSERT_EQUAL(hp_backup__verify(st, sha), 0);
	CU_ASSERT_EQUAL(hp_backup__list(st, &names, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(names[0], sha);
	hp_backup__free_list(names, n);

	/* The target is "patched" (replaced by other content), then restored
	 * from the backup: byte for byte, and with its own mode kept. */
	CU_ASSERT_EQUAL(ts_write_file(target, patched, 5000), 0);
	CU_ASSERT_EQUAL(hp_backup__restore(st, sha, target, NULL), 0);
	back = ts_read_file(target, &len);
	CU_ASSERT_EQUAL_FATAL(len, 300000);
	CU_ASSERT_EQUAL(memcmp(back, orig, len), 0);
	CU_ASSERT_EQUAL(stat(target, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0751);
	free(back);

	/* A content other than expected: refused, nothing changed. */
	{
		hp_print_fn_t old = ts_capture_start();
		char other_sha[65];

		ts_messages[0] = '\0';
		CU_ASSERT_EQUAL(hp_sha256_buf(patched, 5000, other_sha), 0);
		CU_ASSERT_EQUAL(hp_backup__restore(st, sha, target, other_sha), -HP_E_MISMATCH);
		CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, target));
		fd = open(other, O_RDONLY);
		CU_ASSERT_EQUAL(hp_backup__store(st, fd, other, want, sha2), -HP_E_MISMATCH);
		close(fd);
		hp_set_print(old);
	}
	back = ts_read_file(target, &len);
	CU_ASSERT_EQUAL(len, 300000);
	free(back);

	CU_ASSERT_EQUAL(hp_backup__remove(st, sha), 0);
	CU_ASSERT_EQUAL(hp_backup__list(st, &names, &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	hp_backup__free_list(names, n);
	{
		hp_print_fn_t old = hp_set_print(NULL);

		CU_ASSERT_EQUAL(hp_backup__verify(st, sha), -ENOENT);
		CU_ASSERT_EQUAL(hp_backup__remove(st, sha), -ENOENT);
		CU_ASSERT_EQUAL(hp_backup__verify(st, "../../etc/passwd"), -EINVAL);
		hp_set_print(old);
	}
	hp_state__close(st);
	free(orig);
	free(patched);
}

static void corrupted_backup_is_detected(void)
{
	const char *tmp = ts_tmpdir();
	const char *dir = ts_join(tmp, "state");
	char sha[65], *orig, *patched, *bpath, *now;
	const char *target;
	hp_print_fn_t old;
	struct hp_state *st;
	size_t len;
	int fd, bfd;

	target = make_file(tmp, "target", 70000, 3, &orig);
	st = hp_state__open(dir, 0, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	fd = open(target, O_RDONLY);
	CU_ASSERT_EQUAL_FATAL(hp_backup__store(st, fd, target, NULL, sha), 0);
	close(fd);

	/* Flip one byte of the backup, as a bad disk would. */
	CU_ASSERT_FATAL(asprintf(&bpath, "%s/backups/%s", dir, sha) > 0);
	bfd = open(bpath, O_RDWR);
	CU_ASSERT_FATAL(bfd >= 0);
	CU_ASSERT_EQUAL(pwrite(bfd, "\xff", 1, 12345), 1);
	close(bfd);

	make_file(tmp, "target", 900, 4, &patched);
	old = ts_capture_start();
	ts_messages[0] = '\0';
	CU_ASSERT_EQUAL(hp_backup__verify(st, sha), -HP_E_MISMATCH);
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, "corrupted"));
	CU_ASSERT_PTR_NOT_NULL(strstr(ts_messages, sha));
	CU_ASSERT_EQUAL(hp_backup__open(st, sha), -HP_E_MISMATCH);
	CU_ASSERT_EQUAL(hp_backup__restore(st, sha, target, NULL), -HP_E_MISMATCH);
	hp_set_print(old);
	/* The target was left alone. */
	now = ts_read_file(target, &len);
	CU_ASSERT_EQUAL(len, 900);
	CU_ASSERT_EQUAL(memcmp(now, patched, 900), 0);
	free(now);

	/* Storing the original again repairs the backup. */
	CU_ASSERT_EQUAL(ts_write_file(target, orig, 70000), 0);
	fd = open(target, O_RDONLY);
	old = hp_set_print(NULL);
	CU_ASSERT_EQUAL(hp_backup__store(st, fd, target, NULL, sha), 0);
	hp_set_print(old);
	close(fd);
	CU_ASSERT_EQUAL(hp_backup__verify(st, sha), 0);
	hp_state__close(st);
	free(bpath);
	free(orig);
	free(patched);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "creates a private state directory", creates_a_private_directory },
		{ "default directory, and HOTPATCH_STATE_DIR", default_dir_comes_from_the_environment },
		{ "HOTPATCH_STATE_DIR is used when no directory is given",
		  env_dir_is_used_when_none_is_given },
		{ "refuses a symlinked state directory", refuses_a_symlink },
		{ "refuses a file instead of a directory", refuses_a_file },
		{ "refuses a group- or other-writable directory", refuses_group_or_other_writable },
		{ "refuses a directory owned by someone else", refuses_someone_elses },
		{ "refuses a symlinked lock file", refuses_a_symlinked_lock_file },
		{ "refuses a symlinked backups directory", refuses_a_symlinked_backups_directory },
		{ "read-only open of a missing directory reads empty",
		  read_only_open_of_a_missing_directory_is_empty },
		{ "backups: store, verify, list, restore, remove", backups_round_trip },
		{ "backups: a corrupted backup is detected, never restored",
		  corrupted_backup_is_detected },
		{ NULL, NULL },
	};

	ts_add_suite("state", tests);
}
