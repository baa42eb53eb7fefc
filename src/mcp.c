/* mcp.c - see mcp.h.
 *
 * A tool call is turned into the command line a user would type (the tool's
 * arguments as options, then --json) and goes through cli_parse and the
 * command itself, so the tools and the commands cannot drift apart: same
 * checks, same messages, same result objects. */
#include "mcp.h"

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "heap.h"
#include "util.h"

enum {
    RPC_PARSE_ERROR = -32700,
    RPC_INVALID_REQUEST = -32600,
    RPC_METHOD_NOT_FOUND = -32601,
    RPC_INVALID_PARAMS = -32602,
};

/* Newest first: the first is offered to a client asking for another. */
static const char *const PROTOCOL_VERSIONS[] = {"2025-06-18", "2025-03-26", "2024-11-05"};

typedef enum { A_STRING, A_INTEGER, A_NUMBER, A_FILES } arg_kind;

typedef struct {
    const char *name;
    const char *flag;       /* the command-line option; NULL: the positional argument */
    arg_kind kind;
    int required;
    const char *doc;
} tool_arg;

typedef struct {
    const char *name;
    const char *command;    /* the subcommand, or NULL for a model run */
    const char *doc;
    const tool_arg *args;
} tool;

#define TRIALS {"num_trials", "--num-trials", A_INTEGER, 0, "random-input trials per verification (default 3)"}
#define RTOL {"rtol", "--rtol", A_NUMBER, 0, "relative tolerance (default by dtype: 1e-5 fp32, 1e-3 fp16/bf16)"}
#define ATOL {"atol", "--atol", A_NUMBER, 0, "absolute tolerance (default by dtype: 1e-6 fp32, 1e-3 fp16/bf16)"}

static const tool_arg DECOMPOSE_ARGS[] = {
    {"model", NULL, A_STRING, 1,
     "the model file (KernelBench format), a job file (.yaml), the folder of a model spread over "
     "several files (then entry_file, entry_class and inputs), or a Hugging Face model id or snapshot "
     "folder (then model_class)"},
    {"output", "--output", A_STRING, 0,
     "output folder (replaces an older result there); default workspace/output/<level>/<name>"},
    {"name", "--name", A_STRING, 0, "model name; default the file name without .py"},
    {"source_level", "--source-level", A_STRING, 0, "default the model's folder name if it is levelN"},
    {"entry_file", "--entry-file", A_STRING, 0,
     "a folder's model: the file, under the folder, defining its class"},
    {"entry_class", "--entry-class", A_STRING, 0, "a folder's model: its class"},
    {"init_args", "--init-args", A_STRING, 0,
     "a folder's model: its constructor arguments as JSON text, a list; an object of the folder's (a "
     "config) is {\"class\": \"module.Name\", \"kwargs\": {...}}"},
    {"inputs", "--inputs", A_STRING, 0,
     "a folder's model: its forward's inputs as JSON text, a list (or an object, by name); a tensor "
     "is {\"shape\": [...], \"dtype\": \"float32\"}, integers also \"high\"; a Hugging Face model's, "
     "by name, default from its config"},
    {"model_class", "--model-class", A_STRING, 0,
     "a Hugging Face model: its transformers class (GPT2LMHeadModel, AutoModelForCausalLM); built from "
     "its config with random weights, never downloaded"},
    {"config", "--config", A_STRING, 0,
     "a Hugging Face model: config fields to change, as JSON text ({\"num_hidden_layers\": 2})"},
    TRIALS, RTOL, ATOL,
    {NULL, NULL, 0, 0, NULL},
};

static const tool_arg VERIFY_ARGS[] = {
    {"original", "--original", A_STRING, 1, "the step's original component file"},
    {"refactored", "--refactored", A_STRING, 1, "its refactored.py, built from child files"},
    {"weight_map", "--weight-map", A_STRING, 0, "weight_map.json: original name -> refactored name"},
    {"output", "--output", A_STRING, 0, "also write the verification_result.json here"},
    TRIALS, RTOL, ATOL,
    {NULL, NULL, 0, 0, NULL},
};

static const tool_arg EXTRACT_ARGS[] = {
    {"model", "--model", A_STRING, 1, "the model whose ops are counted"},
    {"decomp_dir", "--decomp-dir", A_STRING, 0, "a decomposition folder: its level_0_kernel files"},
    {"children", "--children", A_FILES, 0, "or these component files (one step's children)"},
    {"output", "--output", A_STRING, 0, "also write the coverage_report.json here"},
    {NULL, NULL, 0, 0, NULL},
};

static const tool_arg CHECK_ARGS[] = {
    {"dir", NULL, A_STRING, 1, "a finished output folder"},
    TRIALS, RTOL, ATOL,
    {NULL, NULL, 0, 0, NULL},
};

static const tool TOOLS[] = {
    {"decompose", NULL,
     "Decompose a PyTorch model file into verified model/layer/fusion/kernel test files, "
     "verifying every step; returns the run's summary (status, nodes per level, kernels, "
     "steps passed, composition, coverage, output folder).",
     DECOMPOSE_ARGS},
    {"verify_step", "verify-step",
     "Check one decomposition step: anti-cheat on refactored.py, weight transfer, and the "
     "numerical comparison of original and refactored; returns verification_result.json.",
     VERIFY_ARGS},
    {"extract_ops", "extract-ops",
     "Count a model's compute ops against those of its decomposed components; returns "
     "coverage_report.json.",
     EXTRACT_ARGS},
    {"check", "check",
     "Re-run every step, every component self-test and the composition test of a finished "
     "output folder, rewriting nothing.",
     CHECK_ARGS},
};
#define NTOOLS (sizeof TOOLS / sizeof TOOLS[0])

static json_t *rpc_error(const json_t *id, int code, const char *message) {
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? (json_t *)id : json_null(),
                     "error", "code", code, "message", message);
}

static json_t *rpc_result(const json_t *id, json_t *result) {
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", (json_t *)id, "result", result);
}

static const char *schema_type(arg_kind k) {
    switch (k) {
    case A_STRING: return "string";
    case A_INTEGER: return "integer";
    case A_NUMBER: return "number";
    case A_FILES: return "array";
    }
    return "string";
}

static json_t *tool_json(const tool *t) {
    json_t *props = json_object(), *required = json_array();
    for (const tool_arg *a = t->args; a->name; a++) {
        json_t *p = json_pack("{s:s, s:s}", "type", schema_type(a->kind), "description", a->doc);
        if (a->kind == A_FILES) json_object_set_new(p, "items", json_pack("{s:s}", "type", "string"));
        if (a->kind == A_INTEGER) json_object_set_new(p, "minimum", json_integer(1));
        if (a->kind == A_NUMBER) json_object_set_new(p, "minimum", json_integer(0));
        json_object_set_new(props, a->name, p);
        if (a->required) json_array_append_new(required, json_string(a->name));
    }
    return json_pack("{s:s, s:s, s:{s:s, s:o, s:o, s:b}}", "name", t->name, "description", t->doc,
                     "inputSchema", "type", "object", "properties", props, "required", required,
                     "additionalProperties", 0);
}

static json_t *initialize_result(const json_t *params) {
    const char *asked = json_str(params, "protocolVersion");
    const char *version = PROTOCOL_VERSIONS[0];
    for (size_t i = 0; asked && i < sizeof PROTOCOL_VERSIONS / sizeof *PROTOCOL_VERSIONS; i++)
        if (strcmp(asked, PROTOCOL_VERSIONS[i]) == 0) version = PROTOCOL_VERSIONS[i];
    return json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s}, s:s}", "protocolVersion", version,
                     "capabilities", "tools", "listChanged", 0,
                     "serverInfo", "name", "decompose", "version", DECOMPOSE_VERSION,
                     "instructions",
                     "decompose cuts a PyTorch model (a .py file with class Model, get_inputs() and "
                     "get_init_inputs()) into a verified tree of runnable unit tests. Call decompose "
                     "on a model, then verify_step, extract_ops or check on its output folder.");
}

static const tool *find_tool(const char *name) {
    for (size_t i = 0; name && i < NTOOLS; i++)
        if (strcmp(TOOLS[i].name, name) == 0) return &TOOLS[i];
    return NULL;
}

static const tool_arg *find_arg(const tool *t, const char *name) {
    for (const tool_arg *a = t->args; a->name; a++)
        if (strcmp(a->name, name) == 0) return a;
    return NULL;
}

/* argv grows one allocated string at a time; all are freed together. */
typedef struct {
    char **v;
    int n;
} arg_list;

static void push(arg_list *l, char *s) {
    l->v = xrealloc(l->v, (size_t)(l->n + 2) * sizeof *l->v);
    l->v[l->n++] = s;
    l->v[l->n] = NULL;
}

static void arg_list_free(arg_list *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
}

/* One argument's value as option words; 0, or -1 with *err set. */
static int push_value(arg_list *l, const tool_arg *a, const json_t *v, char **err) {
    switch (a->kind) {
    case A_STRING:
        if (!json_is_string(v)) break;
        push(l, xstrdup(json_string_value(v)));
        return 0;
    case A_INTEGER:
        if (!json_is_integer(v)) break;
        push(l, xasprintf("%lld", (long long)json_integer_value(v)));
        return 0;
    case A_NUMBER:
        if (!json_is_number(v)) break;
        push(l, xasprintf("%.17g", json_number_value(v)));
        return 0;
    case A_FILES: {
        if (!json_is_array(v) || json_array_size(v) == 0) break;
        size_t i;
        json_t *f;
        json_array_foreach(v, i, f) {
            if (!json_is_string(f)) goto wrong;
        }
        json_array_foreach(v, i, f) push(l, xstrdup(json_string_value(f)));
        return 0;
    }
    }
wrong:
    set_error(err, "argument '%s' must be %s", a->name,
              a->kind == A_STRING ? "a string" : a->kind == A_INTEGER ? "an integer"
              : a->kind == A_NUMBER ? "a number" : "a non-empty list of strings");
    return -1;
}

/* The command line for a tool call, as a user would type it. */
static int tool_argv(const tool *t, const json_t *args, arg_list *l, char **err) {
    if (args && !json_is_object(args)) {
        set_error(err, "%s: arguments must be an object", t->name);
        return -1;
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)args, key, v) {
        if (!find_arg(t, key)) {
            set_error(err, "%s: unknown argument '%s'", t->name, key);
            return -1;
        }
    }
    push(l, xstrdup("decompose"));
    if (t->command) push(l, xstrdup(t->command));
    const tool_arg *positional = NULL;
    for (const tool_arg *a = t->args; a->name; a++) {
        v = json_object_get(args, a->name);
        if (!v) {
            if (a->required) {
                set_error(err, "%s: the argument '%s' is required", t->name, a->name);
                return -1;
            }
            continue;
        }
        if (!a->flag) {
            positional = a;
            continue;
        }
        push(l, xstrdup(a->flag));
        if (push_value(l, a, v, err) != 0) return -1;
    }
    push(l, xstrdup("--json"));
    if (positional) {
        push(l, xstrdup("--"));     /* a file called "-x" stays a file */
        if (push_value(l, positional, json_object_get(args, positional->name), err) != 0) return -1;
    }
    return 0;
}

/* A command's result object as a tool result: as text and as structured
 * content. */
static json_t *tool_result(json_t *obj, int is_error) {
    char *text = json_dumps(obj, JSON_COMPACT);
    json_t *r = json_pack("{s:[{s:s, s:s}], s:O, s:b}", "content", "type", "text",
                          "text", text ? text : "{}", "structuredContent", obj, "isError", is_error);
    free(text);
    return r;
}

/* An error the command line would have printed: the same object --json gives. */
static json_t *error_result(const char *message) {
    json_t *obj = json_pack("{s:s, s:s}", "status", "ERROR", "error", message);
    json_t *r = tool_result(obj, 1);
    json_decref(obj);
    return r;
}

static json_t *call_tool(const tool *t, const json_t *args, const run_env *env) {
    arg_list l = {NULL, 0};
    char *err = NULL, *out = NULL;
    size_t outlen = 0;
    json_t *result = NULL, *obj = NULL;
    cli_args a;
    char msg[512];
    memset(&a, 0, sizeof a);

    if (tool_argv(t, args, &l, &err) != 0) {
        result = error_result(err);
        goto done;
    }
    if (cli_parse(l.n, l.v, &a, msg, sizeof msg) != 0) {
        result = error_result(msg);
        goto done;
    }
    FILE *f = open_memstream(&out, &outlen);
    if (!f) {
        result = error_result("cannot capture the command's output");
        goto done;
    }
    run_env sub = *env;
    sub.out = f;
    int code = command_dispatch(&a, &sub);
    fclose(f);
    obj = json_loads(out ? out : "", 0, NULL);
    if (!json_is_object(obj)) {
        result = error_result("the command printed no result");
        goto done;
    }
    result = tool_result(obj, code == 2);
done:
    cli_free(&a);
    arg_list_free(&l);
    json_decref(obj);
    free(out);
    free(err);
    return result;
}

static json_t *tools_call(const json_t *id, const json_t *params, const run_env *env) {
    const tool *t = find_tool(json_str(params, "name"));
    if (!t) {
        char *m = xasprintf("unknown tool '%s'", json_str(params, "name") ? json_str(params, "name") : "");
        json_t *r = rpc_error(id, RPC_INVALID_PARAMS, m);
        free(m);
        return r;
    }
    return rpc_result(id, call_tool(t, json_object_get(params, "arguments"), env));
}

json_t *mcp_handle(const json_t *msg, const run_env *env) {
    if (!json_is_object(msg)) return rpc_error(NULL, RPC_INVALID_REQUEST, "a message is one JSON object");
    const json_t *id = json_object_get(msg, "id");
    const char *method = json_str(msg, "method");
    if (!method) {
        /* a response to a request of ours: we send none, so it is dropped */
        if (json_object_get(msg, "result") || json_object_get(msg, "error")) return NULL;
        return rpc_error(id, RPC_INVALID_REQUEST, "no method");
    }
    if (!id) return NULL;   /* a notification: initialized, cancelled, ... */
    const json_t *params = json_object_get(msg, "params");
    if (strcmp(method, "initialize") == 0) return rpc_result(id, initialize_result(params));
    if (strcmp(method, "ping") == 0) return rpc_result(id, json_object());
    if (strcmp(method, "tools/list") == 0) {
        json_t *tools = json_array();
        for (size_t i = 0; i < NTOOLS; i++) json_array_append_new(tools, tool_json(&TOOLS[i]));
        return rpc_result(id, json_pack("{s:o}", "tools", tools));
    }
    if (strcmp(method, "tools/call") == 0) return tools_call(id, params, env);
    char *m = xasprintf("unknown method '%s'", method);
    json_t *r = rpc_error(id, RPC_METHOD_NOT_FOUND, m);
    free(m);
    return r;
}

static int send_reply(FILE *out, const json_t *reply) {
    char *s = json_dumps(reply, JSON_COMPACT);
    int rc = (s && fprintf(out, "%s\n", s) >= 0 && fflush(out) == 0) ? 0 : -1;
    free(s);
    return rc;
}

int mcp_serve(FILE *in, const run_env *env) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = '\0';
        if (n == 0) continue;
        json_error_t je;
        json_t *msg = json_loadb(line, (size_t)n, 0, &je);
        json_t *reply;
        if (msg) {
            reply = mcp_handle(msg, env);
        } else {
            char *m = xasprintf("parse error: %s", je.text);
            reply = rpc_error(NULL, RPC_PARSE_ERROR, m);
            free(m);
        }
        if (reply && send_reply(env->out, reply) != 0) {
            fprintf(env->log, "decompose: error: mcp: cannot write a reply\n");
            rc = 2;
        }
        json_decref(reply);
        json_decref(msg);
        heap_give_back();  /* a run's tensors are kept for reuse while it lasts, not between requests */
    }
    free(line);
    return rc;
}
