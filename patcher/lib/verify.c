/* The dry run (`hotpatch verify`): the pipeline stopped after the plan.
 *
 * For every target, on disk or mapped by a running process, it walks the
 * same checks apply relies on, in the same order: identity (package note
 * name and version, build-id), run-pre matching (the bytes of every function
 * to replace hash to the manifest's fingerprint: what is there must be what
 * the patch was built against), patchability (the analysis' verdict on the
 * entry), and linking (every undefined symbol of the payload resolves
 * against that target). Each target ends with one verdict and, when it
 * would not be patched, one line saying why.
 *
 * It changes nothing: files are only read, and a process is never stopped
 * or traced; its function bytes are read through /proc/PID/mem, and its
 * identity from the file it actually maps (/proc/PID/map_files), which may
 * differ from what is on disk now.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "elf_priv.h"
#include "link.h"
#include "privilege.h"
#include "procmaps.h"

/* Bytes after a function's end read with it, for the analysis to see the
 * alignment padding a jump window may use. */
#define VERIFY_MAX_PADDING 32u
/* A replaced function larger than this is not what a fix is made of. */
#define VERIFY_MAX_FUNC (1u << 20)

/* Mapped files already known not to be a component, by device and inode,
 * so a machine-wide scan opens libc once rather than once per process. */
struct seen {
	unsigned int major; /* device of the file */
	unsigned int minor; /* device of the file */
	uint64_t inode;     /* inode of the file */
};

struct run {
	const struct hp_package *pkg;   /* what is verified */
	struct hp_verify_report *rep;   /* what is found */
	size_t cap;                     /* allocated entries of rep->targets */
	struct seen *seen;              /* files that are not components */
	size_t nr_seen, cap_seen;       /* entries used, allocated */
};

const char *hp_verdict_name(enum hp_verdict v)
{
	switch (v) {
	case HP_VERDICT_WOULD_PATCH:
		return "would-patch";
	case HP_VERDICT_NOT_ELIGIBLE:
		return "not-eligible";
	case HP_VERDICT_ALREADY:
		return "already-patched";
	case HP_VERDICT_REFUSED:
		return "refused";
	case HP_VERDICT_ERROR:
		return "error";
	case HP_VERDICT_WOULD_REPLACE:
		return "would-replace";
	case HP_VERDICT_NEEDS_RESTART:
		return "needs-restart";
	case HP_VERDICT_COUNT:
		break;
	}
	return "?";
}

static struct hp_verify_target *add_target(struct run *r, const char *path, pid_t pid)
{
	struct hp_verify_target *t;

	if (r->rep->nr_targets == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;

		t = realloc(r->rep->targets, cap * sizeof(*t));
		if (!t)
			return NULL;
		r->rep->targets = t;
		r->cap = cap;
	}
	t = &r->rep->targets[r->rep->nr_targets];
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->path = strdup(path);
	if (!t->path)
		return NULL;
	r->rep->nr_targets++;
	return t;
}

/* Settle t's verdict, with a reason when it is not "would patch". */
static void verdict(struct hp_verify_target *t, enum hp_verdict v, int err, const char *fmt, ...)
	HP_PRINTF(4, 5);
static void verdict(struct hp_verify_target *t, enum hp_verdict v, int err, const char *fmt, ...)
{
	va_list ap;

	t->verdict = v;
	t->err = err;
	free(t->reason);
	t->reason = NULL;
	if (!fmt)
		return;
	va_start(ap, fmt);
	if (vasprintf(&t->reason, fmt, ap) < 0)
		t->reason = NULL;
	va_end(ap);
}

/* t could not be examined for lack of privilege: say what was refused and why. */
static void denied(struct hp_verify_target *t, const char *what)
{
	char why[256];

	privilege_why(t->pid, why, sizeof(why));
	verdict(t, HP_VERDICT_ERROR, -HP_E_PRIVILEGE, "not allowed to %s: %s", what, why);
}

/* Where messages name a target: "FILE" or "pid N (comm): FILE". */
static void describe(const struct hp_verify_target *t, char *buf, size_t len)
{
	if (t->pid)
		snprintf(buf, len, "pid %d (%s): %s", (int)t->pid, t->comm ? t->comm : "?", t->path);
	else
		snprintf(buf, len, "%s", t->path);
}

static int read_mem(int memfd, uint64_t addr, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(memfd, (uint8_t *)buf + got, len - got, (off_t)(addr + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EFAULT;
		got += (size_t)n;
	}
	return 0;
}

/* Analyse function sym as the process behind memfd has it in memory: the
 * same analysis as for a file, on the bytes at the runtime address. */
static int analyze_in_memory(const struct hp_elf *elf, const struct hp_symbol *sym, int memfd,
			     uint64_t bias, struct hp_func_report *rep)
{
	const struct hp_section *sec = hp_elf__section_at(elf, sym->value);
	uint64_t end = elf_next_symbol_addr(elf, sym->value), pad = 0;
	uint8_t *code;
	int err;

	if (sym->size == 0 || sym->size > VERIFY_MAX_FUNC)
		return hp_func__analyze(elf, sym, rep);
	if (sec && sec->addr + sec->size < end)
		end = sec->addr + sec->size;
	if (end > sym->value + sym->size)
		pad = end - (sym->value + sym->size);
	if (pad > VERIFY_MAX_PADDING)
		pad = VERIFY_MAX_PADDING;
	code = malloc(sym->size + pad);
	if (!code)
		return -ENOMEM;
	err = read_mem(memfd, sym->value + bias, code, sym->size + pad);
	if (err == -EFAULT || err == -EIO) {
		/* Padding may run into an unmapped page; the function itself may not. */
		pad = 0;
		err = read_mem(memfd, sym->value + bias, code, sym->size);
	}
	if (!err)
		err = hp_func__analyze_code(code, sym->size, sym->value + bias, pad, rep);
	free(code);
	return err;
}

/* True if the analysis found a jump leaving the function where the patch
 * would go: what an applied patch leaves at the entry. */
static bool entry_jumps_out(const struct hp_func_report *rep)
{
	unsigned int i;

	for (i = 0; i < rep->n_window; i++) {
		const struct hp_window_insn *in = &rep->window[i];

		if (in->kind == HP_INSN_ENDBR)
			continue;
		return in->kind == HP_INSN_JMP &&
		       (in->target < rep->addr || in->target >= rep->addr + rep->size);
	}
	return false;
}

/* The checks on one eligible target: functions, fingerprints, patchability,
 * file hash, then linking. */
static int check_eligible(struct run *r, struct hp_verify_target *t, const struct hp_elf *elf,
			  const struct hp_manifest_version *v, int memfd)
{
	const struct hp_manifest_component *c = t->component;
	const struct hp_package_payload *p = hp_package__find_payload(r->pkg, c->name);
	struct link_elf_resolver er = { .elf = elf, .bias = t->bias };
	struct link_resolver res = { link_resolve_elf, &er };
	struct hp_func_report *rep = NULL;
	size_t i, mismatched = 0, jumping = 0, unpatchable = 0;
	const char *first_bad = NULL, *first_unpatchable = NULL, *why = NULL;
	char where[512];
	int err = 0;

	describe(t, where, sizeof(where));
	t->funcs = calloc(c->nr_functions, sizeof(*t->funcs));
	rep = malloc(sizeof(*rep));
	if (!t->funcs || !rep) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < c->nr_functions; i++) {
		const struct hp_symbol *sym = hp_elf__find_symbol(elf, c->functions[i]);
		struct hp_verify_func *f = &t->funcs[i];

		f->name = c->functions[i];
		t->nr_funcs = i + 1;
		if (!sym || !sym->defined || sym->kind != HP_SYM_FUNC) {
			verdict(t, HP_VERDICT_REFUSED, -HP_E_NOT_FOUND,
				"function %s not found in version %s", c->functions[i], v->version);
			pr_warn("verify: %s: %s", where, t->reason);
			goto out;
		}
		err = memfd >= 0 ? analyze_in_memory(elf, sym, memfd, t->bias, rep) :
				   hp_func__analyze(elf, sym, rep);
		if (err) {
			verdict(t, HP_VERDICT_ERROR, err, "%s: cannot read its bytes: %s",
				c->functions[i], hp_strerror(err));
			pr_warn("verify: %s: %s", where, t->reason);
			err = 0;
			goto out;
		}
		f->addr = sym->value + t->bias;
		f->size = rep->size;
		f->patch_offset = rep->patch_offset;
		f->window_len = rep->window_len;
		f->patchable = rep->patchable;
		f->reason = hp_func_reason_name(rep->reason);
		memcpy(f->fingerprint, rep->fingerprint, sizeof(f->fingerprint));
		f->fingerprint_ok = rep->size == v->funcs[i].size &&
				    !strcmp(rep->fingerprint, v->funcs[i].fingerprint);
		if (!f->fingerprint_ok) {
			mismatched++;
			if (!first_bad)
				first_bad = f->name;
			if (entry_jumps_out(rep))
				jumping++;
		} else if (!f->patchable) {
			unpatchable++;
			if (!first_unpatchable) {
				first_unpatchable = f->name;
				why = f->reason;
			}
		}
	}
	/* A jump out of every replaced function, and none of them the
	 * original: the patch (this one or one like it) is in place. */
	if (mismatched == c->nr_functions && jumping == mismatched) {
		verdict(t, HP_VERDICT_ALREADY, 0, "a jump at the entry of every replaced function");
		goto out;
	}
	if (mismatched) {
		verdict(t, HP_VERDICT_REFUSED, -HP_E_MISMATCH,
			"%s: bytes do not match the fingerprint of version %s (%zu of %zu functions differ)",
			first_bad, v->version, mismatched, c->nr_functions);
		pr_warn("verify: %s: %s", where, t->reason);
		goto out;
	}
	if (unpatchable) {
		verdict(t, HP_VERDICT_REFUSED, -HP_E_UNPATCHABLE, "%s: cannot take a jump at its entry (%s)",
			first_unpatchable, why);
		pr_warn("verify: %s: %s", where, t->reason);
		goto out;
	}
	if (strcmp(t->sha256, v->sha256)) {
		verdict(t, HP_VERDICT_REFUSED, -HP_E_MISMATCH,
			"file SHA-256 %s differs from the %s pinned for version %s", t->sha256,
			v->sha256, v->version);
		pr_warn("verify: %s: %s", where, t->reason);
		goto out;
	}
	if (!p) {
		verdict(t, HP_VERDICT_ERROR, -HP_E_NOT_FOUND, "no payload for component %s", c->name);
		goto out;
	}
	err = link_check(p->link, &res);
	if (err) {
		verdict(t, HP_VERDICT_REFUSED, err, "the payload %s does not link against it (%s)",
			c->payload, hp_strerror(err));
		pr_warn("verify: %s: %s", where, t->reason);
		err = err == -ENOMEM ? err : 0;
		goto out;
	}
	/* A file: the cold patch must give exactly the result the package
	 * pins (format 2), built as apply --disk would. */
	if (!t->pid && v->patched_sha256[0]) {
		void *img = NULL;
		size_t ilen = 0;

		err = hp_disk__build(r->pkg, t->path, &img, &ilen);
		free(img);
		if (err) {
			verdict(t, HP_VERDICT_REFUSED, err,
				"the disk patch cannot be built as the package pins it (%s)",
				hp_strerror(err));
			pr_warn("verify: %s: %s", where, t->reason);
			err = err == -ENOMEM ? err : 0;
			goto out;
		}
	}
	verdict(t, HP_VERDICT_WOULD_PATCH, 0, NULL);
out:
	free(rep);
	return err;
}

/* A component may ship several files with its package note (libmrxsmb.so
 * and the smbcli program built on it); only those that define a replaced
 * function are patch targets. */
static bool defines_any(const struct hp_elf *elf, const struct hp_manifest_component *c)
{
	size_t i;

	for (i = 0; i < c->nr_functions; i++) {
		const struct hp_symbol *sym = hp_elf__find_symbol(elf, c->functions[i]);

		if (sym && sym->defined && sym->kind == HP_SYM_FUNC)
			return true;
	}
	return false;
}

/* A version the hotpatch was not built for: the fix comes as the fixed
 * full build, if the package carries one for it (a file is replaced, a
 * process needs a restart), or not at all. A file that is a full build has
 * the fix already. */
static int examine_not_eligible(struct run *r, struct hp_verify_target *t,
				const struct hp_identity *id)
{
	const struct hp_manifest_component *c = t->component;
	const char *ver = id->pkg_version ? id->pkg_version : "(none)";
	const struct hp_manifest_replaced *rp;
	const struct hp_manifest_build *b;

	if ((b = hp_manifest__find_build_sha256(c, t->sha256))) {
		t->build = b;
		verdict(t, HP_VERDICT_ALREADY, 0, "%s the fixed full build %s",
			t->pid ? "runs" : "the file is", b->version);
		return 0;
	}
	b = id->pkg_version ? hp_manifest__find_build(c, id->pkg_version, &rp) : NULL;
	if (!b) {
		verdict(t, HP_VERDICT_NOT_ELIGIBLE, -HP_E_NOT_ELIGIBLE,
			"version %s of %s is not eligible for %s", ver, c->name, r->pkg->manifest->id);
		return 0;
	}
	if (strcmp(rp->sha256, t->sha256)) {
		/* Not the build the vendor named: replacing it could lose a
		 * local change nobody asked to lose. */
		verdict(t, t->pid ? HP_VERDICT_NOT_ELIGIBLE : HP_VERDICT_REFUSED, -HP_E_MISMATCH,
			"version %s with SHA-256 %s, but the full build %s replaces only the one with SHA-256 %s",
			ver, t->sha256, b->version, rp->sha256);
		if (!t->pid)
			pr_warn("verify: %s: %s", t->path, t->reason);
		return 0;
	}
	t->build = b;
	if (t->pid)
		verdict(t, HP_VERDICT_NEEDS_RESTART, 0,
			"version %s is not eligible for the hotpatch; the fixed full build %s replaces its file, and the process runs the old code until it is restarted",
			ver, b->version);
	else
		verdict(t, HP_VERDICT_WOULD_REPLACE, 0,
			"version %s is not eligible for the hotpatch; the fixed full build %s would replace the file (processes running it need a restart)",
			ver, b->version);
	return 0;
}

/* Identity first: which component, which version, which build. Returns 1
 * when a process' mapped file is of a component but holds none of its
 * functions: not a target, the caller drops it. */
static int examine(struct run *r, struct hp_verify_target *t, const struct hp_elf *elf,
		   const struct hp_manifest_component *expect, int memfd)
{
	const struct hp_identity *id = hp_elf__identity(elf);
	const struct hp_manifest *m = r->pkg->manifest;
	const struct hp_manifest_version *v;
	char where[512];

	if ((id->pkg_version && !(t->version = strdup(id->pkg_version))) ||
	    (id->build_id && !(t->build_id = strdup(id->build_id))))
		return -ENOMEM;
	memcpy(t->sha256, id->sha256, sizeof(t->sha256));
	t->component = id->pkg_name ? hp_manifest__find_component(m, id->pkg_name) : NULL;
	/* The package note name is what a component is recognised by, not
	 * where the file lies. */
	if (t->component && expect && t->component != expect)
		t->component = NULL;
	if (!t->component) {
		describe(t, where, sizeof(where));
		if (expect)
			verdict(t, HP_VERDICT_ERROR, -HP_E_NOT_FOUND,
				"found at an install path of component %s, but its package note name is %s",
				expect->name, id->pkg_name ? id->pkg_name : "absent");
		else
			verdict(t, HP_VERDICT_ERROR, -HP_E_NOT_FOUND,
				"not a component of %s (package note name %s)", m->id,
				id->pkg_name ? id->pkg_name : "absent");
		pr_warn("verify: %s: %s", where, t->reason);
		return 0;
	}
	if (!defines_any(elf, t->component)) {
		if (t->pid)
			return 1;
		verdict(t, HP_VERDICT_ERROR, -HP_E_NOT_FOUND,
			"a file of component %s that defines none of its replaced functions",
			t->component->name);
		return 0;
	}
	v = hp_manifest__find_version(t->component, id->pkg_version);
	if (!v)
		return examine_not_eligible(r, t, id);
	if (v->patched_sha256[0] && !strcmp(v->patched_sha256, t->sha256)) {
		verdict(t, HP_VERDICT_ALREADY, 0, "the file is the patched build of version %s",
			v->version);
		return 0;
	}
	if (!id->build_id || strcmp(id->build_id, v->build_id)) {
		describe(t, where, sizeof(where));
		verdict(t, HP_VERDICT_REFUSED, -HP_E_MISMATCH,
			"version %s with build-id %s, but the package pins it to build-id %s", v->version,
			id->build_id ? id->build_id : "(none)", v->build_id);
		pr_warn("verify: %s: %s", where, t->reason);
		return 0;
	}
	return check_eligible(r, t, elf, v, memfd);
}

/* A file target, named by its real path: what the disk executor opens and
 * journals is then exactly what was checked here. */
static int check_file(struct run *r, const char *path, const struct hp_manifest_component *expect)
{
	char real[PATH_MAX];
	struct hp_verify_target *t;
	struct hp_elf *elf;
	int err;

	t = add_target(r, realpath(path, real) ? real : path, 0);
	if (!t)
		return -ENOMEM;
	elf = hp_elf__open(t->path);
	if (!elf) {
		verdict(t, HP_VERDICT_ERROR, -errno, "cannot be read as a target: %s", hp_strerror(errno));
		return 0;
	}
	err = examine(r, t, elf, expect, -1);
	hp_elf__close(elf);
	return err < 0 ? err : 0;
}

/* Every file matching the components' install paths below root, each once
 * (libmrxsmb.so and the libmrxsmb.so.1 it links to are one file). */
static int search_root(struct run *r, const char *root)
{
	const struct hp_manifest *m = r->pkg->manifest;
	char realroot[PATH_MAX], real[PATH_MAX];
	struct seen *found = NULL;
	size_t nfound = 0, i, j, k, rootlen;
	int err = 0;

	if (!realpath(root, realroot)) {
		/* No root, no files below it: as a root without the paths. */
		if (errno == ENOENT)
			return 0;
		err = -errno;
		pr_warn("verify: %s: cannot search below it: %s", root, strerror(errno));
		return err;
	}
	rootlen = strcmp(realroot, "/") ? strlen(realroot) : 0;

	for (i = 0; i < m->nr_components && !err; i++) {
		const struct hp_manifest_component *c = &m->components[i];

		for (j = 0; j < c->nr_paths && !err; j++) {
			char *pattern = NULL;
			glob_t g = { 0 };
			int rc;

			if (asprintf(&pattern, "%s/%s", strcmp(root, "/") ? root : "", c->paths[j]) < 0)
				return -ENOMEM;
			rc = glob(pattern, GLOB_ERR, NULL, &g);
			free(pattern);
			if (rc == GLOB_NOSPACE)
				err = -ENOMEM;
			for (k = 0; rc == 0 && k < g.gl_pathc && !err; k++) {
				struct stat st;
				size_t n;
				struct seen *nf;

				if (stat(g.gl_pathv[k], &st) < 0 || !S_ISREG(st.st_mode))
					continue;
				for (n = 0; n < nfound; n++)
					if (found[n].inode == st.st_ino &&
					    found[n].major == (unsigned int)major(st.st_dev) &&
					    found[n].minor == (unsigned int)minor(st.st_dev))
						break;
				if (n < nfound)
					continue;
				nf = realloc(found, (nfound + 1) * sizeof(*found));
				if (!nf) {
					err = -ENOMEM;
					break;
				}
				found = nf;
				found[nfound++] = (struct seen){ major(st.st_dev), minor(st.st_dev), st.st_ino };
				/* A symbolic link below the root (libmrxsmb.so to
				 * libmrxsmb.so.1) is followed, but only to a file
				 * below the root too: whoever could place a link in
				 * an image must not get a file outside it patched. */
				if (!realpath(g.gl_pathv[k], real))
					continue;
				if (strncmp(real, realroot, rootlen) || real[rootlen] != '/') {
					struct hp_verify_target *t = add_target(r, g.gl_pathv[k], 0);

					if (!t) {
						err = -ENOMEM;
						break;
					}
					verdict(t, HP_VERDICT_REFUSED, -HP_E_UNSUPPORTED,
						"resolves to %s, outside the root %s; a symbolic link "
						"is not followed out of the root", real, realroot);
					pr_warn("verify: %s: %s", t->path, t->reason);
					continue;
				}
				err = check_file(r, real, c);
			}
			globfree(&g);
		}
	}
	free(found);
	return err;
}

static bool was_seen(const struct run *r, const struct procmap *pm)
{
	size_t i;

	for (i = 0; i < r->nr_seen; i++)
		if (r->seen[i].inode == pm->inode && r->seen[i].major == pm->dev_major &&
		    r->seen[i].minor == pm->dev_minor)
			return true;
	return false;
}

static void remember(struct run *r, const struct procmap *pm)
{
	if (r->nr_seen == r->cap_seen) {
		size_t cap = r->cap_seen ? 2 * r->cap_seen : 64;
		struct seen *s = realloc(r->seen, cap * sizeof(*s));

		if (!s)
			return; /* only a cache */
		r->seen = s;
		r->cap_seen = cap;
	}
	r->seen[r->nr_seen++] = (struct seen){ pm->dev_major, pm->dev_minor, pm->inode };
}

/* Open the file a mapping maps: the mapped inode itself through
 * map_files (so a file replaced on disk since is still read as mapped), or,
 * where that is not allowed, the path through the process' root. */
static int open_mapped(pid_t pid, const struct procmap *pm)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", (int)pid,
		 (unsigned long long)pm->start, (unsigned long long)pm->end);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || pm->deleted)
		return fd < 0 ? -errno : fd;
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, pm->path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Runtime minus link-time address for the object mapped from pm's file:
 * its lowest mapping starts at the load base. */
static uint64_t load_bias(const struct procmaps *maps, const struct procmap *pm,
			  const struct hp_elf *elf)
{
	uint64_t lowest = pm->start - pm->offset;
	size_t i;

	for (i = 0; i < maps->n; i++) {
		const struct procmap *o = &maps->maps[i];

		if (o->inode == pm->inode && o->dev_major == pm->dev_major &&
		    o->dev_minor == pm->dev_minor && o->offset == 0) {
			lowest = o->start;
			break;
		}
	}
	return lowest - hp_elf__link_base(elf);
}

/* Every component file an executable mapping of pid maps. explicit: the
 * pid was asked for, so a process that is gone or maps no component is
 * itself a finding. */
static int check_process(struct run *r, pid_t pid, bool explicit)
{
	struct procmaps maps = { 0 };
	char *comm = NULL, mempath[64];
	size_t i, j, before = r->rep->nr_targets;
	bool refused = false;
	int memfd = -1, err;

	/* A machine-wide scan skips what it may not look at (other users'
	 * processes when not root), but counts it: the report says how many
	 * processes went unexamined, so "nothing to do" is never a guess. */
	if (!explicit) {
		snprintf(mempath, sizeof(mempath), "/proc/%d/maps", (int)pid);
		memfd = open(mempath, O_RDONLY | O_CLOEXEC);
		if (memfd < 0) {
			if (errno == EACCES || errno == EPERM)
				r->rep->nr_unreadable++;
			return 0;
		}
		close(memfd);
		memfd = -1;
	}
	err = procmaps_read(pid, &maps);
	comm = procmaps_comm(pid);
	if (err) {
		if (explicit) {
			struct hp_verify_target *t = add_target(r, "", pid);

			if (!t || (comm && !(t->comm = strdup(comm)))) {
				free(comm);
				return -ENOMEM;
			}
			if (privilege_denied(err))
				denied(t, "read its mappings");
			else
				verdict(t, HP_VERDICT_ERROR, err, "cannot read its mappings: %s",
					err == -ESRCH ? "no such process" : hp_strerror(err));
			pr_warn("verify: pid %d (%s): %s", (int)pid, comm ? comm : "?", t->reason);
		}
		free(comm);
		return err == -ENOMEM ? err : 0;
	}
	snprintf(mempath, sizeof(mempath), "/proc/%d/mem", (int)pid);
	for (i = 0; i < maps.n; i++) {
		const struct procmap *pm = &maps.maps[i];
		struct hp_verify_target *t;
		struct hp_elf *elf = NULL;
		char display[4200];
		bool dup = false;
		int fd;

		if (!(pm->perms & PM_EXEC) || !pm->inode || pm->path[0] != '/' || was_seen(r, pm))
			continue;
		/* One object may have several executable mappings. */
		for (j = before; j < r->rep->nr_targets && !dup; j++)
			dup = !strcmp(r->rep->targets[j].path, pm->path);
		if (dup)
			continue;
		fd = open_mapped(pid, pm);
		if (fd < 0) {
			/* Kept for the finding below: what we may not open may
			 * well be a component. */
			if (privilege_denied(fd))
				refused = true;
			continue;
		}
		snprintf(display, sizeof(display), "%s%s", pm->path, pm->deleted ? " (deleted)" : "");
		elf = hp_elf__open_fd(fd, display);
		close(fd);
		if (!elf) {
			remember(r, pm);
			continue;
		}
		if (!hp_elf__identity(elf)->pkg_name ||
		    !hp_manifest__find_component(r->pkg->manifest, hp_elf__identity(elf)->pkg_name)) {
			remember(r, pm);
			hp_elf__close(elf);
			continue;
		}
		t = add_target(r, display, pid);
		if (!t || (comm && !(t->comm = strdup(comm)))) {
			hp_elf__close(elf);
			err = -ENOMEM;
			goto out;
		}
		t->bias = load_bias(&maps, pm, elf);
		if (memfd < 0)
			memfd = open(mempath, O_RDONLY | O_CLOEXEC);
		if (memfd < 0 && privilege_denied(errno)) {
			denied(t, "read its memory");
			pr_warn("verify: pid %d (%s): %s", (int)pid, comm ? comm : "?", t->reason);
		} else if (memfd < 0) {
			verdict(t, HP_VERDICT_ERROR, -errno, "cannot read its memory: %s", strerror(errno));
			pr_warn("verify: pid %d (%s): %s", (int)pid, comm ? comm : "?", t->reason);
		} else {
			err = examine(r, t, elf, NULL, memfd);
		}
		hp_elf__close(elf);
		if (err == 1) {
			free(t->path);
			free(t->comm);
			free(t->version);
			free(t->build_id);
			free(t->reason);
			free(t->funcs);
			r->rep->nr_targets--;
			remember(r, pm);
			err = 0;
		}
		if (err)
			goto out;
	}
	if (explicit && r->rep->nr_targets == before) {
		struct hp_verify_target *t = add_target(r, "", pid);

		if (!t) {
			err = -ENOMEM;
			goto out;
		}
		t->comm = comm ? strdup(comm) : NULL;
		if (refused)
			denied(t, "open the files it maps");
		else
			verdict(t, HP_VERDICT_ERROR, -HP_E_NOT_FOUND, "maps no file of %s",
				r->pkg->manifest->id);
		pr_warn("verify: pid %d (%s): %s", (int)pid, comm ? comm : "?", t->reason);
	}
out:
	if (memfd >= 0)
		close(memfd);
	free(comm);
	procmaps_free(&maps);
	return err;
}

static int scan_processes(struct run *r)
{
	pid_t *pids = NULL;
	size_t n = 0, i;
	int err;

	err = procmaps_pids("verify", &pids, &n);
	for (i = 0; !err && i < n; i++)
		err = check_process(r, pids[i], false);
	free(pids);
	return err;
}

static int cmp_file(const void *a, const void *b)
{
	const struct hp_verify_target *x = a, *y = b;

	return strcmp(x->path, y->path);
}

int hp_verify__run(const struct hp_package *pkg, const struct hp_verify_opts *opts,
		   struct hp_verify_report **out)
{
	struct run r = { .pkg = pkg };
	size_t i, files;
	int err = 0;

	*out = NULL;
	r.rep = calloc(1, sizeof(*r.rep));
	if (!r.rep)
		return -ENOMEM;
	if (!opts->no_root) {
		struct stat st;
		const char *root = opts->root ? opts->root : "/";

		if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
			err = stat(root, &st) < 0 ? -errno : -ENOTDIR;
			pr_warn("verify: root %s: %s", root, hp_strerror(err));
			goto out;
		}
		err = search_root(&r, root);
	}
	for (i = 0; !err && i < opts->nr_files; i++)
		err = check_file(&r, opts->files[i], NULL);
	if (err)
		goto out;
	files = r.rep->nr_targets;
	if (files)
		qsort(r.rep->targets, files, sizeof(*r.rep->targets), cmp_file);
	if (opts->no_processes)
		;
	else if (opts->pids)
		for (i = 0; !err && i < opts->nr_pids; i++)
			err = check_process(&r, opts->pids[i], true);
	else
		err = scan_processes(&r);
	for (i = 0; i < r.rep->nr_targets; i++)
		r.rep->count[r.rep->targets[i].verdict]++;
out:
	free(r.seen);
	if (err) {
		hp_verify__free(r.rep);
		return err;
	}
	*out = r.rep;
	return 0;
}

void hp_verify__free(struct hp_verify_report *r)
{
	size_t i;

	if (!r)
		return;
	for (i = 0; i < r->nr_targets; i++) {
		struct hp_verify_target *t = &r->targets[i];

		free(t->path);
		free(t->comm);
		free(t->version);
		free(t->build_id);
		free(t->reason);
		free(t->funcs);
	}
	free(r->targets);
	free(r);
}
