/* Pooling on NCHW int8.  avgpool: centered window sums (pads count as the zero point),
 * requant with mult/shift[count - 1]; maxpool: pads are ignored (-inf). */
typedef struct {
    int32_t n, c, h, w, oh, ow, kh, kw, sh, sw, pt, pl;
    int32_t include_pad, x_zp, y_zp, lo, hi;
} qcc_pool_p;

static inline int qcc_avgpool(const qcc_pool_p *p, const int8_t *x, const int32_t *mult, const int32_t *shift,
                int8_t *y);
static inline int qcc_maxpool(const qcc_pool_p *p, const int8_t *x, int8_t *y);

/* qcc.global_avgpool: planes of 'size' elements, one requant (m, s) per plane sum. */
typedef struct {
    int32_t planes, size, x_zp, y_zp, lo, hi, m, s;
} qcc_gap_p;

static inline int qcc_global_avgpool(const qcc_gap_p *p, const int8_t *x, int8_t *y);

/* The acc_bits = 64 forms (int64 sums; docs/arithmetic.md 5.1). */
static inline int qcc_avgpool64(const qcc_pool_p *p, const int8_t *x, const int32_t *mult,
                                const int32_t *shift, int8_t *y);
static inline int qcc_global_avgpool64(const qcc_gap_p *p, const int8_t *x, int8_t *y);
