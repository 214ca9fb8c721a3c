{% include "kernels/transformer_dsp.c" %}
{% include "kernels/transformer_x86.c" %}

static inline int32_t qcc_bitlen(uint64_t v)
{
    int32_t b = 0;
    while (v) {
        b++;
        v >>= 1;
    }
    return b;
}

/* magic != 0: floor(n / q_ln2) for 0 <= n < 2^31 as (n * magic) >> msh (qcc_isoftmax: magic =
 * floor(2^msh / q_ln2) + 1, msh = 31 + ceil(log2 q_ln2); Granlund & Montgomery 1994, Thm 4.2:
 * 2^msh < magic q_ln2 <= 2^msh + 2^(msh - 31), so the quotient is exact below 2^31). */
QCC_ROW_INLINE int64_t qcc_iexp(const qcc_isoftmax_p *p, int64_t d, int32_t variant, uint64_t magic,
                                int32_t msh)
{
    if (variant == 0) {  /* I-BERT: (p + b)^2 + c, >> (z + e_shift) */
        const int64_t z0 = magic ? (int64_t)(((uint64_t)(-d) * magic) >> msh) : (-d) / p->q_ln2;
        const int64_t z = z0 < p->z_max ? z0 : p->z_max;
        int64_t r = d + z * p->q_ln2;
        if (r < -(int64_t)p->q_ln2 + 1)
            r = -(int64_t)p->q_ln2 + 1;
        return ((r + p->q_b) * (r + p->q_b) + p->q_c) >> (z + p->e_shift);
    } else {                /* I-ViT shift-exp */
        const int32_t f = p->frac_bits;
        const int64_t t = d + (d >> 1) - (d >> 4);
        const int64_t q0 = (-t) >> f;
        const int64_t q = q0 < p->z_max ? q0 : p->z_max;
        int64_t r = t + q * ((int64_t)1 << f);
        if (r < -((int64_t)1 << f) + 1)
            r = -((int64_t)1 << f) + 1;
        return (((r >> 1) + ((int64_t)1 << f)) * ((int64_t)1 << (16 - f))) >> q;
    }
}

QCC_ROW_INLINE void qcc_isoftmax_row(const qcc_isoftmax_p *p, const void *x, size_t base,
                                     const uint8_t *mrow, uint8_t *y, int32_t *e, int32_t x_dt,
                                     int32_t variant, uint64_t magic, int32_t msh)
{
    int64_t xmax = 0, sum = 0, factor;
    int32_t j, any = 0;
    for (j = 0; j < p->len; j++) {
        const int64_t v = qcc_load(x, base + (size_t)j, x_dt);
        if (mrow != NULL && mrow[(size_t)j * p->ml] != 0)
            continue;
        if (!any || v > xmax)
            xmax = v;
        any = 1;
    }
    for (j = 0; j < p->len; j++) {
        int64_t d = qcc_load(x, base + (size_t)j, x_dt) - xmax;
        if (mrow != NULL && mrow[(size_t)j * p->ml] != 0) {
            e[j] = 0;
            continue;
        }
        if (d < -(int64_t)p->d_clip)
            d = -(int64_t)p->d_clip;
        d = -qcc_rshift_round(-d * p->m, p->s);
        if (d > 0)
            d = 0;
        e[j] = (int32_t)qcc_iexp(p, d, variant, magic, msh);
        sum += e[j];
    }
    factor = sum > 0 ? ((int64_t)1 << 40) / sum : 0;
    for (j = 0; j < p->len; j++)
        y[base + (size_t)j] = (uint8_t)qcc_clamp(qcc_rshift_round(e[j] * factor, 32), 0, 255);
}

static inline int qcc_isoftmax(const qcc_isoftmax_p *p, const void *x, const uint8_t *mask,
                               uint8_t *y, int32_t *scratch)
{
    int32_t i0, i1, i2;
    size_t base = 0;
#ifdef QCC_ARM_DSP
    if (qcc_isoftmax_dsp(p, x, mask, y, scratch))
        return QCC_OK;
#endif
#ifdef QCC_TYPED_ROWS
    if (mask == NULL && (p->x_dt == QCC_I32 || p->x_dt == QCC_I16 || p->x_dt == QCC_I8)) {
        /* a copy in a local: the int32 scratch stores may alias *p */
        const qcc_isoftmax_p q = *p;
        const int32_t rows = q.d[0] * q.d[1] * q.d[2];
        /* |d| after the clip and the rescale: below 2^31, the I-BERT quotient by magic */
        const int64_t dmax = qcc_rshift_round((int64_t)q.d_clip * q.m, q.s);
        int32_t r, msh = 31 + qcc_bitlen((uint64_t)(q.q_ln2 - 1));
        uint64_t magic = 0;
        if (q.variant == 0 && q.q_ln2 > 0 && dmax < ((int64_t)1 << 31))
            magic = (((uint64_t)1 << msh) / (uint64_t)q.q_ln2) + 1u;
        /* one loop per (x_dt, variant): constants in the row code, fewer live registers */
#define QCC_SM_ROWS(DT, V)                                                                    \
        for (r = 0; r < rows; r++)                                                            \
            qcc_isoftmax_row(&q, x, (size_t)r * q.len, NULL, y, scratch, DT, V, magic, msh)
        if (q.variant == 0) {
            if (q.x_dt == QCC_I32)
                QCC_SM_ROWS(QCC_I32, 0);
            else if (q.x_dt == QCC_I16)
                QCC_SM_ROWS(QCC_I16, 0);
            else
                QCC_SM_ROWS(QCC_I8, 0);
        } else {
            if (q.x_dt == QCC_I32)
                QCC_SM_ROWS(QCC_I32, 1);
            else if (q.x_dt == QCC_I16)
                QCC_SM_ROWS(QCC_I16, 1);
            else
                QCC_SM_ROWS(QCC_I8, 1);
        }
#undef QCC_SM_ROWS
        return QCC_OK;
    }
#endif
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++) {
                const uint8_t *mrow = mask == NULL ? NULL
                    : mask + (size_t)i0 * p->ms[0] + (size_t)i1 * p->ms[1] + (size_t)i2 * p->ms[2];
                qcc_isoftmax_row(p, x, base, mrow, y, scratch, p->x_dt, p->variant, 0u, 0);
                base += (size_t)p->len;
            }
    return QCC_OK;
}

QCC_ROW_INLINE void qcc_igelu_run(const qcc_igelu_p *p, const void *x, void *y, int32_t x_dt,
                                  int32_t y_dt)
{
    /* in locals: a byte store may alias *p (see qcc_concat_part) */
    const int32_t n = p->count, x_zp = p->x_zp, q_l = p->q_l, c1 = p->c1, f_shift = p->f_shift;
    const int32_t x_max = p->x_max, m = p->m, s = p->s, y_zp = p->y_zp, lo = p->lo, hi = p->hi;
    int32_t i;
    for (i = 0; i < n; i++) {
        int64_t xi = qcc_load(x, (size_t)i, x_dt) - x_zp, u, mag, g;
        xi = xi < -(int64_t)q_l ? -(int64_t)q_l : (xi > x_max ? x_max : xi);
        u = xi < 0 ? -xi : xi;
        u = u < q_l ? u : q_l;
        mag = (int64_t)c1 - (q_l - u) * (q_l - u);
        g = ((int64_t)c1 + (xi > 0 ? mag : (xi < 0 ? -mag : 0))) >> f_shift;
        qcc_store(y, (size_t)i, y_dt, qcc_requant(xi * g, m, s, y_zp, lo, hi));
    }
}

static inline int qcc_igelu(const qcc_igelu_p *p, const void *x, void *y)
{
#ifdef QCC_ARM_DSP
    if (qcc_igelu_dsp(p, x, y))
        return QCC_OK;
#endif
#if !defined(QCC_PORTABLE) && defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
    if (qcc_igelu_avx512(p, x, y))
        return QCC_OK;
#endif
#ifdef QCC_TYPED_ROWS
    if (p->y_dt == QCC_I8) {
        if (p->x_dt == QCC_I32)
            qcc_igelu_run(p, x, y, QCC_I32, QCC_I8);
        else if (p->x_dt == QCC_I16)
            qcc_igelu_run(p, x, y, QCC_I16, QCC_I8);
        else if (p->x_dt == QCC_I8)
            qcc_igelu_run(p, x, y, QCC_I8, QCC_I8);
        else
            qcc_igelu_run(p, x, y, p->x_dt, QCC_I8);
        return QCC_OK;
    }
#endif
    qcc_igelu_run(p, x, y, p->x_dt, p->y_dt);
    return QCC_OK;
}

/* Exact floor(sqrt(n)), 0 <= n < 2^62 (Newton from 2^ceil(bits/2), integer division only). */
static inline int64_t qcc_isqrt(int64_t n)
{
    int64_t r, nx;
    if (n <= 0)
        return 0;
    r = (int64_t)1 << ((qcc_bitlen((uint64_t)n) + 1) / 2);
    for (;;) {
        nx = (r + n / r) >> 1;
        if (nx >= r)
            return r;
        r = nx;
    }
}

static inline int64_t qcc_ln_y2(int64_t y, int32_t sh)
{
    if (sh > 0)
        return (y + (((int64_t)1 << sh) >> 1)) >> sh;
    return y * ((int64_t)1 << -sh);
}

/* sum over the row of qcc_ln_y2(C xc - sum, sh)^2 */
QCC_ROW_INLINE int64_t qcc_ln_var(const qcc_ilayernorm_p *p, const void *x, size_t base,
                                  int64_t sum, int32_t sh, int32_t x_dt)
{
    const int32_t len = p->len, x_zp = p->x_zp;
    int64_t var = 0;
    int32_t j;
    for (j = 0; j < len; j++) {
        const int64_t y2 = qcc_ln_y2((int64_t)len * (qcc_load(x, base + (size_t)j, x_dt) - x_zp)
                                     - sum, sh);
        var += y2 * y2;
    }
    return var;
}

QCC_ROW_INLINE void qcc_ilayernorm_row(const qcc_ilayernorm_p *p, const void *x, size_t base,
                                      const int32_t *gamma, const int32_t *bias, void *y,
                                      int32_t x_dt, int32_t y_dt)
{
    /* in locals: a byte store may alias *p (see qcc_concat_part) */
    const int32_t len = p->len, x_zp = p->x_zp, m = p->m, s = p->s, y_zp = p->y_zp;
    const int32_t lo = p->lo, hi = p->hi;
    const int64_t c = len;
    int64_t sum = 0, ymax = 0, var = 0, eps_row, std, factor;
    int32_t j, sh, e_sh;
    for (j = 0; j < len; j++)
        sum += qcc_load(x, base + (size_t)j, x_dt) - x_zp;
    for (j = 0; j < len; j++) {
        int64_t v = c * (qcc_load(x, base + (size_t)j, x_dt) - x_zp) - sum;
        v = v < 0 ? -v : v;
        ymax = v > ymax ? v : ymax;
    }
    sh = (2 * qcc_bitlen((uint64_t)ymax) + p->cl - 30 + 1) >> 1;  /* floor division by 2 */
    sh = sh < -15 ? -15 : sh;
    sh = sh < p->sh_eps ? p->sh_eps : sh;
    var = qcc_ln_var(p, x, base, sum, sh, x_dt);
    {   /* refinement (a row dominated by an outlier): shift less while var fits 2^30 */
        const int32_t d = (28 - qcc_bitlen((uint64_t)var)) / 2;
        int32_t sh_r = sh - (d > 0 ? d : 0);
        sh_r = sh_r < p->sh_eps ? p->sh_eps : sh_r;
        sh_r = sh_r < -15 ? -15 : sh_r;
        if (sh_r != sh) {
            const int64_t var_r = qcc_ln_var(p, x, base, sum, sh_r, x_dt);
            if (var_r <= ((int64_t)1 << 30)) {
                sh = sh_r;
                var = var_r;
            }
        }
    }
    e_sh = p->eps_frac + 2 * sh;
    if (e_sh >= 0)
        eps_row = p->eps_q >> (e_sh < 62 ? e_sh : 62);
    else
        eps_row = (int64_t)((uint64_t)p->eps_q << (-e_sh < 62 ? -e_sh : 62));
    var += eps_row;
    var = var < 2147483647 ? var : 2147483647;
    std = qcc_isqrt(var);
    factor = std > 0 ? 2147483647 / std : 0;
    for (j = 0; j < len; j++) {
        const int64_t y2 = qcc_ln_y2(c * (qcc_load(x, base + (size_t)j, x_dt) - x_zp) - sum, sh);
        const int64_t n = qcc_rshift_round(y2 * factor, 16);
        const int64_t acc = n * gamma[j] + bias[j];
        qcc_store(y, base + (size_t)j, y_dt, qcc_requant(acc, m, s, y_zp, lo, hi));
    }
}

static inline int qcc_ilayernorm(const qcc_ilayernorm_p *p, const void *x, const int32_t *gamma,
                                 const int32_t *bias, void *y)
{
    int32_t r;
#ifdef QCC_ARM_DSP
    if (qcc_ilayernorm_dsp(p, x, gamma, bias, y))
        return QCC_OK;
#endif
#ifdef QCC_TYPED_ROWS
    if (p->y_dt == QCC_I8 && (p->x_dt == QCC_I16 || p->x_dt == QCC_I8)) {
        const int32_t rows = p->rows, len = p->len;
        if (p->x_dt == QCC_I16)
            for (r = 0; r < rows; r++)
                qcc_ilayernorm_row(p, x, (size_t)r * len, gamma, bias, y, QCC_I16, QCC_I8);
        else
            for (r = 0; r < rows; r++)
                qcc_ilayernorm_row(p, x, (size_t)r * len, gamma, bias, y, QCC_I8, QCC_I8);
        return QCC_OK;
    }
#endif
    for (r = 0; r < p->rows; r++)
        qcc_ilayernorm_row(p, x, (size_t)r * p->len, gamma, bias, y, p->x_dt, p->y_dt);
    return QCC_OK;
}
