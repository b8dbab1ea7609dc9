/*
 * fcgiapp.h -- the FCGX_* application interface of fcgi_rs.
 *
 * fcgi_rs is a drop-in replacement for libfcgi: a program written against
 * libfcgi's fcgiapp.h compiles unchanged against this header, and a program
 * already built against libfcgi runs unchanged on fcgi_rs. The type names,
 * structure layouts (x86_64: FCGX_Stream 72 bytes, FCGX_Request 80 bytes),
 * macros and prototypes below are therefore fixed by that interface.
 *
 * fcgi_rs's own additions are declared in fcgi_rs.h, never here.
 */
#ifndef _FCGIAPP_H
#define _FCGIAPP_H

#include <stdarg.h>

/* Kept for sources that decorate their own declarations with it. */
#ifndef DLLAPI
#define DLLAPI
#endif

#if defined(__cplusplus) || defined(c_plusplus)
extern "C" {
#endif

/* Error codes reported by the stream functions (FCGX_GetError) and by
 * FCGX_Accept_r, besides negated errno values. */
#define FCGX_UNSUPPORTED_VERSION -2
#define FCGX_PROTOCOL_ERROR -3
#define FCGX_PARAMS_ERROR -4
#define FCGX_CALL_SEQ_ERROR -5

/*
 * A byte stream: the request's stdin, stdout, stderr or filter data.
 *
 * The first four pointers delimit the stream's current buffer; the other
 * fields belong to the library. Applications should only pass FCGX_Stream
 * pointers to the FCGX_* functions, but the layout is public and must not
 * change.
 */
typedef struct FCGX_Stream {
    unsigned char *rdNext;    /* input: next byte to hand out */
    unsigned char *wrNext;    /* output: next free byte */
    unsigned char *stop;      /* input: end of valid bytes; output: end of space */
    unsigned char *stopUnget; /* input: start of the buffer (limit for unget) */
    int isReader;
    int isClosed;
    int wasFCloseCalled;
    int FCGI_errno; /* sticky error, 0 when fine */
    void (*fillBuffProc)(struct FCGX_Stream *stream);
    void (*emptyBuffProc)(struct FCGX_Stream *stream, int doClose);
    void *data; /* library-private state */
} FCGX_Stream;

/* The request's parameters: a NULL-terminated array of "NAME=VALUE" strings. */
typedef char **FCGX_ParamArray;

/* FCGX_InitRequest flag: make FCGX_Accept_r give up when a signal interrupts
 * the wait, instead of retrying. */
#define FCGI_FAIL_ACCEPT_ON_INTR 1

/*
 * One request slot. The application owns this memory (stack, heap, ...);
 * FCGX_InitRequest prepares it and FCGX_Accept_r fills it. Only the fields up
 * to and including envp are meant for application use; the rest is library
 * state whose layout is nevertheless fixed.
 */
typedef struct FCGX_Request {
    int requestId; /* FastCGI request id, once BEGIN_REQUEST was read */
    int role;      /* FCGI_RESPONDER, FCGI_AUTHORIZER or FCGI_FILTER */
    FCGX_Stream *in;
    FCGX_Stream *out;
    FCGX_Stream *err;
    char **envp;
    /* Library state below: do not use. */
    struct Params *paramsPtr;
    int ipcFd; /* connection descriptor, negative when there is none */
    int isBeginProcessed;
    int keepConnection;
    int appStatus;
    int nWriters;
    int flags;
    int listen_sock;
    int detached;
} FCGX_Request;

/* ---- Setup and request loop ------------------------------------------ */

/* Nonzero when the process runs as plain CGI rather than under FastCGI. */
DLLAPI int FCGX_IsCGI(void);

/* Initialise the library; call once before FCGX_Accept_r. 0 on success. */
DLLAPI int FCGX_Init(void);

/* Create a listen socket: ":port", "host:port" or a unix socket path.
 * Returns the descriptor, or -1 on error. */
DLLAPI int FCGX_OpenSocket(const char *path, int backlog);

/* Prepare a request slot that will accept on sock (0 for the inherited
 * socket) with the given FCGI_* flags. 0 on success. */
DLLAPI int FCGX_InitRequest(FCGX_Request *request, int sock, int flags);

/* Finish the previous request in this slot, if any, and wait for the next
 * one. 0 on success, negative on error or shutdown. Thread-safe when each
 * thread uses its own slot. */
DLLAPI int FCGX_Accept_r(FCGX_Request *request);

/* Complete the current request: flush and close its streams and free its
 * per-request storage. */
DLLAPI void FCGX_Finish_r(FCGX_Request *request);

/* Release the request's storage; close its connection too when close is
 * nonzero. */
DLLAPI void FCGX_Free(FCGX_Request *request, int close);

/* Single-threaded variant of FCGX_Accept_r using a library-owned slot;
 * hands back the streams and parameters of the new request. */
DLLAPI int FCGX_Accept(FCGX_Stream **in, FCGX_Stream **out, FCGX_Stream **err,
                       FCGX_ParamArray *envp);

/* Single-threaded variant of FCGX_Finish_r. */
DLLAPI void FCGX_Finish(void);

/* Filter role: switch the input stream from stdin to the data stream.
 * 0 on success, negative when stdin was not fully consumed. */
DLLAPI int FCGX_StartFilterData(FCGX_Stream *stream);

/* Set the application status reported in END_REQUEST. */
DLLAPI void FCGX_SetExitStatus(int status, FCGX_Stream *stream);

/* ---- Parameters ------------------------------------------------------ */

/* The value of parameter name, or NULL when absent. */
DLLAPI char *FCGX_GetParam(const char *name, FCGX_ParamArray envp);

/* ---- Input ----------------------------------------------------------- */

/* Next byte, or EOF. */
DLLAPI int FCGX_GetChar(FCGX_Stream *stream);

/* Push one byte back; returns c, or EOF when it cannot. */
DLLAPI int FCGX_UnGetChar(int c, FCGX_Stream *stream);

/* Read up to n bytes; returns how many were read (fewer only at end). */
DLLAPI int FCGX_GetStr(char *str, int n, FCGX_Stream *stream);

/* Read a line of at most n-1 bytes, keeping the newline, and terminate it
 * with NUL. NULL at end of input. */
DLLAPI char *FCGX_GetLine(char *str, int n, FCGX_Stream *stream);

/* Nonzero once the input stream has hit its end. */
DLLAPI int FCGX_HasSeenEOF(FCGX_Stream *stream);

/* ---- Output ---------------------------------------------------------- */

/* Write one byte; returns it, or EOF on error. */
DLLAPI int FCGX_PutChar(int c, FCGX_Stream *stream);

/* Write n bytes; returns n, or -1 on error. */
DLLAPI int FCGX_PutStr(const char *str, int n, FCGX_Stream *stream);

/* Write a NUL-terminated string; returns its length, or -1 on error. */
DLLAPI int FCGX_PutS(const char *str, FCGX_Stream *stream);

/* printf-style output; returns the bytes written, or -1 on error. */
DLLAPI int FCGX_FPrintF(FCGX_Stream *stream, const char *format, ...);

/* vprintf-style output; returns the bytes written, or -1 on error. */
DLLAPI int FCGX_VFPrintF(FCGX_Stream *stream, const char *format, va_list arg);

/* Send buffered output to the peer now. 0, or -1 on error. */
DLLAPI int FCGX_FFlush(FCGX_Stream *stream);

/* ---- Both directions ------------------------------------------------- */

/* Close the stream (an output stream sends its end-of-stream record).
 * 0, or -1 on error. */
DLLAPI int FCGX_FClose(FCGX_Stream *stream);

/* The stream's error code: 0, a positive errno value or an FCGX_* code. */
DLLAPI int FCGX_GetError(FCGX_Stream *stream);

/* Reset the stream's error code. */
DLLAPI void FCGX_ClearError(FCGX_Stream *stream);

/* Create an output stream writing records of streamType for requestId on
 * socket, with a buffer of bufflen bytes. */
DLLAPI FCGX_Stream *FCGX_CreateWriter(int socket, int requestId, int bufflen,
                                      int streamType);

/* Free a stream made by FCGX_CreateWriter and clear the pointer. */
DLLAPI void FCGX_FreeStream(FCGX_Stream **stream);

/* Ask the accept loop to stop: the next FCGX_Accept_r returns an error. */
DLLAPI void FCGX_ShutdownPending(void);

/* Re-attach a request detached by FCGX_Detach. 0, or -1 when not detached. */
DLLAPI int FCGX_Attach(FCGX_Request *r);

/* Detach the current request from the accept loop (e.g. across a fork).
 * 0, or -1 when there is no current request. */
DLLAPI int FCGX_Detach(FCGX_Request *r);

#if defined(__cplusplus) || defined(c_plusplus)
}
#endif

#endif /* _FCGIAPP_H */
