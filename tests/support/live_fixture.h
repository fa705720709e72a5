/* The live fixture (tests/fixtures/live/target) as the live tests and the
 * benchmark use it: start it, describe its fixture_version() as a patch
 * with the prebuilt payload.bin as the image, read its memory and maps. */
#ifndef HP_TEST_LIVE_FIXTURE_H
#define HP_TEST_LIVE_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "hotpatch.h"
#include "child.h"

struct lf_target {
	struct ts_child c;        /* the running fixture */
	uint64_t fn_start;        /* runtime address of fixture_version */
	uint64_t fn_end;          /* end of its section */
	uint8_t expect[256];      /* its bytes read at start (the fingerprint) */
	struct hp_live_func func; /* it, as a function to redirect */
	struct hp_live_patch patch; /* a patch redirecting it to payload.bin */
};

/* Start dir/target with args (NULL-terminated, may be NULL), wait for its
 * "ready" line and fill t. Returns 0 or -1. */
int lf_start(struct lf_target *t, const char *dir, const char *const *args);

/* Kill and reap it. */
void lf_stop(struct lf_target *t);

/* Ask a command, compare the answer. */
bool lf_says(struct lf_target *t, const char *cmd, const char *want);

/* Read len bytes of its memory at addr; 0 or -1. */
int lf_read(pid_t pid, uint64_t addr, void *buf, size_t len);

/* Does any mapping of pid hold both write and execute permission? */
bool lf_has_wx(pid_t pid);

/* The permissions ("r-xp"...) of the mapping starting at addr, in perms[5];
 * false when none starts there. */
bool lf_perms(pid_t pid, uint64_t addr, char perms[5]);

/* Is there a mapping starting at addr? */
bool lf_mapped(pid_t pid, uint64_t addr);

/* The image callback: payload.bin, loaded by lf_start, at offset 0. */
int lf_image(void *ctx, uint64_t base, uint8_t *buf, size_t size, uint64_t *new_addr);

#endif
