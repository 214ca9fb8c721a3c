"""ILP bit-width choice vs uniform precision vs random assignments of the same size.

    python -m qcc.bench.mixed_precision --out DIR [--quick] [--models a,b]

For each model: the fused float graph (qcc's clean-up and fusion passes), the
per-layer sensitivities on calibration samples (qcc.mixed_precision), then for
several size budgets (HAWQ style: the smallest feasible size plus a fraction
0.1/0.25/0.5/0.75 of the way to all-int8, reported as percent of the int8
weight bytes; first and last layer pinned to 8 bits as in ``qcc compile``):

* ``ilp``: the ILP's choice;
* ``uniform``: every free layer at the widest single width that fits the budget;
* ``random``: the median of 20 random assignments that fill the same budget.

Each is scored on held-out test samples by the output error of the model with
those layers' weights fake-quantized (activations float, so the score isolates
the weight-width choice): SQNR of the outputs in dB, KL for classifiers, top-1
agreement with the float model, and top-1 accuracy where labels exist.  The
onnx light models ship constant weights (quantizing them is exact), so their
weights are replaced by seeded synthetic ones (He-scaled normal draws with
per-output-channel log-normal gains, so channels and layers differ in range as
in trained networks), and a trailing Softmax is dropped (SQNR of the logits).  Writes ``DIR/mixed_precision.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from qcc.mixed_precision.costs import find_layers
from qcc.mixed_precision.ilp import min_cost, random_assignment, solve, uniform_cost
from qcc.mixed_precision.ortgraph import make_evaluator
from qcc.mixed_precision.plan import build, first_samples, omega_of
from qcc.mixed_precision.sensitivity import divergence, fake_quant

from .metrics import sqnr_db
from .models import example, light

# budgets between the smallest feasible size (free layers at 2 bits, pins at 8) and int8
BUDGETS = [0.1, 0.25, 0.5, 0.75]
N_RANDOM = 20
LIGHT = ["squeezenet", "resnet50", "shufflenet"]


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


def _uniform(p, budget: float) -> list[int]:
    """Free layers at the widest single width that fits (pins stay at 8)."""
    for b in sorted(p.bits, reverse=True):
        bits = [p.pins.get(i, b) for i in range(len(p.names))]
        total = sum(p.costs["size"][i, p.bits.index(x)] for i, x in enumerate(bits))
        if total <= budget:
            return bits
    return [p.pins.get(i, min(p.bits)) for i in range(len(p.names))]


def _entry(p, bits: list[int], sc: dict) -> dict:
    size = sum(p.costs["size"][i, p.bits.index(b)] for i, b in enumerate(bits))
    return {"bits": bits, "bytes": int(size), "objective": omega_of(p, bits), **sc}


def bench_model(name: str, graph, calib: dict, test: dict, labels=None, n_sens: int = 16,
                n_test: int = 64, budgets=BUDGETS, seed: int = 0, log=sys.stderr) -> dict:
    t0 = time.perf_counter()
    plan = build(graph, first_samples(graph, calib, n_sens),
                 {"size_budget": "100%", "sensitivity_cache": "", "target": "c"})
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
    floor = min_cost(p, "size")
    for f in budgets:
        p.budgets = {"size": floor + f * (int8 - floor)}
        try:
            sol = solve(p)
        except Exception as e:  # noqa: BLE001 - a budget under the pinned floor: record it
            rows.append({"budget_pct": round(100 * p.budgets["size"] / int8, 1), "error": str(e)})
            continue
        ilp = _entry(p, sol.bits, score(ev, layers, sol.bits, samples, refs, metric, labels))
        ub = _uniform(p, p.budgets["size"])
        uni = _entry(p, ub, score(ev, layers, ub, samples, refs, metric, labels))
        rand = []
        for _ in range(N_RANDOM):
            r = random_assignment(p, "size", p.budgets["size"], rng)
            rand.append(_entry(p, r.bits, score(ev, layers, r.bits, samples, refs, metric, labels)))
        med = {k: float(np.median([r[k] for r in rand])) for k in rand[0] if k != "bits"}
        rows.append({"fraction": f, "budget_pct": round(100 * p.budgets["size"] / int8, 1),
                     "budget_bytes": int(p.budgets["size"]), "ilp": ilp,
                     "uniform": uni, "random_median": med,
                     "random_sqnr_db": [r["sqnr_db"] for r in rand]})
        print(f"[mp] {name} {rows[-1]['budget_pct']}%: ilp {ilp['sqnr_db']} dB, uniform {uni['sqnr_db']} dB, "
              f"random median {med['sqnr_db']:.2f} dB", file=log, flush=True)
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
        yield m.name, float_graph(m.path, m.input_shapes), m.calib, m.test, m.labels


def _g(d: dict, k: str) -> str:
    return "-" if k not in d else f"{d[k]:.3g}"


def table(results: list[dict]) -> str:
    lines = ["| model | budget | ILP SQNR dB | uniform SQNR dB (bits) | random median SQNR dB | "
             "ILP KL | uniform KL | random KL | ILP top-1 | uniform top-1 | random top-1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for b in r["budgets"]:
            if "error" in b:
                lines.append(f"| {r['model']} | {b['budget_pct']}% | infeasible: {b['error'][:70]} |"
                             + " |" * 8)
                continue
            i, u, m = b["ilp"], b["uniform"], b["random_median"]
            ub = sorted(set(u["bits"]))
            top = "top1_pct" if "top1_pct" in i else "top1_agree_pct"
            lines.append(
                f"| {r['model']} | {b['budget_pct']}% | {i['sqnr_db']} | {u['sqnr_db']} ({ub}) | "
                f"{m['sqnr_db']:.2f} | {_g(i, 'kl')} | {_g(u, 'kl')} | {_g(m, 'kl')} | "
                f"{_g(i, top)} | {_g(u, top)} | {_g(m, top)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qcc.bench.mixed_precision", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output folder (mixed_precision.json)")
    ap.add_argument("--quick", action="store_true", help="digits_cnn and one light model, 2 budgets")
    ap.add_argument("--models", default=None, help="comma-separated (digits_cnn, mobilenet_small, light_NAME)")
    args = ap.parse_args(argv)
    names = args.models.split(",") if args.models else (
        ["digits_cnn", "light_squeezenet"] if args.quick
        else ["digits_cnn", "mobilenet_small"] + [f"light_{n}" for n in LIGHT])
    budgets = [0.25, 0.5] if args.quick else BUDGETS
    results = []
    for name, g, calib, test, labels in models(names, args.quick):
        print(f"[mp] {name} ...", file=sys.stderr, flush=True)
        light_model = name.startswith("light_")
        results.append(bench_model(name, g, calib, test, labels, n_sens=8 if light_model else 32,
                                   n_test=16 if light_model else (64 if args.quick else 360),
                                   budgets=budgets))
    os.makedirs(args.out, exist_ok=True)
    report = {"what": "weight-only fake quantization: ILP vs uniform vs median of "
                      f"{N_RANDOM} random assignments at equal size budgets",
              "budgets_pct_of_int8": [100 * b for b in budgets], "results": results}
    with open(os.path.join(args.out, "mixed_precision.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
