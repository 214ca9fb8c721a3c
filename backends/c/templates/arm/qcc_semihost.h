/* Minimal Arm semihosting calls for the qcc Cortex-M test harness.
 * Semihosting traps to the debugger (here: QEMU with -semihosting) with
 * BKPT 0xAB, r0 = operation, r1 = pointer to an argument block. */
#ifndef QCC_SEMIHOST_H
#define QCC_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

#define QCC_SH_MODE_RB 1 /* fopen mode "rb" */
#define QCC_SH_MODE_WB 5 /* fopen mode "wb" */

/* Returns a host file handle, or -1. */
int32_t qcc_sh_open(const char *path, int32_t mode);
int32_t qcc_sh_close(int32_t handle);
/* Reads exactly len bytes; returns 0 on success, 1 at a clean end of file
 * (nothing read), -1 on a short read or an error. */
int qcc_sh_read_exact(int32_t handle, void *buf, size_t len);
/* Returns 0 when all len bytes were written. */
int qcc_sh_write(int32_t handle, const void *buf, size_t len);
void qcc_sh_puts(const char *text);
void qcc_sh_put_uint(uint32_t value);
/* Ends the emulation with the given status (0 = success). */
void qcc_sh_exit(int status) __attribute__((noreturn));

#endif
