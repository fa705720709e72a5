/* Frame encoding and decoding, the MAC over a frame and its sequence number,
 * and the session key. Every length read from the wire is checked against
 * the buffer before use: this is the code a malformed frame meets first. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "smb_wire.h"

/* The demo shared secret both sides know (stands in for the account
 * password of a real session setup). */
static const uint8_t demo_secret[] = "KB916846 demo shared secret";

/* Header offsets. */
#define OFF_MAGIC 0
#define OFF_COMMAND 4
#define OFF_STATUS 5
#define OFF_FLAGS 9
#define OFF_FLAGS2 10
#define OFF_SEQ 12
#define OFF_SIG 16
#define OFF_UID 24
#define OFF_MID 26
#define OFF_RESERVED 28

uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t wire_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

void wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int wire_encode(const struct wire_hdr *hdr, const void *body, size_t len, uint8_t *out,
		size_t outsz)
{
	size_t total = WIRE_HDR_LEN + len;
	uint8_t *h = out + 4;

	if (len > WIRE_MAX_BODY)
		return WIRE_E_OVERSIZED;
	if (outsz < 4 + total)
		return WIRE_E_TRUNCATED;
	out[0] = (uint8_t)(total >> 24);
	out[1] = (uint8_t)(total >> 16);
	out[2] = (uint8_t)(total >> 8);
	out[3] = (uint8_t)total;
	memset(h, 0, WIRE_HDR_LEN);
	memcpy(h + OFF_MAGIC, WIRE_MAGIC, 4);
	h[OFF_COMMAND] = hdr->command;
	wire_put32(h + OFF_STATUS, hdr->status);
	h[OFF_FLAGS] = hdr->flags;
	wire_put16(h + OFF_FLAGS2, hdr->flags2);
	wire_put32(h + OFF_SEQ, hdr->seq);
	memcpy(h + OFF_SIG, hdr->sig, WIRE_SIG_LEN);
	wire_put16(h + OFF_UID, hdr->uid);
	wire_put16(h + OFF_MID, hdr->mid);
	if (len)
		memcpy(h + WIRE_HDR_LEN, body, len);
	return (int)(4 + total);
}

int wire_frame_len(const uint8_t prefix[4], size_t *len)
{
	uint32_t n = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 |
		     (uint32_t)prefix[2] << 8 | prefix[3];

	if (n > WIRE_MAX_FRAME)
		return WIRE_E_OVERSIZED;
	if (n < WIRE_HDR_LEN)
		return WIRE_E_TRUNCATED;
	*len = n;
	return WIRE_OK;
}

int wire_decode(const uint8_t *buf, size_t len, struct wire_hdr *hdr, const uint8_t **body,
		size_t *body_len)
{
	if (len < WIRE_HDR_LEN)
		return WIRE_E_TRUNCATED;
	if (len > WIRE_MAX_FRAME)
		return WIRE_E_OVERSIZED;
	if (memcmp(buf + OFF_MAGIC, WIRE_MAGIC, 4) != 0)
		return WIRE_E_MAGIC;
	if (wire_get32(buf + OFF_RESERVED) != 0)
		return WIRE_E_RESERVED;
	hdr->command = buf[OFF_COMMAND];
	hdr->status = wire_get32(buf + OFF_STATUS);
	hdr->flags = buf[OFF_FLAGS];
	hdr->flags2 = wire_get16(buf + OFF_FLAGS2);
	hdr->seq = wire_get32(buf + OFF_SEQ);
	memcpy(hdr->sig, buf + OFF_SIG, WIRE_SIG_LEN);
	hdr->uid = wire_get16(buf + OFF_UID);
	hdr->mid = wire_get16(buf + OFF_MID);
	*body = buf + WIRE_HDR_LEN;
	*body_len = len - WIRE_HDR_LEN;
	return WIRE_OK;
}

/* HMAC-SHA256 over the direction, then the frame with its signature field
 * zeroed; the sequence number is in the header, so it is covered too. The
 * direction label keeps a reply from being reflected back as a request. */
static void compute_mac(const uint8_t key[WIRE_KEY_LEN], enum wire_dir dir,
			const uint8_t *frame, size_t len, uint8_t mac[WIRE_SIG_LEN])
{
	crypto_auth_hmacsha256_state st;
	uint8_t hdr[WIRE_HDR_LEN], full[crypto_auth_hmacsha256_BYTES];
	uint8_t label = (uint8_t)dir;

	memcpy(hdr, frame, WIRE_HDR_LEN);
	memset(hdr + OFF_SIG, 0, WIRE_SIG_LEN);
	crypto_auth_hmacsha256_init(&st, key, WIRE_KEY_LEN);
	crypto_auth_hmacsha256_update(&st, &label, 1);
	crypto_auth_hmacsha256_update(&st, hdr, WIRE_HDR_LEN);
	crypto_auth_hmacsha256_update(&st, frame + WIRE_HDR_LEN, len - WIRE_HDR_LEN);
	crypto_auth_hmacsha256_final(&st, full);
	memcpy(mac, full, WIRE_SIG_LEN);
	sodium_memzero(&st, sizeof(st));
}

void wire_sign(struct wire_signer *s, enum wire_dir dir, uint8_t *frame, size_t len)
{
	uint8_t mac[WIRE_SIG_LEN];

	if (!s->active || len < WIRE_HDR_LEN)
		return;
	wire_put32(frame + OFF_SEQ, s->send_seq++);
	compute_mac(s->key, dir, frame, len, mac);
	memcpy(frame + OFF_SIG, mac, WIRE_SIG_LEN);
}

int wire_verify(struct wire_signer *s, enum wire_dir dir, const uint8_t *frame, size_t len)
{
	uint8_t mac[WIRE_SIG_LEN];
	uint32_t seq;

	if (len < WIRE_HDR_LEN)
		return WIRE_E_TRUNCATED;
	compute_mac(s->key, dir, frame, len, mac);
	if (wire_memcmp(mac, frame + OFF_SIG, WIRE_SIG_LEN) != 0)
		return WIRE_E_BAD_MAC;
	/* The MAC is good, so the sequence number is the sender's own: an old
	 * one is a recorded frame played again. */
	seq = wire_get32(frame + OFF_SEQ);
	if (seq < s->recv_seq)
		return WIRE_E_REPLAY;
	if (seq > s->recv_seq)
		return WIRE_E_SEQUENCE;
	s->recv_seq++;
	return WIRE_OK;
}

void wire_random(uint8_t *buf, size_t n)
{
	randombytes_buf(buf, n);
}

static void hmac_label(const char *label, const uint8_t *a, const uint8_t *b, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, demo_secret, sizeof(demo_secret) - 1);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label));
	crypto_auth_hmacsha256_update(&st, a, WIRE_NONCE_LEN);
	crypto_auth_hmacsha256_update(&st, b, WIRE_NONCE_LEN);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

void wire_session_proof(const uint8_t cnonce[WIRE_NONCE_LEN],
			const uint8_t snonce[WIRE_NONCE_LEN], uint8_t out[WIRE_PROOF_LEN])
{
	hmac_label("proof", snonce, cnonce, out);
}

void wire_session_key(const uint8_t cnonce[WIRE_NONCE_LEN],
		      const uint8_t snonce[WIRE_NONCE_LEN], uint8_t out[WIRE_KEY_LEN])
{
	hmac_label("session key", cnonce, snonce, out);
}

int wire_memcmp(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n);
}

const char *wire_strerror(int err)
{
	switch (err) {
	case WIRE_OK: return "ok";
	case WIRE_E_TRUNCATED: return "truncated frame";
	case WIRE_E_OVERSIZED: return "oversized frame";
	case WIRE_E_MAGIC: return "bad protocol magic";
	case WIRE_E_RESERVED: return "reserved header field not zero";
	case WIRE_E_BAD_MAC: return "bad MAC";
	case WIRE_E_REPLAY: return "replayed frame (old sequence number)";
	case WIRE_E_SEQUENCE: return "sequence number out of order";
	}
	return "unknown wire error";
}

const char *wire_command_name(uint8_t command)
{
	switch (command) {
	case SMB_COM_ECHO: return "echo";
	case SMB_COM_READ: return "read";
	case SMB_COM_NEGOTIATE: return "negotiate";
	case SMB_COM_SESSION_SETUP: return "session-setup";
	}
	return "unknown";
}

int wire_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int wire_read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return got ? -ENODATA : -EPIPE;
		got += (size_t)n;
	}
	return 0;
}
