/* glue.c - see glue.h. */
#include "glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int glue_call(const glue *g, const char *func, json_t *request, json_t **reply, char **err) {
    json_t *r = NULL;
    *reply = NULL;
    if (g->call(g->ctx, func, request, &r, err) != 0) {
        json_decref(r);
        set_error(err, "api.%s failed", func);
        return -1;
    }
    json_t *ok = json_object_get(r, "ok");
    if (!json_is_boolean(ok)) {
        set_error(err, "internal: api.%s replied without \"ok\"", func);
        json_decref(r);
        return -1;
    }
    if (json_is_false(ok)) {
        /* The glue keeps the trace of its own bugs; show it on request. */
        const char *tb = json_str(r, "traceback");
        const char *dbg = getenv("DECOMPOSE_DEBUG");
        if (tb && dbg && *dbg && strcmp(dbg, "0") != 0) fprintf(stderr, "%s", tb);
        const char *file = json_str(r, "file");
        const char *msg = json_str(r, "message");
        const char *kind = json_str(r, "kind");
        if (!msg) msg = "failed without a message";
        if (file && *file)
            set_error(err, "%s: %s", file, msg);
        else if (kind && !strcmp(kind, "internal"))
            set_error(err, "internal: %s", msg);
        else
            set_error(err, "%s", msg);
        json_decref(r);
        return -1;
    }
    *reply = r;
    return 0;
}
