static inline void qcc_window(const qcc_pool_p *p, int32_t i, int32_t j, int32_t *u0, int32_t *u1,
                       int32_t *v0, int32_t *v1)
{
    const int32_t top = i * p->sh - p->pt, left = j * p->sw - p->pl;
    *u0 = top < 0 ? -top : 0;
    *u1 = top + p->kh > p->h ? p->h - top : p->kh;
    *v0 = left < 0 ? -left : 0;
    *v1 = left + p->kw > p->w ? p->w - left : p->kw;
}

static inline int qcc_avgpool(const qcc_pool_p *p, const int8_t *x, const int32_t *mult, const int32_t *shift,
                int8_t *y)
{
    int32_t pl, i, j, u, v, u0, u1, v0, v1;
    for (pl = 0; pl < p->n * p->c; pl++) {
        const int8_t *xp = x + (size_t)pl * p->h * p->w;
        int8_t *yp = y + (size_t)pl * p->oh * p->ow;
        for (i = 0; i < p->oh; i++)
            for (j = 0; j < p->ow; j++) {
                int32_t sum = 0, cnt;
                qcc_window(p, i, j, &u0, &u1, &v0, &v1);
                for (u = u0; u < u1; u++)
                    for (v = v0; v < v1; v++)
                        sum += (int32_t)xp[(size_t)(i * p->sh - p->pt + u) * p->w
                                           + (j * p->sw - p->pl + v)] - p->x_zp;
                cnt = p->include_pad ? p->kh * p->kw : (u1 - u0) * (v1 - v0);
                yp[i * p->ow + j] = (int8_t)qcc_requant(sum, mult[cnt - 1], shift[cnt - 1],
                                                        p->y_zp, p->lo, p->hi);
            }
    }
    return QCC_OK;
}

#if defined(QCC_TYPED_ROWS)
/* Host builds: each output row's window rows reduced to one column-max row (a vector loop),
 * then the windows along it; parameters in locals.  max is max in any order: the same bytes
 * (an empty window, as in the loop below, gives -128). */
#define QCC_POOL_ROW 4096  /* input rows up to this wide; 4 KiB of stack */
static inline void qcc_maxpool_rows(const qcc_pool_p *p, const int8_t *x, int8_t *y)
{
    const int32_t planes = p->n * p->c, h = p->h, w = p->w, oh = p->oh, ow = p->ow;
    const int32_t kh = p->kh, kw = p->kw, sh = p->sh, sw = p->sw, pt = p->pt, pleft = p->pl;
    int8_t col[QCC_POOL_ROW];
    int32_t q, i, j, k, u;
    for (q = 0; q < planes; q++) {
        const int8_t *xp = x + (size_t)q * h * w;
        int8_t *yp = y + (size_t)q * oh * ow;
        for (i = 0; i < oh; i++) {
            const int32_t top = i * sh - pt;
            const int32_t u0 = top < 0 ? -top : 0, u1 = top + kh > h ? h - top : kh;
            int8_t *yr = yp + (size_t)i * ow;
            if (u1 <= u0) {
                for (j = 0; j < ow; j++)
                    yr[j] = -128;
                continue;
            }
            memcpy(col, xp + (size_t)(top + u0) * w, (size_t)w);
            for (u = u0 + 1; u < u1; u++) {
                const int8_t *r = xp + (size_t)(top + u) * w;
                for (k = 0; k < w; k++)
                    col[k] = r[k] > col[k] ? r[k] : col[k];
            }
            for (j = 0; j < ow; j++) {
                const int32_t left = j * sw - pleft;
                const int32_t v0 = left < 0 ? -left : 0, v1 = left + kw > w ? w - left : kw;
                int32_t best = -128, v;
                for (v = v0; v < v1; v++)
                    best = col[left + v] > best ? col[left + v] : best;
                yr[j] = (int8_t)best;
            }
        }
    }
}
#endif

#if defined(QCC_ARM_DSP) && !defined(QCC_TYPED_ROWS)
/* Arm DSP (Cortex-M4/M7/M33/M55): signed bytewise max of two words, SSUB8 setting the GE flag
 * of each byte where a >= b and SEL taking those bytes of a, the others of b. */
static inline uint32_t qcc_smax8(uint32_t a, uint32_t b)
{
    uint32_t r;
    __asm__("ssub8 %0, %1, %2\n\tsel %0, %1, %2" : "=&r"(r) : "r"(a), "r"(b) : "cc");
    return r;
}

/* n max-pool windows of kw <= 4 taps per row and kh rows, lying inside the input, the first's
 * top-left tap at r, the next sw bytes on: per kernel row the word at the window's left
 * (unaligned LDR), the rows' words reduced bytewise, then byte 0 with bytes 1 .. kw - 1 by
 * shifted copies, m = max(v, v >> s1), max(m, m >> s2) (s1 = 8, s2 = 0 / 8 / 16 for kw = 2 / 3 / 4,
 * both 0 for kw = 1; bytes past kw never reach byte 0).  Kernels of 2 and 3 rows unrolled; with
 * stride 2, kw <= 2 and kh <= 2 two windows per word (bytes 0 and 2 of m), an odd last one alone. */
QCC_ARM_OUTLINE void qcc_maxpool_run4(const int8_t *r, int32_t w, int32_t kh, int32_t kw,
                                      int32_t sw, int8_t *y, int32_t n)
{
    const uint32_t s1 = kw >= 2 ? 8u : 0u, s2 = kw >= 3 ? 8u * (uint32_t)(kw - 2) : 0u;
    int8_t *const end = y + n;
    uint32_t v, m;
    int32_t u;
    if (sw == 2 && kw <= 2 && kh <= 2) {   /* two windows per word: bytes 0-1 and 2-3 */
        for (; y + 1 < end; y += 2, r += 4) {
            v = kh == 2 ? qcc_smax8(qcc_ld32(r), qcc_ld32(r + w)) : qcc_ld32(r);
            m = qcc_smax8(v, v >> s1);
            y[0] = (int8_t)m;
            y[1] = (int8_t)(m >> 16);
        }
    }
    if (kh == 3) {
        const int32_t w2 = 2 * w;
        for (; y < end; y++, r += sw) {
            v = qcc_smax8(qcc_smax8(qcc_ld32(r), qcc_ld32(r + w)), qcc_ld32(r + w2));
            m = qcc_smax8(v, v >> s1);
            *y = (int8_t)qcc_smax8(m, m >> s2);
        }
    } else if (kh == 2) {
        for (; y < end; y++, r += sw) {
            v = qcc_smax8(qcc_ld32(r), qcc_ld32(r + w));
            m = qcc_smax8(v, v >> s1);
            *y = (int8_t)qcc_smax8(m, m >> s2);
        }
    } else {
        for (; y < end; y++, r += sw) {
            const int8_t *q = r;
            v = qcc_ld32(q);
            for (u = 1; u < kh; u++) {
                q += w;
                v = qcc_smax8(v, qcc_ld32(q));
            }
            m = qcc_smax8(v, v >> s1);
            *y = (int8_t)qcc_smax8(m, m >> s2);
        }
    }
}

/* One window clipped to the input: ne = 1 .. 4 columns from column c of the kh rows from r, in rows of
 * w >= 4 bytes: the word at c, or the row's last word when that one would run past the row,
 * per kernel row, reduced bytewise, shifted down to the window's first byte and reduced as in
 * qcc_maxpool_run4. */
static inline int8_t qcc_maxpool_one(const int8_t *r, int32_t w, int32_t kh, int32_t c, int32_t ne)
{
    const int32_t at = c + 4 <= w ? c : w - 4;
    const uint32_t s1 = ne >= 2 ? 8u : 0u, s2 = ne >= 3 ? 8u * (uint32_t)(ne - 2) : 0u;
    uint32_t v = qcc_ld32(r + at), m;
    int32_t u;
    for (u = 1; u < kh; u++)
        v = qcc_smax8(v, qcc_ld32(r + (size_t)u * w + at));
    v >>= 8u * (uint32_t)(c - at);
    m = qcc_smax8(v, v >> s1);
    return (int8_t)qcc_smax8(m, m >> s2);
}

/* Per output row the kernel rows inside the input (u0 .. u1), then the columns whose window
 * starts at 0 or right of it with a whole word readable there (ja .. jb) by qcc_maxpool_run4,
 * the others (padding on the left, the row's end, ceil-mode windows past it) one by one by
 * qcc_maxpool_one; windows with no tap inside give -128.  Taken for kw <= 4 and w >= 4. */
static inline void qcc_maxpool_dsp(const qcc_pool_p *p, const int8_t *x, int8_t *y)
{
    const int32_t h = p->h, w = p->w, oh = p->oh, ow = p->ow, kh = p->kh, kw = p->kw;
    const int32_t sh = p->sh, sw = p->sw, pl = p->pl;
    const int32_t ja0 = (pl + sw - 1) / sw, jb0 = (w - 4 + pl) / sw + 1;
    const int32_t ja = ja0 < ow ? ja0 : ow, jb = jb0 < ow ? jb0 : ow;
    const int32_t jt = ja > jb ? ja : jb;
    int32_t q, i, j;
    for (q = 0; q < p->n * p->c; q++) {
        const int8_t *xp = x + (size_t)q * h * w;
        int8_t *yr = y + (size_t)q * oh * ow;
        for (i = 0; i < oh; i++, yr += ow) {
            const int32_t top = i * sh - p->pt;
            const int32_t u0 = top < 0 ? -top : 0, u1 = top + kh > h ? h - top : kh;
            const int8_t *r;
            if (u1 <= u0) {
                memset(yr, 0x80, (size_t)ow);
                continue;
            }
            r = xp + (size_t)(top + u0) * w;
            if (ja < jb)
                qcc_maxpool_run4(r + (ja * sw - pl), w, u1 - u0, kw, sw, yr + ja, jb - ja);
            for (j = 0; j < ow; j++) {
                int32_t l, a, b;
                if (j == ja)
                    j = jt;   /* ja .. jb done above */
                if (j == ow)
                    break;
                l = j * sw - pl;
                a = l < 0 ? -l : 0;
                b = l + kw > w ? w - l : kw;
                yr[j] = b > a ? qcc_maxpool_one(r, w, u1 - u0, l + a, b - a) : (int8_t)-128;
            }
        }
    }
}
#endif

static inline int qcc_maxpool(const qcc_pool_p *p, const int8_t *x, int8_t *y)
{
    int32_t pl, i, j, u, v, u0, u1, v0, v1;
#if defined(QCC_ARM_DSP) && !defined(QCC_TYPED_ROWS)
    if (p->kw <= 4 && p->w >= 4) {
        qcc_maxpool_dsp(p, x, y);
        return QCC_OK;
    }
#endif
#if defined(QCC_TYPED_ROWS)
    if (p->w <= QCC_POOL_ROW) {
        qcc_maxpool_rows(p, x, y);
        return QCC_OK;
    }
#endif
    for (pl = 0; pl < p->n * p->c; pl++) {
        const int8_t *xp = x + (size_t)pl * p->h * p->w;
        int8_t *yp = y + (size_t)pl * p->oh * p->ow;
        for (i = 0; i < p->oh; i++)
            for (j = 0; j < p->ow; j++) {
                int32_t best = -128;
                qcc_window(p, i, j, &u0, &u1, &v0, &v1);
                for (u = u0; u < u1; u++)
                    for (v = v0; v < v1; v++) {
                        const int32_t xv = xp[(size_t)(i * p->sh - p->pt + u) * p->w
                                              + (j * p->sw - p->pl + v)];
                        best = xv > best ? xv : best;
                    }
                yp[i * p->ow + j] = (int8_t)best;
            }
    }
    return QCC_OK;
}

#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
#define QCC_GAP_CHUNK 256 /* planes whose sums are requantized together */
/* x86 (2026-12-06, round "Small planes"): each plane's sum of x + 128 by PSADBW of 16 bytes
 * (x ^ 0x80) against zero, minus 128 per byte, then the (size * 255 < 2^31) sums of up to 256
 * planes requantized together by the conv epilogue's vector loop (qcc_requant_i8_u64; the
 * scalar qcc_requant_i8_row when it declines), the same integers as the loop below; the
 * plane-by-plane loop with a requantization per plane cost about 6 ns a plane of 16 bytes. */
static inline int qcc_global_avgpool_x86(const qcc_gap_p *p, const int8_t *x, int8_t *y)
{
    const __m128i flip = _mm_set1_epi8((char)0x80), zero = _mm_setzero_si128();
    const int32_t n16 = p->size & ~15;
    int32_t sums[QCC_GAP_CHUNK], pl, c0, k;
    if (p->size > (1 << 22))
        return 0;
    for (c0 = 0; c0 < p->planes; c0 += QCC_GAP_CHUNK) {
        const int32_t np = p->planes - c0 < QCC_GAP_CHUNK ? p->planes - c0 : QCC_GAP_CHUNK;
        for (pl = 0; pl < np; pl++) {
            const int8_t *xp = x + (size_t)(c0 + pl) * p->size;
            __m128i u = zero;
            int32_t sum;
            for (k = 0; k < n16; k += 16)
                u = _mm_add_epi64(u, _mm_sad_epu8(_mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)(xp + k)), flip), zero));
            sum = _mm_cvtsi128_si32(u) + _mm_cvtsi128_si32(_mm_unpackhi_epi64(u, u)) - 128 * n16;
            for (; k < p->size; k++)
                sum += xp[k];
            sums[pl] = sum - p->x_zp * p->size;
        }
        if (!qcc_requant_i8_u64(sums, np, p->m, p->s, p->y_zp, p->lo, p->hi, y + c0))
            qcc_requant_i8_row(sums, np, p->m, p->s, p->y_zp, p->lo, p->hi, y + c0);
    }
    return 1;
}
#endif

static inline int qcc_global_avgpool(const qcc_gap_p *p, const int8_t *x, int8_t *y)
{
    int32_t pl, k;
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
    if (qcc_global_avgpool_x86(p, x, y))
        return QCC_OK;
#endif
    for (pl = 0; pl < p->planes; pl++) {
        const int8_t *xp = x + (size_t)pl * p->size;
        int32_t sum = 0;
        k = 0;
#ifdef QCC_ARM_DSP
        {  /* four bytes per USADA8: sum |(x ^ 0x80) - 0| = sum (x + 128) over the word */
            const int32_t n4 = p->size & ~3;
            uint32_t u = 0;
            for (; k < n4; k += 4)
                u = __usada8(qcc_ld32(xp + k) ^ 0x80808080u, 0u, u);
            sum = (int32_t)(u - 128u * (uint32_t)n4);
        }
#endif
        for (; k < p->size; k++)
            sum += xp[k];
        sum -= p->x_zp * p->size;
#ifdef QCC_ARM_DSP
        y[pl] = (int8_t)qcc_requant32(sum, p->m, p->s, p->y_zp, p->lo, p->hi);
#else
        y[pl] = (int8_t)qcc_requant(sum, p->m, p->s, p->y_zp, p->lo, p->hi);
#endif
    }
    return QCC_OK;
}

/* acc_bits = 64 (docs/arithmetic.md 5.1): the same window sums in int64; mult was narrowed
 * so that sum * mult fits int64. */
static inline int qcc_avgpool64(const qcc_pool_p *p, const int8_t *x, const int32_t *mult,
                                const int32_t *shift, int8_t *y)
{
    int32_t pl, i, j, u, v, u0, u1, v0, v1;
    for (pl = 0; pl < p->n * p->c; pl++) {
        const int8_t *xp = x + (size_t)pl * p->h * p->w;
        int8_t *yp = y + (size_t)pl * p->oh * p->ow;
        for (i = 0; i < p->oh; i++)
            for (j = 0; j < p->ow; j++) {
                int64_t sum = 0;
                int32_t cnt;
                qcc_window(p, i, j, &u0, &u1, &v0, &v1);
                for (u = u0; u < u1; u++)
                    for (v = v0; v < v1; v++)
                        sum += (int32_t)xp[(size_t)(i * p->sh - p->pt + u) * p->w
                                           + (j * p->sw - p->pl + v)] - p->x_zp;
                cnt = p->include_pad ? p->kh * p->kw : (u1 - u0) * (v1 - v0);
                yp[i * p->ow + j] = (int8_t)qcc_requant(sum, mult[cnt - 1], shift[cnt - 1],
                                                        p->y_zp, p->lo, p->hi);
            }
    }
    return QCC_OK;
}

static inline int qcc_global_avgpool64(const qcc_gap_p *p, const int8_t *x, int8_t *y)
{
    int32_t pl, k;
    for (pl = 0; pl < p->planes; pl++) {
        const int8_t *xp = x + (size_t)pl * p->size;
        int64_t sum = 0;
        for (k = 0; k < p->size; k++)
            sum += xp[k];
        sum -= (int64_t)p->x_zp * p->size;
        y[pl] = (int8_t)qcc_requant(sum, p->m, p->s, p->y_zp, p->lo, p->hi);
    }
    return QCC_OK;
}
