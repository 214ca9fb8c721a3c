static inline int qcc_resize_nearest(const qcc_resize_p *p, const int8_t *x, const int32_t *iy,
                       const int32_t *ix, int8_t *y)
{
    int32_t pl, i, j;
    for (pl = 0; pl < p->planes; pl++) {
        const int8_t *xp = x + (size_t)pl * p->h * p->w;
        int8_t *yp = y + (size_t)pl * p->oh * p->ow;
        for (i = 0; i < p->oh; i++) {
            const int8_t *row = xp + (size_t)iy[i] * p->w;
            for (j = 0; j < p->ow; j++)
                yp[i * p->ow + j] = row[ix[j]];
        }
    }
    return QCC_OK;
}

/* ty/tx hold 4 rows each: i0[n], i1[n], w0[n], w1[n].  Every weight is in [0, 1024] and each
 * pair sums to 1024 (linear_table), so |sum w_y w_x (x - zp)| <= 2^20 * 255 < 2^28: int32 is
 * exact. */
#if defined(QCC_TYPED_ROWS)
/* Host builds: each source row's horizontal taps once into an int32 row (two rows cached),
 * then each output row is one vector loop over two of them: the same sum, in another order. */
#define QCC_RESIZE_ROW 512  /* output rows up to this wide; 4 KiB of stack */
static inline void qcc_resize_hrow(const int8_t *row, const int32_t *x0, const int32_t *x1,
                                   const int32_t *wx0, const int32_t *wx1, int32_t ow, int32_t zp,
                                   int32_t *hr)
{
    int32_t j;
    for (j = 0; j < ow; j++)
        hr[j] = wx0[j] * (row[x0[j]] - zp) + wx1[j] * (row[x1[j]] - zp);
}

static inline void qcc_resize_linear_rows(const qcc_resize_p *p, const int8_t *x, const int32_t *ty,
                                          const int32_t *tx, int8_t *y)
{
    const int32_t oh = p->oh, ow = p->ow, h = p->h, w = p->w, zp = p->x_zp, lo = p->lo, hi = p->hi;
    const int32_t *y0 = ty, *y1 = ty + oh, *wy0 = ty + 2 * oh, *wy1 = ty + 3 * oh;
    const int32_t *x0 = tx, *x1 = tx + ow, *wx0 = tx + 2 * ow, *wx1 = tx + 3 * ow;
    int32_t hbuf[2][QCC_RESIZE_ROW];
    int32_t pl, i, j;
    for (pl = 0; pl < p->planes; pl++) {
        const int8_t *xp = x + (size_t)pl * h * w;
        int8_t *yp = y + (size_t)pl * oh * ow;
        int32_t have[2] = {-1, -1};  /* the source row in each buffer */
        for (i = 0; i < oh; i++) {
            const int32_t t = y0[i], u = y1[i], a = wy0[i], b = wy1[i];
            const int32_t *ht, *hu;
            int8_t *yr = yp + (size_t)i * ow;
            int32_t sl;
            if (have[0] != t && have[1] != t) {
                sl = have[0] == u ? 1 : 0;
                qcc_resize_hrow(xp + (size_t)t * w, x0, x1, wx0, wx1, ow, zp, hbuf[sl]);
                have[sl] = t;
            }
            if (have[0] != u && have[1] != u) {
                sl = have[0] == t ? 1 : 0;
                qcc_resize_hrow(xp + (size_t)u * w, x0, x1, wx0, wx1, ow, zp, hbuf[sl]);
                have[sl] = u;
            }
            ht = hbuf[have[0] == t ? 0 : 1];
            hu = hbuf[have[0] == u ? 0 : 1];
            for (j = 0; j < ow; j++) {
                const int32_t r = ((a * ht[j] + b * hu[j] + (1 << 19)) >> 20) + zp;
                yr[j] = (int8_t)(r < lo ? lo : (r > hi ? hi : r));
            }
        }
    }
}
#endif

static inline int qcc_resize_linear(const qcc_resize_p *p, const int8_t *x, const int32_t *ty,
                      const int32_t *tx, int8_t *y)
{
    /* the parameters in locals: an int8 store may alias *p (see qcc_concat_part) */
    const int32_t oh = p->oh, ow = p->ow, h = p->h, w = p->w, zp = p->x_zp, lo = p->lo, hi = p->hi;
    const int32_t *y0 = ty, *y1 = ty + oh, *wy0 = ty + 2 * oh, *wy1 = ty + 3 * oh;
    const int32_t *x0 = tx, *x1 = tx + ow, *wx0 = tx + 2 * ow, *wx1 = tx + 3 * ow;
    int32_t pl, i, j;
#if defined(QCC_TYPED_ROWS)
    if (ow <= QCC_RESIZE_ROW) {
        qcc_resize_linear_rows(p, x, ty, tx, y);
        return QCC_OK;
    }
#endif
    for (pl = 0; pl < p->planes; pl++) {
        const int8_t *xp = x + (size_t)pl * h * w;
        int8_t *yp = y + (size_t)pl * oh * ow;
        for (i = 0; i < oh; i++) {
            const int8_t *top = xp + (size_t)y0[i] * w, *bot = xp + (size_t)y1[i] * w;
            for (j = 0; j < ow; j++) {
                const int32_t t = wx0[j] * (top[x0[j]] - zp) + wx1[j] * (top[x1[j]] - zp);
                const int32_t b = wx0[j] * (bot[x0[j]] - zp) + wx1[j] * (bot[x1[j]] - zp);
                const int64_t acc = (int64_t)wy0[i] * t + (int64_t)wy1[i] * b;
                yp[i * ow + j] = (int8_t)qcc_clamp(qcc_rshift_round(acc, 20) + zp, lo, hi);
            }
        }
    }
    return QCC_OK;
}
