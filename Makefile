# sprov build.  `make` builds build/ (release, warnings as errors);
# `make asan` builds build-asan/ (ASan+UBSan, no recovery).
# Quick start: `make run` and `make test` (see README.md).

, := ,
# V=1 shows the full compiler command lines.
Q	:= $(if $(V),,@)
CC	?= cc
PKGS	 = libssl libcrypto sqlite3 libpq jansson expat libcurl libcares zlib
WARN	 = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wformat-security \
	   -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	   -Wcast-qual -Wwrite-strings -Wvla -Wnull-dereference \
	   -Wimplicit-fallthrough -Wundef \
	   -Wno-format-truncation  # messages are cut to fit on purpose
BASE	 = -std=c11 -D_GNU_SOURCE -Iinclude $(WARN)
RELEASE	 = -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
SANITIZE = -O1 -g -fno-omit-frame-pointer \
	   -fsanitize=address,undefined -fno-sanitize-recover=all
PKGCFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKGLIBS	 = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

LIB_SRC	 = $(wildcard lib/*.c)
CA_SRC	 = $(wildcard src/sprov-ca/*.c)
SPROVD_SRC = $(wildcard src/sprovd/*.c)
SPROVCTL_SRC = $(wildcard src/sprovctl/*.c)
AGENT_SRC = $(wildcard src/sprov-agent/*.c)
BENCH_SRC = $(wildcard src/sprov-bench/*.c)
.DEFAULT_GOAL := all

UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNITS	 = $(patsubst tests/unit/%.c,%,$(UNIT_SRC))
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)
FUZZERS	 = $(patsubst fuzz/%.c,%,$(FUZZ_SRC))
# Program sources that hold a parser of untrusted bytes (fuzzed and replayed).
FUZZ_APP_SRC = src/sprovd/admin.c src/sprov-agent/content.c

# $(1) = build dir, $(2) = flags, $(3) = link flags
define variant
$(1)/lib/%.o: lib/%.c $$(wildcard include/sprov/*.h) | $(1)/lib
	@echo "  CC      $$@"
	$(Q)$$(CC) $(2) $$(BASE) $$(PKGCFLAGS) -c -o $$@ $$<
$(1)/src/%.o: src/%.c $$(wildcard include/sprov/*.h src/*/*.h) | $(1)/src/sprov-ca $(1)/src/sprovd $(1)/src/sprovctl $(1)/src/sprov-agent $(1)/src/sprov-bench
	@echo "  CC      $$@"
	$(Q)$$(CC) $(2) $$(BASE) $$(PKGCFLAGS) -Isrc -c -o $$@ $$<
$(1)/libsprov.a: $$(patsubst lib/%.c,$(1)/lib/%.o,$$(LIB_SRC))
	$(Q)rm -f $$@ && ar rcs $$@ $$^
$(1)/sprov-ca: $$(patsubst src/%.c,$(1)/src/%.o,$$(CA_SRC)) $(1)/libsprov.a
	@echo "  LD      $$@"
	$(Q)$$(CC) $(2) $(3) -o $$@ $$^ $$(PKGLIBS)
$(1)/sprov-agent: $$(patsubst src/%.c,$(1)/src/%.o,$$(AGENT_SRC)) $(1)/libsprov.a
	@echo "  LD      $$@"
	$(Q)$$(CC) $(2) $(3) -o $$@ $$^ $$(PKGLIBS)
$(1)/sprov-bench: $$(patsubst src/%.c,$(1)/src/%.o,$$(BENCH_SRC)) $(1)/libsprov.a
	@echo "  LD      $$@"
	$(Q)$$(CC) $(2) $(3) -o $$@ $$^ $$(PKGLIBS) -lm
$(1)/sprovctl: $$(patsubst src/%.c,$(1)/src/%.o,$$(SPROVCTL_SRC)) $(1)/libsprov.a
	@echo "  LD      $$@"
	$(Q)$$(CC) $(2) $(3) -o $$@ $$^ $$(PKGLIBS)
$(1)/sprovd: $$(patsubst src/%.c,$(1)/src/%.o,$$(SPROVD_SRC)) $(1)/libsprov.a
	@echo "  LD      $$@"
	$(Q)$$(CC) $(2) $(3) -o $$@ $$^ $$(PKGLIBS)
$(1)/tests/%: tests/unit/%.c tests/unit/harness.h $(1)/libsprov.a | $(1)/tests
	@echo "  CC      $$@"
	$(Q)$$(CC) $(2) $$(BASE) $$(PKGCFLAGS) -Itests/unit $(3) -o $$@ $$< $(1)/libsprov.a $$(PKGLIBS)
$(1)/tests/tools/%: tests/tools/%.c $(1)/libsprov.a | $(1)/tests/tools
	@echo "  CC      $$@"
	$(Q)$$(CC) $(2) $$(BASE) $$(PKGCFLAGS) $(3) -o $$@ $$< $(1)/libsprov.a $$(PKGLIBS)
$(1)/bench/%: bench/%.c $(1)/libsprov.a | $(1)/bench
	@echo "  CC      $$@"
	$(Q)$$(CC) $(2) $$(BASE) $$(PKGCFLAGS) $(3) -o $$@ $$< $(1)/libsprov.a $$(PKGLIBS)
$(1)/fuzz/%: fuzz/%.c fuzz/replay.c $$(patsubst src/%.c,$(1)/src/%.o,$$(FUZZ_APP_SRC)) $(1)/libsprov.a | $(1)/fuzz
	@echo "  CC      $$@"
	$(Q)$$(CC) $(2) $$(BASE) $$(PKGCFLAGS) -Isrc $(3) -o $$@ $$< fuzz/replay.c $$(patsubst src/%.c,$(1)/src/%.o,$$(FUZZ_APP_SRC)) $(1)/libsprov.a $$(PKGLIBS)
$(1)/lib $(1)/src/sprov-ca $(1)/src/sprovd $(1)/src/sprovctl $(1)/src/sprov-agent $(1)/src/sprov-bench $(1)/tests $(1)/tests/tools $(1)/bench $(1)/fuzz:
	$(Q)mkdir -p $$@
endef

$(eval $(call variant,build,$(RELEASE),-pie -Wl$(,)-z$(,)relro$(,)-z$(,)now))
$(eval $(call variant,build-asan,$(SANITIZE),-fsanitize=address$(,)undefined))

.PHONY: all asan deps run test unit check-banned bench bench-ca clean format fuzz fuzz-build valgrind
TOOLS	 = $(patsubst tests/tools/%.c,%,$(wildcard tests/tools/*.c))
all: build/sprov-ca build/sprovd build/sprovctl build/sprov-agent build/sprov-bench \
	build/bench/tls-floor $(addprefix build/tests/,$(UNITS)) \
	$(addprefix build/tests/tools/,$(TOOLS))
asan: build-asan/sprov-ca build-asan/sprovd build-asan/sprovctl \
	build-asan/sprov-agent build-asan/sprov-bench \
	$(addprefix build-asan/tests/tools/,$(TOOLS)) \
	$(addprefix build-asan/tests/,$(UNITS)) \
	$(addprefix build-asan/fuzz/,$(FUZZERS))

deps:
	@scripts/install-deps

# The main job on embedded defaults: a demo CA, devices, and sprovd.
run: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

# The browser tests' packages too (chromium, node, playwright-core).
test:
	@scripts/install-deps --browser
	@$(MAKE) --no-print-directory all asan
	@tests/run

check-banned:
	@scripts/check-banned

# The integration tests with the programs under valgrind (slow: about
# 20 minutes); zero reports is the bar.  See scripts/valgrind.
valgrind: deps
	@scripts/install-deps --valgrind
	@$(MAKE) --no-print-directory all
	@scripts/valgrind

# sprovd against nginx, the crypto limit and the library floor (not a test;
# about 20 minutes; BENCH_ARGS="--no-storm" etc., see bench/run).
bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run $(BENCH_ARGS)

bench-ca: deps
	@$(MAKE) --no-print-directory all build/bench/crypto-limit
	@bench/ca-bulk $(N)

format:
	clang-format -i lib/*.c include/sprov/*.h src/*/*.c tests/unit/*.c

# libFuzzer (clang) over every parser target (or FUZZ_TARGETS), FUZZ_SECONDS each (default
# 60), FUZZ_JOBS at a time, niced; see fuzz/campaign.  New inputs that add
# coverage are merged into fuzz/corpus/<target>/ (commit them; every crash is
# kept there as a regression input once fixed).
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
FUZZ_TARGETS ?= $(FUZZERS)
FUZZ_CFLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=all -std=c11 -D_GNU_SOURCE -Iinclude -Isrc
FUZZ_OBJ = $(patsubst lib/%.c,build-fuzz/lib/%.o,$(LIB_SRC)) \
	$(patsubst src/%.c,build-fuzz/src/%.o,$(FUZZ_APP_SRC))
build-fuzz/lib/%.o: lib/%.c $(wildcard include/sprov/*.h)
	@mkdir -p $(@D)
	@echo "  CLANG   $@"
	$(Q)clang $(FUZZ_CFLAGS) $(PKGCFLAGS) -c -o $@ $<
build-fuzz/src/%.o: src/%.c $(wildcard include/sprov/*.h src/*/*.h)
	@mkdir -p $(@D)
	@echo "  CLANG   $@"
	$(Q)clang $(FUZZ_CFLAGS) $(PKGCFLAGS) -c -o $@ $<
build-fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ)
	@echo "  CLANG   $@"
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKGCFLAGS) -o $@ $< \
	    $(FUZZ_OBJ) $(PKGLIBS)
.SECONDARY: $(FUZZ_OBJ)
fuzz-build:
	@scripts/install-deps --fuzz
	@$(MAKE) --no-print-directory $(addprefix build-fuzz/,$(FUZZ_TARGETS))
fuzz: fuzz-build
	@fuzz/campaign -j $(FUZZ_JOBS) -t $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build build-asan build-fuzz build-valgrind
