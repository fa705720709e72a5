/* smbcli against srv over loopback, as the later live-patching tests will
 * use it: the three outcomes of "connect" with their exit codes and
 * reasons, the load report (text and JSON), and --reconnect noticing at
 * once when new connections start to come out differently (here because
 * the server is replaced by a fixed one on the same port).
 * make check runs this on the build's srv, smbcli and libmrxsmb.so and
 * again on cold-patched ones (ts_target(), HP_TARGET_ROOT): the first test
 * checks the processes run the files under test, and the outcomes expected
 * follow the matrix's rule for what those files are, patched or not. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support.h"

static const char *dir;
static char conf_off[512], conf_on[512], conf_req[512];
static int srv_patched, lib_patched; /* ts_target("srv"), ("libmrxsmb.so") cold-patched */

static int setup(void)
{
	char share[600], file[700];

	dir = ts_tmpdir();
	if (!dir)
		return -1;
	snprintf(conf_off, sizeof(conf_off), "%s/disabled.conf", dir);
	snprintf(conf_on, sizeof(conf_on), "%s/enabled.conf", dir);
	snprintf(conf_req, sizeof(conf_req), "%s/required.conf", dir);
	snprintf(share, sizeof(share), "%s/share", dir);
	snprintf(file, sizeof(file), "%s/share/readme.txt", dir);
	mkdir(share, 0755);
	if (ts_write_file(conf_off, "EnableSecuritySignature = 0\nRequireSecuritySignature = 0\n", 56) ||
	    ts_write_file(conf_on, "EnableSecuritySignature = 1\nRequireSecuritySignature = 0\n", 56) ||
	    ts_write_file(conf_req, "EnableSecuritySignature = 1\nRequireSecuritySignature = 1\n", 56) ||
	    ts_write_file(file, "hello\n", 6))
		return -1;
	srv_patched = ts_cold_patched(ts_target("srv"), NULL, 0);
	lib_patched = ts_cold_patched(ts_target("libmrxsmb.so"), NULL, 0);
	return srv_patched < 0 || lib_patched < 0 ? -1 : 0;
}

static pid_t start_srv(const char *binary, const char *conf, int port)
{
	char listen[64], share[600];
	char *argv[] = { (char *)binary, "--listen", listen, "--config", (char *)conf, "--share",
			 share, "--threads", "8", NULL };
	pid_t pid;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(share, sizeof(share), "%s/share", dir);
	pid = ts_spawn(argv, NULL);
	if (pid > 0 && !ts_wait_port(port, 5000)) {
		ts_stop(pid, 1000);
		return -1;
	}
	return pid;
}

static int cli(const char *binary, const char *conf, int port, char **out, char **err)
{
	char server[64];
	char *argv[] = { (char *)binary, "connect", "--server", server, "--config", (char *)conf,
			 "--read", "readme.txt", NULL };

	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	return ts_run(argv, NULL, out, err);
}

/* srv and a load of smbcli, each checked to map the file under test, and
 * whether that file is patched to be the one setup() found. */
static void components_under_test(void)
{
	int port = ts_free_port(), status;
	pid_t srv = start_srv(ts_target("srv"), conf_req, port), load;
	char server[64], log[700];
	char *argv[] = { (char *)ts_target("smbcli"), "load", "--server", server, "--config",
			 conf_req, "--clients", "2", "--duration", "1", "--read", "readme.txt",
			 NULL };

	CU_ASSERT_FATAL(srv > 0);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	snprintf(log, sizeof(log), "%s/components.log", dir);
	load = ts_spawn(argv, log);
	CU_ASSERT_FATAL(load > 0);
	CU_ASSERT_EQUAL(ts_target_process(srv, "srv"), srv_patched);
	ts_target_process(load, "smbcli");
	CU_ASSERT_EQUAL(ts_target_process(load, "libmrxsmb.so"), lib_patched);
	CU_ASSERT_EQUAL(waitpid(load, &status, 0), load);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(ts_stop(srv, 3000), 0);
}

static void connect_outcomes(void)
{
	const char *smbcli = ts_target("smbcli");
	int port = ts_free_port();
	pid_t srv = start_srv(ts_target("srv"), conf_on, port);
	char *out = NULL;

	CU_ASSERT_FATAL(srv > 0);
	CU_ASSERT_EQUAL(cli(smbcli, conf_on, port, &out, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "signed: client and server both sign (SecurityMode 0x04"));
	free(out);
	CU_ASSERT_EQUAL(cli(smbcli, conf_off, port, &out, NULL), 10);
	CU_ASSERT_PTR_NOT_NULL(out && strncmp(out, "not-signed: ", 12) == 0);
	free(out);
	CU_ASSERT_EQUAL(ts_stop(srv, 3000), 0);

	port = ts_free_port();
	srv = start_srv(ts_target("srv"), conf_req, port);
	CU_ASSERT_FATAL(srv > 0);
	if (lib_patched) {
		/* A patched client signs when the server requires it. */
		CU_ASSERT_EQUAL(cli(smbcli, conf_off, port, &out, NULL), 0);
		CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "signed: client and server both sign (SecurityMode 0x0c"));
	} else {
		CU_ASSERT_EQUAL(cli(smbcli, conf_off, port, &out, NULL), 11);
		CU_ASSERT_PTR_NOT_NULL(out && strstr(out, "no-communication: server requires signing but client will not sign"));
	}
	free(out);
	CU_ASSERT_EQUAL(ts_stop(srv, 3000), 0);
	/* Nobody listening: an error, not an outcome. */
	CU_ASSERT_EQUAL(cli(smbcli, conf_off, port, &out, NULL), 1);
	free(out);
}

static void load_report(void)
{
	int port = ts_free_port();
	pid_t srv = start_srv(ts_target("srv"), conf_req, port);
	char server[64], *out = NULL, *err = NULL;
	char *argv[] = { (char *)ts_target("smbcli"), "load", "--server", server, "--config",
			 conf_req, "--clients", "4", "--duration", "1", "--read", "readme.txt",
			 "--json", NULL };
	long requests = 0;
	char *p;

	CU_ASSERT_FATAL(srv > 0);
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	CU_ASSERT_EQUAL(ts_run(argv, NULL, &out, &err), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"clients\": 4"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"failed\": 0"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"p99_us\": "));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"signed\": 4,"));
	p = strstr(out, "\"requests\": ");
	if (p)
		requests = strtol(p + 12, NULL, 10);
	CU_ASSERT(requests > 100);
	free(out);
	free(err);
	/* Usage errors are status 2. */
	argv[7] = "0";
	CU_ASSERT_EQUAL(ts_run(argv, NULL, NULL, NULL), 2);
	CU_ASSERT_EQUAL(ts_stop(srv, 3000), 0);
}

/* A value of $(O)/targets/versions.sh (VAR='value'), copied into buf. */
static int version_var(const char *var, char *buf, size_t size)
{
	char *versions = ts_read_file(ts_build_path("targets/versions.sh"), NULL), key[64], *v;
	int ret = -1;

	snprintf(key, sizeof(key), "%s='", var);
	v = versions ? strstr(versions, key) : NULL;
	if (v) {
		v += strlen(key);
		snprintf(buf, size, "%.*s", (int)strcspn(v, "'"), v);
		ret = 0;
	}
	free(versions);
	return ret;
}

/* A patched client that requires signing, facing an eligible server with
 * signing disabled: no communication. Replace the server by a fixed one on
 * the same port and the new connections come out signed; the reconnect
 * mode reports the switch as it happens. The fixed server and client are
 * the fixed full builds, or the components under test when they are
 * cold-patched; a cold-patched srv then replaces the original build it was
 * made from. */
static void reconnect_sees_the_switch(void)
{
	char fixed[64], deflt[64], old_srv[1024], new_srv[1024], patched_cli[1024];
	char server[64], log[700], *text;
	int port = ts_free_port(), status;
	pid_t srv, load;

	CU_ASSERT_EQUAL_FATAL(version_var("FIXED_VERSION", fixed, sizeof(fixed)), 0);
	CU_ASSERT_EQUAL_FATAL(version_var("SRV_DEFAULT", deflt, sizeof(deflt)), 0);
	if (srv_patched) {
		snprintf(old_srv, sizeof(old_srv), "%s", ts_build_path("targets/srv/%s/srv", deflt));
		snprintf(new_srv, sizeof(new_srv), "%s", ts_target("srv"));
	} else {
		snprintf(old_srv, sizeof(old_srv), "%s", ts_target("srv"));
		snprintf(new_srv, sizeof(new_srv), "%s", ts_build_path("targets/srv/%s/srv", fixed));
	}
	snprintf(patched_cli, sizeof(patched_cli), "%s", lib_patched ? ts_target("smbcli") :
		 ts_build_path("targets/mrxsmb/%s/smbcli", fixed));
	snprintf(server, sizeof(server), "127.0.0.1:%d", port);
	snprintf(log, sizeof(log), "%s/reconnect.log", dir);

	srv = start_srv(old_srv, conf_off, port);
	CU_ASSERT_FATAL(srv > 0);
	{
		char *argv[] = { patched_cli, "load", "--server", server, "--config", conf_req,
				 "--clients", "2", "--duration", "2.5", "--reconnect", NULL };

		load = ts_spawn(argv, log);
	}
	CU_ASSERT_FATAL(load > 0);
	usleep(800 * 1000);
	CU_ASSERT_EQUAL(ts_stop(srv, 3000), 0);
	srv = start_srv(new_srv, conf_off, port);
	CU_ASSERT_FATAL(srv > 0);
	CU_ASSERT_EQUAL(waitpid(load, &status, 0), load);
	CU_ASSERT_EQUAL(ts_stop(srv, 3000), 0);
	text = ts_read_file(log, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	/* Connections refused while no server listened are failures, so the
	 * exit status may be 1; the outcomes must show the switch. */
	if (!strstr(text, "no-communication (was none)") || !strstr(text, " signed (was "))
		fprintf(stderr, "reconnect output:\n%s\n", text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "no-communication (was none)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, " signed (was "));
	CU_ASSERT(strstr(text, " signed (was ") > strstr(text, "no-communication (was none)"));
	free(text);
}

static void setup_failed(void)
{
	CU_FAIL("could not prepare the test");
}

void test_register(void)
{
	static const struct ts_test tests[] = {
		{ "the processes run the components under test", components_under_test },
		{ "connect: three outcomes, exit codes and reasons", connect_outcomes },
		{ "load: report in JSON, no failures", load_report },
		{ "reconnect mode sees new connections switch", reconnect_sees_the_switch },
		{ NULL, NULL },
	};

	static const struct ts_test broken[] = {
		{ "set up the test directory", setup_failed },
		{ NULL, NULL },
	};

	ts_add_suite("smbcli", setup() < 0 ? broken : tests);
}
