# echo-stdio, the fcgi_stdio.h example, built like the other C examples:
#   $(BUILD)/bin/echo-stdio          our headers and library
#   $(BUILD)/bin-libfcgi/echo-stdio  the system's libfcgi headers and library (the baseline)
#
# Included by the top Makefile after examples.mk, whose variables (EXAMPLES_CC,
# EXAMPLES_CFLAGS, EXAMPLES_LIBFCGI_*) and targets (examples-ours, examples-libfcgi) it extends.

STDIO_EXAMPLES_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
STDIO_HEADERS := $(REPO)/include/fcgi_stdio.h $(REPO)/include/fcgiapp.h

examples-ours: $(BUILD)/bin/echo-stdio
examples-libfcgi: $(BUILD)/bin-libfcgi/echo-stdio

$(BUILD)/bin/echo-stdio: $(STDIO_EXAMPLES_DIR)/echo-stdio.c $(STDIO_HEADERS) $(FCGI_RS_LIB_DEPS)
	@mkdir -p $(dir $@)
	$(EXAMPLES_CC) $(EXAMPLES_CFLAGS) -std=c99 -Werror $(FCGI_RS_CFLAGS) -o $@ $< $(FCGI_RS_LIBS)

$(BUILD)/bin-libfcgi/echo-stdio: $(STDIO_EXAMPLES_DIR)/echo-stdio.c
	@mkdir -p $(dir $@)
	$(EXAMPLES_CC) $(EXAMPLES_CFLAGS) -std=c99 $(EXAMPLES_LIBFCGI_CFLAGS) -o $@ $< $(EXAMPLES_LIBFCGI_LIBS)
