/* qcc.resize on NCHW int8 planes.  Nearest: y[i, j] = x[iy[i], ix[j]].  Linear: Q10 taps
 * (i0, i1, w0, w1) per axis, y = rshift_round(sum w_y w_x (x - zp), 20) + zp, clamped. */
typedef struct {
    int32_t planes, h, w, oh, ow, x_zp, lo, hi;
} qcc_resize_p;

static inline int qcc_resize_nearest(const qcc_resize_p *p, const int8_t *x, const int32_t *iy,
                       const int32_t *ix, int8_t *y);
static inline int qcc_resize_linear(const qcc_resize_p *p, const int8_t *x, const int32_t *ty,
                      const int32_t *tx, int8_t *y);
