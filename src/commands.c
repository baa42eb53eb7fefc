/* commands.c - see commands.h. */
#include "commands.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "job.h"
#include "outdir.h"
#include "paths.h"
#include "pipeline.h"
#include "util.h"

int command_dispatch(const cli_args *a, const run_env *env) {
    switch (a->cmd) {
    case CMD_RUN: return pipeline_run(a, env);
    case CMD_JOB: return job_run(a, env);
    case CMD_VERIFY_STEP: return cmd_verify_step(a, env);
    case CMD_EXTRACT_OPS: return cmd_extract_ops(a, env);
    case CMD_CHECK: return cmd_check(a, env);
    default: return 2;  /* help, version and mcp are main's */
    }
}

/* Human-readable account of a verification result. */
static void print_verification(FILE *f, const json_t *result) {
    const char *status = json_str(result, "status");
    json_t *ac = json_object_get(result, "anticheat");
    const char *acs = json_str(ac, "status");
    json_t *viol = json_object_get(ac, "violations");
    fprintf(f, "anti-cheat       %s\n", acs ? acs : "n/a");
    size_t i;
    json_t *v;
    json_array_foreach(viol, i, v) {
        if (i == 10) {
            fprintf(f, "  ... and %zu more\n", json_array_size(viol) - 10);
            break;
        }
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        fprintf(f, "  violation: %s\n", s ? s : "?");
        free(s);
    }
    json_t *wt = json_object_get(result, "weight_transfer");
    const char *wts = json_str(wt, "status");
    json_t *mc = json_object_get(wt, "mapped_count");
    if (wts) {
        fprintf(f, "weight transfer  %s", wts);
        if (json_is_integer(mc)) fprintf(f, " (%lld mapped)", (long long)json_integer_value(mc));
        fputc('\n', f);
    }
    json_t *num = json_object_get(result, "numerical_comparison");
    double rtol, atol;
    if (json_num(num, "rtol", &rtol) == 0 && json_num(num, "atol", &atol) == 0)
        fprintf(f, "tolerance        rtol %g, atol %g\n", rtol, atol);
    json_array_foreach(json_object_get(num, "trials"), i, v) {
        double d = 0;
        int has = json_diff(v, "max_diff", &d);
        char diff[32];
        fmt_diff(diff, sizeof diff, d, has);
        json_t *seed = json_object_get(v, "seed");
        const char *e = json_str(v, "error");
        fprintf(f, "trial %zu", i);
        if (json_is_integer(seed)) fprintf(f, " (seed %lld)", (long long)json_integer_value(seed));
        fprintf(f, "  %s  max diff %s%s%s\n", json_is_true(json_object_get(v, "pass")) ? "PASS" : "FAIL",
                diff, e ? "  " : "", e ? e : "");
    }
    int has;
    double d = result_max_diff(result, &has);
    char diff[32];
    fmt_diff(diff, sizeof diff, d, has);
    if (status && strcmp(status, "PASS") == 0) {
        fprintf(f, "PASS (max diff %s)\n", diff);
    } else {
        char *why = result_reason(result);
        fprintf(f, "%s: %s\n", status ? status : "FAIL", why);
        free(why);
    }
    fflush(f);
}

static int write_output(const char *path, json_t *obj, char **err) {
    char *abs = path_absolute(path);
    char *dir = abs ? path_dirname(abs) : NULL;
    int rc = -1;
    if (!abs) set_error(err, "cannot read the working directory");
    else if (mkdir_p(dir, err) == 0) rc = write_json_atomic(abs, obj, err);
    free(dir);
    free(abs);
    return rc;
}

/* Absolute path of an input that must be a readable file. */
static char *input_file(const char *path, char **err) {
    if (check_readable_file(path, err) != 0) return NULL;
    return path_absolute(path);
}

int cmd_verify_step(const cli_args *a, const run_env *env) {
    char *err = NULL;
    char *orig = NULL, *refa = NULL, *wm = NULL;
    json_t *req = NULL, *reply = NULL;
    int code = 2;

    if (!(orig = input_file(a->original, &err))) goto done;
    if (!(refa = input_file(a->refactored, &err))) goto done;
    if (a->weight_map && !(wm = input_file(a->weight_map, &err))) goto done;
    req = verify_request(orig, refa, wm, a);
    if (glue_call(env->glue, "verify_step", req, &reply, &err) != 0) goto done;

    json_t *result = json_object_get(reply, "result");
    if (!json_is_object(result)) result = reply;
    const char *status = json_str(reply, "status");
    if (!status) status = json_str(result, "status");
    code = (status && !strcmp(status, "PASS")) ? 0 : (status && !strcmp(status, "FAIL")) ? 1 : 2;
    if (a->output && write_output(a->output, result, &err) != 0) {
        code = 2;
        goto done;
    }
    if (a->json) {
        report_json(env, result);
    } else {
        fprintf(env->out, "verify-step %s\n  original   %s\n  refactored %s\n", status ? status : "ERROR",
                orig, refa);
        print_verification(env->out, result);
        if (a->output) fprintf(env->out, "result written to %s\n", a->output);
    }
    if (code == 2 && !a->json) {
        const char *e = json_str(result, "error");
        fprintf(env->log, "decompose: error: %s\n", e ? e : "verification could not run");
    }
done:
    if (err) code = report_error(env, a->json, err);
    free(err);
    free(orig);
    free(refa);
    free(wm);
    json_decref(req);
    json_decref(reply);
    return code;
}

static void print_coverage(FILE *f, const char *status, const json_t *result) {
    json_t *cov = json_object_get(result, "coverage");
    int has;
    double pct = coverage_pct(result, &has);
    fprintf(f, "extract-ops %s", status ? status : "ERROR");
    if (has) fprintf(f, " (%.1f%%)", pct);
    fputc('\n', f);
    const char *method = json_str(result, "extraction_method");
    if (method) fprintf(f, "  method     %s\n", method);
    json_t *t = json_object_get(cov, "total_original_ops"), *c = json_object_get(cov, "covered_op_count");
    if (json_is_integer(t) && json_is_integer(c))
        fprintf(f, "  covered    %lld of %lld original ops\n", (long long)json_integer_value(c),
                (long long)json_integer_value(t));
    size_t i;
    json_t *d;
    json_t *details = json_object_get(cov, "op_details");
    if (json_array_size(details)) fprintf(f, "  %-28s %9s %11s  %s\n", "op", "original", "decomposed", "status");
    json_array_foreach(details, i, d) {
        const char *op = json_str(d, "op_type");
        fprintf(f, "  %-28s %9lld %11lld  %s\n", op ? op : "?",
                (long long)json_integer_value(json_object_get(d, "original_count")),
                (long long)json_integer_value(json_object_get(d, "decomposed_count")),
                json_str(d, "status") ? json_str(d, "status") : "");
    }
    const char *e = json_str(result, "error");
    if (e) fprintf(f, "  error      %s\n", e);
    fflush(f);
}

int cmd_extract_ops(const cli_args *a, const run_env *env) {
    char *err = NULL, *model = NULL, *decomp = NULL;
    json_t *req = NULL, *reply = NULL;
    int code = 2;

    if (!(model = input_file(a->model, &err))) goto done;
    req = json_object();
    json_object_set_new(req, "model", json_string(model));
    if (a->decomp_dir) {
        struct stat st;
        if (stat(a->decomp_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            set_error(&err, "%s: no such directory", a->decomp_dir);
            goto done;
        }
        decomp = path_absolute(a->decomp_dir);
        json_object_set_new(req, "decomp_dir", json_string(decomp));
        json_object_set_new(req, "children", json_null());
    } else {
        json_t *ch = json_array();
        for (size_t i = 0; i < a->nchildren; i++) {
            char *p = input_file(a->children[i], &err);
            if (!p) {
                json_decref(ch);
                goto done;
            }
            json_array_append_new(ch, json_string(p));
            free(p);
        }
        json_object_set_new(req, "decomp_dir", json_null());
        json_object_set_new(req, "children", ch);
    }
    if (glue_call(env->glue, "extract_ops", req, &reply, &err) != 0) goto done;
    json_t *result = json_object_get(reply, "result");
    if (!json_is_object(result)) result = reply;
    const char *status = json_str(reply, "status");
    if (!status) status = json_str(result, "status");
    code = (status && !strcmp(status, "FULL_COVERAGE")) ? 0
           : (status && (!strcmp(status, "PARTIAL_COVERAGE") || !strcmp(status, "LOW_COVERAGE"))) ? 1 : 2;
    if (a->output && write_output(a->output, result, &err) != 0) {
        code = 2;
        goto done;
    }
    if (a->json) report_json(env, result);
    else print_coverage(env->out, status, result);
done:
    if (err) code = report_error(env, a->json, err);
    free(err);
    free(model);
    free(decomp);
    json_decref(req);
    json_decref(reply);
    return code;
}

/* ---- check ------------------------------------------------------------ */

/* steps/step_<N>_... folders in gate order: by N, then by name. */
static long step_number(const char *name) {
    if (strncmp(name, "step_", 5) != 0) return -1;
    char *end;
    long n = strtol(name + 5, &end, 10);
    return end == name + 5 ? -1 : n;
}

static int cmp_steps(const void *x, const void *y) {
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    long na = step_number(a), nb = step_number(b);
    if (na != nb) return na < nb ? -1 : 1;
    return strcmp(a, b);
}

static char **list_steps(const char *dir, size_t *n) {
    char *steps = path_join(dir, "steps");
    DIR *d = opendir(steps);
    char **names = NULL;
    *n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char *p = path_join(steps, e->d_name);
            struct stat st;
            if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
                names = xrealloc(names, (*n + 1) * sizeof *names);
                names[(*n)++] = xstrdup(e->d_name);
            }
            free(p);
        }
        closedir(d);
    }
    free(steps);
    if (*n) qsort(names, *n, sizeof *names, cmp_steps);
    return names;
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The component paths of a decomposition_tree.json, each once, in node
 * order. nodes may be an object keyed by id (ours) or a list. */
static json_t *tree_paths(json_t *tree) {
    json_t *nodes = json_object_get(tree, "nodes");
    json_t *seen = json_object(), *out = json_array();
    json_t *node;
    if (json_is_object(nodes)) {
        const char *k;
        json_object_foreach(nodes, k, node) {
            const char *p = json_str(node, "path");
            if (p && !json_object_get(seen, p)) {
                json_object_set_new(seen, p, json_true());
                json_array_append_new(out, json_string(p));
            }
        }
    } else {
        size_t i;
        json_array_foreach(nodes, i, node) {
            const char *p = json_str(node, "path");
            if (p && !json_object_get(seen, p)) {
                json_object_set_new(seen, p, json_true());
                json_array_append_new(out, json_string(p));
            }
        }
    }
    json_decref(seen);
    return out;
}

int cmd_check(const cli_args *a, const run_env *env) {
    char *err = NULL, *dir = NULL, *treep = NULL, *text = NULL;
    char **steps = NULL;
    size_t nsteps = 0;
    json_t *tree = NULL, *paths = NULL;
    json_t *out_steps = json_array(), *out_comps = json_array(), *out_comp = NULL;
    int passed = 0, failed = 0, code = 2;
    FILE *log = env->log;

    struct stat st;
    if (stat(a->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        set_error(&err, "%s: no such directory", a->dir);
        goto done;
    }
    dir = path_absolute(a->dir);
    treep = path_join(dir, "decomposition_tree.json");
    size_t len;
    if (!(text = read_file(treep, &len, &err))) goto done;
    char *perr = NULL;
    if (!(tree = json_parse_lenient(text, len, &perr))) {
        set_error(&err, "%s: %s", treep, perr);
        free(perr);
        goto done;
    }
    paths = tree_paths(tree);
    steps = list_steps(dir, &nsteps);
    size_t total = nsteps + json_array_size(paths) + 1, k = 0;

    for (size_t i = 0; i < nsteps; i++) {
        char *sd = xasprintf("%s/steps/%s", dir, steps[i]);
        char *orig = path_join(sd, "original.py");
        char *refa = path_join(sd, "refactored.py");
        char *wm = path_join(sd, "weight_map.json");
        /* Phase 0 of a folder's model: the wrapper against the folder again */
        char *prep = path_join(sd, "verify_wrapper.py");
        int is_prep = file_exists(prep);
        json_t *entry = json_pack("{s:s}", "name", steps[i]);
        const char *status;
        if (!is_prep && (!file_exists(orig) || !file_exists(refa))) {
            status = "FAIL";
            json_object_set_new(entry, "reason", json_string("original.py or refactored.py is missing"));
        } else {
            json_t *req = is_prep ? json_pack("{s:s}", "path", prep)
                                  : verify_request(orig, refa, file_exists(wm) ? wm : NULL, a);
            json_t *reply = NULL;
            int rc = glue_call(env->glue, is_prep ? "check_preparation" : "verify_step", req, &reply, &err);
            json_decref(req);
            if (rc != 0) {
                json_decref(entry);
                free(sd), free(orig), free(refa), free(wm), free(prep);
                goto done;
            }
            json_t *result = json_object_get(reply, "result");
            if (!json_is_object(result)) result = reply;
            const char *s = json_str(reply, "status");
            status = (s && !strcmp(s, "PASS")) ? "PASS" : "FAIL";
            int has;
            double d = result_max_diff(result, &has);
            json_object_set_new(entry, "max_diff", has > 0 ? json_real(d) : json_null());
            json_object_set_new(entry, "num_trials", json_integer(result_num_trials(result)));
            if (strcmp(status, "PASS") != 0) {
                char *why = result_reason(result);
                json_object_set_new(entry, "reason", json_string(why));
                free(why);
            }
            json_decref(reply);
        }
        json_object_set_new(entry, "status", json_string(status));
        char diff[32];
        double d = 0;
        int has = json_num(entry, "max_diff", &d) == 0;
        fmt_diff(diff, sizeof diff, d, has);
        if (!strcmp(status, "PASS")) {
            passed++;
            fprintf(log, "[%zu/%zu] step %s ... PASS (max diff %s)\n", ++k, total, steps[i], diff);
        } else {
            failed++;
            fprintf(log, "[%zu/%zu] step %s ... FAIL (%s)\n", ++k, total, steps[i], json_str(entry, "reason"));
        }
        fflush(log);
        json_array_append_new(out_steps, entry);
        free(sd), free(orig), free(refa), free(wm), free(prep);
    }

    size_t i;
    json_t *p;
    json_array_foreach(paths, i, p) {
        const char *rel = json_string_value(p);
        json_t *entry = json_pack("{s:s}", "file", rel);
        const char *status = "FAIL";
        if (!path_is_safe_relative(rel)) {
            json_object_set_new(entry, "message", json_string("path is not inside the output folder"));
        } else {
            char *full = path_join(dir, rel);
            if (!file_exists(full)) {
                json_object_set_new(entry, "message", json_string("file is missing"));
            } else {
                json_t *req = json_pack("{s:s}", "path", full), *reply = NULL;
                int rc = glue_call(env->glue, "run_component", req, &reply, &err);
                json_decref(req);
                if (rc != 0) {
                    free(full);
                    json_decref(entry);
                    goto done;
                }
                const char *s = json_str(reply, "status");
                if (s && !strcmp(s, "PASS")) status = "PASS";
                const char *m = json_str(reply, "message");
                if (m && strcmp(status, "PASS") != 0) json_object_set_new(entry, "message", json_string(m));
                json_decref(reply);
            }
            free(full);
        }
        json_object_set_new(entry, "status", json_string(status));
        if (!strcmp(status, "PASS")) {
            passed++;
            fprintf(log, "[%zu/%zu] component %s ... PASS\n", ++k, total, rel);
        } else {
            failed++;
            fprintf(log, "[%zu/%zu] component %s ... FAIL (%s)\n", ++k, total, rel,
                    json_str(entry, "message") ? json_str(entry, "message") : "self-test failed");
        }
        fflush(log);
        json_array_append_new(out_comps, entry);
    }

    char *ct = path_join(dir, "verification/composition_test.py");
    out_comp = json_pack("{s:s}", "file", "verification/composition_test.py");
    const char *cstatus = "FAIL";
    double cdiff = 0;
    int chas = 0;
    if (!file_exists(ct)) {
        json_object_set_new(out_comp, "message", json_string("file is missing"));
    } else {
        json_t *req = json_pack("{s:s}", "path", ct), *reply = NULL;
        int rc = glue_call(env->glue, "run_composition", req, &reply, &err);
        json_decref(req);
        if (rc != 0) {
            free(ct);
            goto done;
        }
        const char *s = json_str(reply, "status");
        if (s && !strcmp(s, "PASS")) cstatus = "PASS";
        chas = json_diff(reply, "max_diff", &cdiff);
        json_object_set_new(out_comp, "max_diff", chas > 0 ? json_real(cdiff) : json_null());
        const char *m = json_str(reply, "message");
        if (m && strcmp(cstatus, "PASS") != 0) json_object_set_new(out_comp, "message", json_string(m));
        json_decref(reply);
    }
    free(ct);
    json_object_set_new(out_comp, "status", json_string(cstatus));
    {
        char diff[32];
        fmt_diff(diff, sizeof diff, cdiff, chas);
        const char *m = json_str(out_comp, "message");
        if (!strcmp(cstatus, "PASS")) passed++;
        else failed++;
        fprintf(log, "[%zu/%zu] composition ... %s (max diff %s%s%s)\n", ++k, total, cstatus, diff,
                m ? "; " : "", m ? m : "");
        fflush(log);
    }

    code = failed ? 1 : 0;
    if (a->json) {
        json_t *o = json_object();
        json_object_set_new(o, "status", json_string(failed ? "FAIL" : "PASS"));
        json_object_set_new(o, "dir", json_string(dir));
        json_object_set_new(o, "passed", json_integer(passed));
        json_object_set_new(o, "failed", json_integer(failed));
        json_object_set_new(o, "steps", json_incref(out_steps));
        json_object_set_new(o, "components", json_incref(out_comps));
        json_object_set_new(o, "composition", json_incref(out_comp));
        report_json(env, o);
        json_decref(o);
    } else {
        fprintf(env->out, "check %s: %d passed, %d failed (%zu steps, %zu components, composition %s)\n",
                failed ? "FAILED" : "PASSED", passed, failed, nsteps, json_array_size(paths), cstatus);
        fflush(env->out);
    }
done:
    if (err) code = report_error(env, a->json, err);
    free(err);
    free(dir);
    free(treep);
    free(text);
    for (size_t j = 0; j < nsteps; j++) free(steps[j]);
    free(steps);
    json_decref(tree);
    json_decref(paths);
    json_decref(out_steps);
    json_decref(out_comps);
    json_decref(out_comp);
    return code;
}
