# Patch payloads: the corrected routines, compiled from C to relocatable
# objects that libhotpatch links against each eligible target when the patch
# is applied (docs/formats/payload-object.md says what such an object may
# hold, and why each flag below is there).
#
#   $(O)/payloads/KB916846/srv.o      srv_negotiate_signing, for srv
#   $(O)/payloads/KB916846/mrxsmb.o   mrx_negotiate_*, for libmrxsmb.so / smbcli
#
# The flags are the build's own, never the user's CFLAGS nor SANITIZE: an
# instrumented or fortified payload would need symbols (__asan_*,
# __memcpy_chk) that the target may not have. In short:
#   -fPIC                 references to the target stay PLT32/GOTPCRELX
#                         relocations the linker can resolve at any address
#   -ffunction-sections -fdata-sections
#                         one section per function and object, as for kpatch
#   -fno-asynchronous-unwind-tables -fno-unwind-tables
#                         no .eh_frame: nothing would register it in the target
#   -fcf-protection=none  no endbr64 and no .note.gnu.property: the routines are
#                         reached by a direct jmp from the old entry
#   -fno-stack-protector -U_FORTIFY_SOURCE
#                         no __stack_chk_fail / __*_chk imports, so the payload
#                         needs only what the target itself defines
#   -fno-common           a tentative definition would be a COMMON symbol
#   -fno-plt is NOT used: calls stay direct (rel32) when the payload lands
#                         within reach, as the live executor places it; the
#                         linker's far-call table covers the rest.
PAYLOAD_CFLAGS := -std=gnu11 -O2 -fPIC -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none \
	-fno-stack-protector -U_FORTIFY_SOURCE -fno-common -fno-semantic-interposition \
	$(WARN) $(PREFIX_MAP)

PAYLOAD_KB916846 := $(O)/payloads/KB916846

# $(call payload_rule,OUTPUT,SOURCE,INCLUDE DIRS)
define payload_rule
$(1): $(2)
	$$(call msg,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(PAYLOAD_CFLAGS) $(foreach d,$(3),-I$(d)) -MMD -MP -c -o $$@ $$<
endef

$(eval $(call payload_rule,$(PAYLOAD_KB916846)/srv.o,payloads/KB916846/srv_negotiate.c,targets/srv targets/common))
$(eval $(call payload_rule,$(PAYLOAD_KB916846)/mrxsmb.o,payloads/KB916846/mrxsmb_negotiate.c,targets/mrxsmb targets/common))

# Only the payloads whose sources are in the tree: a missing one then fails
# its tests (tests/unit/test_link_object.c names it) rather than the build.
PAYLOAD_OBJS := $(if $(wildcard payloads/KB916846/srv_negotiate.c),$(PAYLOAD_KB916846)/srv.o) \
	$(if $(wildcard payloads/KB916846/mrxsmb_negotiate.c),$(PAYLOAD_KB916846)/mrxsmb.o)
ALL_TARGETS += $(PAYLOAD_OBJS)
CHECK_DEPS += $(PAYLOAD_OBJS)

-include $(PAYLOAD_OBJS:.o=.d)

# The linker's own fixtures live in tests/fixtures/link/, one level deeper
# than mk/build.mk's fragment glob reaches.
ifeq ($(filter tests/fixtures/link/link.mk,$(MAKEFILE_LIST)),)
include tests/fixtures/link/link.mk
endif
