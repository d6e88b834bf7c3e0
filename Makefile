# flick: one Makefile. `make` builds build/flickd; `make run` and `make test` are the two
# commands of the README; objects live under build/ (build-asan/ for the sanitizer build).

CC       ?= cc
BUILD    ?= build
PKGS     := libpq hiredis libevent libevent_pthreads jansson libsodium libcurl \
            libavformat libavcodec libavutil libswscale libwebp libwebpmux libwebpdemux freetype2
OPT      ?= -O2
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Werror -D_GNU_SOURCE -I. -pthread \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lunistring -lpthread -lm

MODULES  := core feed ranking media api
SRCS     := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
MAIN     := api/main.c
LIBSRCS  := $(filter-out $(MAIN),$(SRCS))
LIBOBJS  := $(LIBSRCS:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libflick.a

UNIT_SRCS  := $(wildcard tests/unit/*/*.c)
UNIT_BINS  := $(UNIT_SRCS:%.c=$(BUILD)/%)
INTEG_SRCS := $(wildcard tests/integration/*.c)
INTEG_BINS := $(INTEG_SRCS:%.c=$(BUILD)/%)
TOOL_SRCS  := $(wildcard tests/tools/*.c bench/*.c)
TOOL_BINS  := $(TOOL_SRCS:%.c=$(BUILD)/%)

.PHONY: all deps run test test-only asan bench fuzz clean tests

all: $(BUILD)/flickd

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIBOBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/flickd: $(BUILD)/api/main.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Tools that tests run (fixtures, fake peers) are programs, not Criterion suites.
$(BUILD)/tests/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDLIBS) -lcriterion

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(LIB) $(LDLIBS)

tests: $(BUILD)/flickd $(UNIT_BINS) $(INTEG_BINS) $(TOOL_BINS)

deps:
	@bash scripts/deps.sh

run:
	@bash scripts/deps.sh run
	@$(MAKE) --no-print-directory all
	@bash scripts/run.sh

ASAN_OPT := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all

# Every suite, first against the normal build, then against the sanitizer build.
test: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="$(ASAN_OPT)" tests
	@bash scripts/test.sh build build-asan

test-only:
	@bash scripts/test.sh build

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="$(ASAN_OPT)" tests
	@bash scripts/test.sh build-asan

bench: deps
	@$(MAKE) --no-print-directory tests
	@bash bench/run.sh && bash bench/media.sh && bash bench/feed.sh

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
