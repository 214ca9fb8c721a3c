"""Whole models through ``qcc compile --target accel``: the simulator's outputs equal the
reference interpreter's bit for bit on every example (each entirely on the accelerator), with the default and a small non-default
hardware description; the files and the manifest; bad hardware options are clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qcc.cli import main

ROOT = Path(__file__).resolve().parents[3]
EX = ROOT / "examples"
MODELS = {
    "digits_cnn": ("digits_cnn/digits_cnn.onnx", []),
    "mobilenet_small": ("mobilenet_small/mobilenet_small.onnx", []),
    "tiny_bert": ("tiny_bert/tiny_bert_opset17.onnx",
                  ["--input-shape", "input_ids=1x32", "--input-shape", "attention_mask=1x32"]),
    "text_recog": ("text_recog/text_recog_opset17.onnx", []),
}


def _subset(name: str, tmp: Path, n: int) -> Path:
    data = dict(np.load(EX / name / "test.npz"))
    p = tmp / f"{name}_{n}.npz"
    np.savez(p, **{k: v[:n] for k, v in data.items()})
    return p


def compile_accel(name: str, out: Path, *extra) -> dict:
    model, shapes = MODELS[name]
    rc = main(["compile", str(EX / model), "--calib", str(EX / name / "calib.npz"), "--target",
               "accel", "-o", str(out), "--quiet", *shapes, *extra])
    assert rc == 0
    return json.loads((out / "manifest.json").read_text())


def assert_target_equals_reference(out: Path, inputs: Path, tmp: Path) -> None:
    for eng in ("target", "reference"):
        assert main(["run", str(out), "--inputs", str(inputs), "-o", str(tmp / f"{eng}.npz"),
                     "--engine", eng]) == 0
    got, want = np.load(tmp / "target.npz"), np.load(tmp / "reference.npz")
    assert sorted(got) == sorted(want)
    for k in want:
        bad = np.argwhere(got[k] != want[k])
        assert got[k].shape == want[k].shape and bad.size == 0, f"{k}: differs at {bad[:5].tolist()}"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_example_bit_exact(name, tmp_path):
    man = compile_accel(name, tmp_path / "out")
    assert_target_equals_reference(tmp_path / "out", _subset(name, tmp_path, 4), tmp_path)
    acc = man["accel"]
    # nothing falls back to the host (ISA v2: softmax, LayerNorm, run-time Gather, int64
    # thresholds); only the graph's float boundary is a host conversion
    assert acc["host_ops"] == []
    assert {s["kind"] for s in acc["segments"]} == {"accel", "boundary"}
    text = (tmp_path / "out" / "model.s").read_text()
    for ly in acc["layers"]:
        assert f"; ---- layer {ly['name']} ({ly['op']})" in text


def test_console_script_files_and_disassembly(tmp_path):
    out = tmp_path / "d"
    r = subprocess.run([sys.executable, "-m", "qcc.cli", "compile", str(EX / "digits_cnn/digits_cnn.onnx"),
                        "--calib", str(EX / "digits_cnn/calib.npz"), "--target", "accel", "-o", str(out),
                        "--name", "digits", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for f in ("digits.bin", "digits.s", "digits_dram.bin", "manifest.json", "model.qcc"):
        assert (out / f).is_file(), f
    man = json.loads((out / "manifest.json").read_text())
    acc = man["accel"]
    assert (out / "digits.bin").stat().st_size == 16 * acc["instructions"]
    assert (out / "digits_dram.bin").stat().st_size == acc["dram"]["image_bytes"]
    from qcc.backends.accel.isa import disassemble, format_instr, parse_instr

    prog = disassemble((out / "digits.bin").read_bytes())
    lines = [ln.split(": ", 1)[1] for ln in (out / "digits.s").read_text().splitlines()
             if ln[:1] == " " and ": " in ln]
    assert [parse_instr(ln).key() for ln in lines] == [i.key() for i in prog]
    assert format_instr(prog[0])
    assert all(ly["tiling"] for ly in acc["layers"] if ly["kind"] == "gemm")


@pytest.mark.parametrize("name", ["digits_cnn", pytest.param("mobilenet_small", marks=pytest.mark.slow)])
def test_small_output_stationary_config_bit_exact(tmp_path, name):
    """An 8x8 output-stationary array with 2 KiB buffers forces K chunks and narrow tiles."""
    cfg = tmp_path / "hw.json"
    cfg.write_text(json.dumps({"rows": 8, "cols": 8, "dataflow": "os", "inp_kib": 2, "wgt_kib": 2,
                               "acc_kib": 2, "param_kib": 1, "dram_bytes_per_cycle": 8}))
    man = compile_accel(name, tmp_path / "o", "--accel-config", str(cfg))
    assert man["accel"]["hw"]["rows"] == 8 and man["accel"]["hw"]["dataflow"] == "os"
    assert any("tk=" in ly.get("tiling", "") for ly in man["accel"]["layers"])
    assert_target_equals_reference(tmp_path / "o", _subset(name, tmp_path, 3), tmp_path)


@pytest.mark.parametrize("extra,msg", [
    (["--hw", "bogus=1"], "unknown key 'bogus'"),
    (["--hw", "rows=12"], "rows (12) must equal cols"),
    (["--hw", "dataflow=diagonal"], "dataflow 'diagonal'"),
    (["--hw", "rows"], "--hw expects key=value"),
    (["--accel-config", "/nonexistent/hw.toml"], "does not exist"),
])
def test_bad_hardware_options(extra, msg, tmp_path, capsys):
    """The console script for the first case (its exit code and stderr), qcc.cli.main in this
    process for the others (the same code path without an interpreter start-up each)."""
    args = ["compile", str(EX / "digits_cnn/digits_cnn.onnx"), "--calib", str(EX / "digits_cnn/calib.npz"),
            "--target", "accel", "-o", str(tmp_path / "x"), *extra]
    if extra == ["--hw", "bogus=1"]:
        r = subprocess.run([sys.executable, "-m", "qcc.cli", *args], capture_output=True, text=True)
        rc, err = r.returncode, r.stderr
    else:
        capsys.readouterr()
        rc, err = main(args), capsys.readouterr().err
    assert rc == 2
    assert msg in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_toml_config(tmp_path):
    from qcc.backends.accel.hw import load_hw

    p = tmp_path / "hw.toml"
    p.write_text('[accel]\nrows = 32\ncols = 32\nacc_kib = 128\ngemm_overlap = false\n')
    hw = load_hw(str(p))
    assert (hw.rows, hw.pe, hw.acc_rows, hw.gemm_overlap) == (32, 1024, 1024, False)


def test_concat_with_a_constant_part_runs_bit_exact(tmp_path):
    """A ViT's class token: Concat(constant [1, 1, D], patches) (found on a CLIP vision
    export, where it was an internal error).  The constant part has no arena region: the
    concat reads it from a DRAM constant and runs on the accelerator, bit-exact."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((1, 1, 8)).astype(np.float32), "cls"),
             numpy_helper.from_array(rng.standard_normal((8, 8)).astype(np.float32), "w")]
    nodes = [helper.make_node("Concat", ["cls", "x"], ["t"], axis=1),
             helper.make_node("MatMul", ["t", "w"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, tmp_path / "m.onnx")
    np.savez(tmp_path / "calib.npz", x=rng.standard_normal((8, 4, 8)).astype(np.float32))
    np.savez(tmp_path / "test.npz", x=rng.standard_normal((3, 4, 8)).astype(np.float32))
    out = tmp_path / "out"
    assert main(["compile", str(tmp_path / "m.onnx"), "--calib", str(tmp_path / "calib.npz"),
                 "--target", "accel", "-o", str(out), "--quiet"]) == 0
    assert_target_equals_reference(out, tmp_path / "test.npz", tmp_path)
    segs = json.loads((out / "manifest.json").read_text())["accel"]["segments"]
    assert [s["kind"] for s in segs if s["kind"] != "boundary"] == ["accel"], segs
