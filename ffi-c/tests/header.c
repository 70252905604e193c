/* The header alone, compiled as C99/C11/C17 with every warning an error
 * (and -Wc++-compat), including the compile-time initializers. */
#include "tripbit.h"

static tripbit_breaker_t static_breaker; /* statically allocatable */
/* Set up at compile time: no init() call. */
static tripbit_breaker_t compiled = TRIPBIT_BREAKER_INIT(1000u, 3u);
static tripbit_breaker_t compiled_full =
    TRIPBIT_BREAKER_INIT_FULL(1000u, 3u, 2u, 4u, 20u, 2u, 4u, 0u);
TRIPBIT_BREAKER_ASSERT(1000u, 3u, 2u, 4u, 20u, 2u, 4u, 0u);
/* The widest close bar and backoff the ranges allow. */
static tripbit_breaker_t compiled_edges =
    TRIPBIT_BREAKER_INIT_FULL(1u, 4294967295u, 8u, 10u, 99u, 2u, 31u, 5u);

int main(void) {
    tripbit_config_t c = tripbit_config_default();
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    tripbit_state_t st;
    if (tripbit_breaker_init(&static_breaker, &c) != TRIPBIT_OK) return 1;
    if (tripbit_breaker_acquire(&static_breaker, 0, &t, &tr) != TRIPBIT_OK) return 1;
    if (tripbit_breaker_state(&compiled, 0, &st) != TRIPBIT_OK) return 1;
    if (tripbit_breaker_state(&compiled_full, 0, &st) != TRIPBIT_OK) return 1;
    if (tripbit_breaker_state(&compiled_edges, 0, &st) != TRIPBIT_OK) return 1;
    return tripbit_breaker_record(&static_breaker, &t, TRIPBIT_OUTCOME_SUCCESS, 1, NULL) == TRIPBIT_OK ? 0 : 1;
}
