/* test/unit/oomsweep.h - the out-of-memory sweep shared by unit tests: the test binary re-runs
 * itself as "<binary> --oom-scenario [arg]" with TT_ALLOC_FAIL_AT=1, 2, ... so that each run
 * fails a different allocation, until a run no longer reaches the failure point. The child
 * (the test's own main, on --oom-scenario) exits with one of the codes below. A child process
 * per point keeps the failing allocator away from cmocka's own state. Include after <cmocka.h>. */
#ifndef TT_TEST_UNIT_OOMSWEEP_H
#define TT_TEST_UNIT_OOMSWEEP_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Exit codes of a scenario run: it finished without hitting the failure (the sweep is over);
 * the failure was handled and everything freed; memory leaked; a wrong result came back. */
enum { OOM_DONE = 0, OOM_HANDLED = 10, OOM_LEAK = 11, OOM_WRONG = 12 };

/* Runs the sweep over at most |max| points, failing the test on any child that does not exit
 * OOM_HANDLED or OOM_DONE. |arg| (may be NULL) is passed after --oom-scenario. Returns the
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
        if (WEXITSTATUS(status) == OOM_DONE)
            break;
        if (WEXITSTATUS(status) != OOM_HANDLED)
            fail_msg("allocation %d failing: child exit %d", n, WEXITSTATUS(status));
    }
    if (n == max)
        fail_msg("the scenario still reached allocation %d", max);
    print_message("    %d allocation failure points handled\n", n - 1);
    return n - 1;
}

#endif
