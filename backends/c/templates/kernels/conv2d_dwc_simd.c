/* Depthwise convs on AVX-512 VNNI + VBMI (the -march=native build of a Zen 4 / Ice Lake or
 * later host, and the default build's dispatched avx512 variant): sixteen output channels in
 * the sixteen int32 lanes of one 512-bit register from input to output, four taps per
 * VPDPBUSD (docs/target_c_log.md "The 16-channel depthwise kernel"). Per block of sixteen
 * channels the input is turned into position-major bytes u = x + 128 (16x16 byte transposes
 * of the NCHW rows; masked loads put zp + 128 in the padding): the whole plane once per block
 * on planes of at most QCC_DWC_PL positions, else row by row per band of padded rows. Taps
 * (u, 4k .. 4k + 3) of output (i, j) are then one 64-byte load of four padded positions at
 * (i*sh + u, j*sw + 4k), one VPERMB that regroups it into per-lane byte quads, and one
 * VPDPBUSD against the weight quads (w[u][4k .. 4k + 3], 0 past kw): a 3x3 kernel is three
 * instructions per sixteen outputs. sum w*(x - zp) = sum w*u - (zp + 128)*sum w: the padding
 * holds u = zp + 128 (it contributes w*(zp + 128), cancelled by the correction folded into
 * the bias lanes), and the sums wrap modulo 2^32 exactly as the interpreter's int32
 * accumulator, whose true value fits int32 (check-headroom). The epilogue requantizes the
 * sixteen lanes in registers (signed 32x32 -> 64 products, VPSRAVQ, 64-bit clamp; exact for
 * every multiplier and shift in [1, 62]), keeps a band's int8 results position-major and
 * writes them per channel through 16x16 byte transposes (masked tail stores). Only int8
 * outputs with per-tensor or per-channel requantization, dilation 1, a channel multiplier of
 * 1 and -128 <= x_zp <= 127; anything else (and bands that do not fit the stack buffers)
 * falls to the flat / band kernels (return 0). Scratch: none from the arena; the band
 * (QCC_DWC_BAND columns of 16 bytes), the plane, the band's results live on the stack. */
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VBMI__)
#define QCC_DWC 1
#define QCC_DWC_BAND 3072 /* 16-lane columns of one band of padded rows (48 KiB) */
#define QCC_DWC_POS 1024  /* output positions of one band */
#define QCC_DWC_KQ 16     /* kh * ceil(kw / 4) weight quads at most */
#define QCC_DWC_PL 1024   /* input positions of a plane transposed once per block */

/* o[c] = byte l of r[l] at column c, for 16 rows of 16 bytes (4 rounds of unpacks). */
static inline void qcc_dwc_t16(const __m128i *r, __m128i *o)
{
    __m128i s1[2][8], s2[4][4], s3[8][2];
    int32_t i, c;
    for (i = 0; i < 8; i++) {  /* rows 2i, 2i+1; 16-bit pairs of columns 0-7, 8-15 */
        s1[0][i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
        s1[1][i] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    for (c = 0; c < 4; c++)  /* rows 4i .. 4i + 3 of columns 4c .. 4c + 3 */
        for (i = 0; i < 4; i++)
            s2[c][i] = c % 2 == 0 ? _mm_unpacklo_epi16(s1[c / 2][2 * i], s1[c / 2][2 * i + 1])
                                  : _mm_unpackhi_epi16(s1[c / 2][2 * i], s1[c / 2][2 * i + 1]);
    for (c = 0; c < 8; c++)  /* rows 8i .. 8i + 7 of columns 2c, 2c + 1 */
        for (i = 0; i < 2; i++)
            s3[c][i] = c % 2 == 0 ? _mm_unpacklo_epi32(s2[c / 2][2 * i], s2[c / 2][2 * i + 1])
                                  : _mm_unpackhi_epi32(s2[c / 2][2 * i], s2[c / 2][2 * i + 1]);
    for (c = 0; c < 16; c++)
        o[c] = c % 2 == 0 ? _mm_unpacklo_epi64(s3[c / 2][0], s3[c / 2][1])
                          : _mm_unpackhi_epi64(s3[c / 2][0], s3[c / 2][1]);
}

/* m[l] = 16 bytes of channel c0 + l (lanes past nv repeat channel nv - 1) from plane offset
 * off under the byte mask mk (zp elsewhere), flipped to u8, transposed: o[t] = the 16 lanes of
 * byte t. */
static inline void qcc_dwc_load16(const qcc_conv2d_p *p, const int8_t *xb, int32_t c0, int32_t nv,
                                  ptrdiff_t off, __mmask16 mk, __m128i *o)
{
    const __m128i zpv = _mm_set1_epi8((char)p->x_zp), flip = _mm_set1_epi8((char)0x80);
    const size_t hw = (size_t)p->h * p->w;
    __m128i r[16];
    int32_t l;
    for (l = 0; l < 16; l++)
        r[l] = _mm_xor_si128(_mm_mask_loadu_epi8(zpv, mk, (const void *)(xb + (size_t)(c0 + (l < nv ? l : nv - 1)) * hw + off)),
                             flip);
    qcc_dwc_t16(r, o);
}

/* Small planes (h * w <= QCC_DWC_PL): the block's whole plane, position-major, once per
 * block: pl[q] = the 16 lanes at input position q. */
static inline void qcc_dwc_plane(const qcc_conv2d_p *p, const int8_t *xb, int32_t c0, int32_t nv, __m128i *pl)
{
    const int32_t hw = p->h * p->w;
    int32_t q;
    for (q = 0; q < hw; q += 16)
        qcc_dwc_load16(p, xb, c0, nv, q, (__mmask16)(hw - q >= 16 ? 0xffffu : (1u << (hw - q)) - 1u), pl + q);
}

/* One padded band row: pr[c] (c < wp) = the 16 lanes at padded column c of input row ih
 * (zp + 128 in the padding), from the plane-wide pl when given, else 16 columns at a time
 * from x. */
static inline void qcc_dwc_prow(const qcc_conv2d_p *p, const int8_t *xb, const __m128i *pl, int32_t c0,
                                int32_t nv, int32_t ih, int32_t wp, __m128i *pr)
{
    const __m128i u = _mm_set1_epi8((char)(p->x_zp ^ 0x80));
    __m128i t[16];
    int32_t cc, c, j0, j1;
    if (ih < 0 || ih >= p->h) {
        for (c = 0; c < wp; c++)
            pr[c] = u;
        return;
    }
    qcc_valid_range(-p->pl, 1, p->w, wp, &j0, &j1);
    j1 = j1 > j0 ? j1 : j0;
    for (c = 0; c < j0; c++)
        pr[c] = u;
    for (c = j1; c < wp; c++)
        pr[c] = u;
    if (pl != NULL) {
        memcpy(pr + j0, pl + (size_t)ih * p->w + j0 - p->pl, (size_t)(j1 - j0) * sizeof(__m128i));
        return;
    }
    for (cc = j0; cc < j1; cc += 16) {
        const int32_t n = j1 - cc < 16 ? j1 - cc : 16;
        qcc_dwc_load16(p, xb, c0, nv, (ptrdiff_t)ih * p->w + cc - p->pl, (__mmask16)((1u << n) - 1u), t);
        memcpy(pr + cc, t, (size_t)n * sizeof(__m128i));
    }
}

/* The block's lanes: weight quads wq[u * nq + k] (lane l: w[c0 + l][u][4k .. 4k + 3], 0 past
 * kw and for lanes past nv), the bias with the (zp + 128) * sum w correction, the multipliers
 * and the shifts (64-bit even / odd lanes) with their rounding terms. */
typedef struct {
    __m512i wq[QCC_DWC_KQ], bias, m, se, so, re, ro;
} qcc_dwc_lanes;

static inline void qcc_dwc_setup(const qcc_conv2d_p *p, const int8_t *w, const int32_t *bias,
                                 const int32_t *mult, const int32_t *shift, int32_t c0, int32_t nv,
                                 int32_t nq, qcc_dwc_lanes *ln)
{
    /* the block's weights, contiguous in w ([m, kh*kw]), copied with room for the gathers'
     * 4-byte reads past a row's end; lanes past nv gather zeros */
    const int32_t taps = p->kh * p->kw;
    const __mmask16 lanes = (__mmask16)((1u << nv) - 1u);
    const __m512i one = _mm512_set1_epi64(1), low = _mm512_set1_epi64(0xffffffff);
    const __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                           _mm512_set1_epi32(taps));
    int8_t wb[16 * 4 * QCC_DWC_KQ + 4];
    __m512i sumw = _mm512_setzero_si512(), s;
    int32_t u, k;
    memcpy(wb, w + (size_t)c0 * taps, (size_t)nv * taps);
    memset(wb + (size_t)nv * taps, 0, (size_t)(16 - nv) * taps + 4);
    for (u = 0; u < p->kh; u++)
        for (k = 0; k < nq; k++) {  /* bytes 4k + t >= kw of the quad belong to the next row: 0 */
            const int32_t nb = p->kw - 4 * k < 4 ? p->kw - 4 * k : 4;
            const __m512i keep = _mm512_set1_epi32((int32_t)(0xffffffffu >> (32 - 8 * nb)));
            const __m512i g = _mm512_and_si512(
                _mm512_i32gather_epi32(_mm512_add_epi32(idx, _mm512_set1_epi32(u * p->kw + 4 * k)),
                                       (const void *)wb, 1), keep);
            ln->wq[u * nq + k] = g;
            sumw = _mm512_dpbusd_epi32(sumw, _mm512_set1_epi8(1), g);
        }
    ln->bias = bias ? _mm512_maskz_loadu_epi32(lanes, (const void *)(bias + c0)) : _mm512_setzero_si512();
    ln->bias = _mm512_sub_epi32(ln->bias, _mm512_mullo_epi32(sumw, _mm512_set1_epi32(p->x_zp + 128)));
    if (p->per_channel) {
        ln->m = _mm512_maskz_loadu_epi32(lanes, (const void *)(mult + c0));
        s = _mm512_mask_loadu_epi32(_mm512_set1_epi32(1), lanes, (const void *)(shift + c0));
    } else {
        ln->m = _mm512_set1_epi32(mult[0]);
        s = _mm512_set1_epi32(shift[0]);
    }
    ln->se = _mm512_and_si512(s, low);
    ln->so = _mm512_srli_epi64(s, 32);
    ln->re = _mm512_sllv_epi64(one, _mm512_sub_epi64(ln->se, one));
    ln->ro = _mm512_sllv_epi64(one, _mm512_sub_epi64(ln->so, one));
}

/* qcc_requant of the sixteen lanes (per-lane multiplier and shift), as int8. */
static inline __m128i qcc_dwc_requant(__m512i a, const qcc_dwc_lanes *ln, __m512i zp, __m512i lo, __m512i hi)
{
    __m512i e = _mm512_mul_epi32(a, ln->m);
    __m512i o = _mm512_mul_epi32(_mm512_srli_epi64(a, 32), _mm512_srli_epi64(ln->m, 32));
    e = _mm512_srav_epi64(_mm512_add_epi64(e, ln->re), ln->se);
    o = _mm512_srav_epi64(_mm512_add_epi64(o, ln->ro), ln->so);
    e = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(e, zp), lo), hi);
    o = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(o, zp), lo), hi);
    return _mm512_cvtepi32_epi8(_mm512_mask_blend_epi32((__mmask16)0xAAAA, e, _mm512_slli_epi64(o, 32)));
}

/* The quad of lanes at pr[c .. c + 3]: lane l = the bytes of channel l at columns c .. c + 3
 * (one VPERMB: out byte 4l + t = in byte 16t + l). */
static inline __m512i qcc_dwc_quad(const __m128i *pr, __m512i ix)
{
    return _mm512_permutexvar_epi8(ix, _mm512_loadu_si512((const void *)pr));
}

/* The int8 results r8[j] (16 lanes) of one output row of the band: pr = its first padded row,
 * rs = columns per band row, s = the column stride. kh and nq are constants at the call sites,
 * so the tap loops unroll and the weights stay in registers. */
static inline void qcc_dwc_row(const __m128i *pr, int32_t rs, int32_t s, int32_t kh, int32_t nq, int32_t ow,
                               const qcc_dwc_lanes *ln, __m512i zp, __m512i lo, __m512i hi, __m128i *r8)
{
    const __m512i ix = _mm512_set_epi32(0x3f2f1f0f, 0x3e2e1e0e, 0x3d2d1d0d, 0x3c2c1c0c, 0x3b2b1b0b, 0x3a2a1a0a,
                                        0x39291909, 0x38281808, 0x37271707, 0x36261606, 0x35251505, 0x34241404,
                                        0x33231303, 0x32221202, 0x31211101, 0x30201000);
    int32_t j = 0, u, k;
    for (; j + 4 <= ow; j += 4) {
        __m512i a0 = ln->bias, a1 = a0, a2 = a0, a3 = a0;
        for (u = 0; u < kh; u++)
            for (k = 0; k < nq; k++) {
                const __m128i *q = pr + (size_t)u * rs + (size_t)j * s + 4 * k;
                const __m512i wv = ln->wq[u * nq + k];
                a0 = _mm512_dpbusd_epi32(a0, qcc_dwc_quad(q, ix), wv);
                a1 = _mm512_dpbusd_epi32(a1, qcc_dwc_quad(q + s, ix), wv);
                a2 = _mm512_dpbusd_epi32(a2, qcc_dwc_quad(q + 2 * s, ix), wv);
                a3 = _mm512_dpbusd_epi32(a3, qcc_dwc_quad(q + 3 * s, ix), wv);
            }
        r8[j] = qcc_dwc_requant(a0, ln, zp, lo, hi);
        r8[j + 1] = qcc_dwc_requant(a1, ln, zp, lo, hi);
        r8[j + 2] = qcc_dwc_requant(a2, ln, zp, lo, hi);
        r8[j + 3] = qcc_dwc_requant(a3, ln, zp, lo, hi);
    }
    for (; j < ow; j++) {
        __m512i a = ln->bias;
        for (u = 0; u < kh; u++)
            for (k = 0; k < nq; k++)
                a = _mm512_dpbusd_epi32(a, qcc_dwc_quad(pr + (size_t)u * rs + (size_t)j * s + 4 * k, ix),
                                        ln->wq[u * nq + k]);
        r8[j] = qcc_dwc_requant(a, ln, zp, lo, hi);
    }
}

/* y[l * plane + q] = byte l of r8[q] for lanes l < nv and positions q < n: 16 positions at a
 * time through one 16x16 byte transpose, the tail under a store mask. */
static inline void qcc_dwc_store(const __m128i *r8, int32_t n, int32_t nv, int32_t plane, int8_t *y)
{
    __m128i t[16], o[16];
    int32_t q, l, i;
    for (q = 0; q < n; q += 16) {
        const int32_t k = n - q < 16 ? n - q : 16;
        const __mmask16 mk = (__mmask16)((1u << k) - 1u);
        for (i = 0; i < 16; i++)
            t[i] = i < k ? r8[q + i] : _mm_setzero_si128();
        qcc_dwc_t16(t, o);
        for (l = 0; l < nv; l++)
            _mm_mask_storeu_epi8((void *)(y + (size_t)l * plane + q), mk, o[l]);
    }
}

/* Output rows [i0, i0 + bn) of one block: the band's padded rows, the taps, the stores. */
static inline void qcc_dwc_band(const qcc_conv2d_p *p, const int8_t *xb, const __m128i *pl,
                                const qcc_dwc_lanes *ln, int32_t c0, int32_t nv, int32_t nq, int32_t wp,
                                int32_t i0, int32_t bn, __m128i *band, __m128i *r8, int8_t *yb)
{
    const __m512i zp = _mm512_set1_epi64(p->y_zp), lo = _mm512_set1_epi64(p->lo), hi = _mm512_set1_epi64(p->hi);
    const int32_t nr = (bn - 1) * p->sh + p->kh, ow = p->ow, s = p->sw;
    int32_t r, i;
    for (r = 0; r < nr; r++)
        qcc_dwc_prow(p, xb, pl, c0, nv, i0 * p->sh + r - p->pt, wp, band + (size_t)r * wp);
    for (i = 0; i < bn; i++) {
        const __m128i *pi = band + (size_t)i * p->sh * wp;
        __m128i *ri = r8 + (size_t)i * ow;
        if (p->kh == 3 && nq == 1)
            qcc_dwc_row(pi, wp, s, 3, 1, ow, ln, zp, lo, hi, ri);
        else if (p->kh == 5 && nq == 2)
            qcc_dwc_row(pi, wp, s, 5, 2, ow, ln, zp, lo, hi, ri);
        else
            qcc_dwc_row(pi, wp, s, p->kh, nq, ow, ln, zp, lo, hi, ri);
    }
    qcc_dwc_store(r8, bn * ow, nv, p->oh * ow, yb + (size_t)i0 * ow);
}

/* qcc_conv2d for c == group == m, dilation 1, int8 outputs; w: int8 [m, kh*kw]. 0: not taken. */
static inline int qcc_conv2d_dwc(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 void *y)
{
    const int32_t nq = (p->kw + 3) / 4, plane = p->oh * p->ow;
    const int32_t wp = (p->ow - 1) * p->sw + 4 * nq;  /* padded columns read */
    const int flat = p->h * p->w <= QCC_DWC_PL;
    __m128i band[QCC_DWC_BAND], r8[QCC_DWC_POS], pl[QCC_DWC_PL + 16];
    qcc_dwc_lanes ln;
    int32_t b, c0, i0, bn, o;
    if (p->c != p->group || p->m != p->c || p->dh != 1 || p->dw != 1 || mult == NULL || p->y_dt != QCC_I8
        || p->kh * nq > QCC_DWC_KQ || p->x_zp < -128 || p->x_zp > 127 || (size_t)p->kh * wp > QCC_DWC_BAND)
        return 0;
    bn = (QCC_DWC_BAND / wp - p->kh) / p->sh + 1;  /* output rows per band */
    bn = bn < QCC_DWC_POS / p->ow ? bn : QCC_DWC_POS / p->ow;
    bn = bn < p->oh ? bn : p->oh;
    if (bn < 1)
        return 0;
    for (o = 0; o < (p->per_channel ? p->m : 1); o++)
        if (shift[o] < 1 || shift[o] > 62)
            return 0;
    for (b = 0; b < p->n; b++)
        for (c0 = 0; c0 < p->m; c0 += 16) {
            const int32_t nv = p->m - c0 < 16 ? p->m - c0 : 16;
            const int8_t *xb = x + (size_t)b * p->c * p->h * p->w;
            qcc_dwc_setup(p, w, bias, mult, shift, c0, nv, nq, &ln);
            if (flat)
                qcc_dwc_plane(p, xb, c0, nv, pl);
            for (i0 = 0; i0 < p->oh; i0 += bn)
                qcc_dwc_band(p, xb, flat ? pl : NULL, &ln, c0, nv, nq, wp, i0, p->oh - i0 < bn ? p->oh - i0 : bn,
                             band, r8, (int8_t *)y + ((size_t)b * p->m + c0) * plane);
        }
    return 1;
}
#endif
