"""Build and run the generated C on the host: ``build``, ``run_samples``, ``bench_latency``.

``build`` runs the generated Makefile; a non-default compiler or extra flags
(e.g. ``-fsanitize=address,undefined``) build a separately named runner so the
default ``qcc_run`` is never overwritten by an instrumented one. The Makefile's run-time
dispatch (docs/target_c.md "Runtime dispatch") is on as in a user's plain ``make``;
``dispatch=False``, or ``QCC_C_DISPATCH=off`` in the environment when ``dispatch`` is not
given, builds one variant (``-DQCC_NO_DISPATCH``): the test suite sets it (tests/conftest.py),
whose many small builds would otherwise compile each model three times, and whose "default
build" cases mean the SSE2 kernels.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

from qcc.errors import BuildError, InputDataError


def _bin_name(cc: str, extra_cflags) -> str:
    if cc == "gcc" and not extra_cflags:
        return "qcc_run"
    tag = hashlib.sha1(json.dumps([cc, list(extra_cflags)]).encode()).hexdigest()[:10]
    return f"qcc_run_{tag}"


NO_DISPATCH = "-DQCC_NO_DISPATCH"


def dispatch_default() -> bool:
    """Run-time dispatch unless the environment says ``QCC_C_DISPATCH=off`` (or 0 / no)."""
    return os.environ.get("QCC_C_DISPATCH", "").strip().lower() not in ("off", "0", "no")


def build(out_dir: str, cc: str = "gcc", extra_cflags=(), dispatch: bool = None) -> str:
    """Build the host runner with make (if out of date); return its path. ``dispatch``:
    False adds ``-DQCC_NO_DISPATCH``; None follows :func:`dispatch_default`."""
    if not (dispatch_default() if dispatch is None else dispatch) and NO_DISPATCH not in extra_cflags:
        extra_cflags = (*extra_cflags, NO_DISPATCH)
    if shutil.which("make") is None:
        raise BuildError("target c: 'make' is not installed; install make and a C compiler "
                         "(Debian: apt-get install build-essential)")
    if shutil.which(cc) is None:
        raise BuildError(f"target c: the C compiler '{cc}' is not installed")
    if not os.path.isfile(os.path.join(out_dir, "Makefile")):
        raise BuildError(f"'{out_dir}' holds no Makefile; compile the model with --target c")
    name = _bin_name(cc, tuple(extra_cflags))
    cmd = ["make", "-s", "-j3", "-C", out_dir, name, f"BIN={name}", f"CC={cc}",
           f"EXTRA_CFLAGS={' '.join(extra_cflags)}"]
    from qcc.progress import step

    with step(f"building the C runner with {cc} in {out_dir}"):
        r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip().splitlines()
        head = "; ".join(msg[:6]) if msg else f"exit code {r.returncode}"
        raise BuildError(f"target c: building {name} in '{out_dir}' failed: {head}")
    return os.path.join(out_dir, name)


def _io(manifest: dict) -> dict:
    c = manifest.get("c")
    if not c:
        raise BuildError("manifest.json has no 'c' section; recompile with --target c")
    return c


def pack_inputs(manifest: dict, samples: list[dict]) -> bytes:
    """Samples as the runner reads them: inputs in order, raw little-endian, back to back."""
    ins = _io(manifest)["inputs"]
    chunks = []
    for s in samples:
        for io in ins:
            if io["name"] not in s:
                raise InputDataError(f"target c: a sample lacks model input '{io['name']}'")
            a = np.asarray(s[io["name"]]).astype(np.dtype(io["file_dtype"]).newbyteorder("<"))
            if a.size != int(np.prod(io["shape"], dtype=np.int64)):
                raise InputDataError(f"target c: input '{io['name']}' has shape {list(a.shape)}; "
                                     f"the C model takes {io['shape']}")
            chunks.append(np.ascontiguousarray(a).tobytes())
    return b"".join(chunks)


def unpack_outputs(manifest: dict, data: bytes, n: int) -> list[dict]:
    outs = _io(manifest)["outputs"]
    res, pos = [], 0
    for _ in range(n):
        d = {}
        for io in outs:
            dt = np.dtype(io["file_dtype"]).newbyteorder("<")
            nbytes = dt.itemsize * int(np.prod(io["shape"], dtype=np.int64))
            if pos + nbytes > len(data):
                raise BuildError("target c: the runner wrote fewer outputs than expected")
            d[io["name"]] = np.frombuffer(data[pos:pos + nbytes], dt).astype(dt.newbyteorder("="))\
                .reshape(io["shape"])
            pos += nbytes
        res.append(d)
    return res


def run_samples(out_dir: str, samples: list[dict], manifest: dict, binary: str = None) -> list[dict]:
    """Run every sample through the runner (one process for all of them)."""
    binary = binary or build(out_dir)
    with tempfile.TemporaryDirectory(prefix="qcc_run_") as tmp:
        fin, fout = os.path.join(tmp, "in.bin"), os.path.join(tmp, "out.bin")
        with open(fin, "wb") as f:
            f.write(pack_inputs(manifest, samples))
        from qcc.progress import step

        with step(f"running {len(samples)} samples"):
            r = subprocess.run([binary, fin, fout], capture_output=True, text=True)
        if r.returncode != 0:
            raise BuildError(f"target c: {os.path.basename(binary)} failed (exit {r.returncode}): "
                             f"{(r.stderr or r.stdout).strip()[:500]}")
        with open(fout, "rb") as f:
            data = f.read()
    return unpack_outputs(manifest, data, len(samples))


def bench_latency(out_dir: str, sample: dict, n: int = 50, binary: str = None) -> float:
    """Median latency in microseconds of ``n`` runs of one sample (``qcc_run --bench``)."""
    with open(os.path.join(out_dir, "manifest.json")) as f:
        manifest = json.load(f)
    binary = binary or build(out_dir)
    with tempfile.TemporaryDirectory(prefix="qcc_bench_") as tmp:
        fin = os.path.join(tmp, "in.bin")
        with open(fin, "wb") as f:
            f.write(pack_inputs(manifest, [sample]))
        r = subprocess.run([binary, "--bench", str(int(n)), fin], capture_output=True, text=True)
    if r.returncode != 0:
        raise BuildError(f"target c: benchmark run failed: {(r.stderr or r.stdout).strip()[:300]}")
    return float(r.stdout.strip().splitlines()[-1])
