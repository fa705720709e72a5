# make bench: `inspect --all-functions` of a large real binary, median wall
# time (tests/bench/inspect.sh). BENCH_INSPECT_FILE= picks another file.
.PHONY: bench-inspect
bench-inspect: $(HOTPATCH)
	$(Q)tests/bench/inspect.sh $(O) $(BENCH_INSPECT_FILE)
bench: bench-inspect
