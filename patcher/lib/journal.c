/* The journal: what hotpatch did, and what it was about to do.
 *
 * Every step that changes a target (a file replaced, a process patched) is
 * preceded by an "intent" record, written and fsync'd before the step is
 * taken, and followed by a record closing it: "done", "failed" or
 * "aborted". After a crash the journal therefore says at least what might
 * have happened: an intent nobody closed is a step recovery must look at.
 *
 * One record per line, tab-separated key=value fields behind a version tag
 * ("hpj1"), values escaped so that any path fits on one line. No JSON here:
 * the journal is read on every status, so its reader is small, strict and
 * bounded. A crash in the middle of an append can leave a torn last line
 * (no newline): the reader reports and skips it, and the next writer cuts
 * it off; anything else malformed is an error naming the line. The format
 * is documented in docs/formats/journal.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "state.h"

#define TAG "hpj1"
#define TAG_PREFIX "hpj"
#define KEY_MAX 32
#define PACKAGE_MAX 64

/* An intent not closed yet: enough to check that a closing record names
 * the same step. */
struct journal_open {
	uint64_t seq;                  /* the intent's sequence number */
	char *package;                 /* its package id */
	enum hp_journal_action action; /* apply or rollback */
	enum hp_journal_kind kind;     /* disk or live */
	char *path;                    /* disk: the file; NULL for live */
	pid_t pid;                     /* live: process id */
	uint64_t start_time;           /* live: start time, clock ticks after boot */
};

struct hp_journal {
	char *buf;                   /* the bytes read, decoded in place; strings point here */
	struct hp_journal_rec *recs; /* records in file order */
	size_t nrecs;                /* entries in recs */
	unsigned char *closed;       /* closed[i]: recs[i] is an intent a later record closes */
	size_t torn_line;            /* line number of a torn last line, 0 if none */
	size_t whole_len;            /* bytes of buf up to the end of the last whole line */
};

static const char *const action_names[] = {
	[HP_JOURNAL_APPLY] = "apply",
	[HP_JOURNAL_ROLLBACK] = "rollback",
};
static const char *const kind_names[] = {
	[HP_JOURNAL_DISK] = "disk",
	[HP_JOURNAL_LIVE] = "live",
};
static const char *const step_names[] = {
	[HP_JOURNAL_INTENT] = "intent",
	[HP_JOURNAL_DONE] = "done",
	[HP_JOURNAL_FAILED] = "failed",
	[HP_JOURNAL_ABORTED] = "aborted",
};

/* Keys of the fixed fields; a detail may not reuse one. */
static const char *const core_keys[] = {
	"seq", "time", "pkg", "action", "kind", "step", "ref", "path", "dev", "ino", "pid", "start",
};

static const char *name_of(const char *const *names, size_t n, int v)
{
	return v > 0 && (size_t)v < n && names[v] ? names[v] : NULL;
}

const char *hp_journal_action__str(enum hp_journal_action a)
{
	return name_of(action_names, ARRAY_SIZE(action_names), (int)a);
}

const char *hp_journal_kind__str(enum hp_journal_kind k)
{
	return name_of(kind_names, ARRAY_SIZE(kind_names), (int)k);
}

const char *hp_journal_step__str(enum hp_journal_step s)
{
	return name_of(step_names, ARRAY_SIZE(step_names), (int)s);
}

static int lookup(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (names[i] && !strcmp(names[i], s))
			return (int)i;
	return 0;
}

static bool valid_key(const char *k)
{
	size_t i, len = strlen(k);

	if (len == 0 || len > KEY_MAX || k[0] < 'a' || k[0] > 'z')
		return false;
	for (i = 1; i < len; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_' ||
		      k[i] == '-'))
			return false;
	return true;
}

static bool is_core_key(const char *k)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(core_keys); i++)
		if (!strcmp(core_keys[i], k))
			return true;
	return false;
}

/* Package ids are short words: "KB916846". */
static bool valid_package(const char *p)
{
	size_t i, len = strlen(p);

	if (len == 0 || len > PACKAGE_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '_' || p[i] == '-'))
			return false;
	return true;
}

const char *hp_journal_rec__detail(const struct hp_journal_rec *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->ndetails && i < HP_JOURNAL_DETAILS_MAX; i++)
		if (r->details[i].key && !strcmp(r->details[i].key, key))
			return r->details[i].value;
	return NULL;
}

/* Same step, same target? (A file is named by its path: replacing it gives
 * it a new inode. A process by pid and start time: pids are recycled.) */
static bool same_target(const char *pkg, enum hp_journal_action action, enum hp_journal_kind kind,
			const char *path, pid_t pid, uint64_t start, const struct hp_journal_rec *r)
{
	if (strcmp(pkg, r->package) || kind != r->kind || (action && action != r->action))
		return false;
	if (kind == HP_JOURNAL_DISK)
		return path && r->path && !strcmp(path, r->path);
	return pid == r->pid && start == r->start_time;
}

/* The checks shared by the writer and the reader; msg gets the reason. */
static const char *check_record(const struct hp_journal_rec *r)
{
	size_t i, j;

	if (!r->package || !valid_package(r->package))
		return "package id missing or not [A-Za-z0-9._-]{1,64}";
	if (!hp_journal_action__str(r->action))
		return "invalid action";
	if (!hp_journal_kind__str(r->kind))
		return "invalid kind";
	if (!hp_journal_step__str(r->step))
		return "invalid step";
	if (r->step == HP_JOURNAL_INTENT ? r->ref != 0 : r->ref == 0)
		return r->ref ? "an intent closes nothing (ref given)"
			      : "a closing step must name its intent (ref missing)";
	if (r->path && !*r->path)
		return "empty path";
	if (r->kind == HP_JOURNAL_DISK && (!r->path || r->pid))
		return "a disk record needs a path and no pid";
	if (r->kind == HP_JOURNAL_LIVE && r->pid <= 0)
		return "a live record needs a pid and its start time";
	if (r->kind == HP_JOURNAL_DISK && r->start_time)
		return "a disk record has no start time";
	if (r->ndetails > HP_JOURNAL_DETAILS_MAX)
		return "too many details";
	for (i = 0; i < r->ndetails; i++) {
		if (!r->details[i].key || !valid_key(r->details[i].key) ||
		    is_core_key(r->details[i].key))
			return "invalid detail key";
		if (!r->details[i].value)
			return "detail without a value";
		for (j = 0; j < i; j++)
			if (!strcmp(r->details[i].key, r->details[j].key))
				return "duplicate detail key";
	}
	return NULL;
}

/* ---- writing ------------------------------------------------------------ */

struct line {
	char buf[HP_JOURNAL_LINE_MAX]; /* the line being built */
	size_t len;                    /* bytes used */
	bool full;                     /* something did not fit */
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->full || n > sizeof(l->buf) - l->len) {
		l->full = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

/* Backslash, tab, newline and the other control bytes are escaped; every
 * other byte (UTF-8 in paths) is kept as it is. */
static void put_value(struct line *l, const char *v)
{
	char esc[5];

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '\\')
			put(l, "\\\\", 2);
		else if (c == '\t')
			put(l, "\\t", 2);
		else if (c == '\n')
			put(l, "\\n", 2);
		else if (c == '\r')
			put(l, "\\r", 2);
		else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			put(l, esc, 4);
		} else {
			put(l, v, 1);
		}
	}
}

static void put_field(struct line *l, const char *key, const char *value)
{
	put(l, "\t", 1);
	put(l, key, strlen(key));
	put(l, "=", 1);
	put_value(l, value);
}

static void put_u64(struct line *l, const char *key, uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, v);
	put_field(l, key, num);
}

static void format_time(int64_t time_us, char *buf, size_t size)
{
	time_t secs = (time_t)(time_us / 1000000);
	struct tm tm;

	/* Times before 1970 never come from the clock; keep the digits sane. */
	if (time_us < 0)
		time_us = secs = 0;
	gmtime_r(&secs, &tm);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned int)(time_us % 1000000));
}

static void format_record(const struct hp_journal_rec *r, struct line *l)
{
	char when[96];
	size_t i;

	l->len = 0;
	l->full = false;
	put(l, TAG, strlen(TAG));
	put_u64(l, "seq", r->seq);
	format_time(r->time_us, when, sizeof(when));
	put_field(l, "time", when);
	put_field(l, "pkg", r->package);
	put_field(l, "action", hp_journal_action__str(r->action));
	put_field(l, "kind", hp_journal_kind__str(r->kind));
	put_field(l, "step", hp_journal_step__str(r->step));
	if (r->ref)
		put_u64(l, "ref", r->ref);
	if (r->path)
		put_field(l, "path", r->path);
	if (r->dev)
		put_u64(l, "dev", r->dev);
	if (r->ino)
		put_u64(l, "ino", r->ino);
	if (r->pid)
		put_u64(l, "pid", (uint64_t)r->pid);
	/* Always there for a process: 0 is a start time too (early boot). */
	if (r->kind == HP_JOURNAL_LIVE)
		put_u64(l, "start", r->start_time);
	for (i = 0; i < r->ndetails; i++)
		put_field(l, r->details[i].key, r->details[i].value);
	put(l, "\n", 1);
}

static void free_open(struct journal_open *o)
{
	free(o->package);
	free(o->path);
}

void journal_release(struct hp_state *st)
{
	size_t i;

	for (i = 0; i < st->nopen; i++)
		free_open(&st->open[i]);
	free(st->open);
	st->open = NULL;
	st->nopen = 0;
}

static int remember_open(struct hp_state *st, const struct hp_journal_rec *r)
{
	struct journal_open *o, *grown;

	grown = realloc(st->open, (st->nopen + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	st->open = grown;
	o = &st->open[st->nopen];
	memset(o, 0, sizeof(*o));
	o->seq = r->seq;
	o->action = r->action;
	o->kind = r->kind;
	o->pid = r->pid;
	o->start_time = r->start_time;
	o->package = strdup(r->package);
	o->path = r->kind == HP_JOURNAL_DISK ? strdup(r->path) : NULL;
	if (!o->package || (r->kind == HP_JOURNAL_DISK && !o->path)) {
		free_open(o);
		return -ENOMEM;
	}
	st->nopen++;
	return 0;
}

static struct journal_open *find_open(struct hp_state *st, uint64_t seq)
{
	size_t i;

	for (i = 0; i < st->nopen; i++)
		if (st->open[i].seq == seq)
			return &st->open[i];
	return NULL;
}

static void forget_open(struct hp_state *st, struct journal_open *o)
{
	free_open(o);
	*o = st->open[--st->nopen];
}

static int read_fd(int fd, const char *name, char **bufp, size_t *lenp);

/* First append of this run: open (or create) the journal, read it through
 * the strict reader to learn the next sequence number and the open intents,
 * and cut off a torn last line so the next record starts on a line of its
 * own. */
static int open_for_append(struct hp_state *st, char *name)
{
	struct hp_journal *j = NULL;
	bool created = false;
	char *buf = NULL;
	size_t len = 0, i;
	int fd, err;

	fd = openat(st->dirfd, STATE_JOURNAL_NAME, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = openat(st->dirfd, STATE_JOURNAL_NAME,
			    O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		created = true;
	}
	if (fd < 0) {
		err = errno == ELOOP ? -HP_E_STATE : -errno;
		pr_warn("journal: %s: cannot open: %s", name,
			errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return err;
	}
	err = state_check_entry(st, fd, STATE_JOURNAL_NAME, false);
	if (err)
		goto out;
	/* A new file's name is only durable once its directory is synced. */
	if (created && fsync(st->dirfd) < 0) {
		err = -errno;
		pr_warn("journal: %s: syncing the state directory: %s", name, strerror(errno));
		goto out;
	}
	err = read_fd(fd, name, &buf, &len);
	if (err)
		goto out;
	err = hp_journal__parse(buf, len, name, &j);
	if (err) {
		pr_warn("journal: %s: refusing to append to a journal that cannot be read back", name);
		goto out;
	}
	if (j->torn_line) {
		/* The step behind a torn record was never taken: its intent was
		 * not on disk yet, and steps wait for that. */
		if (ftruncate(fd, (off_t)j->whole_len) < 0 || fsync(fd) < 0) {
			err = -errno;
			pr_warn("journal: %s: cannot cut off the torn line %zu: %s", name,
				j->torn_line, strerror(errno));
			goto out;
		}
		pr_warn("journal: %s: line %zu was torn by an interrupted run; removed", name,
			j->torn_line);
	}
	journal_release(st);
	for (i = 0; i < j->nrecs; i++) {
		if (j->recs[i].step != HP_JOURNAL_INTENT || j->closed[i])
			continue;
		err = remember_open(st, &j->recs[i]);
		if (err)
			goto out;
	}
	st->next_seq = j->nrecs ? j->recs[j->nrecs - 1].seq + 1 : 1;
	st->journalfd = fd;
	fd = -1;
out:
	if (err)
		journal_release(st);
	if (fd >= 0)
		close(fd);
	hp_journal__free(j);
	free(buf);
	return err;
}

int hp_journal__append(struct hp_state *st, struct hp_journal_rec *rec)
{
	struct journal_open *o = NULL;
	struct line *l = NULL;
	struct timespec now;
	char *name = NULL;
	const char *why;
	struct stat sb;
	ssize_t n;
	int err;

	err = state_check_writable(st, "writing the journal");
	if (err)
		return err;
	if (asprintf(&name, "%s/%s", st->path, STATE_JOURNAL_NAME) < 0)
		return -ENOMEM;
	if (st->journalfd < 0) {
		err = open_for_append(st, name);
		if (err)
			goto out;
	}
	rec->seq = st->next_seq;
	clock_gettime(CLOCK_REALTIME, &now);
	rec->time_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;

	why = check_record(rec);
	if (!why && rec->ref) {
		o = find_open(st, rec->ref);
		if (!o)
			why = "ref names no open intent";
		else if (!same_target(o->package, o->action, o->kind, o->path, o->pid,
				      o->start_time, rec))
			why = "ref names an intent for another step or target";
	}
	if (why) {
		pr_warn("journal: %s: refusing to write a bad record: %s", name, why);
		err = -EINVAL;
		goto out;
	}
	l = malloc(sizeof(*l));
	if (!l) {
		err = -ENOMEM;
		goto out;
	}
	format_record(rec, l);
	if (l->full) {
		pr_warn("journal: %s: record for %s longer than %d bytes; not written", name,
			rec->path ? rec->path : rec->package, HP_JOURNAL_LINE_MAX);
		err = -HP_E_TOO_BIG;
		goto out;
	}
	if (fstat(st->journalfd, &sb) < 0) {
		err = -errno;
		goto out;
	}
	/* One write per record: a crash tears at most this line. A short
	 * write (full disk) is undone so the journal stays whole. */
	do
		n = write(st->journalfd, l->buf, l->len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)l->len) {
		err = n < 0 ? -errno : -ENOSPC;
		pr_warn("journal: %s: cannot append: %s", name, strerror(-err));
		if (ftruncate(st->journalfd, sb.st_size) < 0)
			pr_warn("journal: %s: cannot remove the partial record: %s", name,
				strerror(errno));
		goto out;
	}
	if (fdatasync(st->journalfd) < 0) {
		err = -errno;
		pr_warn("journal: %s: cannot sync: %s", name, strerror(errno));
		goto out;
	}
	st->next_seq++;
	if (rec->step == HP_JOURNAL_INTENT)
		err = remember_open(st, rec);
	else
		forget_open(st, o);
out:
	free(l);
	free(name);
	return err;
}

int hp_journal__append_step(struct hp_state *st, const struct hp_journal_rec *intent,
			    enum hp_journal_step step, const struct hp_journal_detail *details,
			    size_t ndetails, uint64_t *seq)
{
	struct hp_journal_rec r;
	int err;

	if (ndetails > HP_JOURNAL_DETAILS_MAX || (ndetails && !details) ||
	    intent->step != HP_JOURNAL_INTENT || step == HP_JOURNAL_INTENT) {
		pr_warn("journal: %s: invalid closing step for record %" PRIu64, st->path,
			intent->seq);
		return -EINVAL;
	}
	memset(&r, 0, sizeof(r));
	r.ref = intent->seq;
	r.package = intent->package;
	r.action = intent->action;
	r.kind = intent->kind;
	r.step = step;
	r.path = intent->path;
	r.dev = intent->dev;
	r.ino = intent->ino;
	r.pid = intent->pid;
	r.start_time = intent->start_time;
	r.ndetails = ndetails;
	if (ndetails)
		memcpy(r.details, details, ndetails * sizeof(*details));
	err = hp_journal__append(st, &r);
	if (!err && seq)
		*seq = r.seq;
	return err;
}

/* ---- reading ------------------------------------------------------------ */

static int read_fd(int fd, const char *name, char **bufp, size_t *lenp)
{
	struct stat sb;
	size_t len = 0;
	char *buf;
	ssize_t n;

	*bufp = NULL;
	*lenp = 0;
	if (fstat(fd, &sb) < 0)
		return -errno;
	if ((uint64_t)sb.st_size > HP_JOURNAL_FILE_MAX) {
		pr_warn("journal: %s: %lld bytes, more than the %u a journal may hold", name,
			(long long)sb.st_size, HP_JOURNAL_FILE_MAX);
		return -HP_E_TOO_BIG;
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf)
		return -ENOMEM;
	/* Read what is there now; a writer appending meanwhile only adds a
	 * line we see next time (or see torn, which is not fatal). */
	while (len < (size_t)sb.st_size) {
		n = pread(fd, buf + len, (size_t)sb.st_size - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			pr_warn("journal: %s: %s", name, strerror(errno));
			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

int hp_journal__read(struct hp_state *st, struct hp_journal **out)
{
	char *name = NULL, *buf = NULL;
	size_t len = 0;
	int fd = -1, err;

	*out = NULL;
	if (st->dirfd < 0)
		return hp_journal__parse("", 0, st->path, out);
	if (asprintf(&name, "%s/%s", st->path, STATE_JOURNAL_NAME) < 0)
		return -ENOMEM;
	fd = openat(st->dirfd, STATE_JOURNAL_NAME, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			err = hp_journal__parse("", 0, name, out);
			goto out;
		}
		err = errno == ELOOP ? -HP_E_STATE : -errno;
		pr_warn("journal: %s: %s", name,
			errno == ELOOP ? "is a symbolic link; refusing it" : strerror(errno));
		goto out;
	}
	err = state_check_entry(st, fd, STATE_JOURNAL_NAME, false);
	if (err)
		goto out;
	err = read_fd(fd, name, &buf, &len);
	if (err)
		goto out;
	err = hp_journal__parse(buf, len, name, out);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(name);
	return err;
}

/* Decode the escapes of v in place. */
static bool unescape(char *v)
{
	char *w = v;
	unsigned int x;

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c != '\\') {
			*w++ = *v;
			continue;
		}
		switch (*++v) {
		case '\\': *w++ = '\\'; break;
		case 't': *w++ = '\t'; break;
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 'x':
			if (sscanf(v + 1, "%2x", &x) != 1 || !v[1] || !v[2] ||
			    !strchr("0123456789abcdef", v[1]) || !strchr("0123456789abcdef", v[2]) ||
			    x == 0)
				return false;
			*w++ = (char)x;
			v += 2;
			break;
		default:
			return false;
		}
	}
	*w = '\0';
	return true;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	const char *p;

	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9' || n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*v = n;
	return true;
}

/* "2026-11-25T04:51:03.123456Z", exactly. */
static bool parse_time(const char *s, int64_t *us)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	struct tm tm;
	int y, mo, d, h, mi, se, frac;
	time_t t;
	size_t i;

	if (strlen(s) != sizeof(shape) - 1)
		return false;
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%6dZ", &y, &mo, &d, &h, &mi, &se, &frac) != 7)
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 || y < 1970)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*us = (int64_t)t * 1000000 + frac;
	return true;
}

/* Parse one line (NUL-terminated, newline removed) into r. Returns NULL or
 * the reason it is malformed, with the offending key in *what. */
static const char *parse_line(char *line, struct hp_journal_rec *r, const char **what)
{
	bool seen_seq = false, seen_time = false, seen_start = false;
	char *field, *next, *eq;
	uint64_t v;
	int e;

	memset(r, 0, sizeof(*r));
	*what = NULL;
	next = strchr(line, '\t');
	if (next)
		*next++ = '\0';
	if (strcmp(line, TAG)) {
		if (!strncmp(line, TAG_PREFIX, strlen(TAG_PREFIX)))
			return "unsupported journal format version (this hotpatch reads hpj1)";
		return "not a journal record (no hpj1 tag)";
	}
	while (next) {
		field = next;
		next = strchr(field, '\t');
		if (next)
			*next++ = '\0';
		eq = strchr(field, '=');
		if (!eq)
			return "field without '='";
		*eq = '\0';
		*what = field;
		if (!valid_key(field))
			return "invalid key";
		if (!unescape(eq + 1))
			return "bad escape or control byte in value";
		if (!strcmp(field, "seq")) {
			if (seen_seq || !parse_u64(eq + 1, &r->seq) || !r->seq)
				return "bad or repeated value";
			seen_seq = true;
		} else if (!strcmp(field, "time")) {
			if (seen_time || !parse_time(eq + 1, &r->time_us))
				return "bad or repeated value";
			seen_time = true;
		} else if (!strcmp(field, "pkg")) {
			if (r->package)
				return "repeated";
			r->package = eq + 1;
		} else if (!strcmp(field, "action")) {
			if (r->action || !(e = lookup(action_names, ARRAY_SIZE(action_names), eq + 1)))
				return "bad or repeated value";
			r->action = (enum hp_journal_action)e;
		} else if (!strcmp(field, "kind")) {
			if (r->kind || !(e = lookup(kind_names, ARRAY_SIZE(kind_names), eq + 1)))
				return "bad or repeated value";
			r->kind = (enum hp_journal_kind)e;
		} else if (!strcmp(field, "step")) {
			if (r->step || !(e = lookup(step_names, ARRAY_SIZE(step_names), eq + 1)))
				return "bad or repeated value";
			r->step = (enum hp_journal_step)e;
		} else if (!strcmp(field, "ref")) {
			if (r->ref || !parse_u64(eq + 1, &r->ref) || !r->ref)
				return "bad or repeated value";
		} else if (!strcmp(field, "path")) {
			if (r->path)
				return "repeated";
			r->path = eq + 1;
		} else if (!strcmp(field, "dev")) {
			if (r->dev || !parse_u64(eq + 1, &r->dev) || !r->dev)
				return "bad or repeated value";
		} else if (!strcmp(field, "ino")) {
			if (r->ino || !parse_u64(eq + 1, &r->ino) || !r->ino)
				return "bad or repeated value";
		} else if (!strcmp(field, "pid")) {
			if (r->pid || !parse_u64(eq + 1, &v) || !v || v > INT32_MAX)
				return "bad or repeated value";
			r->pid = (pid_t)v;
		} else if (!strcmp(field, "start")) {
			if (seen_start || !parse_u64(eq + 1, &r->start_time))
				return "bad or repeated value";
			seen_start = true;
		} else {
			if (hp_journal_rec__detail(r, field))
				return "repeated";
			if (r->ndetails == HP_JOURNAL_DETAILS_MAX)
				return "too many details";
			r->details[r->ndetails].key = field;
			r->details[r->ndetails].value = eq + 1;
			r->ndetails++;
		}
	}
	*what = NULL;
	if (!seen_seq)
		return "no seq";
	if (!seen_time)
		return "no time";
	if (r->kind == HP_JOURNAL_LIVE && !seen_start)
		return "a live record needs a pid and its start time";
	if (r->kind != HP_JOURNAL_LIVE && seen_start)
		return "a disk record has no start time";
	return check_record(r);
}

int hp_journal__parse(const char *data, size_t len, const char *name, struct hp_journal **out)
{
	struct hp_journal *j = NULL;
	size_t lineno = 0, cap = 0, off = 0, linelen;
	const char *why, *what;
	struct hp_journal_rec *r, *in;
	char *line, *nl;
	int err = 0;

	*out = NULL;
	if (len > HP_JOURNAL_FILE_MAX) {
		pr_warn("journal: %s: %zu bytes, more than the %u a journal may hold", name, len,
			HP_JOURNAL_FILE_MAX);
		return -HP_E_TOO_BIG;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->buf = malloc(len + 1))) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(j->buf, data, len);
	j->buf[len] = '\0';

	while (off < len) {
		line = j->buf + off;
		lineno++;
		nl = memchr(line, '\n', len - off);
		if (!nl) {
			/* No newline: an append that a crash (or a writer still at
			 * work) cut short. Not an error: the step was not taken. */
			if (len - off >= HP_JOURNAL_LINE_MAX)
				goto too_long;
			j->torn_line = lineno;
			pr_warn("journal: %s: line %zu is incomplete (an interrupted write); ignored",
				name, lineno);
			break;
		}
		linelen = (size_t)(nl - line) + 1;
		if (linelen > HP_JOURNAL_LINE_MAX)
			goto too_long;
		off += linelen;
		*nl = '\0';
		if (memchr(line, '\0', linelen - 1)) {
			why = "NUL byte in the line";
			what = NULL;
			goto bad;
		}
		if (j->nrecs == cap) {
			struct hp_journal_rec *grown;

			cap = cap ? cap * 2 : 64;
			grown = realloc(j->recs, cap * sizeof(*grown));
			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			j->recs = grown;
		}
		r = &j->recs[j->nrecs];
		why = parse_line(line, r, &what);
		if (why)
			goto bad;
		if (j->nrecs && r->seq != j->recs[j->nrecs - 1].seq + 1) {
			why = "sequence number does not follow the previous line's";
			what = "seq";
			goto bad;
		}
		if (r->ref) {
			/* Sequence numbers are consecutive, so seq - first is the
			 * index. */
			uint64_t first = j->nrecs ? j->recs[0].seq : r->seq;

			if (r->ref < first || r->ref >= r->seq) {
				why = "ref names no earlier record";
				what = "ref";
				goto bad;
			}
			in = &j->recs[r->ref - first];
			if (in->step != HP_JOURNAL_INTENT || j->closed[r->ref - first] ||
			    !same_target(in->package, in->action, in->kind, in->path, in->pid,
					 in->start_time, r)) {
				why = "ref names no open intent for the same step and target";
				what = "ref";
				goto bad;
			}
		}
		{
			unsigned char *grown = realloc(j->closed, j->nrecs + 1);

			if (!grown) {
				err = -ENOMEM;
				goto out;
			}
			j->closed = grown;
			j->closed[j->nrecs] = 0;
			if (r->ref)
				j->closed[r->ref - j->recs[0].seq] = 1;
		}
		j->nrecs++;
		j->whole_len = off;
	}
	*out = j;
	j = NULL;
	goto out;

too_long:
	pr_warn("journal: %s: line %zu: longer than %d bytes", name, lineno, HP_JOURNAL_LINE_MAX);
	err = -HP_E_FORMAT;
	goto out;
bad:
	if (what)
		pr_warn("journal: %s: line %zu: %s: %s", name, lineno, what, why);
	else
		pr_warn("journal: %s: line %zu: %s", name, lineno, why);
	err = -HP_E_FORMAT;
out:
	hp_journal__free(j);
	return err;
}

void hp_journal__free(struct hp_journal *j)
{
	if (!j)
		return;
	free(j->buf);
	free(j->recs);
	free(j->closed);
	free(j);
}

size_t hp_journal__count(const struct hp_journal *j)
{
	return j->nrecs;
}

const struct hp_journal_rec *hp_journal__get(const struct hp_journal *j, size_t i)
{
	return i < j->nrecs ? &j->recs[i] : NULL;
}

size_t hp_journal__torn_line(const struct hp_journal *j)
{
	return j->torn_line;
}

/* ---- naming a process --------------------------------------------------- */

int hp_journal__proc_start(pid_t pid, uint64_t *start)
{
	char path[32], buf[1024], *p, *tok, *save = NULL;
	int fd, field, err;
	ssize_t n;

	if (pid <= 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err == -ESRCH ? -ESRCH : err;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: the
	 * fields after it start behind the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -HP_E_FORMAT;
	for (field = 3, tok = strtok_r(p + 1, " \n", &save); tok;
	     field++, tok = strtok_r(NULL, " \n", &save)) {
		if (field == 22)
			return parse_u64(tok, start) ? 0 : -HP_E_FORMAT;
	}
	return -HP_E_FORMAT;
}

/* ---- replay ------------------------------------------------------------- */

int hp_journal__applied(const struct hp_journal *j, const struct hp_journal_rec ***recs, size_t *n)
{
	const struct hp_journal_rec **list = NULL;
	const struct hp_journal_rec *r;
	size_t i, k, count = 0;

	*recs = NULL;
	*n = 0;
	if (j->nrecs && !(list = calloc(j->nrecs, sizeof(*list))))
		return -ENOMEM;
	for (i = 0; i < j->nrecs; i++) {
		r = &j->recs[i];
		if (r->step != HP_JOURNAL_DONE)
			continue;
		/* The latest completed step for a target decides: drop what an
		 * earlier one said, keep this one if it applied. */
		for (k = 0; k < count; k++) {
			if (same_target(r->package, 0, r->kind, r->path, r->pid, r->start_time,
					list[k])) {
				memmove(&list[k], &list[k + 1], (count - k - 1) * sizeof(*list));
				count--;
				break;
			}
		}
		if (r->action == HP_JOURNAL_APPLY)
			list[count++] = r;
	}
	*recs = list;
	*n = count;
	return 0;
}

int hp_journal__unfinished(const struct hp_journal *j, const struct hp_journal_rec ***recs,
			   size_t *n)
{
	const struct hp_journal_rec **list = NULL;
	size_t i, count = 0;

	*recs = NULL;
	*n = 0;
	if (j->nrecs && !(list = calloc(j->nrecs, sizeof(*list))))
		return -ENOMEM;
	for (i = 0; i < j->nrecs; i++)
		if (j->recs[i].step == HP_JOURNAL_INTENT && !j->closed[i])
			list[count++] = &j->recs[i];
	*recs = list;
	*n = count;
	return 0;
}
