/* A program built against the installed tree (ffi-c/install.sh) through
 * pkg-config only: the header, the library and its version agree. */
#include <stdio.h>
#include <string.h>

#include "check.h"

int main(void) {
    static tripbit_breaker_t b;
    tripbit_config_t c = tripbit_config_default();
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    char want[32];

    CHECK(tripbit_version_check(TRIPBIT_VERSION_MAJOR, TRIPBIT_VERSION_MINOR));
    CHECK(!tripbit_version_check(TRIPBIT_VERSION_MAJOR + 1, 0));
    snprintf(want, sizeof want, "%u.%u.%u", TRIPBIT_VERSION_MAJOR, TRIPBIT_VERSION_MINOR,
             TRIPBIT_VERSION_PATCH);
    CHECK(strcmp(tripbit_version(), want) == 0);
    c.consecutive_failures = 1;
    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 0, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 0, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    return check_summary("installed");
}
