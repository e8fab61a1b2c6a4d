# SPDX-License-Identifier: GPL-2.0
# gilstat: libgil (runtime/), gilwork (runtime/gilwork/), the BPF object (bpf/) and the collector
# (userspace/). Everything is built into $(OUTPUT). `make V=1` shows full commands.

OUTPUT ?= build
ifneq ($(SANITIZE),)
# Sanitized objects must not mix with plain ones: they go to a san-* directory below OUTPUT, even
# when OUTPUT is set on the command line. The filter keeps sub-makes from nesting it twice.
ifeq ($(filter %/san-$(SANITIZE),$(OUTPUT)),)
override OUTPUT := $(OUTPUT)/san-$(SANITIZE)
endif
endif

# make predefines CC (as cc), so `CC ?= gcc` would never apply: only a CC nobody set is replaced.
ifeq ($(origin CC),default)
CC := gcc
endif
CLANG ?= clang
BPFTOOL ?= bpftool
LLVM_STRIP ?= llvm-strip
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -pthread -D_GNU_SOURCE
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
endif
INCLUDES := -Iruntime -Ibpf -Iuserspace -I$(OUTPUT)
LIBS := -lbpf -lelf -lz -lpthread
# debug files of stripped CPythons (userspace/debuginfo.c): dwelf and MiniDebugInfo's xz; it opens
# libdebuginfod itself, only when it asks a server
LIBS += -ldw -llzma

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIBGIL_VERSION := 1.0.0
LIBGIL_SONAME := libgil.so.$(firstword $(subst ., ,$(LIBGIL_VERSION)))
LIBGIL_REALNAME := libgil.so.$(LIBGIL_VERSION)
LIBGIL_SRCS := $(wildcard runtime/*.c)
LIBGIL_HDRS := $(wildcard runtime/*.h)
LIBGIL_OBJS := $(patsubst runtime/%.c,$(OUTPUT)/runtime/%.o,$(LIBGIL_SRCS))
LIBGIL_PIC_OBJS := $(patsubst runtime/%.c,$(OUTPUT)/runtime/pic/%.o,$(LIBGIL_SRCS))
LIBGIL_NOPROBE_OBJS := $(patsubst runtime/%.c,$(OUTPUT)/runtime/noprobe/%.o,$(LIBGIL_SRCS))

GILWORK_SRCS := $(wildcard runtime/gilwork/*.c)
GILWORK_OBJS := $(patsubst runtime/gilwork/%.c,$(OUTPUT)/obj/gilwork/%.o,$(GILWORK_SRCS))

# Every userspace module but main() is linked into the tests too.
USER_SRCS := $(wildcard userspace/*.c)
USER_OBJS := $(patsubst userspace/%.c,$(OUTPUT)/userspace/%.o,$(USER_SRCS))
USER_LIB_OBJS := $(filter-out $(OUTPUT)/userspace/main.o,$(USER_OBJS))
USER_HDRS := $(wildcard userspace/*.h) bpf/gilstat.h runtime/now_ns.h

# The benchmarks' own tools (scripts/bench/): a USDT site in a loop and a loader for an empty or
# counting BPF program, whose object stays out of bpf/ so that gilstat does not embed it.
BENCH_BINS := $(OUTPUT)/bench/uprobe_floor $(OUTPUT)/bench/usdtrun

TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(OUTPUT)/tests/%,$(TEST_SRCS))
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(OUTPUT)/tests/%,$(HELPER_SRCS))
# libgil.so with sys/sdt.h's own argument placement, for the tracer's general path (gilstat.sh).
SDT_ARGS_LIB := $(OUTPUT)/tests/sdt-args/$(LIBGIL_SONAME)

BPF_SRCS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

TARGETS := $(OUTPUT)/libgil.a $(OUTPUT)/libgil.so $(OUTPUT)/libgil-noprobes.a \
	$(OUTPUT)/cyclebench $(OUTPUT)/cyclebench-noprobes
ifneq ($(GILWORK_SRCS),)
TARGETS += $(OUTPUT)/gilwork $(OUTPUT)/gilwork-static
endif
ifneq ($(BPF_SRCS),)
TARGETS += $(OUTPUT)/gilstat
endif

.PHONY: all deps test test-busy unit integration demo bench soak clean format
all: $(TARGETS)

deps:
	$(Q)scripts/deps.sh

# The runtime's unit tests again, under ThreadSanitizer, for tests/racecheck.sh.
RACE_TESTS := $(patsubst %.c,%,$(wildcard tests/test_gil*.c))

# The README's commands build in parallel, on every core, unless make was given -j itself.
JOBS ?= $(shell nproc)
SUBMAKE = $(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$(JOBS))

# The README's two commands: both install what is missing first.
test: deps
	$(Q)$(SUBMAKE) all tests
ifeq ($(SANITIZE),)
	$(Q)$(SUBMAKE) SANITIZE=thread $(addprefix $(OUTPUT)/san-thread/,$(RACE_TESTS))
endif
	$(Q)OUTPUT=$(OUTPUT) tests/run.sh

# The suite three times in a row while other work loads every core: see scripts/test-busy.sh.
test-busy: deps
	$(Q)scripts/deps.sh --busy
	$(Q)$(SUBMAKE) all tests
	$(Q)$(SUBMAKE) SANITIZE=thread $(addprefix $(OUTPUT)/san-thread/,$(RACE_TESTS))
	$(Q)OUTPUT=$(OUTPUT) scripts/test-busy.sh

demo: deps
	$(Q)$(SUBMAKE) all
	$(Q)$(OUTPUT)/gilstat -- $(OUTPUT)/gilwork convoy

# The tutorial's FastAPI lesson, measured: see examples/fastapi/README.md.
.PHONY: example
example: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)OUTPUT=$(OUTPUT) examples/fastapi/run.sh

# Long runs under load, outside CI: see scripts/soak.sh and scripts/fleet-soak.sh.
soak: deps
	$(Q)$(MAKE) --no-print-directory all tests
	$(Q)OUTPUT=$(OUTPUT) scripts/soak.sh
	$(Q)OUTPUT=$(OUTPUT) scripts/fleet-soak.sh

bench: deps
	$(Q)scripts/deps.sh --bench
	$(Q)$(MAKE) --no-print-directory all tests $(BENCH_BINS)
	$(Q)OUTPUT=$(OUTPUT) scripts/bench.sh
	$(Q)OUTPUT=$(OUTPUT) scripts/bench-python.sh
	$(Q)OUTPUT=$(OUTPUT) scripts/bench-fleet.sh
	$(Q)OUTPUT=$(OUTPUT) scripts/bench-detach.sh
	$(Q)OUTPUT=$(OUTPUT) scripts/bench-start-miss.sh
	$(Q)OUTPUT=$(OUTPUT) scripts/bench-tachyon.sh

.PHONY: tests
tests: $(TEST_BINS) $(HELPER_BINS) $(SDT_ARGS_LIB)

$(OUTPUT) $(OUTPUT)/runtime $(OUTPUT)/runtime/pic $(OUTPUT)/runtime/noprobe $(OUTPUT)/obj/gilwork \
$(OUTPUT)/userspace $(OUTPUT)/tests $(OUTPUT)/bench:
	$(Q)mkdir -p $@

# libgil: static, shared (what gilstat finds in /proc/PID/maps) and, for the benchmark that proves
# detached probes cost nothing, a static build with the probes compiled out.
# gilstat --stacks walks user stacks by their frame pointers: libgil and gilwork keep them.
$(LIBGIL_OBJS) $(LIBGIL_PIC_OBJS) $(LIBGIL_NOPROBE_OBJS) $(GILWORK_OBJS): \
	CFLAGS += -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer

$(OUTPUT)/runtime/%.o: runtime/%.c $(LIBGIL_HDRS) | $(OUTPUT)/runtime
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

$(OUTPUT)/runtime/pic/%.o: runtime/%.c $(LIBGIL_HDRS) | $(OUTPUT)/runtime/pic
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -fPIC $(INCLUDES) -c $< -o $@

$(OUTPUT)/runtime/noprobe/%.o: runtime/%.c $(LIBGIL_HDRS) | $(OUTPUT)/runtime/noprobe
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -DGIL_NO_PROBES $(INCLUDES) -c $< -o $@

$(OUTPUT)/libgil.a: $(LIBGIL_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(OUTPUT)/libgil-noprobes.a: $(LIBGIL_NOPROBE_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

# The shared library carries its soname (the ABI's major version): libgil.so.1.0.0 is the file,
# libgil.so.1 what programs record and the loader looks for, libgil.so what -lgil links against.
$(OUTPUT)/$(LIBGIL_REALNAME): $(LIBGIL_PIC_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,-soname,$(LIBGIL_SONAME) $^ -o $@ -lpthread

$(OUTPUT)/$(LIBGIL_SONAME): $(OUTPUT)/$(LIBGIL_REALNAME)
	$(Q)ln -sfn $(<F) $@

$(OUTPUT)/libgil.so: $(OUTPUT)/$(LIBGIL_SONAME)
	$(Q)ln -sfn $(<F) $@

# gilwork links libgil.so (found next to it through $ORIGIN), as most users of a runtime would;
# gilwork-static carries libgil inside the executable, the other case gilstat must handle.
$(OUTPUT)/obj/gilwork/%.o: runtime/gilwork/%.c $(wildcard runtime/gilwork/*.h) $(LIBGIL_HDRS) | $(OUTPUT)/obj/gilwork
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Iruntime/gilwork -c $< -o $@

$(OUTPUT)/gilwork: $(GILWORK_OBJS) $(OUTPUT)/libgil.so
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(GILWORK_OBJS) -L$(OUTPUT) -lgil -Wl,-rpath,'$$ORIGIN' -lm -lpthread -o $@

$(OUTPUT)/gilwork-static: $(GILWORK_OBJS) $(OUTPUT)/libgil.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(GILWORK_OBJS) $(OUTPUT)/libgil.a -lm -lpthread -o $@

# The uncontended acquire+release cycle with the probes in (and detached) and compiled out;
# scripts/bench-cycle.sh compares the two.
$(OUTPUT)/cyclebench: scripts/cyclebench.c $(OUTPUT)/libgil.a $(LIBGIL_HDRS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< $(LDFLAGS) $(OUTPUT)/libgil.a -lpthread -o $@

$(OUTPUT)/cyclebench-noprobes: scripts/cyclebench.c $(OUTPUT)/libgil-noprobes.a $(LIBGIL_HDRS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< $(LDFLAGS) $(OUTPUT)/libgil-noprobes.a -lpthread -o $@

# BPF: the objects, then their skeletons. gilstat's programs and the benchmarks' read no kernel
# structure (see bpf/gilstat.bpf.c): they need neither vmlinux.h nor, at load time, the kernel's
# BTF. clang -target bpf does not search the multiarch include directory that holds <asm/*.h>.
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

define bpf_compile
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Ibpf -Iruntime \
		$(CLANG_BPF_SYS_INCLUDES) -c $< -o $@.tmp
	$(Q)$(LLVM_STRIP) -g $@.tmp -o $@ && rm -f $@.tmp
endef

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.bpf.h) bpf/gilstat.h runtime/gil_usdt.h | $(OUTPUT)
	$(bpf_compile)

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(OUTPUT)/userspace/%.o: userspace/%.c $(USER_HDRS) $(SKELS) | $(OUTPUT)/userspace
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

$(OUTPUT)/gilstat: $(USER_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LIBS) -lmicrohttpd -lm -o $@

$(OUTPUT)/bench/floor.bpf.o: scripts/bench/floor.bpf.c | $(OUTPUT)/bench
	$(bpf_compile)

$(OUTPUT)/bench/uprobe_floor: scripts/bench/uprobe_floor.c runtime/now_ns.h | $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Iruntime $< $(LDFLAGS) -o $@

USDTRUN_OBJS := $(addprefix $(OUTPUT)/userspace/,target.o command.o elffile.o procfs.o)
$(OUTPUT)/bench/usdtrun: scripts/bench/usdtrun.c $(OUTPUT)/bench/floor.skel.h $(USDTRUN_OBJS) \
		| $(OUTPUT)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -I$(OUTPUT)/bench $< $(USDTRUN_OBJS) $(LDFLAGS) $(LIBS) -o $@

# Tests: each tests/test_X.c is a cmocka program linked with libgil and the collector's modules;
# tests/helpers/X.c are small programs the integration tests run.
$(OUTPUT)/tests/test_%: tests/test_%.c $(OUTPUT)/libgil.a $(USER_LIB_OBJS) $(LIBGIL_HDRS) \
		$(USER_HDRS) $(wildcard tests/*.h) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Itests $< $(TEST_LIB_OBJS) $(OUTPUT)/libgil.a \
		$(LDFLAGS) -lcmocka $(LIBS) $(TEST_LIBS) -lm -o $@

# libgil's own tests need libgil alone: their ThreadSanitizer builds (make test's race checks)
# compile no module of the collector.
$(OUTPUT)/tests/test_gil%: tests/test_gil%.c $(OUTPUT)/libgil.a $(LIBGIL_HDRS) $(wildcard tests/*.h) \
		| $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Itests $< $(OUTPUT)/libgil.a $(LDFLAGS) -lcmocka \
		-lpthread -lm -o $@

# libmicrohttpd, and gnutls behind it, only in the tests of the exporter: valgrind's thread checkers
# (tests/racecheck.sh) flag p11-kit's exit handlers in every program that links it.
# The modules that embed the BPF object or drive it (tracer.o, session.o, fleet.o for -a) call the
# exporter too: in no test program.
BPF_USER_OBJS := $(addprefix $(OUTPUT)/userspace/,tracer.o session.o fleet.o)
TEST_LIB_OBJS = $(filter-out $(OUTPUT)/userspace/exporter.o $(BPF_USER_OBJS),$(USER_LIB_OBJS))
$(OUTPUT)/tests/test_prometheus: TEST_LIB_OBJS = $(filter-out $(BPF_USER_OBJS),$(USER_LIB_OBJS))
$(OUTPUT)/tests/test_prometheus: TEST_LIBS = -lmicrohttpd

$(SDT_ARGS_LIB): $(LIBGIL_SRCS) $(LIBGIL_HDRS)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -fPIC -DGIL_SDT_DEFAULT_ARGS $(INCLUDES) -shared $(LDFLAGS) \
		-Wl,-soname,$(LIBGIL_SONAME) $(LIBGIL_SRCS) -o $@ -lpthread

$(OUTPUT)/tests/%: tests/helpers/%.c $(OUTPUT)/libgil.so $(LIBGIL_HDRS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< $(LDFLAGS) -L$(OUTPUT) -lgil \
		-Wl,-rpath,'$$ORIGIN/..' -lm -lpthread -o $@

# libFuzzer harnesses of the parsers of untrusted input (tests/fuzz/): `make fuzz` builds them
# with clang (-fsanitize=fuzzer,address,undefined) and runs each for FUZZ_SECONDS; make test replays
# their seed corpus and every crash kept, through the same harnesses built with $(CC), the
# sanitizers and a plain main (tests/fuzz.sh). The modules that drive the BPF object are not needed.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SRCS := $(filter-out $(addprefix userspace/,main.c tracer.c session.c fleet.c exporter.c), \
	$(USER_SRCS)) tests/fuzz/common.c
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	$(FUZZ_SAN_EXTRA)
# open(), fopen() and readlink() of /proc/FUZZ_PID/... go to the harness's files (tests/fuzz/fuzz.h)
FUZZ_WRAP := -Wl,--wrap=open,--wrap=openat,--wrap=fopen,--wrap=readlink
FUZZ_CFLAGS = -O1 -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -pthread -D_GNU_SOURCE \
	$(INCLUDES) -Itests/fuzz
FUZZ_OBJS := $(patsubst %.c,$(OUTPUT)/fuzz/obj/%.o,$(notdir $(FUZZ_SRCS)))
REPLAY_OBJS := $(patsubst %.c,$(OUTPUT)/fuzz-replay/obj/%.o,$(notdir $(FUZZ_SRCS)))
FUZZ_BINS := $(addprefix $(OUTPUT)/fuzz/fuzz_,$(FUZZ_NAMES))
FUZZ_REPLAY_BINS := $(addprefix $(OUTPUT)/fuzz-replay/fuzz_,$(FUZZ_NAMES))
FUZZ_SECONDS ?= 600

.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	$(Q)OUTPUT=$(OUTPUT) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_NAMES)

tests: $(FUZZ_REPLAY_BINS)

$(OUTPUT)/fuzz/obj/%.o: userspace/%.c $(USER_HDRS) tests/fuzz/fuzz.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@
$(OUTPUT)/fuzz/obj/%.o: tests/fuzz/%.c $(USER_HDRS) tests/fuzz/fuzz.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@
$(OUTPUT)/fuzz/fuzz_%: $(OUTPUT)/fuzz/obj/fuzz_%.o $(FUZZ_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CLANG) $(FUZZ_SAN) -fsanitize=fuzzer $(FUZZ_WRAP) $^ $(LIBS) -lm -o $@

$(OUTPUT)/fuzz-replay/obj/%.o: userspace/%.c $(USER_HDRS) tests/fuzz/fuzz.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -c $< -o $@
$(OUTPUT)/fuzz-replay/obj/%.o: tests/fuzz/%.c $(USER_HDRS) tests/fuzz/fuzz.h
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -c $< -o $@
$(OUTPUT)/fuzz-replay/fuzz_%: $(OUTPUT)/fuzz-replay/obj/fuzz_%.o $(REPLAY_OBJS) \
		$(OUTPUT)/fuzz-replay/obj/replay.o
	$(call msg,LD,$@)
	$(Q)$(CC) $(FUZZ_SAN) $(FUZZ_WRAP) $^ $(LIBS) -lm -o $@

# Installing: PREFIX (default /usr/local) and DESTDIR, as users of make install expect. gilstat
# goes to sbin with its page in section 8: it refuses to run without root (CAP_SYS_ADMIN), like
# the BPF tools bcc installs in /usr/sbin. gilwork, an ordinary program, goes to bin.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL ?= install
# gil.h includes no header of ours; gil_usdt.h is the probe contract, for tracers.
LIBGIL_PUBLIC_HDRS := runtime/gil.h runtime/gil_usdt.h
MAN_PAGES := man/gilstat.8 man/gilwork.1 man/libgil.3
# The installed gilwork finds libgil relative to itself, as the built one does, so that the tree
# stays relocatable (and runs from a DESTDIR).
BIN_TO_LIBDIR = $(shell realpath -m --relative-to=$(BINDIR) $(LIBDIR))
INSTALLED_FILES = $(SBINDIR)/gilstat $(BINDIR)/gilwork $(LIBDIR)/libgil.a \
	$(LIBDIR)/$(LIBGIL_REALNAME) $(LIBDIR)/$(LIBGIL_SONAME) $(LIBDIR)/libgil.so \
	$(addprefix $(INCLUDEDIR)/,$(notdir $(LIBGIL_PUBLIC_HDRS))) $(PKGCONFIGDIR)/libgil.pc \
	$(foreach p,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p)))

.PHONY: install uninstall
install: $(OUTPUT)/gilstat $(OUTPUT)/libgil.a $(OUTPUT)/libgil.so $(GILWORK_OBJS)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)$(INSTALL) -d $(addprefix $(DESTDIR),$(SBINDIR) $(BINDIR) $(LIBDIR) $(INCLUDEDIR) \
		$(PKGCONFIGDIR) $(MANDIR)/man1 $(MANDIR)/man3 $(MANDIR)/man8)
	$(Q)$(INSTALL) -m 755 $(OUTPUT)/gilstat $(DESTDIR)$(SBINDIR)/gilstat
	$(Q)$(CC) $(LDFLAGS) $(GILWORK_OBJS) -L$(OUTPUT) -lgil \
		-Wl,-rpath,'$$ORIGIN/$(BIN_TO_LIBDIR)' -lm -lpthread -o $(DESTDIR)$(BINDIR)/gilwork
	$(Q)$(INSTALL) -m 644 $(OUTPUT)/libgil.a $(DESTDIR)$(LIBDIR)/libgil.a
	$(Q)$(INSTALL) -m 755 $(OUTPUT)/$(LIBGIL_REALNAME) $(DESTDIR)$(LIBDIR)/$(LIBGIL_REALNAME)
	$(Q)ln -sfn $(LIBGIL_REALNAME) $(DESTDIR)$(LIBDIR)/$(LIBGIL_SONAME)
	$(Q)ln -sfn $(LIBGIL_SONAME) $(DESTDIR)$(LIBDIR)/libgil.so
	$(Q)$(INSTALL) -m 644 $(LIBGIL_PUBLIC_HDRS) $(DESTDIR)$(INCLUDEDIR)/
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' \
		-e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|' \
		-e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
		-e 's|@VERSION@|$(LIBGIL_VERSION)|' runtime/libgil.pc.in \
		>$(DESTDIR)$(PKGCONFIGDIR)/libgil.pc
	$(Q)$(foreach p,$(MAN_PAGES),$(INSTALL) -m 644 $(p) \
		$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p)) &&) true
	$(Q)$(if $(DESTDIR),,ldconfig 2>/dev/null || true)

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))
	$(Q)$(if $(DESTDIR),,ldconfig 2>/dev/null || true)

format:
	$(Q)clang-format -i $(wildcard runtime/*.[ch] runtime/gilwork/*.[ch] bpf/*.[ch] \
		userspace/*.[ch] tests/*.[ch] tests/helpers/*.c)

clean:
	$(call msg,CLEAN,$(OUTPUT))
	$(Q)rm -rf $(OUTPUT)

.DELETE_ON_ERROR:
.SECONDARY:
