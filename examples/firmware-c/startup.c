/*
 * startup.c: the smallest startup code that runs newlib's rdimon crt0 on a
 * Cortex-M0, Cortex-M3 or Cortex-M4F under QEMU (the M4F's FPU is enabled
 * first, for hard-float builds).
 *
 * - A 16-word vector table (section .vectors, placed first in FLASH by the
 *   linker script): initial SP, reset, and the 14 system exceptions. No
 *   device interrupts are used, so none are listed.
 * - Reset_Handler copies .data from its load address in FLASH to RAM, then
 *   calls rdimon's _start (crt0), which zeroes .bss, opens the semihosting
 *   stdio handles, runs the constructors, calls main() and exits through
 *   semihosting with main's return value.
 * - HardFault_Handler (a Rust panic in libtripbit.a is a `udf` trap, which
 *   ends here too) prints the stacked PC/LR and exits with FW_EXIT_HARDFAULT
 *   through semihosting, so the failure reaches the shell.
 *
 * Thumb-1 only (no IT blocks, no wide branches) so the same file builds for
 * -mcpu=cortex-m0 and -mcpu=cortex-m3.
 */
#include <stdint.h>

#include "fw.h"

/* Linker script symbols (lm3s6965.ld / microbit.ld via sections.ld). */
extern uint32_t _estack[];      /* top of RAM: initial main stack pointer */
extern uint32_t _sidata[];      /* load address of .data in FLASH */
extern uint32_t _sdata[];       /* .data start in RAM */
extern uint32_t _edata[];       /* .data end in RAM */

/* newlib rdimon crt0 entry point (rdimon-crt0.o, from --specs=rdimon.specs). */
extern void _start(void) __attribute__((noreturn));

void Reset_Handler(void) __attribute__((noreturn));
void Default_Handler(void);
void HardFault_Handler(void);
void hardfault_report(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn, used));

/* Weak aliases: main.c overrides the ones it uses (PendSV_Handler). */
void NMI_Handler(void)        __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void)  __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void)   __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void)        __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void)   __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void)     __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void)    __attribute__((weak, alias("Default_Handler")));

typedef void (*vector_t)(void);

/* Cortex-M0 has no MemManage/BusFault/UsageFault/DebugMon: those words are
 * reserved there and never fetched, so one table serves both cores. */
__attribute__((section(".vectors"), used))
const vector_t vector_table[16] = {
    (vector_t)(uintptr_t)_estack, /*  0: initial SP */
    Reset_Handler,                /*  1: reset */
    NMI_Handler,                  /*  2 */
    HardFault_Handler,            /*  3 */
    MemManage_Handler,            /*  4 (M3 only) */
    BusFault_Handler,             /*  5 (M3 only) */
    UsageFault_Handler,           /*  6 (M3 only) */
    0, 0, 0, 0,                   /*  7-10: reserved */
    SVC_Handler,                  /* 11 */
    DebugMon_Handler,             /* 12 (M3 only) */
    0,                            /* 13: reserved */
    PendSV_Handler,               /* 14 */
    SysTick_Handler,              /* 15 */
};

void Reset_Handler(void)
{
#if defined(__ARM_FP)
    /* Hard-float builds (Cortex-M4F): grant CP10/CP11 full access in CPACR
     * before the first FPU instruction (the compiler may spill to s/d
     * registers anywhere), as every M4F startup does. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    /* .data: copy initial values from FLASH. (.bss is zeroed by crt0.) */
    uint32_t *src = _sidata;
    uint32_t *dst = _sdata;
    while (dst < _edata) {
        *dst++ = *src++;
    }
    _start();
}

/* ---- semihosting, used directly only where newlib cannot be trusted ---- */

uint32_t fw_semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void sh_puts(const char *s)
{
    fw_semihost(FW_SYS_WRITE0, s);
}

static void sh_hex(const char *label, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[24];
    unsigned i = 0;
    while (*label != '\0' && i < 12) {
        buf[i++] = *label++;
    }
    buf[i++] = '0';
    buf[i++] = 'x';
    for (int shift = 28; shift >= 0; shift -= 4) {
        buf[i++] = digits[(v >> shift) & 0xFu];
    }
    buf[i] = '\0';
    sh_puts(buf);
}

void fw_exit(uint32_t code)
{
    /* SYS_EXIT_EXTENDED carries the status code on 32-bit Arm as well. */
    const uint32_t block[2] = { FW_ADP_STOPPED_APPLICATION_EXIT, code };
    fw_semihost(FW_SYS_EXIT_EXTENDED, block);
    /* Host without the extension: plain SYS_EXIT with a run-time error
     * reason, which QEMU reports as exit status 1 (still nonzero). */
    fw_semihost(FW_SYS_EXIT, (const void *)(uintptr_t)FW_ADP_STOPPED_RUNTIME_ERROR);
    for (;;) {
    }
}

/* ---- faults ---- */

void hardfault_report(const uint32_t *frame, uint32_t exc_return)
{
    sh_puts("\n*** HardFault");
    sh_hex(" pc=", frame[6]);
    sh_hex(" lr=", frame[5]);
    sh_hex(" xpsr=", frame[7]);
    sh_hex(" exc_return=", exc_return);
#if defined(__ARM_ARCH_7M__)
    sh_hex(" cfsr=", *(volatile uint32_t *)0xE000ED28u);
    sh_hex(" hfsr=", *(volatile uint32_t *)0xE000ED2Cu);
#endif
    sh_puts("\n(a Rust panic in libtripbit.a traps with `udf #0xfe`)\n");
    fw_exit(FW_EXIT_HARDFAULT);
}

/* Find the exception frame (MSP or PSP, EXC_RETURN bit 2) and report it. */
__attribute__((naked)) void HardFault_Handler(void)
{
    __asm__ volatile(
        "movs r0, #4            \n"
        "mov  r1, lr            \n"
        "tst  r0, r1            \n"
        "beq  1f                \n"
        "mrs  r0, psp           \n"
        "b    2f                \n"
        "1:                     \n"
        "mrs  r0, msp           \n"
        "2:                     \n"
        "ldr  r2, =hardfault_report \n"
        "bx   r2                \n"
        ".ltorg                 \n");
}

void Default_Handler(void)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    sh_hex("\n*** unexpected exception ", ipsr);
    sh_puts("\n");
    fw_exit(FW_EXIT_UNEXPECTED_EXCEPTION);
}
