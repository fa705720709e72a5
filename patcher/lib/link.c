/* Linking a payload: lay out a parsed payload object (elf_object.c) at a
 * runtime address, resolve what it needs from the target, apply its
 * relocations.
 *
 * This is the "plan" stage of the pipeline for code: what bytes go where,
 * before either executor (disk or live) writes anything. The layout depends
 * on the object alone, so the live executor can reserve memory near the
 * target first and link for that address afterwards; the bytes depend only on
 * the object, the base and the addresses the resolver gives, so two runs give
 * the same image.
 *
 * Two tables are built into the read-only part of the image, after the
 * object's code and rodata:
 *   - a local GOT, one 8-byte slot per symbol used through GOTPCREL*; a mov
 *     through a GOTPCRELX slot whose symbol is within rel32 reach is relaxed
 *     to a lea, as ld does, so most data references cost no load;
 *   - a far-call table, one 16-byte stub (jmp *[rip+2]; ud2; .quad addr) per
 *     symbol called from outside the object, used by a call or jump whose
 *     destination is beyond rel32 reach (a libc far from the target's code).
 * docs/formats/payload-object.md has the full picture.
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "elf_object.h"
#include "internal.h"

#define GOT_SLOT 8u
#define FAR_STUB 16u
/* Highest user-space address on x86-64 with 4-level paging. */
#define USER_TOP 0x0000800000000000ull

/* Where everything goes, as offsets from the base. */
struct plan {
	uint64_t *sec_off;   /* per section: byte offset from base (loaded sections) */
	uint32_t *got_slot;  /* per symbol: GOT slot + 1, 0 when it has none */
	uint32_t *far_slot;  /* per symbol: far-call stub + 1, 0 when it has none */
	uint64_t got_off;    /* byte offset of the GOT from base */
	uint64_t far_off;    /* byte offset of the far-call table from base */
	uint32_t ngot;       /* GOT slots */
	uint32_t nfar;       /* far-call stubs */
	uint64_t text_size;  /* bytes, page multiple */
	uint64_t data_size;  /* bytes, page multiple */
	uint64_t align;      /* bytes: the base must be a multiple of it */
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static bool is_got_reloc(uint32_t type)
{
	return type == R_X86_64_GOTPCREL || type == R_X86_64_GOTPCRELX ||
	       type == R_X86_64_REX_GOTPCRELX;
}

static bool is_branch_reloc(uint32_t type)
{
	return type == R_X86_64_PLT32 || type == R_X86_64_PC32;
}

static void plan_free(struct plan *p)
{
	free(p->sec_off);
	free(p->got_slot);
	free(p->far_slot);
	memset(p, 0, sizeof(*p));
}

/* Place sections of one kind one after another from *off, each at its own
 * alignment, in section-index order (the compiler's order). */
static void place(const struct link_object *obj, enum link_sec_kind kind, struct plan *p,
		  uint64_t *off)
{
	size_t i;

	for (i = 0; i < obj->nsecs; i++) {
		if (obj->secs[i].kind != kind)
			continue;
		*off = align_up(*off, obj->secs[i].align);
		p->sec_off[i] = *off;
		if (obj->secs[i].align > p->align)
			p->align = obj->secs[i].align;
		*off += obj->secs[i].size;
	}
}

static int make_plan(const struct link_object *obj, struct plan *p)
{
	uint64_t off = 0;
	size_t i, j;

	memset(p, 0, sizeof(*p));
	p->sec_off = calloc(obj->nsecs, sizeof(*p->sec_off));
	p->got_slot = calloc(obj->nsyms + 1, sizeof(*p->got_slot));
	p->far_slot = calloc(obj->nsyms + 1, sizeof(*p->far_slot));
	if (!p->sec_off || !p->got_slot || !p->far_slot) {
		plan_free(p);
		return -ENOMEM;
	}
	/* Which symbols need a GOT slot or a far-call stub. A far stub is only
	 * for symbols outside the object: the object itself always fits in
	 * rel32 reach of itself. */
	for (i = 0; i < obj->nsecs; i++) {
		for (j = 0; j < obj->secs[i].nrelocs; j++) {
			const struct link_reloc *r = &obj->secs[i].relocs[j];
			const struct link_symbol *s = &obj->syms[r->sym];

			if (is_got_reloc(r->type))
				p->got_slot[r->sym] = 1;
			else if (is_branch_reloc(r->type) && obj->secs[i].kind == LINK_SEC_TEXT &&
				 (s->sec == LINK_SYM_UNDEF || s->sec == LINK_SYM_ABS))
				p->far_slot[r->sym] = 1;
		}
	}
	/* Slots in symbol-table order, so the image does not depend on the
	 * order relocations happen to be listed in. */
	for (i = 0; i < obj->nsyms; i++) {
		if (p->got_slot[i])
			p->got_slot[i] = ++p->ngot;
		if (p->far_slot[i])
			p->far_slot[i] = ++p->nfar;
	}
	/* The stubs are 16-byte aligned, so the base must be too. */
	p->align = FAR_STUB;
	place(obj, LINK_SEC_TEXT, p, &off);
	place(obj, LINK_SEC_RODATA, p, &off);
	off = align_up(off, GOT_SLOT);
	p->got_off = off;
	off += (uint64_t)p->ngot * GOT_SLOT;
	off = align_up(off, FAR_STUB);
	p->far_off = off;
	off += (uint64_t)p->nfar * FAR_STUB;
	p->text_size = align_up(off, LINK_PAGE_SIZE);
	off = p->text_size;
	place(obj, LINK_SEC_DATA, p, &off);
	place(obj, LINK_SEC_BSS, p, &off);
	p->data_size = align_up(off, LINK_PAGE_SIZE) - p->text_size;
	return 0;
}

int link_plan_layout(const struct link_object *obj, struct link_layout *layout)
{
	struct plan p;
	int err;

	memset(layout, 0, sizeof(*layout));
	err = make_plan(obj, &p);
	if (err)
		return err;
	layout->text_size = p.text_size;
	layout->data_size = p.data_size;
	layout->size = p.text_size + p.data_size;
	layout->align = p.align;
	plan_free(&p);
	return 0;
}

int link_resolve_chain(void *ctx, const char *name, uint64_t *runtime_addr)
{
	const struct link_resolver_chain *chain = ctx;
	size_t i;

	for (i = 0; i < chain->count; i++) {
		int err = chain->list[i].resolve(chain->list[i].ctx, name, runtime_addr);

		if (err != -HP_E_NOT_FOUND)
			return err;
	}
	return -HP_E_NOT_FOUND;
}

/* Resolve every undefined symbol once. A weak one nobody defines is 0, as
 * the dynamic linker would make it; any other missing one is reported with
 * the first relocation that needs it. */
static int resolve_all(const struct link_object *obj, const struct link_resolver *resolver,
		       uint64_t *addrs)
{
	int first_err = 0;
	size_t i;

	for (i = 0; i < obj->nundefs; i++) {
		const struct link_symbol *s = &obj->syms[obj->undefs[i]];
		int err = resolver && resolver->resolve ?
			  resolver->resolve(resolver->ctx, s->name, &addrs[i]) : -HP_E_NOT_FOUND;

		if (err == -HP_E_NOT_FOUND && s->bind == STB_WEAK) {
			pr_debug("link: %s: weak symbol '%s' not found, resolved to 0",
				 obj->name, s->name);
			addrs[i] = 0;
			continue;
		}
		if (err) {
			pr_warn("link: %s: %s+0x%llx: %s against '%s': %s",
				obj->name, obj->secs[s->use_sec].name, (unsigned long long)s->use_off,
				link_reloc_name(s->use_type), s->name,
				err == -HP_E_NOT_FOUND ? "symbol not found in the target" : hp_strerror(err));
			if (!first_err)
				first_err = err == -HP_E_NOT_FOUND ? -HP_E_RELOC : err;
		}
	}
	return first_err;
}

int link_check(const struct link_object *obj, const struct link_resolver *resolver)
{
	uint64_t *addrs = calloc(obj->nundefs + 1, sizeof(*addrs));
	int err;

	if (!addrs)
		return -ENOMEM;
	err = resolve_all(obj, resolver, addrs);
	free(addrs);
	return err;
}

/* Runtime address of symbol i. */
static uint64_t symbol_addr(const struct link_object *obj, const struct plan *p, uint64_t base,
			    const uint64_t *undef_addrs, uint32_t i)
{
	const struct link_symbol *s = &obj->syms[i];

	if (s->sec == LINK_SYM_UNDEF)
		return undef_addrs[s->undef];
	if (s->sec == LINK_SYM_ABS)
		return s->value;
	return base + p->sec_off[s->sec] + s->value;
}

static bool fits_s32(int64_t v)
{
	return v >= INT32_MIN && v <= INT32_MAX;
}

static void put32(uint8_t *at, uint32_t v)
{
	memcpy(at, &v, 4); /* x86-64 is little-endian, as the object is */
}

static void put64(uint8_t *at, uint64_t v)
{
	memcpy(at, &v, 8);
}

/* A call or jump rel32 the far-call table can stand in for: a PLT32 (only
 * ever emitted for branches), or a PC32 whose field follows a call (e8) or
 * jmp (e9) opcode; in both cases the addend must be the usual -4 (the field
 * is the instruction's last 4 bytes). */
static bool far_callable(const struct link_section *sec, const struct link_reloc *r)
{
	if (r->addend != -4)
		return false;
	if (r->type == R_X86_64_PLT32)
		return true;
	return r->offset >= 1 && (sec->bytes[r->offset - 1] == 0xe8 || sec->bytes[r->offset - 1] == 0xe9);
}

/* A mov r64, [rip+disp32] through a GOTPCRELX slot can become a lea of the
 * symbol itself: opcode 8b -> 8d, the ModRM byte (rip-relative) unchanged. */
static bool relaxable_mov(const uint8_t *field_in_image, const struct link_reloc *r)
{
	return (r->type == R_X86_64_GOTPCRELX || r->type == R_X86_64_REX_GOTPCRELX) &&
	       r->offset >= 2 && field_in_image[-2] == 0x8b && (field_in_image[-1] & 0xc7) == 0x05;
}

struct link_ctx {
	const struct link_object *obj; /* what is linked */
	const struct plan *plan;       /* where it goes */
	uint64_t base;                 /* runtime address of the image */
	const uint64_t *undef_addrs;   /* runtime address of each undefined symbol */
	struct link_image *img;        /* being built */
	uint8_t *used;                 /* per symbol: bit 0 GOT slot used, bit 1 far stub used */
};

static int reloc_error(const struct link_ctx *c, size_t si, const struct link_reloc *r,
		       const char *why, uint64_t s_addr, uint64_t p_addr)
{
	pr_warn("link: %s: %s+0x%llx: %s against '%s': %s (symbol at 0x%llx, field at 0x%llx)",
		c->obj->name, c->obj->secs[si].name, (unsigned long long)r->offset,
		link_reloc_name(r->type), link_symbol_label(c->obj, r->sym), why,
		(unsigned long long)s_addr, (unsigned long long)p_addr);
	return -HP_E_RELOC;
}

static int apply_one(struct link_ctx *c, size_t si, const struct link_reloc *r)
{
	const struct link_section *sec = &c->obj->secs[si];
	uint64_t field_off = c->plan->sec_off[si] + r->offset;
	uint8_t *at = c->img->bytes + field_off;
	uint64_t P = c->base + field_off;
	uint64_t S = symbol_addr(c->obj, c->plan, c->base, c->undef_addrs, r->sym);
	int64_t A = r->addend, v;

	switch (r->type) {
	case R_X86_64_NONE:
		return 0;
	case R_X86_64_64:
		put64(at, S + (uint64_t)A);
		return 0;
	case R_X86_64_PC64:
		put64(at, S + (uint64_t)A - P);
		return 0;
	case R_X86_64_32:
		if (S + (uint64_t)A > UINT32_MAX)
			return reloc_error(c, si, r, "value does not fit in 32 bits unsigned", S, P);
		put32(at, (uint32_t)(S + (uint64_t)A));
		return 0;
	case R_X86_64_32S:
		if (!fits_s32((int64_t)(S + (uint64_t)A)))
			return reloc_error(c, si, r, "value does not fit in 32 bits signed", S, P);
		put32(at, (uint32_t)(S + (uint64_t)A));
		return 0;
	case R_X86_64_PC32:
	case R_X86_64_PLT32:
		v = (int64_t)(S + (uint64_t)A - P);
		if (fits_s32(v)) {
			put32(at, (uint32_t)v);
			return 0;
		}
		if (!c->plan->far_slot[r->sym] || sec->kind != LINK_SEC_TEXT || !far_callable(sec, r))
			return reloc_error(c, si, r, "destination beyond rel32 reach and not a call or jump the far-call table can carry", S, P);
		v = (int64_t)(c->base + c->plan->far_off +
			      (uint64_t)(c->plan->far_slot[r->sym] - 1) * FAR_STUB + (uint64_t)A - P);
		put32(at, (uint32_t)v);
		c->used[r->sym] |= 2;
		return 0;
	case R_X86_64_GOTPCRELX:
	case R_X86_64_REX_GOTPCRELX:
		v = (int64_t)(S + (uint64_t)A - P);
		if (sec->kind == LINK_SEC_TEXT && relaxable_mov(at, r) && fits_s32(v)) {
			at[-2] = 0x8d;
			put32(at, (uint32_t)v);
			return 0;
		}
		/* Otherwise keep the load through the slot. */
		/* fall through */
	case R_X86_64_GOTPCREL:
		v = (int64_t)(c->base + c->plan->got_off +
			      (uint64_t)(c->plan->got_slot[r->sym] - 1) * GOT_SLOT + (uint64_t)A - P);
		if (!fits_s32(v))
			return reloc_error(c, si, r, "GOT slot beyond rel32 reach", S, P);
		put32(at, (uint32_t)v);
		c->used[r->sym] |= 1;
		return 0;
	default:
		/* elf_object.c refused every other type already. */
		return reloc_error(c, si, r, "relocation type not supported", S, P);
	}
}

/* Absolute addresses the image holds, for an executor that must know them
 * (a disk patch of a PIE needs a dynamic relocation for each). */
static int record_abs(struct link_image *img, uint64_t off)
{
	uint64_t *grown;

	if ((img->nabs & (img->nabs - 1)) == 0) {
		grown = realloc(img->abs_off, (img->nabs ? img->nabs * 2 : 8) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		img->abs_off = grown;
	}
	img->abs_off[img->nabs++] = off;
	return 0;
}

/* The GOT and the far-call table: every slot is filled (so the bytes do not
 * depend on which relocations were relaxed), only those used are counted. */
static int fill_tables(struct link_ctx *c)
{
	const struct plan *p = c->plan;
	int err;
	size_t i;

	for (i = 0; i < c->obj->nsyms; i++) {
		uint64_t S = p->got_slot[i] || p->far_slot[i] ?
			     symbol_addr(c->obj, p, c->base, c->undef_addrs, (uint32_t)i) : 0;

		if (p->got_slot[i]) {
			uint64_t off = p->got_off + (uint64_t)(p->got_slot[i] - 1) * GOT_SLOT;

			put64(c->img->bytes + off, S);
			if ((c->used[i] & 1) && (err = record_abs(c->img, off)))
				return err;
		}
		if (p->far_slot[i]) {
			static const uint8_t stub[8] = { 0xff, 0x25, 0x02, 0x00, 0x00, 0x00, /* jmp *[rip+2] */
							 0x0f, 0x0b /* ud2 */ };
			uint64_t off = p->far_off + (uint64_t)(p->far_slot[i] - 1) * FAR_STUB;

			memcpy(c->img->bytes + off, stub, sizeof(stub));
			put64(c->img->bytes + off + 8, S);
			if (c->used[i] & 2) {
				c->img->nfar++;
				if ((err = record_abs(c->img, off + 8)))
					return err;
			}
		}
	}
	return 0;
}

int link_image_build(const struct link_object *obj, uint64_t base,
		     const struct link_resolver *resolver, struct link_image *out)
{
	struct link_image img = { 0 };
	struct plan plan = { 0 };
	struct link_ctx c = { 0 };
	uint64_t *addrs = NULL;
	size_t i, j;
	int err;

	memset(out, 0, sizeof(*out));
	err = make_plan(obj, &plan);
	if (err)
		goto out;
	if (base % plan.align || base >= USER_TOP ||
	    plan.text_size + plan.data_size > USER_TOP - base) {
		pr_warn("link: %s: base 0x%llx: not a user-space address aligned to %llu bytes with room for 0x%llx bytes",
			obj->name, (unsigned long long)base, (unsigned long long)plan.align,
			(unsigned long long)(plan.text_size + plan.data_size));
		err = -EINVAL;
		goto out;
	}
	addrs = calloc(obj->nundefs + 1, sizeof(*addrs));
	c.used = calloc(obj->nsyms + 1, 1);
	img.size = plan.text_size + plan.data_size;
	img.bytes = malloc(img.size ? img.size : 1);
	img.func_addr = calloc(obj->nfuncs + 1, sizeof(*img.func_addr));
	if (!addrs || !c.used || !img.bytes || !img.func_addr) {
		err = -ENOMEM;
		goto out;
	}
	err = resolve_all(obj, resolver, addrs);
	if (err)
		goto out;

	/* Gaps in the code part trap (int3) rather than slide into the next
	 * function; data starts zeroed, as .bss must. */
	memset(img.bytes, 0xcc, plan.text_size);
	memset(img.bytes + plan.text_size, 0, plan.data_size);
	for (i = 0; i < obj->nsecs; i++)
		if (obj->secs[i].bytes && obj->secs[i].kind != LINK_SEC_SKIP)
			memcpy(img.bytes + plan.sec_off[i], obj->secs[i].bytes, obj->secs[i].size);
	img.base = base;
	img.text_size = plan.text_size;

	c.obj = obj;
	c.plan = &plan;
	c.base = base;
	c.undef_addrs = addrs;
	c.img = &img;
	for (i = 0; i < obj->nsecs; i++) {
		for (j = 0; j < obj->secs[i].nrelocs; j++) {
			const struct link_reloc *r = &obj->secs[i].relocs[j];

			err = apply_one(&c, i, r);
			if (err)
				goto out;
			if ((r->type == R_X86_64_64) && (err = record_abs(&img, plan.sec_off[i] + r->offset)))
				goto out;
		}
	}
	err = fill_tables(&c);
	if (err)
		goto out;
	for (i = 0; i < obj->nfuncs; i++)
		img.func_addr[i] = symbol_addr(obj, &plan, base, addrs, (uint32_t)obj->funcs[i]);
	img.nfuncs = obj->nfuncs;
	pr_debug("link: %s: linked at 0x%llx: %zu bytes, %u GOT slots, %zu far calls",
		 obj->name, (unsigned long long)base, img.size, plan.ngot, img.nfar);
	*out = img;
	memset(&img, 0, sizeof(img));
out:
	link_image_release(&img);
	plan_free(&plan);
	free(addrs);
	free(c.used);
	return err;
}

void link_image_release(struct link_image *img)
{
	if (!img)
		return;
	free(img->bytes);
	free(img->func_addr);
	free(img->abs_off);
	memset(img, 0, sizeof(*img));
}
