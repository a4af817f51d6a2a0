# sirtbot build.  `make` builds bot/sirtbot; `make test` installs missing
# Debian packages, builds, runs every test and ends with "N passed, M failed";
# `make test SANITIZE=1` does the same under ASan+UBSan (objects in build/san).
CC      ?= gcc
PKGS    := libwebsockets libuv libcurl libcjson sqlite3 libpcre2-8 libpq
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
# pkg-config runs lazily, once, after scripts/install-deps.sh had its chance.
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS   = $(eval PKG_LIBS := $$(shell pkg-config --libs $(PKGS)))$(PKG_LIBS)

ifeq ($(SANITIZE),1)
BUILD   := build/san
OPT     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
BIN     := $(BUILD)/sirtbot
else
BUILD   := build/rel
OPT     := -O2 -g
BIN     := bot/sirtbot
endif

CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(WARN) -MMD -MP $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(OPT) $(LDFLAGS)

# bot/ is the platform, handlers/ the verbs and flows, app/main.c the
# composition root that wires them (docs/development.md "Layout").
BOT_SRCS  := $(wildcard bot/*.c) $(wildcard handlers/*.c)
# libfakes.a: the local fakes of Slack, PagerDuty and GitLab, the harness
# that runs the real bot against them, the report form's payloads and the
# tests' small helpers (test_util.c: the harness reads files with them); the
# tests, the benchmarks, `make torture` and `make demo` all link it.
FAKES_SRCS := $(wildcard tests/fakes/*.c) $(wildcard tests/harness*.c) tests/report_payloads.c tests/test_util.c
TEST_SRCS := $(filter-out $(FAKES_SRCS),$(wildcard tests/*.c))
BENCH_SRCS := $(wildcard tests/bench/*.c)
DEMO_SRCS := $(wildcard demo/*.c)
BOT_OBJS  := $(BOT_SRCS:%.c=$(BUILD)/%.o)
MAIN_OBJ  := $(BUILD)/app/main.o $(BUILD)/app/zones.o
FAKES_OBJS := $(FAKES_SRCS:%.c=$(BUILD)/%.o)
FAKES_LIB := $(BUILD)/libfakes.a
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o)
TEST_BIN  := $(BUILD)/run_tests
DEMO_OBJS := $(DEMO_SRCS:%.c=$(BUILD)/%.o)
DEMO_BIN  := $(BUILD)/sirt_demo


.PHONY: all deps test run clean bench valgrind tests-build torture demo check-layers
all: $(BIN)

deps:
	@scripts/install-deps.sh

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BIN): $(BOT_OBJS) $(MAIN_OBJ)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/libsirt.a: $(BOT_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(FAKES_LIB): $(FAKES_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(TEST_BIN): $(TEST_OBJS) $(FAKES_LIB) $(BUILD)/libsirt.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

$(DEMO_BIN): $(DEMO_OBJS) $(FAKES_LIB) $(BUILD)/libsirt.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

tests-build: $(BIN) $(TEST_BIN) $(DEMO_BIN)

# `make test` and `make valgrind` build in parallel: one job per CPU unless
# the command line gave -j.
NPROC = $(eval NPROC := $$(shell nproc 2>/dev/null || echo 2))$(NPROC)
PAR_MAKE = $(MAKE) --no-print-directory $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))

# The platform never includes the handlers: only app/main.c wires them.
# The handlers never see the app (they get struct hctx, bot/dispatch.h) nor
# a header of the platform's network side: their effects are outbox jobs.
LAYER_RE := ^[[:space:]]*\#[[:space:]]*include[[:space:]]*["<]([^">]*/)?handlers/
HANDLER_NET_RE := ^[[:space:]]*\#[[:space:]]*include[[:space:]]*["<]([^">]*/)?(app|http|slack_api|socket_mode|outbox(_state|_queue|_dispatch|_outcome)?|scheduler|router(_state)?|storeq|effects(_internal)?|health|check)\.h[">]
check-layers:
	@if grep -nE '$(LAYER_RE)' bot/*.c bot/*.h; then \
	  echo "check-layers: bot/ must not include handlers/ (pass tables in from app/main.c)"; exit 1; fi
	@if grep -nE '$(HANDLER_NET_RE)|struct[[:space:]]+sirt_app\b' handlers/*.c handlers/*.h; then \
	  echo "check-layers: handlers/ get struct hctx, never struct sirt_app or the network side (bot/app.h, outbox.h, ...)"; exit 1; fi

# TESTS="substr ..." runs a subset; TEST_JOBS=n tests at a time (default: four
# per CPU, two under valgrind; docs/development.md).
test: deps check-layers
	@$(PAR_MAKE) tests-build
	SIRT_PG_SERVER=$(abspath tests/pg/pg-server.sh) SIRTBOT_BIN=$(abspath $(BIN)) SIRT_DEMO_BIN=$(abspath $(DEMO_BIN)) \
	  $(TEST_BIN) $(TESTS)

# `make demo`: an S1 incident drill, the real bot against the local fakes
# (no tokens, no Slack workspace, nothing but 127.0.0.1), narrated as each
# person sees it.  The bot's own log goes to $(BUILD)/demo.log.
demo: deps
	@$(PAR_MAKE) $(BIN) $(DEMO_BIN)
	@SIRTBOT_BIN=$(abspath $(BIN)) $(DEMO_BIN) --log $(BUILD)/demo.log

run: $(BIN)
	./$(BIN)

valgrind: deps
	@$(PAR_MAKE) tests-build
	TEST_JOBS=$(or $(TEST_JOBS),2) TEST_TIMES=$(BUILD)/run_tests.valgrind.times SIRTBOT_WRAPPER="valgrind --quiet --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect" \
	SIRT_PG_SERVER=$(abspath tests/pg/pg-server.sh) SIRTBOT_BIN=$(abspath $(BIN)) SIRT_DEMO_BIN=$(abspath $(DEMO_BIN)) \
	  $(TEST_BIN) $(or $(TESTS),e2e_)

clean:
	rm -rf build bot/sirtbot

-include $(BOT_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(FAKES_OBJS:.o=.d) $(TEST_OBJS:.o=.d) $(DEMO_OBJS:.o=.d) \
         $(BENCH_SRCS:%.c=$(BUILD)/%.d) $(BUILD)/tests/torture/torture_report.d

BENCH_COMMON := $(FAKES_LIB)
$(BUILD)/bench_ack: $(BUILD)/tests/bench/bench_ack.o $(BENCH_COMMON) $(BUILD)/libsirt.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm
$(BUILD)/bench_report: $(BUILD)/tests/bench/bench_report.o $(BENCH_COMMON) $(BUILD)/libsirt.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/bench_reply: $(BUILD)/tests/bench/bench_reply.o $(BENCH_COMMON) $(BUILD)/libsirt.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

$(BUILD)/bench_mask: $(BUILD)/tests/bench/bench_mask.o $(BUILD)/libsirt.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

# `make torture`: 50 SIGKILLs at random moments of the report flow (not in
# `make test`; a few minutes).  TORTURE_KILLS=n for more, TORTURE_SEED=n to repeat.
$(BUILD)/torture_report: $(BUILD)/tests/torture/torture_report.o $(BENCH_COMMON) $(BUILD)/libsirt.a
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lm

torture: deps
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/torture_report
	SIRTBOT_BIN=$(abspath $(BIN)) $(BUILD)/torture_report $(or $(TORTURE_KILLS),50) 2>$(BUILD)/torture.log \
	  || { echo "bot logs: $(BUILD)/torture.log"; exit 1; }

bench: deps
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/bench_ack $(BUILD)/bench_report $(BUILD)/bench_mask $(BUILD)/bench_reply
	scripts/bench

# ---- fuzzing: clang + libFuzzer (README "Fuzzing") ----
# Project objects are built again with clang in build/fuzz (coverage
# instrumentation, ASan+UBSan, no main()); each fuzz/fuzz_<name>.c links into
# build/fuzz/fuzz_<name>.  `make fuzz` builds them all and runs each for
# FUZZ_SECONDS (default 60) on a scratch corpus seeded from fuzz/corpus/<name>.
FUZZ_CC      ?= clang-14
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS   = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN) \
                $(WARN) -MMD -MP $(PKG_CFLAGS)
FUZZ_NAMES   := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_LIBOBJS := $(BOT_SRCS:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_SECONDS ?= 60

.PHONY: fuzz fuzz-build fuzz-bins
$(FUZZ_BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libsirt.a: $(FUZZ_LIBOBJS)
	@rm -f $@
	@ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/fuzz/fuzz_%.o $(FUZZ_BUILD)/libsirt.a
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) -g -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS) -lm

fuzz-bins: $(FUZZ_BINS)
	@:

fuzz-build: deps
	@$(MAKE) --no-print-directory fuzz-bins

# FUZZ="name ..." runs a subset.
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) fuzz/run $(or $(FUZZ),$(FUZZ_NAMES))

.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%.o)
-include $(FUZZ_LIBOBJS:.o=.d) $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz/fuzz_%.d)
