/* Depthwise convs (one input channel per output, channel multiplier 1: with more, e.g. a
 * 1-channel stem, the GEMM measured faster, see docs/target_c.md "ISA variants") on the x86
 * host SIMD variants (AVX2 / AVX-512 VNNI and the default SSE2 build), stride 1 within a row
 * (sw), any stride between rows (sh), any dilation, over flat phase planes: the centred int16
 * input of one channel is split into sh row phases as in the portable kernel (conv2d_dw.c:
 * phase a holds padded rows a, a + sh, ...), so tap (u, v) of output (i, j) is the element
 * q + off(u, v) of one phase plane, q = i*pw + j (columns j >= ow are junk, dropped before
 * the epilogue). Every tap is one contiguous vector load at any plane shape, and two taps are
 * one PMADDWD: the loads of taps t and t + 1 interleaved as int16 pairs against the
 * broadcast weight pair (w_t, w_t+1) (a zero weight pads an odd tap count). Each pass keeps
 * the int32 accumulators of QCC_DWF_Q flat positions in four registers across all taps;
 * |w * (x - zp)| <= 128 * 255, a pair sums exactly in int32, as the portable kernel's int16
 * products. Unlike the band kernel (qcc_conv2d_dws: eight channels in the lanes, a
 * transposition per input row and a scattered store per output) the lanes run along the
 * plane: wide rows (2x96, one-row planes) and dilation cost nothing extra, and the epilogue
 * writes whole rows. With AVX2 the band kernel stays faster on rows under 16 (its eight
 * channels share the per-channel set-up), with SSE2 it measured slower everywhere. Scratch:
 * none from the arena; the phase planes (QCC_DWF_PH int16) and one band of accumulators
 * (QCC_DWF_ACC int32) live on the stack (host builds only). */
#if defined(QCC_SIMD_X86) || defined(QCC_SIMD_SSE2)
#define QCC_DWF_PH 16384   /* int16 of the phase planes plus the last pass's overrun */
#define QCC_DWF_ACC 4096   /* int32 accumulators of one band of output rows (pw apart) */
#define QCC_DWF_TAPS 64    /* kh * kw at most */
#ifdef QCC_SIMD_X86
#define QCC_DWF_Q 32       /* flat positions per pass: four registers of 8 */
#define QCC_DWF_MIN_OW 16  /* narrower rows: the band kernel (eight channels in the lanes) */

/* acc[q .. q + 31] = init + sum over tap pairs t of the pair products at ph + off[2t] + q. */
static inline void qcc_dwf_pass(const int16_t *ph, const int32_t *off, const int32_t *wp, int32_t np,
                                int32_t q, int32_t init, int32_t *acc)
{
    __m256i a0 = _mm256_set1_epi32(init), a1 = a0, a2 = a0, a3 = a0;
    int32_t t;
    for (t = 0; t < np; t++) {
        const int16_t *s0 = ph + off[2 * t] + q, *s1 = ph + off[2 * t + 1] + q;
        const __m256i wv = _mm256_set1_epi32(wp[t]);
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)(const void *)s0);
        const __m256i y0 = _mm256_loadu_si256((const __m256i *)(const void *)s1);
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(s0 + 16));
        const __m256i y1 = _mm256_loadu_si256((const __m256i *)(const void *)(s1 + 16));
        /* per 128-bit half: unpacklo = positions 0-3 (| 8-11), unpackhi = 4-7 (| 12-15) */
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, y0), wv));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, y0), wv));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_unpacklo_epi16(x1, y1), wv));
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_unpackhi_epi16(x1, y1), wv));
    }
    _mm256_storeu_si256((__m256i *)(void *)(acc + q), _mm256_permute2x128_si256(a0, a1, 0x20));
    _mm256_storeu_si256((__m256i *)(void *)(acc + q + 8), _mm256_permute2x128_si256(a0, a1, 0x31));
    _mm256_storeu_si256((__m256i *)(void *)(acc + q + 16), _mm256_permute2x128_si256(a2, a3, 0x20));
    _mm256_storeu_si256((__m256i *)(void *)(acc + q + 24), _mm256_permute2x128_si256(a2, a3, 0x31));
}
#else
#define QCC_DWF_Q 16       /* flat positions per pass: four registers of 4 */
#define QCC_DWF_MIN_OW 1   /* every row width (the SSE2 band kernel measured slower) */

static inline void qcc_dwf_pass(const int16_t *ph, const int32_t *off, const int32_t *wp, int32_t np,
                                int32_t q, int32_t init, int32_t *acc)
{
    __m128i a0 = _mm_set1_epi32(init), a1 = a0, a2 = a0, a3 = a0;
    int32_t t;
    for (t = 0; t < np; t++) {
        const int16_t *s0 = ph + off[2 * t] + q, *s1 = ph + off[2 * t + 1] + q;
        const __m128i wv = _mm_set1_epi32(wp[t]);
        const __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)s0);
        const __m128i y0 = _mm_loadu_si128((const __m128i *)(const void *)s1);
        const __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(s0 + 8));
        const __m128i y1 = _mm_loadu_si128((const __m128i *)(const void *)(s1 + 8));
        a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(x0, y0), wv));
        a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(x0, y0), wv));
        a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi16(x1, y1), wv));
        a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi16(x1, y1), wv));
    }
    _mm_storeu_si128((__m128i *)(void *)(acc + q), a0);
    _mm_storeu_si128((__m128i *)(void *)(acc + q + 4), a1);
    _mm_storeu_si128((__m128i *)(void *)(acc + q + 8), a2);
    _mm_storeu_si128((__m128i *)(void *)(acc + q + 12), a3);
}
#endif

/* The 8 int8 at x as int16, minus z. */
static inline __m128i qcc_dwf_ld8(const int8_t *x, __m128i z)
{
#ifdef QCC_SIMD_X86
    return _mm_sub_epi16(_mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)x)), z);
#else
    return qcc_simd_ld8c(x, z);
#endif
}

/* The interior of the phase planes of one channel (qcc_dw_phases' layout, stride 1 along
 * the rows): dst[c] = x[c + off] - zp over the columns inside x, 8 at a time (the last 8
 * overlapping); the padding is left as it is (zeroed once per call). */
static inline void qcc_dwf_fill(const qcc_conv2d_p *p, const int8_t *xin, int32_t phh, int32_t pw,
                                int16_t *ph)
{
    const __m128i z = _mm_set1_epi16((int16_t)p->x_zp);
    const int16_t z16 = (int16_t)p->x_zp;
    int32_t a, r, c, c0, c1;
    qcc_valid_range(-p->pl, 1, p->w, pw, &c0, &c1);  /* phase columns inside x */
    for (a = 0; a < p->sh; a++)
        for (r = 0; r < phh; r++) {
            const int32_t ih = r * p->sh + a - p->pt, n = c1 - c0;
            int16_t *dst = ph + ((size_t)a * phh + r) * pw + c0;
            const int8_t *src = xin + (size_t)ih * p->w + c0 - p->pl;
            if (ih < 0 || ih >= p->h)
                continue;
            if (n < 8) {
                for (c = 0; c < n; c++)
                    dst[c] = (int16_t)(src[c] - z16);
                continue;
            }
            for (c = 0; c + 8 < n; c += 8)
                _mm_storeu_si128((__m128i *)(void *)(dst + c), qcc_dwf_ld8(src + c, z));
            _mm_storeu_si128((__m128i *)(void *)(dst + n - 8), qcc_dwf_ld8(src + n - 8, z));
        }
}

/* The phase-plane offsets of the taps, off[t] for t = u*kw + v (tap row u*dh in phase
 * (u*dh) % sh, phase row (u*dh) / sh; column v*dw), and off[taps] = off[taps - 1] (an odd
 * count's last pair repeats its tap with a zero weight). */
static inline void qcc_dwf_offsets(const qcc_conv2d_p *p, int32_t phh, int32_t pw, int32_t *off)
{
    int32_t u, v, t = 0;
    for (u = 0; u < p->kh; u++)
        for (v = 0; v < p->kw; v++)
            off[t++] = ((u * p->dh) % p->sh * phh + u * p->dh / p->sh) * pw + v * p->dw;
    off[t] = off[t - 1];
}

/* The phase planes' rows (with one spare) and width: qcc_dw_dims with the dilated kernel's
 * extent (kh - 1) * dh + 1 by (kw - 1) * dw + 1, stride 1 along the rows. */
static inline void qcc_dwf_dims(const qcc_conv2d_p *p, int32_t *phh, int32_t *pw)
{
    const int32_t kh = (p->kh - 1) * p->dh + 1, kw = (p->kw - 1) * p->dw + 1;
    *phh = ((p->oh - 1) * p->sh + kh + p->sh - 1) / p->sh + 1;
    *pw = p->ow - 1 + kw;
}

/* wp[t] = the weights of taps 2t and 2t + 1 of one output channel as an int16 pair (0 past
 * the last tap); returns the pair count. */
static inline int32_t qcc_dwf_pairs(const int8_t *wk, int32_t taps, int32_t *wp)
{
    int32_t t, n = 0;
    for (t = 0; t + 1 < taps; t += 2)
        wp[n++] = (int32_t)((uint32_t)(uint16_t)(int16_t)wk[t] | (uint32_t)(uint16_t)(int16_t)wk[t + 1] << 16);
    if (t < taps)
        wp[n++] = (int32_t)(uint32_t)(uint16_t)(int16_t)wk[t];
    return n;
}

/* qcc_conv2d for c == group == m, stride 1 along the rows, plain int8 weights [m, kh*kw]. 0: not taken (the
 * phase planes do not fit QCC_DWF_PH, or an output row not QCC_DWF_ACC). */
static inline int qcc_conv2d_dwf(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                 const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                 void *y)
{
    const int32_t mg = p->m / p->group, taps = p->kh * p->kw, plane = p->oh * p->ow;
    int16_t ph[QCC_DWF_PH];
    int32_t acc[QCC_DWF_ACC + QCC_DWF_Q], off[QCC_DWF_TAPS + 1], wp[QCC_DWF_TAPS / 2 + 1];
    int32_t phh, pw, rb, b, o, i0, i, j, q, filled = -1;
    size_t total;
    if (p->c != p->group || mg != 1 || p->sw != 1 || taps > QCC_DWF_TAPS)
        return 0;
    qcc_dwf_dims(p, &phh, &pw);
    total = (size_t)p->sh * p->sw * phh * pw;
    rb = QCC_DWF_ACC / pw;  /* output rows per band */
    if (total + QCC_DWF_Q > QCC_DWF_PH || rb < 1)
        return 0;
    rb = rb < p->oh ? rb : p->oh;
    memset(ph, 0, (total + QCC_DWF_Q) * sizeof(int16_t));  /* padding and the last pass's overrun */
    qcc_dwf_offsets(p, phh, pw, off);
    for (b = 0; b < p->n; b++)
        for (o = 0; o < p->m; o++) {
            const int32_t c0 = b * p->c + o / mg, init = bias ? bias[o] : 0;
            const int32_t np = qcc_dwf_pairs(w + (size_t)o * taps, taps, wp);
            if (c0 != filled)
                qcc_dwf_fill(p, x + (size_t)c0 * p->h * p->w, phh, pw, ph);
            filled = c0;
            for (i0 = 0; i0 < p->oh; i0 += rb) {
                const int32_t nr = p->oh - i0 < rb ? p->oh - i0 : rb, n = nr * pw;
                for (q = 0; q < n; q += QCC_DWF_Q)
                    qcc_dwf_pass(ph + (size_t)i0 * pw, off, wp, np, q, init, acc);
                if (pw != p->ow)  /* rows pw apart -> rows ow apart (moving forward) */
                    for (i = 1; i < nr; i++)
                        for (j = 0; j < p->ow; j++)
                            acc[(size_t)i * p->ow + j] = acc[(size_t)i * pw + j];
                qcc_conv_epilogue(p, acc, nr * p->ow, mult, shift, o, y,
                                  ((size_t)b * p->m + o) * plane + (size_t)i0 * p->ow);
            }
        }
    return 1;
}
#endif
