# tether - plain Makefile (see README.md). Variants: BUILD=debug|release|asan|tsan|fuzz.
# `make` builds build/$(BUILD)/tether and links build/tether to it.

BUILD   ?= release
O       ?= build/$(BUILD)
PKGS    := libuv libcurl libcjson yaml-0.1 libpcre2-8
LLHTTP_SRC   ?= /usr/share/llhttp
LLHTTP_INC   ?= /usr/share/include/llhttp
MBEDTLS_LIBS ?= -lmbedtls -lmbedx509 -lmbedcrypto   # Debian 12 ships no mbedtls.pc

CC      ?= cc
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
           -Wundef -Wpointer-arith -Wimplicit-fallthrough
BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE -g -Ilib -I$(LLHTTP_INC) -MMD -MP \
               $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null) $(MBEDTLS_LIBS) -pthread -lm

ifeq ($(BUILD),debug)
VFLAGS := -O0
else ifeq ($(BUILD),release)
VFLAGS := -O2 -DNDEBUG
else ifeq ($(BUILD),asan)
VFLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
VLDFLAGS := -fsanitize=address,undefined
else ifeq ($(BUILD),tsan)
VFLAGS := -O1 -fsanitize=thread -fno-omit-frame-pointer
VLDFLAGS := -fsanitize=thread
else ifeq ($(BUILD),fuzz)
CC := clang
VFLAGS := -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
VLDFLAGS := -fsanitize=address,undefined
else
$(error unknown BUILD=$(BUILD))
endif
ifeq ($(WERROR),1)
WARN += -Werror
endif

CFLAGS_ALL := $(BASE_CFLAGS) $(VFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(VLDFLAGS) $(LDFLAGS)

LIB_SRCS    := $(sort $(wildcard lib/*/*.c))
LIB_OBJS    := $(LIB_SRCS:%.c=$(O)/%.o)
LLHTTP_OBJS := $(O)/llhttp/llhttp.o $(O)/llhttp/api.o $(O)/llhttp/http.o
LIBTETHER   := $(O)/libtether.a
BIN         := $(O)/tether

UNIT_SRCS   := $(sort $(wildcard test/unit/*/test_*.c))
UNIT_BINS   := $(UNIT_SRCS:%.c=$(O)/%)
FUZZ_SRCS   := $(sort $(wildcard test/fuzz/fuzz_*.c))
FUZZ_REPLAY := $(FUZZ_SRCS:test/fuzz/%.c=$(O)/test/fuzz/%-replay)
FUZZ_BINS   := $(FUZZ_SRCS:test/fuzz/%.c=$(O)/test/fuzz/%)

.PHONY: all deps test check unit e2e browser fuzz-replay fuzz lint check-headers demo bench clean asan-e2e
all: build/tether

build/tether: $(BIN) FORCE
	ln -sfn $(patsubst build/%,%,$(BIN)) $@

# Any change of flags rebuilds everything (haproxy .build_opts idea).
$(O)/.flags: FORCE
	@mkdir -p $(O)
	@echo '$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL)' | cmp -s - $@ || echo '$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL)' > $@
FORCE:

$(O)/lib/%.o: lib/%.c $(O)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -c $< -o $@

$(O)/cmd/%.o: cmd/%.c $(O)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -c $< -o $@

# llhttp from Debian's node-llhttp sources, strict mode: no lenient parsing in a proxy.
$(O)/llhttp/%.o: $(LLHTTP_SRC)/%.c $(O)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DLLHTTP_STRICT_MODE=1 -w -c $< -o $@

$(LIBTETHER): $(LIB_OBJS) $(LLHTTP_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(O)/cmd/tether/main.o $(LIBTETHER)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

$(O)/test/unit/%: test/unit/%.c $(LIBTETHER)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -Wno-missing-prototypes -Itest $(shell pkg-config --cflags cmocka) \
		$(LDFLAGS_ALL) -o $@ $< $(LIBTETHER) $(shell pkg-config --libs cmocka) $(LDLIBS)

# Every fuzz target also links a replay main, so gcc builds run the corpora in `make test`.
$(O)/test/fuzz/%-replay: test/fuzz/%.c test/fuzz/replay_main.c $(LIBTETHER)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(WARN) -Wno-missing-prototypes -o $@ $< test/fuzz/replay_main.c $(LIBTETHER) $(LDFLAGS_ALL) $(LDLIBS)

$(O)/test/fuzz/%: test/fuzz/%.c $(LIBTETHER)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $< $(LIBTETHER) $(LDFLAGS_ALL) $(LDLIBS)

deps:
	@scripts/deps.sh

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

fuzz-replay: $(FUZZ_REPLAY)
	@for f in $(FUZZ_REPLAY); do t=$$(basename $$f -replay); t=$${t#fuzz_}; \
		$$f test/fuzz/corpus/$$t || exit 1; done

e2e: build/tether
	cd test && TETHER_BIN=$(CURDIR)/$(BIN) node --test --test-concurrency=1 e2e/

# Issue #4 in headless Chromium (playwright-core); TT_NO_BROWSER=1 skips it.
browser: build/tether
	cd test && TETHER_BIN=$(CURDIR)/$(BIN) node --test --test-concurrency=1 browser/

# make test: what CI runs. Installs what is missing, then unit tests and fuzz corpora in the
# asan build, the end-to-end suite against both the release and the asan binary, and the
# browser test against the release binary.
test: deps
	$(MAKE) BUILD=asan unit fuzz-replay
	$(MAKE) BUILD=release e2e
	$(MAKE) BUILD=release browser
	$(MAKE) BUILD=asan asan-e2e

asan-e2e: $(BIN)
	cd test && TETHER_BIN=$(CURDIR)/$(BIN) TT_TEST_SLOW=1 node --test --test-concurrency=1 e2e/

check: unit fuzz-replay

fuzz: BUILD=fuzz
fuzz:
	$(MAKE) BUILD=fuzz $(FUZZ_BINS)

check-headers:
	@for h in $$(find lib -name '*.h'); do echo "#include \"$${h#lib/}\"" | \
		$(CC) $(BASE_CFLAGS) $(WARN) -x c -fsyntax-only - || exit 1; done; echo headers ok

# Layering: k8s never sees libuv; proxy never sees libcurl or cJSON; raw libc allocators banned.
lint:
	@! grep -rn '#include <uv.h>' lib/k8s lib/control lib/route lib/model lib/http lib/base || (echo 'layering: uv.h outside proxy'; exit 1)
	@! grep -rnE '#include <(curl/curl.h|cJSON.h)>' lib/proxy lib/route lib/http || (echo 'layering: curl/cJSON in data plane'; exit 1)
	@! grep -rnE '\b(malloc|calloc|realloc|strdup|free|sprintf|strcpy|atoi)\(' lib cmd --include=*.c | grep -v 'lib/base/alloc.c' || (echo 'lint: use tt_ allocators / safe string functions'; exit 1)
	@echo lint ok

demo: deps build/tether
	scripts/demo.sh

bench: deps build/tether
	bench/run.sh

bench-rebuild: build/tether
	TETHER_BIN=$(CURDIR)/build/tether node bench/rebuild.mjs

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
