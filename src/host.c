/* host.c - see host.h.
 *
 * Embedding rules followed here (CPython's Doc/extending/embedding.rst and
 * Programs/_testembed.c): the interpreter is configured through PyConfig and
 * every PyStatus is checked; every PyObject * a call returns is checked for
 * NULL; every reference this file owns is released on one cleanup path at
 * the end of the function (goto done). The process is single-threaded and
 * holds the GIL from host_new to host_free.
 *
 * The configuration is isolated from the environment on purpose: the python3
 * first on a user's PATH may be a pyenv interpreter whose PYTHONPATH or
 * PYTHONHOME would point the embedded 3.x at another version's standard
 * library, or at site-packages without torch. program_name is the
 * interpreter that has torch (DECOMPOSE_PYTHON_EXE), so sys.prefix and the
 * site folders are that interpreter's. No bytecode is written, so no
 * __pycache__ folder lands next to the generated files. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "host.h"

#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

struct host {
    PyObject *api;      /* the decompose_glue.api module */
};

/* Turn a PyStatus failure into an error string. */
static int status_failed(PyStatus st, const char *what, char **err) {
    if (!PyStatus_Exception(st)) return 0;
    set_error(err, "cannot start Python (%s): %s%s%s", what, st.func ? st.func : "",
              st.func ? ": " : "", st.err_msg ? st.err_msg : "unknown error");
    return 1;
}

/* The pending Python exception as "Type: message", one line; clears it. */
static char *exception_text(void) {
    PyObject *type = NULL, *value = NULL, *tb = NULL, *name = NULL, *str = NULL;
    char *out = NULL;
    PyErr_Fetch(&type, &value, &tb);
    if (!type) return xstrdup("unknown error (no exception set)");
    PyErr_NormalizeException(&type, &value, &tb);
    const char *tname = "Exception";
    name = PyObject_GetAttrString(type, "__name__");
    if (name && PyUnicode_Check(name)) tname = PyUnicode_AsUTF8(name);
    if (!tname) tname = "Exception";
    PyErr_Clear();
    const char *msg = NULL;
    if (value) {
        str = PyObject_Str(value);
        if (str) msg = PyUnicode_AsUTF8(str);
        PyErr_Clear();
    }
    out = (msg && *msg) ? xasprintf("%s: %s", tname, msg) : xstrdup(tname);
    one_line(out);
    Py_XDECREF(str);
    Py_XDECREF(name);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return out;
}

/* Flush sys.stdout and sys.stderr so Python's output appears in order with
 * ours; errors while flushing are ignored. */
static void flush_std_streams(void) {
    static const char *names[] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(names[i]);   /* borrowed */
        if (f && f != Py_None) {
            PyObject *r = PyObject_CallMethod(f, "flush", NULL);
            Py_XDECREF(r);
        }
        PyErr_Clear();
    }
}

host *host_new(const char *glue_dir, char **err) {
    PyConfig config;
    PyStatus st;
    host *h = NULL;
    PyObject *path_list = NULL, *dir = NULL, *api = NULL;
    int started = 0;

    PyConfig_InitPythonConfig(&config);
    config.use_environment = 0;
    config.write_bytecode = 0;
    config.parse_argv = 0;
    st = PyConfig_SetBytesString(&config, &config.program_name, DECOMPOSE_PYTHON_EXE);
    if (status_failed(st, "program name", err)) goto done;
    char *argv[] = {(char *)DECOMPOSE_PYTHON_EXE};
    st = PyConfig_SetBytesArgv(&config, 1, argv);
    if (status_failed(st, "argv", err)) goto done;
    st = Py_InitializeFromConfig(&config);
    if (status_failed(st, "initialize", err)) goto done;
    started = 1;

    path_list = PySys_GetObject("path");           /* borrowed */
    if (!path_list || !PyList_Check(path_list)) {
        set_error(err, "cannot start Python: sys.path is not a list");
        path_list = NULL;
        goto done;
    }
    dir = PyUnicode_DecodeFSDefault(glue_dir);
    if (!dir || PyList_Insert(path_list, 0, dir) != 0) {
        char *e = exception_text();
        set_error(err, "cannot add %s to sys.path: %s", glue_dir, e);
        free(e);
        goto done;
    }
    api = PyImport_ImportModule("decompose_glue.api");
    if (!api) {
        char *e = exception_text();
        set_error(err, "cannot import decompose_glue.api from %s with %s: %s", glue_dir,
                  DECOMPOSE_PYTHON_EXE, e);
        free(e);
        goto done;
    }
    h = xcalloc(1, sizeof *h);
    h->api = api;
    api = NULL;
done:
    PyConfig_Clear(&config);
    Py_XDECREF(dir);
    Py_XDECREF(api);
    if (!h && started) {
        flush_std_streams();
        Py_FinalizeEx();
    }
    return h;
}

int host_call(host *h, const char *func, json_t *request, json_t **reply, char **err) {
    char *req_text = NULL;
    PyObject *fn = NULL, *arg = NULL, *res = NULL;
    int rc = -1;
    *reply = NULL;

    req_text = json_dumps(request, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!req_text) {
        set_error(err, "internal: cannot encode the request to api.%s", func);
        goto done;
    }
    fn = PyObject_GetAttrString(h->api, func);
    if (!fn) {
        char *e = exception_text();
        set_error(err, "internal: decompose_glue.api has no %s (%s)", func, e);
        free(e);
        goto done;
    }
    arg = PyUnicode_FromString(req_text);
    if (!arg) {
        char *e = exception_text();
        set_error(err, "internal: cannot pass the request to api.%s: %s", func, e);
        free(e);
        goto done;
    }
    res = PyObject_CallOneArg(fn, arg);
    if (!res) {
        char *e = exception_text();
        set_error(err, "internal error in api.%s: %s", func, e);
        free(e);
        goto done;
    }
    if (!PyUnicode_Check(res)) {
        set_error(err, "internal: api.%s returned %s, not str", func, Py_TYPE(res)->tp_name);
        goto done;
    }
    Py_ssize_t len = 0;
    const char *text = PyUnicode_AsUTF8AndSize(res, &len);
    if (!text) {
        char *e = exception_text();
        set_error(err, "internal: api.%s reply is not UTF-8: %s", func, e);
        free(e);
        goto done;
    }
    char *perr = NULL;
    json_t *j = json_parse_lenient(text, (size_t)len, &perr);
    if (!j || !json_is_object(j)) {
        set_error(err, "internal: api.%s reply is not a JSON object: %s", func, perr ? perr : "a list");
        free(perr);
        json_decref(j);
        goto done;
    }
    *reply = j;
    rc = 0;
done:
    flush_std_streams();
    free(req_text);
    Py_XDECREF(fn);
    Py_XDECREF(arg);
    Py_XDECREF(res);
    return rc;
}

void host_free(host *h) {
    if (!h) return;
    Py_XDECREF(h->api);
    flush_std_streams();
    Py_FinalizeEx();
    free(h);
}
