/* The disk executor: the cold patch, so processes started after an update
 * run the fixed code too.
 *
 * For a file the dry run judged "would patch": read it once, link the
 * component's payload at the file's own link-time addresses, build the new
 * file (elf_write.c), keep the original in the state directory's backups
 * (checked by SHA-256), journal the intent, then replace the file
 * atomically through the same descriptor that was hashed (atomic_file.c:
 * mode, owner and extended attributes kept). Rollback puts the backup back
 * the same way. Each step is journalled before it is taken, and a step a
 * killed run left open is settled by looking at the file itself: it is
 * either exactly the original or exactly the patched result.
 *
 * Fault points (HOTPATCH_FAULT=<name>), in order, besides atomic_file's:
 *   disk-checked      apply: the dry run done, the file not yet opened again
 *   disk-built        apply: new file built in memory, nothing written
 *   disk-backed-up    apply: original stored in backups/
 *   disk-intent       apply: intent journalled, file not yet replaced
 *   disk-replaced     apply: file replaced, "done" not yet journalled
 *   disk-rb-intent    rollback: intent journalled, file not yet restored
 *   disk-restored     rollback: original back, "done" not yet journalled
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "atomic_file.h"
#include "disk.h"
#include "elf_write.h"
#include "link.h"

/* Files beyond this are refused, as the ELF reader does. */
#define DISK_MAX_FILE (2ULL << 30)

/* The note recorded in the new segment: who patched the file with what,
 * readable with `readelf -n`. */
static int make_note(const char *id, const struct hp_manifest_component *c,
		     const struct elf_write_jump *jumps, char *note, size_t size)
{
	size_t i, used;
	int n;

	n = snprintf(note, size, "package=%s\ncomponent=%s\n", id, c->name);
	if (n < 0 || (size_t)n >= size)
		return -HP_E_TOO_BIG;
	used = (size_t)n;
	for (i = 0; i < c->nr_functions; i++) {
		n = snprintf(note + used, size - used, "function=%s 0x%llx 0x%llx\n", c->functions[i],
			     (unsigned long long)jumps[i].at, (unsigned long long)jumps[i].target);
		if (n < 0 || (size_t)n >= size - used)
			return -HP_E_TOO_BIG;
		used += (size_t)n;
	}
	return 0;
}

int disk_build(const char *id, const struct hp_manifest_component *c,
	       const struct link_object *obj, const struct hp_elf *elf, const uint8_t *orig,
	       size_t len, uint8_t **out, size_t *out_len)
{
	const struct hp_identity *ident = hp_elf__identity(elf);
	struct link_elf_resolver er = { .elf = elf, .bias = 0 };
	struct link_resolver res = { link_resolve_elf, &er };
	struct elf_write_jump *jumps = NULL;
	struct hp_func_report *rep = NULL;
	struct link_image img = { 0 };
	struct elf_write_plan plan;
	struct elf_write_add add;
	struct link_layout lay;
	char note[ELF_WRITE_NOTE_MAX];
	size_t i, j, nobj = link_object_func_count(obj);
	int err;

	*out = NULL;
	*out_len = 0;
	jumps = calloc(c->nr_functions ? c->nr_functions : 1, sizeof(*jumps));
	rep = malloc(sizeof(*rep));
	if (!jumps || !rep) {
		err = -ENOMEM;
		goto out;
	}
	/* Where each jump goes: after an endbr64, as the analysis says. */
	for (i = 0; i < c->nr_functions; i++) {
		const struct hp_symbol *sym = hp_elf__find_symbol(elf, c->functions[i]);

		if (!sym || !sym->defined || sym->kind != HP_SYM_FUNC) {
			pr_warn("disk: %s: function %s not found", ident->path, c->functions[i]);
			err = -HP_E_NOT_FOUND;
			goto out;
		}
		err = hp_func__analyze(elf, sym, rep);
		if (err)
			goto out;
		if (!rep->patchable) {
			pr_warn("disk: %s: %s cannot take a jump at its entry (%s)", ident->path,
				c->functions[i], hp_func_reason_name(rep->reason));
			err = -HP_E_UNPATCHABLE;
			goto out;
		}
		jumps[i].at = sym->value + rep->patch_offset;
	}
	err = link_plan_layout(obj, &lay);
	if (err)
		goto out;
	/* The note names each function's jump and replacement, which are known
	 * only after linking, but its size must be known before: plan with the
	 * widest addresses. */
	for (i = 0; i < c->nr_functions; i++)
		jumps[i].target = UINT64_MAX;
	err = make_note(id, c, jumps, note, sizeof(note));
	if (err) {
		pr_warn("disk: %s: the note naming %zu functions is too long", ident->path,
			c->nr_functions);
		goto out;
	}
	err = elf_write_plan(orig, len, ident->path, lay.data_size != 0, strlen(note) + 1, &plan);
	if (err)
		goto out;
	if (plan.base % lay.align) {
		pr_warn("disk: %s: payload alignment %zu is beyond a page", ident->path, lay.align);
		err = -HP_E_UNSUPPORTED;
		goto out;
	}
	err = link_image_build(obj, plan.base, &res, &img);
	if (err)
		goto out;
	/* A position-independent file is loaded anywhere: an absolute
	 * address inside the payload would need a dynamic relocation, which
	 * this writer does not add. */
	if (img.nabs && ident->type != HP_ELF_EXEC) {
		pr_warn("disk: %s: the payload %s holds %zu absolute addresses, which a %s cannot take without dynamic relocations",
			ident->path, link_object_name(obj), img.nabs, hp_elf_type_name(ident->type));
		err = -HP_E_UNSUPPORTED;
		goto out;
	}
	for (i = 0; i < c->nr_functions; i++) {
		for (j = 0; j < nobj && j < img.nfuncs; j++)
			if (!strcmp(link_object_func_name(obj, j), c->functions[i]))
				break;
		if (j == nobj || j >= img.nfuncs) {
			pr_warn("disk: %s: payload %s has no replacement for %s", ident->path,
				link_object_name(obj), c->functions[i]);
			err = -HP_E_NOT_FOUND;
			goto out;
		}
		jumps[i].target = img.func_addr[j];
	}
	err = make_note(id, c, jumps, note, sizeof(note));
	if (err)
		goto out;
	/* The planned note used the widest addresses: the real one is no
	 * longer, and the head of the segment is one page either way. */
	memset(&add, 0, sizeof(add));
	add.image = img.bytes;
	add.image_size = img.size;
	add.text_size = img.text_size;
	add.note = note;
	add.jumps = jumps;
	add.njumps = c->nr_functions;
	err = elf_write_build(orig, len, ident->path, &plan, &add, out, out_len);
out:
	link_image_release(&img);
	free(jumps);
	free(rep);
	return err;
}

/* ---- the executor ------------------------------------------------------- */

/* A target file as read for one step: its bytes, parsed, and what the
 * package says of its version. */
struct disk_file {
	char path[PATH_MAX];   /* absolute path, as journalled */
	int fd;                /* the file, read-only; the one hashed and replaced */
	struct stat st;        /* fstat of fd */
	uint8_t *bytes;        /* whole content as read */
	size_t len;            /* bytes */
	char sha[65];          /* hex SHA-256 of bytes */
	struct hp_elf *elf;    /* parsed from fd (NULL until needed) */
};

static void file_release(struct disk_file *f)
{
	hp_elf__close(f->elf);
	free(f->bytes);
	if (f->fd >= 0)
		close(f->fd);
	f->elf = NULL;
	f->bytes = NULL;
	f->fd = -1;
}

/* Open path, which realpath() gave, following no symbolic link in any of
 * its components: one swapped in since (a directory or the file itself)
 * gives ELOOP instead of redirecting us. Without openat2 (before Linux
 * 5.6), only the last component is checked. */
static int open_resolved(const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS)
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return (int)fd;
}

/* Open and read path whole, once: what is hashed is what is patched. */
static int file_read(const char *path, struct disk_file *f)
{
	size_t done = 0;
	int err;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (!realpath(path, f->path)) {
		err = -errno;
		pr_warn("disk: %s: %s", path, hp_strerror(err));
		return err;
	}
	f->fd = open_resolved(f->path);
	if (f->fd < 0 && errno == ELOOP) {
		pr_warn("disk: %s: a symbolic link appeared in its path while it was opened; "
			"nothing read", f->path);
		return -HP_E_MISMATCH;
	}
	if (f->fd < 0 || fstat(f->fd, &f->st)) {
		err = -errno;
		pr_warn("disk: %s: cannot open: %s", f->path, hp_strerror(err));
		return err;
	}
	if (!S_ISREG(f->st.st_mode)) {
		pr_warn("disk: %s: not a regular file", f->path);
		return -EINVAL;
	}
	if ((uint64_t)f->st.st_size > DISK_MAX_FILE) {
		pr_warn("disk: %s: %lld bytes is beyond what hotpatch rewrites", f->path,
			(long long)f->st.st_size);
		return -HP_E_TOO_BIG;
	}
	f->len = (size_t)f->st.st_size;
	f->bytes = malloc(f->len ? f->len : 1);
	if (!f->bytes)
		return -ENOMEM;
	while (done < f->len) {
		ssize_t n = pread(f->fd, f->bytes + done, f->len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			pr_warn("disk: %s: cannot read: %s", f->path, hp_strerror(err));
			return err;
		}
		done += (size_t)n;
	}
	return hp_sha256_buf(f->bytes, f->len, f->sha);
}

/* The new bytes of a file of component c whose version is not eligible:
 * the fixed full build that replaces that version, if the package carries
 * one and f is exactly the build it pins. *bout gets the full build. */
static int replacement_of(const struct hp_package *pkg, const struct hp_manifest_component *c,
			  const struct disk_file *f, const char *version,
			  const struct hp_manifest_build **bout, uint8_t **out, size_t *out_len)
{
	const struct hp_manifest_replaced *r;
	const struct hp_manifest_build *b;
	void *bytes = NULL;
	int err;

	b = version ? hp_manifest__find_build(c, version, &r) : NULL;
	if (!b) {
		pr_warn("disk: %s: version %s of %s is not eligible for %s, and the package carries no full build for it",
			f->path, version ? version : "(none)", c->name, pkg->manifest->id);
		return -HP_E_NOT_ELIGIBLE;
	}
	if (strcmp(r->sha256, f->sha)) {
		pr_warn("disk: %s: SHA-256 %s differs from the %s pinned for version %s, which full build %s replaces",
			f->path, f->sha, r->sha256, version, b->version);
		return -HP_E_MISMATCH;
	}
	err = hp_package__read_build(pkg, b, &bytes, out_len);
	if (err)
		return err;
	*out = bytes;
	*bout = b;
	return 0;
}

/* Build the new bytes of f for pkg: the cold-patched file, when f is the
 * exact pinned build of an eligible version not patched on disk already;
 * the fixed full build, when f is the exact pinned build of a version one
 * replaces (*bout then names it). *vout gets the eligible version. */
static int build_file(const struct hp_package *pkg, struct disk_file *f,
		      const struct hp_manifest_version **vout, const struct hp_manifest_build **bout,
		      uint8_t **out, size_t *out_len)
{
	const struct hp_manifest *m = pkg->manifest;
	const struct hp_manifest_component *c;
	const struct hp_manifest_version *v;
	const struct hp_manifest_build *b;
	const struct hp_package_payload *p;
	const struct hp_identity *id;
	char note[ELF_WRITE_NOTE_MAX], want[128];
	int err;

	*bout = NULL;
	/* The note first: a file already cold-patched is recognised whatever
	 * else it carries, and never patched twice. */
	err = elf_write_find_note(f->bytes, f->len, f->path, note, sizeof(note));
	if (err < 0)
		return err;
	if (err > 0) {
		snprintf(want, sizeof(want), "package=%s\n", m->id);
		if (!strncmp(note, want, strlen(want))) {
			pr_info("disk: %s: already carries %s", f->path, m->id);
			return -HP_E_ALREADY;
		}
		pr_warn("disk: %s: already carries another disk patch (%.*s); roll it back first",
			f->path, (int)strcspn(note, "\n"), note);
		return -HP_E_UNSUPPORTED;
	}
	f->elf = hp_elf__open_fd(f->fd, f->path);
	if (!f->elf)
		return -errno;
	id = hp_elf__identity(f->elf);
	if (strcmp(id->sha256, f->sha)) {
		pr_warn("disk: %s: changed while being read", f->path);
		return -HP_E_MISMATCH;
	}
	c = id->pkg_name ? hp_manifest__find_component(m, id->pkg_name) : NULL;
	if (!c) {
		pr_warn("disk: %s: not a component of %s (package note name %s)", f->path, m->id,
			id->pkg_name ? id->pkg_name : "absent");
		return -HP_E_NOT_FOUND;
	}
	/* A file that is one of the fixed full builds has the fix already. */
	if ((b = hp_manifest__find_build_sha256(c, f->sha))) {
		pr_info("disk: %s: already the fixed full build %s", f->path, b->version);
		return -HP_E_ALREADY;
	}
	v = id->pkg_version ? hp_manifest__find_version(c, id->pkg_version) : NULL;
	if (!v)
		return replacement_of(pkg, c, f, id->pkg_version, bout, out, out_len);
	*vout = v;
	if (v->patched_sha256[0] && !strcmp(v->patched_sha256, f->sha)) {
		pr_info("disk: %s: already the patched build of version %s", f->path, v->version);
		return -HP_E_ALREADY;
	}
	if (v->sha256[0] && strcmp(v->sha256, f->sha)) {
		pr_warn("disk: %s: SHA-256 %s differs from the %s pinned for version %s", f->path,
			f->sha, v->sha256, v->version);
		return -HP_E_MISMATCH;
	}
	p = hp_package__find_payload(pkg, c->name);
	if (!p || !p->link) {
		pr_warn("disk: %s: package %s has no payload for %s", f->path, m->id, c->name);
		return -HP_E_NOT_FOUND;
	}
	err = disk_build(m->id, c, p->link, f->elf, f->bytes, f->len, out, out_len);
	if (err)
		return err;
	if (v->patched_sha256[0]) {
		char sha[65];

		err = hp_sha256_buf(*out, *out_len, sha);
		if (!err && strcmp(sha, v->patched_sha256)) {
			pr_warn("disk: %s: the patched result hashes to %s, the package pins %s", f->path,
				sha, v->patched_sha256);
			err = -HP_E_MISMATCH;
		}
		if (err) {
			free(*out);
			*out = NULL;
		}
	}
	return err;
}

int hp_disk__build(const struct hp_package *pkg, const char *path, void **out, size_t *len)
{
	const struct hp_manifest_version *v;
	const struct hp_manifest_build *b;
	struct disk_file f;
	uint8_t *buf = NULL;
	int err;

	*out = NULL;
	*len = 0;
	err = file_read(path, &f);
	if (!err)
		err = build_file(pkg, &f, &v, &b, &buf, len);
	file_release(&f);
	*out = buf;
	return err;
}

/* ---- journal ---- */

static void rec_init(struct hp_journal_rec *r, const char *id, enum hp_journal_action action,
		     const struct disk_file *f)
{
	memset(r, 0, sizeof(*r));
	r->package = id;
	r->action = action;
	r->kind = HP_JOURNAL_DISK;
	r->step = HP_JOURNAL_INTENT;
	r->path = f->path;
	r->dev = (uint64_t)f->st.st_dev;
	r->ino = (uint64_t)f->st.st_ino;
}

static void rec_detail(struct hp_journal_rec *r, const char *key, const char *value)
{
	r->details[r->ndetails].key = key;
	r->details[r->ndetails].value = value;
	r->ndetails++;
}

static bool same_file(const struct hp_journal_rec *r, const char *id, const char *path)
{
	return r->kind == HP_JOURNAL_DISK && !strcmp(r->package, id) && r->path &&
	       !strcmp(r->path, path);
}

/* Settle the steps on path a killed run left open, by what the file is
 * now: an apply whose result is there is done, a rollback whose original
 * is there is done, anything else was not taken. */
static int recover(struct hp_state *st, const char *id, const char *path, const char *cur,
		   int *recovered)
{
	const struct hp_journal_rec **open_recs = NULL;
	struct hp_journal *j = NULL;
	size_t i, n = 0;
	int err;

	err = hp_journal__read(st, &j);
	if (err)
		goto out;
	err = hp_journal__unfinished(j, &open_recs, &n);
	if (err)
		goto out;
	for (i = 0; i < n; i++) {
		const struct hp_journal_rec *r = open_recs[i];
		const char *want = hp_journal_rec__detail(r, r->action == HP_JOURNAL_APPLY ?
							   "new_sha256" : "old_sha256");
		bool taken = want && !strcmp(want, cur);

		if (!same_file(r, id, path))
			continue;
		err = hp_journal__append_step(st, r, taken ? HP_JOURNAL_DONE : HP_JOURNAL_ABORTED,
					      taken ? r->details : NULL, taken ? r->ndetails : 0, NULL);
		if (err)
			goto out;
		pr_info("disk: %s: %s left open by an earlier run: %s", path,
			hp_journal_action__str(r->action), taken ? "it was done" : "it was not taken");
		*recovered = 1;
	}
out:
	free(open_recs);
	hp_journal__free(j);
	return err;
}

/* The journal's last completed apply of id on path (not rolled back): its
 * backup and hashes, and in full_build the version of the full build it
 * installed ("" for a cold patch). -HP_E_NOT_APPLIED when there is none. */
static int find_applied(struct hp_state *st, const char *id, const char *path, char backup[65],
			char old_sha[65], char new_sha[65], char full_build[65])
{
	const struct hp_journal_rec **recs = NULL;
	struct hp_journal *j = NULL;
	size_t i, n = 0;
	int err;

	err = hp_journal__read(st, &j);
	if (err)
		goto out;
	err = hp_journal__applied(j, &recs, &n);
	if (err)
		goto out;
	err = -HP_E_NOT_APPLIED;
	for (i = n; i-- > 0;) {
		const char *b = hp_journal_rec__detail(recs[i], "backup");
		const char *o = hp_journal_rec__detail(recs[i], "old_sha256");
		const char *w = hp_journal_rec__detail(recs[i], "new_sha256");

		if (!same_file(recs[i], id, path))
			continue;
		if (!b || !o || !w || strlen(b) != 64 || strlen(o) != 64 || strlen(w) != 64) {
			pr_warn("disk: %s: the journal's apply record %llu lacks its backup or hashes",
				path, (unsigned long long)recs[i]->seq);
			err = -HP_E_STATE;
			goto out;
		}
		memcpy(backup, b, 65);
		memcpy(old_sha, o, 65);
		memcpy(new_sha, w, 65);
		snprintf(full_build, 65, "%s",
			 hp_journal_rec__detail(recs[i], "full_build") ?
			 hp_journal_rec__detail(recs[i], "full_build") : "");
		err = 0;
		break;
	}
out:
	free(recs);
	hp_journal__free(j);
	return err;
}

/* Journal an apply done or failed; a failure to record is reported (the
 * next run settles the open intent from the file itself). */
static void close_step(struct hp_state *st, const struct hp_journal_rec *intent, int err)
{
	struct hp_journal_detail d = { "error", hp_strerror(err) };
	int e;

	/* A "done" repeats the intent's details: replay (hp_journal__applied)
	 * hands back the closing record, and rollback needs the backup. */
	e = hp_journal__append_step(st, intent, err ? HP_JOURNAL_FAILED : HP_JOURNAL_DONE,
				    err ? &d : intent->details, err ? 1 : intent->ndetails, NULL);
	if (e)
		pr_warn("disk: %s: journal: cannot record the outcome: %s", intent->path,
			hp_strerror(e));
}

/* Check what is about to replace the file: it parses, and hashes to what
 * was built. Read back from the temporary file, so a short write or a
 * file system that lost bytes is caught before the rename. */
static int check_written(struct atomic_file *af, const char *path, const char *want)
{
	struct hp_elf *elf;
	int err = 0;

	elf = hp_elf__open_fd(atomic_file_fd(af), path);
	if (!elf)
		return -errno;
	if (strcmp(hp_elf__identity(elf)->sha256, want)) {
		pr_warn("disk: %s: the written copy hashes to %s, not %s", path,
			hp_elf__identity(elf)->sha256, want);
		err = -EIO;
	}
	hp_elf__close(elf);
	return err;
}

static const char *functions_of(const struct hp_package *pkg, const struct hp_elf *elf, char *buf,
				size_t size)
{
	const struct hp_identity *id = hp_elf__identity(elf);
	const struct hp_manifest_component *c = hp_manifest__find_component(pkg->manifest,
									     id->pkg_name);
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; c && i < c->nr_functions; i++) {
		int n = snprintf(buf + used, size - used, "%s%s", i ? "," : "", c->functions[i]);

		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
	return buf;
}

int hp_disk__apply(const struct hp_package *pkg, const struct hp_verify_target *t,
		   struct hp_state *st, struct hp_disk_result *res)
{
	const struct hp_manifest_version *v = NULL;
	const struct hp_manifest_build *b = NULL;
	struct hp_disk_result local;
	struct atomic_file *af = NULL;
	struct hp_journal_rec intent;
	bool journalled = false;
	struct disk_file f;
	uint8_t *out = NULL;
	size_t out_len = 0;
	char funcs[1024];
	int err;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	fault_point("disk-checked");
	err = file_read(t->path, &f);
	if (err)
		goto out;
	/* The dry run named the file by its real path (symbolic links
	 * resolved and confined to the root); a link put in its path since
	 * must not send the write somewhere else. */
	if (strcmp(f.path, t->path)) {
		pr_warn("disk: %s: now resolves to %s (a symbolic link put in its path since it "
			"was checked); nothing written", t->path, f.path);
		err = -HP_E_MISMATCH;
		goto out;
	}
	memcpy(res->old_sha256, f.sha, sizeof(res->old_sha256));
	err = recover(st, pkg->manifest->id, f.path, f.sha, &res->recovered);
	if (err)
		goto out;
	/* The dry run checked these bytes; anything else is not patched. */
	if (t->sha256[0] && strcmp(t->sha256, f.sha)) {
		pr_warn("disk: %s: changed since it was checked (SHA-256 %s, checked %s)", f.path,
			f.sha, t->sha256);
		err = -HP_E_MISMATCH;
		goto out;
	}
	err = build_file(pkg, &f, &v, &b, &out, &out_len);
	if (err)
		goto out;
	if (b)
		snprintf(res->full_build, sizeof(res->full_build), "%s", b->version);
	err = hp_sha256_buf(out, out_len, res->new_sha256);
	if (err)
		goto out;
	res->size = out_len;
	fault_point("disk-built");

	err = hp_backup__store(st, f.fd, f.path, f.sha, res->backup);
	if (err)
		goto out;
	fault_point("disk-backed-up");

	rec_init(&intent, pkg->manifest->id, HP_JOURNAL_APPLY, &f);
	/* A full build replaces the whole file: status and the restart report
	 * tell the two kinds of disk step apart by this detail. */
	if (b)
		rec_detail(&intent, "full_build", b->version);
	else
		rec_detail(&intent, "functions", functions_of(pkg, f.elf, funcs, sizeof(funcs)));
	rec_detail(&intent, "backup", res->backup);
	rec_detail(&intent, "old_sha256", res->old_sha256);
	rec_detail(&intent, "new_sha256", res->new_sha256);
	err = hp_journal__append(st, &intent);
	if (err)
		goto out;
	journalled = true;
	fault_point("disk-intent");

	err = atomic_file_open(f.path, f.fd, &af);
	if (!err)
		err = atomic_file_write(af, out, out_len);
	if (!err)
		err = check_written(af, f.path, res->new_sha256);
	if (!err)
		err = atomic_file_commit(af);
	if (err)
		goto out;
	fault_point("disk-replaced");
	if (b)
		pr_info("disk: %s: replaced by the fixed full build %s of %s (%s -> %s)", f.path,
			b->version, pkg->manifest->id, res->old_sha256, res->new_sha256);
	else
		pr_info("disk: %s: patched with %s (%s -> %s)", f.path, pkg->manifest->id,
			res->old_sha256, res->new_sha256);
out:
	atomic_file_close(af);
	if (journalled)
		close_step(st, &intent, err);
	free(out);
	file_release(&f);
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void hp_disk__free_files(char **paths, size_t n)
{
	size_t i;

	for (i = 0; paths && i < n; i++)
		free(paths[i]);
	free(paths);
}

int hp_disk__files(struct hp_state *st, const char *id, char ***paths, size_t *n)
{
	const struct hp_journal_rec **a = NULL, **u = NULL;
	struct hp_journal *j = NULL;
	size_t na = 0, nu = 0, i, k, count = 0;
	char **list = NULL;
	int err;

	*paths = NULL;
	*n = 0;
	err = hp_journal__read(st, &j);
	if (!err)
		err = hp_journal__applied(j, &a, &na);
	if (!err)
		err = hp_journal__unfinished(j, &u, &nu);
	if (err)
		goto out;
	list = calloc(na + nu + 1, sizeof(*list));
	if (!list) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < na + nu; i++) {
		const struct hp_journal_rec *r = i < na ? a[i] : u[i - na];

		if (r->kind != HP_JOURNAL_DISK || strcmp(r->package, id) || !r->path ||
		    r->action != HP_JOURNAL_APPLY)
			continue;
		for (k = 0; k < count; k++)
			if (!strcmp(list[k], r->path))
				break;
		if (k < count)
			continue;
		list[count] = strdup(r->path);
		if (!list[count]) {
			err = -ENOMEM;
			goto out;
		}
		count++;
	}
	qsort(list, count, sizeof(*list), cmp_str);
	*paths = list;
	*n = count;
	list = NULL;
out:
	hp_disk__free_files(list, count);
	free(a);
	free(u);
	hp_journal__free(j);
	return err;
}

int hp_disk__rollback(struct hp_state *st, const char *id, const char *path,
		      struct hp_disk_result *res)
{
	char orig[65] = "", patched[65] = "";
	struct hp_disk_result local;
	struct hp_journal_rec intent;
	bool journalled = false;
	struct disk_file f;
	struct stat sb;
	int err;

	if (!res)
		res = &local;
	memset(res, 0, sizeof(*res));
	err = file_read(path, &f);
	if (err)
		goto out;
	memcpy(res->old_sha256, f.sha, sizeof(res->old_sha256));
	err = recover(st, id, f.path, f.sha, &res->recovered);
	if (err)
		goto out;
	/* The journal's hashes keep the apply's sense: old is the original. */
	err = find_applied(st, id, f.path, res->backup, orig, patched, res->full_build);
	if (err == -HP_E_NOT_APPLIED)
		pr_warn("disk: %s: the journal records no disk apply of %s", f.path, id);
	if (err)
		goto out;
	if (!strcmp(f.sha, orig)) {
		pr_info("disk: %s: already the original", f.path);
		err = -HP_E_NOT_APPLIED;
		goto out;
	}
	if (strcmp(f.sha, patched)) {
		pr_warn("disk: %s: SHA-256 %s is neither the patched result %s nor the original %s; changed since, left alone",
			f.path, f.sha, patched, orig);
		err = -HP_E_MISMATCH;
		goto out;
	}
	/* The backup is checked before the intent is written: a missing or
	 * corrupt one stops here with nothing journalled. */
	err = hp_backup__verify(st, res->backup);
	if (err)
		goto out;
	rec_init(&intent, id, HP_JOURNAL_ROLLBACK, &f);
	rec_detail(&intent, "backup", res->backup);
	rec_detail(&intent, "old_sha256", orig);
	rec_detail(&intent, "new_sha256", patched);
	err = hp_journal__append(st, &intent);
	if (err)
		goto out;
	journalled = true;
	fault_point("disk-rb-intent");
	err = hp_backup__restore(st, res->backup, f.path, patched);
	if (err)
		goto out;
	fault_point("disk-restored");
	memcpy(res->new_sha256, orig, sizeof(res->new_sha256));
	if (!stat(f.path, &sb))
		res->size = (uint64_t)sb.st_size;
	pr_info("disk: %s: %s rolled back (%s)", f.path, id, orig);
out:
	if (journalled)
		close_step(st, &intent, err);
	file_release(&f);
	return err;
}
