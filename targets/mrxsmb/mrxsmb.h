/* libmrxsmb: the client side of the SMB-shaped protocol (Lanmanworkstation
 * of the article). Connect to a server, agree on signing, and send echo and
 * read requests over the session. Thread-safe as long as each connection is
 * used by one thread at a time. */
#ifndef MRXSMB_H
#define MRXSMB_H

#include <stddef.h>
#include <stdint.h>

#include "smb_config.h"

/* How a connection attempt ended. */
enum mrx_result {
	MRX_SIGNED = 0,            /* session set up, every frame signed */
	MRX_NOT_SIGNED = 1,        /* session set up, frames not signed */
	MRX_NO_COMMUNICATION = 2,  /* signing settings incompatible: no session */
	MRX_ERROR = 3,             /* network or protocol error */
};

struct mrx_outcome {
	int result;              /* enum mrx_result */
	uint16_t flags2;         /* Flags2 the client announced at negotiate */
	uint8_t security_mode;   /* SecurityMode the server announced */
	char reason[256];        /* why, in words */
};

struct mrx_conn;

/* Version of the library ("5.2.3790.2697"). */
const char *mrx_version(void);

/* Read lanmanworkstation.conf (see config.h for the errors). */
int mrx_config_load(const char *path, struct signing_config *cfg, char *err, size_t errlen);

/* Connect to server ("127.0.0.1:PORT"), negotiate and set up a session.
 * Returns the connection (caller frees with mrx_close()) when the outcome
 * is MRX_SIGNED or MRX_NOT_SIGNED; NULL otherwise, with *out saying why.
 * timeout_ms bounds each receive. */
struct mrx_conn *mrx_connect(const char *server, const struct signing_config *cfg,
			     int timeout_ms, struct mrx_outcome *out);

/* Echo len bytes (at most 8192) and check the reply. 0, or a negative
 * errno (-EPROTO for a bad reply, -EBADMSG for a bad MAC); the connection
 * is unusable after an error. */
int mrx_echo(struct mrx_conn *c, const void *data, size_t len);

/* Read up to count bytes of the shared file name at offset into buf;
 * *got is the number of bytes read. -ENOENT if the server has no such file. */
int mrx_read(struct mrx_conn *c, const char *name, uint32_t offset, uint16_t count,
	     void *buf, size_t *got);

/* Text of the last error on c. */
const char *mrx_last_error(const struct mrx_conn *c);

/* Close the connection and free it; NULL is fine. */
void mrx_close(struct mrx_conn *c);

#endif
