/* The client side of a connection: negotiate, the signing decision, session
 * setup, then signed or unsigned requests. Replies are checked as strictly
 * as the server checks requests: command, reply flag, request id, MAC and
 * sequence number. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "mrx_negotiate.h"
#include "mrx_stats.h"
#include "mrxsmb.h"
#include "smb_wire.h"

#ifndef TARGET_VERSION
#define TARGET_VERSION "0.0.0.0"
#endif

struct mrx_conn {
	int fd;                          /* connected socket */
	char server[64];                 /* "address:port", for messages */
	uint16_t flags2;                 /* Flags2 of every request after negotiate */
	uint16_t uid;                    /* session id from session setup */
	uint16_t mid;                    /* id of the last request */
	struct wire_signer signer;       /* signing state of the session */
	char err[320];                   /* last error */
	uint8_t in[WIRE_MAX_FRAME];      /* frame received (after the length prefix) */
	uint8_t out[4 + WIRE_MAX_FRAME]; /* frame to send */
};

const char *mrx_version(void)
{
	return TARGET_VERSION;
}

int mrx_config_load(const char *path, struct signing_config *cfg, char *err, size_t errlen)
{
	return cfg_load(path, cfg, err, errlen);
}

static int fail(struct mrx_conn *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct mrx_conn *c, int code, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, sizeof(c->err), "%s: %s", c->server, msg);
	return code;
}

const char *mrx_last_error(const struct mrx_conn *c)
{
	return c->err[0] ? c->err : "no error";
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int send_request(struct mrx_conn *c, uint8_t command, uint16_t flags2, const void *body,
			size_t len)
{
	struct wire_hdr h = {
		.command = command,
		.flags2 = flags2,
		.uid = c->uid,
		.mid = ++c->mid,
	};
	int n, ret;

	n = wire_encode(&h, body, len, c->out, sizeof(c->out));
	if (n < 0)
		return fail(c, -EMSGSIZE, "%s request: %s", wire_command_name(command),
			    wire_strerror(n));
	wire_sign(&c->signer, WIRE_TO_SERVER, c->out + 4, (size_t)n - 4);
	ret = wire_write_all(c->fd, c->out, (size_t)n);
	if (ret < 0)
		return fail(c, ret, "cannot send %s request: %s", wire_command_name(command),
			    strerror(-ret));
	return 0;
}

/* Receive the reply to the last request into c->in and check it. */
static int receive_reply(struct mrx_conn *c, uint8_t command, struct wire_hdr *h,
			 const uint8_t **body, size_t *blen)
{
	uint8_t prefix[4];
	size_t len = 0;
	int ret;

	memset(h, 0, sizeof(*h));
	*body = NULL;
	*blen = 0;

	ret = wire_read_all(c->fd, prefix, sizeof(prefix));
	if (ret == 0) {
		ret = wire_frame_len(prefix, &len);
		if (ret < 0)
			return fail(c, -EPROTO, "%s reply: %s", wire_command_name(command),
				    wire_strerror(ret));
		ret = wire_read_all(c->fd, c->in, len);
	}
	if (ret == -EPIPE || ret == -ENODATA)
		return fail(c, -ECONNRESET, "server closed the connection during the %s reply",
			    wire_command_name(command));
	if (ret == -EAGAIN || ret == -EWOULDBLOCK)
		return fail(c, -ETIMEDOUT, "no %s reply in time", wire_command_name(command));
	if (ret < 0)
		return fail(c, ret, "receiving the %s reply: %s", wire_command_name(command),
			    strerror(-ret));
	ret = wire_decode(c->in, len, h, body, blen);
	if (ret < 0)
		return fail(c, -EPROTO, "%s reply: %s", wire_command_name(command),
			    wire_strerror(ret));
	if (h->command != command || !(h->flags & SMB_FLAGS_REPLY) || h->mid != c->mid)
		return fail(c, -EPROTO, "unexpected reply (command 0x%02x, mid %u) to %s mid %u",
			    h->command, h->mid, wire_command_name(command), c->mid);
	if (c->signer.active) {
		ret = wire_verify(&c->signer, WIRE_TO_CLIENT, c->in, len);
		if (ret < 0)
			return fail(c, -EBADMSG, "%s reply: %s", wire_command_name(command),
				    wire_strerror(ret));
	}
	return 0;
}

static int parse_server(const char *server, struct sockaddr_in *sa)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strrchr(server, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - server) >= sizeof(host))
		return -EINVAL;
	memcpy(host, server, (size_t)(colon - server));
	host[colon - server] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static void set_outcome(struct mrx_outcome *out, int result, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_outcome(struct mrx_outcome *out, int result, const char *fmt, ...)
{
	va_list ap;

	out->result = result;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

/* Negotiate and session setup on a connected c; fills *out. 0 when a
 * session exists. */
static int establish(struct mrx_conn *c, const struct signing_config *cfg,
		     struct mrx_outcome *out)
{
	uint8_t cnonce[WIRE_NONCE_LEN], snonce[WIRE_NONCE_LEN], proof[WIRE_PROOF_LEN];
	struct mrx_signing sig;
	struct wire_hdr h;
	const uint8_t *body;
	size_t blen;
	uint16_t flags2;

	wire_random(cnonce, sizeof(cnonce));
	flags2 = mrx_negotiate_flags2(cfg);
	out->flags2 = flags2;
	if (send_request(c, SMB_COM_NEGOTIATE, flags2, cnonce, sizeof(cnonce)) < 0 ||
	    receive_reply(c, SMB_COM_NEGOTIATE, &h, &body, &blen) < 0)
		goto error;
	if (h.status != SMB_STATUS_OK || blen != WIRE_NEGOTIATE_RESP_LEN) {
		fail(c, -EPROTO, "negotiate reply: status 0x%08x, %zu bytes", h.status, blen);
		goto error;
	}
	out->security_mode = body[0];
	memcpy(snonce, body + 1, WIRE_NONCE_LEN);
	mrx_negotiate_signing(cfg, body[0], &sig);
	if (sig.decision == MRX_REFUSE) {
		set_outcome(out, MRX_NO_COMMUNICATION,
			    "%s (SecurityMode 0x%02x, client Flags2 0x%04x); client refuses the session",
			    mrx_reason_text(sig.reason), body[0], flags2);
		return -1;
	}
	c->flags2 = mrx_session_flags2(flags2, &sig);
	wire_session_proof(cnonce, snonce, proof);
	/* The session setup request goes unsigned (there is no key yet); its
	 * reply is the first frame the server signs, unless it is a refusal. */
	if (send_request(c, SMB_COM_SESSION_SETUP, c->flags2, proof, sizeof(proof)) < 0 ||
	    receive_reply(c, SMB_COM_SESSION_SETUP, &h, &body, &blen) < 0)
		goto error;
	if (h.status == SMB_STATUS_SIGNING_REQUIRED)
		goto refused;
	if (h.status != SMB_STATUS_OK) {
		fail(c, -EACCES, "session setup refused: status 0x%08x", h.status);
		goto error;
	}
	c->uid = h.uid;
	if (sig.decision == MRX_SIGN) {
		int ret;

		wire_session_key(cnonce, snonce, c->signer.key);
		c->signer.active = 1;
		ret = wire_verify(&c->signer, WIRE_TO_CLIENT, c->in, WIRE_HDR_LEN + blen);
		if (ret < 0) {
			fail(c, -EBADMSG, "session setup reply: %s", wire_strerror(ret));
			goto error;
		}
	}
	if (sig.decision == MRX_SIGN)
		set_outcome(out, MRX_SIGNED, "%s (SecurityMode 0x%02x, client Flags2 0x%04x)",
			    mrx_reason_text(sig.reason), out->security_mode, flags2);
	else
		set_outcome(out, MRX_NOT_SIGNED, "%s (SecurityMode 0x%02x, client Flags2 0x%04x)",
			    mrx_reason_text(sig.reason), out->security_mode, flags2);
	return 0;
refused:
	set_outcome(out, MRX_NO_COMMUNICATION,
		    "server refused the session: it requires signing and this client does not sign (SecurityMode 0x%02x, client Flags2 0x%04x)",
		    out->security_mode, flags2);
	return -1;
error:
	set_outcome(out, MRX_ERROR, "%s", c->err);
	return -1;
}

struct mrx_conn *mrx_connect(const char *server, const struct signing_config *cfg,
			     int timeout_ms, struct mrx_outcome *out)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	struct mrx_conn *c = NULL;
	struct sockaddr_in sa;
	int one = 1;

	memset(out, 0, sizeof(*out));
	if (sodium_init() < 0) {
		set_outcome(out, MRX_ERROR, "libsodium initialisation failed");
		return NULL;
	}
	if (parse_server(server, &sa) < 0) {
		set_outcome(out, MRX_ERROR, "%s: expected IPV4-ADDRESS:PORT", server);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		set_outcome(out, MRX_ERROR, "%s: out of memory", server);
		return NULL;
	}
	snprintf(c->server, sizeof(c->server), "%s", server);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		set_outcome(out, MRX_ERROR, "%s: socket: %s", server, strerror(errno));
		goto fail;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		set_outcome(out, MRX_ERROR, "%s: cannot connect: %s", server, strerror(errno));
		goto fail;
	}
	if (establish(c, cfg, out) < 0)
		goto fail;
	return c;
fail:
	mrx_close(c);
	return NULL;
}

int mrx_echo(struct mrx_conn *c, const void *data, size_t len)
{
	struct wire_hdr h;
	const uint8_t *body;
	size_t blen;
	uint64_t t0 = now_us();
	int ret;

	ret = send_request(c, SMB_COM_ECHO, c->flags2, data, len);
	if (ret < 0)
		return ret;
	ret = receive_reply(c, SMB_COM_ECHO, &h, &body, &blen);
	if (ret < 0)
		return ret;
	if (h.status != SMB_STATUS_OK || blen != len || (len && memcmp(body, data, len) != 0))
		return fail(c, -EPROTO, "echo reply differs from the request (status 0x%08x, %zu bytes)",
			    h.status, blen);
	mrx_stats_request(SMB_COM_ECHO, blen, now_us() - t0);
	return 0;
}

int mrx_read(struct mrx_conn *c, const char *name, uint32_t offset, uint16_t count,
	     void *buf, size_t *got)
{
	uint8_t req[WIRE_READ_REQ_MIN + WIRE_NAME_MAX];
	size_t nlen = strlen(name), blen;
	const uint8_t *body;
	struct wire_hdr h;
	uint64_t t0 = now_us();
	int ret;

	if (nlen == 0 || nlen > WIRE_NAME_MAX)
		return fail(c, -EINVAL, "read: name '%s' is empty or longer than %u", name,
			    WIRE_NAME_MAX);
	wire_put32(req, offset);
	wire_put16(req + 4, count);
	memcpy(req + WIRE_READ_REQ_MIN, name, nlen);
	ret = send_request(c, SMB_COM_READ, c->flags2, req, WIRE_READ_REQ_MIN + nlen);
	if (ret < 0)
		return ret;
	ret = receive_reply(c, SMB_COM_READ, &h, &body, &blen);
	if (ret < 0)
		return ret;
	if (h.status == SMB_STATUS_NO_SUCH_FILE)
		return fail(c, -ENOENT, "read %s: no such file in the share", name);
	if (h.status != SMB_STATUS_OK)
		return fail(c, -EACCES, "read %s: status 0x%08x", name, h.status);
	if (blen > count)
		return fail(c, -EPROTO, "read %s: %zu bytes for a read of %u", name, blen, count);
	memcpy(buf, body, blen);
	*got = blen;
	mrx_stats_request(SMB_COM_READ, blen, now_us() - t0);
	return 0;
}

void mrx_close(struct mrx_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	sodium_memzero(&c->signer, sizeof(c->signer));
	free(c);
}
