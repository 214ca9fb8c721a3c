/* Cortex-M startup for the qcc harness on QEMU mps2-an386: vector table,
 * reset handler (copy .data, zero .bss, enable the FPU if used, call main)
 * and fault handlers that report through semihosting. */
#include <stdint.h>

#include "qcc_semihost.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);

void qcc_reset_handler(void);
void qcc_systick_handler(void); /* qcc_timer.c */
static void qcc_fault_handler(void);

#define QCC_SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

typedef void (*qcc_vector)(void);

/* Initial stack pointer, then the 15 system exception handlers. */
__attribute__((section(".vectors"), used)) static const qcc_vector qcc_vectors[16] = {
    (qcc_vector)(uintptr_t)&_estack, qcc_reset_handler,
    qcc_fault_handler, qcc_fault_handler, qcc_fault_handler, qcc_fault_handler,
    qcc_fault_handler, 0, 0, 0, 0,
    qcc_fault_handler, qcc_fault_handler, 0, qcc_fault_handler, qcc_systick_handler,
};

void qcc_reset_handler(void)
{
    uint32_t *src = &_sidata;
    uint32_t *dst = &_sdata;
    while (dst < &_edata) {
        *dst++ = *src++;
    }
    for (dst = &_sbss; dst < &_ebss; dst++) {
        *dst = 0u;
    }
#if defined(__ARM_FP)
    QCC_SCB_CPACR |= (0xFu << 20); /* full access to CP10 and CP11 */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    qcc_sh_exit(main());
}

static void qcc_fault_handler(void)
{
    qcc_sh_puts("QCC_ARM_FAULT\n");
    qcc_sh_exit(70);
}
