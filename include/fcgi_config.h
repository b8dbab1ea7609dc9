/*
 * fcgi_config.h -- build configuration of the library, as installed by
 * libfcgi and relied on by some of its users (through fcgios.h, or directly).
 *
 * fcgi_rs is not built from this file; it describes the platform fcgi_rs
 * supports (glibc Linux) with the values libfcgi's configure script records
 * there, so that programs testing these macros take the same branches.
 */
#ifndef FCGI_RS_FCGI_CONFIG_H
#define FCGI_RS_FCGI_CONFIG_H

/* System headers present. */
#define HAVE_ARPA_INET_H 1
#define HAVE_DLFCN_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_LIMITS_H 1
#define HAVE_NETDB_H 1
#define HAVE_NETINET_IN_H 1
#define HAVE_STDINT_H 1
#define HAVE_STDIO_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRINGS_H 1
#define HAVE_STRING_H 1
#define HAVE_SYS_PARAM_H 1
#define HAVE_SYS_SOCKET_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TIME_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_UNISTD_H 1
#define STDC_HEADERS 1

/* Library features. fpos_t exists (FCGI_fgetpos/FCGI_fsetpos are declared),
 * stdio.h declares fileno, strerror exists, std::streambuf has char_type. */
#define HAVE_FPOS 1
#define HAVE_FILENO_PROTO 1
#define HAVE_STRERROR 1
#define HAVE_STREAMBUF_CHAR_TYPE 1
#define HAVE_LIBNSL 1

/* Left undefined, as in libfcgi's Linux build: HAVE_PTHREAD, USE_LOCKING,
 * HAVE_SOCKLEN, HAVE_LIBSOCKET, HAVE_SOCKADDR_UN_SUN_LEN,
 * HAVE_IOSTREAM_WITHASSIGN_STREAMBUF, HAVE_VA_ARG_LONG_DOUBLE_BUG,
 * PTHREAD_CREATE_JOINABLE. */

/* The libfcgi release whose interface this is. */
#define PACKAGE "fcgi"
#define PACKAGE_NAME "fcgi"
#define PACKAGE_TARNAME "fcgi"
#define PACKAGE_VERSION "2.4.2"
#define PACKAGE_STRING "fcgi 2.4.2"
#define PACKAGE_BUGREPORT ""
#define PACKAGE_URL ""
#define VERSION "2.4.2"
#define LT_OBJDIR ".libs/"

#endif /* FCGI_RS_FCGI_CONFIG_H */
