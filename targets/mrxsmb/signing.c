/* Library-owned helpers around the client's negotiation routines: decision
 * counters, the session setup Flags2 and the reason texts. They stay outside
 * negotiate.c so that both the original routines and their KB916846
 * replacements call into the loaded library here (the payload's relocations
 * point at these symbols). */
#include "mrx_negotiate.h"

struct mrx_signing_stats mrx_signing_stats;

void mrx_note_signing(const struct mrx_signing *sig)
{
	unsigned long *counter = &mrx_signing_stats.unsigned_;

	if (sig->decision == MRX_SIGN)
		counter = &mrx_signing_stats.signed_;
	else if (sig->decision == MRX_REFUSE)
		counter = &mrx_signing_stats.refused;
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

uint16_t mrx_session_flags2(uint16_t negotiate_flags2, const struct mrx_signing *sig)
{
	uint16_t flags2 = negotiate_flags2 & (uint16_t)~SMB_FLAGS2_SECURITY_SIGNATURE;

	if (sig->decision == MRX_SIGN)
		flags2 |= SMB_FLAGS2_SECURITY_SIGNATURE;
	return flags2;
}

const char *mrx_reason_text(uint8_t reason)
{
	switch (reason) {
	case MRX_R_BOTH_SIGN: return "client and server both sign";
	case MRX_R_CLIENT_OFF: return "client does not sign and server does not require it";
	case MRX_R_SERVER_OFF: return "server does not sign and client does not require it";
	case MRX_R_CLIENT_REQUIRES: return "client requires signing but server will not sign";
	case MRX_R_SERVER_REQUIRES: return "server requires signing but client will not sign";
	}
	return "unknown reason";
}
