/*
 * printf_shim.c -- the C-variadic entry points of fcgi_rs.
 *
 * Stable Rust cannot define functions taking "..." or a va_list, so the six
 * printf-family exports of the libfcgi interface live here. They format with
 * the C library's own vsnprintf (so every C99 conversion works, including
 * %zu, %lf, %hhd and %a) and hand the resulting bytes to FCGX_PutStr, which
 * is implemented in Rust. Nothing else belongs in this file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fcgiapp.h"

/*
 * Same layout as FCGI_FILE in fcgi_stdio.h (16 bytes). That header is not
 * included because it redefines printf, FILE and friends as macros.
 */
typedef struct {
    FILE *stdio_stream;
    FCGX_Stream *fcgx_stream;
} shim_fcgi_file;

/* FCGI_stdin, FCGI_stdout, FCGI_stderr: defined on the Rust side. Accessed
 * through the GOT, so an executable's copy-relocated instance is the one used. */
extern shim_fcgi_file _fcgi_sF[3];

int FCGI_vfprintf(shim_fcgi_file *fp, const char *format, va_list ap);

/* Formatted output up to this size never touches the heap. */
#define SHIM_STACK_BUF 1024

int FCGX_VFPrintF(FCGX_Stream *stream, const char *format, va_list arg)
{
    char local[SHIM_STACK_BUF];
    char *buf = local;
    va_list again;
    int len;
    int written;

    if (stream == NULL || format == NULL)
        return -1;

    /* vsnprintf consumes the va_list; keep a copy in case a second pass with
     * a bigger buffer is needed. */
    va_copy(again, arg);
    len = vsnprintf(local, sizeof local, format, arg);
    if (len < 0) {
        va_end(again);
        return -1;
    }
    if ((size_t)len >= sizeof local) {
        buf = malloc((size_t)len + 1);
        if (buf == NULL) {
            va_end(again);
            return -1;
        }
        if (vsnprintf(buf, (size_t)len + 1, format, again) != len) {
            va_end(again);
            free(buf);
            return -1;
        }
    }
    va_end(again);

    written = len == 0 ? 0 : FCGX_PutStr(buf, len, stream);
    if (buf != local)
        free(buf);
    return written == len ? len : -1;
}

int FCGX_FPrintF(FCGX_Stream *stream, const char *format, ...)
{
    va_list ap;
    int n;

    va_start(ap, format);
    n = FCGX_VFPrintF(stream, format, ap);
    va_end(ap);
    return n;
}

int FCGI_vfprintf(shim_fcgi_file *fp, const char *format, va_list ap)
{
    if (fp == NULL)
        return EOF;
    if (fp->stdio_stream != NULL)
        return vfprintf(fp->stdio_stream, format, ap);
    if (fp->fcgx_stream != NULL)
        return FCGX_VFPrintF(fp->fcgx_stream, format, ap);
    return EOF;
}

int FCGI_fprintf(shim_fcgi_file *fp, const char *format, ...)
{
    va_list ap;
    int n;

    va_start(ap, format);
    n = FCGI_vfprintf(fp, format, ap);
    va_end(ap);
    return n;
}

int FCGI_vprintf(const char *format, va_list ap)
{
    return FCGI_vfprintf(&_fcgi_sF[1], format, ap);
}

int FCGI_printf(const char *format, ...)
{
    va_list ap;
    int n;

    va_start(ap, format);
    n = FCGI_vfprintf(&_fcgi_sF[1], format, ap);
    va_end(ap);
    return n;
}
