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

static inline int qcc_maxpool(const qcc_pool_p *p, const int8_t *x, int8_t *y)
{
    int32_t pl, i, j, u, v, u0, u1, v0, v1;
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
        for (k = 0; k < p->size; k++)
            sum += xp[k];
        sum -= p->x_zp * p->size;
        y[pl] = (int8_t)qcc_requant(sum, p->m, p->s, p->y_zp, p->lo, p->hi);
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
