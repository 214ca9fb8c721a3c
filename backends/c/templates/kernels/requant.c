{% include "kernels/requant_dsp.c" %}

#ifdef QCC_SIMD
/* int8 -> int8 on the host SIMD builds: x - x_zp widened into int32 chunks (read before y is
 * written: in place is safe), then the conv epilogue's vector requantization
 * (qcc_requant_i8_u64: SSE2 on x86). 0: not taken (its range checks failed; nothing written). */
static inline int qcc_requant_i8_host(const int8_t *x, int32_t n, int32_t xzp, int32_t m, int32_t s,
                                      int32_t zp, int32_t lo, int32_t hi, int8_t *y)
{
    int32_t acc[256], c, i;
    for (c = 0; c < n; c += 256) {
        const int32_t len = n - c < 256 ? n - c : 256;
        for (i = 0; i < len; i++)
            acc[i] = (int32_t)x[c + i] - xzp;
        if (!qcc_requant_i8_u64(acc, len, m, s, zp, lo, hi, y + c)) {
            if (c > 0)  /* the checks depend on m, s, zp, lo, hi only: never after the first */
                qcc_requant_i8_row(acc, len, m, s, zp, lo, hi, y + c);
            else
                return 0;
        }
    }
    return 1;
}
#endif

static inline int qcc_requant_op(const qcc_requant_p *p, const void *x, const int32_t *mult,
                   const int32_t *shift, void *y)
{
    int32_t o, c, i;
    size_t k = 0;
#ifdef QCC_ARM_DSP
    if (qcc_requant_dsp(p, x, mult, shift, y))
        return QCC_OK;
#endif
    for (o = 0; o < p->outer; o++)
        for (c = 0; c < p->channels; c++) {
            const int32_t m = mult[p->per_channel ? c : 0], s = shift[p->per_channel ? c : 0];
            if (p->x_dt == QCC_I8 && p->y_dt == QCC_I8) {
                const int8_t *xi = (const int8_t *)x + k;
                int8_t *yi = (int8_t *)y + k;
#ifdef QCC_SIMD
                if (qcc_requant_i8_host(xi, p->inner, p->x_zp, m, s, p->y_zp, p->lo, p->hi, yi)) {
                    k += (size_t)p->inner;
                    continue;
                }
#endif
                for (i = 0; i < p->inner; i++)
                    yi[i] = (int8_t)qcc_requant((int32_t)xi[i] - p->x_zp, m, s, p->y_zp, p->lo, p->hi);
                k += (size_t)p->inner;
                continue;
            }
            for (i = 0; i < p->inner; i++, k++) {
                const int64_t v = qcc_load(x, k, p->x_dt) - p->x_zp;
                qcc_store(y, k, p->y_dt, qcc_requant(v, m, s, p->y_zp, p->lo, p->hi));
            }
        }
    return QCC_OK;
}
