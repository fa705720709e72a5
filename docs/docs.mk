# docs/: the man page and bash completion, and `make install`; also what
# `make demo` needs besides the targets (the CLI and the signed package).
#
#   make install [PREFIX=/usr/local] [DESTDIR=]
#     $(DESTDIR)$(PREFIX)/bin/hotpatch
#     $(DESTDIR)$(PREFIX)/share/man/man1/hotpatch.1
#     $(DESTDIR)$(PREFIX)/share/bash-completion/completions/hotpatch

demo: $(HOTPATCH) $(O)/packages/KB916846/manifest.json.minisig

MAN1DIR := $(DESTDIR)$(PREFIX)/share/man/man1
COMPLETIONDIR := $(DESTDIR)$(PREFIX)/share/bash-completion/completions

install: $(HOTPATCH) docs/hotpatch.1 docs/hotpatch.bash-completion
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin $(MAN1DIR) $(COMPLETIONDIR)
	$(Q)install -m 0755 $(HOTPATCH) $(DESTDIR)$(PREFIX)/bin/hotpatch
	$(Q)install -m 0644 docs/hotpatch.1 $(MAN1DIR)/hotpatch.1
	$(Q)install -m 0644 docs/hotpatch.bash-completion $(COMPLETIONDIR)/hotpatch
