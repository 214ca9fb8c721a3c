/* qcc.conv_transpose2d: NCHW int8, weights [C, M/group, kH, kW] (ONNX ConvTranspose),
 * scatter of centered inputs into acc (scratch of m*oh*ow int32), crop by pt/pl, requant.
 * mult == NULL: y receives the int32 accumulators. */
typedef struct {
    int32_t n, c, h, w, m, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
    int32_t group, x_zp, y_zp, lo, hi, per_channel;
} qcc_convt_p;

static inline int qcc_conv_transpose2d(const qcc_convt_p *p, const int8_t *x, const int8_t *w,
                         const int32_t *bias, const int32_t *mult, const int32_t *shift,
                         void *y, int32_t *acc);
