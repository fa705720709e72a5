/* The wire format shared by srv and libmrxsmb: frame encoding and decoding
 * with every malformed shape rejected by name, and the MAC: a good frame
 * verifies once, a changed byte, a wrong key, the wrong direction, a replay
 * and a skipped sequence number are each refused with their own error. */
#include <string.h>

#include <sodium.h>

#include "smb_wire.h"
#include "support.h"

static uint8_t key_a[WIRE_KEY_LEN], key_b[WIRE_KEY_LEN];

static int init(void)
{
	uint8_t cn[WIRE_NONCE_LEN] = { 1 }, sn[WIRE_NONCE_LEN] = { 2 };

	if (sodium_init() < 0)
		return -1;
	wire_session_key(cn, sn, key_a);
	sn[0] = 3;
	wire_session_key(cn, sn, key_b);
	return 0;
}

static int encode_echo(uint8_t *out, size_t outsz, const char *text)
{
	struct wire_hdr h = { .command = SMB_COM_ECHO, .flags2 = 0xc005, .uid = 7, .mid = 9 };

	return wire_encode(&h, text, strlen(text), out, outsz);
}

static void roundtrip(void)
{
	uint8_t buf[4 + WIRE_MAX_FRAME];
	struct wire_hdr h = { .command = SMB_COM_READ, .status = SMB_STATUS_NO_SUCH_FILE,
			      .flags = SMB_FLAGS_REPLY, .flags2 = 0xc015, .seq = 0x01020304,
			      .sig = { 1, 2, 3, 4, 5, 6, 7, 8 }, .uid = 0x1234, .mid = 0xbeef };
	struct wire_hdr d;
	const uint8_t *body;
	size_t blen, flen;
	int n;

	n = wire_encode(&h, "abc", 3, buf, sizeof(buf));
	CU_ASSERT_EQUAL_FATAL(n, 4 + (int)WIRE_HDR_LEN + 3);
	CU_ASSERT_EQUAL(memcmp(buf + 4, WIRE_MAGIC, 4), 0);
	CU_ASSERT_EQUAL(wire_frame_len(buf, &flen), WIRE_OK);
	CU_ASSERT_EQUAL(flen, WIRE_HDR_LEN + 3);
	CU_ASSERT_EQUAL_FATAL(wire_decode(buf + 4, flen, &d, &body, &blen), WIRE_OK);
	CU_ASSERT_EQUAL(d.command, h.command);
	CU_ASSERT_EQUAL(d.status, h.status);
	CU_ASSERT_EQUAL(d.flags, h.flags);
	CU_ASSERT_EQUAL(d.flags2, h.flags2);
	CU_ASSERT_EQUAL(d.seq, h.seq);
	CU_ASSERT_EQUAL(memcmp(d.sig, h.sig, WIRE_SIG_LEN), 0);
	CU_ASSERT_EQUAL(d.uid, h.uid);
	CU_ASSERT_EQUAL(d.mid, h.mid);
	CU_ASSERT_EQUAL(blen, 3);
	CU_ASSERT_EQUAL(memcmp(body, "abc", 3), 0);
}

static void malformed_frames(void)
{
	uint8_t buf[4 + WIRE_MAX_FRAME + 16], small[8];
	static const uint8_t big[4] = { 0, 0, 0x40, 0x01 }, tiny[4] = { 0, 0, 0, 31 };
	struct wire_hdr h = { 0 }, d;
	const uint8_t *body;
	size_t blen, flen;
	int n;

	n = encode_echo(buf, sizeof(buf), "hello");
	CU_ASSERT_FATAL(n > 0);
	CU_ASSERT_EQUAL(wire_decode(buf + 4, WIRE_HDR_LEN - 1, &d, &body, &blen), WIRE_E_TRUNCATED);
	CU_ASSERT_EQUAL(wire_decode(buf + 4, WIRE_MAX_FRAME + 1, &d, &body, &blen), WIRE_E_OVERSIZED);
	CU_ASSERT_EQUAL(wire_frame_len(big, &flen), WIRE_E_OVERSIZED);
	CU_ASSERT_EQUAL(wire_frame_len(tiny, &flen), WIRE_E_TRUNCATED);
	buf[4 + 1] = 'X';
	CU_ASSERT_EQUAL(wire_decode(buf + 4, (size_t)n - 4, &d, &body, &blen), WIRE_E_MAGIC);
	buf[4 + 1] = 'S';
	buf[4 + 29] = 1;
	CU_ASSERT_EQUAL(wire_decode(buf + 4, (size_t)n - 4, &d, &body, &blen), WIRE_E_RESERVED);
	/* Bodies beyond the limit and buffers too small are refused, not cut. */
	CU_ASSERT_EQUAL(wire_encode(&h, buf, WIRE_MAX_BODY + 1, buf, sizeof(buf)), WIRE_E_OVERSIZED);
	CU_ASSERT_EQUAL(wire_encode(&h, NULL, 0, small, sizeof(small)), WIRE_E_TRUNCATED);
	CU_ASSERT_STRING_EQUAL(wire_strerror(WIRE_E_REPLAY), "replayed frame (old sequence number)");
}

static void mac_verifies_once(void)
{
	struct wire_signer tx = { .active = 1 }, rx = { .active = 1 };
	uint8_t buf[4 + WIRE_MAX_FRAME];
	int n;

	memcpy(tx.key, key_a, WIRE_KEY_LEN);
	memcpy(rx.key, key_a, WIRE_KEY_LEN);
	n = encode_echo(buf, sizeof(buf), "signed hello");
	wire_sign(&tx, WIRE_TO_SERVER, buf + 4, (size_t)n - 4);
	CU_ASSERT_EQUAL(tx.send_seq, 1);
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_SERVER, buf + 4, (size_t)n - 4), WIRE_OK);
	CU_ASSERT_EQUAL(rx.recv_seq, 1);
	/* The same frame again is a replay. */
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_SERVER, buf + 4, (size_t)n - 4), WIRE_E_REPLAY);
	CU_ASSERT_EQUAL(rx.recv_seq, 1);
}

static void mac_rejects_tampering(void)
{
	struct wire_signer tx = { .active = 1 }, rx = { .active = 1 }, other = { .active = 1 };
	uint8_t buf[4 + WIRE_MAX_FRAME];
	size_t len;
	int n;

	memcpy(tx.key, key_a, WIRE_KEY_LEN);
	memcpy(rx.key, key_a, WIRE_KEY_LEN);
	memcpy(other.key, key_b, WIRE_KEY_LEN);
	n = encode_echo(buf, sizeof(buf), "signed hello");
	len = (size_t)n - 4;
	wire_sign(&tx, WIRE_TO_SERVER, buf + 4, len);
	CU_ASSERT_EQUAL(wire_verify(&other, WIRE_TO_SERVER, buf + 4, len), WIRE_E_BAD_MAC);
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_CLIENT, buf + 4, len), WIRE_E_BAD_MAC);
	buf[4 + WIRE_HDR_LEN] ^= 1;   /* body */
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_SERVER, buf + 4, len), WIRE_E_BAD_MAC);
	buf[4 + WIRE_HDR_LEN] ^= 1;
	buf[4 + 10] ^= 0x10;          /* Flags2 */
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_SERVER, buf + 4, len), WIRE_E_BAD_MAC);
	buf[4 + 10] ^= 0x10;
	buf[4 + 12] ^= 1;             /* sequence number */
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_SERVER, buf + 4, len), WIRE_E_BAD_MAC);
	buf[4 + 12] ^= 1;
	buf[4 + 16] ^= 0x80;          /* the signature itself */
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_SERVER, buf + 4, len), WIRE_E_BAD_MAC);
	buf[4 + 16] ^= 0x80;
	CU_ASSERT_EQUAL(rx.recv_seq, 0);
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_SERVER, buf + 4, len), WIRE_OK);
}

static void sequence_must_not_skip(void)
{
	struct wire_signer tx = { .active = 1 }, rx = { .active = 1 };
	uint8_t f1[4 + WIRE_MAX_FRAME], f2[4 + WIRE_MAX_FRAME];
	int n1, n2;

	memcpy(tx.key, key_a, WIRE_KEY_LEN);
	memcpy(rx.key, key_a, WIRE_KEY_LEN);
	n1 = encode_echo(f1, sizeof(f1), "one");
	n2 = encode_echo(f2, sizeof(f2), "two");
	wire_sign(&tx, WIRE_TO_CLIENT, f1 + 4, (size_t)n1 - 4);
	wire_sign(&tx, WIRE_TO_CLIENT, f2 + 4, (size_t)n2 - 4);
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_CLIENT, f2 + 4, (size_t)n2 - 4), WIRE_E_SEQUENCE);
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_CLIENT, f1 + 4, (size_t)n1 - 4), WIRE_OK);
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_CLIENT, f2 + 4, (size_t)n2 - 4), WIRE_OK);
	CU_ASSERT_EQUAL(wire_verify(&rx, WIRE_TO_CLIENT, f1 + 4, (size_t)n1 - 4), WIRE_E_REPLAY);
}

static void unsigned_session_leaves_signature_zero(void)
{
	struct wire_signer off = { .active = 0 };
	static const uint8_t zero[WIRE_SIG_LEN];
	uint8_t buf[4 + WIRE_MAX_FRAME];
	int n = encode_echo(buf, sizeof(buf), "plain");

	wire_sign(&off, WIRE_TO_SERVER, buf + 4, (size_t)n - 4);
	CU_ASSERT_EQUAL(memcmp(buf + 4 + 16, zero, WIRE_SIG_LEN), 0);
	CU_ASSERT_EQUAL(off.send_seq, 0);
}

static void session_key_and_proof(void)
{
	uint8_t cn[WIRE_NONCE_LEN] = { 1 }, sn[WIRE_NONCE_LEN] = { 2 };
	uint8_t k[WIRE_KEY_LEN], p[WIRE_PROOF_LEN];

	wire_session_key(cn, sn, k);
	CU_ASSERT_EQUAL(memcmp(k, key_a, WIRE_KEY_LEN), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(key_a, key_b, WIRE_KEY_LEN), 0);
	/* The proof sent in the clear must not be the key. */
	wire_session_proof(cn, sn, p);
	CU_ASSERT_NOT_EQUAL(memcmp(p, k, WIRE_KEY_LEN), 0);
}

static void init_failed(void)
{
	CU_FAIL("could not prepare the test");
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "encode and decode round trip", roundtrip },
		{ "malformed frames rejected by name", malformed_frames },
		{ "a signed frame verifies once", mac_verifies_once },
		{ "changed byte, wrong key, wrong direction: bad MAC", mac_rejects_tampering },
		{ "sequence numbers must not skip or repeat", sequence_must_not_skip },
		{ "unsigned session leaves the signature zero", unsigned_session_leaves_signature_zero },
		{ "session key and proof", session_key_and_proof },
		{ NULL, NULL },
	};

	static const struct ts_test broken[] = {
		{ "initialise libsodium", init_failed },
		{ NULL, NULL },
	};

	ts_add_suite("smb wire", init() < 0 ? broken : tests);
}
