/* util.c - see util.h. */
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t n) {
    fprintf(stderr, "decompose: out of memory (%zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

char *xvasprintf(const char *fmt, va_list ap) {
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) n = 0;
    char *s = xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void set_error(char **err, const char *fmt, ...) {
    if (!err || *err) return;
    va_list ap;
    va_start(ap, fmt);
    *err = xvasprintf(fmt, ap);
    va_end(ap);
    one_line(*err);
}

void one_line(char *s) {
    if (!s) return;
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ') s[--n] = '\0';
}

/* Copy text, turning the bare tokens NaN, Infinity and -Infinity (outside
 * strings) into null. Only called when the strict parse failed. */
static char *denan(const char *text, size_t len) {
    char *out = xmalloc(len + 1);
    size_t o = 0;
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            out[o++] = c;
            if (c == '\\' && i + 1 < len) out[o++] = text[++i];
            else if (c == '"') in_str = 0;
            continue;
        }
        if (c == '"') { in_str = 1; out[o++] = c; continue; }
        size_t rest = len - i;
        if (rest >= 9 && memcmp(text + i, "-Infinity", 9) == 0) {
            memcpy(out + o, "null", 4); o += 4; i += 8; continue;
        }
        if (rest >= 8 && memcmp(text + i, "Infinity", 8) == 0) {
            memcpy(out + o, "null", 4); o += 4; i += 7; continue;
        }
        if (rest >= 3 && memcmp(text + i, "NaN", 3) == 0) {
            memcpy(out + o, "null", 4); o += 4; i += 2; continue;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

json_t *json_parse_lenient(const char *text, size_t len, char **err) {
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!j) {
        char *clean = denan(text, len);
        j = json_loads(clean, JSON_DECODE_ANY, NULL);
        free(clean);
    }
    if (!j) {
        set_error(err, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j) && !json_is_array(j)) {
        json_decref(j);
        set_error(err, "JSON text is not an object or array");
        return NULL;
    }
    return j;
}

char *json_to_text(const json_t *j) {
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    if (!s) oom(0);
    size_t n = strlen(s);
    char *t = xmalloc(n + 2);
    memcpy(t, s, n);
    t[n] = '\n';
    t[n + 1] = '\0';
    free(s);
    return t;
}

int json_is_kind(const json_t *v, int kinds) {
    return ((kinds & TAKES_LIST) && json_is_array(v)) || ((kinds & TAKES_OBJECT) && json_is_object(v));
}

const char *json_str(const json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int json_num(const json_t *obj, const char *key, double *out) {
    json_t *v = json_object_get(obj, key);
    if (!json_is_number(v)) return -1;
    *out = json_number_value(v);
    return 0;
}

int json_diff(const json_t *obj, const char *key, double *out) {
    json_t *v = json_object_get(obj, key);
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    if (json_is_null(v)) return -1;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!strcmp(s, "inf") || !strcmp(s, "-inf") || !strcmp(s, "nan") || !strcmp(s, "Infinity") ||
            !strcmp(s, "NaN"))
            return -1;
    }
    return 0;
}

void utc_timestamp(char *buf, size_t len) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *str_replace_all(const char *s, const char *from, const char *to) {
    size_t nf = strlen(from), nt = strlen(to), count = 0;
    if (nf == 0) return NULL;
    for (const char *p = strstr(s, from); p; p = strstr(p + nf, from)) count++;
    if (!count) return NULL;
    char *out = xmalloc(strlen(s) + count * nt + 1), *o = out;
    const char *p;
    while ((p = strstr(s, from)) != NULL) {
        memcpy(o, s, (size_t)(p - s));
        o += p - s;
        memcpy(o, to, nt);
        o += nt;
        s = p + nf;
    }
    strcpy(o, s);
    return out;
}
