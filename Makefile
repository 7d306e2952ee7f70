# baton — see README.md.  `make` builds build/baton.
#
#   make                 build build/baton (warnings are errors)
#   make SANITIZE=1      build build/san/baton with ASan + UBSan
#   make check           unit + CLI tests, normal and sanitizer builds
#   make demo            a guided tour on a temporary database
#   make deps            install missing Debian -dev packages (or say how)
#   make install         PREFIX=/usr/local DESTDIR=
#   make format-check    clang-format --dry-run over the sources
#   make long-functions  functions over 80 lines and why each stays
#   make bench           bench/run: performance against the spawn floor
#   make fuzz            libFuzzer harnesses, FUZZ_SECONDS (60) each
#   make oom             every command of tests/oom/ with each allocation failing

VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
CC ?= cc
PKGS := sqlite3 uuid yaml-0.1 jansson

ifeq ($(SANITIZE),1)
B := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
OPT := -O1 -g
else
B := build
SANFLAGS :=
OPT := -O2 -g
endif

# The libFuzzer harnesses of tests/fuzz/ (clang only), in build/fuzz.
ifeq ($(FUZZ),1)
B := build/fuzz
CC := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
OPT := -O1 -g
endif
FUZZ_SECONDS ?= 60

WARN := -Wall -Wextra -Wpedantic -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wwrite-strings -Wvla
ifneq ($(WERROR),0)
WARN += -Werror
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The PostgreSQL store (db/postgres/) when libpq is there; POSTGRES=0
# builds without it (--db postgres://... is then a clear error).  libpq
# is loaded when a PostgreSQL store is opened (db/postgres/libpq.c), not
# linked: SQLite users do not map it and the twenty libraries it needs.
ifneq ($(POSTGRES),0)
PG_LIBS := $(shell pkg-config --libs libpq 2>/dev/null)
endif
ifneq ($(PG_LIBS),)
PG_SRCS := $(wildcard db/postgres/*.c)
PG_OBJS := $(PG_SRCS:%.c=$(B)/%.o) $(B)/db/pg-schema-sql.o
PKG_CFLAGS += $(shell pkg-config --cflags libpq 2>/dev/null)
PKG_LIBS += -ldl
CPPFLAGS += -DBATON_POSTGRES
endif

CPPFLAGS += -I. -D_XOPEN_SOURCE=700 -DBATON_VERSION='"$(VERSION)"'
CFLAGS ?= $(OPT)
ALL_CFLAGS = -std=c11 $(WARN) $(SANFLAGS) $(PKG_CFLAGS) $(CFLAGS) -pthread
LDLIBS += $(PKG_LIBS) -pthread

LIB_SRCS := $(wildcard lib/*.c) $(wildcard core/*.c) $(wildcard agents/*.c) $(wildcard db/*.c) $(wildcard db/sqlite/*.c) \
	$(filter-out cmd/main.c,$(wildcard cmd/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o) $(B)/db/schema-sql.o $(PG_OBJS)
UNIT_SRCS := $(wildcard tests/unit/t-*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
HDRS := $(wildcard lib/*.h core/*.h agents/*.h db/*.h db/sqlite/*.h db/postgres/*.h cmd/*.h)

.PHONY: all clean check unit deps demo install format format-check bench need-deps \
	long-functions fuzz fuzz-build oom

all: $(B)/baton $(B)/tests/fake-helpers $(B)/tests/oom-shim.so

$(B)/baton: $(B)/cmd/main.o $(B)/libbaton.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDFLAGS) $(LDLIBS)

# A missing -dev package is named before the compiler trips on its
# header: "run make deps", not "jansson.h: No such file or directory".
need-deps:
	@missing=; for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || \
		missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "baton: missing build dependencies (pkg-config:$$missing); run make deps" >&2; \
		exit 1; fi

$(B)/libbaton.a: $(LIB_OBJS)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

# V=1 shows the whole compiler command lines.
ifeq ($(V),1)
Q :=
else
Q := @
endif

$(B)/%.o: %.c $(HDRS) | need-deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# The schema is kept as plain SQL and compiled in as a C string.
$(B)/db/schema-sql.c: db/sqlite/schema.sql db/sqlite/embed.awk
	@mkdir -p $(@D)
	$(Q)awk -v name=baton_schema_sql -f db/sqlite/embed.awk db/sqlite/schema.sql > $@

$(B)/db/schema-sql.o: $(B)/db/schema-sql.c
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Wno-overlength-strings -c -o $@ $<

$(B)/db/pg-schema-sql.c: db/postgres/schema.sql db/sqlite/embed.awk
	@mkdir -p $(@D)
	$(Q)awk -v name=baton_pg_schema_sql -f db/sqlite/embed.awk db/postgres/schema.sql > $@

$(B)/db/pg-schema-sql.o: $(B)/db/pg-schema-sql.c
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Wno-overlength-strings -c -o $@ $<

$(B)/tests/t-%: tests/unit/t-%.c $(B)/libbaton.a $(HDRS) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka 2>/dev/null) \
		-o $@ $< $(B)/libbaton.a $(LDFLAGS) $(LDLIBS) \
		$(shell pkg-config --libs cmocka 2>/dev/null)

# Small C helpers the tests use (see tests/agents/).
$(B)/tests/fake-helpers: $(wildcard tests/agents/*.c)
	@mkdir -p $(@D)
	@for f in $^; do n=$$(basename $$f .c); \
		$(CC) -std=c11 -D_XOPEN_SOURCE=700 -O1 -o $(@D)/$$n $$f || exit 1; done
	@touch $@

# The LD_PRELOAD library that fails allocations (tests/oom/); never with
# the sanitizers, which replace malloc themselves.
$(B)/tests/oom-shim.so: tests/oom/oom-shim.c
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 -O1 -fPIC -shared -o $@ $< -ldl

FUZZ_SRCS := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)

$(B)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(B)/libbaton.a $(HDRS) $(wildcard tests/fuzz/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(B)/libbaton.a $(LDFLAGS) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

# Each harness for FUZZ_SECONDS on its corpus (tests/fuzz/corpus/NAME).
fuzz: deps
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS)

# The whole range of allocations of each command of tests/oom/oom-loop.sh.
oom: deps
	@$(MAKE) --no-print-directory all
	@sh tests/oom/oom-loop.sh add 1 all
	@sh tests/oom/oom-loop.sh run 1 all
	@sh tests/oom/oom-loop.sh work 1 all
# Needs a PostgreSQL server: tests/cli/postgres.bats runs it on its own
# cluster (so not a t-* that tests/run.sh runs without one).
ifneq ($(PG_LIBS),)
UNIT_BINS += $(B)/tests/pg-replay $(B)/tests/pg-output
endif

$(B)/tests/pg-%: tests/unit/pg-%.c $(B)/libbaton.a $(HDRS) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CCLD    $@")
	$(Q)$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka 2>/dev/null) \
		-o $@ $< $(B)/libbaton.a $(LDFLAGS) $(LDLIBS) \
		$(shell pkg-config --libs cmocka 2>/dev/null)

unit: $(UNIT_BINS)

deps:
	@sh tests/deps.sh

# The three builds of check use every core (a plain `make check`, as CI
# runs it, would compile one file at a time: 77 s instead of 38 here).
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)

check: deps
	@$(MAKE) -j$(CHECK_JOBS) --no-print-directory all unit
	@$(MAKE) -j$(CHECK_JOBS) --no-print-directory SANITIZE=1 all unit
	@sh tests/run.sh
	@$(MAKE) -j$(CHECK_JOBS) --no-print-directory FUZZ=1 fuzz-build
	@sh tests/fuzz/run.sh 3

demo: deps
	@$(MAKE) --no-print-directory all
	@sh docs/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@sh bench/run

install: build/baton
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/doc/baton
	install -m 0755 build/baton $(DESTDIR)$(PREFIX)/bin/baton
	install -m 0644 docs/baton.1 $(DESTDIR)$(PREFIX)/share/man/man1/baton.1
	install -m 0644 config.yaml $(DESTDIR)$(PREFIX)/share/doc/baton/config.yaml
	install -d $(DESTDIR)$(PREFIX)/share/doc/baton/schema
	install -m 0644 docs/json.md $(DESTDIR)$(PREFIX)/share/doc/baton/json.md
	install -m 0644 docs/schema/*.json $(DESTDIR)$(PREFIX)/share/doc/baton/schema/
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	build/baton completion bash > \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/baton
	build/baton completion zsh > \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_baton
	build/baton completion fish > \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/baton.fish

FORMAT_SRCS = $(wildcard cmd/*.[ch] lib/*.[ch] core/*.[ch] agents/*.[ch] db/*.[ch] db/sqlite/*.[ch] db/postgres/*.[ch] \
	tests/unit/*.[ch] tests/agents/*.c tests/oom/*.c tests/fuzz/*.[ch] bench/*.c)

format:
	clang-format -i $(FORMAT_SRCS)

format-check:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

# Functions over 80 lines, with the reason written above each.
long-functions:
	@sh tests/long-functions.sh

clean:
	rm -rf build
