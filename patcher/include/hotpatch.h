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
	HP_E_MISMATCH,      /* bytes differ from their fingerprint or hash; a file is not the one checked */
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
	bool old_version;      /* "name@V": a non-default version, kept for old links */
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

/* How the file now at a mapped object's path relates to what is mapped. */
enum hp_file_state {
	HP_FILE_SAME,     /* the path names the mapped file (same device and inode) */
	HP_FILE_REPLACED, /* another file is at the path now (renamed over, reinstalled) */
	HP_FILE_DELETED,  /* nothing is at the path any more */
};

/* "same", "replaced" or "deleted". */
const char *hp_file_state_name(enum hp_file_state state);

/* One mapping of an object. */
struct hp_proc_range {
	uint64_t start;   /* runtime address of the first byte */
	uint64_t end;     /* runtime address one past the last byte */
	uint64_t offset;  /* file offset mapped at start */
	bool read;        /* r */
	bool write;       /* w */
	bool exec;        /* x */
};

/* A file a process has mapped (a program or library), all its mappings. */
struct hp_proc_object {
	const char *path;              /* path the process mapped it from */
	enum hp_file_state state;      /* what is at that path now */
	uint64_t dev;                  /* device of the mapped file (makedev) */
	uint64_t inode;                /* inode of the mapped file */
	struct hp_elf *elf;            /* the mapped file read as ELF through
					  /proc/PID/map_files (not the path), NULL
					  when it could not be read or is not ELF */
	bool bias_known;               /* load_bias is valid (elf read, offset 0 mapped) */
	uint64_t load_bias;            /* runtime address minus link-time address */
	struct hp_proc_range *ranges;  /* its mappings, by address */
	size_t nranges;                /* entries in ranges */
};

struct hp_proc;

/* Snapshot what process pid has mapped and its threads (no ptrace: the
 * process keeps running). Each mapped ELF object is opened from the mapping
 * itself, so its identity is what runs even when the file at its path was
 * replaced or deleted. NULL and errno (ESRCH, EACCES, ENOMEM...) after a
 * pr_warn naming the pid. Close with hp_proc__close(). */
struct hp_proc *hp_proc__open(pid_t pid);
void hp_proc__close(struct hp_proc *proc);

pid_t hp_proc__pid(const struct hp_proc *proc);
/* The executable's path (/proc/PID/exe), "" if unreadable. */
const char *hp_proc__exe(const struct hp_proc *proc);
size_t hp_proc__object_count(const struct hp_proc *proc);
const struct hp_proc_object *hp_proc__object(const struct hp_proc *proc, size_t i);
/* The object with a mapping holding runtime address addr, or NULL. */
const struct hp_proc_object *hp_proc__object_at(const struct hp_proc *proc, uint64_t addr);
/* The first object whose path is path, or whose path ends in "/path", or NULL. */
const struct hp_proc_object *hp_proc__find_object(const struct hp_proc *proc, const char *path);
/* Thread ids, ascending; *n receives their number. */
const pid_t *hp_proc__threads(const struct hp_proc *proc, size_t *n);

/* Copy len bytes of the process's memory at runtime address addr (through
 * /proc/PID/mem; the process keeps running, so the bytes are a snapshot).
 * 0, or -errno (-EIO when the range is not all mapped and readable). */
int hp_proc__read(const struct hp_proc *proc, uint64_t addr, void *buf, size_t len);

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
 * directory, fsync, rename, fsync of the directory), mode 0644. Returns 0 or
 * a negative error, reported with path. */
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
	int kdf_interactive;  /* nonzero: scrypt at libsodium's interactive cost (16 MiB)
				 rather than minisign's sensitive one (1 GiB) */
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

/* Format 2: a build a full fixed build replaces, pinned as exactly as an
 * eligible version (only these files are ever replaced). */
struct hp_manifest_replaced {
	char *version;         /* package-note version of the build replaced */
	char *build_id;        /* hex GNU build-id; NULL in a source manifest */
	char sha256[65];       /* hex SHA-256 of the whole file; "" in a source manifest */
};

/* Format 2: the vendor's fixed full build of a component, for the versions
 * the hotpatch was not built for. Installing it replaces the file on disk;
 * processes running the old file need a restart. */
struct hp_manifest_build {
	char *version;         /* package-note version of the fixed build, "5.2.3790.2734" */
	char *build_id;        /* its hex GNU build-id; NULL in a source manifest */
	char sha256[65];       /* hex SHA-256 of the build as installed; "" in a source manifest */
	uint64_t size;         /* bytes of the build as installed; 0 in a source manifest */
	char *file;            /* its container, file name inside the package directory */
	char file_sha256[65];  /* hex SHA-256 of the container file; "" in a source manifest */
	uint64_t file_size;    /* bytes of the container file; 0 in a source manifest */
	struct hp_manifest_replaced *replaces; /* the builds it replaces */
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
 * directory, fsync, rename, fsync of the directory), mode 0644. 0 or
 * -errno, reported with path. */
int hp_manifest__write(const struct hp_manifest *m, const char *path);

void hp_manifest__free(struct hp_manifest *m);

/* Lookups; NULL when absent (not an error). */
const struct hp_manifest_component *hp_manifest__find_component(const struct hp_manifest *m,
								const char *name);
const struct hp_manifest_version *hp_manifest__find_version(const struct hp_manifest_component *c,
							    const char *version);
/* The full build of c that replaces version, and in *r the pin of that
 * version (may be NULL); NULL when no full build replaces it. */
const struct hp_manifest_build *hp_manifest__find_build(const struct hp_manifest_component *c,
							const char *version,
							const struct hp_manifest_replaced **r);
/* The full build of c whose bytes hash to sha256 (a file that has the fix
 * already), or NULL. */
const struct hp_manifest_build *hp_manifest__find_build_sha256(const struct hp_manifest_component *c,
							       const char *sha256);

/* A package: a directory holding manifest.json, its minisign signature
 * manifest.json.minisig and the payload containers the manifest names. */
struct hp_package_opts {
	const char *const *trusted_keys; /* extra public key files (--trusted-key) */
	size_t nr_trusted_keys;          /* entries in trusted_keys */
	const char *trusted_dir;         /* system key directory; NULL: the default */
	int skip_signature;              /* nonzero: do not check the signature (warns loudly) */
	size_t max_payload_size;         /* bound on an unpacked payload, bytes; 0: default */
};

struct link_object; /* opaque: a parsed payload object (the payload linker's) */

struct hp_package_payload {
	const struct hp_manifest_component *component; /* the component it serves */
	char *path;                /* container file, for messages */
	void *object;              /* unpacked relocatable ELF object, malloc'd */
	size_t object_size;        /* bytes at object */
	struct link_object *link;  /* object parsed by the linker; owned */
};

struct hp_package {
	char *dir;                 /* the package directory */
	char *manifest_path;       /* the manifest file as given */
	struct hp_manifest *manifest; /* parsed from exactly the bytes that were verified */
	int signature_checked;     /* 0 only when opened with skip_signature */
	char key_id[HP_KEY_ID_HEX]; /* id of the key that signed it (hex), "" if unchecked */
	struct hp_package_payload *payloads; /* one per component, same order */
	size_t nr_payloads;
};

/* Open the package whose manifest is manifest_path: read the manifest once,
 * verify its signature (manifest_path + ".minisig") against the trusted keys
 * unless opts->skip_signature, parse it strictly, then for each component
 * open its payload file inside the package directory (a name or symlink
 * leading out of it is refused), check its size and SHA-256 against the
 * manifest, unpack the container and parse the object. Nothing is written.
 * Returns a package (hp_package__close) or NULL with errno: HP_E_SIGNATURE,
 * HP_E_FORMAT, HP_E_TOO_BIG, HP_E_MISMATCH (size or SHA-256 of a payload),
 * HP_E_UNSUPPORTED, HP_E_RELOC (the object), or the errno of a file; each
 * after one message naming the file and the cause. opts may be NULL. */
struct hp_package *hp_package__open(const char *manifest_path, const struct hp_package_opts *opts);

/* Accepts NULL and half-opened packages. */
void hp_package__close(struct hp_package *pkg);

/* The bytes of full build b of the package (one of its manifest's
 * components' builds): its container read once from inside the package
 * directory, checked against the manifest's size and SHA-256, unpacked,
 * and the result checked against the build's size and SHA-256. *out is
 * malloc'd (*out_len bytes). Errors: HP_E_MISMATCH, HP_E_FORMAT,
 * HP_E_TOO_BIG, -errno; each after a message naming the file. */
int hp_package__read_build(const struct hp_package *pkg, const struct hp_manifest_build *b,
			   void **out, size_t *out_len);

/* The payload of component name, or NULL. */
const struct hp_package_payload *hp_package__find_payload(const struct hp_package *pkg,
							  const char *component);

/* The vendor side: `hotpatch pack`. One input file for a component. */
struct hp_pack_input {
	const char *component; /* component name in the source manifest */
	const char *path;      /* a built target file, or a payload object */
};

struct hp_pack_opts {
	const struct hp_pack_input *targets;  /* built files: one per eligible version */
	size_t nr_targets;
	const struct hp_pack_input *payloads; /* payload objects: one per component */
	size_t nr_payloads;
	const struct hp_pack_input *full_builds; /* format 2: one fixed full build per full_builds[] */
	size_t nr_full_builds;
	const struct hp_pack_input *replaced;    /* format 2: one built file per version replaced */
	size_t nr_replaced;
};

/* Make the unsigned package in outdir (created if missing) from the source
 * manifest at source: each payload object, checked by the linker, goes
 * into its container; each built target is recognised by its package note
 * (name and version) and pins its eligible version with its build-id,
 * SHA-256 and, for every function replaced, the analysis' size and
 * fingerprint (the function must be patchable); then outdir/manifest.json
 * is written deterministically. Every eligible version needs exactly one
 * built file and no file of another version may be given. Likewise each
 * full build the source manifest names (format 2) needs its built file,
 * packed into its container and pinned, and each version it replaces the
 * built file of that version, pinned. Returns 0, or a
 * negative error after a message naming the file, component and cause
 * (HP_E_FORMAT, HP_E_NOT_FOUND, HP_E_NOT_ELIGIBLE, HP_E_UNPATCHABLE,
 * -errno...). */
int hp_package__create(const char *source, const char *outdir, const struct hp_pack_opts *opts);

/* ---- linking a payload against a target (hp_link) ---- */

/* Does the payload object (the bytes of a relocatable ELF file; obj_name
 * names it in messages) link against the ELF file target: is every symbol
 * it needs from outside defined there? Changes nothing. Returns 0;
 * -HP_E_RELOC when some symbol does not resolve (each reported with
 * pr_warn); -HP_E_FORMAT, -HP_E_UNSUPPORTED, -HP_E_RELOC or -HP_E_TOO_BIG
 * for an object the linker refuses (docs/formats/payload-object.md). */
int hp_link__check_elf(const void *obj, size_t len, const char *obj_name,
		       const struct hp_elf *target);

/* ---- the dry run (hp_verify) ---- */

/* The dry run: the whole pipeline stopped after the plan. Every target on
 * disk and in running processes gets a verdict; nothing is written, no
 * process is stopped or traced (function bytes are read from
 * /proc/PID/mem). */
enum hp_verdict {
	HP_VERDICT_WOULD_PATCH,  /* eligible, and every check passed */
	HP_VERDICT_NOT_ELIGIBLE, /* a version the patch was not built for */
	HP_VERDICT_ALREADY,      /* the patch is already there */
	HP_VERDICT_REFUSED,      /* an eligible version failed a check (err, reason) */
	HP_VERDICT_ERROR,        /* could not be examined (unreadable, not a component, exited) */
	HP_VERDICT_WOULD_REPLACE, /* a file of a version the package carries a fixed full
				    build for: apply installs that build in its place */
	HP_VERDICT_NEEDS_RESTART, /* a process running such a version: it cannot be
				    hotpatched, only restarted on the full build */
	HP_VERDICT_COUNT,        /* number of verdicts */
};

/* "would-patch", "not-eligible", "already-patched", "refused", "error",
 * "would-replace", "needs-restart". */
const char *hp_verdict_name(enum hp_verdict v);

struct hp_verify_func {
	const char *name;        /* function replaced; owned by the manifest */
	uint64_t addr;           /* entry: link-time vaddr for a file, runtime address for a process */
	uint64_t size;           /* bytes, as found in the target */
	uint32_t patch_offset;   /* bytes from addr where the jump would go */
	uint32_t window_len;     /* bytes the jump would cover */
	int patchable;           /* the analysis' verdict */
	const char *reason;      /* hp_func_reason_name() of the analysis */
	int fingerprint_ok;      /* the bytes hash to the manifest's fingerprint */
	char fingerprint[65];    /* hex SHA-256 of the bytes found, "" if not read */
};

struct hp_verify_target {
	char *path;              /* the file on disk, or the file a process maps */
	pid_t pid;               /* the process; 0 for a file on disk */
	char *comm;              /* the process' name (/proc/PID/comm); NULL for a file */
	const struct hp_manifest_component *component; /* NULL when not recognised */
	char *version;           /* package-note version, NULL if none */
	char *build_id;          /* hex, NULL if none */
	char sha256[65];         /* hex SHA-256 of the file (for a process: of what it maps) */
	uint64_t bias;           /* process: runtime minus link-time address; 0 for a file */
	enum hp_verdict verdict; /* what apply would do */
	int err;                 /* negative error behind REFUSED or ERROR, else 0 */
	char *reason;            /* one line: why not (REFUSED, ERROR, NOT_ELIGIBLE), what
				    instead (WOULD_REPLACE, NEEDS_RESTART, ALREADY), else NULL */
	const struct hp_manifest_build *build; /* the fixed full build that would replace
				    it (WOULD_REPLACE, NEEDS_RESTART) or that it is (ALREADY);
				    owned by the manifest; else NULL */
	struct hp_verify_func *funcs; /* one per component function when the version is eligible */
	size_t nr_funcs;
};

struct hp_verify_opts {
	const char *root;        /* search the components' paths below it; NULL: "/" */
	int no_root;             /* nonzero: do not search a root (only files and processes) */
	const char *const *files; /* explicit target files to check as well */
	size_t nr_files;
	const pid_t *pids;       /* processes to check; NULL: every process of the machine */
	size_t nr_pids;
	int no_processes;        /* nonzero: check no process */
};

struct hp_verify_report {
	struct hp_verify_target *targets; /* files first (sorted by path), then processes by pid */
	size_t nr_targets;
	size_t count[HP_VERDICT_COUNT]; /* targets per verdict */
	size_t nr_unreadable;    /* machine-wide scan: processes whose mappings could not
				    be read (permission), so not examined */
};

/* Run the dry run of pkg (opened with hp_package__open) against the targets
 * opts selects. Per-target problems are verdicts, not errors: the call
 * fails only when it cannot run at all (-ENOMEM, an unreadable --root or
 * /proc). *out is owned by the caller (hp_verify__free). */
int hp_verify__run(const struct hp_package *pkg, const struct hp_verify_opts *opts,
		   struct hp_verify_report **out);

/* Accepts NULL. */
void hp_verify__free(struct hp_verify_report *r);

/* ---- live patching (hp_live) ---- */

/* The live executor redirects functions of one running process (ptrace,
 * root or CAP_SYS_PTRACE): the linked payload is placed in a region mapped
 * inside the process within +-2 GiB of the code, then, with every thread
 * stopped for as short a time as possible, each function's entry gets a
 * 5-byte jump to its replacement. The region starts with a record (package
 * id, functions, original bytes; docs/formats/process-record.md) so status
 * and rollback read the truth from the process itself. A process is changed
 * completely or not at all. How it works: docs/live.md. */

/* How strict the check made while every thread is stopped is. */
enum hp_live_consistency {
	HP_LIVE_FULL = 0, /* no thread inside a replaced function, no return address into one */
	HP_LIVE_ENTRY,    /* no thread inside the bytes the jump overwrites */
};

/* One function to redirect. */
struct hp_live_func {
	const char *name;      /* symbol name, for messages and the record (<= 63 bytes kept) */
	uint64_t entry;        /* runtime address of the function's first byte */
	uint64_t size;         /* function size in bytes: the range the safety check guards */
	uint32_t patch_off;    /* bytes from entry to the jump (4 after an endbr64, else 0) */
	const uint8_t *expect; /* the bytes expected at entry (the fingerprint); expect_len long */
	size_t expect_len;     /* at least patch_off + 5 */
};

/* Produce the linked payload for runtime address base into buf (size bytes,
 * zeroed) and set new_addr[i], the runtime address of funcs[i]'s
 * replacement, for each function. Called once per apply, before anything is
 * stopped. Returns 0 or a negative error (it reports its own). */
typedef int (*hp_live_image_fn)(void *ctx, uint64_t base, uint8_t *buf, size_t size,
				uint64_t *new_addr);

struct hp_live_patch {
	const char *id;                   /* package id, e.g. "KB916846" (<= 31 bytes) */
	const struct hp_live_func *funcs; /* the functions to redirect */
	size_t nfuncs;                    /* number of funcs (1..64) */
	size_t image_size;                /* bytes of linked code the callback produces */
	size_t image_text_size;           /* of those, the first bytes to map r-x (a page
					     multiple); the rest (the payload's data) is
					     mapped rw-. 0: all r-x */
	hp_live_image_fn image;           /* the callback; base is page-aligned */
	void *ctx;                        /* passed to image */
};

struct hp_live_opts {
	enum hp_live_consistency consistency; /* HP_LIVE_FULL by default (zeroed opts) */
	unsigned int retries;    /* stop windows tried while busy; 0: 20 */
	unsigned int backoff_us; /* wait after the first busy window, doubling, capped at
				    100 ms; 0: 1000 microseconds */
	size_t stack_scan;       /* bytes scanned above each thread's rsp; 0: 256 KiB */
};

/* What a call did, filled on success and, as far as it got, on failure. */
struct hp_live_result {
	uint64_t stop_ns;        /* last window: first thread stopped to last resumed (ns) */
	unsigned int threads;    /* threads stopped in the last window */
	unsigned int attempts;   /* windows used (more than 1 when busy) */
	uint64_t region;         /* runtime address of the injected region */
	uint64_t region_size;    /* its size in bytes */
	int region_released;     /* rollback: 1 when the region was unmapped */
};

/* Apply patch to process pid. opts and res may be NULL. Returns 0 or a
 * negative error, after a message naming the process, function and cause:
 * HP_E_ALREADY (this package is applied there), HP_E_MISMATCH (bytes at an
 * entry differ from the fingerprint), HP_E_BUSY (still unsafe after every
 * retry), HP_E_PROCESS (no such process, exited meanwhile, traced by another
 * tracer, a thread not a process), HP_E_NOT_FOUND (no free address space
 * near the code), HP_E_PRIVILEGE, HP_E_UNSUPPORTED, -errno. On any error the
 * process runs on unchanged. */
int hp_live__apply(pid_t pid, const struct hp_live_patch *patch, const struct hp_live_opts *opts,
		   struct hp_live_result *res);

/* Roll package id back in process pid: the original bytes go back under the
 * same safety rules, and the region is unmapped once no thread is in it nor
 * has a return address into it (with HP_LIVE_ENTRY it may stay mapped,
 * unreferenced). Errors as hp_live__apply, plus HP_E_NOT_APPLIED, and
 * HP_E_STATE when the entries hold neither the jumps nor the originals. */
int hp_live__rollback(pid_t pid, const char *id, const struct hp_live_opts *opts,
		      struct hp_live_result *res);

/* Finish an apply of package id that a killed run left half done in
 * process pid: the record is in place and some of its functions already
 * jump to the new code, others still hold their original bytes. The
 * missing jumps are written under the same safety rules (only the
 * functions not yet redirected are guarded). Returns 0; HP_E_ALREADY when
 * every jump is in place; HP_E_NOT_APPLIED when none is (a fresh apply is
 * the way on); HP_E_STATE when an entry holds neither; otherwise as
 * hp_live__apply(), the process left as it was found. */
int hp_live__complete(pid_t pid, const char *id, const struct hp_live_opts *opts,
		      struct hp_live_result *res);

/* Apply package pkg to the process t, which hp_verify__run() judged
 * HP_VERDICT_WOULD_PATCH: the component's payload is linked against what
 * the process maps (its symbols, and library functions through its GOT) for
 * the address chosen, then applied with hp_live__apply(). Errors as
 * hp_live__apply(), plus HP_E_RELOC from the linker. */
int hp_live__apply_target(const struct hp_package *pkg, const struct hp_verify_target *t,
			  const struct hp_live_opts *opts, struct hp_live_result *res);

/* What one process carries, read from its record without stopping it. */
struct hp_live_status {
	char id[32];          /* package id, NUL-terminated */
	uint64_t region;      /* runtime address of the region */
	uint64_t region_size; /* bytes */
	unsigned int nfuncs;  /* functions in the record */
	unsigned int applied; /* of those, how many entries hold the record's jump now */
};

/* Read the record of package id (NULL: any) from process pid into *st.
 * When several regions carry the id (one left by a killed run), the one
 * whose jumps are in place wins. Returns 0, -HP_E_NOT_APPLIED when the
 * process carries no such record, HP_E_PROCESS, -errno. */
int hp_live__status(pid_t pid, const char *id, struct hp_live_status *st);

/* ---- state directory: lock, journal, backups (hp_state) ---- */

/* The state directory holds what hotpatch must remember between runs: the
 * journal of every step taken, the backups of replaced files, and the lock
 * that keeps two runs apart. Default HP_STATE_DIR_DEFAULT, or the directory
 * named by the environment variable HP_STATE_DIR_ENV; a caller's explicit
 * directory wins over both. It must be a real directory (not a symbolic
 * link), owned by the user running hotpatch and not writable by group or
 * others; it is created 0700 when missing. Everything inside is opened
 * relative to it, never following a symbolic link. */
#define HP_STATE_DIR_DEFAULT "/var/lib/hotpatch"
#define HP_STATE_DIR_ENV "HOTPATCH_STATE_DIR"

enum hp_state_flags {
	HP_STATE_READ_ONLY = 1 << 0, /* no lock, no creation, no writes (status) */
};

struct hp_state;

/* The directory hp_state__open(NULL, ...) uses: $HOTPATCH_STATE_DIR if set
 * and not empty, else HP_STATE_DIR_DEFAULT. Static or environment string. */
const char *hp_state__default_dir(void);

/* Open the state directory dir (NULL: the default) and, unless
 * HP_STATE_READ_ONLY, create it if missing and take its lock for as long as
 * the object lives. If another run holds the lock, wait up to wait_ms
 * milliseconds (0: do not wait), then fail with HP_E_LOCKED, naming the
 * holder's pid. A read-only open of a missing directory succeeds and reads
 * as empty. Returns NULL with errno set (an errno value or HP_E_STATE,
 * HP_E_LOCKED) on failure; free with hp_state__close(). */
struct hp_state *hp_state__open(const char *dir, unsigned int flags, int wait_ms);
void hp_state__close(struct hp_state *st);
/* The directory's path as opened, for messages. Owned by st. */
const char *hp_state__path(const struct hp_state *st);

/* The journal: one line per record, appended and fsync'd before the step it
 * records is taken, so it always says at least what might have happened.
 * The format is in docs/formats/journal.md. An "intent" record opens a step;
 * a "done", "failed" or "aborted" record closes it, naming the intent by its
 * sequence number (ref) and repeating its package, action, kind and target. */
enum hp_journal_action {
	HP_JOURNAL_APPLY = 1,
	HP_JOURNAL_ROLLBACK,
};

enum hp_journal_kind {
	HP_JOURNAL_DISK = 1, /* a file on disk, named by path */
	HP_JOURNAL_LIVE,     /* a running process, named by pid and start time */
};

enum hp_journal_step {
	HP_JOURNAL_INTENT = 1, /* about to be taken */
	HP_JOURNAL_DONE,       /* taken and complete */
	HP_JOURNAL_FAILED,     /* not taken: an error, nothing changed */
	HP_JOURNAL_ABORTED,    /* not taken: found undone after a crash, or cancelled */
};

#define HP_JOURNAL_DETAILS_MAX 16 /* details per record */
#define HP_JOURNAL_LINE_MAX 4096  /* bytes per line, newline included */

/* A free-form detail: key is [a-z][a-z0-9_-]*, at most 32 bytes; well-known
 * keys are "functions", "backup", "old_sha256", "new_sha256", "error". */
struct hp_journal_detail {
	const char *key;   /* detail name */
	const char *value; /* any bytes but NUL; escaped on disk */
};

struct hp_journal_rec {
	uint64_t seq;           /* sequence number, consecutive in file order; set by append */
	uint64_t ref;           /* closing steps: seq of the intent closed; 0 for an intent */
	int64_t time_us;        /* UTC, microseconds since the epoch; set by append */
	const char *package;    /* package id, e.g. "KB916846" */
	enum hp_journal_action action; /* apply or rollback */
	enum hp_journal_kind kind;     /* disk or live */
	enum hp_journal_step step;     /* intent, done, failed, aborted */
	const char *path;       /* disk: the file's path; live: optional, the mapped file */
	uint64_t dev;           /* disk: st_dev of the file when recorded; 0 if unknown */
	uint64_t ino;           /* disk: st_ino of the file when recorded; 0 if unknown */
	pid_t pid;              /* live: process id; 0 for disk */
	uint64_t start_time;    /* live: process start, clock ticks after boot (/proc/PID/stat field 22) */
	size_t ndetails;        /* entries used in details */
	struct hp_journal_detail details[HP_JOURNAL_DETAILS_MAX]; /* functions, backup, hashes... */
};

struct hp_journal;

/* Append rec to the journal of st (opened with its lock) and fsync it:
 * sets rec->seq and rec->time_us. The strings stay the caller's. Checks the
 * record as the reader would (a record that cannot be read back is never
 * written). Errors: -EINVAL with a message for a bad record, HP_E_STATE if
 * st is read-only, HP_E_FORMAT if the journal on disk is corrupt, -errno
 * (-ENOSPC, -EROFS, -EIO...) from the file system, the journal unchanged. */
int hp_journal__append(struct hp_state *st, struct hp_journal_rec *rec);
/* Close intent (a record as appended or read back) with step, copying its
 * package, action, kind and target; details may be NULL when ndetails is 0.
 * *seq (if not NULL) gets the new record's number. Errors as above. */
int hp_journal__append_step(struct hp_state *st, const struct hp_journal_rec *intent,
			    enum hp_journal_step step, const struct hp_journal_detail *details,
			    size_t ndetails, uint64_t *seq);

/* Read the journal of st (empty if it has none). A torn last line (a crash
 * in the middle of an append) is reported and skipped; anything else
 * malformed fails with HP_E_FORMAT and a message naming the line, and a
 * journal larger than HP_JOURNAL_FILE_MAX with HP_E_TOO_BIG. Free the
 * result with hp_journal__free(). */
#define HP_JOURNAL_FILE_MAX (16u << 20) /* bytes */
int hp_journal__read(struct hp_state *st, struct hp_journal **out);
/* The same parser on len bytes of buf; name is used in messages. */
int hp_journal__parse(const char *buf, size_t len, const char *name, struct hp_journal **out);
void hp_journal__free(struct hp_journal *j);

/* Records in file order; owned by j. */
size_t hp_journal__count(const struct hp_journal *j);
const struct hp_journal_rec *hp_journal__get(const struct hp_journal *j, size_t i);
/* Line number of a torn last line that was skipped, 0 if none. */
size_t hp_journal__torn_line(const struct hp_journal *j);
/* The value of detail key in r, NULL if absent. */
const char *hp_journal_rec__detail(const struct hp_journal_rec *r, const char *key);

/* Replay. *recs gets a malloc'd array (free() it) of *n pointers to records
 * owned by j:
 * - applied: for each package and target (a file by path; a process by pid
 *   and start time), the "done" record of its last completed apply, if no
 *   completed rollback came after it; in journal order.
 * - unfinished: every intent that no later record closes: a step that was
 *   started and may or may not have happened (recovery must look). */
int hp_journal__applied(const struct hp_journal *j, const struct hp_journal_rec ***recs, size_t *n);
int hp_journal__unfinished(const struct hp_journal *j, const struct hp_journal_rec ***recs,
			   size_t *n);

/* The start time of process pid, as a journal record names it (clock ticks
 * after boot, field 22 of /proc/PID/stat): with the pid, it tells a process
 * from a later one that got the same pid. -ESRCH if there is no such
 * process (say, it exited since a record was written). */
int hp_journal__proc_start(pid_t pid, uint64_t *start);

/* Names as written in the journal ("apply", "disk", "intent"...). */
const char *hp_journal_action__str(enum hp_journal_action a);
const char *hp_journal_kind__str(enum hp_journal_kind k);
const char *hp_journal_step__str(enum hp_journal_step s);

/* Backups: copies of original files, kept in the state directory under
 * their SHA-256 (64 hex digits), checked against it when written and again
 * before any use. */

/* Store the whole content of fd (read with pread from offset 0; what names
 * it in messages). If expect_sha is not NULL the content must hash to it
 * (else HP_E_MISMATCH, nothing stored). An existing sound backup of the
 * same content is kept (a corrupt one is replaced). sha (65 bytes) gets the
 * backup's name. Needs st opened with its lock. */
int hp_backup__store(struct hp_state *st, int fd, const char *what, const char *expect_sha,
		     char sha[65]);
/* Check the backup named sha: present and hashing to its name. Errors:
 * -ENOENT (missing), HP_E_MISMATCH (corrupt), each with a message. */
int hp_backup__verify(struct hp_state *st, const char *sha);
/* Open the backup named sha for reading, after checking it as above.
 * Returns the descriptor (the caller closes it) or a negative error. */
int hp_backup__open(struct hp_state *st, const char *sha);
/* Replace the file at path with the backup named sha, atomically (see
 * docs/state.md), keeping path's current mode, owner and extended
 * attributes. If expect_current is not NULL, the file now at path must hash
 * to it (else HP_E_MISMATCH). The backup is checked before anything is
 * written and the written copy before it replaces path; on any error path is
 * unchanged. The backup itself is kept. */
int hp_backup__restore(struct hp_state *st, const char *sha, const char *path,
		       const char *expect_current);
/* Names of every backup, sorted; *names is malloc'd, free it with
 * hp_backup__free_list(). */
int hp_backup__list(struct hp_state *st, char ***names, size_t *n);
void hp_backup__free_list(char **names, size_t n);
/* Remove the backup named sha (-ENOENT if there is none). */
int hp_backup__remove(struct hp_state *st, const char *sha);

/* ---- status: what is applied where (hp_status) ---- */

/* What the state directory's journal says is applied, checked against the
 * processes themselves (their in-process records are the truth) and the
 * files on disk; read-only: no lock is taken, nothing is written, no
 * process is stopped. */
enum hp_status_problem {
	HP_STATUS_NO_RECORD = 1 << 0,   /* live: journal says applied, the running
					   process carries no record with its jumps */
	HP_STATUS_PARTIAL = 1 << 1,     /* live: record found, some entries lack the jump */
	HP_STATUS_NO_JOURNAL = 1 << 2,  /* live: record found, no completed apply journaled */
	HP_STATUS_BACKUP = 1 << 3,      /* disk: the backup the journal names is missing or corrupt */
	HP_STATUS_FILE_CHANGED = 1 << 4,/* disk: the file is gone or no longer the patched bytes */
	HP_STATUS_UNFINISHED = 1 << 5,  /* a step on this target was started and never closed */
};

/* One package on one target: a file on disk or a running process. */
struct hp_status_target {
	char *package;           /* package id */
	enum hp_journal_kind kind; /* disk or live */
	char *path;              /* disk: the file; live: the file the process maps ("" unknown) */
	pid_t pid;               /* live: the process; 0 for disk */
	uint64_t start_time;     /* live: process start (clock ticks after boot); 0 unknown */
	char *comm;              /* live: /proc/PID/comm, NULL when not running */
	int64_t since_us;        /* UTC microseconds since the epoch: journal "done" time,
				    else the record's creation time; 0 unknown */
	char *functions;         /* functions replaced, comma-separated; NULL unknown */
	char *full_build;        /* disk: version of the fixed full build that replaced the
				    file (not eligible for the hotpatch); NULL for a cold patch */
	bool journaled;          /* a completed apply in the journal, not rolled back */
	bool running;            /* live: the process named (pid and start time) runs */
	bool in_process;         /* live: its record holds every jump now */
	unsigned int nfuncs;     /* live: functions in the record (0: no record) */
	unsigned int applied;    /* live: of those, entries holding the jump now */
	uint64_t region;         /* live: runtime address of the record's region, 0 none */
	unsigned int problems;   /* enum hp_status_problem bits */
	char *problem;           /* the problems in one plain line; NULL when none */
};

/* A process status names beside the targets, in one of two lists:
 * - stale: it needs a restart to pick up an installed update (it still runs
 *   an older copy of a file patched or replaced on disk, and was not patched
 *   live); once restarted it maps the file as it is now and is no longer
 *   listed;
 * - started: it was started from a file that is patched on disk now, so its
 *   code came patched from the file and it carries no in-process record; a
 *   rollback leaves it running the fixed code until it is restarted. */
struct hp_status_proc {
	pid_t pid;               /* the process */
	char *comm;              /* /proc/PID/comm */
	char *path;              /* the patched file it maps (stale: an older copy of it) */
	char *package;           /* the package applied to that file */
	char *full_build;        /* stale: version of the full build that replaced the file;
				    NULL when the file was cold-patched (a live apply would
				    do too); always NULL in started */
};

struct hp_status {
	char *state_dir;         /* the state directory read */
	struct hp_status_target *targets; /* journal order, then records found without entry */
	size_t nr_targets;
	struct hp_status_proc *stale;     /* by pid: need a restart */
	size_t nr_stale;
	struct hp_status_proc *started;   /* by pid: started from a patched file */
	size_t nr_started;
	struct hp_journal *journal;       /* the journal read (owned) */
	const struct hp_journal_rec **unfinished; /* intents never closed; owned by journal */
	size_t nr_unfinished;
	size_t torn_line;        /* journal line skipped as torn by a crash, 0 if none */
	size_t nr_problems;      /* targets with problems, plus unfinished steps */
};

/* Read the status of state directory dir (NULL: the default), opened
 * read-only (no lock: a run in progress is not waited for). Processes
 * examined: those the journal names and those mapping a file it names.
 * Returns 0 and *out (hp_status__free), or a negative error with a message
 * (HP_E_STATE, HP_E_FORMAT for a corrupt journal, -errno). */
int hp_status__read(const char *dir, struct hp_status **out);
void hp_status__free(struct hp_status *s);

/* ---- processes that need a restart (hp_restart) ---- */

/* Which running processes still run an old copy of a file: a file replaced
 * on disk (a full build installed, a package upgrade) changes nothing in the
 * processes that mapped it before, as Debian's needrestart finds. A process
 * is judged by what it has mapped (/proc/PID/maps and map_files), never by
 * its command line. */

enum hp_restart_match {
	HP_RESTART_OLD_COPY, /* maps a file that was at path but is not what path is now
				(replaced or deleted since it was mapped): needs a restart */
	HP_RESTART_CURRENT,  /* maps what path is now: would need a restart if path were replaced */
};

/* One process mapping one of the files scanned for. */
struct hp_restart_proc {
	pid_t pid;            /* the process */
	uint64_t start_time;  /* its start time, clock ticks after boot (/proc/PID/stat field 22),
				 so a pid reused by a new process is told apart */
	char *comm;           /* /proc/PID/comm */
	char *exe;            /* /proc/PID/exe target (" (deleted)" removed), NULL if unreadable */
	char *path;           /* the file of paths[] it maps (a copy: owned) */
	int is_exe;           /* nonzero when that file is the process' executable */
};

struct hp_restart_list {
	struct hp_restart_proc *procs; /* sorted by pid, then path; one entry per (pid, path) */
	size_t n;                      /* entries in procs */
};

/* Scan every process of the machine (or only pids, when nr_pids > 0) for
 * file-backed mappings of the files paths[0..n) (absolute, canonical paths,
 * as the kernel shows them in /proc/PID/maps) and list those that match how.
 * A mapping's identity (device and inode) is that of /proc/PID/map_files
 * (the maps columns when it cannot be read), compared with stat(path) now; a
 * process in another mount namespace is compared with what path names in
 * its own view (/proc/PID/root). A process that exits or cannot be read
 * during the scan is skipped (not an error); the calling process itself is
 * never listed. Returns 0 and *out (free it with hp_restart__free()), or a
 * negative error after a message: -EINVAL (a path not absolute), -ENOMEM,
 * -errno when /proc or a path cannot be read. */
int hp_restart__scan(const char *const *paths, size_t n, enum hp_restart_match how,
		     const pid_t *pids, size_t nr_pids, struct hp_restart_list **out);
/* Accepts NULL. */
void hp_restart__free(struct hp_restart_list *l);

/* ---- disk patching (hp_disk) ---- */

/* The cold patch (docs/disk.md): an eligible file is replaced, atomically,
 * by a new ELF holding the original bytes plus the payload linked at the
 * file's own addresses in an added loadable segment, with a jump at each
 * replaced function's entry and a note "HOTPATCH" naming the package. The
 * original is kept in the state directory's backups; every step is
 * journalled (kind "disk", details backup, old_sha256, new_sha256,
 * functions). A file is always exactly the original or exactly the result. */

/* What a disk step did. */
struct hp_disk_result {
	char old_sha256[65]; /* hex SHA-256 of the file before the step */
	char new_sha256[65]; /* hex SHA-256 of the file after it */
	char backup[65];     /* name of the original's backup (its SHA-256) */
	uint64_t size;       /* bytes of the file after the step */
	uint64_t segment;    /* apply: link-time address of the added segment */
	int recovered;       /* a step a killed run left open was settled first */
	char full_build[65]; /* version of the fixed full build installed in place of
				the file (apply) or taken out of it (rollback); "" for
				a cold patch */
};

/* Build the cold-patched bytes of the file at path for package pkg, without
 * writing anything (pack and tests use it). The file must be an eligible
 * version of one of pkg's components. *out is malloc'd (*len bytes).
 * Errors as hp_disk__apply, before anything is written. */
int hp_disk__build(const struct hp_package *pkg, const char *path, void **out, size_t *len);

/* Cold-patch the file t, which hp_verify__run() judged
 * HP_VERDICT_WOULD_PATCH (t->pid == 0), under state st (opened with its
 * lock). res may be NULL. Returns 0 or a negative error after a message
 * naming the file and the cause, the file unchanged: HP_E_ALREADY (it
 * carries this package), HP_E_MISMATCH (its bytes are not those the dry run
 * checked, or the result differs from the manifest's patched_sha256),
 * HP_E_UNSUPPORTED (it carries another package's disk patch), errors of
 * disk building, of the backups, the journal and the atomic replace
 * (-ENOSPC, -EROFS, -EACCES...). */
int hp_disk__apply(const struct hp_package *pkg, const struct hp_verify_target *t,
		   struct hp_state *st, struct hp_disk_result *res);

/* The files the journal of st says carry package id on disk (applied, or
 * an apply a killed run left open), sorted. *paths is malloc'd; free with
 * hp_disk__free_files(). */
int hp_disk__files(struct hp_state *st, const char *id, char ***paths, size_t *n);
void hp_disk__free_files(char **paths, size_t n);

/* Put the original of path back (package id), byte for byte from its
 * backup, atomically. Returns 0, HP_E_NOT_APPLIED (the file is the original
 * already, or the journal knows no disk apply of id on path), HP_E_MISMATCH
 * (the file is neither the original nor the patched result: changed since),
 * backup and replace errors; the file unchanged on any error. */
int hp_disk__rollback(struct hp_state *st, const char *id, const char *path,
		      struct hp_disk_result *res);

#ifdef __cplusplus
}
#endif

#endif /* HOTPATCH_H */
