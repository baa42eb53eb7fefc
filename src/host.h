/* host.h - the embedded CPython interpreter, behind one opaque handle.
 *
 * This is the only module that includes Python.h. The interpreter is
 * started once per process (host_new), runs every glue call (host_call) and
 * is stopped once (host_free). Requests and replies cross as JSON texts
 * (docs/GLUE_API.md); the rest of the program sees jansson values. */
#ifndef DECOMPOSE_HOST_H
#define DECOMPOSE_HOST_H

#include <jansson.h>

typedef struct host host;

/* Start the interpreter of DECOMPOSE_PYTHON_EXE's prefix, put glue_dir at
 * sys.path[0] and import decompose_glue.api. NULL with *err on failure (the
 * interpreter is then stopped again). */
host *host_new(const char *glue_dir, char **err);

/* reply = json.loads(api.<func>(json.dumps(request))). A Python exception
 * becomes *err "internal error in api.<func>: <Type>: <message>" (one line);
 * 0 on success, -1 on error. Python's stdout and stderr are flushed after
 * each call. */
int host_call(host *h, const char *func, json_t *request, json_t **reply, char **err);

/* Release the glue and finalize the interpreter. NULL is fine. */
void host_free(host *h);

#endif
