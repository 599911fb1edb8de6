# Test targets, included by the Makefile.
#
#   make check   what a distribution's build runs: the compiler and the
#                build dependencies (with libcmocka-dev) are enough; no
#                root, no network beyond loopback, nothing installed
#   make test    everything: make check first, then every group of
#                $(TESTS) (it installs what it misses with apt)
#
# Each section belongs to one part of the product; keep them apart.

# test/cmocka_filter.c lets FILTER= (below) choose the tests of a cmocka
# program; every cmocka program links CMOCKA_LIBS.
CMOCKA_LIBS = test/cmocka_filter.c -Wl,--wrap=_cmocka_run_group_tests -lcmocka
TEST_BINS   =
TESTS       =
CHECK_UNITS =
CHECKS      =
CHECK_BINS  =
CHECK_FILES =

test: check-deps
	$(MAKE) musl-fetch
	$(MAKE) check
	$(MAKE) spf-milter
	$(MAKE) $(TESTS)
	@echo "make test: all test groups passed"

# ---- make check --------------------------------------------------------
# (section: structure)
#   make check                          every check, in the order below
#   make check TEST=test_spf            one check (or TEST="config query")
#   make check TEST=test_spf FILTER='*macro*'   cmocka's filter (* and ?)
# A cmocka program test/NAME.c, built by a rule of its section, joins
# with CHECK_UNITS += NAME; any other check with CHECKS += NAME and a
# rule check-NAME (CHECK_BINS += what it runs, so `make check` builds it
# up front with the other binaries, in parallel under -j).  A check that
# misses something optional (Python modules, the RFC 7208 suite file,
# loopback) prints "SKIPPED: NAME: why" and passes: test/check-need.sh
# says so.  The files a check reads besides test/NAME.c go into
# CHECK_FILES: `make dist` ships them, and test-dist proves the tarball
# passes make check.
.PHONY: check check-build
check:
	@$(if $(TEST),:,$(MAKE) --no-print-directory check-build)
	@MAKE="$(MAKE)" sh test/run-check.sh $(or $(TEST),$(CHECK_UNITS) $(CHECKS))

check-build:
	$(MAKE) spf-milter $(CHECK_UNITS:%=test/%) $(CHECK_BINS)

# The cmocka programs: check-NAME runs test/NAME.
check-%: test/%
	CMOCKA_TEST_FILTER='$(FILTER)' ./test/$*

CHECK_NEED = PYTHON=$(PYTHON) sh test/check-need.sh
CHECK_UNITS += test_spf test_conf test_header test_threads
CHECKS      += config query suite_mem test_dns suite_dns
CHECK_BINS  += test/conftool bench/dnsd test/suite_mem test/test_dns
CHECK_FILES += test/test.mk test/lib.sh test/run-check.sh test/check-need.sh \
	test/cmocka_filter.c $(MEMRES) test/conftool.c test/run-conf-tests.sh \
	test/run-query-tests.sh bench/dnsd.c test/suite_mem.c \
	test/suite2txt.py test/dnsserver.py test/test_dns.c test/run-dns-tests.sh \
	test/suite-dns.sh test/suite_dns.py test/dnsproc.py

# the configuration corpus (test/conf/) through conftool and -t
check-config: spf-milter test/conftool
	sh test/run-conf-tests.sh

# -q against bench/dnsd, a C DNS server on loopback; and -V
check-query: spf-milter bench/dnsd
	VERSION=$(VERSION) sh test/run-query-tests.sh

# the RFC 7208 suite in process: where Debian's python3-spf put it
check-suite_mem: test/suite_mem
	@if $(CHECK_NEED) suite_mem file:$(SUITE_YML) python:yaml; then \
		$(MAKE) -s --no-print-directory test/out/suite.txt && \
		./test/suite_mem test/out/suite.txt; \
	fi

# dns.c against test/dnsserver.py (Python with dnslib)
check-test_dns: test/test_dns
	@if $(CHECK_NEED) test_dns python:dnslib loopback; then \
		TEST=./test/test_dns PYTHON=$(PYTHON) sh test/run-dns-tests.sh; \
	fi

# the suite through -q over UDP
check-suite_dns: spf-milter
	@if $(CHECK_NEED) suite_dns file:$(SUITE_YML) python:yaml python:dnslib \
	    loopback; then \
		PYTHON=$(PYTHON) sh test/suite-dns.sh udp; \
	fi

# ---- evaluator: unit tests and the RFC 7208 suite in process ----------
# (section: spf)
SUITE_YML = /usr/share/doc/python3-spf/rfc7208-tests.yml.gz
TEST_BINS += test/suite_mem test/test_spf
TESTS     += test-spf test-suite-mem
MEMRES     = test/memres.c test/memres.h

test/out/suite.txt: test/suite2txt.py
	@mkdir -p test/out
	$(PYTHON) test/suite2txt.py $(SUITE_YML) > $@.tmp && mv $@.tmp $@

test/suite_mem: test/suite_mem.c $(MEMRES) spf.c spf.h
	$(CC) $(CPPFLAGS) -I. $(WARN) $(CFLAGS) -o $@ test/suite_mem.c test/memres.c spf.c

# test_spf.c includes spf.c itself, to reach its static functions.
test/test_spf: test/test_spf.c $(MEMRES) spf.c spf.h
	$(CC) $(CPPFLAGS) -I. $(WARN) $(CFLAGS) -o $@ test/test_spf.c test/memres.c $(CMOCKA_LIBS)

test-spf: test/test_spf
	./test/test_spf

# (a) of the suite: in process, results and explanations.
test-suite-mem: test/suite_mem test/out/suite.txt
	./test/suite_mem test/out/suite.txt

# ---- evaluator against the references, and its limits over DNS -------
# (section: spf, issue 10)
# test-limits-dns: the record sets of issue 10 (in-flight and pool
# limits, CNAME hops, macro lengths, domain-end syntax, void lookups)
# through ./spf-milter -q over UDP and with every answer over TCP.
# test-diff: the differential test (test/diff/README) against pyspf and
# Mail::SPF, a bounded seeded sample; diff-long: the long run, not part
# of `make test` (DIFF_SEED, DIFF_COUNT, DIFF_FIRST).
DIFF_SEED  ?= 1
DIFF_COUNT ?= 3000
DIFF_FIRST ?= 0
.PHONY: test-limits-dns test-diff diff-long
test-limits-dns: spf-milter
	$(PYTHON) test/limits_dns.py

test-diff: spf-milter
	$(PYTHON) test/diff/difftest.py --seed 1 --count 120 --batch 120

diff-long: spf-milter
	$(PYTHON) test/diff/difftest.py --seed $(DIFF_SEED) \
		--first $(DIFF_FIRST) --count $(DIFF_COUNT) --batch 150 --show 2

TESTS += test-limits-dns test-diff

# ---- resolver: dns.c unit tests, suite through -q over UDP and TCP ----
# (section: dns)
# test-dns: dns.c's unit tests, against test/dnsserver.py (plain, truncating
# at 512 bytes, delaying 100 ms), started and stopped by run-dns-tests.sh.
# test-suite-dns: the RFC 7208 suite through ./spf-milter -q over UDP, with
# answers over 512 bytes truncated, and with every answer over TCP.
test/test_dns: test/test_dns.c dns.o spf.o dns.h spf.h
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ test/test_dns.c dns.o spf.o \
	    $(CMOCKA_LIBS) -ludns -lpthread

test-dns: test/test_dns
	PYTHON=$(PYTHON) sh test/run-dns-tests.sh

test-suite-dns: spf-milter
	PYTHON=$(PYTHON) sh test/suite-dns.sh udp
	PYTHON=$(PYTHON) sh test/suite-dns.sh tcp512
	PYTHON=$(PYTHON) sh test/suite-dns.sh tcpall

# fuzz-dns: the reply parser under libFuzzer for FUZZ_SECONDS (finds go to
# test/out/fuzz-dns, not into the repository).
test/fuzz_dns: test/fuzz_dns.c dns.c dns.h spf.c spf.h
	clang -g -O1 $(CPPFLAGS) -I. -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ test/fuzz_dns.c dns.c spf.c \
		-ludns -lpthread

fuzz-dns: test/fuzz_dns
	@mkdir -p test/out/fuzz-dns
	./test/fuzz_dns -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-print_final_stats=1 test/out/fuzz-dns

.PHONY: test-dns test-suite-dns fuzz-dns
TESTS     += test-dns test-suite-dns fuzz-dns
TEST_BINS += test/test_dns test/fuzz_dns

# ---- configuration: conf.c unit tests, config corpus, man pages -------
# (section: conf)
# conf.c with the evaluator for its result names; the real binary is
# covered by `spf-milter -t` below.
CONF_TEST_SRCS = conf.c spf.c

test/test_conf: test/test_conf.c $(CONF_TEST_SRCS) conf.h spf.h
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ test/test_conf.c $(CONF_TEST_SRCS) -linih $(CMOCKA_LIBS)

test/conftool: test/conftool.c $(CONF_TEST_SRCS) conf.h spf.h
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ test/conftool.c $(CONF_TEST_SRCS) -linih

.PHONY: test-conf-unit test-conf test-man
test-conf-unit: test/test_conf
	test/test_conf

# the corpus under test/conf/ through conftool and `spf-milter -t`
test-conf: test/conftool
	sh test/run-conf-tests.sh

# the man pages: lint, and every parameter documented with its default
test-man: test/conftool
	sh test/run-man-tests.sh

TESTS     += test-conf-unit test-conf test-man
TEST_BINS += test/test_conf test/conftool

# ---- milter: miltertest scripts and Postfix end to end ----------------
# (section: milter)
# The milter under miltertest (test/milter/*.lua, each with its own config,
# against test/dnsserver.py), and end to end behind a private Postfix.
.PHONY: test-header test-threads test-threads-tsan test-milter \
	test-milter-valgrind test-milter-asan test-postfix test-consumers \
	test-sendmail
# header.c on its own (spf.c for spf_buf and the result names).
test/test_header: test/test_header.c header.c spf.c header.h spf.h
	$(CC) $(CPPFLAGS) -I. $(WARN) $(CFLAGS) -o $@ test/test_header.c header.c spf.c $(CMOCKA_LIBS)

test-header: test/test_header
	./test/test_header

# milter-threads.c, the thread cache libmilter runs its sessions on; and
# the same under ThreadSanitizer.
test/test_threads: test/test_threads.c milter-threads.c milter-threads.h
	$(CC) $(CPPFLAGS) -I. $(WARN) $(CFLAGS) -o $@ test/test_threads.c milter-threads.c $(CMOCKA_LIBS) -lpthread

test-threads: test/test_threads
	./test/test_threads

test/test_threads-tsan: test/test_threads.c milter-threads.c milter-threads.h
	$(CC) $(CPPFLAGS) -I. $(WARN) -O1 -g -fsanitize=thread -o $@ test/test_threads.c milter-threads.c $(CMOCKA_LIBS) -lpthread

test-threads-tsan: test/test_threads-tsan
	TSAN_OPTIONS=halt_on_error=1 ./test/test_threads-tsan

# bench/mload adds the stress step: 16 connections during SIGUSR1 storms
# (left out where bench/ is not there, as in the copy `make sanitize` uses).
MLOAD_IF = $$([ -x bench/mload ] && echo bench/mload)
test-milter: spf-milter
	@if [ -f bench/mload.c ]; then $(MAKE) bench/mload; fi
	MLOAD=$(MLOAD_IF) PYTHON=$(PYTHON) sh test/run-milter-tests.sh

# valgrind cannot watch malloc in a static binary: a dynamic build for it.
test/spf-milter-dyn: $(SRCS) $(HDRS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $(SRCS) $(LIBS)

MILTER_VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite
test-milter-valgrind: test/spf-milter-dyn
	SPF_MILTER=test/spf-milter-dyn MILTER_WRAPPER="$(MILTER_VALGRIND)" \
		PYTHON=$(PYTHON) sh test/run-milter-tests.sh

# The same under ASan+UBSan (LeakSanitizer included): any report makes the
# milter exit non-zero, which fails its script.
MILTER_SAN = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
test/spf-milter-asan: $(SRCS) $(HDRS)
	$(CC) $(CPPFLAGS) $(WARN) $(MILTER_SAN) -o $@ $(SRCS) $(LIBS)

test-milter-asan: test/spf-milter-asan
	@if [ -f bench/mload.c ]; then $(MAKE) bench/mload; fi
	SPF_MILTER=test/spf-milter-asan ASAN_OPTIONS=detect_leaks=1 MLOAD=$(MLOAD_IF) \
		PYTHON=$(PYTHON) sh test/run-milter-tests.sh

# Exit 77: not root, skipped (Postfix's master needs root).
test-postfix: spf-milter
	PYTHON=$(PYTHON) sh test/run-postfix-test.sh || [ $$? -eq 77 ]

# test-socket: one instance per unix socket; stale and foreign files at
# the socket path.
.PHONY: test-socket
test-socket: spf-milter
	PYTHON=$(PYTHON) sh test/run-socket-tests.sh

# The readers of our fields for real: OpenDKIM and OpenDMARC in the
# documented milter chain, SpamAssassin on what was delivered, for every
# use case of spf-milter.conf(5), in namespaces of its own (exit 77: not
# root, skipped).
test-consumers: spf-milter
	PYTHON=$(PYTHON) sh test/run-consumers-test.sh || [ $$? -eq 77 ]

# Sendmail (fetched once into build/sendmail, never installed): replies,
# header order, forged fields, the DMARC chain spf-milter(8) lists for it.
test-sendmail: spf-milter
	PYTHON=$(PYTHON) sh test/run-sendmail-test.sh || [ $$? -eq 77 ]

TESTS     += test-header test-threads-tsan test-milter test-milter-valgrind \
	test-milter-asan test-postfix test-socket test-consumers \
	test-sendmail
TEST_BINS += test/spf-milter-dyn test/spf-milter-asan test/test_header \
	test/test_threads test/test_threads-tsan

# ---- cross builds under qemu-user, fuzzing, sanitizers ----------------
# (section: portability)
.PHONY: test-cross fuzz sanitize test-install
FUZZ_SECONDS ?= 20

# s390x is big-endian, armhf 32-bit: the evaluator must not care.
test-cross: test/out/suite.txt
	SRCS="$(SRCS)" sh test/cross.sh s390x test/out/suite.txt
	SRCS="$(SRCS)" sh test/cross.sh armhf test/out/suite.txt

test/fuzz_spf: test/fuzz_spf.c $(MEMRES) spf.c spf.h
	clang -g -O1 $(CPPFLAGS) -I. -Itest -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -o $@ test/fuzz_spf.c test/memres.c

# A bounded run from the seeds in test/fuzz-corpus (new finds go to
# test/out/fuzz, not into the repository).
fuzz: test/fuzz_spf
	@mkdir -p test/out/fuzz
	./test/fuzz_spf -max_total_time=$(FUZZ_SECONDS) -max_len=2048 \
		-print_final_stats=1 test/out/fuzz test/fuzz-corpus

# The tests again, built with ASan+UBSan (LeakSanitizer included) in a
# copy of the tree under san/, dynamically linked (ASan needs it).
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
SAN_TESTS ?= test-spf test-suite-mem test-dns test-suite-dns test-conf-unit test-conf \
	test-header test-threads test-milter
sanitize:
	rm -rf san && mkdir -p san
	cp -R $(MAKE_FILES) *.c *.h spf-milter.conf* spf-milter.8 test contrib san/
	rm -rf san/test/out
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(MAKE) -C san STATIC= CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" \
		spf-milter $(SAN_TESTS)

# make install into a scratch DESTDIR: every file where PREFIX says, and an
# existing configuration kept as it was.
test-install: spf-milter
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	$(MAKE) -s install DESTDIR="$$d" PREFIX=/usr >/dev/null && \
	for f in usr/sbin/spf-milter usr/share/man/man5/spf-milter.conf.5 \
	    usr/share/man/man8/spf-milter.8 etc/spf-milter.conf; do \
		test -f "$$d/$$f" || { echo "test-install: $$f missing"; exit 1; }; \
	done && \
	echo "socket = unix:/run/mine.sock" > "$$d/etc/spf-milter.conf" && \
	$(MAKE) -s install DESTDIR="$$d" PREFIX=/usr >/dev/null && \
	grep -q mine.sock "$$d/etc/spf-milter.conf" && \
	echo "test-install: 5 passed, 0 failed"

TESTS     += test-cross fuzz sanitize test-install

# ---- packaging: init scripts ------------------------------------------
# (section: contrib)
# test-initscripts: every packaging script through sh -n, busybox sh -n
# and shellcheck, the systemd unit through systemd-analyze verify.
# test-busybox: contrib/busybox/spf-milter driven by Debian's busybox
# against ./spf-milter (start, reload, broken config, stop, status); the
# OpenRC and procd scripts' functions under busybox sh with stand-ins for
# openrc-run and procd.
# test-musl: `make musl`, then the unit tests built with musl, the RFC
# suite in process and through spf-milter.musl -q, the config corpus, the
# miltertest scripts and the busybox test against spf-milter.musl.  It
# needs musl-tools and fetches Debian's sendmail, udns and cmocka sources
# once into build/musl (musl.mk); without musl-gcc it is skipped, loudly.
include musl.mk

# The unit tests built with musl, in build/musl/tests.  cmocka comes from
# Debian's source too: Debian ships it built for glibc only.  The sources
# lists follow the sections above (MEMRES, CONF_TEST_SRCS).
MUSL_T = $(MUSL_DIR)/tests
MUSL_TEST_BINS = $(MUSL_T)/test_spf $(MUSL_T)/suite_mem $(MUSL_T)/test_conf \
	$(MUSL_T)/test_dns $(MUSL_T)/test_threads
MUSL_TEST_CC = $(MUSL_CC) -static $(CPPFLAGS) $(WARN) $(MUSL_CFLAGS) -I. \
	-I$(MUSL_INC) -I$(MUSL_DIR)/cmocka/include -isystem $(MUSL_KINC)

.PHONY: musl-tests
musl-tests: $(MUSL_TEST_BINS)
MUSL_MEMRES = $(filter %.c,$(MEMRES))

# After the first fetch: two apt-get runs on one lists directory collide.
$(MUSL_DIR)/cmocka.stamp: contrib/musl/fetch-sources.sh $(MUSL_DIR)/sources.stamp
	sh contrib/musl/fetch-sources.sh $(MUSL_DIR) cmocka
	@touch $@

$(MUSL_DIR)/cmocka-obj/libcmocka.a: $(MUSL_DIR)/cmocka.stamp contrib/musl/cmocka-config.h
	rm -rf $(@D) && mkdir -p $(@D)
	cp contrib/musl/cmocka-config.h $(@D)/config.h
	$(MUSL_CC) $(MUSL_CFLAGS) -w -DHAVE_CONFIG_H -I$(@D) \
		-I$(MUSL_DIR)/cmocka/include -c -o $(@D)/cmocka.o \
		$(MUSL_DIR)/cmocka/src/cmocka.c
	ar rcs $@ $(@D)/cmocka.o

MUSL_CMOCKA = $(MUSL_DIR)/cmocka-obj/libcmocka.a
MUSL_UDNS_A = $(MUSL_DIR)/udns-obj/libudns.a

# test_spf.c includes spf.c itself.
$(MUSL_T)/test_spf: test/test_spf.c $(MEMRES) spf.c $(MUSL_HDRS) $(MUSL_CMOCKA) $(MUSL_DIR)/headers.stamp
	@mkdir -p $(@D)
	$(MUSL_TEST_CC) -o $@ test/test_spf.c $(MUSL_MEMRES) $(MUSL_CMOCKA)

$(MUSL_T)/suite_mem: test/suite_mem.c $(MEMRES) spf.c $(MUSL_HDRS) $(MUSL_DIR)/headers.stamp
	@mkdir -p $(@D)
	$(MUSL_TEST_CC) -o $@ test/suite_mem.c $(MUSL_MEMRES) spf.c

$(MUSL_T)/test_conf: test/test_conf.c $(CONF_TEST_SRCS) $(MUSL_HDRS) $(MUSL_CMOCKA) $(MUSL_DIR)/headers.stamp
	@mkdir -p $(@D)
	$(MUSL_TEST_CC) -o $@ test/test_conf.c $(CONF_TEST_SRCS) \
		$(MUSL_INIH_A) $(MUSL_CMOCKA)

$(MUSL_T)/test_dns: test/test_dns.c dns.c spf.c $(MUSL_HDRS) $(MUSL_CMOCKA) $(MUSL_UDNS_A)
	@mkdir -p $(@D)
	$(MUSL_TEST_CC) -o $@ test/test_dns.c dns.c spf.c $(MUSL_CMOCKA) \
		$(MUSL_UDNS_A) -lpthread

$(MUSL_T)/test_threads: test/test_threads.c milter-threads.c $(MUSL_HDRS) $(MUSL_CMOCKA) $(MUSL_DIR)/headers.stamp
	@mkdir -p $(@D)
	$(MUSL_TEST_CC) -o $@ test/test_threads.c milter-threads.c $(MUSL_CMOCKA) -lpthread

.PHONY: test-initscripts test-busybox test-musl test-musl-skipped
test-initscripts:
	sh contrib/check-scripts.sh

test-busybox: spf-milter
	sh test/busybox/run-stub-tests.sh
	sh test/run-busybox-test.sh

test-musl: musl musl-tests test/out/suite.txt
	$(MUSL_T)/test_spf
	$(MUSL_T)/suite_mem test/out/suite.txt
	$(MUSL_T)/test_conf
	$(MUSL_T)/test_threads
	TEST=$(MUSL_T)/test_dns PYTHON=$(PYTHON) sh test/run-dns-tests.sh
	BINARY=./spf-milter.musl PYTHON=$(PYTHON) sh test/suite-dns.sh udp
	BINARY=./spf-milter.musl PYTHON=$(PYTHON) sh test/suite-dns.sh tcpall
	SPF_MILTER=./spf-milter.musl sh test/run-conf-tests.sh
	SPF_MILTER=./spf-milter.musl PYTHON=$(PYTHON) sh test/run-milter-tests.sh
	SPF_MILTER=./spf-milter.musl sh test/run-busybox-test.sh

test-musl-skipped:
	@echo "SKIPPED: test-musl: musl-gcc not found (apt-get install musl-tools)"

TESTS += test-initscripts test-busybox
ifneq ($(shell command -v $(MUSL_CC) 2>/dev/null),)
TESTS += test-musl
else
TESTS += test-musl-skipped
endif


# ---- threads and descriptors -------------------------------------------
# (section: limits)
# test-burst: the reply deadline under a burst, with a nameserver that
# never answers: 200 sessions at once, dns_timeout 2, every MAIL FROM
# reply within 5 s and every negotiation within 1 s; again with 1000
# idle sessions open.  libmilter's worker pool fails it (make test builds
# libmilter from the fetched source, a thread per connection:
# libmilter.mk).  test-fds: out of descriptors under prlimit: no busy
# loop, descriptors kept for the DNS lookups of the sessions admitted,
# the others refused, recovery, one log line per episode; out of threads
# (RLIMIT_NPROC): refused at once, the milter alive.  Both run
# against spf-milter.musl too where musl-gcc is.  The long version of
# test-burst is bench/burst.sh (`make bench-burst`).
.PHONY: test-burst test-fds test-limits-musl
test-burst: spf-milter bench/mload bench/dnsd
	sh test/run-burst-test.sh

test-fds: spf-milter bench/mload bench/dnsd
	sh test/run-fd-test.sh

test-limits-musl: musl bench/mload bench/dnsd
	SPF_MILTER=./spf-milter.musl sh test/run-burst-test.sh
	SPF_MILTER=./spf-milter.musl sh test/run-fd-test.sh

TESTS += test-burst test-fds
ifneq ($(shell command -v $(MUSL_CC) 2>/dev/null),)
TESTS += test-limits-musl
endif

# ---- bench: load generator, no-op milter, evaluator benchmark ----------
# Not a test (not in TESTS): `make bench` runs bench/run.sh, about four
# minutes, and prints the table of bench/README.
BENCH_BINS = bench/mload bench/noop-milter bench/spfbench bench/dnsd
BENCH_WRAP = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free

.PHONY: bench
bench:
	@sh test/deps.sh bench
	$(MAKE) spf-milter $(BENCH_BINS)
	sh bench/run.sh

bench/mload: bench/mload.c
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ bench/mload.c -lpthread

# The no-op milter with the libmilter spf-milter gets (libmilter.mk), so
# their ratio compares like with like.
bench/noop-milter: bench/noop-milter.c $(MILTER_DEP)
	$(CC) $(STATIC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ bench/noop-milter.c $(MILTER_LIB) -lpthread

# bench/burst.sh compares with libmilter's worker pool: spf-milter's
# objects and the no-op milter linked with Debian's libmilter, built with
# it (musl.mk has the musl pair).
BENCH_POOL_BINS = bench/spf-milter-pool bench/noop-milter-pool
BENCH_BINS += $(BENCH_POOL_BINS)
bench/spf-milter-pool: $(OBJS)
	$(CC) $(STATIC) $(LDFLAGS) -o $@ $(OBJS) -lmilter -ludns -linih -lpthread

bench/noop-milter-pool: bench/noop-milter.c
	$(CC) $(STATIC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ bench/noop-milter.c -lmilter -lpthread

# make bench-burst: bench/burst.sh, the threading models under a burst
# with a dead nameserver and what each costs, glibc and musl (about 12
# minutes, most of it waiting for the worker pool's late replies).
.PHONY: bench-burst
bench-burst:
	@sh test/deps.sh test
	$(MAKE) spf-milter bench/mload bench/dnsd bench/noop-milter $(BENCH_POOL_BINS)
	@if command -v $(MUSL_CC) >/dev/null; then \
		$(MAKE) spf-milter.musl-thread spf-milter.musl-pool \
			bench/noop-milter.musl-thread bench/noop-milter.musl-pool; \
	fi
	sh bench/burst.sh

bench/spfbench: bench/spfbench.c spf.c dns.c conf.c spf.h dns.h conf.h $(MEMRES)
	$(CC) $(CPPFLAGS) -I. -Itest $(WARN) $(CFLAGS) -o $@ bench/spfbench.c test/memres.c spf.c dns.c conf.c $(BENCH_WRAP) -ludns -linih -lpthread

bench/dnsd: bench/dnsd.c spf.h $(MEMRES)
	$(CC) $(CPPFLAGS) -I. -Itest $(WARN) $(CFLAGS) -o $@ bench/dnsd.c test/memres.c spf.c

# ---- release and packages ----------------------------------------------
# (section: packaging)
# test-flags: a packager's CPPFLAGS/CFLAGS/LDFLAGS add to the project's
# (-V and CONFFILE survive `make CPPFLAGS=-DX`), checked with make -n
# and one real build in a scratch copy.
.PHONY: test-flags test-dist
test-flags:
	sh test/run-flags-test.sh $(VERSION) $(MAKE_FILES) $(SRCS) $(HDRS)

# test-dist: the version's copies agree; `make dist` twice (a fresh
# clone, another umask and time zone) gives the same bytes; the tarball
# holds what it should; unpacked, `make check` passes, as root: as
# nobody inside `unshare -n`, in under a minute.  It tests HEAD, not
# uncommitted changes.
test-dist:
	sh test/run-dist-test.sh $(VERSION)

# test-openwrt: contrib/openwrt/Makefile run for real against stand-ins
# of OpenWrt's rules.mk and package.mk (test/openwrt/), the host's gcc
# as the target compiler: the release tarball and sendmail's source
# (Debian's, fetched once into build/musl by musl.mk) checked against
# their hashes, libmilter compiled in with NETINET6, the files installed
# with their modes; then an IPv6 client is served by that binary and
# lost by the same build without NETINET6 (OpenWrt's libmilter-sendmail).
.PHONY: test-openwrt
test-openwrt: $(MUSL_DIR)/sources.stamp bench/dnsd
	$(MAKE) -s dist
	sh test/run-openwrt-test.sh $(DIST_NAME).tar.gz \
		$$(ls $(MUSL_DIR)/dl/sendmail_*.orig.tar.gz | tail -n 1)

# test-alpine: the APKBUILD's build(), check() and package() run as
# abuild would, in the unpacked release tarball (Debian's libraries for
# Alpine's); the installed files and modes; the pre-install script.
.PHONY: test-alpine
test-alpine:
	$(MAKE) -s dist
	sh test/run-apkbuild-test.sh $(DIST_NAME).tar.gz

# test-deb: `make deb`, lintian, then the package installed on this
# machine with apt-get, its binary and config serving a miltertest
# session, removed and purged (nothing left: user, conffile, state).
# Root only; not in TESTS (it installs a package on the machine): CI
# runs it after make test (.ci/run).
.PHONY: test-deb
test-deb:
	sh test/deps.sh deb
	$(MAKE) deb
	sh test/run-deb-test.sh $$(ls spf-milter_$(VERSION)-*.deb | tail -n 1) \
		$$(ls $(DEB_DIR)/spf-milter_$(VERSION)-*.changes | tail -n 1)

# test-openrc: contrib/openrc/spf-milter.initd under Debian's real
# openrc-run and supervise-daemon (the .debs fetched once into
# build/openrc and unpacked into a private root, never installed), in
# pid and mount namespaces of its own: start, status, reload, a broken
# reload and restart refused, respawn after kill -9, stop.  Root only.
.PHONY: test-openrc
test-openrc: spf-milter
	sh test/run-openrc-test.sh

TESTS += test-flags test-dist test-openwrt test-alpine test-openrc
