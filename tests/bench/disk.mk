# make bench: the cold patch, per file (tests/bench/disk_apply.c): median time
# to build the patched ELF in memory, to apply it on disk (backup, journal,
# atomic replace with fsyncs) and to roll it back.
DISK_BENCH := $(O)/bench/disk_apply
$(DISK_BENCH): $(O)/obj/tests/bench/disk_apply.o $(LIBHOTPATCH)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HP_LDFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBHOTPATCH) $(PKG_LIBS) $(LDLIBS)

.PHONY: bench-disk
bench: bench-disk
bench-disk: $(DISK_BENCH) $(KB916846_SIG) $(ALL_TARGETS)
	$(Q)$(DISK_BENCH) $(O) 21
