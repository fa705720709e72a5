/* The CLI's output layer: one JSON document per run (--json), or text.
 *
 * A thin wrapper over jansson so that the commands build their reports with
 * a handful of calls and no JSON types; the root document lives here until
 * out_emit() prints it, so a command cannot print two documents or forget
 * "changed".
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "output.h"

static json_t *root;

/* out_node is never defined: handles are json_t pointers in disguise. */
static json_t *J(struct out_node *n)
{
	return (json_t *)n;
}

struct out_node *out_root(void)
{
	if (!root)
		root = json_object();
	return (struct out_node *)root;
}

/* Attach val under key (object) or at the end (array); takes val. */
static json_t *put(struct out_node *parent, const char *key, json_t *val)
{
	json_t *p = J(parent);

	if (!p || !val) {
		json_decref(val);
		return NULL;
	}
	if (json_is_array(p)) {
		if (json_array_append_new(p, val) < 0)
			return NULL;
	} else if (json_object_set_new(p, key, val) < 0) {
		return NULL;
	}
	return val;
}

struct out_node *out_object(struct out_node *parent, const char *key)
{
	return (struct out_node *)put(parent, key, json_object());
}

struct out_node *out_array(struct out_node *parent, const char *key)
{
	return (struct out_node *)put(parent, key, json_array());
}

struct out_node *out_last(struct out_node *array)
{
	json_t *a = J(array);
	size_t n = json_is_array(a) ? json_array_size(a) : 0;

	return n ? (struct out_node *)json_array_get(a, n - 1) : NULL;
}

void out_str(struct out_node *parent, const char *key, const char *val)
{
	put(parent, key, val ? json_string(val) : json_null());
}

void out_strf(struct out_node *parent, const char *key, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s)
		put(parent, key, json_string(s));
	free(s);
}

void out_int(struct out_node *parent, const char *key, long long val)
{
	put(parent, key, json_integer(val));
}

void out_uint(struct out_node *parent, const char *key, uint64_t val)
{
	/* JSON integers are signed 64-bit here; larger values stay exact as
	 * strings rather than wrapping. */
	if (val > (uint64_t)INT64_MAX)
		out_strf(parent, key, "%" PRIu64, val);
	else
		put(parent, key, json_integer((json_int_t)val));
}

void out_hex(struct out_node *parent, const char *key, uint64_t val)
{
	out_strf(parent, key, "0x%" PRIx64, val);
}

void out_bool(struct out_node *parent, const char *key, bool val)
{
	put(parent, key, json_boolean(val));
}

void out_null(struct out_node *parent, const char *key)
{
	put(parent, key, json_null());
}

int out_emit(bool changed)
{
	int err = 0;

	out_bool(out_root(), "changed", changed);
	if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		err = -EIO;
	if (fputc('\n', stdout) == EOF || fflush(stdout) == EOF)
		err = -EIO;
	out_discard();
	return err;
}

void out_discard(void)
{
	json_decref(root);
	root = NULL;
}

void out_text_kv(int width, const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("  %s:%*s ", key, width > (int)strlen(key) ? width - (int)strlen(key) : 0, "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Progress: one line on a terminal, redrawn in place; nothing otherwise. */
static struct {
	bool on;             /* drawing: stderr is a terminal, no --json, enough targets */
	bool shown;          /* the line is on the screen now */
	const char *what;    /* command, "apply" */
	const char *unit;    /* what is counted, "processes" */
	size_t total;        /* targets in the run */
	size_t done;         /* targets finished */
	size_t failed;       /* of which failed */
	struct timespec last; /* CLOCK_MONOTONIC of the last draw */
} progress;

static void progress_draw(void)
{
	fprintf(stderr, "\r\033[K%s: %zu/%zu %s", progress.what, progress.done, progress.total,
		progress.unit);
	if (progress.failed)
		fprintf(stderr, ", %zu failed", progress.failed);
	fflush(stderr);
	progress.shown = true;
	clock_gettime(CLOCK_MONOTONIC, &progress.last);
}

void out_progress_begin(const char *what, const char *unit, size_t total)
{
	memset(&progress, 0, sizeof(progress));
	progress.on = !cli_json && total >= OUT_PROGRESS_MIN && isatty(STDERR_FILENO);
	progress.what = what;
	progress.unit = unit;
	progress.total = total;
	if (progress.on)
		progress_draw();
}

void out_progress_update(size_t done, size_t failed)
{
	struct timespec now;
	int64_t ms;

	progress.done = done;
	progress.failed = failed;
	if (!progress.on)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - progress.last.tv_sec) * 1000 +
	     (now.tv_nsec - progress.last.tv_nsec) / 1000000;
	/* Redrawing on every target would cost more than patching it. */
	if (!progress.shown || ms >= 100 || done == progress.total)
		progress_draw();
}

void out_progress_hide(void)
{
	if (!progress.on || !progress.shown)
		return;
	/* stdout and stderr share the terminal: the report line must not
	 * land after the progress text. */
	fflush(stdout);
	fputs("\r\033[K", stderr);
	fflush(stderr);
	progress.shown = false;
}

void out_progress_end(void)
{
	out_progress_hide();
	progress.on = false;
}
