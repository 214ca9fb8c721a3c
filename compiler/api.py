"""The Python API (docs/python_api.md): the same compiler as the ``qcc`` command.

    import qcc
    art = qcc.compile("model.onnx", calib="calib.npz", target="c", out_dir="out")
    outs = art.run({"input": x})            # or art.run("test.npz"), art.run(x)
    graph = qcc.quantize("model.onnx", "calib.npz")
    art = qcc.load("out")

This module is the public facade over the driver (``qcc.driver``): it reaches the
passes and the backends only through the driver's functions, never by importing
``qcc.passes`` or ``qcc.backends`` itself (tests/compiler/test_layers.py).  Errors are
:class:`qcc.QccError` subclasses with the same messages as the command line.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Mapping, Optional, Union

import numpy as np

from .errors import InputDataError, QccError

ENGINES = ("target", "reference", "cortex-m4", "cortex-m55")

# compile options: name -> default.  cli.py builds its flags' defaults and choices from
# these tables, so the command line and the API accept the same things.
OPTION_DEFAULTS: dict[str, Any] = {
    "calib_method": None, "percentile": 99.99, "max_calib_samples": None, "allow_float": (),
    "weight_bits": "8", "group_size": None, "size_budget": None, "bops_budget": None,
    "latency_budget": None, "latency_table": None, "keep_8bit": (), "mixed_bits": "auto",
    "sensitivity": "auto", "softmax": "ibert", "gelu": "auto", "residual_bits": 16, "equalize": False,
    "smoothquant": None, "reorder_channels": None, "outlier_8bit": None, "quiet": None,
    "accel_config": None, "accel_hw": (), "wide_concat": 8.0,
}
OPTION_CHOICES: dict[str, tuple] = {
    "calib_method": (None, "minmax", "percentile", "entropy", "mse"),
    "sensitivity": ("auto", "kl", "mse", "hessian"),
    "softmax": ("ibert", "shift"),
    "gelu": ("auto", "lut", "ibert"),
    "residual_bits": (8, 16),
    "reorder_channels": (None, "sort", "cluster"),
}

PathLike = Union[str, "os.PathLike[str]"]
Arrays = Union[PathLike, Mapping[str, np.ndarray], np.ndarray]


def targets() -> list[str]:
    """The targets this build of qcc can compile for (the one list every command shows)."""
    from .driver import available_targets

    return available_targets()


def compile_options(calib=None, **options) -> dict:
    """Check ``options`` (keyword names as in :data:`OPTION_DEFAULTS`) and return the
    pass options of one compilation; unknown names and bad values raise QccError."""
    unknown = sorted(set(options) - set(OPTION_DEFAULTS))
    if unknown:
        raise QccError(f"unknown compile option(s) {', '.join(unknown)}; valid options: "
                       f"{', '.join(sorted(OPTION_DEFAULTS))}")
    out = dict(OPTION_DEFAULTS)
    out.update(options)
    for k, allowed in OPTION_CHOICES.items():
        if out[k] not in allowed:
            shown = ", ".join(str(a) for a in allowed if a is not None)
            raise QccError(f"option {k}={out[k]!r} is not one of {shown}")
    if isinstance(out["allow_float"], str):
        out["allow_float"] = [s for s in out["allow_float"].split(",") if s]
    if isinstance(out["keep_8bit"], str):
        out["keep_8bit"] = [out["keep_8bit"]]
    out["allow_float"], out["keep_8bit"] = list(out["allow_float"]), list(out["keep_8bit"])
    out["accel_hw"] = list(out["accel_hw"])
    out["weight_bits"] = str(out["weight_bits"])
    if out["quiet"] is None:
        out["quiet"] = not sys.stderr.isatty()
    if calib is not None and not isinstance(calib, (str, os.PathLike, Mapping)):
        raise QccError("calib must be a path to an .npz file or a dict of arrays "
                       "(one per model input, samples stacked along axis 0)")
    out["calib"] = os.fspath(calib) if isinstance(calib, os.PathLike) else calib
    if isinstance(calib, Mapping):
        out["calib"] = {k: np.asarray(v) for k, v in calib.items()}
    out["quantize"] = calib is not None
    from .quant_scheme import check_lowbit_options

    check_lowbit_options(out)  # bad --group-size/--smoothquant/... fail before calibration
    from .driver import check_pass_options

    check_pass_options(out)  # every pass's options dataclass accepts its values
    return out


def check_target_options(target: str, options: dict) -> None:
    """Target-specific checks before any work (target accel: its hardware description)."""
    from .driver import check_target_options as check

    check(target, options)


class Artifact:
    """A compiled model: an output folder of ``qcc compile`` and its manifest."""

    def __init__(self, path: PathLike, manifest: dict):
        self.path = os.fspath(path)
        self.manifest = manifest

    target = property(lambda self: self.manifest["target"])
    name = property(lambda self: self.manifest.get("name", "model"))
    inputs = property(lambda self: self.manifest["inputs"])
    outputs = property(lambda self: self.manifest["outputs"])

    @property
    def files(self) -> list[str]:
        return sorted(f for f in os.listdir(self.path) if not f.startswith("."))

    @property
    def graph(self):
        """The compiled IR (``model.qcc``)."""
        from .ir.serialize import load as load_ir

        return load_ir(os.path.join(self.path, "model.qcc"))

    def run(self, inputs: Arrays, engine: str = "target",
            device: Optional[str] = None) -> dict[str, np.ndarray]:
        """Run the compiled model on ``inputs`` (a dict of arrays, an .npz path, or one
        array for a single-input model; samples stacked along axis 0) with ``engine``:
        ``target`` (the generated code), ``reference`` (qcc's interpreter) or
        ``cortex-m4`` / ``cortex-m55`` (target c under qemu-system-arm); ``device`` (target triton):
        ``cuda`` or ``cpu``.  Returns outputs stacked alike."""
        from .interp import Interpreter, check_feeds
        from .npzio import iter_samples, stack_samples

        if engine not in ENGINES:
            raise QccError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
        if self.manifest.get("stopped_after") and engine != "reference":
            raise QccError(f"'{self.path}' was compiled with --stop-after "
                           f"{self.manifest['stopped_after']}: it holds IR, no target code; run "
                           f"it with engine 'reference'")
        graph = self.graph
        from .frontend.bind import drop_bound

        data = drop_bound(as_arrays(inputs, graph, "inputs"), self.manifest.get("bound_inputs"))
        samples = list(iter_samples(graph, data, "--inputs"))
        if engine == "reference":
            it = Interpreter(graph)
            return stack_samples([it.run(s) for s in samples])
        feeds = [check_feeds(graph, s) for s in samples]
        from .driver import run_artifact

        return stack_samples(run_artifact(self.path, self.manifest, feeds, engine, device))

    def __repr__(self) -> str:
        return f"Artifact({self.path!r}, target={self.target!r}, name={self.name!r})"


def as_arrays(data: Arrays, graph=None, what: str = "inputs") -> dict[str, np.ndarray]:
    """A dict of arrays from a dict, an .npz path or one array (single-input models)."""
    from .npzio import load_npz

    if isinstance(data, (str, os.PathLike)):
        return load_npz(os.fspath(data), what)
    if isinstance(data, np.ndarray):
        if graph is None or len(graph.inputs) != 1:
            names = [v.name for v in graph.inputs] if graph is not None else []
            raise InputDataError(f"{what}: one array given but the model has {len(names)} inputs "
                                 f"{names}; pass a dict name -> array")
        return {graph.inputs[0].name: data}
    if isinstance(data, Mapping):
        return {str(k): np.asarray(v) for k, v in data.items()}
    raise InputDataError(f"{what}: expected a dict of arrays, an .npz path or an array, "
                         f"got {type(data).__name__}")


def _model_path(model, workdir: str) -> str:
    if isinstance(model, (str, os.PathLike)):
        return os.fspath(model)
    import onnx

    if isinstance(model, onnx.ModelProto):
        path = os.path.join(workdir, "model.onnx")
        onnx.save(model, path)
        return path
    raise QccError(f"model must be an ONNX file path or an onnx.ModelProto, got {type(model).__name__}")


def compile(model, calib=None, target: str = "onnx", out_dir: Optional[PathLike] = None, *,
            name: str = "model", input_shapes: Optional[Mapping[str, tuple]] = None,
            bind: Optional[Mapping[str, Any]] = None, instrumentation=None, extra_options: Optional[Mapping[str, Any]] = None,
            **options) -> Artifact:
    """Compile ``model`` (an ONNX path or ModelProto) for ``target`` into ``out_dir``;
    with ``calib`` (an .npz path or a dict of arrays) the model is quantized.  Options
    are the ``qcc compile`` flags with ``_`` for ``-`` (``weight_bits="4"``, ...).
    ``bind`` fixes graph inputs to constants (``--bind``: ``{"sr": 16000}``).
    ``extra_options``: internal pass options passed through unchecked (benchmarks)."""
    import tempfile

    from .driver import CompileOptions, check_target, compile_model
    from .passmanager import Instrumentation

    if out_dir is None:
        raise QccError("out_dir is required: the folder that receives the generated files")
    if target not in targets():
        check_target(target)  # raises the error that names the known targets
    # stack_bound: target c measures NAME_STACK_BOUND for its header (arm-none-eabi-gcc)
    opts = dict(compile_options(calib, **options), stack_bound=True, **(extra_options or {}))
    shapes = {k: tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
    copts = CompileOptions(target=target, out_dir=os.fspath(out_dir), name=name,
                           input_shapes=shapes, bind=dict(bind or {}),
                           instr=instrumentation or Instrumentation(), options=opts)
    with tempfile.TemporaryDirectory(prefix="qcc_model_") as work:
        manifest = compile_model(_model_path(model, work), copts)
    return Artifact(copts.out_dir, manifest)


def quantize(model, calib, *, input_shapes: Optional[Mapping[str, tuple]] = None,
             bind: Optional[Mapping[str, Any]] = None, **options):
    """Import ``model`` and run the quantizing pipeline (no code generation); return the
    integer IR :class:`qcc.ir.Graph`, which ``qcc.interp.Interpreter`` runs."""
    import tempfile

    from .calibration.data import CalibData
    from .driver import quantize_graph
    from .frontend.bind import drop_bound
    from .frontend.onnx_import import import_model
    from .passmanager import PassContext

    if calib is None:
        raise QccError("quantize needs calibration data: calib=CALIB.npz or a dict of arrays")
    opts = compile_options(calib, **options)
    shapes = {k: tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
    with tempfile.TemporaryDirectory(prefix="qcc_model_") as work:
        path = _model_path(model, work)
        graph = import_model(path, shapes, bind=dict(bind or {}))
        data = CalibData.of(opts["calib"])
        if graph.meta.get("bound_inputs"):
            data = CalibData(drop_bound(data.arrays, graph.meta["bound_inputs"], "calib"), data.source)
        ctx = PassContext(options=dict(opts, target="c", model_path=path, model_name="model"),
                          calib=data)
        quantize_graph(graph, ctx)
    return graph


def load(path: PathLike) -> Artifact:
    """Open an output folder written by ``qcc compile`` / :func:`compile`."""
    path = os.fspath(path)
    mpath = os.path.join(path, "manifest.json")
    if not os.path.isfile(mpath):
        raise QccError(f"'{path}' is not a qcc output folder (no manifest.json); "
                       f"compile it with 'qcc compile MODEL -o {path}'")
    with open(mpath) as f:
        return Artifact(path, json.load(f))
