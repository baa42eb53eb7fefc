/* paths.c - see paths.h. */
#include "paths.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

char *path_join(const char *a, const char *b) {
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/') la--;
    while (*b == '/') b++;
    if (la == 0) return xstrdup(b);
    if (*b == '\0') return xasprintf("%.*s", (int)la, a);
    if (la == 1 && a[0] == '/') return xasprintf("/%s", b);
    return xasprintf("%.*s/%s", (int)la, a, b);
}

/* Length of p less trailing slashes (but keep a lone "/"). */
static size_t trimmed_len(const char *p) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    return n;
}

char *path_basename(const char *p) {
    size_t n = trimmed_len(p);
    if (n == 1 && p[0] == '/') return xstrdup("/");
    size_t i = n;
    while (i > 0 && p[i - 1] != '/') i--;
    return xasprintf("%.*s", (int)(n - i), p + i);
}

char *path_dirname(const char *p) {
    size_t n = trimmed_len(p);
    size_t i = n;
    while (i > 0 && p[i - 1] != '/') i--;
    if (i == 0) return xstrdup(".");
    while (i > 1 && p[i - 1] == '/') i--;
    return xasprintf("%.*s", (int)i, p);
}

char *path_absolute(const char *p) {
    size_t n = trimmed_len(p);
    if (p[0] == '/') return xasprintf("%.*s", (int)n, p);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) return NULL;
    char *rel = xasprintf("%.*s", (int)n, p);
    /* "./x" is common on a command line; "." alone means the cwd. */
    const char *r = rel;
    while (r[0] == '.' && r[1] == '/') {
        r += 2;
        while (*r == '/') r++;
    }
    char *abs = (strcmp(r, ".") == 0 || *r == '\0') ? xstrdup(cwd) : path_join(cwd, r);
    free(rel);
    return abs;
}

int path_is_safe_relative(const char *p) {
    if (!p || !*p || p[0] == '/') return 0;
    const char *s = p;
    for (;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0) return 0;                                  /* "a//b", "a/" */
        if (n == 1 && s[0] == '.') return 0;
        if (n == 2 && s[0] == '.' && s[1] == '.') return 0;
        if (!e) return 1;
        s = e + 1;
    }
}

int name_is_safe_component(const char *s) {
    return s && *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

char *model_name_from_path(const char *model_path) {
    char *base = path_basename(model_path);
    char *dot = strrchr(base, '.');
    if (dot && dot != base) *dot = '\0';
    return base;
}

char *model_name_from_hf(const char *model_ref) {
    char *base = path_basename(model_ref);
    for (char *c = base; *c; c++)
        *c = isalnum((unsigned char)*c) ? (char)tolower((unsigned char)*c) : '_';
    return base;
}

int is_hf_model_id(const char *s) {
    size_t part = 0, slashes = 0;
    const char *start = s;
    for (const char *c = s;; c++) {
        if (*c == '/' || *c == '\0') {
            size_t len = (size_t)(c - start);
            if (len == 0 || (len == 1 && start[0] == '.') || (len == 2 && start[0] == '.' && start[1] == '.'))
                return 0;
            part++;
            if (*c == '\0') break;
            slashes++;
            start = c + 1;
            continue;
        }
        if (!isalnum((unsigned char)*c) && !strchr("-_.", *c)) return 0;
    }
    return part >= 1 && slashes <= 1;
}

char *source_level_from_path(const char *model_path) {
    char *dir = path_dirname(model_path);
    char *parent = path_basename(dir);
    free(dir);
    int ok = strncmp(parent, "level", 5) == 0 && parent[5] != '\0';
    for (const char *c = parent + 5; ok && *c; c++)
        if (!isdigit((unsigned char)*c)) ok = 0;
    if (ok) return parent;
    free(parent);
    return xstrdup("custom");
}

static int has_api(const char *dir) {
    char *api = path_join(dir, "decompose_glue/api.py");
    struct stat st;
    int ok = stat(api, &st) == 0 && S_ISREG(st.st_mode);
    free(api);
    return ok;
}

char *glue_dir_find(const char *exe_path, const char *install_dir,
                    const char *src_dir, char **err) {
    char *cand[4] = {NULL, NULL, NULL, NULL};
    int n = 0;
    if (exe_path && *exe_path) {
        char *exe_dir = path_dirname(exe_path);
        cand[n++] = path_join(exe_dir, "../python_glue");
        cand[n++] = path_join(exe_dir, "../share/decompose/python_glue");
        free(exe_dir);
    }
    if (install_dir && *install_dir) cand[n++] = xstrdup(install_dir);
    if (src_dir && *src_dir) cand[n++] = xstrdup(src_dir);

    char *found = NULL;
    for (int i = 0; i < n && !found; i++) {
        if (!has_api(cand[i])) continue;
        char real[PATH_MAX];
        found = xstrdup(realpath(cand[i], real) ? real : cand[i]);
    }
    if (!found) {
        size_t len = 1;
        for (int i = 0; i < n; i++) len += strlen(cand[i]) + 2;
        char *tried = xcalloc(1, len);
        for (int i = 0; i < n; i++) {
            if (i) strcat(tried, ", ");
            strcat(tried, cand[i]);
        }
        set_error(err, "cannot find python_glue/decompose_glue/api.py (tried %s)",
                  n ? tried : "nothing");
        free(tried);
    }
    for (int i = 0; i < n; i++) free(cand[i]);
    return found;
}

char *glue_dir_locate(char **err) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) n = 0;
    exe[n] = '\0';
    return glue_dir_find(exe, DECOMPOSE_GLUE_INSTALL_DIR, DECOMPOSE_GLUE_SRC_DIR, err);
}
