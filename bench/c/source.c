/*
 * source: answers QUERY_STRING size=N with N body bytes written from one pre-filled 64 KiB
 * buffer by FCGX_PutStr, for the download benchmark. Unlike c-examples/large_output.c it spends
 * almost nothing of its own per byte, so the time is the library's and the kernel's.
 *
 * The runner compiles it twice, like the C examples. It takes its listen socket on fd 0.
 */
#include <fcgiapp.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    static char buf[65536];
    FCGX_Request req;

    memset(buf, 'x', sizeof buf);
    if (FCGX_Init() != 0)
        return 1;
    FCGX_InitRequest(&req, 0, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        const char *q = FCGX_GetParam("QUERY_STRING", req.envp);
        const char *p = q ? strstr(q, "size=") : NULL;
        long long left = p ? atoll(p + 5) : 0;

        FCGX_FPrintF(req.out, "Content-Type: application/octet-stream\r\n\r\n");
        while (left > 0) {
            int n = left < (long long)sizeof buf ? (int)left : (int)sizeof buf;
            if (FCGX_PutStr(buf, n, req.out) != n)
                break;
            left -= n;
        }
        FCGX_Finish_r(&req);
    }
    return 0;
}
