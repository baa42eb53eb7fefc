/* test_job.c - YAML job files: fields, errors, output folders, and a run of
 * several models against a fake glue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>

#include "fake_glue.h"
#include "job.h"
#include "test_helpers.h"

static int parse(const char *text, job *j, char **err) {
    return job_parse(text, strlen(text), "job.yaml", j, err);
}

static void job_with_one_model_reads_every_field(void **state) {
    (void)state;
    job j;
    char *err = NULL;
    assert_int_equal(parse("input_type: single_file\n"
                           "model: data/level2/m.py\n"
                           "output_dir: out/{model_name}/\n"
                           "source_level: level2\n"
                           "name: net\n"
                           "num_trials: 4\n"
                           "rtol: 1e-4\n"
                           "atol: 0.001\n", &j, &err), 0);
    assert_null(err);
    assert_int_equal(j.nmodels, 1);
    assert_string_equal(j.models[0], "data/level2/m.py");
    assert_string_equal(j.source_level, "level2");
    assert_string_equal(j.name, "net");
    assert_int_equal(j.num_trials, 4);
    assert_true(j.num_trials_set && j.rtol_set && j.atol_set);
    assert_true(j.rtol == 1e-4 && j.atol == 0.001);
    char *o = job_output_for(&j, "net");
    assert_string_equal(o, "out/net/");
    free(o);
    job_free(&j);
}

static void models_list_is_joined_to_models_dir(void **state) {
    (void)state;
    job j;
    assert_int_equal(parse("models_dir: data/kernelbench/level3\n"
                           "models:\n  - 11_VGG16.py\n  - /abs/18_SqueezeNet.py\n"
                           "output_dir: out\n", &j, NULL), 0);
    assert_int_equal(j.nmodels, 2);
    assert_string_equal(j.models[0], "data/kernelbench/level3/11_VGG16.py");
    assert_string_equal(j.models[1], "/abs/18_SqueezeNet.py");
    char *o = job_output_for(&j, "11_VGG16");
    assert_string_equal(o, "out/11_VGG16");       /* several models: one folder each */
    free(o);
    job_free(&j);
}

static void no_output_dir_means_the_default(void **state) {
    (void)state;
    job j;
    assert_int_equal(parse("model: m.py\n", &j, NULL), 0);
    assert_null(job_output_for(&j, "m"));
    job_free(&j);
}

static void expect_error(const char *text, const char *want) {
    job j;
    char *err = NULL;
    assert_int_equal(parse(text, &j, &err), -1);
    assert_non_null(err);
    if (!strstr(err, want)) fail_msg("error '%s' does not mention '%s'", err, want);
    free(err);
}

static void unknown_field_is_an_error(void **state) {
    (void)state;
    expect_error("model: m.py\nouput_dir: x\n", "line 2: unknown field 'ouput_dir'");
}

static void job_without_model_is_an_error(void **state) {
    (void)state;
    expect_error("output_dir: x\n", "no model");
}

static void assert_json_text(const char *got, const char *want) {
    json_t *g = json_loads(got, 0, NULL), *w = json_loads(want, 0, NULL);
    assert_non_null(g);
    if (!json_equal(g, w)) fail_msg("JSON %s is not %s", got, want);
    json_decref(g);
    json_decref(w);
}

static void unsupported_input_type_is_an_error(void **state) {
    (void)state;
    expect_error("input_type: onnx\nmodel: x\n", "'onnx' is not one of single_file, repo and huggingface");
}

static void huggingface_job_passes_its_class_config_and_inputs_on(void **state) {
    (void)state;
    job j;
    char *err = NULL;
    assert_int_equal(parse("input_type: huggingface\n"
                           "models: [HuggingFaceTB/SmolLM2-135M, gpt2]\n"
                           "model_class: AutoModelForCausalLM\n"
                           "config: {num_hidden_layers: 2, text_config: {hidden_size: 64}}\n"
                           "inputs:\n  input_ids: {shape: [1, 16], dtype: int64, high: 100}\n", &j, &err), 0);
    assert_null(err);
    assert_int_equal(j.nmodels, 2);
    assert_string_equal(j.models[0], "HuggingFaceTB/SmolLM2-135M");
    assert_string_equal(j.model_class, "AutoModelForCausalLM");
    assert_json_text(j.config, "{\"num_hidden_layers\": 2, \"text_config\": {\"hidden_size\": 64}}");
    assert_json_text(j.inputs, "{\"input_ids\": {\"shape\": [1, 16], \"dtype\": \"int64\", \"high\": 100}}");
    job_free(&j);
    /* a model id is no folder under models_dir: it stays an id */
    assert_int_equal(parse("input_type: huggingface\nmodels_dir: /no/such/snapshots\nmodel: org/name\n"
                           "model_class: AutoModel\n", &j, &err), 0);
    assert_string_equal(j.models[0], "org/name");
    job_free(&j);
    assert_int_equal(parse("input_type: huggingface\nmodels_dir: /\nmodel: tmp\nmodel_class: AutoModel\n",
                           &j, &err), 0);
    assert_string_equal(j.models[0], "/tmp");  /* a snapshot folder there is joined */
    job_free(&j);
    /* inputs and config are optional */
    assert_int_equal(parse("input_type: huggingface\nmodel: gpt2\nmodel_class: GPT2Model\n", &j, &err), 0);
    assert_null(j.config);
    assert_null(j.inputs);
    job_free(&j);
}

static void huggingface_job_errors_name_the_field(void **state) {
    (void)state;
    expect_error("input_type: huggingface\nmodel: gpt2\n", "needs 'model_class'");
    expect_error("input_type: huggingface\nmodel: gpt2\nmodel_class: C\nconfig: [1]\n",
                 "line 4: 'config' must be a mapping");
    expect_error("input_type: huggingface\nmodel: gpt2\nmodel_class: C\ninputs: [1]\n", "a mapping by name");
    expect_error("input_type: huggingface\nmodel: gpt2\nmodel_class: C\nentry_file: e.py\n",
                 "are for input_type repo");
    expect_error("model: m.py\nmodel_class: C\n", "are for input_type huggingface");
}

static void repo_job_passes_its_arguments_on_as_json(void **state) {
    (void)state;
    job j;
    char *err = NULL;
    assert_int_equal(parse("input_type: repo\n"
                           "repo_path: models/tiny_lm\n"
                           "entry_file: modeling_tiny.py\n"
                           "entry_class: TinyLM\n"
                           "init_args:\n"
                           "  - class: configuration_tiny.TinyConfig\n"
                           "    kwargs: {vocab_size: 100, eps: 1e-6, tied: true, act: gelu, tag: '7', none: null}\n"
                           "  - 3\n"
                           "inputs:\n"
                           "  - {shape: [2, 12], dtype: int64, high: 100}\n", &j, &err), 0);
    assert_null(err);
    assert_int_equal(j.nmodels, 1);
    assert_string_equal(j.models[0], "models/tiny_lm");  /* the one run's model is the folder */
    assert_string_equal(j.entry_file, "modeling_tiny.py");
    assert_string_equal(j.entry_class, "TinyLM");
    /* plain scalars are what YAML means by them; a quoted one stays text */
    assert_json_text(j.init_args, "[{\"class\": \"configuration_tiny.TinyConfig\", \"kwargs\": {\"vocab_size\": 100, "
                                  "\"eps\": 1e-6, \"tied\": true, \"act\": \"gelu\", \"tag\": \"7\", \"none\": null}}, 3]");
    assert_json_text(j.inputs, "[{\"shape\": [2, 12], \"dtype\": \"int64\", \"high\": 100}]");
    job_free(&j);
    /* inputs by name, for a forward called with keywords */
    assert_int_equal(parse("input_type: repo\nrepo_path: r\nentry_file: e.py\nentry_class: C\n"
                           "inputs:\n  input_ids: {shape: [1, 4], dtype: int64, high: 9}\n", &j, &err), 0);
    assert_json_text(j.inputs, "{\"input_ids\": {\"shape\": [1, 4], \"dtype\": \"int64\", \"high\": 9}}");
    job_free(&j);
}

static void repo_job_errors_name_the_field(void **state) {
    (void)state;
    expect_error("input_type: repo\nrepo_path: r\nentry_class: C\ninputs: [1]\n", "needs 'entry_file'");
    expect_error("input_type: repo\nrepo_path: r\nentry_file: e.py\nentry_class: C\n", "needs 'inputs'");
    expect_error("input_type: repo\nrepo_path: r\nentry_file: e.py\nentry_class: C\ninputs: 5\n",
                 "line 5: 'inputs' must be a list (or a mapping");
    expect_error("input_type: repo\nrepo_path: r\nentry_file: e.py\nentry_class: C\ninputs: [1]\n"
                 "init_args: {a: 1}\n", "line 6: 'init_args' must be a list");
    expect_error("input_type: repo\nrepo_path: r\nentry_file: e.py\nentry_class: C\ninputs: [1]\nmodel: m.py\n",
                 "not model or models");
    expect_error("model: m.py\nentry_class: C\n", "are for input_type repo");
}

static void bad_numbers_are_errors(void **state) {
    (void)state;
    expect_error("model: m.py\nnum_trials: 0\n", "num_trials");
    expect_error("model: m.py\nrtol: -1\n", "rtol");
    expect_error("model: m.py\natol: x\n", "atol");
}

static void invalid_yaml_is_an_error(void **state) {
    (void)state;
    expect_error("model: [unclosed\n", "job.yaml");
    expect_error("- just\n- a list\n", "mapping");
}

static void name_with_several_models_is_an_error(void **state) {
    (void)state;
    expect_error("models: [a.py, b.py]\nname: x\n", "one model");
}

static void job_runs_every_model_into_one_json_object(void **state) {
    (void)state;
    char *tmp = make_temp_dir();
    put_file(tmp, "m/a.py", "a");
    put_file(tmp, "m/b.py", "b");
    char *text = xasprintf("models_dir: %s/m\nmodels: [a.py, b.py]\noutput_dir: %s/out/{model_name}\n"
                           "num_trials: 2\n", tmp, tmp);
    put_file(tmp, "job.yaml", text);
    free(text);
    char *jobp = path_join(tmp, "job.yaml");
    fake f = {0};
    f.fail_step = "/.b.partial-";
    glue g = {fake_call, &f};
    char *ob = NULL, *lb = NULL;
    size_t ol, ll;
    FILE *out = open_memstream(&ob, &ol), *log = open_memstream(&lb, &ll);
    run_env env = {out, log, &g, "/usr/bin/python3", "t"};
    cli_args a = {0};
    a.cmd = CMD_JOB;
    a.model = jobp;
    a.json = 1;
    a.num_trials = 3;
    int code = job_run(&a, &env);
    fclose(out);
    fclose(log);
    assert_int_equal(code, 1);                    /* b failed: the worst wins */
    json_t *o = json_loads(ob, 0, NULL);
    if (!o) fail_msg("not one JSON object: %s", ob);
    assert_string_equal(json_str(o, "status"), "FAIL");
    json_t *models = json_object_get(o, "models");
    assert_int_equal(json_array_size(models), 2);
    assert_string_equal(json_str(json_array_get(models, 0), "status"), "PASS");
    assert_string_equal(json_str(json_array_get(models, 1), "status"), "FAIL");
    assert_true(exists_in(tmp, "out/a/decomposition_tree.json"));
    assert_true(exists_in(tmp, "out/b/decomposition_tree.json"));
    json_t *v = calls_to(&f, "verify_steps");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 0), "num_trials")), 2);
    json_decref(v);
    json_decref(o);
    json_decref(f.calls);
    free(ob);
    free(lb);
    free(jobp);
    rm_rf(tmp, NULL);
    free(tmp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(job_with_one_model_reads_every_field),
        cmocka_unit_test(models_list_is_joined_to_models_dir),
        cmocka_unit_test(no_output_dir_means_the_default),
        cmocka_unit_test(unknown_field_is_an_error),
        cmocka_unit_test(job_without_model_is_an_error),
        cmocka_unit_test(unsupported_input_type_is_an_error),
        cmocka_unit_test(huggingface_job_passes_its_class_config_and_inputs_on),
        cmocka_unit_test(huggingface_job_errors_name_the_field),
        cmocka_unit_test(repo_job_passes_its_arguments_on_as_json),
        cmocka_unit_test(repo_job_errors_name_the_field),
        cmocka_unit_test(bad_numbers_are_errors),
        cmocka_unit_test(invalid_yaml_is_an_error),
        cmocka_unit_test(name_with_several_models_is_an_error),
        cmocka_unit_test(job_runs_every_model_into_one_json_object),
    };
    return cmocka_run_group_tests_name("job", tests, NULL, NULL);
}
