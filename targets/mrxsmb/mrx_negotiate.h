/* The client's signing decision: the two routines KB916846 replaces, and
 * the library-owned helper and counters they use. The corrected routines in
 * the patch payload compile against this header alone (with
 * targets/common), so nothing here may change layout between versions. */
#ifndef MRX_NEGOTIATE_H
#define MRX_NEGOTIATE_H

#include <stdint.h>

#include "smb_config.h"
#include "smb_wire.h"

/* Flags2 bits every request carries, signing aside: long names, NT status
 * codes, Unicode, as an NT client sends them. */
#define MRX_FLAGS2_BASE 0xc001

/* The client's decision after the negotiate response. */
enum mrx_decision {
	MRX_SIGN = 0,     /* both sides sign: the session is signed */
	MRX_NO_SIGN = 1,  /* the session goes on unsigned */
	MRX_REFUSE = 2,   /* a side requires signing the other will not do */
};

/* Why the client decided as it did (mrx_reason_text() names them). */
enum mrx_reason {
	MRX_R_BOTH_SIGN = 0,         /* client and server sign */
	MRX_R_CLIENT_OFF = 1,        /* client does not sign, server does not require */
	MRX_R_SERVER_OFF = 2,        /* server does not sign, client does not require */
	MRX_R_CLIENT_REQUIRES = 3,   /* client requires, server will not sign */
	MRX_R_SERVER_REQUIRES = 4,   /* server requires, client will not sign */
};

struct mrx_signing {
	uint8_t decision;       /* enum mrx_decision */
	uint8_t reason;         /* enum mrx_reason */
	uint8_t client_signs;   /* 1: the client is willing to sign */
	uint8_t security_mode;  /* the server's SecurityMode, as received */
};

/* Counters of the client's decisions, shared by every connection. */
struct mrx_signing_stats {
	unsigned long negotiations;  /* negotiate responses decided */
	unsigned long signed_;       /* ... signed */
	unsigned long unsigned_;     /* ... not signed */
	unsigned long refused;       /* ... no communication */
};

extern struct mrx_signing_stats mrx_signing_stats;

/* The Flags2 the client announces in its negotiate request. */
uint16_t mrx_negotiate_flags2(const struct signing_config *cfg);

/* Decide from the client's settings and the server's SecurityMode whether
 * to sign, go on unsigned, or refuse; fills *out. */
void mrx_negotiate_signing(const struct signing_config *cfg, uint8_t security_mode,
			   struct mrx_signing *out);

/* Record a decision in mrx_signing_stats. */
void mrx_note_signing(const struct mrx_signing *sig);

/* The Flags2 of the session setup request: the negotiate Flags2, with
 * SECURITY_SIGNATURE set exactly when the client signs this session. */
uint16_t mrx_session_flags2(uint16_t negotiate_flags2, const struct mrx_signing *sig);

/* A sentence for a reason. */
const char *mrx_reason_text(uint8_t reason);

#endif
