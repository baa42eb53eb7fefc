/* test_mcp.c - the MCP server against a fake glue: the JSON-RPC envelope,
 * tools/list's schemas, a tool call that runs its command, and arguments the
 * command line would refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake_glue.h"
#include "mcp.h"
#include "test_helpers.h"

typedef struct {
    char *tmp;
    fake_env fe;
} ctx;

static int setup(void **state) {
    ctx *c = xcalloc(1, sizeof *c);
    c->tmp = make_temp_dir();
    put_file(c->tmp, "s/original.py", "o");
    put_file(c->tmp, "s/refactored.py", "r");
    fake_env_open(&c->fe);
    *state = c;
    return 0;
}

static int teardown(void **state) {
    ctx *c = *state;
    fake_env_close(&c->fe);
    rm_rf(c->tmp, NULL);
    free(c->tmp);
    free(c);
    return 0;
}

static json_t *handle(ctx *c, const char *text) {
    json_t *msg = json_loads(text, 0, NULL);
    assert_non_null(msg);
    json_t *reply = mcp_handle(msg, &c->fe.env);
    json_decref(msg);
    return reply;
}

/* tools/call `name` with `args` (JSON text); returns the result object. */
static json_t *call(ctx *c, const char *name, const char *args) {
    char *text = xasprintf("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                           "\"params\":{\"name\":\"%s\",\"arguments\":%s}}", name, args);
    json_t *reply = handle(c, text);
    free(text);
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), 7);
    json_t *result = json_incref(json_object_get(reply, "result"));
    assert_non_null(result);
    json_decref(reply);
    return result;
}

static const char *result_text(const json_t *result) {
    return json_str(json_array_get(json_object_get(result, "content"), 0), "text");
}

static void initialize_answers_the_version_asked_for_and_names_the_server(void **state) {
    ctx *c = *state;
    json_t *r = handle(c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                          "{\"protocolVersion\":\"2024-11-05\",\"capabilities\":{},"
                          "\"clientInfo\":{\"name\":\"t\",\"version\":\"0\"}}}");
    json_t *res = json_object_get(r, "result");
    assert_string_equal(json_str(r, "jsonrpc"), "2.0");
    assert_string_equal(json_str(res, "protocolVersion"), "2024-11-05");
    assert_string_equal(json_str(json_object_get(res, "serverInfo"), "name"), "decompose");
    assert_non_null(json_object_get(json_object_get(res, "capabilities"), "tools"));
    json_decref(r);
    r = handle(c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":"
                  "{\"protocolVersion\":\"1999-01-01\"}}");
    assert_string_equal(json_str(json_object_get(r, "result"), "protocolVersion"), "2025-06-18");
    json_decref(r);
}

static void notifications_and_responses_get_no_reply(void **state) {
    ctx *c = *state;
    assert_null(handle(c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"));
    assert_null(handle(c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}"));
}

static void tools_list_gives_four_tools_with_strict_schemas(void **state) {
    ctx *c = *state;
    json_t *r = handle(c, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\"}");
    assert_string_equal(json_str(r, "id"), "a");
    json_t *tools = json_object_get(json_object_get(r, "result"), "tools");
    assert_int_equal(json_array_size(tools), 4);
    const char *names[] = {"decompose", "verify_step", "extract_ops", "check"};
    for (size_t i = 0; i < 4; i++) {
        json_t *t = json_array_get(tools, i);
        assert_string_equal(json_str(t, "name"), names[i]);
        json_t *schema = json_object_get(t, "inputSchema");
        assert_true(json_is_false(json_object_get(schema, "additionalProperties")));
        assert_true(json_array_size(json_object_get(schema, "required")) >= 1);
    }
    json_t *children = json_object_get(json_object_get(json_object_get(
        json_array_get(tools, 2), "inputSchema"), "properties"), "children");
    assert_string_equal(json_str(children, "type"), "array");
    /* a folder's and a Hugging Face model take the flags of the command line as arguments */
    json_t *props = json_object_get(json_object_get(json_array_get(tools, 0), "inputSchema"), "properties");
    for (size_t i = 0; i < 6; i++) {
        const char *arg = (const char *[]){"entry_file", "entry_class", "init_args", "inputs", "model_class",
                                           "config"}[i];
        assert_string_equal(json_str(json_object_get(props, arg), "type"), "string");
    }
    json_decref(r);
}

static void unknown_methods_and_tools_are_jsonrpc_errors(void **state) {
    ctx *c = *state;
    json_t *r = handle(c, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"resources/list\"}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")), -32601);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 4);
    json_decref(r);
    r = handle(c, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"rm\"}}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")), -32602);
    json_decref(r);
    r = handle(c, "[1, 2]");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")), -32600);
    assert_true(json_is_null(json_object_get(r, "id")));
    json_decref(r);
}

static void a_tool_call_runs_its_command_with_the_arguments_given(void **state) {
    ctx *c = *state;
    char *args = xasprintf("{\"original\":\"%s/s/original.py\",\"refactored\":\"%s/s/refactored.py\","
                           "\"num_trials\":5,\"rtol\":0.001}", c->tmp, c->tmp);
    json_t *res = call(c, "verify_step", args);
    assert_true(json_is_false(json_object_get(res, "isError")));
    json_t *obj = json_object_get(res, "structuredContent");
    assert_string_equal(json_str(obj, "status"), "PASS");
    json_t *text = json_loads(result_text(res), 0, NULL);
    assert_true(json_equal(text, obj));
    json_t *v = calls_to(&c->fe.f, "verify_step");
    assert_int_equal(json_array_size(v), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(v, 0), "num_trials")), 5);
    fflush(c->fe.outf);
    assert_int_equal(c->fe.outlen, 0);     /* the command's JSON went into the result, not out */
    json_decref(v);
    json_decref(text);
    json_decref(res);
    free(args);
}

static void a_failed_verification_is_a_result_and_an_error_is_marked(void **state) {
    ctx *c = *state;
    c->fe.f.fail_step = "original.py";
    char *args = xasprintf("{\"original\":\"%s/s/original.py\",\"refactored\":\"%s/s/refactored.py\"}",
                           c->tmp, c->tmp);
    json_t *res = call(c, "verify_step", args);
    assert_true(json_is_false(json_object_get(res, "isError")));
    assert_string_equal(json_str(json_object_get(res, "structuredContent"), "status"), "FAIL");
    json_decref(res);
    free(args);
    res = call(c, "check", "{\"dir\":\"/nonexistent/out\"}");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_string_equal(json_str(json_object_get(res, "structuredContent"), "status"), "ERROR");
    json_decref(res);
}

static void arguments_the_command_line_would_refuse_are_tool_errors(void **state) {
    ctx *c = *state;
    struct {
        const char *tool, *args, *says;
    } cases[] = {
        {"verify_step", "{\"original\":\"a.py\"}", "'refactored' is required"},
        {"verify_step", "{\"original\":\"a.py\",\"refactored\":\"b.py\",\"num_trials\":\"3\"}",
         "'num_trials' must be an integer"},
        {"decompose", "{\"model\":\"m.py\",\"num_trials\":0}", "from 1 to 1000000"},
        {"decompose", "{\"model\":\"m.py\",\"verbose\":true}", "unknown argument 'verbose'"},
        {"extract_ops", "{\"model\":\"m.py\"}", "one of '--decomp-dir' or '--children'"},
        {"extract_ops", "{\"model\":\"m.py\",\"children\":[1]}", "a non-empty list of strings"},
        {"check", "[]", "arguments must be an object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *res = call(c, cases[i].tool, cases[i].args);
        assert_true(json_is_true(json_object_get(res, "isError")));
        if (!strstr(result_text(res), cases[i].says)) fail_msg("%s %s: %s", cases[i].tool, cases[i].args,
                                                               result_text(res));
        json_decref(res);
    }
    assert_null(c->fe.f.calls);     /* none reached Python */
}

static void serve_answers_line_by_line_and_survives_bad_json(void **state) {
    ctx *c = *state;
    const char *input =
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n"
        "\n"
        "{not json\n"
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\r\n";
    FILE *in = fmemopen((void *)input, strlen(input), "r");
    assert_int_equal(mcp_serve(in, &c->fe.env), 0);
    fclose(in);
    fflush(c->fe.outf);
    char *save = NULL;
    char *lines[4] = {0};
    int n = 0;
    for (char *l = strtok_r(c->fe.outbuf, "\n", &save); l && n < 4; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    assert_int_equal(n, 3);
    json_t *ping = json_loads(lines[0], 0, NULL), *bad = json_loads(lines[1], 0, NULL),
           *list = json_loads(lines[2], 0, NULL);
    assert_true(json_is_object(json_object_get(ping, "result")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(bad, "error"), "code")), -32700);
    assert_int_equal(json_integer_value(json_object_get(list, "id")), 2);
    json_decref(ping);
    json_decref(bad);
    json_decref(list);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(initialize_answers_the_version_asked_for_and_names_the_server, setup, teardown),
        cmocka_unit_test_setup_teardown(notifications_and_responses_get_no_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(tools_list_gives_four_tools_with_strict_schemas, setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_methods_and_tools_are_jsonrpc_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(a_tool_call_runs_its_command_with_the_arguments_given, setup, teardown),
        cmocka_unit_test_setup_teardown(a_failed_verification_is_a_result_and_an_error_is_marked, setup, teardown),
        cmocka_unit_test_setup_teardown(arguments_the_command_line_would_refuse_are_tool_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(serve_answers_line_by_line_and_survives_bad_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
