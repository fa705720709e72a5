/* Benchmark of the cold patch (make bench; never part of check, never
 * gating on a time): for each eligible KB916846 build (srv, libmrxsmb.so),
 * on a copy in a scratch directory, the median over RUNS rounds of
 *   build     hp_disk__build: read, link at the file's addresses, write the
 *             new ELF in memory (what pack and verify do per file)
 *   apply     hp_disk__apply: the whole disk step per file (read, build,
 *             backup checked by SHA-256, journal intent fsync'd, atomic
 *             replace with fsync of file and directory, journal done)
 *   rollback  hp_disk__rollback: the original back from its backup
 * The dry run that picks the file is run once per round, outside the time.
 * Usage: disk_apply BUILD_DIR [RUNS] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hotpatch.h"

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

static int copy_file(const char *from, const char *to)
{
	char cmd[8192];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	return system(cmd) == 0 ? 0 : -1;
}

static int bench_file(const struct hp_package *pkg, const char *orig, const char *work, int runs)
{
	const char *files[1];
	struct hp_verify_opts vopts = { 0 };
	struct hp_verify_report *rep = NULL;
	struct hp_state *st = NULL;
	double *tb = calloc((size_t)runs, sizeof(double)), *ta = calloc((size_t)runs, sizeof(double)),
	       *tr = calloc((size_t)runs, sizeof(double));
	char path[4096], state[4096];
	struct stat sb;
	int i, err = -1;

	snprintf(path, sizeof(path), "%s/%s", work, strrchr(orig, '/') + 1);
	snprintf(state, sizeof(state), "%s/state", work);
	if (!tb || !ta || !tr || copy_file(orig, path))
		goto out;
	st = hp_state__open(state, 0, 0);
	if (!st)
		goto out;
	files[0] = path;
	vopts.no_root = 1;
	vopts.no_processes = 1;
	vopts.files = files;
	vopts.nr_files = 1;
	for (i = 0; i < runs; i++) {
		void *buf = NULL;
		size_t len;
		double t0;

		t0 = now_us();
		err = hp_disk__build(pkg, path, &buf, &len);
		tb[i] = now_us() - t0;
		free(buf);
		if (err)
			goto out;
		err = hp_verify__run(pkg, &vopts, &rep);
		if (err || rep->nr_targets != 1 || rep->targets[0].verdict != HP_VERDICT_WOULD_PATCH) {
			fprintf(stderr, "disk bench: %s: not patchable\n", path);
			err = -1;
			goto out;
		}
		t0 = now_us();
		err = hp_disk__apply(pkg, &rep->targets[0], st, NULL);
		ta[i] = now_us() - t0;
		hp_verify__free(rep);
		rep = NULL;
		if (err)
			goto out;
		t0 = now_us();
		err = hp_disk__rollback(st, pkg->manifest->id, path, NULL);
		tr[i] = now_us() - t0;
		if (err)
			goto out;
	}
	stat(path, &sb);
	printf("disk %-14s %7lld bytes: build %8.1f us, apply %8.1f us, rollback %8.1f us (median of %d)\n",
	       strrchr(orig, '/') + 1, (long long)sb.st_size, median(tb, runs), median(ta, runs),
	       median(tr, runs), runs);
out:
	hp_verify__free(rep);
	hp_state__close(st);
	free(tb);
	free(ta);
	free(tr);
	return err;
}

int main(int argc, char **argv)
{
	struct hp_package_opts popts = { 0 };
	struct hp_package *pkg;
	const char *keys[1];
	char manifest[4096], key[4096], srv[4096], lib[4096], work[4096], cmd[8192];
	int runs = argc > 2 ? atoi(argv[2]) : 21, err;

	if (argc < 2 || runs < 1) {
		fprintf(stderr, "usage: disk_apply BUILD_DIR [RUNS]\n");
		return 2;
	}
	snprintf(manifest, sizeof(manifest), "%s/packages/KB916846/manifest.json", argv[1]);
	snprintf(key, sizeof(key), "%s/keys/vendor.pub", argv[1]);
	snprintf(srv, sizeof(srv), "%s/targets/srv/5.2.3790.2691/srv", argv[1]);
	snprintf(lib, sizeof(lib), "%s/targets/mrxsmb/5.2.3790.2697/libmrxsmb.so", argv[1]);
	snprintf(work, sizeof(work), "%s/tmp-bench-disk.XXXXXX", argv[1]);
	if (!mkdtemp(work)) {
		perror("mkdtemp");
		return 1;
	}
	keys[0] = key;
	popts.trusted_keys = keys;
	popts.nr_trusted_keys = 1;
	pkg = hp_package__open(manifest, &popts);
	err = pkg ? bench_file(pkg, srv, work, runs) : -1;
	if (!err)
		err = bench_file(pkg, lib, work, runs);
	hp_package__close(pkg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	if (system(cmd))
		fprintf(stderr, "disk bench: cannot remove %s\n", work);
	return err ? 1 : 0;
}
