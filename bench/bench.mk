# bench.mk — the benchmarks, called by the main Makefile's `bench` target
# after it has built $(BUILD)/libposthorn.a:
#     make -f bench/bench.mk BUILD=build run
# Benchmarks print figures; they never fail a build on a number.
# MSGBENCH_FLAGS=--quick gives a smoke run of a few seconds,
# SMTPBENCH_FLAGS=--quick one of about half a minute, POP3BENCH_FLAGS=--quick
# one of a few seconds.
# run-msg: message library vs GMime (msgbench, needs only the library).
# run-smtp: posthornd vs a private Postfix, loaded by smtp-source (needs
# $(BUILD)/posthornd and posthornctl, the Debian package postfix, root).
# run-pop3: posthornd vs a private Dovecot serving the same Maildir, loaded
# by pop3load (needs $(BUILD)/posthornd and posthornctl, the Debian package
# dovecot-pop3d, root).

BUILD    ?= build
CC       ?= cc
LIBA     := $(BUILD)/libposthorn.a
BENCHDIR := $(BUILD)/bench

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
# GLib's headers are included as system headers so our warnings stay on
# without judging theirs.
GMIME_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags gmime-3.0))
GMIME_LIBS   := $(shell pkg-config --libs gmime-3.0)
BENCH_CFLAGS := -std=c17 -D_GNU_SOURCE -O2 -g $(WARN) -MMD -MP

MSGBENCH       := $(BENCHDIR)/msgbench
MSGBENCH_OBJ   := $(BENCHDIR)/msgbench.o $(BENCHDIR)/gen.o
MSGBENCH_FLAGS ?=

POP3LOAD        := $(BENCHDIR)/pop3load

PYTHON          ?= /usr/bin/python3
SMTPBENCH_FLAGS ?=
POP3BENCH_FLAGS ?=

.PHONY: all run run-msg run-smtp run-pop3 lib clean
# Two benchmarks at once would measure each other.
.NOTPARALLEL:

all: $(MSGBENCH) $(POP3LOAD)

run: run-msg run-smtp run-pop3

run-msg: $(MSGBENCH)
	$(MSGBENCH) $(MSGBENCH_FLAGS) --json $(BENCHDIR)/msg.json

run-smtp:
	@mkdir -p $(BENCHDIR)
	$(PYTHON) bench/smtpbench.py --build $(BUILD) $(SMTPBENCH_FLAGS) --json $(BENCHDIR)/smtp.json

run-pop3: $(POP3LOAD)
	$(PYTHON) bench/pop3bench.py --build $(BUILD) $(POP3BENCH_FLAGS) --json $(BENCHDIR)/pop3.json

# The library comes from the main Makefile (normally already built by
# `make bench`); this only fills it in when bench.mk runs on its own.
lib:
	@$(MAKE) --no-print-directory -f Makefile BUILD=$(BUILD) $(LIBA)

$(LIBA): lib

$(BENCHDIR)/%.o: bench/%.c
	@mkdir -p $(BENCHDIR)
	$(CC) $(BENCH_CFLAGS) $(GMIME_CFLAGS) -c -o $@ $<

$(MSGBENCH): $(MSGBENCH_OBJ) $(LIBA)
	$(CC) -o $@ $(MSGBENCH_OBJ) $(LIBA) $(GMIME_LIBS) -lm

# The POP3 load generator: plain sockets, no library of ours or anyone's.
$(POP3LOAD): bench/pop3load.c
	@mkdir -p $(BENCHDIR)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

clean:
	rm -rf $(BENCHDIR)

-include $(MSGBENCH_OBJ:.o=.d) $(POP3LOAD).d
