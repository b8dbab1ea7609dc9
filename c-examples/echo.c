/*
 * echo: a responder that reports what it received.
 *
 * Output (stdout of the request):
 *   CGI headers (Status, Content-Type; X-Pid when the query has pid=1)
 *   "params:" and every param in arrival order as NAME=VALUE lines
 *   "lookups:" and FCGX_GetParam results for a few well-known names
 *   "stdin: N bytes" and then the request body, byte for byte
 *
 * Query options: status=N (FCGX_SetExitStatus), stderr=TEXT (written with a newline to the
 * error stream), sleep_ms=N (pause before answering), pid=1 (X-Pid header).
 * The output depends only on the request, so two builds can be compared byte for byte.
 *
 * Usage: echo [-s ADDR]
 */
#include <unistd.h>

#include "example_util.h"

static const char *const lookup_names[] = {
    "FCGI_ROLE", "REQUEST_METHOD", "QUERY_STRING", "CONTENT_LENGTH", "CONTENT_TYPE",
    "HTTP_HOST", "NO_SUCH_PARAM",
};

/* Reads the whole request body; CONTENT_LENGTH is only a hint for the first allocation. */
static char *read_body(FCGX_Stream *in, const char *hint, size_t *len_out)
{
    size_t cap = 4096, len = 0;
    long h = hint ? strtol(hint, NULL, 10) : 0;
    char *buf;
    if (h > 0 && h < (64L << 20))
        cap = (size_t)h + 1;
    buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    for (;;) {
        int want, got;
        if (cap - len < 4096) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL)
                break;
            buf = bigger;
            cap *= 2;
        }
        want = (int)((cap - len) > 65536 ? 65536 : (cap - len));
        got = FCGX_GetStr(buf + len, want, in);
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    *len_out = len;
    return buf;
}

static void serve(FCGX_Request *req)
{
    const char *query = FCGX_GetParam("QUERY_STRING", req->envp);
    char text[4096];
    size_t body_len = 0, i;
    char *body;
    char **e;

    body = read_body(req->in, FCGX_GetParam("CONTENT_LENGTH", req->envp), &body_len);

    if (query_option(query, "stderr", text, sizeof text) >= 0)
        FCGX_FPrintF(req->err, "%s\n", text);
    sleep_ms(query_number(query, "sleep_ms", 0));

    FCGX_PutS("Status: 200 OK\r\nContent-Type: text/plain\r\n", req->out);
    if (query_number(query, "pid", 0) == 1)
        FCGX_FPrintF(req->out, "X-Pid: %d\r\n", (int)getpid());
    FCGX_PutS("\r\n", req->out);

    FCGX_PutS("params:\n", req->out);
    for (e = req->envp; e != NULL && *e != NULL; e++)
        FCGX_FPrintF(req->out, "%s\n", *e);

    FCGX_PutS("lookups:\n", req->out);
    for (i = 0; i < sizeof lookup_names / sizeof lookup_names[0]; i++) {
        const char *v = FCGX_GetParam(lookup_names[i], req->envp);
        if (v != NULL)
            FCGX_FPrintF(req->out, "%s -> [%s]\n", lookup_names[i], v);
        else
            FCGX_FPrintF(req->out, "%s -> unset\n", lookup_names[i]);
    }

    FCGX_FPrintF(req->out, "stdin: %lu bytes\n", (unsigned long)body_len);
    if (body != NULL && body_len > 0)
        FCGX_PutStr(body, (int)body_len, req->out);
    free(body);

    if (query_option(query, "status", text, sizeof text) >= 0)
        FCGX_SetExitStatus(atoi(text), req->out);
}

int main(int argc, char **argv)
{
    FCGX_Request req;
    if (FCGX_Init() != 0) {
        fprintf(stderr, "FCGX_Init failed\n");
        return 1;
    }
    FCGX_InitRequest(&req, example_socket_from_args(argc, argv), 0);
    while (FCGX_Accept_r(&req) >= 0) {
        serve(&req);
        FCGX_Finish_r(&req);
    }
    return 0;
}
