"""The ``qcc`` command line (an interface other tools script: keep it stable).

    qcc inspect MODEL.onnx
    qcc run MODEL.onnx|DIR --inputs IN.npz -o OUT.npz [--engine target|reference|cortex-m4|cortex-m55]
    qcc compile MODEL.onnx --target onnx|c|... -o DIR [options]
    qcc passes [--target T]
    qcc bench [...]

Errors print one line ``qcc: error: ...`` and exit with code 2; ``--debug``
shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Optional

from . import __version__
from .errors import QccError


def _choices(option: str) -> list:
    from .api import OPTION_CHOICES  # one table for the command line and the Python API

    return [c for c in OPTION_CHOICES[option] if c is not None]


def _targets() -> list[str]:
    from qcc.backends import TARGETS  # the one list of targets (qcc passes, --help, errors)

    return list(TARGETS)


def _add_shape_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=DxD...",
                   help="bind a graph input's dynamic dimensions, e.g. input=1x3x224x224 "
                        "(repeatable; batch defaults to 1)")
    p.add_argument("--bind", action="append", default=[], metavar="NAME=VALUE",
                   help="fix a graph input to a constant at compile time, e.g. sr=16000 or "
                        "mask=[1,0,1] (repeatable; dtype from the model; the input is removed and "
                        "folding and If-inlining run through it)")


def _add_compile_args(p: argparse.ArgumentParser, output_required: bool = True) -> None:
    p.add_argument("model", help="ONNX model file")
    p.add_argument("--target", default="onnx", metavar="TARGET",
                   help=f"{' | '.join(_targets())} (default: onnx; 'qcc passes' lists the ones "
                        f"this build has)")
    p.add_argument("-o", "--output", required=output_required, metavar="DIR", help="output folder")
    p.add_argument("--name", default="model", help="name of the generated model (C symbol prefix)")
    _add_shape_args(p)
    q = p.add_argument_group("quantization")
    q.add_argument("--calib", metavar="CALIB.npz", help="calibration inputs; enables int8 quantization")
    q.add_argument("--calib-method", default=None, choices=_choices("calib_method"),
                   help="activation range estimator (default: see docs/calibration.md)")
    q.add_argument("--percentile", type=float, default=99.99, help="percentile for --calib-method percentile")
    q.add_argument("--max-calib-samples", type=int, default=None, metavar="N",
                   help="use at most N calibration samples")
    q.add_argument("--allow-float", default="", metavar="OPS",
                   help="comma-separated op types or node names kept in float on purpose")
    q.add_argument("--weight-bits", default="8", help="8 | 4 | 2 | mixed (default 8)")
    q.add_argument("--group-size", type=int, default=None, help="per-group weight quantization along K")
    q.add_argument("--size-budget", default=None, help="mixed precision: bytes or percent of int8 (e.g. 60%%)")
    q.add_argument("--bops-budget", default=None, help="mixed precision: bit operations budget")
    q.add_argument("--latency-budget", default=None, help="mixed precision: latency budget")
    q.add_argument("--latency-table", default=None, metavar="FILE",
                   help="mixed precision: measured per-layer latencies (JSON) instead of the target's model")
    q.add_argument("--keep-8bit", action="append", default=[], metavar="PATTERN",
                   help="layers (glob on node names) pinned to 8-bit weights")
    q.add_argument("--mixed-bits", default="auto", metavar="auto|4,8|2,4,8",
                   help="mixed precision: candidate weight widths (auto: the 4/8 or the 2/4/8 answer, "
                        "whichever changes the output less)")
    q.add_argument("--sensitivity", default="auto", choices=_choices("sensitivity"),
                   help="mixed precision: per-layer sensitivity (auto: KL for classifiers, else MSE; "
                        "hessian: forward-only Hessian-trace estimate)")
    q.add_argument("--softmax", default="ibert", choices=_choices("softmax"),
                   help="integer softmax: I-BERT i-exp (default) or I-ViT shift (docs/transformers.md)")
    q.add_argument("--gelu", default="auto", choices=_choices("gelu"),
                   help="integer GELU after a linear layer: the exact 256-entry int8 table (lut), "
                        "I-BERT's int16 polynomial (ibert), or per layer the one with the smaller "
                        "error over the calibrated range (auto, default; docs/transformers.md)")
    q.add_argument("--residual-bits", type=int, default=16, choices=_choices("residual_bits"),
                   help="width of the transformer residual stream feeding LayerNorms (docs/transformers.md)")
    q.add_argument("--wide-concat", type=float, default=8.0, metavar="RATIO",
                   help="a Concat reaching only graph outputs whose input scales differ by RATIO or "
                        "more gets an int16 output (default 8; 0: always int8; docs/quantization.md)")
    q.add_argument("--equalize", action="store_true",
                   help="cross-layer equalization (DFQ) of conv/linear pairs (docs/lowbit.md)")
    q.add_argument("--smoothquant", type=float, default=None, metavar="ALPHA",
                   help="migrate activation outliers into the next weights with strength ALPHA in (0, 1)")
    q.add_argument("--reorder-channels", default=None, choices=_choices("reorder_channels"),
                   help="permute hidden channels so per-group weight quantization groups outliers")
    q.add_argument("--outlier-8bit", type=int, default=None, metavar="N",
                   help="with --reorder-channels: keep the N outlier input channels of each "
                        "consumer at 8-bit weights (Atom style)")
    q.add_argument("--quiet", action="store_true", help="no progress bar")
    a = p.add_argument_group("accelerator target (docs/target_accel.md)")
    a.add_argument("--accel-config", default=None, metavar="FILE",
                   help="hardware description (JSON or TOML) instead of the default 16x16 array")
    a.add_argument("--hw", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hardware parameter, e.g. --hw rows=32 --hw dataflow=os")
    _add_instrumentation_args(p)


def _add_instrumentation_args(p: argparse.ArgumentParser) -> None:
    i = p.add_argument_group("pass instrumentation")
    i.add_argument("--print-ir-after-all", action="store_true",
                   help="print the IR to stderr after every pass")
    i.add_argument("--print-ir-before-all", action="store_true",
                   help="print the IR to stderr before every pass")
    i.add_argument("--print-ir-after", action="append", default=[], metavar="PASS",
                   help="print the IR after PASS (repeatable; NAME#k for the k-th run of a pass, "
                        "see 'qcc passes --target T')")
    i.add_argument("--print-ir-before", action="append", default=[], metavar="PASS",
                   help="print the IR before PASS (repeatable; NAME#k as for --print-ir-after)")
    i.add_argument("--dump-dir", metavar="DIR",
                   help="write the IR after every pass into DIR as NN_PASS.qcc (text) and "
                        "NN_PASS.onnx (runs in onnxruntime where the stage is still ONNX-expressible)")
    i.add_argument("--stop-after", metavar="PASS",
                   help="stop after PASS (NAME#k: its k-th run) and write that IR as DIR/model.qcc "
                        "without running the backend ('qcc run DIR --engine reference' runs it)")
    i.add_argument("--disable-pass", action="append", default=[], metavar="PASS",
                   help="skip PASS (repeatable; the bare name skips every run of it)")
    i.add_argument("--verify-each", action="store_true", help="run the IR verifier after every pass")
    i.add_argument("--time-passes", action="store_true",
                   help="print each pass's wall time and the node count after it")
    i.add_argument("--measure-drift", metavar="IN.npz",
                   help="report output drift vs the float model after each pass (first sample)")


def _add_model_commands(sub) -> None:
    """qcc inspect, run, profile: look at a model, run it or a compiled folder."""
    p = sub.add_parser("inspect", help="inputs/outputs, op histogram, parameters, MACs, unsupported ops, "
                                            "whether each target compiles and which nodes stop it")
    p.add_argument("model", help="ONNX model file")
    _add_shape_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--calib", metavar="CALIB.npz", default=None,
                   help="calibration data for the per-target check (default: synthetic samples)")

    p = sub.add_parser("run", help="run a model (reference interpreter) or a compiled folder")
    p.add_argument("model", help="ONNX model file or qcc output folder")
    p.add_argument("--inputs", required=True, metavar="IN.npz",
                   help="input samples: one array per model input, named like the input, samples "
                        "stacked along axis 0 (np.savez(path, input=x))")
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz",
                   help="where to write the outputs: one array per model output, stacked like the "
                        "inputs")
    p.add_argument("--engine", default="target",
                   choices=["target", "reference", "cortex-m4", "cortex-m55"],
                   help="for a compiled folder: the target's engine, qcc's reference interpreter, "
                        "or (target c) the Cortex-M4 / Cortex-M55 build under qemu-system-arm")
    p.add_argument("--device", default=None, choices=["cuda", "cpu"],
                   help="target triton: run the kernels on a CUDA GPU, or on the CPU under the "
                        "Triton interpreter (default: cuda when torch sees a GPU)")
    _add_shape_args(p)

    p = sub.add_parser("profile", help="per-layer time or instructions of a compiled folder")
    p.add_argument("model", metavar="DIR", help="qcc output folder (qcc compile --target c)")
    p.add_argument("--inputs", required=True, metavar="IN.npz", help="profiles the row --row")
    p.add_argument("--engine", default="host", choices=["host", "cortex-m4", "cortex-m55"],
                   help="host: ns per step of a profiling build on this machine; cortex-m4, "
                        "cortex-m55: instructions per step under qemu-system-arm -icount (not cycles)")
    p.add_argument("--row", type=int, default=0, help="which row of IN.npz (default 0)")
    p.add_argument("--runs", type=int, default=200, help="host: timed runs, medians (default 200)")
    p.add_argument("--json", metavar="OUT.json", help="also write the profile as JSON")


def _add_compile_commands(sub) -> None:
    """qcc compile, debug, dse: the commands that take the compile options."""
    p = sub.add_parser("compile", help="compile a model for a target")
    _add_compile_args(p)

    p = sub.add_parser("debug", help="find the layer that lost the accuracy (and, with --target, the "
                                     "first layer where a target differs from the reference)")
    _add_compile_args(p, output_required=False)
    p.set_defaults(target=None)
    p.add_argument("--inputs", required=True, metavar="IN.npz", help="inputs to compare on")
    p.add_argument("--try", dest="try_suggestions", action="store_true",
                   help="apply each suggestion for the worst layers and measure the end-to-end SQNR")
    p.add_argument("--try-budget", type=float, default=300.0, metavar="S",
                   help="stop trying suggestions after S seconds (default 300)")
    p.add_argument("--top", type=int, default=15, help="rows of the terminal table (default 15)")
    p.add_argument("--max-samples", type=int, default=16, metavar="N",
                   help="compare on the first N input samples (default 16)")

    p = sub.add_parser("dse", help="design-space exploration of the accelerator (docs/target_accel.md)")
    _add_compile_args(p)
    p.add_argument("--grid", default="small", choices=["tiny", "small", "default"],
                   help="array sizes x buffer sizes x bandwidths to sweep (default small: 27 points)")
    p.add_argument("--search", type=int, default=4, metavar="N",
                   help="tilings simulated per layer and configuration (default 4)")


def _add_other_commands(sub) -> None:
    """qcc demo, passes, bench."""
    p = sub.add_parser("demo", help="compile a bundled example to C, run it and report accuracy, "
                                    "size and the generated files")
    p.add_argument("--example", default="digits_cnn", metavar="NAME|DIR",
                   help="an example of the source checkout's examples/ (default: digits_cnn)")
    p.add_argument("-o", "--output", default="qcc_demo", metavar="DIR",
                   help="output folder (default: qcc_demo)")

    p = sub.add_parser("passes", help="list registered passes and the pipeline of a target")
    p.add_argument("--target", default=None, metavar="TARGET",
                   help=f"print the pass pipeline of a target: {' | '.join(_targets())}")

    p = sub.add_parser("bench", help="benchmark qcc against onnxruntime (docs/benchmark.md)")
    from qcc.bench.run import add_arguments as _bench_args

    _bench_args(p)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="qcc", description="qcc: a quantizing compiler for ONNX models")
    ap.add_argument("--version", action="version", version=f"qcc {__version__}")
    ap.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")
    _add_model_commands(sub)
    _add_compile_commands(sub)
    _add_other_commands(sub)
    return ap


def main(argv: Optional[list[str]] = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    if args.cmd is None:
        ap.print_help()
        return 0
    import warnings

    from .outdir import signals_as_interrupt

    # float ops follow IEEE like onnxruntime (NaN/Inf propagate); numpy's warnings
    # about them are noise on a command line
    warnings.simplefilter("ignore", RuntimeWarning)

    try:
        from . import commands

        with signals_as_interrupt():  # SIGTERM / SIGHUP clean up like Ctrl-C
            return getattr(commands, f"cmd_{args.cmd}")(args) or 0
    except QccError as e:
        if args.debug:
            traceback.print_exc()
        msg = " ".join(str(e).split("\n"))
        print(f"qcc: error: {msg}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        why = f" ({e.args[0]})" if e.args else ""
        print(f"qcc: interrupted{why}", file=sys.stderr)
        return getattr(e, "exit_code", 130)
    except BrokenPipeError:  # the reader left early (qcc inspect m.onnx | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - an internal error, still one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"qcc: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
