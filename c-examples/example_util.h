/*
 * Helpers shared by the fcgi_rs C examples: choosing the listen socket, reading query
 * options, sleeping without being cut short by signals.
 *
 * Every example listens on fd 0 (how spawn-fcgi, cgi-fcgi -start and web servers hand over
 * a socket) unless it is given "-s ADDR", in which case it opens ADDR itself with
 * FCGX_OpenSocket ("host:port", ":port" or a unix socket path).
 */
#ifndef FCGI_RS_EXAMPLE_UTIL_H
#define FCGI_RS_EXAMPLE_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fcgiapp.h"

/* The listen socket chosen by "-s ADDR" (opened here) or fd 0. Exits on failure. */
static inline int example_listen_socket(const char *addr)
{
    int fd;
    if (addr == NULL)
        return 0;
    fd = FCGX_OpenSocket(addr, 128);
    if (fd < 0) {
        fprintf(stderr, "cannot listen on %s\n", addr);
        exit(2);
    }
    return fd;
}

/*
 * The command line of the single-threaded examples: "[-s ADDR]". Returns the listen socket
 * (see example_listen_socket); prints the usage and exits on anything else.
 */
static inline int example_socket_from_args(int argc, char **argv)
{
    const char *addr = NULL;
    int i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            addr = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [-s ADDR]\n", argv[0]);
            exit(2);
        }
    }
    return example_listen_socket(addr);
}

static inline int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Looks for "name=value" in a query string and copies the %-decoded value (with '+' as a
 * space) into out (at most outsize-1 bytes, NUL-terminated). Returns the decoded length,
 * or -1 when the option is absent.
 */
static inline long query_option(const char *query, const char *name, char *out, size_t outsize)
{
    size_t nlen = strlen(name);
    const char *p = query;
    if (query == NULL || outsize == 0)
        return -1;
    while (*p != '\0') {
        const char *end = strchr(p, '&');
        size_t seglen = end ? (size_t)(end - p) : strlen(p);
        if (seglen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            const char *vend = p + seglen;
            size_t o = 0;
            while (v < vend && o + 1 < outsize) {
                if (*v == '%' && vend - v >= 3 && hex_digit(v[1]) >= 0 && hex_digit(v[2]) >= 0) {
                    out[o++] = (char)(hex_digit(v[1]) * 16 + hex_digit(v[2]));
                    v += 3;
                } else if (*v == '+') {
                    out[o++] = ' ';
                    v++;
                } else {
                    out[o++] = *v++;
                }
            }
            out[o] = '\0';
            return (long)o;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return -1;
}

/* Numeric query option, or dflt when absent. */
static inline long query_number(const char *query, const char *name, long dflt)
{
    char buf[32];
    if (query_option(query, name, buf, sizeof buf) < 0)
        return dflt;
    return strtol(buf, NULL, 10);
}

/* Sleeps ms milliseconds, resuming after signal interruptions. */
static inline void sleep_ms(long ms)
{
    struct timespec left;
    if (ms <= 0)
        return;
    left.tv_sec = ms / 1000;
    left.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

#endif
