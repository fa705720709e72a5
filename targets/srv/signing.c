/* Server-owned helpers around the negotiation routine: the decision
 * counters and the session-setup check. They stay outside negotiate.c so
 * that both the original routine and its KB916846 replacement call into the
 * running server here (the payload's relocations point at these symbols). */
#include "srv_negotiate.h"

struct srv_signing_stats srv_signing_stats;

void srv_note_signing(const struct srv_signing *res)
{
	if (res->security_mode & SMB_SECURITY_SIGNATURES_ENABLED)
		__atomic_fetch_add(&srv_signing_stats.offered, 1, __ATOMIC_RELAXED);
	if (res->security_mode & SMB_SECURITY_SIGNATURES_REQUIRED)
		__atomic_fetch_add(&srv_signing_stats.required, 1, __ATOMIC_RELAXED);
	if (res->client_flags2 & SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED)
		__atomic_fetch_add(&srv_signing_stats.client_required, 1, __ATOMIC_RELAXED);
}

int srv_session_signing(const struct srv_signing *neg, uint16_t session_flags2)
{
	int client_signs = (session_flags2 & SMB_FLAGS2_SECURITY_SIGNATURE) != 0;

	if (neg->require && !client_signs)
		return -1;
	/* A client may only sign what the server offered in SecurityMode. */
	if (client_signs && !neg->sign)
		return -1;
	return neg->sign && client_signs;
}
