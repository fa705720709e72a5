/* Fuzz target: the minisign files (docs/signing.md): public keys, secret
 * keys and signatures. Signatures and trusted keys arrive with packages and
 * key directories and are parsed before anything is proved, so the parser
 * is the first thing an attacker reaches. The library reads these files by
 * path, so the input goes into a memfd opened as /proc/self/fd/N: the same
 * code path as a real file, nothing written to disk.
 *
 * The first byte picks the file kind; the rest is the file. A signature is
 * checked over a fixed message against a keyring holding the fixed key
 * below, whose seeds (tests/fuzz/corpus/minisign/) are real signatures of
 * that message, so mutations reach the signature checks, not only the
 * parser. Nothing mutated from them may verify. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

/* The public key of the seeds' signatures (made with minisign -G -W for
 * this target only; its secret half is not kept). */
static const char fuzz_pub[] =
	"untrusted comment: minisign public key 58CB403912835FFF\n"
	"RWT/X4MSOUDLWHzVv1sWZZKE8zTsFcPqWpMqDHjGtbXKYbI7KAWfrzbk\n";
static const char fuzz_msg[] = "hotpatch fuzz message\n";

static struct hp_keyring *keyring;

enum fuzz_kind {
	FUZZ_PUBLIC,
	FUZZ_SECRET,
	FUZZ_SIGNATURE,
	FUZZ_KINDS,
};

/* Path of a memfd holding data, in *path (room for 32 bytes); fd or -1. */
static int as_file(const void *data, size_t size, char path[32])
{
	int fd = fuzz_memfd("fuzz-minisign", data, size);

	if (fd >= 0)
		snprintf(path, 32, "/proc/self/fd/%d", fd);
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[32];
	int fd;

	(void)argc;
	(void)argv;
	fuzz_quiet();
	keyring = hp_keyring__new();
	fd = as_file(fuzz_pub, sizeof(fuzz_pub) - 1, path);
	if (!keyring || fd < 0 || hp_keyring__add_file(keyring, path)) {
		fprintf(stderr, "fuzz: minisign: cannot load the fixed public key\n");
		abort();
	}
	close(fd);
	return 0;
}

/* The seeds carry this trusted comment, and the global signature binds
 * it: without the secret key, nothing else can verify. A verified input
 * without it means a check was skipped. */
static bool may_verify(const uint8_t *data, size_t size)
{
	static const char tc[] = "\ntrusted comment: fuzz seed\n";

	return memmem(data, size, tc, sizeof(tc) - 1) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hp_sig_info info;
	struct hp_key *key = NULL;
	char path[32];
	int fd, r;

	if (size < 1)
		return 0;
	fd = as_file(data + 1, size - 1, path);
	if (fd < 0)
		return 0;
	switch (data[0] % FUZZ_KINDS) {
	case FUZZ_PUBLIC:
		key = hp_key__load_public(path);
		break;
	case FUZZ_SECRET:
		/* No password: an encrypted key is refused before scrypt runs,
		 * which keeps each run in microseconds. */
		key = hp_key__load_secret(path, NULL);
		break;
	case FUZZ_SIGNATURE:
		r = hp_sig__verify_buf(fuzz_msg, sizeof(fuzz_msg) - 1, "fuzz-message", path,
				       keyring, &info);
		if (!r && !may_verify(data + 1, size - 1)) {
			fprintf(stderr, "fuzz: minisign: a mutated signature verified\n");
			abort();
		}
		break;
	}
	if (key) {
		(void)hp_key__id(key);
		(void)hp_key__path(key);
		hp_key__free(key);
	}
	close(fd);
	return 0;
}
