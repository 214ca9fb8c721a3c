"""The compilation driver: import -> passes -> backend, written atomically.

``compile_model`` is what ``qcc compile`` runs.  Output goes to a temporary
sibling folder that replaces the requested folder only when everything
succeeded, so a failed compile leaves no partial output behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from . import __version__, outdir
from .analysis import macs, op_histogram, param_count, weight_bytes
from .calibration.data import CalibData
from .npzio import SINGLE
from .errors import QccError
from .frontend.onnx_import import import_model
from .ir import Graph, Value
from .ir.serialize import save as save_ir
from .passmanager import Instrumentation, PassContext, PassManager

TIMINGS_FILE = "timings.json"  # wall-clock seconds per stage, apart from the reproducible files


@dataclass
class CompileOptions:
    target: str = "onnx"
    out_dir: str = "qcc_out"
    name: str = "model"
    input_shapes: dict = field(default_factory=dict)
    bind: dict = field(default_factory=dict)  # --bind: input name -> value (frontend/bind.py)
    instr: Instrumentation = field(default_factory=Instrumentation)
    options: dict[str, Any] = field(default_factory=dict)  # pass options (calib, bits, ...)


def value_entry(v: Value) -> dict:
    e: dict[str, Any] = {"name": v.name, "shape": list(v.shape), "dtype": v.dtype.name}
    if v.qparams is not None:
        q = v.qparams
        e["quant"] = {"scale": q.scale.tolist() if q.scale.size > 1 else float(q.scale[0]),
                      "zero_point": q.zero_point.tolist() if q.zero_point.size > 1 else int(q.zero_point[0]),
                      "bits": q.bits, "axis": q.axis}
    return e


def quant_table(graph: Graph) -> dict:
    out = {}
    for v in graph.values():
        q = v.qparams
        if q is None:
            continue
        out[v.name] = {"dtype": v.dtype.name, "bits": q.bits, "axis": q.axis,
                       "group_size": q.group_size,
                       "scale": q.scale.tolist() if q.scale.size > 1 else float(q.scale[0]),
                       "zero_point": q.zero_point.tolist() if q.zero_point.size > 1 else int(q.zero_point[0])}
    return out


def build_manifest(graph: Graph, opts: CompileOptions, pipeline: list[str], ctx: PassContext,
                   source: str, extra: dict) -> dict:
    m = {
        "qcc_version": __version__,
        "target": opts.target,
        "name": opts.name,
        "source": os.path.basename(source),
        "opset": graph.opset,
        "inputs": [value_entry(v) for v in graph.inputs],
        "outputs": [value_entry(v) for v in graph.outputs],
        "pipeline": pipeline,
        "sizes": {"nodes": len(graph.nodes), "params": param_count(graph),
                  "weight_bytes": weight_bytes(graph), "macs": macs(graph)},
        "ops": op_histogram(graph),
        "passes": split_volatile({k: v for k, v in ctx.report.items() if k != "_timings"})[0],
    }
    if graph.meta.get("bound_inputs"):  # --bind: inputs fixed to constants at import
        m["bound_inputs"] = graph.meta["bound_inputs"]
    if graph.meta.get("source_opset", graph.opset) != graph.opset:
        m["source_opset"] = graph.meta["source_opset"]
    present = {n.name for n in graph.nodes}
    unfolded = {k: v for k, v in graph.meta.get("unfolded", {}).items() if k in present}
    if unfolded:  # constant subgraphs folding could not evaluate; they run at inference
        m["unfolded"] = unfolded
    qt = quant_table(graph)
    if qt:
        m["quantization"] = qt
    m.update(extra)
    return m


def compile_model(model_path: str, opts: CompileOptions) -> dict:
    from qcc.backends import get_backend
    from qcc.passes.pipelines import pipeline_for

    backend = get_backend(opts.target)
    outdir.check_name(opts.name)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    calib = CalibData.of(opts.options.get("calib") or None,  # read once, shared by the passes
                         max_rows=_calib_rows(model_path, opts.options))
    shapes = _bind_from_calib(model_path, opts.input_shapes, calib)
    graph = import_model(model_path, shapes, bind=opts.bind)
    check_name_patterns(graph, opts.options)
    timings["import"] = time.perf_counter() - t0
    if calib is not None and graph.meta.get("bound_inputs"):
        from .frontend.bind import drop_bound

        calib = CalibData(drop_bound(calib.arrays, graph.meta["bound_inputs"], "--calib"), calib.source)
    if calib is not None:
        calib.validate(graph)  # names, shapes, dtypes, NaN/Inf: before any pass runs
    from qcc.passes.import_dynamic import is_dynamic
    from qcc.passes.import_qdq import has_qdq

    # a pre-quantized model compiles with its own scales; a dynamic one has none (its
    # DequantizeLinear of quantized tables aside): float unless --calib is given
    quantize = bool(opts.options.get("quantize")) or (has_qdq(graph) and not is_dynamic(graph))
    pipeline = pipeline_for(opts.target, quantize=quantize)
    ctx = PassContext(options=dict(opts.options, target=opts.target, model_path=model_path,
                                      model_name=opts.name), calib=calib)
    pm = PassManager(pipeline, opts.instr)  # checks pass names before anything is written
    tmp, made = outdir.prepare(opts.out_dir)
    ok = False
    try:
        with outdir.signals_as_interrupt():
            t0 = time.perf_counter()
            pm.run(graph, ctx)
            timings["passes"] = time.perf_counter() - t0
            timings["per_pass"] = {r.name: r.seconds for r in pm.records}
            for k, v in ctx.report.get("_timings", {}).items():
                timings[k] = v
            volatile = split_volatile(ctx.report)[1]
            if volatile:
                timings["pass_reports"] = volatile
            manifest = _write_outputs(graph, opts, pm, ctx, timings, model_path, backend, tmp)
            outdir.commit(tmp, opts.out_dir)
            ok = True
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        if not ok:
            outdir.remove_parents(made)  # parent folders this failed compile created
    return manifest


VOLATILE_KEYS = {"seconds", "cache", "cache_file"}  # differ between two runs of one compile


def split_volatile(report):
    """(report without wall-clock / cache-state keys, those keys by path)."""
    if not isinstance(report, dict):
        return report, {}
    clean, vol = {}, {}
    for k, v in report.items():
        if k in VOLATILE_KEYS:
            vol[k] = v
            continue
        c, sub = split_volatile(v)
        clean[k] = c
        if sub:
            vol[k] = sub
    return clean, vol


def _write_outputs(graph: Graph, opts: CompileOptions, pm: PassManager, ctx: PassContext,
                   timings: dict, model_path: str, backend, tmp: str) -> dict:
    """Backend files, model.qcc, manifest.json and timings.json into ``tmp``.  The
    manifest holds no wall-clock time, so that every file is reproducible."""
    try:
        t0 = time.perf_counter()
        # --stop-after: the IR at that point is the output; the backend does not run
        from .progress import step

        with step(f"generating {opts.target} code"):
            extra = {} if pm.stopped_at else (backend.emit(graph, tmp, ctx) or {})
        save_ir(graph, os.path.join(tmp, "model.qcc"))
        timings["codegen"] = time.perf_counter() - t0
        manifest = build_manifest(graph, opts, pm.labels, ctx, model_path, extra)
        if pm.stopped_at:
            manifest["stopped_after"] = pm.stopped_at
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1, default=_json_default)
        with open(os.path.join(tmp, TIMINGS_FILE), "w") as f:
            json.dump(timings, f, indent=1, default=_json_default)
    except OSError as e:
        raise outdir.os_error(e, outdir.resolve(opts.out_dir), tmp=tmp) from None
    return manifest


def load_timings(path: str) -> dict:
    """The wall-clock timings of a compiled folder ({} when absent)."""
    try:
        with open(os.path.join(path, TIMINGS_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _calib_rows(model_path, options: dict) -> Optional[int]:
    """Rows of each --calib array that --max-calib-samples needs (None: all).  Mixed
    precision measures sensitivities on its own sample count, so it reads all."""
    n = options.get("max_calib_samples")
    if not n or n < 1 or str(options.get("weight_bits")) == "mixed" \
            or not isinstance(model_path, str) or not os.path.isfile(model_path):
        return None
    import onnx

    try:
        g = onnx.load(model_path, load_external_data=False).graph
    except Exception:  # noqa: BLE001 - the importer reports bad files
        return None
    batch = [d.dim_value for vi in g.input for d in vi.type.tensor_type.shape.dim[:1]
             if d.HasField("dim_value") and d.dim_value > 0]
    return int(n) * max(batch or [1])


def check_name_patterns(graph: Graph, options: dict) -> None:
    """--allow-float entries name an op type or node, --keep-8bit globs match a node or
    weight: an entry that matches nothing is a typo, not a silent no-op."""
    import fnmatch

    from .errors import QccError
    from .ops import is_registered

    names = {n.name for n in graph.nodes}
    ops = {n.op for n in graph.nodes} | {n.op.split(".", 1)[-1] for n in graph.nodes}
    for entry in options.get("allow_float") or []:
        if entry not in names and entry not in ops and not is_registered(entry) \
                and not is_registered(f"onnx.{entry}"):
            raise QccError(f"--allow-float '{entry}' is neither an op type nor a node name of "
                           f"the model")
    weights = set(graph.constants)
    for pat in options.get("keep_8bit") or []:
        if pat == "none":
            continue
        if not any(fnmatch.fnmatchcase(x, pat) for x in names | weights):
            raise QccError(f"--keep-8bit '{pat}' matches no node or weight name of the model")


def _bind_from_calib(model_path: str, shapes: dict, calib: Optional[CalibData]) -> dict:
    """Dynamic input dimensions left unbound take one --calib sample's shape
    (``[1, *arr.shape[1:]]``, the npz convention); explicit --input-shape wins."""
    if calib is None or calib.source == "<arrays>" or not isinstance(model_path, str) \
            or not os.path.isfile(model_path):  # a FIFO or device: the importer refuses it
        return shapes
    import onnx

    from .npzio import SINGLE, array_shapes

    try:
        model = onnx.load(model_path, load_external_data=False)
    except Exception:  # noqa: BLE001 - the importer reports bad files
        return shapes
    arrays = calib.shapes()
    inits = {t.name for t in model.graph.initializer}
    real = [vi.name for vi in model.graph.input if vi.name not in inits]
    if SINGLE in arrays and len(real) == 1:  # an .npy: the one input's array
        arrays = {real[0]: arrays[SINGLE]}
    out = dict(shapes)
    for vi in model.graph.input:
        dims = vi.type.tensor_type.shape.dim
        dynamic = any(not d.HasField("dim_value") or d.dim_value < 0 for d in list(dims)[1:])
        shp = arrays.get(vi.name)
        if vi.name not in out and dynamic and shp is not None and len(shp) == len(dims):
            out[vi.name] = (1,) + tuple(int(x) for x in shp[1:])
    return out


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, set):
        return sorted(o)
    return str(o)


def load_artifact(path: str) -> tuple[dict, str]:
    mpath = os.path.join(path, "manifest.json")
    if not os.path.isfile(mpath):
        raise QccError(f"'{path}' is not a qcc output folder (no manifest.json); "
                       f"compile it with 'qcc compile MODEL -o {path}'")
    with open(mpath) as f:
        return json.load(f), path


# -- the public API's way up (qcc.api reaches the passes and backends only through these) --
def available_targets() -> list[str]:
    """The targets this build of qcc can compile for."""
    from qcc.backends import available_targets as targets

    return targets()


def check_target(target: str) -> None:
    """Raise the error that names the known targets when ``target`` is not one."""
    from qcc.backends import get_backend

    get_backend(target)


def check_pass_options(options: dict) -> None:
    """Every registered pass's typed options accept ``options`` (the passes register on
    import)."""
    import qcc.passes  # noqa: F401  (registers the passes and their typed options)

    from .passmanager import check_options

    check_options(options)


def check_target_options(target: str, options: dict) -> None:
    """The target's own options hold (target accel: its hardware description)."""
    if target == "accel":
        from qcc.backends.accel.hw import hw_from_options

        hw_from_options(options)


def run_artifact(path: str, manifest: dict, feeds: list, engine: str,
                 device: Optional[str] = None) -> list:
    """Outputs of the generated code in ``path`` per sample: ``engine`` ``target`` (the
    backend's runner; ``device`` for target triton) or ``cortex-m4`` / ``cortex-m55`` (C under
    qemu-system-arm)."""
    target = manifest["target"]
    if engine in ("cortex-m4", "cortex-m55"):
        if target != "c":
            raise QccError(f"engine '{engine}' runs target c code; '{path}' is target "
                           f"'{target}'")
        from qcc.backends.c import arm

        return arm.run_qemu(path, feeds, core=engine)
    from qcc.backends import get_backend

    backend = get_backend(target)
    if device is not None:  # target triton: cuda | cpu
        if target != "triton":
            raise QccError(f"--device applies to target triton, not '{target}'")
        return backend.run(path, feeds, manifest, device=device)
    return backend.run(path, feeds, manifest)


def traced_targets() -> list[str]:
    """The available targets whose generated code can be run step by step (``trace``)."""
    from qcc.backends import available_targets, get_backend

    return [t for t in available_targets() if hasattr(get_backend(t), "trace")]


def trace_artifact(path: str, manifest: dict, samples: list, fault_step: Optional[int] = None) -> list:
    """Every step's output bytes per sample of the generated code in ``path`` (one list of
    (step, bytes) per sample; ``fault_step``: the test-only fault injection of ``qcc debug``)."""
    from qcc.backends import get_backend

    return get_backend(manifest["target"]).trace(path, samples, manifest, fault_step)


def quantizing_pipeline(target: str) -> list[str]:
    """The pass names of ``target``'s quantizing pipeline (``qcc debug`` runs it in parts)."""
    from qcc.passes.pipelines import pipeline_for

    return pipeline_for(target, quantize=True)


def quantize_graph(graph: Graph, ctx: PassContext) -> Graph:
    """Run the quantizing pipeline (of target c, without its code generation) on ``graph``."""
    from qcc.passes.pipelines import pipeline_for

    PassManager(pipeline_for("c", quantize=True)).run(graph, ctx)
    return graph
