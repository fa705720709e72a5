/* Benchmark: the cost of a call to srv_negotiate_signing once it is
 * live-patched (a call to the original entry, the 5-byte jump, the
 * corrected routine linked into the injected region) against a call to the
 * same corrected routine built into the program, as the fixed full build
 * has it.
 *
 * The program holds both routines, from the vendor sources compiled with
 * the vendor's flags: srv's negotiate.c (the eligible original) and the
 * fixed full build's srv_negotiate.c, renamed srv_negotiate_signing_fixed.
 * It forks a child that times calls on request; the parent applies the real
 * KB916846 srv payload to the child with libhotpatch (linked against the
 * child's own symbols, as hotpatch does for srv) and asks again.
 *
 * Usage: live_call PAYLOAD.o [ROUNDS] [CALLS]
 * Prints, per round and as medians, ns per call of the fixed build's
 * routine and of the patched entry, and their ratio. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hotpatch.h"
#include "link.h"
#include "srv_negotiate.h"

void srv_negotiate_signing_fixed(const struct signing_config *cfg, uint16_t flags2,
				 struct srv_signing *out);

typedef void (*negotiate_fn)(const struct signing_config *, uint16_t, struct srv_signing *);

/* Through volatile pointers, so the compiler calls each routine for real. */
static negotiate_fn volatile patched_entry = srv_negotiate_signing;
static negotiate_fn volatile fixed_entry = srv_negotiate_signing_fixed;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Best of 5 runs of n calls, ns per call. */
static double time_calls(negotiate_fn volatile *fn, long n)
{
	struct signing_config cfg = { .enable = 0, .require = 0 };
	struct srv_signing out;
	double best = 1e18;

	for (int run = 0; run < 5; run++) {
		uint64_t t0 = now_ns();

		for (long i = 0; i < n; i++)
			(*fn)(&cfg, (uint16_t)(i & 0x14), &out);
		double per = (double)(now_ns() - t0) / (double)n;
		if (per < best)
			best = per;
	}
	return best;
}

/* The child: one line in ("t N"), one line out ("A B": fixed, entry). */
static void child_loop(int in, int out)
{
	FILE *fin = fdopen(in, "r"), *fout = fdopen(out, "w");
	char line[64];

	while (fin && fout && fgets(line, sizeof(line), fin)) {
		long n = atol(line + 1);

		fprintf(fout, "%.3f %.3f\n", time_calls(&fixed_entry, n), time_calls(&patched_entry, n));
		fflush(fout);
	}
	_exit(0);
}

struct image_ctx {
	const struct link_object *obj;       /* the payload */
	const struct link_resolver *res;     /* the child's symbols */
};

static int image(void *ctx, uint64_t base, uint8_t *buf, size_t size, uint64_t *new_addr)
{
	struct image_ctx *ic = ctx;
	struct link_image img = { 0 };
	size_t i;
	int err = link_image_build(ic->obj, base, ic->res, &img);

	if (err)
		return err;
	if (img.size != size) {
		link_image_release(&img);
		return -HP_E_RELOC;
	}
	memcpy(buf, img.bytes, size);
	for (i = 0; i < link_object_func_count(ic->obj); i++)
		if (!strcmp(link_object_func_name(ic->obj, i), "srv_negotiate_signing"))
			new_addr[0] = img.func_addr[i];
	link_image_release(&img);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int rounds = argc > 2 ? atoi(argv[2]) : 11;
	long calls = argc > 3 ? atol(argv[3]) : 2000000;
	int to_child[2], from_child[2], err = 1, r;
	struct link_object *obj = NULL;
	struct hp_elf *self = NULL;
	const struct hp_symbol *sym, *anchor;
	double *fixed = NULL, *entry = NULL, *ratio = NULL;
	size_t len = 0;
	char *bytes = NULL;
	FILE *fin = NULL, *fout = NULL;
	pid_t child = -1;

	if (argc < 2 || rounds < 1 || calls < 1) {
		fprintf(stderr, "usage: live_call PAYLOAD.o [ROUNDS] [CALLS]\n");
		return 2;
	}
	{
		FILE *f = fopen(argv[1], "rb");

		if (!f || fseek(f, 0, SEEK_END) || (len = (size_t)ftell(f)) == 0 ||
		    fseek(f, 0, SEEK_SET) || !(bytes = malloc(len)) || fread(bytes, 1, len, f) != len) {
			fprintf(stderr, "live_call: %s: cannot read\n", argv[1]);
			return 1;
		}
		fclose(f);
	}
	self = hp_elf__open("/proc/self/exe");
	if (!self || link_object_open(bytes, len, argv[1], &obj))
		return 1;
	sym = hp_elf__find_symbol(self, "srv_negotiate_signing");
	anchor = hp_elf__find_symbol(self, "main");
	if (!sym || !anchor) {
		fprintf(stderr, "live_call: symbols missing\n");
		return 1;
	}
	fixed = calloc((size_t)rounds, sizeof(double));
	entry = calloc((size_t)rounds, sizeof(double));
	ratio = calloc((size_t)rounds, sizeof(double));
	if (!fixed || !entry || !ratio || pipe(to_child) || pipe(from_child))
		return 1;
	child = fork();
	if (child == 0) {
		close(to_child[1]);
		close(from_child[0]);
		child_loop(to_child[0], from_child[1]);
	}
	close(to_child[0]);
	close(from_child[1]);
	fin = fdopen(from_child[0], "r");
	fout = fdopen(to_child[1], "w");
	{
		/* The child is a fork: same addresses as here. */
		uint64_t bias = (uint64_t)(uintptr_t)main - anchor->value;
		uint64_t addr = sym->value + bias;
		const uint8_t *code = (const uint8_t *)(uintptr_t)addr;
		uint32_t off = !memcmp(code, "\xf3\x0f\x1e\xfa", 4) ? 4 : 0;
		struct link_elf_resolver er = { .elf = self, .bias = bias };
		struct link_resolver res = { link_resolve_elf, &er };
		struct image_ctx ic = { obj, &res };
		struct link_layout lay;
		struct hp_live_func fn = { .name = "srv_negotiate_signing", .entry = addr,
					   .size = sym->size, .patch_off = off, .expect = code,
					   .expect_len = (size_t)sym->size };
		struct hp_live_patch patch = { .id = "KB916846", .funcs = &fn, .nfuncs = 1,
					       .image = image, .ctx = &ic };
		struct hp_live_result lres;

		if (link_plan_layout(obj, &lay))
			goto out;
		patch.image_size = lay.size;
		patch.image_text_size = lay.data_size ? lay.text_size : 0;
		printf("round  fixed-build ns/call  patched-entry ns/call  ratio\n");
		for (r = 0; r < rounds; r++) {
			char line[128];

			if (hp_live__apply(child, &patch, NULL, &lres))
				goto out;
			fprintf(fout, "t %ld\n", calls);
			fflush(fout);
			if (!fgets(line, sizeof(line), fin) ||
			    sscanf(line, "%lf %lf", &fixed[r], &entry[r]) != 2)
				goto out;
			ratio[r] = entry[r] / fixed[r];
			printf("%5d  %19.3f  %21.3f  %.4f\n", r + 1, fixed[r], entry[r], ratio[r]);
			if (hp_live__rollback(child, "KB916846", NULL, &lres))
				goto out;
		}
	}
	qsort(fixed, (size_t)rounds, sizeof(double), cmp_double);
	qsort(entry, (size_t)rounds, sizeof(double), cmp_double);
	qsort(ratio, (size_t)rounds, sizeof(double), cmp_double);
	printf("median over %d rounds of %ld calls (best of 5 each): fixed full build %.3f ns, "
	       "live-patched %.3f ns, ratio %.4f (%+.2f%%)\n",
	       rounds, calls, fixed[rounds / 2], entry[rounds / 2], ratio[rounds / 2],
	       (ratio[rounds / 2] - 1) * 100);
	err = 0;
out:
	if (err)
		fprintf(stderr, "live_call: failed\n");
	if (fout)
		fclose(fout);
	if (child > 0)
		waitpid(child, NULL, 0);
	if (fin)
		fclose(fin);
	link_object_free(obj);
	hp_elf__close(self);
	free(bytes);
	free(fixed);
	free(entry);
	free(ratio);
	return err;
}
