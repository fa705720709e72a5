/* hotpatch inspect: what a file is, whether its functions can take a jump,
 * and what a running process has mapped.
 *
 * The first look an operator or a patch author takes at a target: its
 * identity (build-id, package version, SHA-256, ELF type), its symbols, and
 * for the functions asked for the analysis verdict with its reason, window
 * and fingerprint. With --pid, each object the process maps with the
 * identity of what is mapped, which may differ from the file now on disk.
 * Nothing is ever changed ("changed": false). Forms: docs/inspect.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "cli.h"
#include "cmdopts.h"
#include "commands.h"
#include "output.h"

#define KEY_WIDTH 10

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hotpatch inspect FILE [--symbol NAME]... [--all-functions] [--json]\n"
		"       hotpatch inspect --pid PID [--symbol NAME]... [--json]\n\n"
		"Show a file's identity (type, build-id, package version, SHA-256), its\n"
		"symbol counts and, for the named functions or all of them, whether a jump\n"
		"can be written at the entry (the verdict, its reason, the window and the\n"
		"fingerprint); or the objects a running process has mapped, identified\n"
		"from the mappings themselves, with their load addresses and the threads;\n"
		"with --symbol, the verdict on the function's bytes in the process's\n"
		"memory and whether they are still the mapped file's.\n\n"
		"Options:\n"
		"  -s, --symbol NAME    analyse function NAME (repeatable; NAME@VERSION works)\n"
		"  -a, --all-functions  analyse every defined function\n"
		"  -p, --pid PID        inspect a running process instead of a file\n"
		"      --json           one JSON document on stdout\n"
		"  -h, --help           this help\n\n"
		"Exit codes: 0 success, 1 error (missing or malformed file, unknown\n"
		"symbol, process gone), 2 usage.\n");
}

/* Identity lines, each starting with indent. */
static void text_identity(const char *indent, const struct hp_identity *id)
{
	printf("%stype:       %s\n", indent, hp_elf_type_name(id->type));
	printf("%sbuild-id:   %s\n", indent, id->build_id ? id->build_id : "(none)");
	if (id->pkg_name || id->pkg_version)
		printf("%spackage:    %s %s%s%s%s\n", indent, id->pkg_name ? id->pkg_name : "?",
		       id->pkg_version ? id->pkg_version : "?", id->pkg_type ? " (" : "",
		       id->pkg_type ? id->pkg_type : "", id->pkg_type ? ")" : "");
	else
		printf("%spackage:    (no .note.package)\n", indent);
	printf("%ssha256:     %s\n", indent, id->sha256);
}

static void json_identity(struct out_node *n, const struct hp_identity *id)
{
	struct out_node *pkg;

	out_str(n, "type", hp_elf_type_name(id->type));
	out_str(n, "build_id", id->build_id);
	if (id->pkg_name || id->pkg_version || id->pkg_type) {
		pkg = out_object(n, "package");
		out_str(pkg, "name", id->pkg_name);
		out_str(pkg, "version", id->pkg_version);
		out_str(pkg, "type", id->pkg_type);
	} else {
		out_null(n, "package");
	}
	out_str(n, "sha256", id->sha256);
	out_uint(n, "size", id->file_size);
}

/* ---- files -------------------------------------------------------------- */

static void json_function(struct out_node *arr, const struct hp_symbol *sym,
			  const struct hp_func_report *r)
{
	struct out_node *f = out_object(arr, NULL), *win;
	unsigned int i;

	out_str(f, "name", sym->name);
	out_str(f, "version", sym->version);
	out_hex(f, "address", r->addr);
	out_uint(f, "size", r->size);
	out_bool(f, "patchable", r->patchable);
	out_str(f, "reason", hp_func_reason_name(r->reason));
	out_uint(f, "patch_offset", r->patch_offset);
	out_uint(f, "window_length", r->window_len);
	out_uint(f, "padding_used", r->padding_used);
	out_uint(f, "instructions", r->insn_count);
	if (r->culprit)
		out_hex(f, "culprit", r->culprit);
	if (r->culprit_target)
		out_hex(f, "culprit_target", r->culprit_target);
	out_str(f, "fingerprint", r->fingerprint[0] ? r->fingerprint : NULL);
	win = out_array(f, "window");
	for (i = 0; i < r->n_window; i++) {
		const struct hp_window_insn *w = &r->window[i];
		struct out_node *o = out_object(win, NULL);

		out_uint(o, "offset", w->offset);
		out_uint(o, "length", w->len);
		out_str(o, "kind", hp_insn_kind_name(w->kind));
		out_bool(o, "rip_relative", w->rip_relative);
		out_bool(o, "padding", w->padding);
		out_bool(o, "stop_sensitive", w->stop_sensitive);
		if (w->target)
			out_hex(o, "target", w->target);
		out_str(o, "text", w->text);
	}
}

/* For --pid --symbol: the last function added to arr gets the object it
 * lives in, its link-time address and whether its bytes are the file's. */
static void out_function_extra(struct out_node *arr, const char *object, uint64_t link_addr,
			       const char *file_fingerprint, bool same)
{
	struct out_node *f = out_last(arr);

	out_str(f, "object", object);
	out_hex(f, "link_address", link_addr);
	out_str(f, "file_fingerprint", file_fingerprint[0] ? file_fingerprint : NULL);
	out_bool(f, "matches_file", same);
}

/* "name+0xoff" for an address inside the function, as objtool writes it. */
static void where(char *buf, size_t len, const char *name, const struct hp_func_report *r,
		  uint64_t addr)
{
	snprintf(buf, len, "%s+0x%" PRIx64, name, addr - r->addr);
}

static void text_function(const struct hp_symbol *sym, const struct hp_func_report *r,
			  bool detail)
{
	char a[256], b[256];
	unsigned int i;

	printf("  %s 0x%" PRIx64 " size %" PRIu64 ": ", sym->name, r->addr, r->size);
	if (r->patchable) {
		printf("patchable, jump at +0x%x over %u bytes%s", r->patch_offset, r->window_len,
		       r->patch_offset ? " (after endbr64)" : "");
		if (r->padding_used)
			printf(", %u of them padding", r->padding_used);
	} else {
		printf("not patchable: %s", hp_func_reason_name(r->reason));
		switch (r->reason) {
		case HP_FUNC_TOO_SHORT:
			printf(" (%u bytes of code and padding, a jump needs %d)", r->window_len,
			       HP_JMP_LEN);
			break;
		case HP_FUNC_BRANCH_INTO_WINDOW:
			where(a, sizeof(a), sym->name, r, r->culprit);
			where(b, sizeof(b), sym->name, r, r->culprit_target);
			printf(" (%s jumps to %s)", a, b);
			break;
		case HP_FUNC_BAD_INSTRUCTION:
			where(a, sizeof(a), sym->name, r, r->culprit);
			printf(" (at %s)", a);
			break;
		default:
			break;
		}
	}
	putchar('\n');
	if (!detail)
		return;
	if (r->fingerprint[0])
		printf("    fingerprint %s\n", r->fingerprint);
	for (i = 0; i < r->n_window; i++) {
		const struct hp_window_insn *w = &r->window[i];

		printf("    +0x%-3x %-40s %s%s%s\n", w->offset, w->text,
		       w->padding ? "padding" : hp_insn_kind_name(w->kind),
		       w->rip_relative ? ", rip-relative" : "",
		       w->stop_sensitive ? "  <- matters to a stopped thread" : "");
	}
}

/* Tally of verdicts for --all-functions. */
struct tally {
	size_t functions;                          /* functions analysed */
	size_t by_reason[HP_FUNC_BRANCH_INTO_WINDOW + 1]; /* per reason */
};

static int analyse(const struct hp_elf *elf, const struct hp_symbol *sym, struct out_node *arr,
		   bool detail, struct tally *t)
{
	struct hp_func_report r;
	int err;

	err = hp_func__analyze(elf, sym, &r);
	if (err) {
		cli_error("inspect: %s: %s: %s", hp_elf__identity(elf)->path, sym->name,
			  hp_strerror(err));
		return err;
	}
	t->functions++;
	t->by_reason[r.reason]++;
	if (cli_json)
		json_function(arr, sym, &r);
	else
		text_function(sym, &r, detail);
	return 0;
}

static int inspect_file(const char *path, char **symbols, size_t nsymbols, bool all)
{
	struct out_node *root = NULL, *arr = NULL, *syms, *sum, *reasons;
	const struct hp_identity *id;
	struct tally t = { 0 };
	struct hp_elf *elf;
	size_t i, nfunc = 0, n;
	int err = 0, rc;

	elf = hp_elf__open(path);
	if (!elf)
		return cli_exit_for(errno);
	id = hp_elf__identity(elf);
	n = hp_elf__symbol_count(elf);
	for (i = 0; i < n; i++) {
		const struct hp_symbol *s = hp_elf__symbol(elf, i);

		nfunc += s->kind == HP_SYM_FUNC && s->defined;
	}
	/* Unknown names are refused before anything is printed. */
	for (i = 0; i < nsymbols; i++) {
		if (!hp_elf__find_symbol(elf, symbols[i])) {
			cli_error("inspect: %s: no symbol '%s'", path, symbols[i]);
			err = -HP_E_NOT_FOUND;
			goto out;
		}
	}
	if (cli_json) {
		root = out_root();
		out_str(root, "file", path);
		json_identity(root, id);
		syms = out_object(root, "symbols");
		out_uint(syms, "total", n);
		out_uint(syms, "symtab", hp_elf__symtab_count(elf));
		out_uint(syms, "dynsym", hp_elf__dynsym_count(elf));
		out_uint(syms, "functions", nfunc);
		if (nsymbols || all)
			arr = out_array(root, "functions");
	} else {
		printf("%s\n", path);
		text_identity("  ", id);
		out_text_kv(KEY_WIDTH, "size", "%" PRIu64 " bytes", id->file_size);
		out_text_kv(KEY_WIDTH, "symbols", "%zu (.symtab %zu, .dynsym %zu), %zu functions",
			    n, hp_elf__symtab_count(elf), hp_elf__dynsym_count(elf), nfunc);
		if (nsymbols || all)
			printf("functions:\n");
	}
	for (i = 0; i < nsymbols && !err; i++)
		err = analyse(elf, hp_elf__find_symbol(elf, symbols[i]), arr, true, &t);
	for (i = 0; all && i < n && !err; i++) {
		const struct hp_symbol *s = hp_elf__symbol(elf, i);

		if (s->kind == HP_SYM_FUNC && s->defined)
			err = analyse(elf, s, arr, false, &t);
	}
	if (err)
		goto out;
	if (all) {
		if (cli_json) {
			sum = out_object(root, "summary");
			out_uint(sum, "functions", t.functions);
			out_uint(sum, "patchable", t.by_reason[HP_FUNC_OK]);
			reasons = out_object(sum, "reasons");
			for (i = 1; i < sizeof(t.by_reason) / sizeof(t.by_reason[0]); i++)
				if (t.by_reason[i])
					out_uint(reasons, hp_func_reason_name(i), t.by_reason[i]);
		} else {
			printf("summary: %zu functions, %zu patchable", t.functions,
			       t.by_reason[HP_FUNC_OK]);
			for (i = 1; i < sizeof(t.by_reason) / sizeof(t.by_reason[0]); i++)
				if (t.by_reason[i])
					printf(", %zu %s", t.by_reason[i], hp_func_reason_name(i));
			putchar('\n');
		}
	}
	if (cli_json) {
		rc = out_emit(false);
		if (rc)
			err = rc;
	}
out:
	if (err && cli_json)
		out_discard();
	hp_elf__close(elf);
	return cli_exit_for(err);
}

/* ---- processes ---------------------------------------------------------- */

static void perms(char out[4], const struct hp_proc_range *r)
{
	out[0] = r->read ? 'r' : '-';
	out[1] = r->write ? 'w' : '-';
	out[2] = r->exec ? 'x' : '-';
	out[3] = '\0';
}

static void json_object_of(struct out_node *arr, const struct hp_proc_object *o)
{
	struct out_node *n = out_object(arr, NULL), *ranges;
	size_t j;

	out_str(n, "path", o->path);
	out_str(n, "state", hp_file_state_name(o->state));
	out_uint(n, "inode", o->inode);
	out_bool(n, "elf", o->elf != NULL);
	if (o->elf)
		json_identity(n, hp_elf__identity(o->elf));
	if (o->bias_known)
		out_hex(n, "load_bias", o->load_bias);
	else
		out_null(n, "load_bias");
	ranges = out_array(n, "ranges");
	for (j = 0; j < o->nranges; j++) {
		struct out_node *r = out_object(ranges, NULL);
		char p[4];

		perms(p, &o->ranges[j]);
		out_hex(r, "start", o->ranges[j].start);
		out_hex(r, "end", o->ranges[j].end);
		out_hex(r, "offset", o->ranges[j].offset);
		out_str(r, "perms", p);
	}
}

static void text_object_of(const struct hp_proc_object *o)
{
	size_t j;

	printf("  %s%s%s\n", o->path, o->state == HP_FILE_SAME ? "" : "  [",
	       o->state == HP_FILE_SAME ? "" :
	       o->state == HP_FILE_REPLACED ? "replaced on disk since mapped: identity below is "
					      "the mapped file's]" :
					      "deleted since mapped]");
	if (!o->elf) {
		printf("    (not an ELF file, or not readable)\n");
		return;
	}
	text_identity("    ", hp_elf__identity(o->elf));
	if (o->bias_known)
		printf("    load bias:  0x%" PRIx64 "\n", o->load_bias);
	for (j = 0; j < o->nranges; j++) {
		char p[4];

		perms(p, &o->ranges[j]);
		printf("    0x%" PRIx64 "-0x%" PRIx64 " %s offset 0x%" PRIx64 "\n",
		       o->ranges[j].start, o->ranges[j].end, p, o->ranges[j].offset);
	}
}

/* The mapped ELF object of proc that defines function name, or NULL. */
static const struct hp_proc_object *defining_object(const struct hp_proc *proc, const char *name,
						    const struct hp_symbol **sym)
{
	size_t i;

	for (i = 0; i < hp_proc__object_count(proc); i++) {
		const struct hp_proc_object *o = hp_proc__object(proc, i);
		const struct hp_symbol *s;

		if (!o->elf || !o->bias_known)
			continue;
		s = hp_elf__find_symbol(o->elf, name);
		if (s && s->defined && s->kind == HP_SYM_FUNC) {
			*sym = s;
			return o;
		}
	}
	return NULL;
}

/* A function as it is in memory: the verdict on the bytes the process runs
 * and whether they are still the mapped file's (a patched or modified
 * function is not). */
static int inspect_live_function(const struct hp_proc *proc, const char *name,
				 struct out_node *arr)
{
	const struct hp_proc_object *o;
	const struct hp_symbol *sym = NULL;
	struct hp_func_report file, mem;
	uint8_t *buf = NULL;
	uint64_t at;
	bool same;
	int err;

	o = defining_object(proc, name, &sym);
	if (!o) {
		cli_error("inspect: pid %d: no mapped object defines function '%s'",
			  (int)hp_proc__pid(proc), name);
		return -HP_E_NOT_FOUND;
	}
	err = hp_func__analyze(o->elf, sym, &file);
	if (err)
		return err;
	at = sym->value + o->load_bias;
	buf = malloc(sym->size + file.padding_used + 1);
	if (!buf)
		return -ENOMEM;
	err = hp_proc__read(proc, at, buf, sym->size + file.padding_used);
	if (err) {
		cli_error("inspect: pid %d: %s at 0x%" PRIx64 ": cannot read: %s",
			  (int)hp_proc__pid(proc), name, at, hp_strerror(err));
		goto out;
	}
	/* The padding the file analysis accepted is the padding allowed here. */
	err = hp_func__analyze_code(buf, sym->size, at, file.padding_used, &mem);
	if (err)
		goto out;
	same = !strcmp(mem.fingerprint, file.fingerprint);
	if (cli_json) {
		json_function(arr, sym, &mem);
		/* json_function() appended the object; add what only --pid knows. */
		out_function_extra(arr, o->path, sym->value, file.fingerprint, same);
	} else {
		printf("  in %s (link-time 0x%" PRIx64 "), %s the mapped file's bytes\n", o->path,
		       sym->value, same ? "same as" : "DIFFERENT from");
		text_function(sym, &mem, true);
	}
out:
	free(buf);
	return err;
}

static int inspect_pid(pid_t pid, char **symbols, size_t nsymbols)
{
	struct out_node *root, *arr;
	struct hp_proc *proc;
	const pid_t *tids;
	size_t i, ntids;
	int err = 0;

	proc = hp_proc__open(pid);
	if (!proc)
		return cli_exit_for(errno);
	tids = hp_proc__threads(proc, &ntids);
	if (nsymbols) {
		if (cli_json) {
			root = out_root();
			out_int(root, "pid", pid);
			arr = out_array(root, "functions");
		} else {
			printf("pid %d\nfunctions:\n", (int)pid);
			arr = NULL;
		}
		for (i = 0; i < nsymbols && !err; i++)
			err = inspect_live_function(proc, symbols[i], arr);
		if (!err && cli_json)
			err = out_emit(false);
		else if (cli_json)
			out_discard();
		hp_proc__close(proc);
		return cli_exit_for(err);
	}
	if (cli_json) {
		root = out_root();
		out_int(root, "pid", pid);
		out_str(root, "exe", hp_proc__exe(proc));
		arr = out_array(root, "threads");
		for (i = 0; i < ntids; i++)
			out_int(arr, NULL, tids[i]);
		arr = out_array(root, "objects");
		for (i = 0; i < hp_proc__object_count(proc); i++)
			json_object_of(arr, hp_proc__object(proc, i));
		err = out_emit(false);
	} else {
		printf("pid %d\n", (int)pid);
		out_text_kv(KEY_WIDTH, "exe", "%s", hp_proc__exe(proc));
		printf("  threads:    %zu:", ntids);
		for (i = 0; i < ntids; i++)
			printf(" %d", (int)tids[i]);
		printf("\nobjects:\n");
		for (i = 0; i < hp_proc__object_count(proc); i++)
			text_object_of(hp_proc__object(proc, i));
	}
	hp_proc__close(proc);
	return cli_exit_for(err);
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "symbol", required_argument, NULL, 's' },
		{ "all-functions", no_argument, NULL, 'a' },
		CMDOPT_ENTRY_PID,
		CMDOPT_ENTRY_JSON,
		{ "verbose", no_argument, NULL, 'v' },
		CMDOPT_ENTRY_HELP,
		{ NULL, 0, NULL, 0 },
	};
	char **symbols = NULL;
	size_t nsymbols = 0;
	bool all = false;
	pid_t pid = 0;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:ap:vh", opts, NULL)) != -1) {
		switch (c) {
		case 's': {
			char **n = realloc(symbols, (nsymbols + 1) * sizeof(*n));

			if (!n) {
				free(symbols);
				cli_error("inspect: out of memory");
				return EXIT_ERROR;
			}
			symbols = n;
			symbols[nsymbols++] = optarg;
			break;
		}
		case 'a':
			all = true;
			break;
		case CMDOPT_PID:
			/* One process: the last --pid given. */
			if (cmdopts_parse_pid(optarg, &pid)) {
				free(symbols);
				return cli_usage_error("inspect", "--pid: '%s' is not a process id",
						       optarg);
			}
			break;
		case CMDOPT_JSON:
			cli_json = true;
			break;
		case 'v':
			cli_verbose++;
			break;
		case CMDOPT_HELP:
			free(symbols);
			usage(stdout);
			return EXIT_OK;
		case ':':
			free(symbols);
			return cli_usage_error("inspect", "option '%s' needs an argument",
					       argv[optind - 1]);
		default:
			free(symbols);
			return cli_usage_error("inspect", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (pid > 0) {
		rc = optind < argc ? cli_usage_error("inspect", "--pid takes no FILE ('%s')",
						     argv[optind]) :
		     all ? cli_usage_error("inspect", "--all-functions applies to a FILE, "
					   "not to --pid") :
			   inspect_pid(pid, symbols, nsymbols);
	} else if (optind != argc - 1) {
		rc = optind >= argc ? cli_usage_error("inspect", "missing FILE (or --pid PID)") :
				      cli_usage_error("inspect", "one FILE at a time ('%s' is extra)",
						      argv[optind + 1]);
	} else {
		rc = inspect_file(argv[optind], symbols, nsymbols, all);
	}
	free(symbols);
	return rc;
}
