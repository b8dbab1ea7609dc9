/* A libfcgi program for the process-manager tests. Answers "hello pid=N n=K", sleeps for
 * ?sleep=MS first (restarting after signals, as a well-behaved handler must), and leaves its
 * loop after FCGI_RS_MAX_REQUESTS requests when that is set (the way php-cgi honours its own
 * request limit). */
#include <fcgiapp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L }, rem;
    while (nanosleep(&t, &rem) == -1 && errno == EINTR) t = rem;
}

int main(void) {
    FCGX_Request r;
    long limit = getenv("FCGI_RS_MAX_REQUESTS") ? atol(getenv("FCGI_RS_MAX_REQUESTS")) : 0;
    long n = 0;
    FCGX_Init();
    FCGX_InitRequest(&r, 0, 0);
    while (FCGX_Accept_r(&r) >= 0) {
        const char *q = FCGX_GetParam("QUERY_STRING", r.envp);
        if (q && strncmp(q, "sleep=", 6) == 0) sleep_ms(atol(q + 6));
        n++;
        FCGX_FPrintF(r.out, "Content-Type: text/plain\r\n\r\nhello pid=%d n=%ld\n", (int)getpid(), n);
        FCGX_Finish_r(&r);
        if (limit > 0 && n >= limit) break;
    }
    return 0;
}
