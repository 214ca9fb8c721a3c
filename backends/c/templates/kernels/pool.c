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

/* One max-pool window of kw <= 4 taps per row lying inside the input: per kernel row the word at
 * the window's left (unaligned LDR), the rows' words reduced bytewise, then byte 0 of the
 * word is reduced with bytes 1 .. kw - 1 by shifted copies (bytes past kw never reach byte 0). */
static inline int8_t qcc_maxpool_win4(const int8_t *r, int32_t w, int32_t kh, int32_t kw)
{
    uint32_t v = qcc_ld32(r), m;
    int32_t u;
    for (u = 1; u < kh; u++)
        v = qcc_smax8(v, qcc_ld32(r + (size_t)u * w));
    if (kw == 1)
        return (int8_t)v;
    m = qcc_smax8(v, v >> 8);                       /* byte 0: max(b0, b1) */
    if (kw == 3)
        m = qcc_smax8(m, v >> 16);                  /* max(b0, b1, b2) */
    else if (kw == 4)
        m = qcc_smax8(m, m >> 16);                  /* max(b0, b1, b2, b3) */
    return (int8_t)m;
}

/* The windows that lie inside the input (all kernel rows, the left tap at 0 or right of it
 * and a whole word readable from there) by qcc_maxpool_win4; the rest, at the borders and
 * past the input's end (ceil mode), by the window loop.  Taken for kw <= 4 and w >= 4. */
static inline void qcc_maxpool_dsp(const qcc_pool_p *p, const int8_t *x, int8_t *y)
{
    const int32_t h = p->h, w = p->w, oh = p->oh, ow = p->ow, kh = p->kh, kw = p->kw;
    const int32_t sh = p->sh, sw = p->sw;
    /* output columns whose window starts at 0 or right of it and ends its word inside the row */
    const int32_t ja = (p->pl + sw - 1) / sw, jb0 = (w - 4 + p->pl) / sw + 1;
    const int32_t jb = jb0 < ow ? jb0 : ow;
    int32_t pl, i, j, u, v, u0, u1, v0, v1;
    for (pl = 0; pl < p->n * p->c; pl++) {
        const int8_t *xp = x + (size_t)pl * h * w;
        int8_t *yp = y + (size_t)pl * oh * ow;
        for (i = 0; i < oh; i++) {
            const int32_t top = i * sh - p->pt;
            const int inside = top >= 0 && top + kh <= h;
            int8_t *yr = yp + (size_t)i * ow;
            for (j = 0; j < ow; j++) {
                int32_t best = -128;
                if (inside && j == ja && ja < jb) {
                    const int8_t *r = xp + (size_t)top * w + (j * sw - p->pl);
                    for (; j < jb; j++, r += sw)
                        yr[j] = qcc_maxpool_win4(r, w, kh, kw);
                    if (j == ow)
                        break;
                }
                qcc_window(p, i, j, &u0, &u1, &v0, &v1);
                for (u = u0; u < u1; u++)
                    for (v = v0; v < v1; v++) {
                        const int32_t xv = xp[(size_t)(top + u) * w + (j * sw - p->pl + v)];
                        best = xv > best ? xv : best;
                    }
                yr[j] = (int8_t)best;
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

static inline int qcc_global_avgpool(const qcc_gap_p *p, const int8_t *x, int8_t *y)
{
    int32_t pl, k;
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
