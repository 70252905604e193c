/* Minimal test harness shared by the C tests: counts checks, reports each
 * failure with its line, and ends with "NAME: N passed, M failed". */
#ifndef TRIPBIT_TEST_CHECK_H
#define TRIPBIT_TEST_CHECK_H

#include <stdio.h>

#include "tripbit.h"

static unsigned long checks_passed;
static unsigned long checks_failed;

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (cond) {                                                                 \
            checks_passed++;                                                        \
        } else {                                                                    \
            checks_failed++;                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

/* Calls `expr` (a tripbit function) and checks it returned `want`. */
#define CHECK_RC(expr, want)                                                        \
    do {                                                                            \
        tripbit_result_t rc_ = (expr);                                              \
        if (rc_ == (tripbit_result_t)(want)) {                                      \
            checks_passed++;                                                        \
        } else {                                                                    \
            checks_failed++;                                                        \
            fprintf(stderr, "%s:%d: %s\n    returned %u (%s), expected %s\n",       \
                    __FILE__, __LINE__, #expr, (unsigned)rc_,                       \
                    tripbit_strerror(rc_), #want);                                  \
        }                                                                           \
    } while (0)

static int check_summary(const char *name) {
    printf("%s: %lu passed, %lu failed\n", name, checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif /* TRIPBIT_TEST_CHECK_H */
