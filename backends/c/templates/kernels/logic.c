static inline void qcc_store64(void *p, size_t i, int32_t dt, int64_t v)
{
    if (dt == QCC_I64)
        ((int64_t *)p)[i] = v;
    else if (dt == QCC_I32)
        ((int32_t *)p)[i] = (int32_t)v;
    else if (dt == QCC_I16)
        ((int16_t *)p)[i] = (int16_t)v;
    else if (dt == QCC_U8)
        ((uint8_t *)p)[i] = (uint8_t)v;
    else
        ((int8_t *)p)[i] = (int8_t)v;
}

static inline int64_t qcc_logic_one(int32_t op, int64_t a, int64_t b, int64_t c)
{
    switch (op) {
    case 0: return a == b;
    case 1: return a < b;
    case 2: return a <= b;
    case 3: return a > b;
    case 4: return a >= b;
    case 5: return a && b;
    case 6: return a || b;
    case 7: return (a != 0) != (b != 0);
    case 8: return a & b;
    case 9: return a | b;
    case 10: return a ^ b;
    case 11: return (int64_t)((uint64_t)a + (uint64_t)b);
    case 12: return (int64_t)((uint64_t)a - (uint64_t)b);
    case 13: return (int64_t)((uint64_t)a * (uint64_t)b);
    case 14: return !a;
    case 15: return ~a;
    case 16: return a;
    case 17: return a != 0;
    default: return a ? b : c;
    }
}

static inline int qcc_logic(const qcc_logic_p *p, const void *a, const void *b, const void *c,
                            void *y)
{
    const int32_t nb = p->op < 14 || p->op == 18, nc = p->op == 18;
    int32_t i0, i1, i2, j;
    size_t o = 0;
    for (i0 = 0; i0 < p->d[0]; i0++)
        for (i1 = 0; i1 < p->d[1]; i1++)
            for (i2 = 0; i2 < p->d[2]; i2++) {
                const size_t oa = (size_t)i0 * p->sa[0] + (size_t)i1 * p->sa[1] + (size_t)i2 * p->sa[2];
                const size_t ob = (size_t)i0 * p->sb[0] + (size_t)i1 * p->sb[1] + (size_t)i2 * p->sb[2];
                const size_t oc = (size_t)i0 * p->sc[0] + (size_t)i1 * p->sc[1] + (size_t)i2 * p->sc[2];
                for (j = 0; j < p->d[3]; j++, o++) {
                    const int64_t av = qcc_load(a, oa + (size_t)j * p->sa[3], p->a_dt);
                    const int64_t bv = nb ? qcc_load(b, ob + (size_t)j * p->sb[3], p->b_dt) : 0;
                    const int64_t cv = nc ? qcc_load(c, oc + (size_t)j * p->sc[3], p->c_dt) : 0;
                    qcc_store64(y, o, p->y_dt, qcc_logic_one(p->op, av, bv, cv));
                }
            }
    return QCC_OK;
}
