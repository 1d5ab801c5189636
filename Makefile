# Onggi: plain Makefile. `make` builds the debug tree (-Werror); BUILD=release|asan picks
# another tree under build/. `make run` starts a local cluster, `make test` runs every test.

BUILD ?= debug
O := build/$(BUILD)
CC ?= gcc

CPPFLAGS := -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -Icommon -Iring -Iauth -Istorage-node -Igateway \
            $(shell pkg-config --cflags libxml-2.0 2>/dev/null) -MMD -MP
WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter
CFLAGS_debug := -std=c11 -O0 -g $(WARN) -Werror
CFLAGS_release := -std=c11 -O2 -g $(WARN) -DNDEBUG
CFLAGS_asan := -std=c11 -O1 -g $(WARN) -Werror -fsanitize=address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=undefined
# libFuzzer targets (tests/fuzz, docs/fuzzing.md): Debian's clang, every object instrumented for
# coverage, ASan and UBSan; only the fuzz targets link libFuzzer's main.
CFLAGS_fuzz := -std=c11 -O1 -g $(WARN) -Werror -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=undefined
ifeq ($(BUILD),fuzz)
CC := clang
endif
CFLAGS := $(CFLAGS_$(BUILD)) -pthread
comma := ,
LDFLAGS := -pthread $(if $(filter asan,$(BUILD)),-fsanitize=address$(comma)undefined) \
           $(if $(filter fuzz,$(BUILD)),-fsanitize=fuzzer$(comma)address$(comma)undefined)
LDLIBS := -lh2o-evloop -lrocksdb -lxml2 -lssl -lcrypto -lxxhash -lisal -ljansson -lm
# Configuration files (common/og_conf.c): Debian's libinih.
LDLIBS += $(shell pkg-config --libs inih)

MAINS := $(wildcard */*_main.c) gateway/main.c
lib_srcs = $(filter-out $(MAINS),$(wildcard $(1)/*.c))
objs = $(patsubst %.c,$(O)/obj/%.o,$(1))

# One static library per module, and one per room of the gateway (docs/architecture.md). Listed
# from the top down, the order a static link needs: a room only uses the rooms below it.
ROOMS := console s3 swift iam core cluster http
$(foreach r,$(ROOMS),$(eval LIB_$(r) := $(O)/libgw_$(r).a))
LIB_og := $(O)/libog.a
LIB_ring := $(O)/libring.a
LIB_auth := $(O)/libauth.a
LIB_node := $(O)/libnode.a
# What each room links against (itself first), so a test links only the rooms it exercises.
DEPS_http := $(LIB_http) $(LIB_og)
DEPS_cluster := $(LIB_cluster) $(LIB_node) $(LIB_ring) $(LIB_og)
DEPS_core := $(LIB_core) $(DEPS_cluster)
DEPS_iam := $(LIB_iam) $(DEPS_core)
DEPS_s3 := $(LIB_s3) $(LIB_iam) $(LIB_core) $(LIB_http) $(LIB_auth) $(DEPS_cluster)
DEPS_swift := $(LIB_swift) $(LIB_iam) $(LIB_core) $(LIB_http) $(LIB_auth) $(DEPS_cluster)
DEPS_console := $(LIB_console) $(LIB_iam) $(LIB_core) $(LIB_http) $(LIB_auth) $(DEPS_cluster)
DEPS_gateway := $(LIB_console) $(LIB_s3) $(LIB_swift) $(LIB_iam) $(LIB_core) $(LIB_http) $(LIB_auth) $(DEPS_cluster)
DEPS_ring := $(LIB_ring) $(LIB_og)
DEPS_auth := $(LIB_auth) $(LIB_og)
DEPS_node := $(LIB_node) $(LIB_ring) $(LIB_og)
DEPS_common := $(LIB_og)

BINS := $(O)/bin/onggi-ring $(O)/bin/onggi-node $(O)/bin/onggi-gateway \
        $(if $(wildcard tools/admin/*.c),$(O)/bin/onggi-admin) \
        $(if $(wildcard tools/bench/*.c),$(O)/bin/onggi-bench)
# Unit tests live in tests/unit/<room or module>/ and link that room's DEPS_<dir>.
UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNITS := $(patsubst tests/unit/%.c,$(O)/tests/%,$(UNIT_SRCS))

.PHONY: all units ring auth node gateway deps run test unit integration compat compat-record compat-live \
        compat-random-live faults faults-short bench bench-abuse bench-cdn bench-quota bench-scale bench-slow clean format check-rooms \
        fuzz fuzz-smoke fuzz-targets install bins
all: check-rooms $(BINS) units
units: $(UNITS)
bins: $(BINS)

# Per-module targets so work on one module does not wait for another to compile.
ring: $(O)/bin/onggi-ring
auth: $(LIB_auth)
node: $(O)/bin/onggi-node
gateway: $(O)/bin/onggi-gateway

# The rooms' include rules (tools/check-rooms.sh): fails the build when a room includes a room
# above it, another room's private header, or when s3/ and swift/ include each other.
check-rooms:
	@tools/check-rooms.sh

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB_og): $(call objs,$(call lib_srcs,common))
$(LIB_ring): $(call objs,$(call lib_srcs,ring))
$(LIB_auth): $(call objs,$(call lib_srcs,auth))
$(LIB_node): $(call objs,$(call lib_srcs,storage-node))
$(foreach r,$(ROOMS),$(eval $(LIB_$(r)): $(call objs,$(call lib_srcs,gateway/$(r)))))
# The web console's files are compiled into the gateway (docs/operations.md, "Web console").
CONSOLE_WWW := $(sort $(wildcard gateway/console/www/*))
# (the directory too: its time changes when a file is added or removed)
$(O)/gen/console_assets.c: tools/embed.sh gateway/console/www $(CONSOLE_WWW)
	@mkdir -p $(dir $@)
	tools/embed.sh $@ $(CONSOLE_WWW)
$(O)/obj/gen/console_assets.o: $(O)/gen/console_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@
$(LIB_console): $(O)/obj/gen/console_assets.o
$(O)/lib%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(O)/bin/onggi-ring: $(call objs,ring/ring_main.c) $(DEPS_ring)
$(O)/bin/onggi-node: $(call objs,storage-node/node_main.c) $(DEPS_node)
$(O)/bin/onggi-gateway: $(call objs,gateway/main.c) $(DEPS_gateway)
$(O)/bin/onggi-admin: $(call objs,$(wildcard tools/admin/*.c)) $(DEPS_gateway)
$(O)/bin/onggi-bench: $(call objs,$(wildcard tools/bench/*.c)) $(DEPS_gateway)
$(O)/bin/%:
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test_deps = $(DEPS_$(firstword $(subst /, ,$(1))))
.SECONDARY:
.SECONDEXPANSION:
$(O)/tests/%: $(O)/obj/tests/unit/%.o $$(call test_deps,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

# libFuzzer targets (docs/fuzzing.md): tests/fuzz/fuzz_<name>.c, each linked against the room or
# module it exercises (FUZZ_DEPS_<name>), built with clang into build/fuzz/fuzz/.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/fuzz/%,$(FUZZ_SRCS))
FUZZ_TARGETS := $(notdir $(FUZZ_BINS))
FUZZ_DEPS_fuzz_http_chunked := $(DEPS_http)
FUZZ_DEPS_fuzz_http_headers := $(DEPS_http)
FUZZ_DEPS_fuzz_http_server := $(DEPS_http)
FUZZ_DEPS_fuzz_auth := $(DEPS_s3)
FUZZ_DEPS_fuzz_aws_chunked := $(DEPS_s3)
FUZZ_DEPS_fuzz_s3_xml := $(DEPS_s3)
FUZZ_DEPS_fuzz_swift_path := $(DEPS_swift)
FUZZ_DEPS_fuzz_slo := $(DEPS_core)
FUZZ_DEPS_fuzz_record := $(DEPS_core)
FUZZ_DEPS_fuzz_node_request := $(DEPS_node)
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 3
# FUZZ_ONLY="auth slo" runs only those targets (names without fuzz_).
FUZZ_RUN := $(if $(FUZZ_ONLY),$(patsubst %,build/fuzz/fuzz/fuzz_%,$(FUZZ_ONLY)),$(FUZZ_BINS))

# (make BUILD=fuzz fuzz-targets: the other targets below call it so)
fuzz-targets: $(patsubst %,$(O)/fuzz/%,$(FUZZ_TARGETS))

$(O)/fuzz/%: $(O)/obj/tests/fuzz/%.o $$(FUZZ_DEPS_$$*)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Each target for FUZZ_SECONDS (default 60) from its seed corpus; fails on any crash, leak,
# UB report or timeout. Inputs the run discovers stay in build/fuzz/corpus/.
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=fuzz fuzz-targets
	@tools/fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_RUN)

# Part of `make test`: every seed once, then FUZZ_SMOKE_SECONDS of fuzzing per target.
fuzz-smoke:
	@$(MAKE) --no-print-directory BUILD=fuzz fuzz-targets
	@tools/fuzz.sh smoke $(FUZZ_SMOKE_SECONDS) $(FUZZ_RUN)

deps:
	@tools/deps.sh

# Starts gateway + 3 storage nodes on loopback; DATA=dir keeps the data (default ./var/dev).
DATA ?= ./var/dev
run: deps
	@$(MAKE) --no-print-directory BUILD=release all
	@tools/run-cluster.sh --bin build/release/bin --data "$(DATA)"

# make install [PREFIX=/usr/local] [DESTDIR=] [INSTALL_BUILD=release]: the binaries of
# build/INSTALL_BUILD into PREFIX/bin, the sample configuration SYSCONFDIR/onggi/onggi.conf.example
# and the systemd units onggi-gateway.service, onggi-node@.service and the lifecycle worker's
# onggi-lifecycle.service + .timer (tools/systemd/) into UNITDIR
# (docs/operations.md, "Installing"). The configuration stays under /etc whatever PREFIX is, as
# onggi-admin looks for /etc/onggi/onggi.conf.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALL_BUILD ?= release
install:
	@$(MAKE) --no-print-directory BUILD=$(INSTALL_BUILD) check-rooms bins
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSCONFDIR)/onggi $(DESTDIR)$(UNITDIR)
	install -m 755 $(patsubst $(O)/%,build/$(INSTALL_BUILD)/%,$(BINS)) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 tools/systemd/onggi.conf.example $(DESTDIR)$(SYSCONFDIR)/onggi/onggi.conf.example
	for u in onggi-gateway.service onggi-node@.service onggi-lifecycle.service onggi-lifecycle.timer; do \
	    sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' tools/systemd/$$u \
	        >$(DESTDIR)$(UNITDIR)/$$u && chmod 644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done

# Every test: debug build (-Werror), then unit, integration and the short fault runs on the
# ASan+UBSan build, then the fuzz smoke run (clang, libFuzzer).
test: deps
	@$(MAKE) --no-print-directory BUILD=debug all
	@$(MAKE) --no-print-directory BUILD=asan all
	@$(MAKE) --no-print-directory BUILD=asan unit integration faults-short
	@$(MAKE) --no-print-directory fuzz-smoke

unit: units
	@tools/run-units.sh $(UNITS)

integration: all
	ONGGI_BIN=$(abspath $(O)/bin) /usr/bin/python3 -m pytest -q -x tests/integration

# The differential compatibility harness (tests/compat/README.md). compat replays the anchors'
# recorded answers against a fresh cluster and runs a short randomized pass, no anchor needed
# (tests/integration/test_compat.py, so `make integration` and `make test` run it too). The others
# need the anchors: SWIFT_ANCHOR_DIR / RGW_ANCHOR_DIR (their `start` directories;
# ANCHORS=../shared/anchors by default).
compat: all
	ONGGI_BIN=$(abspath $(O)/bin) /usr/bin/python3 -m pytest -q tests/integration/test_compat.py

compat-record:
	@tests/compat/anchors.sh record

compat-live: all
	@ONGGI_BIN=$(abspath $(O)/bin) tests/compat/anchors.sh live

compat-random-live: all
	@ONGGI_BIN=$(abspath $(O)/bin) tests/compat/anchors.sh random-live

# The fault harness (docs/durability.md): nodes in network namespaces, kills, freezes, cuts, full
# and corrupted disks; every acknowledged write read back. Needs root. faults-short is part of
# `make test` (~2 min); `make faults` is the long run (~20 min, release build).
faults-short: all
	ONGGI_BIN=$(abspath $(O)/bin) /usr/bin/python3 -m pytest -q tests/faults

faults: deps
	@$(MAKE) --no-print-directory BUILD=release all
	ONGGI_BIN=$(abspath build/release/bin) /usr/bin/python3 tests/faults/run.py --long

bench: deps
	@$(MAKE) --no-print-directory BUILD=release all
	@tools/bench.sh

# Hot-object GETs at the origin (docs/benchmarks.md, "CDN origin"): one 1 MiB object in a public
# Swift container, 64 anonymous clients for 10 s; requests/s and node reads per request. Then the
# hit ratio through a real Varnish: 1,000 objects of 64 KiB, Zipf-skewed, 32 clients for 10 s.
bench-cdn: deps
	@$(MAKE) --no-print-directory BUILD=release all
	@/usr/bin/python3 tools/cdn-bench.py --bin build/release/bin
	@/usr/bin/python3 tools/cdn-bench.py --bin build/release/bin --varnish --objects 1000 --size 65536 --clients 32

# 4 KiB PUTs under quotas (docs/benchmarks.md, "Quotas"): no quota, a container quota, an account
# quota over 1,000 buckets; ops/s and node round trips per PUT. QUOTA_BENCH_VS=DIR runs the binaries
# in DIR too, alternating with ours (QUOTA_BENCH_ROUNDS, default 2).
bench-quota: deps
	@$(MAKE) --no-print-directory BUILD=release all
	@/usr/bin/python3 tools/quota-bench.py $(if $(QUOTA_BENCH_VS),--bin $(QUOTA_BENCH_VS)) --bin build/release/bin \
		--rounds $(or $(QUOTA_BENCH_ROUNDS),$(if $(QUOTA_BENCH_VS),2,1))

# One bucket grown to SCALE_KEYS keys (default 1,000,000; docs/benchmarks.md, "Scale"): PUT rate
# per 100k-key segment, LIST pages/s, node RSS and metadata bytes per object at 0, 100k, 1M, 10M.
bench-scale: deps
	@$(MAKE) --no-print-directory BUILD=release all
	@/usr/bin/python3 tools/scale-bench.py

# The gateway under abuse (docs/benchmarks.md, "Abuse"): 10,000 idle connections, then 140
# trickling uploads of one user, while another user's 4 KiB GETs are timed (about 2 min).
bench-abuse: deps
	@$(MAKE) --no-print-directory BUILD=release all
	@/usr/bin/python3 tools/abuse-bench.py --bin build/release/bin

# Thousands of concurrent slow uploads (docs/benchmarks.md, "Slow uploads"): SLOW_CONNS (2000)
# uploads each sending 256 kbit/s for SLOW_DURATION (60) s, then read back byte-exact, while a
# 4 KiB GET probe runs; gateway peak RSS, probe p50/p99. SLOW_ARGS adds options (e.g. --chunked).
bench-slow: deps
	@$(MAKE) --no-print-directory BUILD=release all
	@/usr/bin/python3 tools/slow-bench.py --bin build/release/bin --conns $(or $(SLOW_CONNS),2000) \
		--duration $(or $(SLOW_DURATION),60) $(SLOW_ARGS)

format:
	clang-format -i $(wildcard */*.c */*.h gateway/*/*.c gateway/*/*.h tests/unit/*/*.c tools/*/*.c tools/*/*.h)

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
