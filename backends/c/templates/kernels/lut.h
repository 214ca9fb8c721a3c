/* qcc.lut: y = table[x - min(x dtype)] for int8 (x_unsigned = 0) or uint8 x, 256 entries of
 * one byte (int8 or uint8 table); with channels > 1 the table is [channels][256] and x is
 * [outer][channels][inner], each channel's inner elements read their own row (made by the
 * fuse-tables pass).  Safe in place. */
typedef struct {
    int32_t count, x_unsigned, channels, inner;
} qcc_lut_p;

static inline int qcc_lut(const qcc_lut_p *p, const uint8_t *x, const uint8_t *table, uint8_t *y);
