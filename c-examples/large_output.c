/*
 * large_output: writes a long deterministic byte pattern so a client can check every byte.
 *
 * Byte i of the body is (i * 7 + 3) % 251. The body is produced through a rotating mix of
 * FCGX_PutStr with chunk sizes from 1 byte to 200 KiB, FCGX_PutChar and FCGX_FPrintF, so
 * record boundaries fall everywhere relative to the calls.
 *
 * Query options: size=N (bytes, default 32 MiB).
 *
 * Usage: large_output [-s ADDR]
 */

#include "example_util.h"

#define MAX_CHUNK (200 * 1024)

static unsigned char pattern_byte(unsigned long long i)
{
    return (unsigned char)((i * 7 + 3) % 251);
}

/* Chunk sizes for FCGX_PutStr, cycled through; they straddle the usual buffer sizes. */
static const int chunk_sizes[] = {
    1, 2, 7, 100, 511, 512, 4095, 8183, 8184, 8185, 16384, 65527, 65535, 65536, 65537,
    131072, MAX_CHUNK, 3, 12345,
};

static void serve(FCGX_Request *req, unsigned char *scratch)
{
    const char *query = FCGX_GetParam("QUERY_STRING", req->envp);
    long long size = query_number(query, "size", 32L << 20);
    unsigned long long pos = 0, total;
    unsigned step = 0;
    char drain[4096];

    while (FCGX_GetStr(drain, (int)sizeof drain, req->in) > 0) {
    }
    if (size < 0)
        size = 0;
    total = (unsigned long long)size;
    FCGX_FPrintF(req->out,
                 "Status: 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 "X-Size: %llu\r\n\r\n",
                 total);

    while (pos < total) {
        unsigned long long left = total - pos;
        switch (step % 4) {
        case 0:
        case 2: {
            int n = chunk_sizes[(step / 4) % (sizeof chunk_sizes / sizeof chunk_sizes[0])];
            int k;
            if ((unsigned long long)n > left)
                n = (int)left;
            for (k = 0; k < n; k++)
                scratch[k] = pattern_byte(pos + (unsigned long long)k);
            if (FCGX_PutStr((const char *)scratch, n, req->out) != n)
                return;
            pos += (unsigned long long)n;
            break;
        }
        case 1: {
            int k, n = left < 5 ? (int)left : 5;
            for (k = 0; k < n; k++, pos++)
                if (FCGX_PutChar(pattern_byte(pos), req->out) < 0)
                    return;
            break;
        }
        default:
            /* FCGX_FPrintF("%c") is only given non-zero bytes: libfcgi's formatter drops a
             * NUL produced by %c, so zero bytes always go through FCGX_PutChar. */
            if (left >= 4 && pattern_byte(pos) != 0 && pattern_byte(pos + 1) != 0 &&
                pattern_byte(pos + 2) != 0 && pattern_byte(pos + 3) != 0) {
                if (FCGX_FPrintF(req->out, "%c%c%c%c", pattern_byte(pos), pattern_byte(pos + 1),
                                 pattern_byte(pos + 2), pattern_byte(pos + 3)) != 4)
                    return;
                pos += 4;
            } else if (left > 0) {
                if (FCGX_PutChar(pattern_byte(pos), req->out) < 0)
                    return;
                pos++;
            }
            break;
        }
        step++;
    }
}

int main(int argc, char **argv)
{
    unsigned char *scratch;
    FCGX_Request req;
    scratch = malloc(MAX_CHUNK);
    if (scratch == NULL || FCGX_Init() != 0)
        return 1;
    FCGX_InitRequest(&req, example_socket_from_args(argc, argv), 0);
    while (FCGX_Accept_r(&req) >= 0) {
        serve(&req, scratch);
        FCGX_Finish_r(&req);
    }
    free(scratch);
    return 0;
}
