#ifdef QCC_ARM_GEMM4
/* Arm DSP depthwise 5x5 rows with horizontal stride 1 or 2, four outputs per pass (the quad form;
 * the pair form and the drivers: conv2d_dws5_dsp.c, the loop state qcc_dwa: conv2d_dws_dsp.c).
 * Per kernel row, from the words at j (b0..b3) and j + 4 (b4..b7): E = (b0, b2), O = (b1, b3),
 * E' = (b4, b6), O' = (b5, b7) by SXTB16 / SXTB16 ror 8, then X = (b4, b2), Y = (b5, b3) by
 * PKHBT, and with (w0, w2), (w1, w3) and w4:
 *   y_j   += E.(w0, w2) + O.(w1, w3) + b4 w4
 *   y_j+1 += O.(w0, w2) + X x (w1, w3) + b5 w4       (x: SMLADX, the halves crossed)
 *   y_j+2 += X x (w0, w2) + Y x (w1, w3) + b6 w4
 *   y_j+3 += Y x (w0, w2) + E'.(w1, w3) + b7 w4
 * 12 multiply-accumulates for 20 MACs, 22.5 instructions per kernel row with the loads of
 * the inputs and weights (the pair form: 16 for 10 MACs), and the requantization, the start
 * value and the output store shared by four outputs (one word STR). The output pointer lives
 * in the loop state (qcc_dwa.yq: all 14 registers hold the block); after the five kernel rows
 * the row pointer steps back by qcc_dwa.rew = 5 pw - 4 S. */

/* The start of a kernel row in both forms: the words at the row pointer (b0..b3) and 4 past it
 * (b4..b7), STEP (stride 1 steps the row pointer here, stride 2 after its third word), the
 * weights (w0..w3, and w4 by WCLOAD), E, O, E', O' and y_j's three multiply-accumulates. */
#define QCC_DW5Q_ROW_START(WOFF, WCLOAD, H, STEP)                                            \
    "ldr %[o], [%[r]]\n\t"                                                                   \
    "ldr %[u], [%[r], #4]\n\t"                                                               \
    STEP                                                                                     \
    "ldrd %[wa], %[wb], [%[prm], #" WOFF "]\n\t"                                             \
    WCLOAD                                                                                   \
    "sxtb16 %[e], %[o]\n\t"                                                                  \
    "sxtb16 %[o], %[o], ror #8\n\t"                                                          \
    "sxtb16 %[t], %[u]\n\t"                                                                  \
    "sxtb16 %[u], %[u], ror #8\n\t"                                                          \
    "smlad %[a0], %[e], %[wa], %[a0]\n\t"                                                    \
    "smlad %[a0], %[o], %[wb], %[a0]\n\t"                                                    \
    "smlab" H " %[a0], %[t], %[wc], %[a0]\n\t"

#define QCC_DW5Q_ROW(WOFF, WCLOAD, H)                                                        \
    QCC_DW5Q_ROW_START(WOFF, WCLOAD, H, "add %[r], %[r], %[pw]\n\t")                         \
    "smlad %[a1], %[o], %[wa], %[a1]\n\t"                                                    \
    "pkhbt %[e], %[t], %[e]\n\t"                                                             \
    "pkhbt %[o], %[u], %[o]\n\t"                                                             \
    "smladx %[a1], %[e], %[wb], %[a1]\n\t"                                                   \
    "smlab" H " %[a1], %[u], %[wc], %[a1]\n\t"                                               \
    "smladx %[a2], %[e], %[wa], %[a2]\n\t"                                                   \
    "smladx %[a2], %[o], %[wb], %[a2]\n\t"                                                   \
    "smlat" H " %[a2], %[t], %[wc], %[a2]\n\t"                                               \
    "smladx %[a3], %[o], %[wa], %[a3]\n\t"                                                   \
    "smlad %[a3], %[t], %[wb], %[a3]\n\t"                                                    \
    "smlat" H " %[a3], %[u], %[wc], %[a3]\n\t"

/* Stride 2: outputs j..j+3 read b0..b10 of the words at 2j, 2j + 4 and 2j + 8; E, O, E', O'
 * as above, E'' = (b8, b10), O'' = (b9, b11), X = (b4, b2), Y = (b5, b3), X' = (b8, b6),
 * Y' = (b9, b7):
 *   y_j   += E.(w0, w2) + O.(w1, w3) + b4 w4
 *   y_j+1 += X x (w0, w2) + Y x (w1, w3) + b6 w4
 *   y_j+2 += E'.(w0, w2) + O'.(w1, w3) + b8 w4
 *   y_j+3 += X' x (w0, w2) + Y' x (w1, w3) + b10 w4
 * (27.5 instructions per kernel row and quad; the pair form: about 20 for 10 MACs). */
#define QCC_DW5Q_ROW2(WOFF, WCLOAD, H)                                                       \
    QCC_DW5Q_ROW_START(WOFF, WCLOAD, H, "")                                                  \
    "pkhbt %[e], %[t], %[e]\n\t"                                                             \
    "pkhbt %[o], %[u], %[o]\n\t"                                                             \
    "smladx %[a1], %[e], %[wa], %[a1]\n\t"                                                   \
    "smladx %[a1], %[o], %[wb], %[a1]\n\t"                                                   \
    "smlat" H " %[a1], %[t], %[wc], %[a1]\n\t"                                               \
    "smlad %[a2], %[t], %[wa], %[a2]\n\t"                                                    \
    "smlad %[a2], %[u], %[wb], %[a2]\n\t"                                                    \
    "ldr %[e], [%[r], #8]\n\t"                                                               \
    "add %[r], %[r], %[pw]\n\t"                                                              \
    "sxtb16 %[o], %[e], ror #8\n\t"                                                          \
    "sxtb16 %[e], %[e]\n\t"                                                                  \
    "smlab" H " %[a2], %[e], %[wc], %[a2]\n\t"                                               \
    "smlat" H " %[a3], %[e], %[wc], %[a3]\n\t"                                               \
    "pkhbt %[e], %[e], %[t]\n\t"                                                             \
    "pkhbt %[o], %[o], %[u]\n\t"                                                             \
    "smladx %[a3], %[e], %[wa], %[a3]\n\t"                                                   \
    "smladx %[a3], %[o], %[wb], %[a3]\n\t"

#define QCC_DW5Q_REQ1(a)                                                                     \
    "smmla %[" a "], %[" a "], %[e], %[o]\n\t"                                               \
    "asr %[" a "], %[" a "], %[t]\n\t"                                                       \
    "ssat %[" a "], #8, %[" a "]\n\t"

/* The quads of the rows prm describes (the same row steps as QCC_DWA_REQ, y in prm->yq);
 * ROW: QCC_DW5Q_ROW (stride 1) or QCC_DW5Q_ROW2 (stride 2). */
#define QCC_DW5Q(ROW, CLAMP)                                                                 \
    "1:\n\t"                                                                                 \
    "ldr %[a0], [%[prm], #12]\n\t"                                                           \
    "mov %[a1], %[a0]\n\t"                                                                   \
    "mov %[a2], %[a0]\n\t"                                                                   \
    "mov %[a3], %[a0]\n\t"                                                                   \
    ROW("44", "ldr %[wc], [%[prm], #84]\n\t", "b")                                           \
    ROW("52", "", "t")                                                                       \
    ROW("60", "ldr %[wc], [%[prm], #88]\n\t", "b")                                           \
    ROW("68", "", "t")                                                                       \
    ROW("76", "ldr %[wc], [%[prm], #92]\n\t", "b")                                           \
    "ldr %[e], [%[prm], #100]\n\t"                                                           \
    "sub %[r], %[r], %[e]\n\t"                                                               \
    "ldm %[prm], { %[e], %[o], %[t] }\n\t"                                                   \
    QCC_DW5Q_REQ1("a0") QCC_DW5Q_REQ1("a1") QCC_DW5Q_REQ1("a2") QCC_DW5Q_REQ1("a3")          \
    "bfi %[a0], %[a1], #8, #8\n\t"                                                           \
    "bfi %[a0], %[a2], #16, #8\n\t"                                                          \
    "bfi %[a0], %[a3], #24, #8\n\t"                                                          \
    CLAMP                                                                                    \
    "ldr %[e], [%[prm], #96]\n\t"                                                            \
    "str %[a0], [%[e]], #4\n\t"                                                              \
    "ldr %[o], [%[prm], #24]\n\t"                                                            \
    "str %[e], [%[prm], #96]\n\t"                                                            \
    "cmp %[e], %[o]\n\t"                                                                     \
    "bne 1b\n\t"                                                                             \
    "ldrd %[o], %[t], [%[prm], #28]\n\t"                                                     \
    "cmp %[e], %[o]\n\t"                                                                     \
    "beq 2f\n\t"                                                                             \
    "add %[r], %[r], %[t]\n\t"                                                               \
    "ldrd %[o], %[t], [%[prm], #36]\n\t"                                                     \
    "sub %[e], %[e], %[o]\n\t"                                                               \
    "str %[e], [%[prm], #96]\n\t"                                                            \
    "ldr %[o], [%[prm], #24]\n\t"                                                            \
    "add %[o], %[o], %[t]\n\t"                                                               \
    "str %[o], [%[prm], #24]\n\t"                                                            \
    "b 1b\n\t"                                                                               \
    "2:\n\t"

#define QCC_DW5Q_OPERANDS                                                                    \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [e] "=&r"(e),         \
      [o] "=&r"(o), [t] "=&r"(t), [u] "=&r"(u), [wa] "=&r"(wa), [wb] "=&r"(wb),             \
      [wc] "=&r"(wc), [r] "+r"(r)                                                            \
    : [pw] "r"(pw), [prm] "r"(prm)                                                           \
    : "cc", "memory"

/* The quads of the rows prm describes, from r (prm->yq: the first output); narrow: the clamp.
 * Out of line, one function per clamp (each assembly block once in the image). */
#define QCC_DW5Q_FN(name, ROW, CLAMP)                                                          \
    __attribute__((noinline, unused)) static void name(const int8_t *r, int32_t pw,            \
                                                       const qcc_dwa *prm)                     \
    {                                                                                          \
        register int32_t e __asm__("r8");                                                      \
        register int32_t o __asm__("r9");                                                      \
        register int32_t t __asm__("r10");                                                     \
        int32_t a0, a1, a2, a3, u, wa, wb, wc;                                                 \
        __asm__ volatile(QCC_DW5Q(ROW, CLAMP) QCC_DW5Q_OPERANDS);                              \
    }
QCC_DW5Q_FN(qcc_dw5q_w, QCC_DW5Q_ROW, "")
QCC_DW5Q_FN(qcc_dw5q_n, QCC_DW5Q_ROW, QCC_DWA_CLAMP)
QCC_DW5Q_FN(qcc_dw5q2, QCC_DW5Q_ROW2, QCC_DWA_CLAMP)  /* stride 2: one form, always clamped (the
                                                       * bounds -128, 127 clamp nothing; flash) */

/* Whether a row of ow outputs (horizontal stride S) runs as quads rather than pairs. Stride 1:
 * about 141 instructions per quad against 92 per pair (QEMU icount), so quads where
 * ceil(ow / 4) * 3 < ceil(ow / 2) * 2 (ow 4, 7 and from 8; 5 and 6 waste three and two outputs
 * of their second quad); stride 2: about 166 against 117, quads from ow = 4. */
static inline int qcc_dw5q_takes(int32_t ow, int32_t S)
{
    return ow >= 4 && (S == 2 || 3 * ((ow + 3) / 4) < 2 * ((ow + 1) / 2));
}
#endif
