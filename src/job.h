/* job.h - YAML job files: the seed's [EDIT] block as a file.
 *
 *   input_type: single_file            # or repo, or huggingface (below)
 *   model: data/level2/21_Conv2d.py    # or:
 *   models: [11_VGG16.py, 18_SqueezeNet.py]
 *   models_dir: data/kernelbench/level3  # base folder for relative models
 *   output_dir: workspace/output/level3/{model_name}/
 *   source_level: level3               # optional, as --source-level
 *   name: vgg16                        # optional, one model only, as --name
 *   num_trials: 3                      # optional, as the flags
 *   rtol: 1e-5
 *   atol: 1e-6
 *
 * A model spread over a folder's files (input type repo) instead of model:
 *
 *   input_type: repo
 *   repo_path: models/tiny_lm          # the folder
 *   entry_file: modeling_tiny.py       # under the folder: defines the class
 *   entry_class: TinyLM
 *   init_args:                         # the constructor's arguments, a list;
 *     - class: configuration_tiny.TinyConfig   # an object of the folder's
 *       kwargs: {vocab_size: 100}
 *   inputs:                            # the forward's arguments: a list, or a mapping by name
 *     - {shape: [2, 12], dtype: int64, high: 100}
 *
 * A Hugging Face model (input type huggingface), by its id in the local
 * Hugging Face cache or a folder with its config.json:
 *
 *   input_type: huggingface
 *   model: HuggingFaceTB/SmolLM2-135M  # or models: [...], each built with model_class;
 *                                      # under models_dir only where that folder exists
 *   model_class: AutoModelForCausalLM  # a transformers class
 *   config: {num_hidden_layers: 2}     # optional: config fields to change
 *   inputs:                            # optional: by name; default from the config
 *     input_ids: {shape: [1, 64], dtype: int64, high: 49152}
 *
 * Relative paths are taken from the current directory, like the
 * command-line flags they stand for; flags given on the command line win
 * over the job's. output_dir may hold {model_name}; with several models and
 * no placeholder, each model gets output_dir/<model_name>. */
#ifndef DECOMPOSE_JOB_H
#define DECOMPOSE_JOB_H

#include <stddef.h>

#include "cli.h"
#include "report.h"

typedef struct {
    char *input_type;
    char **models;
    size_t nmodels;
    char *models_dir;
    char *output_dir;
    char *source_level;
    char *name;
    char *repo_path, *entry_file, *entry_class;
    char *model_class;
    char *init_args, *inputs, *config;  /* JSON text made from the YAML */
    int num_trials, num_trials_set;
    double rtol, atol;
    int rtol_set, atol_set;
} job;

/* Parse and check a job file. 0, or -1 with *err "<file>: line N: ...". */
int job_load(const char *path, job *j, char **err);
int job_parse(const char *text, size_t len, const char *name, job *j, char **err);
void job_free(job *j);

/* The output folder of model i (allocated): output_dir with {model_name}
 * filled in, NULL when the job names none (the default applies). */
char *job_output_for(const job *j, const char *model_name);

/* Run every model of the job file a->model; the worst exit code wins. With
 * --json, one object: {"status", "models": [each model's summary]}. */
int job_run(const cli_args *a, const run_env *env);

#endif
