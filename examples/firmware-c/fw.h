/* fw.h: what startup.c and main.c share. */
#ifndef FW_H
#define FW_H

#include <stdint.h>

/* Exit codes seen by the shell (through semihosting). */
#define FW_EXIT_PASS                  0u
#define FW_EXIT_CHECK_FAILED          1u
#define FW_EXIT_HARDFAULT             3u
#define FW_EXIT_UNEXPECTED_EXCEPTION  4u

/* Arm semihosting operations and reason codes. */
#define FW_SYS_WRITE0                    0x04u
#define FW_SYS_EXIT                      0x18u
#define FW_SYS_EXIT_EXTENDED             0x20u
#define FW_ADP_STOPPED_APPLICATION_EXIT  0x20026u
#define FW_ADP_STOPPED_RUNTIME_ERROR     0x20023u

uint32_t fw_semihost(uint32_t op, const void *arg);
void fw_exit(uint32_t code) __attribute__((noreturn));

#endif /* FW_H */
