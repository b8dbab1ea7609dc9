# The C examples, built twice:
#   $(BUILD)/bin/NAME          our headers and library (FCGI_RS_CFLAGS, FCGI_RS_LIBS)
#   $(BUILD)/bin-libfcgi/NAME  the system's libfcgi headers and library (the baseline)
#
# Included by the top Makefile, which defines BUILD, FCGI_RS_CFLAGS and FCGI_RS_LIBS and
# sets FCGI_RS_LIB_DEPS to the library file(s) the first set must be relinked after.

EXAMPLES_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
EXAMPLES := echo threaded large_output authorizer filter hello

EXAMPLES_CC ?= $(CC)
EXAMPLES_CFLAGS ?= -O2 -g -Wall -Wextra -pthread
EXAMPLES_LIBFCGI_CFLAGS ?= -I/usr/include
EXAMPLES_LIBFCGI_LIBS ?= -lfcgi

EXAMPLES_OURS := $(addprefix $(BUILD)/bin/,$(EXAMPLES))
EXAMPLES_BASELINE := $(addprefix $(BUILD)/bin-libfcgi/,$(EXAMPLES))

.PHONY: examples examples-ours examples-libfcgi
examples: examples-ours examples-libfcgi
examples-ours: $(EXAMPLES_OURS)
examples-libfcgi: $(EXAMPLES_BASELINE)

$(BUILD)/bin/%: $(EXAMPLES_DIR)/%.c $(EXAMPLES_DIR)/example_util.h $(FCGI_RS_LIB_DEPS)
	@mkdir -p $(dir $@)
	$(EXAMPLES_CC) $(EXAMPLES_CFLAGS) $(FCGI_RS_CFLAGS) -o $@ $< $(FCGI_RS_LIBS)

$(BUILD)/bin-libfcgi/%: $(EXAMPLES_DIR)/%.c $(EXAMPLES_DIR)/example_util.h
	@mkdir -p $(dir $@)
	$(EXAMPLES_CC) $(EXAMPLES_CFLAGS) $(EXAMPLES_LIBFCGI_CFLAGS) -o $@ $< $(EXAMPLES_LIBFCGI_LIBS)
