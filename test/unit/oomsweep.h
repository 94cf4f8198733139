/* test/unit/oomsweep.h - the out-of-memory sweep shared by unit tests: the test binary re-runs
 * itself as "<binary> --oom-scenario [arg]" with TT_ALLOC_FAIL_AT=1, 2, ... so that each run
 * fails a different allocation, until a run no longer reaches the failure point. The child
 * (the test's own main, on --oom-scenario) returns tt_test_oom_exit(its scenario's code). A
 * child process per point keeps the failing allocator away from cmocka's own state. Include
 * after <cmocka.h>. */
#ifndef TT_TEST_UNIT_OOMSWEEP_H
#define TT_TEST_UNIT_OOMSWEEP_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"

/* What a scenario returns: a right result with everything freed (whether or not the failure
 * point was reached on the way); the failure was seen, handled and everything freed; memory
 * leaked; a wrong result came back. */
enum { OOM_DONE = 0, OOM_HANDLED = 10, OOM_LEAK = 11, OOM_WRONG = 12 };

/* The child's exit code that ends the sweep, given only by tt_test_oom_exit(): not 0, so that
 * a child which never ran its scenario (or not through tt_test_oom_exit) cannot end it. */
enum { OOM_EXIT_DONE = 13 };

/* The child's exit code for its scenario's |rc|. OOM_DONE ends the sweep only when the failure
 * point was never reached, that is when a later allocation is the one that fails: some failures
 * leave no trace in the result (a state not recorded for reuse, a pattern not JIT-compiled), and
 * the sweep must go on past them. Such a run counts as OOM_HANDLED. */
static int tt_test_oom_exit(int rc)
{
    if (rc != OOM_DONE)
        return rc;
    for (int i = 0; i < 10000; i++) {
        void *p = tt_malloc(1);
        if (p == NULL)
            return OOM_EXIT_DONE;
        tt_free(p);
    }
    return OOM_HANDLED;
}

/* Runs the sweep over at most |max| points, failing the test on any child that does not exit
 * OOM_HANDLED or OOM_EXIT_DONE. |arg| (may be NULL) is passed after --oom-scenario. Returns the
 * number of failure points handled. */
static int tt_test_oom_sweep(const char *arg, int max)
{
    int n;

    for (n = 1; n < max; n++) {
        char val[16];
        int status;
        pid_t pid = fork();

        assert_true(pid != -1);
        if (pid == 0) {
            snprintf(val, sizeof(val), "%d", n);
            setenv("TT_ALLOC_FAIL_AT", val, 1);
            execl("/proc/self/exe", "unit-test", "--oom-scenario", arg, (char *)NULL);
            _exit(127);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status))
            fail_msg("allocation %d failing: child died with signal %d", n, WTERMSIG(status));
        if (WEXITSTATUS(status) == OOM_EXIT_DONE)
            break;
        if (WEXITSTATUS(status) == OOM_DONE)
            fail_msg("allocation %d failing: child exit 0 (main must return "
                     "tt_test_oom_exit(scenario) on --oom-scenario)",
                     n);
        if (WEXITSTATUS(status) != OOM_HANDLED)
            fail_msg("allocation %d failing: child exit %d", n, WEXITSTATUS(status));
    }
    if (n == max)
        fail_msg("the scenario still reached allocation %d", max);
    print_message("    %d allocation failure points handled\n", n - 1);
    return n - 1;
}

#endif
