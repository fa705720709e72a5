/* What the test programs share: paths into the build, running commands
 * and processes, temporary directories, loopback ports. */
#ifndef HP_TEST_SUPPORT_H
#define HP_TEST_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <CUnit/CUnit.h>

#include "hotpatch.h"

/* Defined by each test program: add its suites to the CUnit registry. */
void test_register(void);

/* Add a suite with the given tests ({name, fn} pairs ending in {NULL, NULL}). */
struct ts_test {
	const char *name;
	void (*fn)(void);
};
void ts_add_suite(const char *name, const struct ts_test *tests);

/* The build directory ($HP_BUILD_DIR, absolute) and the source tree
 * ($HP_SRC_DIR). */
const char *ts_build_dir(void);
const char *ts_src_dir(void);

/* A path under the build directory, formatted; the string lives until
 * ts_cleanup(). */
const char *ts_build_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A fresh directory under the build's tmp/, removed at ts_cleanup() unless
 * HP_KEEP_TMP is set. */
const char *ts_tmpdir(void);

/* Run argv (NULL-terminated) to completion, optionally with stdin from
 * in_text. Output goes to *out and *err (malloc'd, NUL-terminated) when those
 * are not NULL. Returns the exit status, 128+signal when killed, -1 on error. */
int ts_run(char *const argv[], const char *in_text, char **out, char **err);

/* Same, through "sh -c cmd". */
int ts_sh(const char *cmd, char **out, char **err);

/* Run a formatted shell command line; *rc gets its status (as ts_run).
 * Returns stdout and stderr together (malloc'd), and echoes all of it on
 * stderr for the test log. */
char *ts_run_cmd(const char *fmt, int *rc, ...) __attribute__((format(printf, 1, 3)));

/* Start argv in the background, stdout and stderr to log (or /dev/null). */
pid_t ts_spawn(char *const argv[], const char *log);

/* SIGTERM, then wait up to timeout_ms (SIGKILL after). Returns the exit
 * status, 128+signal when killed, -1 on error. */
int ts_stop(pid_t pid, int timeout_ms);

/* A free TCP port on 127.0.0.1 (bind to 0 and read it back). */
int ts_free_port(void);

/* Wait until something accepts on 127.0.0.1:port. */
bool ts_wait_port(int port, int timeout_ms);

/* Whole file contents, malloc'd and NUL-terminated; *len if not NULL. */
char *ts_read_file(const char *path, size_t *len);
int ts_write_file(const char *path, const void *data, size_t len);

/* Warnings of the library captured since ts_capture_start(), which
 * returns the previous print callback (give it back to hp_set_print). */
extern char ts_messages[16384];
hp_print_fn_t ts_capture_start(void);

/* dir/name; the string lives until ts_cleanup(). */
const char *ts_join(const char *dir, const char *name);
const char *ts_build_path_raw(const char *dir, const char *name);

/* The targets' own suites run on the build's files, and again (make check's
 * "[cold]" entries) on cold-patched copies installed below $HP_TARGET_ROOT
 * (tests/support/targets.c). ts_target_root() is that root, NULL when unset.
 * ts_target("srv"|"smbcli"|"libmrxsmb.so") is the file to run: below the root
 * at usr/sbin/srv, usr/bin/smbcli, usr/lib/libmrxsmb.so, else the build's
 * bin/srv, bin/smbcli, lib/libmrxsmb.so (lives until ts_cleanup(); NULL for
 * an unknown name). */
const char *ts_target_root(void);
const char *ts_target(const char *name);

/* Whether the file at path carries a cold patch's record: 1 (the package id
 * copied into package when not NULL), 0 not, -1 unreadable or malformed. */
int ts_cold_patched(const char *path, char *package, size_t size);

/* The file process pid maps whose name is name ("libmrxsmb.so"), as
 * /proc/PID/maps names it (malloc'd), or NULL if it maps none. */
char *ts_mapped_file(pid_t pid, const char *name);

/* Check (CUnit assertions) that process pid, started from ts_target(), maps
 * the file ts_target(name) is (waiting up to 5 s for it to be loaded), and,
 * under a target root, that srv and libmrxsmb.so are cold-patched by
 * KB916846. Returns whether the mapped file is cold-patched, from which the
 * suites derive the outcomes the matrix's rule gives. */
bool ts_target_process(pid_t pid, const char *name);

/* Remove temporary directories and free paths. Called by the harness. */
void ts_cleanup(void);

/* The matrix runner (tests/matrix/run-matrix.sh): the article's table,
 * one run with the patched side obtained by patch (full, live, disk,
 * replace) against expect (status as ts_run), and the assertion that such
 * a run prints exactly the article's table and exits 0. */
const char *ts_matrix_table(void);
int ts_matrix_run(const char *patch, const char *expect, char **out, char **err);
void ts_matrix_equals_article(const char *patch);

#endif
