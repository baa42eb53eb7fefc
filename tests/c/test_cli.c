/* test_cli.c - the command line: every command, its defaults, every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"

static cli_args args;
static char err[256];

/* Parse a NULL-terminated list of arguments (argv[0] is added). */
static int parse(const char *first, ...) {
    static char *argv[64];
    int argc = 0;
    argv[argc++] = "decompose";
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *)) argv[argc++] = (char *)s;
    va_end(ap);
    argv[argc] = NULL;
    cli_free(&args);
    return cli_parse(argc, argv, &args, err, sizeof err);
}

static int teardown(void **state) {
    (void)state;
    cli_free(&args);
    return 0;
}

static void help_flag_anywhere_means_help(void **state) {
    (void)state;
    assert_int_equal(parse("--help", NULL), 0);
    assert_int_equal(args.cmd, CMD_HELP);
    assert_int_equal(parse("-h", NULL), 0);
    assert_int_equal(args.cmd, CMD_HELP);
    assert_int_equal(parse("verify-step", "--help", NULL), 0);
    assert_int_equal(args.cmd, CMD_HELP);
    assert_int_equal(parse("model.py", "--bogus", "--help", NULL), 0);
    assert_int_equal(args.cmd, CMD_HELP);
}

static void version_flag_means_version(void **state) {
    (void)state;
    assert_int_equal(parse("--version", NULL), 0);
    assert_int_equal(args.cmd, CMD_VERSION);
}

static void model_run_has_defaults(void **state) {
    (void)state;
    assert_int_equal(parse("data/level2/m.py", NULL), 0);
    assert_int_equal(args.cmd, CMD_RUN);
    assert_string_equal(args.model, "data/level2/m.py");
    assert_null(args.output);
    assert_null(args.name);
    assert_null(args.source_level);
    assert_int_equal(args.json, 0);
    assert_int_equal(args.num_trials, 3);
    assert_int_equal(args.num_trials_set, 0);
    assert_int_equal(args.rtol_set, 0);
    assert_int_equal(args.atol_set, 0);
}

static void model_run_takes_every_flag(void **state) {
    (void)state;
    assert_int_equal(parse("--json", "m.py", "-o", "out", "--num-trials", "5", "--rtol", "1e-4",
                           "--atol=2.5e-6", "--source-level", "level9", "--name=net", NULL), 0);
    assert_int_equal(args.cmd, CMD_RUN);
    assert_string_equal(args.model, "m.py");
    assert_string_equal(args.output, "out");
    assert_int_equal(args.json, 1);
    assert_int_equal(args.num_trials, 5);
    assert_int_equal(args.num_trials_set, 1);
    assert_true(args.rtol_set && args.atol_set);
    assert_true(args.rtol == 1e-4);
    assert_true(args.atol == 2.5e-6);
    assert_string_equal(args.source_level, "level9");
    assert_string_equal(args.name, "net");
    assert_int_equal(parse("m.py", "--output=o2", NULL), 0);
    assert_string_equal(args.output, "o2");
}

static void double_dash_allows_a_dash_named_model(void **state) {
    (void)state;
    assert_int_equal(parse("--json", "--", "-odd.py", NULL), 0);
    assert_string_equal(args.model, "-odd.py");
}

static void yaml_file_is_a_job(void **state) {
    (void)state;
    assert_int_equal(parse("jobs/vgg.yaml", "--json", NULL), 0);
    assert_int_equal(args.cmd, CMD_JOB);
    assert_int_equal(parse("jobs/vgg.yml", NULL), 0);
    assert_int_equal(args.cmd, CMD_JOB);
}

static void job_rejects_single_model_flags(void **state) {
    (void)state;
    assert_int_equal(parse("job.yaml", "--name", "x", NULL), -1);
    assert_non_null(strstr(err, "--name"));
}

static void verify_step_takes_its_flags(void **state) {
    (void)state;
    assert_int_equal(parse("verify-step", "--original", "o.py", "--refactored", "r.py", "--weight-map",
                           "w.json", "--output", "res.json", "--rtol", "0.001", "--atol", "0",
                           "--num-trials", "7", "--json", NULL), 0);
    assert_int_equal(args.cmd, CMD_VERIFY_STEP);
    assert_string_equal(args.original, "o.py");
    assert_string_equal(args.refactored, "r.py");
    assert_string_equal(args.weight_map, "w.json");
    assert_string_equal(args.output, "res.json");
    assert_true(args.rtol == 0.001 && args.atol == 0.0 && args.atol_set);
    assert_int_equal(args.num_trials, 7);
    assert_int_equal(args.json, 1);
}

static void verify_step_requires_original_and_refactored(void **state) {
    (void)state;
    assert_int_equal(parse("verify-step", "--refactored", "r.py", NULL), -1);
    assert_non_null(strstr(err, "--original"));
    assert_int_equal(parse("verify-step", "--original", "o.py", NULL), -1);
    assert_non_null(strstr(err, "--refactored"));
}

static void verify_step_rejects_positional(void **state) {
    (void)state;
    assert_int_equal(parse("verify-step", "--original", "o.py", "--refactored", "r.py", "extra", NULL), -1);
    assert_non_null(strstr(err, "extra"));
}

static void extract_ops_takes_children_list(void **state) {
    (void)state;
    assert_int_equal(parse("extract-ops", "--model", "m.py", "--children", "a.py", "b.py", "c.py",
                           "--output", "cov.json", NULL), 0);
    assert_int_equal(args.cmd, CMD_EXTRACT_OPS);
    assert_string_equal(args.model, "m.py");
    assert_int_equal(args.nchildren, 3);
    assert_string_equal(args.children[0], "a.py");
    assert_string_equal(args.children[2], "c.py");
    assert_string_equal(args.output, "cov.json");
}

static void extract_ops_takes_decomp_dir(void **state) {
    (void)state;
    assert_int_equal(parse("extract-ops", "--model", "m.py", "--decomp-dir", "out/", "--json", NULL), 0);
    assert_string_equal(args.decomp_dir, "out/");
    assert_int_equal(args.nchildren, 0);
}

static void extract_ops_needs_exactly_one_source(void **state) {
    (void)state;
    assert_int_equal(parse("extract-ops", "--model", "m.py", NULL), -1);
    assert_non_null(strstr(err, "--decomp-dir"));
    assert_int_equal(parse("extract-ops", "--model", "m.py", "--decomp-dir", "d", "--children", "a.py", NULL), -1);
    assert_non_null(strstr(err, "together"));
    assert_int_equal(parse("extract-ops", "--decomp-dir", "d", NULL), -1);
    assert_non_null(strstr(err, "--model"));
    assert_int_equal(parse("extract-ops", "--model", "m.py", "--children", NULL), -1);
    assert_non_null(strstr(err, "at least one"));
}

static void check_takes_a_folder(void **state) {
    (void)state;
    assert_int_equal(parse("check", "out/level2/m", "--json", NULL), 0);
    assert_int_equal(args.cmd, CMD_CHECK);
    assert_string_equal(args.dir, "out/level2/m");
    assert_int_equal(args.json, 1);
}

static void repl_is_a_model_run_flag_without_json(void **state) {
    (void)state;
    assert_int_equal(parse("m.py", "--repl", NULL), 0);
    assert_int_equal(args.repl, 1);
    cli_free(&args);
    assert_int_equal(parse("m.py", "--repl", "--json", NULL), -1);
    assert_non_null(strstr(err, "cannot be used together"));
    cli_free(&args);
    assert_int_equal(parse("job.yaml", "--repl", NULL), -1);
    cli_free(&args);
    assert_int_equal(parse("check", "out", "--repl", NULL), -1);
}

static void a_folders_model_takes_its_entry_and_arguments(void **state) {
    (void)state;
    assert_int_equal(parse("models/tiny_lm", "--entry-file", "modeling_tiny.py", "--entry-class", "TinyLM",
                           "--init-args", "[64]", "--inputs", "[{\"shape\": [2, 3]}]", "--name", "tiny", NULL), 0);
    assert_int_equal(args.cmd, CMD_RUN);
    assert_string_equal(args.model, "models/tiny_lm");
    assert_string_equal(args.entry_file, "modeling_tiny.py");
    assert_string_equal(args.entry_class, "TinyLM");
    assert_string_equal(args.init_args, "[64]");
    assert_string_equal(args.inputs, "[{\"shape\": [2, 3]}]");
    cli_free(&args);
    /* one of them alone says what else it needs */
    assert_int_equal(parse("models/tiny_lm", "--entry-class", "TinyLM", NULL), -1);
    assert_non_null(strstr(err, "needs '--entry-file', '--entry-class' and '--inputs'"));
    cli_free(&args);
    assert_int_equal(parse("models/tiny_lm", "--entry-file", "m.py", "--entry-class", "C", "--inputs", "[1]",
                           "--repl", NULL), 0);
    assert_true(args.repl);
    cli_free(&args);
    assert_int_equal(parse("job.yaml", "--entry-class", "C", NULL), -1);  /* set in the job */
    assert_non_null(strstr(err, "does not apply to a job file"));
}

static void a_hugging_face_model_takes_its_class_and_config(void **state) {
    (void)state;
    assert_int_equal(parse("HuggingFaceTB/SmolLM2-135M", "--model-class", "AutoModelForCausalLM",
                           "--config", "{\"num_hidden_layers\": 2}", NULL), 0);
    assert_int_equal(args.cmd, CMD_RUN);
    assert_string_equal(args.model, "HuggingFaceTB/SmolLM2-135M");
    assert_string_equal(args.model_class, "AutoModelForCausalLM");
    assert_string_equal(args.hf_config, "{\"num_hidden_layers\": 2}");
    assert_null(args.inputs);  /* from the config, unless given */
    cli_free(&args);
    assert_int_equal(parse("gpt2", "--model-class", "GPT2Model", "--inputs", "{}", NULL), 0);
    cli_free(&args);
    assert_int_equal(parse("gpt2", "--model-class", "GPT2Model", "--entry-file", "m.py", NULL), -1);
    assert_non_null(strstr(err, "cannot be used together"));
    cli_free(&args);
    assert_int_equal(parse("gpt2", "--config", "{}", NULL), -1);
    assert_non_null(strstr(err, "it needs '--model-class'"));
}

static void mcp_takes_nothing_else(void **state) {
    (void)state;
    assert_int_equal(parse("mcp", NULL), 0);
    assert_int_equal(args.cmd, CMD_MCP);
    cli_free(&args);
    assert_int_equal(parse("mcp", "--json", NULL), -1);
    assert_non_null(strstr(err, "does not apply to mcp"));
    cli_free(&args);
    assert_int_equal(parse("mcp", "model.py", NULL), -1);
    assert_non_null(strstr(err, "unexpected argument"));
}

static void check_requires_a_folder(void **state) {
    (void)state;
    assert_int_equal(parse("check", NULL), -1);
    assert_non_null(strstr(err, "check"));
}

static void subcommand_is_only_the_first_argument(void **state) {
    (void)state;
    /* "check" after a model is a second positional, not a command */
    assert_int_equal(parse("m.py", "check", NULL), -1);
    assert_non_null(strstr(err, "unexpected argument 'check'"));
}

static void unknown_option_is_an_error(void **state) {
    (void)state;
    assert_int_equal(parse("m.py", "--frobnicate", NULL), -1);
    assert_non_null(strstr(err, "unknown option '--frobnicate'"));
    assert_int_equal(parse("m.py", "--num-trialsx=3", NULL), -1);
    assert_non_null(strstr(err, "--num-trialsx"));
}

static void missing_value_is_an_error(void **state) {
    (void)state;
    assert_int_equal(parse("m.py", "-o", NULL), -1);
    assert_non_null(strstr(err, "needs a value"));
    assert_int_equal(parse("m.py", "--rtol=", NULL), -1);
    assert_non_null(strstr(err, "non-empty"));
}

static void bad_numbers_are_errors(void **state) {
    (void)state;
    const char *bad_int[] = {"0", "-1", "abc", "3x", "1.5", "99999999999"};
    for (size_t i = 0; i < sizeof bad_int / sizeof *bad_int; i++) {
        assert_int_equal(parse("m.py", "--num-trials", bad_int[i], NULL), -1);
        assert_non_null(strstr(err, "--num-trials"));
    }
    const char *bad_real[] = {"-1e-5", "nan", "inf", "1e-5x", "x", "1e999"};
    for (size_t i = 0; i < sizeof bad_real / sizeof *bad_real; i++) {
        assert_int_equal(parse("m.py", "--atol", bad_real[i], NULL), -1);
        assert_non_null(strstr(err, "--atol"));
    }
}

static void option_of_another_command_is_an_error(void **state) {
    (void)state;
    assert_int_equal(parse("m.py", "--original", "o.py", NULL), -1);
    assert_non_null(strstr(err, "does not apply"));
    assert_int_equal(parse("verify-step", "--name", "x", "--original", "o", "--refactored", "r", NULL), -1);
    assert_non_null(strstr(err, "does not apply to verify-step"));
    assert_int_equal(parse("check", "d", "--output", "x", NULL), -1);
    assert_int_equal(parse("extract-ops", "--model", "m", "--decomp-dir", "d", "--rtol", "1", NULL), -1);
}

static void flag_with_value_is_an_error(void **state) {
    (void)state;
    assert_int_equal(parse("m.py", "--json=yes", NULL), -1);
    assert_non_null(strstr(err, "takes no value"));
}

static void missing_model_is_an_error(void **state) {
    (void)state;
    assert_int_equal(parse(NULL), -1);
    assert_non_null(strstr(err, "no model file"));
    assert_int_equal(parse("--json", NULL), -1);
}

static void two_models_are_an_error(void **state) {
    (void)state;
    assert_int_equal(parse("a.py", "b.py", NULL), -1);
    assert_non_null(strstr(err, "b.py"));
}

static void unsafe_names_are_errors(void **state) {
    (void)state;
    assert_int_equal(parse("m.py", "--name", "../x", NULL), -1);
    assert_int_equal(parse("m.py", "--name", "..", NULL), -1);
    assert_int_equal(parse("m.py", "--source-level", "a/b", NULL), -1);
    assert_non_null(strstr(err, "--source-level"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(help_flag_anywhere_means_help, teardown),
        cmocka_unit_test_teardown(version_flag_means_version, teardown),
        cmocka_unit_test_teardown(model_run_has_defaults, teardown),
        cmocka_unit_test_teardown(model_run_takes_every_flag, teardown),
        cmocka_unit_test_teardown(double_dash_allows_a_dash_named_model, teardown),
        cmocka_unit_test_teardown(yaml_file_is_a_job, teardown),
        cmocka_unit_test_teardown(job_rejects_single_model_flags, teardown),
        cmocka_unit_test_teardown(verify_step_takes_its_flags, teardown),
        cmocka_unit_test_teardown(verify_step_requires_original_and_refactored, teardown),
        cmocka_unit_test_teardown(verify_step_rejects_positional, teardown),
        cmocka_unit_test_teardown(extract_ops_takes_children_list, teardown),
        cmocka_unit_test_teardown(extract_ops_takes_decomp_dir, teardown),
        cmocka_unit_test_teardown(extract_ops_needs_exactly_one_source, teardown),
        cmocka_unit_test_teardown(check_takes_a_folder, teardown),
        cmocka_unit_test_teardown(check_requires_a_folder, teardown),
        cmocka_unit_test_teardown(a_folders_model_takes_its_entry_and_arguments, teardown),
        cmocka_unit_test_teardown(a_hugging_face_model_takes_its_class_and_config, teardown),
        cmocka_unit_test_teardown(mcp_takes_nothing_else, teardown),
        cmocka_unit_test_teardown(repl_is_a_model_run_flag_without_json, teardown),
        cmocka_unit_test_teardown(subcommand_is_only_the_first_argument, teardown),
        cmocka_unit_test_teardown(unknown_option_is_an_error, teardown),
        cmocka_unit_test_teardown(missing_value_is_an_error, teardown),
        cmocka_unit_test_teardown(bad_numbers_are_errors, teardown),
        cmocka_unit_test_teardown(option_of_another_command_is_an_error, teardown),
        cmocka_unit_test_teardown(flag_with_value_is_an_error, teardown),
        cmocka_unit_test_teardown(missing_model_is_an_error, teardown),
        cmocka_unit_test_teardown(two_models_are_an_error, teardown),
        cmocka_unit_test_teardown(unsafe_names_are_errors, teardown),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
