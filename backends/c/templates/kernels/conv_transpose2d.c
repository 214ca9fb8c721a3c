static inline void qcc_convt_scatter(const qcc_convt_p *p, const int8_t *xc, int32_t wv, int32_t u,
                              int32_t v, int32_t *plane)
{
    int32_t i, j;
    for (i = 0; i < p->h; i++) {
        const int32_t oy = i * p->sh + u * p->dh - p->pt;
        if (oy < 0 || oy >= p->oh)
            continue;
        for (j = 0; j < p->w; j++) {
            const int32_t ox = j * p->sw + v * p->dw - p->pl;
            if (ox >= 0 && ox < p->ow)
                plane[oy * p->ow + ox] += wv * ((int32_t)xc[i * p->w + j] - p->x_zp);
        }
    }
}

static inline int qcc_conv_transpose2d(const qcc_convt_p *p, const int8_t *x, const int8_t *w,
                         const int32_t *bias, const int32_t *mult, const int32_t *shift,
                         void *y, int32_t *acc)
{
    const int32_t cg = p->c / p->group, mg = p->m / p->group, plane = p->oh * p->ow;
    const int32_t taps = p->kh * p->kw;
    int32_t b, o, c, u, v, q;
    for (b = 0; b < p->n; b++) {
        for (o = 0; o < p->m; o++)
            for (q = 0; q < plane; q++)
                acc[(size_t)o * plane + q] = bias ? bias[o] : 0;
        for (c = 0; c < p->c; c++) {
            const int8_t *xc = x + ((size_t)b * p->c + c) * p->h * p->w;
            const int32_t g = c / cg;
            for (o = 0; o < mg; o++) {
                const int8_t *wk = w + ((size_t)c * mg + o) * taps;
                for (u = 0; u < p->kh; u++)
                    for (v = 0; v < p->kw; v++)
                        if (wk[u * p->kw + v] != 0)
                            qcc_convt_scatter(p, xc, wk[u * p->kw + v], u, v,
                                              acc + (size_t)(g * mg + o) * plane);
            }
        }
        for (o = 0; o < p->m; o++) {
            const size_t base = ((size_t)b * p->m + o) * plane;
            const int32_t ch = p->per_channel ? o : 0;
            for (q = 0; q < plane; q++) {
                const int32_t a = acc[(size_t)o * plane + q];
                if (mult == NULL)
                    ((int32_t *)y)[base + q] = a;
                else
                    ((int8_t *)y)[base + q] = (int8_t)qcc_requant(a, mult[ch], shift[ch], p->y_zp, p->lo, p->hi);
            }
        }
    }
    return QCC_OK;
}
