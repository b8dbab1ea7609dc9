// echo-cpp: a FastCGI responder written with C++ iostreams (fcgio.h).
//
// For each request it points std::cin, std::cout and std::cerr at the request's streams,
// reads the body (at most 1 MiB is kept, the rest is read and dropped), and answers with a
// text/plain page listing the request number, every parameter and the body. One line per
// request goes to the FastCGI error stream.
//
// Build: c++ echo-cpp.cpp $(pkg-config --cflags --libs fcgi_rs) -lfcgi_rs++
//   (or, with libfcgi: -lfcgi++ -lfcgi)

#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "fcgio.h"

namespace {

const std::streamsize kMaxBody = 1 << 20;

// The request body as announced by CONTENT_LENGTH, capped; without it, up to the cap.
std::streamsize body_limit(const FCGX_Request &req)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req.envp);
    if (cl == 0 || *cl == '\0') {
        return kMaxBody;
    }
    char *end = 0;
    long long n = std::strtoll(cl, &end, 10);
    if (n <= 0) {
        return 0;
    }
    return n < kMaxBody ? static_cast<std::streamsize>(n) : kMaxBody;
}

}  // namespace

int main()
{
    std::streambuf *saved_in = std::cin.rdbuf();
    std::streambuf *saved_out = std::cout.rdbuf();
    std::streambuf *saved_err = std::cerr.rdbuf();

    if (FCGX_Init() != 0) {
        return 1;
    }
    FCGX_Request request;
    FCGX_InitRequest(&request, 0, 0);

    std::vector<char> body(static_cast<size_t>(kMaxBody));
    long served = 0;

    while (FCGX_Accept_r(&request) == 0) {
        served++;
        fcgi_streambuf in_buf(request.in);
        fcgi_streambuf out_buf(request.out);
        fcgi_streambuf err_buf(request.err);
        std::cin.rdbuf(&in_buf);
        std::cout.rdbuf(&out_buf);
        std::cerr.rdbuf(&err_buf);
        std::cin.clear();

        std::streamsize want = body_limit(request);
        std::streamsize got = 0;
        if (want > 0) {
            std::cin.read(&body[0], want);
            got = std::cin.gcount();
        }
        // Whatever is left of the body is read and dropped.
        std::streamsize dropped = 0;
        char sink[4096];
        for (;;) {
            std::cin.clear();
            std::cin.read(sink, sizeof sink);
            std::streamsize n = std::cin.gcount();
            if (n <= 0) {
                break;
            }
            dropped += n;
        }

        std::cout << "Content-type: text/plain\r\n\r\n"
                  << "echo-cpp: request " << served << "\n"
                  << "params:\n";
        for (char **p = request.envp; p != 0 && *p != 0; ++p) {
            std::cout << "  " << *p << "\n";
        }
        std::cout << "body: " << got << " bytes kept, " << dropped << " dropped\n";
        std::cout.write(&body[0], got);
        std::cout << "\nend\n";
        std::cout.flush();

        std::cerr << "echo-cpp: served request " << served << std::endl;

        // The streambufs die at the end of this iteration; the next FCGX_Accept_r finishes
        // the request (flushes and frees its streams).
        std::cin.rdbuf(saved_in);
        std::cout.rdbuf(saved_out);
        std::cerr.rdbuf(saved_err);
    }

    std::cin.rdbuf(saved_in);
    std::cout.rdbuf(saved_out);
    std::cerr.rdbuf(saved_err);
    return 0;
}
