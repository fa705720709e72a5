/* Keys, signatures and trusted keyrings in minisign's formats: round trips
 * through real files, and every kind of bad key, bad signature and tampered
 * input refused with its specific error and a message naming the cause.
 * (Interoperability with the real minisign binary: tests/e2e/test_signing.c.) */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "hotpatch.h"
#include "support.h"

static char last_msg[2048];

static int capture(enum hp_print_level level, const char *fmt, va_list ap)
{
	if (level == HP_WARN)
		vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	return 0;
}

static bool said(const char *cause)
{
	if (strstr(last_msg, cause))
		return true;
	fprintf(stderr, "expected '%s' in message '%s'\n", cause, last_msg);
	return false;
}

/* Paths made by at(), freed when the program ends. */
static char *paths[512];
static int nr_paths;

static void free_paths(void)
{
	while (nr_paths)
		free(paths[--nr_paths]);
}

/* "DIR/NAME", kept until the test program ends. */
static const char *at(const char *dir, const char *name)
{
	char *p;

	CU_ASSERT_FATAL(nr_paths < 512);
	CU_ASSERT_FATAL(asprintf(&p, "%s/%s", dir, name) > 0);
	paths[nr_paths++] = p;
	return p;
}

static void write_text(const char *path, const char *text)
{
	CU_ASSERT_EQUAL_FATAL(ts_write_file(path, text, strlen(text)), 0);
}

static char *read_text(const char *path)
{
	char *s = ts_read_file(path, NULL);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

/* A fresh key pair in dir, as SECRET.key / NAME.pub. */
static struct hp_key *new_pair(const char *dir, const char *name)
{
	char sec[64], pub[64];
	struct hp_key *key = NULL;

	snprintf(sec, sizeof(sec), "%s.key", name);
	snprintf(pub, sizeof(pub), "%s.pub", name);
	CU_ASSERT_EQUAL_FATAL(hp_key__generate(at(dir, sec), at(dir, pub), NULL, &key), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	return key;
}

static struct hp_keyring *ring_of(const char *pub)
{
	struct hp_keyring *kr = hp_keyring__new();

	CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
	CU_ASSERT_EQUAL_FATAL(hp_keyring__add_file(kr, pub), 0);
	return kr;
}

static int verify(const char *file, const char *sig, const struct hp_keyring *kr,
		  struct hp_sig_info *info)
{
	last_msg[0] = '\0';
	return hp_sig__verify_file(file, sig, kr, info);
}

/* ---- keys ---- */

static void keygen_writes_both_files(void)
{
	const char *dir = ts_tmpdir();
	struct hp_key *gen = new_pair(dir, "v"), *pub, *sec;
	struct stat st;
	char *text;

	CU_ASSERT_EQUAL(stat(at(dir, "v.key"), &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(stat(at(dir, "v.pub"), &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0644);
	CU_ASSERT_EQUAL(strlen(hp_key__id(gen)), 16);

	text = read_text(at(dir, "v.pub"));
	CU_ASSERT(!strncmp(text, "untrusted comment: minisign public key ", 39));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, hp_key__id(gen)));
	free(text);

	pub = hp_key__load_public(at(dir, "v.pub"));
	sec = hp_key__load_secret(at(dir, "v.key"), NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sec);
	CU_ASSERT_STRING_EQUAL(hp_key__id(pub), hp_key__id(gen));
	CU_ASSERT_STRING_EQUAL(hp_key__id(sec), hp_key__id(gen));
	CU_ASSERT_STRING_EQUAL(hp_key__path(pub), at(dir, "v.pub"));
	hp_key__free(pub);
	hp_key__free(sec);
	hp_key__free(gen);
	hp_key__free(NULL);
}

static void keygen_never_overwrites(void)
{
	const char *dir = ts_tmpdir();
	struct hp_keygen_opts force = { .force = 1 };
	struct hp_key *a = new_pair(dir, "k"), *b = NULL;
	char *sec0 = read_text(at(dir, "k.key")), *pub0 = read_text(at(dir, "k.pub")), *s;
	struct stat st0, st1;

	CU_ASSERT_EQUAL(stat(at(dir, "k.key"), &st0), 0);
	last_msg[0] = '\0';
	CU_ASSERT_EQUAL(hp_key__generate(at(dir, "k.key"), at(dir, "k.pub"), NULL, &b), -EEXIST);
	CU_ASSERT_PTR_NULL(b);
	CU_ASSERT(said("k.key: exists; not replaced"));
	/* Only the public key exists: still nothing written. */
	CU_ASSERT_EQUAL(hp_key__generate(at(dir, "other.key"), at(dir, "k.pub"), NULL, NULL),
			-EEXIST);
	CU_ASSERT_EQUAL(access(at(dir, "other.key"), F_OK), -1);
	CU_ASSERT_EQUAL(stat(at(dir, "k.key"), &st1), 0);
	CU_ASSERT_EQUAL(st0.st_mtim.tv_sec, st1.st_mtim.tv_sec);
	CU_ASSERT_EQUAL(st0.st_mtim.tv_nsec, st1.st_mtim.tv_nsec);
	s = read_text(at(dir, "k.key"));
	CU_ASSERT_STRING_EQUAL(s, sec0);
	free(s);
	s = read_text(at(dir, "k.pub"));
	CU_ASSERT_STRING_EQUAL(s, pub0);
	free(s);

	CU_ASSERT_EQUAL(hp_key__generate(at(dir, "same"), at(dir, "same"), NULL, NULL), -EINVAL);

	CU_ASSERT_EQUAL(hp_key__generate(at(dir, "k.key"), at(dir, "k.pub"), &force, &b), 0);
	CU_ASSERT_PTR_NOT_NULL(b);
	s = read_text(at(dir, "k.pub"));
	CU_ASSERT_STRING_NOT_EQUAL(s, pub0);
	free(s);
	free(sec0);
	free(pub0);
	hp_key__free(a);
	hp_key__free(b);
}

static void encrypted_secret_key(void)
{
	const char *dir = ts_tmpdir();
	struct hp_keygen_opts o = { .password = "correct horse", .kdf_interactive = 1 };
	struct hp_key *gen = NULL, *k;
	char *text;

	CU_ASSERT_EQUAL_FATAL(hp_key__generate(at(dir, "e.key"), at(dir, "e.pub"), &o, &gen), 0);
	text = read_text(at(dir, "e.key"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "encrypted secret key"));
	free(text);

	k = hp_key__load_secret(at(dir, "e.key"), "correct horse");
	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_STRING_EQUAL(hp_key__id(k), hp_key__id(gen));
	hp_key__free(k);

	last_msg[0] = '\0';
	errno = 0;
	CU_ASSERT_PTR_NULL(hp_key__load_secret(at(dir, "e.key"), "battery staple"));
	CU_ASSERT_EQUAL(errno, HP_E_SIGNATURE);
	CU_ASSERT(said("wrong password"));
	CU_ASSERT_PTR_NULL(hp_key__load_secret(at(dir, "e.key"), NULL));
	CU_ASSERT_EQUAL(errno, HP_E_SIGNATURE);
	CU_ASSERT(said("encrypted and no password"));
	hp_key__free(gen);
}

/* Replace line `line` (from 1) of the file at path by text. */
static void replace_line(const char *path, int line, const char *text)
{
	char *s = read_text(path), *out, *p = s, *nl;
	size_t cap = strlen(s) + strlen(text) + 2, used = 0;
	int no = 1;

	out = calloc(1, cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	while (*p) {
		nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);

		if (no == line)
			used += (size_t)sprintf(out + used, "%s\n", text);
		else
			memcpy(out + used, p, len), used += len;
		p += len;
		no++;
	}
	write_text(path, out);
	free(out);
	free(s);
}

/* Line `line` of the file (malloc'd, without newline). */
static char *get_line(const char *path, int line)
{
	char *s = read_text(path), *p = s, *r;
	int no;

	for (no = 1; no < line && p; no++) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	r = strndup(p, strcspn(p, "\n"));
	free(s);
	return r;
}

static void expect_bad_public(const char *path, int err, const char *cause)
{
	last_msg[0] = '\0';
	errno = 0;
	CU_ASSERT_PTR_NULL(hp_key__load_public(path));
	CU_ASSERT_EQUAL(errno, err);
	CU_ASSERT(said(cause));
	CU_ASSERT(said(path));
}

static void malformed_public_keys(void)
{
	const char *dir = ts_tmpdir(), *p = at(dir, "bad.pub");
	struct hp_key *k = new_pair(dir, "good");
	char *good = read_text(at(dir, "good.pub")), *b64 = get_line(at(dir, "good.pub"), 2);
	unsigned char blob[64];
	size_t n;
	char line[256];

	expect_bad_public(at(dir, "none.pub"), ENOENT, "cannot read");
	write_text(p, "");
	expect_bad_public(p, HP_E_FORMAT, "line 1: missing");
	snprintf(line, sizeof(line), "comment: x\n%s\n", b64);
	write_text(p, line);
	expect_bad_public(p, HP_E_FORMAT, "does not start with 'untrusted comment: '");
	write_text(p, "untrusted comment: x\n");
	expect_bad_public(p, HP_E_FORMAT, "line 2: missing, expected the public key");
	snprintf(line, sizeof(line), "untrusted comment: x\n%.55s\n", b64);
	write_text(p, line);
	expect_bad_public(p, HP_E_FORMAT, "must be 56 base64 characters");
	snprintf(line, sizeof(line), "untrusted comment: x\n%.55s*\n", b64);
	write_text(p, line);
	expect_bad_public(p, HP_E_FORMAT, "not valid base64 of 42 bytes");
	snprintf(line, sizeof(line), "%sextra\n", good);
	write_text(p, line);
	expect_bad_public(p, HP_E_FORMAT, "line 3: unexpected data after the last line");

	/* A well-formed key of another algorithm. */
	CU_ASSERT_EQUAL_FATAL(sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &n,
						NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	blob[0] = 'X';
	sodium_bin2base64(line + 100, 100, blob, n, sodium_base64_VARIANT_ORIGINAL);
	snprintf(line, 100, "untrusted comment: x\n");
	memmove(line + strlen(line), line + 100, strlen(line + 100) + 1);
	strcat(line, "\n");
	write_text(p, line);
	expect_bad_public(p, HP_E_UNSUPPORTED, "unknown public key algorithm 'Xd'");

	/* CRLF line ends (a key copied through a Windows editor) are fine. */
	snprintf(line, sizeof(line), "untrusted comment: x\r\n%s\r\n", b64);
	write_text(p, line);
	hp_key__free(k);
	k = hp_key__load_public(p);
	CU_ASSERT_PTR_NOT_NULL(k);
	hp_key__free(k);
	free(good);
	free(b64);
}

static void malformed_secret_keys(void)
{
	const char *dir = ts_tmpdir(), *p = at(dir, "bad.key");
	struct hp_key *k = new_pair(dir, "s");
	char *b64 = get_line(at(dir, "s.key"), 2), out[400];
	unsigned char blob[200];
	size_t n;

	CU_ASSERT_EQUAL_FATAL(sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &n,
						NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	CU_ASSERT_EQUAL_FATAL(n, 158);

	/* A flipped bit in the secret scalar: the checksum says so. */
	blob[62 + 5] ^= 1;
	sodium_bin2base64(out, sizeof(out), blob, n, sodium_base64_VARIANT_ORIGINAL);
	{
		char text[512];

		snprintf(text, sizeof(text), "untrusted comment: x\n%s\n", out);
		write_text(p, text);
	}
	last_msg[0] = '\0';
	CU_ASSERT_PTR_NULL(hp_key__load_secret(p, NULL));
	CU_ASSERT_EQUAL(errno, HP_E_SIGNATURE);
	CU_ASSERT(said("checksum mismatch"));

	/* The same with the checksum zeroed, as minisign -W writes: the seed
	 * no longer gives the public half the file carries. */
	memset(blob + 126, 0, 32);
	sodium_bin2base64(out, sizeof(out), blob, n, sodium_base64_VARIANT_ORIGINAL);
	{
		char text[512];

		snprintf(text, sizeof(text), "untrusted comment: x\n%s\n", out);
		write_text(p, text);
	}
	CU_ASSERT_PTR_NULL(hp_key__load_secret(p, NULL));
	CU_ASSERT_EQUAL(errno, HP_E_FORMAT);
	CU_ASSERT(said("public half does not match its seed"));

	blob[62 + 5] ^= 1;
	blob[2] = 'X';
	sodium_bin2base64(out, sizeof(out), blob, n, sodium_base64_VARIANT_ORIGINAL);
	{
		char text[512];

		snprintf(text, sizeof(text), "untrusted comment: x\n%s\n", out);
		write_text(p, text);
	}
	CU_ASSERT_PTR_NULL(hp_key__load_secret(p, NULL));
	CU_ASSERT_EQUAL(errno, HP_E_UNSUPPORTED);
	CU_ASSERT(said("unknown key derivation"));

	/* A public key is not a secret key. */
	CU_ASSERT_PTR_NULL(hp_key__load_secret(at(dir, "s.pub"), NULL));
	CU_ASSERT_EQUAL(errno, HP_E_FORMAT);
	CU_ASSERT(said("must be 212 base64 characters"));
	free(b64);
	hp_key__free(k);
}

/* ---- signatures ---- */

static void sign_verify_round_trip(void)
{
	const char *dir = ts_tmpdir(), *file = at(dir, "manifest.json");
	struct hp_key *k = new_pair(dir, "vendor");
	struct hp_keyring *kr = ring_of(at(dir, "vendor.pub"));
	struct hp_sign_opts custom = { .trusted_comment = "KB916846 build 7",
				       .sig_path = at(dir, "custom.sig") };
	struct hp_sig_info info;
	char *data, *text;
	size_t len;

	write_text(file, "{\"id\": \"KB916846\"}\n");
	setenv("SOURCE_DATE_EPOCH", "1149120000", 1);
	CU_ASSERT_EQUAL_FATAL(hp_sig__sign_file(k, file, NULL), 0);
	unsetenv("SOURCE_DATE_EPOCH");
	text = read_text(at(dir, "manifest.json.minisig"));
	CU_ASSERT(!strncmp(text, "untrusted comment: signature from minisign secret key\nRU", 56));
	free(text);

	memset(&info, 0, sizeof(info));
	CU_ASSERT_EQUAL(verify(file, NULL, kr, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.key_id, hp_key__id(k));
	CU_ASSERT_STRING_EQUAL(info.trusted_comment,
			       "timestamp:1149120000\tfile:manifest.json\thashed");
	CU_ASSERT_EQUAL(info.prehashed, 1);
	CU_ASSERT_PTR_NOT_NULL(info.key);
	CU_ASSERT_STRING_EQUAL(hp_key__path(info.key), at(dir, "vendor.pub"));

	/* The same bytes from memory. */
	data = ts_read_file(file, &len);
	CU_ASSERT_EQUAL(hp_sig__verify_buf(data, len, "manifest", at(dir, "manifest.json.minisig"),
					   kr, NULL), 0);
	CU_ASSERT_EQUAL(hp_sig__verify_buf(data, len - 1, "manifest",
					   at(dir, "manifest.json.minisig"), kr, NULL),
			-HP_E_SIGNATURE);
	free(data);

	CU_ASSERT_EQUAL_FATAL(hp_sig__sign_file(k, file, &custom), 0);
	CU_ASSERT_EQUAL(verify(file, custom.sig_path, kr, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.trusted_comment, "KB916846 build 7");

	/* A public key cannot sign; a comment cannot span lines. */
	{
		struct hp_key *pub = hp_key__load_public(at(dir, "vendor.pub"));
		struct hp_sign_opts two = { .trusted_comment = "a\nb" };

		CU_ASSERT_EQUAL(hp_sig__sign_file(pub, file, NULL), -EINVAL);
		CU_ASSERT_EQUAL(hp_sig__sign_file(k, file, &two), -EINVAL);
		CU_ASSERT_EQUAL(hp_sig__sign_file(k, at(dir, "missing"), NULL), -ENOENT);
		CU_ASSERT(said("missing"));
		hp_key__free(pub);
	}
	hp_keyring__free(kr);
	hp_key__free(k);
}

static void wrong_key(void)
{
	const char *dir = ts_tmpdir(), *file = at(dir, "f");
	struct hp_key *k = new_pair(dir, "signer"), *other = new_pair(dir, "other");
	struct hp_keyring *kr = ring_of(at(dir, "other.pub")), *empty = hp_keyring__new();
	char *b64, line[256];
	unsigned char blob[64];
	size_t n;

	write_text(file, "payload\n");
	CU_ASSERT_EQUAL_FATAL(hp_sig__sign_file(k, file, NULL), 0);
	CU_ASSERT_EQUAL(verify(file, NULL, kr, NULL), -HP_E_SIGNATURE);
	CU_ASSERT(said("signed by unknown key id"));
	CU_ASSERT(said(hp_key__id(k)));
	CU_ASSERT(said(hp_key__id(other)));

	CU_ASSERT_EQUAL(verify(file, NULL, empty, NULL), -HP_E_SIGNATURE);
	CU_ASSERT(said("no trusted public keys"));
	CU_ASSERT_EQUAL(verify(file, NULL, NULL, NULL), -HP_E_SIGNATURE);

	/* A key that claims the signer's id but is another key. */
	b64 = get_line(at(dir, "other.pub"), 2);
	CU_ASSERT_EQUAL_FATAL(sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &n,
						NULL, sodium_base64_VARIANT_ORIGINAL), 0);
	free(b64);
	b64 = get_line(at(dir, "signer.pub"), 2);
	{
		unsigned char sblob[64];
		size_t sn;

		CU_ASSERT_EQUAL_FATAL(sodium_base642bin(sblob, sizeof(sblob), b64, strlen(b64),
							NULL, &sn, NULL,
							sodium_base64_VARIANT_ORIGINAL), 0);
		memcpy(blob + 2, sblob + 2, 8);
	}
	free(b64);
	strcpy(line, "untrusted comment: impostor\n");
	sodium_bin2base64(line + strlen(line), 100, blob, n, sodium_base64_VARIANT_ORIGINAL);
	strcat(line, "\n");
	write_text(at(dir, "impostor.pub"), line);
	hp_keyring__free(kr);
	kr = ring_of(at(dir, "impostor.pub"));
	CU_ASSERT_EQUAL(verify(file, NULL, kr, NULL), -HP_E_SIGNATURE);
	CU_ASSERT(said("bad signature"));

	hp_keyring__free(kr);
	hp_keyring__free(empty);
	hp_key__free(k);
	hp_key__free(other);
}

static void tampered_file_and_comment(void)
{
	const char *dir = ts_tmpdir(), *file = at(dir, "f"), *sig = at(dir, "f.minisig");
	struct hp_key *k = new_pair(dir, "v");
	struct hp_keyring *kr = ring_of(at(dir, "v.pub"));
	char *tc, *orig;

	write_text(file, "srv 5.2.3790.2437\n");
	CU_ASSERT_EQUAL_FATAL(hp_sig__sign_file(k, file, NULL), 0);
	CU_ASSERT_EQUAL(verify(file, NULL, kr, NULL), 0);

	write_text(file, "srv 5.2.3790.2438\n");
	CU_ASSERT_EQUAL(verify(file, NULL, kr, NULL), -HP_E_SIGNATURE);
	CU_ASSERT(said("bad signature: the file does not match"));
	CU_ASSERT(said(file));
	write_text(file, "srv 5.2.3790.2437\n");
	CU_ASSERT_EQUAL(verify(file, NULL, kr, NULL), 0);

	orig = read_text(sig);
	tc = get_line(sig, 3);
	tc[strlen(tc) - 1] ^= 1;
	replace_line(sig, 3, tc);
	CU_ASSERT_EQUAL(verify(file, NULL, kr, NULL), -HP_E_SIGNATURE);
	CU_ASSERT(said("bad global signature"));
	free(tc);

	/* The untrusted comment is not signed: changing it is harmless. */
	write_text(sig, orig);
	replace_line(sig, 1, "untrusted comment: anything at all");
	CU_ASSERT_EQUAL(verify(file, NULL, kr, NULL), 0);

	/* A flipped bit in the signature itself. */
	write_text(sig, orig);
	tc = get_line(sig, 2);
	tc[40] = tc[40] == 'A' ? 'B' : 'A';
	replace_line(sig, 2, tc);
	CU_ASSERT_EQUAL(verify(file, NULL, kr, NULL), -HP_E_SIGNATURE);
	CU_ASSERT(said("bad signature"));
	free(tc);
	free(orig);
	hp_keyring__free(kr);
	hp_key__free(k);
}

static void expect_malformed(const char *file, const char *sig, const struct hp_keyring *kr,
			     const char *cause)
{
	CU_ASSERT_EQUAL(verify(file, sig, kr, NULL), -HP_E_SIGNATURE);
	CU_ASSERT(said(cause));
}

static void malformed_signatures(void)
{
	const char *dir = ts_tmpdir(), *file = at(dir, "f"), *sig = at(dir, "f.minisig");
	struct hp_key *k = new_pair(dir, "v");
	struct hp_keyring *kr = ring_of(at(dir, "v.pub"));
	char *orig, *l2, *l4, *big, text[1024];
	unsigned char blob[80];
	size_t n;

	write_text(file, "data\n");
	expect_malformed(file, NULL, kr, "no signature file");
	CU_ASSERT(said(sig));
	CU_ASSERT_EQUAL_FATAL(hp_sig__sign_file(k, file, NULL), 0);
	orig = read_text(sig);
	l2 = get_line(sig, 2);
	l4 = get_line(sig, 4);

	write_text(sig, "");
	expect_malformed(file, NULL, kr, "line 1: missing");
	snprintf(text, sizeof(text), "untrusted comment: x\n%s\n", l2);
	write_text(sig, text);
	expect_malformed(file, NULL, kr, "line 3: missing, expected 'trusted comment: ...'");
	snprintf(text, sizeof(text), "untrusted comment: x\n%s\ntrusted comment: t\n", l2);
	write_text(sig, text);
	expect_malformed(file, NULL, kr, "line 4: missing, expected the global signature");
	snprintf(text, sizeof(text), "untrusted comment: x\n%s\nuntrusted comment: t\n%s\n", l2, l4);
	write_text(sig, text);
	expect_malformed(file, NULL, kr, "line 3: does not start with 'trusted comment: '");
	snprintf(text, sizeof(text), "untrusted comment: x\n%sAAAA\ntrusted comment: t\n%s\n", l2, l4);
	write_text(sig, text);
	expect_malformed(file, NULL, kr, "the signature must be 100 base64 characters");
	snprintf(text, sizeof(text), "untrusted comment: x\n%s\ntrusted comment: t\n%.86s!=\n", l2, l4);
	write_text(sig, text);
	expect_malformed(file, NULL, kr, "the global signature is not valid base64");
	snprintf(text, sizeof(text), "%s\n", orig);
	write_text(sig, text);
	expect_malformed(file, NULL, kr, "line 5: unexpected data after the last line");
	CU_ASSERT_EQUAL(ts_write_file(sig, "untrusted comment: a\0b\n", 23), 0);
	expect_malformed(file, NULL, kr, "holds a NUL byte");

	/* A line longer than any comment minisign writes or reads. */
	big = malloc(20000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'c', 19999);
	big[19999] = '\0';
	memcpy(big, "untrusted comment: ", 19);
	write_text(sig, big);
	expect_malformed(file, NULL, kr, "larger than");
	big[2000] = '\n';
	big[2001] = '\0';
	write_text(sig, big);
	expect_malformed(file, NULL, kr, "line 1: longer than");
	free(big);

	/* An unknown algorithm in a well-formed signature line. */
	CU_ASSERT_EQUAL_FATAL(sodium_base642bin(blob, sizeof(blob), l2, strlen(l2), NULL, &n, NULL,
						sodium_base64_VARIANT_ORIGINAL), 0);
	blob[0] = 'Z';
	strcpy(text, "untrusted comment: x\n");
	sodium_bin2base64(text + strlen(text), 200, blob, n, sodium_base64_VARIANT_ORIGINAL);
	strcat(text, "\ntrusted comment: t\n");
	strcat(text, l4);
	strcat(text, "\n");
	write_text(sig, text);
	expect_malformed(file, NULL, kr, "unknown signature algorithm 'ZD'");

	free(orig);
	free(l2);
	free(l4);
	hp_keyring__free(kr);
	hp_key__free(k);
}

/* minisign -l writes legacy signatures, over the file itself ("Ed"); they
 * must still verify. Made here with libsodium, the way minisign does. */
static void legacy_signature(void)
{
	const char *dir = ts_tmpdir(), *file = at(dir, "f"), *sig = at(dir, "f.minisig");
	unsigned char pk[32], sk[64], blob[74], global[64], msg[64 + 32];
	const char *data = "legacy data\n", *tc = "legacy comment";
	char text[1024], b64[200], gb64[200], pub[200];
	struct hp_keyring *kr;
	struct hp_sig_info info;

	CU_ASSERT_FATAL(sodium_init() >= 0);
	crypto_sign_keypair(pk, sk);
	memcpy(blob, "Ed", 2);
	randombytes_buf(blob + 2, 8);
	crypto_sign_detached(blob + 10, NULL, (const unsigned char *)data, strlen(data), sk);
	memcpy(msg, blob + 10, 64);
	memcpy(msg + 64, tc, strlen(tc));
	crypto_sign_detached(global, NULL, msg, 64 + strlen(tc), sk);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(gb64, sizeof(gb64), global, 64, sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, sizeof(text), "untrusted comment: legacy\n%s\ntrusted comment: %s\n%s\n", b64,
		 tc, gb64);
	write_text(sig, text);
	write_text(file, data);
	{
		unsigned char pblob[42];

		memcpy(pblob, "Ed", 2);
		memcpy(pblob + 2, blob + 2, 8);
		memcpy(pblob + 10, pk, 32);
		strcpy(pub, "untrusted comment: legacy key\n");
		sodium_bin2base64(pub + strlen(pub), 100, pblob, 42, sodium_base64_VARIANT_ORIGINAL);
		strcat(pub, "\n");
		write_text(at(dir, "legacy.pub"), pub);
	}
	kr = ring_of(at(dir, "legacy.pub"));
	CU_ASSERT_EQUAL(verify(file, NULL, kr, &info), 0);
	CU_ASSERT_EQUAL(info.prehashed, 0);
	CU_ASSERT_STRING_EQUAL(info.trusted_comment, tc);
	CU_ASSERT_EQUAL(hp_sig__verify_buf(data, strlen(data), "mem", sig, kr, NULL), 0);
	write_text(file, "legacy data!\n");
	CU_ASSERT_EQUAL(verify(file, NULL, kr, NULL), -HP_E_SIGNATURE);
	CU_ASSERT(said("bad signature"));
	hp_keyring__free(kr);
}

/* ---- trusted keys ---- */

static void trusted_key_directory(void)
{
	const char *dir = ts_tmpdir(), *keys = at(dir, "trusted"), *file = at(dir, "f");
	const char *extra[1];
	struct hp_key *a, *b, *c;
	struct hp_keyring *kr;
	struct hp_sig_info info;

	CU_ASSERT_EQUAL_FATAL(mkdir(keys, 0755), 0);
	a = new_pair(keys, "a");
	b = new_pair(keys, "b");
	c = new_pair(dir, "c");
	/* Secret keys and other files in the directory are not trusted keys. */
	CU_ASSERT_EQUAL(access(at(keys, "a.key"), F_OK), 0);
	write_text(at(keys, "README"), "not a key\n");
	write_text(at(keys, ".hidden.pub"), "not a key either\n");
	write_text(file, "x\n");
	CU_ASSERT_EQUAL_FATAL(hp_sig__sign_file(b, file, NULL), 0);

	kr = hp_keyring__load_trusted(keys, NULL, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
	CU_ASSERT_EQUAL(hp_keyring__count(kr), 2);
	CU_ASSERT_EQUAL(verify(file, NULL, kr, &info), 0);
	CU_ASSERT_STRING_EQUAL(hp_key__path(info.key), at(keys, "b.pub"));
	hp_keyring__free(kr);

	/* The environment variable names the system directory. */
	setenv(HP_TRUSTED_KEYS_ENV, keys, 1);
	extra[0] = at(dir, "c.pub");
	kr = hp_keyring__load_trusted(NULL, extra, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(kr);
	CU_ASSERT_EQUAL(hp_keyring__count(kr), 3);
	hp_keyring__free(kr);

	/* A directory someone names must exist. */
	setenv(HP_TRUSTED_KEYS_ENV, at(dir, "nowhere"), 1);
	last_msg[0] = '\0';
	errno = 0;
	CU_ASSERT_PTR_NULL(hp_keyring__load_trusted(NULL, NULL, 0));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT(said("nowhere"));
	unsetenv(HP_TRUSTED_KEYS_ENV);

	/* A broken key file is an error naming it, never skipped. */
	write_text(at(keys, "broken.pub"), "untrusted comment: x\nnot base64\n");
	CU_ASSERT_PTR_NULL(hp_keyring__load_trusted(keys, NULL, 0));
	CU_ASSERT_EQUAL(errno, HP_E_FORMAT);
	CU_ASSERT(said("broken.pub"));
	unlink(at(keys, "broken.pub"));

	/* So is a --trusted-key file that is missing. */
	extra[0] = at(dir, "missing.pub");
	CU_ASSERT_PTR_NULL(hp_keyring__load_trusted(keys, extra, 1));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT(said("missing.pub"));

	hp_key__free(a);
	hp_key__free(b);
	hp_key__free(c);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "keygen writes a secret and a public key", keygen_writes_both_files },
		{ "keygen never overwrites without force", keygen_never_overwrites },
		{ "encrypted secret key", encrypted_secret_key },
		{ "malformed public keys", malformed_public_keys },
		{ "malformed secret keys", malformed_secret_keys },
		{ "sign and verify", sign_verify_round_trip },
		{ "wrong key", wrong_key },
		{ "tampered file and trusted comment", tampered_file_and_comment },
		{ "malformed signature files", malformed_signatures },
		{ "legacy Ed signature", legacy_signature },
		{ "trusted key directory", trusted_key_directory },
		{ NULL, NULL },
	};

	hp_set_print(capture);
	atexit(free_paths);
	ts_add_suite("minisign", tests);
}
