"""Write the counts table of docs/reliability.md from the slow fuzz set.

    python -m tests.fuzz.report [--count N] [--seed S]   # 400 cases: about 20 minutes

Every case runs through the real ``qcc`` script; each model mutant is also given to
``onnx.checker.check_model(full_check=True)`` and to onnxruntime (load and run one
sample), so the table shows qcc's answers next to theirs.  The same totals are
asserted by tests/fuzz/test_fuzz.py.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
from collections import Counter

from .mutants import generate
from .runner import BUGS, run_case, totals
from .test_fuzz import SLOW_COUNT, SLOW_SEED

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "reliability.md")
BEGIN, END = "<!-- fuzz-table:begin -->", "<!-- fuzz-table:end -->"


def table(outcomes) -> str:
    kinds = sorted({o.kind for o in outcomes})
    cols = ["ok", "refused", *BUGS]
    rows = ["| cases | n | " + " | ".join(cols) + " | onnx.checker accepts | onnxruntime runs |",
            "|---|---|" + "---|" * (len(cols) + 2)]
    for kind in kinds + ["all"]:
        sel = [o for o in outcomes if kind == "all" or o.kind == kind]
        t = totals(sel)
        probed = [o for o in sel if o.checker_ok is not None]
        chk = sum(o.checker_ok for o in probed)
        ort = sum(o.ort_ok for o in probed)
        label = f"**{kind}**" if kind == "all" else kind
        rows.append(f"| {label} | {len(sel)} | " + " | ".join(str(t[c]) for c in cols)
                    + f" | {chk} | {ort} |")
    return "\n".join(rows)


def agreement(outcomes) -> str:
    """qcc's answer against onnxruntime's on the same model mutants."""
    c = Counter()
    for o in outcomes:
        if o.ort_ok is None or o.kind not in ("bytes", "proto"):
            continue
        c[("qcc compiles" if o.cls == "ok" else "qcc refuses",
           "onnxruntime runs" if o.ort_ok else "onnxruntime refuses")] += 1
    rows = ["| | onnxruntime runs | onnxruntime refuses |", "|---|---|---|"]
    for q in ("qcc compiles", "qcc refuses"):
        rows.append(f"| {q} | {c[(q, 'onnxruntime runs')]} | {c[(q, 'onnxruntime refuses')]} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=SLOW_SEED)
    ap.add_argument("--count", type=int, default=SLOW_COUNT)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="qcc_fuzz_") as work:
        outcomes = [run_case(c, work, timeout=300, script=True, probe=True)
                    for c in generate(args.seed, args.count)]
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    block = "\n".join([
        BEGIN,
        f"Seed {args.seed}, {args.count} cases, {when}, {platform.machine()} "
        f"({os.cpu_count()} cores), `python -m tests.fuzz.report`.",
        "",
        table(outcomes),
        "",
        "Model mutants (byte and protobuf level) only: qcc's answer against onnxruntime's.",
        "",
        agreement(outcomes),
        "",
        "Bugs found (every class but ok/refused):",
        "",
        "\n".join(f"* `{o.name}`: {o.cls}: {o.detail}" for o in outcomes if o.cls in BUGS)
        or "none",
        END])
    with open(DOC) as f:
        text = f.read()
    a, b = text.index(BEGIN), text.index(END) + len(END)
    with open(DOC, "w") as f:
        f.write(text[:a] + block + text[b:])
    print(block)


if __name__ == "__main__":
    main()
