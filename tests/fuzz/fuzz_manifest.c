/* Fuzz target: the package manifest parser (hp_manifest__parse), both
 * forms. A manifest comes out of a package, so its every byte is attacker
 * controlled until the signature is checked, and the parser runs on it to
 * report what a package is even when the signature is bad. The first byte
 * picks the form; what parses is also dumped and parsed again, which must
 * succeed: the writer and the reader agree on everything the reader accepts. */
#include <stdio.h>

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum hp_manifest_kind kind;
	struct hp_manifest *m, *again;
	char *text;

	if (size < 1)
		return 0;
	kind = data[0] & 1 ? HP_MANIFEST_FINAL : HP_MANIFEST_SOURCE;
	m = hp_manifest__parse((const char *)data + 1, size - 1, "fuzz.json", kind);
	if (!m)
		return 0;
	(void)hp_manifest__find_component(m, "srv");
	text = hp_manifest__dump(m);
	if (text) {
		size_t len = 0;

		while (text[len])
			len++;
		again = hp_manifest__parse(text, len, "fuzz-dump.json", kind);
		if (!again) {
			fprintf(stderr, "fuzz: a manifest that parsed does not parse once dumped:\n%s",
				text);
			abort();
		}
		hp_manifest__free(again);
		free(text);
	}
	hp_manifest__free(m);
	return 0;
}
