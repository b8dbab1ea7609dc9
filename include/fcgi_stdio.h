/*
 * fcgi_stdio.h -- run a stdio program as a FastCGI application (fcgi_rs).
 *
 * Include this header first (before any use of stdio) and wrap the program's
 * work in a loop:
 *
 *     #include "fcgi_stdio.h"
 *     int main(void) {
 *         while (FCGI_Accept() >= 0) {
 *             printf("Content-type: text/plain\r\n\r\nhello\n");
 *         }
 *         return 0;
 *     }
 *
 * Unless NO_FCGI_DEFINES is defined, the usual stdio names (FILE, stdin,
 * printf, fread, ...) become macros for the FCGI_* functions below, so the
 * same source reads the request body from stdin, writes the response to
 * stdout and finds the request's variables with getenv(). Started as a plain
 * CGI program (fd 0 is not a listening socket), FCGI_Accept returns 0 once
 * with the real stdio in place, then -1.
 *
 * Source and binary compatible with libfcgi's header of the same name: the
 * FCGI_FILE layout (16 bytes on LP64), the 48-byte _fcgi_sF array, every
 * prototype (including FCGI_ftell's int result and FCGI_fwrite's non-const
 * buffer) and every macro name are part of that interface. There is no
 * FCGI_fscanf: use fscanf(FCGI_ToFILE(fp), ...) on files opened with fopen.
 */
#ifndef _FCGI_STDIO
#define _FCGI_STDIO 1

#include <stdio.h>
#include <sys/types.h>
#include "fcgiapp.h"

#ifndef DLLAPI
#define DLLAPI
#endif

#if defined(__cplusplus) || defined(c_plusplus)
extern "C" {
#endif

/*
 * A stream of the FCGI_* layer. Exactly one of the two pointers is set on an
 * open stream: stdio_stream for a real file (and for the standard streams of
 * a CGI run), fcgx_stream for a stream of the current FastCGI request.
 */
typedef struct {
    FILE *stdio_stream;
    FCGX_Stream *fcgx_stream;
} FCGI_FILE;

/* The C stream behind fp (NULL for a request stream). */
#define FCGI_ToFILE(fcgi_file) ((fcgi_file)->stdio_stream)
/* The request stream behind fp (NULL for a file). */
#define FCGI_ToFcgiStream(fcgi_file) ((fcgi_file)->fcgx_stream)

/* The three standard streams; defined by the library, 3 entries. */
DLLAPI extern FCGI_FILE _fcgi_sF[];
#define FCGI_stdin (&_fcgi_sF[0])
#define FCGI_stdout (&_fcgi_sF[1])
#define FCGI_stderr (&_fcgi_sF[2])

/* ---- Requests ------------------------------------------------------------ */

/* Finishes the previous request, waits for the next one and makes it the
 * process's stdin/stdout/stderr and environ. 0 on success, -1 when there is
 * no further request (second call in CGI mode, shutdown, error). */
DLLAPI int FCGI_Accept(void);
/* Finishes the current request (also run at exit). */
DLLAPI void FCGI_Finish(void);
/* Filter role: switch FCGI_stdin to the FCGI_DATA stream. 0, or -1. */
DLLAPI int FCGI_StartFilterData(void);
/* Exit status reported for the current request. */
DLLAPI void FCGI_SetExitStatus(int status);

/* ---- Replacements for the stdio functions -------------------------------- */

DLLAPI void FCGI_perror(const char *str);

DLLAPI FCGI_FILE *FCGI_fopen(const char *path, const char *mode);
DLLAPI int FCGI_fclose(FCGI_FILE *fp);
DLLAPI int FCGI_fflush(FCGI_FILE *fp);
DLLAPI FCGI_FILE *FCGI_freopen(const char *path, const char *mode, FCGI_FILE *fp);

DLLAPI int FCGI_setvbuf(FCGI_FILE *fp, char *buf, int bufmode, size_t size);
DLLAPI void FCGI_setbuf(FCGI_FILE *fp, char *buf);

DLLAPI int FCGI_fseek(FCGI_FILE *fp, long offset, int whence);
DLLAPI int FCGI_ftell(FCGI_FILE *fp);
DLLAPI void FCGI_rewind(FCGI_FILE *fp);
DLLAPI int FCGI_fgetpos(FCGI_FILE *fp, fpos_t *pos);
DLLAPI int FCGI_fsetpos(FCGI_FILE *fp, const fpos_t *pos);

DLLAPI int FCGI_fgetc(FCGI_FILE *fp);
DLLAPI int FCGI_getchar(void);
DLLAPI int FCGI_ungetc(int c, FCGI_FILE *fp);

DLLAPI char *FCGI_fgets(char *str, int size, FCGI_FILE *fp);
DLLAPI char *FCGI_gets(char *str);

DLLAPI int FCGI_fputc(int c, FCGI_FILE *fp);
DLLAPI int FCGI_putchar(int c);

DLLAPI int FCGI_fputs(const char *str, FCGI_FILE *fp);
DLLAPI int FCGI_puts(const char *str);

DLLAPI int FCGI_fprintf(FCGI_FILE *fp, const char *format, ...);
DLLAPI int FCGI_printf(const char *format, ...);
DLLAPI int FCGI_vfprintf(FCGI_FILE *fp, const char *format, va_list ap);
DLLAPI int FCGI_vprintf(const char *format, va_list ap);

DLLAPI size_t FCGI_fread(void *ptr, size_t size, size_t nmemb, FCGI_FILE *fp);
DLLAPI size_t FCGI_fwrite(void *ptr, size_t size, size_t nmemb, FCGI_FILE *fp);

DLLAPI int FCGI_feof(FCGI_FILE *fp);
DLLAPI int FCGI_ferror(FCGI_FILE *fp);
DLLAPI void FCGI_clearerr(FCGI_FILE *fp);

DLLAPI FCGI_FILE *FCGI_tmpfile(void);

DLLAPI int FCGI_fileno(FCGI_FILE *fp);
DLLAPI FCGI_FILE *FCGI_fdopen(int fd, const char *mode);
DLLAPI FCGI_FILE *FCGI_popen(const char *cmd, const char *type);
DLLAPI int FCGI_pclose(FCGI_FILE *fp);

/* ---- The stdio names, redirected ----------------------------------------- */
/*
 * Each name is undefined first: the C library may have defined some of them
 * as macros (stdin, getc, putc, ...). getc and putc map to FCGI_fgetc and
 * FCGI_fputc.
 */
#ifndef NO_FCGI_DEFINES

#undef FILE
#define FILE FCGI_FILE

#undef stdin
#define stdin FCGI_stdin
#undef stdout
#define stdout FCGI_stdout
#undef stderr
#define stderr FCGI_stderr

#undef perror
#define perror FCGI_perror

#undef fopen
#define fopen FCGI_fopen
#undef fclose
#define fclose FCGI_fclose
#undef fflush
#define fflush FCGI_fflush
#undef freopen
#define freopen FCGI_freopen

#undef setvbuf
#define setvbuf FCGI_setvbuf
#undef setbuf
#define setbuf FCGI_setbuf

#undef fseek
#define fseek FCGI_fseek
#undef ftell
#define ftell FCGI_ftell
#undef rewind
#define rewind FCGI_rewind
#undef fgetpos
#define fgetpos FCGI_fgetpos
#undef fsetpos
#define fsetpos FCGI_fsetpos

#undef fgetc
#define fgetc FCGI_fgetc
#undef getc
#define getc FCGI_fgetc
#undef getchar
#define getchar FCGI_getchar
#undef ungetc
#define ungetc FCGI_ungetc

#undef fgets
#define fgets FCGI_fgets
#undef gets
#define gets FCGI_gets

#undef fputc
#define fputc FCGI_fputc
#undef putc
#define putc FCGI_fputc
#undef putchar
#define putchar FCGI_putchar

#undef fputs
#define fputs FCGI_fputs
#undef puts
#define puts FCGI_puts

#undef fprintf
#define fprintf FCGI_fprintf
#undef printf
#define printf FCGI_printf
#undef vfprintf
#define vfprintf FCGI_vfprintf
#undef vprintf
#define vprintf FCGI_vprintf

#undef fread
#define fread FCGI_fread
#undef fwrite
#define fwrite FCGI_fwrite

#undef feof
#define feof FCGI_feof
#undef ferror
#define ferror FCGI_ferror
#undef clearerr
#define clearerr FCGI_clearerr

#undef tmpfile
#define tmpfile FCGI_tmpfile

#undef fileno
#define fileno FCGI_fileno
#undef fdopen
#define fdopen FCGI_fdopen
#undef popen
#define popen FCGI_popen
#undef pclose
#define pclose FCGI_pclose

#endif /* !NO_FCGI_DEFINES */

#if defined(__cplusplus) || defined(c_plusplus)
} /* extern "C" */
#endif

#endif /* _FCGI_STDIO */
