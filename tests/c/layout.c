/*
 * Prints the size, alignment and field offsets of every public structure of
 * fcgiapp.h and fastcgi.h, one "name value" pair a line. tests/abi_layout.rs
 * compiles it against libfcgi's installed headers and against ours and
 * compares both outputs with each other and with the reference numbers.
 *
 * With -DWITH_INIT_CHECK it also calls FCGX_InitRequest on a poisoned buffer
 * larger than FCGX_Request and reports what the call wrote, so the same check
 * can run on libfcgi and on fcgi_rs.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#define SIZE(T) printf("%s.size %zu\n%s.align %zu\n", #T, sizeof(T), #T, _Alignof(T))
#define OFF(T, f) printf("%s.%s %zu\n", #T, #f, offsetof(T, f))

int main(void)
{
    SIZE(FCGX_Stream);
    OFF(FCGX_Stream, rdNext);
    OFF(FCGX_Stream, wrNext);
    OFF(FCGX_Stream, stop);
    OFF(FCGX_Stream, stopUnget);
    OFF(FCGX_Stream, isReader);
    OFF(FCGX_Stream, isClosed);
    OFF(FCGX_Stream, wasFCloseCalled);
    OFF(FCGX_Stream, FCGI_errno);
    OFF(FCGX_Stream, fillBuffProc);
    OFF(FCGX_Stream, emptyBuffProc);
    OFF(FCGX_Stream, data);

    SIZE(FCGX_Request);
    OFF(FCGX_Request, requestId);
    OFF(FCGX_Request, role);
    OFF(FCGX_Request, in);
    OFF(FCGX_Request, out);
    OFF(FCGX_Request, err);
    OFF(FCGX_Request, envp);
    OFF(FCGX_Request, paramsPtr);
    OFF(FCGX_Request, ipcFd);
    OFF(FCGX_Request, isBeginProcessed);
    OFF(FCGX_Request, keepConnection);
    OFF(FCGX_Request, appStatus);
    OFF(FCGX_Request, nWriters);
    OFF(FCGX_Request, flags);
    OFF(FCGX_Request, listen_sock);
    OFF(FCGX_Request, detached);

    SIZE(FCGX_ParamArray);

    SIZE(FCGI_Header);
    OFF(FCGI_Header, version);
    OFF(FCGI_Header, type);
    OFF(FCGI_Header, requestIdB1);
    OFF(FCGI_Header, requestIdB0);
    OFF(FCGI_Header, contentLengthB1);
    OFF(FCGI_Header, contentLengthB0);
    OFF(FCGI_Header, paddingLength);
    OFF(FCGI_Header, reserved);

    SIZE(FCGI_BeginRequestBody);
    OFF(FCGI_BeginRequestBody, roleB1);
    OFF(FCGI_BeginRequestBody, roleB0);
    OFF(FCGI_BeginRequestBody, flags);
    OFF(FCGI_BeginRequestBody, reserved);
    SIZE(FCGI_BeginRequestRecord);
    OFF(FCGI_BeginRequestRecord, header);
    OFF(FCGI_BeginRequestRecord, body);

    SIZE(FCGI_EndRequestBody);
    OFF(FCGI_EndRequestBody, appStatusB3);
    OFF(FCGI_EndRequestBody, appStatusB2);
    OFF(FCGI_EndRequestBody, appStatusB1);
    OFF(FCGI_EndRequestBody, appStatusB0);
    OFF(FCGI_EndRequestBody, protocolStatus);
    OFF(FCGI_EndRequestBody, reserved);
    SIZE(FCGI_EndRequestRecord);
    OFF(FCGI_EndRequestRecord, header);
    OFF(FCGI_EndRequestRecord, body);

    SIZE(FCGI_UnknownTypeBody);
    OFF(FCGI_UnknownTypeBody, type);
    OFF(FCGI_UnknownTypeBody, reserved);
    SIZE(FCGI_UnknownTypeRecord);
    OFF(FCGI_UnknownTypeRecord, header);
    OFF(FCGI_UnknownTypeRecord, body);

#ifdef WITH_INIT_CHECK
    {
        /* Union for alignment; 16 bytes of slack after the structure. */
        union {
            unsigned char bytes[sizeof(FCGX_Request) + 16];
            FCGX_Request req;
        } u;
        FCGX_Request *r = &u.req;
        size_t i, tail_touched = 0;
        int rc;

        memset(u.bytes, 0xAA, sizeof u.bytes);
        rc = FCGX_InitRequest(r, 5, 1);
        for (i = sizeof(FCGX_Request); i < sizeof u.bytes; i++)
            if (u.bytes[i] != 0xAA)
                tail_touched++;
        printf("init.rc %d\n", rc);
        printf("init.tail_bytes_touched %zu\n", tail_touched);
        printf("init.requestId %d\n", r->requestId);
        printf("init.role %d\n", r->role);
        printf("init.in_null %d\n", r->in == NULL);
        printf("init.out_null %d\n", r->out == NULL);
        printf("init.err_null %d\n", r->err == NULL);
        printf("init.envp_null %d\n", r->envp == NULL);
        printf("init.paramsPtr_null %d\n", r->paramsPtr == NULL);
        printf("init.ipcFd %d\n", r->ipcFd);
        printf("init.isBeginProcessed %d\n", r->isBeginProcessed);
        printf("init.keepConnection %d\n", r->keepConnection);
        printf("init.appStatus %d\n", r->appStatus);
        printf("init.nWriters %d\n", r->nWriters);
        printf("init.flags %d\n", r->flags);
        printf("init.listen_sock %d\n", r->listen_sock);
        printf("init.detached %d\n", r->detached);
        FCGX_Free(r, 0);
    }
#endif
    return 0;
}
