/* Reductions over int8 x (6 dims d, contiguous): every element goes to the output element
 * at sum_k idx_k * ys[k] (ys[k] = 0 on reduced axes).  op 0: centered sum then requant
 * (qcc.reduce_mean; acc is scratch of out_count int32); op 1: max; op 2: min. */
typedef struct {
    int32_t d[6], ys[6], out_count, op, x_zp, y_zp, lo, hi, m, s;
} qcc_reduce_p;

static inline int qcc_reduce(const qcc_reduce_p *p, const int8_t *x, int8_t *y, int32_t *acc);
/* op 0 with acc_bits = 64 (docs/arithmetic.md 5.1): acc is scratch of out_count int64. */
static inline int qcc_reduce_sum64(const qcc_reduce_p *p, const int8_t *x, int8_t *y, int64_t *acc);

/* ArgMax / ArgMin of x (x_dt) viewed as [outer, n, inner] along n: int64 indices, the
 * first extreme (or the last with select_last). */
typedef struct {
    int32_t outer, n, inner, x_dt, is_min, select_last;
} qcc_argmax_p;

static inline int qcc_argmax(const qcc_argmax_p *p, const void *x, int64_t *y);
