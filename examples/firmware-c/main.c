/*
 * main.c: bare-metal proof that libtripbit.a works on a Cortex-M target.
 *
 * A fake I2C sensor NACKs for a stretch of ticks and then recovers; a
 * statically allocated tripbit breaker guards it. Every step is checked with
 * real assertions; progress goes to the host over semihosting and main's
 * return value becomes QEMU's exit status (0 = pass).
 *
 * No malloc anywhere in this file: breakers are `static tripbit_breaker_t`.
 * Ticks are plain uint64_t counters passed in by the firmware (tripbit never
 * reads a clock); the main scenario starts just below 2^32 so that the 64-bit
 * tick arithmetic is exercised across the 32-bit boundary on a 32-bit core.
 *
 * Build flags: -DFW_SELFTEST_FAULT / -DFW_SELFTEST_CHECK / -DFW_SELFTEST_PANIC
 * build the negative controls run-qemu.sh uses to prove a failure really
 * reaches the shell (the last one links a libtripbit.a built with ffi-c's
 * `panic-test` feature).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fw.h"
#include "tripbit.h"

/* ======================================================================
 * The critical section tripbit's atomic words need on cores without 64-bit
 * atomics. ffi-c enables critical-section's `restore-state-u32`, so the
 * restore state is a uint32_t: the PRIMASK value before `cpsid i`.
 * Restoring writes it back, so nested sections (or a call made while the
 * caller already masked interrupts) never re-enable interrupts early.
 * Single core only, which both QEMU machines (and the real chips) are.
 * ====================================================================== */

static volatile uint32_t cs_taken;   /* acquisitions, for the report */
static volatile int32_t cs_depth;    /* current nesting: 0 between calls */
static volatile int32_t cs_max_depth;

static inline uint32_t primask_get(void)
{
    uint32_t v;
    __asm__ volatile("mrs %0, primask" : "=r"(v)::"memory");
    return v;
}

uint32_t _critical_section_1_0_acquire(void)
{
    uint32_t saved;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(saved)::"memory");
    cs_taken++;
    cs_depth++;
    if (cs_depth > cs_max_depth) {
        cs_max_depth = cs_depth;
    }
    return saved;
}

void _critical_section_1_0_release(uint32_t restore)
{
    cs_depth--;
    __asm__ volatile("msr primask, %0" ::"r"(restore) : "memory");
}

static inline void irq_disable(void) { __asm__ volatile("cpsid i" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("cpsie i" ::: "memory"); }

/* ======================================================================
 * Checks
 * ====================================================================== */

static unsigned checks_run;
static unsigned checks_failed;
static unsigned section_failed_at_start;
static unsigned section_no;

static void check_impl(bool ok, const char *expr, int line)
{
    checks_run++;
    if (!ok) {
        checks_failed++;
        printf("  FAIL main.c:%d: %s\n", line, expr);
    }
}

static void check_rc_impl(tripbit_result_t got, tripbit_result_t want, const char *expr, int line)
{
    checks_run++;
    if (got != want) {
        checks_failed++;
        printf("  FAIL main.c:%d: %s\n        returned %lu (%s), expected %lu (%s)\n", line, expr,
               (unsigned long)got, tripbit_strerror(got), (unsigned long)want,
               tripbit_strerror(want));
    }
}

static void check_u64_impl(uint64_t got, uint64_t want, const char *expr, int line);

#define CHECK(cond) check_impl((cond), #cond, __LINE__)
#define CHECK_RC(expr, want) check_rc_impl((expr), (want), #expr, __LINE__)
#define CHECK_U64(expr, want) check_u64_impl((expr), (want), #expr, __LINE__)

/* newlib-nano's printf has no %llu: format 64-bit numbers ourselves. */
static const char *u64str(uint64_t v, char buf[21])
{
    char *p = buf + 20;
    *p = '\0';
    do {
        *--p = (char)('0' + (unsigned)(v % 10u));
        v /= 10u;
    } while (v != 0u);
    return p;
}

static void check_u64_impl(uint64_t got, uint64_t want, const char *expr, int line)
{
    checks_run++;
    if (got != want) {
        char a[21], b[21];
        checks_failed++;
        printf("  FAIL main.c:%d: %s\n        is %s, expected %s\n", line, expr, u64str(got, a),
               u64str(want, b));
    }
}

static void section(const char *title)
{
    printf("[%2u] %s\n", ++section_no, title);
    section_failed_at_start = checks_failed;
}

static void section_end(void)
{
    printf("     %s\n", checks_failed == section_failed_at_start ? "ok" : "FAILED");
}

/* The critical section must be balanced after every tripbit call. */
#define CHECK_CS_BALANCED() CHECK(cs_depth == 0)

/* ======================================================================
 * A fake I2C temperature sensor: NACKs for ticks in [fail_from, fail_until).
 * `transactions` counts bus transactions actually started, so a test can
 * prove the breaker kept the firmware off the bus while open.
 * ====================================================================== */

typedef struct {
    const char *name;
    uint64_t fail_from;
    uint64_t fail_until;
    uint32_t transactions;
    uint32_t nacks;
} fake_i2c_sensor_t;

static bool sensor_read(fake_i2c_sensor_t *s, uint64_t now, int16_t *centi_celsius)
{
    s->transactions++;
    if (now >= s->fail_from && now < s->fail_until) {
        s->nacks++;
        return false; /* address NACK: the sensor is browned out */
    }
    *centi_celsius = (int16_t)(2150 + (int16_t)(now & 7u));
    return true;
}

typedef enum { READ_OK, READ_FAILED, READ_REJECTED, READ_API_ERROR } read_status_t;

/* The pattern a firmware uses around every bus access. Up to two state
 * changes can happen in one poll (open -> half_open when the probe is
 * admitted, then half_open -> open/closed when it is recorded). */
static read_status_t guarded_read(tripbit_breaker_t *b, fake_i2c_sensor_t *s, uint64_t now,
                                  int16_t *value, tripbit_transition_t tr[2])
{
    tripbit_ticket_t ticket;
    tr[0].occurred = false;
    tr[1].occurred = false;

    tripbit_result_t r = tripbit_breaker_acquire(b, now, &ticket, &tr[0]);
    if (r == TRIPBIT_E_REJECTED) {
        return READ_REJECTED; /* fail fast: the bus is not touched */
    }
    if (r != TRIPBIT_OK) {
        return READ_API_ERROR;
    }
    bool ok = sensor_read(s, now, value);
    r = tripbit_breaker_record(b, &ticket, ok ? TRIPBIT_OUTCOME_SUCCESS : TRIPBIT_OUTCOME_FAILURE,
                               now, &tr[1]);
    if (r != TRIPBIT_OK) {
        return READ_API_ERROR;
    }
    return ok ? READ_OK : READ_FAILED;
}

static tripbit_state_t state_at(const tripbit_breaker_t *b, uint64_t now)
{
    tripbit_state_t st = 0xFFu;
    if (tripbit_breaker_state(b, now, &st) != TRIPBIT_OK) {
        return 0xFFu;
    }
    return st;
}

static tripbit_snapshot_t snap_at(const tripbit_breaker_t *b, uint64_t now)
{
    tripbit_snapshot_t s;
    memset(&s, 0xA5, sizeof s);
    if (tripbit_breaker_snapshot(b, now, &s) != TRIPBIT_OK) {
        memset(&s, 0xA5, sizeof s);
    }
    return s;
}

/* ======================================================================
 * The breakers: all static, no heap.
 * ====================================================================== */

static tripbit_breaker_t temp_breaker;       /* the main scenario */
static tripbit_breaker_t probe_breaker;      /* half-open admission */
static tripbit_breaker_t op_breaker;         /* operator overrides */
static tripbit_breaker_t never_initialized;  /* stays zero: E_UNINIT */
static tripbit_breaker_t bus_breakers[4];    /* one per sensor on a shared bus */
static tripbit_breaker_t isr_breaker;        /* used from PendSV */

/* Misaligned storage for the E_MISALIGNED checks. */
static union {
    uint64_t align;
    uint8_t bytes[sizeof(tripbit_breaker_t) + 8];
} misaligned_storage;

#define TICK_BASE 0xFFFFFF80ull /* 128 ticks below 2^32 */

/* ---------------------------------------------------------------------- */

typedef struct {
    uint32_t tick; /* relative to TICK_BASE */
    tripbit_state_t from, to;
    uint8_t level;
} logged_transition_t;

static void test_main_scenario(void)
{
    /* open 100 ticks, trip after 3 NACKs in a row, 2 probes, 2 successes to
     * close, each failed probe doubles the open period (up to 2^3). */
    tripbit_config_t cfg = tripbit_config_default();
    cfg.open_ticks = 100;
    cfg.consecutive_failures = 3;
    cfg.probes = 2;
    cfg.close_after = 2;
    cfg.backoff_factor = 2;
    cfg.backoff_max_level = 3;

    section("init from a config struct (static storage, no malloc)");
    CHECK_RC(tripbit_config_check(&cfg), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_init(&temp_breaker, &cfg), TRIPBIT_OK);
    CHECK(state_at(&temp_breaker, TICK_BASE) == TRIPBIT_STATE_CLOSED);
    CHECK(((uintptr_t)&temp_breaker % TRIPBIT_BREAKER_ALIGN) == 0u);
    section_end();

    /* The sensor NACKs from tick 10 to tick 500 (relative). */
    fake_i2c_sensor_t tmp = {"tmp117", TICK_BASE + 10, TICK_BASE + 500, 0, 0};

    logged_transition_t log[12];
    unsigned nlog = 0;
    uint32_t n_ok = 0, n_failed = 0, n_rejected = 0, n_api_err = 0;
    uint32_t touches_while_open = 0;
    bool retry_at_ok = true;

    section("simulated outage: 1000 ticks of polling across the 2^32 tick boundary");
    for (uint32_t t = 0; t < 1000; t++) {
        uint64_t now = TICK_BASE + t;
        int16_t v;
        tripbit_transition_t tr[2];
        tripbit_state_t before = state_at(&temp_breaker, now);
        uint32_t tx_before = tmp.transactions;

        read_status_t st = guarded_read(&temp_breaker, &tmp, now, &v, tr);
        switch (st) {
        case READ_OK: n_ok++; break;
        case READ_FAILED: n_failed++; break;
        case READ_REJECTED: n_rejected++; break;
        case READ_API_ERROR: n_api_err++; break;
        }
        if (before == TRIPBIT_STATE_OPEN && tmp.transactions != tx_before) {
            touches_while_open++;
        }
        for (unsigned k = 0; k < 2; k++) {
            if (!tr[k].occurred) {
                continue;
            }
            printf("     t=+%-4lu %-9s -> %-9s (backoff level %u)\n", (unsigned long)t,
                   tripbit_state_name(tr[k].from), tripbit_state_name(tr[k].to),
                   (unsigned)tr[k].level);
            if (nlog < sizeof log / sizeof log[0]) {
                log[nlog].tick = t;
                log[nlog].from = tr[k].from;
                log[nlog].to = tr[k].to;
                log[nlog].level = tr[k].level;
                nlog++;
            }
            if (tr[k].to == TRIPBIT_STATE_OPEN) {
                /* retry_at: the breaker reopens exactly open_ticks x 2^level later. */
                tripbit_snapshot_t s = snap_at(&temp_breaker, now);
                uint64_t want = now + (100ull << tr[k].level);
                char a[21], b[21];
                printf("               opened_at=%s retry_at(open_until)=%s\n",
                       u64str(s.opened_at, a), u64str(s.open_until, b));
                retry_at_ok = retry_at_ok && s.open && s.opened_at == now &&
                              s.open_until == want && s.backoff_level == tr[k].level &&
                              state_at(&temp_breaker, want - 1) == TRIPBIT_STATE_OPEN &&
                              state_at(&temp_breaker, want) == TRIPBIT_STATE_HALF_OPEN;
            }
        }
    }
    CHECK_CS_BALANCED();
    CHECK(n_api_err == 0u);
    /* ok: 0-9, 712 (probe), 713 (closing probe), 714-999. failed: 10-12 and
     * the two failed probes at 112 and 312. rejected: 13-111, 113-311, 313-711. */
    CHECK(n_ok == 10u + 2u + 286u);
    CHECK(n_failed == 3u + 2u);
    CHECK(n_rejected == 99u + 199u + 399u);
    CHECK(tmp.transactions == n_ok + n_failed);
    /* Never on the bus while open: state() already says half_open at the
     * probe ticks (112, 312, 712), so every touch happened outside OPEN. */
    CHECK(touches_while_open == 0u);
    CHECK(retry_at_ok);

    static const logged_transition_t want_log[] = {
        {12, TRIPBIT_STATE_CLOSED, TRIPBIT_STATE_OPEN, 0},        /* 3 NACKs in a row */
        {112, TRIPBIT_STATE_OPEN, TRIPBIT_STATE_HALF_OPEN, 0},    /* open period over */
        {112, TRIPBIT_STATE_HALF_OPEN, TRIPBIT_STATE_OPEN, 1},    /* probe failed: 200 */
        {312, TRIPBIT_STATE_OPEN, TRIPBIT_STATE_HALF_OPEN, 1},
        {312, TRIPBIT_STATE_HALF_OPEN, TRIPBIT_STATE_OPEN, 2},    /* probe failed: 400 */
        {712, TRIPBIT_STATE_OPEN, TRIPBIT_STATE_HALF_OPEN, 2},    /* sensor back at 500 */
        {713, TRIPBIT_STATE_HALF_OPEN, TRIPBIT_STATE_CLOSED, 0},  /* 2nd probe success */
    };
    CHECK(nlog == sizeof want_log / sizeof want_log[0]);
    for (unsigned i = 0; i < nlog && i < sizeof want_log / sizeof want_log[0]; i++) {
        CHECK(log[i].tick == want_log[i].tick && log[i].from == want_log[i].from &&
              log[i].to == want_log[i].to && log[i].level == want_log[i].level);
    }
    printf("     %lu reads ok, %lu NACKed, %lu rejected without touching the bus\n",
           (unsigned long)n_ok, (unsigned long)n_failed, (unsigned long)n_rejected);
    section_end();

    section("closed again: a success resets the consecutive-failure count");
    {
        uint64_t now = TICK_BASE + 2000;
        tripbit_snapshot_t s = snap_at(&temp_breaker, now);
        CHECK(s.state == TRIPBIT_STATE_CLOSED && !s.open && s.backoff_level == 0u);
        CHECK(s.consecutive_failures == 0u);
        /* fail, fail, success, fail, fail: never 3 in a row. */
        static const bool pattern[] = {false, false, true, false, false};
        for (unsigned i = 0; i < 5; i++) {
            tripbit_ticket_t t;
            CHECK_RC(tripbit_breaker_acquire(&temp_breaker, now + i, &t, NULL), TRIPBIT_OK);
            CHECK_RC(tripbit_breaker_record(&temp_breaker, &t,
                                            pattern[i] ? TRIPBIT_OUTCOME_SUCCESS
                                                       : TRIPBIT_OUTCOME_FAILURE,
                                            now + i, NULL),
                     TRIPBIT_OK);
        }
        s = snap_at(&temp_breaker, now + 5);
        CHECK(s.state == TRIPBIT_STATE_CLOSED);
        CHECK(s.consecutive_failures == 2u);
    }
    CHECK_CS_BALANCED();
    section_end();
}

/* ---------------------------------------------------------------------- */

static void test_half_open_admission(void)
{
    section("half-open admits exactly `probes` calls at once");
    tripbit_config_t cfg = tripbit_config_default();
    cfg.open_ticks = 50;
    cfg.consecutive_failures = 1;
    cfg.probes = 3;
    cfg.close_after = 3;
    CHECK_RC(tripbit_breaker_init(&probe_breaker, &cfg), TRIPBIT_OK);

    tripbit_ticket_t t, p[4];
    tripbit_transition_t tr;
    CHECK_RC(tripbit_breaker_acquire(&probe_breaker, 0, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&probe_breaker, &t, TRIPBIT_OUTCOME_FAILURE, 0, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    CHECK_RC(tripbit_breaker_acquire(&probe_breaker, 49, &t, NULL), TRIPBIT_E_REJECTED);

    CHECK_RC(tripbit_breaker_acquire(&probe_breaker, 50, &p[0], &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_OPEN && tr.to == TRIPBIT_STATE_HALF_OPEN);
    CHECK_RC(tripbit_breaker_acquire(&probe_breaker, 50, &p[1], &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);
    CHECK_RC(tripbit_breaker_acquire(&probe_breaker, 51, &p[2], NULL), TRIPBIT_OK);
    CHECK(p[0].probe == 1u && p[1].probe == 1u && p[2].probe == 1u);

    /* A 4th is rejected, and the out-param is left untouched. */
    memset(&p[3], 0x5A, sizeof p[3]);
    CHECK_RC(tripbit_breaker_acquire(&probe_breaker, 52, &p[3], NULL), TRIPBIT_E_REJECTED);
    CHECK(p[3].probe == 0x5Au);
    tripbit_snapshot_t s = snap_at(&probe_breaker, 52);
    CHECK(s.state == TRIPBIT_STATE_HALF_OPEN && s.probes_in_flight == 3u);

    /* Give one up: it counts nothing, and its slot is not reused in this
     * round (so a replayed ticket can never count twice); twice is harmless. */
    CHECK_RC(tripbit_breaker_release(&probe_breaker, &p[2]), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_release(&probe_breaker, &p[2]), TRIPBIT_OK);
    CHECK(snap_at(&probe_breaker, 53).probes_in_flight == 2u);
    CHECK_RC(tripbit_breaker_acquire(&probe_breaker, 53, &p[3], NULL), TRIPBIT_E_REJECTED);

    /* Two successes change nothing; once the round is over the next
     * acquire starts a new one, and a third success closes it. */
    CHECK_RC(tripbit_breaker_record(&probe_breaker, &p[0], TRIPBIT_OUTCOME_SUCCESS, 54, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);
    CHECK_RC(tripbit_breaker_record(&probe_breaker, &p[1], TRIPBIT_OUTCOME_SUCCESS, 55, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);
    CHECK_RC(tripbit_breaker_record(&probe_breaker, &p[1], TRIPBIT_OUTCOME_SUCCESS, 55, &tr), TRIPBIT_E_STALE);
    s = snap_at(&probe_breaker, 55);
    CHECK(s.probe_successes == 2u && s.probes_in_flight == 0u);
    CHECK_RC(tripbit_breaker_acquire(&probe_breaker, 55, &p[2], NULL), TRIPBIT_OK);
    CHECK(p[2].probe == 1u);
    CHECK_RC(tripbit_breaker_record(&probe_breaker, &p[2], TRIPBIT_OUTCOME_SUCCESS, 56, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_HALF_OPEN && tr.to == TRIPBIT_STATE_CLOSED);
    CHECK(state_at(&probe_breaker, 57) == TRIPBIT_STATE_CLOSED);
    CHECK_CS_BALANCED();
    section_end();

    section("a failed probe reopens with backoff; the other probe's ticket is stale");
    cfg.probes = 2;
    cfg.close_after = 2;
    cfg.backoff_factor = 3;
    cfg.backoff_max_level = 1; /* 50, then 150, capped there */
    CHECK_RC(tripbit_breaker_init(&probe_breaker, &cfg), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&probe_breaker, 1000, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&probe_breaker, &t, TRIPBIT_OUTCOME_FAILURE, 1000, NULL), TRIPBIT_OK);
    CHECK_U64(snap_at(&probe_breaker, 1000).open_until, 1050);
    uint64_t now = 1050;
    for (unsigned round = 0; round < 3; round++) {
        CHECK_RC(tripbit_breaker_acquire(&probe_breaker, now, &p[0], NULL), TRIPBIT_OK);
        CHECK_RC(tripbit_breaker_acquire(&probe_breaker, now, &p[1], NULL), TRIPBIT_OK);
        CHECK_RC(tripbit_breaker_record(&probe_breaker, &p[0], TRIPBIT_OUTCOME_FAILURE, now + 1, &tr), TRIPBIT_OK);
        CHECK(tr.occurred && tr.from == TRIPBIT_STATE_HALF_OPEN && tr.to == TRIPBIT_STATE_OPEN);
        CHECK(tr.level == 1u); /* capped at backoff_max_level */
        CHECK_RC(tripbit_breaker_record(&probe_breaker, &p[1], TRIPBIT_OUTCOME_SUCCESS, now + 1, NULL), TRIPBIT_E_STALE);
        CHECK_RC(tripbit_breaker_release(&probe_breaker, &p[1]), TRIPBIT_OK); /* stale is fine here */
        s = snap_at(&probe_breaker, now + 1);
        CHECK_U64(s.open_until, now + 1 + 150);
        CHECK_RC(tripbit_breaker_acquire(&probe_breaker, now + 150, &t, NULL), TRIPBIT_E_REJECTED);
        now = s.open_until;
    }
    CHECK_CS_BALANCED();
    section_end();
}

/* ---------------------------------------------------------------------- */

static void test_operator(void)
{
    section("operator overrides: force_open, force_closed, disable, reset");
    tripbit_config_t cfg = tripbit_config_default();
    cfg.open_ticks = 10;
    cfg.consecutive_failures = 2;
    CHECK_RC(tripbit_breaker_init(&op_breaker, &cfg), TRIPBIT_OK);

    fake_i2c_sensor_t s = {"eeprom", 0, 0, 0, 0};
    tripbit_transition_t tr, trs[2];
    tripbit_ticket_t t;
    int16_t v;

    CHECK_RC(tripbit_breaker_force_open(&op_breaker, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_CLOSED && tr.to == TRIPBIT_STATE_FORCED_OPEN);
    for (uint64_t now = 0; now < 100000; now += 997) { /* forever: no open period */
        CHECK(guarded_read(&op_breaker, &s, now, &v, trs) == READ_REJECTED);
    }
    CHECK(s.transactions == 0u);
    CHECK(state_at(&op_breaker, UINT64_MAX) == TRIPBIT_STATE_FORCED_OPEN);
    CHECK_RC(tripbit_breaker_force_open(&op_breaker, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred); /* already forced open */

    CHECK_RC(tripbit_breaker_reset(&op_breaker, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_FORCED_OPEN && tr.to == TRIPBIT_STATE_CLOSED);
    CHECK(guarded_read(&op_breaker, &s, 0, &v, trs) == READ_OK);

    /* forced closed: failures are not counted, it never trips */
    CHECK_RC(tripbit_breaker_force_closed(&op_breaker, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_FORCED_CLOSED);
    s.fail_from = 0;
    s.fail_until = UINT64_MAX;
    for (uint64_t now = 1; now <= 20; now++) {
        CHECK(guarded_read(&op_breaker, &s, now, &v, trs) == READ_FAILED);
    }
    CHECK(state_at(&op_breaker, 21) == TRIPBIT_STATE_FORCED_CLOSED);

    /* disabled: counts but never trips */
    CHECK_RC(tripbit_breaker_disable(&op_breaker, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.from == TRIPBIT_STATE_FORCED_CLOSED && tr.to == TRIPBIT_STATE_DISABLED);
    for (uint64_t now = 30; now < 35; now++) {
        CHECK(guarded_read(&op_breaker, &s, now, &v, trs) == READ_FAILED);
    }
    tripbit_snapshot_t sn = snap_at(&op_breaker, 35);
    CHECK(sn.state == TRIPBIT_STATE_DISABLED && sn.consecutive_failures == 5u);

    /* reset: closed, counts cleared, a new generation: old tickets are stale */
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, 36, &t, NULL), TRIPBIT_OK);
    uint32_t gen_before = snap_at(&op_breaker, 36).generation;
    CHECK_RC(tripbit_breaker_reset(&op_breaker, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_CLOSED);
    sn = snap_at(&op_breaker, 37);
    CHECK(sn.state == TRIPBIT_STATE_CLOSED && sn.consecutive_failures == 0u);
    CHECK(sn.generation != gen_before);
    CHECK_RC(tripbit_breaker_record(&op_breaker, &t, TRIPBIT_OUTCOME_FAILURE, 37, NULL), TRIPBIT_E_STALE);
    CHECK_RC(tripbit_breaker_reset(&op_breaker, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred); /* already closed */

    /* and it trips normally again */
    CHECK(guarded_read(&op_breaker, &s, 40, &v, trs) == READ_FAILED);
    CHECK(guarded_read(&op_breaker, &s, 41, &v, trs) == READ_FAILED);
    CHECK(trs[1].occurred && trs[1].to == TRIPBIT_STATE_OPEN);
    CHECK(guarded_read(&op_breaker, &s, 42, &v, trs) == READ_REJECTED);
    CHECK_CS_BALANCED();
    section_end();
}

/* ---------------------------------------------------------------------- */

static void test_bad_input(void)
{
    section("bad input: NULL, misaligned, uninitialized, bad config, forged tickets");
    tripbit_config_t cfg = tripbit_config_default();
    tripbit_ticket_t t;
    tripbit_state_t st;
    tripbit_transition_t tr;
    memset(&t, 0, sizeof t);

    /* NULL pointers */
    CHECK_RC(tripbit_breaker_init(NULL, &cfg), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_init(&op_breaker, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_config_check(NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_acquire(NULL, 0, &t, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, 0, NULL, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_record(NULL, &t, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_state(NULL, 0, &st), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_state(&op_breaker, 0, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_snapshot(&op_breaker, 0, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_force_open(NULL, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_force_closed(NULL, &tr), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_disable(NULL, NULL), TRIPBIT_E_NULL);
    CHECK_RC(tripbit_breaker_reset(NULL, NULL), TRIPBIT_E_NULL);

    /* zeroed static storage that was never initialized */
    st = 0x77u;
    CHECK_RC(tripbit_breaker_state(&never_initialized, 0, &st), TRIPBIT_E_UNINIT);
    CHECK(st == 0x77u); /* out-param untouched on error */
    CHECK_RC(tripbit_breaker_acquire(&never_initialized, 0, &t, NULL), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_breaker_force_open(&never_initialized, NULL), TRIPBIT_E_UNINIT);

    /* misaligned storage (4 bytes into 8-aligned memory) */
    tripbit_breaker_t *mis =
        (tripbit_breaker_t *)(void *)(misaligned_storage.bytes + 4);
    CHECK_RC(tripbit_breaker_init(mis, &cfg), TRIPBIT_E_MISALIGNED);
    CHECK_RC(tripbit_breaker_state(mis, 0, &st), TRIPBIT_E_MISALIGNED);
    {
        bool untouched = true;
        for (size_t i = 0; i < sizeof misaligned_storage.bytes; i++) {
            untouched = untouched && misaligned_storage.bytes[i] == 0u;
        }
        CHECK(untouched);
    }

    /* An all-zero config is refused and the storage left alone. "First
     * field at fault" is in validation order (consecutive_failures is
     * checked before open_ticks; ffi-c/tests/api.c pins the same code). */
    tripbit_config_t zero;
    memset(&zero, 0, sizeof zero);
    CHECK_RC(tripbit_config_check(&zero), TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES);
    CHECK_RC(tripbit_breaker_init(&never_initialized, &zero), TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES);
    CHECK_RC(tripbit_breaker_state(&never_initialized, 0, &st), TRIPBIT_E_UNINIT); /* untouched */
    tripbit_config_t no_open = tripbit_config_default();
    no_open.open_ticks = 0;
    CHECK_RC(tripbit_breaker_init(&never_initialized, &no_open), TRIPBIT_E_CONFIG_OPEN_TICKS);
    CHECK(strcmp(tripbit_config_field(TRIPBIT_E_CONFIG_OPEN_TICKS), "open_ticks") == 0);

    /* one bad field at a time */
    struct { tripbit_config_t c; tripbit_result_t want; const char *field; } cases[8];
    for (unsigned i = 0; i < 8; i++) {
        cases[i].c = tripbit_config_default();
    }
    cases[0].c.consecutive_failures = 0;     cases[0].want = TRIPBIT_E_CONFIG_CONSECUTIVE_FAILURES; cases[0].field = "consecutive_failures";
    cases[1].c.probes = 9; cases[1].c.close_after = 9; cases[1].want = TRIPBIT_E_CONFIG_PROBES; cases[1].field = "probes"; /* > 8 */
    cases[2].c.probes = 0;                   cases[2].want = TRIPBIT_E_CONFIG_PROBES;               cases[2].field = "probes";
    cases[3].c.probes = 2;                   cases[3].want = TRIPBIT_E_CONFIG_PROBES;               cases[3].field = "probes"; /* > close_after 1 */
    cases[4].c.close_after = 0;              cases[4].want = TRIPBIT_E_CONFIG_CLOSE_AFTER;          cases[4].field = "close_after";
    cases[5].c.close_max_failure_percent = 100; cases[5].want = TRIPBIT_E_CONFIG_CLOSE_MAX_FAILURE_PERCENT; cases[5].field = "close_max_failure_percent";
    cases[6].c.backoff_factor = 0;           cases[6].want = TRIPBIT_E_CONFIG_BACKOFF_FACTOR;       cases[6].field = "backoff_factor";
    cases[7].c.backoff_max_level = 32;       cases[7].want = TRIPBIT_E_CONFIG_BACKOFF_MAX_LEVEL;    cases[7].field = "backoff_max_level";
    for (unsigned i = 0; i < 8; i++) {
        CHECK_RC(tripbit_breaker_init(&never_initialized, &cases[i].c), cases[i].want);
        const char *f = tripbit_config_field(cases[i].want);
        CHECK(f != NULL && strcmp(f, cases[i].field) == 0);
    }
    tripbit_config_t ovf = tripbit_config_default();
    ovf.open_ticks = TRIPBIT_MAX_TICKS / 2; /* fits; x4 does not */
    ovf.backoff_factor = 4;
    ovf.backoff_max_level = 1;
    CHECK_RC(tripbit_config_check(&ovf), TRIPBIT_E_CONFIG_BACKOFF_OVERFLOW);
    CHECK_RC(tripbit_breaker_state(&never_initialized, 0, &st), TRIPBIT_E_UNINIT);

    /* bad outcome and forged tickets */
    CHECK_RC(tripbit_breaker_init(&op_breaker, &cfg), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, 0, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&op_breaker, &t, 3u, 0, NULL), TRIPBIT_E_OUTCOME);
    tripbit_ticket_t forged = t;
    forged.probe = 2;
    CHECK_RC(tripbit_breaker_record(&op_breaker, &forged, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_E_TICKET);
    CHECK_RC(tripbit_breaker_release(&op_breaker, &forged), TRIPBIT_E_TICKET);
    forged = t;
    forged.generation = 0x01000000u;
    CHECK_RC(tripbit_breaker_record(&op_breaker, &forged, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_E_TICKET);
    CHECK_RC(tripbit_breaker_record(&op_breaker, &t, TRIPBIT_OUTCOME_SUCCESS, 0, NULL), TRIPBIT_OK);

    /* the text tables */
    CHECK(strcmp(tripbit_strerror(TRIPBIT_OK), "success") == 0);
    CHECK(strcmp(tripbit_strerror(9999u), "unknown tripbit result code") == 0);
    CHECK(tripbit_config_field(TRIPBIT_E_NULL) == NULL);
    CHECK(strcmp(tripbit_state_name(TRIPBIT_STATE_HALF_OPEN), "half_open") == 0);
    CHECK(strcmp(tripbit_state_name(99u), "unknown") == 0);
    CHECK(strcmp(tripbit_version(), "0.2.0") == 0);
    CHECK(tripbit_version_check(TRIPBIT_VERSION_MAJOR, TRIPBIT_VERSION_MINOR));
    /* the header and the library agree on the state word (32 bits on these cores) */
    CHECK(tripbit_word_bits() == (TRIPBIT_WORD32 ? 32u : 64u));
    CHECK(TRIPBIT_WORD32 == 1);
    CHECK_CS_BALANCED();
    section_end();
}

/* ---------------------------------------------------------------------- */

static void test_ticks_backwards(void)
{
    /* The API defines ticks that go backwards as "no time" (header:
     * tripbit_breaker_record): not an error code. What must hold is that a
     * backwards clock never re-admits calls early and never faults. */
    section("ticks going backwards: counted as no time, never admits early");
    tripbit_config_t cfg = tripbit_config_default();
    cfg.open_ticks = 100;
    cfg.consecutive_failures = 1;
    CHECK_RC(tripbit_breaker_init(&op_breaker, &cfg), TRIPBIT_OK);
    tripbit_ticket_t t;
    tripbit_transition_t tr;

    /* record earlier than acquire: accepted, no time elapsed */
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, 5000, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&op_breaker, &t, TRIPBIT_OUTCOME_SUCCESS, 4000, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);

    /* trip at 5000, then the clock jumps back to 10 */
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, 5000, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&op_breaker, &t, TRIPBIT_OUTCOME_FAILURE, 5000, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    /* back by less than the open period: no time passed */
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, 4950, &t, NULL), TRIPBIT_E_REJECTED);
    CHECK(state_at(&op_breaker, 4950) == TRIPBIT_STATE_OPEN);
    CHECK_U64(snap_at(&op_breaker, 4950).open_until, 5100);
    /* back by more (a restarted or wrapped clock): the period restarts at
     * the new tick, never waiting for the old clock's value */
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, 10, &t, NULL), TRIPBIT_E_REJECTED);
    CHECK_U64(snap_at(&op_breaker, 10).open_until, 110);
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, 109, &t, NULL), TRIPBIT_E_REJECTED);
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, 110, &t, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_HALF_OPEN);

    /* a probe recorded "before" its round began still reopens, from the
     * round's start: it never makes the breaker half-open again at once */
    CHECK_RC(tripbit_breaker_record(&op_breaker, &t, TRIPBIT_OUTCOME_FAILURE, 3, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    tripbit_snapshot_t s = snap_at(&op_breaker, 20);
    CHECK(s.opened_at == 110u);
    CHECK(s.state == TRIPBIT_STATE_OPEN);

    /* 64-bit ticks near the top: open_until saturates instead of wrapping */
    CHECK_RC(tripbit_breaker_init(&op_breaker, &cfg), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&op_breaker, UINT64_MAX - 10, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&op_breaker, &t, TRIPBIT_OUTCOME_FAILURE, UINT64_MAX - 10, NULL), TRIPBIT_OK);
    CHECK_U64(snap_at(&op_breaker, UINT64_MAX - 10).open_until, UINT64_MAX);
    CHECK(state_at(&op_breaker, UINT64_MAX - 1) == TRIPBIT_STATE_OPEN);
    CHECK(state_at(&op_breaker, 0) == TRIPBIT_STATE_OPEN); /* no wrap to "expired" */
    CHECK_CS_BALANCED();
    section_end();
}

/* ---------------------------------------------------------------------- */

/* A HAL's 32-bit millisecond tick (as HAL_GetTick), and the 64-bit clock
 * the _with calls take, extended by tripbit_tick_extend32. */
static volatile uint32_t hal_tick;
static unsigned hal_tick_reads;
static tripbit_tick32_t *hal_tick_state;
static uint64_t hal_get_tick64(void)
{
    hal_tick_reads++;
    return tripbit_tick_extend32(hal_tick_state, hal_tick);
}

static void test_hal_ticks(void)
{
    /* Most HALs give a 32-bit millisecond tick (HAL_GetTick) that wraps
     * every 49.7 days. Both ways of passing it work: raw (a wrap restarts a
     * running open period, so it lasts at most twice its length once per
     * wrap) or extended to 64 bits by tripbit_tick_extend32 (exact). */
    section("32-bit HAL ticks across the wrap: raw, and extended by tripbit_tick_extend32");
    static tripbit_breaker_t hal_breaker;
    tripbit_config_t cfg = tripbit_config_default();
    cfg.open_ticks = 100;
    cfg.consecutive_failures = 1;
    tripbit_ticket_t t;
    tripbit_transition_t tr;

    /* raw: trip 16 ms before the wrap, read the tick again 80 ms after it */
    CHECK_RC(tripbit_breaker_init(&hal_breaker, &cfg), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_acquire(&hal_breaker, 0xFFFFFFF0u, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&hal_breaker, &t, TRIPBIT_OUTCOME_FAILURE, 0xFFFFFFF0u, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    CHECK_RC(tripbit_breaker_acquire(&hal_breaker, 0x50u, &t, NULL), TRIPBIT_E_REJECTED);
    CHECK_U64(snap_at(&hal_breaker, 0x50u).open_until, 0x50u + 100u);
    CHECK_RC(tripbit_breaker_acquire(&hal_breaker, 0x50u + 100u, &t, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_HALF_OPEN);

    /* extended: the period ends exactly 100 ms after the trip */
    static tripbit_tick32_t hal_clock; /* zeroed static storage */
    CHECK_RC(tripbit_breaker_init(&hal_breaker, &cfg), TRIPBIT_OK);
    uint64_t now = tripbit_tick_extend32(&hal_clock, 0xFFFFFFF0u);
    CHECK_RC(tripbit_breaker_acquire(&hal_breaker, now, &t, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record(&hal_breaker, &t, TRIPBIT_OUTCOME_FAILURE, now, &tr), TRIPBIT_OK);
    now = tripbit_tick_extend32(&hal_clock, 0x53u);
    CHECK_U64(now, 0x100000053ull);
    CHECK_RC(tripbit_breaker_acquire(&hal_breaker, now, &t, NULL), TRIPBIT_E_REJECTED);
    now = tripbit_tick_extend32(&hal_clock, 0x54u);
    CHECK_RC(tripbit_breaker_acquire(&hal_breaker, now, &t, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_HALF_OPEN);
    CHECK_CS_BALANCED();

    /* the clock-taking calls: tripbit reads the (extended) HAL tick itself,
     * and only when it needs the time */
    static tripbit_tick32_t hal_clock2;
    CHECK_RC(tripbit_breaker_init(&hal_breaker, &cfg), TRIPBIT_OK);
    hal_tick = 0xFFFFFFF0u;
    hal_tick_reads = 0;
    hal_tick_state = &hal_clock2;
    for (unsigned i = 0; i < 5; i++) {
        CHECK_RC(tripbit_breaker_acquire_with(&hal_breaker, hal_get_tick64, &t), TRIPBIT_OK);
        CHECK_RC(tripbit_breaker_record_with(&hal_breaker, &t, TRIPBIT_OUTCOME_SUCCESS, hal_get_tick64), TRIPBIT_OK);
    }
    CHECK(hal_tick_reads == 0); /* closed: no clock read at all */
    CHECK_RC(tripbit_breaker_acquire_with(&hal_breaker, hal_get_tick64, &t), TRIPBIT_OK);
    CHECK_RC(tripbit_breaker_record_with(&hal_breaker, &t, TRIPBIT_OUTCOME_FAILURE, hal_get_tick64), TRIPBIT_OK);
    CHECK(hal_tick_reads == 1);
    hal_tick = 0x53u; /* across the wrap: 99 ms after the trip */
    CHECK_RC(tripbit_breaker_acquire_with(&hal_breaker, hal_get_tick64, &t), TRIPBIT_E_REJECTED);
    hal_tick = 0x54u; /* 100 ms: the probe */
    CHECK_RC(tripbit_breaker_acquire_with(&hal_breaker, hal_get_tick64, &t), TRIPBIT_OK);
    CHECK(t.probe == 1);
    CHECK_U64(t.acquired_at, 0x100000054ull);
    CHECK_RC(tripbit_breaker_record_with(&hal_breaker, &t, TRIPBIT_OUTCOME_SUCCESS, hal_get_tick64), TRIPBIT_OK);
    CHECK(snap_at(&hal_breaker, 0x100000055ull).state == TRIPBIT_STATE_CLOSED);
    CHECK(hal_tick_reads == 4);
    CHECK_RC(tripbit_breaker_acquire_with(&hal_breaker, NULL, &t), TRIPBIT_E_NULL);
    CHECK_CS_BALANCED();
    section_end();
}

static void test_many_breakers(void)
{
    section("four static breakers on one bus are independent");
    static fake_i2c_sensor_t bus[4] = {
        {"tmp117", 0, 0, 0, 0},
        {"bme280", 0, 0, 0, 0},
        {"lis3dh", 20, 1000000, 0, 0}, /* this one dies at tick 20 */
        {"veml7700", 0, 0, 0, 0},
    };
    tripbit_config_t cfg = tripbit_config_default();
    cfg.open_ticks = 1000;
    for (unsigned i = 0; i < 4; i++) {
        CHECK_RC(tripbit_breaker_init(&bus_breakers[i], &cfg), TRIPBIT_OK);
    }
    unsigned rejected[4] = {0, 0, 0, 0};
    for (uint64_t now = 0; now < 200; now++) {
        for (unsigned i = 0; i < 4; i++) {
            int16_t v;
            tripbit_transition_t tr[2];
            if (guarded_read(&bus_breakers[i], &bus[i], now, &v, tr) == READ_REJECTED) {
                rejected[i]++;
            }
        }
    }
    CHECK(state_at(&bus_breakers[0], 200) == TRIPBIT_STATE_CLOSED);
    CHECK(state_at(&bus_breakers[1], 200) == TRIPBIT_STATE_CLOSED);
    CHECK(state_at(&bus_breakers[2], 200) == TRIPBIT_STATE_OPEN);
    CHECK(state_at(&bus_breakers[3], 200) == TRIPBIT_STATE_CLOSED);
    CHECK(rejected[0] == 0u && rejected[1] == 0u && rejected[3] == 0u);
    CHECK(rejected[2] == 200u - 25u); /* 20 good + 5 NACKs (default threshold) */
    CHECK(bus[2].transactions == 25u);
    printf("     %s: open after %lu bus transactions, %u reads failed fast\n", bus[2].name,
           (unsigned long)bus[2].transactions, rejected[2]);
    CHECK_CS_BALANCED();
    section_end();
}

/* ---------------------------------------------------------------------- */
/* From an interrupt handler, and with interrupts already masked. */

#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSVSET (1u << 28)

static volatile uint32_t isr_runs;
static volatile uint64_t isr_now;
static volatile tripbit_result_t isr_acq_rc, isr_rec_rc;
static volatile bool isr_tripped;
static volatile uint32_t isr_primask_after;
static volatile int32_t isr_cs_depth_after;

void PendSV_Handler(void)
{
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    isr_runs++;
    isr_acq_rc = tripbit_breaker_acquire(&isr_breaker, isr_now, &t, NULL);
    if (isr_acq_rc == TRIPBIT_OK) {
        isr_rec_rc = tripbit_breaker_record(&isr_breaker, &t, TRIPBIT_OUTCOME_FAILURE, isr_now, &tr);
        if (isr_rec_rc == TRIPBIT_OK && tr.occurred && tr.to == TRIPBIT_STATE_OPEN) {
            isr_tripped = true;
        }
    }
    isr_primask_after = primask_get();
    isr_cs_depth_after = cs_depth;
}

static void pend_sv(void)
{
    SCB_ICSR = ICSR_PENDSVSET;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
}

static void test_interrupts(void)
{
    section("calls from an ISR (PendSV); critical sections keep PRIMASK");
    tripbit_config_t cfg = tripbit_config_default();
    cfg.open_ticks = 100;
    cfg.consecutive_failures = 3;
    CHECK_RC(tripbit_breaker_init(&isr_breaker, &cfg), TRIPBIT_OK);

    /* Three failures recorded in handler mode trip the breaker. */
    for (unsigned i = 0; i < 3; i++) {
        isr_now = 10 + i;
        pend_sv();
        CHECK(isr_runs == i + 1u);
        CHECK_RC(isr_acq_rc, TRIPBIT_OK);
        CHECK_RC(isr_rec_rc, TRIPBIT_OK);
        CHECK(isr_primask_after == 0u); /* handler ran unmasked, still unmasked */
        CHECK(isr_cs_depth_after == 0);
    }
    CHECK(isr_tripped);
    CHECK(state_at(&isr_breaker, 13) == TRIPBIT_STATE_OPEN);

    /* With interrupts masked by the caller, tripbit must not unmask them:
     * a pended PendSV stays pending until we unmask. (A critical section
     * that blindly did `cpsie i` on release would let it run early.) */
    CHECK_RC(tripbit_breaker_reset(&isr_breaker, NULL), TRIPBIT_OK);
    uint32_t runs = isr_runs;
    irq_disable();
    isr_now = 50;
    pend_sv();
    tripbit_ticket_t t;
    tripbit_result_t r1 = tripbit_breaker_acquire(&isr_breaker, 40, &t, NULL);
    tripbit_result_t r2 = tripbit_breaker_record(&isr_breaker, &t, TRIPBIT_OUTCOME_FAILURE, 40, NULL);
    tripbit_state_t st;
    tripbit_result_t r3 = tripbit_breaker_state(&isr_breaker, 40, &st);
    uint32_t pm_masked = primask_get();
    uint32_t runs_masked = isr_runs;
    irq_enable();
    __asm__ volatile("isb" ::: "memory");
    CHECK_RC(r1, TRIPBIT_OK);
    CHECK_RC(r2, TRIPBIT_OK);
    CHECK_RC(r3, TRIPBIT_OK);
    CHECK(pm_masked == 1u);
    CHECK(runs_masked == runs);     /* did not run while masked */
    CHECK(isr_runs == runs + 1u);   /* ran as soon as we unmasked */
    CHECK(primask_get() == 0u);
    CHECK(snap_at(&isr_breaker, 50).consecutive_failures == 2u); /* main's + ISR's */
    CHECK_CS_BALANCED();
    section_end();
}

/* ====================================================================== */

/* ======================================================================
 * A breaker set up at compile time: TRIPBIT_BREAKER_INIT_FULL puts it in
 * .data with its settings range-checked by the compiler; no init() call.
 * ====================================================================== */

static tripbit_breaker_t flash_breaker =
    TRIPBIT_BREAKER_INIT_FULL(100u, 2u, 2u, 2u, 0u, 2u, 3u, 0u);

static void test_compile_time_breaker(void)
{
    tripbit_ticket_t t;
    tripbit_transition_t tr;
    tripbit_snapshot_t s;
    tripbit_breaker_t runtime;
    tripbit_config_t c = tripbit_config_default();
    uint64_t now = 5000u;

    section("TRIPBIT_BREAKER_INIT_FULL: a breaker in .data, no init() call, the same as init()'s");
    CHECK_RC(tripbit_breaker_snapshot(&flash_breaker, now, &s), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_CLOSED && s.generation == 0u);
    c.open_ticks = 100u; c.consecutive_failures = 2u; c.probes = 2u; c.close_after = 2u;
    c.backoff_factor = 2u; c.backoff_max_level = 3u;
    CHECK_RC(tripbit_breaker_init(&runtime, &c), TRIPBIT_OK);
    CHECK(runtime._mark == flash_breaker._mark && runtime._open_ticks == flash_breaker._open_ticks);
    /* trip after 2 failures; the first failed probe doubles the period */
    for (int i = 0; i < 2; i++) {
        CHECK_RC(tripbit_breaker_acquire(&flash_breaker, now, &t, NULL), TRIPBIT_OK);
        CHECK_RC(tripbit_breaker_record(&flash_breaker, &t, TRIPBIT_OUTCOME_FAILURE, now, &tr), TRIPBIT_OK);
    }
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    CHECK_RC(tripbit_breaker_acquire(&flash_breaker, now + 100u, &t, &tr), TRIPBIT_OK);
    CHECK(t.probe == 1u && tr.to == TRIPBIT_STATE_HALF_OPEN);
    CHECK_RC(tripbit_breaker_record(&flash_breaker, &t, TRIPBIT_OUTCOME_FAILURE, now + 100u, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN && tr.level == 1u);
    CHECK_RC(tripbit_breaker_snapshot(&flash_breaker, now + 100u, &s), TRIPBIT_OK);
    CHECK_U64(s.open_until, now + 100u + 200u);
    CHECK_CS_BALANCED();
    section_end();
}

/* ======================================================================
 * The ratio policy: a flaky radio guarded by "trip at 50 % failures over
 * the last 8 transmissions" (tripbit_window8_t), with a slow-call rule: a
 * transmission that takes 20 ticks or more counts as slow, and 75 % slow
 * calls trip it too.
 * ====================================================================== */

static tripbit_window8_t radio_breaker;

/* The radio: fails every transmission whose number has bit 1 set while
 * `radio_noisy` (so 2 of every 4), and takes `radio_latency` ticks. */
static bool radio_noisy;
static uint32_t radio_latency = 1u;
static uint32_t radio_sent, radio_tx_calls;

static bool radio_tx(uint32_t n)
{
    radio_tx_calls++;
    if (radio_noisy && (n & 2u) != 0u) {
        return false;
    }
    radio_sent++;
    return true;
}

/* One guarded transmission at `now`; returns the acquire's result. */
static tripbit_result_t radio_send(uint64_t now, uint32_t n, tripbit_transition_t *tr)
{
    tripbit_ticket_t t;
    tripbit_result_t rc = tripbit_window8_acquire(&radio_breaker, now, &t, NULL);
    if (rc != TRIPBIT_OK) {
        return rc;
    }
    bool ok = radio_tx(n);
    CHECK_RC(tripbit_window8_record(&radio_breaker, &t,
                                    ok ? TRIPBIT_OUTCOME_SUCCESS : TRIPBIT_OUTCOME_FAILURE,
                                    now + radio_latency, tr),
             TRIPBIT_OK);
    return TRIPBIT_OK;
}

static void test_window_policy(void)
{
    tripbit_window_config_t c = tripbit_window_config_default();
    tripbit_transition_t tr;
    tripbit_snapshot_t s;
    tripbit_window_counts_t n;
    tripbit_state_t st;
    uint64_t now = 1000u;
    uint32_t i, rejected = 0u;

    section("tripbit_window8_t: trip at 50 % failures over the last 8 calls, slow calls, recovery");
    CHECK(sizeof radio_breaker == TRIPBIT_WINDOW8_SIZE && tripbit_window_storage_size(8u) == sizeof radio_breaker);
    c.open_ticks = 500u;
    c.slow_ticks = 20u;
    c.slow_percent = 75u;
    CHECK_RC(tripbit_window8_state(&radio_breaker, now, &st), TRIPBIT_E_UNINIT);
    CHECK_RC(tripbit_window8_init(&radio_breaker, &c), TRIPBIT_OK);

    /* healthy: 16 transmissions, no trip */
    for (i = 0; i < 16u; i++) CHECK_RC(radio_send(now++, i, &tr), TRIPBIT_OK);
    CHECK(!tr.occurred);
    CHECK_RC(tripbit_window8_snapshot(&radio_breaker, now, &s, &n), TRIPBIT_OK);
    CHECK(n.calls == 8u && n.failures == 0u && n.slow == 0u);

    /* noisy: the failures climb to 4 of the last 8 and it opens; from then
     * on transmissions fail fast and never reach the radio */
    radio_noisy = true;
    for (i = 16u; i < 40u; i++) {
        if (radio_send(now++, i, &tr) == TRIPBIT_E_REJECTED) rejected++;
        else if (tr.occurred) CHECK(tr.to == TRIPBIT_STATE_OPEN);
    }
    CHECK_RC(tripbit_window8_state(&radio_breaker, now, &st), TRIPBIT_OK);
    CHECK(st == TRIPBIT_STATE_OPEN);
    CHECK(rejected > 0u && radio_tx_calls == 40u - rejected);
    printf("     radio: open after %lu transmissions, %lu failed fast\n",
           (unsigned long)(40u - rejected), (unsigned long)rejected);

    /* the radio recovers; after the open period one probe closes it, with
     * an empty window */
    radio_noisy = false;
    CHECK_RC(tripbit_window8_snapshot(&radio_breaker, now, &s, NULL), TRIPBIT_OK);
    now = s.open_until;
    CHECK_RC(radio_send(now++, 0u, &tr), TRIPBIT_OK);
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_CLOSED);
    CHECK_RC(tripbit_window8_snapshot(&radio_breaker, now, &s, &n), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_CLOSED && n.calls == 0u);

    /* slow: the radio answers, but in 25 ticks; 6 of 8 slow trips it */
    radio_latency = 25u;
    for (i = 0; i < 8u && !(tr.occurred && tr.to == TRIPBIT_STATE_OPEN); i++) {
        CHECK_RC(radio_send(now, i, &tr), TRIPBIT_OK);
        now += 30u;
    }
    CHECK(tr.occurred && tr.to == TRIPBIT_STATE_OPEN);
    CHECK_RC(tripbit_window8_snapshot(&radio_breaker, now, &s, NULL), TRIPBIT_OK);
    CHECK(s.state == TRIPBIT_STATE_OPEN);
    radio_latency = 1u;
    CHECK_RC(tripbit_window8_reset(&radio_breaker, NULL), TRIPBIT_OK);
    CHECK_RC(tripbit_window8_state(&radio_breaker, now, &st), TRIPBIT_OK);
    CHECK(st == TRIPBIT_STATE_CLOSED);
    CHECK_CS_BALANCED();
    section_end();
}

int main(void)
{
    /* Unbuffered: a fault must not swallow what was printed before it. */
    setvbuf(stdout, NULL, _IONBF, 0);

#if defined(__ARM_ARCH_6M__)
    const char *core = "Cortex-M0 (thumbv6m)";
#elif defined(__ARM_ARCH_7M__)
    const char *core = "Cortex-M3 (thumbv7m)";
#else
    const char *core = "unknown core";
#endif
    printf("tripbit %s firmware-c on %s\n", tripbit_version(), core);
    printf("sizeof(tripbit_breaker_t)=%u alignof=%u (RAM per breaker)\n",
           (unsigned)sizeof(tripbit_breaker_t), (unsigned)_Alignof(tripbit_breaker_t));
    _Static_assert(sizeof(tripbit_breaker_t) == TRIPBIT_BREAKER_SIZE, "breaker size");

#if defined(FW_SELFTEST_FAULT)
    printf("self-test: executing `udf` to prove a HardFault reaches the shell\n");
    __asm__ volatile("udf #0xfe");
#endif
#if defined(FW_SELFTEST_PANIC)
    /* Only in libtripbit.a built with --features panic-test (not in the header). */
    extern tripbit_result_t tripbit_test_panic(void);
    printf("self-test: a Rust panic inside libtripbit.a must end in the HardFault handler\n");
    tripbit_result_t r = tripbit_test_panic();
    printf("tripbit_test_panic() returned %lu: the panic did not trap\n", (unsigned long)r);
    return (int)FW_EXIT_CHECK_FAILED;
#endif
#if defined(FW_SELFTEST_CHECK)
    printf("self-test: a failing CHECK must make the run fail\n");
    CHECK(1 + 1 == 3);
#endif

    test_main_scenario();
    test_half_open_admission();
    test_operator();
    test_bad_input();
    test_ticks_backwards();
    test_hal_ticks();
    test_many_breakers();
    test_interrupts();
    test_compile_time_breaker();
    test_window_policy();

    printf("critical sections taken by tripbit: %lu (max nesting %ld)\n",
           (unsigned long)cs_taken, (long)cs_max_depth);
#if defined(__ARM_ARCH_6M__)
    /* thumbv6m has no CAS at all: every atomic goes through our section. */
    CHECK(cs_taken > 0u);
#endif
    CHECK(cs_depth == 0);

    printf("%u checks, %u failed\n", checks_run, checks_failed);
    printf("RESULT: %s\n", checks_failed == 0u ? "PASS" : "FAIL");
    return checks_failed == 0u ? (int)FW_EXIT_PASS : (int)FW_EXIT_CHECK_FAILED;
}
