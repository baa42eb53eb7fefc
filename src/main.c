/* main.c - arguments -> a run -> an exit code.
 *
 *   0  everything verified
 *   1  a verification failed (extract-ops: coverage below 100%)
 *   2  bad usage, bad input, or an error
 *
 * The interpreter is started lazily, on the first glue call: --help,
 * --version, usage errors and a missing model file never pay for (or depend
 * on) Python.
 *
 * With --json, stdout must carry exactly one JSON object, yet user models
 * and the glue may print. So before anything runs, the real stdout is
 * duplicated and fd 1 pointed at stderr: whatever Python (or any library)
 * writes lands on stderr, and the JSON goes to the saved descriptor. The
 * MCP server (decompose mcp) answers on that descriptor the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "heap.h"
#include "host.h"
#include "mcp.h"
#include "paths.h"
#include "util.h"

typedef struct {
    host *h;
    int failed;         /* starting it failed once: do not retry */
} lazy_host;

static int call_host(void *ctx, const char *func, json_t *req, json_t **reply, char **err) {
    lazy_host *lh = ctx;
    if (!lh->h) {
        if (lh->failed) {
            set_error(err, "Python could not be started");
            return -1;
        }
        char *dir = glue_dir_locate(err);
        if (dir) lh->h = host_new(dir, err);
        free(dir);
        if (!lh->h) {
            lh->failed = 1;
            return -1;
        }
    }
    return host_call(lh->h, func, req, reply, err);
}

/* Point fd 1 at stderr and return a stream on the real stdout. */
static FILE *divert_stdout(void) {
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    if (saved < 0) return NULL;
    if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
        close(saved);
        return NULL;
    }
    FILE *f = fdopen(saved, "w");
    if (!f) close(saved);
    return f;
}

int main(int argc, char **argv) {
    cli_args a;
    char msg[512];
    if (cli_parse(argc, argv, &a, msg, sizeof msg) != 0) {
        fprintf(stderr, "decompose: error: %s\n", msg);
        cli_free(&a);
        return 2;
    }
    if (a.cmd == CMD_HELP) {
        cli_usage(stdout);
        cli_free(&a);
        return 0;
    }
    if (a.cmd == CMD_VERSION) {
        printf("decompose %s\n", DECOMPOSE_VERSION);
        cli_free(&a);
        return 0;
    }

    /* A machine reads stdout in JSON mode and as an MCP client: what the
     * model's Python code prints goes to stderr. */
    FILE *out = stdout;
    if ((a.json || a.cmd == CMD_MCP) && !(out = divert_stdout())) {
        fprintf(stderr, "decompose: error: cannot set up the output on stdout\n");
        cli_free(&a);
        return 2;
    }

    heap_keep_freed();
    lazy_host lh = {NULL, 0};
    glue g = {call_host, &lh};
    run_env env = {out, stderr, &g, DECOMPOSE_PYTHON_EXE, NULL};
    int code = a.cmd == CMD_MCP ? mcp_serve(stdin, &env) : command_dispatch(&a, &env);
    int started = lh.h != NULL;
    host_free(lh.h);
    if (out != stdout && fclose(out) != 0 && code == 0) code = 2;
    cli_free(&a);
    if (started) {
        /* Python is finalized: its atexit handlers ran and its files are
         * flushed. What exit() would still run is the static destructors of
         * the C++ libraries torch loaded: 0.06 s at the end of every run
         * (ResNet18's whole forward), for memory the process gives back. */
        if (fflush(NULL) != 0 && code == 0) code = 2;
        _exit(code);
    }
    return code;
}
