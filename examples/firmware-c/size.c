/*
 * size.c: the program `run-qemu.sh --size-report` measures: a minimal
 * bare-metal firmware, built twice, with and without tripbit, so that the
 * difference is what linking tripbit costs a firmware and nothing else.
 *
 * No C library and no newlib startup (-nostdlib): a 16-word vector table, a
 * reset handler that copies .data and zeroes .bss, main, and an exit through
 * semihosting (so the image can also be run under QEMU, which proves the
 * measured program works: exit status 0).
 *
 * Both builds run the same loop over a "call" whose result comes from a
 * volatile (so nothing folds away). With -DSIZE_WITH_TRIPBIT each call is
 * guarded: tripbit_breaker_acquire() and tripbit_breaker_record(), plus the
 * two critical-section hooks tripbit needs on these cores (they are part of
 * what tripbit costs, so only that build has them). The breaker is set up
 * either by tripbit_breaker_init() (default) or, with -DSIZE_STATIC_INIT,
 * by the compile-time TRIPBIT_BREAKER_INIT() initializer (no init code).
 * With -DSIZE_WINDOW the guard is the ratio policy instead (a
 * tripbit_window8_t: 50 % failures over the last 8 calls).
 */
#include <stdint.h>

#ifdef SIZE_WITH_TRIPBIT
#include "tripbit.h"
#endif

/* ---- startup ---- */

extern uint32_t _estack[];
extern uint32_t _sidata[];
extern uint32_t _sdata[];
extern uint32_t _edata[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];

int main(void);
void Reset_Handler(void) __attribute__((noreturn));
void Fault_Handler(void);

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used))
const vector_t vector_table[16] = {
    (vector_t)(uintptr_t)_estack, Reset_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, Fault_Handler, 0, 0, 0, 0,
    Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,
};

__attribute__((noreturn)) static void semihost_exit(uint32_t code)
{
    /* SYS_EXIT_EXTENDED (0x20) with ADP_Stopped_ApplicationExit. */
    const uint32_t block[2] = { 0x20026u, code };
    register uint32_t r0 __asm__("r0") = 0x20u;
    register const uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}

void Fault_Handler(void)
{
    semihost_exit(3u);
}

void Reset_Handler(void)
{
#if defined(__ARM_FP)
    /* Hard-float builds (Cortex-M4F): grant CP10/CP11 full access in CPACR
     * before the first FPU instruction (the compiler may spill to s/d
     * registers anywhere), as every M4F startup does. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    const uint32_t *src = _sidata;
    for (uint32_t *dst = _sdata; dst < _edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = __bss_start__; dst < __bss_end__;) {
        *dst++ = 0u;
    }
    semihost_exit((uint32_t)main());
}

/* ---- the program ---- */

/* The upstream's answers: 1 = the call worked. */
static volatile uint32_t upstream_ok = 1u;
static volatile uint32_t calls_made;

static uint32_t call_upstream(void)
{
    calls_made++;
    return upstream_ok;
}

#define SIZE_CALLS 16u

#ifndef SIZE_WITH_TRIPBIT

int main(void)
{
    uint32_t worked = 0;
    for (uint32_t now = 0; now < SIZE_CALLS; now++) {
        worked += call_upstream();
    }
    return worked == SIZE_CALLS ? 0 : 1;
}

#else

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

#if defined(SIZE_WINDOW)
/* The ratio policy instead: 50 % failures over the last 8 calls. */
static tripbit_window8_t window;

int main(void)
{
    tripbit_window_config_t config = tripbit_window_config_default();
    config.open_ticks = 1000u;
    if (tripbit_window8_init(&window, &config) != TRIPBIT_OK) {
        return 2;
    }
    uint32_t worked = 0;
    for (uint32_t now = 0; now < SIZE_CALLS; now++) {
        tripbit_ticket_t ticket;
        if (tripbit_window8_acquire(&window, now, &ticket, NULL) != TRIPBIT_OK) {
            continue;
        }
        uint32_t ok = call_upstream();
        worked += ok;
        if (tripbit_window8_record(&window, &ticket,
                                   ok ? TRIPBIT_OUTCOME_SUCCESS : TRIPBIT_OUTCOME_FAILURE,
                                   now, NULL) != TRIPBIT_OK) {
            return 3;
        }
    }
    return worked == SIZE_CALLS ? 0 : 1;
}

#else

#ifdef SIZE_STATIC_INIT
/* Open 1000 ticks, trip after 3 failures in a row; the rest default. */
static tripbit_breaker_t breaker = TRIPBIT_BREAKER_INIT(1000u, 3u);
#else
static tripbit_breaker_t breaker;
#endif

int main(void)
{
#ifndef SIZE_STATIC_INIT
    tripbit_config_t config = tripbit_config_default();
    config.open_ticks = 1000u;
    config.consecutive_failures = 3u;
    if (tripbit_breaker_init(&breaker, &config) != TRIPBIT_OK) {
        return 2;
    }
#endif
    uint32_t worked = 0;
    for (uint32_t now = 0; now < SIZE_CALLS; now++) {
        tripbit_ticket_t ticket;
        if (tripbit_breaker_acquire(&breaker, now, &ticket, NULL) != TRIPBIT_OK) {
            continue;
        }
        uint32_t ok = call_upstream();
        worked += ok;
        if (tripbit_breaker_record(&breaker, &ticket,
                                   ok ? TRIPBIT_OUTCOME_SUCCESS : TRIPBIT_OUTCOME_FAILURE,
                                   now, NULL) != TRIPBIT_OK) {
            return 3;
        }
    }
    return worked == SIZE_CALLS ? 0 : 1;
}

#endif /* SIZE_WINDOW */
#endif /* SIZE_WITH_TRIPBIT */
