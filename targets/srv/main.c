/* srv: command line, configuration and start-up of the server daemon
 * (Lanmanserver of the article). Usage errors exit 2, configuration and
 * start-up errors exit 1, a clean stop on SIGTERM exits 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "srv.h"

#define DEFAULT_THREADS 64
#define MAX_THREADS 1024

static void usage(FILE *f)
{
	fprintf(f,
		"usage: srv --listen ADDRESS:PORT --config FILE --share DIR [--threads N]\n"
		"       srv --version\n"
		"Serve the SMB-shaped protocol on a loopback address with a pool of N worker\n"
		"threads (default %d). FILE is lanmanserver.conf (EnableSecuritySignature,\n"
		"RequireSecuritySignature). Exit: 0 stopped by SIGTERM, 1 error, 2 usage.\n",
		DEFAULT_THREADS);
}

/* "127.0.0.1:PORT" into sa; only loopback addresses are served. */
static int parse_listen(const char *arg, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(arg, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - arg) >= sizeof(host))
		return -1;
	memcpy(host, arg, (size_t)(colon - arg));
	host[colon - arg] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "share", required_argument, NULL, 's' },
		{ "threads", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct srv_server srv = { .listen_fd = -1, .share_fd = -1, .nthreads = DEFAULT_THREADS };
	const char *listen_arg = NULL, *config = NULL, *share = NULL;
	struct sockaddr_in sa;
	socklen_t salen;
	char err[512], addr[INET_ADDRSTRLEN];
	int opt, one = 1, status = 1;
	char *end;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'l': listen_arg = optarg; break;
		case 'c': config = optarg; break;
		case 's': share = optarg; break;
		case 't':
			errno = 0;
			srv.nthreads = (int)strtol(optarg, &end, 10);
			if (errno || *end || srv.nthreads < 1 || srv.nthreads > MAX_THREADS) {
				fprintf(stderr, "srv: --threads %s: expected 1 to %d\n", optarg,
					MAX_THREADS);
				return 2;
			}
			break;
		case 'V': printf("srv %s\n", TARGET_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !listen_arg || !config || !share) {
		usage(stderr);
		return 2;
	}
	if (parse_listen(listen_arg, &sa) < 0) {
		fprintf(stderr, "srv: --listen %s: expected IPV4-ADDRESS:PORT\n", listen_arg);
		return 2;
	}
	if (ntohl(sa.sin_addr.s_addr) >> 24 != 127) {
		fprintf(stderr, "srv: --listen %s: only loopback addresses (127.0.0.0/8) are served\n",
			listen_arg);
		return 2;
	}
	if (cfg_load(config, &srv.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "srv: %s\n", err);
		return 1;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "srv: libsodium initialisation failed\n");
		return 1;
	}
	srv.share_fd = open(share, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (srv.share_fd < 0) {
		fprintf(stderr, "srv: --share %s: %s\n", share, strerror(errno));
		goto out;
	}
	srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv.listen_fd < 0) {
		fprintf(stderr, "srv: socket: %s\n", strerror(errno));
		goto out;
	}
	setsockopt(srv.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(srv.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(srv.listen_fd, 512) < 0) {
		fprintf(stderr, "srv: %s: cannot listen: %s\n", listen_arg, strerror(errno));
		goto out;
	}
	/* Port 0 asks the kernel for a free port; the log line says which, so
	 * scripts can start a server without racing for a port. */
	salen = sizeof(sa);
	getsockname(srv.listen_fd, (struct sockaddr *)&sa, &salen);
	inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr));
	pthread_mutex_init(&srv.lock, NULL);
	pthread_cond_init(&srv.cond, NULL);
	srv_log("%s listening on %s:%u, %d worker threads, signing %s (config %s)", TARGET_VERSION,
		addr, ntohs(sa.sin_port), srv.nthreads, cfg_setting_name(cfg_setting(&srv.cfg)),
		config);
	if (srv_run(&srv) == 0)
		status = 0;
	srv_stats_report();
	srv_log("stopped");
	pthread_cond_destroy(&srv.cond);
	pthread_mutex_destroy(&srv.lock);
out:
	if (srv.listen_fd >= 0)
		close(srv.listen_fd);
	if (srv.share_fd >= 0)
		close(srv.share_fd);
	return status;
}
