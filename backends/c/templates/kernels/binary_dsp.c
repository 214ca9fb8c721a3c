#ifdef QCC_ARM_DSP
/* Arm DSP int8 add / sub (op 0 / 1, int8 in and out, shift s in [10, 62]): the zero points and
 * the rounding term folded into one 64-bit constant, K = 2^(s-1) - a_zp*ma - b_zp*mb, so
 * rshift_round(A*ma + B*mb, s) = (K + a*ma + b*mb) >> s: two SMLALs and a 64-bit shift per
 * element, then the output zero point and SSAT (|value| < 2^(40-s) + 1, so s >= 10 keeps it
 * in int32). Returns 0 (nothing done) outside these conditions. */
static inline int qcc_binary_row_dsp(const qcc_binary_p *p, const int8_t *ar, const int8_t *br,
                                     int8_t *yr)
{
    const int32_t n = p->d[3], sa = p->sa[3], sb = p->sb[3], s = p->s, ma = p->ma;
    const int32_t mb = p->op == 1 ? -p->mb : p->mb, zp = p->y_zp, lo = p->lo, hi = p->hi;
    const int narrow = lo > -128 || hi < 127;
    int64_t k;
    int32_t j;
    if (p->op > 1 || s < 10 || s > 62 || p->mb == INT32_MIN)
        return 0;
    k = ((int64_t)1 << (s - 1)) - (int64_t)p->a_zp * ma - (int64_t)p->b_zp * mb;
    if (s >= 32) {
        const int32_t sh = s - 32;
        for (j = 0; j < n; j++) {
            const int64_t acc = k + (int64_t)ar[j * sa] * ma + (int64_t)br[j * sb] * mb;
            int32_t r = __ssat(((int32_t)(acc >> 32) >> sh) + zp, 8);
            if (narrow)
                r = r < lo ? lo : (r > hi ? hi : r);
            yr[j] = (int8_t)r;
        }
    } else {
        for (j = 0; j < n; j++) {
            const int64_t acc = k + (int64_t)ar[j * sa] * ma + (int64_t)br[j * sb] * mb;
            int32_t r = __ssat((int32_t)(acc >> s) + zp, 8);
            if (narrow)
                r = r < lo ? lo : (r > hi ? hi : r);
            yr[j] = (int8_t)r;
        }
    }
    return 1;
}
#endif
