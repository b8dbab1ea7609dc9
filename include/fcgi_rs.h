/*
 * fcgi_rs.h -- fcgi_rs's own C extensions to the libfcgi interface.
 *
 * Everything declared here is prefixed fcgi_rs_ and exists only in fcgi_rs;
 * programs that must also build against the original libfcgi should test for
 * FCGI_RS_H before using it.
 */

#ifndef FCGI_RS_H
#define FCGI_RS_H

/* Generated from src/capi/ext.rs by `make headers` (cbindgen). Do not edit by hand. */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Sets one library limit by name before or between requests.
 *
 * Names: `max_params_bytes`, `max_params`, `max_name_len`, `max_value_len`,
 * `idle_timeout_ms`, `max_conns`, `linger_timeout_ms`. The same limits can be set with
 * `FCGI_RS_<NAME>` environment variables. Returns 0, or -1 with `errno = EINVAL` for an
 * unknown name or a bad value. Takes effect for listen sockets first used after the call.
 */
int fcgi_rs_set_limit(const char *name, uint64_t value);

/**
 * The library version as a static NUL-terminated string, e.g. `"0.1.0"`.
 */
const char *fcgi_rs_version(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* FCGI_RS_H */
