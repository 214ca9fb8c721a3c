#ifdef QCC_ARM_GEMM4
/* Arm DSP depthwise 3x3, strides 1 x 1, two output rows at once (the 2x2 form; the pair
 * forms, their loop state qcc_dwa and the 3x3 packing qcc_dw3: conv2d_dws_dsp.c, the drivers:
 * conv2d_dws5_dsp.c). Outputs (i, j), (i, j + 1), (i + 1, j), (i + 1, j + 1) read input rows
 * i .. i + 3 of the padded plane; each row's word at j (E = (b0, b2), O = (b1, b3), SXTB16 /
 * SXTB16 ror 8) serves both output rows it falls in: rows i + 1 and i + 2 feed eight
 * multiply-accumulates each (the pair forms' four, once per output row), so 24 for 36 MACs
 * against 2 x 12, and the requantization, start values and stores of four outputs share one
 * pass (the two rows' bytes packed into one word, its halves stored by STRH). The start
 * values and the five weight words come in one LDM (all fourteen registers pinned: r0-r3 the
 * accumulators, r4-r8 the weights then the requantization, r9 / r10 the unpacked row, r11 the
 * input, r12 the state, lr the row pitch); after a row pair the input steps by rskip and the
 * output past the second row. Even output widths only (a pair of a row never spills onto the
 * next one, which this pass also writes). */
typedef struct {
    int32_t m, c, sh;  /*  0: the requantization (qcc_rqf, sh > 0) */
    int8_t *y;         /* 12: the next pair of the upper row */
    int32_t ow;        /* 16: the output row length (the lower row at y + ow) */
    int32_t init[4];   /* 20: bias - zp * sum(w), once per accumulator */
    qcc_dw3 w;         /* 36: the packed weights (qcc_dw3_pack) */
    int8_t *yend;      /* 56: the end of the current upper row */
    int8_t *stop;      /* 60: the end of the last upper row */
    int32_t rskip;     /* 64: input bytes from a row pair's end to the next: 2 pw - ow */
    uint32_t lo, hi;   /* 68: bounds (narrow form), repeated in each byte */
} qcc_dw22;
typedef char qcc_dw22_layout[offsetof(qcc_dw22, y) == 12 && offsetof(qcc_dw22, init) == 20
                             && offsetof(qcc_dw22, w) == 36 && offsetof(qcc_dw22, yend) == 56
                             && offsetof(qcc_dw22, rskip) == 64 && offsetof(qcc_dw22, lo) == 68
                             ? 1 : -1];

/* One input row's taps: E, O of the word at A, then MACS. */
#define QCC_DW22_LD(A)                                                                       \
    "ldr r10, " A "\n\t"                                                                     \
    "sxtb16 r9, r10\n\t"                                                                     \
    "sxtb16 r10, r10, ror #8\n\t"
/* Kernel row (WA: its (w0, w2) register, WB / H: the register and half holding its w1) into
 * the accumulators X0, X1 of one output row. */
#define QCC_DW22_KR(X0, X1, WA, WB, H)                                                       \
    "smlad " X0 ", r9, " WA ", " X0 "\n\t"                                                   \
    "smlab" H " " X0 ", r10, " WB ", " X0 "\n\t"                                             \
    "smlad " X1 ", r10, " WA ", " X1 "\n\t"                                                  \
    "smlat" H " " X1 ", r9, " WB ", " X1 "\n\t"

#define QCC_DW22_REQ1(a)                                                                     \
    "smmla " a ", " a ", r4, r5\n\t"                                                         \
    "asr " a ", " a ", r6\n\t"                                                               \
    "ssat " a ", #8, " a "\n\t"

#define QCC_DW22_CLAMP                                                                       \
    "ldrd r4, r5, [r12, #68]\n\t"                                                            \
    "ssub8 r9, r0, r4\n\t"                                                                   \
    "sel r0, r0, r4\n\t"                                                                     \
    "ssub8 r9, r5, r0\n\t"                                                                   \
    "sel r0, r0, r5\n\t"

/* wa0 = r4, wa1 = r5, wa2 = r6, wb = r7 (w1 of rows 0 / 1 in its halves), wb2 = r8 */
#define QCC_DW22(CLAMP)                                                                      \
    "1:\n\t"                                                                                 \
    "add r9, r12, #20\n\t"                                                                   \
    "ldm r9, { r0, r1, r2, r3, r4, r5, r6, r7, r8 }\n\t"                                     \
    QCC_DW22_LD("[r11]")                                                                     \
    QCC_DW22_KR("r0", "r1", "r4", "r7", "b")                                                 \
    QCC_DW22_LD("[r11, lr]")                                                                 \
    QCC_DW22_KR("r0", "r1", "r5", "r7", "t")                                                 \
    QCC_DW22_KR("r2", "r3", "r4", "r7", "b")                                                 \
    QCC_DW22_LD("[r11, lr, lsl #1]")                                                         \
    QCC_DW22_KR("r0", "r1", "r6", "r8", "b")                                                 \
    QCC_DW22_KR("r2", "r3", "r5", "r7", "t")                                                 \
    "add r9, r11, lr, lsl #1\n\t"                                                            \
    QCC_DW22_LD("[r9, lr]")                                                                  \
    QCC_DW22_KR("r2", "r3", "r6", "r8", "b")                                                 \
    "add r11, r11, #2\n\t"                                                                   \
    "ldm r12, { r4, r5, r6, r7, r8 }\n\t"                                                    \
    QCC_DW22_REQ1("r0") QCC_DW22_REQ1("r1") QCC_DW22_REQ1("r2") QCC_DW22_REQ1("r3")          \
    "bfi r0, r1, #8, #8\n\t"                                                                 \
    "bfi r0, r2, #16, #8\n\t"                                                                \
    "bfi r0, r3, #24, #8\n\t"                                                                \
    CLAMP                                                                                    \
    "strh r0, [r7]\n\t"                                                                      \
    "lsr r0, r0, #16\n\t"                                                                    \
    "strh r0, [r7, r8]\n\t"                                                                  \
    "add r7, r7, #2\n\t"                                                                     \
    "str r7, [r12, #12]\n\t"                                                                 \
    "ldr r9, [r12, #56]\n\t"                                                                 \
    "cmp r7, r9\n\t"                                                                         \
    "bne 1b\n\t"                                                                             \
    "ldr r10, [r12, #60]\n\t"                                                                \
    "cmp r7, r10\n\t"                                                                        \
    "beq 2f\n\t"                                                                             \
    "add r7, r7, r8\n\t"                                                                     \
    "str r7, [r12, #12]\n\t"                                                                 \
    "add r9, r9, r8, lsl #1\n\t"                                                             \
    "str r9, [r12, #56]\n\t"                                                                 \
    "ldr r10, [r12, #64]\n\t"                                                                \
    "add r11, r11, r10\n\t"                                                                  \
    "b 1b\n\t"                                                                               \
    "2:\n\t"

/* The row pairs d describes, from input r (d->y: the first output); narrow: the clamp. Out of
 * line, one function per clamp; every register pinned for the LDMs. */
#define QCC_DW22_FN(name, CLAMP)                                                               \
    __attribute__((noinline, unused)) static void name(const int8_t *r, int32_t pw,            \
                                                       qcc_dw22 *d)                            \
    {                                                                                          \
        register int32_t a0 __asm__("r0");                                                     \
        register int32_t a1 __asm__("r1");                                                     \
        register int32_t a2 __asm__("r2");                                                     \
        register int32_t a3 __asm__("r3");                                                     \
        register int32_t w0 __asm__("r4");                                                     \
        register int32_t w1 __asm__("r5");                                                     \
        register int32_t w2 __asm__("r6");                                                     \
        register int32_t w3 __asm__("r7");                                                     \
        register int32_t w4 __asm__("r8");                                                     \
        register int32_t e __asm__("r9");                                                      \
        register int32_t o __asm__("r10");                                                     \
        register const int8_t *rr __asm__("r11") = r;                                          \
        register qcc_dw22 *dd __asm__("r12") = d;                                              \
        register int32_t pp __asm__("lr") = pw;                                                \
        __asm__ volatile(QCC_DW22(CLAMP)                                                       \
                         : "=&r"(a0), "=&r"(a1), "=&r"(a2), "=&r"(a3), "=&r"(w0), "=&r"(w1),  \
                           "=&r"(w2), "=&r"(w3), "=&r"(w4), "=&r"(e), "=&r"(o), "+r"(rr)      \
                         : "r"(dd), "r"(pp)                                                    \
                         : "cc", "memory");                                                    \
    }
QCC_DW22_FN(qcc_dw22_w, "")
QCC_DW22_FN(qcc_dw22_n, QCC_DW22_CLAMP)

/* Whether a 3x3 conv takes the 2x2 form: strides 1 x 1, an even output width, two rows or
 * more (qcc_dws_takes(p) holds). */
static inline int qcc_dw22_takes(const qcc_conv2d_p *p)
{
    return p->kw == 3 && p->sw == 1 && p->sh == 1 && (p->ow & 1) == 0 && p->oh >= 2;
}
#endif
