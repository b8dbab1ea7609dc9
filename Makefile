# fcgi_rs -- build, install and test the C library.
#
#   make                  libraries, pkg-config file, C examples and C++ parts when present
#   make test             make all, then cargo test --workspace
#   make headers          regenerate include/fcgi_rs.h from src/capi/ext.rs (cbindgen)
#   make check-headers    fail when include/fcgi_rs.h is out of date
#   make install PREFIX=/usr/local DESTDIR=      (and make uninstall, same variables)
#   make clean            remove build/ (cargo's target directory is left alone)
#
# Outputs, all under build/:
#   lib/libfcgi_rs.so.0   shared library, SONAME libfcgi_rs.so.0 (+ libfcgi_rs.so link)
#   lib/libfcgi_rs.a      static library: the Rust archive plus the printf shim
#   compat/libfcgi.so.0   the same code with SONAME libfcgi.so.0: drop-in for programs built
#                         against libfcgi (LD_LIBRARY_PATH=build/compat)
#   pkgconfig/fcgi_rs.pc  uninstalled pkg-config file (this tree's include/ and build/lib)
#
# The shared libraries are linked by cc from the Rust static archive, not built as a cdylib:
# that is the only way to export the C shim's functions, and it lets us give an explicit export
# list in a version script with an anonymous node (unversioned exports, like libfcgi's). Never
# link with -Bsymbolic: _fcgi_sF must stay preemptible for executables' copy relocations.

SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DEFAULT_GOAL := all

REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BUILD := $(REPO)/build
OBJ := $(BUILD)/obj

CARGO ?= cargo
CC ?= cc
AR ?= ar
CARGO_TARGET_DIR ?= $(REPO)/target
override CARGO_TARGET_DIR := $(abspath $(CARGO_TARGET_DIR))
export CARGO_TARGET_DIR
CARGO_FLAGS ?=

VERSION := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' $(REPO)/Cargo.toml | head -n1)

RUST_A := $(CARGO_TARGET_DIR)/release/libfcgi_rs_capi.a
SHIM_O := $(OBJ)/printf_shim.o
SO_NAME := libfcgi_rs.so.0
SO := $(BUILD)/lib/$(SO_NAME)
SO_LINK := $(BUILD)/lib/libfcgi_rs.so
STATIC_A := $(BUILD)/lib/libfcgi_rs.a
COMPAT_SO := $(BUILD)/compat/libfcgi.so.0
PC_UNINST := $(BUILD)/pkgconfig/fcgi_rs.pc
EXPORTS_MAP := $(OBJ)/exports.map
NATIVE_LIBS_FILE := $(OBJ)/native-static-libs.txt
# What rustc reports for a std staticlib on glibc Linux; used only if cargo's note is missing.
NATIVE_LIBS_DEFAULT := -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc

SHIM_CFLAGS := -std=c99 -fPIC -O2 -g -Wall -Wextra -Werror -I$(REPO)/include
LDFLAGS_SHARED := -shared -Wl,-z,now -Wl,-z,relro -Wl,--gc-sections -Wl,--as-needed \
                  -Wl,--version-script=$(EXPORTS_MAP)

# For c-examples/examples.mk and mk/cxx.mk.
FCGI_RS_CFLAGS := -I$(REPO)/include
FCGI_RS_LIBS := -L$(BUILD)/lib -lfcgi_rs -Wl,-rpath,$(BUILD)/lib
FCGI_RS_LIB_DEPS := $(SO) $(SO_LINK) $(STATIC_A)

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=

LIBS_TARGETS := $(SO) $(SO_LINK) $(STATIC_A) $(COMPAT_SO) $(PC_UNINST)
ALL_TARGETS := libs pm-command
# The process manager's command, which supervises any FastCGI program.
PM_COMMAND := $(BUILD)/bin/fcgi-rs-pm

ifneq ($(wildcard $(REPO)/c-examples/examples.mk),)
include $(REPO)/c-examples/examples.mk
ALL_TARGETS += examples
endif
ifneq ($(wildcard $(REPO)/mk/cxx.mk),)
include $(REPO)/mk/cxx.mk
ALL_TARGETS += cxx
endif
ifneq ($(wildcard $(REPO)/c-examples/stdio.mk),)
include $(REPO)/c-examples/stdio.mk
endif

.PHONY: all libs pm-command test headers check-headers install uninstall clean FORCE

all: $(ALL_TARGETS)

libs: $(LIBS_TARGETS)

pm-command: $(PM_COMMAND)

$(PM_COMMAND): FORCE
	$(CARGO) build --release --quiet -p fcgi_rs --bin fcgi-rs-pm
	@mkdir -p $(dir $@)
	@cmp -s $(CARGO_TARGET_DIR)/release/fcgi-rs-pm $@ || cp $(CARGO_TARGET_DIR)/release/fcgi-rs-pm $@

# ---- Rust archive ----------------------------------------------------------------------------
# cargo decides whether anything changed; the archive's timestamp moves only when it did.
# `cargo rustc` is `cargo build` for this one package plus rustc's report of the system
# libraries a static link needs (replayed by cargo when nothing is rebuilt).
$(RUST_A): FORCE
	@mkdir -p $(OBJ)
	$(CARGO) rustc --release -p fcgi-rs-capi $(CARGO_FLAGS) -- --print native-static-libs 2>&1 \
	  | tee $(OBJ)/cargo-capi.log | grep -v -i -E '^note: (link against|native-static-libs)'
	@libs=$$(sed -n 's/^note: native-static-libs: *//p' $(OBJ)/cargo-capi.log | tail -n1); \
	  if [ -z "$$libs" ] && [ ! -f $(NATIVE_LIBS_FILE) ]; then libs="$(NATIVE_LIBS_DEFAULT)"; fi; \
	  if [ -n "$$libs" ] && [ "$$libs" != "$$(cat $(NATIVE_LIBS_FILE) 2>/dev/null)" ]; then \
	    echo "$$libs" > $(NATIVE_LIBS_FILE); fi

$(NATIVE_LIBS_FILE): $(RUST_A)
	@test -f $@ || echo "$(NATIVE_LIBS_DEFAULT)" > $@

# ---- C shim ----------------------------------------------------------------------------------
$(SHIM_O): $(REPO)/csrc/printf_shim.c $(REPO)/include/fcgiapp.h
	@mkdir -p $(OBJ)
	$(CC) $(SHIM_CFLAGS) -c $< -o $@

# ---- Export list -----------------------------------------------------------------------------
$(EXPORTS_MAP): $(RUST_A) $(SHIM_O) $(REPO)/capi-lib/exports/libfcgi.syms \
                $(REPO)/include/fcgi_rs.h $(REPO)/mk/exports.sh
	bash $(REPO)/mk/exports.sh $(RUST_A) $(SHIM_O) $(REPO)/capi-lib/exports/libfcgi.syms \
	  $(REPO)/include/fcgi_rs.h $(OBJ)

# ---- Libraries -------------------------------------------------------------------------------
# $(1) output, $(2) SONAME
define link_shared
	@mkdir -p $(dir $(1))
	$(CC) $(LDFLAGS_SHARED) -Wl,-soname,$(2) -o $(1).tmp @$(OBJ)/undefine.rsp \
	  $$(cat $(OBJ)/shim-objs.txt) $(RUST_A) $$(cat $(NATIVE_LIBS_FILE))
	mv $(1).tmp $(1)
endef

$(SO): $(EXPORTS_MAP) $(NATIVE_LIBS_FILE)
	$(call link_shared,$@,$(SO_NAME))

$(COMPAT_SO): $(EXPORTS_MAP) $(NATIVE_LIBS_FILE)
	$(call link_shared,$@,libfcgi.so.0)

$(SO_LINK): $(SO)
	ln -sfn $(SO_NAME) $@

$(STATIC_A): $(EXPORTS_MAP)
	@mkdir -p $(dir $@)
	cp $(RUST_A) $@.tmp
	@# binutils' ar cannot read the LLVM bitcode some Rust objects carry and says so for each;
	@# the index it writes is complete all the same, so only that noise is filtered out.
	shim=$$(cat $(OBJ)/shim-objs.txt); if [ -n "$$shim" ]; then \
	  $(AR) rs $@.tmp $$shim 2>&1 | { grep -v '^bfd plugin: LLVM gold plugin' || true; }; fi
	mv $@.tmp $@

# $(1) output, $(2) prefix, $(3) libdir, $(4) includedir, $(5) directory for -I
define make_pc
	@mkdir -p $(dir $(1))
	sed -e 's|@PREFIX@|$(2)|g' -e 's|@LIBDIR@|$(3)|g' -e 's|@INCLUDEDIR@|$(4)|g' \
	    -e 's|@CFLAGS_INCDIR@|$(5)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e "s|@LIBS_PRIVATE@|$$(cat $(NATIVE_LIBS_FILE))|g" \
	    $(REPO)/pkgconfig/fcgi_rs.pc.in > $(1)
endef

$(PC_UNINST): $(REPO)/pkgconfig/fcgi_rs.pc.in $(NATIVE_LIBS_FILE) $(REPO)/Cargo.toml
	$(call make_pc,$@,$(REPO),$(BUILD)/lib,$(REPO)/include,$${includedir})

# ---- Headers ---------------------------------------------------------------------------------
# Its own target directory: never contends with a cargo build or test of the workspace.
GEN_HEADER := CARGO_TARGET_DIR=$(CARGO_TARGET_DIR)/gen-header $(CARGO) run --quiet --manifest-path $(REPO)/tools/gen-header/Cargo.toml --

headers:
	$(GEN_HEADER) $(REPO) $(REPO)/include/fcgi_rs.h

check-headers:
	@mkdir -p $(OBJ)
	$(GEN_HEADER) $(REPO) $(OBJ)/fcgi_rs.h.check
	@diff -u $(REPO)/include/fcgi_rs.h $(OBJ)/fcgi_rs.h.check \
	  || { echo "include/fcgi_rs.h is out of date: run 'make headers'" >&2; exit 1; }
	@echo "include/fcgi_rs.h is up to date"

# ---- Tests -----------------------------------------------------------------------------------
test: all
	$(CARGO) test --workspace $(CARGO_FLAGS)

# ---- Install ---------------------------------------------------------------------------------
install: libs pm-command
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/fcgi_rs $(DESTDIR)$(LIBDIR)/pkgconfig \
	  $(DESTDIR)$(INCLUDEDIR)/fcgi_rs
	install -m 0755 $(SO) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sfn $(SO_NAME) $(DESTDIR)$(LIBDIR)/libfcgi_rs.so
	install -m 0644 $(STATIC_A) $(DESTDIR)$(LIBDIR)/libfcgi_rs.a
	install -m 0755 $(COMPAT_SO) $(DESTDIR)$(LIBDIR)/fcgi_rs/libfcgi.so.0
	install -m 0644 $(REPO)/include/*.h $(DESTDIR)$(INCLUDEDIR)/fcgi_rs/
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(PM_COMMAND) $(DESTDIR)$(BINDIR)/fcgi-rs-pm
	if [ -f $(BUILD)/lib/libfcgi_rs++.so.0 ]; then \
	  install -m 0755 $(BUILD)/lib/libfcgi_rs++.so.0 $(DESTDIR)$(LIBDIR)/libfcgi_rs++.so.0 && \
	  ln -sfn libfcgi_rs++.so.0 $(DESTDIR)$(LIBDIR)/libfcgi_rs++.so && \
	  install -m 0755 $(BUILD)/compat/libfcgi++.so.0 $(DESTDIR)$(LIBDIR)/fcgi_rs/libfcgi++.so.0; fi
	$(call make_pc,$(DESTDIR)$(LIBDIR)/pkgconfig/fcgi_rs.pc,$(PREFIX),$(LIBDIR),$(INCLUDEDIR),$${includedir}/fcgi_rs)

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/$(SO_NAME) $(DESTDIR)$(LIBDIR)/libfcgi_rs.so \
	  $(DESTDIR)$(LIBDIR)/libfcgi_rs.a $(DESTDIR)$(LIBDIR)/fcgi_rs/libfcgi.so.0 \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/fcgi_rs.pc $(DESTDIR)$(BINDIR)/fcgi-rs-pm \
	  $(DESTDIR)$(LIBDIR)/libfcgi_rs++.so.0 $(DESTDIR)$(LIBDIR)/libfcgi_rs++.so \
	  $(DESTDIR)$(LIBDIR)/fcgi_rs/libfcgi++.so.0
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/fcgi_rs/,$(notdir $(wildcard $(REPO)/include/*.h)))
	-rmdir $(DESTDIR)$(LIBDIR)/fcgi_rs $(DESTDIR)$(INCLUDEDIR)/fcgi_rs 2>/dev/null

clean:
	rm -rf $(BUILD)

FORCE:
