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
#ifdef QCC_ARM_DSP
/* Arm DSP add / sub of int8 / int16 operands and outputs in 32-bit registers, four 16x16
 * multiply-accumulates (SMLABB) per element instead of 64-bit products: with each multiplier
 * split as m = mh 2^16 + ml (mh, ml signed 16-bit) and the zero points, the rounding term and
 * the output zero point folded into K = 2^(s-1) - a_zp ma - b_zp mb + y_zp 2^s = kh 2^16 + kl
 * (0 <= kl < 2^16), the sum T = a ma + b mb + K is H 2^16 + L with H = a mah + b mbh + kh and
 * L = a mal + b mbl + kl, so floor(T / 2^s) = (H + (L >> 16)) >> (s - 16) for s >= 16: the same
 * integer as the int64 form, when the call's bounds show H, L and their sum inside int32.
 * Then the bounds (SSAT when they are the output type's). Returns 0 outside these conditions. */
typedef struct {
    int32_t mah, mal, mbh, mbl, kh, kl, sh, lo, hi;
} qcc_addk;

/* Out of line: its int64 bounds would otherwise widen the frame of the row loop's caller. */
static __attribute__((noinline, unused)) int qcc_addk_init(const qcc_binary_p *p, qcc_addk *k)
{
    const int64_t ma = p->ma, mb = p->op == 1 ? -(int64_t)p->mb : p->mb, s = p->s;
    const int64_t am = p->a_dt == QCC_I8 ? 128 : 32768, bm = p->b_dt == QCC_I8 ? 128 : 32768;
    int64_t kk, hmax, lmax;
    if (p->op > 1 || s < 16 || s > 46 || p->a_zp < -65536 || p->a_zp > 65536 || p->b_zp < -65536
        || p->b_zp > 65536 || p->y_zp < -65536 || p->y_zp > 65536)
        return 0;
    k->mah = (int32_t)((ma + 32768) >> 16), k->mal = (int32_t)(ma - ((ma + 32768) >> 16) * 65536);
    k->mbh = (int32_t)((mb + 32768) >> 16), k->mbl = (int32_t)(mb - ((mb + 32768) >> 16) * 65536);
    if (k->mah > 32767 || k->mbh > 32767 || k->mbh < -32768)
        return 0;
    kk = ((int64_t)1 << (s - 1)) - (int64_t)p->a_zp * ma - (int64_t)p->b_zp * mb
         + (int64_t)p->y_zp * ((int64_t)1 << s);
    hmax = am * (k->mah < 0 ? -k->mah : k->mah) + bm * (k->mbh < 0 ? -k->mbh : k->mbh)
           + (kk < 0 ? -(kk >> 16) : (kk >> 16));
    lmax = am * (k->mal < 0 ? -k->mal : k->mal) + bm * (k->mbl < 0 ? -k->mbl : k->mbl)
           + 65535;
    if (hmax >= ((int64_t)1 << 31) - 65536 || lmax >= ((int64_t)1 << 31))
        return 0;
    k->kh = (int32_t)(kk >> 16), k->kl = (int32_t)(kk & 65535);
    k->sh = (int32_t)(s - 16), k->lo = p->lo, k->hi = p->hi;
    return 1;
}

/* One row of n elements: a and b at element strides sa / sb (0: broadcast) when strided, else
 * contiguous; narrow: bounds tighter than the output type's. (a, b) packed by PKHBT into one
 * register, so that H and L are one SMLAD each against the packed (mah, mbh) and (mal, mbl). */
__attribute__((always_inline)) static inline void
qcc_add_dsp_body(const qcc_addk *k, const void *a, int32_t sa, const void *b, int32_t sb, void *y,
                 int32_t n, int adt, int bdt, int ydt, int narrow, int strided)
{
    const int32_t mh = (int32_t)(((uint32_t)k->mah & 65535) | ((uint32_t)k->mbh << 16));
    const int32_t ml = (int32_t)(((uint32_t)k->mal & 65535) | ((uint32_t)k->mbl << 16));
    const int32_t kh = k->kh, kl = k->kl, sh = k->sh, lo = k->lo, hi = k->hi;
    int32_t j;
    for (j = 0; j < n; j++) {
        const int32_t av = qcc_ld816(a, strided ? j * sa : j, adt);
        const int32_t bv = qcc_ld816(b, strided ? j * sb : j, bdt);
        const int32_t ab = (int32_t)(((uint32_t)av & 65535) | ((uint32_t)bv << 16));
        int32_t r = (__smlad(ab, mh, kh) + (__smlad(ab, ml, kl) >> 16)) >> sh;
        if (narrow)
            r = r < lo ? lo : (r > hi ? hi : r);
        else
            r = ydt == QCC_I8 ? __ssat(r, 8) : __ssat(r, 16);
        if (ydt == QCC_I8)
            ((int8_t *)y)[j] = (int8_t)r;
        else
            ((int16_t *)y)[j] = (int16_t)r;
    }
}

/* The int8 + int8 -> int8 contiguous rows four elements per step: one word of four a and of
 * four b, SXTB16 / SXTB16 ror 8 to the pairs (a0, a2), (a1, a3), (b0, b2), (b1, b3), PKHBT /
 * PKHTB to (a_i, b_i), the two SMLADs per element as above, the four bytes packed by BFI into
 * one word store (about 9 instructions per element against 12 for the element loop); the
 * n % 4 last elements by qcc_add_dsp_body. Returns the elements done. */
__attribute__((always_inline)) static inline int32_t
qcc_add_dsp_w4(const qcc_addk *k, const int8_t *a, const int8_t *b, int8_t *y, int32_t n,
               int narrow)
{
    const int32_t mh = (int32_t)(((uint32_t)k->mah & 65535) | ((uint32_t)k->mbh << 16));
    const int32_t ml = (int32_t)(((uint32_t)k->mal & 65535) | ((uint32_t)k->mbl << 16));
    const int32_t kh = k->kh, kl = k->kl, sh = k->sh, lo = k->lo, hi = k->hi, n4 = n & ~3;
    int32_t j;
#define QCC_ADD_W4_OUT(r, ab)                                                                  \
    r = (__smlad(ab, mh, kh) + (__smlad(ab, ml, kl) >> 16)) >> sh;                             \
    r = narrow ? (r < lo ? lo : (r > hi ? hi : r)) : __ssat(r, 8)
    for (j = 0; j < n4; j += 4) {
        uint32_t aw, bw, ao, bo, p0, p1, p2, p3;
        int32_t r0, r1, r2, r3;
        memcpy(&aw, a + j, sizeof aw);
        memcpy(&bw, b + j, sizeof bw);
        __asm__("sxtb16 %0, %1, ror #8" : "=r"(ao) : "r"(aw));
        __asm__("sxtb16 %0, %1, ror #8" : "=r"(bo) : "r"(bw));
        aw = (uint32_t)__sxtb16(aw), bw = (uint32_t)__sxtb16(bw);
        __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(p0) : "r"(aw), "r"(bw));
        __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(p1) : "r"(ao), "r"(bo));
        __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(p2) : "r"(bw), "r"(aw));
        __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(p3) : "r"(bo), "r"(ao));
        QCC_ADD_W4_OUT(r0, (int32_t)p0);
        QCC_ADD_W4_OUT(r1, (int32_t)p1);
        QCC_ADD_W4_OUT(r2, (int32_t)p2);
        QCC_ADD_W4_OUT(r3, (int32_t)p3);
        __asm__("bfi %0, %1, #8, #8" : "+r"(r0) : "r"(r1));
        __asm__("bfi %0, %1, #16, #8" : "+r"(r0) : "r"(r2));
        __asm__("bfi %0, %1, #24, #8" : "+r"(r0) : "r"(r3));
        memcpy(y + j, &r0, sizeof r0);
    }
#undef QCC_ADD_W4_OUT
    return n4;
}

#define QCC_ADD_FORM8(name, narrow)                                                            \
    static __attribute__((noinline, unused)) void name(const qcc_addk *k, const void *a,         \
                                                       int32_t sa, const void *b, int32_t sb,    \
                                                       void *y, int32_t n)                       \
    {                                                                                          \
        const int32_t j = qcc_add_dsp_w4(k, (const int8_t *)a, (const int8_t *)b, (int8_t *)y,  \
                                         n, narrow);                                           \
        (void)sa, (void)sb;                                                                    \
        qcc_add_dsp_body(k, (const int8_t *)a + j, 1, (const int8_t *)b + j, 1,                 \
                         (int8_t *)y + j, n - j, QCC_I8, QCC_I8, QCC_I8, narrow, 0);            \
    }
QCC_ADD_FORM8(qcc_add_dsp_888, 0)
QCC_ADD_FORM8(qcc_add_dsp_888n, 1)

#define QCC_ADD_FORM(name, adt, bdt, ydt, narrow)                                              \
    static __attribute__((noinline, unused)) void name(const qcc_addk *k, const void *a,         \
                                                       int32_t sa, const void *b, int32_t sb,    \
                                                       void *y, int32_t n)                       \
    {                                                                                          \
        (void)sa, (void)sb;                                                                    \
        qcc_add_dsp_body(k, a, 1, b, 1, y, n, adt, bdt, ydt, narrow, 0);                       \
    }
QCC_ADD_FORM(qcc_add_dsp_8_16, QCC_I8, QCC_I16, QCC_I16, 0)
QCC_ADD_FORM(qcc_add_dsp_16_8, QCC_I16, QCC_I8, QCC_I16, 0)
QCC_ADD_FORM(qcc_add_dsp_16_16, QCC_I16, QCC_I16, QCC_I16, 0)
QCC_ADD_FORM(qcc_add_dsp_88_16, QCC_I8, QCC_I8, QCC_I16, 0)

/* Strided (broadcast) rows and the other dtype / bound combinations: dtypes tested per element. */
static __attribute__((noinline, unused)) void qcc_add_dsp_any(const qcc_addk *k, const void *a,
                                                              int32_t sa, const void *b, int32_t sb,
                                                              void *y, int32_t n, int32_t adt,
                                                              int32_t bdt, int32_t ydt)
{
    if (adt == QCC_I8 && bdt == QCC_I8 && ydt == QCC_I8)
        qcc_add_dsp_body(k, a, sa, b, sb, y, n, QCC_I8, QCC_I8, QCC_I8, 1, 1);
    else
        qcc_add_dsp_body(k, a, sa, b, sb, y, n, adt, bdt, ydt, 1, 1);
}

/* The SMLABB form of a whole add / sub call (0 when it does not apply: other dtypes, shifts
 * below 16, bounds that fail, int16 operands into an int8 output). */
static inline int qcc_binary_add_dsp(const qcc_binary_p *p, const void *a, const void *b, void *y)
{
    const int ok8 = p->a_dt == QCC_I8 || p->a_dt == QCC_I16, okb = p->b_dt == QCC_I8 || p->b_dt == QCC_I16;
    const size_t ea = p->a_dt == QCC_I8 ? 1 : 2, eb = p->b_dt == QCC_I8 ? 1 : 2;
    const size_t ey = p->y_dt == QCC_I8 ? 1 : 2;
    int form;  /* 0: strided / other (qcc_add_dsp_any); direct calls for the static stack bound */
    qcc_addk k;
    int32_t i0, i1, i2;
    size_t o = 0;
    if (!ok8 || !okb || (p->y_dt != QCC_I8 && p->y_dt != QCC_I16) || !qcc_addk_init(p, &k))
        return 0;
    if (p->y_dt == QCC_I8 && (p->a_dt != QCC_I8 || p->b_dt != QCC_I8))
        return 0;
    if (p->lo < (p->y_dt == QCC_I8 ? -128 : -32768) || p->hi > (p->y_dt == QCC_I8 ? 127 : 32767))
        return 0;
    if (p->sa[3] != 1 || p->sb[3] != 1)
        form = 0;
    else if (p->y_dt == QCC_I8)
        form = p->lo > -128 || p->hi < 127 ? 2 : 1;
    else if (p->lo > -32768 || p->hi < 32767)
        form = 0;
    else
        form = p->a_dt == QCC_I8 ? (p->b_dt == QCC_I8 ? 3 : 4) : (p->b_dt == QCC_I8 ? 5 : 6);
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++) {
                const size_t oa = (size_t)i0 * p->sa[0] + (size_t)i1 * p->sa[1] + (size_t)i2 * p->sa[2];
                const size_t ob = (size_t)i0 * p->sb[0] + (size_t)i1 * p->sb[1] + (size_t)i2 * p->sb[2];
                const void *ar = (const char *)a + oa * ea, *br = (const char *)b + ob * eb;
                void *yr = (char *)y + o * ey;
                switch (form) {
                case 1: qcc_add_dsp_888(&k, ar, 1, br, 1, yr, p->d[3]); break;
                case 2: qcc_add_dsp_888n(&k, ar, 1, br, 1, yr, p->d[3]); break;
                case 3: qcc_add_dsp_88_16(&k, ar, 1, br, 1, yr, p->d[3]); break;
                case 4: qcc_add_dsp_8_16(&k, ar, 1, br, 1, yr, p->d[3]); break;
                case 5: qcc_add_dsp_16_8(&k, ar, 1, br, 1, yr, p->d[3]); break;
                case 6: qcc_add_dsp_16_16(&k, ar, 1, br, 1, yr, p->d[3]); break;
                default:
                    qcc_add_dsp_any(&k, ar, p->sa[3], br, p->sb[3], yr, p->d[3], p->a_dt, p->b_dt,
                                    p->y_dt);
                    break;
                }
                o += (size_t)p->d[3];
            }
    return 1;
}

/* Arm DSP mul of int8 / int16 operands into an int8 / int16 output: the centred product A B in
 * int32 (the call's bound: max |A| max |B| < 2^31), then the SMMLA requantization (qcc_rqf) or
 * qcc_requant32; a row whose other operand is broadcast (stride 0) keeps it in a register. */
typedef struct {
    qcc_rqf q;
    int32_t za, zb, zp, lo, hi, lsh;  /* lsh: the pre-shift of qcc_rqf_init_pre */
} qcc_mulk;

__attribute__((always_inline)) static inline int32_t qcc_mul_out(const qcc_mulk *k, int32_t acc,
                                                                 int fast)
{
    int32_t r;
    if (!fast)
        return qcc_requant32(acc, k->q.m, k->q.s, k->zp, k->lo, k->hi);
    r = qcc_smmla(acc * ((int32_t)1 << k->lsh), k->q.m, k->q.c) >> k->q.sh;
    return r < k->lo ? k->lo : (r > k->hi ? k->hi : r);
}

/* sb = 0: b[0] for every element (bcast); strided: sa, sb element strides. */
__attribute__((always_inline)) static inline void
qcc_mul_dsp_body(const qcc_mulk *k, const void *a, int32_t sa, const void *b, int32_t sb, void *y,
                 int32_t n, int adt, int bdt, int ydt, int fast, int bcast, int strided)
{
    const int32_t za = k->za, bc = bcast ? qcc_ld816(b, 0, bdt) - k->zb : 0;
    int32_t j;
    for (j = 0; j < n; j++) {
        const int32_t av = qcc_ld816(a, strided ? j * sa : j, adt) - za;
        const int32_t bv = bcast ? bc : qcc_ld816(b, strided ? j * sb : j, bdt) - k->zb;
        const int32_t r = qcc_mul_out(k, av * bv, fast);
        if (ydt == QCC_I8)
            ((int8_t *)y)[j] = (int8_t)r;
        else
            ((int16_t *)y)[j] = (int16_t)r;
    }
}

static __attribute__((noinline, unused)) void
qcc_mul_dsp_888(const qcc_mulk *k, const void *a, const void *b, void *y, int32_t n)
{
    qcc_mul_dsp_body(k, a, 1, b, 1, y, n, QCC_I8, QCC_I8, QCC_I8, 1, 0, 0);
}

#ifdef QCC_ARM_GEMM4
/* The packed bytes of w clamped to [lo, hi] (each repeated in every byte): SSUB8 sets the GE
 * flags per byte, SEL picks by them. */
static inline uint32_t qcc_clamp8x4(uint32_t w, uint32_t lo, uint32_t hi)
{
    uint32_t t;
    __asm__("ssub8 %[t], %[w], %[lo]\n\t"
            "sel %[w], %[w], %[lo]\n\t"
            "ssub8 %[t], %[hi], %[w]\n\t"
            "sel %[w], %[w], %[hi]"
            : [w] "+r"(w), [t] "=&r"(t)
            : [lo] "r"(lo), [hi] "r"(hi)
            : "cc");
    return w;
}

/* BFI of the low byte of v into bits lsb .. lsb + 7 of w */
#define QCC_BFI8(w, v, lsb) __asm__("bfi %0, %1, #" #lsb ", #8" : "+r"(w) : "r"(v))

/* Four elements of qcc_mul_dsp_8b8 per word (bc in int16, za in int8's range): one word load,
 * SXTAB16 / SXTAB16 ror 8 against -za in each half make the centred pairs (a0, a2), (a1, a3)
 * (the integers of SSUB16 after SXTB16), SMLABB / SMLATB their products with bc (the same
 * int32 as (a - za) * bc), then SMMLA, shift and SSAT per element, the bytes packed by BFI
 * into one word store and, in the narrow form, clamped by SSUB8 / SEL; returns the elements
 * done (n rounded down to four). */
__attribute__((always_inline)) static inline int32_t
qcc_mul_dsp_8b8q(const qcc_mulk *k, int32_t za, const int8_t *a, int32_t bc, int8_t *y,
                 int32_t n, const int narrow)
{
    const int32_t m = k->q.m, c = k->q.c, sh = k->q.sh;
    const uint32_t nz2 = (uint16_t)(-za) * 0x00010001u, lo4 = (uint8_t)k->lo * 0x01010101u;
    const uint32_t hi4 = (uint8_t)k->hi * 0x01010101u;
    int32_t j;
    for (j = 0; j + 4 <= n; j += 4) {
        const uint32_t v = qcc_ld32(a + j);
        const int32_t e = (int32_t)__sxtab16(nz2, v), o = (int32_t)qcc_sxtab16_ror8(nz2, v);
        uint32_t w = (uint32_t)__ssat(qcc_smmla(__smlabb(e, bc, 0), m, c) >> sh, 8);
        const int32_t r1 = __ssat(qcc_smmla(__smlabb(o, bc, 0), m, c) >> sh, 8);
        const int32_t r2 = __ssat(qcc_smmla(__smlatb(e, bc, 0), m, c) >> sh, 8);
        const int32_t r3 = __ssat(qcc_smmla(__smlatb(o, bc, 0), m, c) >> sh, 8);
        QCC_BFI8(w, r1, 8);
        QCC_BFI8(w, r2, 16);
        QCC_BFI8(w, r3, 24);
        if (narrow)
            w = qcc_clamp8x4(w, lo4, hi4);
        memcpy(y + j, &w, sizeof w);
    }
    return j;
}

static inline int32_t qcc_mul_dsp_8b8w(const qcc_mulk *k, int32_t za, const int8_t *a,
                                       int32_t bc, int8_t *y, int32_t n)
{
    if (k->lo > -128 || k->hi < 127)
        return qcc_mul_dsp_8b8q(k, za, a, bc, y, n, 1);
    return qcc_mul_dsp_8b8q(k, za, a, bc, y, n, 0);
}
#endif

/* int8 a times one broadcast value bc (already centred; b of any dtype), into int8 */
static __attribute__((noinline, unused)) void
qcc_mul_dsp_8b8(const qcc_mulk *k, int32_t za, const void *a, int32_t bc, void *y, int32_t n)
{
    const int32_t m = k->q.m, c = k->q.c, sh = k->q.sh, lo = k->lo, hi = k->hi;
    int32_t j = 0;
#ifdef QCC_ARM_GEMM4
    if (bc >= -32768 && bc <= 32767 && za >= -128 && za <= 127)
        j = qcc_mul_dsp_8b8w(k, za, (const int8_t *)a, bc, (int8_t *)y, n);
#endif
    for (; j < n; j++) {
        int32_t r = qcc_smmla((((const int8_t *)a)[j] - za) * bc, m, c) >> sh;  /* bc pre-shifted */
        r = r < lo ? lo : (r > hi ? hi : r);
        ((int8_t *)y)[j] = (int8_t)r;
    }
}

static __attribute__((noinline, unused)) void
qcc_mul_dsp_any(const qcc_mulk *k, const void *a, int32_t sa, const void *b, int32_t sb, void *y,
                int32_t n, int32_t adt, int32_t bdt, int32_t ydt)
{
    if (k->q.sh > 0)
        qcc_mul_dsp_body(k, a, sa, b, sb, y, n, adt, bdt, ydt, 1, 0, 1);
    else
        qcc_mul_dsp_body(k, a, sa, b, sb, y, n, adt, bdt, ydt, 0, 0, 1);
}

static inline int qcc_binary_mul_dsp(const qcc_binary_p *p, const void *a, const void *b, void *y)
{
    const size_t ea = p->a_dt == QCC_I8 ? 1 : 2, eb = p->b_dt == QCC_I8 ? 1 : 2;
    const size_t ey = p->y_dt == QCC_I8 ? 1 : 2;
    const int32_t ylo = p->y_dt == QCC_I8 ? -128 : -32768, yhi = p->y_dt == QCC_I8 ? 127 : 32767;
    int64_t am, bm;
    int fast8, swap = 0, bcast = 1;
    qcc_mulk k;
    int32_t i0, i1, i2;
    size_t o = 0;
    if (p->op != 2 || (p->a_dt != QCC_I8 && p->a_dt != QCC_I16) || (p->b_dt != QCC_I8 && p->b_dt != QCC_I16)
        || (p->y_dt != QCC_I8 && p->y_dt != QCC_I16) || p->lo < ylo || p->hi > yhi || p->lo > p->hi
        || p->a_zp < -65536 || p->a_zp > 65536 || p->b_zp < -65536 || p->b_zp > 65536
        || p->d[3] <= 0)
        return 0;
    am = (p->a_dt == QCC_I8 ? 128 : 32768) + (p->a_zp < 0 ? -(int64_t)p->a_zp : p->a_zp);
    bm = (p->b_dt == QCC_I8 ? 128 : 32768) + (p->b_zp < 0 ? -(int64_t)p->b_zp : p->b_zp);
    if (am * bm >= ((int64_t)1 << 31))
        return 0;
    k.lsh = qcc_rqf_init_pre(&k.q, p->ma, p->s, p->y_zp, p->y_dt, am * bm);
    k.za = p->a_zp, k.zb = p->b_zp, k.zp = p->y_zp, k.lo = p->lo, k.hi = p->hi;
    fast8 = k.q.sh > 0 && p->y_dt == QCC_I8;
    if (fast8 && p->sa[3] == 0 && p->sb[3] == 1 && p->b_dt == QCC_I8)
        swap = 1;  /* a broadcast: the product commutes */
    else if (!(fast8 && p->sb[3] == 0 && p->sa[3] == 1 && p->a_dt == QCC_I8))
        bcast = 0;
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++) {
                const size_t oa = (size_t)i0 * p->sa[0] + (size_t)i1 * p->sa[1] + (size_t)i2 * p->sa[2];
                const size_t ob = (size_t)i0 * p->sb[0] + (size_t)i1 * p->sb[1] + (size_t)i2 * p->sb[2];
                const void *ar = (const char *)a + oa * ea, *br = (const char *)b + ob * eb;
                void *yr = (char *)y + o * ey;
                if (swap) {
                    const int32_t bc = (qcc_ld816(ar, 0, p->a_dt) - p->a_zp) * ((int32_t)1 << k.lsh);
                    qcc_mul_dsp_8b8(&k, p->b_zp, br, bc, yr, p->d[3]);
                } else if (bcast) {
                    const int32_t bc = (qcc_ld816(br, 0, p->b_dt) - p->b_zp) * ((int32_t)1 << k.lsh);
                    qcc_mul_dsp_8b8(&k, p->a_zp, ar, bc, yr, p->d[3]);
                } else if (fast8 && p->a_dt == QCC_I8 && p->b_dt == QCC_I8 && p->sa[3] == 1
                           && p->sb[3] == 1) {
                    qcc_mul_dsp_888(&k, ar, br, yr, p->d[3]);
                } else
                    qcc_mul_dsp_any(&k, ar, p->sa[3], br, p->sb[3], yr, p->d[3], p->a_dt, p->b_dt,
                                    p->y_dt);
                o += (size_t)p->d[3];
            }
    return 1;
}
#endif
