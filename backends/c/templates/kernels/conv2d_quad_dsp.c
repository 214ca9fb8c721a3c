/* Arm DSP im2col into quad blocks (common_dsp.h; included by conv2d_gemm_dsp.c, inside its
 * QCC_ARM_GEMM4 guard): the columns of the 1x4 GEMM gathered straight into their slots. */

/* Natural-order centred values tmp[0, k) into the slot dst of a quad block: chunk (a0, a1,
 * a2, a3) stored as (a0, a2, a1, a3), two words in, two packed words out (PKHBT / PKHTB). */
static inline void qcc_quad_put(const int16_t *tmp, int32_t k, int16_t *dst)
{
    const int32_t k4 = k & ~3;
    int32_t t;
    for (t = 0; t < k4; t += 4, dst += 16) {
        const uint32_t lo = qcc_ld32(tmp + t), hi = qcc_ld32(tmp + t + 2);
        const uint32_t e = (lo & 0xffffu) | (hi << 16), o = (lo >> 16) | (hi & 0xffff0000u);
        memcpy(dst, &e, sizeof e);
        memcpy(dst + 2, &o, sizeof o);
    }
    for (t = k4; t < k; t++)
        dst[qcc_quad_at(t - k4)] = tmp[t];
}

/* The column of a window inside the input (dilation 1 along rows, whole words readable from
 * each window row: iw0 + roundup(kw, 4) <= w): the window's cg * kh rows of kw bytes are
 * copied into buf one after the other by word loads and stores (each word's surplus bytes
 * overwritten by the next row; buf holds k + 3 bytes), then each chunk of four bytes (b0, b1,
 * b2, b3) is centred into its quad slot as (b0, b2) - zp and (b1, b3) - zp (qcc_put_centred:
 * SXTAB16): the (a0, a2, a1, a3) order of qcc_quad_at (the partial chunk's surplus lanes meet
 * zero weights). Windows that cross the border take the general gather. */
static inline void qcc_im2col_quad_rows(const qcc_conv2d_p *p, const int8_t *x, int32_t c0,
                                        int32_t cg, int32_t ih0, int32_t iw0, int16_t *dst,
                                        int8_t *buf)
{
    const int32_t kh = p->kh, kw = p->kw, wd = p->w, dh = p->dh, k = cg * kh * kw;
    const size_t plane = (size_t)p->h * wd;
    const uint32_t nzp = 0x00010001u * (uint16_t)(-p->x_zp);
    int8_t *b = buf;
    int32_t ci, u, t;
    if (kh == 3 && kw <= 4) {  /* three rows of one word each: unrolled */
        const size_t rs = (size_t)dh * wd;
        const int8_t *xc = x + (size_t)c0 * plane + (size_t)ih0 * wd + iw0;
        for (ci = 0; ci < cg; ci++, xc += plane, b += 3 * kw) {
            const uint32_t v0 = qcc_ld32(xc), v1 = qcc_ld32(xc + rs), v2 = qcc_ld32(xc + 2 * rs);
            memcpy(b, &v0, sizeof v0);
            memcpy(b + kw, &v1, sizeof v1);
            memcpy(b + 2 * kw, &v2, sizeof v2);
        }
    } else
        for (ci = 0; ci < cg; ci++) {
            const int8_t *xr = x + (size_t)(c0 + ci) * plane + (size_t)ih0 * wd + iw0;
            for (u = 0; u < kh; u++, xr += (size_t)dh * wd, b += kw) {
                if (kw <= 4) {
                    const uint32_t v = qcc_ld32(xr);
                    memcpy(b, &v, sizeof v);
                } else {
                    for (t = 0; t < kw; t += 4) {
                        const uint32_t v = qcc_ld32(xr + t);
                        memcpy(b + t, &v, sizeof v);
                    }
                }
            }
        }
    for (t = 0; t < k; t += 4, dst += 16)
        qcc_put_centred(dst, qcc_ld32(buf + t), nzp);
}

/* qcc_im2col_quad_rows for a window that crosses the border (kw <= 4, dilation 1 along the
 * rows, w >= 4, -4 < iw0 < w): rows above or below the input are the zero point in every
 * byte; each other row is one word load moved by the window's two shifts with the zero point
 * ORed into the bytes left or right of the row (left of it: the word at column 0 moved up;
 * right: the word ending at the row's end moved down); the zero point then centres to 0, as
 * qcc_im2col's padding. */
__attribute__((noinline)) static void qcc_im2col_quad_rows_b(const qcc_conv2d_p *p,
                                                             const int8_t *x, int32_t c0,
                                                             int32_t cg, int32_t ih0,
                                                             int32_t iw0, int16_t *dst,
                                                             int8_t *buf)
{
    const int32_t kh = p->kh, kw = p->kw, h = p->h, wd = p->w, dh = p->dh, k = cg * kh * kw;
    const size_t plane = (size_t)h * wd, rstep = (size_t)dh * wd;
    const uint32_t zp4 = 0x01010101u * (uint8_t)p->x_zp, nzp = 0x00010001u * (uint16_t)(-p->x_zp);
    const int32_t off = iw0 < 0 ? 0 : (iw0 + 4 > wd ? wd - 4 : iw0);
    const uint32_t sl = iw0 < 0 ? (uint32_t)(-8 * iw0) : 0u;
    const uint32_t sr = iw0 + 4 > wd ? (uint32_t)(8 * (iw0 + 4 - wd)) : 0u;
    const uint32_t zf = (sl ? zp4 >> (32 - sl) : 0u) | (sr ? zp4 << (32 - sr) : 0u);
    int32_t u0 = 0, u1 = kh, ci, u, t;
    int8_t *b = buf;
    const int8_t *xc;
    while (u0 < kh && ih0 + u0 * dh < 0)
        u0++;
    while (u1 > u0 && ih0 + (u1 - 1) * dh >= h)
        u1--;
    xc = x + (size_t)c0 * plane + (ptrdiff_t)(ih0 + u0 * dh) * wd + off;
    if (kh == 3 && u0 == 0 && u1 == 3)  /* 3 rows inside (columns across): unrolled */
        for (ci = 0; ci < cg; ci++, xc += plane, b += 3 * kw) {
            const uint32_t v0 = ((qcc_ld32(xc) << sl) >> sr) | zf;
            const uint32_t v1 = ((qcc_ld32(xc + rstep) << sl) >> sr) | zf;
            const uint32_t v2 = ((qcc_ld32(xc + 2 * rstep) << sl) >> sr) | zf;
            memcpy(b, &v0, sizeof v0);
            memcpy(b + kw, &v1, sizeof v1);
            memcpy(b + 2 * kw, &v2, sizeof v2);
        }
    else
        for (ci = 0; ci < cg; ci++, xc += plane) {
            const int8_t *xr = xc;
            int8_t *const bv = b + u0 * kw, *const be = b + u1 * kw, *const bk = b + kh * kw;
            for (; b < bv; b += kw)
                memcpy(b, &zp4, sizeof zp4);
            for (; b < be; b += kw, xr += rstep) {
                const uint32_t v = ((qcc_ld32(xr) << sl) >> sr) | zf;
                memcpy(b, &v, sizeof v);
            }
            for (; b < bk; b += kw)
                memcpy(b, &zp4, sizeof zp4);
        }
    for (t = 0; t < k; t += 4, dst += 16)
        qcc_put_centred(dst, qcc_ld32(buf + t), nzp);
    (void)u;
}

/* Centred column q (output position) of image x, group channels from c0, into dst (one slot
 * of a quad block: element t at dst[qcc_quad_at(t)]), 0 in the padding; tmp: room for k
 * int16 (the column gathered in natural order, then put in the slot), or NULL (element by
 * element, for a scratch without that room). */
QCC_ARM_OUTLINE void qcc_im2col_quad(const qcc_conv2d_p *p, const int8_t *x, int32_t c0, int32_t cg,
                                     int32_t q, int16_t *dst, int16_t *tmp)
{
    const int32_t zp = p->x_zp, kh = p->kh, kw = p->kw, h = p->h, wd = p->w;
    const size_t plane = (size_t)h * wd;
    int32_t ci, u, v, t = 0;
    if (kh == 1 && kw == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0 && p->pl == 0
        && p->oh == h && p->ow == wd) {  /* pointwise: column q is x[:, q] */
        const int8_t *xr = x + (size_t)c0 * plane + q;
        const int32_t c4 = cg & ~3;
        for (ci = 0; ci < c4; ci += 4, dst += 16, xr += 4 * plane) {
            dst[0] = (int16_t)(xr[0] - zp), dst[1] = (int16_t)(xr[2 * plane] - zp);
            dst[2] = (int16_t)(xr[plane] - zp), dst[3] = (int16_t)(xr[3 * plane] - zp);
        }
        for (ci = c4; ci < cg; ci++, xr += plane)
            dst[qcc_quad_at(ci - c4)] = (int16_t)(*xr - zp);
        return;
    }
    {
        const int32_t i = q / p->ow, j = q % p->ow;
        const int32_t ih0 = i * p->sh - p->pt, iw0 = j * p->sw - p->pl, dh = p->dh, dw = p->dw;
        const int inside = ih0 >= 0 && ih0 + (kh - 1) * dh < h && iw0 >= 0 && iw0 + (kw - 1) * dw < wd;
        if (tmp != NULL && inside && dw == 1 && iw0 + ((kw + 3) & ~3) <= wd) {
            qcc_im2col_quad_rows(p, x, c0, cg, ih0, iw0, dst, (int8_t *)tmp);
            return;
        }
        if (tmp != NULL && dw == 1 && kw <= 4 && wd >= 4 && iw0 > -4 && iw0 < wd) {
            qcc_im2col_quad_rows_b(p, x, c0, cg, ih0, iw0, dst, (int8_t *)tmp);
            return;
        }
        if (tmp != NULL) {
            int16_t *tp = tmp;
            for (ci = 0; ci < cg; ci++) {
                const int8_t *xc = x + (size_t)(c0 + ci) * plane;
                for (u = 0; u < kh; u++) {
                    const int32_t ih = ih0 + u * dh;
                    if (inside) {  /* the window inside the input: no bounds tests */
                        const int8_t *xr = xc + (size_t)ih * wd + iw0;
                        if (dw == 1)
                            for (v = 0; v < kw; v++)
                                *tp++ = (int16_t)(xr[v] - zp);
                        else
                            for (v = 0; v < kw; v++)
                                *tp++ = (int16_t)(xr[v * dw] - zp);
                    } else if (ih < 0 || ih >= h) {
                        for (v = 0; v < kw; v++)
                            *tp++ = 0;
                    } else {
                        for (v = 0; v < kw; v++) {
                            const int32_t iw = iw0 + v * dw;
                            *tp++ = (int16_t)(iw >= 0 && iw < wd ? xc[(size_t)ih * wd + iw] - zp : 0);
                        }
                    }
                }
            }
            qcc_quad_put(tmp, cg * kh * kw, dst);
            return;
        }
        if (inside) {
            for (ci = 0; ci < cg; ci++)
                for (u = 0; u < kh; u++) {
                    const int8_t *xr = x + (size_t)(c0 + ci) * plane + (size_t)(ih0 + u * dh) * wd + iw0;
                    for (v = 0; v < kw; v++, t++)
                        dst[qcc_quad_at(t)] = (int16_t)(xr[v * dw] - zp);
                }
            return;
        }
        for (ci = 0; ci < cg; ci++) {
            const int8_t *xc = x + (size_t)(c0 + ci) * plane;
            for (u = 0; u < kh; u++) {
                const int32_t ih = ih0 + u * p->dh;
                if (ih < 0 || ih >= h) {
                    for (v = 0; v < kw; v++, t++)
                        dst[qcc_quad_at(t)] = 0;
                    continue;
                }
                for (v = 0; v < kw; v++, t++) {
                    const int32_t iw = iw0 + v * p->dw;
                    dst[qcc_quad_at(t)] = (int16_t)(iw >= 0 && iw < wd ? xc[(size_t)ih * wd + iw] - zp : 0);
                }
            }
        }
    }
}

QCC_ARM_OUTLINE void qcc_gemm4_row_any(const qcc_conv2d_p *p, const int8_t *w, int32_t o,
                                       int32_t b0, const int32_t *mult, const int32_t *shift,
                                       void *y, const int16_t *col, int32_t k, int32_t qn,
                                       size_t at0);

/* (lo.lo, hi.lo) and (lo.hi, hi.hi): PKHBT / PKHTB of two halfword pairs */
static inline uint32_t qcc_pk_lo(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(lo), "r"(hi));
    return r;
}

static inline uint32_t qcc_pk_hi(uint32_t lo, uint32_t hi)
{
    uint32_t r;
    __asm__("pkhtb %0, %1, %2, asr #16" : "=r"(r) : "r"(hi), "r"(lo));
    return r;
}

/* The quad block dst of four consecutive positions x[:, 0..3] of a pointwise conv (channel
 * rows `plane` apart, cg channels; dst word-aligned, as the GEMM's LDMs need): per four
 * channels one word of four positions from each row, widened and centred at once by SXTAB16
 * (-zp in each half plus the bytes 0, 2 or, rotated, 1, 3) into the pairs (positions 0, 2) and
 * (1, 3), then PKHBT / PKHTB pair the channels (c, c + 2) and (c + 1, c + 3) of each position
 * and STRD stores each position's two words: 24 instructions per 16 elements (gcc's form of
 * SXTB16, SSUB16 and shifts and masks through a stack array took about 60). */
QCC_ARM_OUTLINE void qcc_im2col_quad_pw4(const int8_t *x, size_t plane, int32_t cg, int32_t zp,
                                         int16_t *dst)
{
    const uint32_t nzp = 0x00010001u * (uint16_t)(-zp);
    const int32_t c4 = cg & ~3;
    int32_t ci, j;
    for (ci = 0; ci < c4; ci += 4, x += 4 * plane, dst += 16) {
        const uint32_t x0 = qcc_ld32(x), x1 = qcc_ld32(x + plane);
        const uint32_t x2 = qcc_ld32(x + 2 * plane), x3 = qcc_ld32(x + 3 * plane);
        const uint32_t e0 = __sxtab16(nzp, x0), o0 = qcc_sxtab16_ror8(nzp, x0);
        const uint32_t e1 = __sxtab16(nzp, x1), o1 = qcc_sxtab16_ror8(nzp, x1);
        const uint32_t e2 = __sxtab16(nzp, x2), o2 = qcc_sxtab16_ror8(nzp, x2);
        const uint32_t e3 = __sxtab16(nzp, x3), o3 = qcc_sxtab16_ror8(nzp, x3);
        uint32_t v[2];
        int16_t *d = (int16_t *)__builtin_assume_aligned(dst, 4);
        v[0] = qcc_pk_lo(e0, e2), v[1] = qcc_pk_lo(e1, e3);
        memcpy(d, v, sizeof v);
        v[0] = qcc_pk_lo(o0, o2), v[1] = qcc_pk_lo(o1, o3);
        memcpy(d + 4, v, sizeof v);
        v[0] = qcc_pk_hi(e0, e2), v[1] = qcc_pk_hi(e1, e3);
        memcpy(d + 8, v, sizeof v);
        v[0] = qcc_pk_hi(o0, o2), v[1] = qcc_pk_hi(o1, o3);
        memcpy(d + 12, v, sizeof v);
    }
    for (ci = c4; ci < cg; ci++, x += plane)
        for (j = 0; j < 4; j++)
            dst[qcc_quad_at(ci - c4) + 4 * j] = (int16_t)(x[j] - zp);
}

/* Four consecutive columns q..q + 3 of one output row whose windows lie inside the input with
 * whole words readable from each window row (dilation 1 along the rows): the rows gather of
 * each, the window computed once; 0 (nothing done) otherwise. */
QCC_ARM_OUTLINE int qcc_im2col_quad4(const qcc_conv2d_p *p, const int8_t *x, int32_t c0,
                                     int32_t cg, int32_t q, int16_t *dst, int8_t *buf)
{
    const int32_t i = q / p->ow, j = q % p->ow, sw = p->sw;
    const int32_t ih0 = i * p->sh - p->pt, iw0 = j * sw - p->pl;
    int32_t c;
    if (j + 3 >= p->ow || p->dw != 1 || ih0 < 0 || ih0 + (p->kh - 1) * p->dh >= p->h || iw0 < 0
        || iw0 + 3 * sw + ((p->kw + 3) & ~3) > p->w)
        return 0;
    if (p->kh == 3 && p->kw <= 4) {  /* qcc_im2col_quad_rows unrolled, its set-up once */
        const int32_t kw = p->kw, k = cg * 3 * kw;
        const size_t plane = (size_t)p->h * p->w, rs = (size_t)p->dh * p->w;
        const uint32_t nzp = 0x00010001u * (uint16_t)(-p->x_zp);
        const int8_t *xw = x + (size_t)c0 * plane + (size_t)ih0 * p->w + iw0;
        for (c = 0; c < 4; c++, xw += sw) {
            const int8_t *xc = xw;
            int8_t *b = buf;
            int16_t *d = dst + 4 * c;
            int32_t ci, t;
            for (ci = 0; ci < cg; ci++, xc += plane, b += 3 * kw) {
                const uint32_t v0 = qcc_ld32(xc), v1 = qcc_ld32(xc + rs);
                const uint32_t v2 = qcc_ld32(xc + 2 * rs);
                memcpy(b, &v0, sizeof v0);
                memcpy(b + kw, &v1, sizeof v1);
                memcpy(b + 2 * kw, &v2, sizeof v2);
            }
            for (t = 0; t + 4 < k; t += 8, d += 32) {  /* two chunks per pass */
                const uint32_t u0 = qcc_ld32(buf + t), u1 = qcc_ld32(buf + t + 4);
                qcc_put_centred(d, u0, nzp);
                qcc_put_centred(d + 16, u1, nzp);
            }
            if (t < k)
                qcc_put_centred(d, qcc_ld32(buf + t), nzp);
        }
        return 1;
    }
    for (c = 0; c < 4; c++)
        qcc_im2col_quad_rows(p, x, c0, cg, ih0, iw0 + c * sw, dst + 4 * c, buf);
    return 1;
}

/* The quad blocks (ql int16 apart) of columns [q0, q0 + qn) of group channels from c0: full
 * quads of a pointwise conv four positions at a time, of windows inside the input four
 * columns at a time where tmp has room for the byte rows, the others column by column. */
static void qcc_gemm4_gather(const qcc_conv2d_p *p, const int8_t *x, int32_t c0, int32_t cg,
                             int32_t q0, int32_t qn, int16_t *col, int32_t ql, int16_t *tmp,
                             int pw)
{
    const size_t plane = (size_t)p->h * p->w;
    int32_t q;
    for (q = 0; q < qn; q++) {
        int16_t *dst = col + (size_t)(q >> 2) * ql;
        if ((q & 3) == 0 && q + 4 <= qn) {
            if (pw) {
                qcc_im2col_quad_pw4(x + (size_t)c0 * plane + q0 + q, plane, cg, p->x_zp, dst);
                q += 3;
                continue;
            }
            if (tmp != NULL && qcc_im2col_quad4(p, x, c0, cg, q0 + q, dst, (int8_t *)tmp)) {
                q += 3;
                continue;
            }
        }
        qcc_im2col_quad(p, x, c0, cg, q0 + q, dst + (q & 3) * 4, tmp);
    }
}
