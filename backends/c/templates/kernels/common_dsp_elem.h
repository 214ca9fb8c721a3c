/* Helpers of the Arm DSP elementwise and row kernels (transformer_dsp.c, binary_dsp.c,
 * requant_dsp.c, matmul_dsp.c): int8 / int16 loads specialised at compile time, the SMMLA
 * requantization of an int32 accumulator into an int8 / int16 output, CLZ bit lengths, SMMULR. */
#ifdef QCC_ARM_DSP
static inline void qcc_st32(void *p, uint32_t v)  /* word store (STR; memcpy: any alignment) */
{
    memcpy(p, &v, sizeof v);
}

static inline int32_t qcc_bitlen32(uint32_t v)
{
    return v ? 32 - __builtin_clz(v) : 0;
}

static inline int32_t qcc_bitlen64(uint64_t v)
{
    const uint32_t hi = (uint32_t)(v >> 32);
    return hi ? 64 - __builtin_clz(hi) : qcc_bitlen32((uint32_t)v);
}

/* (a * b + 2^31) >> 32 (a * b as int64): floor((a * b) / 2^32 + 1/2). */
static inline int32_t qcc_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* floor(sqrt(n)) for 0 <= n < 2^32: the portable Newton iteration in 32-bit division. */
static inline uint32_t qcc_isqrt32(uint32_t n)
{
    uint32_t r, nx;
    if (n == 0)
        return 0;
    r = (uint32_t)1 << ((qcc_bitlen32(n) + 1) / 2);
    for (;;) {
        nx = (r + n / r) >> 1;
        if (nx >= r)
            return r;
        r = nx;
    }
}

/* An int8 / int16 element (the only dtypes the DSP forms take; dt a constant after inlining). */
__attribute__((always_inline)) static inline int32_t qcc_ld816(const void *p, int32_t i, int dt)
{
    return dt == QCC_I8 ? (int32_t)((const int8_t *)p)[i] : (int32_t)((const int16_t *)p)[i];
}

/* qcc_rqf_init for an int8 / int16 output: the SMMLA form only with a zero point of that dtype
 * (its rounding constant stays below 2^29), qcc_requant32 otherwise. */
static inline void qcc_rqf_init_dt(qcc_rqf *q, int32_t m, int32_t s, int32_t zp, int32_t dt)
{
    qcc_rqf_init(q, m, s, zp);
    if (dt == QCC_I8 ? (zp < -128 || zp > 127) : (zp < -32768 || zp > 32767))
        q->sh = 0;
}

/* qcc_rqf_init_dt for accumulators |acc| <= amax: a shift s below 33 whose pre-shifted
 * accumulator acc 2^(33-s) stays in int32 takes the SMMLA form of shift 33, since
 * rshift_round(acc m, s) = rshift_round(acc 2^(33-s) m, 33); returns that pre-shift (0: none). */
static inline int32_t qcc_rqf_init_pre(qcc_rqf *q, int32_t m, int32_t s, int32_t zp, int32_t dt,
                                       int64_t amax)
{
    if (s >= 1 && s < 33 && (amax << (33 - s)) < ((int64_t)1 << 31)) {
        qcc_rqf_init_dt(q, m, 33, zp, dt);
        if (q->sh > 0)
            return 33 - s;
    }
    qcc_rqf_init_dt(q, m, s, zp, dt);
    return 0;
}

/* One requantized output of an int32 accumulator: the SMMLA form (q->sh > 0) or qcc_requant32,
 * then stored as int8 or int16 (dt a constant after inlining). */
__attribute__((always_inline)) static inline void
qcc_rqf_store(void *y, int32_t i, int dt, int32_t acc, const qcc_rqf *q, int32_t zp, int32_t lo,
              int32_t hi)
{
    int32_t r;
    if (q->sh > 0) {
        r = qcc_smmla(acc, q->m, q->c) >> q->sh;
        r = r < lo ? lo : (r > hi ? hi : r);
    } else {
        r = qcc_requant32(acc, q->m, q->s, zp, lo, hi);
    }
    if (dt == QCC_I8)
        ((int8_t *)y)[i] = (int8_t)r;
    else
        ((int16_t *)y)[i] = (int16_t)r;
}
#endif
