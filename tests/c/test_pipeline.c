/* test_pipeline.c - the whole run against a fake glue: the folder it
 * writes, the gate that stops at a failed step, exit codes, and that an
 * error leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>

#include "fake_glue.h"
#include "pipeline.h"
#include "test_helpers.h"

typedef struct {
    char *tmp;          /* temp folder: model.py lives here, out/ is the output */
    char *model;
    char *out;
    fake_env fe;
    cli_args a;
} ctx;

static int setup(void **state) {
    ctx *c = xcalloc(1, sizeof *c);
    c->tmp = make_temp_dir();
    put_file(c->tmp, "level2/net.py", "class Model: pass\n");
    c->model = path_join(c->tmp, "level2/net.py");
    c->out = path_join(c->tmp, "out");
    fake_env_open(&c->fe);
    c->a.cmd = CMD_RUN;
    c->a.model = c->model;
    c->a.output = c->out;
    c->a.num_trials = 3;
    *state = c;
    return 0;
}

static int teardown(void **state) {
    ctx *c = *state;
    fake_env_close(&c->fe);
    rm_rf(c->tmp, NULL);
    free(c->tmp);
    free(c->model);
    free(c->out);
    free(c);
    return 0;
}

static int run(ctx *c) {
    int code = pipeline_run(&c->a, &c->fe.env);
    fflush(c->fe.outf);
    fflush(c->fe.logf);
    return code;
}

static json_t *load_json(const char *dir, const char *rel) {
    char *t = slurp(dir, rel);
    if (!t) fail_msg("missing %s", rel);
    json_t *j = json_loads(t, 0, NULL);
    free(t);
    assert_non_null(j);
    return j;
}

/* Entries of the temp folder other than the model's folder. */
static int leftovers(ctx *c) {
    DIR *d = opendir(c->tmp);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "level2")) n++;
    closedir(d);
    return n;
}

static void passing_run_writes_the_spec_layout(void **state) {
    ctx *c = *state;
    assert_int_equal(run(c), 0);
    const char *files[] = {
        "level_3_model/net.py", "level_1_fusion/fc_relu.py", "level_0_kernel/relu_fp32.py",
        "decomposition_analysis.md", "decomposition_log.json", "decomposition_tree.json",
        "steps/step_1_model_to_fusions/original.py", "steps/step_1_model_to_fusions/refactored.py",
        "steps/step_1_model_to_fusions/children/fc_relu.py", "steps/step_1_model_to_fusions/weight_map.json",
        "steps/step_1_model_to_fusions/verification_result.json",
        "steps/step_1_model_to_fusions/coverage_report.json",
        "steps/step_2_fc_relu_to_kernels/verification_result.json",
        "verification/composition_test.py", "verification/test_results.json",
        "verification/step_verification_summary.json", "verification/coverage_summary.json",
    };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++)
        if (!exists_in(c->out, files[i])) fail_msg("missing %s", files[i]);
    char *t = slurp(c->out, "level_0_kernel/relu_fp32.py");
    assert_string_equal(t, "relu\n");
    free(t);
    assert_int_equal(leftovers(c), 1);      /* out/ only: no staging folder */
}

static void passing_run_records_every_gate(void **state) {
    ctx *c = *state;
    assert_int_equal(run(c), 0);
    json_t *tree = load_json(c->out, "decomposition_tree.json");
    json_t *meta = json_object_get(tree, "metadata");
    assert_string_equal(json_str(meta, "verification_status"), "PASSED");
    assert_string_equal(json_str(meta, "timestamp"), "2024-01-02T03:04:05Z");
    assert_int_equal(json_integer_value(json_object_get(meta, "kernel_instances")), 3);
    json_decref(tree);

    json_t *tr = load_json(c->out, "verification/test_results.json");
    assert_int_equal(json_integer_value(json_object_get(tr, "total_components")), 4);
    assert_int_equal(json_integer_value(json_object_get(tr, "passed")), 4);
    assert_int_equal(json_integer_value(json_object_get(tr, "failed")), 0);
    assert_string_equal(json_str(tr, "composition_test"), "PASSED");
    assert_int_equal(json_array_size(json_object_get(tr, "component_results")), 4);
    /* self-tests in a run are asked on meta first; each result says where it ran */
    json_t *first = json_array_get(json_object_get(tr, "component_results"), 0);
    assert_string_equal(json_str(first, "device"), "meta");
    json_decref(tr);
    json_t *comp = calls_to(&c->fe.f, "run_component");
    assert_int_equal(json_array_size(comp), 4);
    assert_true(json_is_true(json_object_get(json_array_get(comp, 0), "on_meta")));
    json_decref(comp);

    json_t *sv = load_json(c->out, "verification/step_verification_summary.json");
    json_t *steps = json_object_get(sv, "steps");
    assert_int_equal(json_array_size(steps), 2);
    json_t *s1 = json_array_get(steps, 0);
    assert_string_equal(json_str(s1, "name"), "step_1_model_to_fusions");
    assert_string_equal(json_str(s1, "parent"), "root");
    assert_string_equal(json_str(s1, "status"), "PASS");
    assert_true(json_real_value(json_object_get(s1, "max_diff")) == 2e-7);
    assert_int_equal(json_integer_value(json_object_get(s1, "num_trials")), 2);
    json_decref(sv);
}

static void results_name_final_paths_not_the_staging_folder(void **state) {
    ctx *c = *state;
    assert_int_equal(run(c), 0);
    json_t *r = load_json(c->out, "steps/step_1_model_to_fusions/verification_result.json");
    char *want = path_join(c->out, "steps/step_1_model_to_fusions/original.py");
    assert_string_equal(json_str(r, "original_file"), want);
    free(want);
    json_decref(r);
}

static void glue_gets_staging_paths_and_tolerances(void **state) {
    ctx *c = *state;
    c->a.rtol = 1e-4;
    c->a.rtol_set = 1;
    c->a.num_trials = 5;
    assert_int_equal(run(c), 0);
    json_t *plans = calls_to(&c->fe.f, "plan");
    json_t *p = json_array_get(plans, 0);
    assert_string_equal(json_str(p, "model_path"), c->model);
    assert_string_equal(json_str(p, "model_name"), "net");
    assert_string_equal(json_str(p, "source_level"), "level2");
    assert_string_equal(json_str(p, "python"), "/usr/bin/python3");
    json_t *calls = calls_to(&c->fe.f, "verify_steps");
    assert_int_equal(json_array_size(calls), 1);      /* every step in one pass */
    json_t *one = json_array_get(calls, 0);
    assert_true(json_is_true(json_object_get(one, "keep_outputs")));
    assert_true(json_real_value(json_object_get(one, "rtol")) == 1e-4);
    assert_int_equal(json_integer_value(json_object_get(one, "num_trials")), 5);
    json_t *v = json_object_get(one, "steps");
    assert_int_equal(json_array_size(v), 2);
    json_t *v1 = json_array_get(v, 0);
    assert_non_null(strstr(json_str(v1, "original"), "/.out.partial-"));
    assert_non_null(strstr(json_str(v1, "weight_map"), "step_1_model_to_fusions/weight_map.json"));
    assert_true(json_real_value(json_object_get(v1, "rtol")) == 1e-4);
    assert_true(json_is_null(json_object_get(v1, "atol")));
    assert_int_equal(json_integer_value(json_object_get(v1, "num_trials")), 5);
    /* step 2 has no weight_map.json: null */
    assert_true(json_is_null(json_object_get(json_array_get(v, 1), "weight_map")));
    json_t *x = calls_to(&c->fe.f, "extract_ops");
    assert_int_equal(json_array_size(x), 3);          /* 2 steps + the final coverage */
    json_t *ch = json_object_get(json_array_get(x, 0), "children");
    assert_int_equal(json_array_size(ch), 2);         /* __init__.py is not a child */
    json_t *last = json_array_get(x, 2);
    assert_string_equal(json_str(last, "model"), c->model);
    assert_non_null(strstr(json_str(last, "decomp_dir"), "/.out.partial-"));
    json_decref(plans);
    json_decref(calls);
    json_decref(x);
}

static void json_mode_prints_one_summary_object(void **state) {
    ctx *c = *state;
    c->a.json = 1;
    assert_int_equal(run(c), 0);
    json_error_t je;
    json_t *o = json_loads(c->fe.outbuf, 0, &je);      /* fails on any extra text */
    if (!o) fail_msg("stdout is not one JSON object: %s\n%s", je.text, c->fe.outbuf);
    assert_string_equal(json_str(o, "status"), "PASS");
    assert_string_equal(json_str(o, "output_dir"), c->out);
    assert_string_equal(json_str(o, "model_name"), "net");
    assert_int_equal(json_integer_value(json_object_get(o, "steps_passed")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "steps_total")), 2);
    assert_int_equal(json_integer_value(json_object_get(o, "unique_kernels")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "by_level"), "fusion")), 1);
    assert_string_equal(json_str(o, "composition"), "PASSED");
    assert_true(json_real_value(json_object_get(o, "coverage_pct")) == 100.0);
    assert_true(json_is_number(json_object_get(o, "seconds")));
    assert_null(json_object_get(o, "failed_step"));
    json_decref(o);
    assert_non_null(strstr(c->fe.logbuf, "[1/2] step_1_model_to_fusions ... PASS (max diff 2.0e-07)"));
}

static void human_mode_prints_a_summary(void **state) {
    ctx *c = *state;
    assert_int_equal(run(c), 0);
    assert_non_null(strstr(c->fe.outbuf, "net PASSED"));
    assert_non_null(strstr(c->fe.outbuf, "steps        2/2 passed"));
    assert_non_null(strstr(c->fe.outbuf, "kernel 2"));
    assert_non_null(strstr(c->fe.outbuf, "100.0%"));
}

static void failed_step_stops_the_descent(void **state) {
    ctx *c = *state;
    c->fe.f.fail_step = "step_1_";
    c->a.json = 1;
    assert_int_equal(run(c), 1);
    /* the output is kept for debugging, but nothing past the failed step */
    assert_true(exists_in(c->out, "steps/step_1_model_to_fusions/verification_result.json"));
    assert_false(exists_in(c->out, "steps/step_2_fc_relu_to_kernels"));
    json_t *comp = calls_to(&c->fe.f, "run_component");
    assert_int_equal(json_array_size(comp), 0);
    json_decref(comp);

    json_t *o = json_loads(c->fe.outbuf, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_str(o, "status"), "FAIL");
    assert_string_equal(json_str(o, "failed_step"), "step_1_model_to_fusions");
    assert_non_null(strstr(json_str(o, "reason"), "return torch.relu(x)"));
    assert_int_equal(json_integer_value(json_object_get(o, "steps_passed")), 0);
    assert_string_equal(json_str(o, "composition"), "NOT_RUN");
    json_decref(o);

    json_t *sv = load_json(c->out, "verification/step_verification_summary.json");
    assert_string_equal(json_str(sv, "failed_step"), "step_1_model_to_fusions");
    json_t *steps = json_object_get(sv, "steps");
    assert_string_equal(json_str(json_array_get(steps, 0), "status"), "FAIL");
    assert_string_equal(json_str(json_array_get(steps, 1), "status"), "NOT_RUN");
    json_decref(sv);
    json_t *tree = load_json(c->out, "decomposition_tree.json");
    assert_string_equal(json_str(json_object_get(tree, "metadata"), "verification_status"), "FAILED");
    json_decref(tree);
    json_t *tr = load_json(c->out, "verification/test_results.json");
    assert_string_equal(json_str(tr, "composition_test"), "NOT_RUN");
    assert_string_equal(json_str(json_array_get(json_object_get(tr, "component_results"), 0), "status"), "NOT_RUN");
    json_decref(tr);
    assert_non_null(strstr(c->fe.logbuf, "stopped at step_1_model_to_fusions"));
}

static void second_step_failure_keeps_the_first(void **state) {
    ctx *c = *state;
    c->fe.f.fail_step = "step_2_";
    assert_int_equal(run(c), 1);
    assert_true(exists_in(c->out, "steps/step_2_fc_relu_to_kernels/verification_result.json"));
    assert_non_null(strstr(c->fe.logbuf, "[1/2] step_1_model_to_fusions ... PASS"));
    assert_non_null(strstr(c->fe.logbuf, "[2/2] step_2_fc_relu_to_kernels ... FAIL (anti-cheat: line 12"));
    assert_non_null(strstr(c->fe.outbuf, "steps        1/2 passed"));
}

static void verify_error_on_a_step_is_a_failure(void **state) {
    ctx *c = *state;
    c->fe.f.verify_status = "ERROR";
    assert_int_equal(run(c), 1);
    assert_non_null(strstr(c->fe.outbuf, "Failed to load original: boom"));
}

static void failing_component_exits_1(void **state) {
    ctx *c = *state;
    c->fe.f.component_fail = "relu_fp32";
    assert_int_equal(run(c), 1);
    json_t *tr = load_json(c->out, "verification/test_results.json");
    assert_int_equal(json_integer_value(json_object_get(tr, "failed")), 1);
    json_decref(tr);
    assert_non_null(strstr(c->fe.outbuf, "level_0_kernel/relu_fp32.py"));
}

static void repl_opens_on_the_finished_folder_and_keeps_the_exit_code(void **state) {
    ctx *c = *state;
    c->a.repl = 1;
    c->fe.f.component_fail = "relu_fp32";
    assert_int_equal(run(c), 1);
    json_t *calls = calls_to(&c->fe.f, "run_repl");
    assert_int_equal(json_array_size(calls), 1);
    assert_string_equal(json_str(json_array_get(calls, 0), "output_dir"), c->out);
    assert_string_equal(json_str(json_array_get(calls, 0), "model_path"), c->model);
    json_decref(calls);
    assert_true(exists_in(c->out, "decomposition_tree.json"));   /* committed before the prompt */
}

static void no_repl_after_an_error(void **state) {
    ctx *c = *state;
    c->a.repl = 1;
    c->fe.f.bad_input_on = "plan";
    assert_int_equal(run(c), 2);
    json_t *calls = calls_to(&c->fe.f, "run_repl");
    assert_int_equal(json_array_size(calls), 0);
    json_decref(calls);
}

static void failing_composition_exits_1(void **state) {
    ctx *c = *state;
    c->fe.f.composition_fail = 1;
    assert_int_equal(run(c), 1);
    json_t *tree = load_json(c->out, "decomposition_tree.json");
    assert_string_equal(json_str(json_object_get(tree, "metadata"), "verification_status"), "FAILED");
    json_decref(tree);
    assert_non_null(strstr(c->fe.outbuf, "composition test FAILED (max diff 5.0e-01)"));
}

static void partial_coverage_exits_1(void **state) {
    ctx *c = *state;
    c->fe.f.coverage_status = "PARTIAL_COVERAGE";
    assert_int_equal(run(c), 1);
    assert_non_null(strstr(c->fe.outbuf, "87.5%"));
}

static void missing_model_exits_2_before_python(void **state) {
    ctx *c = *state;
    char *missing = path_join(c->tmp, "nope.py");
    c->a.model = missing;
    assert_int_equal(run(c), 2);
    assert_null(c->fe.f.calls);
    char *want = xasprintf("decompose: error: %s: no such file\n", missing);
    assert_string_equal(c->fe.logbuf, want);
    free(want);
    free(missing);
    assert_int_equal(leftovers(c), 0);
}

static void model_that_is_a_folder_exits_2(void **state) {
    ctx *c = *state;
    c->a.model = c->tmp;
    assert_int_equal(run(c), 2);
    assert_null(c->fe.f.calls);
}

static void bad_input_exits_2_and_leaves_no_folder(void **state) {
    ctx *c = *state;
    c->fe.f.bad_input_on = "plan";
    c->a.json = 1;
    assert_int_equal(run(c), 2);
    char *want = xasprintf("decompose: error: %s: no class Model\n", c->model);
    assert_non_null(strstr(c->fe.logbuf, want));
    free(want);
    json_t *o = json_loads(c->fe.outbuf, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_str(o, "status"), "ERROR");
    json_decref(o);
    assert_int_equal(leftovers(c), 0);
}

static size_t plan_calls(ctx *c, int *checked_last) {
    json_t *p = calls_to(&c->fe.f, "plan");
    size_t n = json_array_size(p);
    *checked_last = n && json_is_true(json_object_get(json_array_get(p, n - 1), "check_trace"));
    json_decref(p);
    return n;
}

static void unchecked_trace_failing_the_root_step_is_traced_again(void **state) {
    ctx *c = *state;
    c->fe.f.unchecked_trace = c->fe.f.wrong_trace = 1;
    assert_int_equal(run(c), 0);
    int checked;
    assert_int_equal(plan_calls(c, &checked), 2);
    assert_true(checked);
    json_t *v = calls_to(&c->fe.f, "verify_steps");
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    assert_non_null(strstr(c->fe.logbuf, "tracing again, checked"));
    /* the second attempt's results only, and no staging folder left */
    json_t *sv = load_json(c->out, "verification/step_verification_summary.json");
    json_t *s1 = json_array_get(json_object_get(sv, "steps"), 0);
    assert_string_equal(json_str(s1, "status"), "PASS");
    json_decref(sv);
    assert_int_equal(leftovers(c), 1);  /* the output folder */
}

static void root_step_failing_after_the_check_fails_the_run(void **state) {
    ctx *c = *state;
    c->fe.f.unchecked_trace = c->fe.f.wrong_trace = 1;
    c->fe.f.fail_step = "step_1_";
    assert_int_equal(run(c), 1);
    int checked;
    assert_int_equal(plan_calls(c, &checked), 2);  /* traced again once, not more */
    assert_true(checked);
    assert_int_equal(leftovers(c), 1);
}

static void deeper_failure_with_an_unchecked_trace_is_not_traced_again(void **state) {
    ctx *c = *state;
    c->fe.f.unchecked_trace = 1;
    c->fe.f.fail_step = "step_2_";
    assert_int_equal(run(c), 1);
    int checked;
    assert_int_equal(plan_calls(c, &checked), 1);
    assert_false(checked);
}

static void glue_error_midway_removes_the_staging_folder(void **state) {
    ctx *c = *state;
    c->fe.f.raise_on = "run_composition";
    assert_int_equal(run(c), 2);
    assert_non_null(strstr(c->fe.logbuf, "RuntimeError: fake"));
    assert_int_equal(leftovers(c), 0);
}

static void error_keeps_the_previous_result(void **state) {
    ctx *c = *state;
    assert_int_equal(run(c), 0);
    c->fe.f.raise_on = "extract_ops";
    assert_int_equal(run(c), 2);
    assert_true(exists_in(c->out, "decomposition_tree.json"));
    assert_int_equal(leftovers(c), 1);
}

static void rerun_replaces_the_older_result(void **state) {
    ctx *c = *state;
    put_file(c->out, "decomposition_tree.json", "{}");
    put_file(c->out, "level_0_kernel/stale_kernel.py", "old");
    assert_int_equal(run(c), 0);
    assert_false(exists_in(c->out, "level_0_kernel/stale_kernel.py"));
    assert_true(exists_in(c->out, "level_0_kernel/relu_fp32.py"));
    assert_int_equal(leftovers(c), 1);
}

static void foreign_output_folder_is_refused_before_python(void **state) {
    ctx *c = *state;
    put_file(c->out, "notes.txt", "mine");
    assert_int_equal(run(c), 2);
    assert_null(c->fe.f.calls);
    assert_non_null(strstr(c->fe.logbuf, "refusing"));
    assert_true(exists_in(c->out, "notes.txt"));
}

static void plan_path_escaping_the_folder_is_refused(void **state) {
    ctx *c = *state;
    char *evil = str_replace_all(FAKE_PLAN, "decomposition_analysis.md", "../../evil.md");
    c->fe.f.plan_text = evil;
    assert_int_equal(run(c), 2);
    assert_non_null(strstr(c->fe.logbuf, "refusing to write '../../evil.md'"));
    assert_int_equal(leftovers(c), 0);
    char *parent = path_dirname(c->tmp);
    char *e = path_join(parent, "evil.md");
    assert_false(exists(e));
    free(e);
    free(parent);
    free(evil);
}

static void invalid_plan_tree_exits_2(void **state) {
    ctx *c = *state;
    char *bad = str_replace_all(FAKE_PLAN, "\"children\": [\"fc_relu\", \"relu_fp32\"]",
                                "\"children\": [\"fc_relu\", \"ghost\"]");
    c->fe.f.plan_text = bad;
    assert_int_equal(run(c), 2);
    assert_non_null(strstr(c->fe.logbuf, "'ghost'"));
    assert_int_equal(leftovers(c), 0);
    free(bad);
}

static void default_output_is_under_workspace_output(void **state) {
    ctx *c = *state;
    char old[4096];
    assert_non_null(getcwd(old, sizeof old));
    assert_int_equal(chdir(c->tmp), 0);
    c->a.output = NULL;
    int code = run(c);
    assert_int_equal(chdir(old), 0);
    assert_int_equal(code, 0);
    char *want = path_join(c->tmp, "workspace/output/level2/net");
    assert_true(exists_in(want, "decomposition_tree.json"));
    free(want);
}

static void name_and_source_level_flags_win(void **state) {
    ctx *c = *state;
    char old[4096];
    assert_non_null(getcwd(old, sizeof old));
    assert_int_equal(chdir(c->tmp), 0);
    c->a.output = NULL;
    c->a.name = "mynet";
    c->a.source_level = "custom";
    int code = run(c);
    assert_int_equal(chdir(old), 0);
    assert_int_equal(code, 0);
    assert_true(exists_in(c->tmp, "workspace/output/custom/mynet/decomposition_tree.json"));
    json_t *p = calls_to(&c->fe.f, "plan");
    assert_string_equal(json_str(json_array_get(p, 0), "model_name"), "mynet");
    json_decref(p);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(passing_run_writes_the_spec_layout),
        T(passing_run_records_every_gate),
        T(results_name_final_paths_not_the_staging_folder),
        T(glue_gets_staging_paths_and_tolerances),
        T(json_mode_prints_one_summary_object),
        T(human_mode_prints_a_summary),
        T(failed_step_stops_the_descent),
        T(second_step_failure_keeps_the_first),
        T(verify_error_on_a_step_is_a_failure),
        T(failing_component_exits_1),
        T(failing_composition_exits_1),
        T(repl_opens_on_the_finished_folder_and_keeps_the_exit_code),
        T(no_repl_after_an_error),
        T(partial_coverage_exits_1),
        T(missing_model_exits_2_before_python),
        T(model_that_is_a_folder_exits_2),
        T(bad_input_exits_2_and_leaves_no_folder),
        T(unchecked_trace_failing_the_root_step_is_traced_again),
        T(root_step_failing_after_the_check_fails_the_run),
        T(deeper_failure_with_an_unchecked_trace_is_not_traced_again),
        T(glue_error_midway_removes_the_staging_folder),
        T(error_keeps_the_previous_result),
        T(rerun_replaces_the_older_result),
        T(foreign_output_folder_is_refused_before_python),
        T(plan_path_escaping_the_folder_is_refused),
        T(invalid_plan_tree_exits_2),
        T(default_output_is_under_workspace_output),
        T(name_and_source_level_flags_win),
    };
    return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
