/* Benchmark of the restart scanner (make bench; never part of check, never
 * gating on a time): hp_restart__scan over every process of the machine,
 * median over RUNS rounds, for
 *   unmapped   a path no process maps: each maps file is read and searched,
 *              none parsed (the usual case: one package's few files)
 *   libc       the C library this program maps, which nearly every process
 *              maps too: each of those is parsed, its mappings of libc
 *              stat'ed through map_files, and listed (the worst case)
 * and, for comparison, the same walk parsing every maps file whatever it
 * holds (procmaps_read of each process), as a scan without the text search
 * would. Usage: restart_scan [RUNS] */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hotpatch.h"
#include "procmaps.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The path of the C library this program maps. */
static int find_libc(char *buf, size_t len)
{
	struct procmaps pm = { 0 };
	size_t i;
	int err = procmaps_read(getpid(), &pm);

	if (err)
		return err;
	err = -1;
	for (i = 0; i < pm.n && err; i++) {
		const char *base = strrchr(pm.maps[i].path, '/');

		if (base && !strncmp(base, "/libc.so", 8)) {
			snprintf(buf, len, "%s", pm.maps[i].path);
			err = 0;
		}
	}
	procmaps_free(&pm);
	return err;
}

/* Every process's maps parsed; returns how many processes were read. */
static size_t parse_all(void)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct procmaps pm = { 0 };
		long pid = strtol(de->d_name, NULL, 10);

		if (pid <= 0)
			continue;
		if (procmaps_read((pid_t)pid, &pm) == 0)
			n++;
		procmaps_free(&pm);
	}
	closedir(d);
	return n;
}

static int bench_scan(const char *what, const char *path, enum hp_restart_match how, int runs)
{
	double *t = calloc((size_t)runs, sizeof(double));
	size_t listed = 0;
	int i, err = 0;

	if (!t)
		return -1;
	for (i = 0; i < runs; i++) {
		struct hp_restart_list *l = NULL;
		double t0 = now_us();

		err = hp_restart__scan(&path, 1, how, NULL, 0, &l);
		t[i] = now_us() - t0;
		if (err) {
			fprintf(stderr, "restart_scan: %s: %s\n", path, hp_strerror(err));
			break;
		}
		listed = l->n;
		hp_restart__free(l);
	}
	if (!err)
		printf("%-10s %8.0f us  (%zu processes listed; %s)\n", what, median(t, runs),
		       listed, path);
	free(t);
	return err;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 21, i;
	char libc[PATH_MAX], unmapped[PATH_MAX + 32];
	double *t;
	size_t nprocs = 0;

	/* Processes we may not read are skipped, not worth a message each. */
	hp_set_print(NULL);
	if (runs < 1) {
		fprintf(stderr, "usage: restart_scan [RUNS]\n");
		return 2;
	}
	if (find_libc(libc, sizeof(libc))) {
		fprintf(stderr, "restart_scan: cannot find the C library in /proc/self/maps\n");
		return 1;
	}
	snprintf(unmapped, sizeof(unmapped), "%s.not-mapped-by-anyone", libc);
	t = calloc((size_t)runs, sizeof(double));
	if (!t)
		return 1;
	for (i = 0; i < runs; i++) {
		double t0 = now_us();

		nprocs = parse_all();
		t[i] = now_us() - t0;
	}
	printf("restart scan over every process (%zu readable), median of %d:\n", nprocs, runs);
	if (bench_scan("unmapped", unmapped, HP_RESTART_OLD_COPY, runs) ||
	    bench_scan("libc", libc, HP_RESTART_CURRENT, runs)) {
		free(t);
		return 1;
	}
	printf("%-10s %8.0f us  (procmaps_read of every process, for comparison)\n", "parse-all",
	       median(t, runs));
	free(t);
	return 0;
}
