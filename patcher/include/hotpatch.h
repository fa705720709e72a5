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
#include <stdbool.h>
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

/* What kind of ELF file a target is. */
enum hp_elf_type {
	HP_ELF_EXEC,        /* ET_EXEC: a position-dependent executable */
	HP_ELF_PIE,         /* ET_DYN that is a program (DF_1_PIE or PT_INTERP) */
	HP_ELF_SHARED,      /* ET_DYN that is a shared library */
	HP_ELF_RELOCATABLE, /* ET_REL: an object file (a payload) */
};

/* "executable", "pie-executable", "shared-library" or "relocatable". */
const char *hp_elf_type_name(enum hp_elf_type type);

/* How a file identifies itself, the way distributions identify files. The
 * strings live as long as the hp_elf they came from. */
struct hp_identity {
	const char *path;         /* the name given to hp_elf__open*() (display only) */
	enum hp_elf_type type;    /* executable, PIE, shared library, relocatable */
	const char *build_id;     /* GNU build-id as lowercase hex, NULL if absent */
	const char *pkg_name;     /* .note.package "name", NULL if absent */
	const char *pkg_version;  /* .note.package "version", NULL if absent */
	const char *pkg_type;     /* .note.package "type" (deb, rpm...), NULL if absent */
	char sha256[65];          /* SHA-256 of the whole file as read, lowercase hex */
	uint64_t file_size;       /* size of the file in bytes */
};

enum hp_sym_kind {
	HP_SYM_FUNC,   /* STT_FUNC (and STT_GNU_IFUNC) */
	HP_SYM_OBJECT, /* STT_OBJECT and STT_TLS */
	HP_SYM_OTHER,  /* NOTYPE, SECTION, FILE... */
};

enum hp_sym_bind {
	HP_BIND_LOCAL,
	HP_BIND_GLOBAL,
	HP_BIND_WEAK,  /* also STB_GNU_UNIQUE */
};

/* A symbol of .symtab or .dynsym. Strings live as long as the hp_elf. */
struct hp_symbol {
	const char *name;      /* base name, without any @VERSION / @@VERSION */
	const char *version;   /* version from the name or .gnu.version, NULL if none */
	uint64_t value;        /* link-time virtual address (ET_REL: section offset) */
	uint64_t size;         /* size in bytes as the symbol table says (may be 0) */
	enum hp_sym_kind kind; /* function, object or other */
	enum hp_sym_bind bind; /* local, global, weak */
	bool defined;          /* false for undefined (imported) symbols */
	bool dynamic;          /* from .dynsym (no .symtab twin) rather than .symtab */
	unsigned int section;  /* section index it is defined in, 0 if none/special */
};

/* A PT_LOAD segment. */
struct hp_segment {
	uint64_t vaddr;   /* link-time virtual address of its first byte */
	uint64_t memsz;   /* size in memory, bytes */
	uint64_t offset;  /* file offset of its first byte */
	uint64_t filesz;  /* bytes present in the file (the rest reads as zero) */
	uint64_t align;   /* p_align */
	bool read;        /* PF_R */
	bool write;       /* PF_W */
	bool exec;        /* PF_X */
};

/* A section header, as far as the rest of the library needs one. */
struct hp_section {
	const char *name;  /* from .shstrtab; "" when it has none */
	uint64_t addr;     /* link-time virtual address, 0 if not allocated */
	uint64_t size;     /* size in bytes */
	uint64_t offset;   /* file offset (meaningless for SHT_NOBITS) */
	bool alloc;        /* SHF_ALLOC: part of the loaded image */
	bool exec;         /* SHF_EXECINSTR */
	bool nobits;       /* SHT_NOBITS (.bss): no bytes in the file */
};

struct hp_elf;

/* Open and parse an x86-64 ELF file. The whole file is read once: the
 * SHA-256 and everything parsed come from the same bytes. Returns NULL and
 * sets errno (ENOENT..., HP_E_FORMAT for a malformed or non-ELF file,
 * HP_E_UNSUPPORTED for another class or machine) after a pr_warn naming the
 * file and the cause. Close with hp_elf__close(). */
struct hp_elf *hp_elf__open(const char *path);

/* Same from an open descriptor, read from offset 0 (the caller keeps the
 * fd); display_name names it in messages and in the identity. */
struct hp_elf *hp_elf__open_fd(int fd, const char *display_name);

/* Release everything; accepts NULL. */
void hp_elf__close(struct hp_elf *elf);

const struct hp_identity *hp_elf__identity(const struct hp_elf *elf);

/* The best symbol called name (a versioned "name@@V"/"name@V" matches by its
 * base name; "name@V" asks for that version): defined over undefined,
 * FUNC/OBJECT over others, .symtab over .dynsym, global over local. NULL if
 * none (not an error). Hash lookup. */
const struct hp_symbol *hp_elf__find_symbol(const struct hp_elf *elf, const char *name);

/* The defined FUNC/OBJECT symbol whose [value, value+size) holds vaddr (or
 * whose value is vaddr when its size is 0), or NULL. Binary search. */
const struct hp_symbol *hp_elf__symbol_at(const struct hp_elf *elf, uint64_t vaddr);

/* Every symbol (.symtab ones, then .dynsym ones with no .symtab twin). */
size_t hp_elf__symbol_count(const struct hp_elf *elf);
const struct hp_symbol *hp_elf__symbol(const struct hp_elf *elf, size_t i);

/* How many symbol entries .symtab and .dynsym hold (index 0 excluded). */
size_t hp_elf__symtab_count(const struct hp_elf *elf);
size_t hp_elf__dynsym_count(const struct hp_elf *elf);

/* Copy len bytes at link-time vaddr out of the PT_LOAD segments (bytes past
 * p_filesz read as zero). -EFAULT if any byte is outside every segment. */
int hp_elf__read(const struct hp_elf *elf, uint64_t vaddr, void *buf, size_t len);

/* The PT_LOAD segment holding vaddr, or NULL. */
const struct hp_segment *hp_elf__segment_at(const struct hp_elf *elf, uint64_t vaddr);
size_t hp_elf__segment_count(const struct hp_elf *elf);
const struct hp_segment *hp_elf__segment(const struct hp_elf *elf, size_t i);

/* Sections (index as in the file; 0 is the null section). */
size_t hp_elf__section_count(const struct hp_elf *elf);
const struct hp_section *hp_elf__section(const struct hp_elf *elf, size_t i);
/* The allocated section holding link-time vaddr, or NULL. */
const struct hp_section *hp_elf__section_at(const struct hp_elf *elf, uint64_t vaddr);

/* The lowest link-time address of a PT_LOAD segment, rounded down to its
 * alignment: runtime load base minus this is the load bias. */
uint64_t hp_elf__link_base(const struct hp_elf *elf);

/* SHA-256 as 64 lowercase hex digits and a NUL. hp_sha256_fd reads from
 * offset 0 to end of file with pread (the fd's offset is left alone). */
int hp_sha256_buf(const void *data, size_t len, char hex[65]);
int hp_sha256_fd(int fd, char hex[65]);
int hp_sha256_file(const char *path, char hex[65]);
/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void hp_hex_encode(const void *data, size_t len, char *out);

/* ---- function analysis (hp_func) ---- */

/* What an instruction is, as far as patching cares: code outside the x86-64
 * module sees only these, never opcodes. */
enum hp_insn_kind {
	HP_INSN_OTHER,     /* anything else (moves, arithmetic...) */
	HP_INSN_JMP,       /* direct unconditional jump */
	HP_INSN_JMP_IND,   /* indirect jump (jump tables, tail calls through a pointer) */
	HP_INSN_JCC,       /* conditional jump, loop, jrcxz */
	HP_INSN_CALL,      /* direct call */
	HP_INSN_CALL_IND,  /* indirect call */
	HP_INSN_RET,       /* ret */
	HP_INSN_SYSCALL,   /* syscall, sysenter, int 0x80 */
	HP_INSN_NOP,       /* any nop form */
	HP_INSN_INT3,      /* int3 */
	HP_INSN_ENDBR,     /* endbr64 */
	HP_INSN_TRAP,      /* ud2, hlt: execution does not fall through */
};

const char *hp_insn_kind_name(enum hp_insn_kind kind);

/* Why a function can or cannot take a jump at its entry (docs/inspect.md). */
enum hp_func_reason {
	HP_FUNC_OK,                /* "ok": patchable */
	HP_FUNC_NOT_FUNCTION,      /* "not-function": the symbol is not a defined function */
	HP_FUNC_NO_SIZE,           /* "no-size": symbol size 0, its end is unknown */
	HP_FUNC_NOT_CODE,          /* "not-code": bytes not in an executable segment */
	HP_FUNC_BAD_INSTRUCTION,   /* "bad-instruction": bytes do not decode, or an
				      instruction runs past the function's end */
	HP_FUNC_TOO_SHORT,         /* "too-short": function plus padding < 5 bytes */
	HP_FUNC_BRANCH_INTO_WINDOW,/* "branch-into-window": a branch targets the bytes
				      the jump overwrites (other than the entry) */
};

const char *hp_func_reason_name(enum hp_func_reason reason);

#define HP_JMP_LEN 5        /* bytes of a jmp rel32 */
#define HP_WINDOW_MAX 8     /* instructions a window can hold (5 bytes, + padding) */

/* One instruction of the window a jump overwrites. */
struct hp_window_insn {
	uint32_t offset;           /* bytes from the function's entry */
	uint8_t len;               /* bytes */
	enum hp_insn_kind kind;    /* what it is */
	bool rip_relative;         /* has a RIP-relative memory operand */
	bool padding;              /* alignment padding after the function's end */
	bool stop_sensitive;       /* matters to a thread stopped inside the window:
				      a call or syscall (a return address or a
				      restart point inside it) or RIP-relative */
	uint64_t target;           /* branch or RIP-relative target (same address
				      space as the function), 0 if none */
	char text[64];             /* disassembly, "mov eax, dword ptr [rip + 0x10]" */
};

/* The verdict on one function. */
struct hp_func_report {
	uint64_t addr;             /* entry (link-time vaddr, or runtime for raw code) */
	uint64_t size;             /* bytes of the function (symbol size) */
	bool patchable;            /* a 5-byte jmp at addr+patch_offset is safe */
	enum hp_func_reason reason;/* HP_FUNC_OK when patchable */
	uint32_t patch_offset;     /* where the jump goes: 4 after an endbr64, else 0 */
	uint32_t window_len;       /* bytes the jump covers: whole instructions >= 5 */
	uint32_t padding_used;     /* of which bytes of padding after the function */
	uint32_t insn_count;       /* instructions decoded in the function */
	uint64_t culprit;          /* address of the instruction behind a refusal
				      (the branch, the bad byte), 0 if none */
	uint64_t culprit_target;   /* for branch-into-window: where it jumps */
	unsigned int n_window;     /* entries used in window[] */
	struct hp_window_insn window[HP_WINDOW_MAX]; /* instructions in the window */
	char fingerprint[65];      /* SHA-256 (hex) of exactly size bytes at addr;
				      "" when size is 0 */
};

/* Analyse code[0..len) found at address addr (any address space: link-time or
 * runtime; branch targets are computed in it). code must hold len +
 * padding_after readable bytes: the bytes after the function up to the next
 * symbol or the end of its section, which count for the window only if they
 * are all NOP or int3. Fills *r even when the function is not patchable;
 * returns 0, or a negative error when analysis could not run (-ENOMEM). */
int hp_func__analyze_code(const uint8_t *code, size_t len, uint64_t addr,
			  size_t padding_after, struct hp_func_report *r);

/* Analyse a function of an ELF file: its bytes through the PT_LOAD segments,
 * padding up to the next symbol or the end of its section. 0 with *r filled
 * (patchable or not, with the reason), or a negative error. */
int hp_func__analyze(const struct hp_elf *elf, const struct hp_symbol *sym,
		     struct hp_func_report *r);

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

/* A package's manifest (docs/formats/manifest.md), as parsed. Two forms share
 * these structs: the vendor's source manifest (versions named only, no
 * hashes) and the final manifest `hotpatch pack` writes (every eligible
 * version pinned). Strings are NUL-terminated and owned by the manifest;
 * hex digests are lowercase. */
#define HP_MANIFEST_FORMAT_MIN 1
#define HP_MANIFEST_FORMAT_MAX 2 /* 2 adds patched_sha256 and full_builds */

enum hp_manifest_kind {
	HP_MANIFEST_SOURCE, /* as the vendor writes it: no hashes */
	HP_MANIFEST_FINAL,  /* as shipped in a package: every hash present */
};

struct hp_manifest_func {
	char *name;            /* symbol name of the original function */
	uint64_t size;         /* bytes of the original function (st_size) */
	char fingerprint[65];  /* hex SHA-256 of the original function's bytes */
};

struct hp_manifest_version {
	char *version;         /* package-note version, "5.2.3790.2437" */
	char *build_id;        /* hex GNU build-id; NULL in a source manifest */
	char sha256[65];       /* hex SHA-256 of the whole file; "" in a source manifest */
	char patched_sha256[65]; /* format 2: hex SHA-256 after an on-disk patch; "" if absent */
	struct hp_manifest_func *funcs; /* one per component function, same order */
	size_t nr_funcs;       /* 0 in a source manifest */
};

/* Format 2: a full fixed build for versions the hotpatch was not built for. */
struct hp_manifest_build {
	char *version;         /* package-note version of the fixed build */
	char *file;            /* file name inside the package directory */
	char sha256[65];       /* hex SHA-256 of that file */
	uint64_t size;         /* bytes of that file */
	char **replaces;       /* versions it is meant to replace */
	size_t nr_replaces;
};

struct hp_manifest_component {
	char *name;            /* component name, "srv" */
	char *package_note;    /* "name" in the .note.package of its files */
	char **paths;          /* install paths relative to --root; glob(7) patterns */
	size_t nr_paths;
	char **functions;      /* names of the functions the payload replaces */
	size_t nr_functions;
	char *payload;         /* payload container, file name inside the package directory */
	char payload_sha256[65]; /* hex SHA-256 of the container file; "" in a source manifest */
	uint64_t payload_size; /* bytes of the container file; 0 in a source manifest */
	struct hp_manifest_version *versions; /* eligible versions */
	size_t nr_versions;
	struct hp_manifest_build *builds; /* format 2: full fixed builds */
	size_t nr_builds;
};

struct hp_manifest {
	int format;            /* format version, HP_MANIFEST_FORMAT_MIN..MAX */
	enum hp_manifest_kind kind; /* source or final */
	char *id;              /* package id, "KB916846" */
	char *title;           /* one line for people */
	struct hp_manifest_component *components;
	size_t nr_components;
};

/* Parse a manifest from memory; name (a file name) is used in messages.
 * Strict: invalid JSON, a missing or unknown field, a wrong type, a bad hex
 * digest or a size beyond its bound is an error naming the field's path
 * ("components[1].eligible[0].build_id"). Returns a new manifest, owned by
 * the caller (hp_manifest__free), or NULL with errno HP_E_FORMAT,
 * HP_E_TOO_BIG or ENOMEM. */
struct hp_manifest *hp_manifest__parse(const char *json, size_t len, const char *name,
				       enum hp_manifest_kind kind);

/* Read and parse a manifest file (at most 1 MiB). Errors as
 * hp_manifest__parse, plus -errno of open/read. */
struct hp_manifest *hp_manifest__load(const char *path, enum hp_manifest_kind kind);

/* Serialize m (which must be complete for its kind) deterministically: the
 * same manifest always gives the same bytes, fields in documented order,
 * two-space indent, final newline. Returns a malloc'd string or NULL with
 * errno set. */
char *hp_manifest__dump(const struct hp_manifest *m);

/* Write hp_manifest__dump(m) to path atomically (temporary file in the same
 * directory, fsync, rename). 0 or -errno. */
int hp_manifest__write(const struct hp_manifest *m, const char *path);

void hp_manifest__free(struct hp_manifest *m);

/* Lookups; NULL when absent (not an error). */
const struct hp_manifest_component *hp_manifest__find_component(const struct hp_manifest *m,
								const char *name);
const struct hp_manifest_version *hp_manifest__find_version(const struct hp_manifest_component *c,
							    const char *version);

/* ---- linking a payload against a target (hp_link) ---- */

/* ---- the dry run (hp_verify) ---- */

/* ---- live patching (hp_live) ---- */

/* ---- state directory: lock, journal, backups (hp_state) ---- */

#ifdef __cplusplus
}
#endif

#endif /* HOTPATCH_H */
