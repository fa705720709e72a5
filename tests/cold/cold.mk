# make check runs the targets' own suites a second time, on cold-patched
# components: tests/cold/stage.sh installs copies of the default srv, smbcli
# and libmrxsmb.so below $(COLD_STAGE)/root, cold-patches them with
# `hotpatch apply --disk --root` and checks the result; then
# tests/run-tests.sh runs COLD_TESTS with HP_TARGET_ROOT set to that root,
# each reported as its own entry ("test_targets_flood [cold]"). The suites
# find the components through ts_target() (tests/support/targets.c) and
# expect what the rule of the matrix says for what they find.

COLD_STAGE := $(O)/tests/cold
COLD_TESTS := test_targets_flood test_targets_smbcli test_targets_identity

$(COLD_STAGE)/ready: tests/cold/stage.sh $(O)/bin/srv $(O)/bin/smbcli $(O)/lib/libmrxsmb.so \
		$(HOTPATCH) $(KB916846_SIG) $(VENDOR_PUB)
	$(call msg,STAGE,$(COLD_STAGE))
	$(Q)tests/cold/stage.sh $(O) $(COLD_STAGE)

CHECK_DEPS += $(COLD_STAGE)/ready
CHECK_RUNS += --as cold HP_TARGET_ROOT=$(abspath $(COLD_STAGE)/root) \
	$(addprefix $(O)/tests/,$(COLD_TESTS))
