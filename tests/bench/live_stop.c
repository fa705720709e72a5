/* Benchmark: how long the live executor keeps a process stopped, from the
 * first thread stopped to the last one resumed (CLOCK_MONOTONIC, measured
 * inside the library), for targets of 1, 8, 64 and 512 threads; and the whole
 * apply and rollback call, as the operator sees it. Each figure is the median
 * of ROUNDS apply/rollback cycles on the live fixture target, whose workers
 * call the patched function every PAUSE microseconds. Then the cost of a
 * call to the patched function (through its jump) against the same routine
 * built into the program. Last, processes patched per second: 100 and 1000
 * running targets (a main thread and one worker each) patched one after the
 * other, as `hotpatch apply --live` does.
 *
 * Usage: live_stop FIXTURE_DIR [ROUNDS [PAUSE_US]] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hotpatch.h"
#include "live_fixture.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t median(uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static uint64_t now_ns(void);

/* Patch n fresh targets one after the other; print processes per second. */
static int throughput(const char *dir, size_t n)
{
	static const char *const args[] = { "-t", "1", "-p", "10000", NULL };
	struct lf_target *t = calloc(n, sizeof(*t));
	size_t i, started = 0, ok = 0;
	uint64_t t0, apply_ns, rb_ns;
	int rc = 0;

	if (!t)
		return 1;
	for (; started < n; started++)
		if (lf_start(&t[started], dir, args))
			break;
	if (started < n) {
		fprintf(stderr, "live_stop: only %zu of %zu targets started\n", started, n);
		rc = 1;
		goto out;
	}
	t0 = now_ns();
	for (i = 0; i < n; i++)
		ok += hp_live__apply(t[i].c.pid, &t[i].patch, NULL, NULL) == 0;
	apply_ns = now_ns() - t0;
	t0 = now_ns();
	for (i = 0; i < n; i++)
		hp_live__rollback(t[i].c.pid, t[i].patch.id, NULL, NULL);
	rb_ns = now_ns() - t0;
	printf("%zu targets: %zu patched in %.1f ms (%.0f processes/s); rolled back in %.1f ms (%.0f/s)\n",
	       n, ok, apply_ns / 1e6, n / (apply_ns / 1e9), rb_ns / 1e6, n / (rb_ns / 1e9));
	if (ok != n)
		rc = 1;
out:
	for (i = 0; i < started; i++)
		lf_stop(&t[i]);
	free(t);
	return rc;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const int sizes[] = { 1, 8, 64, 512 };
	int rounds = argc > 2 ? atoi(argv[2]) : 21;
	const char *pause = argc > 3 ? argv[3] : "1000";
	uint64_t *ap, *rb, *apc, *rbc;
	size_t s;
	int r, failures = 0;

	if (argc < 2 || rounds < 1) {
		fprintf(stderr, "usage: live_stop FIXTURE_DIR [ROUNDS [PAUSE_US]]\n");
		return 2;
	}
	ap = calloc((size_t)rounds, sizeof(*ap));
	rb = calloc((size_t)rounds, sizeof(*rb));
	apc = calloc((size_t)rounds, sizeof(*apc));
	rbc = calloc((size_t)rounds, sizeof(*rbc));
	printf("live stop time, median of %d rounds, workers call every %s us (%ld CPUs)\n",
	       rounds, pause, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%8s %14s %14s %14s %14s\n", "threads", "apply stop", "rollback stop",
	       "apply call", "rollback call");
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		char nw[16];
		/* The main thread reads commands: workers = threads - 1. */
		const char *args[] = { "-t", nw, "-p", pause, NULL };
		struct hp_live_result res;
		struct lf_target t;
		char line[64];
		uint64_t t0;

		snprintf(nw, sizeof(nw), "%d", sizes[s] - 1);
		if (lf_start(&t, argv[1], args)) {
			fprintf(stderr, "live_stop: cannot start the fixture with %d threads\n", sizes[s]);
			return 1;
		}
		/* Let every worker get going. */
		ts_child_ask(&t.c, "w", line, sizeof(line), 30000);
		for (r = 0; r < rounds; r++) {
			t0 = now_ns();
			if (hp_live__apply(t.c.pid, &t.patch, NULL, &res)) {
				failures++;
				break;
			}
			apc[r] = now_ns() - t0;
			ap[r] = res.stop_ns;
			if (res.threads != (unsigned)sizes[s])
				fprintf(stderr, "live_stop: %u threads stopped, expected %d\n",
					res.threads, sizes[s]);
			t0 = now_ns();
			if (hp_live__rollback(t.c.pid, t.patch.id, NULL, &res)) {
				failures++;
				break;
			}
			rbc[r] = now_ns() - t0;
			rb[r] = res.stop_ns;
		}
		if (r == rounds)
			printf("%8d %11.1f us %11.1f us %11.1f us %11.1f us\n", sizes[s],
			       median(ap, (size_t)rounds) / 1e3, median(rb, (size_t)rounds) / 1e3,
			       median(apc, (size_t)rounds) / 1e3, median(rbc, (size_t)rounds) / 1e3);
		lf_stop(&t);
	}
	{
		static const char *const args[] = { "-t", "0", NULL };
		double pa = 0, pr = 0, ua = 0, ur = 0;
		struct lf_target t;
		char line[128];

		if (lf_start(&t, argv[1], args) == 0 &&
		    !ts_child_ask(&t.c, "t 20000000", line, sizeof(line), 60000) &&
		    sscanf(line, "time %lf %lf", &ua, &ur) == 2 &&
		    hp_live__apply(t.c.pid, &t.patch, NULL, NULL) == 0 &&
		    !ts_child_ask(&t.c, "t 20000000", line, sizeof(line), 60000) &&
		    sscanf(line, "time %lf %lf", &pa, &pr) == 2) {
			printf("call cost, best of 5 x 20M direct calls:\n"
			       "  unpatched original %.3f ns; patched (through the jump) %.3f ns;"
			       " same routine built in %.3f ns: patched/built-in = %.3f\n",
			       ua, pa, pr, pa / pr);
		} else {
			fprintf(stderr, "live_stop: call cost measurement failed\n");
			failures++;
		}
		lf_stop(&t);
	}
	{
		/* Two pipes per target. */
		struct rlimit rl = { 4096, 4096 };

		setrlimit(RLIMIT_NOFILE, &rl);
		printf("processes patched per second:\n");
		failures += throughput(argv[1], 100);
		failures += throughput(argv[1], 1000);
	}
	free(ap);
	free(rb);
	free(apc);
	free(rbc);
	return failures ? 1 : 0;
}
