# make bench: the restart scanner over every process of the machine
# (tests/bench/restart_scan.c): median time of hp_restart__scan for a path
# nobody maps and for the C library, against parsing every maps file.
RESTART_BENCH := $(O)/bench/restart_scan
$(RESTART_BENCH): $(O)/obj/tests/bench/restart_scan.o $(LIBHOTPATCH)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HP_LDFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIBHOTPATCH) $(PKG_LIBS) $(LDLIBS)

.PHONY: bench-restart
bench: bench-restart
bench-restart: $(RESTART_BENCH)
	$(Q)$(RESTART_BENCH) 21
