/* The payload container: round trips, and every malformed input refused
 * with its own error and a message that names the cause.
 *
 * The decompression bomb is real: 1 GiB of zeros streamed through zlib here
 * (about 1 MiB compressed), never held in memory. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "hotpatch.h"
#include "support.h"

/* The last warning the library printed. */
static char last_msg[1024];

static int capture(enum hp_print_level level, const char *fmt, va_list ap)
{
	if (level == HP_WARN)
		vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	return 0;
}

static int unpack(const void *buf, size_t len, size_t max, void **out, size_t *out_len)
{
	last_msg[0] = '\0';
	return hp_container__unpack(buf, len, max, out, out_len);
}

/* Reproducible, barely compressible bytes, with a run of text in the middle
 * so the stream is a mix of literals and matches. */
static unsigned char *sample(size_t len)
{
	unsigned char *p = malloc(len + 1);
	uint32_t x = 2463534242u;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (i / 4096) % 2 ? (unsigned char)("srv_negotiate_signing "[i % 22]) : (unsigned char)x;
	}
	return p;
}

static void put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* A packed sample, for the tests that break it. */
static unsigned char *packed_sample(size_t len, size_t *clen)
{
	unsigned char *data = sample(len);
	void *buf = NULL;

	CU_ASSERT_EQUAL_FATAL(hp_container__pack(data, len, &buf, clen), 0);
	free(data);
	return buf;
}

static void round_trip(void)
{
	static const size_t sizes[] = { 0, 1, 100, 65536, 300000 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *data = sample(sizes[i]);
		void *buf = NULL, *again = NULL, *out = NULL;
		size_t clen = 0, clen2 = 0, ulen = 1;
		const unsigned char *h;

		CU_ASSERT_EQUAL_FATAL(hp_container__pack(data, sizes[i], &buf, &clen), 0);
		h = buf;
		CU_ASSERT(clen >= HP_CONTAINER_HEADER_SIZE);
		CU_ASSERT_EQUAL(memcmp(h, "HPPAYLD\0", 8), 0);
		CU_ASSERT_EQUAL(h[8] | h[9] << 8, HP_CONTAINER_VERSION);
		CU_ASSERT_EQUAL(h[10] | h[11] << 8, 0);
		CU_ASSERT_EQUAL(get_le64(h + 16), clen - HP_CONTAINER_HEADER_SIZE);
		CU_ASSERT_EQUAL(get_le64(h + 24), sizes[i]);
		CU_ASSERT_EQUAL((uint32_t)(h[12] | h[13] << 8 | h[14] << 16 | (uint32_t)h[15] << 24),
				(uint32_t)crc32(0, data, (uInt)sizes[i]));

		/* Deterministic: same input, same bytes. */
		CU_ASSERT_EQUAL_FATAL(hp_container__pack(data, sizes[i], &again, &clen2), 0);
		CU_ASSERT_EQUAL(clen, clen2);
		CU_ASSERT_EQUAL(memcmp(buf, again, clen), 0);

		CU_ASSERT_EQUAL_FATAL(unpack(buf, clen, 0, &out, &ulen), 0);
		CU_ASSERT_EQUAL(ulen, sizes[i]);
		CU_ASSERT_PTR_NOT_NULL(out);
		CU_ASSERT_EQUAL(memcmp(out, data, sizes[i]), 0);
		free(data);
		free(buf);
		free(again);
		free(out);
	}
}

static void expect_refused(const void *buf, size_t len, size_t max, int err, const char *cause)
{
	void *out = (void *)1;
	size_t ulen = 1;

	CU_ASSERT_EQUAL(unpack(buf, len, max, &out, &ulen), -err);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(ulen, 0);
	if (!strstr(last_msg, cause))
		fprintf(stderr, "expected '%s' in message '%s'\n", cause, last_msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, cause));
	CU_ASSERT(!strncmp(last_msg, "container: ", 11));
}

static void truncated_header(void)
{
	size_t clen;
	unsigned char *buf = packed_sample(1000, &clen);

	expect_refused(buf, 0, 0, HP_E_FORMAT, "truncated header: 0 of 32 bytes");
	expect_refused(buf, 8, 0, HP_E_FORMAT, "truncated header: 8 of 32 bytes");
	expect_refused(buf, 31, 0, HP_E_FORMAT, "truncated header");
	free(buf);
}

static void wrong_magic(void)
{
	size_t clen;
	unsigned char *buf = packed_sample(1000, &clen);

	buf[0] = 'X';
	expect_refused(buf, clen, 0, HP_E_FORMAT, "bad magic");
	buf[0] = 'H';
	buf[7] = '1';
	expect_refused(buf, clen, 0, HP_E_FORMAT, "bad magic");
	free(buf);
}

static void unknown_version_and_flags(void)
{
	size_t clen;
	unsigned char *buf = packed_sample(1000, &clen);

	put_le16(buf + 8, 2);
	expect_refused(buf, clen, 0, HP_E_FORMAT, "unknown format version 2");
	put_le16(buf + 8, 0);
	expect_refused(buf, clen, 0, HP_E_FORMAT, "unknown format version 0");
	put_le16(buf + 8, HP_CONTAINER_VERSION);
	put_le16(buf + 10, 0x0100);
	expect_refused(buf, clen, 0, HP_E_FORMAT, "unknown flags 0x0100");
	free(buf);
}

static void truncated_stream(void)
{
	size_t clen;
	unsigned char *buf = packed_sample(20000, &clen);

	/* The file is cut: the header promises more than is there. */
	expect_refused(buf, clen - 5, 0, HP_E_FORMAT, "truncated stream");
	/* Cut, and the header rewritten to match the cut: zlib itself runs dry. */
	put_le64(buf + 16, get_le64(buf + 16) - 5);
	expect_refused(buf, clen - 5, 0, HP_E_FORMAT, "truncated compressed stream");
	put_le64(buf + 16, get_le64(buf + 16) - 1000);
	expect_refused(buf, clen - 1005, 0, HP_E_FORMAT, "truncated compressed stream");
	free(buf);
}

static void trailing_bytes(void)
{
	size_t clen;
	unsigned char *buf = packed_sample(1000, &clen), *big;

	big = calloc(1, clen + 7);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memcpy(big, buf, clen);
	expect_refused(big, clen + 7, 0, HP_E_FORMAT, "7 trailing bytes after the compressed stream");
	/* Declared as part of the stream, but after zlib's end of stream. */
	put_le64(big + 16, get_le64(big + 16) + 7);
	expect_refused(big, clen + 7, 0, HP_E_FORMAT, "7 bytes after the end of the compressed stream");
	free(big);
	free(buf);
}

static void wrong_crc(void)
{
	size_t clen;
	unsigned char *buf = packed_sample(1000, &clen);

	buf[12] ^= 0x01;
	expect_refused(buf, clen, 0, HP_E_MISMATCH, "CRC-32 of the payload is");
	free(buf);
}

static void corrupt_stream(void)
{
	size_t clen;
	unsigned char *buf = packed_sample(20000, &clen);

	/* zlib's own Adler-32 catches a flipped byte in the stream. */
	buf[clen - 2] ^= 0x40;
	expect_refused(buf, clen, 0, HP_E_FORMAT, "corrupt compressed stream");
	free(buf);
}

static void sizes_differ_from_header(void)
{
	size_t clen;
	unsigned char *buf = packed_sample(20000, &clen);

	put_le64(buf + 24, 19999);
	expect_refused(buf, clen, 0, HP_E_TOO_BIG, "inflates beyond the declared 19999 bytes");
	put_le64(buf + 24, 20001);
	expect_refused(buf, clen, 0, HP_E_MISMATCH, "stream holds 20000 bytes, header declares 20001");
	free(buf);
}

static void beyond_the_limit(void)
{
	size_t clen, big = HP_CONTAINER_MAX_SIZE_DEFAULT + 1;
	unsigned char *buf = packed_sample(300000, &clen), *fake;

	/* The caller's bound. */
	expect_refused(buf, clen, 299999, HP_E_TOO_BIG,
		       "uncompressed size 300000 bytes is beyond the limit of 299999");
	/* The default bound: a header claiming one byte more, with enough
	 * compressed bytes behind it that the ratio alone would pass. */
	fake = calloc(1, HP_CONTAINER_HEADER_SIZE + big / 100);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fake);
	memcpy(fake, buf, HP_CONTAINER_HEADER_SIZE);
	put_le64(fake + 16, big / 100);
	put_le64(fake + 24, big);
	expect_refused(fake, HP_CONTAINER_HEADER_SIZE + big / 100, 0, HP_E_TOO_BIG,
		       "is beyond the limit of 16777216");
	free(fake);
	free(buf);
}

/* ---- a real decompression bomb ---- */

static unsigned char *bomb;   /* container: header + zlib stream of 1 GiB of zeros */
static size_t bomb_len;       /* bytes of it */
#define BOMB_SIZE (1ull << 30)

static void build_bomb(void)
{
	static unsigned char zeros[1 << 20];
	size_t cap = 2 << 20, fed = 0;
	z_stream zs;

	if (bomb)
		return;
	bomb = malloc(cap);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bomb);
	memset(&zs, 0, sizeof(zs));
	/* Run-length matching: the same stream a zip bomb uses, made fast. */
	CU_ASSERT_EQUAL_FATAL(deflateInit2(&zs, 9, Z_DEFLATED, 15, 9, Z_RLE), Z_OK);
	zs.next_out = bomb + HP_CONTAINER_HEADER_SIZE;
	zs.avail_out = (uInt)(cap - HP_CONTAINER_HEADER_SIZE);
	while (fed < BOMB_SIZE) {
		zs.next_in = zeros;
		zs.avail_in = sizeof(zeros);
		fed += sizeof(zeros);
		CU_ASSERT_FATAL(deflate(&zs, fed < BOMB_SIZE ? Z_NO_FLUSH : Z_FINISH) != Z_STREAM_ERROR);
		CU_ASSERT_FATAL(zs.avail_out > 0);
	}
	CU_ASSERT_EQUAL_FATAL(zs.total_in, BOMB_SIZE);
	bomb_len = HP_CONTAINER_HEADER_SIZE + zs.total_out;
	deflateEnd(&zs);
	/* An honest header: it says what the stream really holds. */
	memcpy(bomb, "HPPAYLD\0", 8);
	put_le16(bomb + 8, HP_CONTAINER_VERSION);
	put_le16(bomb + 10, 0);
	memset(bomb + 12, 0, 4);
	put_le64(bomb + 16, bomb_len - HP_CONTAINER_HEADER_SIZE);
	put_le64(bomb + 24, BOMB_SIZE);
}

static void bomb_honest_header(void)
{
	build_bomb();
	CU_ASSERT(bomb_len < (2u << 20));
	/* Refused by the size bound, and by the ratio even when the caller
	 * allows 4 GiB: nothing of the 1 GiB is ever allocated. */
	expect_refused(bomb, bomb_len, 0, HP_E_TOO_BIG, "uncompressed size 1073741824 bytes is beyond");
	expect_refused(bomb, bomb_len, 4ull << 30, HP_E_TOO_BIG, "ratio limit");
}

static void bomb_lying_header(void)
{
	unsigned char *liar;
	size_t declared = HP_CONTAINER_MAX_SIZE_DEFAULT; /* 16 MiB: within size and ratio */
	pid_t pid;
	int status;

	build_bomb();
	liar = malloc(bomb_len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(liar);
	memcpy(liar, bomb, bomb_len);
	put_le64(liar + 24, declared);
	expect_refused(liar, bomb_len, 0, HP_E_TOO_BIG, "inflates beyond the declared 16777216 bytes");

#if !defined(__SANITIZE_ADDRESS__)
	/* Once more in a child whose address space cannot hold the bomb:
	 * decompression must stop at the declared size, not run out of memory. */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 256u << 20, 256u << 20 };
		void *out = NULL;
		size_t ulen;
		int err;

		hp_set_print(NULL);
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			_exit(3);
		err = hp_container__unpack(liar, bomb_len, 0, &out, &ulen);
		_exit(err == -HP_E_TOO_BIG ? 0 : 1);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#else
	(void)pid;
	(void)status;
#endif
	free(liar);
}

/* ---- files ---- */

static void files(void)
{
	const char *dir = ts_tmpdir();
	char path[4096], big[4096];
	unsigned char *data = sample(50000);
	void *out = NULL;
	size_t ulen = 0;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/payload.hpz", dir);
	CU_ASSERT_EQUAL_FATAL(hp_container__write_file(path, data, 50000), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0644);
	CU_ASSERT_EQUAL_FATAL(hp_container__unpack_file(path, 0, &out, &ulen), 0);
	CU_ASSERT_EQUAL(ulen, 50000);
	CU_ASSERT_EQUAL(memcmp(out, data, 50000), 0);
	free(out);

	/* Messages name the file. */
	last_msg[0] = '\0';
	CU_ASSERT_EQUAL(hp_container__unpack_file(path, 1000, &out, &ulen), -HP_E_TOO_BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, path));

	snprintf(big, sizeof(big), "%s/missing.hpz", dir);
	CU_ASSERT_EQUAL(hp_container__unpack_file(big, 0, &out, &ulen), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, big));
	CU_ASSERT_EQUAL(hp_container__unpack_file(dir, 0, &out, &ulen), -EISDIR);

	/* A file far larger than any container of the bound is not even read. */
	snprintf(big, sizeof(big), "%s/huge.hpz", dir);
	f = fopen(big, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(ftruncate(fileno(f), 64 << 20), 0);
	fclose(f);
	last_msg[0] = '\0';
	CU_ASSERT_EQUAL(hp_container__unpack_file(big, 0, &out, &ulen), -HP_E_TOO_BIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, "larger than any container"));
	free(data);
}

static int suite_init(void)
{
	hp_set_print(capture);
	return 0;
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "round trip, deterministic, header fields", round_trip },
		{ "truncated header", truncated_header },
		{ "wrong magic", wrong_magic },
		{ "unknown version and flags", unknown_version_and_flags },
		{ "truncated stream", truncated_stream },
		{ "trailing bytes", trailing_bytes },
		{ "wrong CRC-32", wrong_crc },
		{ "corrupt stream", corrupt_stream },
		{ "sizes differ from the header", sizes_differ_from_header },
		{ "uncompressed size beyond the limit", beyond_the_limit },
		{ "decompression bomb, honest header", bomb_honest_header },
		{ "decompression bomb, lying header", bomb_lying_header },
		{ "container files", files },
		{ NULL, NULL },
	};

	suite_init();
	ts_add_suite("container", tests);
}
