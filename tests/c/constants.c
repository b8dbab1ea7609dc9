/*
 * Prints every macro that fastcgi.h and fcgiapp.h define, with its value and
 * its spelling as an expression, so that tests/headers.rs can compare the
 * output built against libfcgi's installed headers with the output built
 * against ours. A macro missing from either header fails the compilation.
 */
#include <stdio.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#define STR2(x) #x
#define STR(x) STR2(x)
#define INT(m) printf("%s %ld\n", #m, (long)(m))
#define TEXT(m) printf("%s \"%s\"\n", #m, m)
/* The tokens a macro expands to, minus whitespace differences: "-2", "(FCGI_UNKNOWN_TYPE)". */
#define SPELL(m) print_spelling(#m, STR(m))

static void print_spelling(const char *name, const char *expansion)
{
    const char *p;
    printf("%s.tokens ", name);
    for (p = expansion; *p; p++)
        if (*p != ' ' && *p != '\t')
            putchar(*p);
    putchar('\n');
}

int main(void)
{
    INT(FCGI_LISTENSOCK_FILENO);
    INT(FCGI_MAX_LENGTH);
    INT(FCGI_HEADER_LEN);
    INT(FCGI_VERSION_1);
    INT(FCGI_BEGIN_REQUEST);
    INT(FCGI_ABORT_REQUEST);
    INT(FCGI_END_REQUEST);
    INT(FCGI_PARAMS);
    INT(FCGI_STDIN);
    INT(FCGI_STDOUT);
    INT(FCGI_STDERR);
    INT(FCGI_DATA);
    INT(FCGI_GET_VALUES);
    INT(FCGI_GET_VALUES_RESULT);
    INT(FCGI_UNKNOWN_TYPE);
    INT(FCGI_MAXTYPE);
    INT(FCGI_NULL_REQUEST_ID);
    INT(FCGI_KEEP_CONN);
    INT(FCGI_RESPONDER);
    INT(FCGI_AUTHORIZER);
    INT(FCGI_FILTER);
    INT(FCGI_REQUEST_COMPLETE);
    INT(FCGI_CANT_MPX_CONN);
    INT(FCGI_OVERLOADED);
    INT(FCGI_UNKNOWN_ROLE);
    INT(FCGX_UNSUPPORTED_VERSION);
    INT(FCGX_PROTOCOL_ERROR);
    INT(FCGX_PARAMS_ERROR);
    INT(FCGX_CALL_SEQ_ERROR);
    INT(FCGI_FAIL_ACCEPT_ON_INTR);
    TEXT(FCGI_MAX_CONNS);
    TEXT(FCGI_MAX_REQS);
    TEXT(FCGI_MPXS_CONNS);
    SPELL(FCGI_LISTENSOCK_FILENO);
    SPELL(FCGI_MAX_LENGTH);
    SPELL(FCGI_HEADER_LEN);
    SPELL(FCGI_VERSION_1);
    SPELL(FCGI_BEGIN_REQUEST);
    SPELL(FCGI_ABORT_REQUEST);
    SPELL(FCGI_END_REQUEST);
    SPELL(FCGI_PARAMS);
    SPELL(FCGI_STDIN);
    SPELL(FCGI_STDOUT);
    SPELL(FCGI_STDERR);
    SPELL(FCGI_DATA);
    SPELL(FCGI_GET_VALUES);
    SPELL(FCGI_GET_VALUES_RESULT);
    SPELL(FCGI_UNKNOWN_TYPE);
    SPELL(FCGI_MAXTYPE);
    SPELL(FCGI_NULL_REQUEST_ID);
    SPELL(FCGI_KEEP_CONN);
    SPELL(FCGI_RESPONDER);
    SPELL(FCGI_AUTHORIZER);
    SPELL(FCGI_FILTER);
    SPELL(FCGI_REQUEST_COMPLETE);
    SPELL(FCGI_CANT_MPX_CONN);
    SPELL(FCGI_OVERLOADED);
    SPELL(FCGI_UNKNOWN_ROLE);
    SPELL(FCGX_UNSUPPORTED_VERSION);
    SPELL(FCGX_PROTOCOL_ERROR);
    SPELL(FCGX_PARAMS_ERROR);
    SPELL(FCGX_CALL_SEQ_ERROR);
    SPELL(FCGI_FAIL_ACCEPT_ON_INTR);
    SPELL(FCGI_MAX_CONNS);
    SPELL(FCGI_MAX_REQS);
    SPELL(FCGI_MPXS_CONNS);
#ifdef DLLAPI
    printf("DLLAPI defined, expands to \"%s\"\n", STR(DLLAPI x));
#else
    printf("DLLAPI undefined\n");
#endif
#ifdef _FASTCGI_H
    printf("_FASTCGI_H defined\n");
#endif
#ifdef _FCGIAPP_H
    printf("_FCGIAPP_H defined\n");
#endif
    return 0;
}
