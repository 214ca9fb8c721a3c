"""Packaging: pyproject's explicit package list, package data and console script.

The fast tests read pyproject.toml and apply setuptools' rules (package-dir
mapping, package-data globs per owning package) to the source tree; the slow
test builds the wheel into a temporary folder and checks what it really ships.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pyproject() -> dict:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def _source_packages() -> dict[str, str]:
    """Dotted package name -> source folder, for every folder with an __init__.py
    under the package-dir roots."""
    roots = _pyproject()["tool"]["setuptools"]["package-dir"]
    out = {}
    for pkg, folder in roots.items():
        top = os.path.join(ROOT, folder)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            if "__init__.py" not in filenames:
                continue
            rel = os.path.relpath(dirpath, top)
            name = pkg if rel == "." else pkg + "." + rel.replace(os.sep, ".")
            # a nested root (qcc.passes under qcc) is owned by its own package-dir entry
            owner = max((p for p in roots if name == p or name.startswith(p + ".")), key=len)
            if owner == pkg:
                out[name] = dirpath
    return out


def test_every_package_folder_is_listed():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = _source_packages()
    missing = sorted(set(found) - listed)
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    stale = sorted(listed - set(found))
    assert not stale, f"pyproject lists {stale}, which have no folder with __init__.py"


def _owner(path: str, pkgs: dict[str, str]) -> str:
    """The innermost package whose folder holds ``path``."""
    best = max((p for p, d in pkgs.items() if path.startswith(d + os.sep)),
               key=lambda p: len(pkgs[p]))
    return best


def _data_files() -> list[str]:
    pkgs = _source_packages()
    out = []
    for d in set(pkgs.values()):
        for dirpath, dirnames, filenames in os.walk(d):
            dirnames[:] = [x for x in dirnames if x != "__pycache__"
                           and not os.path.isfile(os.path.join(dirpath, x, "__init__.py"))]
            out += [os.path.join(dirpath, f) for f in filenames
                    if not f.endswith((".py", ".pyc"))]
    return sorted(set(out))


def test_templates_and_kernel_sources_are_package_data():
    """Every non-Python file in a package folder (Jinja templates, C kernels, linker
    scripts ...) matches a package-data glob of the package that owns it."""
    pkgs = _source_packages()
    data = _pyproject()["tool"]["setuptools"].get("package-data", {})
    files = _data_files()
    assert any(f.endswith(".j2") for f in files)
    unshipped = []
    for f in files:
        owner = _owner(f, pkgs)
        base = pkgs[owner]
        patterns = data.get("*", []) + data.get(owner, [])
        matched = set()
        for pat in patterns:
            matched.update(os.path.normpath(p) for p in
                           glob.glob(os.path.join(base, pat), recursive=True))
        if os.path.normpath(f) not in matched:
            unshipped.append(os.path.relpath(f, ROOT))
    assert not unshipped, f"not shipped as package data: {unshipped}"


def test_console_script_and_extras():
    proj = _pyproject()["project"]
    assert proj["name"] == "qcc"
    assert proj["scripts"] == {"qcc": "qcc.cli:main"}
    assert proj["requires-python"] == ">=3.10"
    extras = proj["optional-dependencies"]
    assert {"pytest", "hypothesis"} <= {r.split(">")[0].split("=")[0] for r in extras["test"]}
    assert "torch==2.13.0" in extras["triton"]
    assert any(r.startswith("triton") for r in extras["triton"])
    from qcc.cli import main

    assert callable(main)
    exe = shutil.which("qcc")
    assert exe, "the qcc console script is not installed"
    p = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.startswith("qcc "), p


def test_import_names_map_to_the_folders():
    import qcc
    import qcc.backends
    import qcc.passes

    assert os.path.samefile(os.path.dirname(qcc.__file__), os.path.join(ROOT, "compiler"))
    assert os.path.samefile(os.path.dirname(qcc.passes.__file__), os.path.join(ROOT, "passes"))
    assert os.path.samefile(os.path.dirname(qcc.backends.__file__), os.path.join(ROOT, "backends"))


@pytest.mark.slow
def test_wheel_ships_every_module_template_and_the_script(tmp_path):
    """``pip wheel`` of a copy of the tree (the checkout stays clean)."""
    src = tmp_path / "src"
    src.mkdir()
    roots = _pyproject()["tool"]["setuptools"]["package-dir"]
    for name in ["pyproject.toml", "README.md"]:
        shutil.copy(os.path.join(ROOT, name), src / name)
    for folder in set(roots.values()):
        shutil.copytree(os.path.join(ROOT, folder), src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(tmp_path / "dist"), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    (whl,) = glob.glob(str(tmp_path / "dist" / "qcc-*.whl"))
    names = set(zipfile.ZipFile(whl).namelist())
    pkgs = _source_packages()
    expected = []
    for pkg, d in pkgs.items():
        for f in os.listdir(d):
            if f.endswith(".py"):
                expected.append(pkg.replace(".", "/") + "/" + f)
    for f in _data_files():
        owner = _owner(f, pkgs)
        expected.append(owner.replace(".", "/") + "/" +
                        os.path.relpath(f, pkgs[owner]).replace(os.sep, "/"))
    missing = sorted(set(expected) - names)
    assert not missing, f"the wheel lacks {missing}"
    ep = next(n for n in names if n.endswith("entry_points.txt"))
    assert "qcc = qcc.cli:main" in zipfile.ZipFile(whl).read(ep).decode()
