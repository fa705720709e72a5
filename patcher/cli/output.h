/* The CLI's output layer, shared by every command.
 *
 * With --json a command builds one document through the out_* calls and
 * emits it once at the end (always carrying "changed"); without it, the
 * text helpers print aligned "key: value" lines. The JSON library stays
 * behind this interface: commands see only struct out_node handles.
 */
#ifndef HP_CLI_OUTPUT_H
#define HP_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUT_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* A JSON object or array under construction. Handles stay valid until
 * out_emit() or out_discard(). */
struct out_node;

/* The document's root object (created on first use). */
struct out_node *out_root(void);

/* A new object or array added to parent: under key when parent is an
 * object, appended when parent is an array (key ignored). NULL only when
 * out of memory; every out_* call accepts a NULL node and does nothing. */
struct out_node *out_object(struct out_node *parent, const char *key);
struct out_node *out_array(struct out_node *parent, const char *key);

/* The last element of an array, or NULL when it is empty or not an array. */
struct out_node *out_last(struct out_node *array);

/* Members (or array elements when parent is an array). A NULL string is
 * JSON null. out_hex writes the number as a "0x..." string, the form used
 * for addresses. */
void out_str(struct out_node *parent, const char *key, const char *val);
void out_strf(struct out_node *parent, const char *key, const char *fmt, ...) OUT_PRINTF(3, 4);
void out_int(struct out_node *parent, const char *key, long long val);
void out_uint(struct out_node *parent, const char *key, uint64_t val);
void out_hex(struct out_node *parent, const char *key, uint64_t val);
void out_bool(struct out_node *parent, const char *key, bool val);
void out_null(struct out_node *parent, const char *key);

/* Print the document on stdout (indented, members in insertion order) with
 * "changed" set, then free it. Returns 0, or -EIO when stdout fails. */
int out_emit(bool changed);

/* Drop the document without printing it. */
void out_discard(void);

/* Text: "  key:<padding> value" with key padded to width. */
void out_text_kv(int width, const char *key, const char *fmt, ...) OUT_PRINTF(3, 4);

/* Progress of a run over many targets (apply, rollback): on a terminal, one
 * line on stderr redrawn in place, at most ten times a second ("apply:
 * 120/1000 processes, 2 failed"); when stderr is not a terminal, or with
 * --json, nothing at all, so logs and pipes get only the report's own
 * lines. Runs of fewer than OUT_PROGRESS_MIN targets show nothing either.
 * A command calls out_progress_hide() before printing a report line and
 * out_progress_update() after it; out_progress_end() erases the line. */
#define OUT_PROGRESS_MIN 8

void out_progress_begin(const char *what, const char *unit, size_t total);
void out_progress_update(size_t done, size_t failed);
void out_progress_hide(void);
void out_progress_end(void);

#endif /* HP_CLI_OUTPUT_H */
