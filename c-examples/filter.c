/*
 * filter: the FILTER role. It reads stdin to its end, switches the input stream to the
 * data stream with FCGX_StartFilterData, and answers with the data upper-cased after a line
 * giving the stdin length, the data length and the FCGI_DATA_LENGTH hint.
 * If FCGX_StartFilterData refuses (another role, for instance) it answers "Status: 500".
 *
 * Usage: filter [-s ADDR]
 */
#include <ctype.h>

#include "example_util.h"

static void serve(FCGX_Request *req)
{
    const char *hint = FCGX_GetParam("FCGI_DATA_LENGTH", req->envp);
    char buf[8192];
    long stdin_len = 0, data_len = 0;
    char *data = NULL;
    size_t cap = 0;
    int got, i;

    while ((got = FCGX_GetStr(buf, (int)sizeof buf, req->in)) > 0)
        stdin_len += got;
    if (FCGX_StartFilterData(req->in) != 0) {
        FCGX_FPrintF(req->out,
                     "Status: 500\r\nContent-Type: text/plain\r\n\r\n"
                     "FCGX_StartFilterData failed (error %d)\n",
                     FCGX_GetError(req->in));
        return;
    }
    while ((got = FCGX_GetStr(buf, (int)sizeof buf, req->in)) > 0) {
        if ((size_t)(data_len + got) > cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *bigger;
            while (ncap < (size_t)(data_len + got))
                ncap *= 2;
            bigger = realloc(data, ncap);
            if (bigger == NULL)
                break;
            data = bigger;
            cap = ncap;
        }
        for (i = 0; i < got; i++)
            data[data_len + i] = (char)toupper((unsigned char)buf[i]);
        data_len += got;
    }
    FCGX_FPrintF(req->out,
                 "Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"
                 "stdin=%ld data=%ld hint=%s\n",
                 stdin_len, data_len, hint ? hint : "unset");
    if (data_len > 0)
        FCGX_PutStr(data, (int)data_len, req->out);
    free(data);
}

int main(int argc, char **argv)
{
    FCGX_Request req;
    if (FCGX_Init() != 0)
        return 1;
    FCGX_InitRequest(&req, example_socket_from_args(argc, argv), 0);
    while (FCGX_Accept_r(&req) >= 0) {
        serve(&req);
        FCGX_Finish_r(&req);
    }
    return 0;
}
