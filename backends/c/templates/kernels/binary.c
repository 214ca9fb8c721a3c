static inline void qcc_binary_row(const qcc_binary_p *p, const int8_t *a, const int8_t *b, int8_t *y,
                           int32_t sa, int32_t sb)
{
    const int32_t n = p->d[3];
    int32_t j;
    if (p->op == 2) {
        for (j = 0; j < n; j++) {
            const int32_t av = (int32_t)a[j * sa] - p->a_zp, bv = (int32_t)b[j * sb] - p->b_zp;
            y[j] = (int8_t)qcc_requant((int64_t)av * bv, p->ma, p->s, p->y_zp, p->lo, p->hi);
        }
        return;
    }
    {
        const int64_t mb = p->op == 1 ? -(int64_t)p->mb : (int64_t)p->mb;
        for (j = 0; j < n; j++) {
            const int64_t av = (int64_t)a[j * sa] - p->a_zp, bv = (int64_t)b[j * sb] - p->b_zp;
            const int64_t v = qcc_rshift_round(av * p->ma + bv * mb, p->s) + p->y_zp;
            y[j] = (int8_t)qcc_clamp(v, p->lo, p->hi);
        }
    }
}

static inline int qcc_binary(const qcc_binary_p *p, const int8_t *a, const int8_t *b, int8_t *y)
{
    int32_t i0, i1, i2;
    size_t o = 0;
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++) {
                const size_t oa = (size_t)i0 * p->sa[0] + (size_t)i1 * p->sa[1] + (size_t)i2 * p->sa[2];
                const size_t ob = (size_t)i0 * p->sb[0] + (size_t)i1 * p->sb[1] + (size_t)i2 * p->sb[2];
                qcc_binary_row(p, a + oa, b + ob, y + o, p->sa[3], p->sb[3]);
                o += (size_t)p->d[3];
            }
    return QCC_OK;
}
