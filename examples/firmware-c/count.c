/*
 * count.c: instructions per guarded call through the C API, on the target
 * core, for count-insns.sh (see that script and README.md, "Instructions per
 * guarded call").
 *
 * Four loops, each a noinline function of `n` iterations:
 *   plain     the trivial operation alone (the baseline): count_op();
 *   success   closed breaker: tripbit_breaker_acquire() == TRIPBIT_OK,
 *             count_op(), tripbit_breaker_record(SUCCESS) == TRIPBIT_OK;
 *   rejected  the same loop code on an open breaker: every acquire returns
 *             TRIPBIT_E_REJECTED, so count_op() is not called;
 *   success_with, rejected_with
 *             the same two through tripbit_breaker_acquire_with() /
 *             _record_with(), which take a clock function instead of a
 *             tick (count_clock(), called only when tripbit needs the time);
 *   calib     a hand-written 2-instruction loop (subs; bne), whose count is
 *             known without any tool: 2 per iteration.
 * Every result is checked (a wrong one fails the run), as the Rust benches do.
 *
 * Two modes, chosen by the semihosting command line (argv[1]):
 *   "trace"  each loop runs for COUNT_TRACE_N1/N2/N3 iterations between
 *            count_begin() and count_end(). The script runs QEMU with one
 *            guest instruction per translation block and `-d exec,nochain`,
 *            so each executed instruction is one log line, and counts the
 *            lines between the two markers. (Exact.)
 *   "timer"  each loop runs for COUNT_TIMER_N1/N2 iterations, timed with
 *            SysTick on the processor clock. Run with `-icount shift=0`, the
 *            virtual clock advances 1 ns per guest instruction, so ticks are
 *            proportional to instructions; the calib loop gives the ratio.
 *            (Independent cross-check of the trace.)
 * Per-call figures are differences between two iteration counts, so the
 * markers, the timer reads and the first iteration's setup cancel out.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tripbit.h"

#define COUNT_TRACE_N1 10u
#define COUNT_TRACE_N2 40u
#define COUNT_TRACE_N3 70u
#define COUNT_TIMER_N1 10000u
#define COUNT_TIMER_N2 110000u
#define COUNT_TIMER_CALIB_SCALE 64u

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_CSR_ENABLE 1u
#define SYST_CSR_CLKSOURCE_CPU 4u
#define SYST_CSR_COUNTFLAG (1u << 16)

/* The critical section tripbit needs on these cores (see README.md): the
 * smallest correct one, as an application would write it. Its instructions
 * are part of the counts. */
uint32_t _critical_section_1_0_acquire(void)
{
    uint32_t saved;
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(saved)::"memory");
    return saved;
}

void _critical_section_1_0_release(uint32_t restore)
{
    __asm__ volatile("msr primask, %0" ::"r"(restore) : "memory");
}

/* ---- the loops ---- */

static volatile uint32_t op_sink;
static volatile uint32_t marker;
static uint32_t record_errors;

/* The guarded operation: trivial, out of line, the same in every loop. */
__attribute__((noinline)) void count_op(void)
{
    op_sink++;
}

/* Trace markers: the script counts the instructions executed between the
 * first instruction of count_begin and the first of count_end. */
__attribute__((noinline)) void count_begin(void)
{
    marker = 1u;
}

__attribute__((noinline)) void count_end(void)
{
    marker = 2u;
}

/* The loops are do-while (n >= 1), so each iteration is straight-line code
 * ending in one backward branch: count-insns.sh checks the plain loop's
 * traced count against its disassembly. */
__attribute__((noinline)) void count_plain(uint32_t n)
{
    do {
        count_op();
    } while (--n != 0u);
}

/* Returns the number of rejected acquires; counts failed records. */
__attribute__((noinline)) uint32_t count_guarded(tripbit_breaker_t *b, uint64_t now, uint32_t n)
{
    uint32_t rejected = 0;
    do {
        tripbit_ticket_t t;
        if (tripbit_breaker_acquire(b, now, &t, NULL) == TRIPBIT_OK) {
            count_op();
            if (tripbit_breaker_record(b, &t, TRIPBIT_OUTCOME_SUCCESS, now, NULL) != TRIPBIT_OK) {
                record_errors++;
            }
        } else {
            rejected++;
        }
    } while (--n != 0u);
    return rejected;
}

/* The clock of the `_with` calls: the loops' fixed tick, out of line as a
 * HAL's tick function is. */
static volatile uint64_t clock_tick = 1000u;
__attribute__((noinline)) uint64_t count_clock(void)
{
    return clock_tick;
}

/* count_guarded through the clock-taking calls: no tick is passed, and
 * tripbit calls count_clock() only when it needs the time. */
__attribute__((noinline)) uint32_t count_guarded_with(tripbit_breaker_t *b, uint32_t n)
{
    uint32_t rejected = 0;
    do {
        tripbit_ticket_t t;
        if (tripbit_breaker_acquire_with(b, count_clock, &t) == TRIPBIT_OK) {
            count_op();
            if (tripbit_breaker_record_with(b, &t, TRIPBIT_OUTCOME_SUCCESS, count_clock) != TRIPBIT_OK) {
                record_errors++;
            }
        } else {
            rejected++;
        }
    } while (--n != 0u);
    return rejected;
}

/* subs + bne per iteration: exactly 2 instructions (n >= 1). */
__attribute__((noinline, naked)) void count_calib(uint32_t n)
{
    (void)n;
    /* GCC hands Thumb-1 inline asm to the assembler in divided syntax and
     * switches back to unified after it, so ask for unified here. */
    __asm__ volatile(
        ".syntax unified    \n"
        "1:                 \n"
        "subs r0, r0, #1    \n"
        "bne  1b            \n"
        "bx   lr            \n");
}

/* ---- driver ---- */

enum kind { K_PLAIN, K_SUCCESS, K_REJECTED, K_SUCCESS_WITH, K_REJECTED_WITH, K_CALIB, K_COUNT };
static const char *const kind_name[K_COUNT] = {
    "plain", "success", "rejected", "success_with", "rejected_with", "calib"
};

static tripbit_breaker_t closed_breaker;
static tripbit_breaker_t open_breaker;
static const uint64_t NOW = 1000u;
static unsigned failures;

static void fail(const char *what, unsigned long v)
{
    printf("count: FAIL: %s (%lu)\n", what, v);
    failures++;
}

/* noinline, and called only from the two segment functions below, so every
 * segment runs the same driver code whatever k and n are. */
__attribute__((noinline)) static void run(enum kind k, uint32_t n)
{
    uint32_t rejected;
    record_errors = 0;
    switch (k) {
    case K_PLAIN: {
        uint32_t before = op_sink;
        count_plain(n);
        if (op_sink - before != n) {
            fail("plain: op count", (unsigned long)(op_sink - before));
        }
        break;
    }
    case K_SUCCESS:
        rejected = count_guarded(&closed_breaker, NOW, n);
        if (rejected != 0u || record_errors != 0u) {
            fail("success: rejected or record errors", (unsigned long)(rejected + record_errors));
        }
        break;
    case K_REJECTED:
        rejected = count_guarded(&open_breaker, NOW, n);
        if (rejected != n) {
            fail("rejected: admitted calls", (unsigned long)(n - rejected));
        }
        break;
    case K_SUCCESS_WITH:
        rejected = count_guarded_with(&closed_breaker, n);
        if (rejected != 0u || record_errors != 0u) {
            fail("success_with: rejected or record errors", (unsigned long)(rejected + record_errors));
        }
        break;
    case K_REJECTED_WITH:
        rejected = count_guarded_with(&open_breaker, n);
        if (rejected != n) {
            fail("rejected_with: admitted calls", (unsigned long)(n - rejected));
        }
        break;
    case K_CALIB:
        count_calib(n);
        break;
    default:
        break;
    }
}

static int setup(void)
{
    tripbit_config_t cfg = tripbit_config_default();
    cfg.open_ticks = 1000000000u; /* stays open for the whole run */
    cfg.consecutive_failures = 3;
    if (tripbit_breaker_init(&closed_breaker, &cfg) != TRIPBIT_OK ||
        tripbit_breaker_init(&open_breaker, &cfg) != TRIPBIT_OK) {
        return 0;
    }
    /* Trip open_breaker with 3 failures (a real trip, not force_open). */
    for (unsigned i = 0; i < 3u; i++) {
        tripbit_ticket_t t;
        if (tripbit_breaker_acquire(&open_breaker, NOW, &t, NULL) != TRIPBIT_OK ||
            tripbit_breaker_record(&open_breaker, &t, TRIPBIT_OUTCOME_FAILURE, NOW, NULL) != TRIPBIT_OK) {
            return 0;
        }
    }
    tripbit_state_t s1, s2;
    if (tripbit_breaker_state(&closed_breaker, NOW, &s1) != TRIPBIT_OK || s1 != TRIPBIT_STATE_CLOSED ||
        tripbit_breaker_state(&open_breaker, NOW, &s2) != TRIPBIT_OK || s2 != TRIPBIT_STATE_OPEN) {
        return 0;
    }
    return 1;
}

/* One traced segment; noinline so that its overhead is the same for every
 * k and n (the script checks that the per-call figures are exact). */
__attribute__((noinline)) static void trace_segment(enum kind k, uint32_t n)
{
    count_begin();
    run(k, n);
    count_end();
}

static void trace_mode(void)
{
    static const uint32_t ns[3] = { COUNT_TRACE_N1, COUNT_TRACE_N2, COUNT_TRACE_N3 };
    /* Segment order, printed first so the script can label the segments. */
    for (unsigned k = 0; k < K_COUNT; k++) {
        for (unsigned j = 0; j < 3u; j++) {
            printf("segment %s %lu\n", kind_name[k], (unsigned long)ns[j]);
        }
    }
    for (unsigned k = 0; k < K_COUNT; k++) {
        for (unsigned j = 0; j < 3u; j++) {
            trace_segment((enum kind)k, ns[j]);
        }
    }
}

/* One timed segment: SysTick ticks (counting down) spent in run(k, n). */
__attribute__((noinline)) static uint32_t timer_segment(enum kind k, uint32_t n)
{
    uint32_t start = SYST_CVR;
    (void)SYST_CSR; /* clears COUNTFLAG */
    run(k, n);
    uint32_t end = SYST_CVR;
    if ((SYST_CSR & SYST_CSR_COUNTFLAG) != 0u) {
        fail("SysTick wrapped during a measurement", (unsigned long)n);
    }
    return (start - end) & 0x00FFFFFFu;
}

static void timer_mode(void)
{
    static const uint32_t ns[2] = { COUNT_TIMER_N1, COUNT_TIMER_N2 };
    SYST_CSR = 0;
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_CLKSOURCE_CPU;
    for (unsigned k = 0; k < K_COUNT; k++) {
        for (unsigned j = 0; j < 2u; j++) {
            /* The calib loop is short: run it longer so that its tick count
             * (hence the ticks-per-instruction ratio) has 6 digits. */
            uint32_t n = k == K_CALIB ? ns[j] * COUNT_TIMER_CALIB_SCALE : ns[j];
            uint32_t ticks = timer_segment((enum kind)k, n);
            printf("timer %s %lu %lu\n", kind_name[k], (unsigned long)n, (unsigned long)ticks);
        }
    }
    SYST_CSR = 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (!setup()) {
        printf("count: FAIL: setup\n");
        return 1;
    }
    if (strcmp(mode, "trace") == 0) {
        trace_mode();
    } else if (strcmp(mode, "timer") == 0) {
        timer_mode();
    } else {
        printf("count: FAIL: mode '%s' (want trace or timer on the semihosting command line)\n", mode);
        return 2;
    }
    printf("count: %s (%s mode)\n", failures == 0u ? "PASS" : "FAIL", mode);
    return failures == 0u ? 0 : 1;
}
