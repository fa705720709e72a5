/* KB916846, client side: the corrected mrx_negotiate_flags2 and
 * mrx_negotiate_signing. Same names, signatures and data layout as the
 * originals in targets/mrxsmb/negotiate.c; two changes:
 *  - a client that requires signing says so on the wire (Flags2
 *    SECURITY_SIGNATURE_REQUIRED), so a patched server can agree to sign;
 *  - a client facing a server that requires signing signs, whatever its own
 *    setting, instead of refusing the connection.
 *
 * This file is both the hotpatch payload and, compiled in place of the
 * original, the negotiation code of the fixed full build 5.2.3790.2734. */
#include "mrx_negotiate.h"

uint16_t mrx_negotiate_flags2(const struct signing_config *cfg)
{
	uint16_t flags2 = MRX_FLAGS2_BASE;

	if (cfg->enable || cfg->require)
		flags2 |= SMB_FLAGS2_SECURITY_SIGNATURE;
	if (cfg->require)
		flags2 |= SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED;
	return flags2;
}

void mrx_negotiate_signing(const struct signing_config *cfg, uint8_t security_mode,
			   struct mrx_signing *out)
{
	int server_signs = (security_mode & (SMB_SECURITY_SIGNATURES_ENABLED |
					     SMB_SECURITY_SIGNATURES_REQUIRED)) != 0;
	int server_requires = (security_mode & SMB_SECURITY_SIGNATURES_REQUIRED) != 0;
	int client_signs = cfg->enable || cfg->require || server_requires;

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
