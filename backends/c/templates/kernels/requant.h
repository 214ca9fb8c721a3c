/* qcc.requant: x viewed as [outer, channels, inner]; per-tensor (per_channel = 0) or
 * per-channel m/s.  x and y of any of QCC_I8/U8/I16/I32.  Safe in place for equal sizes. */
typedef struct {
    int32_t outer, channels, inner, per_channel, x_dt, y_dt, x_zp, y_zp, lo, hi;
} qcc_requant_p;

static inline int qcc_requant_op(const qcc_requant_p *p, const void *x, const int32_t *mult,
                   const int32_t *shift, void *y);
