/*
 * isr-race.c: reproducer for calling tripbit from an interrupt handler while
 * thread code is inside a tripbit call on the same breaker (run with
 * `run-qemu.sh --isr-race`; not part of the default pass/fail run).
 *
 * Thread code records outcomes in a tight loop (each failure is a 64-bit
 * compare-exchange on the breaker's state word); SysTick fires every
 * RACE_RELOAD cycles and its handler acquires and releases a ticket on the
 * same breaker. QEMU runs with -icount so the interleavings are deterministic.
 *
 * On both cores every 64-bit atomic of the breaker goes through
 * _critical_section_1_0_acquire (interrupts masked), so the handler never
 * sees a half-done update and never waits on the code it interrupted: the
 * loop completes. (An earlier core took 64-bit atomics from portable-atomic,
 * whose thumbv7m fallback is a spinlock table: SysTick preempting a lock
 * holder spun forever and run-qemu.sh reported HANG. See README.md.)
 */
#include <stdint.h>
#include <stdio.h>

#include "tripbit.h"

#ifndef RACE_RELOAD
#define RACE_RELOAD 500u
#endif
#define RACE_ITERATIONS 200000u

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

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

static tripbit_breaker_t shared;
static volatile uint32_t ticks;
static volatile uint32_t handler_errors;

void SysTick_Handler(void)
{
    tripbit_ticket_t t;
    tripbit_result_t r = tripbit_breaker_acquire(&shared, ticks, &t, NULL);
    if (r == TRIPBIT_OK) {
        r = tripbit_breaker_release(&shared, &t);
    }
    if (r != TRIPBIT_OK) {
        handler_errors++;
    }
    ticks++;
}

static uint32_t main_errors;

int main(void)
{
    tripbit_config_t cfg = tripbit_config_default();
    cfg.consecutive_failures = 60000; /* never trips: stays on the closed path */
    if (tripbit_breaker_init(&shared, &cfg) != TRIPBIT_OK) {
        printf("isr-race: init failed\n");
        return 2;
    }
    SYST_RVR = RACE_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 7u; /* processor clock, interrupt, enable */

    for (uint32_t i = 0; i < RACE_ITERATIONS; i++) {
        tripbit_ticket_t t;
        if (tripbit_breaker_acquire(&shared, ticks, &t, NULL) == TRIPBIT_OK) {
            uint32_t outcome = (i & 7u) != 0u ? TRIPBIT_OUTCOME_FAILURE : TRIPBIT_OUTCOME_SUCCESS;
            /* Stale is expected: the handler or a reset may change the generation. */
            tripbit_result_t r = tripbit_breaker_record(&shared, &t, outcome, ticks, NULL);
            if (r != TRIPBIT_OK && r != TRIPBIT_E_STALE) {
                main_errors++;
            }
        }
        if ((i & 1023u) == 0u) {
            tripbit_breaker_reset(&shared, NULL);
        }
    }
    SYST_CSR = 0;
    printf("isr-race: %lu iterations, %lu SysTick handlers called tripbit, %lu errors\n",
           (unsigned long)RACE_ITERATIONS, (unsigned long)ticks,
           (unsigned long)(handler_errors + main_errors));
    return handler_errors == 0u && main_errors == 0u ? 0 : 1;
}
