# libmilter.mk - libmilter compiled from a sendmail source tree and
# linked into the milter, for systems whose own libmilter falls short.
# Included by the Makefile; musl.mk takes its lists of sources and
# defines from here, so `make musl` and a package that bundles libmilter
# build the same library.
#
#   make MILTER_SRC=DIR spf-milter    DIR: an unpacked sendmail source
#                                     (sendmail-8.x/, as released or as
#                                     Debian ships it)
#   MILTER_SRC      default: build/musl/sendmail when it is there (Debian's
#                   source, fetched by `make musl-fetch`, `make musl` or
#                   `make test`), else none: -lmilter.  MILTER_SRC= links
#                   the system's libmilter all the same.
#   MILTER_IPV6=1   (default) with NETINET6: IPv6 clients work
#   MILTER_POOL=0   (default) a thread per connection, upstream's default;
#                   1 is _FFR_WORKERS_POOL, as Debian builds it
#   MILTER_OBJ      where the objects go (build/libmilter)
#
# Why a thread per connection: with the worker pool, sessions that become
# ready at once are handed to one idle worker, and while it waits in one
# session's DNS lookups the others wait for it.  With a dead nameserver
# and dns_timeout 10, 500 sessions sending MAIL FROM at once got their
# replies after 80 s and more, or none within 120 s; with a thread per
# connection all within 20.1 s (2 x dns_timeout), negotiation within
# 0.1 s (bench/README).  Debian's libmilter is built with the pool: the
# milter warns at start when it finds it linked in (spf-milter(8)).
#
# The thread cache: libmilter's sources are compiled with pthread_create
# and pthread_detach renamed to milter-threads.c's functions, which goes
# into the same archive: a thread whose session ended waits (up to 32
# of them) to run the next session instead of ending, and a session
# that finds none waiting gets a new thread at once as before.  musl
# unmaps a thread's stack when it ends, so without the cache every
# connection paid for a new mapping and faulted in each stack page it
# touched: the cache raised the musl binary's throughput by about 45 %
# (bench/README).
#
# Why: OpenWrt's libmilter-sendmail is built without NETINET6.  When
# Postfix then reports a client with an IPv6 address, libmilter logs
# "connect[N]: unknown family 54" and aborts the session before the
# milter sees it, and Postfix applies milter_default_action to the
# message.  contrib/openwrt/Makefile therefore builds libmilter with
# this file; test-ipv6 shows the session failing without NETINET6 and
# served with it.
#
# The library is compiled as sendmail's libmilter/Makefile.m4 does (its
# sources and the two it takes from libsm), with what sendmail's own
# configuration would define on Linux; sm_os.h, which sendmail's Build
# links from include/sm/os/, is written here (without <sys/cdefs.h>,
# which musl lacks and glibc's headers include anyway).  CC and CFLAGS
# are the project's (a cross compiler's, in a package build).

MILTER_FETCHED = build/musl/sendmail
MILTER_SRC  ?= $(if $(wildcard $(MILTER_FETCHED)/libmilter/listener.c),$(MILTER_FETCHED))
MILTER_IPV6 ?= 1
MILTER_POOL ?= 0
MILTER_OBJ  ?= build/libmilter

LIBMILTER_SRCS = main engine listener worker handler comm smfi signal \
	sm_gethost monitor
LIBMILTER_LIBSM_SRCS = errstring strl
LIBMILTER_DEFS = -DNOT_SENDMAIL -Dsm_snprintf=snprintf -D_REENTRANT \
	-DNETINET -DNETUNIX -DSM_CONF_POLL=1 -DNEEDSGETIPNODE=1 \
	-DHAS_GETHOSTBYNAME2=1 -DSOCKADDR_LEN_T=socklen_t \
	-DSOCKOPT_LEN_T=socklen_t $(LIBMILTER_THREADS_DEFS)
# The sessions' threads come from milter-threads.c's cache, which goes
# into the same archive.
LIBMILTER_THREADS_DEFS = -Dpthread_create=thread_cache_create \
	-Dpthread_detach=thread_cache_detach
LIBMILTER_DEFS_IPV6_1 = -DNETINET6
LIBMILTER_DEFS_IPV6_0 =
LIBMILTER_DEFS_POOL_1 = -D_FFR_WORKERS_POOL=1
LIBMILTER_DEFS_POOL_0 =

# -lmilter unless a source tree is given; MILTER_DEP: the library as a
# prerequisite (none for the system's).
MILTER_LIB = -lmilter
MILTER_DEP =
ifneq ($(MILTER_SRC),)
MILTER_LIB = $(MILTER_OBJ)/libmilter.a
MILTER_DEP = $(MILTER_LIB)
# mfapi.h of the same source as the library; this libmilter waits with
# poll(), never select() (SM_CONF_POLL): spf-milter.c may then admit
# sessions on descriptors from FD_SETSIZE up
# (a copy that comes back from a parent make is not doubled)
MILTER_CPPFLAGS = -I$(MILTER_SRC)/include -DSPF_LIBMILTER_POLL=1
override CPPFLAGS := $(filter-out $(MILTER_CPPFLAGS),$(CPPFLAGS)) $(MILTER_CPPFLAGS)

MILTER_CFLAGS = $(CFLAGS) -w $(LIBMILTER_DEFS) \
	$(LIBMILTER_DEFS_IPV6_$(MILTER_IPV6)) $(LIBMILTER_DEFS_POOL_$(MILTER_POOL)) \
	-I$(MILTER_OBJ)/include -I$(MILTER_SRC)/include -I$(MILTER_SRC)/sendmail

# mfapi.h comes from this tree, not the system's; a change of the
# library's settings compiles spf-milter.o again.
spf-milter.o: $(MILTER_SRC)/include/libmilter/mfapi.h $(MILTER_OBJ)/defs
spf-milter: $(MILTER_LIB)

# A change of MILTER_IPV6 or MILTER_POOL rebuilds the library.
$(MILTER_OBJ)/defs: FORCE
	@mkdir -p $(@D)
	@echo '$(CC) $(MILTER_CFLAGS)' | cmp -s - $@ || echo '$(CC) $(MILTER_CFLAGS)' > $@

$(MILTER_OBJ)/include/sm_os.h: $(MILTER_SRC)/include/sm/os/sm_os_linux.h
	@mkdir -p $(@D)
	sed 's/^#define[[:space:]]*SM_CONF_SYS_CDEFS_H[[:space:]]*1/#define SM_CONF_SYS_CDEFS_H 0/' \
		$< > $@

$(MILTER_OBJ)/libmilter.a: $(MILTER_OBJ)/defs $(MILTER_OBJ)/include/sm_os.h \
		milter-threads.c milter-threads.h
	rm -f $@ $(MILTER_OBJ)/*.o
	for f in $(LIBMILTER_SRCS); do \
		$(CC) $(MILTER_CFLAGS) -c -o $(MILTER_OBJ)/$$f.o \
			$(MILTER_SRC)/libmilter/$$f.c || exit 1; \
	done
	for f in $(LIBMILTER_LIBSM_SRCS); do \
		$(CC) $(MILTER_CFLAGS) -c -o $(MILTER_OBJ)/$$f.o \
			$(MILTER_SRC)/libsm/$$f.c || exit 1; \
	done
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $(MILTER_OBJ)/milter-threads.o \
		milter-threads.c
	$(AR) rcs $@ $(MILTER_OBJ)/*.o

.PHONY: FORCE
FORCE:
endif
