# hotpatch: top-level entry points.
#
# Each target first makes sure the Debian packages it needs are installed
# (mk/deps.sh says what it installs), then hands over to mk/build.mk, which
# does the real work out of tree under $(O) (default: build/). Splitting it
# this way lets build.mk ask pkg-config for flags at parse time, after the
# packages are there.
#
#   make            build everything
#   make check      build and run every test, then all of them again built
#                   with CHECK_SANITIZE (address,undefined) in $(O)/san;
#                   CHECK_SANITIZE= runs them once, SANITIZE=... once sanitized
#   make demo       the KB916846 story, end to end
#   make matrix     the 36 cells of the interoperability matrix, as TSV
#   make package    the signed KB916846 package in build/packages/
#   make bench      the benchmarks under tests/bench/ (never part of check)
#   make fuzz       each libFuzzer target of tests/fuzz/ for FUZZ_SECONDS (60)
#   make install    PREFIX=/usr/local DESTDIR= honoured
#   V=1             show full commands

MAKEFLAGS += --no-print-directory
BUILD := $(MAKE) -f mk/build.mk

.PHONY: all check demo matrix package bench install fuzz clean
all:
	@mk/deps.sh build
	@$(BUILD) all
check:
	@mk/deps.sh check
	@$(BUILD) check
demo:
	@mk/deps.sh demo
	@$(BUILD) demo
matrix package bench install:
	@mk/deps.sh check
	@$(BUILD) $@
fuzz:
	@mk/deps.sh fuzz
	@$(BUILD) fuzz
clean:
	rm -rf $(or $(O),build)
