/* Fuzz target: reading a target ELF file (hp_elf__open_fd) and everything
 * the pipeline asks of it afterwards: identity (build-id and package notes),
 * sections and segments, symbol lookups by name and by address, bytes
 * through the segments, the analysis of each function (Capstone over bytes
 * the file claims are code), and the linker's resolvers over the file (its
 * symbols, and its imports through .rela.dyn/.rela.plt and the GOT). The tool runs as root over files found on
 * disk or mapped in processes, any of which may be hostile. The input is
 * put in a memfd, the way the library reads a real file. */
#include "fuzz.h"
#include "link.h"

/* Symbols analysed per input: enough for every symbol of the seeds, and a
 * bound so an input declaring a huge table stays fast. */
#define FUZZ_MAX_FUNCS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* The process the GOT resolver reads from is the file itself. */
static int read_file_u64(void *ctx, uint64_t addr, uint64_t *value)
{
	return hp_elf__read(ctx, addr, value, sizeof(*value));
}

/* Resolve name as a payload link against this file would. */
static void resolve(const struct hp_elf *elf, const char *name)
{
	struct link_elf_resolver er = { elf, 0x1000 };
	struct link_got_resolver gr = { elf, 0, read_file_u64, (void *)elf };
	uint64_t v;

	(void)link_resolve_elf(&er, name, &v);
	(void)link_elf_got_slot(elf, name, &v);
	(void)link_resolve_got(&gr, name, &v);
}

static void walk_symbols(const struct hp_elf *elf)
{
	size_t i, n = hp_elf__symbol_count(elf), analysed = 0;
	struct hp_func_report r;
	uint8_t buf[64];

	for (i = 0; i < n && analysed < FUZZ_MAX_FUNCS; i++) {
		const struct hp_symbol *s = hp_elf__symbol(elf, i);

		if (!s || !s->name)
			continue;
		(void)hp_elf__find_symbol(elf, s->name);
		if (!s->defined) {
			resolve(elf, s->name);
			continue;
		}
		(void)hp_elf__symbol_at(elf, s->value);
		(void)hp_elf__segment_at(elf, s->value);
		(void)hp_elf__section_at(elf, s->value);
		(void)hp_elf__read(elf, s->value, buf, s->size < sizeof(buf) ? s->size : sizeof(buf));
		if (s->kind != HP_SYM_FUNC)
			continue;
		analysed++;
		(void)hp_func__analyze(elf, s, &r);
	}
	(void)hp_elf__find_symbol(elf, "srv_negotiate_signing");
	resolve(elf, "srv_negotiate_signing");
	resolve(elf, "memcmp");
	(void)hp_elf__find_symbol(elf, "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct hp_identity *id;
	struct hp_elf *elf;
	uint8_t buf[16];
	size_t i, n;
	int fd;

	fd = fuzz_memfd("fuzz-elf", data, size);
	if (fd < 0)
		return 0;
	elf = hp_elf__open_fd(fd, "fuzz.elf");
	close(fd);
	if (!elf)
		return 0;
	id = hp_elf__identity(elf);
	(void)hp_elf_type_name(id->type);
	(void)hp_elf__link_base(elf);
	(void)hp_elf__symtab_count(elf);
	(void)hp_elf__dynsym_count(elf);
	n = hp_elf__section_count(elf);
	for (i = 0; i < n; i++)
		(void)hp_elf__section(elf, i);
	n = hp_elf__segment_count(elf);
	for (i = 0; i < n; i++) {
		const struct hp_segment *seg = hp_elf__segment(elf, i);

		if (seg && seg->memsz)
			(void)hp_elf__read(elf, seg->vaddr + seg->memsz - 1, buf, 1);
		if (seg)
			(void)hp_elf__read(elf, seg->vaddr, buf, sizeof(buf));
	}
	walk_symbols(elf);
	hp_elf__close(elf);
	return 0;
}
