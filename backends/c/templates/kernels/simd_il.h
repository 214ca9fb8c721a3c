/* Linear layers with the output features in the 8 lanes, on x86 (QCC_SIMD_IL: simd.h,
 * simd_sse2.h): packed int4 / int2 and per-group weights of any group size (linear_simd.c
 * says when). The layer is described by strides (qcc_il_p), so that other
 * kernels can run rows of x through it (an im2col conv measured slower this way: see
 * docs/target_c.md). Per block of 8 features a
 * chunk of their weights is unpacked once into an interleaved buffer (step s, lane i:
 * QCC_SIMD_IL consecutive weights of feature i; whole registers: 8 rows transposed as int16
 * pairs, nibbles split by masks; the rest through tables of whole packed bytes), then every
 * row of x runs against it: per step one broadcast of
 * QCC_SIMD_IL activations and one multiply-accumulate (vpdpbusd / vpmaddwd / 2 pmaddwd), two
 * rows at a time. A weight group's partial sum is thus already one int32 per feature in its
 * lane: no horizontal sums, the exact part times gmult in 64-bit lanes once per group.
 * Groups (and the K tail) are padded to the step with zero weights (each group starts on a
 * step), so every group size runs here. VNNI: the activation as u = x ^ flip, each group's
 * sum w*(x - zp) = sum w*u - (zp + off) * sum w modulo 2^32 (as linear_simd.c).
 * Stack: about 54 KiB (AVX2 / SSE2) or 30 KiB (VNNI). */
#ifdef QCC_SIMD_IL
#define QCC_IL_KC 1024  /* padded reduction elements per chunk (a multiple of 4) */
#define QCC_IL_NG 64    /* groups per chunk at most */
#define QCC_IL_XB 16384 /* activation elements prepared at once (rows x padded K) */

/* One layer as rows of x against n features (a linear layer; a conv group's im2col columns):
 * the qcc_linear_p fields, plus the strides of x's rows (bytes) and of y's rows and features
 * (elements) and y's first element. */
typedef struct {
    int32_t rows, k, n, x_dt, y_dt, x_zp, y_zp, lo, hi, per_channel, gsize, gshift, ng, wbits;
    size_t xs, ys_r, ys_j, y0;
} qcc_il_p;

typedef struct {
    int32_t b[8], m[8], s[8];  /* bias, requantization of the 8 features */
    int32_t nv;                /* valid lanes */
} qcc_il_blk;

/* Whole packed bytes as interleaved weights: int4 byte -> 2 values, int2 byte -> 4 (VNNI:
 * bytes; AVX2 / SSE2: int16), in the element order of the byte, as one integer to store. */
#define QCC_IL_N4(b, i) (((((b) >> (4 * (i))) & 15) ^ 8) - 8)
#define QCC_IL_N2(b, i) (((((b) >> (2 * (i))) & 3) ^ 2) - 2)
#ifdef QCC_SIMD_VNNI
#define QCC_IL_T4(b) (uint16_t)((uint8_t)QCC_IL_N4(b, 0) | (uint16_t)((uint8_t)QCC_IL_N4(b, 1) << 8))
#define QCC_IL_T2(b) ((uint32_t)(uint8_t)QCC_IL_N2(b, 0) | (uint32_t)(uint8_t)QCC_IL_N2(b, 1) << 8 \
                      | (uint32_t)(uint8_t)QCC_IL_N2(b, 2) << 16 | (uint32_t)(uint8_t)QCC_IL_N2(b, 3) << 24)
typedef uint16_t qcc_il_t4;
#else
#define QCC_IL_T4(b) ((uint32_t)(uint16_t)QCC_IL_N4(b, 0) | (uint32_t)(uint16_t)QCC_IL_N4(b, 1) << 16)
#define QCC_IL_T2(b) ((uint32_t)(uint16_t)QCC_IL_N2(b, 0) | (uint32_t)(uint16_t)QCC_IL_N2(b, 1) << 16)
#define QCC_IL_T2H(b) ((uint32_t)(uint16_t)QCC_IL_N2(b, 2) | (uint32_t)(uint16_t)QCC_IL_N2(b, 3) << 16)
typedef uint32_t qcc_il_t4;
#endif
#define QCC_IL_X4(f, b) f(b), f((b) + 1), f((b) + 2), f((b) + 3)
#define QCC_IL_X16(f, b) QCC_IL_X4(f, b), QCC_IL_X4(f, (b) + 4), QCC_IL_X4(f, (b) + 8), QCC_IL_X4(f, (b) + 12)
#define QCC_IL_X64(f, b) QCC_IL_X16(f, b), QCC_IL_X16(f, (b) + 16), QCC_IL_X16(f, (b) + 32), QCC_IL_X16(f, (b) + 48)
#define QCC_IL_X256(f) QCC_IL_X64(f, 0), QCC_IL_X64(f, 64), QCC_IL_X64(f, 128), QCC_IL_X64(f, 192)
static const qcc_il_t4 qcc_il_tab4[256] = {QCC_IL_X256(QCC_IL_T4)};
static const uint32_t qcc_il_tab2[256] = {QCC_IL_X256(QCC_IL_T2)};
#ifndef QCC_SIMD_VNNI
static const uint32_t qcc_il_tab2h[256] = {QCC_IL_X256(QCC_IL_T2H)};
#endif

typedef struct {
    qcc_il_w w[QCC_IL_KC * 8];  /* the chunk's interleaved weights */
    qcc_il_x x[QCC_IL_XB];      /* rows of x laid out as the weights (a chunk each) */
    qcc_v8 corr[QCC_IL_NG];     /* per group: (zp + off) * sum w (VNNI), else 0 */
    qcc_v8 gm[QCC_IL_NG];       /* per group: gmult of the 8 features */
    int32_t gs, gp, nch;        /* group size, its padded size, groups per chunk */
} qcc_il_buf;

/* Element index q (padded, within the chunk) of lane i: its place in the buffer. */
#define QCC_IL_AT(q, i) ((((q) / QCC_SIMD_IL) * 8 + (i)) * QCC_SIMD_IL + (q) % QCC_SIMD_IL)

/* Elements [e0, e0 + len) of one weight row into lane i from padded place q0 (a multiple of
 * QCC_SIMD_IL), the rest of the step zero. */
static inline void qcc_il_fill_row(const qcc_il_p *p, const int8_t *row, int32_t e0, int32_t len,
                                   int32_t q0, int32_t i, qcc_il_w *w)
{
    const uint8_t *b = (const uint8_t *)row;
    const int32_t epb = 8 / p->wbits, lp = (len + QCC_SIMD_IL - 1) / QCC_SIMD_IL * QCC_SIMD_IL;
    int32_t l = 0;
    if (e0 % epb == 0 && p->wbits == 4)
        for (; l + 2 <= len; l += 2)
            memcpy(w + QCC_IL_AT(q0 + l, i), &qcc_il_tab4[b[(e0 + l) / 2]], sizeof(qcc_il_t4));
    else if (e0 % epb == 0 && p->wbits == 2)
        for (; l + 4 <= len; l += 4) {
            memcpy(w + QCC_IL_AT(q0 + l, i), &qcc_il_tab2[b[(e0 + l) / 4]], 4);
#ifndef QCC_SIMD_VNNI
            memcpy(w + QCC_IL_AT(q0 + l + 2, i), &qcc_il_tab2h[b[(e0 + l) / 4]], 4);
#endif
        }
    else if (p->wbits == 8)
        for (; l < len; l++)
            w[QCC_IL_AT(q0 + l, i)] = (qcc_il_w)row[e0 + l];
    for (; l < len; l++)
        w[QCC_IL_AT(q0 + l, i)] = (qcc_il_w)qcc_wget(row, e0 + l, p->wbits);
    for (; l < lp; l++)
        w[QCC_IL_AT(q0 + l, i)] = 0;
}

/* 16 bytes at rows[i] + off of 8 rows as an 8 x 8 int16 transposition: t[s] holds byte pair s
 * of every row (SSE2 unpacks). */
static inline void qcc_il_t8x8(const uint8_t *const *rows, size_t off, __m128i *t)
{
#define QCC_LD(l) _mm_loadu_si128((const __m128i *)(const void *)(rows[l] + off))
    const __m128i b0 = _mm_unpacklo_epi16(QCC_LD(0), QCC_LD(1)), b1 = _mm_unpackhi_epi16(QCC_LD(0), QCC_LD(1));
    const __m128i b2 = _mm_unpacklo_epi16(QCC_LD(2), QCC_LD(3)), b3 = _mm_unpackhi_epi16(QCC_LD(2), QCC_LD(3));
    const __m128i b4 = _mm_unpacklo_epi16(QCC_LD(4), QCC_LD(5)), b5 = _mm_unpackhi_epi16(QCC_LD(4), QCC_LD(5));
    const __m128i b6 = _mm_unpacklo_epi16(QCC_LD(6), QCC_LD(7)), b7 = _mm_unpackhi_epi16(QCC_LD(6), QCC_LD(7));
#undef QCC_LD
    const __m128i c0 = _mm_unpacklo_epi32(b0, b2), c1 = _mm_unpackhi_epi32(b0, b2);
    const __m128i c2 = _mm_unpacklo_epi32(b1, b3), c3 = _mm_unpackhi_epi32(b1, b3);
    const __m128i c4 = _mm_unpacklo_epi32(b4, b6), c5 = _mm_unpackhi_epi32(b4, b6);
    const __m128i c6 = _mm_unpacklo_epi32(b5, b7), c7 = _mm_unpackhi_epi32(b5, b7);
    t[0] = _mm_unpacklo_epi64(c0, c4), t[1] = _mm_unpackhi_epi64(c0, c4);
    t[2] = _mm_unpacklo_epi64(c1, c5), t[3] = _mm_unpackhi_epi64(c1, c5);
    t[4] = _mm_unpacklo_epi64(c2, c6), t[5] = _mm_unpackhi_epi64(c2, c6);
    t[6] = _mm_unpacklo_epi64(c3, c7), t[7] = _mm_unpackhi_epi64(c3, c7);
}

/* The int8 values of the nibbles of v: low ones (lo) and high ones (hi) of every byte. */
static inline void qcc_il_nibbles(__m128i v, __m128i *lo, __m128i *hi)
{
    const __m128i m = _mm_set1_epi8(15), e = _mm_set1_epi8(8);
    *lo = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(v, m), e), e);
    *hi = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(_mm_srli_epi16(v, 4), m), e), e);
}

/* The weights of 8 rows from byte offset off into the buffer from step s0, whole registers:
 * int4 (32 elements per row: VNNI 8 quad steps, else 16 pair steps) or int8 (pairs only:
 * 16 elements, 8 steps). Returns the elements per row done (0: no block form). */
static inline int32_t qcc_il_block(int32_t bits, const uint8_t *const *rows, size_t off, qcc_il_w *w,
                                   int32_t s0)
{
    __m128i t[8], lo, hi;
    int32_t s;
    qcc_il_t8x8(rows, off, t);
#ifdef QCC_SIMD_VNNI
    if (bits != 4)
        return 0;
    for (s = 0; s < 8; s++) {  /* byte pair s of a row: elements 4s .. 4s + 3, one quad */
        __m128i *d = (__m128i *)(void *)(w + (size_t)(s0 + s) * 32);
        qcc_il_nibbles(t[s], &lo, &hi);
        _mm_storeu_si128(d, _mm_unpacklo_epi8(lo, hi));
        _mm_storeu_si128(d + 1, _mm_unpackhi_epi8(lo, hi));
    }
    return 32;
#else
    if (bits == 8) {
        for (s = 0; s < 8; s++) {  /* byte pair s of a row: one int16 pair */
            __m128i *d = (__m128i *)(void *)(w + (size_t)(s0 + s) * 16);
            _mm_storeu_si128(d, _mm_srai_epi16(_mm_unpacklo_epi8(t[s], t[s]), 8));
            _mm_storeu_si128(d + 1, _mm_srai_epi16(_mm_unpackhi_epi8(t[s], t[s]), 8));
        }
        return 16;
    }
    if (bits != 4)
        return 0;
    for (s = 0; s < 8; s++) {  /* byte pair s: elements 4s .. 4s + 3, pair steps 2s and 2s + 1 */
        __m128i *d = (__m128i *)(void *)(w + (size_t)(s0 + 2 * s) * 16);
        int32_t h;
        qcc_il_nibbles(t[s], &lo, &hi);
        for (h = 0; h < 2; h++) {  /* rows 0-3, then 4-7 */
            const __m128i u = h ? _mm_unpackhi_epi8(lo, hi) : _mm_unpacklo_epi8(lo, hi);
            const __m128i a = _mm_shuffle_epi32(_mm_srai_epi16(_mm_unpacklo_epi8(u, u), 8), 0xD8);
            const __m128i b = _mm_shuffle_epi32(_mm_srai_epi16(_mm_unpackhi_epi8(u, u), 8), 0xD8);
            _mm_storeu_si128(d + h, _mm_unpacklo_epi64(a, b));
            _mm_storeu_si128(d + 2 + h, _mm_unpackhi_epi64(a, b));
        }
    }
    return 32;
#endif
}

/* Groups [g0, g0 + ng) of the 8 features of block j (B) into the buffer; gmult and the
 * VNNI correction per group. */
static inline void qcc_il_fill(const qcc_il_p *p, const int8_t *wt, const int32_t *gmult,
                               const qcc_il_blk *B, int32_t j, int32_t g0, int32_t ng, qcc_il_buf *L)
{
    const size_t rowb = ((size_t)p->k * p->wbits + 7) / 8;
    const int32_t epb = 8 / p->wbits;
    const uint8_t *rows[8];
    int32_t i, g;
    for (i = 0; i < 8; i++)
        rows[i] = (const uint8_t *)wt + (size_t)(i < B->nv ? j + i : p->n - 1) * rowb;
    for (g = 0; g < ng; g++) {
        const int32_t e0 = (g0 + g) * L->gs, len = p->k - e0 < L->gs ? p->k - e0 : L->gs;
        int32_t l = 0, d = 1;
        if (e0 % epb == 0)  /* whole registers while 16 bytes of every row remain */
            while (d > 0 && (l + 16 * epb) <= len) {
                d = qcc_il_block(p->wbits, rows, (size_t)(e0 + l) / epb, L->w, (g * L->gp + l) / QCC_SIMD_IL);
                l += d;
            }
        for (i = 0; i < 8; i++)
            qcc_il_fill_row(p, (const int8_t *)rows[i], e0 + l, len - l, g * L->gp + l, i, L->w);
    }
    for (g = 0; g < ng; g++) {
        int32_t gv[8];
        for (i = 0; i < 8; i++) {
            const int32_t jj = i < B->nv ? j + i : p->n - 1;
            gv[i] = gmult != NULL ? gmult[(size_t)jj * p->ng + g0 + g] : 0;
        }
        L->gm[g] = qcc_v8_load(gv);
        L->corr[g] = qcc_v8_set1(0);
#ifdef QCC_SIMD_VNNI
        {
            const int32_t e0 = (g0 + g) * L->gs, len = p->k - e0 < L->gs ? p->k - e0 : L->gs;
            const uint32_t zo = (uint32_t)(p->x_zp + qcc_simd_off(p->x_dt));
            const uint8_t ones[4] = {1, 1, 1, 1};
            int32_t s, sw[8];
            qcc_v8 a = qcc_v8_set1(0);
            for (s = 0; s < (len + 3) / 4; s++)
                a = qcc_simd_il_mac(a, ones, L->w + (size_t)(g * L->gp / 4 + s) * 32);
            qcc_v8_store(sw, a);
            for (i = 0; i < 8; i++)
                sw[i] = (int32_t)(zo * (uint32_t)sw[i]);
            L->corr[g] = qcc_v8_load(sw);
        }
#endif
    }
}

/* Row xr's elements of groups [g0, g0 + ng) as the step operands at d (padded places zero). */
static inline void qcc_il_xrow(const qcc_il_p *p, const void *xr, int32_t g0, int32_t ng,
                               const qcc_il_buf *L, qcc_il_x *d0)
{
    int32_t g, t;
    for (g = 0; g < ng; g++) {
        const int32_t e0 = (g0 + g) * L->gs, len = p->k - e0 < L->gs ? p->k - e0 : L->gs;
        const int32_t lp = (len + QCC_SIMD_IL - 1) / QCC_SIMD_IL * QCC_SIMD_IL;
        qcc_il_x *d = d0 + (size_t)g * L->gp;
#ifdef QCC_SIMD_VNNI
        const uint8_t *s = (const uint8_t *)xr + e0, flip = qcc_simd_flip(p->x_dt);
        for (t = 0; t < len; t++)
            d[t] = (uint8_t)(s[t] ^ flip);
#else
        const int32_t zp = p->x_zp;
        if (p->x_dt == QCC_U8) {
            const uint8_t *s = (const uint8_t *)xr + e0;
            for (t = 0; t < len; t++)
                d[t] = (int16_t)((int32_t)s[t] - zp);
        } else {
            const int8_t *s = (const int8_t *)xr + e0;
            for (t = 0; t < len; t++)
                d[t] = (int16_t)((int32_t)s[t] - zp);
        }
#endif
        for (t = len; t < lp; t++)
            d[t] = 0;
    }
}

/* The exact int32 partial sum of the steps [s0, s0 + n) of x (prepared) in the 8 lanes. */
static inline qcc_v8 qcc_il_group(const qcc_il_buf *L, const qcc_il_x *x, int32_t s0, int32_t n)
{
    const qcc_il_w *w = L->w + (size_t)s0 * 8 * QCC_SIMD_IL;
    qcc_v8 a0 = qcc_v8_set1(0), a1 = a0, a2 = a0, a3 = a0;
    int32_t s = 0;
    x += (size_t)s0 * QCC_SIMD_IL;
    for (; s + 4 <= n; s += 4) {
        a0 = qcc_simd_il_mac(a0, x + s * QCC_SIMD_IL, w + (size_t)s * 8 * QCC_SIMD_IL);
        a1 = qcc_simd_il_mac(a1, x + (s + 1) * QCC_SIMD_IL, w + (size_t)(s + 1) * 8 * QCC_SIMD_IL);
        a2 = qcc_simd_il_mac(a2, x + (s + 2) * QCC_SIMD_IL, w + (size_t)(s + 2) * 8 * QCC_SIMD_IL);
        a3 = qcc_simd_il_mac(a3, x + (s + 3) * QCC_SIMD_IL, w + (size_t)(s + 3) * 8 * QCC_SIMD_IL);
    }
    for (; s < n; s++)
        a0 = qcc_simd_il_mac(a0, x + s * QCC_SIMD_IL, w + (size_t)s * 8 * QCC_SIMD_IL);
    return qcc_v8_add(qcc_v8_add(a0, a1), qcc_v8_add(a2, a3));
}

/* A prepared row (xp) against the filled groups [g0, g0 + ng): into acc, or the
 * gmult-scaled sums (big). */
static inline void qcc_il_row(const qcc_il_p *p, const qcc_il_x *xp, int32_t g0, int32_t ng,
                              int32_t grouped, const qcc_il_buf *L, qcc_v8 *acc, qcc_v8w *big)
{
    int32_t g;
    for (g = 0; g < ng; g++) {
        const int32_t e0 = (g0 + g) * L->gs, len = p->k - e0 < L->gs ? p->k - e0 : L->gs;
        const qcc_v8 part = qcc_v8_sub(qcc_il_group(L, xp, g * L->gp / QCC_SIMD_IL,
                                                    (len + QCC_SIMD_IL - 1) / QCC_SIMD_IL), L->corr[g]);
        if (grouped)
            *big = qcc_v8w_madd(*big, part, L->gm[g]);
        else
            *acc = qcc_v8_add(*acc, part);
    }
}

/* Two prepared rows (xa, xb) at once: each weight step loaded once for both. */
static inline void qcc_il_row2(const qcc_il_p *p, const qcc_il_x *xa, const qcc_il_x *xb, int32_t ngt,
                               int32_t grouped, const qcc_il_buf *L, qcc_v8 *acc, qcc_v8w *big)
{
    int32_t g;
    for (g = 0; g < ngt; g++) {
        const int32_t e0 = g * L->gs, len = p->k - e0 < L->gs ? p->k - e0 : L->gs;
        const int32_t n = (len + QCC_SIMD_IL - 1) / QCC_SIMD_IL, s0 = g * L->gp / QCC_SIMD_IL;
        const qcc_il_w *w = L->w + (size_t)s0 * 8 * QCC_SIMD_IL;
        const qcc_il_x *a = xa + (size_t)s0 * QCC_SIMD_IL, *b = xb + (size_t)s0 * QCC_SIMD_IL;
        qcc_v8 a0 = qcc_v8_set1(0), a1 = a0, b0 = a0, b1 = a0;
        int32_t s = 0;
        for (; s + 2 <= n; s += 2) {
            a0 = qcc_simd_il_mac(a0, a + s * QCC_SIMD_IL, w + (size_t)s * 8 * QCC_SIMD_IL);
            b0 = qcc_simd_il_mac(b0, b + s * QCC_SIMD_IL, w + (size_t)s * 8 * QCC_SIMD_IL);
            a1 = qcc_simd_il_mac(a1, a + (s + 1) * QCC_SIMD_IL, w + (size_t)(s + 1) * 8 * QCC_SIMD_IL);
            b1 = qcc_simd_il_mac(b1, b + (s + 1) * QCC_SIMD_IL, w + (size_t)(s + 1) * 8 * QCC_SIMD_IL);
        }
        if (s < n) {
            a0 = qcc_simd_il_mac(a0, a + s * QCC_SIMD_IL, w + (size_t)s * 8 * QCC_SIMD_IL);
            b0 = qcc_simd_il_mac(b0, b + s * QCC_SIMD_IL, w + (size_t)s * 8 * QCC_SIMD_IL);
        }
        a0 = qcc_v8_sub(qcc_v8_add(a0, a1), L->corr[g]);
        b0 = qcc_v8_sub(qcc_v8_add(b0, b1), L->corr[g]);
        if (grouped) {
            big[0] = qcc_v8w_madd(big[0], a0, L->gm[g]);
            big[1] = qcc_v8w_madd(big[1], b0, L->gm[g]);
        } else {
            acc[0] = qcc_v8_add(acc[0], a0);
            acc[1] = qcc_v8_add(acc[1], b0);
        }
    }
}

/* Block j's bias and requantization parameters. */
static inline void qcc_il_block_params(const qcc_il_p *p, const int32_t *bias, const int32_t *mult,
                              const int32_t *shift, int32_t j, qcc_il_blk *B)
{
    int32_t i;
    B->nv = p->n - j < 8 ? p->n - j : 8;
    for (i = 0; i < 8; i++) {
        const int32_t jj = i < B->nv ? j + i : p->n - 1, ch = p->per_channel ? jj : 0;
        B->b[i] = bias ? bias[jj] : 0;
        B->m[i] = mult ? mult[ch] : 0;
        B->s[i] = mult ? shift[ch] : 1;
    }
}

/* Row r's 8 accumulators of block j into y: fused int8 requantization, or per lane. */
static inline void qcc_il_out(const qcc_il_p *p, const int32_t *mult, const qcc_il_blk *B, void *y,
                              int32_t r, int32_t j, qcc_v8 acc)
{
    const size_t at = p->y0 + (size_t)r * p->ys_r + (size_t)j * p->ys_j;
    int32_t a[8], i;
    if (mult != NULL && p->y_dt == QCC_I8) {
        const qcc_v8 v = qcc_v8_requant(acc, qcc_v8_load(B->m), qcc_v8_load(B->s), p->y_zp, p->lo, p->hi);
        if (p->ys_j == 1) {
            qcc_v8_store_i8((int8_t *)y + at, v, B->nv);
            return;
        }
        qcc_v8_store(a, v);
        for (i = 0; i < B->nv; i++)
            ((int8_t *)y)[at + (size_t)i * p->ys_j] = (int8_t)a[i];
        return;
    }
    if (mult != NULL && p->y_dt == QCC_I16) {  /* e.g. into a GELU: the same 8-lane requant */
        qcc_v8_store(a, qcc_v8_requant(acc, qcc_v8_load(B->m), qcc_v8_load(B->s), p->y_zp, p->lo, p->hi));
        for (i = 0; i < B->nv; i++)
            ((int16_t *)y)[at + (size_t)i * p->ys_j] = (int16_t)a[i];
        return;
    }
    qcc_v8_store(a, acc);
    for (i = 0; i < B->nv; i++) {
        const size_t ai = at + (size_t)i * p->ys_j;
        if (mult == NULL)
            ((int32_t *)y)[ai] = a[i];
        else
            qcc_store(y, ai, p->y_dt, qcc_requant32(a[i], B->m[i], B->s[i], p->y_zp, p->lo, p->hi));
    }
}

/* Rows [r0, r0 + nr) of x, prepared at L->x (kp elements each), against every block, the
 * whole reduction in one chunk (each block's weights unpacked once for these rows). */
static inline void qcc_il_rows(const qcc_il_p *p, const int8_t *wt, const int32_t *bias,
                               const int32_t *mult, const int32_t *shift, const int32_t *gmult, void *y,
                               int32_t r0, int32_t nr, int32_t ngt, int32_t kp, qcc_il_buf *L)
{
    const int32_t grouped = gmult != NULL;
    qcc_il_blk B;
    int32_t j, r;
    for (j = 0; j < p->n; j += 8) {
        qcc_il_block_params(p, bias, mult, shift, j, &B);
        qcc_il_fill(p, wt, gmult, &B, j, 0, ngt, L);
        for (r = 0; r + 2 <= nr; r += 2) {
            qcc_v8 acc[2];
            qcc_v8w big[2];
            int32_t h;
            acc[0] = acc[1] = qcc_v8_load(B.b);
            big[0] = big[1] = qcc_v8w_init(acc[0], grouped ? p->gshift : 1);
            qcc_il_row2(p, L->x + (size_t)r * kp, L->x + (size_t)(r + 1) * kp, ngt, grouped, L, acc, big);
            for (h = 0; h < 2; h++)
                qcc_il_out(p, mult, &B, y, r0 + r + h, j,
                                    grouped ? qcc_v8w_round(big[h], p->gshift) : acc[h]);
        }
        for (; r < nr; r++) {
            qcc_v8 acc = qcc_v8_load(B.b);
            qcc_v8w big = qcc_v8w_init(acc, grouped ? p->gshift : 1);
            qcc_il_row(p, L->x + (size_t)r * kp, 0, ngt, grouped, L, &acc, &big);
            if (grouped)
                acc = qcc_v8w_round(big, p->gshift);
            qcc_il_out(p, mult, &B, y, r0 + r, j, acc);
        }
    }
}

static inline int qcc_il_run(const qcc_il_p *p, const void *x, const int8_t *wt,
                                     const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                     const int32_t *gmult, void *y)
{
    const int32_t grouped = gmult != NULL, k = p->k;
    qcc_il_buf L;
    qcc_il_blk B;
    int32_t j, r, g0, ngt, kp;
    L.gs = grouped ? p->gsize : QCC_IL_KC;
    L.gp = (L.gs + QCC_SIMD_IL - 1) / QCC_SIMD_IL * QCC_SIMD_IL;
    if (L.gp > QCC_IL_KC || (p->wbits != 8 && p->wbits != 4 && p->wbits != 2))
        return 0;
    L.nch = QCC_IL_KC / L.gp < QCC_IL_NG ? QCC_IL_KC / L.gp : QCC_IL_NG;
    ngt = (k + L.gs - 1) / L.gs;
    kp = ngt * L.gp;
    if (ngt <= L.nch && kp <= QCC_IL_XB) {  /* one chunk: rows prepared in batches */
        const int32_t rb = QCC_IL_XB / kp;
        for (r = 0; r < p->rows; r += rb) {
            const int32_t nr = p->rows - r < rb ? p->rows - r : rb;
            int32_t i;
            for (i = 0; i < nr; i++)
                qcc_il_xrow(p, (const uint8_t *)x + (size_t)(r + i) * p->xs, 0, ngt, &L, L.x + (size_t)i * kp);
            qcc_il_rows(p, wt, bias, mult, shift, gmult, y, r, nr, ngt, kp, &L);
        }
        return 1;
    }
    for (j = 0; j < p->n; j += 8) {  /* several chunks: each refilled per row */
        qcc_il_block_params(p, bias, mult, shift, j, &B);
        for (r = 0; r < p->rows; r++) {
            const uint8_t *xr = (const uint8_t *)x + (size_t)r * p->xs;
            qcc_v8 acc = qcc_v8_load(B.b);
            qcc_v8w big = qcc_v8w_init(acc, grouped ? p->gshift : 1);
            for (g0 = 0; g0 < ngt; g0 += L.nch) {
                const int32_t ng = ngt - g0 < L.nch ? ngt - g0 : L.nch;
                qcc_il_fill(p, wt, gmult, &B, j, g0, ng, &L);
                qcc_il_xrow(p, xr, g0, ng, &L, L.x);
                qcc_il_row(p, L.x, g0, ng, grouped, &L, &acc, &big);
            }
            if (grouped)
                acc = qcc_v8w_round(big, p->gshift);
            qcc_il_out(p, mult, &B, y, r, j, acc);
        }
    }
    return 1;
}
#endif
