# posthorn — GNU make. `make run` and `make test` are the two commands the
# README promises; both install missing Debian packages first (see deps).

PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build
CC       ?= cc
PYTHON   ?= /usr/bin/python3
FUZZ_SECONDS ?= 30

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
CSTD     := -std=c17 -D_GNU_SOURCE
OPT      ?= -O2 -g
SAN      ?=
CFLAGS   += $(CSTD) $(WARN) $(OPT) $(SAN) -MMD -MP
LDFLAGS  += $(SAN)

# make test builds a separate sanitizer tree so ordinary builds stay fast.
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SANBUILD := $(BUILD)/san

# Everything but the programs' own files goes into one archive; each program
# links only what it uses from it.
LIB_SRC    := $(sort $(foreach d,lib msg auth store smtp pop3,$(wildcard src/$(d)/*.c)))
CLIENT_SRC := $(sort $(wildcard src/client/*.c))
DAEMON_SRC := $(sort $(wildcard src/daemon/*.c))
CTL_SRC    := $(sort $(wildcard src/ctl/*.c))
SENDMAIL_SRC := $(sort $(wildcard src/sendmail/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test-*.c))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz-*.c))
BENCH_SRC  := $(sort $(wildcard bench/*.c))

LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLIENT_OBJ := $(CLIENT_SRC:%.c=$(BUILD)/obj/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/obj/%.o)
CTL_OBJ    := $(CTL_SRC:%.c=$(BUILD)/obj/%.o)
SENDMAIL_OBJ := $(SENDMAIL_SRC:%.c=$(BUILD)/obj/%.o)
LIBA       := $(BUILD)/libposthorn.a
PROGS      := $(BUILD)/posthorn $(if $(DAEMON_SRC),$(BUILD)/posthornd) $(if $(CTL_SRC),$(BUILD)/posthornctl) \
              $(if $(SENDMAIL_SRC),$(BUILD)/posthorn-sendmail)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The fuzz harnesses, built with a plain main() that replays files, so make
# test proves every harness builds and survives its seed corpus.
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/replay/%)

LIBS       := -lmagic -lresolv -levent_openssl -levent_pthreads -levent -lssl -lcrypto -lcrypt -lpthread

.PHONY: all deps test unit it lint run demo bench fuzz install install-sendmail-link clean help
.DEFAULT_GOAL := all

all: $(PROGS)

help:
	@echo "targets: all deps test unit it run bench fuzz install clean"
	@echo "  make run    build and demonstrate on a sample message"
	@echo "  make test   build with ASan+UBSan, run unit, fuzz-replay and pytest suites"

deps:
	@scripts/deps.sh build test

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/posthorn: $(CLIENT_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/posthornd: $(DAEMON_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/posthornctl: $(CTL_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/posthorn-sendmail: $(SENDMAIL_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testlib.h $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(LIBA) $(LDFLAGS) $$(pkg-config --libs cmocka) $(LIBS)

$(BUILD)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIBA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -o $@ $< tests/fuzz/replay.c $(LIBA) $(LDFLAGS) $(LIBS)

unit-build: $(UNIT_BIN) $(REPLAY_BIN) $(PROGS)

# Layering (STYLE.md): lib includes nothing of ours, msg only lib, auth and
# store only lib and msg, protocol folders never each other.
lint:
	@scripts/layers.sh

test:
	@scripts/deps.sh --check build test || scripts/deps.sh build test
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory BUILD=$(SANBUILD) SAN="$(SANFLAGS)" OPT="-O1 -g" unit-build
	@$(MAKE) --no-print-directory BUILD=$(SANBUILD) unit-run replay-run
	@$(MAKE) --no-print-directory BUILD=$(SANBUILD) it

export ASAN_OPTIONS := abort_on_error=1:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS := halt_on_error=1:print_stacktrace=1

unit-run:
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

replay-run:
	@set -e; for r in $(REPLAY_BIN); do \
		name=$${r##*/fuzz-}; dir=tests/fuzz/seeds/$$name; \
		echo "== $$r $$dir"; $$r $$dir; done

it:
	POSTHORN_BIN=$(abspath $(BUILD)/posthorn) POSTHORN_BUILD=$(abspath $(BUILD)) \
		$(PYTHON) -m pytest -q -p no:cacheprovider tests/it

run:
	@scripts/deps.sh --check build || scripts/deps.sh build
	@$(MAKE) --no-print-directory all
	@scripts/run.sh $(BUILD)

# The message commands on a sample message (what make run did before the
# server existed).
demo: all
	@scripts/demo.sh $(BUILD)/posthorn

# libFuzzer harnesses (clang): each runs FUZZ_SECONDS on its seeds.
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_CFLAGS := -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined

$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(LIBS)

fuzz:
	@scripts/deps.sh --check build fuzz || scripts/deps.sh build fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do name=$${f##*/fuzz-}; \
		mkdir -p $(BUILD)/fuzz/corpus-$$name; \
		echo "== fuzzing $$name for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		    $$( [ -f tests/fuzz/$$name.dict ] && echo -dict=tests/fuzz/$$name.dict ) \
		    $(BUILD)/fuzz/corpus-$$name tests/fuzz/seeds/$$name; done

bench:
	@scripts/deps.sh --check build bench || scripts/deps.sh build bench
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -f bench/bench.mk BUILD=$(BUILD) run

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(BUILD)/posthorn $(DESTDIR)$(PREFIX)/bin/posthorn
	install -m 644 doc/posthorn.1 $(DESTDIR)$(PREFIX)/share/man/man1/posthorn.1
	for p in posthornd posthornctl posthorn-sendmail; do \
		[ ! -x $(BUILD)/$$p ] || install -m 755 $(BUILD)/$$p $(DESTDIR)$(PREFIX)/sbin/$$p; \
		[ ! -f doc/$$p.8 ] || install -m 644 doc/$$p.8 $(DESTDIR)$(PREFIX)/share/man/man8/$$p.8; \
	done

# Optional: make posthorn-sendmail the system's /usr/sbin/sendmail (what
# cron, mutt and scripts call). An existing non-link sendmail is kept.
install-sendmail-link: install
	install -d $(DESTDIR)/usr/sbin
	@if [ -e $(DESTDIR)/usr/sbin/sendmail ] && [ ! -L $(DESTDIR)/usr/sbin/sendmail ]; then \
		echo "$(DESTDIR)/usr/sbin/sendmail exists and is not a symlink: left alone"; exit 1; fi
	ln -sf $(PREFIX)/sbin/posthorn-sendmail $(DESTDIR)/usr/sbin/sendmail

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(CLIENT_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(CTL_OBJ:.o=.d) \
	$(SENDMAIL_OBJ:.o=.d)
