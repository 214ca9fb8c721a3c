/* A monotone integer -> integer step function (the compile-time image of a float chain such
 * as Cast -> Sub -> Mul -> QuantizeLinear on an integer input, e.g. an attention mask):
 * y[i] = vals[number of thresholds t[k] <= x[i]], thresholds sorted ascending (nt of them). */
typedef struct {
    int32_t count, nt, x_dt, y_dt;
} qcc_threshold_p;

static inline int qcc_threshold(const qcc_threshold_p *p, const void *x, const int64_t *t,
                                const int32_t *vals, void *y);
