/* The inside of keys and keyrings, shared by the minisign module (keys,
 * signatures) and the trusted-key lookup (trust.c). Not public API. */
#ifndef HP_MINISIGN_H
#define HP_MINISIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "hotpatch.h"

#define MINISIGN_KEYNUM_BYTES 8
#define MINISIGN_PK_BYTES 32 /* crypto_sign_PUBLICKEYBYTES */
#define MINISIGN_SK_BYTES 64 /* crypto_sign_SECRETKEYBYTES: seed || public key */

struct hp_key {
	unsigned char keynum[MINISIGN_KEYNUM_BYTES]; /* key id as the files store it */
	unsigned char pk[MINISIGN_PK_BYTES];         /* Ed25519 public key */
	unsigned char sk[MINISIGN_SK_BYTES];         /* Ed25519 secret key, if has_secret */
	bool has_secret;                             /* loaded from a secret key file */
	char id[HP_KEY_ID_HEX];                      /* keynum as minisign prints it */
	char *path;                                  /* file it came from or went to */
};

struct hp_keyring {
	struct hp_key **keys; /* owned */
	size_t nr;            /* keys in use */
	size_t cap;           /* keys allocated */
};

/* Set key->id from key->keynum. */
void minisign_key_set_id(struct hp_key *key);

/* Append key to kr, which takes ownership (also on failure: it is freed). */
int trust_add_key(struct hp_keyring *kr, struct hp_key *key);

#endif /* HP_MINISIGN_H */
