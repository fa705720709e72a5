/* From a verified package to a live patch: the glue between the dry run
 * (which found the process, its component, eligible version, functions and
 * load bias, and checked every fingerprint), the payload linker and the live
 * executor. For one process the dry run judged "would patch": read the
 * functions' bytes, link the component's payload for the address the
 * executor picks (symbols from the mapped file, library functions through
 * the process's own GOT), and apply. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "link.h"
#include "live.h"

/* Everything the image callback needs to link for a given base. */
struct pkg_link_ctx {
	const struct hp_verify_target *t;      /* the process, as the dry run saw it */
	const struct link_object *obj;         /* the component's payload */
	const struct link_resolver *resolver;  /* symbols of the process */
	size_t size;                           /* bytes of the linked image */
};

static int read_got(void *ctx, uint64_t addr, uint64_t *value)
{
	int fd = *(int *)ctx;

	if (pread(fd, value, sizeof(*value), (off_t)addr) != (ssize_t)sizeof(*value))
		return -EIO;
	return 0;
}

static int link_for(void *ctx, uint64_t base, uint8_t *buf, size_t size, uint64_t *new_addr)
{
	struct pkg_link_ctx *lc = ctx;
	struct link_image img = { 0 };
	size_t i, j, n = link_object_func_count(lc->obj);
	int err;

	err = link_image_build(lc->obj, base, lc->resolver, &img);
	if (err)
		goto out;
	if (img.size != size || img.size != lc->size) {
		pr_warn("live: pid %d: linked payload is %zu bytes, %zu planned", (int)lc->t->pid,
			img.size, size);
		err = -HP_E_RELOC;
		goto out;
	}
	memcpy(buf, img.bytes, size);
	for (i = 0; i < lc->t->nr_funcs; i++) {
		for (j = 0; j < n; j++)
			if (!strcmp(link_object_func_name(lc->obj, j), lc->t->funcs[i].name))
				break;
		if (j == n || j >= img.nfuncs) {
			pr_warn("live: pid %d: payload of %s has no replacement for %s",
				(int)lc->t->pid, lc->t->component->name, lc->t->funcs[i].name);
			err = -HP_E_NOT_FOUND;
			goto out;
		}
		new_addr[i] = img.func_addr[j];
	}
out:
	link_image_release(&img);
	return err;
}

int hp_live__apply_target(const struct hp_package *pkg, const struct hp_verify_target *t,
			  const struct hp_live_opts *opts, struct hp_live_result *res)
{
	const struct hp_package_payload *pl;
	struct hp_live_func *funcs = NULL;
	uint8_t **expect = NULL;
	const struct hp_proc_object *mapped;
	const struct hp_elf *elf = NULL;
	struct hp_proc *proc = NULL;
	struct link_layout lay;
	struct pkg_link_ctx lc;
	struct hp_live_patch patch;
	char path[64];
	size_t i;
	int fd = -1, err;

	if (!pkg || !t || !t->pid || !t->component || !t->nr_funcs ||
	    t->verdict != HP_VERDICT_WOULD_PATCH) {
		pr_warn("live: %s: not a process the dry run found patchable", t ? t->path : "?");
		return -EINVAL;
	}
	pl = hp_package__find_payload(pkg, t->component->name);
	if (!pl || !pl->link) {
		pr_warn("live: pid %d: the package has no payload for %s", (int)t->pid,
			t->component->name);
		return -HP_E_NOT_FOUND;
	}
	err = link_plan_layout(pl->link, &lay);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)t->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno == ENOENT ? -HP_E_PROCESS : -errno;
		pr_warn("live: pid %d: cannot read its memory: %s", (int)t->pid, hp_strerror(err));
		goto out;
	}
	funcs = calloc(t->nr_funcs, sizeof(*funcs));
	expect = calloc(t->nr_funcs, sizeof(*expect));
	if (!funcs || !expect) {
		err = -ENOMEM;
		goto out;
	}
	/* The dry run hashed these bytes against the fingerprint; the
	 * executor checks, with every thread stopped, that they are still
	 * exactly these. */
	for (i = 0; i < t->nr_funcs; i++) {
		const struct hp_verify_func *vf = &t->funcs[i];
		size_t len = vf->size > 4096 ? 4096 : (size_t)vf->size;

		expect[i] = malloc(len ? len : 1);
		if (!expect[i]) {
			err = -ENOMEM;
			goto out;
		}
		if (pread(fd, expect[i], len, (off_t)vf->addr) != (ssize_t)len) {
			err = -HP_E_PROCESS;
			pr_warn("live: pid %d: %s: cannot read its code", (int)t->pid, vf->name);
			goto out;
		}
		funcs[i].name = vf->name;
		funcs[i].entry = vf->addr;
		funcs[i].size = vf->size;
		funcs[i].patch_off = vf->patch_offset;
		funcs[i].expect = expect[i];
		funcs[i].expect_len = len;
	}
	/* Symbols from the file the process maps (through map_files), not
	 * the one at its path now: a disk patch or an upgrade may have
	 * replaced or deleted that since the process started. */
	proc = hp_proc__open(t->pid);
	if (!proc) {
		err = errno == ESRCH ? -HP_E_PROCESS : -errno;
		goto out;
	}
	mapped = hp_proc__object_at(proc, t->funcs[0].addr);
	if (!mapped || !mapped->elf) {
		pr_warn("live: pid %d: %s: the mapped file cannot be read as ELF", (int)t->pid,
			t->path);
		err = -HP_E_PROCESS;
		goto out;
	}
	elf = mapped->elf;
	{
		struct link_elf_resolver er = { .elf = elf, .bias = t->bias };
		struct link_got_resolver gr = { .elf = elf, .bias = t->bias, .read = read_got,
						.read_ctx = &fd };
		const struct link_resolver list[] = { { link_resolve_elf, &er },
						      { link_resolve_got, &gr } };
		struct link_resolver_chain chain = { list, ARRAY_SIZE(list) };
		struct link_resolver resolver = { link_resolve_chain, &chain };

		lc.t = t;
		lc.obj = pl->link;
		lc.resolver = &resolver;
		lc.size = lay.size;
		memset(&patch, 0, sizeof(patch));
		patch.id = pkg->manifest->id;
		patch.funcs = funcs;
		patch.nfuncs = t->nr_funcs;
		patch.image_size = lay.size;
		patch.image_text_size = lay.data_size ? lay.text_size : 0;
		patch.image = link_for;
		patch.ctx = &lc;
		if (lay.align > 4096) {
			pr_warn("live: pid %d: payload of %s wants %zu-byte alignment, more than a page",
				(int)t->pid, t->component->name, lay.align);
			err = -HP_E_UNSUPPORTED;
			goto out;
		}
		err = hp_live__apply(t->pid, &patch, opts, res);
	}
out:
	if (expect)
		for (i = 0; i < t->nr_funcs; i++)
			free(expect[i]);
	free(expect);
	free(funcs);
	hp_proc__close(proc);
	if (fd >= 0)
		close(fd);
	return err;
}
