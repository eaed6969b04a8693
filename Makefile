# SPDX-License-Identifier: MIT
# ktlsgw: one non-recursive Makefile. build/ is the normal build, build-san/
# the same code under AddressSanitizer+UBSan (clang, plus libFuzzer targets).
# Quiet unless V=1.

VERSION := 0.1.0
BUILD ?= build
SAN ?= 0

ifeq ($(SAN),1)
CC := clang
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_OPT := -O1 $(SANFLAGS) -fsanitize=fuzzer-no-link
LDFLAGS_SAN := $(SANFLAGS)
else
CC ?= gcc
CFLAGS_OPT := -O2
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-missing-field-initializers
CFLAGS := -std=gnu11 $(CFLAGS_OPT) -g $(WARN) -MMD -MP -Iinclude -I$(BUILD) \
	-DKTLSGW_VERSION='"$(VERSION)"' -D_GNU_SOURCE $(EXTRA_CFLAGS)
LDLIBS := -lssl -lcrypto -luring -lbpf -lyaml -lpthread

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-7s %s\n' "$(1)" "$(2)";
endif

SRCS := $(wildcard src/*.c)
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/%.o,$(filter-out src/main.c,$(SRCS)))
TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
TEST_LIB_OBJS := $(patsubst tests/lib/%.c,$(BUILD)/tests/lib_%.o,$(wildcard tests/lib/*.c))
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/%,$(wildcard tests/fuzz/fuzz_*.c))

# Debian 12 packages: to build, to run the test suite, to run benchmarks.
DEPS_BUILD := gcc make libssl-dev liburing-dev libbpf-dev bpftool clang \
	libclang-rt-14-dev libyaml-dev
DEPS_TEST := openssl curl python3 python3-grpcio python3-yaml prometheus procps iproute2 \
	qemu-system-x86 busybox-static cpio kmod
DEPS_BENCH := haproxy nginx libnginx-mod-stream stunnel4 hitch gnuplot-nox

.PHONY: all deps deps-bench test run check-tests san fuzz lint clean bench bench-bins vm-test
all: deps $(BUILD)/ktlsgw

# Installs what is missing when root; otherwise prints the exact command.
deps:
	@missing=$$(for p in $(DEPS_BUILD) $(DEPS_TEST) $(DEPS_EXTRA); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	done | tr '\n' ' '); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "deps: installing $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
				apt-get install -y -qq --no-install-recommends $$missing >/dev/null || exit 1; \
		else \
			echo "deps: missing packages; run: sudo apt-get install -y $$missing"; exit 1; \
		fi; \
	fi

deps-bench:
	@$(MAKE) --no-print-directory deps DEPS_EXTRA="$(DEPS_BENCH)"

$(BUILD) $(BUILD)/tests:
	$(Q)mkdir -p $@

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# BPF object -> skeleton, seen only by src/ebpf.c. Built against the UAPI
# <linux/bpf.h> (sock_ops, cgroup_skb and sockopt contexts), no vmlinux.h.
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 | \
	sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/%.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror $(BPF_SYS_INCLUDES) \
		-Ibpf -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BUILD)/ebpf.o: $(BUILD)/conn_stats.skel.h

$(BUILD)/libktlsgw.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/ktlsgw: $(BUILD)/main.o $(BUILD)/libktlsgw.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/lib_%.o: tests/lib/%.c | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/lib -c $< -o $@

$(BUILD)/tests/test_%: tests/unit/test_%.c $(TEST_LIB_OBJS) $(BUILD)/libktlsgw.a
	$(call msg,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/lib $(LDFLAGS_SAN) -o $@ $< $(filter %.o %.a,$^) $(LDLIBS)

$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libktlsgw.a | $(BUILD)/tests
	$(call msg,FUZZ,$@)
	$(Q)$(CC) $(CFLAGS) -fsanitize=fuzzer $(LDFLAGS_SAN) -o $@ $< $(filter %.o %.a,$^) $(LDLIBS)

# kTLS VM test program (tests/vm/run.sh boots it in QEMU); not in the SAN build.
VM_TESTS := $(if $(filter 1,$(SAN)),,$(BUILD)/tests/vm_ktls_pair $(BUILD)/tests/vm_gw_peer)
$(BUILD)/tests/vm_%: tests/vm/%.c $(BUILD)/libktlsgw.a | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(filter %.o %.a,$^) $(LDLIBS)

# Benchmark tools (bench/): the load generator and the plaintext upstream.
BENCH_BINS := $(BUILD)/bench/loadgen $(BUILD)/bench/upstream $(BUILD)/bench/recbench
LOADGEN_SRCS := bench/loadgen.c bench/workload.c bench/lgtls.c bench/hist.c bench/procstat.c

$(BUILD)/bench:
	$(Q)mkdir -p $@

$(BUILD)/bench/loadgen: $(LOADGEN_SRCS) bench/lg.h bench/hist.h include/common.h | $(BUILD)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -Ibench $(LDFLAGS_SAN) -o $@ $(LOADGEN_SRCS) -lssl -lcrypto -lpthread

$(BUILD)/bench/upstream: bench/upstream.c | $(BUILD)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS_SAN) -o $@ $<

# Record layer micro-benchmark: tlsrec vs SSL_read/SSL_write (run by hand).
$(BUILD)/bench/recbench: bench/recbench.c $(BUILD)/libktlsgw.a | $(BUILD)/bench
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS_SAN) -o $@ $< $(BUILD)/libktlsgw.a $(LDLIBS)

bench-bins: $(BENCH_BINS)

# Peers side by side (HAProxy, nginx, stunnel, hitch): bench/results/<date>.md.
bench: deps-bench $(BUILD)/ktlsgw $(BENCH_BINS)
	@BUILD=$(BUILD) bash bench/run.sh

check-tests: $(BUILD)/ktlsgw $(TESTS) $(VM_TESTS) $(BENCH_BINS) $(if $(filter 1,$(SAN)),$(FUZZERS))

# Only the kTLS VM test (boots Debian's kernel under QEMU; see tests/vm/run.sh).
vm-test: $(BUILD)/tests/vm_ktls_pair $(BUILD)/tests/vm_gw_peer $(BUILD)/ktlsgw
	@BUILD=$(abspath $(BUILD)) tests/vm/run.sh

san:
	@$(MAKE) --no-print-directory BUILD=build-san SAN=1 check-tests

# The whole suite, twice: the normal build, then under ASan+UBSan.
test: deps
	@$(MAKE) --no-print-directory check-tests
	@$(MAKE) --no-print-directory san
	@tests/run.sh build build-san

# Demo certificates are made once, in conf/cert/ (git-ignored).
run: all
	@[ -f conf/cert/server.pem ] || $(BUILD)/ktlsgw cert gen --dir conf/cert --cn localhost
	$(BUILD)/ktlsgw run -c conf/ktlsgw.yaml

# Longer fuzzing than the smoke run in `make test`.
FUZZ_SECONDS ?= 300
fuzz: san
	@for f in build-san/tests/fuzz_*; do \
		FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/smoke.sh $$f || exit 1; done

lint:
	@tests/lint.sh

clean:
	rm -rf build build-san

.DELETE_ON_ERROR:
.SECONDARY:
-include $(wildcard $(BUILD)/*.d $(BUILD)/tests/*.d)
