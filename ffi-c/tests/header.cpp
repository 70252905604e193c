// The header from C++ (11, 17, 20): compiled with every warning an error,
// linked against the static library and run, so the enum-typed returns and
// by-value tickets are checked against the Rust ABI too.
#include "tripbit.h"

#include <cstdio>
#include <cstring>

static tripbit_breaker_t static_breaker;
// Set up at compile time (static_assert range checks in C++).
TRIPBIT_BREAKER_ASSERT(10u, 1u, 2u, 4u, 20u, 2u, 4u, 0u);
static tripbit_breaker_t compiled = TRIPBIT_BREAKER_INIT_FULL(10u, 1u, 2u, 4u, 20u, 2u, 4u, 0u);

int main() {
    tripbit_config_t c = tripbit_config_default();
    c.open_ticks = 10;
    c.consecutive_failures = 1;
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    tripbit_state_t st;
    int bad = 0;
    bad += tripbit_breaker_state(&static_breaker, 0, &st) != TRIPBIT_E_UNINIT;
    bad += tripbit_breaker_init(&static_breaker, &c) != TRIPBIT_OK;
    bad += tripbit_breaker_acquire(&static_breaker, 0, &t, &tr) != TRIPBIT_OK;
    bad += tripbit_breaker_record(&static_breaker, &t, TRIPBIT_OUTCOME_FAILURE, 1, &tr) != TRIPBIT_OK;
    bad += !tr.occurred || tr.to != TRIPBIT_STATE_OPEN;
    bad += tripbit_breaker_state(&static_breaker, 5, &st) != TRIPBIT_OK || st != TRIPBIT_STATE_OPEN;
    bad += tripbit_breaker_acquire(&static_breaker, 5, &t, nullptr) != TRIPBIT_E_REJECTED;
    bad += std::strcmp(tripbit_strerror(TRIPBIT_E_REJECTED), "circuit breaker open: call rejected") != 0;
    bad += tripbit_breaker_acquire(&compiled, 0, &t, nullptr) != TRIPBIT_OK;
    bad += tripbit_breaker_record(&compiled, &t, TRIPBIT_OUTCOME_FAILURE, 1, &tr) != TRIPBIT_OK;
    bad += !tr.occurred || tr.to != TRIPBIT_STATE_OPEN;
    std::printf("header.cpp: %d passed, %d failed\n", 11 - bad, bad);
    return bad == 0 ? 0 : 1;
}
