/*
 * sink: reads the whole request body and answers with its length, for the upload benchmark.
 *
 * The runner compiles it twice, like the C examples: once against fcgi_rs, once against
 * Debian's libfcgi. It takes its listen socket on fd 0.
 */
#include <fcgiapp.h>

int main(void)
{
    static char buf[65536];
    FCGX_Request req;

    if (FCGX_Init() != 0)
        return 1;
    FCGX_InitRequest(&req, 0, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        long long total = 0;
        int n;

        while ((n = FCGX_GetStr(buf, (int)sizeof buf, req.in)) > 0)
            total += n;
        FCGX_FPrintF(req.out, "Content-Type: text/plain\r\n\r\n%lld\n", total);
        FCGX_Finish_r(&req);
    }
    return 0;
}
