/* hotpatch verify: the dry run. Opens the package (signature, payloads),
 * runs hp_verify__run over the files and processes asked for, and prints
 * one verdict per target, what apply would do or why it would not; as text
 * or as one JSON document whose "changed" is always false. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "cli.h"
#include "cmdopts.h"
#include "commands.h"
#include "output.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hotpatch verify MANIFEST [FILE...] [--root DIR] [--pid PID]...\n"
		"                       [--trusted-key FILE]... [--insecure-skip-signature]\n"
		"                       [--no-processes] [--json]\n\n"
		"Check a package against this machine and change nothing: its signature\n"
		"and payloads, then every target: the files at the components' install\n"
		"paths below DIR (default /; when FILEs are given and no --root, only those\n"
		"files) and every running process that maps a file of a component (or only\n"
		"the given PIDs). Each gets a verdict: would patch (with functions and\n"
		"addresses: link-time for files, runtime for processes), not eligible (with\n"
		"its version), already patched, refused (why), or error.\n\n"
		"Options:\n"
		"  -r, --root DIR               search the install paths below DIR\n"
		"  -p, --pid PID                check this process (repeat); default: all\n"
		"      --no-processes           check no process\n"
		"  -k, --trusted-key FILE       trust this public key too (repeat)\n"
		"      --insecure-skip-signature  do not verify the signature (development only)\n"
		"      --json                   one JSON document on stdout\n"
		"  -h, --help                   this help\n\n"
		"Exit codes: 0 every eligible target would patch (not-eligible ones beside\n"
		"them are reported, not failed) or there is nothing to do; 3 no target\n"
		"would patch and some are not eligible; 5 the signature, a payload, or an\n"
		"eligible target's bytes fail their check; 1 another error (a target that\n"
		"cannot be read, an unpatchable function, a payload that does not link);\n"
		"2 usage. With several, the highest in the order 5, 1, 3 wins.\n");
}

static int report_exit(const struct hp_verify_report *rep)
{
	size_t i;
	int rc = EXIT_OK;

	for (i = 0; i < rep->nr_targets; i++) {
		const struct hp_verify_target *t = &rep->targets[i];

		if (t->verdict == HP_VERDICT_REFUSED && t->err == -HP_E_MISMATCH)
			return EXIT_INTEGRITY;
		if (t->verdict == HP_VERDICT_REFUSED || t->verdict == HP_VERDICT_ERROR)
			rc = EXIT_ERROR;
	}
	if (rc == EXIT_OK && !rep->count[HP_VERDICT_WOULD_PATCH] &&
	    !rep->count[HP_VERDICT_WOULD_REPLACE] && rep->count[HP_VERDICT_NOT_ELIGIBLE])
		rc = EXIT_NOT_ELIGIBLE;
	return rc;
}

static void json_package(const struct hp_package *pkg, const char *manifest, int skip)
{
	struct out_node *p = out_object(out_root(), "package"), *sig, *arr;
	size_t i;

	out_str(p, "manifest", manifest);
	if (!pkg) {
		out_bool(out_object(p, "signature"), "verified", false);
		return;
	}
	out_str(p, "id", pkg->manifest->id);
	out_str(p, "title", pkg->manifest->title);
	out_int(p, "format", pkg->manifest->format);
	sig = out_object(p, "signature");
	out_bool(sig, "verified", pkg->signature_checked);
	out_str(sig, "key_id", pkg->signature_checked ? pkg->key_id : NULL);
	if (skip)
		out_str(sig, "warning", "signature verification skipped (--insecure-skip-signature)");
	arr = out_array(p, "payloads");
	for (i = 0; i < pkg->nr_payloads; i++) {
		struct out_node *o = out_object(arr, NULL);

		out_str(o, "component", pkg->payloads[i].component->name);
		out_str(o, "file", pkg->payloads[i].component->payload);
		out_str(o, "sha256", pkg->payloads[i].component->payload_sha256);
		out_uint(o, "size", pkg->payloads[i].component->payload_size);
		out_uint(o, "object_size", pkg->payloads[i].object_size);
	}
}

static const char *action_of(const struct hp_verify_target *t)
{
	switch (t->verdict) {
	case HP_VERDICT_WOULD_PATCH:
		return "hotpatch";
	case HP_VERDICT_WOULD_REPLACE:
		return "replace";
	case HP_VERDICT_NEEDS_RESTART:
		return "restart";
	default:
		return "none";
	}
}

static void json_report(const struct hp_verify_report *rep)
{
	struct out_node *arr = out_array(out_root(), "targets"), *sum;
	size_t i, j;

	for (i = 0; i < rep->nr_targets; i++) {
		const struct hp_verify_target *t = &rep->targets[i];
		struct out_node *o = out_object(arr, NULL), *fa;

		out_str(o, "kind", t->pid ? "process" : "file");
		if (t->pid) {
			out_int(o, "pid", t->pid);
			out_str(o, "comm", t->comm);
		}
		out_str(o, "path", t->path[0] ? t->path : NULL);
		out_str(o, "component", t->component ? t->component->name : NULL);
		out_str(o, "version", t->version);
		out_str(o, "build_id", t->build_id);
		out_str(o, "sha256", t->sha256[0] ? t->sha256 : NULL);
		if (t->pid)
			out_hex(o, "load_bias", t->bias);
		out_str(o, "verdict", hp_verdict_name(t->verdict));
		out_str(o, "reason", t->reason);
		out_str(o, "error", t->err ? hp_strerror(t->err) : NULL);
		/* What apply does for this target: "hotpatch" (live and on
		 * disk), "replace" (the fixed full build), or nothing. */
		out_str(o, "action", action_of(t));
		out_str(o, "full_build", t->build ? t->build->version : NULL);
		out_bool(o, "restart_required", t->verdict == HP_VERDICT_NEEDS_RESTART);
		fa = out_array(o, "functions");
		for (j = 0; j < t->nr_funcs; j++) {
			const struct hp_verify_func *f = &t->funcs[j];
			struct out_node *fo = out_object(fa, NULL);

			out_str(fo, "name", f->name);
			out_hex(fo, "address", f->addr);
			out_str(fo, "address_space", t->pid ? "runtime" : "link-time");
			out_uint(fo, "size", f->size);
			out_hex(fo, "jump_at", f->addr + f->patch_offset);
			out_uint(fo, "window", f->window_len);
			out_bool(fo, "patchable", f->patchable);
			out_str(fo, "analysis", f->reason);
			out_bool(fo, "fingerprint_ok", f->fingerprint_ok);
			out_str(fo, "fingerprint", f->fingerprint[0] ? f->fingerprint : NULL);
		}
	}
	sum = out_object(out_root(), "summary");
	for (i = 0; i < HP_VERDICT_COUNT; i++)
		out_uint(sum, hp_verdict_name((enum hp_verdict)i), rep->count[i]);
	out_uint(sum, "unreadable_processes", rep->nr_unreadable);
}

static void text_package(const struct hp_package *pkg)
{
	size_t i;

	printf("package %s: %s\n", pkg->manifest->id, pkg->manifest->title);
	out_text_kv(11, "manifest", "%s (format %d)", pkg->manifest_path, pkg->manifest->format);
	if (pkg->signature_checked)
		out_text_kv(11, "signature", "good, trusted key %s", pkg->key_id);
	else
		out_text_kv(11, "signature", "NOT VERIFIED (--insecure-skip-signature)");
	for (i = 0; i < pkg->nr_payloads; i++)
		out_text_kv(11, "payload", "%s for %s: %llu bytes, object %zu bytes, SHA-256 ok",
			    pkg->payloads[i].component->payload, pkg->payloads[i].component->name,
			    (unsigned long long)pkg->payloads[i].component->payload_size,
			    pkg->payloads[i].object_size);
	printf("\n");
}

static void text_report(const struct hp_verify_report *rep)
{
	size_t i, j;

	for (i = 0; i < rep->nr_targets; i++) {
		const struct hp_verify_target *t = &rep->targets[i];

		if (t->pid)
			printf("pid %d (%s): ", (int)t->pid, t->comm ? t->comm : "?");
		printf("%s", t->path[0] ? t->path : "-");
		if (t->component)
			printf(": %s %s", t->component->name, t->version ? t->version : "(no version)");
		switch (t->verdict) {
		case HP_VERDICT_WOULD_PATCH:
			printf(": would patch\n");
			break;
		case HP_VERDICT_NOT_ELIGIBLE:
			printf(": not eligible (%s)\n", t->reason);
			break;
		case HP_VERDICT_WOULD_REPLACE:
			printf(": would replace with the fixed full build %s (not eligible for the hotpatch)\n",
			       t->build->version);
			break;
		case HP_VERDICT_NEEDS_RESTART:
			printf(": needs a restart (not eligible for the hotpatch; the fixed full build %s replaces its file)\n",
			       t->build->version);
			break;
		default:
			printf(": %s: %s\n", hp_verdict_name(t->verdict), t->reason ? t->reason : "");
			break;
		}
		if (t->verdict != HP_VERDICT_WOULD_PATCH)
			continue;
		for (j = 0; j < t->nr_funcs; j++) {
			const struct hp_verify_func *f = &t->funcs[j];

			printf("    %s at 0x%llx (%s), %llu bytes: jump at 0x%llx over %u bytes, fingerprint ok\n",
			       f->name, (unsigned long long)f->addr, t->pid ? "runtime" : "link-time",
			       (unsigned long long)f->size,
			       (unsigned long long)(f->addr + f->patch_offset), f->window_len);
		}
	}
	if (!rep->nr_targets)
		printf("no target found: nothing to do\n");
	printf("\nsummary: %zu would patch, %zu would replace, %zu would need a restart, "
	       "%zu not eligible, %zu already patched, %zu refused, %zu errors; nothing changed\n",
	       rep->count[HP_VERDICT_WOULD_PATCH], rep->count[HP_VERDICT_WOULD_REPLACE],
	       rep->count[HP_VERDICT_NEEDS_RESTART], rep->count[HP_VERDICT_NOT_ELIGIBLE],
	       rep->count[HP_VERDICT_ALREADY], rep->count[HP_VERDICT_REFUSED],
	       rep->count[HP_VERDICT_ERROR]);
	if (rep->nr_unreadable)
		printf("%zu process%s could not be examined (no permission to read %s mappings)\n",
		       rep->nr_unreadable, rep->nr_unreadable == 1 ? "" : "es",
		       rep->nr_unreadable == 1 ? "its" : "their");
}

int cmd_verify(int argc, char **argv)
{
	enum { OPT_NOPROC = CMDOPT_OWN };
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		CMDOPT_ENTRY_PID,
		CMDOPT_ENTRY_TRUSTED_KEY,
		CMDOPT_ENTRY_SKIP_SIGNATURE,
		{ "no-processes", no_argument, NULL, OPT_NOPROC },
		CMDOPT_ENTRY_JSON,
		CMDOPT_ENTRY_HELP,
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopts co = CMDOPTS_INIT("verify", usage);
	struct hp_verify_opts vopts = { 0 };
	struct hp_verify_report *rep = NULL;
	struct hp_package *pkg = NULL;
	const char *manifest;
	int c, err, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "r:p:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			vopts.root = optarg;
			break;
		case OPT_NOPROC:
			vopts.no_processes = 1;
			break;
		default:
			if (!cmdopts_take(&co, c, optarg, &rc))
				goto out;
		}
	}
	if (optind >= argc) {
		rc = cli_usage_error("verify", "a manifest is required");
		goto out;
	}
	if (co.nr_pids && vopts.no_processes) {
		rc = cli_usage_error("verify", "--pid and --no-processes contradict each other");
		goto out;
	}
	manifest = argv[optind++];
	vopts.files = (const char *const *)argv + optind;
	vopts.nr_files = (size_t)(argc - optind);
	vopts.no_root = vopts.nr_files && !vopts.root;
	vopts.pids = co.pids;
	vopts.nr_pids = co.nr_pids;

	pkg = hp_package__open(manifest, &co.pkg);
	if (!pkg) {
		err = -errno;
		cli_error("verify: %s: package refused: %s; nothing changed", manifest, hp_strerror(err));
		rc = cli_package_exit(err);
		if (cli_json) {
			json_package(NULL, manifest, co.pkg.skip_signature);
			out_str(out_root(), "error", hp_strerror(err));
			out_int(out_root(), "exit_code", rc);
			out_emit(false);
		}
		goto out;
	}
	err = hp_verify__run(pkg, &vopts, &rep);
	if (err) {
		cli_error("verify: %s: the dry run could not run (%s); nothing changed", manifest,
			  hp_strerror(err));
		rc = EXIT_ERROR;
		if (cli_json) {
			json_package(pkg, manifest, co.pkg.skip_signature);
			out_str(out_root(), "error", hp_strerror(err));
			out_int(out_root(), "exit_code", rc);
			out_emit(false);
		}
		goto out;
	}
	rc = report_exit(rep);
	if (cli_json) {
		json_package(pkg, manifest, co.pkg.skip_signature);
		json_report(rep);
		out_int(out_root(), "exit_code", rc);
		if (out_emit(false))
			rc = EXIT_ERROR;
	} else {
		text_package(pkg);
		text_report(rep);
	}
out:
	hp_verify__free(rep);
	hp_package__close(pkg);
	cmdopts_free(&co);
	return rc;
}
