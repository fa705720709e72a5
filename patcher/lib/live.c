/* The live executor: apply and roll back a patch in one running process.
 *
 * Everything nothing in the process refers to yet is done while it runs:
 * the region for the payload is mapped (one thread stopped for one system
 * call), the linked code and the record are written into it. Only then are
 * all threads stopped together, for the part that must be atomic from the
 * process's point of view: check the entries still hold the original bytes,
 * check no thread is where a jump must not go, write the jumps, resume.
 * When unsafe, the threads are resumed and the window tried again after a
 * growing pause; when out of retries, the region is unmapped and the process
 * is as it was. The region is never writable and executable at once in the
 * process's view: it is mapped r-x and written through /proc/PID/mem.
 *
 * Fault points (HOTPATCH_FAULT=<step>), in the order reached; docs/live.md
 * says what the target looks like after each:
 *   live-apply-seized, live-apply-linked, live-apply-mapped,
 *   live-apply-written, live-apply-stopped, live-apply-partial,
 *   live-apply-jumped, live-apply-resumed, live-rollback-seized,
 *   live-rollback-stopped, live-rollback-partial, live-rollback-restored,
 *   live-rollback-resumed, live-rollback-released.
 *
 * With several functions, the jumps are several writes: nothing makes a
 * set of writes to /proc/PID/mem atomic, and a patcher killed between two
 * of them leaves the process half patched. The record, written before the
 * first jump, says what the whole set is, so status reports such a
 * process as partial, rollback restores what it finds, and
 * hp_live__complete() writes the jumps still missing. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "live.h"
#include "procmaps.h"
#include "ptrace.h"
#include "remote.h"

#define DEF_RETRIES 20u
#define DEF_BACKOFF_US 1000u
#define MAX_BACKOFF_US 100000u
#define DEF_STACK_SCAN (256u << 10)
#define PAGE 4096ULL

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* A range no thread may be in (pc) or point into from its stack. */
struct guard {
	uint64_t lo;       /* runtime address, first guarded byte */
	uint64_t hi;       /* runtime address, one past the last */
	bool stack;        /* also refuse stack words pointing into it */
	const char *name;  /* function (or "payload") for messages */
	uint64_t base;     /* runtime address the name's offsets count from */
};

/* A record found in a process, with its functions. */
struct found {
	uint64_t base;                                   /* runtime address of the region */
	struct live_rec_hdr hdr;                         /* its header */
	struct live_rec_func funcs[LIVE_MAX_FUNCS];      /* hdr.nfuncs entries */
	unsigned int applied;                            /* entries holding their jump now */
};

/* One apply or rollback. */
struct live_ctx {
	pid_t pid;                     /* the process */
	struct pt_group g;             /* its threads */
	struct remote r;               /* its memory */
	struct procmaps pm;            /* its mappings, read before the window */
	struct found *rec;             /* the package's record in it; NULL: none */
	unsigned int retries;          /* windows to try */
	unsigned int backoff_us;       /* pause after the first busy window */
	size_t stack_scan;             /* bytes of stack scanned per thread */
	uint8_t *stack_buf;            /* stack_scan bytes, reused per thread */
	int old_policy;                /* scheduling policy before the window */
	struct sched_param old_param;  /* and its parameters */
	bool boosted;                  /* old_policy must be restored */
	unsigned int nstopped;         /* threads held in the last window */
	unsigned int attempts;         /* windows tried, the last one included */
};

/* Everything in c "not yet held", so live_end() may run from any point. */
static void ctx_init(struct live_ctx *c, pid_t pid, const struct hp_live_opts *opts)
{
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->r.mem_fd = -1;
	c->retries = opts && opts->retries ? opts->retries : DEF_RETRIES;
	c->backoff_us = opts && opts->backoff_us ? opts->backoff_us : DEF_BACKOFF_US;
	c->stack_scan = opts && opts->stack_scan ? opts->stack_scan : DEF_STACK_SCAN;
	c->stack_scan &= ~(size_t)7;
}

/* Let the process go, whatever live_begin() got hold of: threads still held
 * are detached (they run on), its memory closed, the rest freed. */
static void live_end(struct live_ctx *c)
{
	remote_close(&c->r);
	ptrace_release(&c->g);
	procmaps_free(&c->pm);
	free(c->rec);
	c->rec = NULL;
	free(c->stack_buf);
	c->stack_buf = NULL;
}

/* While the threads are stopped, the patcher must not lose its CPU to the
 * first threads it resumed: on two cores, hundreds of runnable threads
 * would otherwise stretch the window. Best effort: without the privilege it
 * simply runs at its usual priority. */
static void boost(struct live_ctx *c)
{
	struct sched_param sp = { .sched_priority = 1 };

	/* With no more threads than CPUs nothing competes for ours, and the
	 * switch to real time costs more (measured: ~20 us of a 50 us window
	 * for one thread) than it saves. */
	if (ptrace_live_threads(&c->g) <= (size_t)sysconf(_SC_NPROCESSORS_ONLN))
		return;
	c->old_policy = sched_getscheduler(0);
	if (c->old_policy < 0 || sched_getparam(0, &c->old_param))
		return;
	c->boosted = !sched_setscheduler(0, SCHED_FIFO, &sp);
}

static void unboost(struct live_ctx *c)
{
	if (c->boosted)
		sched_setscheduler(0, c->old_policy, &c->old_param);
	c->boosted = false;
}

/* After a failed operation: was it because the process is gone? */
static bool process_gone(pid_t pid)
{
	char path[64], st = 0;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return true;
	/* The state follows the command name in parentheses. */
	n = fscanf(f, "%*d (%*[^)]) %c", &st);
	fclose(f);
	return n != 1 || st == 'Z' || st == 'X';
}

static int gone_or(struct live_ctx *c, int err, const char *what)
{
	if (process_gone(c->pid)) {
		pr_warn("live: pid %d: the process exited during the %s", (int)c->pid, what);
		return -HP_E_PROCESS;
	}
	return err;
}

static void rec_func_name(char *dst, const char *name)
{
	memset(dst, 0, 64);
	if (name)
		strncpy(dst, name, 63);
}

/* Read a record at base; 0 when one with a sane layout is there. */
static int read_record(struct remote *r, uint64_t base, uint64_t map_size, struct found *f)
{
	unsigned int i;

	if (remote_read(r, base, &f->hdr, sizeof(f->hdr)))
		return -1;
	if (memcmp(f->hdr.magic, LIVE_MAGIC, 8) || f->hdr.version != LIVE_VERSION ||
	    f->hdr.hdr_size != sizeof(struct live_rec_hdr) ||
	    f->hdr.func_size != sizeof(struct live_rec_func) || !f->hdr.nfuncs ||
	    f->hdr.nfuncs > LIVE_MAX_FUNCS || f->hdr.region_size < map_size ||
	    f->hdr.image_off + f->hdr.image_size > f->hdr.region_size)
		return -1;
	if (remote_read(r, base + sizeof(f->hdr), f->funcs,
			(size_t)f->hdr.nfuncs * sizeof(f->funcs[0])))
		return -1;
	f->hdr.id[sizeof(f->hdr.id) - 1] = '\0';
	for (i = 0; i < f->hdr.nfuncs; i++)
		f->funcs[i].name[sizeof(f->funcs[i].name) - 1] = '\0';
	f->base = base;
	return 0;
}

static unsigned int count_applied(struct remote *r, const struct found *f)
{
	unsigned int i, n = 0;
	uint8_t cur[16];

	for (i = 0; i < f->hdr.nfuncs; i++) {
		const struct live_rec_func *fn = &f->funcs[i];

		if (fn->jump_len != LIVE_JUMP_LEN ||
		    remote_read(r, fn->entry + fn->patch_off, cur, fn->jump_len))
			continue;
		n += !memcmp(cur, fn->jump, fn->jump_len);
	}
	return n;
}

/* The record of package id (NULL: any) in the process, preferring the one
 * whose jumps are in place. Regions are anonymous, private, r-x mappings
 * that begin with LIVE_MAGIC. Returns 0, or -HP_E_NOT_APPLIED. */
static int find_record(struct remote *r, const struct procmaps *pm, const char *id,
		       struct found *best)
{
	struct found *f = malloc(sizeof(*f));
	bool have = false;
	size_t k;

	if (!f)
		return -ENOMEM;
	for (k = 0; k < pm->n; k++) {
		const struct procmap *m = &pm->maps[k];

		if (m->inode || m->path[0] || (m->perms & (PM_EXEC | PM_WRITE)) != PM_EXEC)
			continue;
		if (read_record(r, m->start, m->end - m->start, f))
			continue;
		if (id && strcmp(f->hdr.id, id))
			continue;
		f->applied = count_applied(r, f);
		if (!have || f->applied > best->applied) {
			memcpy(best, f, sizeof(*f));
			have = true;
		}
	}
	free(f);
	return have ? 0 : -HP_E_NOT_APPLIED;
}

/* Take hold of the process for an apply, a rollback or a completion: every
 * thread seized (seized: the fault point reached then, or NULL), its memory
 * open, its mappings read, and c->rec the record of package id it holds, if
 * any. On error what was taken stays in c: the caller's live_end() at its
 * out: label releases it either way. what ("patch", "rollback") names the
 * operation when the process turns out to have exited. */
static int live_begin(struct live_ctx *c, const char *id, const char *seized, const char *what)
{
	struct found *rec = NULL;
	int err;

	err = ptrace_seize_all(&c->g, c->pid);
	if (err)
		goto out;
	if (seized)
		fault_point(seized);
	err = remote_open(&c->r, &c->g);
	if (err)
		goto out;
	err = procmaps_read(c->pid, &c->pm);
	if (err) {
		err = gone_or(c, err, what);
		goto out;
	}
	rec = malloc(sizeof(*rec));
	if (!rec) {
		err = -ENOMEM;
		goto out;
	}
	err = find_record(&c->r, &c->pm, id, rec);
	if (err == -HP_E_NOT_APPLIED) {
		err = 0;
		goto out;
	}
	if (err)
		goto out;
	c->rec = rec;
	rec = NULL;
out:
	free(rec);
	return err;
}

/* Unmap the regions of package id that a killed run left behind before
 * writing any jump ("prepared", no jump in place): nothing ever referred to
 * them, so no thread can be inside. Regions a rollback kept are left alone:
 * a thread may still be running in them. */
static void reclaim_prepared(struct live_ctx *c, const char *id);

/* Read what lies above rsp, within the mapping holding it: pread stops at
 * the first unmapped byte, so a short read is not an error. */
static size_t read_stack(struct live_ctx *c, uint64_t rsp)
{
	const struct procmap *m = procmaps_find(&c->pm, rsp);
	uint64_t end = rsp + c->stack_scan;
	ssize_t n;

	if (m && m->end < end)
		end = m->end;
	n = pread(c->r.mem_fd, c->stack_buf, (size_t)(end - rsp), (off_t)rsp);
	return n > 0 ? (size_t)n & ~(size_t)7 : 0;
}

/* Is every stopped thread clear of the guards? 0, or -HP_E_BUSY after a
 * message (when loud) naming the thread and where it is. */
static int check_threads(struct live_ctx *c, const struct guard *gd, size_t ngd, bool loud)
{
	size_t i, k, w, len;
	bool any_stack = false;

	for (k = 0; k < ngd; k++)
		any_stack |= gd[k].stack;
	if (any_stack && !c->stack_buf) {
		c->stack_buf = malloc(c->stack_scan);
		if (!c->stack_buf)
			return -ENOMEM;
	}
	for (i = 0; i < c->g.n; i++) {
		const struct pt_thread *t = &c->g.threads[i];
		uint64_t pcs[2];
		size_t npc = 1, p;

		if (t->gone || !t->stopped)
			continue;
		pcs[0] = t->regs.rip;
		/* Blocked in a system call: the kernel may rewind rip onto the
		 * syscall instruction to restart it. */
		if ((long long)t->regs.orig_rax >= 0)
			pcs[npc++] = t->regs.rip - 2;
		for (k = 0; k < ngd; k++) {
			for (p = 0; p < npc; p++) {
				if (pcs[p] >= gd[k].lo && pcs[p] < gd[k].hi) {
					if (loud)
						pr_info("live: pid %d: %s+%#llx: thread %d is executing there",
							(int)c->pid, gd[k].name,
							(unsigned long long)(pcs[p] - gd[k].base),
							(int)t->tid);
					return -HP_E_BUSY;
				}
			}
		}
		if (!any_stack)
			continue;
		len = read_stack(c, t->regs.rsp);
		for (w = 0; w < len; w += 8) {
			uint64_t v;

			memcpy(&v, c->stack_buf + w, 8);
			for (k = 0; k < ngd; k++) {
				if (gd[k].stack && v >= gd[k].lo && v < gd[k].hi) {
					if (loud)
						pr_info("live: pid %d: %s+%#llx: thread %d has a return address there on its stack (rsp+%#zx)",
							(int)c->pid, gd[k].name,
							(unsigned long long)(v - gd[k].base), (int)t->tid, w);
					return -HP_E_BUSY;
				}
			}
		}
	}
	return 0;
}

/* Run a memory system call on one briefly stopped thread. */
static int remote_call(struct live_ctx *c, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
		       uint64_t a3, long *ret)
{
	uint64_t args[6] = { a0, a1, a2, a3, (uint64_t)-1, 0 };
	long t = ptrace_pick_thread(&c->g);
	bool was_stopped;
	int err;

	if (t < 0)
		return gone_or(c, -HP_E_PROCESS, "patch");
	was_stopped = c->g.threads[t].stopped && !c->g.threads[t].interrupt_pending;
	if (!was_stopped) {
		err = ptrace_stop_one(&c->g, (size_t)t);
		if (err)
			return gone_or(c, err, "patch");
	}
	err = remote_syscall(&c->r, (size_t)t, nr, args, ret);
	if (!was_stopped)
		ptrace_resume_one(&c->g, (size_t)t);
	return err ? gone_or(c, err, "patch") : 0;
}

static int unmap_region(struct live_ctx *c, uint64_t base, uint64_t size)
{
	long ret = 0;
	int err = remote_call(c, SYS_munmap, base, size, 0, 0, &ret);

	if (!err && ret < 0) {
		pr_warn("live: pid %d: munmap of the region at %#llx failed: %s", (int)c->pid,
			(unsigned long long)base, strerror((int)-ret));
		err = (int)ret;
	}
	return err;
}

static void reclaim_prepared(struct live_ctx *c, const char *id)
{
	struct found *f = malloc(sizeof(*f));
	size_t k;

	if (!f)
		return;
	for (k = 0; k < c->pm.n; k++) {
		const struct procmap *m = &c->pm.maps[k];

		if (m->inode || m->path[0] || (m->perms & (PM_EXEC | PM_WRITE)) != PM_EXEC)
			continue;
		if (read_record(&c->r, m->start, m->end - m->start, f) || strcmp(f->hdr.id, id) ||
		    f->hdr.state != LIVE_PREPARED || count_applied(&c->r, f))
			continue;
		if (!unmap_region(c, f->base, f->hdr.region_size))
			pr_info("live: pid %d: released the region at %#llx a stopped run of %s left",
				(int)c->pid, (unsigned long long)f->base, id);
	}
	free(f);
}

static void sleep_us(unsigned int us)
{
	struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void fill_result(struct live_ctx *c, struct hp_live_result *res)
{
	if (!res)
		return;
	res->attempts = c->attempts;
	res->threads = c->nstopped;
	if (c->g.last_resume_ns > c->g.first_stop_ns)
		res->stop_ns = c->g.last_resume_ns - c->g.first_stop_ns;
}

static int check_patch(pid_t pid, const struct hp_live_patch *p)
{
	size_t i;

	if (!p || !p->id || !p->id[0] || strlen(p->id) > 31 || !p->funcs || !p->nfuncs ||
	    p->nfuncs > LIVE_MAX_FUNCS || !p->image || !p->image_size ||
	    p->image_size > (64u << 20) || p->image_text_size > p->image_size ||
	    p->image_text_size % PAGE) {
		pr_warn("live: pid %d: invalid patch description", (int)pid);
		return -EINVAL;
	}
	for (i = 0; i < p->nfuncs; i++) {
		const struct hp_live_func *f = &p->funcs[i];

		if (!f->entry || !f->expect || f->expect_len < f->patch_off + LIVE_JUMP_LEN ||
		    f->expect_len > 4096 || f->size < f->patch_off + LIVE_JUMP_LEN) {
			pr_warn("live: pid %d: %s: function too small for a jump or no fingerprint",
				(int)pid, f->name ? f->name : "?");
			return -HP_E_UNPATCHABLE;
		}
	}
	return 0;
}

/* Entries must lie in executable mappings and hold the fingerprint. */
static int check_entries(struct live_ctx *c, const struct hp_live_patch *p, bool in_window)
{
	uint8_t *buf = NULL;
	size_t i;
	int err = 0;

	for (i = 0; i < p->nfuncs; i++) {
		const struct hp_live_func *f = &p->funcs[i];
		const struct procmap *m = procmaps_find(&c->pm, f->entry);

		if (!in_window && (!m || !(m->perms & PM_EXEC) || f->entry + f->size > m->end)) {
			pr_warn("live: pid %d: %s at %#llx: not inside executable code of the process",
				(int)c->pid, f->name, (unsigned long long)f->entry);
			err = -HP_E_NOT_FOUND;
			goto out;
		}
		free(buf);
		buf = malloc(f->expect_len);
		if (!buf) {
			err = -ENOMEM;
			goto out;
		}
		err = remote_read(&c->r, f->entry, buf, f->expect_len);
		if (err) {
			err = gone_or(c, err, "patch");
			if (err != -HP_E_PROCESS)
				pr_warn("live: pid %d: %s: cannot read its code: %s", (int)c->pid,
					f->name, hp_strerror(err));
			goto out;
		}
		if (memcmp(buf, f->expect, f->expect_len)) {
			pr_warn("live: pid %d: %s at %#llx: code differs from the fingerprint",
				(int)c->pid, f->name, (unsigned long long)f->entry);
			err = -HP_E_MISMATCH;
			goto out;
		}
	}
out:
	free(buf);
	return err;
}

/* Each site of rec must hold its jump or, where a killed run got that far,
 * its original bytes already; anything else was written by someone else. */
static int check_sites(struct live_ctx *c, const struct found *rec, const char *what)
{
	uint8_t cur[sizeof(rec->funcs[0].jump)];
	unsigned int i;

	for (i = 0; i < rec->hdr.nfuncs; i++) {
		const struct live_rec_func *fn = &rec->funcs[i];

		/* The length comes from the process: never read past cur. */
		if (fn->jump_len != LIVE_JUMP_LEN ||
		    remote_read(&c->r, fn->entry + fn->patch_off, cur, fn->jump_len))
			return gone_or(c, -EIO, what);
		if (memcmp(cur, fn->jump, fn->jump_len) && memcmp(cur, fn->orig, fn->jump_len)) {
			pr_warn("live: pid %d: %s at %#llx: holds neither the jump of %s nor the original bytes",
				(int)c->pid, fn->name, (unsigned long long)fn->entry, rec->hdr.id);
			return -HP_E_STATE;
		}
	}
	return 0;
}

/* The guard of one redirected function: no thread may be inside the bytes
 * its jump replaces (one at the site itself just takes the jump); whole:
 * nor anywhere in the function, nor hold a return address into it. */
static void guard_func(struct guard *g, const char *name, uint64_t entry, uint64_t size,
		       uint64_t site, bool whole)
{
	g->name = name;
	g->base = entry;
	g->lo = site + 1;
	g->hi = whole ? entry + size : site + LIVE_JUMP_LEN;
	g->stack = whole;
}

/* What a window must find, every thread stopped, before anything is written. */
struct window {
	const struct hp_live_patch *patch; /* entries still match its fingerprints; or, if NULL, */
	const struct found *rec;           /* each site holds rec's jump or its original bytes */
	const struct guard *gd;            /* where no thread may be */
	size_t ngd;                        /* entries in gd */
	const char *stopped;               /* fault point once all are stopped, or NULL */
	const char *what;                  /* "patch" or "rollback", for messages */
};

/* Resume every thread. detach: let them go as well, after the writes;
 * detaching resumes as fast as PTRACE_CONT does, and saves stopping every
 * thread again to detach it afterwards. */
static void window_close(struct live_ctx *c, bool detach)
{
	ptrace_resume_all(&c->g, detach);
	unboost(c);
}

/* Stop every thread and check w. While a thread is in the way, resume them
 * all and try again after a growing pause, c->retries more times, the last
 * one saying which thread is where. Returns 0 with every thread stopped: the
 * caller writes, then calls window_close(). Else an error, every thread
 * running again; when the checks refused (rather than stopping failing),
 * res says how many windows were tried and how long the last one lasted. */
static int window_open(struct live_ctx *c, const struct window *w, struct hp_live_result *res)
{
	unsigned int backoff = c->backoff_us;
	int err;

	for (c->attempts = 1;; c->attempts++) {
		boost(c);
		err = ptrace_stop_all(&c->g);
		if (err) {
			unboost(c);
			return err;
		}
		c->nstopped = (unsigned int)ptrace_live_threads(&c->g);
		if (w->stopped)
			fault_point(w->stopped);
		err = w->patch ? check_entries(c, w->patch, true) : check_sites(c, w->rec, w->what);
		if (!err)
			err = check_threads(c, w->gd, w->ngd, c->attempts > c->retries);
		if (!err)
			return 0;
		window_close(c, false);
		if (err != -HP_E_BUSY || c->attempts > c->retries) {
			fill_result(c, res);
			return err;
		}
		sleep_us(backoff);
		backoff = backoff * 2 > MAX_BACKOFF_US ? MAX_BACKOFF_US : backoff * 2;
	}
}

/* In a window, write at the sites of fn[0..n) that todo marks (NULL: all)
 * their jump (jump) or their original bytes; partial is the fault point
 * after the first of several writes, or NULL. When a write fails, every
 * site written so far gets its other bytes back, the failed one too: a
 * write crossing a page boundary may have changed part of it. */
static int write_sites(struct live_ctx *c, const struct live_rec_func *fn, unsigned int n,
		       const bool *todo, bool jump, const char *partial)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < n; i++) {
		if (todo && !todo[i])
			continue;
		err = remote_write(&c->r, fn[i].entry + fn[i].patch_off,
				   jump ? fn[i].jump : fn[i].orig, fn[i].jump_len);
		if (err)
			break;
		if (i == 0 && n > 1 && partial)
			fault_point(partial);
	}
	if (!err)
		return 0;
	do {
		if (!todo || todo[i])
			remote_write(&c->r, fn[i].entry + fn[i].patch_off,
				     jump ? fn[i].orig : fn[i].jump, fn[i].jump_len);
	} while (i--);
	return err;
}

/* The state in the record at base, written before the threads resume so
 * no reader sees jumps and a state that disagree. Best effort: status
 * counts the jumps themselves. */
static void set_state(struct live_ctx *c, uint64_t base, uint32_t state)
{
	remote_write(&c->r, base + offsetof(struct live_rec_hdr, state), &state, sizeof(state));
}

int hp_live__apply(pid_t pid, const struct hp_live_patch *patch, const struct hp_live_opts *opts,
		   struct hp_live_result *res)
{
	bool entry_mode = opts && opts->consistency == HP_LIVE_ENTRY;
	struct live_ctx c;
	struct live_rec_hdr *hdr;
	struct live_rec_func *rf;
	struct guard *gd = NULL;
	uint64_t *new_addr = NULL;
	uint8_t *buf = NULL;
	uint64_t lo = UINT64_MAX, hi = 0, base = 0, image_off, region_size, text_end;
	bool mapped = false;
	size_t i;
	long ret;
	int err;

	ctx_init(&c, pid, opts);
	if (res)
		memset(res, 0, sizeof(*res));
	err = check_patch(pid, patch);
	if (err)
		goto out;
	err = live_begin(&c, patch->id, "live-apply-seized", "patch");
	if (err)
		goto out;
	if (c.rec && c.rec->applied) {
		pr_info("live: pid %d: %s is already applied (region at %#llx)", (int)pid,
			patch->id, (unsigned long long)c.rec->base);
		err = -HP_E_ALREADY;
		goto out;
	}
	err = check_entries(&c, patch, false);
	if (err)
		goto out;
	reclaim_prepared(&c, patch->id);

	/* Lay out the region: the record, then, from a page boundary (the
	 * linker's alignment, and where protections may change), the linked
	 * code and its data. */
	image_off = (sizeof(*hdr) + patch->nfuncs * sizeof(*rf) + PAGE - 1) & ~(PAGE - 1);
	text_end = patch->image_text_size && patch->image_text_size < patch->image_size
			   ? image_off + patch->image_text_size : 0;
	region_size = (image_off + patch->image_size + PAGE - 1) & ~(PAGE - 1);
	for (i = 0; i < patch->nfuncs; i++) {
		if (patch->funcs[i].entry < lo)
			lo = patch->funcs[i].entry;
		if (patch->funcs[i].entry + patch->funcs[i].size > hi)
			hi = patch->funcs[i].entry + patch->funcs[i].size;
	}
	err = procmaps_find_gap(&c.pm, lo, hi, region_size, 0, &base);
	if (err) {
		pr_warn("live: pid %d: no free address space within 2 GiB of %#llx-%#llx for %llu bytes",
			(int)pid, (unsigned long long)lo, (unsigned long long)hi,
			(unsigned long long)region_size);
		goto out;
	}
	buf = calloc(1, region_size);
	new_addr = calloc(patch->nfuncs, sizeof(*new_addr));
	gd = calloc(patch->nfuncs, sizeof(*gd));
	if (!buf || !new_addr || !gd) {
		err = -ENOMEM;
		goto out;
	}
	err = patch->image(patch->ctx, base + image_off, buf + image_off, patch->image_size,
			   new_addr);
	if (err)
		goto out;

	hdr = (struct live_rec_hdr *)buf;
	memcpy(hdr->magic, LIVE_MAGIC, 8);
	hdr->version = LIVE_VERSION;
	hdr->hdr_size = sizeof(*hdr);
	hdr->func_size = sizeof(*rf);
	hdr->state = LIVE_PREPARED;
	hdr->nfuncs = (uint32_t)patch->nfuncs;
	hdr->region_size = region_size;
	hdr->image_off = image_off;
	hdr->image_size = patch->image_size;
	hdr->created = (uint64_t)time(NULL);
	strncpy(hdr->id, patch->id, sizeof(hdr->id) - 1);
	for (i = 0; i < patch->nfuncs; i++) {
		const struct hp_live_func *f = &patch->funcs[i];
		uint64_t site = f->entry + f->patch_off;
		int64_t rel = (int64_t)(new_addr[i] - (site + LIVE_JUMP_LEN));
		int32_t rel32 = (int32_t)rel;

		if (new_addr[i] < base + image_off ||
		    new_addr[i] >= base + (text_end ? text_end : image_off + patch->image_size) ||
		    rel != (int64_t)rel32) {
			pr_warn("live: pid %d: %s: replacement at %#llx is outside the payload or out of jump reach",
				(int)pid, f->name, (unsigned long long)new_addr[i]);
			err = -HP_E_RELOC;
			goto out;
		}
		rf = (struct live_rec_func *)(buf + sizeof(*hdr)) + i;
		rf->entry = f->entry;
		rf->size = f->size;
		rf->new_addr = new_addr[i];
		rf->patch_off = f->patch_off;
		rf->jump_len = LIVE_JUMP_LEN;
		memcpy(rf->orig, f->expect + f->patch_off, LIVE_JUMP_LEN);
		rf->jump[0] = 0xe9;
		memcpy(rf->jump + 1, &rel32, 4);
		rec_func_name(rf->name, f->name);
		guard_func(&gd[i], f->name ? f->name : "?", f->entry, f->size, site, !entry_mode);
	}
	fault_point("live-apply-linked");

	/* Map the region while the process runs; MAP_FIXED_NOREPLACE so a
	 * mapping made since we read the maps is never clobbered. */
	err = remote_call(&c, SYS_mmap, base, region_size, PROT_READ | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, &ret);
	if (err)
		goto out;
	if (ret < 0 || (uint64_t)ret != base) {
		if (ret >= 0 && (uint64_t)ret != base) {
			/* An old kernel took the hint as a hint only. */
			unmap_region(&c, (uint64_t)ret, region_size);
		}
		pr_warn("live: pid %d: cannot map %llu bytes at %#llx: %s", (int)pid,
			(unsigned long long)region_size, (unsigned long long)base,
			ret < 0 ? strerror((int)-ret) : "placed elsewhere");
		err = ret == -EEXIST ? -EAGAIN : -HP_E_NOT_FOUND;
		goto out;
	}
	mapped = true;
	if (res) {
		res->region = base;
		res->region_size = region_size;
	}
	fault_point("live-apply-mapped");
	err = remote_write(&c.r, base, buf, region_size);
	if (err) {
		err = gone_or(&c, err, "patch");
		if (err != -HP_E_PROCESS)
			pr_warn("live: pid %d: cannot write the region at %#llx: %s", (int)pid,
				(unsigned long long)base, hp_strerror(err));
		goto out;
	}
	if (text_end) {
		/* The payload's data: writable, never executable. */
		err = remote_call(&c, SYS_mprotect, base + text_end, region_size - text_end,
				  PROT_READ | PROT_WRITE, 0, &ret);
		if (!err && ret < 0) {
			pr_warn("live: pid %d: cannot make the payload data at %#llx writable: %s",
				(int)pid, (unsigned long long)(base + text_end), strerror((int)-ret));
			err = (int)ret;
		}
		if (err)
			goto out;
	}
	fault_point("live-apply-written");

	err = window_open(&c, &(struct window){ .patch = patch, .gd = gd, .ngd = patch->nfuncs,
						.stopped = "live-apply-stopped", .what = "patch" },
			  res);
	if (err) {
		if (err == -HP_E_BUSY)
			pr_warn("live: pid %d: %s: still busy after %u attempts; process left unchanged",
				(int)pid, patch->id, c.attempts);
		goto out;
	}
	rf = (struct live_rec_func *)(buf + sizeof(*hdr));
	err = write_sites(&c, rf, (unsigned int)patch->nfuncs, NULL, true, "live-apply-partial");
	if (err) {
		window_close(&c, false);
		err = gone_or(&c, err, "patch");
		if (err != -HP_E_PROCESS)
			pr_warn("live: pid %d: cannot write a jump: %s", (int)pid, hp_strerror(err));
		goto out;
	}
	fault_point("live-apply-jumped");
	set_state(&c, base, LIVE_APPLIED);
	window_close(&c, true);
	mapped = false;
	fill_result(&c, res);
	fault_point("live-apply-resumed");
	pr_info("live: pid %d: %s applied (%zu functions, region %#llx, %u threads stopped %.1f us)",
		(int)pid, patch->id, patch->nfuncs, (unsigned long long)base,
		res ? res->threads : 0, res ? res->stop_ns / 1000.0 : 0.0);
out:
	/* Nothing refers to the region unless a jump was written. */
	if (mapped)
		unmap_region(&c, base, region_size);
	live_end(&c);
	free(gd);
	free(new_addr);
	free(buf);
	return err;
}

int hp_live__rollback(pid_t pid, const char *id, const struct hp_live_opts *opts,
		      struct hp_live_result *res)
{
	bool entry_mode = opts && opts->consistency == HP_LIVE_ENTRY;
	struct live_ctx c;
	const struct found *f;
	struct guard *gd = NULL;
	unsigned int i;
	bool in_use = true;
	size_t ngd;
	int err;

	ctx_init(&c, pid, opts);
	if (res)
		memset(res, 0, sizeof(*res));
	if (!id || !id[0]) {
		pr_warn("live: pid %d: rollback needs a package id", (int)pid);
		return -EINVAL;
	}
	err = live_begin(&c, id, "live-rollback-seized", "rollback");
	if (err)
		goto out;
	f = c.rec;
	if (!f || !f->applied) {
		pr_info("live: pid %d: %s is not applied", (int)pid, id);
		err = -HP_E_NOT_APPLIED;
		goto out;
	}
	if (res) {
		res->region = f->base;
		res->region_size = f->hdr.region_size;
	}

	/* Guards: the inside of each jump, and (full) the payload code. */
	ngd = f->hdr.nfuncs + 1;
	gd = calloc(ngd, sizeof(*gd));
	if (!gd) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < f->hdr.nfuncs; i++)
		guard_func(&gd[i], f->funcs[i].name, f->funcs[i].entry, f->funcs[i].size,
			   f->funcs[i].entry + f->funcs[i].patch_off, false);
	gd[ngd - 1].name = "payload";
	gd[ngd - 1].base = f->base;
	gd[ngd - 1].lo = f->base + f->hdr.image_off;
	gd[ngd - 1].hi = f->base + f->hdr.region_size;
	gd[ngd - 1].stack = true;

	err = window_open(&c, &(struct window){ .rec = f, .gd = gd, .ngd = entry_mode ? ngd - 1 : ngd,
						.stopped = "live-rollback-stopped", .what = "rollback" },
			  res);
	if (err) {
		if (err == -HP_E_BUSY)
			pr_warn("live: pid %d: %s: still busy after %u attempts; process left unchanged",
				(int)pid, id, c.attempts);
		goto out;
	}
	err = write_sites(&c, f->funcs, f->hdr.nfuncs, NULL, false, "live-rollback-partial");
	if (err) {
		window_close(&c, false);
		err = gone_or(&c, err, "rollback");
		goto out;
	}
	fault_point("live-rollback-restored");
	/* Nothing jumps into the payload any more; it can go once no thread
	 * is in it nor will return into it. */
	in_use = entry_mode ? check_threads(&c, &gd[ngd - 1], 1, false) != 0 : false;
	set_state(&c, f->base, LIVE_ROLLED_BACK);
	window_close(&c, true);
	fill_result(&c, res);
	fault_point("live-rollback-resumed");
	if (!in_use) {
		/* One thread is enough to run munmap. */
		ptrace_release(&c.g);
		err = ptrace_seize_thread(&c.g, pid, pid);
		if (!err && !unmap_region(&c, f->base, f->hdr.region_size) && res)
			res->region_released = 1;
		if (err) {
			pr_warn("live: pid %d: %s rolled back, but its region at %#llx stays mapped",
				(int)pid, id, (unsigned long long)f->base);
			err = 0;
		}
		fault_point("live-rollback-released");
	}
	pr_info("live: pid %d: %s rolled back (region %#llx %s)", (int)pid, id,
		(unsigned long long)f->base, in_use ? "kept: a thread may still use it" : "released");
out:
	live_end(&c);
	free(gd);
	return err;
}

int hp_live__complete(pid_t pid, const char *id, const struct hp_live_opts *opts,
		      struct hp_live_result *res)
{
	bool entry_mode = opts && opts->consistency == HP_LIVE_ENTRY;
	struct live_ctx c;
	const struct found *f;
	struct guard *gd = NULL;
	bool *todo = NULL;
	unsigned int i, ngd = 0;
	uint8_t cur[16];
	int err;

	ctx_init(&c, pid, opts);
	if (res)
		memset(res, 0, sizeof(*res));
	if (!id || !id[0]) {
		pr_warn("live: pid %d: completing needs a package id", (int)pid);
		return -EINVAL;
	}
	err = live_begin(&c, id, NULL, "patch");
	if (err)
		goto out;
	f = c.rec;
	if (!f || !f->applied) {
		/* A record with no jump in place was never half applied: a
		 * fresh apply (which releases it) is the way on. */
		err = -HP_E_NOT_APPLIED;
		goto out;
	}
	if (f->applied == f->hdr.nfuncs) {
		pr_info("live: pid %d: %s is already applied (region at %#llx)", (int)pid, id,
			(unsigned long long)f->base);
		err = -HP_E_ALREADY;
		goto out;
	}
	gd = calloc(LIVE_MAX_FUNCS, sizeof(*gd));
	todo = calloc(LIVE_MAX_FUNCS, sizeof(*todo));
	if (!gd || !todo) {
		err = -ENOMEM;
		goto out;
	}
	if (res) {
		res->region = f->base;
		res->region_size = f->hdr.region_size;
	}
	/* Only the functions still holding their original bytes are guarded:
	 * the others already run the new code. */
	for (i = 0; i < f->hdr.nfuncs; i++) {
		const struct live_rec_func *fn = &f->funcs[i];
		uint64_t site = fn->entry + fn->patch_off;

		if (fn->jump_len != LIVE_JUMP_LEN || remote_read(&c.r, site, cur, fn->jump_len)) {
			err = gone_or(&c, -EIO, "patch");
			goto out;
		}
		if (!memcmp(cur, fn->jump, fn->jump_len))
			continue;
		todo[i] = true;
		guard_func(&gd[ngd++], fn->name, fn->entry, fn->size, site, !entry_mode);
	}

	err = window_open(&c, &(struct window){ .rec = f, .gd = gd, .ngd = ngd, .what = "patch" },
			  res);
	if (err) {
		if (err == -HP_E_BUSY)
			pr_warn("live: pid %d: %s: still busy after %u attempts; process left as it was (%u of %u functions redirected)",
				(int)pid, id, c.attempts, f->applied, f->hdr.nfuncs);
		goto out;
	}
	err = write_sites(&c, f->funcs, f->hdr.nfuncs, todo, true, NULL);
	if (err) {
		window_close(&c, false);
		err = gone_or(&c, err, "patch");
		goto out;
	}
	set_state(&c, f->base, LIVE_APPLIED);
	window_close(&c, true);
	fill_result(&c, res);
	pr_info("live: pid %d: %s completed: %u of %u functions were redirected, now all",
		(int)pid, id, f->applied, f->hdr.nfuncs);
out:
	live_end(&c);
	free(todo);
	free(gd);
	return err;
}

int hp_live__status(pid_t pid, const char *id, struct hp_live_status *st)
{
	struct remote r = { .mem_fd = -1 };
	struct procmaps pm = { 0 };
	struct found *f = NULL;
	char path[64];
	int err;

	memset(st, 0, sizeof(*st));
	err = procmaps_read(pid, &pm);
	if (err) {
		if (err == -ESRCH)
			pr_warn("live: pid %d: no such process", (int)pid);
		err = err == -ESRCH ? -HP_E_PROCESS : err;
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	/* Reading needs no stop: the record only changes while we hold the
	 * process, and a reader sees either state. */
	r.mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r.mem_fd < 0) {
		err = errno == ENOENT ? -HP_E_PROCESS : -errno;
		pr_warn("live: pid %d: cannot read its memory: %s", (int)pid, hp_strerror(err));
		goto out;
	}
	f = malloc(sizeof(*f));
	if (!f) {
		err = -ENOMEM;
		goto out;
	}
	err = find_record(&r, &pm, id, f);
	if (err)
		goto out;
	memcpy(st->id, f->hdr.id, sizeof(st->id));
	st->region = f->base;
	st->region_size = f->hdr.region_size;
	st->nfuncs = f->hdr.nfuncs;
	st->applied = f->applied;
out:
	free(f);
	remote_close(&r);
	procmaps_free(&pm);
	return err;
}
