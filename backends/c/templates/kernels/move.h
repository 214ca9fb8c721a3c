/* Data movement.  copy_nd: y[i] = x[off + sum_k idx_k * xs[k]] over dims d[0..5] (row-major,
 * y contiguous), element size esize bytes.  Strides may be negative (Slice with steps < 0). */
typedef struct {
    int32_t d[6], xs[6], off, esize;
} qcc_copy_p;

static inline int qcc_copy_nd(const qcc_copy_p *p, const void *x, void *y);

/* gather_table: y[i] = table[i] < 0 ? fill : x[table[i]] (element size esize). */
typedef struct {
    int32_t count, esize;
    int64_t fill;
} qcc_table_p;

static inline int qcc_gather_table(const qcc_table_p *p, const void *x, const int32_t *table, void *y);

/* Gather with run-time indices (token ids): data [outer, axis, inner], idx of idx_count
 * int32/int64 (idx_64) values, negative values wrap; out of range returns QCC_ERR_INDEX. */
typedef struct {
    int32_t outer, axis, inner, idx_count, idx_64, esize;
} qcc_gather_p;

static inline int qcc_gather(const qcc_gather_p *p, const void *data, const void *idx, void *y);
