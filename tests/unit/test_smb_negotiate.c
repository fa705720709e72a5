/* The signing negotiation routines of srv and libmrxsmb at function level:
 * the original routines and their KB916846 replacements (the payload
 * sources, linked here under a second name) against every cell of the
 * article's interoperability matrix, the project's copy of which lives in
 * targets/kb916846-matrix.tsv. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrx_negotiate.h"
#include "smb_config.h"
#include "srv_negotiate.h"
#include "support.h"

/* The payload objects, renamed by objcopy (targets/targets.mk). */
void srv_negotiate_signing_fixed(const struct signing_config *cfg, uint16_t flags2,
				 struct srv_signing *out);
uint16_t mrx_negotiate_flags2_fixed(const struct signing_config *cfg);
void mrx_negotiate_signing_fixed(const struct signing_config *cfg, uint8_t security_mode,
				 struct mrx_signing *out);

static struct signing_config setting(const char *name)
{
	struct signing_config c = { 0, 0 };

	if (strcmp(name, "enabled") == 0)
		c.enable = 1;
	else if (strcmp(name, "required") == 0)
		c.enable = c.require = 1;
	else
		CU_ASSERT_STRING_EQUAL(name, "disabled");
	return c;
}

/* One connection, as srv and smbcli run it, reduced to the routines:
 * negotiate request Flags2, the server's decision, the client's decision,
 * the session setup Flags2 and the server's check of it. */
static const char *run_cell(int client_patched, const struct signing_config *ccfg,
			    int server_patched, const struct signing_config *scfg)
{
	struct srv_signing s;
	struct mrx_signing m;
	uint16_t flags2;
	int r;

	flags2 = client_patched ? mrx_negotiate_flags2_fixed(ccfg) : mrx_negotiate_flags2(ccfg);
	if (server_patched)
		srv_negotiate_signing_fixed(scfg, flags2, &s);
	else
		srv_negotiate_signing(scfg, flags2, &s);
	if (client_patched)
		mrx_negotiate_signing_fixed(ccfg, s.security_mode, &m);
	else
		mrx_negotiate_signing(ccfg, s.security_mode, &m);
	if (m.decision == MRX_REFUSE)
		return "no-communication";
	r = srv_session_signing(&s, mrx_session_flags2(flags2, &m));
	if (r < 0)
		return "no-communication";
	/* Both ends must agree on whether frames are signed. */
	CU_ASSERT_EQUAL(r == 1, m.decision == MRX_SIGN);
	return r ? "signed" : "not-signed";
}

static void all_36_cells(void)
{
	char path[4096], line[256];
	int cells = 0, differ_from_unpatched = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/targets/kb916846-matrix.tsv", ts_src_dir());
	f = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fgets(line, sizeof(line), f));
	CU_ASSERT_STRING_EQUAL(line, "client_build\tclient_signing\tserver_build\tserver_signing\tresult\n");
	while (fgets(line, sizeof(line), f)) {
		char cb[16], cs[16], sb[16], ss[16], want[32];
		struct signing_config ccfg, scfg;
		const char *got, *unpatched;

		CU_ASSERT_EQUAL_FATAL(sscanf(line, "%15s %15s %15s %15s %31s", cb, cs, sb, ss, want), 5);
		ccfg = setting(cs);
		scfg = setting(ss);
		got = run_cell(strcmp(cb, "patched") == 0, &ccfg, strcmp(sb, "patched") == 0, &scfg);
		if (strcmp(got, want) != 0)
			fprintf(stderr, "cell %s/%s vs %s/%s: expected %s, got %s\n", cb, cs, sb, ss,
				want, got);
		CU_ASSERT_STRING_EQUAL(got, want);
		unpatched = run_cell(0, &ccfg, 0, &scfg);
		if (strcmp(unpatched, want) != 0)
			differ_from_unpatched++;
		cells++;
	}
	fclose(f);
	CU_ASSERT_EQUAL(cells, 36);
	/* The fix must matter: some cells only come out right with it. */
	CU_ASSERT(differ_from_unpatched > 0);
}

static void unpatched_client_never_announces_required(void)
{
	static const char *const names[] = { "disabled", "enabled", "required" };
	int i;

	for (i = 0; i < 3; i++) {
		struct signing_config c = setting(names[i]);
		uint16_t orig = mrx_negotiate_flags2(&c), fixed = mrx_negotiate_flags2_fixed(&c);

		CU_ASSERT_EQUAL(orig & SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED, 0);
		CU_ASSERT_EQUAL(!!(fixed & SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED), c.require);
		CU_ASSERT_EQUAL(!!(orig & SMB_FLAGS2_SECURITY_SIGNATURE), c.enable);
		CU_ASSERT_EQUAL(orig & ~SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED,
				fixed & ~SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED);
	}
}

static void security_mode_bits(void)
{
	struct signing_config off = setting("disabled"), req = setting("required");
	struct srv_signing s;

	srv_negotiate_signing(&req, 0, &s);
	CU_ASSERT_EQUAL(s.security_mode, SMB_SECURITY_SIGNATURES_ENABLED | SMB_SECURITY_SIGNATURES_REQUIRED);
	CU_ASSERT(s.sign && s.require);
	srv_negotiate_signing(&off, SMB_FLAGS2_SECURITY_SIGNATURE | SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED, &s);
	CU_ASSERT_EQUAL(s.security_mode, 0);
	srv_negotiate_signing_fixed(&off, SMB_FLAGS2_SECURITY_SIGNATURE | SMB_FLAGS2_SECURITY_SIGNATURE_REQUIRED, &s);
	CU_ASSERT_EQUAL(s.security_mode, SMB_SECURITY_SIGNATURES_ENABLED);
	CU_ASSERT(s.sign && !s.require);
	srv_negotiate_signing_fixed(&off, SMB_FLAGS2_SECURITY_SIGNATURE, &s);
	CU_ASSERT_EQUAL(s.security_mode, 0);
}

/* Both versions of each routine go through the target's own helper and
 * counters: that is what the payload's relocations point at. */
static void routines_use_target_counters(void)
{
	struct signing_config en = setting("enabled");
	unsigned long srv0 = srv_signing_stats.negotiations, off0 = srv_signing_stats.offered;
	unsigned long mrx0 = mrx_signing_stats.negotiations, sig0 = mrx_signing_stats.signed_;
	struct srv_signing s;
	struct mrx_signing m;

	srv_negotiate_signing(&en, 0, &s);
	srv_negotiate_signing_fixed(&en, 0, &s);
	CU_ASSERT_EQUAL(srv_signing_stats.negotiations, srv0 + 2);
	CU_ASSERT_EQUAL(srv_signing_stats.offered, off0 + 2);
	mrx_negotiate_signing(&en, SMB_SECURITY_SIGNATURES_ENABLED, &m);
	mrx_negotiate_signing_fixed(&en, SMB_SECURITY_SIGNATURES_ENABLED, &m);
	CU_ASSERT_EQUAL(mrx_signing_stats.negotiations, mrx0 + 2);
	CU_ASSERT_EQUAL(mrx_signing_stats.signed_, sig0 + 2);
}

static void client_refusal_reasons(void)
{
	struct signing_config off = setting("disabled"), req = setting("required");
	struct mrx_signing m;

	mrx_negotiate_signing(&req, 0, &m);
	CU_ASSERT_EQUAL(m.decision, MRX_REFUSE);
	CU_ASSERT_EQUAL(m.reason, MRX_R_CLIENT_REQUIRES);
	mrx_negotiate_signing(&off, SMB_SECURITY_SIGNATURES_ENABLED | SMB_SECURITY_SIGNATURES_REQUIRED, &m);
	CU_ASSERT_EQUAL(m.decision, MRX_REFUSE);
	CU_ASSERT_EQUAL(m.reason, MRX_R_SERVER_REQUIRES);
	mrx_negotiate_signing_fixed(&off, SMB_SECURITY_SIGNATURES_ENABLED | SMB_SECURITY_SIGNATURES_REQUIRED, &m);
	CU_ASSERT_EQUAL(m.decision, MRX_SIGN);
	CU_ASSERT(strlen(mrx_reason_text(m.reason)) > 0);
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "original and corrected routines give all 36 cells", all_36_cells },
		{ "an unpatched client never announces that it requires signing",
		  unpatched_client_never_announces_required },
		{ "server SecurityMode bits", security_mode_bits },
		{ "routines use the target's helper and counters", routines_use_target_counters },
		{ "client refusal reasons", client_refusal_reasons },
		{ NULL, NULL },
	};

	ts_add_suite("smb negotiate", tests);
}
