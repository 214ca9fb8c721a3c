/* ONNX comparisons, logic, bitwise ops, integer Add/Sub/Mul, Not, Where and integer Cast on
 * raw integer values (bool as uint8_t 0/1), e.g. an attention mask Equal(mask, 0) -> Not ->
 * Cast(int8).  numpy broadcasting folded to 4 output dims d[0..3] (row-major, contiguous);
 * sa/sb/sc: element strides of a/b/c (0 = broadcast).  op (y from a, b, c):
 *   0 a == b   1 a < b   2 a <= b   3 a > b   4 a >= b   5 a && b   6 a || b   7 a ^ b (bool)
 *   8 a & b    9 a | b  10 a ^ b (bitwise)  11 a + b  12 a - b  13 a * b (wrap around)
 *  14 !a      15 ~a     16 a (Cast: wraps to y_dt)  17 a != 0 (Cast to bool)  18 a ? b : c
 * Results wrap modulo 2^bits of y_dt as numpy does (two's complement conversion, which
 * gcc, clang, armcc and IAR implement).  Safe in place (y == a, b or c of y's shape and
 * element size). */
typedef struct {
    int32_t d[4], sa[4], sb[4], sc[4];
    int32_t op, a_dt, b_dt, c_dt, y_dt;
} qcc_logic_p;

static inline int qcc_logic(const qcc_logic_p *p, const void *a, const void *b, const void *c,
                            void *y);
