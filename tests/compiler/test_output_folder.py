"""The output folder of ``qcc compile`` under hostile conditions (issue 18): every
``OSError`` is one line naming the path, no debris, SIGTERM/SIGHUP clean up like
Ctrl-C, umask honoured, symlinked folders followed, reserved names refused, and
every generated file byte-identical across runs (wall-clock times in timings.json)."""

from __future__ import annotations

import errno
import filecmp
import json
import os
import signal
import subprocess

import numpy as np
import onnx
import pytest

from qcc_testlib import assert_error, assert_ok, conv_model, qcc, qcc_inproc


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("outm")
    onnx.save(conv_model(17), str(d / "conv.onnx"))
    np.savez(d / "calib.npz", x=np.random.default_rng(0).standard_normal((4, 3, 6, 6)).astype(np.float32))
    return d


def _no_debris(folder, *keep):
    left = sorted(set(os.listdir(folder)) - set(keep))
    assert left == [], left


def test_output_below_a_file(model, tmp_path):
    (tmp_path / "afile").write_text("x")
    p = qcc("compile", model / "conv.onnx", "-o", tmp_path / "afile" / "sub")
    assert_error(p, "afile")
    _no_debris(tmp_path, "afile")


def test_output_in_proc(model, tmp_path, capsys):
    assert_error(qcc_inproc(capsys, "compile", model / "conv.onnx", "-o", "/proc/qcc_x"),
                 "/proc/qcc_x")
    assert not os.path.exists("/proc/qcc_x")


def test_dump_dir_is_a_file(model, tmp_path, capsys):
    (tmp_path / "dump").write_text("x")
    p = qcc_inproc(capsys, "compile", model / "conv.onnx", "-o", tmp_path / "out",
                   "--dump-dir", tmp_path / "dump")
    assert_error(p, "--dump-dir", str(tmp_path / "dump"))
    _no_debris(tmp_path, "dump")


@pytest.mark.parametrize("name,needle", [("n" * 5000, "1 to 64 characters"),
                                         ("qcc_run", "reserved"), ("qcc_kernels", "reserved"),
                                         ("QCC-RUN", "reserved")])
def test_bad_names(model, tmp_path, capsys, name, needle):
    p = qcc_inproc(capsys, "compile", model / "conv.onnx", "-o", tmp_path / "out", "--target", "c",
                   "--calib", model / "calib.npz", "--name", name)
    assert_error(p, needle)
    _no_debris(tmp_path)


@pytest.mark.parametrize("err,where", [(errno.ENOSPC, "save_ir"), (errno.EROFS, "mkdtemp")])
def test_disk_full_and_read_only(model, tmp_path, capsys, monkeypatch, err, where):
    import tempfile

    import qcc.driver
    import qcc.outdir

    real_mkdtemp = tempfile.mkdtemp

    def boom(*a, **k):
        raise OSError(err, os.strerror(err), str(tmp_path / "out"))

    def mkdtemp_near_out(suffix=None, prefix=None, dir=None):  # only the output's own
        if dir is not None and str(tmp_path) in str(dir):       # temporary folder fails
            boom()
        return real_mkdtemp(suffix, prefix, dir)

    if where == "save_ir":
        monkeypatch.setattr(qcc.driver, "save_ir", boom)
    else:
        monkeypatch.setattr(qcc.outdir.tempfile, "mkdtemp", mkdtemp_near_out)
    p = qcc_inproc(capsys, "compile", model / "conv.onnx", "-o", tmp_path / "sub" / "out")
    assert_error(p, str(tmp_path / "sub" / "out"), os.strerror(err))
    monkeypatch.setattr(qcc.outdir.tempfile, "mkdtemp", tempfile.mkdtemp)
    _no_debris(tmp_path)  # the parent folder the compile made is gone too


def test_symlinked_output_folder_is_followed(model, tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "link")
    assert_ok(qcc("compile", model / "conv.onnx", "-o", tmp_path / "link"))
    assert os.path.islink(tmp_path / "link")
    assert (tmp_path / "real" / "manifest.json").is_file()
    assert_ok(qcc("compile", model / "conv.onnx", "-o", tmp_path / "link"))  # overwrite
    assert os.path.islink(tmp_path / "link")
    _no_debris(tmp_path, "real", "link")


def test_output_folder_honours_umask(model, tmp_path):
    exe = subprocess.run(["which", "qcc"], capture_output=True, text=True).stdout.strip()
    for mask, mode in ((0o022, 0o755), (0o027, 0o750)):
        out = tmp_path / f"out{mask:o}"
        p = subprocess.run([exe, "compile", str(model / "conv.onnx"), "-o", str(out)],
                           capture_output=True, text=True, preexec_fn=lambda m=mask: os.umask(m))
        assert_ok(p)
        assert os.stat(out).st_mode & 0o777 == mode


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_clean_up(model, tmp_path, capsys, monkeypatch, sig):
    """The signal arrives while the backend writes: no output, no hidden .tmp folder."""
    import qcc.driver

    real = qcc.driver.save_ir

    def slow(graph, path):
        real(graph, path)
        os.kill(os.getpid(), sig)

    monkeypatch.setattr(qcc.driver, "save_ir", slow)
    p = qcc_inproc(capsys, "compile", model / "conv.onnx", "-o", tmp_path / "out")
    assert p.returncode == 128 + sig
    assert "interrupted" in p.stderr and "Traceback" not in p.stderr
    _no_debris(tmp_path)
    assert signal.getsignal(sig) is not None  # the previous handler is back


def test_disabling_a_proof_pass_is_refused(model, tmp_path, capsys):
    for name in ("check-headroom", "check-integer-only"):
        p = qcc_inproc(capsys, "compile", model / "conv.onnx", "-o", tmp_path / "out",
                       "--target", "c", "--calib", model / "calib.npz", "--disable-pass", name)
        assert_error(p, name, "cannot be disabled")
    _no_debris(tmp_path)


def test_every_file_is_reproducible(model, tmp_path):
    """Two runs of one compile give byte-identical folders; timings live in timings.json."""
    for target in ("c", "onnx"):
        outs = []
        for i in range(2):
            out = tmp_path / f"{target}{i}"
            assert_ok(qcc("compile", model / "conv.onnx", "-o", out, "--target", target,
                          "--calib", model / "calib.npz"))
            outs.append(out)
        files = sorted(os.listdir(outs[0]))
        assert files == sorted(os.listdir(outs[1]))
        assert "timings.json" in files and "manifest.json" in files
        differ = [f for f in files if f != "timings.json"
                  and not filecmp.cmp(outs[0] / f, outs[1] / f, shallow=False)]
        assert differ == []
        manifest = json.loads((outs[0] / "manifest.json").read_text())
        assert "timings_s" not in manifest and "seconds" not in json.dumps(manifest)
        timings = json.loads((outs[0] / "timings.json").read_text())
        assert {"import", "passes", "codegen", "calibration"} <= set(timings)
