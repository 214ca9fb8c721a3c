/* qcc.matmul: activation x activation, a [.., M, K] (a_dt) times b [.., K, N] (b_dt int8 or
 * uint8) with zero points.  a_off/b_off give each (broadcast) batch's element offset.
 * packed = 1: each batch of b is centered and transposed into int16 scratch so that every
 * output is one K-long int16 dot product (scratch (K + N*K) int16); packed = 0 (large b):
 * row-wise multiply-accumulate into N int32 (scratch).  mult == NULL: y receives the int32
 * accumulators, else the requantized y_dt values. */
typedef struct {
    int32_t batch, m, k, n, a_dt, b_dt, a_zp, b_zp, y_dt, y_zp, lo, hi, packed;
} qcc_matmul_p;

static inline int qcc_matmul(const qcc_matmul_p *p, const void *a, const void *b, const int32_t *a_off,
               const int32_t *b_off, const int32_t *mult, const int32_t *shift, void *y,
               void *scratch);
/* The acc_bits = 64 form (int64 accumulators, docs/arithmetic.md 5.1); same operands. */
static inline int qcc_matmul64(const qcc_matmul_p *p, const void *a, const void *b,
                               const int32_t *a_off, const int32_t *b_off, const int32_t *mult,
                               const int32_t *shift, void *y, void *scratch);
