/* The server's signing decision: the routine KB916846 replaces, and the
 * server-owned helper and counters it uses. The corrected routine in the
 * patch payload compiles against this header alone (with targets/common),
 * so nothing here may change layout between versions. */
#ifndef SRV_NEGOTIATE_H
#define SRV_NEGOTIATE_H

#include <stdint.h>

#include "smb_config.h"
#include "smb_wire.h"

/* What the server decided at negotiate time, kept for session setup. */
struct srv_signing {
	uint8_t security_mode;  /* SecurityMode announced: SMB_SECURITY_SIGNATURES_* */
	uint8_t sign;           /* 1: the server will sign once the session is set up */
	uint8_t require;        /* 1: the server refuses a session that does not sign */
	uint8_t client_flags2;  /* low byte of the client's negotiate Flags2, as seen */
};

/* Counters of the signing decisions, shared by every worker thread. */
struct srv_signing_stats {
	unsigned long negotiations;       /* negotiate requests decided */
	unsigned long offered;            /* ... where the server announced signing */
	unsigned long required;           /* ... where the server announced it requires it */
	unsigned long client_required;    /* ... where the client announced it requires it */
};

extern struct srv_signing_stats srv_signing_stats;

/* Decide, from the server's settings and the Flags2 of the client's
 * negotiate request, the SecurityMode to announce and whether the server
 * signs and requires signing. Called once per connection by a worker. */
void srv_negotiate_signing(const struct signing_config *cfg, uint16_t flags2,
			   struct srv_signing *out);

/* Record a decision in srv_signing_stats (and the debug log). */
void srv_note_signing(const struct srv_signing *res);

/* At session setup: 1 when the session is signed, 0 when it is not, -1
 * when the server must refuse it (it requires signing and the client will
 * not sign, or the client claims to sign what the server did not offer).
 * session_flags2 is the Flags2 of the session setup request. */
int srv_session_signing(const struct srv_signing *neg, uint16_t session_flags2);

#endif
