{% include "kernels/transformer_dsp.c" %}

static inline int64_t qcc_iexp(const qcc_isoftmax_p *p, int64_t d)
{
    if (p->variant == 0) {  /* I-BERT: (p + b)^2 + c, >> (z + e_shift) */
        const int64_t z0 = (-d) / p->q_ln2;
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

static inline void qcc_isoftmax_row(const qcc_isoftmax_p *p, const void *x, size_t base,
                                    const uint8_t *mrow, uint8_t *y, int32_t *e)
{
    int64_t xmax = 0, sum = 0, factor;
    int32_t j, any = 0;
    for (j = 0; j < p->len; j++) {
        const int64_t v = qcc_load(x, base + (size_t)j, p->x_dt);
        if (mrow != NULL && mrow[(size_t)j * p->ml] != 0)
            continue;
        if (!any || v > xmax)
            xmax = v;
        any = 1;
    }
    for (j = 0; j < p->len; j++) {
        int64_t d = qcc_load(x, base + (size_t)j, p->x_dt) - xmax;
        if (mrow != NULL && mrow[(size_t)j * p->ml] != 0) {
            e[j] = 0;
            continue;
        }
        if (d < -(int64_t)p->d_clip)
            d = -(int64_t)p->d_clip;
        d = -qcc_rshift_round(-d * p->m, p->s);
        if (d > 0)
            d = 0;
        e[j] = (int32_t)qcc_iexp(p, d);
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
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++) {
                const uint8_t *mrow = mask == NULL ? NULL
                    : mask + (size_t)i0 * p->ms[0] + (size_t)i1 * p->ms[1] + (size_t)i2 * p->ms[2];
                qcc_isoftmax_row(p, x, base, mrow, y, scratch);
                base += (size_t)p->len;
            }
    return QCC_OK;
}

static inline int qcc_igelu(const qcc_igelu_p *p, const void *x, void *y)
{
    int32_t i;
#ifdef QCC_ARM_DSP
    if (qcc_igelu_dsp(p, x, y))
        return QCC_OK;
#endif
    for (i = 0; i < p->count; i++) {
        int64_t xi = qcc_load(x, (size_t)i, p->x_dt) - p->x_zp, u, mag, g;
        xi = xi < -(int64_t)p->q_l ? -(int64_t)p->q_l : (xi > p->x_max ? p->x_max : xi);
        u = xi < 0 ? -xi : xi;
        u = u < p->q_l ? u : p->q_l;
        mag = (int64_t)p->c1 - (p->q_l - u) * (p->q_l - u);
        g = ((int64_t)p->c1 + (xi > 0 ? mag : (xi < 0 ? -mag : 0))) >> p->f_shift;
        qcc_store(y, (size_t)i, p->y_dt, qcc_requant(xi * g, p->m, p->s, p->y_zp, p->lo, p->hi));
    }
    return QCC_OK;
}

static inline int32_t qcc_bitlen(uint64_t v)
{
    int32_t b = 0;
    while (v) {
        b++;
        v >>= 1;
    }
    return b;
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
static inline int64_t qcc_ln_var(const qcc_ilayernorm_p *p, const void *x, size_t base, int64_t sum,
                                 int32_t sh)
{
    int64_t var = 0;
    int32_t j;
    for (j = 0; j < p->len; j++) {
        const int64_t y2 = qcc_ln_y2((int64_t)p->len * (qcc_load(x, base + (size_t)j, p->x_dt) - p->x_zp)
                                     - sum, sh);
        var += y2 * y2;
    }
    return var;
}

static inline void qcc_ilayernorm_row(const qcc_ilayernorm_p *p, const void *x, size_t base,
                                      const int32_t *gamma, const int32_t *bias, void *y)
{
    const int64_t c = p->len;
    int64_t sum = 0, ymax = 0, var = 0, eps_row, std, factor;
    int32_t j, sh, e_sh;
    for (j = 0; j < p->len; j++)
        sum += qcc_load(x, base + (size_t)j, p->x_dt) - p->x_zp;
    for (j = 0; j < p->len; j++) {
        int64_t v = c * (qcc_load(x, base + (size_t)j, p->x_dt) - p->x_zp) - sum;
        v = v < 0 ? -v : v;
        ymax = v > ymax ? v : ymax;
    }
    sh = (2 * qcc_bitlen((uint64_t)ymax) + p->cl - 30 + 1) >> 1;  /* floor division by 2 */
    sh = sh < -15 ? -15 : sh;
    sh = sh < p->sh_eps ? p->sh_eps : sh;
    var = qcc_ln_var(p, x, base, sum, sh);
    {   /* refinement (a row dominated by an outlier): shift less while var fits 2^30 */
        const int32_t d = (28 - qcc_bitlen((uint64_t)var)) / 2;
        int32_t sh_r = sh - (d > 0 ? d : 0);
        sh_r = sh_r < p->sh_eps ? p->sh_eps : sh_r;
        sh_r = sh_r < -15 ? -15 : sh_r;
        if (sh_r != sh) {
            const int64_t var_r = qcc_ln_var(p, x, base, sum, sh_r);
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
    for (j = 0; j < p->len; j++) {
        const int64_t y2 = qcc_ln_y2(c * (qcc_load(x, base + (size_t)j, p->x_dt) - p->x_zp) - sum, sh);
        const int64_t n = qcc_rshift_round(y2 * factor, 16);
        const int64_t acc = n * gamma[j] + bias[j];
        qcc_store(y, base + (size_t)j, p->y_dt, qcc_requant(acc, p->m, p->s, p->y_zp, p->lo, p->hi));
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
    for (r = 0; r < p->rows; r++)
        qcc_ilayernorm_row(p, x, (size_t)r * p->len, gamma, bias, y);
    return QCC_OK;
}
