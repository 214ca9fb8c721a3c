"""``debug.html``: per-layer SQNR along the network and histograms of the worst tensors
with their quantization grid (inline SVG; geometry here, markup in the template)."""

from __future__ import annotations

import math
import os

import jinja2
import numpy as np

from ..interp import Interpreter

W, H, PAD_L, PAD_B, PAD_T = 900, 320, 56, 110, 16
HW, HH = 420, 200


def _finite(x: float, lo: float, hi: float) -> float:
    if x is None or math.isnan(x):
        return lo
    return min(max(x, lo), hi)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Distinct round tick values over [lo, hi]."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=raw)
    start = math.ceil(lo / step) * step
    return [round(start + i * step, 10) for i in range(int((hi - start) / step) + 1)]


def sqnr_plot(stats: list) -> dict:
    xs = sorted(stats, key=lambda s: s.index)
    vals = [v for s in xs for v in (s.introduced_sqnr_db, s.inherited_sqnr_db) if math.isfinite(v)]
    lo = math.floor(min(vals + [0.0]) / 10) * 10
    hi = math.ceil(max(vals + [10.0]) / 10) * 10 + (10 if max(vals + [0]) % 10 == 0 else 0)
    n = max(len(xs), 1)
    px = lambda i: PAD_L + (W - PAD_L - 10) * (i + 0.5) / n  # noqa: E731
    py = lambda v: PAD_T + (H - PAD_T - PAD_B) * (1 - (_finite(v, lo, hi) - lo) / (hi - lo))  # noqa: E731
    every = max(1, math.ceil(n / 40))
    return {
        "w": W, "h": H, "left": PAD_L, "bottom": H - PAD_B, "top": PAD_T, "right": W - 10,
        "intro": " ".join(f"{px(i):.1f},{py(s.introduced_sqnr_db):.1f}" for i, s in enumerate(xs)),
        "inher": " ".join(f"{px(i):.1f},{py(s.inherited_sqnr_db):.1f}" for i, s in enumerate(xs)),
        "points": [{"x": px(i), "yi": py(s.introduced_sqnr_db), "yh": py(s.inherited_sqnr_db),
                    "title": f"{s.node}: introduced {s.introduced_sqnr_db:.1f} dB, "
                             f"inherited {s.inherited_sqnr_db:.1f} dB"} for i, s in enumerate(xs)],
        "yticks": [{"y": py(t), "label": f"{t:g}"} for t in _ticks(lo, hi)],
        "xlabels": [{"x": px(i), "label": s.node[-28:]} for i, s in enumerate(xs) if i % every == 0],
    }


def histogram(name: str, values: np.ndarray, st) -> dict:
    v = np.asarray(values, np.float64).ravel()
    qlo, qhi = st.qmin - st.zero_point, st.qmax - st.zero_point
    glo, ghi = qlo * st.scale, qhi * st.scale
    lo, hi = float(min(v.min(), glo)), float(max(v.max(), ghi))
    span = hi - lo or 1.0
    counts, edges = np.histogram(v, bins=60, range=(lo, hi))
    top = max(int(counts.max()), 1)
    px = lambda x: 40 + (HW - 50) * (x - lo) / span  # noqa: E731
    bars = [{"x": px(edges[i]), "w": max(px(edges[i + 1]) - px(edges[i]) - 0.5, 0.5),
             "h": (HH - 40) * math.sqrt(c / top)} for i, c in enumerate(counts)]
    steps = int(round((ghi - glo) / st.scale))
    grid = [px(glo + k * st.scale) for k in range(0, steps + 1, max(1, steps // 64))]
    return {"name": name, "node": st.node, "bars": bars, "grid": grid, "lo": px(glo), "hi": px(ghi),
            "w": HW, "h": HH, "base": HH - 20, "xl": f"{lo:.3g}", "xr": f"{hi:.3g}",
            "scale": f"{st.scale:.3g}", "clip": f"{100 * st.clip_rate:.2f}",
            "intro": f"{st.introduced_sqnr_db:.1f}"}


def render_html(model: str, stats: list, e2e: float, tried: list, target_check, dg, samples,
                worst: int = 3) -> str:
    from .report import _db, _target_line, ranked

    bad = ranked(stats)[:worst]
    names = {s.tensor for s in bad}
    vals: dict[str, list] = {n: [] for n in names}
    it = Interpreter(dg.float_graph)
    for feeds in samples[:8]:
        got = it.run(feeds, capture=names)
        for n in names:
            if n in got:
                vals[n].append(np.ravel(got[n]))
    hists = [histogram(s.tensor, np.concatenate(vals[s.tensor]), s) for s in bad if vals[s.tensor]]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(os.path.dirname(__file__),
                                                                         "templates")),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("debug.html.j2").render(
        model=model, e2e=_db(e2e), plot=sqnr_plot(stats), hists=hists,
        rows=[dict(s.as_dict(), intro=_db(s.introduced_sqnr_db), inher=_db(s.inherited_sqnr_db))
              for s in ranked(stats)[:15]],
        tried=[dict(what=t.what, flag=t.flag, res=_db(t.sqnr_db) + " dB" if t.sqnr_db is not None
                    else t.error) for t in tried],
        target=_target_line(target_check) if target_check else None)
