/* Many threads on one breaker (pthreads), with exact checks:
 * 1. trip race: N threads record a failure at once against threshold K:
 *    exactly one sees Closed -> Open, exactly K-1 are counted, the rest stale;
 * 2. probe race: N threads acquire at once after the open period: exactly
 *    `probes` are admitted, exactly one sees Open -> HalfOpen, and exactly
 *    one of the probes' successes sees HalfOpen -> Closed;
 * 3. hammer: random outcomes on a shared clock; every transition is seen by
 *    exactly one caller (the counts balance and match the generation). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define THREADS 8
#define ROUNDS 300
#define HAMMER_ITERS_DEFAULT 200000L
static long hammer_iters = HAMMER_ITERS_DEFAULT; /* TRIPBIT_HAMMER_ITERS overrides */

static tripbit_breaker_t breaker;
static pthread_barrier_t barrier;

/* Results per thread for the race rounds. */
static tripbit_result_t acquire_rc[THREADS];
static tripbit_result_t record_rc[THREADS];
static tripbit_transition_t acquire_tr[THREADS];
static tripbit_transition_t record_tr[THREADS];
static tripbit_ticket_t tickets[THREADS];

static void wait_all(void) {
    int rc = pthread_barrier_wait(&barrier);
    if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD) abort();
}

/* Trip race: acquire together, then record a failure together. */
static void *trip_worker(void *arg) {
    int id = (int)(intptr_t)arg;
    int round;
    for (round = 0; round < ROUNDS; round++) {
        wait_all(); /* main has re-initialized the breaker */
        acquire_rc[id] = tripbit_breaker_acquire(&breaker, 1, &tickets[id], &acquire_tr[id]);
        wait_all();
        record_tr[id].occurred = false;
        record_rc[id] = tripbit_breaker_record(&breaker, &tickets[id], TRIPBIT_OUTCOME_FAILURE,
                                               2, &record_tr[id]);
        wait_all(); /* main checks */
    }
    return NULL;
}

static void test_trip_race(uint32_t threshold) {
    pthread_t th[THREADS];
    tripbit_config_t c = tripbit_config_default();
    int i, round;
    c.open_ticks = 1000;
    c.consecutive_failures = threshold;

    for (i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, trip_worker, (void *)(intptr_t)i);
    for (round = 0; round < ROUNDS; round++) {
        int trips = 0, counted = 0, stale = 0, other = 0;
        tripbit_snapshot_t s;
        CHECK_RC(tripbit_breaker_init(&breaker, &c), TRIPBIT_OK);
        wait_all();
        wait_all();
        wait_all();
        for (i = 0; i < THREADS; i++) {
            if (acquire_rc[i] != TRIPBIT_OK || acquire_tr[i].occurred) other++;
            if (record_rc[i] == TRIPBIT_OK && record_tr[i].occurred) {
                trips++;
                if (record_tr[i].from != TRIPBIT_STATE_CLOSED || record_tr[i].to != TRIPBIT_STATE_OPEN) other++;
            } else if (record_rc[i] == TRIPBIT_OK) {
                counted++;
            } else if (record_rc[i] == TRIPBIT_E_STALE) {
                stale++;
            } else {
                other++;
            }
        }
        CHECK(trips == 1);
        CHECK(counted == (int)threshold - 1);
        CHECK(stale == THREADS - (int)threshold);
        CHECK(other == 0);
        CHECK_RC(tripbit_breaker_snapshot(&breaker, 3, &s), TRIPBIT_OK);
        CHECK(s.stored_state == TRIPBIT_STATE_OPEN && s.generation == 1 && s.opened_at == 2);
        if (checks_failed) break;
    }
    for (i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
}

/* Probe race: the breaker is open until tick 10; everyone asks at 10. */
static void *probe_worker(void *arg) {
    int id = (int)(intptr_t)arg;
    int round;
    for (round = 0; round < ROUNDS; round++) {
        wait_all();
        acquire_tr[id].occurred = false;
        acquire_rc[id] = tripbit_breaker_acquire(&breaker, 10, &tickets[id], &acquire_tr[id]);
        wait_all();
        record_tr[id].occurred = false;
        record_rc[id] = TRIPBIT_E_REJECTED;
        if (acquire_rc[id] == TRIPBIT_OK) {
            record_rc[id] = tripbit_breaker_record(&breaker, &tickets[id], TRIPBIT_OUTCOME_SUCCESS,
                                                   11, &record_tr[id]);
        }
        wait_all();
    }
    return NULL;
}

static void test_probe_race(uint32_t probes) {
    pthread_t th[THREADS];
    tripbit_config_t c = tripbit_config_default();
    int i, round;
    c.open_ticks = 10;
    c.consecutive_failures = 1;
    c.probes = probes;
    c.close_after = probes;

    for (i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, probe_worker, (void *)(intptr_t)i);
    for (round = 0; round < ROUNDS; round++) {
        int admitted = 0, rejected = 0, half_open = 0, closed = 0, other = 0;
        tripbit_ticket_t t;
        tripbit_state_t st;
        CHECK_RC(tripbit_breaker_init(&breaker, &c), TRIPBIT_OK);
        CHECK_RC(tripbit_breaker_acquire(&breaker, 0, &t, NULL), TRIPBIT_OK);
        CHECK_RC(tripbit_breaker_record(&breaker, &t, TRIPBIT_OUTCOME_FAILURE, 0, NULL), TRIPBIT_OK);
        wait_all();
        wait_all();
        wait_all();
        for (i = 0; i < THREADS; i++) {
            if (acquire_rc[i] == TRIPBIT_OK) {
                admitted++;
                if (tickets[i].probe != 1) other++;
                if (acquire_tr[i].occurred) {
                    half_open++;
                    if (acquire_tr[i].from != TRIPBIT_STATE_OPEN || acquire_tr[i].to != TRIPBIT_STATE_HALF_OPEN) other++;
                }
                if (record_rc[i] != TRIPBIT_OK) other++;
                if (record_tr[i].occurred) {
                    closed++;
                    if (record_tr[i].to != TRIPBIT_STATE_CLOSED) other++;
                }
            } else if (acquire_rc[i] == TRIPBIT_E_REJECTED) {
                rejected++;
            } else {
                other++;
            }
        }
        CHECK(admitted == (int)probes);
        CHECK(rejected == THREADS - (int)probes);
        CHECK(half_open == 1);
        CHECK(closed == 1);
        CHECK(other == 0);
        CHECK_RC(tripbit_breaker_state(&breaker, 12, &st), TRIPBIT_OK);
        CHECK(st == TRIPBIT_STATE_CLOSED);
        if (checks_failed) break;
    }
    for (i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
}

/* Hammer: random outcomes, a shared clock, transitions tallied per kind. */
static atomic_uint_fast64_t clock_ticks;
static atomic_long seen[6][6];   /* seen[from][to] */
static atomic_long unexpected;

static void *hammer_worker(void *arg) {
    unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
    long i;
    for (i = 0; i < hammer_iters; i++) {
        uint64_t now = atomic_fetch_add(&clock_ticks, 1);
        tripbit_ticket_t t;
        tripbit_transition_t tr;
        tripbit_result_t rc = tripbit_breaker_acquire(&breaker, now, &t, &tr);
        if (rc == TRIPBIT_E_REJECTED) continue;
        if (rc != TRIPBIT_OK) { atomic_fetch_add(&unexpected, 1); continue; }
        if (tr.occurred) atomic_fetch_add(&seen[tr.from][tr.to], 1);
        {
            int r = rand_r(&seed) % 100;
            uint32_t outcome = r < 30 ? TRIPBIT_OUTCOME_FAILURE
                             : r < 95 ? TRIPBIT_OUTCOME_SUCCESS : TRIPBIT_OUTCOME_IGNORED;
            if (r == 99) {
                rc = tripbit_breaker_release(&breaker, &t);
                tr.occurred = false;
            } else {
                rc = tripbit_breaker_record(&breaker, &t, outcome,
                                            atomic_load(&clock_ticks), &tr);
            }
        }
        if (rc == TRIPBIT_E_STALE) continue;
        if (rc != TRIPBIT_OK) { atomic_fetch_add(&unexpected, 1); continue; }
        if (tr.occurred) atomic_fetch_add(&seen[tr.from][tr.to], 1);
    }
    return NULL;
}

static void test_hammer(void) {
    pthread_t th[THREADS];
    tripbit_config_t c = tripbit_config_default();
    tripbit_snapshot_t s;
    long in[6] = {0}, out[6] = {0}, total = 0;
    int i, j;

    c.open_ticks = 200;
    c.consecutive_failures = 4;
    c.probes = 2;
    c.close_after = 3;
    c.backoff_factor = 2;
    c.backoff_max_level = 3;
    CHECK_RC(tripbit_breaker_init(&breaker, &c), TRIPBIT_OK);
    for (i = 0; i < THREADS; i++) pthread_create(&th[i], NULL, hammer_worker, (void *)(intptr_t)(i + 1));
    for (i = 0; i < THREADS; i++) pthread_join(th[i], NULL);

    CHECK(atomic_load(&unexpected) == 0);
    for (i = 0; i < 6; i++) {
        for (j = 0; j < 6; j++) {
            long n = atomic_load(&seen[i][j]);
            out[i] += n;
            in[j] += n;
            total += n;
        }
    }
    CHECK_RC(tripbit_breaker_snapshot(&breaker, atomic_load(&clock_ticks), &s), TRIPBIT_OK);
    /* Only the four automatic transitions can happen here. */
    CHECK(total == atomic_load(&seen[0][1]) + atomic_load(&seen[1][2]) +
                   atomic_load(&seen[2][1]) + atomic_load(&seen[2][0]));
    /* Each transition bumps the generation once (and so does each new
     * half-open probe round, which is not a transition); the flow balance
     * below shows exactly one caller saw each transition. */
    CHECK((uint32_t)total <= s.generation);
    /* Flow balance: into minus out of each state is 1 for the final state,
     * -1 for Closed (the start), 0 otherwise (1 - 1 = 0 when it ends Closed). */
    for (i = 0; i < 6; i++) {
        long want = (i == (int)s.stored_state) - (i == TRIPBIT_STATE_CLOSED);
        CHECK(in[i] - out[i] == want);
    }
    printf("threads: hammer %d threads x %ld calls: %ld trips, %ld half-opens, %ld reopens, %ld closes\n",
           THREADS, hammer_iters, atomic_load(&seen[0][1]), atomic_load(&seen[1][2]),
           atomic_load(&seen[2][1]), atomic_load(&seen[2][0]));
    CHECK(atomic_load(&seen[0][1]) > 0 && atomic_load(&seen[2][0]) > 0); /* it did cycle */
}

int main(void) {
    const char *iters = getenv("TRIPBIT_HAMMER_ITERS");
    if (iters != NULL && atol(iters) > 0) hammer_iters = atol(iters);
    if (pthread_barrier_init(&barrier, NULL, THREADS + 1) != 0) return 2;
    test_trip_race(1);
    test_trip_race(3);
    test_trip_race(THREADS);
    test_probe_race(1);
    test_probe_race(3);
    test_probe_race(THREADS);
    pthread_barrier_destroy(&barrier);
    test_hammer();
    return check_summary("threads");
}
