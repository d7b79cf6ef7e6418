# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# xvip: `make` builds build/xvipd and build/xvipctl; `make test` and `make demo`
# install what is missing first (scripts/deps.sh).

BUILD      ?= build
CC         ?= gcc
CLANG      ?= clang
BPFTOOL    ?= bpftool
ARCH       := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH  := $(shell $(CC) -print-multiarch 2>/dev/null)

CFLAGS     ?= -O2 -g
CFLAGS     += -Wall -Wextra -Wno-unused-parameter -Wshadow -std=gnu11 -D_GNU_SOURCE \
              -Iinclude -Iuser -I$(BUILD) $(shell pkg-config --cflags json-c 2>/dev/null)
LDLIBS     += -lxdp -lbpf -lelf -lz -ljson-c -lmnl -lcurl -lyaml -lmicrohttpd -lm

BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Wno-unused-function \
              -D__TARGET_ARCH_$(ARCH) -Iinclude -Ibpf -I/usr/include/$(MULTIARCH)

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS   := $(wildcard bpf/lib/*.h) $(wildcard include/*.h)

LIB_SRCS   := $(filter-out user/xvipd.c user/xvipctl.c user/xvip-pktgen.c,$(wildcard user/*.c))
LIB_OBJS   := $(patsubst user/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
USER_HDRS  := $(wildcard user/*.h) $(wildcard include/*.h)

TEST_SRCS  := $(wildcard tests/test_*.c)
TEST_BINS  := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
BENCH_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/bench_*.c))

.PHONY: all deps test demo bench clean format-check fuzz-long
.DELETE_ON_ERROR:

all: $(BUILD)/xvipd $(BUILD)/xvipctl $(BUILD)/xvip-pktgen $(TEST_BINS) $(BENCH_BINS)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS)
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

$(BUILD)/obj/%.o: user/%.c $(USER_HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libxvip.a: $(LIB_OBJS)
	ar rcs $@ $^

$(BUILD)/xvipd: $(BUILD)/obj/xvipd.o $(BUILD)/libxvip.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/xvipctl: $(BUILD)/obj/xvipctl.o $(BUILD)/libxvip.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/xvip-pktgen: $(BUILD)/obj/xvip-pktgen.o $(BUILD)/libxvip.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/obj/xvipd.o $(BUILD)/obj/xvipctl.o: $(USER_HDRS) $(SKELS)

$(BUILD)/tests/%: tests/%.c tests/*.h $(BUILD)/libxvip.a $(SKELS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests $< $(BUILD)/libxvip.a -o $@ $(LDLIBS)

deps:
	scripts/deps.sh

test: deps
	$(MAKE) all
	tests/run.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh $(DEMO_ARGS)

# Not part of `make test`: minutes long, and it installs the plotting tool.
bench: deps
	scripts/deps.sh --bench
	$(MAKE) all
	scripts/bench.sh $(BENCH_ARGS)

# Not part of `make test`: the long fuzzing run (the CI-sized one is in tests/run.sh).
# FUZZ_PACKETS packets through the packet fuzzer from FUZZ_SEED (default: a fresh one,
# printed so a failure can be replayed with FUZZ_SEED=...).
FUZZ_PACKETS ?= 2000000
FUZZ_SEED    ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
fuzz-long: deps
	$(MAKE) all
	XVIP_FUZZ_PACKETS=$(FUZZ_PACKETS) XVIP_FUZZ_SEED=$(FUZZ_SEED) $(BUILD)/tests/test_pktfuzz

clean:
	rm -rf $(BUILD)

format-check:
	clang-format --dry-run --Werror user/*.c user/*.h
