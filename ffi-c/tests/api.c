/* Every function and every result code of the C API, single-threaded:
 * NULL and misaligned pointers, zeroed and garbage configs and storage,
 * out-parameters untouched on error, the state machine with explicit ticks,
 * a record after reset, ticks going backwards, operator actions, strings. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* Test hook, built only with the `panic-test` feature (not in the header). */
tripbit_result_t tripbit_test_panic(void);

/* Sentinel byte for out-parameters that must stay untouched on error. */
#define SENTINEL 0xCD

static void *misalign(void *p) { return (void *)((uintptr_t)p + 1); }

static int all_bytes(const void *p, size_t n, unsigned char v) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) {
        if (b[i] != v) return 0;
    }
    return 1;
}

static tripbit_config_t config(uint64_t open_ticks, uint32_t failures) {
    tripbit_config_t c = tripbit_config_default();
    c.open_ticks = open_ticks;
    c.consecutive_failures = failures;
    return c;
}

static tripbit_state_t state_at(const tripbit_breaker_t *b, uint64_t now) {
    tripbit_state_t s = (tripbit_state_t)99;
    CHECK_RC(tripbit_breaker_state(b, now, &s), TRIPBIT_OK);
    return s;
}

static void test_strings(void) {
    static const uint32_t codes[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 100, 101, 102, 103,
                                     104, 105, 106, 107, 108, 109, 110, 111, 112, 113};
    size_t i;
    const char *v = tripbit_version();
    CHECK(v != NULL && strcmp(v, "0.2.0") == 0);
    CHECK(TRIPBIT_VERSION_MAJOR == 0 && TRIPBIT_VERSION_MINOR == 2);
    /* 0.x: each minor is its own ABI. */
    CHECK(tripbit_version_check(0, TRIPBIT_VERSION_MINOR));
    CHECK(!tripbit_version_check(0, TRIPBIT_VERSION_MINOR - 1));
    CHECK(!tripbit_version_check(0, TRIPBIT_VERSION_MINOR + 1));
    /* the header and the library agree on the state word (64 bits on a host) */
    CHECK(tripbit_word_bits() == (TRIPBIT_WORD32 ? 32u : 64u));
    CHECK(TRIPBIT_WORD32 == 0);
    /* E_MISALIGNED is about any pointer argument, not just the breaker. */
    CHECK(strstr(tripbit_strerror(TRIPBIT_E_MISALIGNED), "pointer argument") != NULL);

    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = tripbit_strerror(codes[i]);
        const char *field = tripbit_config_field(codes[i]);
        CHECK(s != NULL && strlen(s) > 5 && strcmp(s, "unknown tripbit result code") != 0);
        CHECK((field != NULL) == (codes[i] > 100));
    }
    CHECK(strcmp(tripbit_strerror(TRIPBIT_OK), "success") == 0);
    CHECK(strcmp(tripbit_strerror(9), "unknown tripbit result code") == 0);
    CHECK(strcmp(tripbit_strerror(UINT32_MAX), "unknown tripbit result code") == 0);
    CHECK(strcmp(tripbit_config_field(TRIPBIT_E_CONFIG_PROBES), "probes") == 0);
    CHECK(strcmp(tripbit_config_field(TRIPBIT_E_CONFIG_OPEN_TICKS), "open_ticks") == 0);
    CHECK(tripbit_config_field(TRIPBIT_E_CONFIG) == NULL);
    CHECK(tripbit_config_field(TRIPBIT_E_NULL) == NULL);
    CHECK(tripbit_config_field(UINT32_MAX) == NULL);

    CHECK(strcmp(tripbit_state_name(TRIPBIT_STATE_CLOSED), "closed") == 0);
    CHECK(strcmp(tripbit_state_name(TRIPBIT_STATE_OPEN), "open") == 0);
    CHECK(strcmp(tripbit_state_name(TRIPBIT_STATE_HALF_OPEN), "half_open") == 0);
    CHECK(strcmp(tripbit_state_name(TRIPBIT_STATE_FORCED_OPEN), "forced_open") == 0);
    CHECK(strcmp(tripbit_state_name(TRIPBIT_STATE_FORCED_CLOSED), "forced_closed") == 0);
    CHECK(strcmp(tripbit_state_name(TRIPBIT_STATE_DISABLED), "disabled") == 0);
    CHECK(strcmp(tripbit_state_name(6), "unknown") == 0);
    CHECK(strcmp(tripbit_state_name(UINT32_MAX), "unknown") == 0);

    /* The numbers are ABI: they must never change. */
    CHECK(TRIPBIT_OK == 0 && TRIPBIT_E_NULL == 1 && TRIPBIT_E_MISALIGNED == 2);
    CHECK(TRIPBIT_E_UNINIT == 3 && TRIPBIT_E_REJECTED == 4 && TRIPBIT_E_STALE == 5);
    CHECK(TRIPBIT_E_OUTCOME == 6 && TRIPBIT_E_TICKET == 7 && TRIPBIT_E_PANIC == 8);
    CHECK(TRIPBIT_E_CONFIG == 100 && TRIPBIT_E_CONFIG_OPEN_TICKS == 101);
    CHECK(TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW == 108);
    CHECK(TRIPBIT_STATE_DISABLED == 5 && TRIPBIT_OUTCOME_IGNORED == 2);
}

static void test_panic_boundary(void) {
    /* A Rust panic comes back as a code; the process goes on. */
    CHECK_RC(tripbit_test_panic(), TRIPBIT_E_PANIC);
    CHECK_RC(tripbit_test_panic(), TRIPBIT_E_PANIC);
}

static void test_config(void) {
    tripbit_config_t d = tripbit_config_default();
    tripbit_config_t c;
    uint64_t buf[sizeof(tripbit_config_t) / sizeof(uint64_t) + 2];
    unsigned seed = 12345;
    int i;

    CHECK(d.open_ticks == 30000 && d.consecutive_failures == 5 && d.probes == 1);
    CHECK(d.close_after == 1 && d.close_max_failure_percent == 0);
    CHECK(d.backoff_factor == 1 && d.backoff_max_level == 0);
    CHECK_RC(tripbit_config_check(&d), TRIPBIT_OK);
    CHECK_RC(tripbit_config_check(NULL), TRIPBIT_E_NULL);
    memcpy(misalign(buf), &d, sizeof d);
    CHECK_RC(tripbit_config_check((const tripbit_config_t *)misalign(buf)), TRIPBIT_E_MISALIGNED);

    /* A zeroed config: the first field at fault is named. */
    memset(&c, 0, sizeof c);
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES);
    /* All ones: any u32 threshold and any open period are valid; the
     * backoff factor is too wide for the core's u8, and refused (first in
     * the documented order) rather than truncated. */
    memset(&c, 0xFF, sizeof c);
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_BACKOFF_FACTOR);

    c = d; c.open_ticks = 0;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_OPEN_TICKS);
    /* The reserved words must stay zero (room for later settings). */
    c = d; c.reserved[3] = 1;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG);
    CHECK(d.reserved[0] == 0 && d.reserved[1] == 0 && d.reserved[2] == 0 && d.reserved[3] == 0);
    c = d; c.consecutive_failures = 0;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES);
    c = d; c.consecutive_failures = 65536; /* the threshold is 32 bits wide */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_OK);
    c = d; c.consecutive_failures = UINT32_MAX;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_OK);
    c = d; c.probes = 0;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_PROBES);
    c = d; c.probes = 2; /* more probes than close_after can use */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_PROBES);
    c = d; c.probes = 257; c.close_after = 300; /* would truncate to 1 */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_PROBES);
    c = d; c.close_after = 0;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CLOSE_AFTER);
    c = d; c.close_after = 4096;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CLOSE_AFTER);
    c = d; c.close_after = 65537; /* would truncate to 1 */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CLOSE_AFTER);
    c = d; c.close_max_failure_percent = 100;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT);
    c = d; c.close_max_failure_percent = 256 + 10; /* would truncate to 10 */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT);
    c = d; c.backoff_factor = 0;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_BACKOFF_FACTOR);
    c = d; c.backoff_factor = 258;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_BACKOFF_FACTOR);
    c = d; c.backoff_max_level = 32;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL);
    c = d; c.open_ticks = UINT64_MAX; c.backoff_factor = 2; c.backoff_max_level = 1;
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW);
    c = d; c.open_ticks = UINT64_MAX; /* no backoff: the longest period fits */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_OK);

    /* Random garbage: always a definite answer, never a crash. */
    for (i = 0; i < 20000; i++) {
        tripbit_result_t rc;
        unsigned char *p = (unsigned char *)&c;
        size_t k;
        for (k = 0; k < sizeof c; k++) p[k] = (unsigned char)rand_r(&seed);
        rc = tripbit_config_check(&c);
        if (rc != TRIPBIT_OK && !(rc > TRIPBIT_E_CONFIG && rc <= TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW)) {
            CHECK(!"garbage config gave an unexpected code");
            break;
        }
    }
    CHECK(i == 20000);
}

static void test_init_and_uninit(void) {
    static tripbit_breaker_t zeroed; /* static storage: all zero */
    tripbit_breaker_t b, garbage;
    tripbit_config_t d = tripbit_config_default();
    tripbit_config_t bad = d;
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    tripbit_snapshot_t snap;
    tripbit_state_t st;
    uint64_t raw[10];
    tripbit_breaker_t *mis = (tripbit_breaker_t *)misalign(raw);
    unsigned seed = 777;
    int i;

    CHECK(sizeof(tripbit_breaker_t) == TRIPBIT_BREAKER_SIZE && TRIPBIT_BREAKER_SIZE <= 64);

    /* NULL first, then alignment, then config; storage untouched on error. */
    CHECK_RC(tripbit_breaker_init(NULL, &d), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_init(&b, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_init(NULL, NULL), TRIPBIT_E_NULL);
    memset(raw, SENTINEL, sizeof raw);
    CHECK_RC(tripbit_breaker_init(mis, &d), TRIPBIT_E_MISALIGNED);
    CHECK(all_bytes(raw, sizeof raw, SENTINEL));
    memset(&b, SENTINEL, sizeof b);
    bad.open_ticks = 0;
    CHECK_RC(tripbit_breaker_init(&b, &bad), TRIPBIT_E_CONFIG_OPEN_TICKS);
    CHECK(all_bytes(&b, sizeof b, SENTINEL));

    /* Zeroed storage: every call says uninitialized and writes nothing. */
    memset(&t, SENTINEL, sizeof t);
    memset(&tr, SENTINEL, sizeof tr);
    memset(&snap, SENTINEL, sizeof snap);
    memset(&st, SENTINEL, sizeof st);
    CHECK_RC(tripbit_breaker_acquire(&zeroed, 0, &t, &tr), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_record(&zeroed, &t, TRIPBIT_OUTCOME_SUCCESS, 0, &tr), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_release(&zeroed, &t), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_state(&zeroed, 0, &st), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_snapshot(&zeroed, 0, &snap), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_force_open(&zeroed, &tr), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_force_closed(&zeroed, &tr), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_disable(&zeroed, &tr), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_reset(&zeroed, &tr), TRIPBIT_E_UNINIT);
    CHECK(all_bytes(&t, sizeof t, SENTINEL) && all_bytes(&tr, sizeof tr, SENTINEL));
    CHECK(all_bytes(&snap, sizeof snap, SENTINEL) && all_bytes(&st, sizeof st, SENTINEL));
    CHECK(all_bytes(&zeroed, sizeof zeroed, 0));

    /* Garbage storage with patterns C often leaves behind. */
    memset(&garbage, 0xFF, sizeof garbage);
    CHECK_RC(tripbit_breaker_acquire(&garbage, 0, &t, NULL), TRIPBIT_E_UNINIT);
    memset(&garbage, 0xA5, sizeof garbage);
    CHECK_RC(tripbit_breaker_state(&garbage, 0, &st), TRIPBIT_E_UNINIT);
    memset(&garbage, SENTINEL, sizeof garbage);
    CHECK_RC(tripbit_breaker_reset(&garbage, NULL), TRIPBIT_E_UNINIT);
    /* Random storage: detected nearly always; when a random pattern happens
     * to look initialized, calls still return a definite code (no UB). */
    {
        int detected = 0;
        for (i = 0; i < 20000; i++) {
            unsigned char *p = (unsigned char *)&garbage;
            size_t k;
            tripbit_result_t rc;
            for (k = 0; k < sizeof garbage; k++) p[k] = (unsigned char)rand_r(&seed);
            rc = tripbit_breaker_acquire(&garbage, (uint64_t)i, &t, &tr);
            if (rc == TRIPBIT_E_UNINIT) {
                detected++;
            } else if (rc == TRIPBIT_OK) {
                rc = tripbit_breaker_record(&garbage, &t, TRIPBIT_OUTCOME_FAILURE, (uint64_t)i, &tr);
                CHECK(rc == TRIPBIT_OK || rc == TRIPBIT_E_STALE);
                CHECK_RC(tripbit_breaker_snapshot(&garbage, (uint64_t)i, &snap), TRIPBIT_OK);
            } else {
                CHECK_RC(rc, TRIPBIT_E_REJECTED);
            }
        }
        printf("api: random storage detected as uninitialized: %d / 20000\n", detected);
        CHECK(detected > 19900);
    }

    /* Settings overwritten after init (the mark's checksum half no longer
     * matches, its constant half does): the guarded calls' fast path reads
     * only the state word, so a closed breaker still admits and a clean
     * success still changes nothing; every call that reads a setting (a
     * failure, the state, the snapshot) reports the storage uninitialized,
     * so the state machine never runs on the bad settings. */
    {
        tripbit_breaker_t bent;
        tripbit_config_t bc = tripbit_config_default();
        bc.open_ticks = 10;
        CHECK_RC(tripbit_breaker_init(&bent, &bc), TRIPBIT_OK);
        bent._consecutive_failures = 0; /* out of range, and not what was marked */
        CHECK_RC(tripbit_breaker_acquire(&bent, 1, &t, &tr), TRIPBIT_OK);
        CHECK_RC(tripbit_breaker_record(&bent, &t, TRIPBIT_OUTCOME_SUCCESS, 2, &tr), TRIPBIT_OK);
        CHECK(!tr.occurred);
        CHECK_RC(tripbit_breaker_record(&bent, &t, TRIPBIT_OUTCOME_FAILURE, 3, &tr), TRIPBIT_E_UNINIT);
        CHECK_RC(tripbit_breaker_state(&bent, 3, &st), TRIPBIT_E_UNINIT);
        CHECK_RC(tripbit_breaker_snapshot(&bent, 3, &snap), TRIPBIT_E_UNINIT);
    }

    /* Misaligned storage: reported before anything is read. */
    memset(raw, 0, sizeof raw);
    CHECK_RC(tripbit_breaker_acquire(mis, 0, &t, NULL), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_record(mis, &t, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_release(mis, &t), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_state(mis, 0, &st), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_snapshot(mis, 0, &snap), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_force_open(mis, NULL), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_force_closed(mis, NULL), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_disable(mis, NULL), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_reset(mis, NULL), TRIPBIT_E_MISALIGNED);

    /* NULL breaker everywhere. */
    CHECK_RC(tripbit_breaker_acquire(NULL, 0, &t, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_record(NULL, &t, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_release(NULL, &t), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_state(NULL, 0, &st), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_snapshot(NULL, 0, &snap), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_force_open(NULL, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_force_closed(NULL, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_disable(NULL, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_reset(NULL, NULL), TRIPBIT_E_NULL);

    /* Initialized: NULL and misaligned out-parameters. */
    CHECK_RC(tripbit_breaker_init(&zeroed, &d), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&zeroed, 0, NULL, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_state(&zeroed, 0, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_snapshot(&zeroed, 0, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_acquire(&zeroed, 0, (tripbit_ticket_t *)misalign(raw), NULL),
             TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_acquire(&zeroed, 0, &t, (tripbit_transition_t *)misalign(raw)),
             TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_state(&zeroed, 0, (tripbit_state_t *)misalign(raw)),
             TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_snapshot(&zeroed, 0, (tripbit_snapshot_t *)misalign(raw)),
             TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_force_open(&zeroed, (tripbit_transition_t *)misalign(raw)),
             TRIPBIT_E_MISALIGNED);
    CHECK(state_at(&zeroed, 0) == TRIPBIT_STATE_CLOSED); /* nothing happened */
}

/* The clock of the _with calls: a settable tick and a count of its reads. */
static uint64_t with_tick;
static unsigned with_reads;
static uint64_t with_clock(void) {
    with_reads++;
    return with_tick;
}

static void test_clock_calls(void) {
    tripbit_breaker_t b;
    tripbit_config_t c = config(100, 2);
    tripbit_ticket_t t, t2;
    tripbit_snapshot_t s;
    int i;

    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);

    /* Closed: admitted and recorded without reading the clock. */
    with_tick = 5;
    with_reads = 0;
    for (i = 0; i < 10; i++) {
        CHECK_RC(tripbit_breaker_acquire_with(&b, with_clock, &t), TRIPBIT_OK);
        CHECK(t.probe == 0 && t.slot == 0 && t.acquired_at == 0 && t.generation == 0);
        CHECK_RC(tripbit_breaker_record_with(&b, &t, TRIPBIT_OUTCOME_SUCCESS, with_clock), TRIPBIT_OK);
    }
    CHECK(with_reads == 0);

    /* A failure reads it once; two in a row trip at that tick. */
    with_tick = 7;
    CHECK_RC(tripbit_breaker_acquire_with(&b, with_clock, &t), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record_with(&b, &t, TRIPBIT_OUTCOME_FAILURE, with_clock), TRIPBIT_OK);
    CHECK(with_reads == 1);
    CHECK_RC(tripbit_breaker_snapshot(&b, 7, &s), TRIPBIT_OK);
    CHECK(s.consecutive_failures == 1 && !s.open);
    /* A success after a failure changes the breaker: it reads the clock. */
    CHECK_RC(tripbit_breaker_acquire_with(&b, with_clock, &t), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record_with(&b, &t, TRIPBIT_OUTCOME_SUCCESS, with_clock), TRIPBIT_OK);
    CHECK(with_reads == 2);
    CHECK_RC(tripbit_breaker_snapshot(&b, 7, &s), TRIPBIT_OK);
    CHECK(s.consecutive_failures == 0);
    with_tick = 20;
    for (i = 0; i < 2; i++) {
        CHECK_RC(tripbit_breaker_acquire_with(&b, with_clock, &t), TRIPBIT_OK);
        CHECK_RC(tripbit_breaker_record_with(&b, &t, TRIPBIT_OUTCOME_FAILURE, with_clock), TRIPBIT_OK);
    }
    CHECK_RC(tripbit_breaker_snapshot(&b, 20, &s), TRIPBIT_OK);
    CHECK(s.open && s.opened_at == 20 && s.open_until == 120);

    /* Open: rejected at the clock's tick, the ticket untouched. */
    with_tick = 119;
    with_reads = 0;
    memset(&t2, SENTINEL, sizeof t2);
    CHECK_RC(tripbit_breaker_acquire_with(&b, with_clock, &t2), TRIPBIT_E_REJECTED);
    CHECK(with_reads == 1 && all_bytes(&t2, sizeof t2, SENTINEL));
    /* At the end of the period: a probe, timed by the clock; its success
     * closes the breaker. */
    with_tick = 120;
    CHECK_RC(tripbit_breaker_acquire_with(&b, with_clock, &t), TRIPBIT_OK);
    CHECK(t.probe == 1 && t.acquired_at == 120);
    CHECK(state_at(&b, 120) == TRIPBIT_STATE_HALF_OPEN);
    CHECK_RC(tripbit_breaker_record_with(&b, &t, TRIPBIT_OUTCOME_SUCCESS, with_clock), TRIPBIT_OK);
    CHECK(state_at(&b, 121) == TRIPBIT_STATE_CLOSED);
    /* The probe's ticket again: stale, never counted twice. */
    CHECK_RC(tripbit_breaker_record_with(&b, &t, TRIPBIT_OUTCOME_SUCCESS, with_clock), TRIPBIT_E_STALE);

    /* Bad input: a clear code, in the documented order (breaker, clock,
     * then the rest), nothing changed and the clock not read. */
    with_reads = 0;
    memset(&t2, SENTINEL, sizeof t2);
    CHECK_RC(tripbit_breaker_acquire_with(NULL, NULL, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_acquire_with((tripbit_breaker_t *)((char *)&b + 8), with_clock, &t2),
             TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_acquire_with(&b, NULL, &t2), TRIPBIT_E_NULL);
    CHECK(all_bytes(&t2, sizeof t2, SENTINEL));
    CHECK_RC(tripbit_breaker_acquire_with(&b, with_clock, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_acquire_with(&b, with_clock, (tripbit_ticket_t *)((char *)&t2 + 4)),
             TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_acquire_with(&b, with_clock, &t), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record_with(NULL, &t, TRIPBIT_OUTCOME_SUCCESS, with_clock), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_record_with(&b, &t, TRIPBIT_OUTCOME_SUCCESS, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_record_with(&b, NULL, TRIPBIT_OUTCOME_SUCCESS, with_clock), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_record_with(&b, &t, 7u, with_clock), TRIPBIT_E_OUTCOME);
    t2 = t;
    t2.slot = 3; /* a closed ticket never holds a slot */
    CHECK_RC(tripbit_breaker_record_with(&b, &t2, TRIPBIT_OUTCOME_SUCCESS, with_clock), TRIPBIT_E_TICKET);
    {
        static tripbit_breaker_t zeroed;
        CHECK_RC(tripbit_breaker_acquire_with(&zeroed, with_clock, &t2), TRIPBIT_E_UNINIT);
        CHECK_RC(tripbit_breaker_record_with(&zeroed, &t, TRIPBIT_OUTCOME_SUCCESS, NULL), TRIPBIT_E_UNINIT);
    }
    CHECK_RC(tripbit_breaker_snapshot(&b, 121, &s), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_CLOSED && s.consecutive_failures == 0);
    /* The good ticket still records. */
    CHECK_RC(tripbit_breaker_record_with(&b, &t, TRIPBIT_OUTCOME_SUCCESS, with_clock), TRIPBIT_OK);
}

static void test_trip_probe_close(void) {
    tripbit_breaker_t b;
    tripbit_config_t c = config(100, 3);
    tripbit_ticket_t t, t2;
    tripbit_transition_t tr;
    tripbit_snapshot_t s;
    int i;

    c.backoff_factor = 2;
    c.backoff_max_level = 2;
    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    CHECK(state_at(&b, 0) == TRIPBIT_STATE_CLOSED);

    /* A success while closed resets the failure count. */
    for (i = 0; i < 2; i++) {
        CHECK_RC(tripbit_breaker_acquire(&b, 1, &t, &tr), TRIPBIT_OK);
        CHECK(!tr.occurred && t.probe == 0 && t.acquired_at == 1);
        CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 2, &tr), TRIPBIT_OK);
        CHECK(!tr.occurred);
    }
    CHECK_RC(tripbit_breaker_snapshot(&b, 2, &s), TRIPBIT_OK);
    CHECK(s.consecutive_failures == 2 && !s.open);
    CHECK_RC(tripbit_breaker_acquire(&b, 3, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_SUCCESS, 3, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_snapshot(&b, 3, &s), TRIPBIT_OK);
    CHECK(s.consecutive_failures == 0);
    /* Ignored counts nothing. */
    CHECK_RC(tripbit_breaker_acquire(&b, 3, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_IGNORED, 3, NULL), TRIPBIT_OK);

    /* Three failures in a row trip it, at the third, at tick 12. */
    for (i = 0; i < 3; i++) {
        CHECK_RC(tripbit_breaker_acquire(&b, 10 + (uint64_t)i, &t, NULL), TRIPBIT_OK);
        CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 10 + (uint64_t)i, &tr), TRIPBIT_OK);
        CHECK(tr.occurred == (i == 2));
    }
    CHECK(tr.from == TRIPBIT_STATE_CLOSED && tr.to == TRIPBIT_STATE_OPEN && tr.level == 0);
    CHECK_RC(tripbit_breaker_snapshot(&b, 50, &s), TRIPBIT_OK);
    CHECK(s.open && s.opened_at == 12 && s.open_until == 112 && s.state == TRIPBIT_STATE_OPEN);
    CHECK(s.generation == tr.generation && s.generation == 1);

    /* Open: fail fast, out-params untouched. */
    memset(&t2, SENTINEL, sizeof t2);
    memset(&tr, SENTINEL, sizeof tr);
    CHECK_RC(tripbit_breaker_acquire(&b, 111, &t2, &tr), TRIPBIT_E_REJECTED);
    CHECK(all_bytes(&t2, sizeof t2, SENTINEL) && all_bytes(&tr, sizeof tr, SENTINEL));
    CHECK(state_at(&b, 111) == TRIPBIT_STATE_OPEN);
    CHECK(state_at(&b, 112) == TRIPBIT_STATE_HALF_OPEN); /* pure: reports only */

    /* After the open period: one probe (probes = 1), the next is rejected. */
    CHECK_RC(tripbit_breaker_acquire(&b, 112, &t, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_OPEN && tr.to == TRIPBIT_STATE_HALF_OPEN);
    CHECK(t.probe == 1);
    CHECK_RC(tripbit_breaker_acquire(&b, 113, &t2, NULL), TRIPBIT_E_REJECTED);
    CHECK_RC(tripbit_breaker_snapshot(&b, 113, &s), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_HALF_OPEN && s.probes_in_flight == 1);

    /* A failed probe reopens with backoff: 100 x 2^1 from tick 120. */
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 120, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_HALF_OPEN && tr.to == TRIPBIT_STATE_OPEN && tr.level == 1);
    CHECK_RC(tripbit_breaker_snapshot(&b, 121, &s), TRIPBIT_OK);
    CHECK(s.open && s.opened_at == 120 && s.open_until == 320 && s.backoff_level == 1);
    CHECK_RC(tripbit_breaker_acquire(&b, 319, &t, NULL), TRIPBIT_E_REJECTED);

    /* Released probe: frees the slot, counts nothing. */
    CHECK_RC(tripbit_breaker_acquire(&b, 320, &t, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_HALF_OPEN && t.probe == 1);
    CHECK_RC(tripbit_breaker_release(&b, &t), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_snapshot(&b, 320, &s), TRIPBIT_OK);
    CHECK(s.probes_in_flight == 0 && s.probe_successes == 0 && s.probe_failures == 0);

    /* A successful probe closes it and clears the backoff level. */
    CHECK_RC(tripbit_breaker_acquire(&b, 321, &t, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred && t.probe == 1);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_SUCCESS, 322, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_HALF_OPEN && tr.to == TRIPBIT_STATE_CLOSED && tr.level == 0);
    CHECK(state_at(&b, 322) == TRIPBIT_STATE_CLOSED);
    CHECK_RC(tripbit_breaker_snapshot(&b, 322, &s), TRIPBIT_OK);
    /* Five transitions, and the released probe's round ended: the probe
     * at 321 opened a new round, itself a new generation. */
    CHECK(s.backoff_level == 0 && !s.open && s.generation == 6);
}

static void test_probes_and_close_after(void) {
    tripbit_breaker_t b;
    tripbit_config_t c = config(10, 1);
    tripbit_ticket_t p[3], extra;
    tripbit_transition_t tr;
    int i;

    c.probes = 3;
    c.close_after = 3;
    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 0, &p[0], NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &p[0], TRIPBIT_OUTCOME_FAILURE, 0, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    /* Exactly `probes` are admitted. */
    for (i = 0; i < 3; i++) CHECK_RC(tripbit_breaker_acquire(&b, 10, &p[i], NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 10, &extra, NULL), TRIPBIT_E_REJECTED);
    /* close_after = 3: the third success closes. */
    for (i = 0; i < 3; i++) {
        CHECK_RC(tripbit_breaker_record(&b, &p[i], TRIPBIT_OUTCOME_SUCCESS, 11, &tr), TRIPBIT_OK);
        CHECK(tr.occurred == (i == 2));
    }
    CHECK(tr.to == TRIPBIT_STATE_CLOSED);
}

static void test_stale_and_bad_tickets(void) {
    tripbit_breaker_t b;
    tripbit_config_t c = config(10, 2);
    tripbit_ticket_t t, forged;
    tripbit_transition_t tr;
    tripbit_snapshot_t s;

    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    /* A record after reset is stale: discarded, never counted. */
    CHECK_RC(tripbit_breaker_acquire(&b, 0, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_reset(&b, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred); /* already closed; the generation moved on anyway */
    memset(&tr, SENTINEL, sizeof tr);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 1, &tr), TRIPBIT_E_STALE);
    CHECK(all_bytes(&tr, sizeof tr, SENTINEL));
    CHECK_RC(tripbit_breaker_snapshot(&b, 1, &s), TRIPBIT_OK);
    CHECK(s.consecutive_failures == 0 && s.generation == 1);
    /* Releasing a stale ticket is fine: the slot is gone already. */
    CHECK_RC(tripbit_breaker_release(&b, &t), TRIPBIT_OK);

    /* Invalid outcomes and forged tickets. */
    CHECK_RC(tripbit_breaker_acquire(&b, 2, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, 3, 2, NULL), TRIPBIT_E_OUTCOME);
    CHECK_RC(tripbit_breaker_record(&b, &t, UINT32_MAX, 2, NULL), TRIPBIT_E_OUTCOME);
    forged = t; forged.probe = 2;
    CHECK_RC(tripbit_breaker_record(&b, &forged, TRIPBIT_OUTCOME_SUCCESS, 2, NULL), TRIPBIT_E_TICKET);
    CHECK_RC(tripbit_breaker_release(&b, &forged), TRIPBIT_E_TICKET);
    forged = t; forged.generation = 0x1000000;
    CHECK_RC(tripbit_breaker_record(&b, &forged, TRIPBIT_OUTCOME_SUCCESS, 2, NULL), TRIPBIT_E_TICKET);
    forged = t; forged.generation = t.generation + 7;
    CHECK_RC(tripbit_breaker_record(&b, &forged, TRIPBIT_OUTCOME_SUCCESS, 2, NULL), TRIPBIT_E_STALE);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_SUCCESS, 2, NULL), TRIPBIT_OK);
}

static void test_ticks_backwards(void) {
    tripbit_breaker_t b;
    tripbit_config_t c = config(100, 1);
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    tripbit_snapshot_t s;

    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    /* Recorded before it was acquired: no time passed, still counted. */
    CHECK_RC(tripbit_breaker_acquire(&b, 1000, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 500, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    CHECK_RC(tripbit_breaker_snapshot(&b, 0, &s), TRIPBIT_OK);
    CHECK(s.opened_at == 500 && s.open_until == 600);
    /* A clock that jumps back by less than the period: no time passed. */
    CHECK(state_at(&b, 450) == TRIPBIT_STATE_OPEN);
    CHECK_RC(tripbit_breaker_acquire(&b, 450, &t, NULL), TRIPBIT_E_REJECTED);
    CHECK_RC(tripbit_breaker_acquire(&b, 599, &t, NULL), TRIPBIT_E_REJECTED);
    /* By more (a restarted or wrapped clock): the open period restarts at
     * the new tick, instead of waiting for the old clock's value. */
    CHECK_RC(tripbit_breaker_acquire(&b, 10, &t, NULL), TRIPBIT_E_REJECTED);
    CHECK_RC(tripbit_breaker_snapshot(&b, 10, &s), TRIPBIT_OK);
    CHECK(s.opened_at == 10 && s.open_until == 110);
    CHECK_RC(tripbit_breaker_acquire(&b, 109, &t, NULL), TRIPBIT_E_REJECTED);
    CHECK_RC(tripbit_breaker_acquire(&b, 110, &t, &tr), TRIPBIT_OK);
    CHECK(tr.to == TRIPBIT_STATE_HALF_OPEN);
    /* ...and a probe recorded "earlier" than it started still counts. */
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_SUCCESS, 3, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_CLOSED);
    /* Tick extremes. */
    CHECK_RC(tripbit_breaker_acquire(&b, UINT64_MAX, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, UINT64_MAX, &tr), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_snapshot(&b, UINT64_MAX, &s), TRIPBIT_OK);
    CHECK(s.open && s.open_until == UINT64_MAX); /* saturates, never wraps */
}

static void test_operator_actions(void) {
    tripbit_breaker_t b;
    tripbit_config_t c = config(10, 1);
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    tripbit_snapshot_t s;

    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_force_open(&b, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_CLOSED && tr.to == TRIPBIT_STATE_FORCED_OPEN);
    CHECK_RC(tripbit_breaker_force_open(&b, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred && tr.generation == 0 && tr.level == 0);
    CHECK_RC(tripbit_breaker_acquire(&b, 1000000, &t, NULL), TRIPBIT_E_REJECTED);
    CHECK(state_at(&b, 1000000) == TRIPBIT_STATE_FORCED_OPEN);

    /* Forced closed: admits everything, counts nothing. */
    CHECK_RC(tripbit_breaker_force_closed(&b, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_FORCED_OPEN && tr.to == TRIPBIT_STATE_FORCED_CLOSED);
    CHECK_RC(tripbit_breaker_acquire(&b, 1, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 1, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred && state_at(&b, 1) == TRIPBIT_STATE_FORCED_CLOSED);

    /* Disabled: admits everything, counts, never trips. */
    CHECK_RC(tripbit_breaker_disable(&b, NULL), TRIPBIT_OK);
    CHECK(state_at(&b, 2) == TRIPBIT_STATE_DISABLED);
    CHECK_RC(tripbit_breaker_acquire(&b, 2, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 2, &tr), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 3, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 3, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);
    CHECK_RC(tripbit_breaker_snapshot(&b, 3, &s), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_DISABLED && s.consecutive_failures == 2);

    /* Reset: closed, counts cleared, transition reported. */
    CHECK_RC(tripbit_breaker_reset(&b, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_DISABLED && tr.to == TRIPBIT_STATE_CLOSED);
    CHECK_RC(tripbit_breaker_snapshot(&b, 4, &s), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_CLOSED && s.consecutive_failures == 0);

    /* Re-initializing an idle breaker starts it over. */
    CHECK_RC(tripbit_breaker_force_open(&b, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_snapshot(&b, 0, &s), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_CLOSED && s.generation == 0);
}

/* Replayed tickets: a probe ticket counts at most once, whatever the
 * caller does with it; never more than `probes` probes are in flight. */
static void test_ticket_replays(void) {
    tripbit_breaker_t b;
    tripbit_config_t c = config(100, 1);
    tripbit_ticket_t p1, p2, p3, x;
    tripbit_transition_t tr;
    tripbit_snapshot_t s;

    c.probes = 2;
    c.close_after = 2;
    c.probe_ticks = 1000;
    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 0, &x, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &x, TRIPBIT_OUTCOME_FAILURE, 0, &tr), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 100, &p1, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 100, &p2, NULL), TRIPBIT_OK);
    CHECK(p1.probe == 1 && p2.probe == 1 && p1.slot != p2.slot);

    /* Released twice: the second release is stale and frees nothing (not
     * an error for a release), so a third probe is not admitted while p2
     * still runs. */
    CHECK_RC(tripbit_breaker_release(&b, &p1), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_release(&b, &p1), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 101, &p3, NULL), TRIPBIT_E_REJECTED);
    CHECK_RC(tripbit_breaker_snapshot(&b, 101, &s), TRIPBIT_OK);
    CHECK(s.probes_in_flight == 1);

    /* Recorded, then recorded again and released: counted once. */
    CHECK_RC(tripbit_breaker_record(&b, &p2, TRIPBIT_OUTCOME_SUCCESS, 102, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);
    CHECK_RC(tripbit_breaker_record(&b, &p2, TRIPBIT_OUTCOME_SUCCESS, 102, &tr), TRIPBIT_E_STALE);
    CHECK_RC(tripbit_breaker_release(&b, &p2), TRIPBIT_OK); /* frees nothing */
    CHECK_RC(tripbit_breaker_snapshot(&b, 102, &s), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_HALF_OPEN && s.probe_successes == 1 && s.probes_in_flight == 0);

    /* The next round: old tickets of the previous round stay stale. */
    CHECK_RC(tripbit_breaker_acquire(&b, 103, &p3, NULL), TRIPBIT_OK);
    CHECK(p3.probe == 1);
    CHECK_RC(tripbit_breaker_record(&b, &p1, TRIPBIT_OUTCOME_SUCCESS, 103, &tr), TRIPBIT_E_STALE);
    CHECK_RC(tripbit_breaker_record(&b, &p2, TRIPBIT_OUTCOME_SUCCESS, 103, &tr), TRIPBIT_E_STALE);
    CHECK_RC(tripbit_breaker_snapshot(&b, 103, &s), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_HALF_OPEN && s.probe_successes == 1);
    CHECK_RC(tripbit_breaker_record(&b, &p3, TRIPBIT_OUTCOME_SUCCESS, 104, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_CLOSED);

    /* A lost probe ticket never wedges the breaker: past probe_ticks the
     * next acquire starts a new round, and the lost ticket is stale. */
    CHECK_RC(tripbit_breaker_acquire(&b, 200, &x, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &x, TRIPBIT_OUTCOME_FAILURE, 200, &tr), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 300, &p1, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 300, &p2, NULL), TRIPBIT_OK); /* both lost */
    CHECK_RC(tripbit_breaker_acquire(&b, 1299, &p3, NULL), TRIPBIT_E_REJECTED);
    CHECK_RC(tripbit_breaker_acquire(&b, 1300, &p3, NULL), TRIPBIT_OK);
    CHECK(p3.probe == 1);
    CHECK_RC(tripbit_breaker_record(&b, &p1, TRIPBIT_OUTCOME_FAILURE, 1301, &tr), TRIPBIT_E_STALE);
}

/* Wrapping 32-bit HAL ticks: raw, a wrap restarts a running open period
 * (at most one extra period per wrap); extended, periods are exact. */
static void test_tick32(void) {
    tripbit_breaker_t b;
    tripbit_config_t c = config(100, 1);
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    tripbit_snapshot_t s;
    tripbit_tick32_t ext = {0, 0};
    uint64_t now;

    /* raw 32-bit ticks */
    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 0xFFFFFFF0u, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, 0xFFFFFFF0u, &tr), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 0x50u, &t, NULL), TRIPBIT_E_REJECTED); /* wrapped */
    CHECK_RC(tripbit_breaker_snapshot(&b, 0x50u, &s), TRIPBIT_OK);
    CHECK(s.open_until == 0x50u + 100u); /* restarted, not 2^32 ticks away */
    CHECK_RC(tripbit_breaker_acquire(&b, 0x50u + 100u, &t, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_HALF_OPEN);

    /* extended ticks */
    CHECK_RC(tripbit_breaker_init(&b, &c), TRIPBIT_OK);
    now = tripbit_tick_extend32(&ext, 0xFFFFFFF0u);
    CHECK(now == 0xFFFFFFF0u);
    CHECK_RC(tripbit_breaker_acquire(&b, now, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_FAILURE, now, &tr), TRIPBIT_OK);
    now = tripbit_tick_extend32(&ext, 0x53u); /* 99 ticks later, across the wrap */
    CHECK(now == ((uint64_t)1 << 32) + 0x53u);
    CHECK_RC(tripbit_breaker_acquire(&b, now, &t, NULL), TRIPBIT_E_REJECTED);
    now = tripbit_tick_extend32(&ext, 0x54u); /* exactly 100 ticks after the trip */
    CHECK_RC(tripbit_breaker_acquire(&b, now, &t, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_HALF_OPEN);
    CHECK(tripbit_tick_extend32(NULL, 7) == 0);
}

/* A config inside the documented ranges is never refused: the close bar's
 * range is close_after × p < 1023 × (100 − p) (at most 1022 failures
 * allowed), checked for every close_after and percent. */
static void test_close_bar_range(void) {
    tripbit_config_t c = tripbit_config_default();
    unsigned long wrong = 0, accepted = 0;
    uint32_t ca, pc;

    c.close_after = 42; c.close_max_failure_percent = 99; /* 4158 failures allowed */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT);
    CHECK(strcmp(tripbit_config_field(TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT),
                 "close_max_failure_percent") == 0);
    c.close_after = 10; /* 990 */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_OK);
    c.close_after = 11; /* 1089 */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT);
    c.close_after = 42; c.close_max_failure_percent = 96; /* 1008 */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_OK);
    c.close_after = 1022; c.close_max_failure_percent = 50; /* 1022 */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_OK);
    c.close_after = 1023; /* 1023: one too many */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT);
    c.close_max_failure_percent = 49; /* any close_after up to 49 % */
    CHECK_RC(tripbit_config_check(&c), TRIPBIT_OK);

    for (ca = 1; ca <= 1023; ca++) {
        for (pc = 0; pc <= 99; pc++) {
            tripbit_breaker_t b;
            int in_range = (unsigned long)ca * pc < 1023ul * (100 - pc);
            tripbit_result_t rc;
            c.close_after = ca;
            c.close_max_failure_percent = pc;
            rc = tripbit_config_check(&c);
            if (rc != (in_range ? TRIPBIT_OK : TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT)) wrong++;
            if (rc == TRIPBIT_OK) accepted++;
            /* init agrees with check */
            if ((ca % 97 == 0 || pc % 33 == 0) && tripbit_breaker_init(&b, &c) != rc) wrong++;
        }
    }
    CHECK(wrong == 0);
    CHECK(accepted > 50ul * 1023ul); /* every close_after at 0..=49 %, and more */
}

/* "First field at fault" follows the one order tripbit_config_check()
 * documents, for check and init alike, also for values too wide for the
 * core's types: consecutive_failures, open_ticks, backoff_factor,
 * backoff_max_level, the backoff product, close_after,
 * close_max_failure_percent (range, then bar), probes, reserved. */
static void test_config_fault_order(void) {
    const tripbit_config_t d = tripbit_config_default();
    tripbit_config_t c;
    tripbit_breaker_t b;
    struct { tripbit_config_t c; tripbit_result_t want; } cases[12];
    size_t n = 0, i;

    c = d; c.consecutive_failures = 0; c.open_ticks = 0; c.probes = 0;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES;
    c = d; c.open_ticks = 0; c.backoff_factor = 0;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_OPEN_TICKS;
    c = d; c.backoff_factor = 300; c.backoff_max_level = 32;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_BACKOFF_FACTOR;
    c = d; c.backoff_max_level = 1000; c.close_after = 0;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL;
    c = d; c.open_ticks = UINT64_MAX; c.backoff_factor = 2; c.backoff_max_level = 1; c.close_after = 0;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW;
    c = d; c.close_after = 70000; c.close_max_failure_percent = 100; c.probes = 300;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_CLOSE_AFTER;
    c = d; c.close_max_failure_percent = 1000; c.probes = 0;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT;
    c = d; c.close_after = 42; c.close_max_failure_percent = 99; c.probes = 9;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT;
    c = d; c.probes = 300; c.reserved[0] = 1;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_PROBES;
    c = d; c.probes = 3; c.close_after = 2; c.reserved[2] = 7; /* over the bar */
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG_PROBES;
    c = d; c.reserved[1] = 1;
    cases[n].c = c; cases[n++].want = TRIPBIT_E_CONFIG;
    c = d; c.probes = 3; c.close_after = 2; c.close_max_failure_percent = 34; /* 2 + 1 probes */
    cases[n].c = c; cases[n++].want = TRIPBIT_OK;

    for (i = 0; i < n; i++) {
        CHECK_RC(tripbit_config_check(&cases[i].c), cases[i].want);
        CHECK_RC(tripbit_breaker_init(&b, &cases[i].c), cases[i].want);
    }
}

/* Which error comes first when several are wrong (tripbit_result_t's doc):
 * the breaker pointer (NULL, misaligned, uninit), then the other pointers
 * in argument order, then the values (outcome, then ticket). */
static void test_error_order(void) {
    static tripbit_breaker_t zeroed;
    tripbit_breaker_t b;
    tripbit_config_t d = tripbit_config_default();
    tripbit_ticket_t t, forged;
    uint64_t raw[12];
    tripbit_transition_t *mis_tr = (tripbit_transition_t *)misalign(raw);
    tripbit_ticket_t *mis_t = (tripbit_ticket_t *)misalign(raw);

    CHECK_RC(tripbit_breaker_init(&b, &d), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&b, 0, &t, NULL), TRIPBIT_OK);
    forged = t;
    forged.probe = 7;
    /* breaker first */
    CHECK_RC(tripbit_breaker_record(NULL, NULL, 99, 0, mis_tr), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_record(&zeroed, NULL, 99, 0, mis_tr), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_acquire(&zeroed, 0, NULL, mis_tr), TRIPBIT_E_UNINIT);
    /* then the other pointers, in argument order */
    CHECK_RC(tripbit_breaker_record(&b, NULL, 99, 0, mis_tr), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_record(&b, mis_t, 99, 0, NULL), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_record(&b, &forged, 99, 0, mis_tr), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_acquire(&b, 0, NULL, mis_tr), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_acquire(&b, 0, mis_t, NULL), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_release(&b, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_release(&b, mis_t), TRIPBIT_E_MISALIGNED);
    /* then the values: the outcome before the ticket */
    CHECK_RC(tripbit_breaker_record(&b, &forged, 99, 0, NULL), TRIPBIT_E_OUTCOME);
    CHECK_RC(tripbit_breaker_record(&b, &forged, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_E_TICKET);
    /* nothing counted by any of them */
    CHECK_RC(tripbit_breaker_record(&b, &t, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_OK);
}

/* TRIPBIT_BREAKER_INIT / _INIT_FULL make the breaker tripbit_breaker_init()
 * makes from the same config: the same fields, and the same behaviour. */
static tripbit_breaker_t compiled_default = TRIPBIT_BREAKER_INIT(1000u, 3u);
static tripbit_breaker_t compiled_full = TRIPBIT_BREAKER_INIT_FULL(1000u, 3u, 2u, 4u, 20u, 2u, 4u, 0u);
static tripbit_breaker_t compiled_edges =
    TRIPBIT_BREAKER_INIT_FULL(1u, 4294967295u, 8u, 10u, 99u, 2u, 31u, 5u);

static int same_fields(const tripbit_breaker_t *a, const tripbit_breaker_t *b) {
    return memcmp(a->_state, b->_state, sizeof a->_state) == 0 && a->_open_ticks == b->_open_ticks &&
           a->_probe_ticks == b->_probe_ticks && a->_consecutive_failures == b->_consecutive_failures &&
           a->_close_after == b->_close_after && a->_probes == b->_probes &&
           a->_backoff_factor == b->_backoff_factor && a->_backoff_max_level == b->_backoff_max_level &&
           a->_close_max_failure_percent == b->_close_max_failure_percent;
}

/* Field by field (the struct has padding bytes, which nobody writes). */
static int same_snapshot(const tripbit_snapshot_t *a, const tripbit_snapshot_t *b) {
    return a->opened_at == b->opened_at && a->open_until == b->open_until && a->state == b->state &&
           a->stored_state == b->stored_state && a->generation == b->generation &&
           a->consecutive_failures == b->consecutive_failures &&
           a->probes_in_flight == b->probes_in_flight && a->probe_successes == b->probe_successes &&
           a->probe_failures == b->probe_failures && a->backoff_level == b->backoff_level &&
           a->open == b->open && a->opened_by_trial == b->opened_by_trial &&
           a->probe_deadline == b->probe_deadline;
}

static void test_static_init_one(tripbit_breaker_t *compiled, const tripbit_config_t *c) {
    tripbit_breaker_t run;
    uint64_t now = 0;
    int i;
    CHECK_RC(tripbit_config_check(c), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_init(&run, c), TRIPBIT_OK);
    CHECK(same_fields(compiled, &run));
    CHECK(compiled->_mark == run._mark); /* the header's mark is the library's */
    /* The same sequence on both: trip, wait, probe, fail, backoff, probe,
     * succeed; every result and snapshot equal. */
    for (i = 0; i < 400; i++) {
        tripbit_breaker_t *bs[2] = {compiled, &run};
        tripbit_result_t rc[2];
        tripbit_snapshot_t sn[2];
        tripbit_ticket_t t[2];
        int k;
        uint32_t outcome = (i < 40 || (i / 50) % 2 == 1) ? TRIPBIT_OUTCOME_FAILURE : TRIPBIT_OUTCOME_SUCCESS;
        for (k = 0; k < 2; k++) {
            rc[k] = tripbit_breaker_acquire(bs[k], now, &t[k], NULL);
            if (rc[k] == TRIPBIT_OK) rc[k] = tripbit_breaker_record(bs[k], &t[k], outcome, now, NULL);
            CHECK_RC(tripbit_breaker_snapshot(bs[k], now, &sn[k]), TRIPBIT_OK);
        }
        CHECK(rc[0] == rc[1]);
        CHECK(same_snapshot(&sn[0], &sn[1]));
        now += 7;
    }
}

static void test_static_init(void) {
    tripbit_config_t c = tripbit_config_default();
    tripbit_snapshot_t s;
    c.open_ticks = 1000; c.consecutive_failures = 3;
    test_static_init_one(&compiled_default, &c);
    c.probes = 2; c.close_after = 4; c.close_max_failure_percent = 20;
    c.backoff_factor = 2; c.backoff_max_level = 4;
    test_static_init_one(&compiled_full, &c);
    c.open_ticks = 1; c.consecutive_failures = UINT32_MAX; c.probes = 8; c.close_after = 10;
    c.close_max_failure_percent = 99; c.backoff_factor = 2; c.backoff_max_level = 31; c.probe_ticks = 5;
    test_static_init_one(&compiled_edges, &c);
    /* probe_ticks 0 is stored as open_ticks, as init does. */
    CHECK(compiled_default._probe_ticks == 1000u && compiled_edges._probe_ticks == 5u);
    CHECK_RC(tripbit_breaker_snapshot(&compiled_edges, 0, &s), TRIPBIT_OK);
}

/* ---- the ratio policy: tripbit_window<N>_t ---- */

/* One guarded call on an 8-bucket window: acquire at `now`, record at
 * `now + took`. Returns the acquire's result. */
static tripbit_result_t wcall8(tripbit_window8_t *w, uint64_t now, uint64_t took, uint32_t outcome,
                               tripbit_transition_t *tr) {
    tripbit_ticket_t t;
    tripbit_result_t rc = tripbit_window8_acquire(w, now, &t, NULL);
    if (rc != TRIPBIT_OK) return rc;
    CHECK_RC(tripbit_window8_record(w, &t, outcome, now + took, tr), TRIPBIT_OK);
    return TRIPBIT_OK;
}

static void test_window_sizes_and_configs(void) {
    static tripbit_window8_t zeroed;
    tripbit_window8_t w;
    tripbit_window_config_t d = tripbit_window_config_default(), c;
    tripbit_ticket_t t;
    tripbit_state_t st;
    uint64_t raw[TRIPBIT_WINDOW8_SIZE / 8 + 16];
    tripbit_window8_t *mis = (tripbit_window8_t *)misalign(raw);

    CHECK(sizeof(tripbit_window4_t) == TRIPBIT_WINDOW4_SIZE && sizeof(tripbit_window8_t) == TRIPBIT_WINDOW8_SIZE);
    CHECK(sizeof(tripbit_window16_t) == TRIPBIT_WINDOW16_SIZE && sizeof(tripbit_window32_t) == TRIPBIT_WINDOW32_SIZE);
    CHECK(tripbit_window_storage_size(4) == sizeof(tripbit_window4_t));
    CHECK(tripbit_window_storage_size(8) == sizeof(tripbit_window8_t));
    CHECK(tripbit_window_storage_size(16) == sizeof(tripbit_window16_t));
    CHECK(tripbit_window_storage_size(32) == sizeof(tripbit_window32_t));
    CHECK(tripbit_window_storage_size(0) == 0 && tripbit_window_storage_size(5) == 0 &&
          tripbit_window_storage_size(64) == 0);
    CHECK(d.failure_percent == 50 && d.min_calls == 0 && d.bucket_calls == 1 && d.slow_ticks == 0);
    CHECK(d.probes == 1 && d.close_after == 1 && d.backoff_factor == 1 && d.reserved[3] == 0);

    CHECK_RC(tripbit_window_config_check(&d, 4), TRIPBIT_OK);
    CHECK_RC(tripbit_window_config_check(&d, 32), TRIPBIT_OK);
    CHECK_RC(tripbit_window_config_check(&d, 5), TRIPBIT_E_CONFIG); /* no storage type */
    CHECK_RC(tripbit_window_config_check(NULL, 8), TRIPBIT_E_NULL);
    memcpy(misalign(raw), &d, sizeof d);
    CHECK_RC(tripbit_window_config_check((const tripbit_window_config_t *)misalign(raw), 8),
             TRIPBIT_E_MISALIGNED);

    /* One code per bad field, the same from check and init, the storage
     * untouched on error. */
#define WCFG(field, value, want)                                               \
    do {                                                                       \
        c = d; c.field = (value);                                              \
        CHECK_RC(tripbit_window_config_check(&c, 8), want);                    \
        memset(&w, SENTINEL, sizeof w);                                        \
        CHECK_RC(tripbit_window8_init(&w, &c), want);                          \
        if ((want) != TRIPBIT_OK) CHECK(all_bytes(&w, sizeof w, SENTINEL));    \
    } while (0)
    WCFG(failure_percent, 0, TRIPBIT_E_CONFIG_FAILURE_PERCENT);
    WCFG(failure_percent, 101, TRIPBIT_E_CONFIG_FAILURE_PERCENT);
    WCFG(failure_percent, 256 + 50, TRIPBIT_E_CONFIG_FAILURE_PERCENT); /* would truncate to 50 */
    WCFG(failure_percent, 100, TRIPBIT_OK);
    WCFG(min_calls, 9, TRIPBIT_E_CONFIG_MIN_CALLS); /* the window holds 8 */
    WCFG(min_calls, 8, TRIPBIT_OK);
    WCFG(bucket_calls, 0, TRIPBIT_E_CONFIG_BUCKET_CALLS);
    WCFG(bucket_calls, 8192, TRIPBIT_E_CONFIG_BUCKET_CALLS);
    WCFG(bucket_calls, 8191, TRIPBIT_OK);
    WCFG(slow_percent, 10, TRIPBIT_E_CONFIG_SLOW_TICKS); /* slow_ticks 0 */
    WCFG(slow_ticks, 5, TRIPBIT_E_CONFIG_SLOW_PERCENT); /* slow_percent 0 */
    WCFG(close_max_failure_percent, 50, TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT); /* not below 50 */
    WCFG(close_max_failure_percent, 49, TRIPBIT_OK);
    WCFG(open_ticks, 0, TRIPBIT_E_CONFIG_OPEN_TICKS);
    WCFG(probes, 2, TRIPBIT_E_CONFIG_PROBES);
    WCFG(backoff_factor, 0, TRIPBIT_E_CONFIG_BACKOFF_FACTOR);
    WCFG(reserved[0], 1, TRIPBIT_E_CONFIG);
#undef WCFG
    c = d; c.slow_ticks = 5; c.slow_percent = 101;
    CHECK_RC(tripbit_window_config_check(&c, 8), TRIPBIT_E_CONFIG_SLOW_PERCENT);
    /* the documented order: failure_percent first, min_calls after the rest */
    c = d; c.failure_percent = 0; c.open_ticks = 0; c.bucket_calls = 0;
    CHECK_RC(tripbit_window_config_check(&c, 8), TRIPBIT_E_CONFIG_FAILURE_PERCENT);
    c = d; c.open_ticks = 0; c.bucket_calls = 0;
    CHECK_RC(tripbit_window_config_check(&c, 8), TRIPBIT_E_CONFIG_OPEN_TICKS);
    c = d; c.min_calls = 100; c.bucket_calls = 0;
    CHECK_RC(tripbit_window_config_check(&c, 8), TRIPBIT_E_CONFIG_BUCKET_CALLS);
    c = d; c.min_calls = 100; c.reserved[2] = 1;
    CHECK_RC(tripbit_window_config_check(&c, 8), TRIPBIT_E_CONFIG_MIN_CALLS);
    CHECK(strcmp(tripbit_config_field(TRIPBIT_E_CONFIG_MIN_CALLS), "min_calls") == 0);
    CHECK(strcmp(tripbit_config_field(TRIPBIT_E_CONFIG_BUCKET_CALLS), "bucket_calls") == 0);

    /* Pointers: NULL, misaligned, never initialized. */
    CHECK_RC(tripbit_window8_init(NULL, &d), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_window8_init(&w, NULL), TRIPBIT_E_NULL);
    memset(raw, SENTINEL, sizeof raw);
    CHECK_RC(tripbit_window8_init(mis, &d), TRIPBIT_E_MISALIGNED);
    CHECK(all_bytes(raw, sizeof raw, SENTINEL));
    CHECK_RC(tripbit_window8_acquire(&zeroed, 0, &t, NULL), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_window8_record(&zeroed, &t, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_window8_release(&zeroed, &t), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_window8_state(&zeroed, 0, &st), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_window8_reset(&zeroed, NULL), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_window8_acquire(NULL, 0, &t, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_window8_acquire(mis, 0, &t, NULL), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_window8_init(&w, &d), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_acquire(&w, 0, NULL, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_window8_state(&w, 0, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_window8_record(&w, NULL, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_window8_acquire(&w, 0, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_record(&w, &t, 7, 0, NULL), TRIPBIT_E_OUTCOME);
    t.probe = 3;
    CHECK_RC(tripbit_window8_record(&w, &t, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_E_TICKET);
    CHECK_RC(tripbit_window8_release(&w, &t), TRIPBIT_E_TICKET);

    /* Random storage: a definite answer every time, never a panic. */
    {
        unsigned seed = 4242;
        int detected = 0, bad = 0, k;
        size_t b;
        for (k = 0; k < 5000; k++) {
            unsigned char *p = (unsigned char *)&w;
            tripbit_result_t rc;
            for (b = 0; b < sizeof w; b++) p[b] = (unsigned char)rand_r(&seed);
            rc = tripbit_window8_acquire(&w, (uint64_t)k, &t, NULL);
            if (rc == TRIPBIT_E_UNINIT) detected++;
            else if (rc != TRIPBIT_OK && rc != TRIPBIT_E_REJECTED) bad++;
            else if (rc == TRIPBIT_OK &&
                     tripbit_window8_record(&w, &t, TRIPBIT_OUTCOME_FAILURE, (uint64_t)k, NULL) == TRIPBIT_E_PANIC)
                bad++;
        }
        CHECK(bad == 0);
        CHECK(detected == 5000);
    }
}

/* Trip at 50 % failures over the last 8 calls; recovery; the window is
 * the last 8 calls, not all of them. */
static void test_window_trip_and_recover(void) {
    tripbit_window8_t w;
    tripbit_window_config_t c = tripbit_window_config_default();
    tripbit_transition_t tr;
    tripbit_snapshot_t s;
    tripbit_window_counts_t n;
    tripbit_ticket_t t, t2;
    uint64_t now = 0;
    int i;

    c.open_ticks = 100;
    CHECK_RC(tripbit_window8_init(&w, &c), TRIPBIT_OK);
    /* Fewer calls than the window (min_calls 0 = all 8): 3 failures out
     * of 3 do not trip. */
    for (i = 0; i < 3; i++) CHECK_RC(wcall8(&w, now++, 0, TRIPBIT_OUTCOME_FAILURE, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);
    /* 5 successes: 3 / 8 failed. */
    for (i = 0; i < 5; i++) CHECK_RC(wcall8(&w, now++, 0, TRIPBIT_OUTCOME_SUCCESS, &tr), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_snapshot(&w, now, &s, &n), TRIPBIT_OK);
    CHECK(n.calls == 8 && n.failures == 3 && n.slow == 0 && s.state == TRIPBIT_STATE_CLOSED);
    /* The window is the last 8 calls: each new failure pushes an old call
     * out. Call 9 (F) pushes out call 1 (F): F F S S S S S F, still 3 / 8;
     * call 10 (F): F S S S S S F F, 3 / 8; call 11 (F): S S S S S F F F,
     * 3 / 8 (three failures have left); call 12 (F): S S S S F F F F =
     * 4 / 8 = 50 %: open, on the failure that reaches it. */
    for (i = 9; i <= 11; i++) {
        CHECK_RC(wcall8(&w, now++, 0, TRIPBIT_OUTCOME_FAILURE, &tr), TRIPBIT_OK);
        CHECK(!tr.occurred);
        CHECK_RC(tripbit_window8_snapshot(&w, now, &s, &n), TRIPBIT_OK);
        CHECK(n.calls == 8 && n.failures == 3);
    }
    CHECK_RC(wcall8(&w, now++, 0, TRIPBIT_OUTCOME_FAILURE, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_CLOSED && tr.to == TRIPBIT_STATE_OPEN);
    CHECK_RC(wcall8(&w, now, 0, TRIPBIT_OUTCOME_SUCCESS, NULL), TRIPBIT_E_REJECTED);
    CHECK_RC(tripbit_window8_snapshot(&w, now, &s, NULL), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_OPEN && s.open && s.open_until == s.opened_at + 100);

    /* Recovery: after the open period one probe; its success closes, with
     * an empty window (a new generation). */
    now = s.open_until;
    CHECK_RC(tripbit_window8_acquire(&w, now, &t, &tr), TRIPBIT_OK);
    CHECK(t.probe == 1 && tr.occurred && tr.to == TRIPBIT_STATE_HALF_OPEN);
    CHECK_RC(tripbit_window8_acquire(&w, now, &t2, NULL), TRIPBIT_E_REJECTED); /* one probe slot */
    CHECK_RC(tripbit_window8_snapshot(&w, now, &s, NULL), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_HALF_OPEN && s.probes_in_flight == 1);
    CHECK_RC(tripbit_window8_record(&w, &t, TRIPBIT_OUTCOME_SUCCESS, now + 1, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_HALF_OPEN && tr.to == TRIPBIT_STATE_CLOSED);
    CHECK_RC(tripbit_window8_snapshot(&w, now + 1, &s, &n), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_CLOSED && n.calls == 0 && n.failures == 0);
    /* a failure right after closing is 1 call: below min_calls, no trip */
    CHECK_RC(wcall8(&w, now + 2, 0, TRIPBIT_OUTCOME_FAILURE, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);
}

/* Replayed probe tickets count once; recorded, released, recorded again. */
static void test_window_replays_and_reset(void) {
    tripbit_window8_t w;
    tripbit_window_config_t c = tripbit_window_config_default();
    tripbit_transition_t tr;
    tripbit_snapshot_t s;
    tripbit_window_counts_t n;
    tripbit_ticket_t p1, p2, p3, x;
    int i;

    c.open_ticks = 100;
    c.min_calls = 2;
    c.probes = 2;
    c.close_after = 2;
    c.probe_ticks = 1000;
    CHECK_RC(tripbit_window8_init(&w, &c), TRIPBIT_OK);
    CHECK_RC(wcall8(&w, 0, 0, TRIPBIT_OUTCOME_FAILURE, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred); /* 1 call < min_calls 2 */
    CHECK_RC(wcall8(&w, 0, 0, TRIPBIT_OUTCOME_FAILURE, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    CHECK_RC(tripbit_window8_acquire(&w, 100, &p1, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_acquire(&w, 100, &p2, NULL), TRIPBIT_OK);
    CHECK(p1.probe == 1 && p2.probe == 1 && p1.slot != p2.slot);
    /* released twice: frees its slot once, so no third probe while p2 runs */
    CHECK_RC(tripbit_window8_release(&w, &p1), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_release(&w, &p1), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_acquire(&w, 101, &p3, NULL), TRIPBIT_E_REJECTED);
    /* recorded twice, then released: counted once */
    CHECK_RC(tripbit_window8_record(&w, &p2, TRIPBIT_OUTCOME_SUCCESS, 102, &tr), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_record(&w, &p2, TRIPBIT_OUTCOME_SUCCESS, 102, &tr), TRIPBIT_E_STALE);
    CHECK_RC(tripbit_window8_release(&w, &p2), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_record(&w, &p1, TRIPBIT_OUTCOME_SUCCESS, 102, &tr), TRIPBIT_E_STALE);
    CHECK_RC(tripbit_window8_snapshot(&w, 102, &s, NULL), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_HALF_OPEN && s.probe_successes == 1 && s.probes_in_flight == 0);
    /* the second success of a new round closes */
    CHECK_RC(tripbit_window8_acquire(&w, 103, &p3, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_record(&w, &p3, TRIPBIT_OUTCOME_SUCCESS, 103, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_CLOSED);
    CHECK_RC(tripbit_window8_snapshot(&w, 103, &s, &n), TRIPBIT_OK);
    CHECK(n.calls == 0 && n.failures == 0); /* closing starts an empty window */

    /* reset: an empty window, and tickets from before are stale */
    for (i = 0; i < 3; i++) CHECK_RC(wcall8(&w, 110, 0, TRIPBIT_OUTCOME_SUCCESS, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_acquire(&w, 111, &x, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_reset(&w, &tr), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_record(&w, &x, TRIPBIT_OUTCOME_FAILURE, 111, NULL), TRIPBIT_E_STALE);
    CHECK_RC(tripbit_window8_snapshot(&w, 111, &s, &n), TRIPBIT_OK);
    CHECK(n.calls == 0 && s.state == TRIPBIT_STATE_CLOSED);
}

/* The slow-call rule: calls that take slow_ticks or more count as slow. */
static void test_window_slow_calls(void) {
    tripbit_window8_t w;
    tripbit_window_config_t c = tripbit_window_config_default();
    tripbit_transition_t tr;
    tripbit_window_counts_t n;
    tripbit_snapshot_t s;
    int i;

    c.failure_percent = 100;
    c.slow_ticks = 10;
    c.slow_percent = 75;
    c.min_calls = 4;
    CHECK_RC(tripbit_window8_init(&w, &c), TRIPBIT_OK);
    CHECK_RC(wcall8(&w, 0, 9, TRIPBIT_OUTCOME_SUCCESS, &tr), TRIPBIT_OK);  /* fast */
    for (i = 0; i < 2; i++) CHECK_RC(wcall8(&w, 20, 10, TRIPBIT_OUTCOME_SUCCESS, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);
    CHECK_RC(tripbit_window8_snapshot(&w, 40, &s, &n), TRIPBIT_OK);
    CHECK(n.calls == 3 && n.slow == 2 && n.failures == 0);
    CHECK_RC(wcall8(&w, 40, 50, TRIPBIT_OUTCOME_SUCCESS, &tr), TRIPBIT_OK); /* 3 / 4 slow */
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
}

/* The other sizes: the same API, each on its own storage. */
static void test_window_other_sizes(void) {
    tripbit_window4_t w4;
    tripbit_window16_t w16;
    tripbit_window32_t w32;
    tripbit_window_config_t c = tripbit_window_config_default();
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    tripbit_state_t st;
    tripbit_snapshot_t s;
    tripbit_window_counts_t n;
    int i;

    c.open_ticks = 50;
    CHECK_RC(tripbit_window4_init(&w4, &c), TRIPBIT_OK);
    CHECK_RC(tripbit_window16_init(&w16, &c), TRIPBIT_OK);
    CHECK_RC(tripbit_window32_init(&w32, &c), TRIPBIT_OK);
    /* all failures: each trips when its whole window (4, 16, 32) is in */
#define FILL(W, w, ncalls)                                                                      \
    for (i = 0; i < (ncalls); i++) {                                                            \
        CHECK_RC(W##_acquire(&w, (uint64_t)i, &t, NULL), TRIPBIT_OK);                          \
        CHECK_RC(W##_record(&w, &t, TRIPBIT_OUTCOME_FAILURE, (uint64_t)i, &tr), TRIPBIT_OK);    \
        CHECK(tr.occurred == (i == (ncalls) - 1));                                              \
    }                                                                                          \
    CHECK_RC(W##_state(&w, (uint64_t)(ncalls), &st), TRIPBIT_OK);                               \
    CHECK(st == TRIPBIT_STATE_OPEN);                                                           \
    CHECK_RC(W##_snapshot(&w, (uint64_t)(ncalls), &s, &n), TRIPBIT_OK);                         \
    CHECK(s.state == TRIPBIT_STATE_OPEN && n.calls == 0);                                      \
    CHECK_RC(W##_acquire(&w, (uint64_t)(ncalls), &t, NULL), TRIPBIT_E_REJECTED);                \
    CHECK_RC(W##_reset(&w, NULL), TRIPBIT_OK);                                                 \
    CHECK_RC(W##_acquire(&w, 1000, &t, NULL), TRIPBIT_OK);                                     \
    CHECK_RC(W##_release(&w, &t), TRIPBIT_OK)
    FILL(tripbit_window4, w4, 4);
    FILL(tripbit_window16, w16, 16);
    FILL(tripbit_window32, w32, 32);
#undef FILL
}

int main(void) {
    test_strings();
    test_panic_boundary();
    test_config();
    test_close_bar_range();
    test_config_fault_order();
    test_error_order();
    test_static_init();
    test_init_and_uninit();
    test_trip_probe_close();
    test_clock_calls();
    test_probes_and_close_after();
    test_stale_and_bad_tickets();
    test_ticks_backwards();
    test_operator_actions();
    test_ticket_replays();
    test_tick32();
    test_window_sizes_and_configs();
    test_window_trip_and_recover();
    test_window_replays_and_reset();
    test_window_slow_calls();
    test_window_other_sizes();
    return check_summary("api");
}
