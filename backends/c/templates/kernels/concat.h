/* One input of qcc.concat: x [outer, inner] requantized into y viewed as [outer, stride]
 * at column offset (element) 'offset'. x_dt, y_dt: QCC_I8 or QCC_I16 (a wide concat). */
typedef struct {
    int32_t outer, inner, stride, offset, x_zp, y_zp, lo, hi, m, s, x_dt, y_dt;
} qcc_concat_p;

static inline int qcc_concat_part(const qcc_concat_p *p, const void *x, void *y);
