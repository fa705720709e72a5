# make matrix PATCH=disk cold-patches copies of the eligible builds with the
# signed package (tests/matrix/run-matrix.sh, prepare_disk); PATCH=replace
# lets the package's fixed full builds replace copies of the builds that are
# not eligible (prepare_replace).
ifneq ($(filter disk replace,$(PATCH)),)
matrix: $(HOTPATCH) $(KB916846_SIG)
endif
