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

/* ---- keys and signatures (hp_key, hp_sig) ---- */

/* ---- manifest and package (hp_manifest, hp_package) ---- */

/* ---- linking a payload against a target (hp_link) ---- */

/* ---- the dry run (hp_verify) ---- */

/* ---- live patching (hp_live) ---- */

/* ---- state directory: lock, journal, backups (hp_state) ---- */

#ifdef __cplusplus
}
#endif

#endif /* HOTPATCH_H */
