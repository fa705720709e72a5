/* libhotpatch: the public interface.
 *
 * The library reads ELF targets and patch packages, plans a patch, and
 * carries it out on disk or in running processes. It never exits and never
 * prints: messages go through the print callback set with hp_set_print().
 * Functions returning int give 0 or a negative error code (-errno, or one of
 * the HP_E* codes below, which sit above the errno range); functions
 * returning a pointer give NULL and set errno.
 *
 * None of the types of the libraries used inside (libelf, Capstone, zlib,
 * jansson, libsodium) appear here.
 */
#ifndef HOTPATCH_H
#define HOTPATCH_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- errors and messages ------------------------------------------------ */

enum hp_error {
	HP_E_BASE = 4000,
	HP_E_FORMAT,        /* malformed input: ELF, JSON, container, key... */
	HP_E_NOT_FOUND,     /* a named symbol, function or object is absent */
	HP_E_NOT_ELIGIBLE,  /* a target's version is not one the patch was built for */
	HP_E_MISMATCH,      /* bytes differ from their fingerprint or hash */
	HP_E_SIGNATURE,     /* a signature is missing, invalid or from an untrusted key */
	HP_E_UNPATCHABLE,   /* a function's entry cannot take a jump */
	HP_E_BUSY,          /* a thread is where a patch must not go; retry later */
	HP_E_TOO_BIG,       /* a size read from input is beyond its bound */
	HP_E_RELOC,         /* a payload relocation cannot be resolved or encoded */
	HP_E_STATE,         /* the state directory or a process record is inconsistent */
	HP_E_ALREADY,       /* the patch is already applied there */
	HP_E_NOT_APPLIED,   /* rollback of a patch that is not applied there */
	HP_E_PROCESS,       /* a process exited, is traced elsewhere, or cannot be controlled */
	HP_E_UNSUPPORTED,   /* valid input this version does not handle */
	HP_E_LOCKED,        /* another hotpatch run holds the state lock */
	HP_E_PRIVILEGE,     /* not allowed: missing root, CAP_SYS_PTRACE, or similar */
	HP_E_END,
};

/* A short description of err (negative or positive, errno or HP_E*). The
 * string is static. */
const char *hp_strerror(int err);

enum hp_print_level {
	HP_WARN,
	HP_INFO,
	HP_DEBUG,
};

typedef int (*hp_print_fn_t)(enum hp_print_level level, const char *fmt, va_list ap);

/* Install fn as the print callback and return the previous one. NULL
 * silences the library. The default prints warnings to stderr. */
hp_print_fn_t hp_set_print(hp_print_fn_t fn);

/* ---- the rest of the API: one section per object ------------------------ */

/* ---- ELF targets, symbols, identity (hp_elf) ---- */

/* ---- function analysis (hp_func) ---- */

/* ---- processes and their mappings (hp_proc) ---- */

/* ---- payload container (hp_container) ---- */

/* One zlib-compressed payload object in a small binary container
 * (docs/formats/payload-container.md): a 32-byte little-endian header
 * (magic "HPPAYLD\0", format version, flags, CRC-32 of the uncompressed
 * bytes, compressed size, uncompressed size) followed by exactly one zlib
 * stream. */
#define HP_CONTAINER_VERSION 1
#define HP_CONTAINER_HEADER_SIZE 32
/* Default bound on the uncompressed size when max_size is 0. */
#define HP_CONTAINER_MAX_SIZE_DEFAULT (16u << 20)
/* A container whose uncompressed size is more than this many times its
 * compressed size is refused as a decompression bomb. */
#define HP_CONTAINER_MAX_RATIO 256u

/* Compress len bytes at data into a new container. Deterministic: the same
 * input always gives the same bytes. *out is malloc'd, owned by the caller.
 * Returns 0, -ENOMEM, or -EIO if zlib fails. */
int hp_container__pack(const void *data, size_t len, void **out, size_t *out_len);

/* Check and decompress the container in buf[0..len). max_size bounds the
 * uncompressed size (0: HP_CONTAINER_MAX_SIZE_DEFAULT). Everything is
 * bounded before use: nothing beyond the declared size is ever inflated or
 * allocated. *out is malloc'd, owned by the caller. Errors: HP_E_FORMAT
 * (bad magic, truncated header or stream, unknown version or flags, trailing
 * bytes, corrupt stream), HP_E_TOO_BIG (declared size beyond max_size or the
 * ratio limit, or a stream longer than declared), HP_E_MISMATCH (sizes or
 * CRC-32 differ from the header), -ENOMEM. Messages say "container: ...". */
int hp_container__unpack(const void *buf, size_t len, size_t max_size, void **out,
			 size_t *out_len);

/* Same, for the container in file path (read with a bound; messages name
 * the file). Also -errno when the file cannot be read. */
int hp_container__unpack_file(const char *path, size_t max_size, void **out, size_t *out_len);

/* Write data as a container to path, atomically (temporary file in the same
 * directory, fsync, rename). Returns 0 or a negative error. */
int hp_container__write_file(const char *path, const void *data, size_t len);

/* ---- keys and signatures (hp_key, hp_sig) ---- */

/* Ed25519 keys and signatures in minisign's formats (docs/signing.md), so
 * the stock minisign tool reads what we write and we read what it writes.
 * Key ids are shown as minisign shows them: 16 upper-case hex digits. */
#define HP_KEY_ID_HEX 17             /* bytes for a key id as hex, with NUL */
#define HP_SIG_COMMENT_MAX 1024      /* bytes of an untrusted comment */
#define HP_SIG_TRUSTED_COMMENT_MAX 8192 /* bytes of a trusted comment */
/* The system directory of trusted public keys (every *.pub in it), and the
 * environment variable that replaces it (tests, containers). */
#define HP_TRUSTED_KEYS_DIR "/etc/hotpatch/trusted-keys"
#define HP_TRUSTED_KEYS_ENV "HOTPATCH_TRUSTED_KEYS_DIR"

/* A public key, or a key pair when loaded from a secret key file. Opaque. */
struct hp_key;

/* Load a minisign public key file ("untrusted comment:" line, base64 line).
 * Returns a new key (hp_key__free), or NULL with errno HP_E_FORMAT (message
 * names the file and the cause), HP_E_TOO_BIG, or the errno of open/read. */
struct hp_key *hp_key__load_public(const char *path);

/* Load a minisign secret key file. password may be NULL for an unencrypted
 * key (minisign -W); an encrypted key then fails with HP_E_SIGNATURE.
 * errno: HP_E_FORMAT, HP_E_SIGNATURE (wrong password / checksum),
 * HP_E_UNSUPPORTED (unknown algorithm), ENOMEM, or the errno of open/read. */
struct hp_key *hp_key__load_secret(const char *path, const char *password);

/* Free a key; secret bytes are wiped. Accepts NULL. */
void hp_key__free(struct hp_key *key);

/* The key id as minisign prints it (e.g. "8B0CFE06BED29C03"); the string
 * lives as long as the key. */
const char *hp_key__id(const struct hp_key *key);

/* The file the key was loaded from, or written to; lives as long as the key. */
const char *hp_key__path(const struct hp_key *key);

struct hp_keygen_opts {
	const char *comment;  /* public key's untrusted comment; NULL: minisign's */
	const char *password; /* encrypt the secret key (scrypt); NULL: unencrypted */
	int force;            /* nonzero: replace existing files */
};

/* Generate a key pair and write the secret key (mode 0600) and the public
 * key. Without opts->force an existing file is an error (-EEXIST) and
 * nothing is written; each file is written atomically. opts may be NULL.
 * On success *out (if not NULL) receives the new key pair (hp_key__free). */
int hp_key__generate(const char *secret_path, const char *public_path,
		     const struct hp_keygen_opts *opts, struct hp_key **out);

struct hp_sign_opts {
	const char *sig_path;        /* NULL: FILE.minisig */
	const char *trusted_comment; /* NULL: "timestamp:T\tfile:BASENAME\thashed" */
	const char *comment;         /* untrusted comment; NULL: minisign's */
};

/* Sign file with secret key sk (prehashed "ED" signature, as minisign 0.11)
 * and write the signature file atomically. T in the default trusted comment
 * is $SOURCE_DATE_EPOCH when set, else the current time. opts may be NULL.
 * Errors: -EINVAL (sk has no secret half, comment too long or with a
 * newline), -errno of reading or writing (messages name the file). */
int hp_sig__sign_file(const struct hp_key *sk, const char *file, const struct hp_sign_opts *opts);

/* A set of trusted public keys. Opaque. */
struct hp_keyring;

/* An empty keyring (hp_keyring__free), or NULL with errno ENOMEM. */
struct hp_keyring *hp_keyring__new(void);
void hp_keyring__free(struct hp_keyring *kr);

/* Load the public key file path into kr. Errors as hp_key__load_public. */
int hp_keyring__add_file(struct hp_keyring *kr, const char *path);

/* Load every *.pub in dir (sorted by name, so the order is stable). A
 * missing directory is -ENOENT; a bad key file in it is an error naming it. */
int hp_keyring__add_dir(struct hp_keyring *kr, const char *dir);

/* Number of keys in kr. */
size_t hp_keyring__count(const struct hp_keyring *kr);

/* The trusted keys for verify/apply: every *.pub of the system directory
 * (dir if not NULL, else $HOTPATCH_TRUSTED_KEYS_DIR if set, else
 * HP_TRUSTED_KEYS_DIR; only the built-in default may be missing) plus each
 * of files[0..nr_files). Returns a new keyring, or NULL with errno set (the
 * message names the directory or file). An empty result is not an error
 * here; hp_sig__verify_* refuses it. */
struct hp_keyring *hp_keyring__load_trusted(const char *dir, const char *const *files,
					    size_t nr_files);

/* What a successful verification found. */
struct hp_sig_info {
	const struct hp_key *key;   /* the trusted key that matched; owned by the keyring */
	char key_id[HP_KEY_ID_HEX]; /* its id, hex */
	int prehashed;              /* 1: "ED" (BLAKE2b-512 of the file), 0: legacy "Ed" */
	char trusted_comment[HP_SIG_TRUSTED_COMMENT_MAX + 1]; /* verified, NUL-terminated */
};

/* Verify sigfile (NULL: FILE.minisig) for file against the trusted keys:
 * strict parsing, the key id must be in keys, then the signature of the
 * file and the global signature of the trusted comment. Returns 0 (and
 * fills *info if not NULL) or HP_E_SIGNATURE with a message naming the file
 * and the cause: no signature file, malformed signature, unknown key id
 * (named), no trusted keys, bad signature, bad global signature. -errno when
 * file itself cannot be read. */
int hp_sig__verify_file(const char *file, const char *sigfile, const struct hp_keyring *keys,
			struct hp_sig_info *info);

/* Same for bytes already in memory (so a caller verifies exactly the bytes it
 * goes on to parse); name is used in messages, sigfile must be given. */
int hp_sig__verify_buf(const void *data, size_t len, const char *name, const char *sigfile,
		       const struct hp_keyring *keys, struct hp_sig_info *info);

/* ---- manifest and package (hp_manifest, hp_package) ---- */

/* ---- linking a payload against a target (hp_link) ---- */

/* ---- the dry run (hp_verify) ---- */

/* ---- live patching (hp_live) ---- */

/* ---- state directory: lock, journal, backups (hp_state) ---- */

#ifdef __cplusplus
}
#endif

#endif /* HOTPATCH_H */
