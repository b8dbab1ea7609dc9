// fcgio.cpp - fcgi_streambuf, fcgi_istream and fcgi_ostream for fcgi_rs (libfcgi++.so.0).
//
// Uses only six FCGX functions (FCGX_PutChar, FCGX_PutStr, FCGX_FFlush, FCGX_GetChar,
// FCGX_GetStr, FCGX_UnGetChar), so this library runs on top of any libfcgi.so.0.
//
// Two modes:
// - unbuffered (no buffer given, the default): every operation goes straight to the
//   FCGX_Stream, which buffers on its own; the get and put areas stay empty, so the
//   std::streambuf machinery calls overflow/uflow/underflow/xsgetn/xsputn for everything;
// - buffered (a buffer given): the buffer is the get area of a reader or the put area of a
//   writer (one stream is only ever used in one direction).

#include "fcgio.h"

#include <climits>
#include <cstring>

namespace {

typedef std::char_traits<char> traits;

// FCGX_GetStr/FCGX_PutStr take an int length.
inline int clamp_int(std::streamsize n)
{
    return n > INT_MAX ? INT_MAX : static_cast<int>(n);
}

// Advances a get or put pointer by n bytes (gbump/pbump take an int).
template <typename Bump>
void bump_by(std::streamsize n, Bump bump)
{
    while (n > 0) {
        int step = clamp_int(n);
        bump(step);
        n -= step;
    }
}

}  // namespace

fcgi_streambuf::fcgi_streambuf(FCGX_Stream *fcgx, char *buf, int len)
{
    init(fcgx, buf, len);
}

fcgi_streambuf::fcgi_streambuf(char_type *buf, std::streamsize len)
{
    init(0, buf, len);
}

fcgi_streambuf::fcgi_streambuf(FCGX_Stream *fcgx)
{
    init(fcgx, 0, 0);
}

fcgi_streambuf::~fcgi_streambuf(void)
{
    // Hand buffered output to the FCGX_Stream; flushing that one is the request's business.
    overflow(traits::eof());
}

void fcgi_streambuf::init(FCGX_Stream *fcgx, char_type *buf, std::streamsize bufsize)
{
    this->fcgx = fcgx;
    if (buf != 0 && bufsize > 0) {
        this->buf = buf;
        this->bufsize = bufsize;
    } else {
        this->buf = 0;
        this->bufsize = 0;
    }
    reset();
}

void fcgi_streambuf::reset(void)
{
    if (bufsize > 0) {
        setg(buf, buf, buf);
        setp(buf, buf + bufsize);
    } else {
        setg(0, 0, 0);
        setp(0, 0);
    }
}

int fcgi_streambuf::attach(FCGX_Stream *fcgx)
{
    // Buffered state belongs to the previous stream, which may already be freed (the usual
    // case: attach after the next FCGX_Accept_r), so it is dropped, not written.
    this->fcgx = fcgx;
    reset();
    return 0;
}

int fcgi_streambuf::overflow(int c)
{
    if (bufsize > 0) {
        std::streamsize pending = pptr() - pbase();
        if (pending > 0) {
            if (fcgx == 0) {
                return traits::eof();
            }
            // pending <= bufsize; a buffer larger than INT_MAX goes out in pieces.
            const char *p = pbase();
            while (pending > 0) {
                int n = clamp_int(pending);
                if (FCGX_PutStr(p, n, fcgx) != n) {
                    return traits::eof();
                }
                p += n;
                pending -= n;
            }
            setp(buf, buf + bufsize);
        }
        if (traits::eq_int_type(c, traits::eof())) {
            return traits::not_eof(c);
        }
        *pptr() = traits::to_char_type(c);
        pbump(1);
        return c;
    }

    if (traits::eq_int_type(c, traits::eof())) {
        return traits::not_eof(c);
    }
    if (fcgx == 0 || FCGX_PutChar(c, fcgx) == EOF) {
        return traits::eof();
    }
    return c;
}

int fcgi_streambuf::sync()
{
    if (traits::eq_int_type(overflow(traits::eof()), traits::eof())) {
        return -1;
    }
    if (fcgx != 0 && FCGX_FFlush(fcgx) != 0) {
        return -1;
    }
    return 0;
}

int fcgi_streambuf::uflow()
{
    if (bufsize > 0) {
        int c = underflow();
        if (!traits::eq_int_type(c, traits::eof())) {
            gbump(1);
        }
        return c;
    }
    if (fcgx == 0) {
        return traits::eof();
    }
    return FCGX_GetChar(fcgx);
}

int fcgi_streambuf::underflow()
{
    if (bufsize > 0) {
        if (gptr() < egptr()) {
            return traits::to_int_type(*gptr());
        }
        if (fcgx == 0) {
            return traits::eof();
        }
        int got = FCGX_GetStr(buf, clamp_int(bufsize), fcgx);
        if (got <= 0) {
            setg(buf, buf, buf);
            return traits::eof();
        }
        setg(buf, buf, buf + got);
        return traits::to_int_type(*gptr());
    }
    if (fcgx == 0) {
        return traits::eof();
    }
    // Peek: take one byte and push it back.
    int c = FCGX_GetChar(fcgx);
    if (c != EOF) {
        FCGX_UnGetChar(c, fcgx);
    }
    return c;
}

std::streambuf *fcgi_streambuf::setbuf(char_type *s, std::streamsize n)
{
    // Output already in the old buffer goes out first; call this before reading.
    if (bufsize > 0 && pptr() > pbase()) {
        overflow(traits::eof());
    }
    init(fcgx, s, n);
    return this;
}

std::streamsize fcgi_streambuf::xsgetn(char_type *s, std::streamsize n)
{
    std::streamsize done = 0;
    if (n <= 0) {
        return 0;
    }
    if (bufsize > 0 && gptr() < egptr()) {
        std::streamsize avail = egptr() - gptr();
        std::streamsize take = avail < n ? avail : n;
        std::memcpy(s, gptr(), static_cast<size_t>(take));
        bump_by(take, [this](int k) { gbump(k); });
        done = take;
    }
    while (done < n && fcgx != 0) {
        int want = clamp_int(n - done);
        int got = FCGX_GetStr(s + done, want, fcgx);
        if (got <= 0) {
            break;
        }
        done += got;
        if (got < want) {
            break;  // end of stream
        }
    }
    return done;
}

std::streamsize fcgi_streambuf::xsputn(const char_type *s, std::streamsize n)
{
    if (n <= 0) {
        return 0;
    }
    if (bufsize > 0) {
        if (n <= epptr() - pptr()) {
            std::memcpy(pptr(), s, static_cast<size_t>(n));
            bump_by(n, [this](int k) { pbump(k); });
            return n;
        }
        // Does not fit: empty the buffer, then write this block directly.
        if (traits::eq_int_type(overflow(traits::eof()), traits::eof())) {
            return 0;
        }
    }
    std::streamsize done = 0;
    while (done < n && fcgx != 0) {
        int want = clamp_int(n - done);
        int put = FCGX_PutStr(s + done, want, fcgx);
        if (put <= 0) {
            break;
        }
        done += put;
        if (put < want) {
            break;
        }
    }
    return done;
}

fcgi_istream::fcgi_istream(FCGX_Stream *fcgx) : std::istream(&fcgi_strmbuf), fcgi_strmbuf(fcgx)
{
}

void fcgi_istream::attach(FCGX_Stream *fcgx)
{
    fcgi_strmbuf.attach(fcgx);
}

fcgi_ostream::fcgi_ostream(FCGX_Stream *fcgx) : std::ostream(&fcgi_strmbuf), fcgi_strmbuf(fcgx)
{
}

void fcgi_ostream::attach(FCGX_Stream *fcgx)
{
    fcgi_strmbuf.attach(fcgx);
}
