/* smbcli: the command built on libmrxsmb. "connect" makes one connection
 * and says how signing turned out (signed, not-signed, no-communication)
 * with the reason; "load" keeps N connections busy with echo and read
 * requests for S seconds and reports throughput, latency and failures, or,
 * with --reconnect, keeps opening new connections and reports each change
 * of outcome as it happens (what the live-patching tests watch).
 * "connect --stdin" is the long-running client: it says "ready" once
 * libmrxsmb is loaded, then makes one connection per server address read
 * on stdin and prints its outcome, so the library can be live-patched in
 * the running process between two connections. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mrxsmb.h"

/* Exit codes of "connect" (documented in docs/targets.md). */
#define EXIT_SIGNED 0
#define EXIT_ERROR 1
#define EXIT_USAGE 2
#define EXIT_NOT_SIGNED 10
#define EXIT_NO_COMMUNICATION 11

#ifndef TARGET_VERSION
#define TARGET_VERSION "0.0.0.0"
#endif

#define TIMEOUT_MS 5000
#define MAX_CLIENTS 1024

static const char *const result_names[] = { "signed", "not-signed", "no-communication", "error" };

struct options {
	const char *server;  /* "address:port" */
	const char *config;  /* lanmanworkstation.conf */
	const char *read;    /* file to read from the share, or NULL */
	int clients;         /* load: connections */
	double duration;     /* load: seconds */
	int json;            /* load: one JSON document on stdout */
	int reconnect;       /* load: a new connection per request */
	int lines;           /* connect: one connection per address read on stdin */
};

/* What one load thread measured. */
struct load_thread {
	pthread_t thread;           /* the thread */
	const struct options *opt;  /* shared options */
	struct signing_config cfg;  /* client settings */
	uint64_t deadline_us;       /* stop time (monotonic) */
	uint32_t *lat;              /* latencies, microseconds */
	size_t nlat;                /* entries in lat */
	size_t cap;                 /* capacity of lat */
	unsigned long failed;       /* failed requests */
	unsigned long outcomes[4];  /* reconnect: outcome counts by enum mrx_result */
	char first_error[256];      /* the first failure, in words */
};

static pthread_mutex_t change_lock = PTHREAD_MUTEX_INITIALIZER;
static int last_outcome = -1;   /* reconnect: outcome of the latest new connection */
static uint64_t start_us;       /* load start (monotonic) */
/* load: SIGINT or SIGTERM ends the run early, with its report, so a test
 * can keep the load going exactly as long as what it measures. */
static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: smbcli connect --server ADDRESS:PORT --config FILE [--read NAME]\n"
		"       smbcli connect --stdin --config FILE [--read NAME]\n"
		"       smbcli load --server ADDRESS:PORT --config FILE --clients N --duration S\n"
		"                   [--reconnect] [--read NAME] [--json]\n"
		"       smbcli --version\n"
		"FILE is lanmanworkstation.conf (EnableSecuritySignature, RequireSecuritySignature).\n"
		"connect prints signed, not-signed or no-communication with the reason and exits\n"
		"0, 10 or 11 (1 error, 2 usage). load exits 0 when no request failed, 1 otherwise.\n"
		"SIGINT or SIGTERM ends load early, with its report.\n"
		"connect --stdin prints \"ready\", then for each ADDRESS:PORT line on stdin makes\n"
		"one connection and prints one line (signed, not-signed, no-communication or\n"
		"error, with the reason); it exits 0 at the end of stdin.\n");
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Prove the session works: an echo, and a read when asked. */
static int exercise(struct mrx_conn *c, const char *name, unsigned long n)
{
	char data[64], buf[4096];
	size_t got;
	int len = snprintf(data, sizeof(data), "echo %lu", n);
	int ret = mrx_echo(c, data, (size_t)len);

	if (ret == 0 && name)
		ret = mrx_read(c, name, 0, sizeof(buf), buf, &got);
	return ret;
}

/* One connection to server. Errors go to stderr, or, for --stdin, to
 * stdout as an "error:" line so its reader gets one line per address. */
static int connect_one(const struct options *opt, const char *server,
		       const struct signing_config *cfg)
{
	struct mrx_outcome out;
	struct mrx_conn *c = mrx_connect(server, cfg, TIMEOUT_MS, &out);
	FILE *errf = opt->lines ? stdout : stderr;
	int ret;

	if (!c) {
		if (out.result == MRX_NO_COMMUNICATION) {
			printf("no-communication: %s\n", out.reason);
			return EXIT_NO_COMMUNICATION;
		}
		fprintf(errf, "%s: %s\n", opt->lines ? "error" : "smbcli", out.reason);
		return EXIT_ERROR;
	}
	ret = exercise(c, opt->read, 0);
	if (ret < 0) {
		fprintf(errf, "%s: %s\n", opt->lines ? "error" : "smbcli", mrx_last_error(c));
		mrx_close(c);
		return EXIT_ERROR;
	}
	mrx_close(c);
	printf("%s: %s\n", result_names[out.result], out.reason);
	return out.result == MRX_SIGNED ? EXIT_SIGNED : EXIT_NOT_SIGNED;
}

static int do_connect(const struct options *opt, const struct signing_config *cfg)
{
	char line[512];

	if (!opt->lines)
		return connect_one(opt, opt->server, cfg);
	/* The library is mapped before main runs: from here on, a patch
	 * applied to this process decides the next connection's outcome. */
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		connect_one(opt, line, cfg);
		fflush(stdout);
	}
	return EXIT_SIGNED;
}

static void record(struct load_thread *t, uint64_t usec)
{
	if (t->nlat == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		uint32_t *lat = realloc(t->lat, cap * sizeof(*lat));

		if (!lat)
			return;
		t->lat = lat;
		t->cap = cap;
	}
	t->lat[t->nlat++] = usec > UINT32_MAX ? UINT32_MAX : (uint32_t)usec;
}

static void failure(struct load_thread *t, const char *why)
{
	if (!t->failed++)
		snprintf(t->first_error, sizeof(t->first_error), "%s", why);
}

static void note_outcome(int result)
{
	pthread_mutex_lock(&change_lock);
	if (result != last_outcome) {
		printf("change: +%.3fs %s (was %s)\n", (double)(now_us() - start_us) / 1e6,
		       result_names[result], last_outcome < 0 ? "none" : result_names[last_outcome]);
		fflush(stdout);
		last_outcome = result;
	}
	pthread_mutex_unlock(&change_lock);
}

/* --reconnect: each request is a whole new connection, so the outcome of
 * the negotiation is seen afresh every time. */
static void reconnect_loop(struct load_thread *t)
{
	unsigned long n = 0;

	while (now_us() < t->deadline_us && !stop_requested) {
		uint64_t t0 = now_us();
		struct mrx_outcome out;
		struct mrx_conn *c = mrx_connect(t->opt->server, &t->cfg, TIMEOUT_MS, &out);

		if (c && exercise(c, t->opt->read, n++) < 0) {
			failure(t, mrx_last_error(c));
			out.result = MRX_ERROR;
		} else if (!c && out.result == MRX_ERROR) {
			failure(t, out.reason);
		}
		mrx_close(c);
		t->outcomes[out.result]++;
		if (out.result != MRX_ERROR) {
			record(t, now_us() - t0);
			if (!t->opt->json)
				note_outcome(out.result);
		}
	}
}

static void persistent_loop(struct load_thread *t)
{
	struct mrx_outcome out;
	struct mrx_conn *c = NULL;
	unsigned long n = 0;

	while (now_us() < t->deadline_us && !stop_requested) {
		uint64_t t0;

		if (!c) {
			c = mrx_connect(t->opt->server, &t->cfg, TIMEOUT_MS, &out);
			if (!c) {
				failure(t, out.reason);
				t->outcomes[out.result]++;
				/* Do not spin on a server that refuses us. */
				nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
				continue;
			}
			t->outcomes[out.result]++;
		}
		t0 = now_us();
		if (exercise(c, t->opt->read, n++) < 0) {
			failure(t, mrx_last_error(c));
			mrx_close(c);
			c = NULL;
			continue;
		}
		record(t, now_us() - t0);
	}
	mrx_close(c);
}

static void *load_thread(void *p)
{
	struct load_thread *t = p;

	if (t->opt->reconnect)
		reconnect_loop(t);
	else
		persistent_loop(t);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static uint32_t percentile(const uint32_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int do_load(const struct options *opt, const struct signing_config *cfg)
{
	struct load_thread *t = calloc((size_t)opt->clients, sizeof(*t));
	unsigned long failed = 0, outcomes[4] = { 0 };
	const char *first_error = NULL;
	uint32_t *all = NULL;
	size_t n = 0, i;
	double secs, rps;
	int started = 0, status = EXIT_ERROR;

	if (!t) {
		fprintf(stderr, "smbcli: out of memory\n");
		return EXIT_ERROR;
	}
	{
		struct sigaction sa = { .sa_handler = on_stop };

		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	start_us = now_us();
	for (i = 0; i < (size_t)opt->clients; i++) {
		t[i].opt = opt;
		t[i].cfg = *cfg;
		t[i].deadline_us = start_us + (uint64_t)(opt->duration * 1e6);
		if (pthread_create(&t[i].thread, NULL, load_thread, &t[i]) != 0) {
			fprintf(stderr, "smbcli: cannot start client thread %zu\n", i);
			break;
		}
		started++;
	}
	for (i = 0; i < (size_t)started; i++)
		pthread_join(t[i].thread, NULL);
	secs = (double)(now_us() - start_us) / 1e6;
	for (i = 0; i < (size_t)started; i++)
		n += t[i].nlat;
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all) {
		fprintf(stderr, "smbcli: out of memory\n");
		goto out;
	}
	n = 0;
	for (i = 0; i < (size_t)started; i++) {
		memcpy(all + n, t[i].lat, t[i].nlat * sizeof(*all));
		n += t[i].nlat;
		failed += t[i].failed;
		if (!first_error && t[i].failed)
			first_error = t[i].first_error;
		for (int k = 0; k < 4; k++)
			outcomes[k] += t[i].outcomes[k];
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	rps = secs > 0 ? (double)n / secs : 0;
	if (opt->json) {
		printf("{\"clients\": %d, \"duration_s\": %.3f, \"reconnect\": %s, \"requests\": %zu, "
		       "\"requests_per_s\": %.1f, \"p50_us\": %u, \"p99_us\": %u, \"max_us\": %u, "
		       "\"failed\": %lu, \"outcomes\": {\"signed\": %lu, \"not-signed\": %lu, "
		       "\"no-communication\": %lu, \"error\": %lu}}\n",
		       opt->clients, secs, opt->reconnect ? "true" : "false", n, rps,
		       percentile(all, n, 0.50), percentile(all, n, 0.99), n ? all[n - 1] : 0,
		       failed, outcomes[0], outcomes[1], outcomes[2], outcomes[3]);
	} else {
		printf("clients %d, duration %.2f s, requests %zu, requests/s %.1f\n", opt->clients,
		       secs, n, rps);
		printf("latency p50 %u us, p99 %u us, max %u us\n", percentile(all, n, 0.50),
		       percentile(all, n, 0.99), n ? all[n - 1] : 0);
		printf("outcomes signed %lu, not-signed %lu, no-communication %lu, error %lu\n",
		       outcomes[0], outcomes[1], outcomes[2], outcomes[3]);
		printf("failed %lu\n", failed);
	}
	if (first_error)
		fprintf(stderr, "smbcli: first failure: %s\n", first_error);
	status = failed || started < opt->clients ? EXIT_ERROR : 0;
out:
	for (i = 0; i < (size_t)opt->clients; i++)
		free(t[i].lat);
	free(t);
	free(all);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "read", required_argument, NULL, 'r' },
		{ "clients", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "reconnect", no_argument, NULL, 'R' },
		{ "stdin", no_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options opt = { .clients = 0, .duration = 0 };
	struct signing_config cfg;
	const char *mode;
	char err[512], *end;
	int o;

	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("smbcli %s (libmrxsmb %s)\n", TARGET_VERSION, mrx_version());
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || (strcmp(argv[1], "connect") != 0 && strcmp(argv[1], "load") != 0)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	mode = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': opt.server = optarg; break;
		case 'c': opt.config = optarg; break;
		case 'r': opt.read = optarg; break;
		case 'j': opt.json = 1; break;
		case 'R': opt.reconnect = 1; break;
		case 'L': opt.lines = 1; break;
		case 'n':
			errno = 0;
			opt.clients = (int)strtol(optarg, &end, 10);
			if (errno || *end || opt.clients < 1 || opt.clients > MAX_CLIENTS) {
				fprintf(stderr, "smbcli: --clients %s: expected 1 to %d\n", optarg,
					MAX_CLIENTS);
				return EXIT_USAGE;
			}
			break;
		case 'd':
			errno = 0;
			opt.duration = strtod(optarg, &end);
			if (errno || *end || !(opt.duration > 0 && opt.duration <= 3600)) {
				fprintf(stderr, "smbcli: --duration %s: expected seconds, up to 3600\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'V': printf("smbcli %s (libmrxsmb %s)\n", TARGET_VERSION, mrx_version()); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc || !opt.config || !opt.server == !opt.lines) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(mode, "load") == 0 && (!opt.clients || opt.duration <= 0)) {
		fprintf(stderr, "smbcli: load needs --clients N and --duration S\n");
		return EXIT_USAGE;
	}
	if (strcmp(mode, "load") == 0 && opt.lines) {
		fprintf(stderr, "smbcli: --stdin is for connect\n");
		return EXIT_USAGE;
	}
	if (strcmp(mode, "connect") == 0 && (opt.clients || opt.duration > 0 || opt.json ||
					     opt.reconnect)) {
		fprintf(stderr, "smbcli: --clients, --duration, --json and --reconnect are for load\n");
		return EXIT_USAGE;
	}
	if (mrx_config_load(opt.config, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "smbcli: %s\n", err);
		return EXIT_ERROR;
	}
	if (strcmp(mode, "connect") == 0)
		return do_connect(&opt, &cfg);
	return do_load(&opt, &cfg);
}
