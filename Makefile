# spf-milter - an SPF (RFC 7208) milter for Postfix and Sendmail.
#
#   make            one static binary, ./spf-milter
#   make run        build, then run the milter in the foreground with the
#                   sample config (installs missing build dependencies)
#   make check      the tests a distribution's build can run (no root, no
#                   network, nothing installed; test/test.mk)
#   make test       build and run every test (installs missing dependencies)
#   make sanitize   the tests again with ASan+UBSan
#   make install    DESTDIR, PREFIX, SYSCONFDIR, MANDIR honoured
#   make dist       the release tarball spf-milter-VERSION.tar.gz
#   make deb        a Debian package from that tarball (contrib/debian/)

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
CONFFILE   ?= $(SYSCONFDIR)/spf-milter.conf
# The one place of the version: NEWS, the man pages and the packaging
# recipes under contrib/ repeat it, and test-dist fails when one differs.
VERSION     = 0.1.0

CC        ?= cc
# CFLAGS replaces this default (the warnings below always stay);
# CPPFLAGS and LDFLAGS, from the command line or the environment, are
# added to the project's own flags.
CFLAGS    ?= -O2 -g
WARN       = -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes
# The project's defines come first and cannot be dropped by
# `make CPPFLAGS=...` (override); a copy of them that comes back from a
# parent make through the environment is filtered out, not doubled.
SPF_CPPFLAGS = -D_GNU_SOURCE -DSPF_MILTER_VERSION='"$(VERSION)"' -DSPF_MILTER_CONF='"$(CONFFILE)"'
override CPPFLAGS := $(SPF_CPPFLAGS) $(filter-out -D_GNU_SOURCE -DSPF_MILTER_VERSION=% -DSPF_MILTER_CONF=%,$(CPPFLAGS))
# -static: one self-contained binary.  Distributions link against their
# shared libraries with `make STATIC=`.
STATIC    ?= -static
LIBS       = $(MILTER_LIB) -ludns -linih -lpthread
PYTHON     = /usr/bin/python3

SRCS = spf.c dns.c conf.c header.c spf-milter.c
OBJS = $(SRCS:.c=.o)
HDRS = spf.h dns.h conf.h header.h milter-threads.h
# the make files a build reads (copies of the tree need them all)
MAKE_FILES = Makefile musl.mk libmilter.mk test/test.mk

.PHONY: all run test sanitize clean install deps check-deps fuzz
all: spf-milter

# MILTER_SRC=DIR: libmilter from a sendmail source tree (OpenWrt).
include libmilter.mk

%.o: %.c $(HDRS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

spf-milter: $(OBJS)
	$(CC) $(STATIC) $(LDFLAGS) -o $@ $(OBJS) $(LIBS)

# Missing Debian packages are installed (and named) by test/deps.sh.
deps:
	@sh test/deps.sh build
check-deps:
	@sh test/deps.sh test

run: deps
	$(MAKE) spf-milter
	./spf-milter -c spf-milter.conf -l stderr -L debug

include test/test.mk

# Keeps build/musl (the downloaded sources); rm -rf build drops them.
clean:
	rm -f spf-milter spf-milter.musl* *.o test/*.o $(TEST_BINS) test/fuzz_spf
	rm -f $(BENCH_BINS)
	rm -rf test/out san $(MILTER_OBJ) $(DEB_DIR)
	rm -f $(DIST_NAME).tar.gz spf-milter_*.deb

install: spf-milter
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)
	install -m 755 spf-milter $(DESTDIR)$(SBINDIR)/spf-milter
	install -m 644 spf-milter.conf.5 $(DESTDIR)$(MANDIR)/man5/spf-milter.conf.5
	install -m 644 spf-milter.8 $(DESTDIR)$(MANDIR)/man8/spf-milter.8
	@if [ -e $(DESTDIR)$(CONFFILE) ]; then \
		echo "keeping existing $(DESTDIR)$(CONFFILE)"; \
	else \
		install -m 644 spf-milter.conf $(DESTDIR)$(CONFFILE); \
	fi

# ---- release -------------------------------------------------------------
# make dist: spf-milter-$(VERSION).tar.gz from the commit checked out, as
# git archive writes it (the committed files, in git's sorted order, the
# commit's time as mtime, owner 0, modes 644/755) and gzip -n: the same
# commit gives the same bytes.  It holds what the build and `make check`
# need (CHECK_FILES and CHECK_UNITS in test/test.mk), the documentation
# and contrib/, which the OpenWrt and Alpine recipes install from; not
# the rest of test/ and bench/, .ci/, or contrib/debian/ (`make deb`
# copies that in).  Uncommitted changes are not in it.
DIST_NAME  = spf-milter-$(VERSION)
DIST_FILES = $(MAKE_FILES) README NEWS LICENSE spf-milter.conf \
	spf-milter.8 spf-milter.conf.5 $(SRCS) $(HDRS) milter-threads.c \
	$(CHECK_UNITS:%=test/%.c) $(CHECK_FILES)
DIST_DIRS  = contrib test/conf
# left out of DIST_DIRS: the Debian packaging and the maintainers' tools
DIST_SKIP  = -e '^contrib/debian/' -e '^contrib/check-scripts.sh$$' \
	-e '^contrib/musl/measure.sh$$'

.PHONY: dist deb
dist:
	@git rev-parse --verify -q HEAD >/dev/null || \
		{ echo "make dist: needs a git checkout" >&2; exit 1; }
	@files=$$( { printf '%s\n' $(DIST_FILES); \
		git ls-tree -r --name-only HEAD -- $(DIST_DIRS) | \
		grep -v $(DIST_SKIP); } | LC_ALL=C sort -u) && \
	{ git diff --quiet HEAD -- $$files || \
		echo "make dist: uncommitted changes left out (the tarball is HEAD's)"; } && \
	tmp=$(DIST_NAME).tar.$$$$ && trap 'rm -f $$tmp $$tmp.gz' EXIT && \
	git -c tar.umask=0022 archive --format=tar --prefix=$(DIST_NAME)/ \
		-o $$tmp HEAD -- $$files && \
	gzip -n -9 < $$tmp > $$tmp.gz && rm -f $$tmp && \
	mv $$tmp.gz $(DIST_NAME).tar.gz && \
	echo "make dist: $(DIST_NAME).tar.gz, $$(printf '%s\n' $$files | wc -l) files," \
		"$$(wc -c < $(DIST_NAME).tar.gz) bytes, from $$(git rev-parse --short HEAD)" && \
	echo "  sha256 (OpenWrt PKG_HASH): $$(sha256sum < $(DIST_NAME).tar.gz | cut -d' ' -f1)" && \
	echo "  sha512 (APKBUILD sha512sums): $$(sha512sum < $(DIST_NAME).tar.gz | cut -d' ' -f1)"

# make deb: the release tarball (make dist) unpacked under build/deb,
# with contrib/debian/ of the working tree copied in as debian/, built by
# dpkg-buildpackage -us -uc; the .deb files land in this directory.
# Needs dpkg-dev, debhelper and the Build-Depends of contrib/debian/control.
# DEB_BUILD_FLAGS: more options for dpkg-buildpackage (e.g. -b).  This
# make's own command-line variables are kept out of the package build.
# libmilter is compiled in, a thread per connection (Debian's runs a
# worker pool: libmilter.mk), from sendmail's release tarball as Debian
# ships it (the one musl-fetch downloads): the source package's second
# component, spf-milter_VERSION.orig-sendmail.tar.gz, unpacked as sendmail/.
DEB_DIR = build/deb
deb: dist $(MUSL_DIR)/sources.stamp
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	cp $(DIST_NAME).tar.gz $(DEB_DIR)/spf-milter_$(VERSION).orig.tar.gz
	tar -xzf $(DIST_NAME).tar.gz -C $(DEB_DIR)
	sm=$$(ls $(MUSL_DIR)/dl/sendmail_*.orig.tar.gz | tail -n 1) && \
	cp "$$sm" $(DEB_DIR)/spf-milter_$(VERSION).orig-sendmail.tar.gz && \
	mkdir $(DEB_DIR)/$(DIST_NAME)/sendmail && \
	tar -xzf "$$sm" -C $(DEB_DIR)/$(DIST_NAME)/sendmail --strip-components=1
	cp -R contrib/debian $(DEB_DIR)/$(DIST_NAME)/debian
	cd $(DEB_DIR)/$(DIST_NAME) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		dpkg-buildpackage -us -uc $(DEB_BUILD_FLAGS)
	cp $(DEB_DIR)/spf-milter_*.deb .
	@ls -l spf-milter_*.deb
