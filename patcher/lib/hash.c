/* SHA-256 of buffers, descriptors and files, and hex encoding.
 *
 * Identity (the SHA-256 of a target file), fingerprints of function bytes and
 * the manifest's pins all go through here, so every part of the pipeline
 * hashes the same way and spells the digest the same way: 64 lowercase hex
 * digits.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "hotpatch.h"
#include "internal.h"

void hp_hex_encode(const void *data, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * len] = '\0';
}

int hp_sha256_buf(const void *data, size_t len, char hex[65])
{
	unsigned char md[crypto_hash_sha256_BYTES];

	/* libsodium's SHA-256 needs no sodium_init(), but an empty input may
	 * come with a NULL pointer, which it must not see. */
	crypto_hash_sha256(md, data ? data : (const void *)"", len);
	hp_hex_encode(md, sizeof(md), hex);
	return 0;
}

int hp_sha256_fd(int fd, char hex[65])
{
	unsigned char md[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state st;
	unsigned char buf[65536];
	off_t off = 0;
	ssize_t n;

	crypto_hash_sha256_init(&st);
	for (;;) {
		/* pread leaves the descriptor's offset to its owner. */
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
		off += n;
	}
	crypto_hash_sha256_final(&st, md);
	hp_hex_encode(md, sizeof(md), hex);
	return 0;
}

int hp_sha256_file(const char *path, char hex[65])
{
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_warn("hash: %s: %s", path, strerror(errno));
		return err;
	}
	err = hp_sha256_fd(fd, hex);
	if (err)
		pr_warn("hash: %s: %s", path, strerror(-err));
	close(fd);
	return err;
}
