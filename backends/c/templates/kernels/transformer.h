/* Integer transformer ops (qcc docs/integer_ops.md "Transformer"), exact int64 arithmetic.
 * Rows are the contiguous last axis: isoftmax and ilayernorm run over `rows` rows of `len`
 * elements.  x/y of any of QCC_I8/U8/I16/I32 (dtype codes x_dt / y_dt).
 *
 * isoftmax: optional mask (nonzero = excluded), broadcast over the rows: the mask row of
 * row r = i0*ms[0] + i1*ms[1] + i2*ms[2] (rows folded to d[0..2]), element stride ml.
 * Output uint8 probabilities at scale 2^-8.  scratch: `len` int32. */
typedef struct {
    int32_t d[3], ms[3], ml, len, x_dt, variant, frac_bits, d_clip, z_max;
    int32_t q_ln2, q_b, q_c, e_shift, m, s;
} qcc_isoftmax_p;

static inline int qcc_isoftmax(const qcc_isoftmax_p *p, const void *x, const uint8_t *mask,
                               uint8_t *y, int32_t *scratch);

/* igelu: y = clamp(requant(xi * g(xi), m, s) + y_zp) elementwise (I-BERT i-erf). */
typedef struct {
    int32_t count, x_dt, y_dt, x_zp, q_l, c1, f_shift, x_max, m, s, y_zp, lo, hi;
} qcc_igelu_p;

static inline int qcc_igelu(const qcc_igelu_p *p, const void *x, void *y);

/* ilayernorm: exact centering, per-row shift, isqrt, integer gamma/bias, requant.
 * cl = ceil(log2 len), sh_eps = the epsilon's lower bound of the row shift. */
typedef struct {
    int32_t rows, len, x_dt, y_dt, x_zp, cl, sh_eps, eps_frac, m, s, y_zp, lo, hi;
    int64_t eps_q;
} qcc_ilayernorm_p;

static inline int qcc_ilayernorm(const qcc_ilayernorm_p *p, const void *x, const int32_t *gamma,
                                 const int32_t *bias, void *y);
