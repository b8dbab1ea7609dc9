/*
 * Drives the printf shim (csrc/printf_shim.c) for tests/printf_shim.rs.
 *
 * Standard output carries FastCGI STDOUT records written by an FCGX stream
 * on fd 1; each call's return value goes to stderr as "name=value", so the
 * test can check both the bytes and the counts.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <fastcgi.h>
#include <fcgiapp.h>

/* FCGI_FILE as fcgi_stdio.h lays it out; that header is not used here
 * because it redefines printf and FILE. */
typedef struct {
    FILE *stdio_stream;
    FCGX_Stream *fcgx_stream;
} test_fcgi_file;

int FCGI_fprintf(test_fcgi_file *fp, const char *format, ...);
int FCGI_vfprintf(test_fcgi_file *fp, const char *format, va_list ap);

static int via_vfprintf(FCGX_Stream *s, const char *format, ...)
{
    va_list ap;
    int n;
    va_start(ap, format);
    n = FCGX_VFPrintF(s, format, ap);
    va_end(ap);
    return n;
}

static int via_fcgi_vfprintf(test_fcgi_file *f, const char *format, ...)
{
    va_list ap;
    int n;
    va_start(ap, format);
    n = FCGI_vfprintf(f, format, ap);
    va_end(ap);
    return n;
}

int main(void)
{
    static char big[5000];
    const char *volatile null_str = NULL;
    FCGX_Stream *out = FCGX_CreateWriter(1, 1, 8192, FCGI_STDOUT);
    test_fcgi_file to_stream = { NULL, out };
    test_fcgi_file to_nothing = { NULL, NULL };
    test_fcgi_file to_stdio = { stderr, NULL };
    int n;

    if (out == NULL) {
        fprintf(stderr, "FCGX_CreateWriter failed\n");
        return 1;
    }
    memset(big, 'x', sizeof big - 1);

    /* C99 conversions libfcgi's own formatter lacks or truncates. */
    n = FCGX_FPrintF(out, "[%zu|%hhd|%lld|%.3f|%a|%5s|%-3d|%%]", (size_t)SIZE_MAX,
                     (signed char)-1, LLONG_MIN, 3.14159, 1.0, "ab", 7);
    fprintf(stderr, "c99=%d\n", n);
    /* NULL for %s: glibc prints "(null)" rather than crashing. */
    n = FCGX_FPrintF(out, "[%s]", null_str);
    fprintf(stderr, "null=%d\n", n);
    /* Longer than the shim's stack buffer: the heap path. */
    n = FCGX_FPrintF(out, "[%s]", big);
    fprintf(stderr, "big=%d\n", n);
    n = via_vfprintf(out, "[v%d]", 42);
    fprintf(stderr, "vfprintf=%d\n", n);
    n = FCGX_FPrintF(out, "%s", "");
    fprintf(stderr, "empty=%d\n", n);
    n = FCGI_fprintf(&to_stream, "[f%s]", "cgi");
    fprintf(stderr, "fcgi_fprintf_stream=%d\n", n);
    n = via_fcgi_vfprintf(&to_stream, "[fv%c]", 'z');
    fprintf(stderr, "fcgi_vfprintf_stream=%d\n", n);
    n = FCGI_fprintf(&to_nothing, "x");
    fprintf(stderr, "fcgi_fprintf_nothing=%d\n", n);
    n = FCGI_fprintf(&to_stdio, "stdio-path:%d\n", 5);
    fprintf(stderr, "fcgi_fprintf_stdio=%d\n", n);
    n = FCGX_FClose(out);
    fprintf(stderr, "fclose=%d\n", n);
    FCGX_FreeStream(&out);
    return 0;
}
