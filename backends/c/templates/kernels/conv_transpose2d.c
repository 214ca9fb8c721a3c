/* The scatter form (phases == NULL): centred inputs scattered into int32 accumulators. */
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

static inline void qcc_convt_store(const qcc_convt_p *p, const int32_t *mult, const int32_t *shift,
                                   int32_t o, void *y, size_t at, int32_t a)
{
    const int32_t ch = p->per_channel ? o : 0;
    if (mult == NULL)
        ((int32_t *)y)[at] = a;
    else
        ((int8_t *)y)[at] = (int8_t)qcc_requant(a, mult[ch], shift[ch], p->y_zp, p->lo, p->hi);
}

static inline int qcc_convt_scattered(const qcc_convt_p *p, const int8_t *x, const int8_t *w,
                                      const int32_t *bias, const int32_t *mult,
                                      const int32_t *shift, void *y, int32_t *acc)
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
        for (o = 0; o < p->m; o++)
            for (q = 0; q < plane; q++)
                qcc_convt_store(p, mult, shift, o, y, ((size_t)b * p->m + o) * plane + q,
                                acc[(size_t)o * plane + q]);
    }
    return QCC_OK;
}

/* Phase outputs ph[o][r][c] (rows x cols, element size es) to y rows r0 + r*sh, columns
 * c0 + c*sw of image b. */
static inline void qcc_convt_interleave(const qcc_convt_p *p, const void *ph, int32_t r0, int32_t c0,
                                        int32_t rows, int32_t cols, size_t es, int32_t b, void *y)
{
    int32_t o, r, c;
    for (o = 0; o < p->m; o++)
        for (r = 0; r < rows; r++) {
            const size_t src = ((size_t)o * rows + r) * cols;
            const size_t dst = (((size_t)b * p->m + o) * p->oh + r0 + (size_t)r * p->sh) * p->ow + c0;
            if (es == 1) {
                const int8_t *restrict s8 = (const int8_t *)ph + src;
                int8_t *restrict d8 = (int8_t *)y + dst;
                if (p->sw == 2)
                    for (c = 0; c < cols; c++)
                        d8[2 * c] = s8[c];
                else
                    for (c = 0; c < cols; c++)
                        d8[(size_t)c * p->sw] = s8[c];
            } else {
                const int32_t *restrict s32 = (const int32_t *)ph + src;
                int32_t *restrict d32 = (int32_t *)y + dst;
                for (c = 0; c < cols; c++)
                    d32[(size_t)c * p->sw] = s32[c];
            }
        }
}

/* A phase without taps (kernel shorter than the stride, or dilated past it): the bias. */
static inline void qcc_convt_bias_phase(const qcc_convt_p *p, const int32_t *bias,
                                        const int32_t *mult, const int32_t *shift, int32_t r0,
                                        int32_t c0, int32_t rows, int32_t cols, int32_t b, void *y)
{
    int32_t o, r, c;
    for (o = 0; o < p->m; o++)
        for (r = 0; r < rows; r++)
            for (c = 0; c < cols; c++)
                qcc_convt_store(p, mult, shift, o, y,
                                (((size_t)b * p->m + o) * p->oh + r0 + (size_t)r * p->sh) * p->ow
                                + c0 + (size_t)c * p->sw, bias ? bias[o] : 0);
}

/* Phase t (a row of the phase table) of one image as a stride-1 conv2d into out. */
static inline void qcc_convt_phase(const qcc_convt_p *p, const int32_t *t, const int8_t *x,
                                   const int8_t *w, const int32_t *bias, const int32_t *mult,
                                   const int32_t *shift, void *out, void *scratch)
{
    const qcc_conv2d_p cp = {
        .n = 1, .c = p->c, .h = p->h, .w = p->w, .m = p->m, .oh = t[2], .ow = t[3],
        .kh = t[4], .kw = t[5], .sh = 1, .sw = 1, .dh = t[6], .dw = t[7], .pt = t[8], .pl = t[9],
        .group = p->group, .x_zp = p->x_zp, .y_zp = p->y_zp, .lo = p->lo, .hi = p->hi,
        .per_channel = p->per_channel, .pb = t[10], .y_dt = mult == NULL ? QCC_I32 : QCC_I8,
        .gsize = 0, .gshift = 0, .ng = 0, .wbits = 8};
    qcc_conv2d(&cp, x, w + t[11], bias, mult, shift, NULL, out, scratch);
}

static inline int qcc_conv_transpose2d(const qcc_convt_p *p, const int8_t *x, const int8_t *w,
                                       const int32_t *bias, const int32_t *mult,
                                       const int32_t *shift, const int32_t *phases, void *y,
                                       void *scratch)
{
    const size_t es = mult == NULL ? sizeof(int32_t) : 1, image = (size_t)p->m * p->oh * p->ow;
    const int direct = p->sh == 1 && p->sw == 1;  /* one phase, all of y */
    int32_t b, f;
    if (phases == NULL)
        return qcc_convt_scattered(p, x, w, bias, mult, shift, y, (int32_t *)scratch);
    for (b = 0; b < p->n; b++)
        for (f = 0; f < p->nph; f++) {
            const int32_t *t = phases + (size_t)f * QCC_CONVT_FIELDS;
            const int8_t *xb = x + (size_t)b * p->c * p->h * p->w;
            if (t[2] == 0 || t[3] == 0)
                continue;
            if (t[4] == 0 || t[5] == 0)
                qcc_convt_bias_phase(p, bias, mult, shift, t[0], t[1], t[2], t[3], b, y);
            else if (direct)
                qcc_convt_phase(p, t, xb, w, bias, mult, shift, (char *)y + b * image * es,
                                (char *)scratch + p->buf);
            else {
                qcc_convt_phase(p, t, xb, w, bias, mult, shift, scratch, (char *)scratch + p->buf);
                qcc_convt_interleave(p, scratch, t[0], t[1], t[2], t[3], es, b, y);
            }
        }
    return QCC_OK;
}
