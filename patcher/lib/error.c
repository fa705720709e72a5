/* Error names and the print callback.
 *
 * Every message of the library goes through hp_print(), so the CLI (or any
 * other user) decides where it goes; nothing in the library writes to a
 * stream directly.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hotpatch.h"
#include "internal.h"

static const char *const hp_error_names[HP_E_END - HP_E_BASE] = {
	[HP_E_FORMAT - HP_E_BASE] = "malformed input",
	[HP_E_NOT_FOUND - HP_E_BASE] = "not found",
	[HP_E_NOT_ELIGIBLE - HP_E_BASE] = "version not eligible for this patch",
	[HP_E_MISMATCH - HP_E_BASE] = "content or identity does not match what was checked",
	[HP_E_SIGNATURE - HP_E_BASE] = "signature verification failed",
	[HP_E_UNPATCHABLE - HP_E_BASE] = "function cannot be patched",
	[HP_E_BUSY - HP_E_BASE] = "busy: a thread is inside code being replaced",
	[HP_E_TOO_BIG - HP_E_BASE] = "size beyond its limit",
	[HP_E_RELOC - HP_E_BASE] = "relocation cannot be resolved",
	[HP_E_STATE - HP_E_BASE] = "inconsistent state",
	[HP_E_ALREADY - HP_E_BASE] = "already applied",
	[HP_E_NOT_APPLIED - HP_E_BASE] = "not applied",
	[HP_E_PROCESS - HP_E_BASE] = "process cannot be controlled",
	[HP_E_UNSUPPORTED - HP_E_BASE] = "not supported",
	[HP_E_LOCKED - HP_E_BASE] = "another hotpatch run holds the lock",
	[HP_E_PRIVILEGE - HP_E_BASE] = "insufficient privilege",
};

const char *hp_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err > HP_E_BASE && err < HP_E_END)
		return hp_error_names[err - HP_E_BASE];
	return strerror(err);
}

static int default_print(enum hp_print_level level, const char *fmt, va_list ap)
{
	if (level != HP_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static hp_print_fn_t hp_print_fn = default_print;

hp_print_fn_t hp_set_print(hp_print_fn_t fn)
{
	hp_print_fn_t old = hp_print_fn;

	hp_print_fn = fn;
	return old;
}

void hp_print(enum hp_print_level level, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (!hp_print_fn)
		return;
	va_start(ap, fmt);
	hp_print_fn(level, fmt, ap);
	va_end(ap);
	errno = saved;
}
