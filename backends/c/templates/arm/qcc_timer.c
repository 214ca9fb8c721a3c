/* SysTick tick counter (see qcc_timer.h). */
#include "qcc_timer.h"

#define QCC_SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define QCC_SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define QCC_SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define QCC_SYST_RELOAD 0x00FFFFFFu

static volatile uint32_t qcc_wraps;

void qcc_systick_handler(void);

void qcc_systick_handler(void)
{
    qcc_wraps++;
}

void qcc_timer_start(void)
{
    QCC_SYST_CSR = 0u;
    QCC_SYST_RVR = QCC_SYST_RELOAD;
    QCC_SYST_CVR = 0u;
    QCC_SYST_CSR = 0x7u; /* processor clock, interrupt on wrap, enable */
    while (QCC_SYST_CVR == 0u) {
        /* the first tick loads the reload value; count from there */
    }
    qcc_wraps = 0u;
}

uint64_t qcc_timer_ticks(void)
{
    uint32_t wraps, val;
    do {
        wraps = qcc_wraps;
        val = QCC_SYST_CVR;
    } while (wraps != qcc_wraps);
    return (uint64_t)wraps * (QCC_SYST_RELOAD + 1u) + (QCC_SYST_RELOAD - val);
}

void qcc_timer_spin(uint32_t n)
{
    /* 4 instructions per iteration: two nops, subtract, branch */
    __asm__ volatile(
        "1:\n\t"
        "nop\n\t"
        "nop\n\t"
        "subs %0, %0, #1\n\t"
        "bne 1b\n"
        : "+r"(n)
        :
        : "cc");
}
