/* pipeline.c - see pipeline.h.
 *
 * All state of one run lives in a `run` struct that the phases fill in; the
 * summary and the verification/ files are written from it at the end, so a
 * run that stops at a failed step still records what it did. The glue only
 * ever sees paths inside the staging folder; paths it echoes back in its
 * results are rewritten to the final folder before they are written. */
#include "pipeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "outdir.h"
#include "paths.h"
#include "tree.h"
#include "util.h"

typedef struct {
    const char *name;
    const char *parent;
    const char *status;         /* PASS, FAIL, ERROR, NOT_RUN */
    double max_diff;
    int has_diff;
    int num_trials;
    char *coverage;             /* coverage status, or NULL */
    char *reason;               /* when not PASS */
} step_result;

typedef struct {
    const cli_args *a;
    const run_env *env;
    char ts[32];
    struct timespec t0;

    char *model_abs;
    char *model_name;
    char *source_level;
    char *out_dir;
    staging *stage;
    const char *root;           /* staging path */

    json_t *repo;               /* a folder's model: entry file and class, init args, inputs */
    json_t *hf;                 /* a Hugging Face model: id or folder, class, config changes, inputs */
    json_t *plan;               /* the plan reply */
    json_t *verified;           /* verify_steps' results, one per step */
    size_t nsteps;
    step_result *steps;
    size_t steps_passed;
    const char *failed_step;    /* NULL when every step passed */

    json_t *components;         /* [{file, status, message}] */
    int comp_passed, comp_failed, comp_ran;
    const char *composition;    /* PASSED, FAILED, NOT_RUN */
    double comp_diff;
    int comp_has_diff;
    char *comp_reason;
    double cov_pct;
    int has_cov;
    char *cov_status;

    char *reason;               /* why the run FAILED, one line */

    /* Seconds spent per phase, for the summary and tools/bench. The glue
     * reports its own split of planning (load, trace, codegen). */
    double t_plan, t_write, t_verify, t_coverage, t_components, t_composition;
} run;

static double seconds_since(const struct timespec *t0) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void progress(run *r, const char *fmt, ...) ATTR_PRINTF(2, 3);
static void progress(run *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(r->env->log, fmt, ap);
    va_end(ap);
    fputc('\n', r->env->log);
    fflush(r->env->log);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A path inside the staging folder. */
static char *in_stage(run *r, const char *rel) { return path_join(r->root, rel); }

/* Write a result object into the staging folder, with final paths. */
static int write_result(run *r, const char *rel, json_t *obj, char **err) {
    double t = now();
    json_t *copy = json_deep_copy(obj);
    json_rewrite_prefix(copy, r->root, r->out_dir);
    char *text = json_to_text(copy);
    int rc = write_file_under(r->root, rel, text, strlen(text), err);
    free(text);
    json_decref(copy);
    r->t_write += now() - t;
    return rc;
}

/* Write a list of {path, content} entries. */
static int write_files(run *r, json_t *files, const char *what, char **err) {
    if (files && !json_is_array(files)) {
        set_error(err, "internal: plan: %s \"files\" is not a list", what);
        return -1;
    }
    double t = now();
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        const char *path = json_str(f, "path");
        json_t *content = json_object_get(f, "content");
        if (!path || !json_is_string(content)) {
            set_error(err, "internal: plan: %s file %zu has no path or content", what, i);
            return -1;
        }
        if (write_file_under(r->root, path, json_string_value(content),
                             json_string_length(content), err) != 0)
            return -1;
    }
    r->t_write += now() - t;
    return 0;
}

static int do_plan(run *r, int check_trace, char **err) {
    const cli_args *a = r->a;
    json_t *req = json_object();
    if (check_trace) json_object_set_new(req, "check_trace", json_true());
    json_object_set_new(req, "model_path", json_string(r->model_abs));
    json_object_set_new(req, "model_name", json_string(r->model_name));
    json_object_set_new(req, "source_level", json_string(r->source_level));
    json_object_set_new(req, "python", json_string(r->env->python_exe ? r->env->python_exe : ""));
    json_object_set_new(req, "num_trials", json_integer(a->num_trials));
    json_object_set_new(req, "rtol", a->rtol_set ? json_real(a->rtol) : json_null());
    json_object_set_new(req, "atol", a->atol_set ? json_real(a->atol) : json_null());
    if (r->repo) {
        json_t *repo = json_deep_copy(r->repo);
        json_object_set_new(repo, "path", json_string(r->model_abs));
        json_object_set_new(req, "repo", repo);
        progress(r, "decompose: Phase 0: %s of %s/%s as one file, checked against the folder",
                 a->entry_class, r->model_abs, a->entry_file);
    }
    if (r->hf) {
        json_t *hf = json_deep_copy(r->hf);
        json_object_set_new(hf, "model", json_string(r->model_abs));
        json_object_set_new(req, "huggingface", hf);
        progress(r, "decompose: Phase 0: %s of %s as one file, checked against transformers' own build",
                 a->model_class, r->model_abs);
    }
    progress(r, "decompose: planning %s", r->model_abs);
    double t = now();
    int rc = glue_call(r->env->glue, "plan", req, &r->plan, err);
    r->t_plan += now() - t;
    json_decref(req);
    if (rc != 0) return -1;
    char *verr = NULL;
    if (tree_validate(r->plan, &verr) != 0) {
        set_error(err, "%s: internal: %s", r->model_abs, verr);
        free(verr);
        return -1;
    }
    json_t *steps = json_object_get(r->plan, "steps");
    if (steps && !json_is_array(steps)) {
        set_error(err, "%s: internal: plan: \"steps\" is not a list", r->model_abs);
        return -1;
    }
    r->nsteps = json_array_size(steps);
    r->steps = xcalloc(r->nsteps ? r->nsteps : 1, sizeof *r->steps);
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s) {
        const char *name = json_str(s, "name");
        if (!name_is_safe_component(name)) {
            set_error(err, "%s: internal: plan: step %zu has no usable name", r->model_abs, i);
            return -1;
        }
        r->steps[i].name = name;
        r->steps[i].parent = json_str(s, "parent");
        r->steps[i].status = "NOT_RUN";
    }
    level_counts c;
    int uk;
    long ki;
    tree_counts(r->plan, &c, &uk, &ki);
    progress(r, "decompose: %zu components (model %d, layer %d, fusion %d, kernel %d), %zu steps",
             json_array_size(json_object_get(r->plan, "nodes")), c.model, c.layer, c.fusion, c.kernel,
             r->nsteps);
    return 0;
}

/* The step's children/<x>.py files, from its file list. */
static json_t *step_children(run *r, json_t *step) {
    json_t *out = json_array();
    char *prefix = xasprintf("steps/%s/children/", json_str(step, "name"));
    size_t plen = strlen(prefix), i;
    json_t *f;
    json_array_foreach(json_object_get(step, "files"), i, f) {
        const char *p = json_str(f, "path");
        if (!p || strncmp(p, prefix, plen) != 0) continue;
        const char *base = p + plen;
        size_t n = strlen(base);
        if (strchr(base, '/') || n < 4 || strcmp(base + n - 3, ".py") != 0 || strncmp(base, "__", 2) == 0)
            continue;
        char *full = in_stage(r, p);
        json_array_append_new(out, json_string(full));
        free(full);
    }
    free(prefix);
    return out;
}

static int step_has_file(json_t *step, const char *rel) {
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(step, "files"), i, f) {
        const char *p = json_str(f, "path");
        if (p && strcmp(p, rel) == 0) return 1;
    }
    return 0;
}

/* Verify every step in one pass of the glue: a step's reference is
 * computed while its parent's refactored model runs (docs/GLUE_API.md,
 * verify_steps), so each file must be written first. The gates still read
 * the results in step order and stop at the first that fails. */
static int verify_all(run *r, char **err) {
    json_t *steps = json_object_get(r->plan, "steps");
    json_t *list = json_array();
    size_t k;
    json_t *step;
    int rc = -1;
    json_array_foreach(steps, k, step) {
        if (write_files(r, json_object_get(step, "files"), r->steps[k].name, err) != 0) goto done;
        char *dir = xasprintf("steps/%s", r->steps[k].name);
        char *wm_rel = xasprintf("%s/weight_map.json", dir);
        char *orig = xasprintf("%s/%s/original.py", r->root, dir);
        char *refa = xasprintf("%s/%s/refactored.py", r->root, dir);
        char *wm = step_has_file(step, wm_rel) ? in_stage(r, wm_rel) : NULL;
        json_array_append_new(list, verify_request(orig, refa, wm, r->a));
        free(dir);
        free(wm_rel);
        free(orig);
        free(refa);
        free(wm);
    }
    const cli_args *a = r->a;
    json_t *req = json_object();
    json_object_set(req, "steps", list);
    json_object_set_new(req, "rtol", a->rtol_set ? json_real(a->rtol) : json_null());
    json_object_set_new(req, "atol", a->atol_set ? json_real(a->atol) : json_null());
    json_object_set_new(req, "num_trials", json_integer(a->num_trials));
    /* The model's own outputs are the composition test's reference too: the
     * glue keeps them, and the model runs once less. */
    json_object_set_new(req, "keep_outputs", json_true());
    const char *method = json_string_value(json_object_get(r->plan, "trace_method"));
    json_object_set_new(req, "recorded", json_boolean(method && strcmp(method, "recorded") == 0));
    /* A trace left to the root step to check is traced again where the
     * root fails (pipeline_run): the rest of that pass would be thrown away. */
    json_object_set_new(req, "stop_when_root_fails",
                        json_boolean(json_is_false(json_object_get(r->plan, "trace_checked"))));
    progress(r, "decompose: verifying %zu steps", r->nsteps);
    double t = now();
    json_t *reply = NULL;
    int called = glue_call(r->env->glue, "verify_steps", req, &reply, err);
    r->t_verify += now() - t;
    json_decref(req);
    if (called != 0) goto done;
    json_t *results = json_object_get(reply, "results");
    if (!json_is_array(results) || json_array_size(results) != r->nsteps) {
        set_error(err, "internal: verify_steps gave %zu results for %zu steps",
                  json_array_size(results), r->nsteps);
        json_decref(reply);
        goto done;
    }
    r->verified = json_incref(results);
    json_decref(reply);
    rc = 0;
done:
    json_decref(list);
    return rc;
}

/* Remove the folders of the steps after a failed one: they were written
 * for the verification pass, but the run stopped before their gates. */
static int drop_steps_after(run *r, size_t failed, char **err) {
    for (size_t k = failed + 1; k < r->nsteps; k++) {
        char *dir = xasprintf("%s/steps/%s", r->root, r->steps[k].name);
        int rc = rm_rf(dir, err);
        free(dir);
        if (rc != 0) return -1;
    }
    return 0;
}

/* Run one step's gate on its verification result. Returns 0 when it ran
 * (pass or fail: see sr->status), -1 on an error. */
static int do_step(run *r, size_t k, json_t *step, char **err) {
    step_result *sr = &r->steps[k];
    char *dir = xasprintf("steps/%s", sr->name);
    char *orig = xasprintf("%s/%s/original.py", r->root, dir);
    char *res_rel = xasprintf("%s/verification_result.json", dir);
    char *cov_rel = xasprintf("%s/coverage_report.json", dir);
    json_t *creq = NULL, *creply = NULL;
    int rc = -1;
    double t;

    json_t *reply = json_array_get(r->verified, k);
    const char *status = json_str(reply, "status");
    json_t *result = json_object_get(reply, "result");
    if (!json_is_object(result)) result = reply;
    if (!status) status = json_str(result, "status");
    sr->status = (status && strcmp(status, "PASS") == 0) ? "PASS"
                 : (status && strcmp(status, "ERROR") == 0) ? "ERROR" : "FAIL";
    sr->max_diff = result_max_diff(result, &sr->has_diff);
    sr->num_trials = result_num_trials(result);
    if (strcmp(sr->status, "PASS") != 0) {
        /* the reason may name staging paths; show the final ones */
        char *why = result_reason(result);
        char *fixed = str_replace_all(why, r->root, r->out_dir);
        sr->reason = fixed ? fixed : why;
        if (fixed) free(why);
    }
    if (write_result(r, res_rel, result, err) != 0) goto done;

    creq = json_object();
    json_object_set_new(creq, "model", json_string(orig));
    json_object_set_new(creq, "decomp_dir", json_null());
    json_object_set_new(creq, "children", step_children(r, step));
    t = now();
    if (glue_call(r->env->glue, "extract_ops", creq, &creply, err) != 0) goto done;
    r->t_coverage += now() - t;
    json_t *cres = json_object_get(creply, "result");
    if (!json_is_object(cres)) cres = creply;
    const char *cst = json_str(creply, "status");
    sr->coverage = xstrdup(cst ? cst : "UNKNOWN");
    if (write_result(r, cov_rel, cres, err) != 0) goto done;

    char diff[32];
    fmt_diff(diff, sizeof diff, sr->max_diff, sr->has_diff);
    if (strcmp(sr->status, "PASS") == 0) {
        progress(r, "[%zu/%zu] %s ... PASS (max diff %s)", k + 1, r->nsteps, sr->name, diff);
    } else {
        progress(r, "[%zu/%zu] %s ... %s (%s)", k + 1, r->nsteps, sr->name, sr->status, sr->reason);
    }
    rc = 0;
done:
    json_decref(creq);
    json_decref(creply);
    free(dir);
    free(orig);
    free(res_rel);
    free(cov_rel);
    return rc;
}

static int do_components(run *r, char **err) {
    json_t *files = json_object_get(r->plan, "component_files");
    size_t i;
    json_t *f;
    r->comp_ran = 1;
    json_array_foreach(files, i, f) {
        const char *rel = json_string_value(f);
        if (!rel || !path_is_safe_relative(rel)) {
            set_error(err, "internal: plan: component_files[%zu] is not a relative path", i);
            return -1;
        }
        char *full = in_stage(r, rel);
        /* on meta first: the steps have run every file's Model for real
         * (verify.run_component says why that is enough) */
        json_t *req = json_pack("{s:s, s:b}", "path", full, "on_meta", 1);
        json_t *reply = NULL;
        int rc = glue_call(r->env->glue, "run_component", req, &reply, err);
        json_decref(req);
        free(full);
        if (rc != 0) return -1;
        const char *st = json_str(reply, "status");
        int pass = st && strcmp(st, "PASS") == 0;
        const char *device = json_str(reply, "device");
        json_t *entry = json_pack("{s:s, s:s, s:s}", "file", rel, "status", pass ? "PASS" : "FAIL",
                                  "device", device ? device : "cpu");
        const char *msg = json_str(reply, "message");
        if (msg && !pass) json_object_set_new(entry, "message", json_string(msg));
        json_array_append_new(r->components, entry);
        if (pass) {
            r->comp_passed++;
        } else {
            r->comp_failed++;
            progress(r, "  component %s ... FAIL%s%s", rel, msg ? ": " : "", msg ? msg : "");
        }
        json_decref(reply);
    }
    progress(r, "[components] %d/%zu self-tests PASS", r->comp_passed, json_array_size(files));
    return 0;
}

static int do_composition(run *r, char **err) {
    const char *rel = json_str(r->plan, "composition_test");
    if (!rel) {
        progress(r, "[composition] NOT_RUN (the plan has no composition test)");
        return 0;
    }
    if (!path_is_safe_relative(rel)) {
        set_error(err, "internal: plan: composition_test is not a relative path");
        return -1;
    }
    char *full = in_stage(r, rel);
    json_t *req = json_pack("{s:s}", "path", full);
    json_t *reply = NULL;
    int rc = glue_call(r->env->glue, "run_composition", req, &reply, err);
    json_decref(req);
    free(full);
    if (rc != 0) return -1;
    const char *st = json_str(reply, "status");
    int pass = st && strcmp(st, "PASS") == 0;
    r->composition = pass ? "PASSED" : "FAILED";
    r->comp_has_diff = json_diff(reply, "max_diff", &r->comp_diff);
    char diff[32];
    fmt_diff(diff, sizeof diff, r->comp_diff, r->comp_has_diff);
    if (!pass) {
        const char *m = json_str(reply, "message");
        if (!m) m = json_str(reply, "error");
        r->comp_reason = m ? xasprintf("composition test FAILED: %s", m)
                           : xasprintf("composition test FAILED (max diff %s)", diff);
        one_line(r->comp_reason);
    }
    progress(r, "[composition] %s (max diff %s)", pass ? "PASS" : "FAIL", diff);
    json_decref(reply);
    return 0;
}

static int do_coverage(run *r, char **err) {
    /* A folder's model is counted in the one file Phase 0 made of it. */
    const char *wrapper = json_str(json_object_get(r->plan, "preparation"), "wrapper");
    char *model = wrapper ? path_join(r->root, wrapper) : xstrdup(r->model_abs);
    json_t *req = json_pack("{s:s, s:s, s:n}", "model", model, "decomp_dir", r->root, "children");
    json_t *reply = NULL;
    int rc = glue_call(r->env->glue, "extract_ops", req, &reply, err);
    json_decref(req);
    free(model);
    if (rc != 0) return -1;
    json_t *res = json_object_get(reply, "result");
    if (!json_is_object(res)) res = reply;
    const char *st = json_str(reply, "status");
    r->cov_status = xstrdup(st ? st : "UNKNOWN");
    r->cov_pct = coverage_pct(res, &r->has_cov);
    rc = write_result(r, "verification/coverage_summary.json", res, err);
    if (r->has_cov)
        progress(r, "[coverage] %s %.1f%%", r->cov_status, r->cov_pct);
    else
        progress(r, "[coverage] %s", r->cov_status);
    json_decref(reply);
    return rc;
}

static int write_summaries(run *r, char **err) {
    json_t *steps = json_array();
    for (size_t i = 0; i < r->nsteps; i++) {
        step_result *s = &r->steps[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(s->name));
        json_object_set_new(o, "parent", s->parent ? json_string(s->parent) : json_null());
        json_object_set_new(o, "status", json_string(s->status));
        json_object_set_new(o, "max_diff", s->has_diff > 0 ? json_real(s->max_diff) : json_null());
        json_object_set_new(o, "num_trials", json_integer(s->num_trials));
        json_object_set_new(o, "coverage", s->coverage ? json_string(s->coverage) : json_null());
        if (s->reason) json_object_set_new(o, "reason", json_string(s->reason));
        json_array_append_new(steps, o);
    }
    json_t *sv = json_object();
    json_object_set_new(sv, "model_name", json_string(r->model_name));
    json_object_set_new(sv, "timestamp", json_string(r->ts));
    json_object_set_new(sv, "status", json_string(r->failed_step ? "FAILED" : "PASSED"));
    json_object_set_new(sv, "steps_total", json_integer((json_int_t)r->nsteps));
    json_object_set_new(sv, "steps_passed", json_integer((json_int_t)r->steps_passed));
    json_object_set_new(sv, "failed_step", r->failed_step ? json_string(r->failed_step) : json_null());
    json_object_set_new(sv, "steps", steps);
    int rc = write_result(r, "verification/step_verification_summary.json", sv, err);
    json_decref(sv);
    if (rc != 0) return -1;

    /* When no component ran, list them all as NOT_RUN so the file says
     * which tests exist. */
    json_t *list = json_deep_copy(r->components);
    if (!r->comp_ran) {
        size_t i;
        json_t *f;
        json_array_foreach(json_object_get(r->plan, "component_files"), i, f)
            json_array_append_new(list, json_pack("{s:s?, s:s}", "file", json_string_value(f),
                                                  "status", "NOT_RUN"));
    }
    json_t *tr = json_object();
    json_object_set_new(tr, "timestamp", json_string(r->ts));
    json_object_set_new(tr, "total_components",
                        json_integer((json_int_t)json_array_size(json_object_get(r->plan, "component_files"))));
    json_object_set_new(tr, "passed", json_integer(r->comp_passed));
    json_object_set_new(tr, "failed", json_integer(r->comp_failed));
    json_object_set_new(tr, "composition_test", json_string(r->composition));
    json_object_set_new(tr, "max_difference", r->comp_has_diff > 0 ? json_real(r->comp_diff) : json_null());
    json_object_set_new(tr, "component_results", list);
    rc = write_result(r, "verification/test_results.json", tr, err);
    json_decref(tr);
    return rc;
}

static int all_passed(run *r) { return r->reason == NULL; }

/* Decide the verdict and its one-line reason from what ran. */
static void judge(run *r) {
    if (r->failed_step) {
        for (size_t i = 0; i < r->nsteps; i++)
            if (r->steps[i].name == r->failed_step)
                r->reason = xasprintf("%s %s: %s", r->failed_step, r->steps[i].status,
                                      r->steps[i].reason ? r->steps[i].reason : "not passed");
    } else if (r->comp_failed) {
        const char *first = "";
        size_t i;
        json_t *c;
        json_array_foreach(r->components, i, c) {
            if (strcmp(json_str(c, "status"), "PASS") != 0) {
                first = json_str(c, "file");
                break;
            }
        }
        r->reason = xasprintf("%d component self-test%s failed (first: %s)", r->comp_failed,
                              r->comp_failed == 1 ? "" : "s", first);
    } else if (strcmp(r->composition, "FAILED") == 0) {
        r->reason = xstrdup(r->comp_reason ? r->comp_reason : "composition test FAILED");
    } else if (r->cov_status && strcmp(r->cov_status, "FULL_COVERAGE") != 0) {
        r->reason = r->has_cov ? xasprintf("coverage of the model by its kernels is %.1f%% (%s)",
                                           r->cov_pct, r->cov_status)
                               : xasprintf("coverage %s", r->cov_status);
    }
    if (r->reason) one_line(r->reason);
}

/* Seconds per phase. The plan's own phases (load, trace, codegen) come from
 * the glue; "start" is the rest of the plan call: starting Python and
 * importing torch and the glue (the interpreter starts on a run's first
 * call), and passing the plan's files back. With it the phases add up to the
 * run's wall time, which a model whose forward is short needs to be told. */
static json_t *timings_json(run *r) {
    json_t *o = json_object();
    json_t *glue = json_object_get(r->plan, "timings");
    const char *key;
    json_t *v;
    double inside = 0.0;
    json_object_foreach(glue, key, v) {
        if (!json_is_number(v)) continue;
        json_object_set_new(o, key, json_real(json_number_value(v)));
        inside += json_number_value(v);
    }
    json_object_set_new(o, "start", json_real(r->t_plan > inside ? r->t_plan - inside : 0.0));
    json_object_set_new(o, "plan", json_real(r->t_plan));
    json_object_set_new(o, "verify", json_real(r->t_verify));
    json_object_set_new(o, "coverage", json_real(r->t_coverage));
    json_object_set_new(o, "components", json_real(r->t_components));
    json_object_set_new(o, "composition", json_real(r->t_composition));
    json_object_set_new(o, "write", json_real(r->t_write));
    return o;
}

static void print_summary(run *r, double secs) {
    level_counts c;
    int uk;
    long ki;
    tree_counts(r->plan, &c, &uk, &ki);
    const char *status = all_passed(r) ? "PASS" : "FAIL";
    if (r->a->json) {
        json_t *o = json_object();
        json_object_set_new(o, "status", json_string(status));
        json_object_set_new(o, "output_dir", json_string(r->out_dir));
        json_object_set_new(o, "model_name", json_string(r->model_name));
        json_object_set_new(o, "source_level", json_string(r->source_level));
        json_object_set_new(o, "by_level", level_counts_json(&c));
        json_object_set_new(o, "unique_kernels", json_integer(uk));
        json_object_set_new(o, "kernel_instances", json_integer(ki));
        json_object_set_new(o, "steps_passed", json_integer((json_int_t)r->steps_passed));
        json_object_set_new(o, "steps_total", json_integer((json_int_t)r->nsteps));
        json_object_set_new(o, "composition", json_string(r->composition));
        json_object_set_new(o, "coverage_pct", r->has_cov ? json_real(r->cov_pct) : json_null());
        json_object_set_new(o, "seconds", json_real((double)(long)(secs * 100) / 100.0));
        json_object_set_new(o, "timings", timings_json(r));
        if (!all_passed(r)) {
            json_object_set_new(o, "failed_step", r->failed_step ? json_string(r->failed_step) : json_null());
            json_object_set_new(o, "reason", json_string(r->reason));
        }
        report_json(r->env, o);
        json_decref(o);
        return;
    }
    FILE *f = r->env->out;
    char diff[32];
    fmt_diff(diff, sizeof diff, r->comp_diff, r->comp_has_diff);
    fprintf(f, "%s %s\n", r->model_name, all_passed(r) ? "PASSED" : "FAILED");
    fprintf(f, "  output       %s\n", r->out_dir);
    fprintf(f, "  components   %zu (model %d, layer %d, fusion %d, kernel %d)\n",
            json_array_size(json_object_get(r->plan, "nodes")), c.model, c.layer, c.fusion, c.kernel);
    fprintf(f, "  kernels      %d unique, %ld instances\n", uk, ki);
    fprintf(f, "  steps        %zu/%zu passed\n", r->steps_passed, r->nsteps);
    if (r->comp_ran)
        fprintf(f, "  self-tests   %d/%d passed\n", r->comp_passed, r->comp_passed + r->comp_failed);
    if (strcmp(r->composition, "NOT_RUN") == 0) fprintf(f, "  composition  NOT_RUN\n");
    else fprintf(f, "  composition  %s (max diff %s)\n", r->composition, diff);
    if (r->has_cov) fprintf(f, "  coverage     %.1f%% (%s)\n", r->cov_pct, r->cov_status);
    else fprintf(f, "  coverage     %s\n", r->cov_status ? r->cov_status : "NOT_RUN");
    fprintf(f, "  time         %.1f s\n", secs);
    if (!all_passed(r)) fprintf(f, "  failed       %s\n", r->reason);
    fflush(f);
}

/* After a failed root step of a recording checked on every trial's inputs:
 * the methods whose reads of values differed between them and that nothing
 * could keep whole (the model's own forward), the likely cause. */
static void say_methods_reading_differently(run *r) {
    json_t *methods = json_object_get(r->plan, "methods_reading_differently");
    if (!json_is_true(json_object_get(r->plan, "trace_checked")) || json_array_size(methods) == 0) return;
    size_t i;
    json_t *m;
    json_array_foreach(methods, i, m) {
        progress(r, "decompose: %s reads values into Python that differ between the trials' inputs, "
                 "and the recording holds the first trial's: moved into a submodule, that branch or loop "
                 "would be kept whole, one kernel (decomposition_log.json: "
                 "trace.methods_reading_differently)", json_string_value(m));
    }
}

/* Plan, stage the files, verify every step and run the gates in order: the
 * steps part of a run. */
static int plan_and_verify(run *r, int check_trace, char **err) {
    if (do_plan(r, check_trace, err) != 0) return -1;
    if (!(r->stage = staging_open(r->out_dir, err))) return -1;
    r->root = staging_path(r->stage);
    if (write_files(r, json_object_get(r->plan, "files"), "plan", err) != 0) return -1;
    if (verify_all(r, err) != 0) return -1;
    size_t k;
    json_t *step;
    json_array_foreach(json_object_get(r->plan, "steps"), k, step) {
        if (do_step(r, k, step, err) != 0) return -1;
        if (strcmp(r->steps[k].status, "PASS") != 0) {
            r->failed_step = r->steps[k].name;
            progress(r, "decompose: stopped at %s: %s", r->failed_step, r->steps[k].reason);
            if (k == 0) say_methods_reading_differently(r);
            if (drop_steps_after(r, k, err) != 0) return -1;
            break;
        }
        r->steps_passed++;
    }
    return 0;
}

/* Undo plan_and_verify, its staging folder included; the time spent stays
 * counted. */
static void forget_attempt(run *r) {
    staging_free(r->stage);
    r->stage = NULL;
    r->root = NULL;
    for (size_t i = 0; i < r->nsteps; i++) {
        free(r->steps[i].coverage);
        free(r->steps[i].reason);
    }
    free(r->steps);
    r->steps = NULL;
    r->nsteps = 0;
    r->steps_passed = 0;
    r->failed_step = NULL;
    json_decref(r->plan);
    r->plan = NULL;
    json_decref(r->verified);
    r->verified = NULL;
}

static void run_free(run *r) {
    forget_attempt(r);
    json_decref(r->repo);
    json_decref(r->hf);
    json_decref(r->components);
    free(r->model_abs);
    free(r->model_name);
    free(r->source_level);
    free(r->out_dir);
    free(r->comp_reason);
    free(r->cov_status);
    free(r->reason);
}

/* --repl: a Python prompt on the finished folder, passed or failed. What is
 * done there does not change the run's exit code. A folder's model is the
 * one file Phase 0 made of it, as the run's own steps saw it. */
static void open_repl(run *r) {
    const char *wrapper = json_str(json_object_get(r->plan, "preparation"), "wrapper");
    char *model = wrapper ? path_join(r->out_dir, wrapper) : xstrdup(r->model_abs);
    json_t *req = json_pack("{s:s, s:s}", "model_path", model, "output_dir", r->out_dir);
    json_t *reply = NULL;
    char *err = NULL;
    fflush(r->env->out);
    if (glue_call(r->env->glue, "run_repl", req, &reply, &err) != 0)
        fprintf(r->env->log, "decompose: error: --repl: %s\n", err ? err : "failed");
    free(model);
    json_decref(req);
    json_decref(reply);
    free(err);
}

/* A JSON list or object (`kinds`) given as option `flag` (text); NULL with
 * *err, which says what is `needed`. */
static json_t *json_option(const char *flag, const char *text, int kinds, const char *needed, char **err) {
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v) {
        set_error(err, "option '%s': not JSON: %s", flag, jerr.text);
        return NULL;
    }
    if (!json_is_kind(v, kinds)) {
        set_error(err, "option '%s': %s", flag, needed);
        json_decref(v);
        return NULL;
    }
    return v;
}

/* A Hugging Face model (input type huggingface): a folder that exists, or
 * else a model id; the config changes and the inputs, where given, are JSON
 * objects. *hf: what the plan request carries. */
static int check_huggingface(const cli_args *a, json_t **hf, char **err) {
    struct stat st;
    int is_folder = stat(a->model, &st) == 0 && S_ISDIR(st.st_mode);
    if (!is_folder && !is_hf_model_id(a->model)) {
        set_error(err, "%s: no such folder, and not a Hugging Face model id (name or org/name)", a->model);
        return -1;
    }
    json_t *config = json_option("--config", a->hf_config ? a->hf_config : "{}", TAKES_OBJECT,
                                 "a JSON object is needed, as {\"num_hidden_layers\": 2}", err);
    if (!config) return -1;
    json_t *inputs = json_null();
    if (a->inputs) {
        inputs = json_option("--inputs", a->inputs, TAKES_OBJECT, "a JSON object is needed, as {\"input_ids\": "
                             "{\"shape\": [1, 16], \"dtype\": \"int64\", \"high\": 1000}}", err);
        if (!inputs) {
            json_decref(config);
            return -1;
        }
    }
    *hf = json_pack("{s:s, s:o, s:o}", "model_class", a->model_class, "config", config, "inputs", inputs);
    return 0;
}

/* A folder's model (input type repo): the folder and its entry file exist,
 * and the arguments are JSON lists. *repo: what the plan request carries. */
static int check_repo(const cli_args *a, json_t **repo, char **err) {
    struct stat st;
    if (stat(a->model, &st) != 0) {
        set_error(err, "%s: %s", a->model, errno == ENOENT ? "no such folder" : strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        set_error(err, "%s: not a folder (with --entry-file, the model is the folder that holds it)",
                  a->model);
        return -1;
    }
    char *entry = path_join(a->model, a->entry_file);
    int rc = check_readable_file(entry, err);
    free(entry);
    if (rc != 0) return -1;
    json_t *inputs = json_option("--inputs", a->inputs, TAKES_LIST | TAKES_OBJECT,
                                 "a JSON list is needed, as [1, 2], or an object of them by name", err);
    if (!inputs) return -1;
    json_t *init = json_option("--init-args", a->init_args ? a->init_args : "[]", TAKES_LIST,
                               "a JSON list is needed, as [1, 2]", err);
    if (!init) {
        json_decref(inputs);
        return -1;
    }
    *repo = json_pack("{s:s, s:s, s:o, s:o}", "entry_file", a->entry_file, "entry_class", a->entry_class,
                      "init_args", init, "inputs", inputs);
    return 0;
}

int pipeline_run(const cli_args *a, const run_env *env) {
    run r;
    memset(&r, 0, sizeof r);
    r.a = a;
    r.env = env;
    r.composition = "NOT_RUN";
    r.components = json_array();
    clock_gettime(CLOCK_MONOTONIC, &r.t0);
    report_timestamp(env, r.ts, sizeof r.ts);
    char *err = NULL;
    int code = 2;

    /* Everything that can be checked without Python is checked first. */
    struct stat st;
    if (a->model_class) {
        if (check_huggingface(a, &r.hf, &err) != 0) goto done;
    } else if (a->entry_file) {
        if (check_repo(a, &r.repo, &err) != 0) goto done;
    } else if (stat(a->model, &st) == 0 && S_ISDIR(st.st_mode)) {
        set_error(&err, "%s: a folder; a model spread over a folder's files needs --entry-file, "
                  "--entry-class and --inputs", a->model);
        goto done;
    } else if (check_readable_file(a->model, &err) != 0) {
        goto done;
    }
    /* a model id stays as it is; a folder or file is made absolute */
    r.model_abs = r.hf && stat(a->model, &st) != 0 ? xstrdup(a->model) : path_absolute(a->model);
    if (!r.model_abs) {
        set_error(&err, "cannot read the working directory");
        goto done;
    }
    r.model_name = a->name ? xstrdup(a->name)
                 : r.hf ? model_name_from_hf(a->model)
                        : model_name_from_path(a->entry_file ? a->entry_file : r.model_abs);
    r.source_level = a->source_level ? xstrdup(a->source_level) : source_level_from_path(r.model_abs);
    if (!name_is_safe_component(r.model_name)) {
        set_error(&err, "%s: cannot derive a model name (use --name)", a->model);
        goto done;
    }
    if (a->output) {
        r.out_dir = path_absolute(a->output);
    } else {
        char *rel = xasprintf("workspace/output/%s/%s", r.source_level, r.model_name);
        r.out_dir = path_absolute(rel);
        free(rel);
    }
    if (!r.out_dir || outdir_replaceable(r.out_dir, &err) != 0) goto done;

    if (plan_and_verify(&r, 0, &err) != 0) goto done;
    if (r.failed_step && r.failed_step == r.steps[0].name &&
        json_is_false(json_object_get(r.plan, "trace_checked"))) {
        /* The trace was left to the root step to check; it may be what
         * failed. Trace again, checked: a symbolic graph run against the
         * model (and the model recorded instead where they differ); a
         * recording made on every trial's inputs, the functions and
         * modules whose reads differ between them kept whole. */
        const char *method = json_string_value(json_object_get(r.plan, "trace_method"));
        int recorded = method && strcmp(method, "recorded") == 0;
        progress(&r, "decompose: the root step failed on a %s that was not checked on %s; "
                 "tracing again, checked", recorded ? "recording" : "symbolic trace",
                 recorded ? "the other trials' inputs" : "its own");
        forget_attempt(&r);
        if (plan_and_verify(&r, 1, &err) != 0) goto done;
    }
    if (!r.failed_step) {
        /* the composition first: it takes the model, the outputs and the
         * inputs the steps kept, which a self-test run for real would
         * otherwise hold memory beside */
        double t = now();
        if (do_composition(&r, &err) != 0) goto done;
        r.t_composition = now() - t;
        t = now();
        if (do_components(&r, &err) != 0) goto done;
        r.t_components = now() - t;
        t = now();
        if (do_coverage(&r, &err) != 0) goto done;
        r.t_coverage += now() - t;
    }
    judge(&r);

    tree_info info = {r.ts, all_passed(&r)};
    json_t *tree = tree_build(r.plan, &info, &err);
    if (!tree) goto done;
    int rc = write_result(&r, "decomposition_tree.json", tree, &err);
    json_decref(tree);
    if (rc != 0) goto done;
    if (write_summaries(&r, &err) != 0) goto done;
    if (staging_commit(r.stage, &err) != 0) goto done;

    print_summary(&r, seconds_since(&r.t0));
    code = all_passed(&r) ? 0 : 1;
    if (a->repl) open_repl(&r);
done:
    if (code == 2) report_error(env, a->json, err ? err : "failed");
    free(err);
    run_free(&r);
    return code;
}
