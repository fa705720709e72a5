# make matrix PATCH=disk cold-patches copies of the eligible builds with the
# signed package (tests/matrix/run-matrix.sh, prepare_disk).
ifeq ($(PATCH),disk)
matrix: $(HOTPATCH) $(KB916846_SIG)
endif
