/* Capturing the library's warnings, so a test can assert that a refusal
 * names its object and cause. */
#include <stdio.h>
#include <string.h>

#include "support.h"

char ts_messages[16384];

static int capture(enum hp_print_level level, const char *fmt, va_list ap)
{
	size_t used = strlen(ts_messages);

	if (level != HP_WARN)
		return 0;
	return vsnprintf(ts_messages + used, sizeof(ts_messages) - used, fmt, ap);
}

hp_print_fn_t ts_capture_start(void)
{
	ts_messages[0] = '\0';
	return hp_set_print(capture);
}

const char *ts_join(const char *dir, const char *name)
{
	return ts_build_path_raw(dir, name);
}
