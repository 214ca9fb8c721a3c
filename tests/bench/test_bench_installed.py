"""``qcc bench`` from a non-editable install (no examples/ beside the package): the user's
own model is benchmarked and an unknown name is a clear error, never an internal
FileNotFoundError about site-packages/qcc/examples."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIGITS = os.path.join(ROOT, "examples", "digits_cnn", "digits_cnn.onnx")


def _wheel_layout(dest) -> str:
    """The package folders laid out as a wheel installs them (qcc/, qcc/passes, ...),
    without the source checkout's examples/."""
    site = os.path.join(dest, "site")
    ign = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(os.path.join(ROOT, "compiler"), os.path.join(site, "qcc"), ignore=ign)
    for sub in ("passes", "backends", "bench"):
        shutil.copytree(os.path.join(ROOT, sub), os.path.join(site, "qcc", sub), ignore=ign)
    return site


def _env(site: str) -> dict:
    return dict(os.environ, PYTHONPATH=site)


def test_bench_without_examples_folder_names_the_bad_model(tmp_path):
    site = _wheel_layout(tmp_path)
    p = subprocess.run([sys.executable, "-m", "qcc.cli", "bench", "no_such_model", "--out",
                        str(tmp_path / "o")], cwd=tmp_path, env=_env(site), capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 2, p.stderr
    assert "unknown benchmark model(s) 'no_such_model'" in p.stderr
    assert "light_squeezenet" in p.stderr and "FileNotFoundError" not in p.stderr


@pytest.mark.slow
def test_bench_of_a_user_model_after_pip_install_dot(tmp_path):
    """The real thing: ``pip install .`` (non-editable, into a folder) and its console
    script benchmarks ./my.onnx."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), src / name)
    for sub in ("compiler", "passes", "backends", "bench"):
        shutil.copytree(os.path.join(ROOT, sub), src / sub,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    site = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                        str(site), str(src)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert not (site / "qcc" / "examples").exists()
    shutil.copy(DIGITS, tmp_path / "my.onnx")
    p = subprocess.run([str(site / "bin" / "qcc"), "bench", "./my.onnx", "--quick", "--runs", "1",
                        "--no-mixed", "--out", "bo"], cwd=tmp_path, env=_env(str(site)),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "| my |" in p.stdout and (tmp_path / "bo" / "report.html").is_file()
