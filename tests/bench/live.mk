# make bench: live patching against the real KB916846 code.
#   live_call   ns per call of srv_negotiate_signing live-patched, against the
#               same corrected routine built in as in the fixed full build
#               (tests/bench/live_call.c)
#   live_load   smbcli load --clients 32 on srv: failed requests and worst
#               latency during hotpatch apply, against a restart of srv
#               (tests/bench/live_load.sh)
LIVE_CALL := $(O)/bench/live_call
LIVE_CALL_OBJS := $(O)/obj/tests/bench/live_call.o $(TGT_U)/targets/srv/negotiate.o \
	$(TGT_U)/targets/srv/signing.o $(TGT_U)/fixed_srv_negotiate.o $(TGT_U)/targets/common/config.o
$(O)/obj/tests/bench/live_call.o: tests/bench/live_call.c
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HP_CPPFLAGS) $(TGT_TEST_INC) $(CPPFLAGS) $(HP_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<
$(LIVE_CALL): $(LIVE_CALL_OBJS) $(LIBHOTPATCH)
	$(call msg,LD,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HP_LDFLAGS) $(LDFLAGS) -o $@ $(LIVE_CALL_OBJS) $(LIBHOTPATCH) $(PKG_LIBS) $(LDLIBS)

.PHONY: bench-live-call bench-live-load
bench: bench-live-call bench-live-load
bench-live-call: $(LIVE_CALL) $(PAYLOAD_KB916846)/srv.o
	$(Q)$(LIVE_CALL) $(PAYLOAD_KB916846)/srv.o 11 2000000
bench-live-load: $(KB916846_SIG) $(ALL_TARGETS)
	$(Q)tests/bench/live_load.sh $(O)
