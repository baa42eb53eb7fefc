/* test_commands.c - verify-step, extract-ops and check against a fake glue:
 * the reference scripts' exit codes, --output, --json, and check's
 * re-validation of a finished folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "commands.h"
#include "fake_glue.h"
#include "pipeline.h"
#include "test_helpers.h"

typedef struct {
    char *tmp;
    fake_env fe;
    cli_args a;
    char *orig, *refa, *wm, *out;
} ctx;

static int setup(void **state) {
    ctx *c = xcalloc(1, sizeof *c);
    c->tmp = make_temp_dir();
    put_file(c->tmp, "s/original.py", "o");
    put_file(c->tmp, "s/refactored.py", "r");
    put_file(c->tmp, "s/weight_map.json", "{}");
    c->orig = path_join(c->tmp, "s/original.py");
    c->refa = path_join(c->tmp, "s/refactored.py");
    c->wm = path_join(c->tmp, "s/weight_map.json");
    c->out = path_join(c->tmp, "out");
    fake_env_open(&c->fe);
    c->a.num_trials = 3;
    *state = c;
    return 0;
}

static int teardown(void **state) {
    ctx *c = *state;
    fake_env_close(&c->fe);
    rm_rf(c->tmp, NULL);
    free(c->tmp);
    free(c->orig);
    free(c->refa);
    free(c->wm);
    free(c->out);
    free(c);
    return 0;
}

static void flush(ctx *c) {
    fflush(c->fe.outf);
    fflush(c->fe.logf);
}

static int verify(ctx *c) {
    c->a.cmd = CMD_VERIFY_STEP;
    c->a.original = c->orig;
    c->a.refactored = c->refa;
    int code = cmd_verify_step(&c->a, &c->fe.env);
    flush(c);
    return code;
}

static void verify_step_pass_exits_0(void **state) {
    ctx *c = *state;
    c->a.weight_map = c->wm;
    assert_int_equal(verify(c), 0);
    assert_non_null(strstr(c->fe.outbuf, "PASS (max diff 2.0e-07)"));
    assert_non_null(strstr(c->fe.outbuf, "trial 1 (seed 43)"));
    json_t *v = calls_to(&c->fe.f, "verify_step");
    assert_string_equal(json_str(json_array_get(v, 0), "weight_map"), c->wm);
    assert_string_equal(json_str(json_array_get(v, 0), "original"), c->orig);
    json_decref(v);
}

static void verify_step_fail_exits_1_and_names_the_violation(void **state) {
    ctx *c = *state;
    c->fe.f.fail_step = "original.py";
    assert_int_equal(verify(c), 1);
    assert_non_null(strstr(c->fe.outbuf, "FAIL: anti-cheat: line 12: return torch.relu(x)"));
}

static void verify_step_error_exits_2(void **state) {
    ctx *c = *state;
    c->fe.f.verify_status = "ERROR";
    assert_int_equal(verify(c), 2);
    assert_non_null(strstr(c->fe.logbuf, "Failed to load original: boom"));
}

static void verify_step_missing_file_exits_2_before_python(void **state) {
    ctx *c = *state;
    char *missing = path_join(c->tmp, "nope.py");
    c->a.cmd = CMD_VERIFY_STEP;
    c->a.original = c->orig;
    c->a.refactored = missing;
    assert_int_equal(cmd_verify_step(&c->a, &c->fe.env), 2);
    flush(c);
    assert_null(c->fe.f.calls);
    assert_non_null(strstr(c->fe.logbuf, "nope.py: no such file"));
    free(missing);
}

static void verify_step_missing_weight_map_exits_2(void **state) {
    ctx *c = *state;
    c->a.weight_map = "/nonexistent/weight_map.json";
    assert_int_equal(verify(c), 2);
    assert_null(c->fe.f.calls);
}

static void verify_step_output_writes_the_result(void **state) {
    ctx *c = *state;
    char *res = path_join(c->tmp, "deep/dir/result.json");
    c->a.output = res;
    assert_int_equal(verify(c), 0);
    char *t = slurp(c->tmp, "deep/dir/result.json");
    assert_non_null(t);
    json_t *j = json_loads(t, 0, NULL);
    assert_string_equal(json_str(j, "status"), "PASS");
    assert_non_null(json_object_get(j, "numerical_comparison"));
    json_decref(j);
    free(t);
    free(res);
}

static void verify_step_json_prints_the_result_object(void **state) {
    ctx *c = *state;
    c->a.json = 1;
    c->fe.f.fail_step = "original";
    assert_int_equal(verify(c), 1);
    json_t *j = json_loads(c->fe.outbuf, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_str(j, "status"), "FAIL");
    assert_non_null(json_object_get(j, "anticheat"));
    json_decref(j);
}

static int extract(ctx *c) {
    c->a.cmd = CMD_EXTRACT_OPS;
    c->a.model = c->orig;
    int code = cmd_extract_ops(&c->a, &c->fe.env);
    flush(c);
    return code;
}

static void extract_ops_exit_code_follows_coverage(void **state) {
    ctx *c = *state;
    const char *children[] = {c->refa};
    c->a.children = children;
    c->a.nchildren = 1;
    assert_int_equal(extract(c), 0);
    c->fe.f.coverage_status = "PARTIAL_COVERAGE";
    assert_int_equal(extract(c), 1);
    c->fe.f.coverage_status = "LOW_COVERAGE";
    assert_int_equal(extract(c), 1);
    c->fe.f.coverage_status = "ERROR";
    assert_int_equal(extract(c), 2);
    json_t *x = calls_to(&c->fe.f, "extract_ops");
    json_t *r = json_array_get(x, 0);
    assert_true(json_is_null(json_object_get(r, "decomp_dir")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "children"), 0)), c->refa);
    json_decref(x);
    c->a.children = NULL;
    c->a.nchildren = 0;
}

static void extract_ops_decomp_dir_must_exist(void **state) {
    ctx *c = *state;
    c->a.decomp_dir = "/nonexistent/dir";
    assert_int_equal(extract(c), 2);
    assert_null(c->fe.f.calls);
    c->a.decomp_dir = c->tmp;
    c->a.json = 1;
    assert_int_equal(extract(c), 0);
    json_t *j = json_loads(c->fe.outbuf, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_str(j, "status"), "FULL_COVERAGE");
    json_decref(j);
}

/* A finished folder made by the pipeline with the same fake. */
static void make_output(ctx *c) {
    put_file(c->tmp, "level2/net.py", "m");
    char *model = path_join(c->tmp, "level2/net.py");
    cli_args a = {0};
    a.cmd = CMD_RUN;
    a.model = model;
    a.output = c->out;
    a.num_trials = 3;
    char *ob = NULL, *lb = NULL;
    size_t ol, ll;
    run_env env = c->fe.env;
    env.out = open_memstream(&ob, &ol);
    env.log = open_memstream(&lb, &ll);
    assert_int_equal(pipeline_run(&a, &env), 0);
    fclose(env.out);
    fclose(env.log);
    free(ob);
    free(lb);
    free(model);
    json_decref(c->fe.f.calls);
    c->fe.f.calls = NULL;
}

static int check(ctx *c) {
    c->a.cmd = CMD_CHECK;
    c->a.dir = c->out;
    int code = cmd_check(&c->a, &c->fe.env);
    flush(c);
    return code;
}

static void check_passes_a_good_folder_and_rewrites_nothing(void **state) {
    ctx *c = *state;
    make_output(c);
    char *before = slurp(c->out, "steps/step_1_model_to_fusions/verification_result.json");
    assert_int_equal(check(c), 0);
    char *after = slurp(c->out, "steps/step_1_model_to_fusions/verification_result.json");
    assert_string_equal(before, after);
    free(before);
    free(after);
    json_t *v = calls_to(&c->fe.f, "verify_step"), *r = calls_to(&c->fe.f, "run_component"),
           *k = calls_to(&c->fe.f, "run_composition");
    assert_int_equal(json_array_size(v), 2);
    assert_int_equal(json_array_size(r), 4);
    /* a re-check runs every self-test for real */
    assert_null(json_object_get(json_array_get(r, 0), "on_meta"));
    assert_int_equal(json_array_size(k), 1);
    /* steps in gate order, from the final folder */
    assert_non_null(strstr(json_str(json_array_get(v, 0), "original"), "/out/steps/step_1_"));
    assert_non_null(strstr(json_str(json_array_get(v, 1), "original"), "/out/steps/step_2_"));
    json_decref(v);
    json_decref(r);
    json_decref(k);
    assert_non_null(strstr(c->fe.outbuf, "check PASSED: 7 passed, 0 failed"));
}

static void check_fails_when_a_step_fails(void **state) {
    ctx *c = *state;
    make_output(c);
    c->fe.f.fail_step = "step_2_";
    c->a.json = 1;
    assert_int_equal(check(c), 1);
    json_t *j = json_loads(c->fe.outbuf, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_str(j, "status"), "FAIL");
    assert_int_equal(json_integer_value(json_object_get(j, "failed")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "passed")), 6);
    json_t *s2 = json_array_get(json_object_get(j, "steps"), 1);
    assert_string_equal(json_str(s2, "status"), "FAIL");
    assert_non_null(strstr(json_str(s2, "reason"), "anti-cheat"));
    json_decref(j);
    assert_non_null(strstr(c->fe.logbuf, "step step_2_fc_relu_to_kernels ... FAIL"));
}

static void check_fails_when_a_component_file_is_missing(void **state) {
    ctx *c = *state;
    make_output(c);
    char *p = path_join(c->out, "level_0_kernel/relu_fp32.py");
    assert_int_equal(unlink(p), 0);
    free(p);
    assert_int_equal(check(c), 1);
    assert_non_null(strstr(c->fe.logbuf, "component level_0_kernel/relu_fp32.py ... FAIL (file is missing)"));
}

static void check_fails_when_composition_fails(void **state) {
    ctx *c = *state;
    make_output(c);
    c->fe.f.composition_fail = 1;
    assert_int_equal(check(c), 1);
}

static void check_of_a_folder_without_tree_exits_2(void **state) {
    ctx *c = *state;
    c->a.json = 1;
    assert_int_equal(check(c), 2);        /* out/ does not exist */
    put_file(c->out, "x.txt", "");
    assert_int_equal(check(c), 2);        /* no decomposition_tree.json */
    assert_null(c->fe.f.calls);
    assert_non_null(strstr(c->fe.logbuf, "decomposition_tree.json: no such file"));
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(verify_step_pass_exits_0),
        T(verify_step_fail_exits_1_and_names_the_violation),
        T(verify_step_error_exits_2),
        T(verify_step_missing_file_exits_2_before_python),
        T(verify_step_missing_weight_map_exits_2),
        T(verify_step_output_writes_the_result),
        T(verify_step_json_prints_the_result_object),
        T(extract_ops_exit_code_follows_coverage),
        T(extract_ops_decomp_dir_must_exist),
        T(check_passes_a_good_folder_and_rewrites_nothing),
        T(check_fails_when_a_step_fails),
        T(check_fails_when_a_component_file_is_missing),
        T(check_fails_when_composition_fails),
        T(check_of_a_folder_without_tree_exits_2),
    };
    return cmocka_run_group_tests_name("commands", tests, NULL, NULL);
}
