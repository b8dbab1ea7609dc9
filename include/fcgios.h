/*
 * fcgios.h -- the OS_* layer of fcgi_rs (sockets, process spawning and the
 * small asynchronous I/O loop used by the cgi-fcgi bridge).
 *
 * These functions are exported for compatibility with libfcgi, whose header
 * of this name declares them; cgi-fcgi is their main user. New programs
 * should use the FCGX_* interface of fcgiapp.h instead.
 *
 * Prototypes, type names and macro names match libfcgi's fcgios.h.
 */
#ifndef _FCGIOS_H
#define _FCGIOS_H

#include "fcgi_config.h"

#include <sys/time.h>
#include <sys/types.h>
#include <errno.h>

#if defined(__cplusplus) || defined(c_plusplus)
extern "C" {
#endif

#ifndef DLLAPI
#define DLLAPI
#endif

/* The error number of the last failed OS call, and a way to set it. */
#define OS_Errno errno
#define OS_SetErrno(err) (errno = (err))

/* Seconds and microseconds, in struct timeval initialiser order: how long a
 * closing connection may linger for the peer's remaining input. */
#define READABLE_UNIX_FD_DROP_DEAD_TIMEVAL 2, 0

#ifndef STDIN_FILENO
#define STDIN_FILENO 0
#endif
#ifndef STDOUT_FILENO
#define STDOUT_FILENO 1
#endif
#ifndef STDERR_FILENO
#define STDERR_FILENO 2
#endif

#ifndef MAXPATHLEN
#define MAXPATHLEN 1024
#endif

#ifndef X_OK
#define X_OK 0x01
#endif

#ifndef _CLIENTDATA
#define _CLIENTDATA
/* Opaque value handed back to an asynchronous I/O completion. */
typedef void *ClientData;
#endif

/* Completion of an OS_Async* call: len is the byte count, or -1 on error. */
typedef void (*OS_AsyncProc)(ClientData clientData, int len);

/* Library set-up and tear-down. stdioFds may be NULL. 0 on success. */
DLLAPI int OS_LibInit(int stdioFds[3]);
DLLAPI void OS_LibShutdown(void);

/* Listening socket for bindPath ("host:port", ":port" or a unix path), with
 * the given backlog. The fd, or -1. */
DLLAPI int OS_CreateLocalIpcFd(const char *bindPath, int backlog);
/* Connected socket to bindPath (same syntax). The fd, or -1. */
DLLAPI int OS_FcgiConnect(char *bindPath);

/* read(2)/write(2) on fd; the byte count, or -1. */
DLLAPI int OS_Read(int fd, char *buf, size_t len);
DLLAPI int OS_Write(int fd, char *buf, size_t len);

/* Starts execPath as a FastCGI application with listenFd as its fd 0. */
DLLAPI int OS_SpawnChild(char *execPath, int listenFd);

/* Queue an asynchronous read or write; procPtr runs from OS_DoIo. 0, or -1. */
DLLAPI int OS_AsyncReadStdin(void *buf, int len, OS_AsyncProc procPtr,
                             ClientData clientData);
DLLAPI int OS_AsyncRead(int fd, int offset, void *buf, int len,
                        OS_AsyncProc procPtr, ClientData clientData);
DLLAPI int OS_AsyncWrite(int fd, int offset, void *buf, int len,
                         OS_AsyncProc procPtr, ClientData clientData);

/* Close fd; with shutdown != 0 shut the socket down first. */
DLLAPI int OS_Close(int fd, int shutdown);
/* Shut down the read side of a socket. */
DLLAPI int OS_CloseRead(int fd);

/* Wait (at most *tmo, or forever when NULL) for queued I/O and run the
 * completions of what finished. */
DLLAPI int OS_DoIo(struct timeval *tmo);

/* Accept a connection on listen_sock, honouring the FCGI_WEB_SERVER_ADDRS
 * list in webServerAddrs (may be NULL). The fd, or -1. */
DLLAPI int OS_Accept(int listen_sock, int fail_on_intr, const char *webServerAddrs);
DLLAPI int OS_IpcClose(int ipcFd, int shutdown);
/* 1 if sock is a listening socket (the process runs under FastCGI). */
DLLAPI int OS_IsFcgi(int sock);
DLLAPI void OS_SetFlags(int fd, int flags);

/* Ask the library to stop accepting requests. */
DLLAPI void OS_ShutdownPending(void);

#if defined(__cplusplus) || defined(c_plusplus)
} /* extern "C" */
#endif

#endif /* _FCGIOS_H */
