# make matrix PATCH=live drives hotpatch with the signed package.
ifeq ($(PATCH),live)
matrix: $(HOTPATCH) $(KB916846_SIG)
endif
