/* One connection, from negotiate to the last request: the server side of
 * the protocol. Every frame is checked (length, magic, state, MAC and
 * sequence number) before it is acted on; the first violation is logged
 * with the peer and the cause, and the connection is dropped. Nothing a
 * peer sends can affect another connection. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "srv.h"
#include "srv_negotiate.h"
#include "smb_wire.h"

enum conn_state {
	WANT_NEGOTIATE,
	WANT_SESSION,
	IN_SESSION,
};

struct conn {
	struct srv_server *srv;          /* the server (config, share) */
	int fd;                          /* the connection */
	const char *peer;                /* "address:port" of the client */
	enum conn_state state;           /* where the exchange is */
	struct srv_signing neg;          /* the negotiate decision */
	uint8_t snonce[WIRE_NONCE_LEN];  /* server challenge */
	uint8_t cnonce[WIRE_NONCE_LEN];  /* client nonce */
	uint16_t uid;                    /* session id given at session setup */
	struct wire_signer signer;       /* signing state of this session */
	uint8_t in[WIRE_MAX_FRAME];      /* frame received (after the length prefix) */
	uint8_t out[4 + WIRE_MAX_FRAME]; /* frame to send */
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Log why the connection is dropped; returns -1 so callers can return it. */
static int reject(struct conn *c, const struct wire_hdr *h, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int reject(struct conn *c, const struct wire_hdr *h, const char *fmt, ...)
{
	char cause[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	if (h)
		srv_log("%s: %s (command 0x%02x %s); dropping connection", c->peer, cause,
			h->command, wire_command_name(h->command));
	else
		srv_log("%s: %s; dropping connection", c->peer, cause);
	__atomic_fetch_add(&srv_stats.rejected, 1, __ATOMIC_RELAXED);
	return -1;
}

/* Send a reply to req with the given status and body, signed if the
 * session signs. */
static int reply(struct conn *c, const struct wire_hdr *req, uint32_t status, const void *body,
		 size_t len)
{
	struct wire_hdr h = {
		.command = req->command,
		.status = status,
		.flags = SMB_FLAGS_REPLY,
		.flags2 = req->flags2,
		.uid = c->uid,
		.mid = req->mid,
	};
	int n, ret;

	n = wire_encode(&h, body, len, c->out, sizeof(c->out));
	if (n < 0)
		return reject(c, req, "reply does not fit: %s", wire_strerror(n));
	wire_sign(&c->signer, WIRE_TO_CLIENT, c->out + 4, (size_t)n - 4);
	ret = wire_write_all(c->fd, c->out, (size_t)n);
	if (ret < 0)
		return reject(c, req, "cannot send reply: %s", strerror(-ret));
	return n;
}

static int negotiate(struct conn *c, const struct wire_hdr *h, const uint8_t *body, size_t len)
{
	uint8_t resp[WIRE_NEGOTIATE_RESP_LEN];

	if (len != WIRE_NEGOTIATE_REQ_LEN)
		return reject(c, h, "negotiate body is %zu bytes, expected %u", len,
			      WIRE_NEGOTIATE_REQ_LEN);
	memcpy(c->cnonce, body, WIRE_NONCE_LEN);
	/* The routine KB916846 replaces: called per connection, from whichever
	 * worker holds it, so a live patch takes effect at the next negotiate. */
	srv_negotiate_signing(&c->srv->cfg, h->flags2, &c->neg);
	wire_random(c->snonce, WIRE_NONCE_LEN);
	resp[0] = c->neg.security_mode;
	memcpy(resp + 1, c->snonce, WIRE_NONCE_LEN);
	c->state = WANT_SESSION;
	return reply(c, h, SMB_STATUS_OK, resp, sizeof(resp));
}

static int session_setup(struct conn *c, const struct wire_hdr *h, const uint8_t *body,
			 size_t len)
{
	uint8_t proof[WIRE_PROOF_LEN];
	int sign;

	if (len != WIRE_SESSION_REQ_LEN)
		return reject(c, h, "session setup body is %zu bytes, expected %u", len,
			      WIRE_SESSION_REQ_LEN);
	wire_session_proof(c->cnonce, c->snonce, proof);
	if (wire_memcmp(proof, body, WIRE_PROOF_LEN) != 0) {
		reply(c, h, SMB_STATUS_ACCESS_DENIED, NULL, 0);
		return reject(c, h, "session setup proof does not match the shared secret");
	}
	sign = srv_session_signing(&c->neg, h->flags2);
	if (sign < 0) {
		reply(c, h, SMB_STATUS_SIGNING_REQUIRED, NULL, 0);
		return reject(c, h, "signing mismatch: server %s signing (SecurityMode 0x%02x), client Flags2 0x%04x",
			      c->neg.require ? "requires" : "does not offer", c->neg.security_mode,
			      h->flags2);
	}
	c->uid = (uint16_t)(1 + (randombytes_random() & 0x7ffe));
	if (sign) {
		wire_session_key(c->cnonce, c->snonce, c->signer.key);
		c->signer.active = 1;
	}
	c->state = IN_SESSION;
	return reply(c, h, SMB_STATUS_OK, NULL, 0);
}

/* Names in the share: plain file names, no paths, no hidden files. */
static int valid_name(const uint8_t *name, size_t len)
{
	size_t i;

	if (len == 0 || len > WIRE_NAME_MAX || name[0] == '.')
		return 0;
	for (i = 0; i < len; i++) {
		uint8_t ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

static int read_file(struct conn *c, const struct wire_hdr *h, const uint8_t *body, size_t len)
{
	char name[WIRE_NAME_MAX + 1];
	uint8_t data[WIRE_MAX_BODY];
	uint32_t offset, count;
	ssize_t n;
	int fd, ret;

	if (len < WIRE_READ_REQ_MIN)
		return reject(c, h, "read body is %zu bytes, shorter than %u", len,
			      WIRE_READ_REQ_MIN);
	offset = wire_get32(body);
	count = wire_get16(body + 4);
	if (count > WIRE_MAX_BODY)
		return reject(c, h, "read of %u bytes, more than %u", count, WIRE_MAX_BODY);
	if (!valid_name(body + 6, len - 6))
		return reply(c, h, SMB_STATUS_INVALID_PARAMETER, NULL, 0);
	memcpy(name, body + 6, len - 6);
	name[len - 6] = '\0';
	fd = openat(c->srv->share_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return reply(c, h, errno == ENOENT ? SMB_STATUS_NO_SUCH_FILE : SMB_STATUS_ACCESS_DENIED,
			     NULL, 0);
	n = pread(fd, data, count, offset);
	close(fd);
	if (n < 0)
		return reply(c, h, SMB_STATUS_ACCESS_DENIED, NULL, 0);
	ret = reply(c, h, SMB_STATUS_OK, data, (size_t)n);
	return ret;
}

static int handle(struct conn *c, const struct wire_hdr *h, const uint8_t *body, size_t len)
{
	if (h->flags & SMB_FLAGS_REPLY)
		return reject(c, h, "reply flag set on a request");
	switch (c->state) {
	case WANT_NEGOTIATE:
		if (h->command != SMB_COM_NEGOTIATE)
			return reject(c, h, "expected negotiate first");
		return negotiate(c, h, body, len);
	case WANT_SESSION:
		if (h->command != SMB_COM_SESSION_SETUP)
			return reject(c, h, "expected session setup after negotiate");
		return session_setup(c, h, body, len);
	case IN_SESSION:
		break;
	}
	if (h->uid != c->uid)
		return reject(c, h, "unknown session id %u", h->uid);
	switch (h->command) {
	case SMB_COM_ECHO:
		return reply(c, h, SMB_STATUS_OK, body, len);
	case SMB_COM_READ:
		return read_file(c, h, body, len);
	case SMB_COM_NEGOTIATE:
	case SMB_COM_SESSION_SETUP:
		return reject(c, h, "%s again inside a session", wire_command_name(h->command));
	}
	return reject(c, h, "unknown command");
}

/* Read one frame into c->in. 1: a frame of *len bytes; 0: the peer closed
 * cleanly between frames; -1: dropped (logged). */
static int receive(struct conn *c, size_t *len)
{
	uint8_t prefix[4];
	int ret;

	ret = wire_read_all(c->fd, prefix, sizeof(prefix));
	if (ret == -EPIPE)
		return 0;
	if (ret == -EAGAIN || ret == -EWOULDBLOCK)
		return reject(c, NULL, "idle for too long");
	if (ret == -ENODATA)
		return reject(c, NULL, "truncated frame (connection closed inside the length prefix)");
	if (ret < 0)
		return reject(c, NULL, "receive failed: %s", strerror(-ret));
	ret = wire_frame_len(prefix, len);
	if (ret < 0)
		return reject(c, NULL, "%s: length prefix says %u bytes (header %u, limit %u)",
			      wire_strerror(ret),
			      (unsigned)(prefix[0] << 24 | prefix[1] << 16 | prefix[2] << 8 | prefix[3]),
			      WIRE_HDR_LEN, WIRE_MAX_FRAME);
	ret = wire_read_all(c->fd, c->in, *len);
	if (ret == -EPIPE || ret == -ENODATA)
		return reject(c, NULL, "truncated frame (connection closed after the length prefix said %zu bytes)",
			      *len);
	if (ret < 0)
		return reject(c, NULL, "receive failed: %s", strerror(-ret));
	return 1;
}

void srv_serve(struct srv_server *srv, int fd, const char *peer)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c) {
		srv_log("%s: out of memory; dropping connection", peer);
		return;
	}
	c->srv = srv;
	c->fd = fd;
	c->peer = peer;
	__atomic_fetch_add(&srv_stats.connections, 1, __ATOMIC_RELAXED);
	for (;;) {
		struct wire_hdr h;
		const uint8_t *body;
		size_t len, blen;
		uint64_t t0;
		int ret;

		ret = receive(c, &len);
		if (ret <= 0)
			break;
		t0 = now_us();
		ret = wire_decode(c->in, len, &h, &body, &blen);
		if (ret < 0) {
			reject(c, NULL, "%s", wire_strerror(ret));
			break;
		}
		if (c->signer.active) {
			ret = wire_verify(&c->signer, WIRE_TO_SERVER, c->in, len);
			if (ret < 0) {
				reject(c, &h, "%s: frame seq %u, expected %u", wire_strerror(ret),
				       h.seq, c->signer.recv_seq);
				break;
			}
		}
		ret = handle(c, &h, body, blen);
		if (ret < 0)
			break;
		srv_stats_request(h.command, len, (size_t)ret, now_us() - t0);
	}
	sodium_memzero(&c->signer, sizeof(c->signer));
	free(c);
}
