/* qcc.add / qcc.sub / qcc.mul with numpy broadcasting, folded to 4 dims:
 * output dims d[0..3] (row-major, contiguous), input element strides sa/sb (0 = broadcast).
 * op 0 add: y = rshift_round(A*ma + B*mb, s); op 1 sub: A*ma - B*mb; op 2 mul: requant(A*B, ma, s),
 * with A = a - a_zp, B = b - b_zp; then + y_zp and clamp; op 3 / 4: clamp(max / min(A, B)).  a/b/y of dtype a_dt/b_dt/y_dt
 * (int8 throughout takes a fast path).  Safe in place (y == a or y == b when that input has
 * the output's shape and dtype). */
typedef struct {
    int32_t d[4], sa[4], sb[4];
    int32_t op, a_zp, b_zp, y_zp, lo, hi, ma, mb, s, a_dt, b_dt, y_dt;
} qcc_binary_p;

static inline int qcc_binary(const qcc_binary_p *p, const void *a, const void *b, void *y);
