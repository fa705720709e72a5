/* Fuzz target: the signing settings file of srv and mrxsmb (cfg_parse in
 * targets/common/config.c), the stand-in for the registry values of the
 * article. A bad file must be a clear error with its message, never a
 * silent default: every refusal must say why, and what is accepted must be
 * one of the three settings. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "smb_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct signing_config cfg = { -1, -1 };
	char err[512] = "";
	int r;

	r = cfg_parse("fuzz.conf", (const char *)data, size, &cfg, err, sizeof(err));
	if (r != CFG_OK) {
		if (!err[0] || !memchr(err, '\0', sizeof(err))) {
			fprintf(stderr, "fuzz: config: error %d without a message\n", r);
			abort();
		}
		return 0;
	}
	if ((cfg.enable != 0 && cfg.enable != 1) || (cfg.require != 0 && cfg.require != 1)) {
		fprintf(stderr, "fuzz: config: accepted values %d/%d\n", cfg.enable, cfg.require);
		abort();
	}
	(void)cfg_setting_name(cfg_setting(&cfg));
	return 0;
}
