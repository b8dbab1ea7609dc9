/*
 * authorizer: the AUTHORIZER role. It grants access to one known account, given either as
 * REMOTE_USER / REMOTE_PASSWD or as HTTP Basic credentials in HTTP_AUTHORIZATION.
 *
 *   granted: "Status: 200" and "Variable-AUTH_USER: <user>" (passed on to the responder)
 *   denied:  "Status: 401" with a WWW-Authenticate challenge
 *   called in another role: "Status: 500"
 *
 * The account is "alice" with password "wonderland".
 *
 * Usage: authorizer [-s ADDR]
 */

#include "example_util.h"

static const char known_user[] = "alice";
static const char known_password[] = "wonderland";

static int base64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes base64 text (stops at '=' or the end); returns the length or -1 on bad input. */
static int base64_decode(const char *in, char *out, int outsize)
{
    int bits = 0, nbits = 0, o = 0;
    for (; *in != '\0' && *in != '='; in++) {
        int v = base64_value((unsigned char)*in);
        if (v < 0)
            return -1;
        bits = (bits << 6) | v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            if (o + 1 >= outsize)
                return -1;
            out[o++] = (char)((bits >> nbits) & 0xff);
        }
    }
    out[o] = '\0';
    return o;
}

static int credentials_ok(const char *user, const char *password)
{
    return user != NULL && password != NULL && strcmp(user, known_user) == 0 &&
           strcmp(password, known_password) == 0;
}

/* The user granted access, or NULL. */
static const char *check(FCGX_Request *req, char *scratch, int scratch_size)
{
    const char *user = FCGX_GetParam("REMOTE_USER", req->envp);
    const char *auth = FCGX_GetParam("HTTP_AUTHORIZATION", req->envp);

    if (credentials_ok(user, FCGX_GetParam("REMOTE_PASSWD", req->envp)))
        return known_user;
    if (auth != NULL && strncmp(auth, "Basic ", 6) == 0) {
        char *colon;
        if (base64_decode(auth + 6, scratch, scratch_size) < 0)
            return NULL;
        colon = strchr(scratch, ':');
        if (colon == NULL)
            return NULL;
        *colon = '\0';
        if (credentials_ok(scratch, colon + 1))
            return known_user;
    }
    return NULL;
}

static void serve(FCGX_Request *req)
{
    const char *role = FCGX_GetParam("FCGI_ROLE", req->envp);
    char scratch[512];
    const char *user;

    if (role == NULL || strcmp(role, "AUTHORIZER") != 0) {
        FCGX_FPrintF(req->out,
                     "Status: 500\r\nContent-Type: text/plain\r\n\r\n"
                     "authorizer called in role %s\n",
                     role ? role : "(none)");
        return;
    }
    user = check(req, scratch, (int)sizeof scratch);
    if (user != NULL) {
        FCGX_FPrintF(req->out, "Status: 200\r\nVariable-AUTH_USER: %s\r\n\r\n", user);
    } else {
        FCGX_PutS("Status: 401\r\nWWW-Authenticate: Basic realm=\"fcgi_rs example\"\r\n"
                  "Content-Type: text/plain\r\n\r\naccess denied\n",
                  req->out);
    }
}

int main(int argc, char **argv)
{
    FCGX_Request req;
    if (FCGX_Init() != 0)
        return 1;
    FCGX_InitRequest(&req, example_socket_from_args(argc, argv), 0);
    while (FCGX_Accept_r(&req) >= 0) {
        serve(&req);
        FCGX_Finish_r(&req);
    }
    return 0;
}
