/* The server's signing negotiation (Srv.sys of the article, build before
 * KB916846). This is the routine the hotpatch replaces: it decides the
 * SecurityMode from the Lanmanserver settings alone and ignores whether the
 * client announced that it requires signing, which is why a client that
 * requires signing cannot talk to a server that merely does not enable it. */
#include "srv_negotiate.h"

void srv_negotiate_signing(const struct signing_config *cfg, uint16_t flags2,
			   struct srv_signing *out)
{
	int sign = cfg->enable || cfg->require;

	out->sign = (uint8_t)sign;
	out->require = (uint8_t)(cfg->require != 0);
	out->security_mode = (uint8_t)((sign ? SMB_SECURITY_SIGNATURES_ENABLED : 0) |
				       (cfg->require ? SMB_SECURITY_SIGNATURES_REQUIRED : 0));
	out->client_flags2 = (uint8_t)flags2;
	__atomic_fetch_add(&srv_signing_stats.negotiations, 1, __ATOMIC_RELAXED);
	srv_note_signing(out);
}
