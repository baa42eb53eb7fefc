/* test_tree.c - plan validation and decomposition_tree.json. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

/* model -> {block (layer) -> {conv_bn_relu (fusion) -> {conv, bn, relu}}, fc, relu}
 * relu is shared by the fusion and the model: one kernel node, 3 instances. */
static const char *PLAN =
    "{\"ok\": true, \"model_name\": \"net\", \"source_file\": \"/m/net.py\","
    " \"source_level\": \"level3\", \"trace_method\": \"symbolic\", \"root\": \"root\","
    " \"nodes\": ["
    "  {\"id\": \"root\", \"name\": \"Model\", \"level\": \"model\", \"path\": \"level_3_model/net.py\","
    "   \"children\": [\"block\", \"fc\", \"relu\"], \"instance_count\": 1,"
    "   \"input_shapes\": {\"x\": [8, 3, 32, 32]}, \"parameter_shapes\": {}},"
    "  {\"id\": \"block\", \"level\": \"layer\", \"path\": \"level_2_layer/block.py\","
    "   \"children\": [\"cbr\"], \"instance_count\": 2},"
    "  {\"id\": \"cbr\", \"level\": \"fusion\", \"path\": \"level_1_fusion/cbr.py\","
    "   \"children\": [\"conv\", \"bn\", \"relu\"], \"instance_count\": 2},"
    "  {\"id\": \"conv\", \"level\": \"kernel\", \"path\": \"level_0_kernel/conv.py\", \"children\": [],"
    "   \"instance_count\": 2},"
    "  {\"id\": \"bn\", \"level\": \"kernel\", \"path\": \"level_0_kernel/bn.py\", \"children\": [],"
    "   \"instance_count\": 2},"
    "  {\"id\": \"fc\", \"level\": \"kernel\", \"path\": \"level_0_kernel/fc.py\"},"
    "  {\"id\": \"relu\", \"level\": \"kernel\", \"path\": \"level_0_kernel/relu.py\", \"children\": [],"
    "   \"instance_count\": 3}"
    " ],"
    " \"data_flow\": [{\"from\": \"root\", \"to\": \"block\", \"tensor_name\": \"x\","
    "                 \"shape\": [8, 3, 32, 32], \"dtype\": \"float32\"}]}";

static json_t *plan(void) {
    json_t *p = json_loads(PLAN, 0, NULL);
    assert_non_null(p);
    return p;
}

static json_t *node(json_t *p, const char *id) {
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(p, "nodes"), i, n)
        if (strcmp(json_string_value(json_object_get(n, "id")), id) == 0) return n;
    fail_msg("no node %s", id);
    return NULL;
}

/* Validation must fail with a message containing `want`. */
static void expect_invalid(json_t *p, const char *want) {
    char *err = NULL;
    assert_int_equal(tree_validate(p, &err), -1);
    assert_non_null(err);
    if (!strstr(err, want)) fail_msg("error '%s' does not mention '%s'", err, want);
    free(err);
    json_decref(p);
}

static void valid_plan_with_a_shared_kernel_passes(void **state) {
    (void)state;
    json_t *p = plan();
    char *err = NULL;
    assert_int_equal(tree_validate(p, &err), 0);
    assert_null(err);
    json_decref(p);
}

static void level_ranks_run_from_model_to_kernel(void **state) {
    (void)state;
    assert_int_equal(level_rank("model"), 3);
    assert_int_equal(level_rank("layer"), 2);
    assert_int_equal(level_rank("fusion"), 1);
    assert_int_equal(level_rank("kernel"), 0);
    assert_int_equal(level_rank("block"), -1);
    assert_int_equal(level_rank(NULL), -1);
    assert_string_equal(level_dir("fusion"), "level_1_fusion");
}

static void counts_nodes_by_level(void **state) {
    (void)state;
    json_t *p = plan();
    level_counts c;
    int unique;
    long inst;
    tree_counts(p, &c, &unique, &inst);
    assert_int_equal(c.model, 1);
    assert_int_equal(c.layer, 1);
    assert_int_equal(c.fusion, 1);
    assert_int_equal(c.kernel, 4);
    json_decref(p);
}

static void unique_kernels_are_the_kernel_nodes(void **state) {
    (void)state;
    json_t *p = plan();
    level_counts c;
    int unique;
    long inst;
    tree_counts(p, &c, &unique, &inst);
    assert_int_equal(unique, 4);
    json_decref(p);
}

static void kernel_instances_sum_instance_counts(void **state) {
    (void)state;
    json_t *p = plan();
    level_counts c;
    int unique;
    long inst;
    tree_counts(p, &c, &unique, &inst);
    /* conv 2 + bn 2 + fc (no count: 1) + relu 3; layer/fusion counts ignored */
    assert_int_equal(inst, 8);
    json_decref(p);
}

static void tree_json_has_metadata_nodes_and_data_flow(void **state) {
    (void)state;
    json_t *p = plan();
    tree_info info = {"2024-01-02T03:04:05Z", 1};
    json_t *t = tree_build(p, &info, NULL);
    assert_non_null(t);
    assert_int_equal(json_object_size(t), 3);
    json_t *m = json_object_get(t, "metadata");
    assert_string_equal(json_string_value(json_object_get(m, "source_file")), "/m/net.py");
    assert_string_equal(json_string_value(json_object_get(m, "source_level")), "level3");
    assert_string_equal(json_string_value(json_object_get(m, "model_name")), "net");
    assert_string_equal(json_string_value(json_object_get(m, "trace_method")), "symbolic");
    assert_int_equal(json_integer_value(json_object_get(m, "total_components")), 7);
    assert_int_equal(json_integer_value(json_object_get(m, "unique_kernels")), 4);
    assert_int_equal(json_integer_value(json_object_get(m, "kernel_instances")), 8);
    json_t *by = json_object_get(m, "by_level");
    assert_int_equal(json_integer_value(json_object_get(by, "model")), 1);
    assert_int_equal(json_integer_value(json_object_get(by, "layer")), 1);
    assert_int_equal(json_integer_value(json_object_get(by, "fusion")), 1);
    assert_int_equal(json_integer_value(json_object_get(by, "kernel")), 4);

    json_t *nodes = json_object_get(t, "nodes");
    assert_true(json_is_object(nodes));
    assert_int_equal(json_object_size(nodes), 7);
    json_t *root = json_object_get(nodes, "root");
    assert_true(json_equal(root, node(p, "root")));          /* every field copied */
    assert_true(json_equal(json_object_get(t, "data_flow"), json_object_get(p, "data_flow")));
    json_decref(t);
    json_decref(p);
}

static void timestamp_is_the_one_given(void **state) {
    (void)state;
    json_t *p = plan();
    tree_info info = {"2024-01-02T03:04:05Z", 1};
    json_t *a = tree_build(p, &info, NULL), *b = tree_build(p, &info, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "metadata"), "timestamp")),
                        "2024-01-02T03:04:05Z");
    char *ta = json_dumps(a, JSON_INDENT(2)), *tb = json_dumps(b, JSON_INDENT(2));
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    json_decref(p);
}

static void verification_status_follows_the_gates(void **state) {
    (void)state;
    json_t *p = plan();
    tree_info ok = {"t", 1}, bad = {"t", 0};
    json_t *a = tree_build(p, &ok, NULL), *b = tree_build(p, &bad, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "metadata"), "verification_status")),
                        "PASSED");
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "metadata"), "verification_status")),
                        "FAILED");
    json_decref(a);
    json_decref(b);
    json_decref(p);
}

static void missing_data_flow_becomes_an_empty_list(void **state) {
    (void)state;
    json_t *p = plan();
    json_object_del(p, "data_flow");
    tree_info info = {"t", 1};
    json_t *t = tree_build(p, &info, NULL);
    assert_true(json_is_array(json_object_get(t, "data_flow")));
    assert_int_equal(json_array_size(json_object_get(t, "data_flow")), 0);
    json_decref(t);
    json_decref(p);
}

static void build_refuses_an_invalid_plan(void **state) {
    (void)state;
    json_t *p = plan();
    json_object_set_new(node(p, "fc"), "level", json_string("gizmo"));
    tree_info info = {"t", 1};
    char *err = NULL;
    assert_null(tree_build(p, &info, &err));
    assert_non_null(strstr(err, "gizmo"));
    free(err);
    json_decref(p);
}

static void unknown_child_is_invalid(void **state) {
    (void)state;
    json_t *p = plan();
    json_array_append_new(json_object_get(node(p, "block"), "children"), json_string("ghost"));
    expect_invalid(p, "'ghost'");
}

static void two_roots_are_invalid(void **state) {
    (void)state;
    json_t *p = plan();
    json_array_append_new(json_object_get(p, "nodes"),
                          json_pack("{s:s, s:s, s:[]}", "id", "orphan", "level", "kernel", "children"));
    expect_invalid(p, "exactly one root");
}

static void no_root_is_invalid(void **state) {
    (void)state;
    json_t *p = json_loads("{\"nodes\": []}", 0, NULL);
    expect_invalid(p, "non-empty");
}

static void unknown_level_is_invalid(void **state) {
    (void)state;
    json_t *p = plan();
    json_object_set_new(node(p, "cbr"), "level", json_string("block"));
    expect_invalid(p, "unknown level 'block'");
}

static void child_at_same_level_is_invalid(void **state) {
    (void)state;
    json_t *p = plan();
    json_object_set_new(node(p, "cbr"), "level", json_string("layer"));
    expect_invalid(p, "not lower");
}

static void child_above_its_parent_is_invalid(void **state) {
    (void)state;
    json_t *p = plan();
    json_object_set_new(node(p, "block"), "level", json_string("kernel"));
    expect_invalid(p, "not lower");
}

static void duplicate_id_is_invalid(void **state) {
    (void)state;
    json_t *p = plan();
    json_object_set_new(node(p, "bn"), "id", json_string("conv"));
    expect_invalid(p, "appears twice");
}

static void non_kernel_leaf_is_invalid(void **state) {
    (void)state;
    json_t *p = plan();
    json_array_clear(json_object_get(node(p, "cbr"), "children"));
    json_array_append_new(json_object_get(node(p, "root"), "children"), json_string("conv"));
    json_array_append_new(json_object_get(node(p, "root"), "children"), json_string("bn"));
    expect_invalid(p, "every leaf must be a kernel");
}

static void named_root_must_be_the_parentless_node(void **state) {
    (void)state;
    json_t *p = plan();
    json_object_set_new(p, "root", json_string("block"));
    expect_invalid(p, "\"root\" is 'block'");
}

static void node_without_id_is_invalid(void **state) {
    (void)state;
    json_t *p = plan();
    json_object_del(node(p, "fc"), "id");
    expect_invalid(p, "no \"id\"");
}

static void single_kernel_model_is_valid(void **state) {
    (void)state;
    json_t *p = json_loads("{\"nodes\": [{\"id\": \"k\", \"level\": \"kernel\", \"children\": []}]}", 0, NULL);
    assert_int_equal(tree_validate(p, NULL), 0);
    tree_info info = {"t", 1};
    json_t *t = tree_build(p, &info, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(t, "metadata"), "root")), "k");
    json_decref(t);
    json_decref(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_plan_with_a_shared_kernel_passes),
        cmocka_unit_test(level_ranks_run_from_model_to_kernel),
        cmocka_unit_test(counts_nodes_by_level),
        cmocka_unit_test(unique_kernels_are_the_kernel_nodes),
        cmocka_unit_test(kernel_instances_sum_instance_counts),
        cmocka_unit_test(tree_json_has_metadata_nodes_and_data_flow),
        cmocka_unit_test(timestamp_is_the_one_given),
        cmocka_unit_test(verification_status_follows_the_gates),
        cmocka_unit_test(missing_data_flow_becomes_an_empty_list),
        cmocka_unit_test(build_refuses_an_invalid_plan),
        cmocka_unit_test(unknown_child_is_invalid),
        cmocka_unit_test(two_roots_are_invalid),
        cmocka_unit_test(no_root_is_invalid),
        cmocka_unit_test(unknown_level_is_invalid),
        cmocka_unit_test(child_at_same_level_is_invalid),
        cmocka_unit_test(child_above_its_parent_is_invalid),
        cmocka_unit_test(duplicate_id_is_invalid),
        cmocka_unit_test(non_kernel_leaf_is_invalid),
        cmocka_unit_test(named_root_must_be_the_parentless_node),
        cmocka_unit_test(node_without_id_is_invalid),
        cmocka_unit_test(single_kernel_model_is_valid),
    };
    return cmocka_run_group_tests_name("tree", tests, NULL, NULL);
}
