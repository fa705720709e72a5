/* Process inspection: what a running process has mapped, and its threads.
 *
 * The identity that matters for a live patch is the one of the code the
 * process runs, not of whatever file sits at the same path today: a package
 * upgrade renames a new file over the old one and the process keeps the old
 * inode. So each mapped object is read through /proc/PID/map_files/START-END,
 * which opens the very inode that is mapped, and the file now at the path is
 * only compared with it (device and inode) to say whether it is the same,
 * replaced or deleted. Without the privilege map_files asks for, the path is
 * used only when it still names the mapped inode.
 */
#include <errno.h>
#include <fcntl.h>
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

struct hp_proc {
	pid_t pid;                       /* the process */
	char exe[PATH_MAX];              /* /proc/PID/exe target, "" if unknown */
	struct hp_proc_object *objects;  /* mapped files, by lowest address */
	size_t nobjects;                 /* entries in objects */
	pid_t *tids;                     /* thread ids, ascending */
	size_t ntids;                    /* entries in tids */
};

const char *hp_file_state_name(enum hp_file_state state)
{
	switch (state) {
	case HP_FILE_SAME:
		return "same";
	case HP_FILE_REPLACED:
		return "replaced";
	case HP_FILE_DELETED:
		return "deleted";
	}
	return "unknown";
}

static struct hp_proc_object *find_obj(struct hp_proc *proc, const struct procmap *m)
{
	size_t i;

	for (i = 0; i < proc->nobjects; i++) {
		struct hp_proc_object *o = &proc->objects[i];

		if (o->inode == m->inode && o->dev == makedev(m->dev_major, m->dev_minor) &&
		    !strcmp(o->path, m->path))
			return o;
	}
	return NULL;
}

static int add_range(struct hp_proc *proc, const struct procmap *m)
{
	struct hp_proc_object *o = find_obj(proc, m);
	struct hp_proc_range *r;

	if (!o) {
		struct hp_proc_object *n = realloc(proc->objects,
						   (proc->nobjects + 1) * sizeof(*n));

		if (!n)
			return -ENOMEM;
		proc->objects = n;
		o = &n[proc->nobjects];
		memset(o, 0, sizeof(*o));
		o->path = strdup(m->path);
		if (!o->path)
			return -ENOMEM;
		proc->nobjects++;
		o->dev = makedev(m->dev_major, m->dev_minor);
		o->inode = m->inode;
		o->state = m->deleted ? HP_FILE_DELETED : HP_FILE_SAME;
	}
	r = realloc(o->ranges, (o->nranges + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	o->ranges = r;
	r = &r[o->nranges++];
	r->start = m->start;
	r->end = m->end;
	r->offset = m->offset;
	r->read = m->perms & PM_READ;
	r->write = m->perms & PM_WRITE;
	r->exec = m->perms & PM_EXEC;
	return 0;
}

/* Compare the file now at the path (seen from the process's root) with the
 * mapped inode. */
static void path_state(pid_t pid, struct hp_proc_object *o)
{
	char rooted[PATH_MAX + 32];
	struct stat st;
	int rc;

	snprintf(rooted, sizeof(rooted), "/proc/%d/root%s", (int)pid, o->path);
	rc = stat(rooted, &st);
	if (rc < 0 && (errno == EACCES || errno == EPERM))
		rc = stat(o->path, &st);
	if (rc < 0) {
		o->state = HP_FILE_DELETED;
		return;
	}
	o->state = st.st_dev == o->dev && st.st_ino == o->inode ? HP_FILE_SAME : HP_FILE_REPLACED;
}

/* Open what is mapped: map_files first; the path only if it still is the
 * mapped inode. Returns an fd or -errno. */
static int open_mapped(pid_t pid, const struct hp_proc_object *o, const struct hp_proc_range *r)
{
	char p[PATH_MAX + 64];
	struct stat st;
	int fd;

	snprintf(p, sizeof(p), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid, r->start,
		 r->end);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (o->state != HP_FILE_SAME)
		return -errno;
	fd = open(o->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* The path may have changed between the stat and the open. */
	if (fstat(fd, &st) < 0 || st.st_dev != o->dev || st.st_ino != o->inode) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

static bool is_elf_fd(int fd)
{
	unsigned char magic[4];

	return pread(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic) &&
	       !memcmp(magic, "\177ELF", 4);
}

static void read_identity(struct hp_proc *proc, struct hp_proc_object *o)
{
	const struct hp_proc_range *base = NULL;
	char name[PATH_MAX + 64];
	size_t i;
	int fd;

	for (i = 0; i < o->nranges && !base; i++)
		if (o->ranges[i].offset == 0)
			base = &o->ranges[i];
	fd = open_mapped(proc->pid, o, base ? base : &o->ranges[0]);
	if (fd < 0) {
		pr_info("proc: pid %d: %s: cannot open the mapping: %s", (int)proc->pid, o->path,
			strerror(-fd));
		return;
	}
	if (!is_elf_fd(fd)) {
		close(fd);
		return;
	}
	snprintf(name, sizeof(name), "%s (mapped in pid %d)", o->path, (int)proc->pid);
	o->elf = hp_elf__open_fd(fd, name);
	close(fd);
	if (o->elf && base) {
		o->load_bias = base->start - hp_elf__link_base(o->elf);
		o->bias_known = true;
	}
}

static int cmp_range(const void *a, const void *b)
{
	const struct hp_proc_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

struct hp_proc *hp_proc__open(pid_t pid)
{
	struct procmaps pm = { 0 };
	struct hp_proc *proc = NULL;
	char p[64];
	ssize_t n;
	size_t i;
	int err;

	proc = calloc(1, sizeof(*proc));
	if (!proc) {
		err = -ENOMEM;
		goto out;
	}
	proc->pid = pid;
	err = procmaps_read(pid, &pm);
	if (err) {
		pr_warn("proc: pid %d: cannot read its mappings: %s", (int)pid, hp_strerror(err));
		goto out;
	}
	snprintf(p, sizeof(p), "/proc/%d/exe", (int)pid);
	n = readlink(p, proc->exe, sizeof(proc->exe) - 1);
	proc->exe[n > 0 ? n : 0] = '\0';
	/* The link says " (deleted)" once the file is gone; objects say that
	 * through their state instead. */
	if (n > 10 && !strcmp(proc->exe + n - 10, " (deleted)"))
		proc->exe[n - 10] = '\0';
	for (i = 0; i < pm.n; i++) {
		/* Only files: anonymous memory, [heap], [vdso]... have no identity. */
		if (pm.maps[i].path[0] != '/' || pm.maps[i].inode == 0)
			continue;
		err = add_range(proc, &pm.maps[i]);
		if (err)
			goto out;
	}
	for (i = 0; i < proc->nobjects; i++) {
		struct hp_proc_object *o = &proc->objects[i];

		qsort(o->ranges, o->nranges, sizeof(*o->ranges), cmp_range);
		path_state(pid, o);
		read_identity(proc, o);
	}
	err = procmaps_tasks(pid, &proc->tids, &proc->ntids);
	if (err)
		pr_warn("proc: pid %d: cannot list its threads: %s", (int)pid, hp_strerror(err));
out:
	procmaps_free(&pm);
	if (err) {
		hp_proc__close(proc);
		errno = -err;
		return NULL;
	}
	return proc;
}

void hp_proc__close(struct hp_proc *proc)
{
	size_t i;

	if (!proc)
		return;
	for (i = 0; i < proc->nobjects; i++) {
		hp_elf__close(proc->objects[i].elf);
		free(proc->objects[i].ranges);
		free((char *)proc->objects[i].path);
	}
	free(proc->objects);
	free(proc->tids);
	free(proc);
}

pid_t hp_proc__pid(const struct hp_proc *proc)
{
	return proc->pid;
}

const char *hp_proc__exe(const struct hp_proc *proc)
{
	return proc->exe;
}

size_t hp_proc__object_count(const struct hp_proc *proc)
{
	return proc->nobjects;
}

const struct hp_proc_object *hp_proc__object(const struct hp_proc *proc, size_t i)
{
	return i < proc->nobjects ? &proc->objects[i] : NULL;
}

const struct hp_proc_object *hp_proc__object_at(const struct hp_proc *proc, uint64_t addr)
{
	size_t i, j;

	for (i = 0; i < proc->nobjects; i++)
		for (j = 0; j < proc->objects[i].nranges; j++)
			if (addr >= proc->objects[i].ranges[j].start &&
			    addr < proc->objects[i].ranges[j].end)
				return &proc->objects[i];
	return NULL;
}

const struct hp_proc_object *hp_proc__find_object(const struct hp_proc *proc, const char *path)
{
	size_t i, plen = strlen(path);

	for (i = 0; i < proc->nobjects; i++) {
		const char *op = proc->objects[i].path;
		size_t olen = strlen(op);

		if (!strcmp(op, path))
			return &proc->objects[i];
		if (path[0] != '/' && olen > plen && op[olen - plen - 1] == '/' &&
		    !strcmp(op + olen - plen, path))
			return &proc->objects[i];
	}
	return NULL;
}

const pid_t *hp_proc__threads(const struct hp_proc *proc, size_t *n)
{
	*n = proc->ntids;
	return proc->tids;
}

int hp_proc__read(const struct hp_proc *proc, uint64_t addr, void *buf, size_t len)
{
	char path[64];
	size_t done = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)proc->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(addr + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* An unmapped page reads as EIO, or as a short read. */
			err = n < 0 ? -errno : -EIO;
			break;
		}
		done += (size_t)n;
	}
	close(fd);
	return err;
}
