/* hotpatch sign: minisign signatures (FILE.minisig) for package files, made
 * with a secret key from `hotpatch keygen` or `minisign -G`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hotpatch.h"
#include "cli.h"
#include "cmdopts.h"
#include "commands.h"
#include "keyopts.h"
#include "output.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hotpatch sign -s SECRET_KEY [OPTIONS] FILE...\n\n"
		"Sign each FILE with an Ed25519 secret key in minisign's format, writing\n"
		"FILE.minisig next to it (prehashed, as minisign 0.11 does). The stock\n"
		"tool verifies it: minisign -Vm FILE -p PUBLIC_KEY.\n\n"
		"  -s, --secret-key FILE      the secret key (hotpatch keygen, minisign -G)\n"
		"  -x, --signature FILE       signature file (only with a single FILE)\n"
		"  -t, --trusted-comment TEXT signed comment (default: timestamp, file name;\n"
		"                             the timestamp is $SOURCE_DATE_EPOCH when set)\n"
		"  -c, --comment TEXT         untrusted comment\n"
		"      --password-file FILE    password of an encrypted key, first line of\n"
		"                             FILE ('-': stdin); else asked on the terminal\n"
		"      --json                 report as one JSON document\n"
		"  -h, --help                 this help\n\n"
		"Every FILE is checked before any signature is written.\n"
		"Exit status: 0 done, 1 error, 2 usage.\n");
}

/* Is the secret key in path encrypted? Loading without a password tells,
 * quietly, so that a password is asked for only when one is needed. */
static bool needs_password(const char *path)
{
	hp_print_fn_t old = hp_set_print(NULL);
	struct hp_key *key = hp_key__load_secret(path, NULL);
	int err = key ? 0 : errno;

	hp_set_print(old);
	hp_key__free(key);
	return err == HP_E_SIGNATURE;
}

int cmd_sign(int argc, char **argv)
{
	enum { OPT_PASSWORD_FILE = CMDOPT_OWN };
	static const struct option opts[] = {
		{ "secret-key", required_argument, NULL, 's' },
		{ "signature", required_argument, NULL, 'x' },
		{ "trusted-comment", required_argument, NULL, 't' },
		{ "comment", required_argument, NULL, 'c' },
		{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
		CMDOPT_ENTRY_JSON,
		CMDOPT_ENTRY_HELP,
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopts co = CMDOPTS_INIT("sign", usage);
	struct hp_sign_opts sopts = { 0 };
	const char *secret = NULL, *password_file = NULL;
	struct out_node *root, *done;
	struct hp_key *key = NULL;
	char *password = NULL, *sig_path = NULL;
	int c, i, err, ret = EXIT_ERROR;

	while ((c = getopt_long(argc, argv, "+s:x:t:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			secret = optarg;
			break;
		case 'x':
			sopts.sig_path = optarg;
			break;
		case 't':
			sopts.trusted_comment = optarg;
			break;
		case 'c':
			sopts.comment = optarg;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			break;
		default:
			/* Only --json and --help here: nothing to free. */
			if (!cmdopts_take(&co, c, optarg, &ret))
				return ret;
		}
	}
	if (!secret)
		return cli_usage_error("sign", "--secret-key is needed");
	if (optind >= argc)
		return cli_usage_error("sign", "no file to sign");
	if (sopts.sig_path && argc - optind > 1)
		return cli_usage_error("sign", "--signature needs a single FILE");
	/* Check every input first, so a typo in the last name leaves no
	 * signature written for the others. */
	for (i = optind; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			cli_error("sign: %s: %s", argv[i], strerror(errno));
			return EXIT_ERROR;
		}
		if (!S_ISREG(st.st_mode)) {
			cli_error("sign: %s: not a regular file", argv[i]);
			return EXIT_ERROR;
		}
		if (access(argv[i], R_OK) < 0) {
			cli_error("sign: %s: %s", argv[i], strerror(errno));
			return EXIT_ERROR;
		}
	}
	if (password_file) {
		password = keyopts_read_password_file(password_file);
		if (!password)
			return EXIT_ERROR;
	} else if (needs_password(secret)) {
		password = keyopts_prompt_password(secret, false);
		if (!password)
			return EXIT_ERROR;
	}
	key = hp_key__load_secret(secret, password);
	keyopts_free_password(password);
	if (!key) {
		cli_error("sign: %s: cannot use this secret key (%s)", secret, hp_strerror(errno));
		return EXIT_ERROR;
	}
	root = out_root();
	out_str(root, "key_id", hp_key__id(key));
	done = out_array(root, "signed");
	for (i = optind; i < argc; i++) {
		free(sig_path);
		sig_path = NULL;
		if (sopts.sig_path)
			sig_path = strdup(sopts.sig_path);
		else if (asprintf(&sig_path, "%s.minisig", argv[i]) < 0)
			sig_path = NULL;
		if (!sig_path) {
			cli_error("sign: %s", strerror(ENOMEM));
			out_strf(root, "error", "%s", strerror(ENOMEM));
			goto out;
		}
		err = hp_sig__sign_file(key, argv[i], &sopts);
		if (err) {
			cli_error("sign: %s: not signed (%s)", argv[i], hp_strerror(err));
			out_strf(root, "error", "%s: not signed (%s)", argv[i], hp_strerror(err));
			goto out;
		}
		if (cli_json) {
			struct out_node *one = out_object(done, NULL);

			out_str(one, "file", argv[i]);
			out_str(one, "signature", sig_path);
		} else {
			printf("%s: signed with key %s\n", sig_path, hp_key__id(key));
		}
	}
	ret = EXIT_OK;
out:
	/* Files signed before a failure stay signed: say which. */
	if (cli_json) {
		if (out_emit(i > optind) < 0 && ret == EXIT_OK)
			ret = EXIT_ERROR;
	} else {
		out_discard();
	}
	free(sig_path);
	hp_key__free(key);
	return ret;
}
