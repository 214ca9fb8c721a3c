/* qcc.linear: x [rows, K] (x_dt int8/uint8) times constant w, int32 bias [N], per-tensor or
 * per-N requant to y_dt, or int32 accumulators when mult == NULL.
 * Weights are stored transposed, wt [N, K], so that every output is one K-long dot product
 * of int8 weights with the row's centered int16 activations (x - x_zp): the reduction the
 * compiler turns into pmaddwd / SMLAD-style multiply-accumulate pairs.
 * Per-group weights (gmult != NULL, [N, ng]): int32 partial dot products over groups of
 * `gsize` elements of K, rescaled by gmult into an int64 sum, rounded back by gshift.
 * int4/int2 weights (wbits 4/2) are stored packed, each row of K from a byte boundary
 * (qcc_wget).  scratch: K int16 (the centered row). */
typedef struct {
    int32_t rows, k, n, x_dt, y_dt, x_zp, y_zp, lo, hi, per_channel, gsize, gshift, ng, wbits;
} qcc_linear_p;

static inline int qcc_linear(const qcc_linear_p *p, const void *x, const int8_t *wt, const int32_t *bias,
               const int32_t *mult, const int32_t *shift, const int32_t *gmult, void *y,
               int16_t *xc);
/* The acc_bits = 64 form (int64 accumulators, docs/arithmetic.md 5.1); same operands. */
static inline int qcc_linear64(const qcc_linear_p *p, const void *x, const int8_t *wt,
                               const int32_t *bias, const int32_t *mult, const int32_t *shift,
                               const int32_t *gmult, void *y, int16_t *xc);
