#ifdef QCC_ARM_GEMM4
/* Arm DSP im2col / pointwise GEMM with 1x4 register blocking (common_dsp.h): the im2col
 * columns are written straight into quad blocks (four output positions per block, chunks of
 * four in SXTB16 pair order), then each output channel runs over every quad block of the
 * current group of columns, requantization fused. Scratch: the im2col scratch, holding
 * n16 / qcc_quad_len(K) quad blocks (the slots of a last, partial block are computed from
 * whatever they hold and not stored). */

{% include "kernels/conv2d_quad_dsp.c" %}

/* The full column quads of a block's output channels in one assembly loop (K >= 4, int8
 * outputs, the fast requantization). Per channel: its SMMLA parameters from its shift, its
 * bias, weight and output rows, read through cursors in the loop state and advanced there.
 * Per quad: the first chunk of four K elements starts the four accumulators from the bias
 * (SMLAD's addend), the other K / 4 - 1 chunks run in a loop of four chunks entered part-way
 * (Duff's device: BX to an address computed once per call, so no per-quad split of the
 * chunk count), then the partial chunk (the word that ends the row, shifted right; a
 * separate body, so rows without it test nothing), then SMMLA / ASR / SSAT, the four bytes
 * packed by BFI into one word store, clamped to [lo, hi] by SSUB8 / SEL on the packed bytes
 * in the narrow form; the column pointer runs on into the next quad (quad blocks are
 * contiguous). The loop state lives in qcc_g4r (read at fixed offsets), which frees the
 * registers the 1x4 block needs. */
typedef struct {
    int32_t m, c, sh;   /*  0: the channel's qcc_rqf (sh > 0) */
    int8_t *y;          /* 12: the next four outputs */
    uint32_t lo4, hi4;  /* 16: the bounds, one byte per output (narrow form) */
    int32_t b0;         /* 24: the bias */
    const int8_t *w;    /* 28: the weight row */
    int32_t n;          /* 32: passes of the four-chunk loop, ceil((K / 4 - 1) / 4) */
    uint32_t entry;     /* 36: the loop's entry address (Thumb), set by the assembly */
    int32_t tsh;        /* 40: 8 * (4 - K % 4): the partial chunk's shift */
    int8_t *yend;       /* 44: the end of the full quads' outputs */
    int32_t skip;       /* 48: bytes of the loop skipped at its entry, or -1: no loop */
    int32_t toff;       /* 52: K % 4 - 4: the row's last word from the full chunks' end */
    const int32_t *mp;  /* 56: the next channel's multiplier */
    const int32_t *sp;  /* 60: and shift */
    int32_t pstep;      /* 64: bytes between the channels' multipliers (4, or 0: per tensor) */
    const int32_t *bp;  /* 68: the next channel's bias */
    int32_t bstep;      /* 72: 4, or 0 (no bias: bp at a zero) */
    int32_t zp1;        /* 76: 1 + 2 * the output zero point (c = zp1 << (s - 33)) */
    int32_t ystride;    /* 80: bytes between the channels' output rows */
    int32_t qn4;        /* 84: outputs of the full quads */
    int8_t *yrow;       /* 88: the next channel's output row */
    int32_t k;          /* 92: K, bytes between weight rows */
    const int8_t *wrow; /* 96: the next channel's weight row */
    int32_t nch;        /* 100: channels left */
    const int16_t *col; /* 104: the quad blocks */
} qcc_g4r;
/* the offsets the assembly reads (a negative array size if the layout differs) */
typedef char qcc_g4r_layout[offsetof(qcc_g4r, y) == 12 && offsetof(qcc_g4r, b0) == 24
                            && offsetof(qcc_g4r, tsh) == 40 && offsetof(qcc_g4r, yend) == 44
                            && offsetof(qcc_g4r, entry) == 36 && offsetof(qcc_g4r, toff) == 52 && offsetof(qcc_g4r, mp) == 56
                            && offsetof(qcc_g4r, bp) == 68 && offsetof(qcc_g4r, ystride) == 80
                            && offsetof(qcc_g4r, k) == 92 && offsetof(qcc_g4r, col) == 104
                            ? 1 : -1];

/* Bytes of one QCC_G4R_CHUNK (13 32-bit instructions; checked by the assembler). */
#define QCC_G4R_CHUNK_BYTES 52

/* The first chunk: the accumulators start at the bias in a3 (SMLAD's addend). */
#define QCC_G4R_FIRST                                                 \
    "ldr.w %[wq], [%[w]], #4\n\t"                                     \
    "sxtb16 %[ws], %[wq]\n\t"                                         \
    "sxtb16 %[wq], %[wq], ror #8\n\t"                                 \
    "ldmia.w %[cp]!, { %[c0], %[c1], %[c2], %[c3] }\n\t"              \
    "smlad %[a0], %[ws], %[c0], %[a3]\n\t"                            \
    "smlad %[a0], %[wq], %[c1], %[a0]\n\t"                            \
    "smlad %[a1], %[ws], %[c2], %[a3]\n\t"                            \
    "smlad %[a1], %[wq], %[c3], %[a1]\n\t"                            \
    "ldmia.w %[cp]!, { %[c0], %[c1], %[c2], %[c3] }\n\t"              \
    "smlad %[a2], %[ws], %[c0], %[a3]\n\t"                            \
    "smlad %[a2], %[wq], %[c1], %[a2]\n\t"                            \
    "smlad %[a3], %[ws], %[c2], %[a3]\n\t"                            \
    "smlad %[a3], %[wq], %[c3], %[a3]\n\t"

/* A chunk of fixed size (32-bit encodings), for the computed entry. */
#define QCC_G4R_CHUNK                                                 \
    "ldr.w %[wq], [%[w]], #4\n\t"                                     \
    "sxtb16 %[ws], %[wq]\n\t"                                         \
    "sxtb16 %[wq], %[wq], ror #8\n\t"                                 \
    "ldmia.w %[cp]!, { %[c0], %[c1], %[c2], %[c3] }\n\t"              \
    "smlad %[a0], %[ws], %[c0], %[a0]\n\t"                            \
    "smlad %[a0], %[wq], %[c1], %[a0]\n\t"                            \
    "smlad %[a1], %[ws], %[c2], %[a1]\n\t"                            \
    "smlad %[a1], %[wq], %[c3], %[a1]\n\t"                            \
    "ldmia.w %[cp]!, { %[c0], %[c1], %[c2], %[c3] }\n\t"              \
    "smlad %[a2], %[ws], %[c0], %[a2]\n\t"                            \
    "smlad %[a2], %[wq], %[c1], %[a2]\n\t"                            \
    "smlad %[a3], %[ws], %[c2], %[a3]\n\t"                            \
    "smlad %[a3], %[wq], %[c3], %[a3]\n\t"

/* Once per row: the loop's entry address into prm->entry (label 3, after the loop, when
 * prm->skip < 0). */
#define QCC_G4R_ENTRY                                                 \
    "adr.w %[wq], 2f\n\t"                                             \
    "adr.w %[ws], 3f\n\t"                                             \
    "ldr %[n], [%[prm], #48]\n\t"                                     \
    "add %[wq], %[wq], %[n]\n\t"                                      \
    "cmp %[n], #0\n\t"                                                \
    "it lt\n\t"                                                       \
    "movlt %[wq], %[ws]\n\t"                                          \
    "orr %[wq], %[wq], #1\n\t"                                        \
    "str %[wq], [%[prm], #36]\n\t"

#define QCC_G4R_TAIL                                                  \
    "ldr %[wq], [%[prm], #52]\n\t"                                    \
    "ldr %[ws], [%[prm], #40]\n\t"                                    \
    "ldr %[wq], [%[w], %[wq]]\n\t"                                    \
    "lsr %[wq], %[wq], %[ws]\n\t"                                     \
    QCC_GEMM4_MACS

/* Per channel: its fast requantization from its shift s (33 <= s <= 53): sh = s - 32,
 * c = 2^(s-33) + zp * 2^(s-32) = (1 + 2 zp) << (s - 33) (qcc_rqf_init's word, from 1 + 2 zp
 * prepared per call), its multiplier and bias, its output row and weight row, the cursors
 * advanced to the next channel, the column pointer back at the first quad. */
#define QCC_G4R_CHANNEL                                               \
    "ldrd %[a0], %[a1], [%[prm], #56]\n\t"                            \
    "ldr %[a2], [%[prm], #64]\n\t"                                    \
    "ldr %[c0], [%[a0]]\n\t"                                          \
    "ldr %[c1], [%[a1]]\n\t"                                          \
    "add %[a0], %[a0], %[a2]\n\t"                                     \
    "add %[a1], %[a1], %[a2]\n\t"                                     \
    "strd %[a0], %[a1], [%[prm], #56]\n\t"                            \
    "sub %[c2], %[c1], #32\n\t"                                       \
    "sub %[c1], %[c1], #33\n\t"                                       \
    "ldr %[a0], [%[prm], #76]\n\t"                                    \
    "lsl %[c1], %[a0], %[c1]\n\t"                                     \
    "stmia %[prm], { %[c0], %[c1], %[c2] }\n\t"                       \
    "ldrd %[a0], %[a1], [%[prm], #68]\n\t"                            \
    "ldr %[a2], [%[a0]]\n\t"                                          \
    "add %[a0], %[a0], %[a1]\n\t"                                     \
    "str %[a0], [%[prm], #68]\n\t"                                    \
    "str %[a2], [%[prm], #24]\n\t"                                    \
    "ldrd %[a0], %[a1], [%[prm], #80]\n\t"                            \
    "ldr %[a2], [%[prm], #88]\n\t"                                    \
    "add %[a1], %[a1], %[a2]\n\t"                                     \
    "str %[a2], [%[prm], #12]\n\t"                                    \
    "str %[a1], [%[prm], #44]\n\t"                                    \
    "add %[a2], %[a2], %[a0]\n\t"                                     \
    "str %[a2], [%[prm], #88]\n\t"                                    \
    "ldrd %[a0], %[a1], [%[prm], #92]\n\t"                            \
    "str %[a1], [%[prm], #28]\n\t"                                    \
    "add %[a1], %[a1], %[a0]\n\t"                                     \
    "str %[a1], [%[prm], #96]\n\t"                                    \
    "ldr %[cp], [%[prm], #104]\n\t"

#define QCC_G4R_BODY(TAIL, CLAMP)                                     \
    QCC_G4R_ENTRY                                                     \
    "9:\n\t"                                                          \
    QCC_G4R_CHANNEL                                                   \
    "1:\n\t"                                                          \
    "ldrd %[a3], %[w], [%[prm], #24]\n\t"                             \
    QCC_G4R_FIRST                                                     \
    "ldrd %[n], %[ws], [%[prm], #32]\n\t"                             \
    "bx %[ws]\n"                                                      \
    "2:\n\t"                                                          \
    QCC_G4R_CHUNK                                                     \
    QCC_G4R_CHUNK                                                     \
    QCC_G4R_CHUNK                                                     \
    QCC_G4R_CHUNK                                                     \
    "7:\n\t"                                                          \
    ".if (7b - 2b) != 4 * 52\n\t"                                     \
    ".error \"qcc_g4r: a chunk is not 52 bytes\"\n\t"                 \
    ".endif\n\t"                                                      \
    "subs %[n], %[n], #1\n\t"                                         \
    "bne 2b\n"                                                        \
    "3:\n\t"                                                          \
    TAIL                                                              \
    "ldm %[prm], { %[c0], %[c1], %[c2], %[c3] }\n\t"                  \
    "smmla %[a0], %[a0], %[c0], %[c1]\n\t"                            \
    "smmla %[a1], %[a1], %[c0], %[c1]\n\t"                            \
    "smmla %[a2], %[a2], %[c0], %[c1]\n\t"                            \
    "smmla %[a3], %[a3], %[c0], %[c1]\n\t"                            \
    "asr %[a0], %[a0], %[c2]\n\t"                                     \
    "asr %[a1], %[a1], %[c2]\n\t"                                     \
    "asr %[a2], %[a2], %[c2]\n\t"                                     \
    "asr %[a3], %[a3], %[c2]\n\t"                                     \
    "ssat %[a0], #8, %[a0]\n\t"                                       \
    "ssat %[a1], #8, %[a1]\n\t"                                       \
    "ssat %[a2], #8, %[a2]\n\t"                                       \
    "ssat %[a3], #8, %[a3]\n\t"                                       \
    "bfi %[a0], %[a1], #8, #8\n\t"                                    \
    "bfi %[a0], %[a2], #16, #8\n\t"                                   \
    "bfi %[a0], %[a3], #24, #8\n\t"                                   \
    CLAMP                                                             \
    "str %[a0], [%[c3]], #4\n\t"                                      \
    "str %[c3], [%[prm], #12]\n\t"                                    \
    "ldr %[ws], [%[prm], #44]\n\t"                                    \
    "cmp %[c3], %[ws]\n\t"                                            \
    "bne 1b\n\t"                                                      \
    "ldr %[a0], [%[prm], #100]\n\t"                                   \
    "subs %[a0], %[a0], #1\n\t"                                       \
    "str %[a0], [%[prm], #100]\n\t"                                   \
    "bne 9b\n\t"

#define QCC_G4R_CLAMP                                                 \
    "ldrd %[ws], %[wq], [%[prm], #16]\n\t"                            \
    "ssub8 %[a1], %[a0], %[ws]\n\t"                                   \
    "sel %[a0], %[a0], %[ws]\n\t"                                     \
    "ssub8 %[a1], %[a0], %[wq]\n\t"                                   \
    "sel %[a0], %[wq], %[a0]\n\t"

#define QCC_G4R_OPERANDS                                                                   \
    : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [w] "=&r"(w),       \
      [cp] "=&r"(cp), [n] "=&r"(n), [wq] "=&r"(wq), [ws] "=&r"(ws), [c0] "=&r"(c0),       \
      [c1] "=&r"(c1), [c2] "=&r"(c2), [c3] "=&r"(c3)                                      \
    : [prm] "r"(prm)                                                                      \
    : "cc", "memory"

/* The full quads (prm->qn4 > 0, K >= 4) of prm->nch >= 1 channels from the cursors in prm,
 * every channel with the fast requantization. tail: K % 4 != 0. */
__attribute__((always_inline)) static inline void
qcc_gemm4_rows_asm(qcc_g4r *prm, const int narrow, const int tail)
{
    register int32_t c0 __asm__("r8");
    register int32_t c1 __asm__("r9");
    register int32_t c2 __asm__("r10");
    register int32_t c3 __asm__("r11");
    int32_t a0, a1, a2, a3, n, wq, ws;
    const int8_t *w;
    const int16_t *cp;
    if (narrow && tail)
        __asm__ volatile(QCC_G4R_BODY(QCC_G4R_TAIL, QCC_G4R_CLAMP) QCC_G4R_OPERANDS);
    else if (narrow)
        __asm__ volatile(QCC_G4R_BODY("", QCC_G4R_CLAMP) QCC_G4R_OPERANDS);
    else if (tail)
        __asm__ volatile(QCC_G4R_BODY(QCC_G4R_TAIL, "") QCC_G4R_OPERANDS);
    else
        __asm__ volatile(QCC_G4R_BODY("", "") QCC_G4R_OPERANDS);
}

static const int32_t qcc_g4r_zero = 0;  /* the bias of convs without one */

/* Whether output channel o's shift takes the fast requantization (qcc_rqf_init). */
static inline int qcc_g4r_fast(const qcc_conv2d_p *p, const int32_t *shift, int32_t o)
{
    const int32_t s = shift[p->per_channel ? o : 0];
    return s >= 33 && s <= (p->y_zp >= -128 && p->y_zp <= 128 ? 53 : 45);
}

/* The full quads of output channels [o0, o0 + nch) in one assembly loop of the row's form. */
__attribute__((noinline)) static void qcc_gemm4_rows_run(qcc_g4r *prm, const int8_t *w, const int32_t *bias,
                                                         const int32_t *mult, const int32_t *shift, int pc, int8_t *y0,
                               int32_t o0, int32_t nch, int narrow, int tail)
{
    const int32_t ch = pc ? o0 : 0;
    prm->mp = mult + ch, prm->sp = shift + ch;
    prm->bp = bias ? bias + o0 : &qcc_g4r_zero;
    prm->yrow = y0, prm->wrow = w + (size_t)o0 * prm->k, prm->nch = nch;
    if (narrow && tail)
        qcc_gemm4_rows_asm(prm, 1, 1);
    else if (narrow)
        qcc_gemm4_rows_asm(prm, 1, 0);
    else if (tail)
        qcc_gemm4_rows_asm(prm, 0, 1);
    else
        qcc_gemm4_rows_asm(prm, 0, 0);
}

/* The r < 4 outputs of a channel's partial last quad cq (the fast requantization). */
__attribute__((noinline)) static void qcc_gemm4_part(const int8_t *w0, int32_t b0, int32_t m,
                                                     int32_t s, int32_t zp, int32_t lo,
                                                     int32_t hi, const int16_t *cq, int32_t k,
                                                     int32_t r, int8_t *y)
{
    qcc_rqf r0;
    int32_t a0 = b0, a1 = b0, a2 = b0, a3 = b0, i;
    qcc_rqf_init(&r0, m, s, zp);
    qcc_gemm1x4_s(w0, cq, k, &a0, &a1, &a2, &a3, 1);
    for (i = 0; i < r; i++)
        y[i] = (int8_t)qcc_rqf_i8(i == 0 ? a0 : i == 1 ? a1 : a2, &r0, 0, lo, hi, 1);
}

/* The output channels [o0, o1) over the quad blocks of qn columns (K >= 4, int8 outputs,
 * every channel with the fast requantization): the loop state prepared once, the full quads
 * of all channels in one assembly loop, a partial last quad per channel in C. */
__attribute__((noinline, unused)) static void
qcc_gemm4_rows_f(const qcc_conv2d_p *p, const int8_t *w, const int32_t *bias,
                 const int32_t *mult, const int32_t *shift, void *y, const int16_t *col,
                 int32_t k, int32_t qn, int32_t o0, int32_t o1, size_t at0, size_t ostride)
{
    const int32_t lo = p->lo, hi = p->hi, narrow = lo > -128 || hi < 127, tail = (k & 3) != 0;
    const int32_t rest = (k >> 2) - 1, qn4 = qn & ~3, pc = p->per_channel;
    int8_t *const y0 = (int8_t *)y + at0;
    int32_t o;
    qcc_g4r prm;
    if (qn4 > 0) {
        prm.lo4 = 0x01010101u * (uint8_t)lo, prm.hi4 = 0x01010101u * (uint8_t)hi;
        prm.n = (rest + 3) >> 2;
        prm.skip = rest > 0 ? QCC_G4R_CHUNK_BYTES * ((4 - (rest & 3)) & 3) : -1;
        prm.toff = (k & 3) - 4, prm.tsh = 8 * (4 - (k & 3));
        prm.pstep = pc ? 4 : 0, prm.bstep = bias ? 4 : 0;
        prm.zp1 = (int32_t)(1u + 2u * (uint32_t)p->y_zp);
        prm.ystride = (int32_t)ostride, prm.qn4 = qn4, prm.k = k, prm.col = col;
        qcc_gemm4_rows_run(&prm, w, bias, mult, shift, pc, y0, o0, o1 - o0, narrow, tail);
    }
    for (o = o0; (qn & 3) && o < o1; o++)
        qcc_gemm4_part(w + (size_t)o * k, bias ? bias[o] : 0, mult[pc ? o : 0],
                       shift[pc ? o : 0], p->y_zp, lo, hi,
                       col + (size_t)(qn4 >> 2) * qcc_quad_len(k), k, qn & 3,
                       y0 + (size_t)(o - o0) * ostride + qn4);
}

/* The general (non int8 / int32) outputs of one channel: qcc_conv_store per output. */
QCC_ARM_OUTLINE void qcc_gemm4_row_any(const qcc_conv2d_p *p, const int8_t *w, int32_t o,
                                       int32_t b0, const int32_t *mult, const int32_t *shift,
                                       void *y, const int16_t *col, int32_t k, int32_t qn,
                                       size_t at0)
{
    const int32_t ql = qcc_quad_len(k);
    int32_t q, i, acc[4];
    for (q = 0; q < qn; q += 4, col += ql) {
        acc[0] = acc[1] = acc[2] = acc[3] = b0;
        qcc_gemm1x4(w, col, k, acc);
        for (i = 0; i < 4 && q + i < qn; i++)
            qcc_conv_store(p, mult, shift, o, y, at0 + q + i, acc[i]);
    }
}

/* Plain int8 weights; n16: the scratch in int16. Returns 0 (nothing done) when the scratch
 * holds less than one quad block. */
QCC_ARM_OUTLINE int qcc_conv2d_gemm4(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                     const int32_t *bias, const int32_t *mult,
                                     const int32_t *shift, void *y, int16_t *col, int32_t n16)
{
    const int32_t cg = p->c / p->group, mg = p->m / p->group, plane = p->oh * p->ow;
    const int32_t k = cg * p->kh * p->kw, ql = qcc_quad_len(k), k4 = (k + 3) & ~3;
    const int pw = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0
                   && p->pl == 0 && p->oh == p->h && p->ow == p->w;
    /* quads in the scratch; with two or more, room for one natural-order column after them
     * (one quad fewer where needed: the gather then skips the per-element slot offsets) */
    const int32_t nq0 = n16 / ql, nq = !pw && nq0 >= 2 && n16 - nq0 * ql < k4 ? nq0 - 1 : nq0;
    int16_t *const tmp = !pw && n16 - nq * ql >= k4 ? col + (size_t)nq * ql : NULL;
    const int32_t pbd = nq * 4;
    const int fast = mult != NULL && p->y_dt == QCC_I8;
    int fast_all = fast;
    int32_t b, g, o, q0;
    if (pbd < 4)
        return 0;
    for (o = 0; fast_all && o < (p->per_channel ? p->m : 1); o++)
        fast_all = qcc_g4r_fast(p, shift, o);
    for (b = 0; b < p->n; b++)
        for (g = 0; g < p->group; g++)
            for (q0 = 0; q0 < plane; q0 += pbd) {
                const int32_t qn = plane - q0 < pbd ? plane - q0 : pbd;
                const int8_t *xb = x + (size_t)b * p->c * p->h * p->w;
                const int32_t o0 = g * mg, o1 = (g + 1) * mg;
                qcc_gemm4_gather(p, xb, g * cg, cg, q0, qn, col, ql, tmp, pw);
                if (fast_all && k >= 4) {
                    qcc_gemm4_rows_f(p, w, bias, mult, shift, y, col, k, qn, o0, o1,
                                     ((size_t)b * p->m + o0) * plane + q0, (size_t)plane);
                    continue;
                }
                for (o = o0; o < o1; o++) {  /* channel by channel */
                    const size_t at0 = ((size_t)b * p->m + o) * plane + q0;
                    if (fast && k >= 4 && qcc_g4r_fast(p, shift, o))
                        qcc_gemm4_rows_f(p, w, bias, mult, shift, y, col, k, qn, o, o + 1, at0,
                                         (size_t)plane);
                    else
                        qcc_gemm4_row_any(p, w + (size_t)o * k, o, bias ? bias[o] : 0, mult,
                                          shift, y, col, k, qn, at0);
                }
            }
    return 1;
}

/* The column quads of positions [q0, q0 + qn) of a one-channel first layer whose kernel rows
 * are four taps (kw 3 padded with a zero tap, or 4): column q's chunk u is the word at its
 * window's row u in the padded plane (pw bytes per row), centred as (b0, b2) - zp,
 * (b1, b3) - zp by qcc_put_centred (SXTAB16; the padding centres to 0); the surplus
 * slots of a last partial quad keep whatever they hold (computed, not stored). */
static void qcc_first_gather(const qcc_conv2d_p *p, const int8_t *pad, int32_t pw, int32_t q0,
                             int32_t qn, int16_t *col)
{
    const int32_t kh = p->kh, ow = p->ow, rs = p->sh * pw, cs = p->sw, ql = 16 * kh;
    const uint32_t nzp = 0x00010001u * (uint16_t)(-p->x_zp);
    int32_t i = q0 / ow, j = q0 % ow, q, u;
    const int8_t *row = pad + (size_t)i * rs;
    for (q = 0; q < qn; q++) {
        const int8_t *xr = row + j * cs;
        int16_t *d = col + (size_t)(q >> 2) * ql + 4 * (q & 3);
        for (u = 0; u < kh; u++, xr += pw, d += 16) {
            qcc_put_centred(d, qcc_ld32(xr), nzp);
        }
        if (++j == ow)
            j = 0, row += rs;
    }
}

/* A one-input-channel first layer (batch 1, group 1, dilation 1; qcc_conv_first_dsp) as the
 * 1x4 GEMM without an im2col gather of its own: its input is copied once into a plane padded
 * with the input zero point (ph = (oh - 1) * sh + kh rows of pw bytes, pw a multiple of 4
 * that holds the last window's whole words), so every window lies inside. Kernel rows of four
 * taps are then the chunks of the K order (K = 4 kh, no partial chunk): a column is one word
 * per kernel row (qcc_first_gather); rows of three taps are repacked once per call into rows
 * of four with a zero tap. Other widths take the general word-row gather on the padded plane.
 * Scratch, from its end: the plane, the repacked weights (kw 3), then the quad blocks.
 * Returns 0 (nothing done) when fewer than two quad blocks fit. */
QCC_ARM_OUTLINE int qcc_conv_first_gemm4(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                         const int32_t *bias, const int32_t *mult,
                                         const int32_t *shift, void *y, int16_t *col, int32_t n16)
{
    const int32_t ph = (p->oh - 1) * p->sh + p->kh, kh = p->kh, kw = p->kw, m = p->m;
    const int32_t pw = ((p->ow - 1) * p->sw + ((kw + 3) & ~3) + 3) & ~3;
    const int32_t k = kh * kw, np16 = (ph * pw + 3) / 4 * 2, plane = p->oh * p->ow;
    const int rows4 = kw >= 3 && kw <= 4;  /* at most a quarter of the lanes wasted */
    const int32_t kp = 4 * kh, nw16 = kw == 3 ? (m * kp + 3) / 4 * 2 : 0;
    const int32_t top = n16 & ~1;  /* words: the plane starts on one */
    const int32_t nq = (top - np16 - nw16) / (16 * kh), pbd = 4 * nq;
    const int fast = mult != NULL && p->y_dt == QCC_I8;
    int32_t o, u, v, q0, fast_all = fast;
    int8_t *pad;
    const int8_t *wp = w;
    if (p->n != 1 || (rows4 ? nq < 2 : top - np16 < 2 * qcc_quad_len(k) + ((k + 3) & ~3) + 64))
        return 0;
    pad = (int8_t *)(col + (top - np16));
    memset(pad, (uint8_t)p->x_zp, (size_t)ph * pw);
    qcc_dwd_fill(p, x, ph, pw, pad);
    if (!rows4) {  /* the shifted parameters in the scratch too (no frame for them) */
        const int32_t nq16 = (int32_t)(sizeof(qcc_conv2d_p) + 3) / 4 * 2;
        qcc_conv2d_p *q = (qcc_conv2d_p *)(void *)(col + (top - np16 - nq16));
        *q = *p;
        q->h = ph, q->w = pw, q->pt = 0, q->pl = 0;
        return qcc_conv2d_gemm4(q, pad, w, bias, mult, shift, y, col, top - np16 - nq16);
    }
    if (kw == 3) {
        int8_t *wr = (int8_t *)(col + (top - np16 - nw16));
        for (o = 0; o < m; o++)
            for (u = 0; u < kh; u++)
                for (v = 0; v < 4; v++)
                    wr[(size_t)o * kp + 4 * u + v] = v < 3 ? w[(size_t)o * k + 3 * u + v] : 0;
        wp = wr;
    }
    for (o = 0; fast_all && o < (p->per_channel ? m : 1); o++)
        fast_all = qcc_g4r_fast(p, shift, o);
    for (q0 = 0; q0 < plane; q0 += pbd) {
        const int32_t qn = plane - q0 < pbd ? plane - q0 : pbd;
        qcc_first_gather(p, pad, pw, q0, qn, col);
        if (fast_all) {
            qcc_gemm4_rows_f(p, wp, bias, mult, shift, y, col, kp, qn, 0, m, (size_t)q0,
                             (size_t)plane);
            continue;
        }
        for (o = 0; o < m; o++) {  /* channel by channel */
            const size_t at0 = (size_t)o * plane + q0;
            if (fast && qcc_g4r_fast(p, shift, o))
                qcc_gemm4_rows_f(p, wp, bias, mult, shift, y, col, kp, qn, o, o + 1, at0,
                                 (size_t)plane);
            else
                qcc_gemm4_row_any(p, wp + (size_t)o * kp, o, bias ? bias[o] : 0, mult, shift, y,
                                  col, kp, qn, at0);
        }
    }
    return 1;
}
#endif
