/*
 * fcgio.h - C++ iostreams over FastCGI request streams (fcgi_rs).
 *
 * fcgi_streambuf is a std::streambuf that reads from or writes to an FCGX_Stream;
 * fcgi_istream and fcgi_ostream are ready-made streams that own one.
 *
 * Binary interface: the classes below have the same names, bases, member layout, virtual
 * functions and mangled symbols as libfcgi's fcgio.h, so programs built against either header
 * run with either libfcgi++.so.0. Sizes with g++ on x86_64: fcgi_streambuf 88 bytes,
 * fcgi_istream 368, fcgi_ostream 360. Do not add, remove or reorder members or virtuals.
 *
 * By default a fcgi_streambuf is unbuffered: every character goes straight to the FCGX_Stream,
 * which has its own buffer. Giving it a buffer (constructor or pubsetbuf) adds a second one.
 */
#ifndef FCGIO_H
#define FCGIO_H

#include <iostream>

#include "fcgiapp.h"

#ifndef DLLAPI
#define DLLAPI
#endif

/* Kept for source compatibility: programs written for libfcgi's header may use it unqualified. */
#if !HAVE_STREAMBUF_CHAR_TYPE
typedef char char_type;
#endif

/*
 * A streambuf over an FCGX_Stream. Use it for one direction only, the one of the FCGX_Stream
 * it is attached to.
 */
class DLLAPI fcgi_streambuf : public std::streambuf
{
public:
    /* Buffered: `buf` of `len` bytes is used as the get or put area. */
    fcgi_streambuf(FCGX_Stream *fcgx, char *buf, int len);

    /* Buffered, not yet attached: call attach() before use. */
    fcgi_streambuf(char_type *buf, std::streamsize len);

    /* Unbuffered (the usual form). */
    fcgi_streambuf(FCGX_Stream *fcgx = 0);

    /* Writes out anything still in the put area (no FCGX_FFlush). */
    ~fcgi_streambuf(void);

    /* Switches to another FCGX_Stream, dropping any buffered state. Returns 0. */
    int attach(FCGX_Stream *fcgx);

protected:
    virtual int overflow(int);
    virtual int sync();
    virtual int uflow();
    virtual int underflow();
    virtual std::streambuf *setbuf(char_type *buf, std::streamsize len);
    virtual std::streamsize xsgetn(char_type *s, std::streamsize n);
    virtual std::streamsize xsputn(const char_type *s, std::streamsize n);

private:
    FCGX_Stream *fcgx;
    char_type *buf;
    std::streamsize bufsize;

    void init(FCGX_Stream *fcgx, char_type *buf, std::streamsize bufsize);
    void reset(void);
};

/* An input stream reading an FCGX_Stream (e.g. a request's `in`). */
class DLLAPI fcgi_istream : public std::istream
{
public:
    fcgi_istream(FCGX_Stream *fcgx = 0);
    ~fcgi_istream(void) {}

    virtual void attach(FCGX_Stream *fcgx);

private:
    fcgi_streambuf fcgi_strmbuf;
};

/* An output stream writing an FCGX_Stream (e.g. a request's `out` or `err`). */
class DLLAPI fcgi_ostream : public std::ostream
{
public:
    fcgi_ostream(FCGX_Stream *fcgx = 0);
    ~fcgi_ostream(void) {}

    virtual void attach(FCGX_Stream *fcgx);

private:
    fcgi_streambuf fcgi_strmbuf;
};

#endif /* FCGIO_H */
