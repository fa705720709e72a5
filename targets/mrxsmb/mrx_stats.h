/* Client-side request statistics, inside libmrxsmb. */
#ifndef MRX_STATS_H
#define MRX_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifndef TARGET_BUILD
#define TARGET_BUILD 0
#endif

struct mrx_stats {
	unsigned long requests;         /* requests answered */
	unsigned long by_command[256];  /* per command (build 1830 and later) */
	unsigned long bytes;            /* bytes received (build 2697 and later) */
	unsigned long slowest_us;       /* slowest request, microseconds (2697 and later) */
};

extern struct mrx_stats mrx_stats;

void mrx_stats_request(uint8_t command, size_t bytes, uint64_t usec);
#if TARGET_BUILD >= 1830
void mrx_stats_reset(void);
#endif
#if TARGET_BUILD >= 2697
unsigned long mrx_stats_slowest(void);
#endif
#if TARGET_BUILD >= 2734
int mrx_stats_summary(char *buf, size_t len);
#endif

#endif
