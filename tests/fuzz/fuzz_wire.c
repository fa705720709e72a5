/* Fuzz target: the SMB1-shaped wire frames of srv and mrxsmb
 * (targets/common/wire.c): the length prefix, the header decoder and MAC
 * verification, all of which see bytes straight from a socket. A frame the
 * decoder accepts is encoded again and must come out byte for byte the
 * same; signed with a session key, it must verify once and then be refused
 * as a replay: the properties the two sides rely on. */
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "smb_wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz: wire: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[4 + WIRE_MAX_FRAME], copy[WIRE_MAX_FRAME];
	struct wire_signer tx = { .active = 1 }, rx = { .active = 1 };
	struct wire_hdr hdr;
	const uint8_t *body = NULL;
	size_t body_len = 0, frame_len = 0;
	int n, r;

	/* As the readers do: a 4-byte length, then that many bytes. */
	if (size >= 4 && wire_frame_len(data, &frame_len) == WIRE_OK) {
		check(frame_len >= WIRE_HDR_LEN && frame_len <= WIRE_MAX_FRAME,
		      "frame length out of bounds accepted");
		data += 4;
		size -= 4;
		if (size > frame_len)
			size = frame_len;
	}
	/* A receiver without the key sees a bad MAC (or a short frame). */
	r = wire_verify(&rx, WIRE_TO_SERVER, data, size);
	check(r != WIRE_OK || size >= WIRE_HDR_LEN, "short frame verified");
	(void)wire_strerror(r);

	if (wire_decode(data, size, &hdr, &body, &body_len) != WIRE_OK)
		return 0;
	(void)wire_command_name(hdr.command);
	check(body == data + WIRE_HDR_LEN && body_len == size - WIRE_HDR_LEN,
	      "body outside the frame");
	n = wire_encode(&hdr, body, body_len, out, sizeof(out));
	check(n == (int)(4 + size), "re-encoded frame has another length");
	check(!memcmp(out + 4, data, size), "re-encoded frame differs");

	memset(tx.key, 0x5a, sizeof(tx.key));
	memcpy(rx.key, tx.key, sizeof(rx.key));
	tx.send_seq = rx.recv_seq = hdr.seq;
	memcpy(copy, data, size);
	wire_sign(&tx, WIRE_TO_SERVER, copy, size);
	check(wire_verify(&rx, WIRE_TO_SERVER, copy, size) == WIRE_OK,
	      "a signed frame does not verify");
	rx.recv_seq = hdr.seq + 1;
	if (rx.recv_seq > hdr.seq)
		check(wire_verify(&rx, WIRE_TO_SERVER, copy, size) == WIRE_E_REPLAY,
		      "a frame played twice is not a replay");
	/* The other direction's MAC must not be accepted. */
	rx.recv_seq = hdr.seq;
	check(wire_verify(&rx, WIRE_TO_CLIENT, copy, size) != WIRE_OK,
	      "a frame verified in the wrong direction");
	return 0;
}
