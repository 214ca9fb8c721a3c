static inline int qcc_linear(const qcc_linear_p *p, const int8_t *x, const int8_t *w, const int32_t *bias,
               const int32_t *mult, const int32_t *shift, void *y, int32_t *acc)
{
    const int32_t n = p->n;
    int32_t r, k, j;
    for (r = 0; r < p->rows; r++) {
        const int8_t *xr = x + (size_t)r * p->k;
        for (j = 0; j < n; j++)
            acc[j] = bias ? bias[j] : 0;
        for (k = 0; k < p->k; k++) {
            const int32_t xv = (int32_t)xr[k] - p->x_zp;
            const int8_t *wr = w + (size_t)k * n;
            if (xv == 0)
                continue;
            for (j = 0; j < n; j++)
                acc[j] += xv * wr[j];
        }
        if (mult == NULL) {
            memcpy((int32_t *)y + (size_t)r * n, acc, (size_t)n * sizeof(int32_t));
            continue;
        }
        for (j = 0; j < n; j++) {
            const int32_t ch = p->per_channel ? j : 0;
            ((int8_t *)y)[(size_t)r * n + j] =
                (int8_t)qcc_requant(acc[j], mult[ch], shift[ch], p->y_zp, p->lo, p->hi);
        }
    }
    return QCC_OK;
}
