/* The payload container: one zlib-compressed payload object with a small
 * fixed header (docs/formats/payload-container.md).
 *
 * The package's payload travels compressed; this is the only module that
 * talks to zlib. Packing is deterministic (fixed level, no timestamps, no
 * file names) so that `hotpatch pack` run twice gives the same bytes and the
 * manifest's SHA-256 of the container is stable. Unpacking treats the input
 * as hostile: every size in the header is checked against the buffer and
 * against the caller's bound before anything is allocated, inflation never
 * writes past the declared size, and anything left over or missing is an
 * error with its own message.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "hotpatch.h"
#include "internal.h"
#include "atomic_file.h"
#include "fileio.h"

static const unsigned char container_magic[8] = { 'H', 'P', 'P', 'A', 'Y', 'L', 'D', '\0' };

/* Fixed so that the output depends only on the input (and the zlib version). */
#define PACK_LEVEL 9
#define PACK_WINDOW_BITS 15 /* a zlib (RFC 1950) stream, 32 KiB window */
#define PACK_MEM_LEVEL 8

/* The header, as the file holds it (all fields little-endian). */
struct container_header {
	uint16_t version;   /* HP_CONTAINER_VERSION */
	uint16_t flags;     /* none defined: must be 0 */
	uint32_t crc32;     /* zlib crc32() of the uncompressed bytes */
	uint64_t csize;     /* bytes of the zlib stream after the header */
	uint64_t usize;     /* bytes once inflated */
};

static void put_le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put_le32(unsigned char *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get_le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)get_le16(p) | (uint32_t)get_le16(p + 2) << 16;
}

static uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static void encode_header(unsigned char *p, const struct container_header *h)
{
	memcpy(p, container_magic, sizeof(container_magic));
	put_le16(p + 8, h->version);
	put_le16(p + 10, h->flags);
	put_le32(p + 12, h->crc32);
	put_le64(p + 16, h->csize);
	put_le64(p + 24, h->usize);
}

/* zlib counts in uInt (32 bits); feed it at most this much at a time. */
static uInt chunk(size_t left)
{
	return left > UINT_MAX ? UINT_MAX : (uInt)left;
}

static uint32_t crc_of(const unsigned char *p, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);

	while (len) {
		uInt n = chunk(len);

		crc = crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)crc;
}

int hp_container__pack(const void *data, size_t len, void **out, size_t *out_len)
{
	struct container_header h = { .version = HP_CONTAINER_VERSION };
	const unsigned char *in = data;
	unsigned char *buf = NULL;
	size_t cap, in_left = len, out_left;
	z_stream zs;
	bool zs_live = false;
	int zerr, err = 0;

	*out = NULL;
	*out_len = 0;
	memset(&zs, 0, sizeof(zs));
	zerr = deflateInit2(&zs, PACK_LEVEL, Z_DEFLATED, PACK_WINDOW_BITS, PACK_MEM_LEVEL,
			    Z_DEFAULT_STRATEGY);
	if (zerr != Z_OK) {
		err = zerr == Z_MEM_ERROR ? -ENOMEM : -EIO;
		pr_warn("container: cannot start compression: %s", zs.msg ? zs.msg : "zlib error");
		goto out;
	}
	zs_live = true;
	/* deflateBound is exact for one call with Z_FINISH; the loop below
	 * only matters for inputs beyond 4 GiB. */
	cap = HP_CONTAINER_HEADER_SIZE + deflateBound(&zs, len) + 64;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	zs.next_out = buf + HP_CONTAINER_HEADER_SIZE;
	out_left = cap - HP_CONTAINER_HEADER_SIZE;
	do {
		int flush;

		zs.next_in = (Bytef *)(uintptr_t)(in + (len - in_left));
		zs.avail_in = chunk(in_left);
		in_left -= zs.avail_in;
		flush = in_left ? Z_NO_FLUSH : Z_FINISH;
		zs.avail_out = chunk(out_left);
		out_left -= zs.avail_out;
		zerr = deflate(&zs, flush);
		out_left += zs.avail_out;
		in_left += zs.avail_in;
		if (zerr == Z_STREAM_ERROR || (zerr == Z_BUF_ERROR && !out_left)) {
			err = -EIO;
			pr_warn("container: compression failed: %s", zs.msg ? zs.msg : "zlib error");
			goto out;
		}
	} while (zerr != Z_STREAM_END);

	h.crc32 = crc_of(in, len);
	h.csize = (uint64_t)(cap - HP_CONTAINER_HEADER_SIZE - out_left);
	h.usize = (uint64_t)len;
	encode_header(buf, &h);
	*out_len = HP_CONTAINER_HEADER_SIZE + (size_t)h.csize;
	*out = buf;
	buf = NULL;
out:
	if (zs_live)
		deflateEnd(&zs);
	free(buf);
	return err;
}

/* Check the header against the buffer and the bounds. Nothing has been
 * allocated yet when this refuses. */
static int check_header(const char *name, const unsigned char *p, size_t len, size_t max_size,
			struct container_header *h)
{
	if (len < HP_CONTAINER_HEADER_SIZE) {
		pr_warn("container: %s: truncated header: %zu of %d bytes", name, len,
			HP_CONTAINER_HEADER_SIZE);
		return -HP_E_FORMAT;
	}
	if (memcmp(p, container_magic, sizeof(container_magic))) {
		pr_warn("container: %s: bad magic: not a payload container", name);
		return -HP_E_FORMAT;
	}
	h->version = get_le16(p + 8);
	h->flags = get_le16(p + 10);
	h->crc32 = get_le32(p + 12);
	h->csize = get_le64(p + 16);
	h->usize = get_le64(p + 24);
	if (h->version != HP_CONTAINER_VERSION) {
		pr_warn("container: %s: unknown format version %u (this hotpatch reads %d)", name,
			h->version, HP_CONTAINER_VERSION);
		return -HP_E_FORMAT;
	}
	if (h->flags) {
		pr_warn("container: %s: unknown flags 0x%04x", name, h->flags);
		return -HP_E_FORMAT;
	}
	if (h->csize > len - HP_CONTAINER_HEADER_SIZE) {
		pr_warn("container: %s: truncated stream: header declares %llu compressed bytes, %zu present",
			name, (unsigned long long)h->csize, len - HP_CONTAINER_HEADER_SIZE);
		return -HP_E_FORMAT;
	}
	if (h->csize < len - HP_CONTAINER_HEADER_SIZE) {
		pr_warn("container: %s: %llu trailing bytes after the compressed stream", name,
			(unsigned long long)(len - HP_CONTAINER_HEADER_SIZE - h->csize));
		return -HP_E_FORMAT;
	}
	if (h->usize > max_size) {
		pr_warn("container: %s: uncompressed size %llu bytes is beyond the limit of %zu",
			name, (unsigned long long)h->usize, max_size);
		return -HP_E_TOO_BIG;
	}
	/* Division, not multiplication: csize comes from the input too. */
	if (h->usize / HP_CONTAINER_MAX_RATIO > h->csize) {
		pr_warn("container: %s: %llu bytes from %llu compressed is beyond the %u:1 ratio limit (decompression bomb?)",
			name, (unsigned long long)h->usize, (unsigned long long)h->csize,
			HP_CONTAINER_MAX_RATIO);
		return -HP_E_TOO_BIG;
	}
	return 0;
}

/* Inflate exactly h->usize bytes from the stream in src[0..h->csize) into
 * dst, and prove the stream ends exactly there. */
static int inflate_exact(const char *name, const unsigned char *src, unsigned char *dst,
			 const struct container_header *h)
{
	size_t in_left = (size_t)h->csize, out_left = (size_t)h->usize;
	unsigned char probe;
	z_stream zs;
	int zerr, err = 0;

	memset(&zs, 0, sizeof(zs));
	zerr = inflateInit2(&zs, PACK_WINDOW_BITS);
	if (zerr != Z_OK) {
		pr_warn("container: %s: cannot start decompression: %s", name,
			zs.msg ? zs.msg : "zlib error");
		return zerr == Z_MEM_ERROR ? -ENOMEM : -EIO;
	}
	zs.next_in = (Bytef *)(uintptr_t)src;
	zs.next_out = dst;
	for (;;) {
		uInt give_in = chunk(in_left), give_out = chunk(out_left);

		zs.avail_in = give_in;
		zs.avail_out = give_out;
		if (!give_out) {
			/* The declared size is filled: one more byte of room tells
			 * an honest end of stream from a stream that goes on. */
			zs.next_out = &probe;
			zs.avail_out = 1;
		}
		zerr = inflate(&zs, Z_NO_FLUSH);
		in_left -= give_in - zs.avail_in;
		if (give_out)
			out_left -= give_out - zs.avail_out;
		else if (!zs.avail_out) {
			pr_warn("container: %s: stream inflates beyond the declared %llu bytes",
				name, (unsigned long long)h->usize);
			err = -HP_E_TOO_BIG;
			goto out;
		}
		if (zerr == Z_STREAM_END)
			break;
		if (zerr == Z_NEED_DICT || zerr == Z_DATA_ERROR) {
			pr_warn("container: %s: corrupt compressed stream: %s", name,
				zs.msg ? zs.msg : "invalid data");
			err = -HP_E_FORMAT;
			goto out;
		}
		if (zerr == Z_MEM_ERROR) {
			err = -ENOMEM;
			goto out;
		}
		/* Z_OK or Z_BUF_ERROR: with room to write, inflate stops short of
		 * the end only when the input runs out. */
		if (zerr == Z_BUF_ERROR || !give_in) {
			pr_warn("container: %s: truncated compressed stream: it ends after %llu of %llu declared bytes",
				name, (unsigned long long)(h->usize - out_left),
				(unsigned long long)h->usize);
			err = -HP_E_FORMAT;
			goto out;
		}
	}
	if (in_left) {
		pr_warn("container: %s: %zu bytes after the end of the compressed stream", name,
			in_left);
		err = -HP_E_FORMAT;
		goto out;
	}
	if (out_left) {
		pr_warn("container: %s: stream holds %llu bytes, header declares %llu", name,
			(unsigned long long)(h->usize - out_left), (unsigned long long)h->usize);
		err = -HP_E_MISMATCH;
		goto out;
	}
out:
	inflateEnd(&zs);
	return err;
}

static int unpack_named(const char *name, const void *buf, size_t len, size_t max_size,
			void **out, size_t *out_len)
{
	const unsigned char *p = buf;
	struct container_header h;
	unsigned char *data = NULL;
	uint32_t crc;
	int err;

	*out = NULL;
	*out_len = 0;
	if (!max_size)
		max_size = HP_CONTAINER_MAX_SIZE_DEFAULT;
	err = check_header(name, p, len, max_size, &h);
	if (err)
		goto out;
	/* Bounded by max_size above; +1 so an empty payload still gets a buffer. */
	data = malloc((size_t)h.usize + 1);
	if (!data) {
		err = -ENOMEM;
		goto out;
	}
	err = inflate_exact(name, p + HP_CONTAINER_HEADER_SIZE, data, &h);
	if (err)
		goto out;
	crc = crc_of(data, (size_t)h.usize);
	if (crc != h.crc32) {
		pr_warn("container: %s: CRC-32 of the payload is 0x%08x, header says 0x%08x",
			name, crc, h.crc32);
		err = -HP_E_MISMATCH;
		goto out;
	}
	*out = data;
	*out_len = (size_t)h.usize;
	data = NULL;
out:
	free(data);
	return err;
}

int hp_container__unpack(const void *buf, size_t len, size_t max_size, void **out,
			 size_t *out_len)
{
	return unpack_named("payload", buf, len, max_size, out, out_len);
}

int hp_container__unpack_file(const char *path, size_t max_size, void **out, size_t *out_len)
{
	void *buf = NULL;
	size_t len, max_file;
	int err;

	*out = NULL;
	*out_len = 0;
	if (!max_size)
		max_size = HP_CONTAINER_MAX_SIZE_DEFAULT;
	/* No honest container is larger than its payload stored uncompressed. */
	max_file = HP_CONTAINER_HEADER_SIZE + (size_t)compressBound((uLong)max_size);
	err = fileio_read(path, max_file, &buf, &len);
	if (err == -HP_E_TOO_BIG) {
		pr_warn("container: %s: file is larger than any container of at most %zu bytes",
			path, max_size);
		goto out;
	}
	if (err) {
		pr_warn("container: %s: cannot read: %s", path, hp_strerror(err));
		goto out;
	}
	err = unpack_named(path, buf, len, max_size, out, out_len);
out:
	free(buf);
	return err;
}

int hp_container__write_file(const char *path, const void *data, size_t len)
{
	void *buf = NULL;
	size_t buf_len;
	int err;

	err = hp_container__pack(data, len, &buf, &buf_len);
	if (err)
		goto out;
	err = atomic_file_put(path, 0644, ATOMIC_QUIET, buf, buf_len);
	if (err)
		pr_warn("container: %s: cannot write: %s", path, hp_strerror(err));
out:
	free(buf);
	return err;
}
