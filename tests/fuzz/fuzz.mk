# libFuzzer targets for every parser that sees untrusted bytes (issue 9).
#
#   make fuzz [FUZZ_SECONDS=N] [FUZZ_JOBS=J]   each target for N s (default 60),
#                                              J at a time (default 2)
#   make check                                 each for FUZZ_CHECK_SECONDS (10),
#                                              in the plain run only
#
# One source per target, tests/fuzz/fuzz_NAME.c; each is built with clang
# -fsanitize=fuzzer,address,undefined against the library (and the targets'
# wire and config code) compiled the same way into $(O)/fuzz/obj, apart
# from the normal libhotpatch.a. Seeds are in tests/fuzz/corpus/NAME/ and
# are only read; what a run discovers goes to $(O)/fuzz/corpus/NAME/, and a
# crashing input to $(O)/fuzz/artifacts/ (add it to the seeds once fixed).

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 10
FUZZ_JOBS ?= 2
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS := $(FUZZ_NAMES:%=$(O)/fuzz/bin/fuzz_%)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CPPFLAGS := $(HP_CPPFLAGS) -Itargets/common -Itests/fuzz
# clang (unlike gcc) flags vfprintf in the default print callback, whose
# format comes through hp_print_fn_t and is checked where pr_warn is called.
FUZZ_CFLAGS := -std=gnu11 -O1 -g $(WARN) -Wno-format-nonliteral $(PREFIX_MAP) $(FUZZ_SAN) \
	       -fsanitize=fuzzer-no-link

# The library and the targets' shared code, instrumented.
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(O)/fuzz/obj/%.o)
FUZZ_TGT_OBJS := $(O)/fuzz/obj/targets/common/wire.o $(O)/fuzz/obj/targets/common/config.o
FUZZ_LIB := $(O)/fuzz/libhotpatch-fuzz.a

$(O)/fuzz/obj/%.o: %.c
	$(call msg,FUZZCC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

.PRECIOUS: $(O)/fuzz/obj/%.o

$(FUZZ_LIB): $(FUZZ_LIB_OBJS) $(FUZZ_TGT_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/fuzz/bin/fuzz_%: $(O)/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(call msg,FUZZLD,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB) $(PKG_LIBS) -lpthread

.PHONY: fuzz fuzz-build fuzz-check
fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	$(Q)tests/fuzz/run-fuzz.sh $(O) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_NAMES)

# Bounded, so a regression on the seeds (or one a few seconds of mutation
# finds) fails CI; never part of `make` alone.
fuzz-check: $(FUZZ_BINS)
	$(Q)FUZZ_SEED=1 tests/fuzz/run-fuzz.sh $(O) $(FUZZ_CHECK_SECONDS) $(FUZZ_JOBS) $(FUZZ_NAMES)

# The fuzz targets are always built with ASan and UBSan, so the sanitized
# run of make check (SANITIZE set) does not run them a second time.
ifeq ($(SANITIZE),)
CHECK_DEPS += fuzz-check
endif
