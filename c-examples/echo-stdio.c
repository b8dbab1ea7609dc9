/*
 * echo-stdio: a responder written against fcgi_stdio.h, the stdio interface.
 *
 * The program uses only stdio names (printf, getchar, fread, fwrite, fprintf
 * to stderr) and getenv/environ, the way a CGI program would; the header turns
 * them into the FCGI_* functions. It therefore runs unchanged
 *   - as a FastCGI application, when fd 0 is a listening socket, and
 *   - as a plain CGI program (request variables in the environment, body on
 *     stdin): FCGI_Accept returns 0 once, then -1, and the program exits 0.
 *
 * Response (text/plain), every line deterministic for a given request:
 *   request N                      requests served by this process so far
 *   method M / query Q             getenv("REQUEST_METHOD"), getenv("QUERY_STRING")
 *   content_length L
 *   getchar A fread B extra E      body bytes read each way; bytes found past L
 *   env K                          then the K entries of environ, in order
 *   c99 ...                        only when the query string contains "c99":
 *                                  printf with %zu, %lld and %5.2f
 *   body L                         then the L body bytes, unchanged
 * One line goes to stderr per request.
 */
#include "fcgi_stdio.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

/* Bytes read one at a time with getchar before switching to fread. */
#define GETCHAR_MAX 4096

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL ? v : dflt;
}

int main(void)
{
    int served = 0;

    while (FCGI_Accept() >= 0) {
        const char *query = env_or("QUERY_STRING", "");
        long len = strtol(env_or("CONTENT_LENGTH", "0"), NULL, 10);
        long by_getchar = 0, by_fread = 0, extra = 0;
        char *body;
        char **e;
        int count = 0;

        served++;
        if (len < 0)
            len = 0;
        body = malloc((size_t)len + 1);
        if (body == NULL) {
            printf("Status: 500 Internal Server Error\r\n\r\n");
            continue;
        }

        /* The first part of the body byte by byte ... */
        while (by_getchar < len / 2 && by_getchar < GETCHAR_MAX) {
            int c = getchar();
            if (c == EOF)
                break;
            body[by_getchar++] = (char)c;
        }
        /* ... the rest in blocks. */
        while (by_getchar + by_fread < len) {
            long want = len - by_getchar - by_fread;
            size_t got;
            if (want > 8000)
                want = 8000;
            got = fread(body + by_getchar + by_fread, 1, (size_t)want, stdin);
            if (got == 0 || got > (size_t)want)
                break;
            by_fread += (long)got;
        }
        while (getchar() != EOF)
            extra++;

        printf("Content-Type: text/plain\r\n\r\n");
        printf("request %d\n", served);
        printf("method %s\n", env_or("REQUEST_METHOD", "(none)"));
        printf("query %s\n", query);
        printf("content_length %ld\n", len);
        printf("getchar %ld fread %ld extra %ld\n", by_getchar, by_fread, extra);
        for (e = environ; e != NULL && *e != NULL; e++)
            count++;
        printf("env %d\n", count);
        for (e = environ; e != NULL && *e != NULL; e++) {
            fputs(*e, stdout);
            putchar('\n');
        }
        if (strstr(query, "c99") != NULL) {
            /* libfcgi's formatter stops at %zu; the newline comes separately so
             * that the following lines stay intact either way. */
            printf("c99 zu=%zu lld=%lld f=%5.2f end", (size_t)len,
                   -1234567890123LL, 3.14159);
            printf("\n");
        }
        printf("body %ld\n", by_getchar + by_fread);
        fwrite(body, 1, (size_t)(by_getchar + by_fread), stdout);
        fflush(stdout);

        fprintf(stderr, "echo-stdio: request %d, %ld body bytes\n", served,
                by_getchar + by_fread);
        free(body);
    }
    return 0;
}
