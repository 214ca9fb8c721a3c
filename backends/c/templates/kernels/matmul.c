static inline int qcc_matmul(const qcc_matmul_p *p, const int8_t *a, const int8_t *b, const int32_t *a_off,
               const int32_t *b_off, const int32_t *mult, const int32_t *shift, void *y,
               int32_t *acc)
{
    const int32_t n = p->n;
    int32_t t, i, k, j;
    for (t = 0; t < p->batch; t++) {
        const int8_t *at = a + a_off[t], *bt = b + b_off[t];
        for (i = 0; i < p->m; i++) {
            const size_t row = ((size_t)t * p->m + i) * n;
            for (j = 0; j < n; j++)
                acc[j] = 0;
            for (k = 0; k < p->k; k++) {
                const int32_t av = (int32_t)at[(size_t)i * p->k + k] - p->a_zp;
                const int8_t *br = bt + (size_t)k * n;
                if (av == 0)
                    continue;
                for (j = 0; j < n; j++)
                    acc[j] += av * ((int32_t)br[j] - p->b_zp);
            }
            if (mult == NULL) {
                memcpy((int32_t *)y + row, acc, (size_t)n * sizeof(int32_t));
                continue;
            }
            for (j = 0; j < n; j++)
                ((int8_t *)y)[row + j] =
                    (int8_t)qcc_requant(acc[j], mult[0], shift[0], p->y_zp, p->lo, p->hi);
        }
    }
    return QCC_OK;
}
