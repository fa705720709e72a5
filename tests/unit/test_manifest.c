/* The manifest parser and writer: the vendor's source manifest as committed,
 * a final manifest that round-trips byte for byte, and every way a manifest
 * is refused, each with the field path the message must name. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "manifest.h"
#include "support.h"

static char msgs[8192];

static int capture(enum hp_print_level level, const char *fmt, va_list ap)
{
	size_t n = strlen(msgs);

	if (level == HP_WARN && n < sizeof(msgs) - 1)
		vsnprintf(msgs + n, sizeof(msgs) - n, fmt, ap);
	return 0;
}

static const char *const fp1 = "1111111111111111111111111111111111111111111111111111111111111111";

/* A complete final manifest, with one hole (%s) where a test puts extra
 * text into the first function entry, and the format version. */
static char *final_text(int format, const char *extra_func, const char *payload_file)
{
	char *s = NULL;

	if (asprintf(&s,
		     "{\"format\": %d, \"id\": \"KB916846\", \"title\": \"t\", \"components\": [\n"
		     " {\"name\": \"srv\", \"package_note\": \"srv\", \"paths\": [\"usr/sbin/srv\"],\n"
		     "  \"functions\": [\"srv_negotiate_signing\"],\n"
		     "  \"payload\": {\"file\": \"%s\", \"sha256\": \"%s\", \"size\": 100},\n"
		     "  \"eligible\": [{\"version\": \"5.2.3790.2437\", \"build_id\": \"abcdef0123\",\n"
		     "    \"sha256\": \"%s\", \"functions\": [{\"name\": \"srv_negotiate_signing\",\n"
		     "    \"size\": 42, \"fingerprint\": \"%s\"%s}]}]}]}\n",
		     format, payload_file, fp1, fp1, fp1, extra_func) < 0)
		return NULL;
	return s;
}

/* Parse text as kind and expect a refusal with err and a message holding
 * every string of want (NULL-terminated). */
static void expect_refused(const char *text, enum hp_manifest_kind kind, int err, ...)
{
	hp_print_fn_t old = hp_set_print(capture);
	struct hp_manifest *m;
	const char *want;
	va_list ap;

	msgs[0] = '\0';
	errno = 0;
	m = hp_manifest__parse(text, strlen(text), "test.json", kind);
	hp_set_print(old);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_EQUAL(errno, err);
	va_start(ap, err);
	while ((want = va_arg(ap, const char *))) {
		if (!strstr(msgs, want))
			fprintf(stderr, "missing '%s' in message: %s\n", want, msgs);
		CU_ASSERT_PTR_NOT_NULL(strstr(msgs, want));
	}
	va_end(ap);
	hp_manifest__free(m);
}

static void source_manifest_parses(void)
{
	const char *path = NULL;
	struct hp_manifest *m;
	char *p = NULL;

	CU_ASSERT(asprintf(&p, "%s/manifests/KB916846.json", ts_src_dir()) > 0);
	path = p;
	m = hp_manifest__load(path, HP_MANIFEST_SOURCE);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_STRING_EQUAL(m->id, "KB916846");
	CU_ASSERT_EQUAL(m->nr_components, 2);
	CU_ASSERT_PTR_NOT_NULL(hp_manifest__find_version(hp_manifest__find_component(m, "srv"),
							 "5.2.3790.2437"));
	CU_ASSERT_PTR_NOT_NULL(hp_manifest__find_version(hp_manifest__find_component(m, "srv"),
							 "5.2.3790.2691"));
	CU_ASSERT_PTR_NULL(hp_manifest__find_version(hp_manifest__find_component(m, "srv"),
						     "5.2.3790.1830"));
	CU_ASSERT_PTR_NOT_NULL(hp_manifest__find_version(hp_manifest__find_component(m, "mrxsmb"),
							 "5.2.3790.1830"));
	CU_ASSERT_PTR_NULL(hp_manifest__find_component(m, "rdr"));
	hp_manifest__free(m);
	/* The source form is not a package: as a final manifest it is refused. */
	m = hp_manifest__load(path, HP_MANIFEST_FINAL);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_EQUAL(errno, HP_E_FORMAT);
	free(p);
}

static void final_round_trips(void)
{
	char *text = final_text(1, "", "srv.hpc"), *a = NULL, *b = NULL;
	struct hp_manifest *m, *m2;
	const char *dir = ts_tmpdir();
	char path[4096];
	size_t len;
	char *back;

	m = hp_manifest__parse(text, strlen(text), "t.json", HP_MANIFEST_FINAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->components[0].payload_size, 100);
	CU_ASSERT_EQUAL(m->components[0].versions[0].funcs[0].size, 42);
	CU_ASSERT_STRING_EQUAL(m->components[0].versions[0].build_id, "abcdef0123");
	a = hp_manifest__dump(m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	m2 = hp_manifest__parse(a, strlen(a), "a.json", HP_MANIFEST_FINAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m2);
	b = hp_manifest__dump(m2);
	CU_ASSERT_STRING_EQUAL(a, b);
	/* The documented order: format first, then id, title, components. */
	CU_ASSERT(strstr(a, "\"format\"") < strstr(a, "\"id\""));
	CU_ASSERT(strstr(a, "\"title\"") < strstr(a, "\"components\""));
	CU_ASSERT_EQUAL(a[strlen(a) - 1], '\n');

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	CU_ASSERT_EQUAL(hp_manifest__write(m2, path), 0);
	back = ts_read_file(path, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_STRING_EQUAL(back, a);
	free(back);
	hp_manifest__free(m);
	hp_manifest__free(m2);
	free(a);
	free(b);
	free(text);
}

static void invalid_json(void)
{
	expect_refused("{\"format\": 1, \"id\": ", HP_MANIFEST_FINAL, HP_E_FORMAT, "test.json",
		       "invalid JSON at line 1", NULL);
	expect_refused("[1, 2]", HP_MANIFEST_FINAL, HP_E_FORMAT, "not a JSON object", NULL);
	expect_refused("{\"format\": 1, \"format\": 1}", HP_MANIFEST_FINAL, HP_E_FORMAT,
		       "invalid JSON", "duplicate", NULL);
}

static void unknown_field(void)
{
	char *t = final_text(1, ", \"colour\": \"red\"", "srv.hpc");

	expect_refused(t, HP_MANIFEST_FINAL, HP_E_FORMAT,
		       "components[0].eligible[0].functions[0].colour: unknown field", NULL);
	free(t);
	expect_refused("{\"format\": 1, \"id\": \"X\", \"title\": \"t\", \"components\": [], \"x\": 1}",
		       HP_MANIFEST_FINAL, HP_E_FORMAT, "x: unknown field", NULL);
}

static void missing_field(void)
{
	char *t = final_text(1, "", "srv.hpc"), *p = strstr(t, ", \"size\": 100");

	/* Blank out the payload's size. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memset(p, ' ', strlen(", \"size\": 100"));
	expect_refused(t, HP_MANIFEST_FINAL, HP_E_FORMAT, "components[0].payload.size: missing field",
		       NULL);
	free(t);
	expect_refused("{\"format\": 1, \"title\": \"t\", \"components\": []}", HP_MANIFEST_FINAL,
		       HP_E_FORMAT, "id: missing field", NULL);
	expect_refused("{\"id\": \"X\"}", HP_MANIFEST_FINAL, HP_E_FORMAT, "format: missing field",
		       NULL);
}

static void wrong_values(void)
{
	char *t = final_text(1, "", "srv.hpc"), *p;

	/* A fingerprint that is not 64 hex digits. */
	p = strstr(t, "\"fingerprint\": \"1");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p[16] = 'X';
	expect_refused(t, HP_MANIFEST_FINAL, HP_E_FORMAT,
		       "components[0].eligible[0].functions[0].fingerprint: expected 64 lowercase hex",
		       NULL);
	free(t);
	t = final_text(1, "", "srv.hpc");
	p = strstr(t, "\"size\": 42");
	memcpy(p, "\"size\": -1", 10);
	expect_refused(t, HP_MANIFEST_FINAL, HP_E_FORMAT, "functions[0].size: must be positive", NULL);
	free(t);
	expect_refused("{\"format\": 3, \"id\": \"X\"}", HP_MANIFEST_FINAL, HP_E_UNSUPPORTED,
		       "format 3 is not supported", NULL);
	expect_refused("{\"format\": \"1\"}", HP_MANIFEST_FINAL, HP_E_FORMAT,
		       "format: expected an integer", NULL);
}

static void path_escaping_the_package(void)
{
	static const char *const bad[] = { "../srv.hpc", "/etc/passwd", "a/../../b", "./srv.hpc",
					   "a//b", NULL };
	size_t i;

	for (i = 0; bad[i]; i++) {
		char *t = final_text(1, "", bad[i]);

		expect_refused(t, HP_MANIFEST_FINAL, HP_E_FORMAT, "components[0].payload.file",
			       "escapes the package directory", NULL);
		free(t);
	}
	CU_ASSERT(manifest_name_is_confined("srv.hpc"));
	CU_ASSERT(manifest_name_is_confined("payloads/srv.hpc"));
	CU_ASSERT(manifest_name_is_confined("..srv"));
	CU_ASSERT_FALSE(manifest_name_is_confined(""));
	CU_ASSERT_FALSE(manifest_name_is_confined(".."));
	CU_ASSERT_FALSE(manifest_name_is_confined("a/.."));
	CU_ASSERT_FALSE(manifest_name_is_confined("a/"));
}

static void later_format_fields(void)
{
	char *t = final_text(1, "", "srv.hpc"), *t2 = NULL, *p;
	struct hp_manifest *m;
	char *dump;

	/* patched_sha256 belongs to format 2: a format 1 manifest naming it is
	 * refused with the reason, not silently read. */
	p = strstr(t, "\"functions\": [{");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT(asprintf(&t2, "%.*s\"patched_sha256\": \"%s\", %s", (int)(p - t), t, fp1, p) > 0);
	expect_refused(t2, HP_MANIFEST_FINAL, HP_E_FORMAT,
		       "components[0].eligible[0].patched_sha256: field needs format 2", NULL);
	/* As format 2 it is read and written back. */
	t2[11] = '2';
	m = hp_manifest__parse(t2, strlen(t2), "t2.json", HP_MANIFEST_FINAL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(m->format, 2);
	CU_ASSERT_STRING_EQUAL(m->components[0].versions[0].patched_sha256, fp1);
	dump = hp_manifest__dump(m);
	CU_ASSERT_PTR_NOT_NULL(strstr(dump, "\"patched_sha256\""));
	free(dump);
	hp_manifest__free(m);
	free(t);
	free(t2);
}

static void bounds(void)
{
	size_t len = MANIFEST_MAX_BYTES + 10;
	char *big = malloc(len + 1);
	struct hp_manifest *m;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, ' ', len);
	big[0] = '{';
	big[len - 1] = '}';
	big[len] = '\0';
	hp_print_fn_t old = hp_set_print(NULL);

	m = hp_manifest__parse(big, len, "big.json", HP_MANIFEST_FINAL);
	hp_set_print(old);
	CU_ASSERT_PTR_NULL(m);
	CU_ASSERT_EQUAL(errno, HP_E_TOO_BIG);
	free(big);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "the committed source manifest parses", source_manifest_parses },
		{ "a final manifest round-trips byte for byte", final_round_trips },
		{ "invalid JSON and duplicate keys are refused", invalid_json },
		{ "an unknown field is refused with its path", unknown_field },
		{ "a missing field is refused with its path", missing_field },
		{ "wrong types, digests, sizes and formats", wrong_values },
		{ "a file name escaping the package is refused", path_escaping_the_package },
		{ "format 2 fields need format 2", later_format_fields },
		{ "a manifest beyond its size bound is refused", bounds },
		{ NULL, NULL },
	};

	ts_add_suite("manifest", tests);
}
