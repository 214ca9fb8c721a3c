#ifdef QCC_ARM_DSP
/* Arm DSP depthwise conv (one input channel per output, dilation 1, int8 out; any kernel
 * size and stride), straight from the int8 input, accumulators in registers:
 *   - the input plane is copied once per channel into a plane padded with the raw input
 *     zero point (so a padded tap contributes w * (zp - zp) = 0), and the zero point is
 *     folded into the accumulator: acc = bias - zp * sum(w) + sum(w * x), the same integer;
 *   - one word load of four int8 inputs b0..b3 gives, by SXTB16 and SXTB16 ror 8, the int16
 *     pairs E = (b0, b2) and O = (b1, b3); two outputs j, j + 1 (stride s) use them as
 *     y_j += E.(w_4t, w_4t+2) + O.(w_4t+1, w_4t+3) and
 *     y_j+1 += E.(w_4t-s, w_4t+2-s) + O.(w_4t+1-s, w_4t+3-s) (SMLAD; taps outside the kernel
 *     row weigh 0), four outputs of a row (two such pairs) per pass over the taps;
 *   - the four weight pair words of each (kernel row, word) are formed once per output
 *     channel into a table; requantization fused.
 * Scratch: the padded int8 plane (qcc_dwd_dims: ph rows of pw bytes, pw a multiple of 4,
 * placed up to 3 bytes in so that its interior is word-aligned, rounded up to 4) and
 * the table (kh * nt entries of 24 bytes: the byte offsets in the padded plane of the entry's
 * two input words and its four weight words); rules_nn.conv_scratch reserves the larger of
 * this and the portable kernel's need. */
static inline void qcc_dwd_dims(const qcc_conv2d_p *p, int32_t *ph, int32_t *pw, int32_t *nt)
{
    const int32_t ow4 = (p->ow + 3) / 4 * 4;
    *nt = (p->sw + p->kw - 1) / 4 + 1;  /* words per kernel row: taps of y_j+1 reach s + kw - 1 */
    *ph = (p->oh - 1) * p->sh + p->kh;
    /* the last pair starts at column (ow4 - 2) * s; rows whole words apart */
    *pw = ((ow4 - 2) * p->sw + 4 * *nt + 3) & ~3;
}

#define QCC_DWD_ROW 32 /* s + 4 * nt <= QCC_DWD_ROW: the zero-extended kernel row */

/* The table of one output channel (two offsets, four weight pair words per entry); returns sum(w).
 * Each kernel row is first copied into wz (zeroed by the caller; index v + s for tap v, the
 * rest stays 0), so the pair words are packed without bounds tests. */
static inline int32_t qcc_dwd_table(const qcc_conv2d_p *p, const int8_t *wk, int32_t pw, int32_t nt,
                                    int8_t *wz, uint32_t *tab)
{
    const int32_t kw = p->kw, s = p->sw;
    int32_t u, t, v, sum = 0;
    for (u = 0; u < p->kh; u++) {
        const int8_t *wr = wk + u * kw;
        for (v = 0; v < kw; v++) {
            wz[s + v] = wr[v];
            sum += wr[v];
        }
        for (t = 0; t < nt; t++, tab += 6) {
            const int8_t *z = wz + s + 4 * t;  /* z[d]: tap 4t + d */
            tab[0] = (uint32_t)(u * pw + 4 * t);
            tab[1] = tab[0] + (uint32_t)(2 * s);  /* the word of outputs j + 2, j + 3 */
            tab[2] = (uint32_t)(uint16_t)z[0] | ((uint32_t)(uint16_t)z[2] << 16);
            tab[3] = (uint32_t)(uint16_t)z[1] | ((uint32_t)(uint16_t)z[3] << 16);
            tab[4] = (uint32_t)(uint16_t)z[-s] | ((uint32_t)(uint16_t)z[2 - s] << 16);
            tab[5] = (uint32_t)(uint16_t)z[1 - s] | ((uint32_t)(uint16_t)z[3 - s] << 16);
        }
    }
    return sum;
}

/* Copies input plane xin into the interior of the padded plane (its border keeps the zero
 * point written once per call): n bytes per row from column c0, word by word (unaligned
 * LDR / STR; a row's last word ends at its end, overlapping the word before when n is not a
 * multiple of four; rows of at most 8 bytes as two words; everything in locals: the int8
 * stores may alias *p). */
__attribute__((noinline, unused)) static void qcc_dwd_rows(const int8_t *s, int32_t sw, int8_t *d,
                                                           int32_t dw, int32_t rows, int32_t n)
{
    const int32_t n4 = n & ~3;
    int32_t r, t;
    if ((((uintptr_t)s | (uintptr_t)d | (uintptr_t)sw | (uintptr_t)dw) & 3) == 0 && n == n4) {
#define QCC_DWD_ROWS_N(N)                                                                      \
    for (r = 0; r < rows; r++, s += sw, d += dw)                                               \
        memcpy(__builtin_assume_aligned(d, 4), __builtin_assume_aligned(s, 4), N);             \
    return
        if (n == 4) {  /* small planes: one LDR / LDRD / LDM and its store per row */
            QCC_DWD_ROWS_N(4);
        } else if (n == 8) {
            QCC_DWD_ROWS_N(8);
        } else if (n == 16) {
            QCC_DWD_ROWS_N(16);
        }
#undef QCC_DWD_ROWS_N
        for (r = 0; r < rows; r++, s += sw, d += dw) {  /* aligned rows: LDM / STM */
            const int8_t *sa = (const int8_t *)__builtin_assume_aligned(s, 4);
            int8_t *da = (int8_t *)__builtin_assume_aligned(d, 4);
            for (t = 0; t + 16 <= n; t += 16)
                memcpy(da + t, sa + t, 16);
            for (; t < n; t += 4)
                memcpy(da + t, sa + t, 4);
        }
        return;
    }
    if (n < 4) {
        for (r = 0; r < rows; r++, s += sw, d += dw)
            for (t = 0; t < n; t++)
                d[t] = s[t];
        return;
    }
    if (n <= 8) {  /* narrow rows: two words, the second ending at the row's end */
        const int32_t k = n - 4;
        for (r = 0; r < rows; r++, s += sw, d += dw) {
            const uint32_t v0 = qcc_ld32(s), v1 = qcc_ld32(s + k);
            memcpy(d, &v0, sizeof v0);
            memcpy(d + k, &v1, sizeof v1);
        }
        return;
    }
    for (r = 0; r < rows; r++, s += sw, d += dw) {
        for (t = 0; t + 16 <= n4; t += 16) {
            const uint32_t v0 = qcc_ld32(s + t), v1 = qcc_ld32(s + t + 4);
            const uint32_t v2 = qcc_ld32(s + t + 8), v3 = qcc_ld32(s + t + 12);
            memcpy(d + t, &v0, sizeof v0);
            memcpy(d + t + 4, &v1, sizeof v1);
            memcpy(d + t + 8, &v2, sizeof v2);
            memcpy(d + t + 12, &v3, sizeof v3);
        }
        for (; t < n4; t += 4) {
            const uint32_t v = qcc_ld32(s + t);
            memcpy(d + t, &v, sizeof v);
        }
        if (t < n) {  /* the last word ends at the row's end (overlapping bytes rewritten) */
            const uint32_t v = qcc_ld32(s + n - 4);
            memcpy(d + n - 4, &v, sizeof v);
        }
    }
}

/* Where the fill copies, the same for every channel of a call: rows of n bytes from input
 * offset soff into padded-plane offset doff (rows == 0: nothing, the plane is all padding). */
typedef struct {
    size_t soff, doff;
    int32_t rows, n;
} qcc_dwf;

static inline void qcc_dwd_fill_geom(const qcc_conv2d_p *p, int32_t ph, int32_t pw, qcc_dwf *f)
{
    const int32_t c0 = p->pl > 0 ? p->pl : 0, c1 = p->pl + p->w < pw ? p->pl + p->w : pw;
    const int32_t r0 = p->pt > 0 ? p->pt : 0, r1 = p->pt + p->h < ph ? p->pt + p->h : ph;
    f->rows = c1 <= c0 || r1 <= r0 ? 0 : r1 - r0, f->n = c1 - c0;
    f->soff = f->rows ? (size_t)(r0 - p->pt) * p->w + (c0 - p->pl) : 0;
    f->doff = f->rows ? (size_t)r0 * pw + c0 : 0;
}

static inline void qcc_dwd_fill(const qcc_conv2d_p *p, const int8_t *xin, int32_t ph, int32_t pw,
                                int8_t *pad)
{
    qcc_dwf f;
    qcc_dwd_fill_geom(p, ph, pw, &f);
    if (f.rows)
        qcc_dwd_rows(xin + f.soff, p->w, pad + f.doff, pw, f.rows, f.n);
}

/* acc[0..3] += the four outputs j..j+3 of one output row over n table entries: per entry two
 * LDRDs and an LDR of the table, two input words (at xa + offsets), four SXTB16, eight SMLAD
 * (19 instructions per entry with the loop; gcc's C form took 23 and spilled around it). */
static inline void qcc_dwd_taps(const int8_t *xa, const uint32_t *tab, const uint32_t *tend,
                                int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    uint32_t oa, ob, t, w0, w1, w2, w3;
    __asm__ volatile(
        "1:\n\t"
        "ldrd %[oa], %[ob], [%[tab]], #24\n\t"
        "ldrd %[w0], %[w1], [%[tab], #-16]\n\t"
        "ldrd %[w2], %[w3], [%[tab], #-8]\n\t"
        "ldr %[oa], [%[xa], %[oa]]\n\t"
        "ldr %[ob], [%[xa], %[ob]]\n\t"
        "sxtb16 %[t], %[oa]\n\t"
        "sxtb16 %[oa], %[oa], ror #8\n\t"
        "smlad %[a0], %[t], %[w0], %[a0]\n\t"
        "smlad %[a0], %[oa], %[w1], %[a0]\n\t"
        "smlad %[a1], %[t], %[w2], %[a1]\n\t"
        "smlad %[a1], %[oa], %[w3], %[a1]\n\t"
        "sxtb16 %[t], %[ob]\n\t"
        "sxtb16 %[ob], %[ob], ror #8\n\t"
        "smlad %[a2], %[t], %[w0], %[a2]\n\t"
        "smlad %[a2], %[ob], %[w1], %[a2]\n\t"
        "smlad %[a3], %[t], %[w2], %[a3]\n\t"
        "smlad %[a3], %[ob], %[w3], %[a3]\n\t"
        "cmp %[tab], %[tend]\n\t"
        "bne 1b"
        : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [tab] "+r"(tab),
          [oa] "=&r"(oa), [ob] "=&r"(ob), [t] "=&r"(t), [w0] "=&r"(w0), [w1] "=&r"(w1),
          [w2] "=&r"(w2), [w3] "=&r"(w3)
        : [xa] "r"(xa), [tend] "r"(tend)
        : "cc", "memory");
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

/* One output channel: y[i, j] for the whole plane from the padded plane; n >= 1 table
 * entries. fast: the SMMLA requantization (rq->sh > 0; else qcc_rqf_i8, whose other shifts
 * take qcc_requant32), narrow: the clamp (both compiled in or out). The 3x3 and 5x5 kernels
 * with equal strides 1 or 2 take conv2d_dws_dsp.c. */
__attribute__((always_inline)) static inline void
qcc_dwd_plane_k(const qcc_conv2d_p *p, const int8_t *pad, int32_t pw, int32_t n,
                const uint32_t *tab, int32_t init, const qcc_rqf *rq, int8_t *restrict y,
                const int fast, const int narrow)
{
    const int32_t ow = p->ow, oh = p->oh, rstep = p->sh * pw, sw4 = 4 * p->sw;
    const int32_t zp = p->y_zp, lo = p->lo, hi = p->hi, m = rq->m, c = rq->c, sh = rq->sh;
    const uint32_t *tend = tab + 6 * n;
    int32_t i, j, d, acc[4];
#define QCC_DWD_OUT(a, out)                                                                    \
    do {                                                                                       \
        if (fast)                                                                              \
            QCC_RQF_FAST(a, m, c, sh, narrow, lo, hi, out);                                    \
        else                                                                                   \
            (out) = (int8_t)qcc_rqf_i8(a, rq, zp, lo, hi, narrow);                             \
    } while (0)
    for (i = 0; i < oh; i++) {
        const int8_t *xa = pad + (size_t)i * rstep;
        int8_t *yr = y + (size_t)i * ow;
        for (j = 0; j + 4 <= ow; j += 4, xa += sw4) {
            acc[0] = acc[1] = acc[2] = acc[3] = init;
            qcc_dwd_taps(xa, tab, tend, acc);
            QCC_DWD_OUT(acc[0], yr[j]);
            QCC_DWD_OUT(acc[1], yr[j + 1]);
            QCC_DWD_OUT(acc[2], yr[j + 2]);
            QCC_DWD_OUT(acc[3], yr[j + 3]);
        }
        if (j < ow) {
            acc[0] = acc[1] = acc[2] = acc[3] = init;
            qcc_dwd_taps(xa, tab, tend, acc);
            for (d = 0; j + d < ow; d++)
                QCC_DWD_OUT(acc[d], yr[j + d]);
        }
    }
#undef QCC_DWD_OUT
}

/* One call's state, shared by the table kernel and the forms of conv2d_dws_dsp.c. */
typedef struct {
    const qcc_conv2d_p *p;
    const int8_t *x, *w;
    const int32_t *bias, *mult, *shift;
    int8_t *y, *pad, *wz;   /* wz: the zero-extended kernel row (QCC_DWD_ROW bytes) */
    uint32_t *tab;
    int32_t ph, pw, nt;
} qcc_dwd_job;

/* Output channel oc by the table kernel, its input channel's plane filled. */
__attribute__((noinline, unused)) static void qcc_dwd_chan(const qcc_dwd_job *j, int32_t oc,
                                                           const qcc_rqf *rq, int8_t *yo)
{
    const qcc_conv2d_p *p = j->p;
    const qcc_rqf r = *rq;  /* a local: the int8 stores may alias *rq */
    const int32_t sum = qcc_dwd_table(p, j->w + (size_t)oc * p->kh * p->kw, j->pw, j->nt, j->wz,
                                      j->tab);
    const int32_t init = (j->bias ? j->bias[oc] : 0) - p->x_zp * sum, n = p->kh * j->nt;
    const int narrow = p->lo > -128 || p->hi < 127;
    if (r.sh == 0)
        qcc_dwd_plane_k(p, j->pad, j->pw, n, j->tab, init, &r, yo, 0, narrow);
    else if (narrow)
        qcc_dwd_plane_k(p, j->pad, j->pw, n, j->tab, init, &r, yo, 1, 1);
    else
        qcc_dwd_plane_k(p, j->pad, j->pw, n, j->tab, init, &r, yo, 1, 0);
}

#ifdef QCC_ARM_GEMM4
/* The forms an image holds (bits: backends/c/dwforms.py; the renderer defines the mask of the
 * forms its model's convs take, all of them by default). */
#ifndef QCC_DW_FORMS
#define QCC_DW_FORMS 0x1ffff
#endif
#define QCC_DWF_Q5 0x700  /* the 5x5 quads */
#define QCC_DWF_Q5S1W 0x100
#define QCC_DWF_Q5S1N 0x200
#define QCC_DWF_Q5S2 0x400
#define QCC_DWF_D22W 0x800  /* the 3x3 2x2 form */
#define QCC_DWF_D22N 0x1000
#define QCC_DWF_R2 0x1e000  /* the 5x5 two-row form */
#define QCC_DWF_R2S1W 0x2000
#define QCC_DWF_R2S1N 0x4000
#define QCC_DWF_R2S2W 0x8000
#define QCC_DWF_R2S2N 0x10000
/* Calls only the forms the image holds: the others are never reached (qcc_dws_have sends
 * their convs to the table kernel), so their functions are left out of the image. */
#define QCC_DWF_DO(bits, call)                                                                 \
    do {                                                                                       \
        if (QCC_DW_FORMS & (bits))                                                             \
            call;                                                                              \
    } while (0)
#define QCC_DWS_CALL(bits, call) ((QCC_DW_FORMS & (bits)) ? (call) : 0)
static inline int qcc_dws_takes(const qcc_conv2d_p *p);  /* conv2d_dws_dsp.c */
static int qcc_dws_conv(const qcc_dwd_job *j);
static int qcc_dws_convq(const qcc_dwd_job *j);
static int qcc_dws_conv22(const qcc_dwd_job *j);
static int qcc_dws_conv5r2(const qcc_dwd_job *j);
static inline int qcc_dw5r2_takes(const qcc_conv2d_p *p);
static inline int qcc_dws_quad(const qcc_conv2d_p *p);
static inline int qcc_dw22_takes(const qcc_conv2d_p *p);
static inline int qcc_dws_have(const qcc_conv2d_p *p);
#endif

QCC_ARM_OUTLINE int qcc_conv2d_dwd(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 int8_t *y, void *scratch)
{
    const int32_t mg = p->m / p->group, plane = p->oh * p->ow;
    int32_t b, o, filled = -1, slow_only = 0;
    /* the plane's interior (column max(pl, 0)) word-aligned: the fill copies aligned rows */
    const uint32_t off = (uint32_t)(0u - ((uintptr_t)scratch + (uintptr_t)(p->pl > 0 ? p->pl : 0))) & 3u;
    int8_t wz[QCC_DWD_ROW];
    qcc_dwd_job j;
    j.p = p, j.x = x, j.w = w, j.bias = bias, j.mult = mult, j.shift = shift, j.y = y;
    j.pad = (int8_t *)scratch + off, j.wz = wz;
    qcc_dwd_dims(p, &j.ph, &j.pw, &j.nt);
    j.tab = (uint32_t *)(void *)((uint8_t *)scratch + (off + (size_t)j.ph * j.pw + 3) / 4 * 4);
    memset(j.pad, (int8_t)p->x_zp, (size_t)j.ph * j.pw);
    memset(wz, 0, sizeof wz);
#ifdef QCC_ARM_GEMM4
    if (qcc_dws_takes(p) && qcc_dws_have(p)) {  /* the weights-in-registers forms */
        if (!(qcc_dw5r2_takes(p) ? QCC_DWS_CALL(QCC_DWF_R2, qcc_dws_conv5r2(&j))
              : qcc_dws_quad(p) ? QCC_DWS_CALL(QCC_DWF_Q5, qcc_dws_convq(&j))
              : qcc_dw22_takes(p) ? QCC_DWS_CALL(QCC_DWF_D22W | QCC_DWF_D22N, qcc_dws_conv22(&j))
              : QCC_DWS_CALL(0xff, qcc_dws_conv(&j))))
            return QCC_OK;
        slow_only = 1;  /* the channels of small shifts are left */
    }
#endif
    for (b = 0; b < p->n; b++)
        for (o = 0; o < p->m; o++) {
            const int32_t c0 = b * p->c + o / mg, ch = p->per_channel ? o : 0;
            qcc_rqf rq;
            qcc_rqf_init(&rq, mult[ch], shift[ch], p->y_zp);
            if (slow_only && rq.sh > 0)
                continue;
            if (c0 != filled)
                qcc_dwd_fill(p, x + (size_t)c0 * p->h * p->w, j.ph, j.pw, j.pad);
            filled = c0;
            qcc_dwd_chan(&j, o, &rq, y + ((size_t)b * p->m + o) * plane);
        }
    return QCC_OK;
}
#endif
