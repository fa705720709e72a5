/* The client's signing negotiation (Mrxsmb.sys of the article, build before
 * KB916846): the routines the hotpatch replaces. Before the fix the client
 * never tells the server that it requires signing, and a client that does
 * not enable signing refuses a server that requires it instead of signing. */
#include "mrx_negotiate.h"

uint16_t mrx_negotiate_flags2(const struct signing_config *cfg)
{
	uint16_t flags2 = MRX_FLAGS2_BASE;

	if (cfg->enable || cfg->require)
		flags2 |= SMB_FLAGS2_SECURITY_SIGNATURE;
	return flags2;
}

void mrx_negotiate_signing(const struct signing_config *cfg, uint8_t security_mode,
			   struct mrx_signing *out)
{
	int client_signs = cfg->enable || cfg->require;
	int server_signs = (security_mode & (SMB_SECURITY_SIGNATURES_ENABLED |
					     SMB_SECURITY_SIGNATURES_REQUIRED)) != 0;
	int server_requires = (security_mode & SMB_SECURITY_SIGNATURES_REQUIRED) != 0;

	out->client_signs = (uint8_t)client_signs;
	out->security_mode = security_mode;
	if (cfg->require && !server_signs) {
		out->decision = MRX_REFUSE;
		out->reason = MRX_R_CLIENT_REQUIRES;
	} else if (server_requires && !client_signs) {
		out->decision = MRX_REFUSE;
		out->reason = MRX_R_SERVER_REQUIRES;
	} else if (client_signs && server_signs) {
		out->decision = MRX_SIGN;
		out->reason = MRX_R_BOTH_SIGN;
	} else {
		out->decision = MRX_NO_SIGN;
		out->reason = client_signs ? MRX_R_SERVER_OFF : MRX_R_CLIENT_OFF;
	}
	__atomic_fetch_add(&mrx_signing_stats.negotiations, 1, __ATOMIC_RELAXED);
	mrx_note_signing(out);
}
