/* The 5x5 two-row form (qcc_dw5r2_takes: 5x5 depthwise convs on inputs of at most two rows;
 * included by conv2d_dws5_dsp.c after the 5x5 row pieces). Every window then holds at most
 * two input rows, the other kernel rows see only the padded plane's zero point, whose taps add
 * w * (zp - zp) = 0 to the exact sum: per output row the kernel rows inside the input are
 * packed into the first two slots of prm->w5 (a slot over the padding gets zero weights) and
 * the start value is the bias minus zp times their weights' sum, so the pair loop runs the
 * same accumulator over two kernel rows instead of five. */
#define QCC_DW5R2_ROWS(INC, OT, OO, TAPS)                                                    \
    "1:\n\t"                                                                                 \
    "ldr %[a0], [%[prm], #12]\n\t"                                                           \
    "mov %[a1], %[a0]\n\t"                                                                   \
    QCC_DW5_LD0(INC) QCC_DW5_W("44", QCC_DW5_WC("84")) TAPS("b")                             \
    QCC_DW5_LDN(OT, OO, "") QCC_DW5_W("52", "") TAPS("t")

#define QCC_DW5R2_S1(CLAMP) QCC_DW5R2_ROWS("2", "2", "-2", QCC_DW5_TAPS1) QCC_DWA_REQ(CLAMP)
#define QCC_DW5R2_S2(CLAMP) QCC_DW5R2_ROWS("4", "0", "-4", QCC_DW5_TAPS2) QCC_DWA_REQ(CLAMP)

/* The pairs of the rows prm describes over window rows r and r + pw (S the stride). */
QCC_DW5_ROW_FN(qcc_dw5r2_row, QCC_DW5R2_S1, QCC_DW5R2_S2)

#define QCC_DW5R2_FN(name, S, N)                                                               \
    __attribute__((noinline, unused)) static void name(const int8_t *r, int32_t pw,            \
                                                       const qcc_dwa *prm, int8_t *y)          \
    {                                                                                          \
        qcc_dw5r2_row(r, pw, prm, y, S, N);                                                    \
    }
QCC_DW5R2_FN(qcc_dw5r2_s1w, 1, 0)
QCC_DW5R2_FN(qcc_dw5r2_s1n, 1, 1)
QCC_DW5R2_FN(qcc_dw5r2_s2w, 2, 0)
QCC_DW5R2_FN(qcc_dw5r2_s2n, 2, 1)

static inline void qcc_dw5r2_rows(const int8_t *r, int32_t pw, const qcc_dwa *prm, int8_t *y,
                                  int32_t S, int narrow)
{   /* direct calls: the static stack bound stays computable */
    if (S == 1 && narrow)
        QCC_DWF_DO(QCC_DWF_R2S1N, qcc_dw5r2_s1n(r, pw, prm, y));
    else if (S == 1)
        QCC_DWF_DO(QCC_DWF_R2S1W, qcc_dw5r2_s1w(r, pw, prm, y));
    else if (narrow)
        QCC_DWF_DO(QCC_DWF_R2S2N, qcc_dw5r2_s2n(r, pw, prm, y));
    else
        QCC_DWF_DO(QCC_DWF_R2S2W, qcc_dw5r2_s2w(r, pw, prm, y));
}

/* Kernel rows ua and ub of the 5x5 kernel wk into slots 0 and 1 of prm->w5 ((w0, w2), (w1, w3)
 * and w4 in the halves of w5[10], as qcc_dw5_pack; a negative row: zero weights); returns the
 * two rows' weight sum. */
static inline int32_t qcc_dw5r2_pack(const int8_t *wk, int32_t ua, int32_t ub, qcc_dwa *prm)
{
    int32_t s, sum = 0, w4[2] = {0, 0};
    for (s = 0; s < 2; s++) {
        const int32_t u = s == 0 ? ua : ub;
        int32_t e = 0, o = 0;
        if (u >= 0) {
            const uint32_t v = qcc_ld32(wk + 5 * u);
            e = (int32_t)__sxtb16(v), o = (int32_t)qcc_sxtb16_ror8(v), w4[s] = wk[5 * u + 4];
            sum = __smlad(e, 0x00010001, __smlad(o, 0x00010001, sum + w4[s]));
        }
        prm->w5[2 * s] = e, prm->w5[2 * s + 1] = o;
    }
    prm->w5[10] = (int32_t)QCC_DWS_PAIR(w4[0], w4[1]);
    return sum;
}

/* One output from window rows r and r + pw with the two slots' weights (an odd row's last). */
__attribute__((always_inline)) static inline void
qcc_dw5r2_one(const int8_t *r, int32_t pw, const qcc_dwa *prm, const qcc_rqf *rq, int32_t lo,
              int32_t hi, const int narrow, int8_t *out)
{
    int32_t u, a = prm->init;
    for (u = 0; u < 2; u++, r += pw) {
        const uint32_t v = qcc_ld32(r);
        a = __smlad((int32_t)__sxtb16(v), prm->w5[2 * u], a);
        a = __smlad((int32_t)qcc_sxtb16_ror8(v), prm->w5[2 * u + 1], a);
        a = __smlabb(r[4], prm->w5[10] >> (16 * u), a);  /* b4 * w4 */
    }
    QCC_RQF_FAST(a, rq->m, rq->c, rq->sh, narrow, lo, hi, *out);
}

/* The plane of one output channel (kernel wk, bias b0; prm: the requantization, bounds and
 * row steps set, g: the geometry for pairs): per output row i, whose window starts at row
 * i sh of the padded plane (row pt is the input's first), the window rows ra and ra + 1
 * (ra = the first kernel row inside the input, at most 3) in one call of the pair loop, an
 * odd width's last output in C. */
static inline void qcc_dw5r2_plane(const qcc_conv2d_p *p, const qcc_dwg *g, const int8_t *pad,
                                   int32_t pw, const int8_t *wk, int32_t b0, qcc_dwa *prm,
                                   const qcc_rqf *rq, int8_t *restrict y, int32_t S, int narrow)
{
    int32_t i, j, s;
    for (i = 0; i < g->oh; i++) {
        const int32_t top = i * p->sh, u0 = p->pt > top ? p->pt - top : 0;
        const int32_t u1 = p->pt + p->h - top < 5 ? p->pt + p->h - top : 5;
        const int32_t ra = u0 < 3 ? u0 : 3;
        const int8_t *r = pad + (size_t)(top + ra) * pw;
        int8_t *yi = y + (size_t)i * g->ow;
        int32_t us[2];
        for (s = 0; s < 2; s++)
            us[s] = ra + s >= u0 && ra + s < u1 ? ra + s : -1;
        prm->init = b0 - p->x_zp * qcc_dw5r2_pack(wk, us[0], us[1], prm);
        if (g->ow2 > 0) {
            prm->yend = prm->stop = yi + g->ow2;
            qcc_dw5r2_rows(r, pw, prm, yi, S, narrow);
        }
        for (j = g->ow2; j < g->ow; j++)
            qcc_dw5r2_one(r + S * j, pw, prm, rq, p->lo, p->hi, narrow, yi + j);
    }
}

/* Whether conv p takes the two-row form (qcc_dws_takes(p) holds). */
static inline int qcc_dw5r2_takes(const qcc_conv2d_p *p)
{
    return p->kw == 5 && p->h <= 2;
}
