/* report.h - what every command shares: where output goes, reading the
 * glue's result objects, and saying what went wrong.
 *
 * The glue returns the reference workflow's result objects (a
 * verification_result.json, a coverage_report.json); these helpers pull out
 * the few facts the C side prints and bookkeeps - a status, the largest
 * difference over the trials, the first reason for a failure - tolerating
 * members that are missing. */
#ifndef DECOMPOSE_REPORT_H
#define DECOMPOSE_REPORT_H

#include <stdio.h>
#include <jansson.h>

#include "cli.h"
#include "glue.h"

typedef struct {
    FILE *out;                  /* the summary, or the one JSON object */
    FILE *log;                  /* progress and errors (stderr) */
    const glue *glue;
    const char *python_exe;     /* passed to plan as "python" */
    const char *timestamp;      /* NULL: now; tests pin it */
} run_env;

/* "decompose: error: <msg>" on log, and in JSON mode {"status": "ERROR",
 * "error": msg} on out so a machine reading stdout still gets one object.
 * Returns 2, the exit code of an error. */
int report_error(const run_env *env, int json, const char *msg);

/* Print a JSON object on out, compact, one line. */
void report_json(const run_env *env, const json_t *obj);

/* The timestamp to record: env's, or the current UTC time. */
void report_timestamp(const run_env *env, char *buf, size_t len);

/* Largest max_diff over numerical_comparison.trials (else
 * max_diff_across_trials). *has: 1 found, 0 none (returns 0), -1 a trial's
 * max_diff was not a finite number (inf or nan, which strict JSON cannot
 * hold and the lenient reader turns into null). */
double result_max_diff(const json_t *result, int *has);

/* Number of trials that ran (0 if none). */
int result_num_trials(const json_t *result);

/* Why a verification did not pass, in one line: the first anti-cheat
 * violation, a load or transfer error, or the numerical failure with its
 * max diff. Allocated. */
char *result_reason(const json_t *result);

/* "1.2e-07", "inf" (has < 0) or "n/a" (has == 0) */
void fmt_diff(char *buf, size_t len, double d, int has);

/* The request objects of docs/GLUE_API.md, tolerances from the command line
 * (null when not given). */
json_t *verify_request(const char *original, const char *refactored,
                       const char *weight_map, const cli_args *a);

/* Replace every occurrence of `from` by `to` in every string inside j.
 * Used to record final paths rather than the staging folder's. */
void json_rewrite_prefix(json_t *j, const char *from, const char *to);

/* coverage_pct of a coverage result (result.coverage.coverage_pct); *has = 0
 * when absent. */
double coverage_pct(const json_t *result, int *has);

#endif
