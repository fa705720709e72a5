/* What every libFuzzer target of tests/fuzz/ shares: the entry point's
 * prototype (so -Wmissing-prototypes is satisfied), a quiet library (the
 * parsers report each refusal with pr_warn; printing millions of them would
 * be the whole cost of a run), and a way to hand bytes to the entries that
 * only take a path or a descriptor without touching the file system. */
#ifndef HP_FUZZ_H
#define HP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hotpatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* FUZZ_VERBOSE=1 in the environment shows the library's messages, to see
 * why an input is refused while working on a crash. */
static inline void fuzz_quiet(void)
{
	const char *v = getenv("FUZZ_VERBOSE");

	if (!v || *v != '1')
		hp_set_print(NULL);
}

/* A memfd holding data[0..size), positioned at 0; -1 on failure. The file
 * lives in memory only, so a run writes nothing to disk. */
static inline int fuzz_memfd(const char *name, const void *data, size_t size)
{
	const uint8_t *p = data;
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (size) {
		ssize_t n = write(fd, p, size);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		size -= (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

#endif /* HP_FUZZ_H */
