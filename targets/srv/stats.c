/* Server statistics. Builds differ here, as vendor builds do: 2437 counts
 * frames per command, 2691 adds byte counts and a log line for slow
 * requests, and the fixed build 2734 reports the signing decisions. The
 * file links before the negotiation code, so the code that follows sits at
 * a different address in each build. */
#include <stdarg.h>
#include <stdio.h>

#include "srv.h"
#include "srv_negotiate.h"
#include "smb_wire.h"

struct srv_stats srv_stats;

void srv_stats_request(uint8_t command, size_t in_bytes, size_t out_bytes, uint64_t usec)
{
	__atomic_fetch_add(&srv_stats.requests, 1, __ATOMIC_RELAXED);
#if TARGET_BUILD >= 2437
	__atomic_fetch_add(&srv_stats.by_command[command], 1, __ATOMIC_RELAXED);
#endif
#if TARGET_BUILD >= 2691
	__atomic_fetch_add(&srv_stats.bytes_in, in_bytes, __ATOMIC_RELAXED);
	__atomic_fetch_add(&srv_stats.bytes_out, out_bytes, __ATOMIC_RELAXED);
	if (usec > 100000) {
		__atomic_fetch_add(&srv_stats.slow, 1, __ATOMIC_RELAXED);
		srv_log("slow %s request: %llu us", wire_command_name(command),
			(unsigned long long)usec);
	}
#else
	(void)in_bytes;
	(void)out_bytes;
	(void)usec;
#if TARGET_BUILD < 2437
	(void)command;
#endif
#endif
}

void srv_stats_report(void)
{
	srv_log("served %lu connections, %lu requests, %lu dropped for protocol errors",
		srv_stats.connections, srv_stats.requests, srv_stats.rejected);
#if TARGET_BUILD >= 2437
	srv_log("requests: negotiate %lu, session-setup %lu, echo %lu, read %lu",
		srv_stats.by_command[SMB_COM_NEGOTIATE], srv_stats.by_command[SMB_COM_SESSION_SETUP],
		srv_stats.by_command[SMB_COM_ECHO], srv_stats.by_command[SMB_COM_READ]);
#endif
#if TARGET_BUILD >= 2734
	srv_log("signing: %lu negotiations, %lu offered, %lu required, %lu clients requiring",
		srv_signing_stats.negotiations, srv_signing_stats.offered,
		srv_signing_stats.required, srv_signing_stats.client_required);
#endif
#if TARGET_BUILD >= 2691
	srv_log("bytes in %lu, out %lu, slow requests %lu", srv_stats.bytes_in,
		srv_stats.bytes_out, srv_stats.slow);
#endif
}

void srv_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	/* One write per line, so lines from workers never interleave. */
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	line[n] = '\0';
	fprintf(stderr, "srv: %s", line);
}
