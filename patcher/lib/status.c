/* Status: what is applied where, for `hotpatch status`.
 *
 * The journal says what hotpatch did; the processes say what they carry.
 * This module reads both and says where they disagree. The journal is read
 * from a read-only open of the state directory (no lock, so a status never
 * waits for a run), its completed applies replayed; each process it names is
 * asked for its in-process record (hp_live__status, the truth for a live
 * patch), and every process mapping a file the journal names is examined
 * too, so a record the journal does not know about is found, and so is a
 * process still running an older copy of a file patched on disk, or one
 * started from the patched file. Nothing is written and no process is
 * stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "internal.h"
#include "live.h"
#include "procmaps.h"

/* What one process of the machine maps, kept only for processes that map a
 * file the journal names. */
struct scanned {
	pid_t pid;              /* the process */
	struct procmaps pm;     /* its mappings */
};

struct scan {
	struct scanned *procs;  /* processes mapping a journaled path */
	size_t n;               /* entries used */
};

static void free_target(struct hp_status_target *t)
{
	free(t->package);
	free(t->path);
	free(t->comm);
	free(t->functions);
	free(t->full_build);
	free(t->problem);
}

static void free_procs(struct hp_status_proc *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i].comm);
		free(p[i].path);
		free(p[i].package);
		free(p[i].full_build);
	}
	free(p);
}

void hp_status__free(struct hp_status *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nr_targets; i++)
		free_target(&s->targets[i]);
	free(s->targets);
	free_procs(s->stale, s->nr_stale);
	free_procs(s->started, s->nr_started);
	free(s->unfinished);
	hp_journal__free(s->journal);
	free(s->state_dir);
	free(s);
}

/* The process named by pid and start time is the one running now (a later
 * process may have been given the same pid). */
static bool same_process(pid_t pid, uint64_t start_time)
{
	uint64_t now;

	if (hp_journal__proc_start(pid, &now))
		return false;
	return !start_time || now == start_time;
}

static struct hp_status_target *new_target(struct hp_status *s)
{
	struct hp_status_target *t;

	t = realloc(s->targets, (s->nr_targets + 1) * sizeof(*t));
	if (!t)
		return NULL;
	s->targets = t;
	t = &s->targets[s->nr_targets++];
	memset(t, 0, sizeof(*t));
	return t;
}

/* Names and creation time from the record at region (layout in
 * docs/formats/process-record.md); hp_live__status found and checked it,
 * this only reads the parts it does not return. */
static int read_record_names(pid_t pid, uint64_t region, struct hp_status_target *t)
{
	struct live_rec_hdr hdr;
	struct live_rec_func f;
	char path[64], *list = NULL;
	size_t len = 0;
	unsigned int i;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (pread(fd, &hdr, sizeof(hdr), (off_t)region) != (ssize_t)sizeof(hdr)) {
		err = -EIO;
		goto out;
	}
	if (!t->since_us)
		t->since_us = (int64_t)hdr.created * 1000000;
	for (i = 0; i < hdr.nfuncs && i < LIVE_MAX_FUNCS; i++) {
		size_t nl;
		char *grown;

		if (pread(fd, &f, sizeof(f), (off_t)(region + hdr.hdr_size + (uint64_t)i * hdr.func_size)) !=
		    (ssize_t)sizeof(f)) {
			err = -EIO;
			goto out;
		}
		f.name[sizeof(f.name) - 1] = '\0';
		nl = strlen(f.name);
		grown = realloc(list, len + nl + 2);
		if (!grown) {
			err = -ENOMEM;
			goto out;
		}
		list = grown;
		if (len)
			list[len++] = ',';
		memcpy(list + len, f.name, nl + 1);
		len += nl;
	}
	if (list && !t->functions) {
		t->functions = list;
		list = NULL;
	}
out:
	free(list);
	close(fd);
	return err;
}

/* Ask process t->pid for its record of t->package. */
static int check_process(struct hp_status_target *t)
{
	struct hp_live_status ls;
	int err;

	t->running = same_process(t->pid, t->start_time);
	if (!t->running)
		return 0;
	free(t->comm);
	t->comm = procmaps_comm(t->pid);
	err = hp_live__status(t->pid, t->package, &ls);
	if (err == -HP_E_NOT_APPLIED)
		return 0;
	if (err)
		return err;
	t->region = ls.region;
	t->nfuncs = ls.nfuncs;
	t->applied = ls.applied;
	t->in_process = ls.nfuncs > 0 && ls.applied == ls.nfuncs;
	if (ls.applied)
		read_record_names(t->pid, ls.region, t);
	return 0;
}

static int add_problem(struct hp_status_target *t, unsigned int bit, const char *text)
{
	size_t old = t->problem ? strlen(t->problem) : 0;
	char *p;

	t->problems |= bit;
	p = realloc(t->problem, old + strlen(text) + 3);
	if (!p)
		return -ENOMEM;
	if (old)
		memcpy(p + old, "; ", 3), old += 2;
	strcpy(p + old, text);
	t->problem = p;
	return 0;
}

static int add_problemf(struct hp_status_target *t, unsigned int bit, const char *fmt, ...)
	HP_PRINTF(3, 4);

static int add_problemf(struct hp_status_target *t, unsigned int bit, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return add_problem(t, bit, buf);
}

static bool path_named(const struct hp_journal *j, const char *path)
{
	size_t i;

	for (i = 0; i < hp_journal__count(j); i++) {
		const struct hp_journal_rec *r = hp_journal__get(j, i);

		if (r->path && *r->path && !strcmp(r->path, path))
			return true;
	}
	return false;
}

/* Every process mapping a file some journal record names. Processes that
 * vanish or may not be read while we look are not ours to report. */
static int scan_processes(const struct hp_journal *j, struct scan *sc)
{
	pid_t *pids = NULL;
	size_t n = 0, i, k;
	int err;

	err = procmaps_pids("status", &pids, &n);
	for (i = 0; !err && i < n; i++) {
		struct procmaps pm = { 0 };
		struct scanned *grown;
		char maps[64];
		int fd;

		/* Try the open first: processes we may not read (other users',
		 * without privilege) are silently not ours to report on. */
		snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pids[i]);
		fd = open(maps, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		close(fd);
		if (procmaps_read(pids[i], &pm))
			continue;
		for (k = 0; k < pm.n; k++)
			if (pm.maps[k].inode && path_named(j, pm.maps[k].path))
				break;
		if (k == pm.n) {
			procmaps_free(&pm);
			continue;
		}
		grown = realloc(sc->procs, (sc->n + 1) * sizeof(*grown));
		if (!grown) {
			procmaps_free(&pm);
			err = -ENOMEM;
			break;
		}
		sc->procs = grown;
		sc->procs[sc->n].pid = pids[i];
		sc->procs[sc->n].pm = pm;
		sc->n++;
	}
	free(pids);
	return err;
}

static void free_scan(struct scan *sc)
{
	size_t i;

	for (i = 0; i < sc->n; i++)
		procmaps_free(&sc->procs[i].pm);
	free(sc->procs);
}

static bool unfinished_on(const struct hp_status *s, const char *pkg, enum hp_journal_kind kind,
			  const char *path, pid_t pid)
{
	size_t i;

	for (i = 0; i < s->nr_unfinished; i++) {
		const struct hp_journal_rec *r = s->unfinished[i];

		if (r->kind != kind || strcmp(r->package, pkg))
			continue;
		if (kind == HP_JOURNAL_LIVE ? r->pid == pid : !strcmp(r->path, path))
			return true;
	}
	return false;
}

/* A target from a completed, not rolled back apply in the journal. */
static int from_journal(struct hp_status *s, struct hp_state *st, const struct hp_journal_rec *r)
{
	struct hp_status_target *t;
	const char *funcs, *full, *backup, *new_sha;
	int err;

	t = new_target(s);
	if (!t)
		return -ENOMEM;
	t->package = strdup(r->package);
	t->path = strdup(r->path ? r->path : "");
	funcs = hp_journal_rec__detail(r, "functions");
	if (funcs)
		t->functions = strdup(funcs);
	full = hp_journal_rec__detail(r, "full_build");
	if (full)
		t->full_build = strdup(full);
	if (!t->package || !t->path || (funcs && !t->functions) || (full && !t->full_build))
		return -ENOMEM;
	t->kind = r->kind;
	t->journaled = true;
	t->since_us = r->time_us;
	if (unfinished_on(s, r->package, r->kind, t->path, r->pid)) {
		err = add_problem(t, HP_STATUS_UNFINISHED,
				  "a later step on it was started and never finished");
		if (err)
			return err;
	}
	if (r->kind == HP_JOURNAL_LIVE) {
		t->pid = r->pid;
		t->start_time = r->start_time;
		err = check_process(t);
		if (err)
			return add_problemf(t, HP_STATUS_NO_RECORD, "cannot read the process: %s",
					    hp_strerror(err));
		if (t->running && !t->nfuncs)
			return add_problemf(t, HP_STATUS_NO_RECORD,
					    "the journal says applied, but pid %d carries no record of %s",
					    (int)t->pid, t->package);
		if (t->running && t->applied != t->nfuncs)
			return add_problemf(t, t->applied ? HP_STATUS_PARTIAL : HP_STATUS_NO_RECORD,
					    "only %u of %u functions hold the jump in pid %d",
					    t->applied, t->nfuncs, (int)t->pid);
		return 0;
	}
	/* On disk: the file must still be the patched bytes, and the backup
	 * that rollback needs must be there and sound. */
	new_sha = hp_journal_rec__detail(r, "new_sha256");
	if (new_sha) {
		char now[65];

		if (hp_sha256_file(t->path, now))
			err = add_problem(t, HP_STATUS_FILE_CHANGED, "the patched file is gone");
		else if (strcmp(now, new_sha))
			err = add_problem(t, HP_STATUS_FILE_CHANGED,
					  "the file was changed since it was patched");
		else
			err = 0;
		if (err)
			return err;
	} else if (access(t->path, F_OK)) {
		err = add_problem(t, HP_STATUS_FILE_CHANGED, "the patched file is gone");
		if (err)
			return err;
	}
	backup = hp_journal_rec__detail(r, "backup");
	if (backup) {
		err = hp_backup__verify(st, backup);
		if (err == -ENOENT)
			return add_problemf(t, HP_STATUS_BACKUP, "its backup %.12s... is missing", backup);
		if (err)
			return add_problemf(t, HP_STATUS_BACKUP, "its backup %.12s... is unusable: %s",
					    backup, hp_strerror(err));
	}
	return 0;
}

static bool have_live_target(const struct hp_status *s, pid_t pid, const char *pkg)
{
	size_t i;

	for (i = 0; i < s->nr_targets; i++)
		if (s->targets[i].kind == HP_JOURNAL_LIVE && s->targets[i].pid == pid &&
		    !strcmp(s->targets[i].package, pkg))
			return true;
	return false;
}

/* The path a process maps that the journal names (first one), or "". */
static const char *named_path(const struct hp_journal *j, const struct procmaps *pm)
{
	size_t k;

	for (k = 0; k < pm->n; k++)
		if (pm->maps[k].inode && path_named(j, pm->maps[k].path))
			return pm->maps[k].path;
	return "";
}

/* A process carrying a record the journal has no completed apply for:
 * another state directory's work, or a run killed between its jump and its
 * journal entry. Asked for every package the journal knows. */
static int orphan_records(struct hp_status *s, const struct scan *sc)
{
	size_t i;
	int err;

	for (i = 0; i < sc->n; i++) {
		pid_t pid = sc->procs[i].pid;
		struct hp_live_status ls;
		struct hp_status_target *t;

		if (hp_live__status(pid, NULL, &ls))
			continue;
		ls.id[sizeof(ls.id) - 1] = '\0';
		if (!ls.applied || have_live_target(s, pid, ls.id))
			continue;
		t = new_target(s);
		if (!t)
			return -ENOMEM;
		t->kind = HP_JOURNAL_LIVE;
		t->package = strdup(ls.id);
		t->path = strdup(named_path(s->journal, &sc->procs[i].pm));
		if (!t->package || !t->path)
			return -ENOMEM;
		t->pid = pid;
		hp_journal__proc_start(pid, &t->start_time);
		err = check_process(t);
		if (err)
			continue;
		err = add_problemf(t, HP_STATUS_NO_JOURNAL,
				   "pid %d carries %s but the journal has no completed apply for it%s",
				   (int)pid, t->package,
				   unfinished_on(s, t->package, HP_JOURNAL_LIVE, NULL, pid)
					   ? " (an unfinished step on it may be the cause)" : "");
		if (err)
			return err;
		if (unfinished_on(s, t->package, HP_JOURNAL_LIVE, NULL, pid))
			t->problems |= HP_STATUS_UNFINISHED;
	}
	return 0;
}

static bool live_patched(const struct hp_status *s, pid_t pid, const char *pkg)
{
	size_t i;

	for (i = 0; i < s->nr_targets; i++)
		if (s->targets[i].kind == HP_JOURNAL_LIVE && s->targets[i].pid == pid &&
		    s->targets[i].in_process && !strcmp(s->targets[i].package, pkg))
			return true;
	return false;
}

/* Run the restart scanner (how) over the files of the disk targets want()
 * accepts, and hand add() each process found with each target whose file
 * it maps: status judges "needs a restart" and "started from the patched
 * file" exactly as apply's restart report does. */
static int scan_disk_targets(struct hp_status *s, enum hp_restart_match how,
			     bool (*want)(const struct hp_status_target *),
			     int (*add)(struct hp_status *, const struct hp_status_target *,
					const struct hp_restart_proc *))
{
	struct hp_restart_list *l = NULL;
	const char **paths = NULL;
	size_t i, n = 0, p;
	int err = 0;

	paths = calloc(s->nr_targets ? s->nr_targets : 1, sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	for (i = 0; i < s->nr_targets; i++)
		if (s->targets[i].kind == HP_JOURNAL_DISK && s->targets[i].path[0] == '/' &&
		    !access(s->targets[i].path, F_OK) && want(&s->targets[i]))
			paths[n++] = s->targets[i].path;
	if (n)
		err = hp_restart__scan(paths, n, how, NULL, 0, &l);
	for (p = 0; !err && l && p < l->n; p++)
		for (i = 0; !err && i < s->nr_targets; i++)
			if (s->targets[i].kind == HP_JOURNAL_DISK && want(&s->targets[i]) &&
			    !strcmp(s->targets[i].path, l->procs[p].path))
				err = add(s, &s->targets[i], &l->procs[p]);
	hp_restart__free(l);
	free(paths);
	return err;
}

static bool any_disk_target(const struct hp_status_target *t)
{
	(void)t;
	return true;
}

/* Add process rp, which maps the file of disk target t, to *list. */
static int add_proc(struct hp_status_proc **list, size_t *n, const struct hp_status_target *t,
		    const struct hp_restart_proc *rp)
{
	struct hp_status_proc *x = realloc(*list, (*n + 1) * sizeof(*x));

	if (!x)
		return -ENOMEM;
	*list = x;
	x = &x[(*n)++];
	memset(x, 0, sizeof(*x));
	x->pid = rp->pid;
	x->comm = rp->comm ? strdup(rp->comm) : NULL;
	x->path = strdup(t->path);
	x->package = strdup(t->package);
	x->full_build = t->full_build ? strdup(t->full_build) : NULL;
	if (!x->path || !x->package || (t->full_build && !x->full_build))
		return -ENOMEM;
	return 0;
}

/* A process mapping a file patched on disk whose mapping is not the file
 * now at that path runs the old code until restarted, unless it was
 * patched live meanwhile. */
static int add_stale(struct hp_status *s, const struct hp_status_target *t,
		     const struct hp_restart_proc *rp)
{
	if (live_patched(s, rp->pid, t->package))
		return 0;
	return add_proc(&s->stale, &s->nr_stale, t, rp);
}

/* Processes started from a file patched on disk map the very file now at
 * the path, still the patched result (no file-changed problem: it hashes
 * to the journal's new_sha256). Their code came patched from the file, so
 * they carry no in-process record and no live target names them. A file
 * replaced by a fixed full build is not a patched file: processes started
 * from it simply run that version. */
static bool cold_patched_file(const struct hp_status_target *t)
{
	return !t->full_build && !(t->problems & HP_STATUS_FILE_CHANGED);
}

static int add_started(struct hp_status *s, const struct hp_status_target *t,
		       const struct hp_restart_proc *rp)
{
	if (have_live_target(s, rp->pid, t->package))
		return 0;
	return add_proc(&s->started, &s->nr_started, t, rp);
}

int hp_status__read(const char *dir, struct hp_status **out)
{
	const struct hp_journal_rec **applied = NULL;
	struct hp_state *st = NULL;
	struct hp_status *s = NULL;
	struct scan sc = { 0 };
	size_t napplied = 0, i;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		err = -ENOMEM;
		goto out;
	}
	st = hp_state__open(dir, HP_STATE_READ_ONLY, 0);
	if (!st) {
		err = -errno;
		goto out;
	}
	s->state_dir = strdup(hp_state__path(st));
	if (!s->state_dir) {
		err = -ENOMEM;
		goto out;
	}
	err = hp_journal__read(st, &s->journal);
	if (err)
		goto out;
	s->torn_line = hp_journal__torn_line(s->journal);
	err = hp_journal__unfinished(s->journal, &s->unfinished, &s->nr_unfinished);
	if (err)
		goto out;
	err = hp_journal__applied(s->journal, &applied, &napplied);
	if (err)
		goto out;
	for (i = 0; i < napplied; i++) {
		err = from_journal(s, st, applied[i]);
		if (err)
			goto out;
	}
	if (hp_journal__count(s->journal)) {
		err = scan_processes(s->journal, &sc);
		if (err)
			goto out;
	}
	err = orphan_records(s, &sc);
	if (err)
		goto out;
	err = scan_disk_targets(s, HP_RESTART_OLD_COPY, any_disk_target, add_stale);
	if (err)
		goto out;
	err = scan_disk_targets(s, HP_RESTART_CURRENT, cold_patched_file, add_started);
	if (err)
		goto out;
	s->nr_problems = s->nr_unfinished;
	for (i = 0; i < s->nr_targets; i++)
		if (s->targets[i].problems & ~(unsigned int)HP_STATUS_UNFINISHED)
			s->nr_problems++;
	*out = s;
	s = NULL;
out:
	if (err == -ENOMEM)
		pr_warn("status: out of memory");
	free(applied);
	free_scan(&sc);
	hp_state__close(st);
	hp_status__free(s);
	return err;
}
