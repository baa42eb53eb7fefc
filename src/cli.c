/* cli.c - see cli.h.
 *
 * One table says which option exists, what value it takes, where it goes in
 * cli_args and which commands accept it; the parser is a loop over argv that
 * looks options up in it. Both "--opt value" and "--opt=value" work. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum { V_FLAG, V_STR, V_INT, V_REAL, V_LIST };

#define F_RUN    (1u << CMD_RUN)
#define F_JOB    (1u << CMD_JOB)
#define F_VERIFY (1u << CMD_VERIFY_STEP)
#define F_EXTRACT (1u << CMD_EXTRACT_OPS)
#define F_CHECK  (1u << CMD_CHECK)
#define F_ALL    (F_RUN | F_JOB | F_VERIFY | F_EXTRACT | F_CHECK)

typedef struct {
    const char *lng;        /* "--output" */
    const char *shrt;       /* "-o" or NULL */
    int kind;
    size_t off;             /* offset of the value in cli_args */
    size_t set_off;         /* offset of the *_set flag, or 0 */
    unsigned cmds;
} opt;

#define OFF(f) offsetof(cli_args, f)

static const opt OPTS[] = {
    {"--json", NULL, V_FLAG, OFF(json), 0, F_ALL},
    {"--num-trials", NULL, V_INT, OFF(num_trials), OFF(num_trials_set), F_RUN | F_JOB | F_VERIFY | F_CHECK},
    {"--rtol", NULL, V_REAL, OFF(rtol), OFF(rtol_set), F_RUN | F_JOB | F_VERIFY | F_CHECK},
    {"--atol", NULL, V_REAL, OFF(atol), OFF(atol_set), F_RUN | F_JOB | F_VERIFY | F_CHECK},
    {"--output", "-o", V_STR, OFF(output), 0, F_RUN | F_JOB | F_VERIFY | F_EXTRACT},
    {"--source-level", NULL, V_STR, OFF(source_level), 0, F_RUN},
    {"--name", NULL, V_STR, OFF(name), 0, F_RUN},
    {"--repl", NULL, V_FLAG, OFF(repl), 0, F_RUN},
    {"--entry-file", NULL, V_STR, OFF(entry_file), 0, F_RUN},
    {"--entry-class", NULL, V_STR, OFF(entry_class), 0, F_RUN},
    {"--init-args", NULL, V_STR, OFF(init_args), 0, F_RUN},
    {"--inputs", NULL, V_STR, OFF(inputs), 0, F_RUN},
    {"--model-class", NULL, V_STR, OFF(model_class), 0, F_RUN},
    {"--config", NULL, V_STR, OFF(hf_config), 0, F_RUN},
    {"--original", NULL, V_STR, OFF(original), 0, F_VERIFY},
    {"--refactored", NULL, V_STR, OFF(refactored), 0, F_VERIFY},
    {"--weight-map", NULL, V_STR, OFF(weight_map), 0, F_VERIFY},
    {"--model", NULL, V_STR, OFF(model), 0, F_EXTRACT},
    {"--decomp-dir", NULL, V_STR, OFF(decomp_dir), 0, F_EXTRACT},
    {"--children", NULL, V_LIST, 0, 0, F_EXTRACT},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

const char *cli_command_name(cli_command cmd) {
    switch (cmd) {
    case CMD_RUN: return "decompose";
    case CMD_JOB: return "decompose (job file)";
    case CMD_VERIFY_STEP: return "verify-step";
    case CMD_EXTRACT_OPS: return "extract-ops";
    case CMD_CHECK: return "check";
    case CMD_MCP: return "mcp";
    case CMD_HELP: return "--help";
    case CMD_VERSION: return "--version";
    }
    return "?";
}

void cli_usage(FILE *f) {
    fputs(
        "usage: decompose MODEL.py [-o DIR] [--json] [--num-trials N] [--rtol X] [--atol X]\n"
        "                          [--source-level L] [--name NAME] [--repl]\n"
        "       decompose FOLDER --entry-file F --entry-class C --inputs JSON [--init-args JSON]\n"
        "                          [the options of a model run]\n"
        "       decompose MODEL_ID|FOLDER --model-class C [--config JSON] [--inputs JSON]\n"
        "                          [the options of a model run]\n"
        "       decompose JOB.yaml [--json] [--num-trials N] [--rtol X] [--atol X]\n"
        "       decompose verify-step --original P --refactored R [--weight-map W]\n"
        "                          [--output J] [--rtol X] [--atol X] [--num-trials N] [--json]\n"
        "       decompose extract-ops --model M (--decomp-dir D | --children F [F ...])\n"
        "                          [--output J] [--json]\n"
        "       decompose check DIR [--rtol X] [--atol X] [--num-trials N] [--json]\n"
        "       decompose mcp\n"
        "       decompose --help | --version\n"
        "\n"
        "Decompose a PyTorch model (KernelBench format: class Model, get_inputs(),\n"
        "get_init_inputs()) into verified model/layer/fusion/kernel test files.\n"
        "\n"
        "  MODEL.py            the whole pipeline; output goes to DIR, by default\n"
        "                      workspace/output/<source_level>/<model_name>/\n"
        "  -o, --output DIR    output folder (replaces an older result there)\n"
        "  --source-level L    default: the model's folder name if it is levelN, else custom\n"
        "  --name NAME         model name; default: the file name without .py\n"
        "  --num-trials N      random-input trials per verification (default 3)\n"
        "  --rtol X, --atol X  tolerances (default by dtype: 1e-5/1e-6 fp32, 1e-3/1e-3 fp16/bf16)\n"
        "  --json              print one JSON object on stdout and nothing else\n"
        "  --repl              once the run is over, a Python prompt with the model, its\n"
        "                      inputs, its trace (gm) and the tree loaded\n"
        "\n"
        "  FOLDER              a model spread over a folder's files (input type repo): Phase 0\n"
        "                      makes it one self-contained file and proves it equal, then the\n"
        "                      run goes on as for a MODEL.py; default name: the entry file's\n"
        "  --entry-file F      the file, under FOLDER, that defines the model's class\n"
        "  --entry-class C     the model's class\n"
        "  --init-args JSON    its constructor arguments, a list; an object of the folder's\n"
        "                      (a config) is {\"class\": \"module.Name\", \"kwargs\": {...}}\n"
        "  --inputs JSON       the forward's arguments, a list (or an object, by name); a tensor\n"
        "                      is {\"shape\": [2, 16], \"dtype\": \"float32\"}, integers also \"high\"\n"
        "\n"
        "  MODEL_ID|FOLDER     a Hugging Face model (input type huggingface), by its id in the\n"
        "                      local Hugging Face cache or a folder with its config.json; built\n"
        "                      from the config with random weights, never downloaded; needs the\n"
        "                      transformers package; default name: the id's last part\n"
        "  --model-class C     the transformers class (GPT2LMHeadModel, AutoModelForCausalLM)\n"
        "  --config JSON       config fields to change, as {\"num_hidden_layers\": 2}\n"
        "  --inputs JSON       as above, by name; default: from the config (token ids of batch 1\n"
        "                      and up to 128 positions, images, 1 s of audio, or speech features)\n"
        "\n"
        "  verify-step         check one decomposition step: anti-cheat, weight transfer,\n"
        "                      numerical comparison of original vs refactored\n"
        "  extract-ops         op coverage of a model by its decomposed components\n"
        "  check DIR           re-run every step, component self-test and the composition\n"
        "                      test of a finished output folder, rewriting nothing\n"
        "  mcp                 serve the four commands above as MCP tools (decompose,\n"
        "                      verify_step, extract_ops, check) over stdin/stdout:\n"
        "                      JSON-RPC 2.0, one message per line; progress on stderr\n"
        "\n"
        "Exit status: 0 pass, 1 verification failed (extract-ops: coverage not full),\n"
        "2 bad input or error.\n"
        "\n"
        "Environment: DECOMPOSE_DEBUG=1 prints the Python traceback of an internal error.\n",
        f);
}

static int fail(char *err, size_t errlen, const char *fmt, ...) ATTR_PRINTF(3, 4);
static int fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const opt *find_opt(const char *name, size_t len) {
    for (size_t i = 0; i < NOPTS; i++) {
        if (strlen(OPTS[i].lng) == len && strncmp(OPTS[i].lng, name, len) == 0) return &OPTS[i];
        if (OPTS[i].shrt && strlen(OPTS[i].shrt) == len && strncmp(OPTS[i].shrt, name, len) == 0)
            return &OPTS[i];
    }
    return NULL;
}

static int parse_int(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno || v < 1 || v > 1000000) return -1;
    *out = (int)v;
    return 0;
}

static int parse_real(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno || !isfinite(v) || v < 0) return -1;
    *out = v;
    return 0;
}

static int is_option(const char *s) { return s[0] == '-' && s[1] != '\0'; }

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int cli_parse(int argc, char **argv, cli_args *a, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    a->num_trials = 3;
    a->cmd = CMD_RUN;
    if (errlen) err[0] = '\0';

    int i = 1;
    if (argc > 1) {
        if (strcmp(argv[1], "verify-step") == 0) a->cmd = CMD_VERIFY_STEP, i = 2;
        else if (strcmp(argv[1], "extract-ops") == 0) a->cmd = CMD_EXTRACT_OPS, i = 2;
        else if (strcmp(argv[1], "check") == 0) a->cmd = CMD_CHECK, i = 2;
        else if (strcmp(argv[1], "mcp") == 0) a->cmd = CMD_MCP, i = 2;
    }
    /* --help and --version win wherever they are, as with most tools. */
    for (int j = 1; j < argc && strcmp(argv[j], "--") != 0; j++) {
        if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
            a->cmd = CMD_HELP;
            return 0;
        }
        if (strcmp(argv[j], "--version") == 0) {
            a->cmd = CMD_VERSION;
            return 0;
        }
    }

    const char *positional = NULL;
    int only_positional = 0;
    /* The command the options are checked against: a job file is only known
     * once its name is seen, so RUN and JOB share one mask until then. */
    unsigned mask = (a->cmd == CMD_RUN) ? (F_RUN | F_JOB) : (1u << a->cmd);
    const char *run_only = NULL;

    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (only_positional || !is_option(arg)) {
            if (a->cmd != CMD_RUN && a->cmd != CMD_CHECK)
                return fail(err, errlen, "%s: unexpected argument '%s'", cli_command_name(a->cmd), arg);
            if (positional)
                return fail(err, errlen, "unexpected argument '%s' (%s already given)", arg, positional);
            positional = arg;
            continue;
        }
        const char *eq = strncmp(arg, "--", 2) == 0 ? strchr(arg, '=') : NULL;
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        const opt *o = find_opt(arg, nlen);
        if (!o) return fail(err, errlen, "unknown option '%.*s'", (int)nlen, arg);
        if (!(o->cmds & mask))
            return fail(err, errlen, "option '%s' does not apply to %s", o->lng,
                        a->cmd == CMD_RUN ? "a model run" : cli_command_name(a->cmd));
        if (!(o->cmds & F_JOB) && a->cmd == CMD_RUN) run_only = o->lng;

        if (o->kind == V_FLAG) {
            if (eq) return fail(err, errlen, "option '%s' takes no value", o->lng);
            *(int *)((char *)a + o->off) = 1;
            continue;
        }
        if (o->kind == V_LIST) {
            if (eq) return fail(err, errlen, "option '%s' takes its files as separate arguments", o->lng);
            int first = i + 1;
            while (i + 1 < argc && !is_option(argv[i + 1])) i++;
            int n = i + 1 - first;
            if (n == 0) return fail(err, errlen, "option '%s' needs at least one file", o->lng);
            a->children = xrealloc(a->children, (a->nchildren + (size_t)n) * sizeof *a->children);
            for (int k = 0; k < n; k++) a->children[a->nchildren++] = argv[first + k];
            continue;
        }
        const char *val;
        if (eq) {
            val = eq + 1;
        } else {
            if (i + 1 >= argc) return fail(err, errlen, "option '%s' needs a value", o->lng);
            val = argv[++i];
        }
        if (*val == '\0') return fail(err, errlen, "option '%s' needs a non-empty value", o->lng);
        if (o->kind == V_STR) {
            *(const char **)((char *)a + o->off) = val;
        } else if (o->kind == V_INT) {
            if (parse_int(val, (int *)((char *)a + o->off)) != 0)
                return fail(err, errlen, "option '%s': '%s' is not a whole number from 1 to 1000000", o->lng, val);
        } else {
            if (parse_real(val, (double *)((char *)a + o->off)) != 0)
                return fail(err, errlen, "option '%s': '%s' is not a non-negative number", o->lng, val);
        }
        if (o->set_off) *(int *)((char *)a + o->set_off) = 1;
    }

    switch (a->cmd) {
    case CMD_RUN:
        if (!positional) return fail(err, errlen, "no model file given (see decompose --help)");
        a->model = positional;
        if (ends_with(positional, ".yaml") || ends_with(positional, ".yml")) {
            a->cmd = CMD_JOB;
            if (run_only)
                return fail(err, errlen, "option '%s' does not apply to a job file (set it in the job)", run_only);
        }
        if (a->repl && a->json)
            return fail(err, errlen, "options '--repl' and '--json' cannot be used together");
        if (a->cmd == CMD_RUN && a->model_class) {
            if (a->entry_file || a->entry_class || a->init_args)
                return fail(err, errlen, "'--model-class' (a Hugging Face model) and '--entry-file', "
                            "'--entry-class', '--init-args' (a folder's model) cannot be used together");
        } else if (a->cmd == CMD_RUN && a->hf_config) {
            return fail(err, errlen, "option '--config' changes a Hugging Face model's config: it needs "
                        "'--model-class'");
        } else if (a->cmd == CMD_RUN && (a->entry_file || a->entry_class || a->init_args || a->inputs)) {
            if (!a->entry_file || !a->entry_class || !a->inputs)
                return fail(err, errlen,
                            "a folder's model needs '--entry-file', '--entry-class' and '--inputs'");
        }
        if (a->name && (strchr(a->name, '/') || strcmp(a->name, ".") == 0 || strcmp(a->name, "..") == 0))
            return fail(err, errlen, "option '--name': '%s' is not a valid name", a->name);
        if (a->source_level && (strchr(a->source_level, '/') || strcmp(a->source_level, ".") == 0 ||
                                strcmp(a->source_level, "..") == 0))
            return fail(err, errlen, "option '--source-level': '%s' is not a valid name", a->source_level);
        break;
    case CMD_VERIFY_STEP:
        if (!a->original) return fail(err, errlen, "verify-step: the option '--original' is required");
        if (!a->refactored) return fail(err, errlen, "verify-step: the option '--refactored' is required");
        break;
    case CMD_EXTRACT_OPS:
        if (!a->model) return fail(err, errlen, "extract-ops: the option '--model' is required");
        if (!a->decomp_dir && !a->nchildren)
            return fail(err, errlen, "extract-ops: one of '--decomp-dir' or '--children' is required");
        if (a->decomp_dir && a->nchildren)
            return fail(err, errlen, "extract-ops: '--decomp-dir' and '--children' cannot be used together");
        break;
    case CMD_CHECK:
        if (!positional) return fail(err, errlen, "check: no output folder given");
        a->dir = positional;
        break;
    default:
        break;
    }
    return 0;
}

void cli_free(cli_args *a) {
    free(a->children);
    a->children = NULL;
    a->nchildren = 0;
}
