"""Issue 12, report 10: every corpus model on Cortex-M4.

    python tests/models/zoo/m4.py [--zoo ~/.cache/qcc-zoo] [--timeout 900] [NAME ...]
    python tests/models/zoo/report.py --write-only     # then regenerate docs/zoo.md

Per model (each in its own process, saved as ``<zoo>/NAME/m4.json``; ``report.py`` turns
these into the Cortex-M4 table of ``docs/zoo.md``):

1. ``qcc compile --target c`` with only ``--calib`` (and ``--input-shape``);
2. build the model's C with the QEMU harness for ``-mcpu=cortex-m4 -mthumb -O2 -std=c99
   -Wall -Wextra -Werror -pedantic`` (``backends/c/arm/``, the ``--engine cortex-m4``
   build); a model too large for the board (QEMU ``mps2-an386``: 4 MiB code, 4 MiB RAM)
   still compiles every object with ``-Werror``, and only the link says it does not fit;
3. where it links: run the test samples under ``qemu-system-arm`` and compare every
   output bit for bit with the reference interpreter (``qcc run --engine reference``).

Flash and RAM are the model's own objects (``arm-none-eabi-size``: code + constants +
initialised data; RAM = data + bss + arena, the harness, libc and stack excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
DEFAULT_ZOO = os.path.expanduser(os.environ.get("QCC_ZOO", "~/.cache/qcc-zoo"))
DOES_NOT_FIT = "does not fit"


def _load(p: str) -> dict:
    with np.load(p, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _err(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return f"{type(e).__name__}: {s[0][:300] if s else ''}"


def model_sizes(out: str) -> dict:
    """Flash/RAM bytes of the model's own Cortex-M4 objects (built or not linked)."""
    from qcc.backends.c import arm

    build_dir = Path(out) / arm.CORES["cortex-m4"].subdir
    spec = arm.spec_from_dir(out)
    objs = [str(build_dir / (Path(s).stem + ".o")) for s in spec.sources]
    c = arm.section_sizes(objs)
    arena = int(json.load(open(os.path.join(out, "manifest.json")))["memory"]["arena_bytes"])
    return {"flash_bytes": c["text"] + c["data"], "ram_bytes": c["data"] + c["bss"] + arena,
            "arena_bytes": arena}


def check_m4(out: str, test: dict, n_samples: int | None = None) -> dict:
    """Build ``out`` (a ``--target c`` folder) for Cortex-M4 with -Werror and, where it fits
    the board, run ``test`` under QEMU against the reference interpreter.

    Returns ``built`` ("yes" or the error), ``ran`` ("yes" / "does not fit" / the error),
    ``bit_exact`` ("yes" / "differs on [...]" / None), flash/RAM bytes, samples run."""
    from qcc.backends.c import arm
    from qcc.commands import run_artifact
    from qcc.errors import BuildError

    row: dict = {"built": None, "ran": None, "bit_exact": None}
    if n_samples is not None:
        test = {k: v[:n_samples] for k, v in test.items()}
    try:
        arm.build(out)
        row["built"] = "yes"
    except BuildError as e:
        if "does not fit" not in str(e):
            row["built"] = _err(e)
            return row
        row["built"], row["ran"] = "yes", DOES_NOT_FIT
        row["overflow"] = re.sub(r".*overflows ", "", str(e))
    row.update(model_sizes(out))
    if row["ran"] == DOES_NOT_FIT:
        return row
    try:  # the public path of `qcc run DIR --engine cortex-m4`
        got = run_artifact(out, test, "cortex-m4")
    except BuildError as e:
        row["ran"] = _err(e)
        return row
    row["ran"], row["samples"] = "yes", next(iter(test.values())).shape[0]
    want = run_artifact(out, test, "reference")
    bad = [k for k in want if not np.array_equal(got[k], want[k])]
    row["bit_exact"] = "yes" if not bad else f"differs on {bad}"
    return row


def measure(d: str, n_samples: int | None = None) -> dict:
    from qcc.driver import CompileOptions, compile_model
    from qcc.frontend.onnx_import import parse_input_shapes

    meta = json.load(open(os.path.join(d, "meta.json")))
    row = {"name": meta["name"]}
    t0 = time.time()
    out = os.path.join(tempfile.mkdtemp(prefix=f"zoo_m4_{meta['name']}_"), "c")
    try:
        compile_model(os.path.join(d, "model.onnx"),
                      CompileOptions(target="c", out_dir=out,
                                     input_shapes=parse_input_shapes(meta.get("input_shapes")),
                                     bind=meta.get("bind") or {},
                                     options={"calib": os.path.join(d, "calib.npz"), "quiet": True}))
    except Exception as e:  # noqa: BLE001
        row["compile_c"] = _err(e)
        return row
    row["compile_c"] = "ok"
    row.update(check_m4(out, _load(os.path.join(d, "test.npz")), n_samples))
    row["seconds"] = round(time.time() - t0, 1)
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--zoo", default=DEFAULT_ZOO)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--samples", type=int, default=None, help="test samples to run (default: all)")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.one:
        sys.path.insert(0, ROOT)
        from tests.models.zoo.report import _stamp

        row = dict(measure(a.one, a.samples), measured=_stamp())
        json.dump(row, open(os.path.join(a.one, "m4.json"), "w"), indent=1, default=str)
        return 0
    names = a.names or sorted(n for n in os.listdir(a.zoo) if os.path.isfile(os.path.join(a.zoo, n, "meta.json")))
    for n in names:
        d, t0 = os.path.join(a.zoo, n), time.time()
        cmd = [sys.executable, __file__, "--one", d] + (["--samples", str(a.samples)] if a.samples else [])
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.timeout)
            if p.returncode != 0:
                err = (p.stderr.strip().splitlines() or ["crashed"])[-1]
                json.dump({"name": n, "compile_c": f"crashed: {err}"}, open(os.path.join(d, "m4.json"), "w"))
        except subprocess.TimeoutExpired:
            json.dump({"name": n, "error": f"timed out after {a.timeout} s"}, open(os.path.join(d, "m4.json"), "w"))
        r = json.load(open(os.path.join(d, "m4.json")))
        print(f"{n}: {time.time() - t0:.0f} s built={r.get('built')} ran={r.get('ran')} "
              f"bit_exact={r.get('bit_exact')} {r.get('compile_c') if r.get('compile_c') != 'ok' else ''}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
