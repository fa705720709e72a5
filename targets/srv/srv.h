/* Internal interfaces of srv between its files: the server object, the
 * per-connection protocol, statistics and the log. */
#ifndef SRV_H
#define SRV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "smb_config.h"

#ifndef TARGET_VERSION
#define TARGET_VERSION "0.0.0.0"
#endif
#ifndef TARGET_BUILD
#define TARGET_BUILD 0
#endif

/* What the workers share; set up by main, read-only while serving except
 * for the fields guarded by lock. */
struct srv_server {
	struct signing_config cfg;  /* lanmanserver.conf */
	int listen_fd;              /* listening socket */
	int share_fd;               /* directory served by the read command */
	int nthreads;               /* worker threads */
	pthread_t *workers;         /* nthreads thread handles */
	int *active;                /* per worker: the connection it serves, or -1 */
	int *queue;                 /* accepted connections waiting for a worker */
	int qcap;                   /* capacity of queue */
	int qhead;                  /* index of the oldest queued connection */
	int qlen;                   /* queued connections */
	int stopping;               /* set once SIGTERM arrived */
	pthread_mutex_t lock;       /* guards active, queue, stopping */
	pthread_cond_t cond;        /* signalled when queue or stopping change */
};

/* Serve one connection until the peer closes or breaks the protocol; the
 * caller closes fd. */
void srv_serve(struct srv_server *srv, int fd, const char *peer);

/* Counters and the version-dependent statistics (stats.c). */
struct srv_stats {
	unsigned long connections;      /* connections served */
	unsigned long requests;         /* frames handled */
	unsigned long rejected;         /* connections dropped for a protocol violation */
	unsigned long by_command[256];  /* frames per command (build 2437 and later) */
	unsigned long bytes_in;         /* request bytes (build 2691 and later) */
	unsigned long bytes_out;        /* reply bytes (build 2691 and later) */
	unsigned long slow;             /* requests slower than 100 ms (build 2691 and later) */
};
extern struct srv_stats srv_stats;
void srv_stats_request(uint8_t command, size_t in_bytes, size_t out_bytes, uint64_t usec);
void srv_stats_report(void);

/* One line on stderr, "srv: " prefixed; safe from any thread. */
void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run the server until SIGTERM or SIGINT (server.c). */
int srv_run(struct srv_server *srv);

#endif
