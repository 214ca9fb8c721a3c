/* qcc_conv2d's depthwise kernel (one input channel per output, dilation 1, pb == 0) and its
 * Arm DSP / Helium forms; included by conv2d.c after the shared helpers. */
/* One input channel per output, dilation 1 (depthwise, or a 1-channel first layer): the
 * zero-padded centred int16 input is split into sh*sw phase planes, phase (a, b) holding
 * padded rows a, a + sh, ... and columns b, b + sw, ..., each pw columns wide and phh rows
 * high (one spare row for the flat loops' overrun). Tap (u, v) = (u1*sh + a, v1*sw + b) is
 * then acc[q] += w * phase_ab[q + u1*pw + v1] over one flat, vectorizable range of oh*pw
 * accumulators (columns >= ow are junk, dropped afterwards). Scratch: int32 oh*pw, then
 * int16 sh*sw*phh*pw (rules_nn.conv_scratch). */
static inline void qcc_dw_dims(const qcc_conv2d_p *p, int32_t *phh, int32_t *pw)
{
    *phh = ((p->oh - 1) * p->sh + p->kh + p->sh - 1) / p->sh + 1;
    *pw = ((p->ow - 1) * p->sw + p->kw + p->sw - 1) / p->sw;
}

static inline void qcc_dw_phases(const qcc_conv2d_p *p, const int8_t *xin, int32_t phh, int32_t pw,
                                 int16_t *restrict ph)
{
    const int16_t z16 = (int16_t)p->x_zp;
    int32_t a, b, r, c, c0, c1;
    for (a = 0; a < p->sh; a++)
        for (b = 0; b < p->sw; b++) {
            const int32_t off = b - p->pl;
            qcc_valid_range(off, p->sw, p->w, pw, &c0, &c1);  /* phase columns inside x */
            for (r = 0; r < phh; r++) {
                const int32_t ih = r * p->sh + a - p->pt;
                int16_t *restrict dst = ph + ((size_t)(a * p->sw + b) * phh + r) * pw;
                const int8_t *restrict src;
                if (ih < 0 || ih >= p->h || c1 <= c0) {
                    memset(dst, 0, (size_t)pw * sizeof(int16_t));
                    continue;
                }
                src = xin + (size_t)ih * p->w;  /* phase column c is x column c*sw + off */
                for (c = 0; c < c0; c++)
                    dst[c] = 0;
                if (p->sw == 1)
                    for (c = c0; c < c1; c++)
                        dst[c] = (int16_t)(src[c + off] - z16);
                else
                    for (c = c0; c < c1; c++)
                        dst[c] = (int16_t)(src[c * p->sw + off] - z16);
                for (c = c1; c < pw; c++)
                    dst[c] = 0;
            }
        }
}

/* acc[0, oh*ow) = init + the conv of one output channel over the phase planes. */
static inline void qcc_dw_plane(const qcc_conv2d_p *p, const int8_t *wk, const int16_t *ph,
                                int32_t phh, int32_t pw, int32_t init, int32_t *restrict acc)
{
    const int32_t n = p->oh * pw;
    int32_t u, v, q, i;
    for (q = 0; q < n; q++)
        acc[q] = init;
    for (u = 0; u < p->kh; u++)
        for (v = 0; v < p->kw; v++) {
            const int16_t w16 = (int16_t)wk[u * p->kw + v];  /* |w * x| <= 128 * 255: int16 */
            const int16_t *restrict src = ph + ((size_t)((u % p->sh) * p->sw + v % p->sw) * phh
                                                + u / p->sh) * pw + v / p->sw;
            if (w16 == 0)
                continue;
            for (q = 0; q < n; q++)
                acc[q] += (int16_t)(w16 * src[q]);
        }
    if (pw != p->ow)  /* rows pw apart -> rows ow apart (ow <= pw, moving forward) */
        for (i = 1; i < p->oh; i++)
            memmove(acc + (size_t)i * p->ow, acc + (size_t)i * pw, (size_t)p->ow * sizeof(int32_t));
}

{% if dw_forms is defined %}
#ifndef QCC_DW_FORMS /* the Arm DSP depthwise forms this model's convs take (backends/c/dwforms.py) */
#define QCC_DW_FORMS {{ dw_forms }}
#endif
{% endif %}
{% include "kernels/conv2d_dw_dsp.c" %}
{% include "kernels/conv2d_dws_dsp.c" %}
{% include "kernels/conv2d_dwq_dsp.c" %}
{% include "kernels/conv2d_dw22_dsp.c" %}
{% include "kernels/conv2d_dws5_dsp.c" %}
{% include "kernels/conv2d_dw_mve.c" %}

QCC_ARM_OUTLINE int qcc_conv2d_dw(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                                const int32_t *bias, const int32_t *mult, const int32_t *shift,
                                void *y, int32_t *acc)
{
    const int32_t mg = p->m / p->group, plane = p->oh * p->ow, taps = p->kh * p->kw;
    int32_t b, o, phh, pw, filled = -1;
    int16_t *ph;
    qcc_dw_dims(p, &phh, &pw);
    ph = (int16_t *)(acc + (size_t)p->oh * pw);
    for (b = 0; b < p->n; b++)
        for (o = 0; o < p->m; o++) {
            const int32_t c0 = b * p->c + o / mg;  /* the one input channel of output o */
            if (c0 != filled)
                qcc_dw_phases(p, x + (size_t)c0 * p->h * p->w, phh, pw, ph);
            filled = c0;
            qcc_dw_plane(p, w + (size_t)o * taps, ph, phh, pw, bias ? bias[o] : 0, acc);
            qcc_conv_epilogue(p, acc, plane, mult, shift, o, y, ((size_t)b * p->m + o) * plane);
        }
    return QCC_OK;
}
