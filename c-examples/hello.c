/*
 * hello: the smallest responder, for benchmarks. One thread, one fixed answer.
 *
 * Usage: hello [-s ADDR]
 */
#include <unistd.h>

#include "example_util.h"

int main(int argc, char **argv)
{
    static const char answer[] = "Content-Type: text/plain\r\n\r\nHello, world!\n";
    const char *addr = NULL;
    FCGX_Request req;
    int opt;

    while ((opt = getopt(argc, argv, "s:")) != -1) {
        if (opt != 's') {
            fprintf(stderr, "usage: %s [-s ADDR]\n", argv[0]);
            return 2;
        }
        addr = optarg;
    }
    if (FCGX_Init() != 0)
        return 1;
    FCGX_InitRequest(&req, example_listen_socket(addr), 0);
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(answer, (int)sizeof answer - 1, req.out);
        FCGX_Finish_r(&req);
    }
    return 0;
}
