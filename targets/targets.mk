# targets/: the software KB916846 patches, at its vendor versions.
#
#   $(O)/targets/srv/<version>/srv
#   $(O)/targets/mrxsmb/<version>/libmrxsmb.so and smbcli
#   $(O)/bin/srv, $(O)/bin/smbcli, $(O)/lib/libmrxsmb.so   (newest eligible build)
#
# Every version is built from the same sources; -DTARGET_BUILD selects small
# unrelated differences (statistics) in a file linked before the
# negotiation code, so each build lays out its code differently. The fixed
# full build compiles the KB916846 payload source in place of negotiate.c.
# The flags are the vendor's, fixed here (not the user's CFLAGS or
# SANITIZE), so that a build is the same bytes wherever it is made.

SRV_VERSIONS := 5.2.3790.1830 5.2.3790.2437 5.2.3790.2691 5.2.3790.2734
SRV_ELIGIBLE := 5.2.3790.2437 5.2.3790.2691
MRXSMB_VERSIONS := 5.2.3790.1218 5.2.3790.1830 5.2.3790.2697 5.2.3790.2734
MRXSMB_ELIGIBLE := 5.2.3790.1830 5.2.3790.2697
FIXED_VERSION := 5.2.3790.2734
# The default installed build: the newest eligible vendor build.
SRV_DEFAULT := $(lastword $(SRV_ELIGIBLE))
MRXSMB_DEFAULT := $(lastword $(MRXSMB_ELIGIBLE))
export SRV_VERSIONS SRV_ELIGIBLE MRXSMB_VERSIONS MRXSMB_ELIGIBLE FIXED_VERSION

TGT_CPPFLAGS := -D_GNU_SOURCE -Itargets/common $(shell pkg-config --cflags libsodium)
TGT_CFLAGS := -std=gnu11 -O2 -g $(WARN) -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	-fcf-protection -ffile-prefix-map=$(CURDIR)=.
TGT_LDFLAGS := -Wl,-z,relro,-z,now -Wl,--build-id=sha1
TGT_LIBS := $(shell pkg-config --libs libsodium) -lpthread

TGT_COMMON := targets/common/wire.c targets/common/config.c
# Link order is part of the build: stats.c before negotiate.c.
SRV_SRCS := $(TGT_COMMON) targets/srv/stats.c targets/srv/negotiate.c targets/srv/signing.c \
	targets/srv/session.c targets/srv/server.c targets/srv/main.c
MRXSMB_SRCS := $(TGT_COMMON) targets/mrxsmb/stats.c targets/mrxsmb/negotiate.c \
	targets/mrxsmb/signing.c targets/mrxsmb/client.c
SRV_FIX_SRC := payloads/KB916846/srv_negotiate.c
MRXSMB_FIX_SRC := payloads/KB916846/mrxsmb_negotiate.c

# $(call tgt_srcs,SRCS,ORIGINAL,FIX,VERSION): the sources of one build.
tgt_srcs = $(if $(filter $(FIXED_VERSION),$(4)),$(patsubst $(2),$(3),$(1)),$(1))
tgt_objs = $(patsubst %.c,$(O)/obj/targets/$(1)/$(2)/%.o,$(3))
tgt_build = $(lastword $(subst ., ,$(1)))
# ELF package metadata (systemd convention), written by ld into .note.package.
tgt_pkgmeta = '--package-metadata={"type":"deb","name":"$(1)","version":"$(2)","architecture":"amd64"}'

# $(call tgt_cc,COMPONENT,VERSION,SRC,PIC-FLAG)
define tgt_cc
$(O)/obj/targets/$(1)/$(2)/$(3:.c=.o): $(3)
	$$(call msg,CC,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(TGT_CPPFLAGS) -Itargets/$(1) -DTARGET_VERSION='"$(2)"' \
		-DTARGET_BUILD=$(call tgt_build,$(2)) $$(TGT_CFLAGS) $(4) -MMD -MP -c -o $$@ $(3)
endef

define srv_version
SRV_OBJS_$(1) := $(call tgt_objs,srv,$(1),$(call tgt_srcs,$(SRV_SRCS),targets/srv/negotiate.c,$(SRV_FIX_SRC),$(1)))
$(foreach s,$(call tgt_srcs,$(SRV_SRCS),targets/srv/negotiate.c,$(SRV_FIX_SRC),$(1)),$(eval $(call tgt_cc,srv,$(1),$(s),-fPIE)))
$(O)/targets/srv/$(1)/srv: $$(SRV_OBJS_$(1))
	$$(call msg,LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) -pie $$(TGT_LDFLAGS) -Xlinker $(call tgt_pkgmeta,srv,$(1)) -o $$@ \
		$$(SRV_OBJS_$(1)) $$(TGT_LIBS)
ALL_TARGETS += $(O)/targets/srv/$(1)/srv
endef

define mrxsmb_version
MRXSMB_OBJS_$(1) := $(call tgt_objs,mrxsmb,$(1),$(call tgt_srcs,$(MRXSMB_SRCS),targets/mrxsmb/negotiate.c,$(MRXSMB_FIX_SRC),$(1)))
$(foreach s,$(call tgt_srcs,$(MRXSMB_SRCS),targets/mrxsmb/negotiate.c,$(MRXSMB_FIX_SRC),$(1)),$(eval $(call tgt_cc,mrxsmb,$(1),$(s),-fPIC)))
$(eval $(call tgt_cc,mrxsmb,$(1),targets/mrxsmb/smbcli.c,-fPIE))
$(O)/targets/mrxsmb/$(1)/libmrxsmb.so: $$(MRXSMB_OBJS_$(1))
	$$(call msg,LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) -shared $$(TGT_LDFLAGS) -Wl,-soname,libmrxsmb.so \
		-Xlinker $(call tgt_pkgmeta,mrxsmb,$(1)) -o $$@ $$(MRXSMB_OBJS_$(1)) $$(TGT_LIBS)
$(O)/targets/mrxsmb/$(1)/smbcli: $(O)/obj/targets/mrxsmb/$(1)/targets/mrxsmb/smbcli.o $(O)/targets/mrxsmb/$(1)/libmrxsmb.so
	$$(call msg,LD,$$@)
	$$(Q)$$(CC) -pie $$(TGT_LDFLAGS) -Wl,--enable-new-dtags -Wl,-rpath,'$$$$ORIGIN:$$$$ORIGIN/../lib' \
		-Xlinker $(call tgt_pkgmeta,mrxsmb,$(1)) -o $$@ $$< -L$$(@D) -lmrxsmb -lpthread
ALL_TARGETS += $(O)/targets/mrxsmb/$(1)/libmrxsmb.so $(O)/targets/mrxsmb/$(1)/smbcli
endef

$(foreach v,$(SRV_VERSIONS),$(eval $(call srv_version,$(v))))
$(foreach v,$(MRXSMB_VERSIONS),$(eval $(call mrxsmb_version,$(v))))

$(O)/bin/srv: $(O)/targets/srv/$(SRV_DEFAULT)/srv
$(O)/bin/smbcli: $(O)/targets/mrxsmb/$(MRXSMB_DEFAULT)/smbcli
$(O)/lib/libmrxsmb.so: $(O)/targets/mrxsmb/$(MRXSMB_DEFAULT)/libmrxsmb.so
$(O)/bin/srv $(O)/bin/smbcli $(O)/lib/libmrxsmb.so:
	$(call msg,CP,$@)
	@mkdir -p $(@D)
	$(Q)cp -p $< $@.tmp && mv -f $@.tmp $@

# The versions, for the scripts and tests that pick builds.
$(O)/targets/versions.sh: targets/targets.mk
	@mkdir -p $(@D)
	$(Q)printf '%s\n' '# generated from targets/targets.mk' \
		"SRV_VERSIONS='$(SRV_VERSIONS)'" "SRV_ELIGIBLE='$(SRV_ELIGIBLE)'" \
		"MRXSMB_VERSIONS='$(MRXSMB_VERSIONS)'" "MRXSMB_ELIGIBLE='$(MRXSMB_ELIGIBLE)'" \
		"FIXED_VERSION='$(FIXED_VERSION)'" "SRV_DEFAULT='$(SRV_DEFAULT)'" \
		"MRXSMB_DEFAULT='$(MRXSMB_DEFAULT)'" >$@

TARGETS_OUT := $(O)/bin/srv $(O)/bin/smbcli $(O)/lib/libmrxsmb.so $(O)/targets/versions.sh
ALL_TARGETS += $(TARGETS_OUT)

# ---- unit tests: routines linked from their sources -------------------------
# The original and the corrected routines share their names, so the payload
# objects get theirs renamed (objcopy) to live beside the originals in one
# test program: the same code, under a second name.
TGT_UNIT := $(O)/obj/targets/unit
$(eval $(call tgt_cc,unit,$(SRV_DEFAULT),targets/common/wire.c,-fPIE))
$(eval $(call tgt_cc,unit,$(SRV_DEFAULT),targets/common/config.c,-fPIE))
$(eval $(call tgt_cc,unit,$(SRV_DEFAULT),targets/srv/negotiate.c,-fPIE -Itargets/srv))
$(eval $(call tgt_cc,unit,$(SRV_DEFAULT),targets/srv/signing.c,-fPIE -Itargets/srv))
$(eval $(call tgt_cc,unit,$(SRV_DEFAULT),$(SRV_FIX_SRC),-fPIE -Itargets/srv))
$(eval $(call tgt_cc,unit,$(SRV_DEFAULT),targets/mrxsmb/negotiate.c,-fPIE -Itargets/mrxsmb))
$(eval $(call tgt_cc,unit,$(SRV_DEFAULT),targets/mrxsmb/signing.c,-fPIE -Itargets/mrxsmb))
$(eval $(call tgt_cc,unit,$(SRV_DEFAULT),$(MRXSMB_FIX_SRC),-fPIE -Itargets/mrxsmb))
TGT_U := $(TGT_UNIT)/$(SRV_DEFAULT)

$(TGT_U)/fixed_srv_negotiate.o: $(TGT_U)/$(SRV_FIX_SRC:.c=.o)
	$(call msg,OBJCOPY,$@)
	$(Q)objcopy --redefine-sym srv_negotiate_signing=srv_negotiate_signing_fixed $< $@
$(TGT_U)/fixed_mrxsmb_negotiate.o: $(TGT_U)/$(MRXSMB_FIX_SRC:.c=.o)
	$(call msg,OBJCOPY,$@)
	$(Q)objcopy --redefine-sym mrx_negotiate_flags2=mrx_negotiate_flags2_fixed \
		--redefine-sym mrx_negotiate_signing=mrx_negotiate_signing_fixed $< $@

TGT_TEST_INC := -Itargets/common -Itargets/srv -Itargets/mrxsmb
TEST_OBJS_test_smb_wire := $(TGT_U)/targets/common/wire.o
TEST_OBJS_test_smb_config := $(TGT_U)/targets/common/config.o
TEST_OBJS_test_smb_negotiate := $(TGT_U)/targets/srv/negotiate.o $(TGT_U)/targets/srv/signing.o \
	$(TGT_U)/fixed_srv_negotiate.o $(TGT_U)/targets/mrxsmb/negotiate.o \
	$(TGT_U)/targets/mrxsmb/signing.o $(TGT_U)/fixed_mrxsmb_negotiate.o \
	$(TGT_U)/targets/common/config.o
# build.mk reads TEST_OBJS_* for the prerequisites before this fragment is
# included, so name them here too (the link takes every .o prerequisite).
$(O)/tests/test_smb_wire: $(TEST_OBJS_test_smb_wire)
$(O)/tests/test_smb_config: $(TEST_OBJS_test_smb_config)
$(O)/tests/test_smb_negotiate: $(TEST_OBJS_test_smb_negotiate)
$(O)/obj/tests/unit/test_smb_wire.o $(O)/obj/tests/unit/test_smb_config.o \
$(O)/obj/tests/unit/test_smb_negotiate.o: TEST_CPPFLAGS := $(TGT_TEST_INC) $(TEST_CPPFLAGS)

CHECK_DEPS += $(filter $(O)/targets/% $(O)/bin/srv $(O)/bin/smbcli $(O)/lib/libmrxsmb.%,$(ALL_TARGETS))

# ---- matrix, demo, bench ----------------------------------------------------
PATCH ?= full
matrix: $(TARGETS_OUT) $(filter $(O)/targets/%,$(ALL_TARGETS))
	$(Q)tests/matrix/run-matrix.sh --build $(O) --patch $(PATCH) --expect targets/kb916846-matrix.tsv

demo: $(TARGETS_OUT) $(filter $(O)/targets/%,$(ALL_TARGETS))
	$(Q)targets/demo.sh $(O)

bench: $(TARGETS_OUT)
	$(Q)tests/bench/smbcli-load.sh $(O)

# ---- e2e tests that speak the wire protocol themselves ----------------------
TEST_OBJS_test_targets_flood := $(TGT_U)/targets/common/wire.o
$(O)/tests/test_targets_flood: $(TEST_OBJS_test_targets_flood)
$(O)/obj/tests/e2e/test_targets_flood.o: TEST_CPPFLAGS := $(TGT_TEST_INC) $(TEST_CPPFLAGS)
