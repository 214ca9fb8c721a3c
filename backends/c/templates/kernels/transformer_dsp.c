#ifdef QCC_ARM_DSP
/* Arm DSP (Cortex-M4/M7/M33/M55) forms of the transformer ops: the same integers as the
 * portable int64 code below, computed in 32-bit registers where a bound checked once per call
 * (or per row) proves every intermediate fits, with CLZ, hardware division, SMMLA/SMMULR
 * rounding and SMLAL for the 64-bit sums. Each returns 0 (nothing written) when a bound
 * fails; the caller then runs the portable code. */

/* ---- igelu: xi = clamp(x - zp, -q_l, x_max), g = (c1 + sign(xi) (c1 - (q_l - min|xi|, q_l)^2))
 * >> f; for xi > 0 that is (2 c1 - t^2) >> f, for xi < 0 t^2 >> f (xi = 0: the product is 0 either
 * way), t = q_l - min(|xi|, q_l); then the requantization of xi * g (int32 by the bound). */
/* The loop of the SMMLA form (fast) or of qcc_requant32 (x, y: int8 or int16; narrow: bounds
 * tighter than the output type's). Out of line, so that its 14 live values get the registers. */
__attribute__((always_inline)) static inline void
qcc_igelu_dsp_body(const qcc_igelu_p *p, const void *x, void *y, const qcc_rqf *q, int xdt, int ydt,
                   int fast, int narrow)
{
    const int32_t n = p->count, zp = p->x_zp, ql = p->q_l, xmax = p->x_max, c2 = 2 * p->c1;
    const int32_t f = p->f_shift, lo = p->lo, hi = p->hi, m = q->m, c = q->c, sh = q->sh;
    int32_t i;
    for (i = 0; i < n; i++) {
        int32_t xi = qcc_ld816(x, i, xdt) - zp, t, g, r;
        xi = xi < -ql ? -ql : (xi > xmax ? xmax : xi);
        t = (int32_t)__usat(ql - (xi < 0 ? -xi : xi), 31);  /* max(q_l - |xi|, 0) */
        t = t * t;
        g = (xi > 0 ? c2 - t : t) >> f;
        if (!fast) {
            r = qcc_requant32(xi * g, q->m, q->s, p->y_zp, lo, hi);
        } else {
            r = qcc_smmla(xi * g, m, c) >> sh;
            if (narrow)
                r = r < lo ? lo : (r > hi ? hi : r);
            else
                r = ydt == QCC_I8 ? __ssat(r, 8) : __ssat(r, 16);
        }
        if (ydt == QCC_I8)
            ((int8_t *)y)[i] = (int8_t)r;
        else
            ((int16_t *)y)[i] = (int16_t)r;
    }
}

#define QCC_IGELU_FORM(name, xdt, ydt, fast, narrow)                                       \
    static __attribute__((noinline, unused)) void name(const qcc_igelu_p *p, const void *x, \
                                                       void *y, const qcc_rqf *q)          \
    {                                                                                      \
        qcc_igelu_dsp_body(p, x, y, q, xdt, ydt, fast, narrow);                            \
    }
QCC_IGELU_FORM(qcc_igelu_dsp_16_8, QCC_I16, QCC_I8, 1, 0)
QCC_IGELU_FORM(qcc_igelu_dsp_16_8n, QCC_I16, QCC_I8, 1, 1)
QCC_IGELU_FORM(qcc_igelu_dsp_16_16, QCC_I16, QCC_I16, 1, 1)
QCC_IGELU_FORM(qcc_igelu_dsp_8_8, QCC_I8, QCC_I8, 1, 1)
QCC_IGELU_FORM(qcc_igelu_dsp_8_16, QCC_I8, QCC_I16, 1, 1)
QCC_IGELU_FORM(qcc_igelu_dsp_any, p->x_dt, p->y_dt, 0, 1)  /* qcc_requant32: other shifts */

static inline int qcc_igelu_dsp(const qcc_igelu_p *p, const void *x, void *y)
{
    const int64_t big = (int64_t)1 << 31, ql = p->q_l, c1 = p->c1, zp = p->x_zp;
    int64_t xa, ga;
    qcc_rqf q;
    if ((p->x_dt != QCC_I8 && p->x_dt != QCC_I16) || (p->y_dt != QCC_I8 && p->y_dt != QCC_I16))
        return 0;
    if (ql < 0 || ql > 46340 || c1 < 0 || 2 * c1 >= big || p->f_shift < 0 || p->f_shift > 31
        || zp < -(1 << 20) || zp > (1 << 20) || p->x_max < -ql || p->lo > p->hi
        || p->lo < (p->y_dt == QCC_I8 ? -128 : -32768) || p->hi > (p->y_dt == QCC_I8 ? 127 : 32767))
        return 0;
    /* |xi| <= max(q_l, |x_max|); 0 <= g <= max(2 c1, q_l^2) >> f */
    xa = p->x_max < 0 ? -(int64_t)p->x_max : p->x_max;
    xa = xa > ql ? xa : ql;
    ga = ((2 * c1 > ql * ql ? 2 * c1 : ql * ql) >> p->f_shift) + 1;  /* + 1: floor of negatives */
    if (xa * ga >= big || 2 * c1 - ql * ql <= -big)
        return 0;
    qcc_rqf_init_dt(&q, p->m, p->s, p->y_zp, p->y_dt);
    {
        const int x16 = p->x_dt == QCC_I16, y8 = p->y_dt == QCC_I8;
        /* direct calls only: the static stack bound (-fcallgraph-info) refuses indirect ones */
        if (q.sh <= 0) {
            qcc_igelu_dsp_any(p, x, y, &q);
        } else if (x16 && y8) {
            if (p->lo > -128 || p->hi < 127)
                qcc_igelu_dsp_16_8n(p, x, y, &q);
            else
                qcc_igelu_dsp_16_8(p, x, y, &q);
        } else if (x16) {
            qcc_igelu_dsp_16_16(p, x, y, &q);
        } else if (y8) {
            qcc_igelu_dsp_8_8(p, x, y, &q);
        } else {
            qcc_igelu_dsp_8_16(p, x, y, &q);
        }
    }
    return 1;
}

/* ---- ilayernorm (C = len, xc = x - zp, S = sum xc, v = C xc - S): the row's largest |v| from
 * its least and greatest x (v is increasing in x), y2 = ln_y2(v, sh) as (x Cm + K) >> sh2 in
 * wrapping 32-bit arithmetic (the true value fits int32 by the row's bound, so the wrapped one
 * is it), the variance by SMLAL, the square root and the factor by 32-bit division, and
 * n = rshift_round(y2 factor, 16) as SMMULR(y2 << 16, factor) when |y2| < 2^15. */
QCC_ROW_INLINE void qcc_ilayernorm_row(const qcc_ilayernorm_p *p, const void *x, size_t base,
                                      const int32_t *gamma, const int32_t *bias, void *y,
                                      int32_t x_dt, int32_t y_dt);

typedef struct {
    uint32_t cm, k;  /* y2 = (int32)((uint32)x * cm + k) >> sh2 */
    int32_t sh2;
} qcc_ln_lin;

/* The row's y2 map for shift sh, or 0 when its values might leave int32 (ymax: max |v|). */
static inline int qcc_ln_lin_init(qcc_ln_lin *l, int32_t c, int32_t zp, int32_t sum, int32_t sh,
                                  int64_t ymax)
{
    const int64_t base = -((int64_t)c * zp + sum);  /* v = C x + base */
    if (sh > 0) {
        if (sh > 30 || ymax + ((int64_t)1 << (sh - 1)) >= ((int64_t)1 << 31))
            return 0;
        l->cm = (uint32_t)c;
        l->k = (uint32_t)(base + ((int64_t)1 << (sh - 1)));
        l->sh2 = sh;
    } else {
        if ((ymax << -sh) >= ((int64_t)1 << 31))
            return 0;
        l->cm = (uint32_t)c << -sh;
        l->k = (uint32_t)((uint64_t)base << -sh);
        l->sh2 = 0;
    }
    return 1;
}

__attribute__((always_inline)) static inline int32_t qcc_ln_y2v(const qcc_ln_lin *l, int32_t xv)
{
    return (int32_t)((uint32_t)xv * l->cm + l->k) >> l->sh2;
}

/* The row's loops, specialised by dtype (out of line: one shared row function calls them). */
__attribute__((always_inline)) static inline int64_t
qcc_ln_var_body(const qcc_ln_lin *l, const void *xr, int32_t len, int xdt)
{
    int64_t var = 0;
    int32_t j;
    for (j = 0; j < len; j++) {
        const int32_t y2 = qcc_ln_y2v(l, qcc_ld816(xr, j, xdt));
        var += (int64_t)y2 * y2;
    }
    return var;
}

/* sum of the row and its least and greatest element (lh[0], lh[1]) */
__attribute__((always_inline)) static inline int32_t
qcc_ln_stats_body(const void *xr, int32_t len, int32_t *lh, int xdt)
{
    int32_t s = 0, lo = qcc_ld816(xr, 0, xdt), hi = lo, j;
    for (j = 0; j < len; j++) {
        const int32_t v = qcc_ld816(xr, j, xdt);
        s += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    lh[0] = lo, lh[1] = hi;
    return s;
}

/* the outputs: n = SMMULR(y2 << 16, factor), n gamma + bias, the SMMLA requantization */
__attribute__((always_inline)) static inline void
qcc_ln_out_body(const qcc_ilayernorm_p *p, const qcc_ln_lin *l, const void *xr, int32_t factor,
                const int32_t *gamma, const int32_t *bias, const qcc_rqf *q, void *yr, int xdt,
                int ydt)
{
    const int32_t m = q->m, c = q->c, sh = q->sh, lo = p->lo, hi = p->hi;
    int32_t j;
    for (j = 0; j < p->len; j++) {
        const int32_t y2 = qcc_ln_y2v(l, qcc_ld816(xr, j, xdt));
        const int32_t n = qcc_smmulr((int32_t)((uint32_t)y2 << 16), factor);
        int32_t r = qcc_smmla(n * gamma[j] + bias[j], m, c) >> sh;
        r = r < lo ? lo : (r > hi ? hi : r);
        if (ydt == QCC_I8)
            ((int8_t *)yr)[j] = (int8_t)r;
        else
            ((int16_t *)yr)[j] = (int16_t)r;
    }
}

static __attribute__((noinline, unused)) int64_t qcc_ln_var8(const qcc_ln_lin *l, const void *xr,
                                                             int32_t len)
{
    return qcc_ln_var_body(l, xr, len, QCC_I8);
}

static __attribute__((noinline, unused)) int64_t qcc_ln_var16(const qcc_ln_lin *l, const void *xr,
                                                              int32_t len)
{
    return qcc_ln_var_body(l, xr, len, QCC_I16);
}

static __attribute__((noinline, unused)) int32_t qcc_ln_stats8(const void *xr, int32_t len,
                                                               int32_t *lh)
{
    return qcc_ln_stats_body(xr, len, lh, QCC_I8);
}

static __attribute__((noinline, unused)) int32_t qcc_ln_stats16(const void *xr, int32_t len,
                                                                int32_t *lh)
{
    return qcc_ln_stats_body(xr, len, lh, QCC_I16);
}

#define QCC_LN_OUT_FORM(name, xdt, ydt)                                                         \
    static __attribute__((noinline, unused)) void                                               \
    name(const qcc_ilayernorm_p *p, const qcc_ln_lin *l, const void *xr, int32_t factor,        \
         const int32_t *gamma, const int32_t *bias, const qcc_rqf *q, void *yr)                 \
    {                                                                                           \
        qcc_ln_out_body(p, l, xr, factor, gamma, bias, q, yr, xdt, ydt);                        \
    }
QCC_LN_OUT_FORM(qcc_ln_out_16_8, QCC_I16, QCC_I8)
QCC_LN_OUT_FORM(qcc_ln_out_16_16, QCC_I16, QCC_I16)
QCC_LN_OUT_FORM(qcc_ln_out_8_8, QCC_I8, QCC_I8)
QCC_LN_OUT_FORM(qcc_ln_out_8_16, QCC_I8, QCC_I16)

static inline int64_t qcc_ln_var_dsp(const qcc_ln_lin *l, const void *xr, int32_t len, int32_t xdt)
{
    return xdt == QCC_I8 ? qcc_ln_var8(l, xr, len) : qcc_ln_var16(l, xr, len);
}

/* One row; returns 0 (nothing written) when a bound fails (the caller runs the portable row). */
static __attribute__((noinline, unused)) int
qcc_ilayernorm_row_dsp(const qcc_ilayernorm_p *p, const void *xr, const int32_t *gamma,
                       const int32_t *bias, void *yr, const qcc_rqf *q, int64_t gmax, int64_t bmax)
{
    const int32_t c = p->len, xdt = p->x_dt, ydt = p->y_dt;
    int32_t sh, e_sh, sum, lh[2], factor;
    int64_t ymax, var, eps_row, a, b;
    qcc_ln_lin l;
    uint32_t std;
    sum = (xdt == QCC_I8 ? qcc_ln_stats8(xr, c, lh) : qcc_ln_stats16(xr, c, lh))
          - c * p->x_zp;  /* fits: |C zp| < 2^30 by the call's check */
    a = (int64_t)c * (lh[1] - p->x_zp) - sum;
    b = (int64_t)c * (lh[0] - p->x_zp) - sum;
    a = a < 0 ? -a : a;
    b = b < 0 ? -b : b;
    ymax = a > b ? a : b;
    sh = (2 * qcc_bitlen64((uint64_t)ymax) + p->cl - 30 + 1) >> 1;
    sh = sh < -15 ? -15 : sh;
    sh = sh < p->sh_eps ? p->sh_eps : sh;
    if (!qcc_ln_lin_init(&l, c, p->x_zp, sum, sh, ymax))
        return 0;
    var = qcc_ln_var_dsp(&l, xr, c, xdt);
    {
        const int32_t d = (28 - qcc_bitlen64((uint64_t)var)) / 2;
        int32_t sh_r = sh - (d > 0 ? d : 0);
        sh_r = sh_r < p->sh_eps ? p->sh_eps : sh_r;
        sh_r = sh_r < -15 ? -15 : sh_r;
        if (sh_r != sh) {
            qcc_ln_lin lr;
            int64_t var_r;
            if (!qcc_ln_lin_init(&lr, c, p->x_zp, sum, sh_r, ymax))
                return 0;
            var_r = qcc_ln_var_dsp(&lr, xr, c, xdt);
            if (var_r <= ((int64_t)1 << 30)) {
                sh = sh_r;
                var = var_r;
                l = lr;
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
    std = var > 0 ? qcc_isqrt32((uint32_t)var) : 0;
    factor = std > 0 ? (int32_t)(2147483647u / std) : 0;
    {   /* |n| <= rshift_round(y2max * factor, 16) (at most 2^15 unless var was clamped: then
         * |y2| <= std); |n| gmax + bmax must fit int32 */
        const int64_t y2max = sh > 0 ? (ymax + ((int64_t)1 << (sh - 1))) >> sh : ymax << -sh;
        const int64_t nmax = (y2max * factor + 32768) >> 16;
        if (y2max >= 32768 || nmax * gmax + bmax >= ((int64_t)1 << 31))
            return 0;
    }
    if (xdt == QCC_I16 && ydt == QCC_I8)
        qcc_ln_out_16_8(p, &l, xr, factor, gamma, bias, q, yr);
    else if (xdt == QCC_I16)
        qcc_ln_out_16_16(p, &l, xr, factor, gamma, bias, q, yr);
    else if (ydt == QCC_I8)
        qcc_ln_out_8_8(p, &l, xr, factor, gamma, bias, q, yr);
    else
        qcc_ln_out_8_16(p, &l, xr, factor, gamma, bias, q, yr);
    return 1;
}

/* gmax, bmax: max |gamma|, max |bias| over the row (|n gamma + bias| <= |n| gmax + bmax). */
static inline int qcc_ilayernorm_dsp(const qcc_ilayernorm_p *p, const void *x, const int32_t *gamma,
                                     const int32_t *bias, void *y)
{
    int64_t gmax = 0, bmax = 0;
    int32_t j;
    qcc_rqf q;
    if ((p->x_dt != QCC_I8 && p->x_dt != QCC_I16) || (p->y_dt != QCC_I8 && p->y_dt != QCC_I16)
        || p->len < 1 || p->len > 8192 || p->x_zp < -65536 || p->x_zp > 65536)
        return 0;  /* then |C x|, |C zp|, |S|, |v| < 2^30 */
    for (j = 0; j < p->len; j++) {
        const int64_t g = gamma[j] < 0 ? -(int64_t)gamma[j] : gamma[j];
        const int64_t b = bias[j] < 0 ? -(int64_t)bias[j] : bias[j];
        gmax = g > gmax ? g : gmax;
        bmax = b > bmax ? b : bmax;
    }
    qcc_rqf_init_dt(&q, p->m, p->s, p->y_zp, p->y_dt);
    if (q.sh <= 0)
        return 0;  /* a shift outside the SMMLA form's range: the portable code */
    {
        const size_t xs = p->x_dt == QCC_I8 ? 1 : 2, ys = p->y_dt == QCC_I8 ? 1 : 2;
        int32_t r;
        for (r = 0; r < p->rows; r++) {
            const size_t at = (size_t)r * p->len;
            if (!qcc_ilayernorm_row_dsp(p, (const char *)x + at * xs, gamma, bias,
                                        (char *)y + at * ys, &q, gmax, bmax))
                qcc_ilayernorm_row(p, x, at, gamma, bias, y, p->x_dt, p->y_dt);
        }
    }
    return 1;
}
/* ---- isoftmax: per row the greatest unmasked x, nd = xmax - max(x, xmax - d_clip) in [0,
 * d_clip], dd = rshift_round(nd m, s) by SMMLA, the exponential in 32 bits (UDIV for
 * I-BERT's z), the int64 row sum, factor = 2^40 / sum, and rshift_round(e factor, 32) as SMMULR
 * when factor < 2^31. The call's bounds: dd < 2^30, the polynomial below 2^31, shifts < 32. */
__attribute__((always_inline)) static inline int32_t qcc_ldx(const void *p, size_t i, int dt)
{
    switch (dt) {
    case QCC_I8: return ((const int8_t *)p)[i];
    case QCC_U8: return ((const uint8_t *)p)[i];
    case QCC_I16: return ((const int16_t *)p)[i];
    default: return ((const int32_t *)p)[i];
    }
}

__attribute__((always_inline)) static inline int32_t qcc_iexp_dsp(const qcc_isoftmax_p *p, int32_t dd,
                                                                 int variant)
{
    if (variant == 0) {
        const int32_t z0 = (int32_t)((uint32_t)dd / (uint32_t)p->q_ln2);
        const int32_t z = z0 < p->z_max ? z0 : p->z_max;
        int32_t r = z * p->q_ln2 - dd, w;
        r = r < 1 - p->q_ln2 ? 1 - p->q_ln2 : r;
        w = r + p->q_b;
        return (w * w + p->q_c) >> (z + p->e_shift);
    } else {
        const int32_t f = p->frac_bits, t = -dd + ((-dd) >> 1) - ((-dd) >> 4);
        const int32_t q0 = (-t) >> f, q = q0 < p->z_max ? q0 : p->z_max;
        int32_t r = t + q * ((int32_t)1 << f);
        r = r < 1 - ((int32_t)1 << f) ? 1 - ((int32_t)1 << f) : r;
        return (((r >> 1) + ((int32_t)1 << f)) << (16 - f)) >> q;
    }
}

/* One row (variant < 0: the parameter's, tested per element; masked: a mask row is given, ml
 * its element stride; dt < 0: the parameter's, tested per element). */
__attribute__((always_inline)) static inline void
qcc_isoftmax_row_body(const qcc_isoftmax_p *p, const void *xr, const uint8_t *mrow, int32_t ml,
                      uint8_t *yr, int32_t *e, int dt, int variant, int masked)
{
    /* shifts below 33: nd pre-shifted by 33 - s (rshift_round(nd m, s) is that of nd 2^(33-s) m
     * by 33; the call's bound keeps it in int32) */
    const int32_t s33 = p->s < 33 ? 33 : p->s, lsh = s33 - p->s;
    const int32_t len = p->len, m = p->m, c0 = (int32_t)1 << (s33 - 33), sh = s33 - 32;
    int32_t j, any = 0, xmax = 0, thr;
    int64_t sum = 0, factor;
    for (j = 0; j < len; j++) {
        const int32_t v = qcc_ldx(xr, (size_t)j, dt < 0 ? p->x_dt : dt);
        if (masked && mrow[(size_t)j * ml] != 0)
            continue;
        if (!any || v > xmax)
            xmax = v;
        any = 1;
    }
    {
        const int64_t t = (int64_t)xmax - p->d_clip;
        thr = t < INT32_MIN ? INT32_MIN : (int32_t)t;
    }
    for (j = 0; j < len; j++) {
        int32_t v = qcc_ldx(xr, (size_t)j, dt < 0 ? p->x_dt : dt), dd, ej;
        if (masked && mrow[(size_t)j * ml] != 0) {
            e[j] = 0;
            continue;
        }
        v = v < thr ? thr : v;
        dd = qcc_smmla((xmax - v) << lsh, m, c0) >> sh;
        ej = qcc_iexp_dsp(p, dd, variant < 0 ? p->variant : variant);
        e[j] = ej;
        sum += ej;
    }
    factor = sum > 0 ? (int64_t)(((uint64_t)1 << 40) / (uint64_t)sum) : 0;
    if (factor < ((int64_t)1 << 31)) {
        for (j = 0; j < len; j++)
            yr[j] = (uint8_t)__usat(qcc_smmulr(e[j], (int32_t)factor), 8);
    } else {
        for (j = 0; j < len; j++)
            yr[j] = (uint8_t)qcc_clamp(qcc_rshift_round(e[j] * factor, 32), 0, 255);
    }
}

#define QCC_ISOFTMAX_FORM(name, dt, variant, masked)                                          \
    static __attribute__((noinline, unused)) void name(const qcc_isoftmax_p *p, const void *xr, \
                                                       const uint8_t *mrow, int32_t ml,         \
                                                       uint8_t *yr, int32_t *e)                 \
    {                                                                                         \
        qcc_isoftmax_row_body(p, xr, mrow, ml, yr, e, dt, variant, masked);                   \
    }
QCC_ISOFTMAX_FORM(qcc_isoftmax_dsp_32_0, QCC_I32, 0, 0)
QCC_ISOFTMAX_FORM(qcc_isoftmax_dsp_32_0m, QCC_I32, 0, 1)
QCC_ISOFTMAX_FORM(qcc_isoftmax_dsp_32_1, QCC_I32, 1, 0)
QCC_ISOFTMAX_FORM(qcc_isoftmax_dsp_32_1m, QCC_I32, 1, 1)
QCC_ISOFTMAX_FORM(qcc_isoftmax_dsp_any, -1, -1, 1)  /* int8 / uint8 / int16 logits */

static inline void qcc_isoftmax_dsp_rows(const qcc_isoftmax_p *p, const void *x,
                                         const uint8_t *mask, uint8_t *y, int32_t *e)
{
    static const uint8_t one = 0;  /* the mask row of an unmasked call (never excluded) */
    const size_t es = p->x_dt == QCC_I32 ? 4 : (p->x_dt == QCC_I16 ? 2 : 1);
    const int form = p->x_dt == QCC_I32 ? 2 * (p->variant != 0) + (mask != NULL) : 4;
    int32_t i0, i1, i2;
    size_t base = 0;
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++) {
                const uint8_t *mrow = mask == NULL ? &one
                    : mask + (size_t)i0 * p->ms[0] + (size_t)i1 * p->ms[1] + (size_t)i2 * p->ms[2];
                const int32_t ml = mask == NULL ? 0 : p->ml;
                const void *xr = (const char *)x + base * es;
                switch (form) {  /* direct calls (the static stack bound) */
                case 0: qcc_isoftmax_dsp_32_0(p, xr, mrow, ml, y + base, e); break;
                case 1: qcc_isoftmax_dsp_32_0m(p, xr, mrow, ml, y + base, e); break;
                case 2: qcc_isoftmax_dsp_32_1(p, xr, mrow, ml, y + base, e); break;
                case 3: qcc_isoftmax_dsp_32_1m(p, xr, mrow, ml, y + base, e); break;
                default: qcc_isoftmax_dsp_any(p, xr, mrow, ml, y + base, e); break;
                }
                base += (size_t)p->len;
            }
}

static inline int qcc_isoftmax_dsp(const qcc_isoftmax_p *p, const void *x, const uint8_t *mask,
                                   uint8_t *y, int32_t *e)
{
    const int64_t big = (int64_t)1 << 31;
    int64_t dmax;
    if (p->x_dt == QCC_I64 || p->m < 0 || p->s < 1 || p->s > 62 || p->d_clip < 0 || p->z_max < 0
        || (p->s < 33 && ((int64_t)p->d_clip << (33 - p->s)) >= big))
        return 0;
    dmax = ((int64_t)p->d_clip * p->m + ((int64_t)1 << (p->s - 1))) >> p->s;
    if (dmax >= ((int64_t)1 << 30))
        return 0;
    if (p->variant == 0) {
        const int64_t wl = (int64_t)p->q_b - p->q_ln2 + 1, wh = p->q_b;
        int64_t sqmax, sqmin;
        if (p->q_ln2 <= 0 || p->e_shift < 0 || p->z_max + (int64_t)p->e_shift > 31
            || wl <= -46341 || wh >= 46341 || wl > wh)
            return 0;
        sqmax = wl * wl > wh * wh ? wl * wl : wh * wh;
        sqmin = wl <= 0 && wh >= 0 ? 0 : (wl * wl < wh * wh ? wl * wl : wh * wh);
        if (sqmax + p->q_c >= big || sqmin + p->q_c < -big)
            return 0;
    } else if (p->variant != 1 || p->frac_bits < 0 || p->frac_bits > 16 || p->z_max > 31) {
        return 0;
    }
    qcc_isoftmax_dsp_rows(p, x, mask, y, e);
    return 1;
}
#endif
