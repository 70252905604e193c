/* The header alone, compiled as C99/C11/C17 with every warning an error. */
#include "tripbit.h"

static tripbit_breaker_t static_breaker; /* statically allocatable */

int main(void) {
    tripbit_config_t c = tripbit_config_default();
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    if (tripbit_breaker_init(&static_breaker, &c) != TRIPBIT_OK) return 1;
    if (tripbit_breaker_acquire(&static_breaker, 0, &t, &tr) != TRIPBIT_OK) return 1;
    return tripbit_breaker_record(&static_breaker, t, TRIPBIT_OUTCOME_SUCCESS, 1, NULL) == TRIPBIT_OK ? 0 : 1;
}
