/* test_paths.c - path strings, names derived from a model file, and where
 * the glue is found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_helpers.h"

#define EXPECT_STR(expr, want)                 \
    do {                                       \
        char *got_ = (expr);                   \
        assert_non_null(got_);                 \
        assert_string_equal(got_, (want));     \
        free(got_);                            \
    } while (0)

static void join_puts_one_slash_between(void **state) {
    (void)state;
    EXPECT_STR(path_join("a", "b"), "a/b");
    EXPECT_STR(path_join("a/", "b"), "a/b");
    EXPECT_STR(path_join("a//", "/b"), "a/b");
    EXPECT_STR(path_join("/", "b"), "/b");
    EXPECT_STR(path_join("", "b"), "b");
    EXPECT_STR(path_join("a", ""), "a");
}

static void basename_and_dirname_ignore_trailing_slashes(void **state) {
    (void)state;
    EXPECT_STR(path_basename("a/b/c.py"), "c.py");
    EXPECT_STR(path_basename("a/b/"), "b");
    EXPECT_STR(path_basename("c.py"), "c.py");
    EXPECT_STR(path_basename("/"), "/");
    EXPECT_STR(path_dirname("a/b/c.py"), "a/b");
    EXPECT_STR(path_dirname("a/b/"), "a");
    EXPECT_STR(path_dirname("c.py"), ".");
    EXPECT_STR(path_dirname("/x"), "/");
    EXPECT_STR(path_dirname("/x/y"), "/x");
}

static void absolute_path_joins_the_cwd(void **state) {
    (void)state;
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    char *want = xasprintf("%s/out/x", cwd);
    EXPECT_STR(path_absolute("out/x/"), want);
    EXPECT_STR(path_absolute("./out/x"), want);
    free(want);
    EXPECT_STR(path_absolute("/abs/p/"), "/abs/p");
    EXPECT_STR(path_absolute("."), cwd);
}

static void safe_relative_path_accepts_plain_relative_paths(void **state) {
    (void)state;
    assert_true(path_is_safe_relative("level_0_kernel/relu_fp32.py"));
    assert_true(path_is_safe_relative("steps/step_1_x/children/a.py"));
    assert_true(path_is_safe_relative("a..b/c"));
    assert_true(path_is_safe_relative(".hidden"));
}

static void safe_relative_path_refuses_dotdot_and_absolute(void **state) {
    (void)state;
    assert_false(path_is_safe_relative("/etc/passwd"));
    assert_false(path_is_safe_relative("../x.py"));
    assert_false(path_is_safe_relative("a/../../x.py"));
    assert_false(path_is_safe_relative("a/.."));
    assert_false(path_is_safe_relative(".."));
    assert_false(path_is_safe_relative("./a"));
    assert_false(path_is_safe_relative("a//b"));
    assert_false(path_is_safe_relative("a/"));
    assert_false(path_is_safe_relative(""));
    assert_false(path_is_safe_relative(NULL));
}

static void component_names_refuse_separators_and_dots(void **state) {
    (void)state;
    assert_true(name_is_safe_component("step_1_model_to_layers"));
    assert_false(name_is_safe_component("a/b"));
    assert_false(name_is_safe_component(".."));
    assert_false(name_is_safe_component("."));
    assert_false(name_is_safe_component(""));
    assert_false(name_is_safe_component(NULL));
}

static void model_name_is_the_file_stem(void **state) {
    (void)state;
    EXPECT_STR(model_name_from_path("data/level2/21_Conv2d_Add_Scale.py"), "21_Conv2d_Add_Scale");
    EXPECT_STR(model_name_from_path("my.model.py"), "my.model");
    EXPECT_STR(model_name_from_path("/x/noext"), "noext");
    EXPECT_STR(model_name_from_path(".hidden"), ".hidden");
}

static void hugging_face_names_are_the_ids_last_part(void **state) {
    (void)state;
    EXPECT_STR(model_name_from_hf("HuggingFaceTB/SmolVLM-256M-Instruct"), "smolvlm_256m_instruct");
    EXPECT_STR(model_name_from_hf("Qwen/Qwen2.5-0.5B"), "qwen2_5_0_5b");
    EXPECT_STR(model_name_from_hf("gpt2"), "gpt2");
    EXPECT_STR(model_name_from_hf("/snapshots/tiny-llama/"), "tiny_llama");
}

static void hugging_face_ids_are_one_or_two_plain_parts(void **state) {
    (void)state;
    assert_true(is_hf_model_id("gpt2"));
    assert_true(is_hf_model_id("Qwen/Qwen2.5-0.5B"));
    assert_true(is_hf_model_id("org_1/model-name.v2"));
    assert_false(is_hf_model_id("a/b/c"));
    assert_false(is_hf_model_id("./models/x"));
    assert_false(is_hf_model_id("../x"));
    assert_false(is_hf_model_id("/abs/x"));
    assert_false(is_hf_model_id("org/"));
    assert_false(is_hf_model_id(""));
    assert_false(is_hf_model_id("has space"));
}

static void source_level_is_a_levelN_parent_folder(void **state) {
    (void)state;
    EXPECT_STR(source_level_from_path("kernelbench/level1/1_Square.py"), "level1");
    EXPECT_STR(source_level_from_path("/abs/level3/11_VGG16.py"), "level3");
    EXPECT_STR(source_level_from_path("level12/m.py"), "level12");
}

static void source_level_is_custom_otherwise(void **state) {
    (void)state;
    EXPECT_STR(source_level_from_path("my_models/unet.py"), "custom");
    EXPECT_STR(source_level_from_path("level/m.py"), "custom");
    EXPECT_STR(source_level_from_path("level2x/m.py"), "custom");
    EXPECT_STR(source_level_from_path("Level2/m.py"), "custom");
    EXPECT_STR(source_level_from_path("m.py"), "custom");
}

/* A layout: root/build/decompose, root/python_glue/decompose_glue/api.py,
 * root/prefix/bin/decompose, root/prefix/share/decompose/python_glue/... */
static char *layout(void) {
    char *root = make_temp_dir();
    assert_non_null(root);
    put_file(root, "build/decompose", "");
    put_file(root, "prefix/bin/decompose", "");
    put_file(root, "src_tree/python_glue/decompose_glue/api.py", "");
    put_file(root, "installed/python_glue/decompose_glue/api.py", "");
    return root;
}

static void glue_found_beside_the_build_dir(void **state) {
    (void)state;
    char *root = layout();
    put_file(root, "python_glue/decompose_glue/api.py", "");
    char *exe = path_join(root, "build/decompose");
    char *want = path_join(root, "python_glue");
    EXPECT_STR(glue_dir_find(exe, NULL, NULL, NULL), want);
    free(exe);
    free(want);
    rm_rf(root, NULL);
    free(root);
}

static void glue_found_in_share_of_the_install_prefix(void **state) {
    (void)state;
    char *root = layout();
    put_file(root, "prefix/share/decompose/python_glue/decompose_glue/api.py", "");
    char *exe = path_join(root, "prefix/bin/decompose");
    char *want = path_join(root, "prefix/share/decompose/python_glue");
    char *inst = path_join(root, "installed/python_glue");
    EXPECT_STR(glue_dir_find(exe, inst, NULL, NULL), want);
    free(inst);
    free(exe);
    free(want);
    rm_rf(root, NULL);
    free(root);
}

static void glue_falls_back_to_install_then_source_dir(void **state) {
    (void)state;
    char *root = layout();
    char *exe = path_join(root, "prefix/bin/decompose");
    char *inst = path_join(root, "installed/python_glue");
    char *src = path_join(root, "src_tree/python_glue");
    EXPECT_STR(glue_dir_find(exe, inst, src, NULL), inst);
    char *missing = path_join(root, "nowhere");
    EXPECT_STR(glue_dir_find(exe, missing, src, NULL), src);
    free(missing);
    free(inst);
    free(src);
    free(exe);
    rm_rf(root, NULL);
    free(root);
}

static void glue_dir_without_api_py_does_not_count(void **state) {
    (void)state;
    char *root = layout();
    put_file(root, "python_glue/decompose_glue/__init__.py", "");   /* no api.py */
    char *exe = path_join(root, "build/decompose");
    char *src = path_join(root, "src_tree/python_glue");
    EXPECT_STR(glue_dir_find(exe, NULL, src, NULL), src);
    char *err = NULL;
    assert_null(glue_dir_find(exe, NULL, NULL, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "api.py"));
    assert_non_null(strstr(err, "build/../python_glue"));
    free(err);
    free(src);
    free(exe);
    rm_rf(root, NULL);
    free(root);
}

static void glue_is_never_looked_up_in_the_cwd(void **state) {
    (void)state;
    char *root = layout();
    put_file(root, "cwd/python_glue/decompose_glue/api.py", "");
    char old[4096];
    assert_non_null(getcwd(old, sizeof old));
    char *cwd = path_join(root, "cwd");
    assert_int_equal(chdir(cwd), 0);
    char *exe = path_join(root, "prefix/bin/decompose");
    assert_null(glue_dir_find(exe, NULL, NULL, NULL));
    assert_int_equal(chdir(old), 0);
    free(exe);
    free(cwd);
    rm_rf(root, NULL);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(join_puts_one_slash_between),
        cmocka_unit_test(basename_and_dirname_ignore_trailing_slashes),
        cmocka_unit_test(absolute_path_joins_the_cwd),
        cmocka_unit_test(safe_relative_path_accepts_plain_relative_paths),
        cmocka_unit_test(safe_relative_path_refuses_dotdot_and_absolute),
        cmocka_unit_test(component_names_refuse_separators_and_dots),
        cmocka_unit_test(model_name_is_the_file_stem),
        cmocka_unit_test(hugging_face_names_are_the_ids_last_part),
        cmocka_unit_test(hugging_face_ids_are_one_or_two_plain_parts),
        cmocka_unit_test(source_level_is_a_levelN_parent_folder),
        cmocka_unit_test(source_level_is_custom_otherwise),
        cmocka_unit_test(glue_found_beside_the_build_dir),
        cmocka_unit_test(glue_found_in_share_of_the_install_prefix),
        cmocka_unit_test(glue_falls_back_to_install_then_source_dir),
        cmocka_unit_test(glue_dir_without_api_py_does_not_count),
        cmocka_unit_test(glue_is_never_looked_up_in_the_cwd),
    };
    return cmocka_run_group_tests_name("paths", tests, NULL, NULL);
}
