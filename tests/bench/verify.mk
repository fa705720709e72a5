# make bench: the dry run's wall time and the package's size next to
# bsdiff/xdelta3 full-build deltas (tests/bench/verify.sh).
.PHONY: bench-verify
bench-verify: $(KB916846_SIG) $(ALL_TARGETS)
	$(Q)tests/bench/verify.sh $(O)
bench: bench-verify

# make bench: the package's size with the fixed full builds carried whole
# against carried as deltas (tests/bench/full_builds.sh).
.PHONY: bench-full-builds
bench-full-builds: $(KB916846_SIG) $(ALL_TARGETS)
	$(Q)tests/bench/full_builds.sh $(O)
bench: bench-full-builds
