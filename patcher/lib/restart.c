/* The restart scanner: which running processes still run an old copy of a
 * file. Installing a file on disk (the fixed full build of a version the
 * hotpatch was not built for, a package upgrade) changes nothing in the
 * processes that mapped the file before: they keep the old inode until they
 * are restarted. Like Debian's needrestart, this module finds them by what
 * they have mapped.
 *
 * A mapping names its file twice: by path (the maps column, with
 * " (deleted)" once the file was unlinked or renamed over) and by identity.
 * The identity taken is the device and inode of
 * /proc/PID/map_files/START-END, which is the very file mapped as stat()
 * sees it: the maps dev column is the superblock's device, which on btrfs
 * subvolumes or overlayfs is not the st_dev of the same file. Only when
 * map_files cannot be read are the maps columns used. A mapping of path
 * whose identity is not that of the file at path now (or nothing is there
 * any more) is an old copy.
 *
 * It runs over every process of the machine, so each maps file is read
 * once, and parsed only when one of the paths occurs in its text; a kernel
 * thread's maps file is empty and costs one open and one read. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "procmaps.h"

static const char deleted_suffix[] = " (deleted)";

/* A file's identity: what stat() says of it. */
struct ident {
	dev_t dev;   /* st_dev */
	ino_t ino;   /* st_ino */
};

/* One path scanned for, and what it names now. */
struct want {
	const char *path;    /* absolute path, as the caller gave it */
	size_t len;          /* strlen(path) */
	bool exists;         /* something is at path now (in our mount namespace) */
	struct ident now;    /* identity of the file at path now, when exists */
	/* The same, seen by the process being looked at when it lives in
	 * another mount namespace; reset for each such process. */
	bool view_known;     /* own_exists/own_now hold that process' view */
	bool own_exists;     /* something is at path in its view */
	struct ident own_now;/* identity of that file */
	bool hit;            /* the process being looked at matches on path */
};

struct scan {
	struct want *wants;          /* sorted by path, no duplicates */
	size_t nwants;               /* entries in wants */
	enum hp_restart_match how;   /* what to list */
	pid_t self;                  /* the calling process, never listed */
	char mnt_ns[64];             /* our mount namespace ("mnt:[N]"), "" unknown */
	struct hp_restart_list *list;/* the result being built */
	size_t cap;                  /* allocated entries of list->procs */
};

void hp_restart__free(struct hp_restart_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->procs[i].comm);
		free(l->procs[i].exe);
		free(l->procs[i].path);
	}
	free(l->procs);
	free(l);
}

static int cmp_want(const void *a, const void *b)
{
	return strcmp(((const struct want *)a)->path, ((const struct want *)b)->path);
}

static int cmp_key_want(const void *key, const void *w)
{
	return strcmp(key, ((const struct want *)w)->path);
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

static int cmp_proc(const void *a, const void *b)
{
	const struct hp_restart_proc *x = a, *y = b;

	if (x->pid != y->pid)
		return (x->pid > y->pid) - (x->pid < y->pid);
	return strcmp(x->path, y->path);
}

/* Stat each path once: what it names now is what every mapping is compared
 * with. Nothing there is an answer (every mapping of it is an old copy);
 * a path we may not look at is an error. */
static int stat_wants(struct scan *sc, const char *const *paths, size_t n)
{
	size_t i, k;
	struct stat st;

	sc->wants = calloc(n ? n : 1, sizeof(*sc->wants));
	if (!sc->wants)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (!paths[i] || paths[i][0] != '/') {
			pr_warn("restart: '%s': not an absolute path", paths[i] ? paths[i] : "(null)");
			return -EINVAL;
		}
		sc->wants[i].path = paths[i];
		sc->wants[i].len = strlen(paths[i]);
	}
	if (n > 1)
		qsort(sc->wants, n, sizeof(*sc->wants), cmp_want);
	for (i = 0, k = 0; i < n; i++)
		if (!k || strcmp(sc->wants[k - 1].path, sc->wants[i].path))
			sc->wants[k++] = sc->wants[i];
	sc->nwants = k;
	for (i = 0; i < sc->nwants; i++) {
		struct want *w = &sc->wants[i];

		if (stat(w->path, &st) == 0) {
			w->exists = true;
			w->now.dev = st.st_dev;
			w->now.ino = st.st_ino;
		} else if (errno != ENOENT && errno != ENOTDIR) {
			int err = -errno;

			pr_warn("restart: %s: cannot stat: %s", w->path, hp_strerror(err));
			return err;
		}
	}
	return 0;
}

/* Does any path occur in the maps text? Most processes map none of them,
 * and this spares parsing their maps. */
static bool mentions(const struct scan *sc, const char *text)
{
	size_t len = strlen(text), i;

	for (i = 0; i < sc->nwants; i++)
		if (memmem(text, len, sc->wants[i].path, sc->wants[i].len))
			return true;
	return false;
}

/* The identity of what mapping m of pid maps. */
static void mapped_ident(pid_t pid, const struct procmap *m, struct ident *id)
{
	char p[96];
	struct stat st;

	snprintf(p, sizeof(p), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, m->start,
		 m->end);
	if (stat(p, &st) == 0) {
		id->dev = st.st_dev;
		id->ino = st.st_ino;
		return;
	}
	/* Without the privilege map_files asks for: the maps columns, right
	 * on the usual file systems. */
	id->dev = makedev(m->dev_major, m->dev_minor);
	id->ino = (ino_t)m->inode;
}

/* Is pid in another mount namespace than ours? Then a path may name
 * another file for it (a bind mount, a private /tmp, a container), and the
 * kernel shows its mappings by a path of its own view. Unknown counts as
 * ours. */
static bool foreign_ns(const struct scan *sc, pid_t pid)
{
	char p[64], ns[64];
	ssize_t len;

	if (!sc->mnt_ns[0])
		return false;
	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)pid);
	len = readlink(p, ns, sizeof(ns) - 1);
	if (len <= 0)
		return false;
	ns[len] = '\0';
	return strcmp(ns, sc->mnt_ns) != 0;
}

/* What path names now for pid: in our namespace, the stat of the scan; in
 * another, the path looked up from the process' root. */
static void now_for(pid_t pid, bool foreign, struct want *w, bool *exists, struct ident *now)
{
	char rooted[PATH_MAX + 32];
	struct stat st;

	if (!foreign) {
		*exists = w->exists;
		*now = w->now;
		return;
	}
	if (!w->view_known) {
		snprintf(rooted, sizeof(rooted), "/proc/%d/root%s", (int)pid, w->path);
		if (stat(rooted, &st) == 0) {
			w->own_exists = true;
			w->own_now.dev = st.st_dev;
			w->own_now.ino = st.st_ino;
		} else if (errno == ENOENT || errno == ENOTDIR) {
			w->own_exists = false;
		} else {
			/* Its root may not be looked into (no privilege):
			 * our view is the best there is. */
			w->own_exists = w->exists;
			w->own_now = w->now;
		}
		w->view_known = true;
	}
	*exists = w->own_exists;
	*now = w->own_now;
}

/* /proc/PID/exe without " (deleted)"; NULL when it cannot be read. */
static char *read_exe(pid_t pid)
{
	char p[64], buf[PATH_MAX];
	size_t sl = sizeof(deleted_suffix) - 1;
	ssize_t len;

	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	len = readlink(p, buf, sizeof(buf) - 1);
	if (len <= 0)
		return NULL;
	buf[len] = '\0';
	if ((size_t)len > sl && !strcmp(buf + len - sl, deleted_suffix))
		buf[len - sl] = '\0';
	return strdup(buf);
}

/* List pid once for each path it matched. A process that exits before it
 * is named is not listed. */
static int add_entries(struct scan *sc, pid_t pid)
{
	struct hp_restart_list *l = sc->list;
	char *comm = NULL, *exe = NULL;
	uint64_t start;
	size_t i;
	int err = 0;

	if (hp_journal__proc_start(pid, &start))
		goto out;
	comm = procmaps_comm(pid);
	if (!comm)
		goto out;
	exe = read_exe(pid);
	for (i = 0; i < sc->nwants; i++) {
		struct hp_restart_proc *p;

		if (!sc->wants[i].hit)
			continue;
		if (l->n == sc->cap) {
			size_t cap = sc->cap ? sc->cap * 2 : 16;

			p = realloc(l->procs, cap * sizeof(*p));
			if (!p) {
				err = -ENOMEM;
				goto out;
			}
			l->procs = p;
			sc->cap = cap;
		}
		p = &l->procs[l->n];
		memset(p, 0, sizeof(*p));
		p->pid = pid;
		p->start_time = start;
		p->comm = strdup(comm);
		p->exe = exe ? strdup(exe) : NULL;
		p->path = strdup(sc->wants[i].path);
		if (!p->comm || !p->path || (exe && !p->exe)) {
			free(p->comm);
			free(p->exe);
			free(p->path);
			err = -ENOMEM;
			goto out;
		}
		p->is_exe = exe && !strcmp(exe, p->path);
		l->n++;
	}
out:
	free(comm);
	free(exe);
	return err;
}

/* Look at one process: read its maps once, judge each mapping of a wanted
 * path. Only -ENOMEM is an error; a process gone or unreadable is skipped. */
static int scan_pid(struct scan *sc, pid_t pid)
{
	struct procmaps pm = { 0 };
	char *text = NULL;
	bool foreign = false, ns_known = false, any = false;
	/* Consecutive mappings of one file (its segments) share a verdict. */
	const struct want *last_w = NULL;
	unsigned int last_maj = 0, last_min = 0;
	uint64_t last_ino = 0;
	bool last_match = false;
	size_t i;
	int err;

	err = procmaps_read_text(pid, &text);
	if (err) {
		err = err == -ENOMEM ? err : 0;
		goto out;
	}
	if (!mentions(sc, text))
		goto out;
	err = procmaps_parse(pid, text, &pm);
	if (err) {
		err = err == -ENOMEM ? err : 0;
		goto out;
	}
	for (i = 0; i < sc->nwants; i++) {
		sc->wants[i].hit = false;
		sc->wants[i].view_known = false;
	}
	for (i = 0; i < pm.n; i++) {
		const struct procmap *m = &pm.maps[i];
		struct want *w;
		struct ident id, now;
		bool exists, old, match;

		/* Anonymous memory and pseudo files ("[heap]") have no inode. */
		if (!m->inode || m->path[0] != '/')
			continue;
		w = bsearch(m->path, sc->wants, sc->nwants, sizeof(*w), cmp_key_want);
		if (!w || w->hit)
			continue;
		if (w == last_w && m->dev_major == last_maj && m->dev_minor == last_min &&
		    m->inode == last_ino) {
			match = last_match;
		} else {
			if (!ns_known) {
				foreign = foreign_ns(sc, pid);
				ns_known = true;
			}
			mapped_ident(pid, m, &id);
			now_for(pid, foreign, w, &exists, &now);
			old = !exists || id.dev != now.dev || id.ino != now.ino;
			match = sc->how == HP_RESTART_OLD_COPY ? old : !old;
			last_w = w;
			last_maj = m->dev_major;
			last_min = m->dev_minor;
			last_ino = m->inode;
			last_match = match;
		}
		if (match) {
			w->hit = true;
			any = true;
		}
	}
	if (any)
		err = add_entries(sc, pid);
out:
	procmaps_free(&pm);
	free(text);
	return err;
}

/* Every process of the machine. */
static int scan_all(struct scan *sc)
{
	pid_t *pids = NULL;
	size_t n = 0, i;
	int err;

	err = procmaps_pids("restart", &pids, &n);
	for (i = 0; !err && i < n; i++)
		err = scan_pid(sc, pids[i]);
	free(pids);
	return err;
}

/* Only the processes asked for, each once. */
static int scan_some(struct scan *sc, const pid_t *pids, size_t nr_pids)
{
	pid_t *sorted = NULL;
	struct stat st;
	size_t i;
	int err = 0;

	for (i = 0; i < nr_pids; i++) {
		if (pids[i] <= 0) {
			pr_warn("restart: pid %d: not a process id", (int)pids[i]);
			return -EINVAL;
		}
	}
	/* A missing /proc would otherwise read as "no process maps it". */
	if (stat("/proc/self/maps", &st)) {
		err = -errno;
		pr_warn("restart: /proc/self/maps: cannot read processes: %s", hp_strerror(err));
		return err;
	}
	sorted = malloc(nr_pids * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, pids, nr_pids * sizeof(*sorted));
	qsort(sorted, nr_pids, sizeof(*sorted), cmp_pid);
	for (i = 0; i < nr_pids && !err; i++) {
		if ((i && sorted[i] == sorted[i - 1]) || sorted[i] == sc->self)
			continue;
		err = scan_pid(sc, sorted[i]);
	}
	free(sorted);
	return err;
}

int hp_restart__scan(const char *const *paths, size_t n, enum hp_restart_match how,
		     const pid_t *pids, size_t nr_pids, struct hp_restart_list **out)
{
	struct scan sc = { .how = how, .self = getpid() };
	ssize_t len;
	int err;

	*out = NULL;
	if (how != HP_RESTART_OLD_COPY && how != HP_RESTART_CURRENT) {
		pr_warn("restart: match %d: unknown", (int)how);
		return -EINVAL;
	}
	sc.list = calloc(1, sizeof(*sc.list));
	if (!sc.list) {
		err = -ENOMEM;
		goto out;
	}
	err = stat_wants(&sc, paths, n);
	if (err)
		goto out;
	if (!sc.nwants)
		goto done;
	len = readlink("/proc/self/ns/mnt", sc.mnt_ns, sizeof(sc.mnt_ns) - 1);
	sc.mnt_ns[len > 0 ? len : 0] = '\0';
	err = nr_pids ? scan_some(&sc, pids, nr_pids) : scan_all(&sc);
	if (err)
		goto out;
	if (sc.list->n > 1)
		qsort(sc.list->procs, sc.list->n, sizeof(*sc.list->procs), cmp_proc);
done:
	*out = sc.list;
	sc.list = NULL;
out:
	if (err == -ENOMEM)
		pr_warn("restart: out of memory while scanning processes");
	hp_restart__free(sc.list);
	free(sc.wants);
	return err;
}
