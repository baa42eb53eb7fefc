/* test_heap.c - a run's freed activations stay in the heap for reuse, and
 * a server gives them back between requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>

/* What an activation of a large model takes: glibc would map it on its own. */
#define ACTIVATION (64u << 20)

static size_t free_in_heap(void) {
    return mallinfo2().fordblks;
}

static void a_freed_activation_stays_in_the_heap_until_given_back(void **state) {
    (void)state;
    heap_keep_freed();
    char *a = malloc(ACTIVATION);
    assert_non_null(a);
    memset(a, 1, ACTIVATION);  /* its pages are touched, as a tensor's are */
    free(a);
    assert_true(free_in_heap() >= ACTIVATION);
    char *b = malloc(ACTIVATION);  /* the next tensor of that size takes those pages */
    assert_ptr_equal(a, b);
    free(b);
    heap_give_back();
    assert_true(free_in_heap() < ACTIVATION);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_freed_activation_stays_in_the_heap_until_given_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
static void skipped_without_glibc(void **state) {
    (void)state;
    skip();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(skipped_without_glibc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
