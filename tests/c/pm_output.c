/* A FastCGI program for the process manager's output-capture tests (catch_workers_output).
 * It writes to its real stdout and stderr with stdio (the FastCGI response goes through
 * FCGX streams), so what it prints is what a pool catches. Builds against libfcgi's
 * fcgiapp.h or ours.
 *
 * Per request, from QUERY_STRING (each optional):
 *   lines=K   K lines "out K/N from PID" to stdout and "err K/N from PID" to stderr (default 1)
 *   long=N    one line of N 'x' bytes to stderr
 *   flood=N   N/100 numbered lines of about 100 bytes to stderr: "flood PID SEQ ...z"
 *   tail=1    "tail from PID" to stdout without a newline (stdio flushes it at exit),
 *             then leave after this request
 * Answers "out pid=PID n=REQUESTS". Leaves its loop after FCGI_RS_MAX_REQUESTS requests
 * when that is set (the command passes each worker its limit).
 */
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long query_num(const char *q, const char *name) {
    size_t len = strlen(name);
    while (q && *q) {
        if (strncmp(q, name, len) == 0 && q[len] == '=') return atol(q + len + 1);
        q = strchr(q, '&');
        if (q) q++;
    }
    return -1;
}

int main(void) {
    FCGX_Request r;
    const char *lim = getenv("FCGI_RS_MAX_REQUESTS");
    long limit = lim ? atol(lim) : 0;
    long n = 0;
    int pid;
    FCGX_Init(); /* under a pool configured by the environment, the fork happens here */
    pid = (int)getpid();
    FCGX_InitRequest(&r, 0, 0);
    while (FCGX_Accept_r(&r) >= 0) {
        const char *q = FCGX_GetParam("QUERY_STRING", r.envp);
        long lines = query_num(q, "lines");
        long longlen = query_num(q, "long");
        long flood = query_num(q, "flood");
        int tail = query_num(q, "tail") == 1;
        n++;
        if (lines < 0) lines = 1;
        for (long i = 1; i <= lines; i++) {
            printf("out %ld/%ld from %d\n", i, n, pid);
            fflush(stdout);
            fprintf(stderr, "err %ld/%ld from %d\n", i, n, pid);
        }
        if (longlen > 0) {
            char *b = malloc((size_t)longlen + 1);
            memset(b, 'x', (size_t)longlen);
            b[longlen] = '\n';
            fwrite(b, 1, (size_t)longlen + 1, stderr);
            free(b);
        }
        for (long done = 0, seq = 0; flood > 0 && done < flood; done += 100, seq++) {
            fprintf(stderr, "flood %d %08ld %70s\n", pid, seq, "z");
        }
        if (tail) fprintf(stdout, "tail from %d", pid);
        FCGX_FPrintF(r.out, "Content-Type: text/plain\r\n\r\nout pid=%d n=%ld\n", pid, n);
        FCGX_Finish_r(&r);
        if (tail || (limit > 0 && n >= limit)) break;
    }
    return 0;
}
