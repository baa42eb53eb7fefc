/* test_outdir.c - mkdir -p, rm -r, atomic writes and the staging folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_helpers.h"

static int setup(void **state) {
    *state = make_temp_dir();
    return *state ? 0 : -1;
}

static int teardown(void **state) {
    rm_rf(*state, NULL);
    free(*state);
    return 0;
}

/* Number of entries in a folder other than . and .. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void mkdir_p_creates_every_level(void **state) {
    char *p = path_join(*state, "a/b/c/");
    assert_int_equal(mkdir_p(p, NULL), 0);
    assert_true(is_dir(p));
    assert_int_equal(mkdir_p(p, NULL), 0);      /* again: fine */
    free(p);
}

static void mkdir_p_fails_through_a_file(void **state) {
    put_file(*state, "f", "x");
    char *p = path_join(*state, "f/sub");
    char *err = NULL;
    assert_int_equal(mkdir_p(p, &err), -1);
    assert_non_null(err);
    free(err);
    free(p);
}

static void rm_rf_removes_a_tree_and_ignores_missing(void **state) {
    put_file(*state, "t/a/b/c.txt", "x");
    put_file(*state, "t/d.txt", "y");
    char *t = path_join(*state, "t");
    assert_int_equal(rm_rf(t, NULL), 0);
    assert_false(exists(t));
    assert_int_equal(rm_rf(t, NULL), 0);
    free(t);
}

static void atomic_write_writes_the_content(void **state) {
    char *p = path_join(*state, "f.json");
    assert_int_equal(write_file_atomic(p, "hello\n", 6, NULL), 0);
    char *t = slurp(*state, "f.json");
    assert_string_equal(t, "hello\n");
    free(t);
    assert_int_equal(write_file_atomic(p, "bye", 3, NULL), 0);
    t = slurp(*state, "f.json");
    assert_string_equal(t, "bye");
    free(t);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(count_entries(*state), 1);   /* no temporary left */
    free(p);
}

static void atomic_write_into_missing_folder_fails_cleanly(void **state) {
    char *p = path_join(*state, "nope/f.txt");
    char *err = NULL;
    assert_int_equal(write_file_atomic(p, "x", 1, &err), -1);
    assert_non_null(strstr(err, "nope/f.txt"));
    assert_int_equal(count_entries(*state), 0);
    free(err);
    free(p);
}

static void write_under_creates_parent_folders(void **state) {
    assert_int_equal(write_file_under(*state, "steps/step_1/children/a.py", "a", 1, NULL), 0);
    char *t = slurp(*state, "steps/step_1/children/a.py");
    assert_string_equal(t, "a");
    free(t);
}

static void write_under_refuses_dotdot_and_absolute(void **state) {
    char *err = NULL;
    assert_int_equal(write_file_under(*state, "../escape.py", "x", 1, &err), -1);
    assert_non_null(strstr(err, "refusing"));
    free(err);
    err = NULL;
    assert_int_equal(write_file_under(*state, "/tmp/escape.py", "x", 1, &err), -1);
    free(err);
    err = NULL;
    assert_int_equal(write_file_under(*state, "a/../../escape.py", "x", 1, &err), -1);
    free(err);
    assert_int_equal(count_entries(*state), 0);
}

static void readable_file_check_names_the_problem(void **state) {
    char *err = NULL;
    char *missing = path_join(*state, "missing.py");
    assert_int_equal(check_readable_file(missing, &err), -1);
    assert_non_null(strstr(err, "missing.py: no such file"));
    free(err);
    err = NULL;
    assert_int_equal(check_readable_file(*state, &err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    free(err);
    put_file(*state, "m.py", "x");
    char *m = path_join(*state, "m.py");
    assert_int_equal(check_readable_file(m, NULL), 0);
    free(m);
    free(missing);
}

static void staging_folder_sits_beside_the_output(void **state) {
    char *out = path_join(*state, "out/level2/model");
    staging *s = staging_open(out, NULL);
    assert_non_null(s);
    char *want = xasprintf("%s/out/level2/.model.partial-%ld", (char *)*state, (long)getpid());
    assert_string_equal(staging_path(s), want);
    assert_true(is_dir(want));
    assert_false(exists(out));
    staging_free(s);
    free(want);
    free(out);
}

static void staging_commit_moves_it_into_place(void **state) {
    char *out = path_join(*state, "out/model");
    staging *s = staging_open(out, NULL);
    assert_non_null(s);
    put_file(staging_path(s), "decomposition_tree.json", "{}");
    char *tmp = xstrdup(staging_path(s));
    assert_int_equal(staging_commit(s, NULL), 0);
    staging_free(s);
    assert_true(exists_in(out, "decomposition_tree.json"));
    assert_false(exists(tmp));
    char *parent = path_join(*state, "out");
    assert_int_equal(count_entries(parent), 1);
    free(parent);
    free(tmp);
    free(out);
}

static void staging_commit_replaces_an_older_result(void **state) {
    char *out = path_join(*state, "model");
    put_file(out, "decomposition_tree.json", "old");
    put_file(out, "level_0_kernel/stale.py", "old");
    staging *s = staging_open(out, NULL);
    assert_non_null(s);
    put_file(staging_path(s), "decomposition_tree.json", "new");
    assert_int_equal(staging_commit(s, NULL), 0);
    staging_free(s);
    char *t = slurp(out, "decomposition_tree.json");
    assert_string_equal(t, "new");
    free(t);
    assert_false(exists_in(out, "level_0_kernel/stale.py"));
    assert_int_equal(count_entries(*state), 1);   /* no .old or .partial left */
    free(out);
}

static void staging_abort_leaves_nothing(void **state) {
    char *out = path_join(*state, "model");
    staging *s = staging_open(out, NULL);
    assert_non_null(s);
    put_file(staging_path(s), "level_0_kernel/a.py", "x");
    staging_free(s);   /* not committed */
    assert_int_equal(count_entries(*state), 0);
    free(out);
}

static void staging_removes_leftovers_of_dead_runs_only(void **state) {
    /* 4194305 is above the kernel's largest pid: no such process */
    put_file(*state, ".model.partial-4194305/a.py", "x");
    put_file(*state, ".model.old-4194305/b.py", "x");
    char *alive = xasprintf(".model.partial-%ld/c.py", (long)getppid());
    put_file(*state, alive, "x");
    put_file(*state, ".other.partial-4194305/d.py", "x");
    char *out = path_join(*state, "model");
    staging *s = staging_open(out, NULL);
    assert_non_null(s);
    assert_false(exists_in(*state, ".model.partial-4194305"));
    assert_false(exists_in(*state, ".model.old-4194305"));
    assert_true(exists_in(*state, alive));
    assert_true(exists_in(*state, ".other.partial-4194305/d.py"));
    staging_free(s);
    free(alive);
    free(out);
}

static void staging_refuses_a_foreign_folder(void **state) {
    char *out = path_join(*state, "home");
    put_file(out, "thesis.tex", "precious");
    char *err = NULL;
    assert_null(staging_open(out, &err));
    assert_non_null(strstr(err, "refusing"));
    free(err);
    char *t = slurp(out, "thesis.tex");
    assert_string_equal(t, "precious");
    free(t);
    assert_int_equal(count_entries(*state), 1);
    free(out);
}

static void output_folder_is_replaceable_when_empty_or_ours(void **state) {
    char *out = path_join(*state, "o");
    assert_int_equal(outdir_replaceable(out, NULL), 0);      /* missing */
    assert_int_equal(mkdir_p(out, NULL), 0);
    assert_int_equal(outdir_replaceable(out, NULL), 0);      /* empty */
    put_file(out, "verification/step_verification_summary.json", "{}");
    assert_int_equal(outdir_replaceable(out, NULL), 0);      /* a failed run of ours */
    put_file(*state, "file", "x");
    char *f = path_join(*state, "file");
    char *err = NULL;
    assert_int_equal(outdir_replaceable(f, &err), -1);       /* not a folder */
    free(err);
    free(f);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(mkdir_p_creates_every_level, setup, teardown),
        cmocka_unit_test_setup_teardown(mkdir_p_fails_through_a_file, setup, teardown),
        cmocka_unit_test_setup_teardown(rm_rf_removes_a_tree_and_ignores_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(atomic_write_writes_the_content, setup, teardown),
        cmocka_unit_test_setup_teardown(atomic_write_into_missing_folder_fails_cleanly, setup, teardown),
        cmocka_unit_test_setup_teardown(write_under_creates_parent_folders, setup, teardown),
        cmocka_unit_test_setup_teardown(write_under_refuses_dotdot_and_absolute, setup, teardown),
        cmocka_unit_test_setup_teardown(readable_file_check_names_the_problem, setup, teardown),
        cmocka_unit_test_setup_teardown(staging_folder_sits_beside_the_output, setup, teardown),
        cmocka_unit_test_setup_teardown(staging_commit_moves_it_into_place, setup, teardown),
        cmocka_unit_test_setup_teardown(staging_commit_replaces_an_older_result, setup, teardown),
        cmocka_unit_test_setup_teardown(staging_abort_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(staging_removes_leftovers_of_dead_runs_only, setup, teardown),
        cmocka_unit_test_setup_teardown(staging_refuses_a_foreign_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(output_folder_is_replaceable_when_empty_or_ours, setup, teardown),
    };
    return cmocka_run_group_tests_name("outdir", tests, NULL, NULL);
}
