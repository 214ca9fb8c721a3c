/* qcc.matmul: activation x activation, a [.., M, K], b [.., K, N] int8 with zero points.
 * a_off/b_off give each (broadcast) batch's element offset.  acc is scratch of N int32.
 * mult == NULL: y receives the int32 accumulators. */
typedef struct {
    int32_t batch, m, k, n, a_zp, b_zp, y_zp, lo, hi;
} qcc_matmul_p;

static inline int qcc_matmul(const qcc_matmul_p *p, const int8_t *a, const int8_t *b, const int32_t *a_off,
               const int32_t *b_off, const int32_t *mult, const int32_t *shift, void *y,
               int32_t *acc);
