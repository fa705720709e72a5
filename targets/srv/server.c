/* The daemon around the protocol: the listening socket, a pool of worker
 * threads that each serve one connection at a time, and a clean stop on
 * SIGTERM (stop accepting, wake every worker, join them, free everything,
 * exit 0). Signals are taken through a signalfd by the main thread only,
 * so workers are never interrupted in the middle of a frame. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "srv.h"

/* A worker that hears nothing for this long drops the connection, so a
 * silent peer cannot hold a worker forever. */
#define IDLE_TIMEOUT_S 30

struct worker_arg {
	struct srv_server *srv;  /* shared server */
	int slot;                /* index in srv->active */
};

static int take(struct srv_server *srv, int slot)
{
	int fd = -1;

	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping && srv->qlen == 0)
		pthread_cond_wait(&srv->cond, &srv->lock);
	if (!srv->stopping) {
		fd = srv->queue[srv->qhead];
		srv->qhead = (srv->qhead + 1) % srv->qcap;
		srv->qlen--;
		srv->active[slot] = fd;
	}
	pthread_mutex_unlock(&srv->lock);
	return fd;
}

static void release(struct srv_server *srv, int slot, int fd)
{
	pthread_mutex_lock(&srv->lock);
	srv->active[slot] = -1;
	pthread_mutex_unlock(&srv->lock);
	close(fd);
}

static void peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char addr[INET_ADDRSTRLEN];

	if (getpeername(fd, (struct sockaddr *)&sa, &sl) < 0 ||
	    !inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr))) {
		snprintf(buf, len, "fd %d", fd);
		return;
	}
	snprintf(buf, len, "%s:%u", addr, ntohs(sa.sin_port));
}

static void *worker(void *p)
{
	struct worker_arg *arg = p;
	struct srv_server *srv = arg->srv;
	int fd;

	while ((fd = take(srv, arg->slot)) >= 0) {
		struct timeval tv = { .tv_sec = IDLE_TIMEOUT_S };
		char peer[64];
		int one = 1;

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		peer_name(fd, peer, sizeof(peer));
		srv_serve(srv, fd, peer);
		release(srv, arg->slot, fd);
	}
	return NULL;
}

static void enqueue(struct srv_server *srv, int fd)
{
	pthread_mutex_lock(&srv->lock);
	if (srv->qlen == srv->qcap) {
		pthread_mutex_unlock(&srv->lock);
		srv_log("connection queue full (%d waiting); refusing a new connection", srv->qcap);
		close(fd);
		return;
	}
	srv->queue[(srv->qhead + srv->qlen) % srv->qcap] = fd;
	srv->qlen++;
	pthread_cond_signal(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

/* Wake every worker: they finish the frame at hand, see stopping, and exit. */
static void stop_workers(struct srv_server *srv)
{
	int i;

	pthread_mutex_lock(&srv->lock);
	srv->stopping = 1;
	for (i = 0; i < srv->nthreads; i++)
		if (srv->active[i] >= 0)
			shutdown(srv->active[i], SHUT_RDWR);
	while (srv->qlen) {
		close(srv->queue[srv->qhead]);
		srv->qhead = (srv->qhead + 1) % srv->qcap;
		srv->qlen--;
	}
	pthread_cond_broadcast(&srv->cond);
	pthread_mutex_unlock(&srv->lock);
}

int srv_run(struct srv_server *srv)
{
	struct worker_arg *args = NULL;
	sigset_t mask;
	int sfd = -1, started = 0, ret = -1, i;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	/* Blocked before the workers start, so they inherit the mask and only
	 * the signalfd below ever sees the signal. */
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0)
		goto out;
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		srv_log("signalfd: %s", strerror(errno));
		goto out;
	}
	srv->qcap = 1024;
	srv->queue = calloc((size_t)srv->qcap, sizeof(*srv->queue));
	srv->active = calloc((size_t)srv->nthreads, sizeof(*srv->active));
	srv->workers = calloc((size_t)srv->nthreads, sizeof(*srv->workers));
	args = calloc((size_t)srv->nthreads, sizeof(*args));
	if (!srv->queue || !srv->active || !srv->workers || !args) {
		srv_log("out of memory for %d workers", srv->nthreads);
		goto out;
	}
	for (i = 0; i < srv->nthreads; i++) {
		srv->active[i] = -1;
		args[i].srv = srv;
		args[i].slot = i;
		if (pthread_create(&srv->workers[i], NULL, worker, &args[i]) != 0) {
			srv_log("cannot start worker thread %d", i);
			goto stop;
		}
		started++;
	}
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = srv->listen_fd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			srv_log("poll: %s", strerror(errno));
			goto stop;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				srv_log("signal %u: shutting down", si.ssi_signo);
			ret = 0;
			goto stop;
		}
		if (!pfd[0].revents)
			continue;
		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* EMFILE and friends: keep serving the connections we have. */
			if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
				srv_log("accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				usleep(10000);
			continue;
		}
		enqueue(srv, fd);
	}
stop:
	stop_workers(srv);
	for (i = 0; i < started; i++)
		pthread_join(srv->workers[i], NULL);
out:
	if (sfd >= 0)
		close(sfd);
	free(args);
	free(srv->queue);
	free(srv->active);
	free(srv->workers);
	srv->queue = srv->active = NULL;
	srv->workers = NULL;
	return ret;
}
