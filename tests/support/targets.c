/* Test support for the suites that exercise the targets themselves (srv,
 * smbcli, libmrxsmb.so): which files they run, whether a file is
 * cold-patched, and which file a running process really maps. make check
 * runs those suites twice, on the build's files and on cold-patched copies
 * installed below $HP_TARGET_ROOT, and the suites derive what they expect
 * from what they find, never from which run they are in. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elf_write.h"
#include "support.h"

/* Where each component is, in the build and below an installed root (the
 * paths the KB916846 manifest lists; smbcli finds the library through its
 * $ORIGIN/../lib runpath in both layouts). */
static const struct {
	const char *name;      /* what the suites ask for */
	const char *in_build;  /* path under the build directory */
	const char *installed; /* path below $HP_TARGET_ROOT */
} components[] = {
	{ "srv", "bin/srv", "usr/sbin/srv" },
	{ "smbcli", "bin/smbcli", "usr/bin/smbcli" },
	{ "libmrxsmb.so", "lib/libmrxsmb.so", "usr/lib/libmrxsmb.so" },
};

const char *ts_target_root(void)
{
	const char *root = getenv("HP_TARGET_ROOT");

	return root && *root ? root : NULL;
}

const char *ts_target(const char *name)
{
	const char *root = ts_target_root();
	size_t i;

	for (i = 0; i < sizeof(components) / sizeof(components[0]); i++) {
		if (strcmp(components[i].name, name))
			continue;
		if (root)
			return ts_build_path_raw(root, components[i].installed);
		return ts_build_path("%s", components[i].in_build);
	}
	fprintf(stderr, "ts_target: %s: not a component of the targets\n", name);
	return NULL;
}

int ts_cold_patched(const char *path, char *package, size_t size)
{
	char note[1024], *p;
	size_t len;
	char *bytes = ts_read_file(path, &len);
	int found;

	if (package && size)
		*package = '\0';
	if (!bytes) {
		fprintf(stderr, "%s: cannot read\n", path);
		return -1;
	}
	found = elf_write_find_note((const uint8_t *)bytes, len, path, note, sizeof(note));
	free(bytes);
	if (found <= 0)
		return found < 0 ? -1 : 0;
	p = strstr(note, "package=");
	if (package && size && p) {
		p += strlen("package=");
		snprintf(package, size, "%.*s", (int)strcspn(p, "\n"), p);
	}
	return 1;
}

char *ts_mapped_file(pid_t pid, const char *name)
{
	char maps[64], *line = NULL, *found = NULL;
	size_t nlen = strlen(name), cap = 0;
	ssize_t n;
	FILE *f;

	/* Read as a stream: /proc files report a size of 0. */
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	f = fopen(maps, "r");
	if (!f)
		return NULL;
	while (!found && (n = getline(&line, &cap, f)) > 0) {
		/* address perms offset dev inode path: the path starts at the
		 * line's first '/' (an unlinked file ends in "(deleted)",
		 * which then does not match the name). */
		char *path = strchr(line, '/');
		size_t plen;

		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		plen = path ? strlen(path) : 0;
		if (plen > nlen && path[plen - nlen - 1] == '/' && !strcmp(path + plen - nlen, name))
			found = strdup(path);
	}
	free(line);
	fclose(f);
	return found;
}

bool ts_target_process(pid_t pid, const char *name)
{
	const char *file = ts_target(name);
	char *want = file ? realpath(file, NULL) : NULL, *mapped = NULL, package[64] = "";
	int i, patched;

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	/* Just spawned, the process may not have reached its exec or the
	 * loader yet: wait for the mapping (a bounded wait, not a measure). */
	for (i = 0; i < 200 && !mapped; i++) {
		mapped = ts_mapped_file(pid, strrchr(want, '/') + 1);
		if (!mapped)
			usleep(25 * 1000);
	}
	if (!mapped || strcmp(mapped, want))
		fprintf(stderr, "pid %d maps %s, not %s\n", (int)pid, mapped ? mapped : "no such file",
			want);
	CU_ASSERT_PTR_NOT_NULL_FATAL(mapped);
	CU_ASSERT_STRING_EQUAL(mapped, want);
	patched = ts_cold_patched(mapped, package, sizeof(package));
	CU_ASSERT(patched >= 0);
	fprintf(stderr, "pid %d maps %s: %s%s\n", (int)pid, mapped,
		patched > 0 ? "cold-patched, package " : "not cold-patched", package);
	/* A target root holds the cold-patched components: testing the
	 * originals there would pass for the wrong reason. */
	if (ts_target_root() && strcmp(name, "smbcli")) {
		CU_ASSERT_EQUAL(patched, 1);
		CU_ASSERT_STRING_EQUAL(package, "KB916846");
	}
	free(mapped);
	free(want);
	return patched > 0;
}
