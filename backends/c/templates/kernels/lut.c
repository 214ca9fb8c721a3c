static inline int qcc_lut(const qcc_lut_p *p, const uint8_t *x, const uint8_t *table, uint8_t *y)
{
    const uint8_t flip = p->x_unsigned ? 0u : 0x80u; /* int8 x - (-128) == x ^ 0x80 as a byte */
    const int32_t n = p->count;  /* in a local: a byte store may alias *p (see qcc_concat_part) */
    int32_t i;
    for (i = 0; i < n; i++)
        y[i] = table[(uint8_t)(x[i] ^ flip)];
    return QCC_OK;
}
