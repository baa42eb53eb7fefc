/* report.c - see report.h. */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

int report_error(const run_env *env, int json, const char *msg) {
    fprintf(env->log, "decompose: error: %s\n", msg);
    fflush(env->log);
    if (json) {
        json_t *o = json_pack("{s:s, s:s}", "status", "ERROR", "error", msg);
        report_json(env, o);
        json_decref(o);
    }
    return 2;
}

void report_json(const run_env *env, const json_t *obj) {
    char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (s) {
        fprintf(env->out, "%s\n", s);
        free(s);
    }
    fflush(env->out);
}

void report_timestamp(const run_env *env, char *buf, size_t len) {
    if (env->timestamp) snprintf(buf, len, "%s", env->timestamp);
    else utc_timestamp(buf, len);
}

double result_max_diff(const json_t *result, int *has) {
    json_t *num = json_object_get(result, "numerical_comparison");
    double best = 0, v;
    int found = 0, nonfinite = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(num, "trials"), i, t) {
        int k = json_diff(t, "max_diff", &v);
        if (k > 0) {
            if (!found || v > best) best = v;
            found = 1;
        } else if (k < 0) {
            nonfinite = 1;
        }
    }
    if (!found && !nonfinite) {
        int k = json_diff(num, "max_diff_across_trials", &v);
        if (k == 0) k = json_diff(num, "max_diff", &v);
        if (k > 0) best = v, found = 1;
        else if (k < 0) nonfinite = 1;
    }
    if (nonfinite) {
        if (has) *has = -1;
        return 0;
    }
    if (has) *has = found;
    return best;
}

int result_num_trials(const json_t *result) {
    json_t *num = json_object_get(result, "numerical_comparison");
    json_t *trials = json_object_get(num, "trials");
    return json_is_array(trials) ? (int)json_array_size(trials) : 0;
}

void fmt_diff(char *buf, size_t len, double d, int has) {
    if (has < 0) snprintf(buf, len, "inf");
    else if (has) snprintf(buf, len, "%.1e", d);
    else snprintf(buf, len, "n/a");
}

/* One anti-cheat violation in words. The reference writes
 * {pattern, line_number, line_text} for source findings and
 * {parameter, reason} for parameters; the glue may add "message". */
static char *violation_text(const json_t *v) {
    if (json_is_string(v)) return xstrdup(json_string_value(v));
    const char *msg = json_str(v, "message");
    if (!msg) msg = json_str(v, "reason");
    if (msg) return xstrdup(msg);
    const char *text = json_str(v, "line_text");
    const char *pat = json_str(v, "pattern");
    json_t *line = json_object_get(v, "line_number");
    if (text && json_is_integer(line))
        return xasprintf("line %lld: %s%s%s%s", (long long)json_integer_value(line), text,
                         pat ? " (matched " : "", pat ? pat : "", pat ? ")" : "");
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    char *r = xstrdup(s ? s : "violation");
    free(s);
    return r;
}

char *result_reason(const json_t *result) {
    char *r = NULL;
    json_t *ac = json_object_get(result, "anticheat");
    json_t *viol = json_object_get(ac, "violations");
    const char *acs = json_str(ac, "status");
    if (json_is_array(viol) && json_array_size(viol) > 0) {
        char *first = violation_text(json_array_get(viol, 0));
        size_t n = json_array_size(viol);
        r = n > 1 ? xasprintf("anti-cheat: %s (and %zu more)", first, n - 1)
                  : xasprintf("anti-cheat: %s", first);
        free(first);
    } else if (acs && strcmp(acs, "FAIL") == 0) {
        r = xstrdup("anti-cheat failed");
    } else if (json_str(result, "error")) {
        r = xstrdup(json_str(result, "error"));
    } else {
        json_t *wt = json_object_get(result, "weight_transfer");
        const char *wts = json_str(wt, "status");
        json_t *un = json_object_get(wt, "unmapped_original");
        if (wts && strcmp(wts, "OK") != 0 && strcmp(wts, "PASS") != 0 && strcmp(wts, "UNKNOWN") != 0) {
            const char *m = json_str(wt, "message");
            if (!m) m = json_str(wt, "error");
            json_t *errs = json_object_get(wt, "errors");
            json_t *left = json_object_get(wt, "unmapped_refactored");
            if (m) {
                r = xasprintf("weight transfer: %s", m);
            } else if (json_array_size(errs) > 0) {
                json_t *e0 = json_array_get(errs, 0);
                char *s = json_is_string(e0) ? xstrdup(json_string_value(e0))
                                             : json_dumps(e0, JSON_COMPACT | JSON_ENCODE_ANY);
                r = xasprintf("weight transfer: %s", s ? s : "error");
                free(s);
            } else if (json_array_size(un) > 0) {
                r = xasprintf("weight transfer: %zu original parameters unmapped (first: %s)",
                              json_array_size(un), json_string_value(json_array_get(un, 0)));
            } else if (json_array_size(left) > 0) {
                r = xasprintf("weight transfer: %zu refactored parameters not filled from the original (first: %s)",
                              json_array_size(left), json_string_value(json_array_get(left, 0)));
            } else {
                r = xasprintf("weight transfer %s", wts);
            }
        }
    }
    if (!r) {
        json_t *num = json_object_get(result, "numerical_comparison");
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(num, "trials"), i, t) {
            const char *e = json_str(t, "error");
            if (e) {
                json_t *seed = json_object_get(t, "seed");
                r = json_is_integer(seed)
                        ? xasprintf("trial %zu (seed %lld): %s", i, (long long)json_integer_value(seed), e)
                        : xasprintf("trial %zu: %s", i, e);
                break;
            }
            json_t *details = json_object_get(t, "output_details");
            size_t k;
            json_t *d;
            json_array_foreach(details, k, d) {
                const char *de = json_str(d, "error");
                if (de) {
                    r = xasprintf("trial %zu: %s", i, de);
                    break;
                }
                if (json_is_false(json_object_get(d, "shape_match"))) {
                    char *os = json_dumps(json_object_get(d, "original_shape"), JSON_COMPACT | JSON_ENCODE_ANY);
                    char *rs = json_dumps(json_object_get(d, "refactored_shape"), JSON_COMPACT | JSON_ENCODE_ANY);
                    r = xasprintf("output %zu shape %s, refactored gives %s", k, os ? os : "?", rs ? rs : "?");
                    free(os);
                    free(rs);
                    break;
                }
            }
            if (r) break;
        }
    }
    if (!r) {
        int has;
        double d = result_max_diff(result, &has);
        json_t *num = json_object_get(result, "numerical_comparison");
        double rtol, atol;
        char diff[32];
        fmt_diff(diff, sizeof diff, d, has);
        if (json_num(num, "rtol", &rtol) == 0 && json_num(num, "atol", &atol) == 0)
            r = xasprintf("outputs differ: max diff %s (rtol %g, atol %g)", diff, rtol, atol);
        else if (has)
            r = xasprintf("outputs differ: max diff %s", diff);
        else
            r = xasprintf("status %s", json_str(result, "status") ? json_str(result, "status") : "unknown");
    }
    one_line(r);
    return r;
}

json_t *verify_request(const char *original, const char *refactored,
                       const char *weight_map, const cli_args *a) {
    json_t *req = json_object();
    json_object_set_new(req, "original", json_string(original));
    json_object_set_new(req, "refactored", json_string(refactored));
    json_object_set_new(req, "weight_map", weight_map ? json_string(weight_map) : json_null());
    json_object_set_new(req, "rtol", a->rtol_set ? json_real(a->rtol) : json_null());
    json_object_set_new(req, "atol", a->atol_set ? json_real(a->atol) : json_null());
    json_object_set_new(req, "num_trials", json_integer(a->num_trials));
    return req;
}

void json_rewrite_prefix(json_t *j, const char *from, const char *to) {
    if (!*from) return;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            char *t = json_is_string(v) ? str_replace_all(json_string_value(v), from, to) : NULL;
            if (t) json_object_set_new(j, k, json_string(t));
            else json_rewrite_prefix(v, from, to);
            free(t);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            char *t = json_is_string(v) ? str_replace_all(json_string_value(v), from, to) : NULL;
            if (t) json_array_set_new(j, i, json_string(t));
            else json_rewrite_prefix(v, from, to);
            free(t);
        }
    }
}

double coverage_pct(const json_t *result, int *has) {
    double v = 0;
    int ok = json_num(json_object_get(result, "coverage"), "coverage_pct", &v) == 0 ||
             json_num(result, "coverage_pct", &v) == 0;
    if (has) *has = ok;
    return ok ? v : 0;
}
