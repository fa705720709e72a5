/* Helpers shared by the modules of libhotpatch; not part of the public API. */
#ifndef HP_INTERNAL_H
#define HP_INTERNAL_H

#include "hotpatch.h"

#if defined(__GNUC__)
#define HP_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HP_PRINTF(a, b)
#endif

void hp_print(enum hp_print_level level, const char *fmt, ...) HP_PRINTF(2, 3);

/* Messages name the subsystem first: "elf: /path: section 12: invalid header". */
#define pr_warn(fmt, ...) hp_print(HP_WARN, fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...) hp_print(HP_INFO, fmt "\n", ##__VA_ARGS__)
#define pr_debug(fmt, ...) hp_print(HP_DEBUG, fmt "\n", ##__VA_ARGS__)

/* Fault injection (fault.c): SIGKILL this process if HOTPATCH_FAULT names step. */
void fault_point(const char *step);

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* HP_INTERNAL_H */
