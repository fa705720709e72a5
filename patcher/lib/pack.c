/* Making a package: the vendor's side of the pipeline (`hotpatch pack`).
 * The vendor writes a source manifest naming components, functions and
 * eligible versions; every hash in the final manifest is read here from the
 * built files themselves (identity from the ELF module, function sizes and
 * fingerprints from the analysis module), so none is ever copied by hand.
 * The payload objects are checked by the linker before they are packed:
 * a package that could not be opened again is never written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hotpatch.h"
#include "internal.h"
#include "disk.h"
#include "fileio.h"
#include "link.h"
#include "manifest.h"

/* Payload objects are small; a bound keeps a wrong argument from being
 * slurped whole. */
#define PACK_MAX_OBJECT (16u << 20)

static int read_object(const char *path, void **out, size_t *len)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, err = 0;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		err = -errno;
		pr_warn("pack: %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > (off_t)PACK_MAX_OBJECT) {
		err = S_ISREG(st.st_mode) ? -HP_E_TOO_BIG : -HP_E_FORMAT;
		pr_warn("pack: %s: not a regular file of 1 byte to %u bytes", path, PACK_MAX_OBJECT);
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			pr_warn("pack: %s: read: %s", path, n < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	*out = buf;
	*len = got;
	buf = NULL;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}

/* Pack the payload object of component c into outdir/<c->payload> and pin
 * the container's size and SHA-256 in the manifest. */
static int pack_payload(struct hp_manifest_component *c, const char *object, const char *outdir)
{
	struct link_object *obj = NULL;
	char *path = NULL;
	void *buf = NULL;
	struct stat st;
	size_t len = 0, i, j;
	int err;

	err = read_object(object, &buf, &len);
	if (err)
		goto out;
	err = link_object_open(buf, len, object, &obj);
	if (err) {
		pr_warn("pack: %s: component %s: the payload object is refused (%s)", object, c->name,
			hp_strerror(err));
		goto out;
	}
	/* The replacement for each function carries the function's own name:
	 * that is how apply knows which entry each one takes over. */
	for (i = 0; i < c->nr_functions; i++) {
		for (j = 0; j < link_object_func_count(obj); j++)
			if (!strcmp(link_object_func_name(obj, j), c->functions[i]))
				break;
		if (j == link_object_func_count(obj)) {
			err = -HP_E_NOT_FOUND;
			pr_warn("pack: %s: component %s: no replacement for function %s in the payload",
				object, c->name, c->functions[i]);
			goto out;
		}
	}
	if (asprintf(&path, "%s/%s", outdir, c->payload) < 0) {
		path = NULL;
		err = -ENOMEM;
		goto out;
	}
	err = hp_container__write_file(path, buf, len);
	if (err)
		goto out;
	err = hp_sha256_file(path, c->payload_sha256);
	if (err) {
		pr_warn("pack: %s: %s", path, hp_strerror(err));
		goto out;
	}
	if (stat(path, &st) < 0) {
		err = -errno;
		pr_warn("pack: %s: %s", path, strerror(errno));
		goto out;
	}
	c->payload_size = (uint64_t)st.st_size;
	pr_info("pack: %s: component %s: %zu bytes of object in %llu bytes", path, c->name, len,
		(unsigned long long)c->payload_size);
out:
	link_object_free(obj);
	free(buf);
	free(path);
	return err;
}

/* Pin eligible version v of component c from the built file elf. */
static int pin_version(struct hp_manifest_component *c, struct hp_manifest_version *v,
		       struct hp_elf *elf)
{
	const struct hp_identity *id = hp_elf__identity(elf);
	struct hp_func_report *r = NULL;
	size_t i;
	int err = 0;

	if (!id->build_id) {
		pr_warn("pack: %s: component %s: no GNU build-id; eligible builds must carry one",
			id->path, c->name);
		return -HP_E_FORMAT;
	}
	v->build_id = strdup(id->build_id);
	v->funcs = calloc(c->nr_functions, sizeof(*v->funcs));
	r = malloc(sizeof(*r));
	if (!v->build_id || !v->funcs || !r) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(v->sha256, id->sha256, sizeof(v->sha256));
	for (i = 0; i < c->nr_functions; i++) {
		const struct hp_symbol *sym = hp_elf__find_symbol(elf, c->functions[i]);

		if (!sym || !sym->defined || sym->kind != HP_SYM_FUNC) {
			err = -HP_E_NOT_FOUND;
			pr_warn("pack: %s: version %s: function %s not found", id->path, v->version,
				c->functions[i]);
			goto out;
		}
		err = hp_func__analyze(elf, sym, r);
		if (err)
			goto out;
		if (!r->patchable) {
			err = -HP_E_UNPATCHABLE;
			pr_warn("pack: %s: version %s: %s cannot take a jump at its entry (%s)",
				id->path, v->version, c->functions[i], hp_func_reason_name(r->reason));
			goto out;
		}
		v->funcs[i].name = strdup(c->functions[i]);
		if (!v->funcs[i].name) {
			err = -ENOMEM;
			goto out;
		}
		v->funcs[i].size = r->size;
		memcpy(v->funcs[i].fingerprint, r->fingerprint, sizeof(v->funcs[i].fingerprint));
		v->nr_funcs = i + 1;
	}
out:
	free(r);
	return err;
}

/* Every built file given for c: each must be one of its eligible versions,
 * and each eligible version must be given exactly once. */
static int pin_component(struct hp_manifest_component *c, const struct hp_pack_opts *opts)
{
	struct hp_elf *elf = NULL;
	size_t i, j;
	int err = 0;

	for (i = 0; i < opts->nr_targets; i++) {
		const struct hp_identity *id;
		struct hp_manifest_version *v = NULL;

		if (strcmp(opts->targets[i].component, c->name))
			continue;
		elf = hp_elf__open(opts->targets[i].path);
		if (!elf) {
			err = -errno;
			goto out;
		}
		id = hp_elf__identity(elf);
		if (!id->pkg_name || strcmp(id->pkg_name, c->package_note)) {
			err = -HP_E_NOT_FOUND;
			pr_warn("pack: %s: package note name is %s, component %s expects %s", id->path,
				id->pkg_name ? id->pkg_name : "(none)", c->name, c->package_note);
			goto out;
		}
		for (j = 0; id->pkg_version && j < c->nr_versions; j++)
			if (!strcmp(c->versions[j].version, id->pkg_version))
				v = &c->versions[j];
		if (!v) {
			err = -HP_E_NOT_ELIGIBLE;
			pr_warn("pack: %s: version %s is not an eligible version of component %s",
				id->path, id->pkg_version ? id->pkg_version : "(none)", c->name);
			goto out;
		}
		if (v->build_id) {
			err = -HP_E_FORMAT;
			pr_warn("pack: %s: component %s: version %s given twice", id->path, c->name,
				v->version);
			goto out;
		}
		err = pin_version(c, v, elf);
		if (err)
			goto out;
		pr_info("pack: %s: component %s version %s pinned (build-id %s)", id->path, c->name,
			v->version, v->build_id);
		hp_elf__close(elf);
		elf = NULL;
	}
	for (j = 0; j < c->nr_versions; j++) {
		if (!c->versions[j].build_id) {
			err = -HP_E_NOT_FOUND;
			pr_warn("pack: component %s: no built file of eligible version %s was given",
				c->name, c->versions[j].version);
			goto out;
		}
	}
out:
	hp_elf__close(elf);
	return err;
}

/* Pin the SHA-256 of the cold-patched result of each eligible build given
 * for c (format 2 patched_sha256): the disk executor's own writer builds it
 * from the file and the payload object, as apply will, so verify and apply
 * can recognise and check a patched file. A payload a version cannot take
 * on disk (absolute addresses in a position-independent file) leaves that
 * version without a pin: it can still be patched live. */
static int pin_patched(const char *id, struct hp_manifest_component *c, const char *object,
		       const struct hp_pack_opts *opts)
{
	struct link_object *obj = NULL;
	struct hp_elf *elf = NULL;
	void *buf = NULL, *file = NULL;
	uint8_t *out = NULL;
	size_t len = 0, flen = 0, olen = 0, i, j;
	int err;

	err = read_object(object, &buf, &len);
	if (!err)
		err = link_object_open(buf, len, object, &obj);
	if (err)
		goto out;
	for (i = 0; i < opts->nr_targets; i++) {
		const struct hp_identity *ident;
		struct hp_manifest_version *v = NULL;
		char sha[65];

		if (strcmp(opts->targets[i].component, c->name))
			continue;
		err = fileio_read(opts->targets[i].path, 1u << 30, &file, &flen);
		if (err) {
			pr_warn("pack: %s: %s", opts->targets[i].path, hp_strerror(err));
			goto out;
		}
		elf = hp_elf__open(opts->targets[i].path);
		if (!elf) {
			err = -errno;
			goto out;
		}
		ident = hp_elf__identity(elf);
		for (j = 0; ident->pkg_version && j < c->nr_versions; j++)
			if (!strcmp(c->versions[j].version, ident->pkg_version))
				v = &c->versions[j];
		err = hp_sha256_buf(file, flen, sha);
		if (!err && (!v || strcmp(sha, ident->sha256) || strcmp(sha, v->sha256))) {
			pr_warn("pack: %s: changed while being packed", opts->targets[i].path);
			err = -HP_E_MISMATCH;
		}
		if (!err)
			err = disk_build(id, c, obj, elf, file, flen, &out, &olen);
		if (err == -HP_E_UNSUPPORTED) {
			pr_warn("pack: %s: component %s version %s: no disk patch (live only)",
				opts->targets[i].path, c->name, v->version);
			err = 0;
		} else if (!err) {
			err = hp_sha256_buf(out, olen, v->patched_sha256);
		}
		if (err)
			goto out;
		free(out);
		free(file);
		hp_elf__close(elf);
		out = NULL;
		file = NULL;
		elf = NULL;
	}
out:
	free(out);
	free(file);
	hp_elf__close(elf);
	link_object_free(obj);
	free(buf);
	return err;
}

/* The one file of inputs[0..n) for component c whose package note
 * carries version; NULL (after a message) when none or two do. */
static const char *find_input(const struct hp_manifest_component *c, const struct hp_pack_input *in,
			      size_t n, const char *version, const char *what, int *err)
{
	const char *found = NULL;
	struct hp_elf *elf;
	size_t i;

	*err = 0;
	for (i = 0; i < n; i++) {
		const struct hp_identity *id;
		bool match;

		if (strcmp(in[i].component, c->name))
			continue;
		elf = hp_elf__open(in[i].path);
		if (!elf) {
			*err = -errno;
			return NULL;
		}
		id = hp_elf__identity(elf);
		match = id->pkg_name && !strcmp(id->pkg_name, c->package_note) && id->pkg_version &&
			!strcmp(id->pkg_version, version);
		hp_elf__close(elf);
		if (!match)
			continue;
		if (found) {
			*err = -HP_E_FORMAT;
			pr_warn("pack: component %s: two files of %s %s given (%s, %s)", c->name, what,
				version, found, in[i].path);
			return NULL;
		}
		found = in[i].path;
	}
	if (!found) {
		*err = -HP_E_NOT_FOUND;
		pr_warn("pack: component %s: no built file of %s %s was given", c->name, what, version);
	}
	return found;
}

/* Every file given must serve a version the source manifest names: a
 * stray one is a mistake in the vendor's command line, not something to
 * ignore. */
static int check_inputs_used(const struct hp_manifest *m, const struct hp_pack_input *in, size_t n,
			     bool full)
{
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		const struct hp_manifest_component *c = hp_manifest__find_component(m, in[i].component);
		struct hp_elf *elf = hp_elf__open(in[i].path);
		const struct hp_identity *id;
		bool used = false;
		int err = 0;

		if (!elf)
			return -errno;
		id = hp_elf__identity(elf);
		for (j = 0; c && id->pkg_version && j < c->nr_builds && !used; j++) {
			if (full)
				used = !strcmp(c->builds[j].version, id->pkg_version);
			for (k = 0; !full && k < c->builds[j].nr_replaces; k++)
				used = used || !strcmp(c->builds[j].replaces[k].version, id->pkg_version);
		}
		if (!used) {
			err = full ? -HP_E_NOT_FOUND : -HP_E_NOT_ELIGIBLE;
			pr_warn("pack: %s: version %s of component %s is not %s in the source manifest",
				in[i].path, id->pkg_version ? id->pkg_version : "(none)", in[i].component,
				full ? "a full build" : "replaced by a full build");
		}
		hp_elf__close(elf);
		if (err)
			return err;
	}
	return 0;
}

/* Pin full build b of component c from its built file, and each version
 * it replaces from theirs. Nothing is written. */
static int pin_full_build(const struct hp_manifest_component *c, struct hp_manifest_build *b,
			  const struct hp_pack_opts *opts)
{
	const struct hp_identity *id;
	struct hp_elf *elf = NULL;
	const char *file;
	size_t i;
	int err;

	for (i = 0; i <= b->nr_replaces; i++) {
		struct hp_manifest_replaced *r = i ? &b->replaces[i - 1] : NULL;

		file = r ? find_input(c, opts->replaced, opts->nr_replaced, r->version,
				      "replaced version", &err)
			 : find_input(c, opts->full_builds, opts->nr_full_builds, b->version,
				      "full build", &err);
		if (!file)
			goto out;
		elf = hp_elf__open(file);
		if (!elf) {
			err = -errno;
			goto out;
		}
		id = hp_elf__identity(elf);
		if (!id->build_id) {
			pr_warn("pack: %s: version %s of %s has no build-id", file,
				r ? r->version : b->version, c->name);
			err = -HP_E_FORMAT;
			goto out;
		}
		if (r) {
			r->build_id = strdup(id->build_id);
			memcpy(r->sha256, id->sha256, sizeof(r->sha256));
		} else {
			b->build_id = strdup(id->build_id);
			memcpy(b->sha256, id->sha256, sizeof(b->sha256));
			b->size = id->file_size;
		}
		if (r ? !r->build_id : !b->build_id) {
			err = -ENOMEM;
			goto out;
		}
		hp_elf__close(elf);
		elf = NULL;
	}
	err = 0;
out:
	hp_elf__close(elf);
	return err;
}

/* Write the container of full build b (pinned) into outdir, and pin the
 * container's size and SHA-256. */
static int write_full_build(const struct hp_manifest_component *c, struct hp_manifest_build *b,
			    const struct hp_pack_opts *opts, const char *outdir)
{
	const char *file;
	char *path = NULL, sha[65];
	void *bytes = NULL;
	size_t len = 0;
	struct stat st;
	int err;

	file = find_input(c, opts->full_builds, opts->nr_full_builds, b->version, "full build", &err);
	if (!file)
		goto out;
	err = fileio_read(file, 1u << 30, &bytes, &len);
	if (!err)
		err = hp_sha256_buf(bytes, len, sha);
	if (err) {
		pr_warn("pack: %s: %s", file, hp_strerror(err));
		goto out;
	}
	if (strcmp(sha, b->sha256) || len != b->size) {
		pr_warn("pack: %s: changed while being packed", file);
		err = -HP_E_MISMATCH;
		goto out;
	}
	if (asprintf(&path, "%s/%s", outdir, b->file) < 0) {
		path = NULL;
		err = -ENOMEM;
		goto out;
	}
	err = hp_container__write_file(path, bytes, len);
	if (!err)
		err = hp_sha256_file(path, b->file_sha256);
	if (!err && stat(path, &st) < 0)
		err = -errno;
	if (err) {
		pr_warn("pack: %s: %s", path, hp_strerror(err));
		goto out;
	}
	b->file_size = (uint64_t)st.st_size;
	pr_info("pack: %s: component %s full build %s: %zu bytes in %llu bytes", path, c->name,
		b->version, len, (unsigned long long)b->file_size);
out:
	free(bytes);
	free(path);
	return err;
}

int hp_package__create(const char *source, const char *outdir, const struct hp_pack_opts *opts)
{
	struct hp_manifest *m = NULL, *check = NULL;
	const char *object;
	char *path = NULL;
	size_t i, j;
	int err = 0;

	m = hp_manifest__load(source, HP_MANIFEST_SOURCE);
	if (!m)
		return -errno;
	for (i = 0; i < opts->nr_targets + opts->nr_payloads + opts->nr_full_builds +
			opts->nr_replaced; i++) {
		size_t k = i;
		const struct hp_pack_input *in;

		if (k < opts->nr_targets)
			in = &opts->targets[k];
		else if ((k -= opts->nr_targets) < opts->nr_payloads)
			in = &opts->payloads[k];
		else if ((k -= opts->nr_payloads) < opts->nr_full_builds)
			in = &opts->full_builds[k];
		else
			in = &opts->replaced[k - opts->nr_full_builds];
		if (!hp_manifest__find_component(m, in->component)) {
			err = -HP_E_NOT_FOUND;
			pr_warn("pack: %s: no component %s in %s", in->path, in->component, source);
			goto out;
		}
	}
	/* Everything is read and checked before anything is written. */
	m->kind = HP_MANIFEST_FINAL;
	for (i = 0; i < m->nr_components; i++) {
		struct hp_manifest_component *c = &m->components[i];

		object = NULL;
		for (j = 0; j < opts->nr_payloads; j++) {
			if (strcmp(opts->payloads[j].component, c->name))
				continue;
			if (object) {
				err = -HP_E_FORMAT;
				pr_warn("pack: component %s: two payload objects given", c->name);
				goto out;
			}
			object = opts->payloads[j].path;
		}
		if (!object) {
			err = -HP_E_NOT_FOUND;
			pr_warn("pack: component %s: no payload object was given", c->name);
			goto out;
		}
		err = pin_component(c, opts);
		if (err)
			goto out;
		err = pin_patched(m->id, c, object, opts);
		for (j = 0; !err && j < c->nr_builds; j++)
			err = pin_full_build(c, &c->builds[j], opts);
		if (err)
			goto out;
	}
	err = check_inputs_used(m, opts->full_builds, opts->nr_full_builds, true);
	if (!err)
		err = check_inputs_used(m, opts->replaced, opts->nr_replaced, false);
	if (err)
		goto out;
	/* patched_sha256 is a format 2 field. */
	if (m->format < 2)
		m->format = 2;
	if (mkdir(outdir, 0755) < 0 && errno != EEXIST) {
		err = -errno;
		pr_warn("pack: %s: %s", outdir, strerror(errno));
		goto out;
	}
	for (i = 0; i < m->nr_components; i++) {
		struct hp_manifest_component *c = &m->components[i];

		for (j = 0; j < opts->nr_payloads; j++)
			if (!strcmp(opts->payloads[j].component, c->name))
				break;
		err = pack_payload(c, opts->payloads[j].path, outdir);
		if (err)
			goto out;
		for (j = 0; j < c->nr_builds; j++) {
			err = write_full_build(c, &c->builds[j], opts, outdir);
			if (err)
				goto out;
		}
	}
	if (asprintf(&path, "%s/manifest.json", outdir) < 0) {
		path = NULL;
		err = -ENOMEM;
		goto out;
	}
	err = hp_manifest__write(m, path);
	if (err)
		goto out;
	/* What was written must read back as a strict final manifest. */
	check = hp_manifest__load(path, HP_MANIFEST_FINAL);
	if (!check)
		err = -errno;
out:
	hp_manifest__free(check);
	hp_manifest__free(m);
	free(path);
	return err;
}
