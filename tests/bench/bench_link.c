/* Benchmark: how long linking a payload takes, the step a live patch can do
 * while the target still runs. For each payload/target pair given, opens the
 * payload object and links it against the target file (ELF resolver, base
 * past its last segment), N times, and prints the median and the 90th
 * percentile in microseconds. Never part of `make check`.
 *
 * Usage: bench_link N OBJECT TARGET [OBJECT TARGET]... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hotpatch.h"
#include "link.h"

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

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static int bench(int n, const char *objpath, const char *target)
{
	struct hp_elf *elf = hp_elf__open(target);
	struct link_elf_resolver er = { .elf = elf };
	struct link_resolver res = { link_resolve_elf, &er };
	double *t = calloc((size_t)n, sizeof(*t));
	uint64_t end = 0;
	size_t len = 0, i;
	char *buf = slurp(objpath, &len);
	int k;

	if (!elf || !buf || !t) {
		fprintf(stderr, "bench_link: cannot read %s or %s\n", objpath, target);
		return 1;
	}
	for (i = 0; i < hp_elf__segment_count(elf); i++) {
		const struct hp_segment *s = hp_elf__segment(elf, i);

		if (s->vaddr + s->memsz > end)
			end = s->vaddr + s->memsz;
	}
	end = (end + 2 * LINK_PAGE_SIZE) & ~(uint64_t)(LINK_PAGE_SIZE - 1);
	for (k = 0; k < n; k++) {
		struct link_object *obj = NULL;
		struct link_image img = { 0 };
		double t0 = now_us();

		if (link_object_open(buf, len, objpath, &obj) ||
		    link_image_build(obj, end, &res, &img)) {
			fprintf(stderr, "bench_link: %s does not link against %s\n", objpath, target);
			return 1;
		}
		t[k] = now_us() - t0;
		link_image_release(&img);
		link_object_free(obj);
	}
	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	printf("link %s against %s: median %.1f us, p90 %.1f us (%d runs)\n", objpath, target,
	       t[n / 2], t[n * 9 / 10], n);
	free(t);
	free(buf);
	hp_elf__close(elf);
	return 0;
}

int main(int argc, char **argv)
{
	int n, i, rc = 0;

	if (argc < 4 || (argc - 2) % 2 || (n = atoi(argv[1])) < 1) {
		fprintf(stderr, "usage: bench_link N OBJECT TARGET [OBJECT TARGET]...\n");
		return 2;
	}
	for (i = 2; i + 1 < argc; i += 2)
		rc |= bench(n, argv[i], argv[i + 1]);
	return rc;
}
