/* test/unit/leakcheck.h - shared by the unit tests that touch cJSON: route cJSON through the
 * tt_ allocators and check that every test gives back what it allocated. Include after
 * <cmocka.h>; call tt_test_leaks_begin() in a setup and tt_test_leaks_end() in a teardown. */
#ifndef TT_TEST_UNIT_LEAKCHECK_H
#define TT_TEST_UNIT_LEAKCHECK_H

#include <cJSON.h>

#include "base/alloc.h"

static long tt_test_start_allocs;

static void *tt_test_cjson_malloc(size_t n)
{
    return tt_malloc(n);
}

static void tt_test_leaks_begin(void)
{
    cJSON_Hooks h = {tt_test_cjson_malloc, tt_free};
    cJSON_InitHooks(&h);
    tt_test_start_allocs = tt_alloc_outstanding();
}

static void tt_test_leaks_end(void)
{
    assert_int_equal(tt_alloc_outstanding(), tt_test_start_allocs);
}

/* The same as cmocka setup/teardown functions, for tests that need nothing else:
 * cmocka_unit_test_setup_teardown(test_x, tt_test_leak_setup, tt_test_leak_teardown). */
__attribute__((unused)) static int tt_test_leak_setup(void **state)
{
    (void)state;
    tt_test_leaks_begin();
    return 0;
}

__attribute__((unused)) static int tt_test_leak_teardown(void **state)
{
    (void)state;
    tt_test_leaks_end();
    return 0;
}

#endif
