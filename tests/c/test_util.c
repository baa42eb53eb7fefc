/* test_util.c - lenient JSON reading, string helpers, JSON file text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "util.h"

static void json_reader_turns_nan_and_infinity_into_null(void **state) {
    (void)state;
    const char *t = "{\"a\": NaN, \"b\": [Infinity, -Infinity, 1.5], \"s\": \"NaN Infinity\"}";
    char *err = NULL;
    json_t *j = json_parse_lenient(t, strlen(t), &err);
    assert_non_null(j);
    assert_null(err);
    assert_true(json_is_null(json_object_get(j, "a")));
    assert_true(json_is_null(json_array_get(json_object_get(j, "b"), 0)));
    assert_true(json_is_null(json_array_get(json_object_get(j, "b"), 1)));
    assert_true(json_real_value(json_array_get(json_object_get(j, "b"), 2)) == 1.5);
    assert_string_equal(json_string_value(json_object_get(j, "s")), "NaN Infinity");
    json_decref(j);
}

static void json_reader_reports_bad_text(void **state) {
    (void)state;
    char *err = NULL;
    assert_null(json_parse_lenient("{\"a\": ", 6, &err));
    assert_non_null(strstr(err, "invalid JSON"));
    free(err);
    err = NULL;
    assert_null(json_parse_lenient("42", 2, &err));
    assert_non_null(err);
    free(err);
}

static void replace_all_replaces_every_occurrence(void **state) {
    (void)state;
    char *s = str_replace_all("/a/.x.partial-1/f and /a/.x.partial-1/g", "/a/.x.partial-1", "/a/x");
    assert_string_equal(s, "/a/x/f and /a/x/g");
    free(s);
    assert_null(str_replace_all("nothing here", "zzz", "y"));
}

static void one_line_flattens_newlines(void **state) {
    (void)state;
    char s[] = "ValueError: a\nb\tc\n  ";
    one_line(s);
    assert_string_equal(s, "ValueError: a b c");
}

static void json_file_text_is_indented_with_final_newline(void **state) {
    (void)state;
    json_t *j = json_pack("{s:f, s:[i]}", "rtol", 1e-5, "x", 1);
    char *t = json_to_text(j);
    assert_string_equal(t, "{\n  \"rtol\": 1e-5,\n  \"x\": [\n    1\n  ]\n}\n");
    free(t);
    json_decref(j);
}

static void rewrite_replaces_staging_paths_deep_inside(void **state) {
    (void)state;
    json_t *j = json_pack("{s:s, s:[s, {s:s}], s:i}", "original_file", "/o/.m.partial-9/steps/a.py",
                          "list", "/o/.m.partial-9", "error", "cannot load /o/.m.partial-9/x.py", "n", 3);
    json_rewrite_prefix(j, "/o/.m.partial-9", "/o/m");
    assert_string_equal(json_string_value(json_object_get(j, "original_file")), "/o/m/steps/a.py");
    json_t *list = json_object_get(j, "list");
    assert_string_equal(json_string_value(json_array_get(list, 0)), "/o/m");
    assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "error")),
                        "cannot load /o/m/x.py");
    json_decref(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_reader_turns_nan_and_infinity_into_null),
        cmocka_unit_test(json_reader_reports_bad_text),
        cmocka_unit_test(replace_all_replaces_every_occurrence),
        cmocka_unit_test(one_line_flattens_newlines),
        cmocka_unit_test(json_file_text_is_indented_with_final_newline),
        cmocka_unit_test(rewrite_replaces_staging_paths_deep_inside),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
