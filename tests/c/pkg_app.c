/*
 * Smallest program built through pkg-config by tests/pkgconfig.rs: it asks
 * the library whether it runs under FastCGI and prints the answer. Started
 * with a pipe on stdin (not a listening socket), it must report CGI mode.
 */
#include <stdio.h>

#include <fcgiapp.h>
#include <fcgi_rs.h>

int main(void)
{
    int cgi = FCGX_IsCGI();
    int init = FCGX_Init();

    printf("IsCGI=%d Init=%d version=%s\n", cgi, init, fcgi_rs_version());
    return 0;
}
