/* Arm Helium (M-profile Vector Extension, integer: __ARM_FEATURE_MVE bit 0; Cortex-M55/M85
 * with -mcpu=...), through the ACLE intrinsics of arm_mve.h. Columns stay in natural order
 * (qcc_col_prep is a no-op here): eight int8 weights widen to int16 lanes in the load
 * (VLDRB.S16), eight int16 column values load as one vector, and VMLADAVA adds the eight
 * products to a scalar int32 accumulator; tails run under a VCTP lane predicate (inactive lanes
 * are neither read nor added). Same integers as the portable loops. Included before common.h,
 * whose dot products dispatch here when QCC_ARM_MVE is defined. */
#include <stddef.h>
#include <stdint.h>
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1) && !defined(QCC_PORTABLE)
#include <arm_mve.h>
#define QCC_ARM_MVE 1

/* sum over t < len of w[t] * c[t]: int8 weights, int16 column. */
static inline int32_t qcc_mve_dot_w8(const int8_t *w, const int16_t *c, int32_t len)
{
    int32_t acc = 0, t;
    for (t = 0; t + 8 <= len; t += 8)
        acc = vmladavaq_s16(acc, vldrbq_s16(w + t), vldrhq_s16(c + t));
    if (t < len) {
        const mve_pred16_t pr = vctp16q((uint32_t)(len - t));
        acc = vmladavaq_p_s16(acc, vldrbq_z_s16(w + t, pr), vldrhq_z_s16(c + t, pr), pr);
    }
    return acc;
}

/* Four weight rows (stride bytes apart) times one int16 column: the column vector is loaded
 * once for four VMLADAVA. */
static inline void qcc_mve_dot4_w8(const int8_t *w, size_t stride, const int16_t *c, int32_t len,
                                   int32_t acc[4])
{
    const int8_t *w0 = w, *w1 = w + stride, *w2 = w + 2 * stride, *w3 = w + 3 * stride;
    int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, t;
    for (t = 0; t + 8 <= len; t += 8) {
        const int16x8_t cv = vldrhq_s16(c + t);
        a0 = vmladavaq_s16(a0, vldrbq_s16(w0 + t), cv);
        a1 = vmladavaq_s16(a1, vldrbq_s16(w1 + t), cv);
        a2 = vmladavaq_s16(a2, vldrbq_s16(w2 + t), cv);
        a3 = vmladavaq_s16(a3, vldrbq_s16(w3 + t), cv);
    }
    if (t < len) {
        const mve_pred16_t pr = vctp16q((uint32_t)(len - t));
        const int16x8_t cv = vldrhq_z_s16(c + t, pr);
        a0 = vmladavaq_p_s16(a0, vldrbq_z_s16(w0 + t, pr), cv, pr);
        a1 = vmladavaq_p_s16(a1, vldrbq_z_s16(w1 + t, pr), cv, pr);
        a2 = vmladavaq_p_s16(a2, vldrbq_z_s16(w2 + t, pr), cv, pr);
        a3 = vmladavaq_p_s16(a3, vldrbq_z_s16(w3 + t, pr), cv, pr);
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}
#endif
