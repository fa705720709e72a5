/* Fuzz target: the payload container (hp_container__unpack): header checks,
 * the bounded inflate, sizes and CRC-32. A container is read from a package
 * before anything vouches for it beyond the manifest's hash, and its
 * declared sizes decide what is allocated, so this is where a decompression
 * bomb or a lying header would bite. The bound is kept small (1 MiB) so a
 * run spends its time on parsing, not on inflating; whatever unpacks is
 * packed again and must unpack to the same bytes. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"

#define FUZZ_MAX_UNPACKED (1u << 20) /* bytes */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *out = NULL, *packed = NULL, *again = NULL;
	size_t out_len = 0, packed_len = 0, again_len = 0;

	if (hp_container__unpack(data, size, FUZZ_MAX_UNPACKED, &out, &out_len))
		return 0;
	if (out_len > FUZZ_MAX_UNPACKED) {
		fprintf(stderr, "fuzz: unpacked %zu bytes, beyond the bound of %u\n", out_len,
			FUZZ_MAX_UNPACKED);
		abort();
	}
	if (!hp_container__pack(out, out_len, &packed, &packed_len)) {
		if (hp_container__unpack(packed, packed_len, FUZZ_MAX_UNPACKED, &again,
					 &again_len) ||
		    again_len != out_len || memcmp(again, out, out_len)) {
			fprintf(stderr, "fuzz: a repacked container does not unpack to its bytes\n");
			abort();
		}
	}
	free(again);
	free(packed);
	free(out);
	return 0;
}
