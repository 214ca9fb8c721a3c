/* Integer LSTM and GRU (qcc docs/integer_ops.md "Recurrent"), ONNX layout 0:
 * x [seq, batch, in] (int8 or uint8, x_dt), weights per direction [dirs, G*hid, in] and
 * [dirs, G*hid, hid] int8 (G = 4 for LSTM gates i o f c, 3 for GRU gates z r h), gate
 * biases int32 at 2^-12, per-row requant (mx, sx) of the x path and (mh, sh) of the h path
 * to Q3.12, 513-entry int16 sigmoid/tanh tables (Q0.15), (mo, so): a Q0.30 product -> h.
 * Outputs y [seq, dirs, batch, hid] int8, yh [dirs, batch, hid] int8 (the hidden state,
 * updated in place), yc [dirs, batch, hid] int16 (the LSTM cell state at 2^-cell_frac).
 * h0/c0 may be NULL (h_zp / 0).  Scratch: lstm 4*hid int32; gru 7*hid int32. */
typedef struct {
    int32_t seq, batch, in, hid, dirs, reverse, x_dt, x_zp, h_zp, cell_frac, lbr, mo, so;
} qcc_rnn_p;

static inline int qcc_lstm(const qcc_rnn_p *p, const void *x, const int8_t *w, const int8_t *r,
                           const int32_t *bias, const int32_t *mx, const int32_t *sx,
                           const int32_t *mh, const int32_t *sh, const int8_t *h0,
                           const int16_t *c0, const int16_t *sig, const int16_t *tanh_t,
                           int8_t *y, int8_t *yh, int16_t *yc, int32_t *scratch);

static inline int qcc_gru(const qcc_rnn_p *p, const void *x, const int8_t *w, const int8_t *r,
                          const int32_t *bx, const int32_t *bh, const int32_t *mx,
                          const int32_t *sx, const int32_t *mh, const int32_t *sh,
                          const int8_t *h0, const int16_t *sig, const int16_t *tanh_t,
                          int8_t *y, int8_t *yh, int32_t *scratch);
