/* Integer arithmetic shared by every kernel (docs/arithmetic.md). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The requantization relies on >> of a negative int64 being an arithmetic
 * (flooring) shift, as on gcc, clang, armcc and IAR; refuse other compilers. */
typedef char qcc_arithmetic_shift_check[((-8 >> 1) == -4) ? 1 : -1];

/* (x + 2^(s-1)) >> s: round to nearest, ties toward +inf; s in [1, 62]. */
static inline int64_t qcc_rshift_round(int64_t x, int32_t s)
{
    return (x + ((int64_t)1 << (s - 1))) >> s;
}

static inline int32_t qcc_clamp(int64_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}

/* clamp(rshift_round(acc * m, s) + zp, lo, hi), all in int64. */
static inline int32_t qcc_requant(int64_t acc, int32_t m, int32_t s, int32_t zp,
                                  int32_t lo, int32_t hi)
{
    return qcc_clamp(qcc_rshift_round(acc * m, s) + zp, lo, hi);
}

/* floor(n / d) for d > 0. */
static inline int64_t qcc_floordiv(int64_t n, int64_t d)
{
    const int64_t q = n / d;
    return q * d > n ? q - 1 : q;
}

/* One plane of int8 outputs of qcc_requant(acc, m, s, zp, lo, hi), bit-exact, with unsigned
 * 32x32->64 products and logical shifts that gcc vectorizes (SSE2 pmuludq/psrlq: there is no
 * signed 64-bit multiply or arithmetic shift). acc is clamped to [alo, ahi], outside of which
 * the output saturates anyway; then acc*m + 2^(s-1) = d*m + C with d = acc - alo >= 0 and
 * C = alo*m + 2^(s-1) = cq*2^s + cr, 0 <= cr < 2^s, so the rounded shift is
 * cq + ((d*m + cr) >> s), all unsigned. Returns 0 (nothing written) unless m > 0,
 * 1 <= s <= 43 and (ahi - alo)*m + cr < 2^(s+20) (the unsigned part fits 20 bits). */
static inline int qcc_requant_i8_u64(const int32_t *restrict acc, int32_t n, int32_t m, int32_t s,
                                     int32_t zp, int32_t lo, int32_t hi, int8_t *restrict y)
{
    int64_t one, alo, ahi, c, cq;
    uint64_t cr;
    int32_t q, lo32, hi32, base;
    uint32_t um;
    if (m <= 0 || s < 1 || s > 43 || lo > hi)
        return 0;
    one = (int64_t)1 << s;
    ahi = -qcc_floordiv(-(int64_t)(hi - zp) * one, m);    /* acc >= ahi: output >= hi */
    alo = qcc_floordiv((int64_t)(lo - zp - 1) * one, m);  /* acc <= alo: output < lo */
    alo = alo < INT32_MIN ? INT32_MIN : alo;
    ahi = ahi > INT32_MAX ? INT32_MAX : ahi;
    if (ahi < alo)
        return 0;
    c = alo * m + one / 2;
    cq = qcc_floordiv(c, one);
    cr = (uint64_t)(c - cq * one);
    if ((uint64_t)(ahi - alo) * (uint64_t)m + cr >= ((uint64_t)1 << (s + 20))
        || cq + zp < -(1 << 28) || cq + zp > (1 << 28))
        return 0;
    lo32 = (int32_t)alo, hi32 = (int32_t)ahi, base = (int32_t)(cq + zp), um = (uint32_t)m;
    for (q = 0; q < n; q++) {
        int32_t a = acc[q], r;
        uint32_t d;
        a = a < lo32 ? lo32 : a;
        a = a > hi32 ? hi32 : a;
        d = (uint32_t)a - (uint32_t)lo32;
        r = (int32_t)(uint32_t)(((uint64_t)d * um + cr) >> s) + base;
        r = r < lo ? lo : r;
        y[q] = (int8_t)(r > hi ? hi : r);
    }
    return 1;
}

/* Element types of the dtype-generic kernels. */
enum { QCC_I8 = 0, QCC_U8 = 1, QCC_I16 = 2, QCC_I32 = 3, QCC_I64 = 4 };

static inline int64_t qcc_load(const void *p, size_t i, int32_t dt)
{
    switch (dt) {
    case QCC_I8: return ((const int8_t *)p)[i];
    case QCC_U8: return ((const uint8_t *)p)[i];
    case QCC_I16: return ((const int16_t *)p)[i];
    case QCC_I32: return ((const int32_t *)p)[i];
    default: return ((const int64_t *)p)[i];
    }
}

static inline void qcc_store(void *p, size_t i, int32_t dt, int32_t v)
{
    switch (dt) {
    case QCC_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case QCC_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case QCC_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    default: ((int32_t *)p)[i] = v; break;
    }
}

#define QCC_OK 0
#define QCC_ERR_INDEX 1 /* a run-time index (e.g. a token id) is out of range */

/* Weight t of one row of a constant weight matrix stored at `bits` per value: 8 = plain
 * int8; 4 / 2 = packed int4 / int2, little-endian fields within each byte (two / four
 * values per byte, each row starting on a byte), sign-extended without shifts of negatives. */
static inline int32_t qcc_wget(const int8_t *row, int32_t t, int32_t bits)
{
    if (bits == 8)
        return row[t];
    {
        const int32_t per = 8 / bits, sh = (t % per) * bits;
        const int32_t v = ((int32_t)((const uint8_t *)row)[t / per] >> sh) & ((1 << bits) - 1);
        return v - ((v >> (bits - 1)) << bits);
    }
}

/* sum over t < len of w[k0 + t] * c[t]: int8 (or packed) weights times int16 activations,
 * a reduction the compiler turns into 16-bit multiply-accumulate pairs (pmaddwd / SMLAD). */
static inline int32_t qcc_dot_w(const int8_t *row, int32_t bits, int32_t k0, const int16_t *c,
                                int32_t len)
{
    int32_t acc = 0, t;
    if (bits == 8) {
        const int8_t *w = row + k0;
        for (t = 0; t < len; t++)
            acc += (int32_t)w[t] * c[t];
        return acc;
    }
    for (t = 0; t < len; t++)
        acc += qcc_wget(row, k0 + t, bits) * c[t];
    return acc;
}

/* Four rows at once, int8 weights (rows `stride` bytes apart) times one int16 column:
 * each column element is loaded once for four multiply-accumulates. */
static inline void qcc_dot4_w8(const int8_t *w, size_t stride, const int16_t *c, int32_t len,
                               int32_t acc[4])
{
    const int8_t *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, t;
    for (t = 0; t < len; t++) {
        const int32_t cv = c[t];
        a0 += (int32_t)w0[t] * cv;
        a1 += (int32_t)w1[t] * cv;
        a2 += (int32_t)w2[t] * cv;
        a3 += (int32_t)w3[t] * cv;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
