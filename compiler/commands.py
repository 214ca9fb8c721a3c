"""Implementations of the ``qcc`` sub-commands (argument parsing is in cli.py)."""

from __future__ import annotations

import json
import os
import sys

from typing import Optional

import numpy as np

from .errors import QccError


def _shapes(args):
    from .frontend.onnx_import import parse_input_shapes

    return parse_input_shapes(args.input_shape)


def _binds(args) -> dict:
    from .frontend.bind import parse_bind_specs

    return parse_bind_specs(getattr(args, "bind", None))


# --------------------------------------------------------------------- inspect
def _declared(vi) -> str:
    tt = vi.type.tensor_type
    dims = [str(d.dim_value) if d.HasField("dim_value") and d.dim_value >= 0 else (d.dim_param or "?")
            for d in tt.shape.dim]
    from .ir import DType

    try:
        dt = DType.from_onnx(tt.elem_type).name
    except ValueError:
        dt = str(tt.elem_type)
    return f"{dt}[{','.join(dims)}]"


def inspect_model(path: str, shapes: dict, calib: Optional[str] = None, check_targets: bool = True,
                  bind: Optional[dict] = None) -> dict:
    from collections import Counter

    from .analysis import macs
    from .frontend.ms_dynamic import quantization_of
    from .frontend.onnx_import import default_opset, find_unsupported, import_model, load_model

    model = load_model(path)
    g = model.graph
    inits = {t.name for t in g.initializer}
    info = {
        "model": path,
        "opset": default_opset(model),
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": [{"name": v.name, "type": _declared(v)} for v in g.input if v.name not in inits],
        "outputs": [{"name": v.name, "type": _declared(v)} for v in g.output],
        "ops": dict(sorted(Counter(n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"
                                   for n in g.node).items(), key=lambda kv: (-kv[1], kv[0]))),
        "nodes": len(g.node),
        "params": int(sum(int(np.prod(t.dims)) for t in g.initializer)),
        "unsupported": [{"op": o, "node": n, "opset": v} for o, n, v in find_unsupported(model)],
        "quantization": quantization_of(model),
    }
    if info["unsupported"]:
        info["macs"] = None
        info["macs_note"] = "not computed: the model has unsupported ops"
        why = f"unsupported ops: {', '.join(sorted({u['op'] for u in info['unsupported']}))}"
        info["targets"] = {t: {"ok": False, "why": why, "nodes": [u["node"] for u in info["unsupported"]]}
                           for t, _ in TARGETS}
        return info
    if calib:  # dynamic dimensions take a --calib sample's shape, as compile does
        from .calibration.data import CalibData
        from .driver import _bind_from_calib

        shapes = _bind_from_calib(path, shapes, CalibData.of(calib))
    try:
        graph = import_model(model, shapes, bind=bind)
        info["macs"] = macs(graph)
        info["params_after_folding"] = int(sum(v.type.numel for v in graph.constants.values()))
        info["bound_inputs"] = [{"name": v.name, "type": str(v.type)} for v in graph.inputs]
    except QccError as e:
        info["macs"] = None
        info["macs_note"] = f"not computed: {e}"
        info["targets"] = {t: {"ok": False, "why": str(e), "nodes": []} for t, _ in TARGETS}
        return info
    if check_targets:
        info["targets"] = target_verdicts(path, graph, shapes, calib, bind)
    return info


# Per-target verdict of ``qcc inspect``: the compiler's own answer, not a guess from op
# names.  The model is compiled for each target into a scratch folder (float ONNX;
# quantized ONNX and C with calibration data: the user's ``--calib`` or, without it, a
# few synthetic samples, standard normal floats and zero integers, enough to find every
# node without an integer lowering or a C kernel, though ranges differ from real data).
# Each failure is the compile's one-line error with the node names it reports.
TARGETS = [("onnx", False), ("onnx --calib", True), ("c", True), ("triton", True),
           ("accel", True)]


def synthetic_calib(graph, path: str, n: int = 4) -> None:
    rng = np.random.default_rng(0)
    arrays = {}
    for v in graph.inputs:
        # n samples stacked along axis 0: n * batch rows; a scalar input takes [n]
        shape = (n * max(int(v.shape[0]), 1),) + tuple(v.shape[1:]) if v.shape else (n,)
        if v.dtype.is_float:
            arrays[v.name] = rng.standard_normal(shape).astype(v.dtype.np)
        else:
            arrays[v.name] = np.zeros(shape, v.dtype.np)
    np.savez(path, **arrays)


def _nodes_named(err: QccError) -> list[str]:
    import re

    nodes = getattr(err, "nodes", None)
    if nodes:
        return list(nodes)
    return re.findall(r"node '([^']+)'", str(err))


def _host_fallbacks(manifest) -> dict:
    """The accelerator runs what its ISA cannot express on the host: name those nodes."""
    segs = ((manifest or {}).get("accel") or {}).get("segments") or []
    host = [s.get("node", "?") for s in segs if s.get("kind") == "host"]
    return {"host_fallbacks": host} if host else {}


def target_verdicts(model_path: str, graph, shapes: dict,
                    calib: Optional[str] = None, bind: Optional[dict] = None) -> dict:
    """{target: {"ok": bool, "why": str, "nodes": [...]}} for the targets of TARGETS."""
    import shutil
    import tempfile

    from .driver import CompileOptions, compile_model

    work = tempfile.mkdtemp(prefix="qcc_inspect_")
    try:
        if calib is None:
            calib = os.path.join(work, "calib.npz")
            synthetic_calib(graph, calib)
        out = {}
        for label, quant in TARGETS:
            target = label.split()[0]
            # a verdict needs a program that compiles, not the fastest one: the accelerator's
            # tile search simulates one candidate per layer instead of 16
            opts = {"quiet": True, "quantize": quant, "accel_search": 1}
            if quant:
                opts["calib"] = calib
            try:
                man = compile_model(model_path, CompileOptions(
                    target=target, out_dir=os.path.join(work, "o"), input_shapes=shapes,
                    bind=dict(bind or {}), options=opts))
                out[label] = {"ok": True, "why": "", "nodes": [], **_host_fallbacks(man)}
            except QccError as e:
                out[label] = {"ok": False, "why": str(e), "nodes": _nodes_named(e)}
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cmd_inspect(args) -> int:
    info = inspect_model(args.model, _shapes(args), getattr(args, "calib", None), bind=_binds(args))
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"model:    {info['model']}  (opset {info['opset']}, producer '{info['producer']}')")
    for v in info["inputs"]:
        print(f"input:    {v['name']}: {v['type']}")
    for v in info["outputs"]:
        print(f"output:   {v['name']}: {v['type']}")
    print(f"nodes:    {info['nodes']}")
    folded = info.get("params_after_folding")
    print(f"params:   {info['params']:,}" + (
        f"  ({folded:,} after folding constant subgraphs)" if folded and folded != info["params"]
        else ""))
    if info.get("macs") is not None:
        print(f"MACs:     {info['macs']:,}  (inputs bound to {', '.join(b['type'] for b in info['bound_inputs'])})")
    else:
        print(f"MACs:     {info.get('macs_note')}")
    print(f"quantized: {info['quantization']}")
    print("ops:")
    for op, n in info["ops"].items():
        print(f"  {n:6d}  {op}")
    if info["unsupported"]:
        print(f"unsupported ops ({len(info['unsupported'])}):")
        for u in info["unsupported"]:
            print(f"  {u['op']}  node '{u['node']}'  opset {u['opset']}")
    else:
        print("unsupported ops: none")
    print("targets:" + ("" if getattr(args, "calib", None) else "  (checked with synthetic calibration data; give --calib for yours)"))
    for t, v in info.get("targets", {}).items():
        if v["ok"]:
            host = v.get("host_fallbacks") or []
            extra = (f" ({len(host)} node(s) on the host: {', '.join(host[:6])}"
                     f"{' ...' if len(host) > 6 else ''})") if host else ""
            print(f"  {t:13s} compiles{extra}")
        else:
            nodes = f" [stopped by: {', '.join(v['nodes'][:12])}{' ...' if len(v['nodes']) > 12 else ''}]" \
                if v["nodes"] else ""
            print(f"  {t:13s} does NOT compile: {v['why']}{nodes}")
    return 0


# ------------------------------------------------------------------------- run
def cmd_run(args) -> int:
    from .npzio import iter_samples, load_npz, save_npz, stack_samples

    data = load_npz(args.inputs, "--inputs")
    if os.path.isdir(args.model):
        outs = run_artifact(args.model, data, args.engine, getattr(args, "device", None))
    else:
        from .frontend.onnx_import import import_model
        from .interp import Interpreter

        from .frontend.bind import drop_bound

        data = _bind_npy(args.model, data)
        sample = {k: (1,) + v.shape[1:] for k, v in data.items() if v.ndim}  # open dims from the data
        graph = import_model(args.model, _shapes(args), sample_shapes=sample, bind=_binds(args))
        data = drop_bound(data, graph.meta.get("bound_inputs"), "--inputs")
        it = Interpreter(graph)
        outs = stack_samples([it.run(s) for s in iter_samples(graph, data, "--inputs")])
    save_npz(args.output, outs)
    n = next(iter(outs.values())).shape[0] if outs else 0
    print(f"wrote {args.output}: {', '.join(f'{k} {list(v.shape)}' for k, v in outs.items())}"
          f" ({n} rows)", file=sys.stderr)
    return 0


def _bind_npy(model_path: str, data: dict) -> dict:
    """An .npy's one array goes to the model's only input (named from the file)."""
    from .npzio import SINGLE

    if SINGLE not in data:
        return data
    from .frontend.onnx_import import load_model

    model = load_model(model_path)
    inits = {t.name for t in model.graph.initializer}
    real = [vi.name for vi in model.graph.input if vi.name not in inits]
    if len(real) != 1:
        from .errors import InputDataError

        raise InputDataError(f"--inputs: an .npy file holds one array, but the model has "
                             f"{len(real)} inputs {real}; use an .npz with one array per input")
    return {real[0]: data[SINGLE]}


def run_artifact(path: str, data: dict, engine: str = "target", device=None) -> dict:
    from .api import load

    return load(path).run(data, engine, device=device)


# --------------------------------------------------------------------- profile
def cmd_profile(args) -> int:
    from qcc.backends import get_backend
    from .driver import load_artifact
    from .interp import check_feeds
    from .ir.serialize import load as load_ir
    from .npzio import iter_samples, load_npz

    if not os.path.isdir(args.model):
        raise QccError(f"qcc profile: '{args.model}' is not a folder; compile the model first "
                       "(qcc compile MODEL --target c -o DIR)")
    if args.runs < 1:
        raise QccError(f"qcc profile: --runs must be positive, got {args.runs}")
    manifest, _ = load_artifact(args.model)
    backend = get_backend(manifest["target"])
    if not hasattr(backend, "profile"):
        raise QccError(f"qcc profile: target '{manifest['target']}' has no profiler yet "
                       "(target c has one)")
    graph = load_ir(os.path.join(args.model, "model.qcc"))
    samples = list(iter_samples(graph, load_npz(args.inputs, "--inputs"), "--inputs"))
    if not 0 <= args.row < len(samples):
        raise QccError(f"qcc profile: --row {args.row} is out of range: '{args.inputs}' has "
                       f"{len(samples)} row(s)")
    res = backend.profile(args.model, check_feeds(graph, samples[args.row]), args.engine, args.runs)
    print(backend.format_profile(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------- compile
def instrumentation(args):
    from .passmanager import Instrumentation

    return Instrumentation(
        print_before=set(args.print_ir_before), print_after=set(args.print_ir_after),
        print_after_all=args.print_ir_after_all, print_before_all=args.print_ir_before_all,
        dump_dir=args.dump_dir, stop_after=args.stop_after, disabled=set(args.disable_pass),
        verify_each=args.verify_each, time_passes=args.time_passes)


def option_kwargs(args) -> dict:
    """The compile options of ``qcc compile``'s flags, as keyword arguments of qcc.compile."""
    from .api import OPTION_DEFAULTS

    kw = {k: getattr(args, k) for k in OPTION_DEFAULTS if hasattr(args, k)}
    kw["quiet"] = args.quiet or not sys.stderr.isatty()
    kw["accel_hw"] = list(getattr(args, "hw", []) or [])
    return kw


def compile_options(args):
    """The driver's CompileOptions of ``qcc compile``'s flags (``qcc debug`` uses them)."""
    from . import api
    from .driver import CompileOptions

    options = api.compile_options(args.calib, **option_kwargs(args))
    api.check_target_options(args.target, options)
    return CompileOptions(target=args.target, out_dir=args.output, name=args.name,
                          input_shapes=_shapes(args), bind=_binds(args), instr=instrumentation(args),
                          options=options)


def _compile_notes(passes: dict) -> None:
    """The ``qcc: note:`` lines of a successful compile (errors stay one line)."""
    dyn = passes.get("import-dynamic") or {}
    if dyn.get("recovered") or dyn.get("tables"):  # quantize_dynamic models: static from here on
        req = dyn.get("weights_requantized") or []
        print(f"qcc: note: dynamically quantized model (onnxruntime quantize_dynamic): "
              f"{len(dyn.get('recovered') or [])} MatMulInteger/ConvInteger node(s) and "
              f"{len(dyn.get('tables') or [])} quantized table(s) run as float on the shipped weights and "
              f"are quantized statically from --calib; {dyn.get('weight_grids_kept', 0)} weight grid(s) "
              f"kept exactly{f', {len(req)} asymmetric one(s) requantized' if req else ''} "
              f"(manifest: passes.import-dynamic)", file=sys.stderr)
    floored = passes.get("quantize", {}).get("floored_channels") or {}
    if floored:  # near-dead weight channels (docs/arithmetic.md): said, never refused
        shown = "; ".join(f"{w}: {ch[:8]}{' ...' if len(ch) > 8 else ''}" for w, ch in list(floored.items())[:4])
        print(f"qcc: note: {sum(map(len, floored.values()))} near-dead weight channel(s) quantized at the "
              f"scale floor (2^-12 of their layer's largest; weights far below it round to 0, the bias is "
              f"kept exactly): "
              f"{shown}{' ...' if len(floored) > 4 else ''} (manifest: passes.quantize.floored_channels)",
              file=sys.stderr)
    fit = passes.get("quantize", {}).get("bias_fit_channels") or {}
    if fit:  # a tiny-scale input next to a normal bias: said, never refused
        shown = "; ".join(f"{w}: {ch[:8]}{' ...' if len(ch) > 8 else ''}" for w, ch in list(fit.items())[:4])
        print(f"qcc: note: {sum(map(len, fit.values()))} weight channel(s) at a coarser scale so that "
              f"their bias fits int32 at the accumulator scale: {shown}"
              f"{' ...' if len(fit) > 4 else ''} (manifest: passes.quantize.bias_fit_channels)",
              file=sys.stderr)
    cats = passes.get("quantize", {}).get("wide_concats") or []
    if cats:  # report 6: box coordinates and probabilities in one output tensor
        shown = "; ".join(f"'{w['node']}' (input scales {w['scale_ratio']:g}x apart)" for w in cats[:4])
        print(f"qcc: note: {len(cats)} Concat(s) feeding graph outputs get an int16 output so that "
              f"their narrow-range inputs keep their resolution: {shown}{' ...' if len(cats) > 4 else ''} "
              f"(manifest: passes.quantize.wide_concats; --wide-concat 0 keeps int8)", file=sys.stderr)
    wide = passes.get("widen-accumulators", {}).get("nodes") or {}
    for name, w in wide.items():  # docs/arithmetic.md 5.1: widened, never refused
        print(f"qcc: note: {w['op']} node '{name}' accumulates in int64: its int32 sum is not "
              f"proved (bound {w['acc_bound']} > 2^31 - 1); manifest: "
              f"passes.widen-accumulators", file=sys.stderr)


def _bound_note(bound: dict) -> None:
    """The compile log of --bind: which inputs became constants."""
    if bound:
        shown = ", ".join(f"{k}={b['value']} ({b['dtype']}{b['shape'] or ''})" for k, b in bound.items())
        print(f"qcc: note: input(s) bound to constants at compile time and removed from the model's "
              f"inputs: {shown} (manifest: bound_inputs; data for them must hold these values)",
              file=sys.stderr)


def cmd_compile(args) -> int:
    from . import api

    instr = instrumentation(args)
    api.compile_options(args.calib, **option_kwargs(args))  # bad flags fail before any work
    if args.measure_drift:
        from .frontend.onnx_import import import_model, parse_input_shapes
        from .npzio import iter_samples, load_npz

        from .frontend.bind import drop_bound

        g = import_model(args.model, parse_input_shapes(args.input_shape), bind=_binds(args))
        drift = drop_bound(load_npz(args.measure_drift, "--measure-drift"), g.meta.get("bound_inputs"))
        instr.drift_sample = next(iter_samples(g, drift))
    art = api.compile(args.model, calib=args.calib, target=args.target, out_dir=args.output,
                      name=args.name, input_shapes=_shapes(args), bind=_binds(args), instrumentation=instr,
                      **option_kwargs(args))
    manifest = art.manifest
    if manifest.get("stopped_after"):
        pipe = manifest["pipeline"]
        k = pipe.index(manifest["stopped_after"]) + 1
        print(f"qcc: stopped after pass '{manifest['stopped_after']}' ({k} of {len(pipe)}): the IR "
              f"at that point is {os.path.join(args.output, 'model.qcc')} (the '{args.target}' "
              f"backend did not run; 'qcc run {args.output} --engine reference' runs it)",
              file=sys.stderr)
        return 0
    _bound_note(manifest.get("bound_inputs") or {})
    _compile_notes(manifest.get("passes", {}))
    print(f"qcc: compiled {os.path.basename(args.model)} for target '{args.target}' into "
          f"{args.output} ({manifest['sizes']['nodes']} nodes)", file=sys.stderr)
    return 0


def cmd_debug(args) -> int:
    from . import driver
    from .debugger.session import Toolchain, run_debug

    args.output = args.output or "qcc_debug"
    check_target = args.target not in (None, "onnx")
    args.target = args.target or "onnx"
    tools = Toolchain(pipeline=driver.quantizing_pipeline, bind_shapes=driver._bind_from_calib,
                      compile=driver.compile_model, trace=driver.trace_artifact,
                      traced_targets=driver.traced_targets)
    return run_debug(args, compile_options(args), tools, check_target)


# ------------------------------------------------------------------------- dse
def cmd_dse(args) -> int:
    """Compile once for the accelerator (DIR/base), then lower and simulate the integer
    model on every configuration of the grid; write DIR/dse.{json,md,html}."""
    from .driver import compile_model
    from .ir.serialize import load as load_ir

    if args.target != "accel":
        raise QccError(f"qcc dse: only --target accel has a design space (got '{args.target}')")
    if args.search < 1:
        raise QccError(f"qcc dse: --search must be positive, got {args.search}")
    from qcc.backends.accel import dse
    from qcc.backends.accel.hw import hw_from_options

    opts = compile_options(args)
    base_dir = os.path.join(args.output, "base")
    opts.out_dir = base_dir
    compile_model(args.model, opts)
    graph = load_ir(os.path.join(base_dir, "model.qcc"))
    base = hw_from_options(opts.options)

    def progress(k, p):
        print(f"qcc dse: {k}: {dse._label(p)}: {p['cycles']:,} cycles, cost {p['cost']:,.0f}",
              file=sys.stderr)
    points, front = dse.explore(graph, base, args.grid, args.search, progress)
    dse.write_report(args.output, os.path.basename(args.model), points, front,
                     {"grid": args.grid, "base_hw": base.to_dict()})
    print(dse.table(points, front))
    print(f"wrote {args.output}/dse.json, dse.md, dse.html", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------- passes
def cmd_passes(args) -> int:
    from .passmanager import all_passes
    from qcc.passes.pipelines import pipeline_for

    passes = all_passes()
    from qcc.backends import available_targets, get_backend

    if args.target:
        from .passmanager import instance_labels

        get_backend(args.target)  # unknown or missing targets: the error qcc compile gives

        pipe = pipeline_for(args.target, quantize=True)
        print(f"pipeline for target '{args.target}' (with --calib; 'NAME#k' is the k-th run of a "
              f"pass, for --stop-after and --print-ir-*):")
        for i, (name, label) in enumerate(zip(pipe, instance_labels(pipe)), 1):
            print(f"  {i:2d}. {label:28s} {passes[name].description}")
        return 0
    print("registered passes:")
    for name in sorted(passes):
        print(f"  {name:28s} [{passes[name].kind}] {passes[name].description}")
    print("targets: " + ", ".join(available_targets()))
    return 0


def cmd_demo(args) -> int:
    from .demo import cmd_demo as demo

    return demo(args)


def cmd_bench(args) -> int:
    from qcc.bench.run import run_from_args

    return run_from_args(args)
