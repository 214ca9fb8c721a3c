"""``python -m qcc.bench``: the same benchmark suite as ``qcc bench``."""

from __future__ import annotations

import argparse
import sys
import traceback

from qcc.errors import QccError

from .run import add_arguments, run_from_args


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m qcc.bench",
                                 description="benchmark qcc against onnxruntime (docs/benchmark.md)")
    add_arguments(ap)
    ap.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    args = ap.parse_args(argv)
    try:
        return run_from_args(args)
    except QccError as e:
        if args.debug:
            traceback.print_exc()
        print(f"qcc bench: error: {' '.join(str(e).split())}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
