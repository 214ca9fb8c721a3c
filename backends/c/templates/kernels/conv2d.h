/* qcc.conv2d: NCHW int8, weights [M, C/group, kH, kW], int32 bias, per-channel requant.
 * Two algorithms, chosen at compile time by pb:
 *   pb == 0, one input channel per output (c == group) and dilation 1: int16 phase planes
 *            of the padded input and flat per-tap loops (qcc_conv2d_dw; scratch int32 oh*pw
 *            then int16 sh*sw*phh*pw, see qcc_dw_dims and rules_nn.conv_scratch);
 *   pb == 0 otherwise: direct, weight-stationary (pointwise 1x1 as a GEMM row per four
 *            weights, dilated depthwise): scratch is one int32 plane of oh*ow accumulators;
 *   pb  > 0: im2col of pb output positions at a time into int16 centered columns
 *            (scratch pb*K int16, K = C/group*kH*kW), then one K-long dot product per output.
 * mult == NULL: y receives the int32 accumulators, else requantized y_dt values.
 * Per-group weights (gmult [M, ng], groups of gsize along the C/group*kH*kW reduction axis)
 * and packed int4/int2 weights (wbits 4/2: each output channel's row of C/group*kH*kW values
 * packed little-endian from a byte boundary, see qcc_wget) always take the im2col path.
 * The Arm DSP build (QCC_ARM_DSP) runs depthwise convs with int8 outputs through
 * qcc_conv2d_dwd (conv2d_dw_dsp.c) and pointwise convs as im2col GEMMs (qcc_conv_pb), in the
 * same scratch (rules_nn.conv_scratch reserves the larger need). */
typedef struct {
    int32_t n, c, h, w, m, oh, ow;
    int32_t kh, kw, sh, sw, dh, dw, pt, pl;
    int32_t group, x_zp, y_zp, lo, hi, per_channel, pb, y_dt, gsize, gshift, ng, wbits;
    int32_t pwc;  /* a pointwise conv's GEMM scratch columns (0: QCC_PW_DSP_COLS; rules_nn) */
} qcc_conv2d_p;

static inline int qcc_conv2d(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w, const int32_t *bias,
               const int32_t *mult, const int32_t *shift, const int32_t *gmult, void *y,
               void *scratch);
/* The acc_bits = 64 form (int64 accumulators, docs/arithmetic.md 5.1); same operands. */
static inline int qcc_conv2d64(const qcc_conv2d_p *p, const int8_t *x, const int8_t *w,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift,
                               const int32_t *gmult, void *y, void *scratch);
