/* hotpatch keygen: a new Ed25519 key pair in minisign's formats, for the
 * vendor to sign packages with (docs/signing.md). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotpatch.h"
#include "cli.h"
#include "cmdopts.h"
#include "commands.h"
#include "keyopts.h"
#include "output.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hotpatch keygen -s SECRET_KEY -p PUBLIC_KEY [OPTIONS]\n\n"
		"Generate an Ed25519 key pair in minisign's formats: the secret key\n"
		"(mode 0600) signs packages, the public key verifies them (install it\n"
		"in %s/ or pass it with --trusted-key).\n\n"
		"  -s, --secret-key FILE    where to write the secret key\n"
		"  -p, --public-key FILE    where to write the public key\n"
		"  -f, --force              replace existing key files\n"
		"  -c, --comment TEXT       untrusted comment of the public key\n"
		"  -e, --encrypt            protect the secret key with a password (asked\n"
		"                           on the terminal)\n"
		"      --password-file FILE  the password, first line of FILE ('-': stdin);\n"
		"                           implies --encrypt\n"
		"      --fast-kdf           cheaper scrypt (16 MiB) instead of minisign's (1 GiB)\n"
		"      --json               report as one JSON document\n"
		"  -h, --help               this help\n\n"
		"Without --encrypt the secret key is stored unencrypted, as 'minisign -G -W'.\n"
		"Exit status: 0 done, 1 error (nothing written), 2 usage.\n",
		HP_TRUSTED_KEYS_DIR);
}

int cmd_keygen(int argc, char **argv)
{
	enum { OPT_PASSWORD_FILE = CMDOPT_OWN, OPT_FAST_KDF };
	static const struct option opts[] = {
		{ "secret-key", required_argument, NULL, 's' },
		{ "public-key", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'f' },
		{ "comment", required_argument, NULL, 'c' },
		{ "encrypt", no_argument, NULL, 'e' },
		{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
		{ "fast-kdf", no_argument, NULL, OPT_FAST_KDF },
		CMDOPT_ENTRY_JSON,
		CMDOPT_ENTRY_HELP,
		{ NULL, 0, NULL, 0 },
	};
	struct cmdopts co = CMDOPTS_INIT("keygen", usage);
	struct hp_keygen_opts kopts = { 0 };
	const char *secret = NULL, *public = NULL, *password_file = NULL;
	struct hp_key *key = NULL;
	char *password = NULL;
	bool encrypt = false;
	int c, err, ret;

	while ((c = getopt_long(argc, argv, "+s:p:fc:eh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			secret = optarg;
			break;
		case 'p':
			public = optarg;
			break;
		case 'f':
			kopts.force = 1;
			break;
		case 'c':
			kopts.comment = optarg;
			break;
		case 'e':
			encrypt = true;
			break;
		case OPT_PASSWORD_FILE:
			password_file = optarg;
			encrypt = true;
			break;
		case OPT_FAST_KDF:
			kopts.kdf_interactive = 1;
			break;
		default:
			/* Only --json and --help here: nothing to free. */
			if (!cmdopts_take(&co, c, optarg, &ret))
				return ret;
		}
	}
	if (optind < argc)
		return cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
	if (!secret || !public)
		return cli_usage_error("keygen", "both --secret-key and --public-key are needed");
	if (encrypt) {
		password = password_file ? keyopts_read_password_file(password_file)
					 : keyopts_prompt_password(secret, true);
		if (!password)
			return EXIT_ERROR;
		kopts.password = password;
	}
	err = hp_key__generate(secret, public, &kopts, &key);
	keyopts_free_password(password);
	if (err) {
		/* The library has said why, naming the file. */
		cli_error("keygen: no key pair written (%s)", hp_strerror(err));
		ret = EXIT_ERROR;
		goto out;
	}
	if (cli_json) {
		struct out_node *root = out_root();

		out_str(root, "key_id", hp_key__id(key));
		out_str(root, "secret_key", secret);
		out_str(root, "public_key", public);
		out_bool(root, "encrypted", encrypt);
		if (out_emit(true) < 0) {
			ret = EXIT_ERROR;
			goto out;
		}
	} else {
		printf("key id %s\nsecret key: %s%s\npublic key: %s\n", hp_key__id(key), secret,
		       encrypt ? " (encrypted)" : "", public);
	}
	ret = EXIT_OK;
out:
	hp_key__free(key);
	return ret;
}
