#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
/* The x86 hosts' int8 add / sub on contiguous rows (binary_host.c calls it; docs/target_c.md
 * "ISA variants"), bit-exact with qcc_binary_val: y = clamp(((A*ma + B*mb' + 2^(s-1)) >> s) + zp)
 * with A = a - a_zp, B = b - b_zp (both in [-255, 255], int16 lanes) and mb' = +-mb, in int32
 * lanes without a 64-bit product. Each multiplier is split m = mh*2^16 + ml with ml in
 * [-2^15, 2^15) and mh an int16, so that one VPMADDWD of the interleaved pairs (A, B) gives
 * H = A*mah + B*mbh and another L = A*mal + B*mbl (|H|, |L| < 2^24, exact); the sum is
 * H*2^16 + L + 2^(s-1), and floor(x / 2^s) = floor(floor(x / 2^16) / 2^(s-16)) gives
 * y = (H + rh + ((L + rl) >> 16)) >> (s - 16) with the rounding constant in H (rh = 2^(s-17))
 * or, at s = 16, in L (rl = 2^15); |H + rh + (L >> 16)| < 2^31 for s <= 47. The int32 result is
 * saturated to int16 and clamped to [lo, hi] there (within int8, so saturating first changes
 * nothing), plus zp with saturation (|zp| <= 128: a saturated value stays outside [lo, hi]).
 * Taken when 16 <= s <= 47 and both mh fit int16 (every multiplier below 2^31 - 2^15); 0
 * otherwise (the tables of binary_host.c). Rows are read a vector ahead of the write, so y may
 * be a or b (in place). 16 (SSE2), 32 (AVX2, AVX-512) elements a step, the rest scalar. */
typedef struct {
    int16_t azp, bzp, mah, mbh, mal, mbl, zp, lo, hi;
    int32_t rh, rl, sh;
} qcc_add16_k;

/* 1: k holds p's split constants; 0: the path does not take p. */
static inline int qcc_add16_setup(const qcc_binary_p *p, qcc_add16_k *k)
{
    const int64_t mb = p->op == 1 ? -(int64_t)p->mb : (int64_t)p->mb;
    const int64_t m[2] = {(int64_t)p->ma, mb};
    int64_t lo16[2], hi16[2];
    int i;
    if (p->op > 1 || p->s < 16 || p->s > 47 || p->lo < -128 || p->hi > 127 || p->lo > p->hi
        || p->y_zp < -128 || p->y_zp > 127)
        return 0;
    for (i = 0; i < 2; i++) {
        lo16[i] = (int64_t)((uint64_t)m[i] & 0xFFFFu) - ((m[i] & 0x8000) ? 0x10000 : 0);
        hi16[i] = (m[i] - lo16[i]) / 65536;  /* exact */
        if (hi16[i] < -32768 || hi16[i] > 32767)
            return 0;
    }
    k->azp = (int16_t)p->a_zp, k->bzp = (int16_t)p->b_zp, k->zp = (int16_t)p->y_zp;
    k->lo = (int16_t)p->lo, k->hi = (int16_t)p->hi;
    k->mah = (int16_t)hi16[0], k->mbh = (int16_t)hi16[1], k->mal = (int16_t)lo16[0], k->mbl = (int16_t)lo16[1];
    k->rh = p->s >= 17 ? (int32_t)1 << (p->s - 17) : 0;
    k->rl = p->s == 16 ? 1 << 15 : 0;
    k->sh = p->s - 16;
    return 1;
}

/* The same integers one element at a time (the tails). */
static inline int8_t qcc_add16_one(const qcc_add16_k *k, int32_t a, int32_t b)
{
    const int32_t A = a - k->azp, B = b - k->bzp;
    const int32_t h = A * k->mah + B * k->mbh, l = A * k->mal + B * k->mbl;
    const int32_t v = ((h + k->rh + ((l + k->rl) >> 16)) >> k->sh) + k->zp;
    return (int8_t)(v < k->lo ? k->lo : (v > k->hi ? k->hi : v));
}

#if defined(__AVX512F__) && defined(__AVX512BW__)
#define QCC_ADD16_W 512
typedef __m512i qcc_add16_v;
#define QCC_ADD16_STEP 32
#define qcc_a16_set1_16(x) _mm512_set1_epi16(x)
#define qcc_a16_set1_32(x) _mm512_set1_epi32(x)
#define qcc_a16_load8(p) _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define qcc_a16_sub16 _mm512_sub_epi16
#define qcc_a16_unlo16 _mm512_unpacklo_epi16
#define qcc_a16_unhi16 _mm512_unpackhi_epi16
#define qcc_a16_madd _mm512_madd_epi16
#define qcc_a16_add32 _mm512_add_epi32
#define qcc_a16_srai32 _mm512_srai_epi32
#define qcc_a16_sra32 _mm512_sra_epi32
#define qcc_a16_packs32 _mm512_packs_epi32
#define qcc_a16_adds16 _mm512_adds_epi16
#define qcc_a16_max16 _mm512_max_epi16
#define qcc_a16_min16 _mm512_min_epi16
#elif defined(__AVX2__)
#define QCC_ADD16_W 256
typedef __m256i qcc_add16_v;
#define QCC_ADD16_STEP 16
#define qcc_a16_set1_16(x) _mm256_set1_epi16(x)
#define qcc_a16_set1_32(x) _mm256_set1_epi32(x)
#define qcc_a16_load8(p) _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define qcc_a16_sub16 _mm256_sub_epi16
#define qcc_a16_unlo16 _mm256_unpacklo_epi16
#define qcc_a16_unhi16 _mm256_unpackhi_epi16
#define qcc_a16_madd _mm256_madd_epi16
#define qcc_a16_add32 _mm256_add_epi32
#define qcc_a16_srai32 _mm256_srai_epi32
#define qcc_a16_sra32 _mm256_sra_epi32
#define qcc_a16_packs32 _mm256_packs_epi32
#define qcc_a16_adds16 _mm256_adds_epi16
#define qcc_a16_max16 _mm256_max_epi16
#define qcc_a16_min16 _mm256_min_epi16
#else
#define QCC_ADD16_W 128
typedef __m128i qcc_add16_v;
#define QCC_ADD16_STEP 8
#define qcc_a16_set1_16(x) _mm_set1_epi16(x)
#define qcc_a16_set1_32(x) _mm_set1_epi32(x)
/* 8 bytes sign-extended to int16 (SSE2 has no PMOVSXBW): each byte into a word's top, >> 8 */
#define qcc_a16_load8(p)                                                                      \
    _mm_srai_epi16(_mm_unpacklo_epi8(_mm_setzero_si128(), _mm_loadl_epi64((const __m128i *)(const void *)(p))), 8)
#define qcc_a16_sub16 _mm_sub_epi16
#define qcc_a16_unlo16 _mm_unpacklo_epi16
#define qcc_a16_unhi16 _mm_unpackhi_epi16
#define qcc_a16_madd _mm_madd_epi16
#define qcc_a16_add32 _mm_add_epi32
#define qcc_a16_srai32 _mm_srai_epi32
#define qcc_a16_sra32 _mm_sra_epi32
#define qcc_a16_packs32 _mm_packs_epi32
#define qcc_a16_adds16 _mm_adds_epi16
#define qcc_a16_max16 _mm_max_epi16
#define qcc_a16_min16 _mm_min_epi16
#endif

/* The int16 results of QCC_ADD16_STEP elements at a, b (in order: the unpacks and the pack
 * both work within 128-bit lanes, so they undo each other). */
static inline qcc_add16_v qcc_add16_vec(const qcc_add16_k *k, const int8_t *a, const int8_t *b)
{
    const qcc_add16_v A = qcc_a16_sub16(qcc_a16_load8(a), qcc_a16_set1_16(k->azp));
    const qcc_add16_v B = qcc_a16_sub16(qcc_a16_load8(b), qcc_a16_set1_16(k->bzp));
    const qcc_add16_v mh = qcc_a16_set1_32((int32_t)(((uint32_t)(uint16_t)k->mbh << 16) | (uint16_t)k->mah));
    const qcc_add16_v ml = qcc_a16_set1_32((int32_t)(((uint32_t)(uint16_t)k->mbl << 16) | (uint16_t)k->mal));
    const qcc_add16_v rh = qcc_a16_set1_32(k->rh), rl = qcc_a16_set1_32(k->rl);
    const __m128i sh = _mm_cvtsi32_si128(k->sh);
    const qcc_add16_v p0 = qcc_a16_unlo16(A, B), p1 = qcc_a16_unhi16(A, B);
    qcc_add16_v h0 = qcc_a16_add32(qcc_a16_madd(p0, mh), rh), h1 = qcc_a16_add32(qcc_a16_madd(p1, mh), rh);
    h0 = qcc_a16_add32(h0, qcc_a16_srai32(qcc_a16_add32(qcc_a16_madd(p0, ml), rl), 16));
    h1 = qcc_a16_add32(h1, qcc_a16_srai32(qcc_a16_add32(qcc_a16_madd(p1, ml), rl), 16));
    h0 = qcc_a16_packs32(qcc_a16_sra32(h0, sh), qcc_a16_sra32(h1, sh));
    h0 = qcc_a16_adds16(h0, qcc_a16_set1_16(k->zp));
    return qcc_a16_min16(qcc_a16_max16(h0, qcc_a16_set1_16(k->lo)), qcc_a16_set1_16(k->hi));
}

/* y[0..n) of the contiguous rows a, b (y may be a or b). */
static inline void qcc_add16_row(const qcc_add16_k *k, const int8_t *a, const int8_t *b, int8_t *y,
                                 int32_t n)
{
    int32_t j = 0;
    for (; j + 2 * QCC_ADD16_STEP <= n; j += 2 * QCC_ADD16_STEP) {
        const qcc_add16_v v0 = qcc_add16_vec(k, a + j, b + j);
        const qcc_add16_v v1 = qcc_add16_vec(k, a + j + QCC_ADD16_STEP, b + j + QCC_ADD16_STEP);
#if QCC_ADD16_W == 512
        _mm256_storeu_si256((__m256i *)(void *)(y + j), _mm512_cvtsepi16_epi8(v0));
        _mm256_storeu_si256((__m256i *)(void *)(y + j + QCC_ADD16_STEP), _mm512_cvtsepi16_epi8(v1));
#elif QCC_ADD16_W == 256
        _mm256_storeu_si256((__m256i *)(void *)(y + j),
                            _mm256_permute4x64_epi64(_mm256_packs_epi16(v0, v1), 0xD8));
#else
        _mm_storeu_si128((__m128i *)(void *)(y + j), _mm_packs_epi16(v0, v1));
#endif
    }
    for (; j < n; j++)
        y[j] = qcc_add16_one(k, a[j], b[j]);
}
#undef qcc_a16_set1_16
#undef qcc_a16_set1_32
#undef qcc_a16_load8
#undef qcc_a16_sub16
#undef qcc_a16_unlo16
#undef qcc_a16_unhi16
#undef qcc_a16_madd
#undef qcc_a16_add32
#undef qcc_a16_srai32
#undef qcc_a16_sra32
#undef qcc_a16_packs32
#undef qcc_a16_adds16
#undef qcc_a16_max16
#undef qcc_a16_min16
#endif
