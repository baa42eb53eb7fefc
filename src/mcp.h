/* mcp.h - the commands as tools of a Model Context Protocol server on stdio.
 *
 *   decompose mcp
 *
 * JSON-RPC 2.0, one message per line in and out (the MCP stdio transport).
 * Methods: initialize, ping, tools/list, tools/call; notifications get no
 * reply. Four tools, each the command of the same name run with --json in
 * this process, so one interpreter serves the whole session:
 *
 *   decompose    {model, output?, name?, source_level?, num_trials?, rtol?, atol?}
 *   verify_step  {original, refactored, weight_map?, output?, num_trials?, rtol?, atol?}
 *   extract_ops  {model, decomp_dir? | children?, output?}
 *   check        {dir, num_trials?, rtol?, atol?}
 *
 * A tool's result is the command's one JSON object, as text and as
 * structuredContent, with isError set when the command's exit code is 2 (bad
 * input or an error); a verification that fails (exit 1) is a result like
 * any other, its status says FAIL. Progress goes to env->log (stderr). */
#ifndef DECOMPOSE_MCP_H
#define DECOMPOSE_MCP_H

#include <stdio.h>
#include <jansson.h>

#include "report.h"

/* Answer the messages on `in` until it ends; replies go to env->out.
 * Returns 0 at the end of input, 2 if a reply cannot be written. */
int mcp_serve(FILE *in, const run_env *env);

/* The reply to one message (new reference), or NULL for a notification. */
json_t *mcp_handle(const json_t *msg, const run_env *env);

#endif
