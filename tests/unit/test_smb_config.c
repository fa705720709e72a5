/* The strict parser of lanmanserver.conf / lanmanworkstation.conf: good
 * files in their usual shapes, and every bad one rejected with its own
 * error, the file and line in the message, and nothing written. */
#include <string.h>

#include "smb_config.h"
#include "support.h"

static int parse(const char *text, struct signing_config *out, char *err, size_t errlen)
{
	return cfg_parse("test.conf", text, strlen(text), out, err, errlen);
}

static void good_files(void)
{
	struct signing_config c;
	char err[256];

	CU_ASSERT_EQUAL(parse("EnableSecuritySignature=1\nRequireSecuritySignature=0\n", &c, err,
			      sizeof(err)), CFG_OK);
	CU_ASSERT(c.enable == 1 && c.require == 0);
	CU_ASSERT_EQUAL(cfg_setting(&c), SIGNING_ENABLED);
	CU_ASSERT_EQUAL(parse("# Lanmanserver\r\n; comment\r\n\r\n  RequireSecuritySignature = 1 \r\n"
			      "\tEnableSecuritySignature\t=\t0", &c, err, sizeof(err)), CFG_OK);
	CU_ASSERT(c.enable == 0 && c.require == 1);
	CU_ASSERT_EQUAL(cfg_setting(&c), SIGNING_REQUIRED);
	CU_ASSERT_STRING_EQUAL(cfg_setting_name(cfg_setting(&c)), "required");
}

static void expect_error(const char *text, int code, const char *msg_part)
{
	struct signing_config c = { 7, 7 };
	char err[256] = "";
	int ret = parse(text, &c, err, sizeof(err));

	CU_ASSERT_EQUAL(ret, code);
	if (!strstr(err, msg_part))
		fprintf(stderr, "message '%s' lacks '%s'\n", err, msg_part);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, msg_part));
	CU_ASSERT(c.enable == 7 && c.require == 7);
}

static void bad_files(void)
{
	char big[CFG_MAX_SIZE + 2], longline[CFG_MAX_LINE + 40];
	static const char nul[] = "EnableSecuritySignature = 1\nRequire\0SecuritySignature = 0\n";
	struct signing_config c = { 7, 7 };
	char err[256];

	expect_error("EnableSecuritySignature 1\n", CFG_E_SYNTAX, "test.conf:1: expected 'Key = Value'");
	expect_error("EnableSecuritySignature = 1\n = 1\n", CFG_E_SYNTAX, "test.conf:2: missing key");
	expect_error("EnableSecuritySignatures = 1\n", CFG_E_KEY,
		     "test.conf:1: unknown key 'EnableSecuritySignatures'");
	expect_error("enablesecuritysignature = 1\n", CFG_E_KEY, "test.conf:1: unknown key");
	expect_error("EnableSecuritySignature = yes\n", CFG_E_VALUE,
		     "test.conf:1: EnableSecuritySignature: value 'yes' is not 0 or 1");
	expect_error("EnableSecuritySignature = 2\n", CFG_E_VALUE, "value '2'");
	expect_error("EnableSecuritySignature =\n", CFG_E_VALUE, "value ''");
	expect_error("EnableSecuritySignature = 01\n", CFG_E_VALUE, "value '01'");
	expect_error("EnableSecuritySignature = 1\nRequireSecuritySignature = 0\nEnableSecuritySignature = 0\n",
		     CFG_E_DUPLICATE, "test.conf:3: EnableSecuritySignature given again (first on line 1)");
	expect_error("EnableSecuritySignature = 1\n", CFG_E_MISSING,
		     "test.conf: missing key RequireSecuritySignature");
	expect_error("", CFG_E_MISSING, "missing key EnableSecuritySignature");
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	expect_error(longline, CFG_E_LONG_LINE, "test.conf:1: line longer than");
	expect_error("EnableSecuritySignature = 1\x01\n", CFG_E_BINARY, "test.conf:1: control character 0x01");
	CU_ASSERT_EQUAL(cfg_parse("nul.conf", nul, sizeof(nul) - 1, &c, err, sizeof(err)), CFG_E_BINARY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "nul.conf:2: control character 0x00"));
	memset(big, '#', sizeof(big));
	CU_ASSERT_EQUAL(cfg_parse("big.conf", big, sizeof(big), &c, err, sizeof(err)), CFG_E_TOO_BIG);
	CU_ASSERT(c.enable == 7 && c.require == 7);
}

static void files_on_disk(void)
{
	const char *dir = ts_tmpdir();
	struct signing_config c = { 7, 7 };
	char path[512], err[512];
	static const char good[] = "EnableSecuritySignature = 1\nRequireSecuritySignature = 1\n";

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	snprintf(path, sizeof(path), "%s/missing.conf", dir);
	CU_ASSERT_EQUAL(cfg_load(path, &c, err, sizeof(err)), CFG_E_OPEN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing.conf: cannot open: No such file or directory"));
	CU_ASSERT_EQUAL(cfg_load(dir, &c, err, sizeof(err)), CFG_E_OPEN);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read: Is a directory"));
	snprintf(path, sizeof(path), "%s/lanmanserver.conf", dir);
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, good, sizeof(good) - 1), 0);
	CU_ASSERT_EQUAL(cfg_load(path, &c, err, sizeof(err)), CFG_OK);
	CU_ASSERT(c.enable == 1 && c.require == 1);
	CU_ASSERT_EQUAL(ts_write_file(path, "RequireSecuritySignature = 1\nbogus\n", 35), 0);
	CU_ASSERT_EQUAL(cfg_load(path, &c, err, sizeof(err)), CFG_E_SYNTAX);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "lanmanserver.conf:2: expected"));
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "good files", good_files },
		{ "each bad file rejected with its own error", bad_files },
		{ "files on disk", files_on_disk },
		{ NULL, NULL },
	};

	ts_add_suite("smb config", tests);
}
