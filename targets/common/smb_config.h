/* The signing settings of lanmanserver.conf and lanmanworkstation.conf, and
 * their strict parser. Both files mirror the registry values of the
 * article: EnableSecuritySignature and RequireSecuritySignature, 0 or 1. */
#ifndef SMB_CONFIG_H
#define SMB_CONFIG_H

#include <stddef.h>

/* The settings, as read; the negotiation routines take this struct, so its
 * layout never changes. */
struct signing_config {
	int enable;   /* EnableSecuritySignature: 0 or 1 */
	int require;  /* RequireSecuritySignature: 0 or 1 (implies enabled) */
};

/* The three settings of the article's table. */
enum signing_setting {
	SIGNING_DISABLED = 0,
	SIGNING_ENABLED = 1,
	SIGNING_REQUIRED = 2,
};

/* Why a config file was rejected; each has its own code. */
enum cfg_error {
	CFG_OK = 0,
	CFG_E_OPEN = -1,       /* cannot open or read the file */
	CFG_E_SYNTAX = -2,     /* a line is not "Key = Value" */
	CFG_E_KEY = -3,        /* unknown key */
	CFG_E_VALUE = -4,      /* value is not 0 or 1 */
	CFG_E_DUPLICATE = -5,  /* key given twice */
	CFG_E_MISSING = -6,    /* a key is absent */
	CFG_E_LONG_LINE = -7,  /* line longer than CFG_MAX_LINE */
	CFG_E_BINARY = -8,     /* a NUL byte or other control character */
	CFG_E_TOO_BIG = -9,    /* file larger than CFG_MAX_SIZE */
};

#define CFG_MAX_LINE 256
#define CFG_MAX_SIZE 65536

/* Parse text[0..len) named name (for messages). On error, err holds
 * "NAME:LINE: cause" and nothing is written to *out. */
int cfg_parse(const char *name, const char *text, size_t len, struct signing_config *out,
	      char *err, size_t errlen);

/* Read and parse the file at path. */
int cfg_load(const char *path, struct signing_config *out, char *err, size_t errlen);

/* The article's setting for a config, and its name. */
enum signing_setting cfg_setting(const struct signing_config *cfg);
const char *cfg_setting_name(enum signing_setting s);

#endif
