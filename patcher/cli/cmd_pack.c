/* hotpatch pack: the vendor makes an (unsigned) package from a source
 * manifest, the built targets of every eligible version and the payload
 * objects. `hotpatch sign` signs the manifest afterwards. */
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
		"Usage: hotpatch pack SOURCE.json --out DIR --payload COMPONENT=OBJECT...\n"
		"                     --target COMPONENT=FILE... [--full-build COMPONENT=FILE]...\n"
		"                     [--replaced COMPONENT=FILE]... [--json]\n\n"
		"Make the package DIR/manifest.json and its payload containers from the\n"
		"vendor's source manifest. Every hash in the manifest is read from the\n"
		"files given: each --target is a built file of an eligible version\n"
		"(recognised by its package note), each --payload the relocatable object\n"
		"holding a component's replacement functions. A source manifest that names\n"
		"full builds (format 2) needs the fixed build of each (--full-build) and a\n"
		"built file of every version it replaces (--replaced), to pin them.\n\n"
		"Options:\n"
		"  -o, --out DIR                  package directory (created if missing)\n"
		"  -p, --payload COMPONENT=OBJECT payload object of a component\n"
		"  -t, --target COMPONENT=FILE    built file of an eligible version\n"
		"  -F, --full-build COMPONENT=FILE  fixed full build named in full_builds\n"
		"  -r, --replaced COMPONENT=FILE  built file of a version a full build replaces\n"
		"      --json                     report as JSON\n"
		"  -h, --help                     this help\n\n"
		"Exit codes: 0 written, 1 error, 2 usage, 3 a file is not an eligible version.\n");
}

/* The argument of --name, COMPONENT=what, appended to in (*n entries; the
 * strings stay owned by argv). Returns false after the usage error, with
 * *rc the exit code. */
static bool add_input(const char *name, const char *what, char *arg, struct hp_pack_input *in,
		      size_t *n, int *rc)
{
	char *eq = strchr(arg, '=');

	if (!eq || eq == arg || !eq[1]) {
		*rc = cli_usage_error("pack", "--%s wants COMPONENT=%s, not '%s'", name, what, arg);
		return false;
	}
	*eq = '\0';
	in[*n].component = arg;
	in[*n].path = eq + 1;
	(*n)++;
	return true;
}

int cmd_pack(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "payload", required_argument, NULL, 'p' },
		{ "target", required_argument, NULL, 't' },
		{ "full-build", required_argument, NULL, 'F' },
		{ "replaced", required_argument, NULL, 'r' },
		CMDOPT_ENTRY_JSON,
		CMDOPT_ENTRY_HELP,
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopts co = CMDOPTS_INIT("pack", usage);
	struct hp_pack_input *targets = NULL, *payloads = NULL, *fulls = NULL, *replaced = NULL;
	struct hp_pack_opts po = { 0 };
	const char *out = NULL;
	int c, err, rc = EXIT_OK;

	targets = calloc((size_t)argc, sizeof(*targets));
	payloads = calloc((size_t)argc, sizeof(*payloads));
	fulls = calloc((size_t)argc, sizeof(*fulls));
	replaced = calloc((size_t)argc, sizeof(*replaced));
	if (!targets || !payloads || !fulls || !replaced) {
		cli_error("pack: out of memory");
		rc = EXIT_ERROR;
		goto out;
	}
	while ((c = getopt_long(argc, argv, "o:p:t:F:r:h", opts, NULL)) != -1) {
		bool ok = true;

		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'p':
			ok = add_input("payload", "OBJECT", optarg, payloads, &po.nr_payloads, &rc);
			break;
		case 't':
			ok = add_input("target", "FILE", optarg, targets, &po.nr_targets, &rc);
			break;
		case 'F':
			ok = add_input("full-build", "FILE", optarg, fulls, &po.nr_full_builds, &rc);
			break;
		case 'r':
			ok = add_input("replaced", "FILE", optarg, replaced, &po.nr_replaced, &rc);
			break;
		default:
			ok = cmdopts_take(&co, c, optarg, &rc);
		}
		if (!ok)
			goto out;
	}
	if (optind != argc - 1) {
		rc = cli_usage_error("pack", "one source manifest expected");
		goto out;
	}
	if (!out) {
		rc = cli_usage_error("pack", "--out DIR is required");
		goto out;
	}
	po.targets = targets;
	po.payloads = payloads;
	po.full_builds = fulls;
	po.replaced = replaced;
	err = hp_package__create(argv[optind], out, &po);
	if (err) {
		cli_error("pack: %s: no package written: %s", argv[optind], hp_strerror(err));
		rc = cli_exit_for(err);
		goto out;
	}
	if (cli_json) {
		out_strf(out_root(), "manifest", "%s/manifest.json", out);
		if (out_emit(true))
			rc = EXIT_ERROR;
	} else
		printf("%s/manifest.json: written; sign it with 'hotpatch sign'\n", out);
out:
	free(targets);
	free(payloads);
	free(fulls);
	free(replaced);
	return rc;
}
