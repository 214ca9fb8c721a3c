/* Host SIMD variant for AArch64 with the dot product extension (docs/target_c.md "ISA
 * variants"): after simd.h and simd_sse2.h; the shared helpers follow in simd_common.h. */
#if !defined(QCC_PORTABLE) && !defined(QCC_SIMD) && defined(__aarch64__) && defined(__ARM_NEON) \
    && defined(__ARM_FEATURE_DOTPROD)
/* AArch64 NEON with the dot product extension (Armv8.2-A+dotprod: Cortex-A55/A76 and later,
 * Apple, Neoverse): SDOT, 16 s8 x s8 products into 4 int32 lanes. The activation operand is x
 * (int8) or x - 128 (uint8), and sum w*(x - zp) = sum w*v - (zp + off)*sum w modulo 2^32, as
 * for VNNI. A qcc_v8 is two int32x4 vectors. */
#include <arm_neon.h>
#define QCC_SIMD 1
#define QCC_SIMD_NEON 1
#define QCC_SIMD_CORR 1
#define QCC_SIMD_CH 16
#define QCC_SIMD_FLIP 0x00
typedef int32x4x2_t qcc_v8;

/* Lane j = sum over steps t < n (n a multiple of 16) of (a_j[t] ^ flip) * w_j[t], a_j / w_j as
 * for x86; zp unused (the caller corrects). */
static inline qcc_v8 qcc_simd_dot8(const uint8_t *const *a, const uint8_t *a0, const int8_t *const *w,
                                   const int8_t *w0, int32_t n, uint8_t flip, int32_t zp)
{
    const uint8x16_t fv = vdupq_n_u8(flip);
    int32x4_t s0 = vdupq_n_s32(0), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    qcc_v8 r;
    int32_t t;
    (void)zp;
#define QCC_SIMD_LANE(j, s) s = vdotq_s32(s, vreinterpretq_s8_u8(veorq_u8(vld1q_u8((a ? a[j] : a0) + t), fv)), \
                                          vld1q_s8((w ? w[j] : w0) + t))
    QCC_SIMD_DOT8_LOOP(n, QCC_SIMD_LANE)
#undef QCC_SIMD_LANE
    r.val[0] = vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
    r.val[1] = vpaddq_s32(vpaddq_s32(s4, s5), vpaddq_s32(s6, s7));
    return r;
}

static inline qcc_v8 qcc_v8_load(const int32_t *p)
{
    qcc_v8 r;
    r.val[0] = vld1q_s32(p);
    r.val[1] = vld1q_s32(p + 4);
    return r;
}

static inline qcc_v8 qcc_v8_add(qcc_v8 a, qcc_v8 b)
{
    a.val[0] = vaddq_s32(a.val[0], b.val[0]);
    a.val[1] = vaddq_s32(a.val[1], b.val[1]);
    return a;
}

static inline qcc_v8 qcc_v8_sub(qcc_v8 a, qcc_v8 b)
{
    a.val[0] = vsubq_s32(a.val[0], b.val[0]);
    a.val[1] = vsubq_s32(a.val[1], b.val[1]);
    return a;
}

static inline qcc_v8 qcc_v8_set1(int32_t v)
{
    qcc_v8 r;
    r.val[0] = r.val[1] = vdupq_n_s32(v);
    return r;
}

static inline void qcc_v8_store(int32_t *p, qcc_v8 v)
{
    vst1q_s32(p, v.val[0]);
    vst1q_s32(p + 4, v.val[1]);
}

/* 8 int64 lanes (per-group weights, in 64 bits). */
typedef struct {
    int64x2_t v[4];
} qcc_v8w;

static inline qcc_v8w qcc_v8w_madd(qcc_v8w acc, qcc_v8 x, qcc_v8 g)
{
    acc.v[0] = vmlal_s32(acc.v[0], vget_low_s32(x.val[0]), vget_low_s32(g.val[0]));
    acc.v[1] = vmlal_high_s32(acc.v[1], x.val[0], g.val[0]);
    acc.v[2] = vmlal_s32(acc.v[2], vget_low_s32(x.val[1]), vget_low_s32(g.val[1]));
    acc.v[3] = vmlal_high_s32(acc.v[3], x.val[1], g.val[1]);
    return acc;
}

/* floor((x + 2^(s-1)) / 2^s) per lane (SRSHL), truncated to int32. */
static inline qcc_v8 qcc_v8w_round(qcc_v8w acc, int32_t s)
{
    const int64x2_t ns = vdupq_n_s64(-s);
    qcc_v8 r;
    r.val[0] = vcombine_s32(vmovn_s64(vrshlq_s64(acc.v[0], ns)), vmovn_s64(vrshlq_s64(acc.v[1], ns)));
    r.val[1] = vcombine_s32(vmovn_s64(vrshlq_s64(acc.v[2], ns)), vmovn_s64(vrshlq_s64(acc.v[3], ns)));
    return r;
}

static inline qcc_v8w qcc_v8w_init(qcc_v8 b, int32_t s)
{
    const int64x2_t sh = vdupq_n_s64(s);
    qcc_v8w r;
    r.v[0] = vshlq_s64(vmovl_s32(vget_low_s32(b.val[0])), sh);
    r.v[1] = vshlq_s64(vmovl_high_s32(b.val[0]), sh);
    r.v[2] = vshlq_s64(vmovl_s32(vget_low_s32(b.val[1])), sh);
    r.v[3] = vshlq_s64(vmovl_high_s32(b.val[1]), sh);
    return r;
}

/* Four lanes of qcc_requant: SMULL, then SRSHL by -s (the rounding right shift, computed
 * without intermediate overflow, ties toward +inf), + zp, a saturating narrow (order
 * preserving, so clamping after it equals clamping the int64), the clamp. */
static inline int32x4_t qcc_simd_requant4(int32x4_t acc, int32x4_t m, int32x4_t s, int64x2_t zp,
                                          int32x4_t lo, int32x4_t hi)
{
    const int64x2_t ns0 = vnegq_s64(vmovl_s32(vget_low_s32(s))), ns1 = vnegq_s64(vmovl_high_s32(s));
    const int64x2_t r0 = vaddq_s64(vrshlq_s64(vmull_s32(vget_low_s32(acc), vget_low_s32(m)), ns0), zp);
    const int64x2_t r1 = vaddq_s64(vrshlq_s64(vmull_high_s32(acc, m), ns1), zp);
    return vminq_s32(vmaxq_s32(vcombine_s32(vqmovn_s64(r0), vqmovn_s64(r1)), lo), hi);
}

static inline qcc_v8 qcc_v8_requant(qcc_v8 acc, qcc_v8 m, qcc_v8 s, int32_t zp, int32_t lo, int32_t hi)
{
    const int64x2_t z = vdupq_n_s64(zp);
    const int32x4_t l = vdupq_n_s32(lo), h = vdupq_n_s32(hi);
    acc.val[0] = qcc_simd_requant4(acc.val[0], m.val[0], s.val[0], z, l, h);
    acc.val[1] = qcc_simd_requant4(acc.val[1], m.val[1], s.val[1], z, l, h);
    return acc;
}

/* The first nv (1..8) lanes, each in [-128, 127], as int8. */
static inline void qcc_v8_store_i8(int8_t *y, qcc_v8 v, int32_t nv)
{
    const int8x8_t b = vqmovn_s16(vcombine_s16(vqmovn_s32(v.val[0]), vqmovn_s32(v.val[1])));
    if (nv == 8)
        vst1_s8(y, b);
    else {
        int8_t t[8];
        vst1_s8(t, b);
        memcpy(y, t, (size_t)nv);
    }
}

#endif
