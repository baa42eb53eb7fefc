/* cli.h - the command line, parsed into a struct and nothing else.
 *
 *   decompose MODEL.py|JOB.yaml [-o DIR] [--json] [--num-trials N] [--rtol X]
 *             [--atol X] [--source-level L] [--name NAME] [--repl]
 *   decompose verify-step --original P --refactored R [--weight-map W]
 *             [--output J] [--rtol X] [--atol X] [--num-trials N] [--json]
 *   decompose extract-ops --model M (--decomp-dir D | --children F [F ...])
 *             [--output J] [--json]
 *   decompose check DIR [--rtol X] [--atol X] [--num-trials N] [--json]
 *   decompose mcp          (an MCP server on stdio: mcp.h)
 *   decompose --help | --version
 *
 * cli_parse has no side effects: it fills a cli_args whose strings point into
 * argv, or returns -1 with a one-line message (without the "decompose:
 * error:" prefix, which main adds). A subcommand is only recognised as the
 * first argument, so a model file may be called "check". */
#ifndef DECOMPOSE_CLI_H
#define DECOMPOSE_CLI_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    CMD_RUN = 0,        /* decompose MODEL.py */
    CMD_JOB,            /* decompose JOB.yaml */
    CMD_VERIFY_STEP,
    CMD_EXTRACT_OPS,
    CMD_CHECK,
    CMD_MCP,
    CMD_HELP,
    CMD_VERSION,
} cli_command;

typedef struct {
    cli_command cmd;
    int json;

    /* tolerances and trials; *_set says whether the user gave them */
    int num_trials;             /* 3 unless given */
    int num_trials_set;
    double rtol, atol;
    int rtol_set, atol_set;

    /* run / job */
    const char *model;          /* the model or job file */
    const char *output;         /* -o/--output: run's folder, or the result file */
    const char *source_level;
    const char *name;
    int repl;                   /* --repl: a Python prompt once the run is over */

    /* a folder's model (input type repo): `model` is the folder */
    const char *entry_file;     /* --entry-file, under the folder */
    const char *entry_class;    /* --entry-class */
    const char *init_args;      /* --init-args: JSON list of constructor arguments */
    const char *inputs;         /* --inputs: JSON list of the forward's inputs */

    /* a Hugging Face model (input type huggingface): `model` is its id or folder */
    const char *model_class;    /* --model-class: a transformers class */
    const char *hf_config;      /* --config: JSON object of config fields to change */

    /* verify-step */
    const char *original;
    const char *refactored;
    const char *weight_map;

    /* extract-ops (model shared with run) */
    const char *decomp_dir;
    const char **children;      /* allocated array; strings point into argv */
    size_t nchildren;

    /* check */
    const char *dir;
} cli_args;

/* 0 on success; -1 with a message in err (errlen bytes) on bad usage. */
int cli_parse(int argc, char **argv, cli_args *args, char *err, size_t errlen);
void cli_free(cli_args *args);
void cli_usage(FILE *f);
const char *cli_command_name(cli_command cmd);

#endif
