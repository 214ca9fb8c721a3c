{% include "kernels/binary_dsp.c" %}
{% include "kernels/binary_x86.c" %}
{% include "kernels/binary_host.c" %}

QCC_ROW_INLINE int32_t qcc_binary_val(int32_t op, int64_t av, int64_t bv, int32_t ma, int32_t mb,
                                      int32_t s, int32_t y_zp, int32_t lo, int32_t hi)
{
    if (op == 2)
        return qcc_requant(av * bv, ma, s, y_zp, lo, hi);
    if (op >= 3)  /* onnx.Max / onnx.Min of equal-qparams tensors: raw values */
        return qcc_clamp(op == 3 ? (av > bv ? av : bv) : (av < bv ? av : bv), lo, hi);
    {
        const int64_t m2 = op == 1 ? -(int64_t)mb : (int64_t)mb;
        return qcc_clamp(qcc_rshift_round(av * ma + bv * m2, s) + y_zp, lo, hi);
    }
}

static inline int32_t qcc_binary_one(const qcc_binary_p *p, int64_t av, int64_t bv)
{
    return qcc_binary_val(p->op, av, bv, p->ma, p->mb, p->s, p->y_zp, p->lo, p->hi);
}

/* One contiguous row of an add with constant type codes (QCC_TYPED_ROWS: the int16 residual
 * stream's adds), parameters in locals; the same integers as the generic loop. */
QCC_ROW_INLINE void qcc_binary_addrow_t(const qcc_binary_p *p, const void *a, size_t oa,
                                        const void *b, size_t ob, void *y, size_t oy,
                                        int32_t a_dt, int32_t b_dt, int32_t y_dt)
{
    const int32_t n = p->d[3], azp = p->a_zp, bzp = p->b_zp, ma = p->ma, mb = p->mb, s = p->s;
    const int32_t y_zp = p->y_zp, lo = p->lo, hi = p->hi;
    int32_t j;
    for (j = 0; j < n; j++) {
        const int64_t av = qcc_load(a, oa + (size_t)j, a_dt) - azp;
        const int64_t bv = qcc_load(b, ob + (size_t)j, b_dt) - bzp;
        qcc_store(y, oy + (size_t)j, y_dt, qcc_binary_val(0, av, bv, ma, mb, s, y_zp, lo, hi));
    }
}

/* 1: the row was one of the typed adds */
static inline int qcc_binary_row_typed(const qcc_binary_p *p, const void *a, size_t oa,
                                       const void *b, size_t ob, void *y, size_t oy)
{
#ifdef QCC_TYPED_ROWS
    const int32_t ad = p->a_dt, bd = p->b_dt, yd = p->y_dt;
    if (p->op != 0 || p->sa[3] != 1 || p->sb[3] != 1)
        return 0;
    if (yd == QCC_I16 && ad == QCC_I16 && bd == QCC_I16)
        qcc_binary_addrow_t(p, a, oa, b, ob, y, oy, QCC_I16, QCC_I16, QCC_I16);
    else if (yd == QCC_I16 && ad == QCC_I16 && bd == QCC_I8)
        qcc_binary_addrow_t(p, a, oa, b, ob, y, oy, QCC_I16, QCC_I8, QCC_I16);
    else if (yd == QCC_I16 && ad == QCC_I8 && bd == QCC_I16)
        qcc_binary_addrow_t(p, a, oa, b, ob, y, oy, QCC_I8, QCC_I16, QCC_I16);
    else if (yd == QCC_I16 && ad == QCC_I8 && bd == QCC_I8)
        qcc_binary_addrow_t(p, a, oa, b, ob, y, oy, QCC_I8, QCC_I8, QCC_I16);
    else if (yd == QCC_I8 && ad == QCC_I16 && bd == QCC_I16)
        qcc_binary_addrow_t(p, a, oa, b, ob, y, oy, QCC_I16, QCC_I16, QCC_I8);
    else
        return 0;
    return 1;
#else
    (void)p, (void)a, (void)oa, (void)b, (void)ob, (void)y, (void)oy;
    return 0;
#endif
}

static inline void qcc_binary_row(const qcc_binary_p *p, const void *a, size_t oa, const void *b,
                                  size_t ob, void *y, size_t oy)
{
    const int32_t n = p->d[3], sa = p->sa[3], sb = p->sb[3];
    int32_t j;
    if (p->a_dt == QCC_I8 && p->b_dt == QCC_I8 && p->y_dt == QCC_I8) {
        const int8_t *ar = (const int8_t *)a + oa, *br = (const int8_t *)b + ob;
        int8_t *yr = (int8_t *)y + oy;
#ifdef QCC_ARM_DSP
        if (qcc_binary_row_dsp(p, ar, br, yr))
            return;
#endif
        for (j = 0; j < n; j++)
            yr[j] = (int8_t)qcc_binary_one(p, (int64_t)ar[j * sa] - p->a_zp,
                                           (int64_t)br[j * sb] - p->b_zp);
        return;
    }
    if (qcc_binary_row_typed(p, a, oa, b, ob, y, oy))
        return;
    for (j = 0; j < n; j++) {
        const int64_t av = qcc_load(a, oa + (size_t)j * sa, p->a_dt) - p->a_zp;
        const int64_t bv = qcc_load(b, ob + (size_t)j * sb, p->b_dt) - p->b_zp;
        qcc_store(y, oy + (size_t)j, p->y_dt, qcc_binary_one(p, av, bv));
    }
}

static inline int qcc_binary(const qcc_binary_p *p, const void *a, const void *b, void *y)
{
    int32_t i0, i1, i2;
    size_t o = 0;
#ifdef QCC_SIMD
    if (qcc_binary_host(p, a, b, y))
        return QCC_OK;
#endif
#ifdef QCC_ARM_DSP
    if (qcc_binary_add_dsp(p, a, b, y) || qcc_binary_mul_dsp(p, a, b, y))
        return QCC_OK;
#endif
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++) {
                const size_t oa = (size_t)i0 * p->sa[0] + (size_t)i1 * p->sa[1] + (size_t)i2 * p->sa[2];
                const size_t ob = (size_t)i0 * p->sb[0] + (size_t)i1 * p->sb[1] + (size_t)i2 * p->sb[2];
                qcc_binary_row(p, a, oa, b, ob, y, o);
                o += (size_t)p->d[3];
            }
    return QCC_OK;
}
