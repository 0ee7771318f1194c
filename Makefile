# bookrec build. GNU Make + pkg-config.
#   make                 build build/bookrec
#   make run             install deps, build, import (real or synthetic data), train, publish,
#                        then serve the API and web UI on http://localhost:8080
#   make test            install deps, build, unit tests, fuzz-corpus replay, integration tests,
#                        browser tests of the web UI (make e2e)
#   make screenshots     docs/screenshots/ from a real browser
#   make unit            unit tests only
#   make fuzz FUZZ=csv   run one libFuzzer driver (clang) for FUZZ_SECONDS (default 60)
#   make bench-import    import throughput and peak memory (bench/import.md)
#   make bench-quality   train + evaluate every model on the real data (bench/quality.md)
#   make bench-ann       HNSW vs hnswlib vs FAISS (bench/ann.md); bench-ann-large: 1M x 64
#   make bench-services  each model service's endpoints over HTTP (bench/services.md)
#   make bench-pipeline  the daily pipeline's steps on the real data (bench/pipeline.md)
#   make bench-serving   wrk against the gateway and the FastAPI baseline (bench/serving.md)
#   make build/bench-X   any bench/X.c benchmark program, linked with the library
# Switches: SANITIZER=address|undefined|thread (also "address,undefined"), NO_OMP=1,
#           WERROR=1 (CI sets it), CC=clang.

CC ?= cc
PKGS := sqlite3 jansson libxxhash openblas lapacke libmicrohttpd libcurl libsodium
SANITIZER ?=
BUILD ?= build$(if $(SANITIZER),-$(subst $(comma),-,$(SANITIZER)))
comma := ,

WARN := -Wall -Wextra -Wstrict-prototypes -Werror=implicit-function-declaration \
        -Wshadow -Wno-unused-parameter
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Iinclude -MMD -MP \
              $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread
ifneq ($(WERROR),)
ALL_CFLAGS += -Werror
endif
ifeq ($(NO_OMP),)
ALL_CFLAGS += -fopenmp
LDLIBS += -fopenmp
else
ALL_CFLAGS += -Wno-unknown-pragmas # the OpenMP pragmas are meant to be ignored then
endif
ifneq ($(findstring thread,$(SANITIZER)),)
# ifunc resolvers (function multi-versioning) run before the TSan runtime is up and crash.
ALL_CFLAGS += -DBR_NO_CLONES
endif
ifneq ($(SANITIZER),)
ALL_CFLAGS += -fsanitize=$(SANITIZER) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDLIBS += -fsanitize=$(SANITIZER)
endif

LIB_SRC := $(sort $(wildcard lib/*/*.c))
SERVER_SRC := $(sort $(wildcard server/*.c))
CLI_SRC := $(sort $(wildcard cli/*.c))
TEST_SRC := tests/unit/main.c $(sort $(wildcard tests/unit/*/*.c))
LOAD_SRC := $(sort $(wildcard tests/load/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
MIGRATIONS := $(sort $(wildcard lib/store/migrations/*.sql))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/migrations.o
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/openapi.o
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)

BIN := $(BUILD)/bookrec
LIBA := $(BUILD)/libbookrec.a
SERVERA := $(BUILD)/libbookrec-server.a
LOADGEN := $(BUILD)/loadgen
UNIT := $(BUILD)/unit-tests

.PHONY: all deps run test unit fuzz-replay integration fuzz bench-import bench-quality bench-ann \
        bench-ann-large bench-services bench-serving bench-pipeline e2e screenshots clean format
all: $(BIN)

deps:
	@bash scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Migrations are embedded in the binary: one C array per .sql file.
$(BUILD)/gen/migrations.c: $(MIGRATIONS) scripts/embed_migrations.sh
	@mkdir -p $(dir $@)
	bash scripts/embed_migrations.sh $(MIGRATIONS) > $@

$(BUILD)/obj/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The OpenAPI document is served by the gateway from the binary.
$(BUILD)/gen/openapi.c: docs/api/openapi.json scripts/embed_file.sh
	@mkdir -p $(dir $@)
	bash scripts/embed_file.sh br__openapi_json docs/api/openapi.json > $@

$(BUILD)/obj/openapi.o: $(BUILD)/gen/openapi.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# The server composes the library; the library never links the server.
$(SERVERA): $(SERVER_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CLI_OBJ) $(SERVERA) $(LIBA)
	$(CC) -o $@ $(CLI_OBJ) $(SERVERA) $(LIBA) $(LDLIBS)

$(UNIT): $(TEST_OBJ) $(SERVERA) $(LIBA)
	$(CC) -o $@ $(TEST_OBJ) $(SERVERA) $(LIBA) $(LDLIBS)

# Load generator for the services (tests/load/): a client of the server library.
$(LOADGEN): $(LOAD_SRC) $(SERVERA) $(LIBA)
	$(CC) $(ALL_CFLAGS) -Iserver -o $@ $(LOAD_SRC) $(SERVERA) $(LIBA) $(LDLIBS)

$(BUILD)/obj/tests/%.o: ALL_CFLAGS += -Itests -Iserver
$(BUILD)/obj/server/%.o: ALL_CFLAGS += -Iserver
$(BUILD)/obj/cli/%.o: ALL_CFLAGS += -Iserver

# Each fuzz driver also links with a replay main, so its corpus runs under gcc.
$(BUILD)/fuzz-replay-%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(SERVERA) $(LIBA)
	$(CC) $(ALL_CFLAGS) -Itests -Iserver -o $@ tests/fuzz/fuzz_$*.c tests/fuzz/replay.c \
	    $(SERVERA) $(LIBA) $(LDLIBS)

unit: $(UNIT)
	$(UNIT)

fuzz-replay: $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay-%)
	@for f in $(FUZZ_NAMES); do $(BUILD)/fuzz-replay-$$f tests/fuzz/corpus/$$f || exit 1; done

integration: $(BIN) $(LOADGEN)
	BOOKREC_BIN=$(abspath $(BIN)) BOOKREC_LOADGEN=$(abspath $(LOADGEN)) \
	    /usr/bin/python3 -m pytest -q tests/integration

test: deps
	$(MAKE) unit
	$(MAKE) fuzz-replay
	$(MAKE) integration
	$(MAKE) e2e

# The web UI in a real browser (Debian chromium driven by playwright-core) against the
# real server on the real data (tests/e2e/run.sh; the built data is kept in var/e2e).
e2e: $(BIN)
	BOOKREC_BIN=$(abspath $(BIN)) bash tests/e2e/run.sh

# docs/screenshots/: each page, phone and desktop.
screenshots: $(BIN)
	BOOKREC_BIN=$(abspath $(BIN)) bash tests/e2e/run.sh screenshots

# Coverage-guided fuzzing with clang's libFuzzer (not part of make test).
FUZZ ?= csv
FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang NO_OMP=1 SANITIZER=fuzzer-no-link,address,undefined \
	    build-fuzz/libbookrec.a build-fuzz/libbookrec-server.a
	clang -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Itests -Iserver $(shell pkg-config --cflags $(PKGS)) \
	    -fsanitize=fuzzer,address,undefined -o build-fuzz/fuzz-$(FUZZ) tests/fuzz/fuzz_$(FUZZ).c \
	    build-fuzz/libbookrec-server.a build-fuzz/libbookrec.a $(shell pkg-config --libs $(PKGS)) \
	    -lm -lpthread
	@mkdir -p tests/fuzz/crashes build-fuzz/corpus-$(FUZZ)
	build-fuzz/fuzz-$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=tests/fuzz/crashes/ \
	    -max_len=4096 -print_final_stats=0 build-fuzz/corpus-$(FUZZ) tests/fuzz/corpus/$(FUZZ) \
	    2> build-fuzz/fuzz-$(FUZZ).log || { tail -40 build-fuzz/fuzz-$(FUZZ).log; exit 1; }
	@tail -2 build-fuzz/fuzz-$(FUZZ).log

run: deps
	$(MAKE) all
	bash scripts/run.sh

bench-import: $(BIN)
	bash bench/import.sh

# Benchmark programs: bench/NAME.c -> $(BUILD)/bench-NAME.
$(BUILD)/bench-%: bench/%.c $(LIBA)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

bench-quality: deps $(BIN)
	bash bench/quality.sh

bench-ann: deps $(BIN) $(BUILD)/bench-ann
	BENCH_BIN=$(BUILD)/bench-ann bash bench/ann.sh

bench-serving: deps $(BIN) $(LOADGEN)
	bash scripts/deps.sh wrk curl python3-fastapi python3-uvicorn python3-faiss python3-uvloop \
	    python3-httptools
	BOOKREC_BIN=$(abspath $(BIN)) bash bench/serving.sh

bench-pipeline: deps $(BIN)
	BOOKREC_BIN=$(abspath $(BIN)) bash bench/pipeline.sh

bench-services: deps $(BIN) $(LOADGEN)
	BOOKREC_BIN=$(abspath $(BIN)) BOOKREC_LOADGEN=$(abspath $(LOADGEN)) bash bench/services.sh

bench-ann-large: deps $(BIN) $(BUILD)/bench-ann
	BENCH_BIN=$(BUILD)/bench-ann bash bench/ann.sh --large

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-*

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
