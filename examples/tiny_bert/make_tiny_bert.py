"""Train and export ``tiny_bert``: a 2-layer BERT-style encoder in plain torch.

Architecture (BERT conventions): token + learned position embeddings, LayerNorm
(eps 1e-12); 2 post-LN blocks of 4-head self-attention (hidden 128) and an FFN
(512, erf GELU); a tanh pooler on the first token and a 4-way classifier.
The 0/1 ``attention_mask`` becomes the additive mask ``(1 - mask) * -10000``
inside the graph, as HF BERT exports do.

Task (synthetic, seeded): sequences start with [CLS]=1, have 6..32 real tokens
and are right-padded with 0; the label is how many "marker" tokens (ids 10..29)
occur, 0..3.  Counting needs attention over the whole unpadded sequence.

Exports, with dynamic batch and sequence axes:
  tiny_bert_opset14.onnx  LayerNorm decomposed (ReduceMean/Sub/Pow/Sqrt/Div...)
  tiny_bert_opset17.onnx  LayerNormalization op
Both read their weights from the shared external-data file ``tiny_bert.weights``
(same initializers, same bytes), which halves the committed size.
Compile with ``--input-shape input_ids=1x32 --input-shape attention_mask=1x32``.

    python examples/tiny_bert/make_tiny_bert.py
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from _common import (export_onnx, file_kib, op_histogram, ort_run,  # noqa: E402
                     ort_vs_torch, seed_everything, write_meta)
from _shared_weights import share_external_weights  # noqa: E402

SEED = 0
VOCAB, HIDDEN, HEADS, LAYERS, FFN, MAX_POS = 1000, 128, 4, 2, 512, 64
SEQ, N_CLASSES, MIN_LEN = 32, 4, 6
PAD, CLS = 0, 1
MARKERS = np.arange(10, 30)
STEPS, BATCH = 1200, 32
N_CALIB, N_TEST, N_EVAL = 64, 32, 2000
WEIGHTS = "tiny_bert.weights"


class SelfAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)
        self.out = nn.Linear(HIDDEN, HIDDEN)

    def split(self, t: torch.Tensor) -> torch.Tensor:
        b, s = t.shape[0], t.shape[1]
        return t.view(b, s, HEADS, HIDDEN // HEADS).transpose(1, 2)      # [B,H,S,D]

    def forward(self, x: torch.Tensor, mask_add: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(HIDDEN // HEADS)
        probs = torch.softmax(scores + mask_add, dim=-1)
        ctx = torch.matmul(probs, v).transpose(1, 2)                     # [B,S,H,D]
        ctx = ctx.reshape(ctx.shape[0], ctx.shape[1], HIDDEN)
        return self.out(ctx)


class EncoderLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = SelfAttention()
        self.ln_attn = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.ffn_in = nn.Linear(HIDDEN, FFN)
        self.act = nn.GELU()
        self.ffn_out = nn.Linear(FFN, HIDDEN)
        self.ln_ffn = nn.LayerNorm(HIDDEN, eps=1e-12)

    def forward(self, x: torch.Tensor, mask_add: torch.Tensor) -> torch.Tensor:
        x = self.ln_attn(x + self.attn(x, mask_add))                     # post-LN
        return self.ln_ffn(x + self.ffn_out(self.act(self.ffn_in(x))))


class TinyBert(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tok = nn.Embedding(VOCAB, HIDDEN)
        self.pos = nn.Embedding(MAX_POS, HIDDEN)
        self.register_buffer("position_ids", torch.arange(MAX_POS)[None], persistent=False)
        self.ln_emb = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.layers = nn.ModuleList(EncoderLayer() for _ in range(LAYERS))
        self.pooler = nn.Linear(HIDDEN, HIDDEN)
        self.classifier = nn.Linear(HIDDEN, N_CLASSES)
        for mod in self.modules():                       # BERT init: N(0, 0.02)
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                nn.init.normal_(mod.weight, std=0.02)
            if isinstance(mod, nn.Linear):
                nn.init.zeros_(mod.bias)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        pos_ids = self.position_ids[:, :input_ids.shape[1]]
        x = self.ln_emb(self.tok(input_ids) + self.pos(pos_ids))
        mask_add = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        for layer in self.layers:
            x = layer(x, mask_add)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return x, self.classifier(pooled)


def make_batch(rng: np.random.Generator, n: int):
    """Sequences [CLS] tok... PAD..., labels = number of marker tokens (0..3)."""
    ids = rng.integers(30, VOCAB, size=(n, SEQ))
    lengths = rng.integers(MIN_LEN, SEQ + 1, size=n)
    labels = rng.integers(0, N_CLASSES, size=n)
    for i in range(n):
        pos = rng.choice(np.arange(1, lengths[i]), size=labels[i], replace=False)
        ids[i, pos] = rng.choice(MARKERS, size=labels[i])
    mask = (np.arange(SEQ)[None] < lengths[:, None]).astype(np.int64)
    ids[:, 0] = CLS
    ids = np.where(mask == 1, ids, PAD).astype(np.int64)
    return ids, mask, labels.astype(np.int64)


def train(model: TinyBert, rng: np.random.Generator) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=STEPS, pct_start=0.1)
    t0 = time.time()
    model.train()
    for step in range(STEPS):
        ids, mask, y = (torch.from_numpy(a) for a in make_batch(rng, BATCH))
        _, logits = model(ids, mask)
        loss = nn.functional.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 200 == 199:
            print(f"step {step + 1}: loss {loss.item():.4f} ({time.time() - t0:.0f}s)")


def accuracy(model: TinyBert, ids, mask, y) -> float:
    with torch.no_grad():
        _, logits = model(torch.from_numpy(ids), torch.from_numpy(mask))
    return float((logits.argmax(1).numpy() == y).mean())


def export_both(model: TinyBert, ids: np.ndarray, mask: np.ndarray) -> dict:
    dyn = {"batch": 0, "sequence": 1}
    axes = {n: {v: k for k, v in dyn.items()} for n in ("input_ids", "attention_mask", "last_hidden_state")}
    axes["logits"] = {0: "batch"}
    args = (torch.from_numpy(ids[:1]), torch.from_numpy(mask[:1]))
    out = {}
    for opset in (17, 14):
        path = os.path.join(HERE, f"tiny_bert_opset{opset}.onnx")
        m = export_onnx(model, args, path, input_names=["input_ids", "attention_mask"],
                        output_names=["last_hidden_state", "logits"], dynamic_axes=axes, opset=opset)
        out[opset] = (path, m)
    ln17 = op_histogram(out[17][1]).get("LayerNormalization", 0)
    assert ln17 == 2 * LAYERS + 1 and "LayerNormalization" not in op_histogram(out[14][1])
    share_external_weights([p for p, _ in out.values()], WEIGHTS)
    return {o: op_histogram(onnx.load(p)) for o, (p, _) in out.items()}


def main() -> None:
    seed_everything(SEED, threads=1)      # one thread: faster than two on a busy 2-core box
    rng = np.random.default_rng(SEED)
    model = TinyBert()
    train(model, rng)
    model.eval()
    eval_rng = np.random.default_rng(SEED + 1)
    ev = make_batch(eval_rng, N_EVAL)
    calib = make_batch(eval_rng, N_CALIB)
    test = make_batch(eval_rng, N_TEST)
    torch_eval_acc = accuracy(model, *ev)
    ops = export_both(model, *test[:2])

    np.savez_compressed(os.path.join(HERE, "calib.npz"), input_ids=calib[0], attention_mask=calib[1])
    np.savez_compressed(os.path.join(HERE, "test.npz"), input_ids=test[0], attention_mask=test[1])
    np.save(os.path.join(HERE, "test_labels.npy"), test[2])

    gammas = [m.weight.detach() for m in model.modules() if isinstance(m, nn.LayerNorm)]
    meta = {"inputs": {"input_ids": [1, SEQ], "attention_mask": [1, SEQ]}, "input_dtype": "int64",
            "outputs": {"last_hidden_state": [1, SEQ, HIDDEN], "logits": [1, N_CLASSES]},
            "external_data": WEIGHTS, "n_calib": N_CALIB, "n_test": N_TEST,
            "task": "count marker tokens (ids 10..29) in the unpadded sequence, 4 classes",
            "torch_accuracy_pct_2000_synthetic": round(100 * torch_eval_acc, 2),
            "params": int(sum(p.numel() for p in model.parameters())),
            "layernorm_gamma_mean_abs_dev_from_1": float(torch.cat(gammas).sub(1).abs().mean()),
            "seed": SEED, "torch_version": torch.__version__, "models": {}}
    feeds = {"input_ids": test[0], "attention_mask": test[1]}
    for opset in (17, 14):
        name = f"tiny_bert_opset{opset}.onnx"
        path = os.path.join(HERE, name)
        err = ort_vs_torch(path, model, feeds)
        acc = float((ort_run(path, feeds)[1].argmax(1) == test[2]).mean())
        meta["models"][name] = {"opset": opset, "ops": ops[opset], "ort_vs_torch_max_abs_err": err,
                                "float_accuracy_pct": round(100 * acc, 2), "onnx_kib": file_kib(path)}
        print(f"{name}: accuracy (onnxruntime) {100 * acc:.2f}% on {N_TEST} test samples, "
              f"ORT vs torch max abs err {err:.2e}\n  ops {ops[opset]}")
    meta["weights_kib"] = file_kib(os.path.join(HERE, WEIGHTS))
    write_meta(HERE, meta)
    print(f"torch accuracy on {N_EVAL} fresh samples: {100 * torch_eval_acc:.2f}%; "
          f"LayerNorm gamma mean |g-1| = {meta['layernorm_gamma_mean_abs_dev_from_1']:.3f}")


if __name__ == "__main__":
    main()
