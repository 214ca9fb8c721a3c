static inline int qcc_threshold(const qcc_threshold_p *p, const void *x, const int64_t *t,
                                const int32_t *vals, void *y)
{
    int32_t i;
    for (i = 0; i < p->count; i++) {
        const int64_t v = qcc_load(x, (size_t)i, p->x_dt);
        int32_t lo = 0, hi = p->nt;  /* binary search: first k with t[k] > v */
        while (lo < hi) {
            const int32_t mid = lo + (hi - lo) / 2;
            if (t[mid] <= v)
                lo = mid + 1;
            else
                hi = mid;
        }
        qcc_store(y, (size_t)i, p->y_dt, vals[lo]);
    }
    return QCC_OK;
}
