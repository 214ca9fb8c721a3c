/* One input of qcc.concat: x [outer, inner] requantized into y viewed as [outer, stride]
 * at column offset (element) 'offset'. */
typedef struct {
    int32_t outer, inner, stride, offset, x_zp, y_zp, lo, hi, m, s;
} qcc_concat_p;

static inline int qcc_concat_part(const qcc_concat_p *p, const int8_t *x, int8_t *y);
