/* qcc.conv_transpose2d: NCHW int8 x, int8 or int32 y (mult == NULL: the int32 accumulators).
 * phases != NULL (the compiler's choice, qcc.lower.convt_phases): one stride-1 qcc_conv2d per
 * output phase (every sh-th row from a first row, every sw-th column): w holds the phases'
 * conv2d weight rows back to back, phases nph rows of QCC_CONVT_FIELDS int32 (first row,
 * first column, rows, columns, kernel rows, kernel columns, dilations, pads, im2col block,
 * weight offset); the scratch holds one phase's outputs (buf bytes, none for stride 1: the
 * conv writes y) and then the conv2d scratch. Every ISA variant of qcc_conv2d applies.
 * phases == NULL: the scatter form, weights [C, M/group, kH, kW] (ONNX), scratch int32
 * m*oh*ow (pads beyond the kernel's reach, which no phase conv expresses). */
#define QCC_CONVT_FIELDS 12 /* == qcc.lower.convt_phases.FIELDS */
typedef struct {
    int32_t n, c, h, w, m, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
    int32_t group, x_zp, y_zp, lo, hi, per_channel, nph, buf;
} qcc_convt_p;

static inline int qcc_conv_transpose2d(const qcc_convt_p *p, const int8_t *x, const int8_t *w,
                                       const int32_t *bias, const int32_t *mult,
                                       const int32_t *shift, const int32_t *phases, void *y,
                                       void *scratch);
