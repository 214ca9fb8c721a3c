static inline int qcc_lut(const qcc_lut_p *p, const uint8_t *x, const uint8_t *table, uint8_t *y)
{
    const uint8_t flip = p->x_unsigned ? 0u : 0x80u; /* int8 x - (-128) == x ^ 0x80 as a byte */
    /* in locals: a byte store may alias *p (see qcc_concat_part) */
    const int32_t n = p->count, chans = p->channels, inner = p->inner;
    int32_t i, c;
    if (chans <= 1) {
        qcc_lut_row(x, table, y, n, flip);
        return QCC_OK;
    }
    if (inner == 1) {  /* channels last: each element its own row */
        for (i = 0; i < n; i += chans)
            for (c = 0; c < chans; c++)
                y[i + c] = table[256 * c + (uint8_t)(x[i + c] ^ flip)];
        return QCC_OK;
    }
    for (i = 0; i < n; i += chans * inner)
        for (c = 0; c < chans; c++)
            qcc_lut_row(x + i + c * inner, table + 256 * c, y + i + c * inner, inner, flip);
    return QCC_OK;
}
