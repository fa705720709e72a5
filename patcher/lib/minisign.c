/* Keys and signatures in minisign's formats (docs/signing.md).
 *
 * A package's manifest is signed with Ed25519 the way minisign signs files,
 * so an operator can check it with the stock tool and a vendor can sign
 * with it. This module reads and writes the three text files involved
 * (public key, secret key, signature), makes signatures and checks them.
 * Everything read is hostile until proven otherwise: the files are read
 * with a size bound, each line is bounded, and each base64 blob must decode
 * to exactly the size of the structure it carries. libsodium does the
 * cryptography: Ed25519, BLAKE2b (prehash and key checksum), scrypt (key
 * encryption), base64 and the random key id.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "hotpatch.h"
#include "internal.h"
#include "atomic_file.h"
#include "fileio.h"
#include "minisign.h"

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "

/* Algorithm tags, two bytes each. */
#define SIGALG_LEGACY "Ed"   /* Ed25519 over the file itself */
#define SIGALG_HASHED "ED"   /* Ed25519 over BLAKE2b-512 of the file */
#define KDFALG_SCRYPT "Sc"
#define CHKALG_BLAKE2 "B2"

#define PREHASH_BYTES 64     /* BLAKE2b-512 */
#define SIG_BYTES 64         /* crypto_sign_BYTES */
#define CHK_BYTES 32         /* BLAKE2b-256 key checksum */
#define SALT_BYTES 32        /* crypto_pwhash_scryptsalsa208sha256_SALTBYTES */

/* Sizes of the binary structures behind each base64 line. */
#define PUBKEY_BLOB (2 + MINISIGN_KEYNUM_BYTES + MINISIGN_PK_BYTES)          /* 42 */
#define SIG_BLOB (2 + MINISIGN_KEYNUM_BYTES + SIG_BYTES)                     /* 74 */
#define KEYNUM_SK_BLOB (MINISIGN_KEYNUM_BYTES + MINISIGN_SK_BYTES + CHK_BYTES) /* 104 */
#define SECKEY_BLOB (2 + 2 + 2 + SALT_BYTES + 8 + 8 + KEYNUM_SK_BLOB)        /* 158 */

/* Offsets inside the secret key structure. */
#define SK_OFF_KDF 2
#define SK_OFF_CHKALG 4
#define SK_OFF_SALT 6
#define SK_OFF_OPSLIMIT 38
#define SK_OFF_MEMLIMIT 46
#define SK_OFF_KEYNUM 54
#define SK_OFF_SK 62
#define SK_OFF_CHK 126

/* Bounds on what is read. minisign reads comment lines with fgets into
 * buffers of these sizes (prefix and newline included), so what we write
 * stays within them; what we read may use the full HP_SIG_* sizes. */
#define KEY_FILE_MAX 4096
#define SIG_FILE_MAX (2 * HP_SIG_TRUSTED_COMMENT_MAX)
#define MINISIGN_COMMENT_BUF 1024
#define MINISIGN_TRUSTED_BUF 8192
/* A legacy ("Ed") signature covers the whole file, which must then be in
 * memory; prehashed ones stream. */
#define LEGACY_FILE_MAX (64u << 20)
/* Bounds on the scrypt cost a secret key file may ask for (minisign's
 * own "sensitive" setting is 2^25 operations and 1 GiB). */
#define KDF_OPSLIMIT_MAX (1ull << 32)
#define KDF_MEMLIMIT_MAX (2ull << 30)

static int sodium_ready(void)
{
	if (sodium_init() < 0) {
		pr_warn("sig: libsodium cannot be initialised");
		return -EIO;
	}
	return 0;
}

static void put_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void minisign_key_set_id(struct hp_key *key)
{
	/* minisign prints the key number as a little-endian 64-bit integer. */
	snprintf(key->id, sizeof(key->id), "%016" PRIX64, get_le64(key->keynum));
}

static struct hp_key *key_new(const char *path)
{
	struct hp_key *key = calloc(1, sizeof(*key));

	if (!key)
		return NULL;
	key->path = strdup(path);
	if (!key->path) {
		free(key);
		return NULL;
	}
	return key;
}

void hp_key__free(struct hp_key *key)
{
	if (!key)
		return;
	sodium_memzero(key->sk, sizeof(key->sk));
	free(key->path);
	free(key);
}

const char *hp_key__id(const struct hp_key *key)
{
	return key->id;
}

const char *hp_key__path(const struct hp_key *key)
{
	return key->path;
}

/* ---- reading the text files ---- */

/* A cursor over the lines of a file read whole. */
struct lines {
	const char *p;     /* next unread byte */
	const char *end;   /* one past the last byte */
	unsigned int no;   /* number of the line last returned, from 1 */
};

/* The next line, without its "\n" (or "\r\n"). Returns 1 with *s and *n set,
 * 0 at the end of the file, -HP_E_FORMAT if the line is longer than max or
 * holds a NUL byte. The last line may lack its newline. */
static int next_line(struct lines *l, size_t max, const char **s, size_t *n)
{
	const char *nl;
	size_t len;

	if (l->p >= l->end)
		return 0;
	l->no++;
	nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	len = (size_t)((nl ? nl : l->end) - l->p);
	*s = l->p;
	l->p += len + (nl ? 1 : 0);
	if (len && (*s)[len - 1] == '\r')
		len--;
	if (len > max || memchr(*s, '\0', len))
		return -HP_E_FORMAT;
	*n = len;
	return 1;
}

/* Line "PREFIXtext": check the prefix and return the text. */
static int take_comment(const char *what, const char *file, struct lines *l, const char *prefix,
			size_t max, const char **text, size_t *len)
{
	size_t plen = strlen(prefix), n = 0;
	const char *s = NULL;
	int r;

	r = next_line(l, plen + max, &s, &n);
	if (r == 0) {
		pr_warn("%s: %s: line %u: missing, expected '%s...'", what, file, l->no + 1, prefix);
		return -HP_E_FORMAT;
	}
	if (r < 0) {
		pr_warn("%s: %s: line %u: longer than %zu bytes or holds a NUL byte", what, file,
			l->no, plen + max);
		return r;
	}
	if (n < plen || memcmp(s, prefix, plen)) {
		pr_warn("%s: %s: line %u: does not start with '%s'", what, file, l->no, prefix);
		return -HP_E_FORMAT;
	}
	*text = s + plen;
	*len = n - plen;
	return 0;
}

/* Line holding base64 of exactly want bytes. */
static int take_base64(const char *what, const char *file, struct lines *l, const char *desc,
		       unsigned char *bin, size_t want)
{
	/* Room for one more group, so an overlong line is told apart. */
	unsigned char tmp[SECKEY_BLOB + 3];
	size_t n = 0, got = 0, max_chars = sodium_base64_ENCODED_LEN(want,
					     sodium_base64_VARIANT_ORIGINAL) - 1;
	const char *s = NULL;
	int r;

	r = next_line(l, max_chars + 4, &s, &n);
	if (r == 0) {
		pr_warn("%s: %s: line %u: missing, expected the %s", what, file, l->no + 1, desc);
		return -HP_E_FORMAT;
	}
	if (r < 0 || n != max_chars) {
		pr_warn("%s: %s: line %u: the %s must be %zu base64 characters", what, file, l->no,
			desc, max_chars);
		return -HP_E_FORMAT;
	}
	/* No ignore set and no end pointer: any stray character fails. */
	if (sodium_base642bin(tmp, sizeof(tmp), s, n, NULL, &got, NULL,
			      sodium_base64_VARIANT_ORIGINAL) < 0 || got != want) {
		pr_warn("%s: %s: line %u: the %s is not valid base64 of %zu bytes", what, file,
			l->no, desc, want);
		sodium_memzero(tmp, sizeof(tmp));
		return -HP_E_FORMAT;
	}
	memcpy(bin, tmp, want);
	sodium_memzero(tmp, sizeof(tmp));
	return 0;
}

static int expect_end(const char *what, const char *file, struct lines *l)
{
	if (l->p < l->end) {
		pr_warn("%s: %s: line %u: unexpected data after the last line", what, file,
			l->no + 1);
		return -HP_E_FORMAT;
	}
	return 0;
}

/* Read a small text file whole; messages say what it was meant to be. */
static int read_text(const char *what, const char *path, size_t max, char **text, size_t *len)
{
	void *buf = NULL;
	int err;

	err = fileio_read(path, max, &buf, len);
	if (err == -HP_E_TOO_BIG)
		pr_warn("%s: %s: larger than %zu bytes: not a %s file", what, path, max, what);
	else if (err)
		pr_warn("%s: %s: cannot read: %s", what, path, hp_strerror(err));
	*text = buf;
	return err;
}

static struct hp_key *fail_key(struct hp_key *key, int err)
{
	hp_key__free(key);
	errno = err < 0 ? -err : err;
	return NULL;
}

struct hp_key *hp_key__load_public(const char *path)
{
	unsigned char blob[PUBKEY_BLOB];
	struct hp_key *key = NULL;
	struct lines l;
	const char *cmt;
	size_t len, cmt_len;
	char *text = NULL;
	int err;

	err = read_text("key", path, KEY_FILE_MAX, &text, &len);
	if (err)
		goto out;
	l = (struct lines){ .p = text, .end = text + len };
	err = take_comment("key", path, &l, UNTRUSTED_PREFIX, HP_SIG_COMMENT_MAX, &cmt, &cmt_len);
	if (!err)
		err = take_base64("key", path, &l, "public key", blob, sizeof(blob));
	if (!err)
		err = expect_end("key", path, &l);
	if (err)
		goto out;
	if (memcmp(blob, SIGALG_LEGACY, 2)) {
		pr_warn("key: %s: unknown public key algorithm '%c%c' (expected 'Ed')", path,
			blob[0], blob[1]);
		err = -HP_E_UNSUPPORTED;
		goto out;
	}
	key = key_new(path);
	if (!key) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(key->keynum, blob + 2, MINISIGN_KEYNUM_BYTES);
	memcpy(key->pk, blob + 2 + MINISIGN_KEYNUM_BYTES, MINISIGN_PK_BYTES);
	minisign_key_set_id(key);
out:
	free(text);
	return err ? fail_key(key, err) : key;
}

static void key_checksum(const unsigned char *sk_blob, unsigned char chk[CHK_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, CHK_BYTES);
	crypto_generichash_update(&st, sk_blob, 2);
	crypto_generichash_update(&st, sk_blob + SK_OFF_KEYNUM, MINISIGN_KEYNUM_BYTES);
	crypto_generichash_update(&st, sk_blob + SK_OFF_SK, MINISIGN_SK_BYTES);
	crypto_generichash_final(&st, chk, CHK_BYTES);
}

/* XOR the key number, secret key and checksum with a stream derived from
 * the password: the same call encrypts and decrypts. */
static int kdf_xor(const char *path, unsigned char *sk_blob, const char *password)
{
	unsigned char stream[KEYNUM_SK_BLOB];
	uint64_t ops = get_le64(sk_blob + SK_OFF_OPSLIMIT);
	uint64_t mem = get_le64(sk_blob + SK_OFF_MEMLIMIT);
	size_t i;

	if (ops > KDF_OPSLIMIT_MAX || mem > KDF_MEMLIMIT_MAX) {
		pr_warn("key: %s: scrypt limits %" PRIu64 " operations, %" PRIu64
			" bytes are beyond the bounds of %llu and %llu",
			path, ops, mem, KDF_OPSLIMIT_MAX, KDF_MEMLIMIT_MAX);
		return -HP_E_TOO_BIG;
	}
	if (crypto_pwhash_scryptsalsa208sha256(stream, sizeof(stream), password, strlen(password),
					       sk_blob + SK_OFF_SALT, (unsigned long long)ops,
					       (size_t)mem) != 0) {
		pr_warn("key: %s: cannot derive the key from the password (scrypt: out of memory?)",
			path);
		return -ENOMEM;
	}
	for (i = 0; i < sizeof(stream); i++)
		sk_blob[SK_OFF_KEYNUM + i] ^= stream[i];
	sodium_memzero(stream, sizeof(stream));
	return 0;
}

struct hp_key *hp_key__load_secret(const char *path, const char *password)
{
	unsigned char blob[SECKEY_BLOB], chk[CHK_BYTES], seed_pk[MINISIGN_PK_BYTES];
	unsigned char seed_sk[MINISIGN_SK_BYTES];
	static const unsigned char zero_chk[CHK_BYTES];
	struct hp_key *key = NULL;
	bool encrypted;
	struct lines l;
	const char *cmt;
	size_t len = 0, cmt_len;
	char *text = NULL;
	int err;

	err = sodium_ready();
	if (err)
		goto out;
	err = read_text("key", path, KEY_FILE_MAX, &text, &len);
	if (err)
		goto out;
	l = (struct lines){ .p = text, .end = text + len };
	err = take_comment("key", path, &l, UNTRUSTED_PREFIX, HP_SIG_COMMENT_MAX, &cmt, &cmt_len);
	if (!err)
		err = take_base64("key", path, &l, "secret key", blob, sizeof(blob));
	if (!err)
		err = expect_end("key", path, &l);
	if (err)
		goto out;
	if (memcmp(blob, SIGALG_LEGACY, 2) || memcmp(blob + SK_OFF_CHKALG, CHKALG_BLAKE2, 2)) {
		pr_warn("key: %s: unknown secret key algorithms '%c%c'/'%c%c' (expected 'Ed'/'B2')",
			path, blob[0], blob[1], blob[SK_OFF_CHKALG], blob[SK_OFF_CHKALG + 1]);
		err = -HP_E_UNSUPPORTED;
		goto out;
	}
	if (!memcmp(blob + SK_OFF_KDF, KDFALG_SCRYPT, 2)) {
		encrypted = true;
	} else if (!blob[SK_OFF_KDF] && !blob[SK_OFF_KDF + 1]) {
		encrypted = false;
	} else {
		pr_warn("key: %s: unknown key derivation '%c%c' (expected 'Sc' or none)", path,
			blob[SK_OFF_KDF], blob[SK_OFF_KDF + 1]);
		err = -HP_E_UNSUPPORTED;
		goto out;
	}
	if (encrypted) {
		if (!password) {
			pr_warn("key: %s: the secret key is encrypted and no password was given",
				path);
			err = -HP_E_SIGNATURE;
			goto out;
		}
		err = kdf_xor(path, blob, password);
		if (err)
			goto out;
	}
	key_checksum(blob, chk);
	/* minisign -W writes an unencrypted key with an all-zero checksum. */
	if (sodium_memcmp(chk, blob + SK_OFF_CHK, CHK_BYTES) &&
	    (encrypted || sodium_memcmp(zero_chk, blob + SK_OFF_CHK, CHK_BYTES))) {
		if (encrypted)
			pr_warn("key: %s: wrong password for this secret key", path);
		else
			pr_warn("key: %s: secret key checksum mismatch: the file is corrupt", path);
		err = -HP_E_SIGNATURE;
		goto out;
	}
	/* The secret key carries its public half; it must be the one its seed
	 * gives, or signatures would not verify with the published key. */
	crypto_sign_seed_keypair(seed_pk, seed_sk, blob + SK_OFF_SK);
	if (sodium_memcmp(seed_pk, blob + SK_OFF_SK + 32, MINISIGN_PK_BYTES)) {
		pr_warn("key: %s: secret key is inconsistent: its public half does not match its seed",
			path);
		err = -HP_E_FORMAT;
		goto out;
	}
	key = key_new(path);
	if (!key) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(key->keynum, blob + SK_OFF_KEYNUM, MINISIGN_KEYNUM_BYTES);
	memcpy(key->sk, blob + SK_OFF_SK, MINISIGN_SK_BYTES);
	memcpy(key->pk, seed_pk, MINISIGN_PK_BYTES);
	key->has_secret = true;
	minisign_key_set_id(key);
out:
	sodium_memzero(blob, sizeof(blob));
	sodium_memzero(seed_sk, sizeof(seed_sk));
	if (text) {
		sodium_memzero(text, len);
		free(text);
	}
	return err ? fail_key(key, err) : key;
}

/* ---- writing ---- */

/* A comment we write must fit minisign's line buffers and stay one line. */
static int check_comment(const char *what, const char *text, size_t max)
{
	if (strlen(text) > max) {
		pr_warn("%s: comment is longer than %zu bytes", what, max);
		return -EINVAL;
	}
	if (strpbrk(text, "\r\n")) {
		pr_warn("%s: comment must be a single line", what);
		return -EINVAL;
	}
	return 0;
}

static char *to_base64(const unsigned char *bin, size_t len)
{
	size_t n = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);

	if (s)
		sodium_bin2base64(s, n, bin, len, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

static int write_key_file(const char *path, const char *comment, const unsigned char *blob,
			  size_t blob_len, mode_t mode, bool replace)
{
	char *b64 = NULL, *text = NULL;
	int n, err = 0;

	b64 = to_base64(blob, blob_len);
	if (!b64) {
		err = -ENOMEM;
		goto out;
	}
	n = asprintf(&text, UNTRUSTED_PREFIX "%s\n%s\n", comment, b64);
	if (n < 0) {
		text = NULL;
		err = -ENOMEM;
		goto out;
	}
	err = atomic_file_put(path, mode, ATOMIC_QUIET | (replace ? 0 : ATOMIC_NO_REPLACE), text,
			      (size_t)n);
	if (err == -EEXIST)
		pr_warn("key: %s: exists; not replaced (use --force)", path);
	else if (err)
		pr_warn("key: %s: cannot write: %s", path, hp_strerror(err));
out:
	if (b64) {
		sodium_memzero(b64, strlen(b64));
		free(b64);
	}
	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	return err;
}

int hp_key__generate(const char *secret_path, const char *public_path,
		     const struct hp_keygen_opts *opts, struct hp_key **out)
{
	static const struct hp_keygen_opts defaults;
	unsigned char sk_blob[SECKEY_BLOB], pk_blob[PUBKEY_BLOB];
	struct hp_key *key = NULL;
	char pk_comment[64];
	const char *comment;
	bool replace;
	int err;

	if (out)
		*out = NULL;
	if (!opts)
		opts = &defaults;
	replace = opts->force != 0;
	memset(sk_blob, 0, sizeof(sk_blob));
	err = sodium_ready();
	if (err)
		goto out;
	if (opts->comment) {
		err = check_comment("key", opts->comment,
				    MINISIGN_COMMENT_BUF - sizeof(UNTRUSTED_PREFIX) - 1);
		if (err)
			goto out;
	}
	if (!strcmp(secret_path, public_path)) {
		pr_warn("key: %s: the secret and the public key must be different files",
			secret_path);
		err = -EINVAL;
		goto out;
	}
	/* Refuse before writing anything, so a refusal changes nothing. */
	if (!replace && (!access(secret_path, F_OK) || !access(public_path, F_OK))) {
		pr_warn("key: %s: exists; not replaced (use --force)",
			!access(secret_path, F_OK) ? secret_path : public_path);
		err = -EEXIST;
		goto out;
	}
	key = key_new(public_path);
	if (!key) {
		err = -ENOMEM;
		goto out;
	}
	randombytes_buf(key->keynum, sizeof(key->keynum));
	crypto_sign_keypair(key->pk, key->sk);
	key->has_secret = true;
	minisign_key_set_id(key);

	memcpy(sk_blob, SIGALG_LEGACY, 2);
	memcpy(sk_blob + SK_OFF_CHKALG, CHKALG_BLAKE2, 2);
	memcpy(sk_blob + SK_OFF_KEYNUM, key->keynum, MINISIGN_KEYNUM_BYTES);
	memcpy(sk_blob + SK_OFF_SK, key->sk, MINISIGN_SK_BYTES);
	key_checksum(sk_blob, sk_blob + SK_OFF_CHK);
	if (opts->password) {
		memcpy(sk_blob + SK_OFF_KDF, KDFALG_SCRYPT, 2);
		randombytes_buf(sk_blob + SK_OFF_SALT, SALT_BYTES);
		if (opts->kdf_interactive) {
			put_le64(sk_blob + SK_OFF_OPSLIMIT,
				 crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_INTERACTIVE);
			put_le64(sk_blob + SK_OFF_MEMLIMIT,
				 crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_INTERACTIVE);
		} else {
			put_le64(sk_blob + SK_OFF_OPSLIMIT,
				 crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE);
			put_le64(sk_blob + SK_OFF_MEMLIMIT,
				 crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE);
		}
		err = kdf_xor(secret_path, sk_blob, opts->password);
		if (err)
			goto out;
	}
	memcpy(pk_blob, SIGALG_LEGACY, 2);
	memcpy(pk_blob + 2, key->keynum, MINISIGN_KEYNUM_BYTES);
	memcpy(pk_blob + 2 + MINISIGN_KEYNUM_BYTES, key->pk, MINISIGN_PK_BYTES);
	snprintf(pk_comment, sizeof(pk_comment), "minisign public key %s", key->id);
	comment = opts->comment ? opts->comment : pk_comment;

	err = write_key_file(secret_path,
			     opts->password ? "minisign encrypted secret key" : "minisign secret key",
			     sk_blob, sizeof(sk_blob), 0600, replace);
	if (err)
		goto out;
	err = write_key_file(public_path, comment, pk_blob, sizeof(pk_blob), 0644, replace);
	if (err) {
		/* A secret key without its public key is of no use to anyone. */
		unlink(secret_path);
		goto out;
	}
	pr_info("key: %s, %s: new key pair %s", secret_path, public_path, key->id);
	if (out) {
		*out = key;
		key = NULL;
	}
out:
	sodium_memzero(sk_blob, sizeof(sk_blob));
	hp_key__free(key);
	return err;
}

/* ---- signing and verifying ---- */

/* BLAKE2b-512 of the file at path, read in chunks (prehashed signatures
 * work for files of any size). */
static int hash_file(const char *path, unsigned char digest[PREHASH_BYTES])
{
	crypto_generichash_state st;
	unsigned char buf[65536];
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		pr_warn("sig: %s: cannot open: %s", path, strerror(-err));
		return err;
	}
	crypto_generichash_init(&st, NULL, 0, PREHASH_BYTES);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			pr_warn("sig: %s: cannot read: %s", path, strerror(-err));
			goto out;
		}
		if (n == 0)
			break;
		crypto_generichash_update(&st, buf, (unsigned long long)n);
	}
	crypto_generichash_final(&st, digest, PREHASH_BYTES);
out:
	close(fd);
	return err;
}

int hp_sig__sign_file(const struct hp_key *sk, const char *file, const struct hp_sign_opts *opts)
{
	static const struct hp_sign_opts defaults;
	unsigned char digest[PREHASH_BYTES], blob[SIG_BLOB], global[SIG_BYTES];
	unsigned char *signed_part = NULL;
	char *sig_path = NULL, *tcomment = NULL, *text = NULL, *b64 = NULL, *gb64 = NULL;
	char *base_copy = NULL;
	const char *comment;
	size_t tlen;
	int n, err;

	if (!opts)
		opts = &defaults;
	err = sodium_ready();
	if (err)
		goto out;
	if (!sk->has_secret) {
		pr_warn("sig: %s: key %s is a public key, not a secret key", sk->path, sk->id);
		err = -EINVAL;
		goto out;
	}
	comment = opts->comment ? opts->comment : "signature from minisign secret key";
	err = check_comment("sig", comment, MINISIGN_COMMENT_BUF - sizeof(UNTRUSTED_PREFIX) - 1);
	if (err)
		goto out;
	if (opts->sig_path)
		sig_path = strdup(opts->sig_path);
	else if (asprintf(&sig_path, "%s.minisig", file) < 0)
		sig_path = NULL;
	if (!sig_path) {
		err = -ENOMEM;
		goto out;
	}
	if (opts->trusted_comment) {
		tcomment = strdup(opts->trusted_comment);
	} else {
		/* minisign's own default, with SOURCE_DATE_EPOCH for builds
		 * that must be reproducible. */
		const char *sde = getenv("SOURCE_DATE_EPOCH");
		char *end = NULL;
		unsigned long long ts = (unsigned long long)time(NULL);

		if (sde && *sde) {
			errno = 0;
			ts = strtoull(sde, &end, 10);
			if (errno || *end) {
				pr_warn("sig: SOURCE_DATE_EPOCH '%s' is not a number of seconds", sde);
				err = -EINVAL;
				goto out;
			}
		}
		base_copy = strdup(file);
		if (!base_copy || asprintf(&tcomment, "timestamp:%llu\tfile:%s\thashed", ts,
					   basename(base_copy)) < 0)
			tcomment = NULL;
	}
	if (!tcomment) {
		err = -ENOMEM;
		goto out;
	}
	err = check_comment("sig", tcomment, MINISIGN_TRUSTED_BUF - sizeof(TRUSTED_PREFIX) - 1);
	if (err)
		goto out;

	err = hash_file(file, digest);
	if (err)
		goto out;
	memcpy(blob, SIGALG_HASHED, 2);
	memcpy(blob + 2, sk->keynum, MINISIGN_KEYNUM_BYTES);
	crypto_sign_detached(blob + 2 + MINISIGN_KEYNUM_BYTES, NULL, digest, sizeof(digest),
			     sk->sk);
	/* The global signature binds the trusted comment to this signature. */
	tlen = strlen(tcomment);
	signed_part = malloc(SIG_BYTES + tlen);
	if (!signed_part) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(signed_part, blob + 2 + MINISIGN_KEYNUM_BYTES, SIG_BYTES);
	memcpy(signed_part + SIG_BYTES, tcomment, tlen);
	crypto_sign_detached(global, NULL, signed_part, SIG_BYTES + tlen, sk->sk);

	b64 = to_base64(blob, sizeof(blob));
	gb64 = to_base64(global, sizeof(global));
	if (!b64 || !gb64) {
		err = -ENOMEM;
		goto out;
	}
	n = asprintf(&text, UNTRUSTED_PREFIX "%s\n%s\n" TRUSTED_PREFIX "%s\n%s\n", comment, b64,
		     tcomment, gb64);
	if (n < 0) {
		text = NULL;
		err = -ENOMEM;
		goto out;
	}
	err = atomic_file_put(sig_path, 0644, ATOMIC_QUIET, text, (size_t)n);
	if (err) {
		pr_warn("sig: %s: cannot write: %s", sig_path, hp_strerror(err));
		goto out;
	}
	pr_info("sig: %s: signed with key %s into %s", file, sk->id, sig_path);
out:
	free(sig_path);
	free(tcomment);
	free(base_copy);
	free(signed_part);
	free(text);
	free(b64);
	free(gb64);
	return err;
}

/* A signature file, parsed. */
struct parsed_sig {
	unsigned char blob[SIG_BLOB];   /* algorithm, key number, signature */
	unsigned char global[SIG_BYTES]; /* signature of (signature || trusted comment) */
	const char *tcomment;           /* trusted comment, inside the file's text */
	size_t tcomment_len;            /* its bytes */
};

static int parse_sig(const char *sigfile, const char *text, size_t len, struct parsed_sig *ps)
{
	struct lines l = { .p = text, .end = text + len };
	const char *cmt;
	size_t cmt_len;
	int err;

	err = take_comment("sig", sigfile, &l, UNTRUSTED_PREFIX, HP_SIG_COMMENT_MAX, &cmt,
			   &cmt_len);
	if (!err)
		err = take_base64("sig", sigfile, &l, "signature", ps->blob, sizeof(ps->blob));
	if (!err)
		err = take_comment("sig", sigfile, &l, TRUSTED_PREFIX, HP_SIG_TRUSTED_COMMENT_MAX,
				   &ps->tcomment, &ps->tcomment_len);
	if (!err)
		err = take_base64("sig", sigfile, &l, "global signature", ps->global,
				  sizeof(ps->global));
	if (!err)
		err = expect_end("sig", sigfile, &l);
	if (err)
		return err;
	if (memcmp(ps->blob, SIGALG_HASHED, 2) && memcmp(ps->blob, SIGALG_LEGACY, 2)) {
		pr_warn("sig: %s: unknown signature algorithm '%c%c' (expected 'ED' or 'Ed')",
			sigfile, ps->blob[0], ps->blob[1]);
		return -HP_E_FORMAT;
	}
	return 0;
}

static void list_ids(const struct hp_keyring *keys, char *buf, size_t size)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < keys->nr && used < size; i++) {
		int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", keys->keys[i]->id);

		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (used >= size && size > 4)
		strcpy(buf + size - 4, "...");
}

/* Verify once the message is known: data/len is the file itself (legacy) or
 * NULL to use the prehash. */
static int verify(const char *name, const char *path, const void *data, size_t len,
		  const char *sigfile, const struct hp_keyring *keys, struct hp_sig_info *info)
{
	unsigned char digest[PREHASH_BYTES];
	const unsigned char *msg;
	unsigned char *signed_part = NULL, *whole = NULL;
	const struct hp_key *match = NULL;
	struct hp_key signer; /* only its key number and id are used */
	struct parsed_sig ps;
	char *text = NULL, *label = NULL;
	char ids[256];
	size_t text_len = 0, msg_len, i, nr_id = 0;
	bool prehashed;
	int err;

	err = sodium_ready();
	if (err)
		goto out;
	err = fileio_read(sigfile, SIG_FILE_MAX, (void **)&text, &text_len);
	if (err == -ENOENT) {
		pr_warn("sig: %s: no signature file %s", name, sigfile);
		err = -HP_E_SIGNATURE;
		goto out;
	}
	if (err == -HP_E_TOO_BIG) {
		pr_warn("sig: %s: malformed signature: %s is larger than %d bytes", name, sigfile,
			SIG_FILE_MAX);
		err = -HP_E_SIGNATURE;
		goto out;
	}
	if (err) {
		pr_warn("sig: %s: cannot read signature file %s: %s", name, sigfile,
			hp_strerror(err));
		err = -HP_E_SIGNATURE;
		goto out;
	}
	/* Messages then read "sig: F.minisig: malformed signature: line 3: ...". */
	if (asprintf(&label, "%s: malformed signature", sigfile) < 0) {
		label = NULL;
		err = -ENOMEM;
		goto out;
	}
	if (parse_sig(label, text, text_len, &ps)) {
		err = -HP_E_SIGNATURE;
		goto out;
	}
	prehashed = !memcmp(ps.blob, SIGALG_HASHED, 2);
	memcpy(signer.keynum, ps.blob + 2, MINISIGN_KEYNUM_BYTES);
	minisign_key_set_id(&signer);
	if (!keys || !keys->nr) {
		pr_warn("sig: %s: no trusted public keys to check %s against (see --trusted-key, %s)",
			name, sigfile, HP_TRUSTED_KEYS_DIR);
		err = -HP_E_SIGNATURE;
		goto out;
	}
	for (i = 0; i < keys->nr; i++)
		if (!memcmp(keys->keys[i]->keynum, ps.blob + 2, MINISIGN_KEYNUM_BYTES))
			nr_id++;
	if (!nr_id) {
		list_ids(keys, ids, sizeof(ids));
		pr_warn("sig: %s: signed by unknown key id %s (trusted: %s)", name, signer.id, ids);
		err = -HP_E_SIGNATURE;
		goto out;
	}

	if (prehashed) {
		if (data) {
			crypto_generichash(digest, sizeof(digest), data, len, NULL, 0);
		} else {
			err = hash_file(path, digest);
			if (err)
				goto out;
		}
		msg = digest;
		msg_len = sizeof(digest);
	} else if (data) {
		msg = data;
		msg_len = len;
	} else {
		err = fileio_read(path, LEGACY_FILE_MAX, (void **)&whole, &msg_len);
		if (err == -HP_E_TOO_BIG) {
			pr_warn("sig: %s: legacy 'Ed' signature of a file over %u bytes; sign it again (prehashed)",
				name, LEGACY_FILE_MAX);
			err = -HP_E_SIGNATURE;
			goto out;
		}
		if (err) {
			pr_warn("sig: %s: cannot read: %s", name, hp_strerror(err));
			goto out;
		}
		msg = whole;
	}
	for (i = 0; i < keys->nr && !match; i++) {
		const struct hp_key *k = keys->keys[i];

		if (memcmp(k->keynum, ps.blob + 2, MINISIGN_KEYNUM_BYTES))
			continue;
		if (!crypto_sign_verify_detached(ps.blob + 2 + MINISIGN_KEYNUM_BYTES, msg, msg_len,
						 k->pk))
			match = k;
	}
	if (!match) {
		pr_warn("sig: %s: bad signature: the file does not match %s (key %s): altered, or not the file that was signed",
			name, sigfile, signer.id);
		err = -HP_E_SIGNATURE;
		goto out;
	}
	signed_part = malloc(SIG_BYTES + ps.tcomment_len);
	if (!signed_part) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(signed_part, ps.blob + 2 + MINISIGN_KEYNUM_BYTES, SIG_BYTES);
	memcpy(signed_part + SIG_BYTES, ps.tcomment, ps.tcomment_len);
	if (crypto_sign_verify_detached(ps.global, signed_part, SIG_BYTES + ps.tcomment_len,
					match->pk)) {
		pr_warn("sig: %s: bad global signature in %s: the trusted comment was altered",
			name, sigfile);
		err = -HP_E_SIGNATURE;
		goto out;
	}
	pr_debug("sig: %s: good signature by key %s (%s)", name, match->id, match->path);
	if (info) {
		memset(info, 0, sizeof(*info));
		info->key = match;
		memcpy(info->key_id, match->id, sizeof(info->key_id));
		info->prehashed = prehashed;
		memcpy(info->trusted_comment, ps.tcomment, ps.tcomment_len);
		info->trusted_comment[ps.tcomment_len] = '\0';
	}
out:
	free(signed_part);
	free(whole);
	free(text);
	free(label);
	return err;
}

int hp_sig__verify_file(const char *file, const char *sigfile, const struct hp_keyring *keys,
			struct hp_sig_info *info)
{
	char *def = NULL;
	int err;

	if (!sigfile) {
		if (asprintf(&def, "%s.minisig", file) < 0)
			return -ENOMEM;
		sigfile = def;
	}
	err = verify(file, file, NULL, 0, sigfile, keys, info);
	free(def);
	return err;
}

int hp_sig__verify_buf(const void *data, size_t len, const char *name, const char *sigfile,
		       const struct hp_keyring *keys, struct hp_sig_info *info)
{
	/* A non-NULL pointer even for an empty buffer: NULL means "read the file". */
	static const char empty;

	if (!sigfile) {
		pr_warn("sig: %s: no signature file named", name);
		return -EINVAL;
	}
	return verify(name, NULL, data ? data : &empty, len, sigfile, keys, info);
}
