#ifdef QCC_SIMD
/* The host SIMD builds' int8 add / sub / mul (docs/target_c.md "ISA variants"), bit-exact
 * with qcc_binary_one:
 *   add / sub (int8 a, b, y): on x86, contiguous rows in int16 / int32 lanes (binary_x86.c)
 *     when its multipliers and shift fit; else y = clamp(((TA[a] + TB[b]) >> s) + zp) with the two 256-entry
 *     int64 tables TA[a] = (a - a_zp)*ma + 2^(s-1) and TB[b] = +-(b - b_zp)*mb, built once per
 *     call (|products| < 2^39: exact), two loads, an add and a shift per element;
 *   mul (int8 a; int8 b, or int16 b constant along the row, e.g. a PReLU slope per channel):
 *     the exact int32 products (|A*B| <= 255 * 65535 < 2^31) of a chunk of the row, then the
 *     conv epilogue's vector requantization (qcc_requant_i8_u64, SSE2 on x86; its scalar
 *     reference qcc_requant_i8_row when the multiplier or shift falls outside its range);
 *     with the int16 b constant along a row of 1024 or more, a table of y for the 256 values
 *     of a (qcc_requant of each, so the same integers), one load per element.
 * Scratch: 4 KiB of tables or 1 KiB of products on the stack. 0: not taken (other dtypes and
 * ops, rows shorter than 16). */
#define QCC_BIN_CHUNK 256
#define QCC_BIN_LUT 1024  /* rows at least this long with a constant int16 b: a 256-entry table */

static inline void qcc_binary_addrow_host(const qcc_binary_p *p, const int64_t *ta, const int64_t *tb,
                                          const int8_t *ar, const int8_t *br, int8_t *yr)
{
    const int32_t n = p->d[3], sa = p->sa[3], sb = p->sb[3], s = p->s, zp = p->y_zp;
    const int32_t lo = p->lo, hi = p->hi;
    int32_t j;
    for (j = 0; j < n; j++) {
        const int64_t v = ((ta[(uint8_t)ar[(size_t)j * sa]] + tb[(uint8_t)br[(size_t)j * sb]]) >> s) + zp;
        yr[j] = (int8_t)(v < lo ? lo : (v > hi ? hi : v));
    }
}

static inline void qcc_binary_mulrow_host(const qcc_binary_p *p, const int8_t *ar, const void *b,
                                          size_t ob, int8_t *yr)
{
    const int32_t n = p->d[3], sa = p->sa[3], sb = p->sb[3], azp = p->a_zp, bzp = p->b_zp;
    int32_t acc[QCC_BIN_CHUNK], c, j;
    if (p->b_dt == QCC_I16 && n >= QCC_BIN_LUT) {  /* b constant along the row: y is a function of a */
        const int64_t bv = (int64_t)((const int16_t *)b)[ob] - bzp;
        int8_t lut[256];
        for (j = -128; j < 128; j++)
            lut[(uint8_t)j] = (int8_t)qcc_requant(((int64_t)j - azp) * bv, p->ma, p->s, p->y_zp, p->lo, p->hi);
        for (j = 0; j < n; j++)
            yr[j] = lut[(uint8_t)ar[(size_t)j * sa]];
        return;
    }
    for (c = 0; c < n; c += QCC_BIN_CHUNK) {  /* products read before y is written: in place is safe */
        const int32_t len = n - c < QCC_BIN_CHUNK ? n - c : QCC_BIN_CHUNK;
        const int8_t *a0 = ar + (size_t)c * sa;
        if (p->b_dt == QCC_I16) {
            const int32_t bv = (int32_t)((const int16_t *)b)[ob] - bzp;
            for (j = 0; j < len; j++)
                acc[j] = ((int32_t)a0[(size_t)j * sa] - azp) * bv;
        } else {
            const int8_t *b0 = (const int8_t *)b + ob + (size_t)c * sb;
            for (j = 0; j < len; j++)
                acc[j] = ((int32_t)a0[(size_t)j * sa] - azp) * ((int32_t)b0[(size_t)j * sb] - bzp);
        }
        if (!qcc_requant_i8_u64(acc, len, p->ma, p->s, p->y_zp, p->lo, p->hi, yr + c))
            qcc_requant_i8_row(acc, len, p->ma, p->s, p->y_zp, p->lo, p->hi, yr + c);
    }
}

static inline int qcc_binary_host(const qcc_binary_p *p, const void *a, const void *b, void *y)
{
    const int add = p->op == 0 || p->op == 1;
    int64_t ta[256], tb[256];
    int32_t i0, i1, i2, v;
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
    qcc_add16_k k;
#endif
    size_t o = 0;
    if (p->a_dt != QCC_I8 || p->y_dt != QCC_I8 || p->d[3] < 16 || p->op > 2)
        return 0;
    if (!(p->b_dt == QCC_I8 || (p->op == 2 && p->b_dt == QCC_I16 && p->sb[3] == 0)))
        return 0;
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
    if (add && p->sa[3] == 1 && p->sb[3] == 1 && qcc_add16_setup(p, &k)) {
        for (i0 = 0; i0 < p->d[0]; i0++)
            for (i1 = 0; i1 < p->d[1]; i1++)
                for (i2 = 0; i2 < p->d[2]; i2++) {
                    const size_t oa = (size_t)i0 * p->sa[0] + (size_t)i1 * p->sa[1] + (size_t)i2 * p->sa[2];
                    const size_t ob = (size_t)i0 * p->sb[0] + (size_t)i1 * p->sb[1] + (size_t)i2 * p->sb[2];
                    qcc_add16_row(&k, (const int8_t *)a + oa, (const int8_t *)b + ob, (int8_t *)y + o, p->d[3]);
                    o += (size_t)p->d[3];
                }
        return 1;
    }
#endif
    if (add)
        for (v = -128; v < 128; v++) {
            const int64_t mb = p->op == 1 ? -(int64_t)p->mb : (int64_t)p->mb;
            ta[(uint8_t)v] = (int64_t)(v - p->a_zp) * p->ma + ((int64_t)1 << (p->s - 1));
            tb[(uint8_t)v] = (int64_t)(v - p->b_zp) * mb;
        }
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++) {
                const size_t oa = (size_t)i0 * p->sa[0] + (size_t)i1 * p->sa[1] + (size_t)i2 * p->sa[2];
                const size_t ob = (size_t)i0 * p->sb[0] + (size_t)i1 * p->sb[1] + (size_t)i2 * p->sb[2];
                if (add)
                    qcc_binary_addrow_host(p, ta, tb, (const int8_t *)a + oa, (const int8_t *)b + ob,
                                           (int8_t *)y + o);
                else
                    qcc_binary_mulrow_host(p, (const int8_t *)a + oa, b, ob, (int8_t *)y + o);
                o += (size_t)p->d[3];
            }
    return 1;
}
#endif
