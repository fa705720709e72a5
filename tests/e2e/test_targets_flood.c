/* srv under attack, over real loopback connections: many connections send
 * malformed frames (garbage, truncated, oversized, bad magic, wrong state,
 * unknown command, bad MAC, replayed and out-of-order signed frames) while
 * well-behaved smbcli clients keep working; each violation is logged with
 * its cause; srv never crashes, keeps serving, and stops cleanly on SIGTERM
 * (also while clients hold idle connections). A smaller flood runs srv
 * under valgrind, which must report no invalid access and no leak.
 * make check runs this on the build's srv and smbcli and again on
 * cold-patched ones (ts_target(), HP_TARGET_ROOT); a patched client signs
 * for a server that requires it whatever its own setting. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "smb_wire.h"
#include "support.h"

struct server {
	pid_t pid;          /* srv process */
	int port;           /* its port on 127.0.0.1 */
	const char *dir;    /* temp dir: config, share, log */
	const char *log;    /* srv's stderr */
};

static int start_srv(struct server *s, int valgrind)
{
	char listen[64], conf[512], share[512], vlog[600];
	static const char cfg[] = "EnableSecuritySignature = 1\nRequireSecuritySignature = 1\n";
	const char *srv = ts_target("srv");

	s->dir = ts_tmpdir();
	if (!s->dir)
		return -1;
	snprintf(conf, sizeof(conf), "%s/lanmanserver.conf", s->dir);
	snprintf(share, sizeof(share), "%s/share", s->dir);
	s->log = ts_join(s->dir, "srv.log"); /* freed by ts_cleanup, not leaked */
	mkdir(share, 0755);
	ts_write_file(conf, cfg, sizeof(cfg) - 1);
	snprintf(vlog, sizeof(vlog), "%s/share/readme.txt", s->dir);
	ts_write_file(vlog, "hello\n", 6);
	s->port = ts_free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	if (valgrind) {
		char *argv[] = { "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
				 "--errors-for-leak-kinds=definite,indirect",
				 "--show-leak-kinds=definite,indirect", (char *)srv, "--listen", listen,
				 "--config", conf, "--share", share, "--threads", "4", NULL };

		s->pid = ts_spawn(argv, s->log);
	} else {
		char *argv[] = { (char *)srv, "--listen", listen, "--config", conf, "--share", share,
				 "--threads", "16", NULL };

		s->pid = ts_spawn(argv, s->log);
	}
	if (s->pid <= 0 || !ts_wait_port(s->port, valgrind ? 30000 : 5000))
		return -1;
	return 0;
}

static int dial(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait for the server to close the connection: true if it did (EOF or
 * reset), false if it answered or stayed silent. */
static int dropped(int fd)
{
	uint8_t buf[4 + WIRE_MAX_FRAME];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0)
			return 0;
		/* A refusal reply may precede the close; keep reading. */
	}
}

static int send_frame(int fd, struct wire_signer *s, const struct wire_hdr *h, const void *body,
		      size_t len, uint8_t *out)
{
	int n = wire_encode(h, body, len, out, 4 + WIRE_MAX_FRAME);

	if (n < 0)
		return -1;
	wire_sign(s, WIRE_TO_SERVER, out + 4, (size_t)n - 4);
	return wire_write_all(fd, out, (size_t)n) < 0 ? -1 : n;
}

static int recv_frame(int fd, uint8_t *in, struct wire_hdr *h, const uint8_t **body, size_t *blen)
{
	uint8_t prefix[4];
	size_t len;

	if (wire_read_all(fd, prefix, 4) < 0 || wire_frame_len(prefix, &len) < 0 ||
	    wire_read_all(fd, in, len) < 0)
		return -1;
	return wire_decode(in, len, h, body, blen) < 0 ? -1 : (int)len;
}

/* A signed session by hand, so the test can then misbehave inside it. */
static int session(int port, struct wire_signer *s, uint16_t *uid)
{
	static __thread uint8_t out[4 + WIRE_MAX_FRAME], in[WIRE_MAX_FRAME];
	uint8_t cn[WIRE_NONCE_LEN], sn[WIRE_NONCE_LEN], proof[WIRE_PROOF_LEN];
	struct wire_hdr h = { .command = SMB_COM_NEGOTIATE, .flags2 = 0xc005, .mid = 1 }, r;
	const uint8_t *body;
	size_t blen;
	int fd = dial(port), len;

	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return -1;
	randombytes_buf(cn, sizeof(cn));
	if (send_frame(fd, s, &h, cn, sizeof(cn), out) < 0 ||
	    recv_frame(fd, in, &r, &body, &blen) < 0 || blen != WIRE_NEGOTIATE_RESP_LEN)
		goto fail;
	memcpy(sn, body + 1, WIRE_NONCE_LEN);
	wire_session_proof(cn, sn, proof);
	h.command = SMB_COM_SESSION_SETUP;
	h.mid = 2;
	if (send_frame(fd, s, &h, proof, sizeof(proof), out) < 0 ||
	    (len = recv_frame(fd, in, &r, &body, &blen)) < 0 || r.status != SMB_STATUS_OK)
		goto fail;
	wire_session_key(cn, sn, s->key);
	s->active = 1;
	if (wire_verify(s, WIRE_TO_CLIENT, in, (size_t)len) != WIRE_OK)
		goto fail;
	*uid = r.uid;
	return fd;
fail:
	close(fd);
	return -1;
}

/* The kinds of misbehaviour; each returns 1 when srv dropped the connection
 * as it must. */
enum attack {
	GARBAGE, TRUNCATED, OVERSIZED, BAD_MAGIC, WRONG_STATE, UNKNOWN_COMMAND, BAD_MAC,
	REPLAY, SKIP_SEQ, ATTACKS
};

static int attack(int port, enum attack kind, unsigned seed)
{
	static __thread uint8_t out[4 + WIRE_MAX_FRAME], buf[512];
	struct wire_hdr h = { .command = SMB_COM_ECHO, .flags2 = 0xc005, .mid = 3 };
	struct wire_signer s = { 0 };
	uint16_t uid = 0;
	int fd = -1, n, ok = 0;
	size_t i, len;

	if (kind >= BAD_MAC || kind == UNKNOWN_COMMAND) {
		fd = session(port, &s, &uid);
		if (fd < 0)
			return 0;
		h.uid = uid;
	} else {
		fd = dial(port);
		if (fd < 0)
			return 0;
	}
	switch (kind) {
	case GARBAGE:
		len = 4 + seed % (sizeof(buf) - 4);
		for (i = 0; i < len; i++)
			buf[i] = (uint8_t)(rand_r(&seed) >> 7);
		buf[0] = 0;   /* keep the length small so srv reads, then judges */
		buf[1] = 0;
		wire_write_all(fd, buf, len);
		shutdown(fd, SHUT_WR);
		ok = dropped(fd);
		break;
	case TRUNCATED:
		n = wire_encode(&h, "truncated", 9, out, sizeof(out));
		wire_write_all(fd, out, (size_t)n - 1 - seed % 20);
		shutdown(fd, SHUT_WR);
		ok = dropped(fd);
		break;
	case OVERSIZED:
		n = wire_encode(&h, NULL, 0, out, sizeof(out));
		out[0] = 0x7f;
		wire_write_all(fd, out, (size_t)n);
		ok = dropped(fd);
		break;
	case BAD_MAGIC:
		n = wire_encode(&h, "x", 1, out, sizeof(out));
		out[4] = 0xfe;
		wire_write_all(fd, out, (size_t)n);
		ok = dropped(fd);
		break;
	case WRONG_STATE:
		/* An echo before negotiate. */
		send_frame(fd, &s, &h, "early", 5, out);
		ok = dropped(fd);
		break;
	case UNKNOWN_COMMAND:
		h.command = 0xa0;
		send_frame(fd, &s, &h, "", 0, out);
		ok = dropped(fd);
		break;
	case BAD_MAC:
		n = wire_encode(&h, "tampered", 8, out, sizeof(out));
		wire_sign(&s, WIRE_TO_SERVER, out + 4, (size_t)n - 4);
		out[n - 1] ^= 1;
		wire_write_all(fd, out, (size_t)n);
		ok = dropped(fd);
		break;
	case REPLAY: {
		uint8_t in[WIRE_MAX_FRAME];
		struct wire_hdr r;
		const uint8_t *body;
		size_t blen;

		n = send_frame(fd, &s, &h, "once", 4, out);
		if (n < 0 || recv_frame(fd, in, &r, &body, &blen) < 0)
			break;
		wire_write_all(fd, out, (size_t)n);
		ok = dropped(fd);
		break;
	}
	case SKIP_SEQ:
		s.send_seq = 5;
		send_frame(fd, &s, &h, "ahead", 5, out);
		ok = dropped(fd);
		break;
	case ATTACKS:
		break;
	}
	close(fd);
	return ok;
}

struct flood {
	int port;          /* srv port */
	int rounds;        /* connections per attack kind */
	unsigned seed;     /* per thread */
	int dropped;       /* connections srv dropped as it should */
	int total;         /* connections attempted */
};

static void *flood_thread(void *p)
{
	struct flood *f = p;
	int r, k;

	for (r = 0; r < f->rounds; r++)
		for (k = 0; k < ATTACKS; k++) {
			int ok = attack(f->port, (enum attack)k, f->seed + (unsigned)(r * 31 + k));

			if (!ok)
				fprintf(stderr, "attack %d (round %d) was not dropped\n", k, r);
			f->dropped += ok;
			f->total++;
		}
	return NULL;
}

static int run_flood(int port, int threads, int rounds)
{
	pthread_t t[16];
	struct flood f[16];
	int i, dropped = 0, total = 0;

	for (i = 0; i < threads; i++) {
		f[i] = (struct flood){ .port = port, .rounds = rounds, .seed = 1000u * (unsigned)i };
		pthread_create(&t[i], NULL, flood_thread, &f[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		dropped += f[i].dropped;
		total += f[i].total;
	}
	CU_ASSERT_EQUAL(dropped, total);
	return total;
}

static int smbcli_connect(int port, const char *dir, int enable, int require, char **out)
{
	char server[64], conf[512], cfg[128];
	char *argv[] = { (char *)ts_target("smbcli"), "connect", "--server", server,
			 "--config", conf, "--read", "readme.txt", NULL };

	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	snprintf(conf, sizeof(conf), "%s/client.conf", dir);
	snprintf(cfg, sizeof(cfg), "EnableSecuritySignature = %d\nRequireSecuritySignature = %d\n",
		 enable, require);
	ts_write_file(conf, cfg, strlen(cfg));
	return ts_run(argv, NULL, out, NULL);
}

static void check_log_reasons(const char *log)
{
	static const char *const reasons[] = {
		"truncated frame", "oversized frame", "bad protocol magic", "expected negotiate first",
		"unknown command", "bad MAC", "replayed frame", "sequence number out of order",
	};
	char *text = ts_read_file(log, NULL);
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		if (!strstr(text, reasons[i]))
			fprintf(stderr, "srv log lacks '%s'\n", reasons[i]);
		CU_ASSERT_PTR_NOT_NULL(strstr(text, reasons[i]));
	}
	/* Each line names the peer. */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "srv: 127.0.0.1:"));
	free(text);
}

static void flood_leaves_clients_served(void)
{
	struct server s;
	char server[64], conf[512], *out = NULL;
	static const char cfg[] = "EnableSecuritySignature = 1\nRequireSecuritySignature = 1\n";
	bool client_patched;
	pid_t load;
	int status, total;

	CU_ASSERT_EQUAL_FATAL(start_srv(&s, 0), 0);
	snprintf(server, sizeof(server), "127.0.0.1:%d", s.port);
	snprintf(conf, sizeof(conf), "%s/signing.conf", s.dir);
	ts_write_file(conf, cfg, sizeof(cfg) - 1);
	{
		char *argv[] = { (char *)ts_target("smbcli"), "load", "--server", server,
				 "--config", conf, "--clients", "4", "--duration", "3", "--read",
				 "readme.txt", NULL };
		char log[600];

		snprintf(log, sizeof(log), "%s/load.log", s.dir);
		load = ts_spawn(argv, log);
		CU_ASSERT_FATAL(load > 0);
		ts_target_process(s.pid, "srv");
		client_patched = ts_target_process(load, "libmrxsmb.so");
		total = run_flood(s.port, 8, 12);
		CU_ASSERT(total == 8 * 12 * ATTACKS);
		/* The load client exits 0 only if none of its requests failed. */
		CU_ASSERT_EQUAL(waitpid(load, &status, 0), load);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			char *text = ts_read_file(log, NULL);

			fprintf(stderr, "smbcli load during the flood:\n%s\n", text ? text : "");
			free(text);
		}
	}
	CU_ASSERT_EQUAL(kill(s.pid, 0), 0);
	/* A required server and a disabled client: no communication, unless
	 * the client is patched (it then signs because the server requires). */
	status = smbcli_connect(s.port, s.dir, 0, 0, &out);
	CU_ASSERT_EQUAL(status, client_patched ? 0 : 11);
	CU_ASSERT(out && strncmp(out, client_patched ? "signed: " : "no-communication: ",
				 client_patched ? 8 : 18) == 0);
	free(out);
	status = smbcli_connect(s.port, s.dir, 1, 0, &out);
	CU_ASSERT_EQUAL(status, 0);
	CU_ASSERT(out && strncmp(out, "signed: ", 8) == 0);
	free(out);
	check_log_reasons(s.log);
	CU_ASSERT_EQUAL(ts_stop(s.pid, 5000), 0);
}

static void sigterm_with_idle_clients(void)
{
	struct wire_signer sig;
	struct server s;
	uint16_t uid;
	int fds[6], i;

	CU_ASSERT_EQUAL_FATAL(start_srv(&s, 0), 0);
	for (i = 0; i < 6; i++)
		fds[i] = session(s.port, &sig, &uid);
	for (i = 0; i < 6; i++)
		CU_ASSERT(fds[i] >= 0);
	/* Workers sit in read() on idle sessions; SIGTERM must still stop srv
	 * at once and with status 0. */
	CU_ASSERT_EQUAL(ts_stop(s.pid, 3000), 0);
	for (i = 0; i < 6; i++) {
		if (fds[i] >= 0) {
			CU_ASSERT(dropped(fds[i]));
			close(fds[i]);
		}
	}
}

static void flood_under_valgrind(void)
{
	struct server s;
	char *out = NULL, *log;
	int status;

	if (system("valgrind --version >/dev/null 2>&1") != 0) {
		CU_FAIL("valgrind is not installed (mk/deps.sh check installs it)");
		return;
	}
	CU_ASSERT_EQUAL_FATAL(start_srv(&s, 1), 0);
	run_flood(s.port, 3, 1);
	status = smbcli_connect(s.port, s.dir, 1, 1, &out);
	CU_ASSERT_EQUAL(status, 0);
	free(out);
	status = ts_stop(s.pid, 30000);
	log = ts_read_file(s.log, NULL);
	if (status != 0)
		fprintf(stderr, "srv under valgrind exited %d:\n%s\n", status, log ? log : "");
	CU_ASSERT_EQUAL(status, 0);
	CU_ASSERT_PTR_NULL(log ? strstr(log, "==") : NULL);
	free(log);
}

static void init_failed(void)
{
	CU_FAIL("could not prepare the test");
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "a flood of malformed frames leaves srv serving", flood_leaves_clients_served },
		{ "SIGTERM with idle clients: clean exit", sigterm_with_idle_clients },
		{ "flood under valgrind: no invalid access, no leak", flood_under_valgrind },
		{ NULL, NULL },
	};

	static const struct ts_test broken[] = {
		{ "initialise libsodium", init_failed },
		{ NULL, NULL },
	};

	ts_add_suite("srv flood", sodium_init() < 0 ? broken : tests);
}
