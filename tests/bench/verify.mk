# make bench: the dry run's wall time and the package's size next to
# bsdiff/xdelta3 full-build deltas (tests/bench/verify.sh).
.PHONY: bench-verify
bench-verify: $(KB916846_SIG) $(ALL_TARGETS)
	$(Q)tests/bench/verify.sh $(O)
bench: bench-verify
