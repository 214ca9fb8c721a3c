"""Dependency direction (docs/architecture.md): the core does not reach up.

Every module of ``compiler/`` (the package ``qcc`` without ``qcc.passes``,
``qcc.backends`` and ``qcc.bench``) is parsed and each import statement,
absolute or relative, at module level or inside a function, is resolved to
the module it names.  Only the application layer (the driver, the CLI and its
commands) may import the passes, the backends or the benchmark, and the rest
of the core does not import the application layer either.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORE = ROOT / "compiler"
UPPER = ("qcc.passes", "qcc.backends", "qcc.bench")
# The application layer: the only core modules that tie the passes, the backends and the
# benchmark together (docs/architecture.md), each for a reason:
APPLICATION = {
    "qcc.driver",        # import -> pipeline -> backend: the compilation itself
    "qcc.cli",           # the qcc command line (its flags list the targets and passes)
    "qcc.commands",      # the qcc sub-commands (compile, run, passes, ...)
    "qcc.demo",          # qcc demo: a command, a client of the public API
}
# Public facades: they load one application module and never the upper layers themselves.
# ``import qcc`` loads qcc.api on first use (``qcc.compile``); qcc.api reaches the passes and
# the backends only through the driver's functions.
FACADES = {"qcc": {"qcc.api"}, "qcc.api": {"qcc.driver"}}
FORBIDDEN = UPPER + tuple(sorted(APPLICATION | set(FACADES) - {"qcc"}))


def module_name(path: pathlib.Path, core: pathlib.Path = CORE) -> str:
    parts = list(path.relative_to(core).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["qcc", *parts])


def imported_modules(path: pathlib.Path, core: pathlib.Path = CORE) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``; ``from X import y``
    yields both ``X`` and ``X.y`` (``y`` may be a submodule)."""
    mod = module_name(path, core)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            out += [(node.lineno, f"{target}.{a.name}") for a in node.names]
    return out


def is_upper(name: str, allowed=()) -> bool:
    return any((name == u or name.startswith(u + ".")) and u not in allowed for u in FORBIDDEN)


def offenders(paths) -> list[str]:
    bad = []
    for p in paths:
        mod = module_name(p)
        if mod in APPLICATION:
            continue
        for line, name in imported_modules(p):
            if is_upper(name, FACADES.get(mod, ())):
                bad.append(f"{p.relative_to(ROOT)}:{line} imports {name}")
                break
    return bad


def test_the_application_layer_is_what_it_says():
    """Every listed module exists, and each but the demo (a command that uses only the
    public API) imports the passes, the backends or the benchmark itself."""
    mods = {module_name(p): p for p in CORE.rglob("*.py")}
    assert APPLICATION | set(FACADES) <= set(mods)
    for mod in sorted(APPLICATION - {"qcc.demo"}):
        names = [n for _, n in imported_modules(mods[mod])]
        assert any(n.startswith(UPPER) for n in names), f"{mod} need not be application layer"
    assert any(n == "qcc.api" for _, n in imported_modules(mods["qcc.demo"]))


def test_the_public_api_reaches_up_only_through_the_driver():
    names = [n for _, n in imported_modules(CORE / "api.py")]
    assert not [n for n in names if n.startswith(UPPER)]
    assert "qcc.driver" in names


def test_core_does_not_import_passes_backends_or_bench():
    bad = offenders(sorted(CORE.rglob("*.py")))
    assert not bad, ("the core must not import qcc.passes / qcc.backends / qcc.bench nor the "
                     "application layer (only the driver, cli.py and commands.py may; use a "
                     "registry or a hook):\n  "
                     + "\n  ".join(bad))


def _names(tmp_path, src: str) -> list[str]:
    """Imports of ``src`` placed at ``compiler/mixed_precision/x.py`` of a scratch tree."""
    core = tmp_path / "compiler"
    (core / "mixed_precision").mkdir(parents=True)
    f = core / "mixed_precision" / "x.py"
    f.write_text(src)
    return [n for _, n in imported_modules(f, core)]


@pytest.mark.parametrize("src", [
    "import qcc.passes\n",
    "from qcc.backends.c import build\n",
    "def f():\n    from qcc import bench\n",
    "def f():\n    from ..passes.quantize import scheme\n",
    "from .. import backends\n",
    "class A:\n    def m(self):\n        import qcc.bench.run as r\n",
    "def f():\n    from qcc.driver import compile_model\n",
    "from .. import commands\n",
])
def test_the_check_sees_every_import_form(tmp_path, src):
    names = _names(tmp_path, src)
    assert any(is_upper(n) for n in names), names


@pytest.mark.parametrize("src", [
    "import qcc.passmanager\n",
    "from qcc.ir import Graph\n",
    "from . import sensitivity\n",
    "from ..calibration import api\n",
    "import qcc_bench_helper\n",
    "from qcc import passmanager\n",
])
def test_the_check_allows_core_imports(tmp_path, src):
    names = _names(tmp_path, src)
    assert not any(is_upper(n) for n in names), names


TOPS = {"compiler": "qcc", "passes": "qcc.passes", "backends": "qcc.backends", "bench": "qcc.bench"}


def _top(module: str) -> str:
    return next((t for t in UPPER if module == t or module.startswith(t + ".")), "qcc")


def test_imports_across_top_folders_are_absolute():
    """``from .passes.pipelines import x`` inside ``compiler/`` hides that the module
    lives in ``passes/``; across the four top folders imports name ``qcc.*`` in full."""
    bad = []
    for folder, package in TOPS.items():
        root = ROOT / folder
        for p in sorted(root.rglob("*.py")):
            parts = list(p.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            mod = ".".join([package, *parts])
            pkg = mod if p.name == "__init__.py" else mod.rpartition(".")[0]
            for node in ast.walk(ast.parse(p.read_text(), str(p))):
                if not isinstance(node, ast.ImportFrom) or not node.level:
                    continue
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                if any(_top(t) != _top(mod) for t in names):
                    bad.append(f"{p.relative_to(ROOT)}:{node.lineno} imports {target} relatively")
    assert not bad, "use absolute qcc.* names across top folders:\n  " + "\n  ".join(bad)
