/* pipeline.h - `decompose MODEL.py`: the whole job, gate by gate.
 *
 *   plan (glue: trace, group into levels, generate every file)
 *   -> write the plan's files into a staging folder
 *   -> for each step, parent before children: write its files, verify it,
 *      record its coverage; stop at the first step that does not pass
 *   -> if all passed: every component's self-test, the composition test,
 *      and the coverage of the model by the L0 kernels
 *   -> decomposition_tree.json and the verification/ summaries
 *   -> move the staging folder onto the output folder.
 *
 * Exit codes: 0 everything passed, 1 a verification failed (the output
 * folder is kept so the user can look at it), 2 bad input or an error (no
 * output folder is left behind). */
#ifndef DECOMPOSE_PIPELINE_H
#define DECOMPOSE_PIPELINE_H

#include "cli.h"
#include "report.h"

/* One model: a->model, a->output, a->name, a->source_level and the
 * tolerances. Returns the exit code. */
int pipeline_run(const cli_args *a, const run_env *env);

#endif
