/* commands.h - the agent-facing commands, thin over the glue.
 *
 *   verify-step  the reference scripts/verify_step.py: exit 0 PASS, 1 FAIL,
 *                2 ERROR (including a file that cannot be loaded)
 *   extract-ops  the reference scripts/extract_ops.py: exit 0 FULL_COVERAGE,
 *                1 PARTIAL or LOW coverage, 2 ERROR
 *   check        every step, component self-test and the composition test of
 *                a finished output folder, rewriting nothing: 0 all pass,
 *                1 any fail, 2 error
 *
 * Each returns its exit code; with --json, env->out gets exactly one JSON
 * object. */
#ifndef DECOMPOSE_COMMANDS_H
#define DECOMPOSE_COMMANDS_H

#include "cli.h"
#include "report.h"

/* Run the command a parsed command line names (a model run, a job file or
 * one of the commands below) and return its exit code: main and the MCP
 * server (mcp.h) both go through here. */
int command_dispatch(const cli_args *a, const run_env *env);

int cmd_verify_step(const cli_args *a, const run_env *env);
int cmd_extract_ops(const cli_args *a, const run_env *env);
int cmd_check(const cli_args *a, const run_env *env);

#endif
