# docs/: the man page and bash completion, and `make install`; also what
# `make demo` needs besides the targets (the CLI and the signed package).
#
#   make install [PREFIX=/usr/local] [DESTDIR=]
#     $(DESTDIR)$(PREFIX)/bin/hotpatch
#     $(DESTDIR)$(PREFIX)/share/man/man1/hotpatch.1
#     $(DESTDIR)$(PREFIX)/share/bash-completion/completions/hotpatch

demo: $(HOTPATCH) $(O)/packages/KB916846/manifest.json.minisig
