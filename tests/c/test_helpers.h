/* test_helpers.h - temporary folders and files for the cmocka tests. */
#ifndef DECOMPOSE_TEST_HELPERS_H
#define DECOMPOSE_TEST_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "outdir.h"
#include "paths.h"
#include "util.h"

/* A fresh folder under $TMPDIR or /tmp; free and rm_rf it when done. */
static inline char *make_temp_dir(void) {
    const char *base = getenv("TMPDIR");
    char *tmpl = xasprintf("%s/decompose-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        free(tmpl);
        return NULL;
    }
    return tmpl;
}

/* Write dir/rel (creating folders), aborting the test binary on failure. */
static inline void put_file(const char *dir, const char *rel, const char *text) {
    char *err = NULL;
    if (write_file_under(dir, rel, text, strlen(text), &err) != 0) {
        fprintf(stderr, "put_file: %s\n", err);
        abort();
    }
}

static inline int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static inline int exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

static inline int exists_in(const char *dir, const char *rel) {
    char *p = path_join(dir, rel);
    int r = exists(p);
    free(p);
    return r;
}

/* Contents of dir/rel, or NULL. */
static inline char *slurp(const char *dir, const char *rel) {
    char *p = path_join(dir, rel);
    char *t = read_file(p, NULL, NULL);
    free(p);
    return t;
}

#endif
