/* The live fixture: start the target, describe its function as a patch. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live_fixture.h"

static uint8_t payload[4096];
static size_t payload_len;

int lf_image(void *ctx, uint64_t base, uint8_t *buf, size_t size, uint64_t *new_addr)
{
	(void)ctx;
	if (size < payload_len)
		return -1;
	memcpy(buf, payload, payload_len);
	new_addr[0] = base;
	return 0;
}

int lf_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = pread(fd, buf, len, (off_t)addr);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

static bool scan_maps(pid_t pid, uint64_t want_start, bool want_wx)
{
	char path[64], line[512], perms[8];
	unsigned long long s, e;
	bool hit = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx %7s", &s, &e, perms) != 3)
			continue;
		if (want_wx)
			hit = perms[1] == 'w' && perms[2] == 'x';
		else
			hit = s == want_start;
	}
	fclose(f);
	return hit;
}

bool lf_perms(pid_t pid, uint64_t addr, char perms[5])
{
	char path[64], line[512], p[8];
	unsigned long long s, e;
	bool hit = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!hit && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx %7s", &s, &e, p) == 3 && s == addr) {
			memcpy(perms, p, 4);
			perms[4] = '\0';
			hit = true;
		}
	}
	fclose(f);
	return hit;
}

bool lf_has_wx(pid_t pid)
{
	return scan_maps(pid, 0, true);
}

bool lf_mapped(pid_t pid, uint64_t addr)
{
	return scan_maps(pid, addr, false);
}

bool lf_says(struct lf_target *t, const char *cmd, const char *want)
{
	char buf[256];

	if (ts_child_ask(&t->c, cmd, buf, sizeof(buf), 10000))
		return false;
	if (strcmp(buf, want)) {
		fprintf(stderr, "live fixture: '%s' answered '%s', expected '%s'\n", cmd, buf, want);
		return false;
	}
	return true;
}

int lf_start(struct lf_target *t, const char *dir, const char *const *args)
{
	char *argv[16], path[512], line[256];
	unsigned long long s, e;
	size_t n = 0, len;
	int pid, fd;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/payload.bin", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	payload_len = (size_t)read(fd, payload, sizeof(payload));
	close(fd);
	snprintf(path, sizeof(path), "%s/target", dir);
	argv[n++] = path;
	while (args && *args && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	if (ts_child_start(&t->c, argv))
		return -1;
	if (ts_child_line(&t->c, line, sizeof(line), 10000) ||
	    sscanf(line, "ready %d %llx %llx", &pid, &s, &e) != 3 || pid != t->c.pid || e <= s)
		return -1;
	t->fn_start = s;
	t->fn_end = e;
	len = (size_t)(e - s);
	if (len > sizeof(t->expect))
		len = sizeof(t->expect);
	if (lf_read(pid, s, t->expect, len))
		return -1;
	t->func.name = "fixture_version";
	t->func.entry = s;
	t->func.size = e - s;
	/* endbr64 stays: indirect calls keep landing on it. */
	t->func.patch_off = !memcmp(t->expect, "\xf3\x0f\x1e\xfa", 4) ? 4 : 0;
	t->func.expect = t->expect;
	t->func.expect_len = len;
	t->patch.id = "KBTEST1";
	t->patch.funcs = &t->func;
	t->patch.nfuncs = 1;
	t->patch.image_size = payload_len;
	t->patch.image = lf_image;
	return 0;
}

void lf_stop(struct lf_target *t)
{
	ts_child_kill(&t->c);
}
