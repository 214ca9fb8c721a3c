/* Cortex-M SysTick as a 64-bit tick counter for the qcc harness.
 * Under QEMU with -icount shift=0 every instruction advances virtual time by
 * 1 ns, so ticks count instructions (in units the harness calibrates). */
#ifndef QCC_TIMER_H
#define QCC_TIMER_H

#include <stdint.h>

void qcc_timer_start(void);
uint64_t qcc_timer_ticks(void);
/* Runs a loop of exactly 4 * n instructions (for calibration). */
void qcc_timer_spin(uint32_t n);

#endif
