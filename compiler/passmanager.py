"""Pass registry and pass manager with LLVM/MLIR-style instrumentation.

A pass is a function ``fn(graph, ctx) -> bool|None`` (True/None: may have
changed the graph) registered with :func:`register_pass` under a unique name
and a one-line description; the manager does not import the passes (the
application layer does: ``import qcc.passes``).  Pipelines are plain lists of
names (``qcc.passes.pipelines``).  :class:`PassManager` runs a pipeline with:
print IR before/after a pass or all passes, dump every stage to a folder
(IR text + ONNX), stop after a pass, disable passes, verify after each pass,
time each pass and measure numerical drift per pass on a sample input.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, TextIO, TypeVar

import numpy as np

from .errors import PassError, QccError
from .ir import Graph
from .ir.printer import print_graph
from .ir.verifier import verify

PassFn = Callable[[Graph, "PassContext"], Optional[bool]]
T = TypeVar("T")


@dataclass
class PassInfo:
    name: str
    description: str
    fn: PassFn
    kind: str = "float"  # float | quantize | integer | lowering
    options: Optional[type] = None  # the pass's typed options (a dataclass), if it has any


_PASSES: dict[str, PassInfo] = {}

# Proofs the output relies on: --disable-pass cannot switch them off.
REQUIRED_PASSES = frozenset({"check-headroom", "check-integer-only"})


def register_pass(name: str, description: str, kind: str = "float",
                  options: Optional[type] = None):
    """Decorator: register ``fn`` as pass ``name``.  ``options`` is the pass's options
    dataclass (read with ``ctx.options_of(cls)``; see :func:`check_options`)."""
    if options is not None and not dataclasses.is_dataclass(options):
        raise TypeError(f"pass '{name}': options must be a dataclass, got {options!r}")

    def deco(fn: PassFn) -> PassFn:
        if name in _PASSES:
            raise ValueError(f"pass '{name}' registered twice")
        _PASSES[name] = PassInfo(name, description, fn, kind, options)
        fn.pass_name = name
        return fn
    return deco


def all_passes() -> dict[str, PassInfo]:
    """The registered passes.  The pass manager knows none by itself: importing
    ``qcc.passes`` registers qcc's passes (the driver and the CLI do; so does any
    import of a ``qcc.passes`` module), and other code may register its own."""
    return dict(_PASSES)


def typed_options(cls: type[T], options: dict[str, Any]) -> T:
    """``cls`` (a pass's options dataclass) from a flat option dict: each field takes
    the entry of its name when given and not None, else its default; the class's
    ``__post_init__`` validates."""
    given = {f.name: options[f.name] for f in dataclasses.fields(cls)
             if f.init and options.get(f.name) is not None}
    return cls(**given)


def check_options(options: dict[str, Any]) -> None:
    """Validate ``options`` against every registered pass's options class (the CLI
    calls this before any work, so a bad value is reported up front)."""
    for info in _PASSES.values():
        if info.options is not None:
            typed_options(info.options, options)


def get_pass(name: str) -> PassInfo:
    passes = all_passes()
    if name not in passes:
        if not passes:
            raise PassError(f"unknown pass '{name}': no pass is registered (import qcc.passes "
                            f"to register qcc's passes)")
        raise PassError(f"unknown pass '{name}'; known passes: {', '.join(sorted(passes))}")
    return passes[name]


_ANALYSES: dict[str, str] = {}


def register_analysis(name: str, description: str) -> str:
    """Declare a named result that one pass hands to later ones (``ctx.provide`` /
    ``ctx.analysis``); the module of the pass that computes it declares it."""
    if _ANALYSES.get(name, description) != description:
        raise ValueError(f"analysis '{name}' declared twice")
    _ANALYSES[name] = description
    return name


def all_analyses() -> dict[str, str]:
    return dict(_ANALYSES)


@dataclass
class PassContext:
    """Options and shared state for one compilation.

    ``options`` are what the user asked for (the CLI flags or the API call) and
    are read, never written, by the passes; ``calib`` the calibration samples,
    loaded once; ``analyses`` hold the named results that one pass hands to later
    ones (``provide``/``analysis``); ``report`` collects per-pass statistics for
    the manifest."""

    options: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)  # per-pass statistics for the manifest
    log: TextIO = sys.stderr
    analyses: dict[str, Any] = field(default_factory=dict)
    calib: Any = None  # qcc.calibration.data.CalibData: see calib_data()

    def opt(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def options_of(self, cls: type[T]) -> T:
        """This compilation's options as a pass's typed options ``cls``
        (:func:`typed_options`)."""
        return typed_options(cls, self.options)

    def calib_data(self):
        """The calibration samples (a ``CalibData``) or None: the one the driver
        loaded, else ``options["calib"]`` (a path or arrays) loaded on first use."""
        if self.calib is None and self.options.get("calib") is not None:
            from .calibration.data import CalibData

            self.calib = CalibData.of(self.options["calib"])
        return self.calib

    def provide(self, name: str, value: Any) -> None:
        """Publish analysis ``name`` (declared with :func:`register_analysis`)."""
        if name not in _ANALYSES:
            raise PassError(f"unknown analysis '{name}'; declared: {', '.join(sorted(_ANALYSES))}")
        self.analyses[name] = value

    def analysis(self, name: str, default: Any = None) -> Any:
        """Analysis ``name`` as provided by an earlier pass, else ``default``."""
        if name not in _ANALYSES:
            raise PassError(f"unknown analysis '{name}'; declared: {', '.join(sorted(_ANALYSES))}")
        return self.analyses.get(name, default)

    def note(self, pass_name: str, **stats: Any) -> None:
        self.report.setdefault(pass_name, {}).update(stats)


@dataclass
class Instrumentation:
    print_before: set[str] = field(default_factory=set)
    print_after: set[str] = field(default_factory=set)
    print_after_all: bool = False
    print_before_all: bool = False
    dump_dir: Optional[str] = None
    stop_after: Optional[str] = None
    disabled: set[str] = field(default_factory=set)
    verify_each: bool = False
    time_passes: bool = False
    drift_sample: Optional[dict[str, np.ndarray]] = None  # measure drift when set
    out: TextIO = sys.stderr


@dataclass
class PassRecord:
    name: str
    seconds: float
    changed: bool
    nodes_after: int
    drift: Optional[dict[str, float]] = None


def instance_labels(pipeline: list[str]) -> list[str]:
    """Distinct names for the passes of a pipeline: the k-th run (k >= 2) of a pass that
    appears several times is ``NAME#k`` (``dce``, ``dce#2``); the instrumentation flags
    take either form (the bare name: every run, but ``--stop-after``: the first)."""
    seen: dict[str, int] = {}
    out = []
    for name in pipeline:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


class PassManager:
    def __init__(self, pipeline: list[str], instr: Optional[Instrumentation] = None):
        self.instr = instr or Instrumentation()
        for name in pipeline:
            get_pass(name)
        self.labels = instance_labels(pipeline)
        for name in (self.instr.print_before | self.instr.print_after | self.instr.disabled |
                     ({self.instr.stop_after} if self.instr.stop_after else set())):
            get_pass(name.split("#", 1)[0])  # an unknown name is reported as such, with the known ones
            if name in self.instr.disabled and name.split("#", 1)[0] in REQUIRED_PASSES:
                raise PassError(f"pass '{name}' proves the output correct and cannot be "
                                f"disabled (--disable-pass {name})")
            if name not in pipeline and name not in self.labels:
                raise PassError(f"pass '{name}' is not in the pipeline [{', '.join(self.labels)}]")
        self.pipeline = pipeline
        self.records: list[PassRecord] = []
        self.stopped_at: Optional[str] = None  # the pass --stop-after stopped after

    def _dump(self, graph: Graph, index: int, name: str) -> None:
        from .frontend.onnx_export import save_onnx
        from .ir.serialize import save

        d = self.instr.dump_dir
        stem = os.path.join(d, f"{index:02d}_{name}")
        try:
            os.makedirs(d, exist_ok=True)
            with open(stem + ".qcc", "w") as f:
                f.write(print_graph(graph))
        except OSError as e:
            where = e.filename if isinstance(e.filename, str) else d
            raise PassError(f"cannot write --dump-dir '{d}' ('{where}'): "
                            f"{e.strerror or type(e).__name__}") from None
        try:
            save_onnx(graph, stem + ".onnx", doc=f"qcc stage {index}: after {name}")
        except Exception as e:  # noqa: BLE001 - a stage that ONNX cannot hold is still dumped as text
            with open(stem + ".onnx.txt", "w") as f:
                f.write(f"could not write ONNX for this stage: {e}\n")

    def _print(self, graph: Graph, when: str, name: str) -> None:
        self.instr.out.write(f"// ----- IR {when} {name} -----\n{print_graph(graph)}")

    def _drift(self, graph: Graph, ref: dict[str, np.ndarray]) -> dict[str, float]:
        from .interp import run

        out = run(graph, self.instr.drift_sample)
        worst = {"max_abs": 0.0, "sqnr_db": float("inf")}
        for k, r in ref.items():
            if k not in out:
                continue
            a, b = np.asarray(out[k], np.float64), np.asarray(r, np.float64)
            if a.shape != b.shape:
                continue
            err = a - b
            worst["max_abs"] = max(worst["max_abs"], float(np.max(np.abs(err))) if err.size else 0.0)
            p_sig, p_err = float(np.sum(b * b)), float(np.sum(err * err))
            sq = float("inf") if p_err == 0 else 10 * np.log10(max(p_sig, 1e-30) / p_err)
            worst["sqnr_db"] = min(worst["sqnr_db"], sq)
        return worst

    def run(self, graph: Graph, ctx: PassContext, start_index: int = 1) -> Graph:
        ins = self.instr
        ref = None
        if ins.drift_sample is not None:
            from .interp import run

            ref = run(graph, ins.drift_sample)
        if ins.dump_dir:
            self._dump(graph, 0, "input")
        for i, (name, label) in enumerate(zip(self.pipeline, self.labels), start=start_index):
            if name in ins.disabled or label in ins.disabled:
                continue
            p = get_pass(name)
            if ins.print_before_all or name in ins.print_before or label in ins.print_before:
                self._print(graph, "before", label)
            t0 = time.perf_counter()
            try:
                changed = p.fn(graph, ctx)
            except QccError:
                raise
            except Exception as e:  # noqa: BLE001
                raise PassError(f"pass '{name}' failed: {type(e).__name__}: {e}") from e
            dt = time.perf_counter() - t0
            changed = True if changed is None else bool(changed)
            if ins.verify_each:
                try:
                    verify(graph)
                except QccError as e:
                    raise PassError(f"IR broken after pass '{name}': {e}") from None
            rec = PassRecord(label, dt, changed, len(graph.nodes))
            if ref is not None:
                rec.drift = self._drift(graph, ref)
            self.records.append(rec)
            if ins.print_after_all or name in ins.print_after or label in ins.print_after:
                self._print(graph, "after", label)
            if ins.dump_dir:
                self._dump(graph, i, label.replace("#", "_"))
            if ins.stop_after == label:
                self.stopped_at = label
                break
        if ins.time_passes or ref is not None:
            self.report(ins.out)
        return graph

    def report(self, out: TextIO) -> None:
        total = sum(r.seconds for r in self.records) or 1e-12
        out.write("===-------------------------------------------------------------------===\n")
        out.write("                        qcc pass execution timing report\n")
        out.write("===-------------------------------------------------------------------===\n")
        head = f"  {'wall (s)':>10} {'%':>6} {'nodes':>6}  pass"
        if any(r.drift for r in self.records):
            head += f"{'':24} {'max|err|':>10} {'SQNR dB':>8}"
        out.write(head + "\n")
        for r in self.records:
            line = f"  {r.seconds:10.4f} {100 * r.seconds / total:6.1f} {r.nodes_after:6d}  {r.name:24}"
            if r.drift:
                line += f" {r.drift['max_abs']:10.3g} {r.drift['sqnr_db']:8.2f}"
            out.write(line.rstrip() + "\n")
        out.write(f"  {total:10.4f} {100.0:6.1f}         total\n")
