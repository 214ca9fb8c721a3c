/* Convolutions (pointwise or not, grouped or not, any stride, padding and dilation; int8
 * weights) on the host SIMD variants as a GEMM with the output positions in the lanes (NCHW
 * keeps them contiguous) and the reduction k = (c, u, v) in steps of QCC_PWS_R elements. For a
 * block of up to QCC_PWS_Q positions the activations are laid out once, K-major: each int32
 * xp[(k / R) * Q + q] holds the R elements k .. k + R - 1 of position q (pointwise: k = c, the
 * rows of x; else the implicit im2col rows, qcc_pws_col: one contiguous copy per output-row
 * segment for stride 1, the zero point in the padding); every output channel's weights are
 * broadcast as the same R-tuples (zero past K):
 *   QCC_SIMD_QUAD (AVX-512 VNNI / AVX-VNNI, AArch64 dot product): R = 4 operand bytes
 *     (x + 128 as u8 on VNNI, x as s8 on NEON), one VPDPBUSD / SDOT per 4 elements x 8
 *     positions; the zero point as the modulo-2^32 correction -(zp + off) * sum w in the
 *     initial accumulator (the padding's zero point cancels in it, as in the im2col path);
 *   else (AVX2): R = 2 centred int16 (x - zp), one VPMADDWD per 2 elements x 8 positions,
 *     exact in int32 (|w * (x - zp)| <= 128 * 255).
 * Four output channels x 16 positions per pass keep eight accumulators in registers; each
 * output row is then requantized by the direct kernel's epilogue. Scratch: none from the
 * arena (the block lives on the stack, host builds only). */
#define QCC_PWS_BUF 16384  /* int32 tuples of one block of positions */
#define QCC_PWS_PH 32768   /* bytes of a strided conv's column phases for one block */
#define QCC_PWS_Q 256      /* positions per block at most */
#ifdef QCC_SIMD_QUAD
#define QCC_PWS_R 4
#define QCC_PWS_MAC qcc_v8_dot4b
#else
#define QCC_PWS_R 2
#define QCC_PWS_MAC qcc_v8_madd16b
#endif

/* The 4 x 16 register tile (simd_conv.h) with this variant's tuples, shared with
 * qcc_conv2d_pwt. */
QCC_SIMD_TILE4X16(qcc_pws_tile, QCC_PWS_MAC)

#if defined(QCC_SIMD_X86) && defined(QCC_SIMD_QUAD) && defined(__AVX512VNNI__) && defined(__AVX512F__)
#define QCC_PWS_Z 1
#define QCC_PWS_ZMAC(a, x, w) a = _mm512_dpbusd_epi32(a, x, w)
/* qcc_pws_tile on AVX-512 VNNI with 32 positions per pass in two 16-lane registers: the same
 * eight accumulator chains, twice the products per instruction (the ymm tile's chains are
 * latency-bound); a 16-position tail by qcc_pws_tile. Same arguments and results. */
QCC_SIMD_INLINE void qcc_pws_tile_z(const int32_t *xp, const int32_t *off, int32_t qs, int32_t cr,
                                    int32_t qv, const int32_t *wq, const int32_t *b4, int32_t *acc,
                                    int32_t as)
{
    int32_t q, k;
    for (q = 0; q + 32 <= qv; q += 32) {
        __m512i a0 = _mm512_set1_epi32(b4[0]), a1 = a0, c0 = _mm512_set1_epi32(b4[1]), c1 = c0;
        __m512i d0 = _mm512_set1_epi32(b4[2]), d1 = d0, e0 = _mm512_set1_epi32(b4[3]), e1 = e0;
        for (k = 0; k < cr; k++) {
            const int32_t *xk = xp + (off ? (size_t)off[k] : (size_t)k * qs) + q;
            const int32_t *wk = wq + (size_t)k * 4;
            const __m512i x0 = _mm512_loadu_si512((const void *)xk), x1 = _mm512_loadu_si512((const void *)(xk + 16));
            const __m512i w0 = _mm512_set1_epi32(wk[0]), w1 = _mm512_set1_epi32(wk[1]);
            const __m512i w2 = _mm512_set1_epi32(wk[2]), w3 = _mm512_set1_epi32(wk[3]);
            QCC_PWS_ZMAC(a0, x0, w0);
            QCC_PWS_ZMAC(a1, x1, w0);
            QCC_PWS_ZMAC(c0, x0, w1);
            QCC_PWS_ZMAC(c1, x1, w1);
            QCC_PWS_ZMAC(d0, x0, w2);
            QCC_PWS_ZMAC(d1, x1, w2);
            QCC_PWS_ZMAC(e0, x0, w3);
            QCC_PWS_ZMAC(e1, x1, w3);
        }
        _mm512_storeu_si512((void *)(acc + q), a0);
        _mm512_storeu_si512((void *)(acc + q + 16), a1);
        _mm512_storeu_si512((void *)(acc + (size_t)as + q), c0);
        _mm512_storeu_si512((void *)(acc + (size_t)as + q + 16), c1);
        _mm512_storeu_si512((void *)(acc + 2 * (size_t)as + q), d0);
        _mm512_storeu_si512((void *)(acc + 2 * (size_t)as + q + 16), d1);
        _mm512_storeu_si512((void *)(acc + 3 * (size_t)as + q), e0);
        _mm512_storeu_si512((void *)(acc + 3 * (size_t)as + q + 16), e1);
    }
    if (q < qv)
        qcc_pws_tile(xp + q, off, qs, cr, qv - q, wq, b4, acc + q, as);
}
#undef QCC_PWS_ZMAC
#else
#define qcc_pws_tile_z qcc_pws_tile
#endif

/* The weight tuples wq[k * 4 + i] = w[i, kR .. kR + R - 1] (w from output channel o's row, kk
 * reduction elements per row,
 * int16 pairs or bytes: a tuple is one int32 of the zero-padded row) and the initial
 * accumulators of output channels o .. o + no - 1 (bias, minus (zp + off) * sum w for the
 * byte tuples; past no: zero weights and bias). */
#ifdef QCC_SIMD_QUAD
static inline void qcc_pws_weights(const int8_t *w, const int32_t *bias, int32_t zp, int32_t o,
                                   int32_t no, int32_t kk, int32_t cr, int32_t *wq, int32_t *b4)
{
    /* byte quads straight from the rows (no row buffer: on 16-position planes its memset and
     * memcpy calls cost more than the tile's dot products; 2026-12-06, round "Small planes") */
    const int32_t kf = kk / 4;  /* whole quads; the last one (kk % 4 bytes) zero padded */
    int32_t i, k;
    for (i = 0; i < 4; i++) {
        const int8_t *wo = w + (size_t)i * kk;  /* w: row o */
        if (i >= no) {
            for (k = 0; k < cr; k++)
                wq[(size_t)k * 4 + i] = 0;
            b4[i] = 0;
            continue;
        }
        for (k = 0; k < kf; k++)
            memcpy(wq + (size_t)k * 4 + i, wo + 4 * (size_t)k, 4);
        if (kf < cr) {
            int8_t t4[4] = {0, 0, 0, 0};
            for (k = 4 * kf; k < kk; k++)
                t4[k - 4 * kf] = wo[k];
            memcpy(wq + (size_t)kf * 4 + i, t4, 4);
        }
        /* sum w*(x - zp) = sum w*v - (zp + off)*sum w, modulo 2^32 */
        b4[i] = (int32_t)((uint32_t)(bias ? bias[o + i] : 0)
                          - (uint32_t)(zp + qcc_simd_off(QCC_I8)) * (uint32_t)qcc_simd_wsum(wo, kk));
    }
}
#else
static inline void qcc_pws_weights(const int8_t *w, const int32_t *bias, int32_t zp, int32_t o,
                                   int32_t no, int32_t kk, int32_t cr, int32_t *wq, int32_t *b4)
{
    int16_t row[1024];  /* one row's int16 pairs (cr * 4 <= 2048 bytes), read back with memcpy */
    int32_t i, k;
    (void)zp;
    for (i = 0; i < 4; i++) {
        const int8_t *wo = w + (size_t)i * kk;  /* w: row o */
        memset(row, 0, (size_t)cr * 4);
        if (i < no)
            qcc_simd_centre16(wo, kk, 0, row);
        for (k = 0; k < cr; k++)
            memcpy(wq + (size_t)k * 4 + i, (const char *)row + 4 * (size_t)k, 4);
        b4[i] = bias && i < no ? bias[o + i] : 0;
    }
}
#endif

/* qcc_pws_weights for the padded-plane tuples with kernel rows of kw taps padded to kwp (a
 * multiple of R; zero weights on the padding taps): the no rows (kk = rows * kw elements)
 * rewritten as rows * kwp, then the same tuples. */
static inline void qcc_pws_weights_pad(const int8_t *w, const int32_t *bias, int32_t zp, int32_t o,
                                       int32_t no, int32_t kk, int32_t kw, int32_t kwp, int32_t cr,
                                       int32_t *wq, int32_t *b4)
{
    int32_t i, r, v;
    if (kwp == kw) {
        qcc_pws_weights(w + (size_t)o * kk, bias, zp, o, no, kk, cr, wq, b4);
        return;
    }
#ifdef QCC_SIMD_QUAD
    /* byte quads composed in a register and stored once into wq (2026-12-06, host10: the byte
     * copy into padded rows and qcc_pws_weights' pass over them cost more than the tile's dot
     * products on 4x4 output planes: digits_cnn's 3x3 stride-2 conv on this path took 5.7 us,
     * the whole model's default build 7.4 us, 3.6 with these quads; alternating runs) */
    for (i = 0; i < 4; i++) {
        const int8_t *src = w + (size_t)(o + i) * kk;
        const int32_t nt = kwp / 4;
        if (i >= no) {
            for (r = 0; r < cr; r++)
                wq[(size_t)r * 4 + i] = 0;
            b4[i] = 0;
            continue;
        }
        if (kw == 3 && kwp == 4) {  /* one quad per row: three bytes and a zero, no branches */
            const uint8_t *t = (const uint8_t *)src;
            for (r = 0; r < kk / 3; r++, t += 3)
                wq[(size_t)r * 4 + i] = (int32_t)((uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16);
        } else {
            for (r = 0; r < kk / kw; r++)
                for (v = 0; v < nt; v++) {
                    const uint8_t *t = (const uint8_t *)src + (size_t)r * kw + 4 * v;
                    const int32_t n = kw - 4 * v;  /* taps of this quad inside the row: 1 .. 4+ */
                    uint32_t q = t[0];
                    q |= n > 1 ? (uint32_t)t[1] << 8 : 0u;
                    q |= n > 2 ? (uint32_t)t[2] << 16 : 0u;
                    q |= n > 3 ? (uint32_t)t[3] << 24 : 0u;
                    wq[((size_t)r * nt + v) * 4 + i] = (int32_t)q;
                }
        }
        /* sum w*(x - zp) = sum w*v - (zp + off)*sum w, modulo 2^32 (the padding taps are 0) */
        b4[i] = (int32_t)((uint32_t)(bias ? bias[o + i] : 0)
                          - (uint32_t)(zp + qcc_simd_off(QCC_I8)) * (uint32_t)qcc_simd_wsum(src, kk));
    }
#else
    int8_t wp[4 * 2048];  /* four rows of cr * R <= 2048 elements */
    for (i = 0; i < no; i++) {  /* byte loops: memcpy calls of kw bytes cost more here */
        const int8_t *src = w + (size_t)(o + i) * kk;
        int8_t *dst = wp + (size_t)i * cr * QCC_PWS_R;
        for (r = 0; r < kk / kw; r++)
            for (v = 0; v < kwp; v++)
                dst[r * kwp + v] = v < kw ? src[r * kw + v] : 0;
    }
    qcc_pws_weights(wp, bias, zp, o, no, cr * QCC_PWS_R, cr, wq, b4);
#endif
}

/* gcc 11-12 at -O3 with AVX2 or wider vectors: a false -Wstringop-overflow ("writing 32 bytes
 * into a region of size 0") on the strided copy below once qcc_pws_col is inlined into
 * qcc_conv2d_pws (it loses the bound q + n <= qn <= QCC_PWS_Q); -Werror made `make
 * HOST_ARCH=-mavx2` or `-march=native` fail on any one-group strided conv of >= 64 outputs. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
/* A strided conv's input rows ih0 .. ih0 + nr - 1 of a group's channels split into their sw
 * column phases, so that every tap's im2col row segment is one contiguous run (as for stride
 * 1) instead of an element-by-element gather: xs[(ci * nr + r) * ws + f * wq + jj] =
 * x[ci, ih0 + r, jj * sw + f] (f < sw, wq = ceil(w / sw), ws = sw * wq). */
typedef struct {
    const int8_t *xs;
    int32_t ih0, nr, wq, ws;
} qcc_pws_ph;

static inline void qcc_pws_phases(const qcc_conv2d_p *p, const int8_t *xb, int32_t cg, qcc_pws_ph *ph,
                                  int8_t *xs)
{
    const int32_t w = p->w, sw = p->sw, wq = ph->wq, nr = ph->nr;
    int32_t ci, r, jj, f;
    ph->xs = xs;
    for (ci = 0; ci < cg; ci++)
        for (r = 0; r < nr; r++) {
            const int8_t *restrict src = xb + ((size_t)ci * p->h + ph->ih0 + r) * w;
            int8_t *restrict dst = xs + ((size_t)ci * nr + r) * ph->ws;
            jj = 0;
            if (sw == 2) {
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
                const __m128i lowb = _mm_set1_epi16(0xff);
                for (; 2 * jj + 32 <= w; jj += 16) {  /* 32 bytes -> 16 even, 16 odd */
                    const __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * jj));
                    const __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * jj + 16));
                    _mm_storeu_si128((__m128i *)(void *)(dst + jj),
                                     _mm_packus_epi16(_mm_and_si128(v0, lowb), _mm_and_si128(v1, lowb)));
                    _mm_storeu_si128((__m128i *)(void *)(dst + wq + jj),
                                     _mm_packus_epi16(_mm_srli_epi16(v0, 8), _mm_srli_epi16(v1, 8)));
                }
#endif
                for (; 2 * jj + 1 < w; jj++) {
                    dst[jj] = src[2 * jj];
                    dst[wq + jj] = src[2 * jj + 1];
                }
                if (w & 1)
                    dst[jj] = src[w - 1];
            } else
                for (f = 0; f < sw; f++)
                    for (jj = 0; f + jj * sw < w; jj++)
                        dst[(size_t)f * wq + jj] = src[f + jj * sw];
        }
}

/* row[q] = x at the k-th (ci, u, v) tap of output position q0 + q (the zero point's byte in
 * the padding), q < qn: one K-major row of the implicit im2col, one output-row segment at a
 * time; from the column phases ph when given (strided convs), else from x. */
static inline void qcc_pws_col(const qcc_conv2d_p *p, const int8_t *xb, const qcc_pws_ph *ph,
                               int32_t k, int32_t q0, int32_t qn, int8_t *row)
{
    const int32_t v = k % p->kw, u = k / p->kw % p->kh, ci = k / (p->kw * p->kh);
    const int32_t offw = v * p->dw - p->pl;
    const int32_t fph = ph ? ((offw % p->sw) + p->sw) % p->sw : 0;  /* the tap's column phase */
    const int32_t base = ph ? (offw - fph) / p->sw : 0;  /* column jj = j + base of that phase */
    const int8_t *xc = xb + (size_t)ci * p->h * p->w, zb = (int8_t)p->x_zp;
    int32_t q = 0, j0, j1, t;
    qcc_valid_range(offw, p->sw, p->w, p->ow, &j0, &j1);  /* output columns inside x */
    while (q < qn) {
        const int32_t i = (q0 + q) / p->ow, j = (q0 + q) % p->ow;
        const int32_t n = p->ow - j < qn - q ? p->ow - j : qn - q, ih = i * p->sh + u * p->dh - p->pt;
        const int32_t a = j0 > j ? (j0 < j + n ? j0 : j + n) : j, b = j1 < j + n ? (j1 > a ? j1 : a) : j + n;
        int8_t *r = row + q - j;  /* r[jj] for output column jj */
        if (ih < 0 || ih >= p->h) {  /* a loop: gcc's -Warray-bounds under -fsanitize took a
                                       * memset of n bytes for a possibly negative n */
            for (t = 0; t < n; t++)
                row[q + t] = zb;
            q += n;
            continue;
        }
        for (t = j; t < a; t++)  /* loops, not memset / memcpy calls: segments are short */
            r[t] = zb;
        if (p->sw == 1 || ph) {
            const int8_t *restrict src = ph ? ph->xs + ((size_t)ci * ph->nr + (ih - ph->ih0)) * ph->ws
                                                  + (size_t)fph * ph->wq + base
                                            : xc + (size_t)ih * p->w + offw;
            int8_t *restrict dst = r;
            for (t = a; t < b; t++)
                dst[t] = src[t];
        } else {  /* strided, without phases (the block's rows did not fit QCC_PWS_PH) */
            const int8_t *src = xc + (size_t)ih * p->w + offw;
            t = a;
#ifdef QCC_SIMD_SSE2
            if (p->sw == 2) {  /* the even bytes of 16, while they lie inside the row */
                const __m128i lowb = _mm_set1_epi16(0xff);
                for (; t + 8 <= b && 2 * t + offw + 16 <= p->w; t += 8) {
                    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(src + 2 * t));
                    _mm_storel_epi64((__m128i *)(void *)(r + t),
                                     _mm_packus_epi16(_mm_and_si128(v, lowb), _mm_setzero_si128()));
                }
            }
#endif
            for (; t < b; t++)
                r[t] = src[t * p->sw];
        }
        for (t = b; t < j + n; t++)
            r[t] = zb;
        q += n;
    }
}

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic pop
#endif

/* The block's tuples xp[kt * qs + q], q < qn, of reduction elements kt*R .. kt*R + R - 1, then
 * the zero point's tuples to qv (any value: their weights are zero, they are not stored). */
static inline void qcc_pws_tuples(const qcc_conv2d_p *p, const int8_t *xb, const qcc_pws_ph *ph,
                                  int32_t kk, int32_t q0, int32_t qn, int32_t qv, int32_t qs, int32_t *xp)
{
    const int32_t plane = p->oh * p->ow, cr = (kk + QCC_PWS_R - 1) / QCC_PWS_R;
    const int pw = qcc_conv_simd_pointwise(p);
    int8_t rows[QCC_PWS_R][QCC_PWS_Q];
    const int8_t *r[QCC_PWS_R];
    int32_t kt, t, q;
    for (kt = 0; kt < cr; kt++) {
        int32_t *d = xp + (size_t)kt * qs;
        for (t = 0; t < QCC_PWS_R; t++) {
            const int32_t e = kt * QCC_PWS_R + t;
            if (e < kk && pw)
                r[t] = xb + (size_t)e * plane + q0;
            else {
                if (e < kk)
                    qcc_pws_col(p, xb, ph, e, q0, qn, rows[t]);
                else
                    memset(rows[t], (uint8_t)(int8_t)p->x_zp, (size_t)qn);
                r[t] = rows[t];
            }
        }
#ifdef QCC_SIMD_QUAD
        {
            const uint32_t f = (uint32_t)QCC_SIMD_FLIP * 0x01010101u;  /* the operand domain */
            const uint8_t *r0 = (const uint8_t *)r[0], *r1 = (const uint8_t *)r[1];
            const uint8_t *r2 = (const uint8_t *)r[2], *r3 = (const uint8_t *)r[3];
            for (q = 0; q < qn; q++)
                d[q] = (int32_t)(((uint32_t)r0[q] | (uint32_t)r1[q] << 8 | (uint32_t)r2[q] << 16
                                  | (uint32_t)r3[q] << 24) ^ f);
        }
#else
        qcc_simd_pairrow(r[0], r[1], qn, p->x_zp, d);
#endif
        for (q = qn; q < qv; q++)
            d[q] = 0;
    }
}

/* Convs with dilation 1 along the rows read every tuple as R contiguous bytes of the group's
 * channels padded once with the zero point's byte: xz[(ci * hz + r) * wz + c] = x[ci, r - pt,
 * c - pl] inside x, else zp (hz, wz: the rows and columns the taps reach). With AVX-512
 * VNNI's quads, kernel rows of kw taps count as kwp = kw rounded up to 4, the extra taps'
 * weights zero (qcc_pws_weights_pad), when that adds at most a third to K (kw = 3, 6, 7);
 * with the int16 pairs of AVX2 / SSE2 only kw a multiple of 2 (extra taps measured
 * slower there: bench/conv_shapes.py). x86 only. The block's
 * tuples are then one load per position from precomputed offsets instead of qcc_pws_col's
 * per-row segments, which cost more than the dot products on short or strided rows (ds_cnn's
 * 10x4 stride-2 first conv over 1x49x10: rows of 5 outputs; kws_tcnn's 1x3 stride-2 convs
 * on rows of 25 and 13; docs/target_c_log.md "Short rows: padded-plane tuples"). */
#ifndef QCC_PWS_PAD_MIN  /* the smallest output plane this path takes (-D for an A/B: bench/conv_shapes.py) */
#define QCC_PWS_PAD_MIN 16
#endif
/* On output planes below QCC_PWS_PAD_SMALL the path takes reductions K = cg * kh * kw of
 * at most QCC_PWS_PAD_SMALL_K only (past it the im2col dot products over kw-byte runs,
 * qcc_im2col_simd_runs, were faster), with VNNI when the rows are padded with zero taps (kwp >
 * kw; whole quads won everywhere), on SSE2 always and on strided planes below 64 too (1x4
 * stride-2 rows of 25 and 49: 0.79-0.87), with AVX2 never (mixed: 0.82 .. 1.38)
 * (bench/conv_shapes.py --grid, docs/target_c_log.md "Kernel selection: padded taps against
 * the im2col runs": VNNI 3x3 stride 2 onto 4x4 from 16 / 64 channels 0.89 / 0.79, 1x3 stride 2
 * on rows of 16 from 32 / 64 channels 0.80 / 0.62, rows of 20 1.01 / 0.83, from 8 channels
 * 1.27, planes of 24 and 25 1.03-1.53; SSE2 3x4 onto 4x4 from 16 / 64 channels 0.86 / 0.88,
 * from 1 channel 1.87). */
#ifndef QCC_PWS_PAD_SMALL
#define QCC_PWS_PAD_SMALL 24
#endif
#ifndef QCC_PWS_PAD_SMALL_K
#define QCC_PWS_PAD_SMALL_K 72
#endif
typedef struct {
    const int8_t *xz;
    int32_t hz, wz, kwp;
} qcc_pws_pad;

static inline int qcc_pws_pad_fits(const qcc_conv2d_p *p, int32_t cg, qcc_pws_pad *pz)
{
    pz->kwp = (p->kw + QCC_PWS_R - 1) / QCC_PWS_R * QCC_PWS_R;
    pz->hz = (p->oh - 1) * p->sh + (p->kh - 1) * p->dh + 1;
    pz->wz = (p->ow - 1) * p->sw + pz->kwp;
#if !defined(QCC_SIMD_X86) && !defined(QCC_SIMD_SSE2)
    return 0;  /* AArch64: not measured */
#endif
#ifndef QCC_SIMD_QUAD  /* the int16 pairs: scalar tuples, slower than qcc_pws_col's with extra taps */
    if (pz->kwp != p->kw)
        return 0;
#endif
#ifdef QCC_SIMD_QUAD
    if (pz->kwp != p->kw && p->oh * p->ow < QCC_PWS_PAD_SMALL && cg * p->kh * p->kw > QCC_PWS_PAD_SMALL_K)
        return 0;  /* the im2col runs */
#elif defined(QCC_SIMD_SSE2)
    if (cg * p->kh * p->kw > QCC_PWS_PAD_SMALL_K
        && (p->oh * p->ow < QCC_PWS_PAD_SMALL || (p->sw > 1 && p->oh * p->ow < 64)))
        return 0;  /* the im2col runs */
#endif
    return p->dw == 1 && 3 * pz->kwp <= 4 * p->kw && (p->sw > 1 || p->ow < 16)
           && p->oh * p->ow >= QCC_PWS_PAD_MIN && (size_t)cg * pz->hz * pz->wz <= QCC_PWS_PH;
}

static inline void qcc_pws_pad_fill(const qcc_conv2d_p *p, const int8_t *xb, int32_t cg, qcc_pws_pad *pz,
                                    int8_t *xz)
{
    int32_t j0 = p->pl, j1 = p->pl + p->w, ci, r;  /* the columns of xz inside x */
    j1 = j1 < pz->wz ? j1 : pz->wz;
    pz->xz = xz;
    memset(xz, (uint8_t)(int8_t)p->x_zp, (size_t)cg * pz->hz * pz->wz);
    if (j0 >= j1)
        return;
    for (ci = 0; ci < cg; ci++)
        for (r = 0; r < pz->hz; r++) {
            const int32_t ih = r - p->pt;
            if (ih >= 0 && ih < p->h)
                memcpy(xz + ((size_t)ci * pz->hz + r) * pz->wz + j0,
                       xb + ((size_t)ci * p->h + ih) * p->w, (size_t)(j1 - j0));
        }
}

/* qcc_pws_tuples from the padded channels: tuple kt of the rows of kwp taps (cr tuples). */
static inline void qcc_pws_pad_tuples(const qcc_conv2d_p *p, const qcc_pws_pad *pz, int32_t cr,
                                      int32_t q0, int32_t qn, int32_t qv, int32_t qs, int32_t *xp)
{
    int32_t off[QCC_PWS_Q], kt, q;
    for (q = 0; q < qn; q++)
        off[q] = (q0 + q) / p->ow * p->sh * pz->wz + (q0 + q) % p->ow * p->sw;
    for (kt = 0; kt < cr; kt++) {
        const int32_t e = kt * QCC_PWS_R, ci = e / (p->kh * pz->kwp), u = e / pz->kwp % p->kh;
        const int8_t *base = pz->xz + ((size_t)ci * pz->hz + (size_t)u * p->dh) * pz->wz + e % pz->kwp;
        int32_t *restrict d = xp + (size_t)kt * qs;
#ifdef QCC_SIMD_QUAD
        const uint32_t f = (uint32_t)QCC_SIMD_FLIP * 0x01010101u;  /* the operand domain */
        for (q = 0; q < qn; q++) {
            uint32_t t;
            memcpy(&t, base + off[q], 4);
            d[q] = (int32_t)(t ^ f);
        }
#else
        for (q = 0; q < qn; q++)
            d[q] = (int32_t)((uint32_t)(uint16_t)(int16_t)(base[off[q]] - p->x_zp)
                             | (uint32_t)(uint16_t)(int16_t)(base[off[q] + 1] - p->x_zp) << 16);
#endif
        for (q = qn; q < qv; q++)
            d[q] = 0;
    }
}

/* At most how many input rows a block of qs positions reads (any alignment). */
static inline int32_t qcc_pws_rows(const qcc_conv2d_p *p, int32_t qs)
{
    const int32_t rows = (qs + p->ow - 2) / p->ow + 1;  /* output rows of qs positions, any start */
    const int32_t n = (rows - 1) * p->sh + (p->kh - 1) * p->dh + 1;
    return n < p->h ? n : p->h;
}

/* The input rows ph->ih0 .. ph->ih0 + ph->nr - 1 (inside x) that output positions q0 .. q0 +
 * qn - 1 read; 0: none. */
static inline int qcc_pws_block_rows(const qcc_conv2d_p *p, int32_t q0, int32_t qn, qcc_pws_ph *ph)
{
    int32_t a = q0 / p->ow * p->sh - p->pt;
    int32_t e = (q0 + qn - 1) / p->ow * p->sh + (p->kh - 1) * p->dh - p->pt + 1;
    a = a > 0 ? a : 0;
    e = e < p->h ? e : p->h;
    ph->ih0 = a;
    ph->nr = e - a;
    return e > a;
}

/* The smallest output plane the GEMM takes: 64, or 32 for one-group convs of stride 1 along
 * the rows (a 1x3 conv over 40 channels on a 1x49 row measured 1.4x faster here than in the
 * im2col dot products with AVX-512 VNNI, 1.2x with SSE2; strided rows, whose implicit
 * im2col copies element by element, measured 0.7-0.9x; 2026-12-06), or 16 for one-group
 * pointwise convs (their tuples are x's rows: on mobilenet_small's 4x4 planes 1.3x faster than
 * the im2col dot products with AVX-512 VNNI before the weight quads below lost their row
 * buffer, 1.8-2.9x after; 2026-12-06 round "Small planes"). */
static inline int32_t qcc_pws_min_plane(const qcc_conv2d_p *p)
{
    if (p->group == 1 && qcc_conv_simd_pointwise(p))
        return 16;
    return p->group == 1 && p->sw == 1 ? 32 : 64;
}

/* qcc_conv2d with plain int8 weights on output planes of at least 64 positions (32, see
 * qcc_pws_min_plane), one group
 * after the other (group g: the K-major rows of its input channels g*cg .., the weight rows
 * of its outputs g*mg ..); 0: not taken (small planes, where the im2col dot products win, K
 * larger than the block holds, or depthwise convs, which qcc_conv2d_dws and the phase-plane
 * kernel take). Grouped convs on smaller planes measured 1.2-3x slower here than in the
 * im2col kernels (2026-12-06, RegNet's 3x3 groups of 16 on 6x6 and 3x3 planes, SSE2 and
 * AVX-512 builds): the 16-lane position blocks are mostly padding there. Pointwise convs with
 * one output channel per group (a segmentation head's last layer, a transposed conv's phases
 * into one channel) measured 1.5-2.6x faster in the direct kernel, which reads x once per
 * output instead of laying it out as tuples (16 and 64 channels on 48x48 and 24x24 planes,
 * SSE2 and AVX-512 builds; with two outputs it was level, with 3x3 kernels the GEMM wins). */
static inline int qcc_conv2d_pws(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 void *y)
{
    const int32_t plane = p->oh * p->ow, cg = p->c / p->group, mg = p->m / p->group;
    const int32_t kk = cg * p->kh * p->kw;
    int32_t xp[QCC_PWS_BUF], wq[4 * 512], b4[4], acc[4][QCC_PWS_Q];
    int8_t xs[QCC_PWS_PH];
    qcc_pws_ph ph;
    qcc_pws_pad pz;
    int32_t cr, qs, b, g, q0, o, i;
    int use_pad;
    if ((p->group != 1 && cg == 1) || p->wbits != 8 || (mg == 1 && qcc_conv_simd_pointwise(p)))
        return 0;
    use_pad = qcc_pws_pad_fits(p, cg, &pz);  /* the tuples from the padded plane */
    cr = use_pad ? cg * p->kh * pz.kwp / QCC_PWS_R : (kk + QCC_PWS_R - 1) / QCC_PWS_R;
    if (cr > 512 || (!use_pad && plane < qcc_pws_min_plane(p)))
        return 0;
    qs = QCC_PWS_BUF / cr / 16 * 16;  /* positions per block, a multiple of 16 */
    qs = qs < QCC_PWS_Q ? qs : QCC_PWS_Q;
    if (qs < 16)
        return 0;
    ph.wq = (p->w + p->sw - 1) / p->sw;
    ph.ws = p->sw * ph.wq;
    while (!use_pad && p->sw > 1 && qs > 64 && (size_t)cg * qcc_pws_rows(p, qs) * ph.ws > QCC_PWS_PH)
        qs -= 16;  /* blocks whose rows' phases fit, down to 64 positions */
    for (b = 0; b < p->n; b++)
        for (g = 0; g < p->group; g++)
            for (q0 = 0; q0 < plane; q0 += qs) {
                const int32_t qn = plane - q0 < qs ? plane - q0 : qs, qv = (qn + 15) / 16 * 16;
                const int32_t o1 = (g + 1) * mg;  /* explicit bounds (see qcc_linear) */
                const int8_t *xg = x + ((size_t)b * p->c + (size_t)g * cg) * p->h * p->w;
                const int use_ph = !use_pad && p->sw > 1 && qcc_pws_block_rows(p, q0, qn, &ph)
                                   && (size_t)cg * ph.nr * ph.ws <= QCC_PWS_PH;
                if (use_pad) {
                    if (q0 == 0)
                        qcc_pws_pad_fill(p, xg, cg, &pz, xs);
                    qcc_pws_pad_tuples(p, &pz, cr, q0, qn, qv, qs, xp);
                } else {
                    if (use_ph)
                        qcc_pws_phases(p, xg, cg, &ph, xs);
                    qcc_pws_tuples(p, xg, use_ph ? &ph : NULL, kk, q0, qn, qv, qs, xp);
                }
                for (o = g * mg; o < o1; o += 4) {
                    const int32_t no = o1 - o < 4 ? o1 - o : 4;
                    qcc_pws_weights_pad(w, bias, p->x_zp, o, no, kk, p->kw, use_pad ? pz.kwp : p->kw,
                                        cr, wq, b4);
                    qcc_pws_tile_z(xp, NULL, qs, cr, qv, wq, b4, acc[0], QCC_PWS_Q);
                    for (i = 0; i < no; i++)
                        qcc_conv_epilogue(p, acc[i], qn, mult, shift, o + i, y,
                                          ((size_t)b * p->m + o + i) * plane + q0);
                }
            }
    return 1;
}
