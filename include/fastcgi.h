/*
 * fastcgi.h -- FastCGI protocol definitions (fcgi_rs).
 *
 * Record layouts and constants of the FastCGI 1.0 wire protocol. Every
 * structure here is made of single bytes, so it has alignment 1 and the same
 * layout on every platform; multi-byte integers are stored big-endian, split
 * into B1/B0 (or B3..B0) byte fields.
 *
 * This header is source-compatible with the one shipped by libfcgi: same type
 * names, field names, sizes and macro values.
 */
#ifndef _FASTCGI_H
#define _FASTCGI_H

/* The descriptor a web server or spawner hands the application to accept on. */
#define FCGI_LISTENSOCK_FILENO 0

/* The 8-byte header in front of every record. */
typedef struct {
    unsigned char version;
    unsigned char type;
    unsigned char requestIdB1;
    unsigned char requestIdB0;
    unsigned char contentLengthB1;
    unsigned char contentLengthB0;
    unsigned char paddingLength;
    unsigned char reserved;
} FCGI_Header;

/* Largest content length one record can carry. */
#define FCGI_MAX_LENGTH 0xffff

/* Bytes in FCGI_Header. */
#define FCGI_HEADER_LEN 8

/* The only protocol version. */
#define FCGI_VERSION_1 1

/* Record types (FCGI_Header.type). */
#define FCGI_BEGIN_REQUEST 1
#define FCGI_ABORT_REQUEST 2
#define FCGI_END_REQUEST 3
#define FCGI_PARAMS 4
#define FCGI_STDIN 5
#define FCGI_STDOUT 6
#define FCGI_STDERR 7
#define FCGI_DATA 8
#define FCGI_GET_VALUES 9
#define FCGI_GET_VALUES_RESULT 10
#define FCGI_UNKNOWN_TYPE 11
#define FCGI_MAXTYPE (FCGI_UNKNOWN_TYPE)

/* Request id used by management records (those not tied to a request). */
#define FCGI_NULL_REQUEST_ID 0

/* Body of a BEGIN_REQUEST record. */
typedef struct {
    unsigned char roleB1;
    unsigned char roleB0;
    unsigned char flags;
    unsigned char reserved[5];
} FCGI_BeginRequestBody;

/* A whole BEGIN_REQUEST record: header followed by body (16 bytes). */
typedef struct {
    FCGI_Header header;
    FCGI_BeginRequestBody body;
} FCGI_BeginRequestRecord;

/* Bit in FCGI_BeginRequestBody.flags: keep the connection open afterwards. */
#define FCGI_KEEP_CONN 1

/* Roles (FCGI_BeginRequestBody.roleB1/roleB0). */
#define FCGI_RESPONDER 1
#define FCGI_AUTHORIZER 2
#define FCGI_FILTER 3

/* Body of an END_REQUEST record. */
typedef struct {
    unsigned char appStatusB3;
    unsigned char appStatusB2;
    unsigned char appStatusB1;
    unsigned char appStatusB0;
    unsigned char protocolStatus;
    unsigned char reserved[3];
} FCGI_EndRequestBody;

/* A whole END_REQUEST record (16 bytes). */
typedef struct {
    FCGI_Header header;
    FCGI_EndRequestBody body;
} FCGI_EndRequestRecord;

/* Values of FCGI_EndRequestBody.protocolStatus. */
#define FCGI_REQUEST_COMPLETE 0
#define FCGI_CANT_MPX_CONN 1
#define FCGI_OVERLOADED 2
#define FCGI_UNKNOWN_ROLE 3

/* Variable names a web server may ask for with GET_VALUES. */
#define FCGI_MAX_CONNS "FCGI_MAX_CONNS"
#define FCGI_MAX_REQS "FCGI_MAX_REQS"
#define FCGI_MPXS_CONNS "FCGI_MPXS_CONNS"

/* Body of an UNKNOWN_TYPE record: the record type that was not understood. */
typedef struct {
    unsigned char type;
    unsigned char reserved[7];
} FCGI_UnknownTypeBody;

/* A whole UNKNOWN_TYPE record (16 bytes). */
typedef struct {
    FCGI_Header header;
    FCGI_UnknownTypeBody body;
} FCGI_UnknownTypeRecord;

#endif /* _FASTCGI_H */
