/* qcc.linear: x [rows, K] int8 times constant w [K, N], int32 bias [N], per-N requant.
 * acc is scratch of N int32.  mult == NULL: y receives the int32 accumulators. */
typedef struct {
    int32_t rows, k, n, x_zp, y_zp, lo, hi, per_channel;
} qcc_linear_p;

static inline int qcc_linear(const qcc_linear_p *p, const int8_t *x, const int8_t *w, const int32_t *bias,
               const int32_t *mult, const int32_t *shift, void *y, int32_t *acc);
