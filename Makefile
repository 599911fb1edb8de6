# spf-milter - an SPF (RFC 7208) milter for Postfix and Sendmail.
#
#   make            one static binary, ./spf-milter
#   make run        build, then run the milter in the foreground with the
#                   sample config (installs missing build dependencies)
#   make test       build and run every test (installs missing dependencies)
#   make sanitize   the tests again with ASan+UBSan
#   make install    DESTDIR, PREFIX, SYSCONFDIR, MANDIR honoured

PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
CONFFILE   ?= $(SYSCONFDIR)/spf-milter.conf
VERSION     = 0.1.0

CC        ?= cc
CFLAGS    ?= -O2 -g
WARN       = -Wall -Wextra -Wformat=2 -Wshadow -Wpointer-arith -Wstrict-prototypes
CPPFLAGS  += -D_GNU_SOURCE -DSPF_MILTER_VERSION='"$(VERSION)"' -DSPF_MILTER_CONF='"$(CONFFILE)"'
STATIC    ?= -static
LIBS       = -lmilter -ludns -linih -lpthread
PYTHON     = /usr/bin/python3

SRCS = spf.c dns.c conf.c header.c spf-milter.c
OBJS = $(SRCS:.c=.o)
HDRS = spf.h dns.h conf.h header.h

.PHONY: all run test sanitize clean install deps check-deps fuzz
all: spf-milter

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
	rm -rf test/out san

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
