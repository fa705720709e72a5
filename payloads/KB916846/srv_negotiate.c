/* KB916846, server side: the corrected srv_negotiate_signing. Same name,
 * signature and data layout as the original in targets/srv/negotiate.c;
 * the one change is that a client announcing on the wire that it requires
 * signing (Flags2 SECURITY_SIGNATURE_REQUIRED, which only a patched client
 * sends) makes the server sign even when its own setting is Disabled.
 *
 * This file is both the hotpatch payload and, compiled in place of the
 * original, the negotiation routine of the fixed full build 5.2.3790.2734,
 * so the fix has exactly one source. */
#include "srv_negotiate.h"

void srv_negotiate_signing(const struct signing_config *cfg, uint16_t flags2,
			   struct srv_signing *out)
{
	int client_requires = (flags2 & SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED) != 0;
	int sign = cfg->enable || cfg->require || client_requires;

	out->sign = (uint8_t)sign;
	out->require = (uint8_t)(cfg->require != 0);
	out->security_mode = (uint8_t)((sign ? SMB_SECURITY_SIGNATURES_ENABLED : 0) |
				       (cfg->require ? SMB_SECURITY_SIGNATURES_REQUIRED : 0));
	out->client_flags2 = (uint8_t)flags2;
	__atomic_fetch_add(&srv_signing_stats.negotiations, 1, __ATOMIC_RELAXED);
	srv_note_signing(out);
}
