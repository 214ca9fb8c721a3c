"""ILP bit-width choice vs uniform precision vs random assignments of the same size.

    python -m qcc.bench.mixed_precision --out DIR [--quick] [--models a,b]

For each model (default: the examples digits_cnn, mobilenet_small, tiny_bert and
the light models squeezenet and shufflenet; ``light_NAME`` for others): the fused
float graph (qcc's clean-up and fusion passes), the per-layer sensitivities on
calibration samples (qcc.mixed_precision), then size budgets HAWQ style (the
smallest feasible size plus a fraction 0.1/0.25/0.5/0.75 of the way to all-int8)
and the exact size of uniform 4-bit weights (``= uniform w4``); first and last
layer pinned to 8 bits as in ``qcc compile``:

* ``ilp``: what ``qcc compile --weight-bits mixed`` chooses (widths 4/8 first,
  2 only below their floor); ``ilp_248``: the ILP over widths 2/4/8;
* ``uniform``: every free layer at the widest single width that fits the budget
  (pinned layers and the layers tied to them at 8);
* ``random``: the median of 20 random assignments that fill the same budget.

Each is scored on held-out test samples by the output error of the model with
those layers' weights fake-quantized (activations float, so the score isolates
the weight-width choice): SQNR of the outputs in dB, KL for classifiers, top-1
agreement with the float model, and top-1 accuracy where labels exist.  Examples
with several outputs are scored (and measured) on their declared output.  The
onnx light models ship constant weights (quantizing them is exact), so their
weights are replaced by seeded synthetic ones (He-scaled normal draws with
per-output-channel log-normal gains, so channels and layers differ in range as
in trained networks), and a trailing Softmax is dropped: their sensitivity and
score are the MSE / SQNR of the logits (random weights saturate the softmax, so
KL and top-1 would say nothing).
Writes ``DIR/mixed_precision.json`` and prints a table.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time

import numpy as np

from qcc.mixed_precision.costs import find_layers
from qcc.mixed_precision.ilp import (min_cost, random_assignment, solve, uniform_assignment,
                                     uniform_cost)
from qcc.mixed_precision.ortgraph import make_evaluator
from qcc.mixed_precision.plan import JOINT_SAMPLES, build, first_samples, omega_of, solve_plan
from qcc.mixed_precision.sensitivity import divergence, fake_quant

from . import script
from .metrics import sqnr_db
from .models import example, light

# budgets between the smallest feasible size (free layers at 2 bits, pins at 8) and int8
BUDGETS = [0.1, 0.25, "w4", 0.5, 0.75]
N_RANDOM = 20
LIGHT = ["squeezenet", "shufflenet"]  # light_resnet50 etc. via --models (slow on 2 cores)


def float_graph(path: str, shapes: list[str]):
    from qcc.frontend.onnx_import import import_model, parse_input_shapes
    from qcc.passes.pipelines import FLOAT_CLEANUP, FLOAT_FUSION
    from qcc.passmanager import PassContext, PassManager, all_passes

    g = import_model(path, parse_input_shapes(shapes))
    known = all_passes()
    PassManager([p for p in FLOAT_CLEANUP + FLOAT_FUSION if p in known]).run(g, PassContext())
    return g


def synthesize_weights(graph, seed: int = 0) -> None:
    """Seeded synthetic weights for every layer (and its bias): He-scaled normal
    draws times per-output-channel log-normal gains (mean square 1)."""
    rng = np.random.default_rng(seed)
    for lay in find_layers(graph):
        v = graph.constants[lay.weight]
        shape = v.data.shape
        fan_in = max(1, v.data.size // shape[lay.axis])
        w = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        gain = np.exp(rng.normal(-0.25, 0.5, shape[lay.axis]))  # E[gain^2] = 1
        gshape = [1] * len(shape)
        gshape[lay.axis] = -1
        v.data = (w * gain.reshape(gshape)).astype(v.data.dtype)
        node = next(n for n in graph.nodes if n.name == lay.name)
        if len(node.inputs) > 2 and node.inputs[2] is not None and node.inputs[2].is_const:
            b = node.inputs[2]
            b.data = (rng.normal(0, 0.05, b.data.shape)).astype(b.data.dtype)


def strip_softmax(graph) -> None:
    """Score the logits: a trailing Softmax saturates on synthetic weights."""
    out = graph.outputs[0]
    node = out.producer
    if node is not None and node.op_type == "Softmax":
        graph.outputs[0] = node.inputs[0]
        graph.remove_node(node)


def score(ev, layers, assign: list[int], samples: list[dict], refs: list, metric: str,
          labels=None, group=None) -> dict:
    weights = {}
    for lay, b in zip(layers, assign):
        if lay.shares_weight_with is None:
            weights[lay.weight] = fake_quant(ev.defaults[lay.weight], lay.axis, b, group)
    outs = [ev.run(s, weights) for s in samples]
    ref0 = np.concatenate([r[0] for r in refs])
    out0 = np.concatenate([o[0] for o in outs])
    res = {"sqnr_db": round(sqnr_db(ref0, out0), 2)}
    if metric == "kl":
        res["kl"] = float(np.mean([divergence(r, o, "kl") for r, o in zip(refs, outs)]))
        agree = ref0.reshape(len(samples), -1).argmax(1) == out0.reshape(len(samples), -1).argmax(1)
        res["top1_agree_pct"] = round(100 * float(agree.mean()), 2)
        if labels is not None:
            res["top1_pct"] = round(100 * float((out0.reshape(len(samples), -1).argmax(1)
                                                 == labels[:len(samples)]).mean()), 2)
    return res


def _size(p, bits: list[int]) -> float:
    return float(sum(p.costs["size"][i, p.bits.index(b)] for i, b in enumerate(bits)))


def _uniform(p, budget: float) -> list[int]:
    """Free layers at the widest single width that fits; pinned layers and the
    layers tied to them (e.g. k and v next to a pinned q) stay at their pin."""
    for b in sorted(p.bits, reverse=True):
        bits = uniform_assignment(p, b)
        if _size(p, bits) <= budget * (1 + 1e-9):
            return bits
    return uniform_assignment(p, min(p.bits))


def budget_points(p, budgets) -> list[tuple[str, float]]:
    """``(label, bytes)`` per budget: a float ``f`` is HAWQ's fraction of the way
    from the smallest feasible size (free layers at the narrowest width, pins at
    8) to all-int8; ``"wB"`` is the exact size of the uniform B-bit choice (pins
    and the layers tied to them at 8), so the ILP and uniform have the same budget."""
    int8, floor = uniform_cost(p, "size", 8), min_cost(p, "size")
    out = []
    for f in budgets:
        if isinstance(f, str):
            b = int(f[1:])
            out.append((f"= uniform w{b}", _size(p, uniform_assignment(p, b))))
        else:
            out.append((f"f={f}", floor + f * (int8 - floor)))
    return out


def _entry(p, bits: list[int], sc: dict) -> dict:
    return {"bits": bits, "bytes": int(_size(p, bits)), "objective": omega_of(p, bits), **sc}


def bench_model(name: str, graph, calib: dict, test: dict, labels=None, n_sens: int = 16,
                n_test: int = 64, budgets=BUDGETS, seed: int = 0, log=sys.stderr,
                sensitivity: str = "auto") -> dict:
    t0 = time.perf_counter()
    joint = first_samples(graph, calib, max(n_sens, JOINT_SAMPLES))  # as assign-bits does
    plan = build(graph, joint[:n_sens], {"size_budget": "100%", "sensitivity_cache": "",
                                        "target": "c", "sensitivity": sensitivity},
                 joint_samples=joint)
    p = plan.problem
    t_sens = time.perf_counter() - t0
    layers = plan.layers
    ev = make_evaluator(graph, sorted({lay.weight for lay in layers}))
    samples = first_samples(graph, test, n_test)
    refs = [ev.run(s, {}) for s in samples]
    metric = plan.sens_info["metric"]
    rng = np.random.default_rng(seed)
    rows = []
    int8 = uniform_cost(p, "size", 8)
    for label, budget in budget_points(p, budgets):
        p.budgets = {"size": budget}
        try:
            sol = solve_plan(plan)  # what qcc compile chooses (widths 4/8 first)
        except Exception as e:  # noqa: BLE001 - a budget under the pinned floor: record it
            rows.append({"point": label, "budget_pct": round(100 * budget / int8, 1), "error": str(e)})
            continue
        ilp = _entry(p, sol.bits, score(ev, layers, sol.bits, samples, refs, metric, labels))
        ilp["widths"] = list(plan.used_bits)
        full = solve(p)  # the ILP over every width (--mixed-bits 2,4,8)
        ilp_all = ilp if full.bits == sol.bits else \
            _entry(p, full.bits, score(ev, layers, full.bits, samples, refs, metric, labels))
        ub = _uniform(p, budget)
        uni = _entry(p, ub, score(ev, layers, ub, samples, refs, metric, labels))
        rand = []
        for _ in range(N_RANDOM):
            r = random_assignment(p, "size", budget, rng)
            rand.append(_entry(p, r.bits, score(ev, layers, r.bits, samples, refs, metric, labels)))
        med = {k: float(np.median([r[k] for r in rand])) for k in rand[0] if k != "bits"}
        rows.append({"point": label, "budget_pct": round(100 * budget / int8, 1),
                     "budget_bytes": int(budget), "ilp": ilp, "ilp_248": ilp_all,
                     "uniform": uni, "random_median": med,
                     "random_sqnr_db": [r["sqnr_db"] for r in rand]})
        print(f"[mp] {name} {label} ({rows[-1]['budget_pct']}%): ilp {ilp['sqnr_db']} dB "
              f"(2/4/8: {ilp_all['sqnr_db']}), "
              f"uniform {uni['sqnr_db']} dB, random median {med['sqnr_db']:.2f} dB", file=log, flush=True)
    return {"model": name, "layers": len(layers), "int8_bytes": int(int8), "metric": metric,
            "sensitivity_samples": min(n_sens, len(first_samples(graph, calib, n_sens))),
            "test_samples": len(samples), "sensitivity_seconds": round(t_sens, 2),
            "engine": plan.sens_info.get("engine"), "seconds": round(time.perf_counter() - t0, 2),
            "budgets": rows}


def models(names: list[str], quick: bool):
    for n in names:
        if n.startswith("light_"):
            m = light(n[len("light_"):], n_calib=8, n_test=8 if quick else 16)
            g = float_graph(m.path, m.input_shapes)
            strip_softmax(g)
            synthesize_weights(g)
            yield m.name, g, m.calib, m.test, None
            continue
        m = example(n)
        if m is None or not os.path.isfile(m.path):
            print(f"[mp] {n}: not built, skipped", file=sys.stderr)
            continue
        g = float_graph(m.path, m.input_shapes)
        keep = [v for v in g.outputs if v.name == m.output]
        if keep and len(g.outputs) > 1:
            g.outputs[:] = keep  # score (and measure sensitivity on) the model's declared output
        yield m.name, g, m.calib, m.test, m.labels


def wins(results: list[dict]) -> dict:
    """How often the ILP's output error is at most uniform's and the random median's
    (ties within 0.5 %): KL for classifiers (the ILP's objective there), SQNR else."""
    def not_worse(r, b, other):
        o = b["random_median"] if other == "random" else b[other]
        if r["metric"] == "kl":
            return b["ilp"]["kl"] <= o["kl"] * 1.005
        return b["ilp"]["sqnr_db"] >= o["sqnr_db"] - 0.02

    pts = [(r, b) for r in results for b in r["budgets"] if "error" not in b]
    eq = [(r, b) for r, b in pts if b["point"].startswith("=")]
    return {"points": len(pts), "vs_uniform": sum(not_worse(r, b, "uniform") for r, b in pts),
            "vs_random": sum(not_worse(r, b, "random") for r, b in pts),
            "points_equal": len(eq), "vs_uniform_equal": sum(not_worse(r, b, "uniform") for r, b in eq),
            "ilp248_vs_uniform": sum(not_worse(r, {**b, "ilp": b.get("ilp_248", b["ilp"])}, "uniform")
                                     for r, b in pts)}


def _g(d: dict, k: str) -> str:
    return "-" if k not in d else f"{d[k]:.3g}"


def table(results: list[dict]) -> str:
    lines = ["| model | point | budget | ILP widths | ILP SQNR dB | ILP 2/4/8 SQNR dB | uniform SQNR dB "
             "(bits) | random median SQNR dB | ILP KL | ILP 2/4/8 KL | uniform KL | random KL | "
             "ILP top-1 | uniform top-1 | random top-1 |",
             "|" + "---|" * 15]
    for r in results:
        for b in r["budgets"]:
            if "error" in b:
                lines.append(f"| {r['model']} | {b.get('point', '')} | {b['budget_pct']}% | "
                             f"infeasible: {b['error'][:70]} |" + " |" * 11)
                continue
            i, u, m = b["ilp"], b["uniform"], b["random_median"]
            a = b.get("ilp_248", i)
            ub = "/".join(map(str, sorted(set(u["bits"]))))
            top = "top1_pct" if "top1_pct" in i else "top1_agree_pct"
            lines.append(
                f"| {r['model']} | {b.get('point', '')} | {b['budget_pct']}% | "
                f"{'/'.join(map(str, i.get('widths', [])))} | {i['sqnr_db']} | {a['sqnr_db']} | "
                f"{u['sqnr_db']} ({ub}) | {m['sqnr_db']:.2f} | {_g(i, 'kl')} | {_g(a, 'kl')} | "
                f"{_g(u, 'kl')} | {_g(m, 'kl')} | {_g(i, top)} | {_g(u, top)} | {_g(m, top)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = script.parser("mixed_precision", __doc__)
    ap.add_argument("--out", required=True, help="output folder (mixed_precision.json)")
    ap.add_argument("--quick", action="store_true", help="digits_cnn and one light model, 2 budgets")
    ap.add_argument("--models", default=None, help="comma-separated (digits_cnn, mobilenet_small, light_NAME)")
    args = ap.parse_args(argv)
    names = args.models.split(",") if args.models else (
        ["digits_cnn", "light_squeezenet"] if args.quick
        else ["digits_cnn", "mobilenet_small", "tiny_bert"] + [f"light_{n}" for n in LIGHT])
    budgets = [0.25, "w4"] if args.quick else BUDGETS
    results = []
    for name, g, calib, test, labels in models(names, args.quick):
        print(f"[mp] {name} ...", file=sys.stderr, flush=True)
        light_model = name.startswith("light_")
        results.append(bench_model(name, g, calib, test, labels, n_sens=8 if light_model else 32,
                                   n_test=16 if light_model else (64 if args.quick else 360),
                                   budgets=budgets, sensitivity="mse" if light_model else "auto"))
    os.makedirs(args.out, exist_ok=True)
    report = {"what": "weight-only fake quantization: ILP vs uniform vs median of "
                      f"{N_RANDOM} random assignments at equal size budgets",
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.machine()} {platform.processor() or ''} "
                         f"{os.cpu_count()} cpus, {platform.system()}".replace("  ", " "),
              "budgets": budgets, "results": results, "wins": wins(results)}
    with open(os.path.join(args.out, "mixed_precision.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(table(results))
    w = report["wins"]
    print(f"ILP output error (KL for classifiers, else SQNR) not worse than uniform at "
          f"{w['vs_uniform']}/{w['points']} points ({w['vs_uniform_equal']}/{w['points_equal']} at "
          f"uniform's own size; the 2/4/8 ILP at {w['ilp248_vs_uniform']}/{w['points']}), than the "
          f"random median at {w['vs_random']}/{w['points']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
