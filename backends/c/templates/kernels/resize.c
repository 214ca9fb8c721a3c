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

/* ty/tx hold 4 rows each: i0[n], i1[n], w0[n], w1[n]. */
static inline int qcc_resize_linear(const qcc_resize_p *p, const int8_t *x, const int32_t *ty,
                      const int32_t *tx, int8_t *y)
{
    /* the parameters in locals: an int8 store may alias *p (see qcc_concat_part) */
    const int32_t oh = p->oh, ow = p->ow, h = p->h, w = p->w, zp = p->x_zp, lo = p->lo, hi = p->hi;
    const int32_t *y0 = ty, *y1 = ty + oh, *wy0 = ty + 2 * oh, *wy1 = ty + 3 * oh;
    const int32_t *x0 = tx, *x1 = tx + ow, *wx0 = tx + 2 * ow, *wx1 = tx + 3 * ow;
    int32_t pl, i, j;
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
