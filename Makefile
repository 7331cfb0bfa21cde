# Convenience targets. Everything here is also a plain cargo command.
#
#   make                      release build of the ten tools and the local server
#   make install              installs them (binaries, man pages, bash/zsh/fish completions)
#   make uninstall            removes exactly the files install put
#
# Variables (on the command line: make install PREFIX=/usr DESTDIR=/tmp/pkg):
#   PREFIX          where to install (default /usr/local)
#   DESTDIR         a staging folder put in front of PREFIX, for packaging
#   PROGRAM_PREFIX  put before every installed name (mly- installs mly-upload,
#                   mly-upload.1, the completions of mly-upload, ...)
#   PROFILE         the cargo profile to build and install (default release;
#                   debug installs the development build)
#   BUILD           no: install what is already built, without running cargo
#   BUILT           the folder holding the built binaries (default: cargo's
#                   target folder for PROFILE, CARGO_TARGET_DIR honoured)

PREFIX ?= /usr/local
DESTDIR ?=
PROGRAM_PREFIX ?=
PROFILE ?= release
BUILD ?= yes
CARGO ?= cargo

# The tools (binary crates under tools/) and the local server.
TOOLS := $(notdir $(wildcard tools/*))
PROGRAMS := $(TOOLS) mapillary-local-server

# cargo's target folder (CARGO_TARGET_DIR and cargo's configuration
# honoured); asked once, and only when a target needs it.
TARGET_DIR ?= $(eval TARGET_DIR := $(or $(shell $(CARGO) metadata --no-deps --format-version 1 2>/dev/null \
	| sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p'),target))$(TARGET_DIR)
PROFILE_FLAG = $(if $(filter release,$(PROFILE)),--release,$(if $(filter debug dev,$(PROFILE)),,--profile $(PROFILE)))
PROFILE_DIR = $(if $(filter debug dev,$(PROFILE)),debug,$(PROFILE))
BUILT ?= $(TARGET_DIR)/$(PROFILE_DIR)

bindir = $(DESTDIR)$(PREFIX)/bin
man1dir = $(DESTDIR)$(PREFIX)/share/man/man1
bashdir = $(DESTDIR)$(PREFIX)/share/bash-completion/completions
zshdir = $(DESTDIR)$(PREFIX)/share/zsh/site-functions
fishdir = $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d

.PHONY: all build test demo man install uninstall check-program-prefix

all: build

# One cargo build for all eleven binaries (the release profile uses LTO:
# building them one at a time would link the library eleven times).
build:
	$(CARGO) build $(PROFILE_FLAG) --locked --bins $(addprefix -p ,$(PROGRAMS))

test:
	$(CARGO) test --workspace

demo:
	./scripts/demo

# Regenerates the man pages from the same definitions as --help.
man:
	$(CARGO) build --locked --bins $(addprefix -p ,$(PROGRAMS))
	for t in $(PROGRAMS); do $(TARGET_DIR)/debug/$$t --generate-man > docs/man/$$t.1 || exit 1; done

# The installed name must be usable as a file name, a shell function name
# and a sed replacement.
check-program-prefix:
	@case '$(PROGRAM_PREFIX)' in *[!A-Za-z0-9._-]*) \
		echo "PROGRAM_PREFIX may hold only letters, digits, '.', '_' and '-'" >&2; exit 2;; esac

# The completion scripts name the command they complete: with a
# PROGRAM_PREFIX, the lines that name it (the header, the bash function and
# its registration, zsh's #compdef, fish's complete -c) are rewritten to the
# installed name (the header still says which binary generated it), and
# install checks that the script then registers the installed name.
# $$t is the tool, $$n the installed name, $$f and $$nf their bash functions.
RENAME = sed -e "s/^\(\# [a-z]* completion for \)$$t; /\1$$n; /" \
	-e "s/^$$f() {\$$/$$nf() {/" \
	-e "s/^complete -F $$f $$t\$$/complete -F $$nf $$n/" \
	-e "s/^\#compdef $$t\$$/\#compdef $$n/" \
	-e "s/^complete -c $$t /complete -c $$n /"

# Everything is checked and generated first, so that a failure installs
# nothing.
install: check-program-prefix $(if $(filter no,$(BUILD)),,build)
	@set -e; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	for t in $(PROGRAMS); do \
		[ -x "$(BUILT)/$$t" ] || { echo "$(BUILT)/$$t is not built (run make, or set BUILT=)" >&2; exit 1; }; \
		[ -f "docs/man/$$t.1" ] || { echo "docs/man/$$t.1 is missing (run make man)" >&2; exit 1; }; \
		n="$(PROGRAM_PREFIX)$$t"; \
		f="_$$(echo "$$t" | tr - _)"; nf="_$$(echo "$$n" | tr - _)"; \
		for sh in bash zsh fish; do \
			"$(BUILT)/$$t" --generate-completions $$sh > "$$tmp/raw" \
				|| { echo "$$t --generate-completions $$sh failed" >&2; exit 1; }; \
			$(RENAME) "$$tmp/raw" > "$$tmp/$$n.$$sh"; \
		done; \
		grep -qx "complete -F $$nf $$n" "$$tmp/$$n.bash" \
			&& grep -qx "#compdef $$n" "$$tmp/$$n.zsh" \
			&& grep -q "^complete -c $$n " "$$tmp/$$n.fish" \
			|| { echo "the completions of $$t could not be renamed to $$n" >&2; exit 1; }; \
	done; \
	install -d "$(bindir)" "$(man1dir)" "$(bashdir)" "$(zshdir)" "$(fishdir)"; \
	for t in $(PROGRAMS); do \
		n="$(PROGRAM_PREFIX)$$t"; \
		install -m 755 "$(BUILT)/$$t" "$(bindir)/$$n"; \
		install -m 644 "docs/man/$$t.1" "$(man1dir)/$$n.1"; \
		install -m 644 "$$tmp/$$n.bash" "$(bashdir)/$$n"; \
		install -m 644 "$$tmp/$$n.zsh" "$(zshdir)/_$$n"; \
		install -m 644 "$$tmp/$$n.fish" "$(fishdir)/$$n.fish"; \
	done; \
	echo "installed $(words $(PROGRAMS)) programs$(if $(PROGRAM_PREFIX), named $(PROGRAM_PREFIX)*,) with their man pages and completions under $(DESTDIR)$(PREFIX)"

# Removes the files install put (the same names, so give the same PREFIX,
# DESTDIR and PROGRAM_PREFIX); folders are left, as other packages share them.
uninstall: check-program-prefix
	@for t in $(PROGRAMS); do \
		n="$(PROGRAM_PREFIX)$$t"; \
		rm -f "$(bindir)/$$n" "$(man1dir)/$$n.1" "$(bashdir)/$$n" "$(zshdir)/_$$n" "$(fishdir)/$$n.fish"; \
	done
