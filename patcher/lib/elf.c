/* Reading ELF targets: the first step of the pipeline.
 *
 * A target is read into memory once; its SHA-256, its identity notes (GNU
 * build-id, the .note.package metadata), its segments, sections and symbols
 * all come from those same bytes, so what is identified is exactly what is
 * analysed. Every offset and size read from the file is checked against the
 * file's size before it is used: a malformed or truncated file gives one
 * clear message and HP_E_FORMAT, never a read outside the image. Symbols are
 * indexed twice, by name (hash table with per-name chains) and by address
 * (sorted array), so lookups never scan the table.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gelf.h>

#include "hotpatch.h"
#include "internal.h"
#include "elf_priv.h"

/* Files beyond this are refused rather than read into memory. */
#define MAX_FILE_SIZE (2ULL << 30)
/* .note.package descriptors are a small JSON object; a longer one is bogus. */
#define MAX_PKG_NOTE 4096
#define NT_FDO_PACKAGING_METADATA 0xcafe1a7e

struct hp_elf {
	char *name;                /* display name given at open */
	uint8_t *image;            /* the whole file as read */
	size_t size;               /* bytes in image */
	Elf *e;                    /* libelf descriptor over image */
	struct hp_identity id;     /* identity; strings point into owned[] */
	struct hp_segment *segs;   /* PT_LOAD segments, in file order */
	size_t nsegs;              /* entries in segs */
	struct hp_section *secs;   /* every section header, by index */
	size_t nsecs;              /* entries in secs */
	struct hp_symbol *syms;    /* merged .symtab + .dynsym */
	size_t nsyms;              /* entries in syms */
	size_t n_symtab;           /* entries of .symtab (without index 0) */
	size_t n_dynsym;           /* entries of .dynsym (without index 0) */
	uint32_t *buckets;         /* hash of base name -> index+1 of a chain head, 0 empty */
	size_t nbuckets;           /* power of two */
	uint32_t *chain;           /* per symbol: index+1 of the next with the same name */
	uint32_t *by_addr;         /* defined FUNC/OBJECT symbol indices by value */
	size_t n_by_addr;          /* entries in by_addr */
	uint64_t link_base;        /* link-time address of file offset 0 */
	char **owned;              /* strings allocated for this file */
	size_t nowned, capowned;   /* used and allocated entries of owned */
};

static char *own(struct hp_elf *elf, char *s)
{
	if (!s)
		return NULL;
	if (elf->nowned == elf->capowned) {
		size_t cap = elf->capowned ? elf->capowned * 2 : 16;
		char **n = realloc(elf->owned, cap * sizeof(*n));

		if (!n) {
			free(s);
			return NULL;
		}
		elf->owned = n;
		elf->capowned = cap;
	}
	elf->owned[elf->nowned++] = s;
	return s;
}

static char *own_strndup(struct hp_elf *elf, const char *s, size_t n)
{
	return own(elf, strndup(s, n));
}

const char *hp_elf_type_name(enum hp_elf_type type)
{
	switch (type) {
	case HP_ELF_EXEC:
		return "executable";
	case HP_ELF_PIE:
		return "pie-executable";
	case HP_ELF_SHARED:
		return "shared-library";
	case HP_ELF_RELOCATABLE:
		return "relocatable";
	}
	return "unknown";
}

/* Read all of fd from offset 0. Regular files are read to their size; the
 * loop also copes with files whose size stat does not know. */
static int read_all(int fd, uint8_t **out, size_t *outlen)
{
	struct stat st;
	size_t cap, len = 0;
	uint8_t *buf, *nb;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > MAX_FILE_SIZE)
		return -HP_E_TOO_BIG;
	cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap > MAX_FILE_SIZE) {
				free(buf);
				return -HP_E_TOO_BIG;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = pread(fd, buf + len, cap - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* Whether [off, off+len) lies inside the image, without overflow. */
static bool in_file(const struct hp_elf *elf, uint64_t off, uint64_t len)
{
	return off <= elf->size && len <= elf->size - off;
}

/* ---- identity notes ----------------------------------------------------- */

/* Extract a string member from the flat JSON object of a .note.package
 * descriptor. The systemd convention allows only string values at the top
 * level, which keeps this scanner small; escapes other than \" and \\ and
 * \/ are kept verbatim. Returns a malloc'd string or NULL. */
static char *json_member(const char *js, size_t len, const char *key)
{
	size_t i = 0, klen = strlen(key);

	while (i < len) {
		size_t ks, ke, vs, ve, o;
		char *val;

		while (i < len && js[i] != '"')
			i++;
		if (i >= len)
			return NULL;
		ks = ++i;
		while (i < len && js[i] != '"')
			i += js[i] == '\\' ? 2 : 1;
		if (i >= len)
			return NULL;
		ke = i++;
		while (i < len && (js[i] == ' ' || js[i] == '\t' || js[i] == '\n' || js[i] == '\r'))
			i++;
		if (i >= len || js[i] != ':')
			continue; /* that was a value, not a key */
		i++;
		while (i < len && (js[i] == ' ' || js[i] == '\t' || js[i] == '\n' || js[i] == '\r'))
			i++;
		if (i >= len || js[i] != '"')
			continue;
		vs = ++i;
		while (i < len && js[i] != '"')
			i += js[i] == '\\' ? 2 : 1;
		if (i >= len)
			return NULL;
		ve = i++;
		if (ke - ks != klen || memcmp(js + ks, key, klen))
			continue;
		val = malloc(ve - vs + 1);
		if (!val)
			return NULL;
		for (o = 0; vs < ve; vs++) {
			if (js[vs] == '\\' && vs + 1 < ve &&
			    (js[vs + 1] == '"' || js[vs + 1] == '\\' || js[vs + 1] == '/'))
				vs++;
			val[o++] = js[vs];
		}
		val[o] = '\0';
		return val;
	}
	return NULL;
}

static int read_notes(struct hp_elf *elf, Elf_Data *data, const char *where)
{
	size_t off = 0, next, name_off, desc_off;
	GElf_Nhdr nh;

	while (off < data->d_size) {
		next = gelf_getnote(data, off, &nh, &name_off, &desc_off);
		if (next == 0) {
			pr_warn("elf: %s: %s: malformed note at offset %zu", elf->name, where, off);
			return -HP_E_FORMAT;
		}
		const char *owner = (const char *)data->d_buf + name_off;
		const char *desc = (const char *)data->d_buf + desc_off;

		off = next;
		if (nh.n_namesz == 4 && !memcmp(owner, "GNU", 4) && nh.n_type == NT_GNU_BUILD_ID) {
			char *hex;

			if (nh.n_descsz == 0 || nh.n_descsz > 64) {
				pr_warn("elf: %s: %s: build-id of %u bytes", elf->name, where,
					(unsigned int)nh.n_descsz);
				return -HP_E_FORMAT;
			}
			hex = own(elf, malloc(2 * nh.n_descsz + 1));
			if (!hex)
				return -ENOMEM;
			hp_hex_encode(desc, nh.n_descsz, hex);
			elf->id.build_id = hex;
		} else if (nh.n_namesz == 4 && !memcmp(owner, "FDO", 4) &&
			   nh.n_type == NT_FDO_PACKAGING_METADATA) {
			size_t n = nh.n_descsz;

			if (n > MAX_PKG_NOTE) {
				pr_warn("elf: %s: %s: package note of %zu bytes", elf->name, where, n);
				return -HP_E_FORMAT;
			}
			/* The descriptor is NUL-terminated JSON; do not trust that. */
			n = strnlen(desc, n);
			elf->id.pkg_name = own(elf, json_member(desc, n, "name"));
			elf->id.pkg_version = own(elf, json_member(desc, n, "version"));
			elf->id.pkg_type = own(elf, json_member(desc, n, "type"));
		}
	}
	return 0;
}

/* Notes from SHT_NOTE sections when there are section headers, else from
 * PT_NOTE segments (a file stripped of its section headers still loads). */
static int load_notes(struct hp_elf *elf)
{
	size_t i, nph = 0;
	char where[64];
	int err;

	for (i = 1; i < elf->nsecs; i++) {
		Elf_Scn *scn = elf_getscn(elf->e, i);
		GElf_Shdr sh;
		Elf_Data *d;

		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d) {
			pr_warn("elf: %s: section %zu: unreadable note: %s", elf->name, i,
				elf_errmsg(-1));
			return -HP_E_FORMAT;
		}
		snprintf(where, sizeof(where), "section %zu", i);
		err = read_notes(elf, d, where);
		if (err)
			return err;
	}
	if (elf->nsecs > 1)
		return 0;
	if (elf_getphdrnum(elf->e, &nph) < 0)
		return 0;
	for (i = 0; i < nph; i++) {
		GElf_Phdr ph;
		Elf_Data *d;

		if (!gelf_getphdr(elf->e, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		d = elf_getdata_rawchunk(elf->e, (int64_t)ph.p_offset, ph.p_filesz,
					 ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
		if (!d)
			continue;
		snprintf(where, sizeof(where), "segment %zu", i);
		err = read_notes(elf, d, where);
		if (err)
			return err;
	}
	return 0;
}

/* ---- segments and sections ---------------------------------------------- */

static int load_segments(struct hp_elf *elf, bool *has_interp)
{
	size_t i, nph = 0;
	bool have_base = false;

	if (elf_getphdrnum(elf->e, &nph) < 0) {
		pr_warn("elf: %s: program headers: %s", elf->name, elf_errmsg(-1));
		return -HP_E_FORMAT;
	}
	if (nph && (((const Elf64_Ehdr *)elf->image)->e_phentsize != sizeof(Elf64_Phdr) ||
		    !in_file(elf, ((const Elf64_Ehdr *)elf->image)->e_phoff,
			     (uint64_t)nph * sizeof(Elf64_Phdr)))) {
		pr_warn("elf: %s: program headers extend beyond the end of the file", elf->name);
		return -HP_E_FORMAT;
	}
	elf->segs = calloc(nph ? nph : 1, sizeof(*elf->segs));
	if (!elf->segs)
		return -ENOMEM;
	for (i = 0; i < nph; i++) {
		struct hp_segment *s;
		GElf_Phdr ph;

		if (!gelf_getphdr(elf->e, (int)i, &ph)) {
			pr_warn("elf: %s: segment %zu: invalid program header: %s", elf->name, i,
				elf_errmsg(-1));
			return -HP_E_FORMAT;
		}
		if (ph.p_type == PT_INTERP)
			*has_interp = true;
		if (ph.p_type != PT_LOAD)
			continue;
		if (!in_file(elf, ph.p_offset, ph.p_filesz)) {
			pr_warn("elf: %s: segment %zu: extends beyond the end of the file "
				"(offset 0x%llx, %llu bytes, file %zu bytes)", elf->name, i,
				(unsigned long long)ph.p_offset, (unsigned long long)ph.p_filesz,
				elf->size);
			return -HP_E_FORMAT;
		}
		if (ph.p_filesz > ph.p_memsz || ph.p_vaddr + ph.p_memsz < ph.p_vaddr) {
			pr_warn("elf: %s: segment %zu: invalid sizes (file %llu, memory %llu)",
				elf->name, i, (unsigned long long)ph.p_filesz,
				(unsigned long long)ph.p_memsz);
			return -HP_E_FORMAT;
		}
		s = &elf->segs[elf->nsegs++];
		s->vaddr = ph.p_vaddr;
		s->memsz = ph.p_memsz;
		s->offset = ph.p_offset;
		s->filesz = ph.p_filesz;
		s->align = ph.p_align;
		s->read = ph.p_flags & PF_R;
		s->write = ph.p_flags & PF_W;
		s->exec = ph.p_flags & PF_X;
		if (!have_base) {
			/* The loader maps whole pages: file offset 0 lands at the
			 * segment's page minus its page offset in the file. */
			elf->link_base = (ph.p_vaddr & ~0xfffULL) - (ph.p_offset & ~0xfffULL);
			have_base = true;
		}
	}
	return 0;
}

static int load_sections(struct hp_elf *elf)
{
	size_t i, nsec = 0, shstrndx = 0;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf->image;

	if (elf_getshdrnum(elf->e, &nsec) < 0) {
		pr_warn("elf: %s: section headers: %s", elf->name, elf_errmsg(-1));
		return -HP_E_FORMAT;
	}
	if (nsec && (eh->e_shentsize != sizeof(Elf64_Shdr) ||
		     !in_file(elf, eh->e_shoff, (uint64_t)nsec * sizeof(Elf64_Shdr)))) {
		pr_warn("elf: %s: section header table extends beyond the end of the file "
			"(%zu headers at offset 0x%llx)", elf->name, nsec,
			(unsigned long long)eh->e_shoff);
		return -HP_E_FORMAT;
	}
	if (nsec && elf_getshdrstrndx(elf->e, &shstrndx) < 0) {
		pr_warn("elf: %s: section name table: %s", elf->name, elf_errmsg(-1));
		return -HP_E_FORMAT;
	}
	if (nsec && shstrndx >= nsec) {
		pr_warn("elf: %s: section name table index %zu beyond %zu sections", elf->name,
			shstrndx, nsec);
		return -HP_E_FORMAT;
	}
	elf->secs = calloc(nsec ? nsec : 1, sizeof(*elf->secs));
	if (!elf->secs)
		return -ENOMEM;
	elf->nsecs = nsec;
	for (i = 0; i < nsec; i++) {
		struct hp_section *s = &elf->secs[i];
		Elf_Scn *scn = elf_getscn(elf->e, i);
		const char *name;
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh)) {
			pr_warn("elf: %s: section %zu: invalid section header: %s", elf->name, i,
				elf_errmsg(-1));
			return -HP_E_FORMAT;
		}
		if (i == 0) {
			s->name = "";
			continue;
		}
		if (sh.sh_type != SHT_NOBITS && sh.sh_type != SHT_NULL &&
		    !in_file(elf, sh.sh_offset, sh.sh_size)) {
			pr_warn("elf: %s: section %zu: extends beyond the end of the file "
				"(offset 0x%llx, %llu bytes, file %zu bytes)", elf->name, i,
				(unsigned long long)sh.sh_offset, (unsigned long long)sh.sh_size,
				elf->size);
			return -HP_E_FORMAT;
		}
		name = elf_strptr(elf->e, shstrndx, sh.sh_name);
		if (!name) {
			pr_warn("elf: %s: section %zu: name offset %u outside the section name table",
				elf->name, i, (unsigned int)sh.sh_name);
			return -HP_E_FORMAT;
		}
		s->name = name;
		s->addr = sh.sh_addr;
		s->size = sh.sh_size;
		s->offset = sh.sh_offset;
		s->alloc = sh.sh_flags & SHF_ALLOC;
		s->exec = sh.sh_flags & SHF_EXECINSTR;
		/* An inactive (SHT_NULL) header's offset and size mean nothing and
		 * were not checked against the file above: like .bss, it has no
		 * bytes to read (found by fuzzing: an executable SHT_NULL section
		 * claiming 0x7e00000000 bytes had its "code" hashed). */
		s->nobits = sh.sh_type == SHT_NOBITS || sh.sh_type == SHT_NULL;
	}
	return 0;
}

/* ET_DYN is both PIE programs and libraries; DF_1_PIE says which, and older
 * linkers that do not set it still give a program an interpreter. */
static enum hp_elf_type dyn_type(struct hp_elf *elf, bool has_interp)
{
	size_t i;

	for (i = 1; i < elf->nsecs; i++) {
		Elf_Scn *scn = elf_getscn(elf->e, i);
		GElf_Shdr sh;
		Elf_Data *d;
		size_t j, n;

		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			break;
		n = d->d_size / sizeof(Elf64_Dyn);
		for (j = 0; j < n; j++) {
			GElf_Dyn dyn;

			if (!gelf_getdyn(d, (int)j, &dyn) || dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag == DT_FLAGS_1 && (dyn.d_un.d_val & DF_1_PIE))
				return HP_ELF_PIE;
		}
	}
	return has_interp ? HP_ELF_PIE : HP_ELF_SHARED;
}

/* ---- symbols ------------------------------------------------------------ */

static uint32_t hash_name(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

/* Rank of a symbol when several share a name (higher wins). */
static int rank(const struct hp_symbol *s)
{
	return (s->defined ? 16 : 0) + (s->kind != HP_SYM_OTHER ? 8 : 0) +
	       (!s->old_version ? 4 : 0) + (!s->dynamic ? 2 : 0) + (s->bind != HP_BIND_LOCAL ? 1 : 0);
}

/* The chain of symbols called name[0..n), as index+1, or 0. */
static uint32_t chain_head(const struct hp_elf *elf, const char *name, size_t n)
{
	size_t mask = elf->nbuckets - 1, b;

	if (!elf->nbuckets)
		return 0;
	for (b = hash_name(name, n) & mask; elf->buckets[b]; b = (b + 1) & mask) {
		const char *cand = elf->syms[elf->buckets[b] - 1].name;

		if (!strncmp(cand, name, n) && cand[n] == '\0')
			return elf->buckets[b];
	}
	return 0;
}

static void index_name(struct hp_elf *elf, size_t idx)
{
	const char *name = elf->syms[idx].name;
	size_t n = strlen(name), mask = elf->nbuckets - 1, b;

	for (b = hash_name(name, n) & mask; elf->buckets[b]; b = (b + 1) & mask) {
		if (!strcmp(elf->syms[elf->buckets[b] - 1].name, name)) {
			elf->chain[idx] = elf->buckets[b];
			elf->buckets[b] = (uint32_t)idx + 1;
			return;
		}
	}
	elf->buckets[b] = (uint32_t)idx + 1;
}

/* Version names of .dynsym entries, from .gnu.version and .gnu.version_d
 * (definitions) / .gnu.version_r (references). Missing or odd tables leave
 * symbols unversioned: a version only refines a lookup. */
struct versions {
	Elf_Data *versym;      /* .gnu.version: one Elf64_Half per .dynsym entry */
	const char **names;    /* version index -> name, NULL when unknown */
	size_t nnames;         /* entries in names */
};

static void load_versions(struct hp_elf *elf, struct versions *v)
{
	size_t i;

	for (i = 1; i < elf->nsecs; i++) {
		Elf_Scn *scn = elf_getscn(elf->e, i);
		GElf_Shdr sh;
		Elf_Data *d;
		size_t off, cnt;

		if (!scn || !gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_GNU_versym) {
			v->versym = elf_getdata(scn, NULL);
			continue;
		}
		if (sh.sh_type != SHT_GNU_verdef && sh.sh_type != SHT_GNU_verneed)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || sh.sh_link >= elf->nsecs)
			continue;
		if (!v->names) {
			v->nnames = 1024;
			v->names = calloc(v->nnames, sizeof(*v->names));
			if (!v->names)
				return;
		}
		/* Bounded by the section's own entry count so a cycle of
		 * vd_next/vn_next offsets cannot loop forever. */
		for (off = 0, cnt = 0; cnt < sh.sh_info && off < d->d_size; cnt++) {
			if (sh.sh_type == SHT_GNU_verdef) {
				GElf_Verdef vd;
				GElf_Verdaux va;
				const char *nm;

				if (!gelf_getverdef(d, (int)off, &vd) ||
				    !gelf_getverdaux(d, (int)(off + vd.vd_aux), &va))
					break;
				nm = elf_strptr(elf->e, sh.sh_link, va.vda_name);
				if (nm && vd.vd_ndx < v->nnames && !(vd.vd_flags & VER_FLG_BASE))
					v->names[vd.vd_ndx] = nm;
				if (!vd.vd_next)
					break;
				off += vd.vd_next;
			} else {
				GElf_Verneed vn;
				GElf_Vernaux vna;
				size_t aoff, acnt;

				if (!gelf_getverneed(d, (int)off, &vn))
					break;
				for (aoff = off + vn.vn_aux, acnt = 0; acnt < vn.vn_cnt; acnt++) {
					const char *nm;

					if (!gelf_getvernaux(d, (int)aoff, &vna))
						break;
					nm = elf_strptr(elf->e, sh.sh_link, vna.vna_name);
					if (nm && vna.vna_other < v->nnames)
						v->names[vna.vna_other] = nm;
					if (!vna.vna_next)
						break;
					aoff += vna.vna_next;
				}
				if (!vn.vn_next)
					break;
				off += vn.vn_next;
			}
		}
	}
}

static int read_symtab(struct hp_elf *elf, size_t secidx, bool dynamic, const struct versions *v)
{
	Elf_Scn *scn = elf_getscn(elf->e, secidx);
	size_t i, n;
	GElf_Shdr sh;
	Elf_Data *d;

	if (!scn || !gelf_getshdr(scn, &sh))
		return -HP_E_FORMAT;
	if (sh.sh_entsize != sizeof(Elf64_Sym)) {
		pr_warn("elf: %s: section %zu (%s): symbol entry size %llu, expected %zu",
			elf->name, secidx, elf->secs[secidx].name,
			(unsigned long long)sh.sh_entsize, sizeof(Elf64_Sym));
		return -HP_E_FORMAT;
	}
	if (sh.sh_link == 0 || sh.sh_link >= elf->nsecs) {
		pr_warn("elf: %s: section %zu (%s): string table index %u invalid", elf->name,
			secidx, elf->secs[secidx].name, (unsigned int)sh.sh_link);
		return -HP_E_FORMAT;
	}
	d = elf_getdata(scn, NULL);
	if (!d) {
		pr_warn("elf: %s: section %zu (%s): unreadable: %s", elf->name, secidx,
			elf->secs[secidx].name, elf_errmsg(-1));
		return -HP_E_FORMAT;
	}
	n = d->d_size / sizeof(Elf64_Sym);
	for (i = 1; i < n; i++) {
		struct hp_symbol *s = &elf->syms[elf->nsyms];
		const char *name, *at;
		unsigned int type, bind;
		GElf_Sym sym;

		if (!gelf_getsym(d, (int)i, &sym))
			break;
		name = elf_strptr(elf->e, sh.sh_link, sym.st_name);
		if (!name) {
			pr_warn("elf: %s: section %zu (%s): symbol %zu: name offset %u outside "
				"the string table", elf->name, secidx, elf->secs[secidx].name, i,
				(unsigned int)sym.st_name);
			return -HP_E_FORMAT;
		}
		type = GELF_ST_TYPE(sym.st_info);
		bind = GELF_ST_BIND(sym.st_info);
		if (type == STT_SECTION || type == STT_FILE || !*name)
			continue;
		memset(s, 0, sizeof(*s));
		at = strchr(name, '@');
		if (at) {
			s->name = own_strndup(elf, name, (size_t)(at - name));
			if (!s->name)
				return -ENOMEM;
			s->version = at + (at[1] == '@' ? 2 : 1);
			s->old_version = at[1] != '@';
		} else {
			s->name = name;
		}
		if (dynamic && !s->version && v->versym && v->names) {
			GElf_Versym vs;

			if (gelf_getversym(v->versym, (int)i, &vs) &&
			    (vs & 0x7fff) < v->nnames) {
				s->version = v->names[vs & 0x7fff];
				/* The hidden bit marks a non-default version. */
				s->old_version = s->version && (vs & 0x8000);
			}
		}
		s->value = sym.st_value;
		s->size = sym.st_size;
		s->kind = type == STT_FUNC || type == STT_GNU_IFUNC ? HP_SYM_FUNC :
			  type == STT_OBJECT || type == STT_TLS ? HP_SYM_OBJECT : HP_SYM_OTHER;
		s->bind = bind == STB_LOCAL ? HP_BIND_LOCAL :
			  bind == STB_GLOBAL ? HP_BIND_GLOBAL : HP_BIND_WEAK;
		s->defined = sym.st_shndx != SHN_UNDEF;
		s->dynamic = dynamic;
		s->section = sym.st_shndx < SHN_LORESERVE ? sym.st_shndx : 0;
		if (s->section >= elf->nsecs) {
			pr_warn("elf: %s: section %zu (%s): symbol %zu (%s): section index %u "
				"beyond %zu sections", elf->name, secidx, elf->secs[secidx].name, i,
				s->name, s->section, elf->nsecs);
			return -HP_E_FORMAT;
		}
		if (dynamic) {
			uint32_t c;

			/* The same symbol seen in .symtab already: keep one,
			 * lending it the version .dynsym knows. */
			for (c = chain_head(elf, s->name, strlen(s->name)); c; c = elf->chain[c - 1]) {
				struct hp_symbol *t = &elf->syms[c - 1];

				if (!t->dynamic && t->value == s->value && t->defined == s->defined) {
					if (!t->version) {
						t->version = s->version;
						t->old_version = s->old_version;
					}
					break;
				}
			}
			if (c)
				continue;
		}
		elf->chain[elf->nsyms] = 0;
		index_name(elf, elf->nsyms);
		elf->nsyms++;
	}
	if (dynamic)
		elf->n_dynsym += n ? n - 1 : 0;
	else
		elf->n_symtab += n ? n - 1 : 0;
	return 0;
}

static int cmp_addr(const void *a, const void *b, void *arg)
{
	const struct hp_elf *elf = arg;
	const struct hp_symbol *x = &elf->syms[*(const uint32_t *)a];
	const struct hp_symbol *y = &elf->syms[*(const uint32_t *)b];

	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	/* Among aliases the larger extent first, then the better name. */
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return rank(y) - rank(x);
}

static int load_symbols(struct hp_elf *elf)
{
	struct versions v = { 0 };
	size_t i, total = 0, symtab = 0, dynsym = 0;
	int err = 0;

	for (i = 1; i < elf->nsecs; i++) {
		Elf_Scn *scn = elf_getscn(elf->e, i);
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB && !symtab)
			symtab = i;
		else if (sh.sh_type == SHT_DYNSYM && !dynsym)
			dynsym = i;
		else
			continue;
		total += sh.sh_size / sizeof(Elf64_Sym);
	}
	if (total > UINT32_MAX / 4) {
		pr_warn("elf: %s: %zu symbols", elf->name, total);
		return -HP_E_TOO_BIG;
	}
	elf->syms = calloc(total + 1, sizeof(*elf->syms));
	elf->chain = calloc(total + 1, sizeof(*elf->chain));
	for (elf->nbuckets = 16; elf->nbuckets < 2 * total; elf->nbuckets *= 2)
		;
	elf->buckets = calloc(elf->nbuckets, sizeof(*elf->buckets));
	if (!elf->syms || !elf->chain || !elf->buckets)
		return -ENOMEM;
	if (symtab) {
		err = read_symtab(elf, symtab, false, &v);
		if (err)
			goto out;
	}
	if (dynsym) {
		load_versions(elf, &v);
		err = read_symtab(elf, dynsym, true, &v);
		if (err)
			goto out;
	}
	elf->by_addr = calloc(elf->nsyms + 1, sizeof(*elf->by_addr));
	if (!elf->by_addr) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < elf->nsyms; i++) {
		const struct hp_symbol *s = &elf->syms[i];

		if (s->defined && s->section && s->kind != HP_SYM_OTHER)
			elf->by_addr[elf->n_by_addr++] = (uint32_t)i;
	}
	qsort_r(elf->by_addr, elf->n_by_addr, sizeof(*elf->by_addr), cmp_addr, elf);
out:
	free(v.names);
	return err;
}

/* ---- open and close ----------------------------------------------------- */

static int check_header(struct hp_elf *elf)
{
	const unsigned char *id = elf->image;

	if (elf->size < EI_NIDENT || memcmp(id, ELFMAG, SELFMAG)) {
		pr_warn("elf: %s: not an ELF file", elf->name);
		return -HP_E_FORMAT;
	}
	if (id[EI_CLASS] != ELFCLASS64 || id[EI_DATA] != ELFDATA2LSB) {
		pr_warn("elf: %s: not a 64-bit little-endian ELF file (class %u, data %u)",
			elf->name, id[EI_CLASS], id[EI_DATA]);
		return -HP_E_UNSUPPORTED;
	}
	if (elf->size < sizeof(Elf64_Ehdr)) {
		pr_warn("elf: %s: truncated: %zu bytes, the ELF header alone is %zu", elf->name,
			elf->size, sizeof(Elf64_Ehdr));
		return -HP_E_FORMAT;
	}
	if (((const Elf64_Ehdr *)elf->image)->e_machine != EM_X86_64) {
		pr_warn("elf: %s: machine %u is not x86-64", elf->name,
			((const Elf64_Ehdr *)elf->image)->e_machine);
		return -HP_E_UNSUPPORTED;
	}
	return 0;
}

/* libelf quietly treats header tables that do not fit as absent; a file
 * cut short or with a wild offset must instead be refused, so the tables
 * are checked against the file here, from the raw header, before libelf
 * reads them. Counts beyond the 16-bit fields live in section 0. */
static int check_tables(struct hp_elf *elf)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)elf->image;
	uint64_t shnum = eh->e_shnum, phnum = eh->e_phnum;
	Elf64_Shdr sh0;

	if (eh->e_shoff) {
		if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
		    !in_file(elf, eh->e_shoff, sizeof(Elf64_Shdr))) {
			pr_warn("elf: %s: section header table at offset 0x%llx (entry size %u) "
				"does not fit in the file (%zu bytes)", elf->name,
				(unsigned long long)eh->e_shoff, eh->e_shentsize, elf->size);
			return -HP_E_FORMAT;
		}
		memcpy(&sh0, elf->image + eh->e_shoff, sizeof(sh0));
		if (shnum == 0)
			shnum = sh0.sh_size;
		if (phnum == PN_XNUM)
			phnum = sh0.sh_info;
		if (shnum > elf->size / sizeof(Elf64_Shdr) ||
		    !in_file(elf, eh->e_shoff, shnum * sizeof(Elf64_Shdr))) {
			pr_warn("elf: %s: section header table (%llu headers at offset 0x%llx) "
				"extends beyond the end of the file (%zu bytes)", elf->name,
				(unsigned long long)shnum, (unsigned long long)eh->e_shoff,
				elf->size);
			return -HP_E_FORMAT;
		}
	}
	if (phnum && (eh->e_phentsize != sizeof(Elf64_Phdr) ||
		      phnum > elf->size / sizeof(Elf64_Phdr) ||
		      !in_file(elf, eh->e_phoff, phnum * sizeof(Elf64_Phdr)))) {
		pr_warn("elf: %s: program headers (%llu at offset 0x%llx, entry size %u) extend "
			"beyond the end of the file (%zu bytes)", elf->name,
			(unsigned long long)phnum, (unsigned long long)eh->e_phoff, eh->e_phentsize,
			elf->size);
		return -HP_E_FORMAT;
	}
	return 0;
}

static int parse(struct hp_elf *elf)
{
	bool has_interp = false;
	GElf_Ehdr eh;
	int err;

	err = check_header(elf);
	if (!err)
		err = check_tables(elf);
	if (err)
		return err;
	elf->e = elf_memory((char *)elf->image, elf->size);
	if (!elf->e || elf_kind(elf->e) != ELF_K_ELF || !gelf_getehdr(elf->e, &eh)) {
		pr_warn("elf: %s: invalid ELF header: %s", elf->name, elf_errmsg(-1));
		return -HP_E_FORMAT;
	}
	err = load_segments(elf, &has_interp);
	if (!err)
		err = load_sections(elf);
	if (err)
		return err;
	switch (eh.e_type) {
	case ET_EXEC:
		elf->id.type = HP_ELF_EXEC;
		break;
	case ET_DYN:
		elf->id.type = dyn_type(elf, has_interp);
		break;
	case ET_REL:
		elf->id.type = HP_ELF_RELOCATABLE;
		break;
	default:
		pr_warn("elf: %s: ELF type %u is not an executable, library or object",
			elf->name, (unsigned int)eh.e_type);
		return -HP_E_UNSUPPORTED;
	}
	if (elf->id.type != HP_ELF_RELOCATABLE && elf->nsegs == 0) {
		pr_warn("elf: %s: no loadable segment", elf->name);
		return -HP_E_FORMAT;
	}
	err = load_notes(elf);
	if (!err)
		err = load_symbols(elf);
	return err;
}

struct hp_elf *hp_elf__open_fd(int fd, const char *display_name)
{
	struct hp_elf *elf = NULL;
	int err;

	elf_version(EV_CURRENT);
	elf = calloc(1, sizeof(*elf));
	if (!elf) {
		err = -ENOMEM;
		goto out;
	}
	elf->name = strdup(display_name ? display_name : "(fd)");
	if (!elf->name) {
		err = -ENOMEM;
		goto out;
	}
	elf->id.path = elf->name;
	err = read_all(fd, &elf->image, &elf->size);
	if (err) {
		pr_warn("elf: %s: cannot read: %s", elf->name, hp_strerror(err));
		goto out;
	}
	elf->id.file_size = elf->size;
	hp_sha256_buf(elf->image, elf->size, elf->id.sha256);
	err = parse(elf);
out:
	if (err) {
		if (err == -ENOMEM)
			pr_warn("elf: %s: out of memory", display_name ? display_name : "(fd)");
		hp_elf__close(elf);
		errno = -err;
		return NULL;
	}
	return elf;
}

struct hp_elf *hp_elf__open(const char *path)
{
	struct hp_elf *elf;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		pr_warn("elf: %s: %s", path, strerror(err));
		errno = err;
		return NULL;
	}
	elf = hp_elf__open_fd(fd, path);
	err = errno;
	close(fd);
	errno = err;
	return elf;
}

void hp_elf__close(struct hp_elf *elf)
{
	size_t i;

	if (!elf)
		return;
	if (elf->e)
		elf_end(elf->e);
	for (i = 0; i < elf->nowned; i++)
		free(elf->owned[i]);
	free(elf->owned);
	free(elf->by_addr);
	free(elf->buckets);
	free(elf->chain);
	free(elf->syms);
	free(elf->secs);
	free(elf->segs);
	free(elf->image);
	free(elf->name);
	free(elf);
}

/* ---- queries ------------------------------------------------------------ */

const struct hp_identity *hp_elf__identity(const struct hp_elf *elf)
{
	return &elf->id;
}

const struct hp_symbol *hp_elf__find_symbol(const struct hp_elf *elf, const char *name)
{
	const struct hp_symbol *best = NULL;
	const char *at = strchr(name, '@');
	const char *want_ver = NULL;
	size_t n = strlen(name);
	uint32_t c;

	if (at) {
		n = (size_t)(at - name);
		want_ver = at + (at[1] == '@' ? 2 : 1);
	}
	for (c = chain_head(elf, name, n); c; c = elf->chain[c - 1]) {
		const struct hp_symbol *s = &elf->syms[c - 1];

		if (want_ver && (!s->version || strcmp(s->version, want_ver)))
			continue;
		if (!best || rank(s) > rank(best))
			best = s;
	}
	return best;
}

/* Index into by_addr of the first entry whose value is > vaddr. */
static size_t upper_bound(const struct hp_elf *elf, uint64_t vaddr)
{
	size_t lo = 0, hi = elf->n_by_addr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (elf->syms[elf->by_addr[mid]].value <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct hp_symbol *hp_elf__symbol_at(const struct hp_elf *elf, uint64_t vaddr)
{
	size_t i = upper_bound(elf, vaddr), steps;

	/* Symbols seldom nest; looking back a few entries covers aliases and
	 * a static object inside a larger one without a scan. */
	for (steps = 0; i > 0 && steps < 16; i--, steps++) {
		const struct hp_symbol *s = &elf->syms[elf->by_addr[i - 1]];

		if (vaddr - s->value < s->size || (s->size == 0 && vaddr == s->value))
			return s;
	}
	return NULL;
}

uint64_t elf_next_symbol_addr(const struct hp_elf *elf, uint64_t vaddr)
{
	size_t i = upper_bound(elf, vaddr);

	return i < elf->n_by_addr ? elf->syms[elf->by_addr[i]].value : UINT64_MAX;
}

size_t hp_elf__symbol_count(const struct hp_elf *elf)
{
	return elf->nsyms;
}

const struct hp_symbol *hp_elf__symbol(const struct hp_elf *elf, size_t i)
{
	return i < elf->nsyms ? &elf->syms[i] : NULL;
}

size_t hp_elf__symtab_count(const struct hp_elf *elf)
{
	return elf->n_symtab;
}

size_t hp_elf__dynsym_count(const struct hp_elf *elf)
{
	return elf->n_dynsym;
}

const struct hp_segment *hp_elf__segment_at(const struct hp_elf *elf, uint64_t vaddr)
{
	size_t i;

	for (i = 0; i < elf->nsegs; i++)
		if (vaddr - elf->segs[i].vaddr < elf->segs[i].memsz)
			return &elf->segs[i];
	return NULL;
}

size_t hp_elf__segment_count(const struct hp_elf *elf)
{
	return elf->nsegs;
}

const struct hp_segment *hp_elf__segment(const struct hp_elf *elf, size_t i)
{
	return i < elf->nsegs ? &elf->segs[i] : NULL;
}

size_t hp_elf__section_count(const struct hp_elf *elf)
{
	return elf->nsecs;
}

const struct hp_section *hp_elf__section(const struct hp_elf *elf, size_t i)
{
	return i < elf->nsecs ? &elf->secs[i] : NULL;
}

const struct hp_section *hp_elf__section_at(const struct hp_elf *elf, uint64_t vaddr)
{
	size_t i;

	for (i = 1; i < elf->nsecs; i++) {
		const struct hp_section *s = &elf->secs[i];

		if (s->alloc && vaddr - s->addr < s->size)
			return s;
	}
	return NULL;
}

uint64_t hp_elf__link_base(const struct hp_elf *elf)
{
	return elf->link_base;
}

const uint8_t *elf_bytes_at(const struct hp_elf *elf, uint64_t vaddr, size_t len)
{
	const struct hp_segment *s = hp_elf__segment_at(elf, vaddr);
	uint64_t off;

	if (!s)
		return NULL;
	off = vaddr - s->vaddr;
	if (off > s->filesz || len > s->filesz - off)
		return NULL;
	return elf->image + s->offset + off;
}

const uint8_t *elf_section_bytes(const struct hp_elf *elf, size_t secidx, uint64_t off,
				 size_t len)
{
	const struct hp_section *s;

	if (secidx == 0 || secidx >= elf->nsecs)
		return NULL;
	s = &elf->secs[secidx];
	/* load_sections() checked that the section lies within the file. */
	if (s->nobits || off > s->size || len > s->size - off)
		return NULL;
	return elf->image + s->offset + off;
}

int hp_elf__read(const struct hp_elf *elf, uint64_t vaddr, void *buf, size_t len)
{
	uint8_t *out = buf;

	/* A range may span adjacent segments; each piece is checked on its own. */
	while (len) {
		const struct hp_segment *s = hp_elf__segment_at(elf, vaddr);
		uint64_t off, n, avail;

		if (!s)
			return -EFAULT;
		off = vaddr - s->vaddr;
		n = s->memsz - off;
		if (n > len)
			n = len;
		avail = off < s->filesz ? s->filesz - off : 0;
		if (avail > n)
			avail = n;
		/* Past the file bytes (.bss, a huge memsz) off may be far beyond
		 * the image: no pointer into it is formed then (found by fuzz_elf:
		 * image + off overflowed). */
		if (avail)
			memcpy(out, elf->image + s->offset + off, avail);
		memset(out + avail, 0, n - avail);
		out += n;
		vaddr += n;
		len -= n;
	}
	return 0;
}
