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
    const int32_t *y0 = ty, *y1 = ty + p->oh, *wy0 = ty + 2 * p->oh, *wy1 = ty + 3 * p->oh;
    const int32_t *x0 = tx, *x1 = tx + p->ow, *wx0 = tx + 2 * p->ow, *wx1 = tx + 3 * p->ow;
    int32_t pl, i, j;
    for (pl = 0; pl < p->planes; pl++) {
        const int8_t *xp = x + (size_t)pl * p->h * p->w;
        int8_t *yp = y + (size_t)pl * p->oh * p->ow;
        for (i = 0; i < p->oh; i++) {
            const int8_t *top = xp + (size_t)y0[i] * p->w, *bot = xp + (size_t)y1[i] * p->w;
            for (j = 0; j < p->ow; j++) {
                const int32_t t = wx0[j] * (top[x0[j]] - p->x_zp) + wx1[j] * (top[x1[j]] - p->x_zp);
                const int32_t b = wx0[j] * (bot[x0[j]] - p->x_zp) + wx1[j] * (bot[x1[j]] - p->x_zp);
                const int64_t acc = (int64_t)wy0[i] * t + (int64_t)wy1[i] * b;
                yp[i * p->ow + j] = (int8_t)qcc_clamp(qcc_rshift_round(acc, 20) + p->x_zp, p->lo, p->hi);
            }
        }
    }
    return QCC_OK;
}
