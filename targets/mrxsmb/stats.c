/* Client statistics. Builds differ here, as vendor builds do: 1830 counts
 * requests per command, 2697 adds byte counts and the slowest request. The
 * file links before the negotiation code, so the code that follows sits at
 * a different address in each build. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mrx_stats.h"

struct mrx_stats mrx_stats;

void mrx_stats_request(uint8_t command, size_t bytes, uint64_t usec)
{
	__atomic_fetch_add(&mrx_stats.requests, 1, __ATOMIC_RELAXED);
#if TARGET_BUILD >= 1830
	__atomic_fetch_add(&mrx_stats.by_command[command], 1, __ATOMIC_RELAXED);
#else
	(void)command;
#endif
#if TARGET_BUILD >= 2697
	{
		unsigned long seen = __atomic_load_n(&mrx_stats.slowest_us, __ATOMIC_RELAXED);

		__atomic_fetch_add(&mrx_stats.bytes, bytes, __ATOMIC_RELAXED);
		while (usec > seen &&
		       !__atomic_compare_exchange_n(&mrx_stats.slowest_us, &seen, usec, 1,
						    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
	}
#else
	(void)bytes;
	(void)usec;
#endif
}

#if TARGET_BUILD >= 1830
/* Zero the counters (build 1830 and later). */
void mrx_stats_reset(void)
{
	unsigned long i;

	__atomic_store_n(&mrx_stats.requests, 0, __ATOMIC_RELAXED);
	for (i = 0; i < 256; i++)
		__atomic_store_n(&mrx_stats.by_command[i], 0, __ATOMIC_RELAXED);
}
#endif

#if TARGET_BUILD >= 2697
/* The slowest request so far, microseconds (build 2697 and later). */
unsigned long mrx_stats_slowest(void)
{
	return __atomic_load_n(&mrx_stats.slowest_us, __ATOMIC_RELAXED);
}
#endif

#if TARGET_BUILD >= 2734
/* The counters as one line of text (build 2734 and later). */
int mrx_stats_summary(char *buf, size_t len)
{
	return snprintf(buf, len, "requests %lu, bytes %lu, slowest %lu us",
			__atomic_load_n(&mrx_stats.requests, __ATOMIC_RELAXED),
			__atomic_load_n(&mrx_stats.bytes, __ATOMIC_RELAXED),
			__atomic_load_n(&mrx_stats.slowest_us, __ATOMIC_RELAXED));
}
#endif
