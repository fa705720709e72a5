# hotpatch: the real build, called by the top-level Makefile once the Debian
# packages are installed. Everything goes under $(O). Each part of the tree
# adds its own rules in a fragment (patcher/patcher.mk, targets/targets.mk,
# payloads/payloads.mk, tests/tests.mk, ...), included below; this file holds
# what they share: flags, the library, the CLI, the test runner.

O ?= build
V ?= 0
PREFIX ?= /usr/local
DESTDIR ?=
SANITIZE ?=

ifeq ($(V),1)
Q :=
else
Q := @
endif
# $(call msg,TAG,what) prints a one-line progress message unless V=1.
msg = $(if $(Q),@printf '  %-7s %s\n' '$(1)' '$(2)';)

CC ?= cc
CFLAGS ?= -O2 -g
PKGS := libelf capstone zlib libsodium jansson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS := $(shell pkg-config --libs $(PKGS))
CUNIT_CFLAGS := $(shell pkg-config --cflags cunit)
CUNIT_LIBS := $(shell pkg-config --libs cunit)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes
ifeq ($(CI),true)
WARN += -Werror
endif
# Hardening, as a distribution builds: fortify, stack protector, PIE, full RELRO.
HARDEN_CFLAGS := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
HARDEN_LDFLAGS := -pie -Wl,-z,relro,-z,now
ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif
# Paths of this checkout never end up in what is built.
PREFIX_MAP := -ffile-prefix-map=$(CURDIR)/=

# Flags the build needs, kept apart from the user's CFLAGS/LDFLAGS.
HOTPATCH_VERSION := 0.1.0
HP_CPPFLAGS := -D_GNU_SOURCE -DHOTPATCH_VERSION=\"$(HOTPATCH_VERSION)\" -Ipatcher/include -Ipatcher/lib $(PKG_CFLAGS)
HP_CFLAGS := -std=gnu11 $(WARN) $(HARDEN_CFLAGS) $(PREFIX_MAP) $(SAN_FLAGS)
HP_LDFLAGS := $(HARDEN_LDFLAGS) $(SAN_FLAGS)

.PHONY: all check demo matrix package bench install
.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:

# ---- libhotpatch and the hotpatch CLI ---------------------------------------
LIB_SRCS := $(sort $(wildcard patcher/lib/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
CLI_SRCS := $(sort $(wildcard patcher/cli/*.c))
CLI_OBJS := $(CLI_SRCS:%.c=$(O)/obj/%.o)
LIBHOTPATCH := $(O)/lib/libhotpatch.a
HOTPATCH := $(O)/bin/hotpatch

$(O)/obj/patcher/%.o: patcher/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HP_CPPFLAGS) $(CPPFLAGS) $(HP_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBHOTPATCH): $(LIB_OBJS)
	$(call msg,AR,$@)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(HOTPATCH): $(CLI_OBJS) $(LIBHOTPATCH)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HP_LDFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(LIBHOTPATCH) $(PKG_LIBS) $(LDLIBS)

ALL_TARGETS += $(HOTPATCH)

# ---- tests ------------------------------------------------------------------
# Each tests/unit/test_NAME.c and tests/e2e/test_NAME.c is its own CUnit
# program, $(O)/tests/test_NAME, linked with the shared harness and support
# code. A fragment may add objects or libraries to one test through
# TEST_OBJS_test_NAME and TEST_LIBS_test_NAME, things that must be built
# before the tests run to CHECK_DEPS, and further runs of some programs in
# another environment to CHECK_RUNS ("--as LABEL VAR=VALUE... PROGRAM...",
# see tests/run-tests.sh).
TEST_SRCS := $(sort $(wildcard tests/unit/test_*.c tests/e2e/test_*.c))
TEST_BINS := $(foreach s,$(TEST_SRCS),$(O)/tests/$(basename $(notdir $(s))))
SUPPORT_SRCS := $(sort $(wildcard tests/support/*.c))
SUPPORT_OBJS := $(SUPPORT_SRCS:%.c=$(O)/obj/%.o)
TEST_CPPFLAGS := $(HP_CPPFLAGS) -Itests/support $(CUNIT_CFLAGS)

$(O)/obj/tests/%.o: tests/%.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TEST_CPPFLAGS) $(CPPFLAGS) $(HP_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

define test_rule
$(O)/tests/$(basename $(notdir $(1))): $(O)/obj/$(1:.c=.o) $(SUPPORT_OBJS) $$(TEST_OBJS_$(basename $(notdir $(1)))) $(LIBHOTPATCH)
	$$(call msg,LD,$$@)
	@mkdir -p $$(@D)
	$$(Q)$$(CC) $$(HP_LDFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $$(TEST_LIBS_$(basename $(notdir $(1)))) $(LIBHOTPATCH) $$(PKG_LIBS) $$(CUNIT_LIBS) -lpthread $$(LDLIBS)
endef

# ---- the parts of the tree --------------------------------------------------
include $(sort $(wildcard patcher/*.mk targets/*.mk payloads/*.mk manifests/*.mk tests/*.mk tests/*/*.mk docs/*.mk))

# After the fragments, so that their TEST_OBJS_*/TEST_LIBS_* are known.
$(foreach s,$(TEST_SRCS),$(eval $(call test_rule,$(s))))

all: $(ALL_TARGETS)

# `make check` runs the suite twice: once as built, then once more with
# every C file of the tree (library, CLI, targets, tests) built again under
# CHECK_SANITIZE in $(O)/san, so CI catches what only ASan or UBSan sees.
# The last line adds both runs up and names each. CHECK_SANITIZE= skips the
# second run; `make check SANITIZE=...` runs the suite once, sanitized.
# check-tests is one run of the suite in $(O).
CHECK_SANITIZE ?= address,undefined
.PHONY: check-tests
check-tests: all $(TEST_BINS) $(CHECK_DEPS)
	$(Q)tests/run-tests.sh $(O) $(TEST_BINS) $(CHECK_RUNS)

ifneq ($(SANITIZE)$(if $(CHECK_SANITIZE),,none),)
check: check-tests
else
check: all $(TEST_BINS) $(CHECK_DEPS)
	$(Q)rm -f $(O)/tests/summary $(O)/san/tests/summary; \
	rc=0; tests/run-tests.sh $(O) $(TEST_BINS) $(CHECK_RUNS) || rc=1; \
	echo "== the suite again, built with SANITIZE=$(CHECK_SANITIZE) in $(O)/san"; \
	$(MAKE) -f mk/build.mk O=$(O)/san SANITIZE=$(CHECK_SANITIZE) check-tests || rc=1; \
	tests/run-tests.sh --sum "plain" $(O) "SANITIZE=$(CHECK_SANITIZE)" $(O)/san; \
	exit $$rc
endif

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
