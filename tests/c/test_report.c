/* test_report.c - reading the glue's verification results: the largest
 * difference, and the one-line reason a step did not pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

static json_t *parse(const char *text) {
    json_t *j = json_parse_lenient(text, strlen(text), NULL);
    assert_non_null(j);
    return j;
}

static void expect_reason(const char *result, const char *want) {
    json_t *r = parse(result);
    char *why = result_reason(r);
    if (!strstr(why, want)) fail_msg("reason '%s' does not contain '%s'", why, want);
    assert_null(strchr(why, '\n'));
    free(why);
    json_decref(r);
}

static void max_diff_is_the_largest_over_trials(void **state) {
    (void)state;
    json_t *r = parse("{\"numerical_comparison\": {\"max_diff_across_trials\": 9,"
                      " \"trials\": [{\"max_diff\": 1e-7}, {\"max_diff\": 3e-7}, {\"max_diff\": 2e-7}]}}");
    int has;
    assert_true(result_max_diff(r, &has) == 3e-7);
    assert_int_equal(has, 1);
    assert_int_equal(result_num_trials(r), 3);
    json_decref(r);
}

static void max_diff_falls_back_to_the_summary_field(void **state) {
    (void)state;
    json_t *r = parse("{\"numerical_comparison\": {\"max_diff_across_trials\": 0.25}}");
    int has;
    assert_true(result_max_diff(r, &has) == 0.25);
    assert_int_equal(has, 1);
    json_decref(r);
    r = parse("{\"status\": \"ERROR\"}");
    result_max_diff(r, &has);
    assert_int_equal(has, 0);
    json_decref(r);
}

static void infinite_max_diff_is_reported_as_inf(void **state) {
    (void)state;
    json_t *r = parse("{\"numerical_comparison\": {\"trials\": [{\"max_diff\": Infinity}]}}");
    int has;
    double d = result_max_diff(r, &has);
    assert_int_equal(has, -1);
    char buf[32];
    fmt_diff(buf, sizeof buf, d, has);
    assert_string_equal(buf, "inf");
    json_decref(r);
    /* the glue writes non-finite numbers as strings */
    r = parse("{\"numerical_comparison\": {\"trials\": [{\"max_diff\": 1e-7}, {\"max_diff\": \"inf\"}]}}");
    result_max_diff(r, &has);
    assert_int_equal(has, -1);
    json_t *o = parse("{\"a\": 0.5, \"b\": \"nan\", \"c\": \"x\"}");
    assert_int_equal(json_diff(o, "a", &d), 1);
    assert_true(d == 0.5);
    assert_int_equal(json_diff(o, "b", &d), -1);
    assert_int_equal(json_diff(o, "c", &d), 0);
    assert_int_equal(json_diff(o, "missing", &d), 0);
    json_decref(o);
    fmt_diff(buf, sizeof buf, 1.2e-6, 1);
    assert_string_equal(buf, "1.2e-06");
    fmt_diff(buf, sizeof buf, 0, 0);
    assert_string_equal(buf, "n/a");
    json_decref(r);
}

static void reason_names_the_first_source_violation(void **state) {
    (void)state;
    expect_reason("{\"status\": \"FAIL\", \"anticheat\": {\"status\": \"FAIL\", \"violations\": ["
                  "{\"pattern\": \"torch\\\\.matmul\", \"line_number\": 31, \"line_text\": \"y = a @ b\"},"
                  "{\"parameter\": \"w\", \"reason\": \"no child\"}]}}",
                  "anti-cheat: line 31: y = a @ b (matched torch\\.matmul) (and 1 more)");
}

static void reason_uses_a_violation_message_or_reason(void **state) {
    (void)state;
    expect_reason("{\"anticheat\": {\"violations\": [{\"parameter\": \"scale\","
                  " \"reason\": \"Parameter 'scale' does not belong to any child module\"}]}}",
                  "anti-cheat: Parameter 'scale' does not belong");
    expect_reason("{\"anticheat\": {\"violations\": [{\"message\": \"getattr(torch, 'matmul')\\nin helper\"}]}}",
                  "anti-cheat: getattr(torch, 'matmul') in helper");
}

static void reason_reports_a_load_error(void **state) {
    (void)state;
    expect_reason("{\"status\": \"ERROR\", \"error\": \"Failed to load refactored: No module named 'children'\"}",
                  "Failed to load refactored: No module named 'children'");
}

static void reason_reports_unmapped_weights(void **state) {
    (void)state;
    expect_reason("{\"status\": \"FAIL\", \"weight_transfer\": {\"status\": \"FAIL\","
                  " \"unmapped_original\": [\"fc.bias\", \"fc.weight\"]}}",
                  "2 original parameters unmapped (first: fc.bias)");
}

static void reason_reports_weight_transfer_errors_and_leftovers(void **state) {
    (void)state;
    expect_reason("{\"status\": \"FAIL\", \"weight_transfer\": {\"status\": \"FAIL\", \"unmapped_original\": [],"
                  " \"errors\": [\"fc.weight: shape [4, 8] != [8, 4]\"]}}",
                  "weight transfer: fc.weight: shape [4, 8] != [8, 4]");
    expect_reason("{\"status\": \"FAIL\", \"weight_transfer\": {\"status\": \"FAIL\", \"unmapped_original\": [],"
                  " \"unmapped_refactored\": [\"child.bias\"]}}",
                  "1 refactored parameters not filled from the original (first: child.bias)");
}

static void reason_reports_a_trial_error(void **state) {
    (void)state;
    expect_reason("{\"status\": \"FAIL\", \"numerical_comparison\": {\"trials\": ["
                  "{\"seed\": 42, \"error\": \"shape mismatch in matmul\", \"pass\": false}]}}",
                  "trial 0 (seed 42): shape mismatch in matmul");
}

static void reason_reports_an_output_shape_mismatch(void **state) {
    (void)state;
    expect_reason("{\"status\": \"FAIL\", \"numerical_comparison\": {\"trials\": [{\"seed\": 42, \"pass\": false,"
                  " \"output_details\": [{\"shape_match\": false, \"original_shape\": [8, 4],"
                  " \"refactored_shape\": [8, 3]}]}]}}",
                  "output 0 shape [8,4], refactored gives [8,3]");
}

static void reason_reports_the_numerical_difference(void **state) {
    (void)state;
    expect_reason("{\"status\": \"FAIL\", \"numerical_comparison\": {\"rtol\": 1e-5, \"atol\": 1e-6,"
                  " \"trials\": [{\"seed\": 42, \"max_diff\": 0.0031, \"pass\": false}]}}",
                  "outputs differ: max diff 3.1e-03 (rtol 1e-05, atol 1e-06)");
}

static void verify_request_leaves_unset_tolerances_null(void **state) {
    (void)state;
    cli_args a = {0};
    a.num_trials = 3;
    a.atol = 0.5;
    a.atol_set = 1;
    json_t *r = verify_request("/o.py", "/r.py", NULL, &a);
    assert_string_equal(json_str(r, "original"), "/o.py");
    assert_string_equal(json_str(r, "refactored"), "/r.py");
    assert_true(json_is_null(json_object_get(r, "weight_map")));
    assert_true(json_is_null(json_object_get(r, "rtol")));
    assert_true(json_real_value(json_object_get(r, "atol")) == 0.5);
    assert_int_equal(json_integer_value(json_object_get(r, "num_trials")), 3);
    json_decref(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(max_diff_is_the_largest_over_trials),
        cmocka_unit_test(max_diff_falls_back_to_the_summary_field),
        cmocka_unit_test(infinite_max_diff_is_reported_as_inf),
        cmocka_unit_test(reason_names_the_first_source_violation),
        cmocka_unit_test(reason_uses_a_violation_message_or_reason),
        cmocka_unit_test(reason_reports_a_load_error),
        cmocka_unit_test(reason_reports_unmapped_weights),
        cmocka_unit_test(reason_reports_weight_transfer_errors_and_leftovers),
        cmocka_unit_test(reason_reports_a_trial_error),
        cmocka_unit_test(reason_reports_an_output_shape_mismatch),
        cmocka_unit_test(reason_reports_the_numerical_difference),
        cmocka_unit_test(verify_request_leaves_unset_tolerances_null),
    };
    return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
