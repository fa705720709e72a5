/* /proc readers for the live side: the mappings of a process, its threads,
 * and the search for a free gap close enough to a piece of code that a rel32
 * jump reaches across. Everything here reads /proc and never touches the
 * process itself, so it is safe to call while the process runs; what it
 * returns is a snapshot that may be stale as soon as it is read, which is why
 * the executor re-reads the maps once every thread is stopped. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "procmaps.h"

#define PAGE 4096ULL
/* Highest user address with 4-level paging; the kernel hands out nothing
 * above it unless asked, so neither do we. */
#define USER_TOP 0x7ffffffff000ULL
/* Default floor, the usual vm.mmap_min_addr. */
#define MIN_ADDR 0x10000ULL
/* A rel32 reaches +-2 GiB from the end of the instruction; one page of margin
 * covers the instruction length and rounding. */
#define REL32_REACH ((1ULL << 31) - PAGE)

static const char deleted_suffix[] = " (deleted)";

/* Read a whole /proc file; /proc files report size 0, so read until EOF. */
static int slurp(const char *path, char **text)
{
	size_t len = 0, cap = 16384;
	char *buf = NULL, *nb;
	ssize_t n;
	int fd = -1, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno == ENOENT ? -ESRCH : -errno;
		goto out;
	}
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (cap - len < 4096) {
			nb = realloc(buf, cap * 2);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* A process that exits while we read gives ESRCH or EIO. */
			err = (errno == ESRCH || errno == EIO) ? -ESRCH : -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*text = buf;
	buf = NULL;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return err;
}

/* One line: "start-end perms offset major:minor inode   path". The path may
 * hold spaces and is everything after the run of blanks following the
 * inode. */
static int parse_line(const char *line, size_t len, struct procmap *m)
{
	unsigned long long start, end, off, ino;
	unsigned int maj, min;
	char perms[5];
	int used = 0;
	const char *p;
	size_t plen;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu%n", &start, &end, perms, &off, &maj,
		   &min, &ino, &used) != 7 || (size_t)used > len)
		return -HP_E_FORMAT;
	if (end < start || strlen(perms) != 4)
		return -HP_E_FORMAT;
	m->start = start;
	m->end = end;
	m->offset = off;
	m->dev_major = maj;
	m->dev_minor = min;
	m->inode = ino;
	m->perms = (perms[0] == 'r' ? PM_READ : 0) | (perms[1] == 'w' ? PM_WRITE : 0) |
		   (perms[2] == 'x' ? PM_EXEC : 0) | (perms[3] == 'p' ? PM_PRIVATE : 0);
	p = line + used;
	while (p < line + len && (*p == ' ' || *p == '\t'))
		p++;
	plen = (size_t)(line + len - p);
	if (plen >= sizeof(deleted_suffix) - 1 &&
	    !memcmp(p + plen - (sizeof(deleted_suffix) - 1), deleted_suffix,
		    sizeof(deleted_suffix) - 1) && *p == '/') {
		m->deleted = true;
		plen -= sizeof(deleted_suffix) - 1;
	}
	m->path = strndup(p, plen);
	return m->path ? 0 : -ENOMEM;
}

void procmaps_free(struct procmaps *pm)
{
	size_t i;

	if (!pm)
		return;
	for (i = 0; i < pm->n; i++)
		free(pm->maps[i].path);
	free(pm->maps);
	pm->maps = NULL;
	pm->n = 0;
}

int procmaps_parse(pid_t pid, const char *text, struct procmaps *pm)
{
	struct procmaps res = { .pid = pid };
	size_t cap = 0, lineno = 0;
	const char *line, *nl;
	int err = 0;

	for (line = text; *line; line = nl ? nl + 1 : line + strlen(line)) {
		size_t len;

		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		lineno++;
		if (len == 0)
			continue;
		if (res.n == cap) {
			struct procmap *nm;

			cap = cap ? cap * 2 : 64;
			nm = realloc(res.maps, cap * sizeof(*nm));
			if (!nm) {
				err = -ENOMEM;
				goto out;
			}
			res.maps = nm;
		}
		err = parse_line(line, len, &res.maps[res.n]);
		if (err) {
			if (err == -HP_E_FORMAT)
				pr_warn("procmaps: pid %d: maps line %zu: cannot parse '%.*s'",
					(int)pid, lineno, (int)(len > 80 ? 80 : len), line);
			goto out;
		}
		res.n++;
	}
	*pm = res;
	res.maps = NULL;
	res.n = 0;
out:
	procmaps_free(&res);
	return err;
}

int procmaps_read_text(pid_t pid, char **text)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	return slurp(path, text);
}

int procmaps_read(pid_t pid, struct procmaps *pm)
{
	char path[64], *text = NULL;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	err = slurp(path, &text);
	if (err) {
		if (err == -ESRCH)
			pr_debug("procmaps: pid %d: no such process", (int)pid);
		else
			pr_warn("procmaps: pid %d: cannot read %s: %s", (int)pid, path,
				hp_strerror(err));
		goto out;
	}
	err = procmaps_parse(pid, text, pm);
out:
	free(text);
	return err;
}

const struct procmap *procmaps_find(const struct procmaps *pm, uint64_t addr)
{
	size_t lo = 0, hi = pm->n;

	/* The kernel lists mappings in address order, so bisect. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct procmap *m = &pm->maps[mid];

		if (addr < m->start)
			hi = mid;
		else if (addr >= m->end)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int procmaps_tasks(pid_t pid, pid_t **tids, size_t *n)
{
	char path[64];
	DIR *dir = NULL;
	struct dirent *de;
	pid_t *list = NULL, *nl;
	size_t cnt = 0, cap = 0;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir) {
		err = errno == ENOENT ? -ESRCH : -errno;
		goto out;
	}
	for (;;) {
		char *end;
		long t;

		errno = 0;
		de = readdir(dir);
		if (!de) {
			if (errno) {
				err = errno == ENOENT ? -ESRCH : -errno;
				goto out;
			}
			break;
		}
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		t = strtol(de->d_name, &end, 10);
		if (*end || t <= 0)
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nl = realloc(list, cap * sizeof(*nl));
			if (!nl) {
				err = -ENOMEM;
				goto out;
			}
			list = nl;
		}
		list[cnt++] = (pid_t)t;
	}
	/* A directory listed after its process died is empty, not an error. */
	if (cnt == 0) {
		err = -ESRCH;
		goto out;
	}
	qsort(list, cnt, sizeof(*list), cmp_pid);
	*tids = list;
	*n = cnt;
	list = NULL;
out:
	free(list);
	if (dir)
		closedir(dir);
	return err;
}

int procmaps_find_gap(const struct procmaps *pm, uint64_t lo, uint64_t hi, size_t size,
		      uint64_t min_addr, uint64_t *addr)
{
	uint64_t want = ((uint64_t)size + PAGE - 1) & ~(PAGE - 1);
	uint64_t wlo, whi, prev_end, best = 0, best_dist = UINT64_MAX;
	size_t i;

	if (!want || hi <= lo || hi - lo + want >= REL32_REACH)
		return -HP_E_NOT_FOUND;
	if (!min_addr)
		min_addr = MIN_ADDR;
	/* Every byte of the gap must reach every byte of [lo, hi) and back. */
	wlo = hi > REL32_REACH ? hi - REL32_REACH : 0;
	whi = lo + REL32_REACH;
	if (wlo < min_addr)
		wlo = min_addr;
	if (whi > USER_TOP)
		whi = USER_TOP;
	wlo = (wlo + PAGE - 1) & ~(PAGE - 1);
	whi &= ~(PAGE - 1);

	prev_end = 0;
	for (i = 0; i <= pm->n; i++) {
		uint64_t g0 = prev_end, g1 = i < pm->n ? pm->maps[i].start : USER_TOP;
		uint64_t u0, u1, cand, dist;

		if (i < pm->n) {
			if (pm->maps[i].start >= USER_TOP)
				g1 = USER_TOP;
			if (pm->maps[i].end > prev_end)
				prev_end = pm->maps[i].end;
		}
		/* Guard pages keep the payload from running into a neighbour
		 * that grows (a stack) or from being mistaken for part of it. */
		u0 = g0 + PAGE;
		u1 = g1 >= PAGE ? g1 - PAGE : 0;
		if (u0 < wlo)
			u0 = wlo;
		if (u1 > whi)
			u1 = whi;
		if (u1 <= u0 || u1 - u0 < want)
			continue;
		if (u0 >= hi) {
			cand = u0;
			dist = u0 - hi;
		} else if (u1 <= lo) {
			cand = u1 - want;
			dist = lo - u1;
		} else {
			/* A hole inside the range itself (between segments). */
			cand = u0;
			dist = 0;
		}
		if (dist < best_dist) {
			best_dist = dist;
			best = cand;
		}
	}
	if (best_dist == UINT64_MAX)
		return -HP_E_NOT_FOUND;
	*addr = best;
	return 0;
}

char *procmaps_comm(pid_t pid)
{
	char path[64], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

int procmaps_pids(const char *who, pid_t **pids, size_t *n)
{
	pid_t *list = NULL, self = getpid();
	size_t count = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int err = 0;

	*pids = NULL;
	*n = 0;
	d = opendir("/proc");
	if (!d) {
		err = -errno;
		pr_warn("%s: /proc: cannot list processes: %s", who, hp_strerror(err));
		return err;
	}
	for (;;) {
		char *end;
		long pid;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				err = -errno;
				pr_warn("%s: /proc: cannot list processes: %s", who, hp_strerror(err));
			}
			break;
		}
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid > INT_MAX || (pid_t)pid == self)
			continue;
		if (count == cap) {
			pid_t *grown = realloc(list, (cap = cap ? 2 * cap : 256) * sizeof(*list));

			if (!grown) {
				err = -ENOMEM;
				break;
			}
			list = grown;
		}
		list[count++] = (pid_t)pid;
	}
	closedir(d);
	if (err) {
		free(list);
		return err;
	}
	qsort(list, count, sizeof(*list), cmp_pid);
	*pids = list;
	*n = count;
	return 0;
}
