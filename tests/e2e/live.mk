# make matrix PATCH=live drives hotpatch with the signed package.
ifeq ($(PATCH),live)
matrix: $(HOTPATCH) $(KB916846_SIG)
endif

# mrxfork: maps the eligible libmrxsmb.so and forks on request
# (tests/e2e/test_live_all.c).
LIVE_MRXFORK := $(O)/tests/fixtures/live/mrxfork
LIVE_MRXLIB := $(O)/targets/mrxsmb/$(MRXSMB_DEFAULT)
$(LIVE_MRXFORK): tests/fixtures/live/mrxfork.c $(LIVE_MRXLIB)/libmrxsmb.so
	$(call msg,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -fPIE -pie $(WARN) $(PREFIX_MAP) -Itargets/mrxsmb -Itargets/common \
		-o $@ $< -L$(LIVE_MRXLIB) -lmrxsmb -Wl,-rpath,$(abspath $(LIVE_MRXLIB))
CHECK_DEPS += $(LIVE_MRXFORK)
