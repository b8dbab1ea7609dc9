/*
 * hello: the smallest responder, for benchmarks. One thread, one fixed answer.
 *
 * Usage: hello [-s ADDR]
 */

#include "example_util.h"

int main(int argc, char **argv)
{
    static const char answer[] = "Content-Type: text/plain\r\n\r\nHello, world!\n";
    FCGX_Request req;
    if (FCGX_Init() != 0)
        return 1;
    FCGX_InitRequest(&req, example_socket_from_args(argc, argv), 0);
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(answer, (int)sizeof answer - 1, req.out);
        FCGX_Finish_r(&req);
    }
    return 0;
}
