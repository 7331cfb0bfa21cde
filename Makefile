# Convenience targets. Everything here is also a plain cargo command.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(DESTDIR)$(PREFIX)/bin
MANDIR = $(DESTDIR)$(PREFIX)/share/man/man1

# The tools (binary crates under tools/).
TOOLS := $(notdir $(wildcard tools/*))

.PHONY: all build test demo man bench install $(addprefix install-,$(TOOLS))

all: build

build:
	cargo build --release --bins

test:
	cargo test --workspace

demo:
	./scripts/demo

# Regenerates the man pages from the same definitions as --help.
man:
	cargo build --bins
	for t in $(TOOLS); do ./target/debug/$$t --generate-man > docs/man/$$t.1; done

install: $(addprefix install-,$(TOOLS))

$(addprefix install-,$(TOOLS)): install-%:
	cargo build --release --locked -p $*
	install -d $(BINDIR) $(MANDIR)
	install -m 755 target/release/$* $(BINDIR)/$*
	install -m 644 docs/man/$*.1 $(MANDIR)/$*.1
