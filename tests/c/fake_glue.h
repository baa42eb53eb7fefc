/* fake_glue.h - a glue with canned replies, for driving the pipeline and
 * the commands without Python. It records every call (function name and
 * request) so tests can look at what the C side asked for. */
#ifndef DECOMPOSE_FAKE_GLUE_H
#define DECOMPOSE_FAKE_GLUE_H

#include <string.h>

#include "glue.h"
#include "report.h"
#include "util.h"

typedef struct {
    const char *plan_text;          /* the plan reply; NULL: the default below */
    const char *bad_input_on;       /* api function answering {ok: false} */
    const char *raise_on;           /* api function "raising" (call fails) */
    const char *fail_step;          /* verify FAIL when the original path has this */
    const char *verify_status;      /* force this verify status (e.g. "ERROR") */
    const char *component_fail;     /* run_component FAIL when the path has this */
    int composition_fail;
    const char *coverage_status;    /* extract_ops status; default FULL_COVERAGE */
    int unchecked_trace;            /* a plan not asked to check its trace says it did not */
    int wrong_trace;                /* ... and its root step (step_1_) fails */
    int plan_checked;               /* the last plan request asked for check_trace */
    json_t *calls;                  /* [{func, request}] */
} fake;

/* model -> (fusion fc_relu -> linear, relu), relu; two steps. */
static const char *FAKE_PLAN =
    "{\"ok\": true, \"model_name\": \"net\", \"source_file\": \"/x/net.py\", \"source_level\": \"level2\","
    " \"trace_method\": \"symbolic\", \"root\": \"root\","
    " \"nodes\": ["
    "  {\"id\": \"root\", \"name\": \"Model\", \"level\": \"model\", \"path\": \"level_3_model/net.py\","
    "   \"children\": [\"fc_relu\", \"relu_fp32\"], \"instance_count\": 1},"
    "  {\"id\": \"fc_relu\", \"level\": \"fusion\", \"path\": \"level_1_fusion/fc_relu.py\","
    "   \"children\": [\"linear_8x4_fp32\", \"relu_fp32\"], \"instance_count\": 1},"
    "  {\"id\": \"linear_8x4_fp32\", \"level\": \"kernel\", \"path\": \"level_0_kernel/linear_8x4_fp32.py\","
    "   \"children\": [], \"instance_count\": 1},"
    "  {\"id\": \"relu_fp32\", \"level\": \"kernel\", \"path\": \"level_0_kernel/relu_fp32.py\","
    "   \"children\": [], \"instance_count\": 2}],"
    " \"data_flow\": [{\"from\": \"root\", \"to\": \"fc_relu\", \"shape\": [8, 4], \"dtype\": \"float32\"}],"
    " \"files\": ["
    "  {\"path\": \"level_3_model/net.py\", \"content\": \"model\\n\"},"
    "  {\"path\": \"level_1_fusion/fc_relu.py\", \"content\": \"fusion\\n\"},"
    "  {\"path\": \"level_0_kernel/linear_8x4_fp32.py\", \"content\": \"linear\\n\"},"
    "  {\"path\": \"level_0_kernel/relu_fp32.py\", \"content\": \"relu\\n\"},"
    "  {\"path\": \"verification/composition_test.py\", \"content\": \"comp\\n\"},"
    "  {\"path\": \"decomposition_analysis.md\", \"content\": \"# net\\n\"},"
    "  {\"path\": \"decomposition_log.json\", \"content\": \"{}\\n\"}],"
    " \"steps\": ["
    "  {\"name\": \"step_1_model_to_fusions\", \"parent\": \"root\", \"depth\": 1, \"files\": ["
    "    {\"path\": \"steps/step_1_model_to_fusions/original.py\", \"content\": \"o1\"},"
    "    {\"path\": \"steps/step_1_model_to_fusions/refactored.py\", \"content\": \"r1\"},"
    "    {\"path\": \"steps/step_1_model_to_fusions/children/fc_relu.py\", \"content\": \"c\"},"
    "    {\"path\": \"steps/step_1_model_to_fusions/children/relu_fp32.py\", \"content\": \"c\"},"
    "    {\"path\": \"steps/step_1_model_to_fusions/children/__init__.py\", \"content\": \"\"},"
    "    {\"path\": \"steps/step_1_model_to_fusions/weight_map.json\", \"content\": \"{}\"}]},"
    "  {\"name\": \"step_2_fc_relu_to_kernels\", \"parent\": \"fc_relu\", \"depth\": 2, \"files\": ["
    "    {\"path\": \"steps/step_2_fc_relu_to_kernels/original.py\", \"content\": \"o2\"},"
    "    {\"path\": \"steps/step_2_fc_relu_to_kernels/refactored.py\", \"content\": \"r2\"},"
    "    {\"path\": \"steps/step_2_fc_relu_to_kernels/children/linear_8x4_fp32.py\", \"content\": \"c\"},"
    "    {\"path\": \"steps/step_2_fc_relu_to_kernels/children/relu_fp32.py\", \"content\": \"c\"}]}],"
    " \"component_files\": [\"level_3_model/net.py\", \"level_1_fusion/fc_relu.py\","
    "   \"level_0_kernel/linear_8x4_fp32.py\", \"level_0_kernel/relu_fp32.py\"],"
    " \"composition_test\": \"verification/composition_test.py\"}";

static const char *req_path(json_t *req, const char *key) {
    const char *s = json_str(req, key);
    return s ? s : "";
}

/* One verify_step reply for a request {original, refactored, ...}. */
static json_t *fake_verify(fake *f, json_t *req) {
    const char *orig = req_path(req, "original");
    int fail = (f->fail_step && strstr(orig, f->fail_step)) ||
               (f->wrong_trace && !f->plan_checked && strstr(orig, "step_1_"));
    const char *st = f->verify_status ? f->verify_status : fail ? "FAIL" : "PASS";
    json_t *res = json_pack(
        "{s:s, s:s, s:s, s:{s:s, s:[]}, s:{s:s, s:i}, s:{s:s, s:f, s:f, s:[{s:i, s:f, s:b}, {s:i, s:f, s:b}]}}",
        "status", st, "original_file", orig, "refactored_file", req_path(req, "refactored"),
        "anticheat", "status", fail ? "FAIL" : "PASS", "violations",
        "weight_transfer", "status", "OK", "mapped_count", 2,
        "numerical_comparison", "status", st, "rtol", 1e-5, "atol", 1e-6, "trials",
        "seed", 42, "max_diff", 1e-7, "pass", !fail, "seed", 43, "max_diff", 2e-7, "pass", !fail);
    if (fail)
        json_array_append_new(json_object_get(json_object_get(res, "anticheat"), "violations"),
                  json_pack("{s:s, s:i, s:s}", "pattern", "torch.relu", "line_number", 12,
                        "line_text", "return torch.relu(x)"));
    if (!strcmp(st, "ERROR")) json_object_set_new(res, "error", json_string("Failed to load original: boom"));
    return json_pack("{s:b, s:s, s:o}", "ok", 1, "status", st, "result", res);
}

static int fake_call(void *ctx, const char *func, json_t *req, json_t **reply, char **err) {
    fake *f = ctx;
    if (!f->calls) f->calls = json_array();
    json_array_append_new(f->calls, json_pack("{s:s, s:O}", "func", func, "request", req));
    if (f->raise_on && strcmp(f->raise_on, func) == 0) {
        set_error(err, "internal error in api.%s: RuntimeError: fake", func);
        return -1;
    }
    if (f->bad_input_on && strcmp(f->bad_input_on, func) == 0) {
        const char *file = json_str(req, "model_path");
        if (!file) file = json_str(req, "model");
        if (!file) file = json_str(req, "original");
        if (!file) file = json_str(req, "path");
        *reply = json_pack("{s:b, s:s, s:s, s:s}", "ok", 0, "kind", "bad_input", "file", file ? file : "?",
                           "message", "no class Model");
        return 0;
    }
    if (!strcmp(func, "plan")) {
        *reply = json_loads(f->plan_text ? f->plan_text : FAKE_PLAN, 0, NULL);
        if (!*reply) {
            set_error(err, "bad fake plan");
            return -1;
        }
        f->plan_checked = json_is_true(json_object_get(req, "check_trace"));
        if (f->unchecked_trace && !f->plan_checked)
            json_object_set_new(*reply, "trace_checked", json_false());
        return 0;
    }
    if (!strcmp(func, "verify_step")) {
        *reply = fake_verify(f, req);
        return 0;
    }
    if (!strcmp(func, "verify_steps")) {
        json_t *results = json_array();
        size_t i;
        json_t *step;
        json_array_foreach(json_object_get(req, "steps"), i, step) json_array_append_new(results, fake_verify(f, step));
        *reply = json_pack("{s:b, s:o}", "ok", 1, "results", results);
        return 0;
    }
    if (!strcmp(func, "extract_ops")) {
        const char *st = f->coverage_status ? f->coverage_status : "FULL_COVERAGE";
        double pct = !strcmp(st, "FULL_COVERAGE") ? 100.0 : 87.5;
        *reply = json_pack("{s:b, s:s, s:{s:s, s:s, s:{s:f, s:i, s:i}}}", "ok", 1, "status", st, "result",
                           "status", st, "model_file", req_path(req, "model"), "coverage", "coverage_pct", pct,
                           "total_original_ops", 8, "covered_op_count", pct == 100.0 ? 8 : 7);
        return 0;
    }
    if (!strcmp(func, "run_component")) {
        int fail = f->component_fail && strstr(req_path(req, "path"), f->component_fail);
        /* the glue runs on meta only when asked, and never a failure there */
        int meta = json_is_true(json_object_get(req, "on_meta")) && !fail;
        *reply = json_pack("{s:b, s:s, s:s, s:s}", "ok", 1, "status", fail ? "FAIL" : "PASS", "message",
                           fail ? "FAIL: output shape (8, 3) != (8, 4)" : "PASS", "device",
                           meta ? "meta" : "cpu");
        return 0;
    }
    if (!strcmp(func, "run_composition")) {
        *reply = json_pack("{s:b, s:s, s:f, s:[]}", "ok", 1, "status", f->composition_fail ? "FAIL" : "PASS",
                           "max_diff", f->composition_fail ? 0.5 : 0.0, "trials");
        return 0;
    }
    if (!strcmp(func, "run_repl")) {
        *reply = json_pack("{s:b, s:s}", "ok", 1, "status", "DONE");
        return 0;
    }
    set_error(err, "fake glue: no function %s", func);
    return -1;
}

/* A run_env over a fake glue, its out and log captured in memory, its
 * timestamp pinned: what every command test runs against. It must not move
 * once opened (env points at g, g at f). */
typedef struct {
    fake f;
    glue g;
    char *outbuf, *logbuf;
    size_t outlen, loglen;
    FILE *outf, *logf;
    run_env env;
} fake_env;

static inline void fake_env_open(fake_env *e) {
    e->g = (glue){fake_call, &e->f};
    e->outf = open_memstream(&e->outbuf, &e->outlen);
    e->logf = open_memstream(&e->logbuf, &e->loglen);
    e->env = (run_env){e->outf, e->logf, &e->g, "/usr/bin/python3", "2024-01-02T03:04:05Z"};
}

static inline void fake_env_close(fake_env *e) {
    fclose(e->outf);
    fclose(e->logf);
    free(e->outbuf);
    free(e->logbuf);
    json_decref(e->f.calls);
}

/* Calls to one api function, in order. */
static json_t *calls_to(fake *f, const char *func) {
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(f->calls, i, c)
        if (!strcmp(json_str(c, "func"), func)) json_array_append(out, json_object_get(c, "request"));
    return out;
}

#endif
