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

# BPF objects see only the kernel's UAPI headers (linux-libc-dev), libbpf's headers and
# clang's freestanding ones: -nostdinc, and an include directory of just those (made below),
# so nothing reaches glibc (whose headers assume the host's ABI, not BPF's). Every BPF
# compile in the tree, the tests' helper programs too, uses these flags.
BPF_INC    := $(BUILD)/bpf-include
BPF_ASM    := $(firstword $(wildcard /usr/include/$(MULTIARCH)/asm /usr/include/asm))
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Wno-unused-function -D__TARGET_ARCH_$(ARCH) \
              -nostdinc -ffreestanding -isystem $(shell $(CLANG) -print-resource-dir 2>/dev/null)/include \
              -Iinclude -Ibpf -I$(BPF_INC)

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
TEST_PROGS := $(patsubst tests/progs/%.bpf.c,$(BUILD)/tests/progs/%.bpf.o,$(wildcard tests/progs/*.bpf.c))

.PHONY: all deps test demo bench clean format-check fuzz-long fuzz-build sanitize-build sanitize-test
.DELETE_ON_ERROR:

all: $(BUILD)/xvipd $(BUILD)/xvipctl $(BUILD)/xvip-pktgen $(TEST_BINS) $(BENCH_BINS) $(TEST_PROGS)

$(BPF_INC)/.stamp:
	@test -n "$(BPF_ASM)" || { echo "no kernel UAPI asm/ headers (install linux-libc-dev)" >&2; exit 1; }
	@mkdir -p $(@D)
	ln -sfn /usr/include/linux $(@D)/linux
	ln -sfn /usr/include/asm-generic $(@D)/asm-generic
	ln -sfn $(BPF_ASM) $(@D)/asm
	ln -sfn /usr/include/bpf $(@D)/bpf
	@touch $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BPF_INC)/.stamp
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# BPF programs the tests load beside xvipd's (a foreign XDP program, ...).
$(BUILD)/tests/progs/%.bpf.o: tests/progs/%.bpf.c $(BPF_INC)/.stamp
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
	$(MAKE) all fuzz-build sanitize-build
	tests/run.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh $(DEMO_ARGS)

# Not part of `make test`: minutes long, and it installs the plotting tool.
bench: deps
	scripts/deps.sh --bench
	$(MAKE) all
	scripts/bench.sh $(BENCH_ARGS)

# Sanitizers (clang, libclang-rt from Debian): libFuzzer targets in tests/fuzz/, and
# the unit tests built with AddressSanitizer and UndefinedBehaviorSanitizer. `make
# test` builds both and runs them briefly (tests/e2e_fuzz_smoke.sh, e2e_sanitizers.sh).
SAN_CC     ?= clang
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS := -O1 -g $(SAN_FLAGS) -Wall -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE \
              -Iinclude -Iuser -I$(BUILD) $(shell pkg-config --cflags json-c 2>/dev/null)
SAN_OBJS   := $(patsubst user/%.c,$(BUILD)/san/obj/%.o,$(LIB_SRCS))
# Every C test binary runs under the sanitizers too (a few seconds in all).
SAN_TESTS  ?= $(patsubst tests/%.c,%,$(TEST_SRCS))
SAN_BINS   := $(patsubst %,$(BUILD)/san/tests/%,$(SAN_TESTS))
FUZZ_BINS  := $(BUILD)/fuzz/fuzz_model $(BUILD)/fuzz/fuzz_addr $(BUILD)/fuzz/fuzz_kubecfg

$(BUILD)/san/obj/%.o: user/%.c $(USER_HDRS) $(SKELS)
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) -c $< -o $@

$(BUILD)/san/libxvip.a: $(SAN_OBJS)
	ar rcs $@ $^

# tests/pkt.h overlays headers on byte buffers at offset 14: unaligned for UBSan, harmless
# on every machine the tests run on, and not the code under test (the library keeps the check).
$(BUILD)/san/tests/%: tests/%.c tests/*.h $(BUILD)/san/libxvip.a $(SKELS)
	@mkdir -p $(@D)
	$(SAN_CC) $(SAN_CFLAGS) -fno-sanitize=alignment -Itests $< $(BUILD)/san/libxvip.a -o $@ \
		$(LDLIBS)

# fuzz_NAME: tests/fuzz/fuzz_NAME.c, the sources it exercises, the libraries they need.
define fuzz_target
$(BUILD)/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(2) $(USER_HDRS)
	@mkdir -p $$(@D)
	$(SAN_CC) $(SAN_CFLAGS) -fsanitize=fuzzer $$< $(2) -o $$@ $(3)
endef
$(eval $(call fuzz_target,model,$(wildcard user/model*.c) user/addr.c user/util.c tests/fuzz/quiet_log.c,-ljson-c))
$(eval $(call fuzz_target,addr,user/addr.c tests/fuzz/quiet_log.c,))
$(eval $(call fuzz_target,kubecfg,user/kubecfg.c user/util.c,-lyaml))

fuzz-build: $(FUZZ_BINS)
sanitize-build: $(SAN_BINS)

sanitize-test: deps
	$(MAKE) all sanitize-build
	tests/run.sh e2e_sanitizers

# Not part of `make test`: the long fuzzing runs (the CI-sized ones are in tests/run.sh).
# FUZZ_PACKETS packets through the packet fuzzer from FUZZ_SEED (default: a fresh one,
# printed so a failure can be replayed with FUZZ_SEED=...), then FUZZ_TIME seconds of
# each libFuzzer target (new inputs land in build/fuzz/corpus/, crashes in build/fuzz/).
FUZZ_PACKETS ?= 2000000
FUZZ_SEED    ?= $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
FUZZ_TIME    ?= 600
fuzz-long: deps
	$(MAKE) all fuzz-build
	XVIP_FUZZ_PACKETS=$(FUZZ_PACKETS) XVIP_FUZZ_SEED=$(FUZZ_SEED) $(BUILD)/tests/test_pktfuzz
	FUZZ_TIME=$(FUZZ_TIME) tests/e2e_fuzz_smoke.sh --long

clean:
	rm -rf $(BUILD)

# Kernel style at 100 columns (.clang-format); FORMAT_FILES are the files held to it.
FORMAT_FILES ?= $(wildcard user/*.c user/*.h)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)
