/* The SMB1-shaped wire protocol shared by srv and libmrxsmb: frame layout,
 * the signing bits of the negotiate exchange, session key derivation and
 * the per-direction MAC. Both sides compile this one definition, so the
 * server and the client can never disagree on a field. */
#ifndef SMB_WIRE_H
#define SMB_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* Frames travel as a 4-byte big-endian length, then a 32-byte header, then
 * the body. The header mirrors SMB1: magic, command, status, flags, Flags2,
 * a sequence number and an 8-byte signature. */
#define WIRE_MAGIC "\xffSMB"
#define WIRE_HDR_LEN 32u
#define WIRE_MAX_BODY 8192u
#define WIRE_MAX_FRAME (WIRE_HDR_LEN + WIRE_MAX_BODY)
#define WIRE_SIG_LEN 8u
#define WIRE_NONCE_LEN 16u
#define WIRE_KEY_LEN 32u
#define WIRE_PROOF_LEN 32u

/* Commands, numbered as in SMB1. */
#define SMB_COM_ECHO 0x2b
#define SMB_COM_READ 0x2e
#define SMB_COM_NEGOTIATE 0x72
#define SMB_COM_SESSION_SETUP 0x73

/* Header flags: set on replies. */
#define SMB_FLAGS_REPLY 0x80

/* Flags2 bits the client sets: it supports signing / it requires signing. */
#define SMB_FLAGS2_SECURITY_SIGNATURE 0x0004
#define SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED 0x0010

/* SecurityMode bits of the negotiate response: the server signs / requires. */
#define SMB_SECURITY_SIGNATURES_ENABLED 0x04
#define SMB_SECURITY_SIGNATURES_REQUIRED 0x08

/* Reply status codes (header field). */
#define SMB_STATUS_OK 0x00000000u
#define SMB_STATUS_ACCESS_DENIED 0xc0000022u
#define SMB_STATUS_NO_SUCH_FILE 0xc000000fu
#define SMB_STATUS_INVALID_PARAMETER 0xc000000du
#define SMB_STATUS_SIGNING_REQUIRED 0xc0000361u

/* Sizes of the bodies with a fixed layout. */
#define WIRE_NEGOTIATE_REQ_LEN WIRE_NONCE_LEN
#define WIRE_NEGOTIATE_RESP_LEN (1u + WIRE_NONCE_LEN)
#define WIRE_SESSION_REQ_LEN WIRE_PROOF_LEN
#define WIRE_READ_REQ_MIN 6u
#define WIRE_NAME_MAX 64u

/* Reasons wire_decode() and wire_verify() reject a frame. */
enum wire_error {
	WIRE_OK = 0,
	WIRE_E_TRUNCATED = -1,   /* fewer bytes than the header or the length says */
	WIRE_E_OVERSIZED = -2,   /* length beyond WIRE_MAX_FRAME */
	WIRE_E_MAGIC = -3,       /* not "\xffSMB" */
	WIRE_E_RESERVED = -4,    /* a reserved field is not zero */
	WIRE_E_BAD_MAC = -5,     /* signature does not match */
	WIRE_E_REPLAY = -6,      /* a sequence number already seen */
	WIRE_E_SEQUENCE = -7,    /* a sequence number out of order (skipped ahead) */
};

struct wire_hdr {
	uint8_t command;           /* SMB_COM_* */
	uint32_t status;           /* SMB_STATUS_* (replies) */
	uint8_t flags;             /* SMB_FLAGS_* */
	uint16_t flags2;           /* SMB_FLAGS2_* */
	uint32_t seq;              /* sequence number in its direction (signed frames) */
	uint8_t sig[WIRE_SIG_LEN]; /* truncated HMAC-SHA256, zero when unsigned */
	uint16_t uid;              /* session id given by session setup */
	uint16_t mid;              /* request id, echoed in the reply */
};

/* Direction of a frame; each has its own sequence counter and MAC label. */
enum wire_dir {
	WIRE_TO_SERVER = 0,
	WIRE_TO_CLIENT = 1,
};

/* Signing state of one side of a connection. */
struct wire_signer {
	int active;                    /* 1 once session setup agreed to sign */
	uint8_t key[WIRE_KEY_LEN];     /* session key */
	uint32_t send_seq;             /* next sequence number to send */
	uint32_t recv_seq;             /* next sequence number expected */
};

/* Encode hdr and body (len bytes) into out, length prefix included. Returns
 * the number of bytes written, or a negative wire_error if it would not fit
 * (out must hold 4 + WIRE_MAX_FRAME). */
int wire_encode(const struct wire_hdr *hdr, const void *body, size_t len, uint8_t *out,
		size_t outsz);

/* Decode the frame (without its length prefix) in buf[0..len): fill hdr and
 * point body and body_len into buf. */
int wire_decode(const uint8_t *buf, size_t len, struct wire_hdr *hdr, const uint8_t **body,
		size_t *body_len);

/* Parse the 4-byte length prefix; WIRE_E_OVERSIZED or WIRE_E_TRUNCATED
 * (shorter than a header) when it cannot be a frame. */
int wire_frame_len(const uint8_t prefix[4], size_t *len);

/* Sign the encoded frame frame[0..len) (after the length prefix) in place with
 * the signer's next send sequence number. */
void wire_sign(struct wire_signer *s, enum wire_dir dir, uint8_t *frame, size_t len);

/* Check the MAC of a received frame (without the length prefix) against the
 * expected sequence number; on success advance it. WIRE_E_REPLAY when the
 * frame carries an old sequence number, WIRE_E_SEQUENCE when it skips ahead,
 * WIRE_E_BAD_MAC when the signature is wrong. */
int wire_verify(struct wire_signer *s, enum wire_dir dir, const uint8_t *frame, size_t len);

/* Fill buf with n random bytes (libsodium). */
void wire_random(uint8_t *buf, size_t n);

/* The client's proof that it knows the shared secret, and the session key,
 * both HMAC-SHA256 over the demo secret and the two nonces. */
void wire_session_proof(const uint8_t cnonce[WIRE_NONCE_LEN],
			const uint8_t snonce[WIRE_NONCE_LEN], uint8_t out[WIRE_PROOF_LEN]);
void wire_session_key(const uint8_t cnonce[WIRE_NONCE_LEN],
		      const uint8_t snonce[WIRE_NONCE_LEN], uint8_t out[WIRE_KEY_LEN]);

/* Constant-time comparison; 0 when equal. */
int wire_memcmp(const void *a, const void *b, size_t n);

/* A short text for a wire_error. */
const char *wire_strerror(int err);

/* Name of a command, or "unknown". */
const char *wire_command_name(uint8_t command);

/* Little-endian helpers for bodies. */
uint16_t wire_get16(const uint8_t *p);
uint32_t wire_get32(const uint8_t *p);
void wire_put16(uint8_t *p, uint16_t v);
void wire_put32(uint8_t *p, uint32_t v);

/* Whole-buffer I/O on a socket, restarting on EINTR. 0 on success, -errno
 * on error, -EPIPE on end of stream (read: before any byte; -ENODATA after
 * some bytes: a truncated frame). */
int wire_write_all(int fd, const void *buf, size_t len);
int wire_read_all(int fd, void *buf, size_t len);

#endif
