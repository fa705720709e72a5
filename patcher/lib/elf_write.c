/* Writing a cold-patched ELF file, the last step of a disk patch before the
 * atomic replace.
 *
 * The original bytes are kept where they are, so every address, offset and
 * section of the file stays valid; one segment is appended at the end:
 *
 *   seg_off (page-aligned, seg_off = seg_vaddr mod page)
 *   | program header table | record | pad | payload text | payload data |
 *   |<---------------- PT_LOAD r-x ------------------------------->|<- PT_LOAD rw- (if any)
 *
 * A program header table cannot grow in place (the first section follows
 * it), so it moves into the new segment, where it is loaded like the
 * original one was: PT_PHDR (if the file has one) points at it, inside a
 * PT_LOAD as the dynamic loader requires. The segment's offset keeps the
 * file's first-PT_LOAD relation between address and offset, so kernels that
 * locate AT_PHDR from e_phoff (before Linux 5.18) find it too. The section
 * header table is rewritten after the segment with a section per added part
 * (.hotpatch.text, .hotpatch.data, .hotpatch.record) so readelf, gdb and
 * eu-elflint see every loaded byte accounted for. The record is laid out as
 * an ELF note (owner "HOTPATCH") but is not a PT_NOTE or SHT_NOTE: note
 * checkers such as eu-elflint refuse owners they do not know. Only the ELF header, the
 * section header for .shstrtab and the 5 bytes of each jump change inside the
 * original bytes. The files are x86-64: little-endian, like the host.
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "elf_write.h"

#define PAGE 4096u
#define NEW_NAMES "\0.hotpatch.text\0.hotpatch.data\0.hotpatch.record"
/* Offsets of each name inside NEW_NAMES (after the leading NUL). */
#define NAME_TEXT 1u
#define NAME_DATA 16u
#define NAME_NOTE 31u

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static size_t note_bytes(size_t desc_len)
{
	return sizeof(Elf64_Nhdr) + align_up(sizeof(ELF_WRITE_NOTE_OWNER), 4) +
	       align_up(desc_len, 4);
}

/* The ELF header and the program header table, checked against the file. */
static int read_headers(const uint8_t *orig, size_t len, const char *name, Elf64_Ehdr *eh,
			const Elf64_Phdr **ph)
{
	if (len < sizeof(*eh) || memcmp(orig, ELFMAG, SELFMAG)) {
		pr_warn("disk: %s: not an ELF file", name);
		return -HP_E_FORMAT;
	}
	memcpy(eh, orig, sizeof(*eh));
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64) {
		pr_warn("disk: %s: not a 64-bit little-endian x86-64 file", name);
		return -HP_E_UNSUPPORTED;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 || eh->e_phnum == PN_XNUM ||
	    eh->e_phoff > len || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff ||
	    eh->e_phoff % 8 || eh->e_shoff % 8) {
		pr_warn("disk: %s: program header table does not fit the file", name);
		return -HP_E_FORMAT;
	}
	if (eh->e_shoff && (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shnum == 0 ||
			    eh->e_shstrndx == SHN_XINDEX || eh->e_shstrndx >= eh->e_shnum ||
			    eh->e_shoff > len ||
			    (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > len - eh->e_shoff)) {
		pr_warn("disk: %s: section header table does not fit the file (or uses extended numbering)",
			name);
		return -HP_E_FORMAT;
	}
	*ph = (const Elf64_Phdr *)(orig + eh->e_phoff);
	return 0;
}

int elf_write_plan(const uint8_t *orig, size_t len, const char *name, int has_data,
		   size_t note_len, struct elf_write_plan *plan)
{
	const Elf64_Phdr *ph;
	Elf64_Ehdr eh;
	uint64_t end = 0, delta = 0, off;
	bool first = true;
	size_t i;
	int err;

	memset(plan, 0, sizeof(*plan));
	err = read_headers(orig, len, name, &eh, &ph);
	if (err)
		return err;
	if (note_len > ELF_WRITE_NOTE_MAX) {
		pr_warn("disk: %s: note of %zu bytes is beyond %u", name, note_len, ELF_WRITE_NOTE_MAX);
		return -HP_E_TOO_BIG;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		if (ph[i].p_vaddr + ph[i].p_memsz < ph[i].p_vaddr) {
			pr_warn("disk: %s: program header %zu: segment wraps around", name, i);
			return -HP_E_FORMAT;
		}
		/* The relation the old kernels assume between e_phoff and
		 * AT_PHDR: the first PT_LOAD's address minus its offset. */
		if (first)
			delta = ph[i].p_vaddr - ph[i].p_offset;
		first = false;
		if (ph[i].p_vaddr + ph[i].p_memsz > end)
			end = ph[i].p_vaddr + ph[i].p_memsz;
	}
	if (first) {
		pr_warn("disk: %s: no loadable segment", name);
		return -HP_E_FORMAT;
	}
	off = align_up(len, PAGE);
	if (align_up(end, PAGE) - delta > off)
		off = align_up(end, PAGE) - delta;
	plan->seg_off = off;
	plan->seg_vaddr = off + delta;
	plan->nphdr = eh.e_phnum + 1u + (has_data ? 1u : 0u); /* the added PT_LOAD(s) */
	if (plan->nphdr * sizeof(Elf64_Phdr) + note_bytes(note_len) > PAGE) {
		pr_warn("disk: %s: %zu program headers do not fit one page", name, plan->nphdr);
		return -HP_E_TOO_BIG;
	}
	plan->head_size = PAGE;
	plan->base = plan->seg_vaddr + plan->head_size;
	return 0;
}

/* The file offset of link-time address vaddr in an executable PT_LOAD,
 * with n bytes from there file-backed; false if there is none. */
static bool exec_offset(const Elf64_Phdr *ph, size_t nph, uint64_t vaddr, size_t n, uint64_t *off)
{
	size_t i;

	for (i = 0; i < nph; i++) {
		if (ph[i].p_type != PT_LOAD || !(ph[i].p_flags & PF_X))
			continue;
		if (vaddr >= ph[i].p_vaddr && vaddr - ph[i].p_vaddr <= ph[i].p_filesz &&
		    ph[i].p_filesz - (vaddr - ph[i].p_vaddr) >= n) {
			*off = ph[i].p_offset + (vaddr - ph[i].p_vaddr);
			return true;
		}
	}
	return false;
}

static void put_phdr(Elf64_Phdr *p, uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr,
		     uint64_t size, uint64_t align)
{
	memset(p, 0, sizeof(*p));
	p->p_type = type;
	p->p_flags = flags;
	p->p_offset = off;
	p->p_vaddr = vaddr;
	p->p_paddr = vaddr;
	p->p_filesz = size;
	p->p_memsz = size;
	p->p_align = align;
}

static void put_shdr(Elf64_Shdr *s, uint32_t name, uint32_t type, uint64_t flags, uint64_t addr,
		     uint64_t off, uint64_t size, uint64_t align)
{
	memset(s, 0, sizeof(*s));
	s->sh_name = name;
	s->sh_type = type;
	s->sh_flags = flags;
	s->sh_addr = addr;
	s->sh_offset = off;
	s->sh_size = size;
	s->sh_addralign = align;
}

int elf_write_build(const uint8_t *orig, size_t len, const char *name,
		    const struct elf_write_plan *plan, const struct elf_write_add *add,
		    uint8_t **out, size_t *out_len)
{
	const Elf64_Phdr *ph;
	Elf64_Ehdr eh;
	Elf64_Phdr *nph;
	Elf64_Shdr *sh;
	Elf64_Nhdr nh;
	uint8_t *buf = NULL;
	size_t desc_len = strlen(add->note) + 1, i, k, nsh = 0, data_size;
	uint64_t note_off, img_off, str_off = 0, str_size = 0, sh_off = 0, total, last_load = 0;
	int err;

	*out = NULL;
	*out_len = 0;
	err = read_headers(orig, len, name, &eh, &ph);
	if (err)
		return err;
	data_size = add->image_size - add->text_size;
	if (add->text_size % PAGE || add->text_size > add->image_size ||
	    plan->nphdr != eh.e_phnum + 1u + (data_size ? 1u : 0u)) {
		pr_warn("disk: %s: payload image does not match the plan", name);
		return -EINVAL;
	}
	note_off = plan->seg_off + plan->nphdr * sizeof(Elf64_Phdr);
	img_off = plan->seg_off + plan->head_size;
	total = img_off + add->image_size;
	if (eh.e_shoff) {
		const Elf64_Shdr *old = (const Elf64_Shdr *)(orig + eh.e_shoff);
		const Elf64_Shdr *ss = &old[eh.e_shstrndx];

		if (ss->sh_type != SHT_STRTAB || ss->sh_offset > len || ss->sh_size > len - ss->sh_offset) {
			pr_warn("disk: %s: section %u: string table out of the file", name,
				(unsigned int)eh.e_shstrndx);
			return -HP_E_FORMAT;
		}
		str_off = total;
		str_size = ss->sh_size + sizeof(NEW_NAMES);
		nsh = eh.e_shnum + 2u + (data_size ? 1u : 0u);
		sh_off = align_up(str_off + str_size, 8);
		total = sh_off + nsh * sizeof(Elf64_Shdr);
	}
	buf = calloc(1, total);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(buf, orig, len);

	/* The jumps, each inside the original code. */
	for (i = 0; i < add->njumps; i++) {
		uint64_t off;
		int64_t rel = (int64_t)(add->jumps[i].target - (add->jumps[i].at + 5));

		if (!exec_offset(ph, eh.e_phnum, add->jumps[i].at, 5, &off) || rel != (int32_t)rel) {
			pr_warn("disk: %s: jump at 0x%llx is outside the file's code or out of reach",
				name, (unsigned long long)add->jumps[i].at);
			err = -HP_E_FORMAT;
			goto out;
		}
		buf[off] = 0xe9;
		buf[off + 1] = (uint8_t)rel;
		buf[off + 2] = (uint8_t)(rel >> 8);
		buf[off + 3] = (uint8_t)(rel >> 16);
		buf[off + 4] = (uint8_t)(rel >> 24);
	}

	/* The new program header table: the original entries, PT_PHDR
	 * moved, the added PT_LOADs after the last PT_LOAD (the loader wants
	 * them in address order). */
	for (i = 0; i < eh.e_phnum; i++)
		if (ph[i].p_type == PT_LOAD)
			last_load = i;
	nph = (Elf64_Phdr *)(buf + plan->seg_off);
	for (i = 0, k = 0; i < eh.e_phnum; i++) {
		nph[k] = ph[i];
		if (ph[i].p_type == PT_PHDR) {
			nph[k].p_offset = plan->seg_off;
			nph[k].p_vaddr = plan->seg_vaddr;
			nph[k].p_paddr = plan->seg_vaddr;
			nph[k].p_filesz = plan->nphdr * sizeof(Elf64_Phdr);
			nph[k].p_memsz = nph[k].p_filesz;
		}
		k++;
		if (i == last_load) {
			put_phdr(&nph[k++], PT_LOAD, PF_R | PF_X, plan->seg_off, plan->seg_vaddr,
				 plan->head_size + add->text_size, PAGE);
			if (data_size)
				put_phdr(&nph[k++], PT_LOAD, PF_R | PF_W, img_off + add->text_size,
					 plan->base + add->text_size, data_size, PAGE);
		}
	}

	/* The note marking the file as patched, and the payload. */
	memset(&nh, 0, sizeof(nh));
	nh.n_namesz = sizeof(ELF_WRITE_NOTE_OWNER);
	nh.n_descsz = (uint32_t)desc_len;
	nh.n_type = ELF_WRITE_NOTE_TYPE;
	memcpy(buf + note_off, &nh, sizeof(nh));
	memcpy(buf + note_off + sizeof(nh), ELF_WRITE_NOTE_OWNER, sizeof(ELF_WRITE_NOTE_OWNER));
	memcpy(buf + note_off + sizeof(nh) + align_up(sizeof(ELF_WRITE_NOTE_OWNER), 4), add->note,
	       desc_len);
	memcpy(buf + img_off, add->image, add->image_size);

	eh.e_phoff = plan->seg_off;
	eh.e_phnum = (uint16_t)plan->nphdr;

	/* Sections: a new .shstrtab with the added names, the old headers,
	 * then one per added part. */
	if (eh.e_shoff) {
		const Elf64_Shdr *old = (const Elf64_Shdr *)(orig + eh.e_shoff);
		uint32_t base_name = (uint32_t)old[eh.e_shstrndx].sh_size;

		memcpy(buf + str_off, orig + old[eh.e_shstrndx].sh_offset, old[eh.e_shstrndx].sh_size);
		memcpy(buf + str_off + base_name, NEW_NAMES, sizeof(NEW_NAMES));
		sh = (Elf64_Shdr *)(buf + sh_off);
		memcpy(sh, old, eh.e_shnum * sizeof(*sh));
		sh[eh.e_shstrndx].sh_offset = str_off;
		sh[eh.e_shstrndx].sh_size = str_size;
		k = eh.e_shnum;
		put_shdr(&sh[k++], base_name + NAME_TEXT, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR,
			 plan->base, img_off, add->text_size, 16);
		if (data_size)
			put_shdr(&sh[k++], base_name + NAME_DATA, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE,
				 plan->base + add->text_size, img_off + add->text_size, data_size, 16);
		put_shdr(&sh[k++], base_name + NAME_NOTE, SHT_PROGBITS, SHF_ALLOC,
			 plan->seg_vaddr + (note_off - plan->seg_off), note_off, note_bytes(desc_len), 4);
		eh.e_shoff = sh_off;
		eh.e_shnum = (uint16_t)nsh;
	}
	memcpy(buf, &eh, sizeof(eh));
	*out = buf;
	*out_len = total;
	buf = NULL;
out:
	free(buf);
	return err;
}

int elf_write_find_note(const uint8_t *orig, size_t len, const char *name, char *buf,
			size_t size)
{
	const Elf64_Phdr *ph;
	Elf64_Ehdr eh;
	Elf64_Nhdr nh;
	uint64_t off, desc_off;
	int err;

	err = read_headers(orig, len, name, &eh, &ph);
	if (err)
		return err;
	/* The record sits right after the program header table the writer
	 * moved; found there, it needs no section headers (strip keeps it). */
	off = eh.e_phoff + (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (off > len || len - off < sizeof(nh) + align_up(sizeof(ELF_WRITE_NOTE_OWNER), 4))
		return 0;
	memcpy(&nh, orig + off, sizeof(nh));
	desc_off = off + sizeof(nh) + align_up(sizeof(ELF_WRITE_NOTE_OWNER), 4);
	if (nh.n_type != ELF_WRITE_NOTE_TYPE || nh.n_namesz != sizeof(ELF_WRITE_NOTE_OWNER) ||
	    memcmp(orig + off + sizeof(nh), ELF_WRITE_NOTE_OWNER, sizeof(ELF_WRITE_NOTE_OWNER)) ||
	    nh.n_descsz > ELF_WRITE_NOTE_MAX || nh.n_descsz > len - desc_off || !size)
		return 0;
	size = nh.n_descsz < size - 1 ? nh.n_descsz : size - 1;
	memcpy(buf, orig + desc_off, size);
	buf[size] = '\0';
	return 1;
}
