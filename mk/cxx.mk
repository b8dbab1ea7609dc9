# mk/cxx.mk - the C++ part: libfcgi++ (fcgio.h streams) and the echo-cpp example.
#
# Included by the top-level Makefile, which provides:
#   BUILD           absolute build directory
#   FCGI_RS_CFLAGS  -I<repo>/include
# and builds $(BUILD)/lib/libfcgi_rs.so.0 and $(BUILD)/compat/libfcgi.so.0 (our library under
# libfcgi's SONAME) before `cxx` links against them.
#
# Outputs of target `cxx`:
#   $(BUILD)/compat/libfcgi++.so.0   drop-in for libfcgi's C++ library (SONAME libfcgi++.so.0,
#                                    NEEDED libfcgi.so.0): run already-built programs on it
#   $(BUILD)/lib/libfcgi_rs++.so.0   the same code for source builds (NEEDED libfcgi_rs.so.0),
#   $(BUILD)/lib/libfcgi_rs++.so     with its link-time symlink (-lfcgi_rs++)
#   $(BUILD)/bin/echo-cpp            the example, on our libraries
#   $(BUILD)/bin-libfcgi/echo-cpp    the example, on Debian's libfcgi++ and libfcgi

CXX ?= c++
CXX_REPO := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
CXX_WARN := -Wall -Wextra
CXX_OPT ?= -O2 -g

CXX_LIB_SRC := $(CXX_REPO)/csrc/fcgio.cpp
CXX_LIB_HDR := $(CXX_REPO)/include/fcgio.h
CXX_LIB_OBJ := $(BUILD)/obj/cxx/fcgio.o
CXX_ECHO_SRC := $(CXX_REPO)/c-examples/echo-cpp.cpp

CXX_COMPAT_LIB := $(BUILD)/compat/libfcgi++.so.0
CXX_RS_LIB := $(BUILD)/lib/libfcgi_rs++.so.0
CXX_RS_LINK := $(BUILD)/lib/libfcgi_rs++.so
CXX_ECHO_OURS := $(BUILD)/bin/echo-cpp
CXX_ECHO_LIBFCGI := $(BUILD)/bin-libfcgi/echo-cpp

.PHONY: cxx cxx-clean
cxx: $(CXX_COMPAT_LIB) $(CXX_RS_LIB) $(CXX_RS_LINK) $(CXX_ECHO_OURS) $(CXX_ECHO_LIBFCGI)

$(CXX_LIB_OBJ): $(CXX_LIB_SRC) $(CXX_LIB_HDR)
	@mkdir -p $(dir $@)
	$(CXX) $(CXX_OPT) $(CXX_WARN) -fPIC $(FCGI_RS_CFLAGS) -c $< -o $@

# Linked against the compat libfcgi.so.0 so that NEEDED names libfcgi.so.0, like libfcgi's own.
# The six FCGX imports are bound at load time (whichever libfcgi.so.0 is found), so the link
# does not insist on finding them (tests/cxx.rs checks the import list).
$(CXX_COMPAT_LIB): $(CXX_LIB_OBJ) $(BUILD)/compat/libfcgi.so.0
	@mkdir -p $(dir $@)
	$(CXX) -shared -Wl,-soname,libfcgi++.so.0 -o $@ $(CXX_LIB_OBJ) \
		-Wl,--no-as-needed $(BUILD)/compat/libfcgi.so.0 -Wl,--as-needed

# Linked against the shared library by path: -lfcgi_rs could find libfcgi_rs.a first while
# a parallel build has not made the libfcgi_rs.so symlink yet.
$(CXX_RS_LIB): $(CXX_LIB_OBJ) $(BUILD)/lib/libfcgi_rs.so.0
	@mkdir -p $(dir $@)
	$(CXX) -shared -Wl,-soname,libfcgi_rs++.so.0 -o $@ $(CXX_LIB_OBJ) \
		-Wl,--no-as-needed $(BUILD)/lib/libfcgi_rs.so.0 -Wl,--as-needed

$(CXX_RS_LINK): $(CXX_RS_LIB)
	ln -sfn libfcgi_rs++.so.0 $@

$(CXX_ECHO_OURS): $(CXX_ECHO_SRC) $(CXX_LIB_HDR) $(CXX_RS_LINK) $(FCGI_RS_LIB_DEPS)
	@mkdir -p $(dir $@)
	$(CXX) $(CXX_OPT) $(CXX_WARN) $(FCGI_RS_CFLAGS) -o $@ $< \
		-L$(BUILD)/lib -Wl,-rpath,$(BUILD)/lib -lfcgi_rs++ -lfcgi_rs

# The reference build: Debian's header and libraries only.
$(CXX_ECHO_LIBFCGI): $(CXX_ECHO_SRC)
	@mkdir -p $(dir $@)
	$(CXX) $(CXX_OPT) $(CXX_WARN) -o $@ $< -lfcgi++ -lfcgi

cxx-clean:
	rm -f $(CXX_LIB_OBJ) $(CXX_COMPAT_LIB) $(CXX_RS_LIB) $(CXX_RS_LINK) \
		$(CXX_ECHO_OURS) $(CXX_ECHO_LIBFCGI)
