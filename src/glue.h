/* glue.h - calling the Python glue without knowing there is a Python.
 *
 * Everything that talks to decompose_glue.api does it through a glue value:
 * a function that takes the api function's name and a JSON request and gives
 * back the JSON reply (docs/GLUE_API.md). main.c binds it to the embedded
 * interpreter (host.c); the tests bind it to canned replies. */
#ifndef DECOMPOSE_GLUE_H
#define DECOMPOSE_GLUE_H

#include <jansson.h>

/* Returns 0 with a new reference in *reply, or -1 with *err set. */
typedef int (*glue_fn)(void *ctx, const char *func, json_t *request, json_t **reply, char **err);

typedef struct {
    glue_fn call;
    void *ctx;
} glue;

/* Call api.<func>(request) and check the reply's envelope. On {"ok": true}
 * returns 0 and the reply. On {"ok": false} returns -1 with *err set to
 * "<file>: <message>" (the message alone when the reply names no file); a
 * failed call or a reply without "ok" is also -1. The request is not
 * stolen. With DECOMPOSE_DEBUG=1 in the environment, the Python traceback
 * an internal error carries is printed on stderr. */
int glue_call(const glue *g, const char *func, json_t *request, json_t **reply, char **err);

#endif
