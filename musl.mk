# musl.mk - a fully static musl binary, for routers and small appliances.
# Included by the Makefile after SRCS and HDRS (test/test.mk includes it
# too; a guard makes the second include a no-op); also usable as
#   make -f Makefile -f musl.mk musl
#
#   make musl               ./spf-milter.musl (stripped: the size printed)
#   make musl-variants      ./spf-milter.musl-pool and ./spf-milter.musl-thread
#   make musl-clean         removes the musl objects, keeps the downloads
#
# Debian's libmilter.a is built against glibc (fortified calls such as
# __syslog_chk) and cannot be linked with musl, so libmilter and udns are
# compiled here from Debian's source packages, fetched once into
# $(MUSL_DIR) by contrib/musl/fetch-sources.sh with private apt options.
# Debian's libinih.a links with musl as it is.
#
# MUSL_POOL=0 (default) builds libmilter with a thread per connection,
# upstream's model: every session waits only for its own DNS lookups, so
# a burst of sessions with slow DNS is answered within 2 x dns_timeout.
# MUSL_POOL=1 builds it as Debian does, with _FFR_WORKERS_POOL, whose
# pool queues sessions behind blocked callbacks under such a burst
# (libmilter.mk, bench/README).  `make musl-variants` builds both.
#
# `make test-musl` (test/test.mk) runs the tests against spf-milter.musl:
# the test scripts take the binary from SPF_MILTER=./spf-milter.musl.
#
# Needs: musl-tools, dpkg-dev (for Debian's patches), libinih-dev, and the
# kernel headers of linux-libc-dev (libmilter's sm_os.h includes
# <linux/version.h>; musl-gcc sees only musl's include directory, so the
# linux/, asm/ and asm-generic/ directories are linked into one of ours).

ifndef MUSL_MK_INCLUDED
MUSL_MK_INCLUDED := 1
# Wherever this is included, it does not become the default goal.
MUSL_SAVED_GOAL := $(.DEFAULT_GOAL)

MUSL_CC    ?= musl-gcc
MUSL_DIR   ?= build/musl
MUSL_POOL  ?= 0
MUSL_CFLAGS ?= -O2
MUSL_SRCS  ?= $(SRCS)
MUSL_HDRS  ?= $(HDRS)
MUSL_STRIP ?= strip

MUSL_MULTIARCH := $(shell gcc -dumpmachine 2>/dev/null)
MUSL_INIH_A    := $(shell gcc -print-file-name=libinih.a 2>/dev/null)

MUSL_SM    = $(MUSL_DIR)/sendmail
MUSL_UDNS  = $(MUSL_DIR)/udns
MUSL_INC   = $(MUSL_DIR)/include
MUSL_KINC  = $(MUSL_DIR)/kernel-headers
MUSL_OBJ   = $(MUSL_DIR)/obj

# libmilter as sendmail's own build compiles it (libmilter/Makefile.m4),
# plus what sendmail's configure would have found on Linux: the lists of
# libmilter.mk, which a package that bundles libmilter builds from.
MUSL_MILTER_SRCS = $(LIBMILTER_SRCS)
MUSL_LIBSM_SRCS  = $(LIBMILTER_LIBSM_SRCS)
MUSL_MILTER_DEFS = $(LIBMILTER_DEFS) $(LIBMILTER_DEFS_IPV6_1)
MUSL_POOL_DEFS_1 = $(LIBMILTER_DEFS_POOL_1)
MUSL_POOL_DEFS_0 =

# udns's library sources (its Makefile.in SRCS) and what its configure
# finds on Linux with --enable-ipv6, as Debian builds it.
MUSL_UDNS_SRCS = udns_dn udns_dntosp udns_parse udns_resolver udns_init \
	udns_misc udns_XtoX udns_rr_a udns_rr_ptr udns_rr_mx udns_rr_txt \
	udns_bl udns_rr_srv udns_rr_naptr udns_codes udns_jran
MUSL_UDNS_DEFS = -DHAVE_IPv6 -DHAVE_POLL -DHAVE_INET_PTON_NTOP

MUSL_OBJS = $(addprefix $(MUSL_OBJ)/,$(MUSL_SRCS:.c=.o))

.PHONY: musl musl-variants musl-clean musl-fetch

musl: spf-milter.musl
	@cp $< $(MUSL_DIR)/spf-milter.musl.stripped
	@$(MUSL_STRIP) $(MUSL_DIR)/spf-milter.musl.stripped
	@echo "musl: spf-milter.musl, static; stripped" \
		"$$(wc -c < $(MUSL_DIR)/spf-milter.musl.stripped) bytes" \
		"(_FFR_WORKERS_POOL=$(MUSL_POOL))"

musl-variants: spf-milter.musl-pool spf-milter.musl-thread

musl-fetch: $(MUSL_DIR)/sources.stamp

musl-clean:
	rm -rf $(MUSL_OBJ) $(MUSL_DIR)/pool0 $(MUSL_DIR)/pool1 $(MUSL_DIR)/udns-obj \
		$(MUSL_DIR)/cmocka-obj $(MUSL_DIR)/tests \
		$(MUSL_INC) $(MUSL_KINC) $(MUSL_DIR)/headers.stamp \
		$(MUSL_DIR)/spf-milter.musl.stripped
	rm -f spf-milter.musl spf-milter.musl-pool spf-milter.musl-thread
	rm -f bench/noop-milter.musl-thread bench/noop-milter.musl-pool

$(MUSL_DIR)/sources.stamp: contrib/musl/fetch-sources.sh
	sh contrib/musl/fetch-sources.sh $(MUSL_DIR)
	@touch $@

# Headers our sources include, without the rest of /usr/include (glibc's).
$(MUSL_DIR)/headers.stamp: $(MUSL_DIR)/sources.stamp
	rm -rf $(MUSL_INC) $(MUSL_KINC)
	mkdir -p $(MUSL_INC)/libmilter $(MUSL_KINC)
	cp $(MUSL_SM)/include/libmilter/mfapi.h $(MUSL_SM)/include/libmilter/mfdef.h \
		$(MUSL_INC)/libmilter/
	cp $(MUSL_UDNS)/udns.h $(MUSL_INC)/
	cp /usr/include/ini.h $(MUSL_INC)/
	ln -s /usr/include/linux $(MUSL_KINC)/linux
	ln -s /usr/include/asm-generic $(MUSL_KINC)/asm-generic
	if [ -d /usr/include/$(MUSL_MULTIARCH)/asm ]; then \
		ln -s /usr/include/$(MUSL_MULTIARCH)/asm $(MUSL_KINC)/asm; \
	else \
		ln -s /usr/include/asm $(MUSL_KINC)/asm; \
	fi
	# sendmail's build links the OS header as sm_os.h; sys/cdefs.h is
	# glibc's, musl has none.
	sed 's/^#define[[:space:]]*SM_CONF_SYS_CDEFS_H[[:space:]]*1/#define SM_CONF_SYS_CDEFS_H 0/' \
		$(MUSL_SM)/include/sm/os/sm_os_linux.h > $(MUSL_INC)/sm_os.h
	@touch $@

MUSL_MILTER_CFLAGS = $(MUSL_CFLAGS) -w $(MUSL_MILTER_DEFS) -I$(MUSL_INC) \
	-I$(MUSL_SM)/include -I$(MUSL_SM)/sendmail -isystem $(MUSL_KINC)

# $(MUSL_DIR)/pool1/libmilter.a or pool0/: the objects differ only in the
# worker pool define.
$(MUSL_DIR)/pool%/libmilter.a: $(MUSL_DIR)/headers.stamp milter-threads.c \
		milter-threads.h
	rm -rf $(@D) && mkdir -p $(@D)
	for f in $(MUSL_MILTER_SRCS); do \
		$(MUSL_CC) $(MUSL_MILTER_CFLAGS) $(MUSL_POOL_DEFS_$*) \
			-c -o $(@D)/$$f.o $(MUSL_SM)/libmilter/$$f.c || exit 1; \
	done
	for f in $(MUSL_LIBSM_SRCS); do \
		$(MUSL_CC) $(MUSL_MILTER_CFLAGS) \
			-c -o $(@D)/$$f.o $(MUSL_SM)/libsm/$$f.c || exit 1; \
	done
	$(MUSL_CC) $(CPPFLAGS) $(WARN) $(MUSL_CFLAGS) -c -o $(@D)/milter-threads.o \
		milter-threads.c
	ar rcs $@ $(@D)/*.o

$(MUSL_DIR)/udns-obj/libudns.a: $(MUSL_DIR)/headers.stamp
	rm -rf $(@D) && mkdir -p $(@D)
	for f in $(MUSL_UDNS_SRCS); do \
		$(MUSL_CC) $(MUSL_CFLAGS) -w $(MUSL_UDNS_DEFS) \
			-c -o $(@D)/$$f.o $(MUSL_UDNS)/$$f.c || exit 1; \
	done
	ar rcs $@ $(@D)/*.o

# SPF_LIBMILTER_POLL: the libmilter built here waits with poll().
$(MUSL_OBJ)/%.o: %.c $(MUSL_HDRS) $(MUSL_DIR)/headers.stamp
	@mkdir -p $(@D)
	$(MUSL_CC) $(CPPFLAGS) -DSPF_LIBMILTER_POLL=1 $(WARN) $(MUSL_CFLAGS) -I. -I$(MUSL_INC) \
		-isystem $(MUSL_KINC) -c -o $@ $<

# $1 target, $2 pool setting
define musl_link
$(1): $$(MUSL_OBJS) $$(MUSL_DIR)/pool$(2)/libmilter.a $$(MUSL_DIR)/udns-obj/libudns.a
	@test -f "$$(MUSL_INIH_A)" || { echo "musl: libinih.a not found (libinih-dev)" >&2; exit 1; }
	$$(MUSL_CC) -static $$(LDFLAGS) -o $$@ $$(MUSL_OBJS) \
		$$(MUSL_DIR)/pool$(2)/libmilter.a $$(MUSL_DIR)/udns-obj/libudns.a \
		$$(MUSL_INIH_A) -lpthread
endef

# The no-op milter of bench/ with either libmilter, for bench/burst.sh.
# $1 target, $2 pool setting
define musl_noop
$(1): bench/noop-milter.c $$(MUSL_DIR)/pool$(2)/libmilter.a
	$$(MUSL_CC) -static $$(LDFLAGS) $$(WARN) $$(MUSL_CFLAGS) -I$$(MUSL_INC) \
		-isystem $$(MUSL_KINC) -o $$@ bench/noop-milter.c \
		$$(MUSL_DIR)/pool$(2)/libmilter.a -lpthread
endef

$(eval $(call musl_noop,bench/noop-milter.musl-thread,0))
$(eval $(call musl_noop,bench/noop-milter.musl-pool,1))

$(eval $(call musl_link,spf-milter.musl,$(MUSL_POOL)))
$(eval $(call musl_link,spf-milter.musl-pool,1))
$(eval $(call musl_link,spf-milter.musl-thread,0))

.DEFAULT_GOAL := $(MUSL_SAVED_GOAL)

endif # MUSL_MK_INCLUDED
