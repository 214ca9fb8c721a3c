import numpy as np
import pytest

from fusion_testlib import LIGHT, check_pass, cleaned, f32, ops, torch_graph
from qcc.ir import Graph


def _bn(g, x, c, rng, name):
    cs = [g.add_const(f"{name}.{k}", a.astype(np.float32)) for k, a in
          (("g", rng.uniform(0.5, 2, c)), ("b", rng.uniform(-1, 1, c)),
           ("m", rng.uniform(-1, 1, c)), ("v", rng.uniform(0.5, 2, c)))]
    return g.make("onnx.BatchNormalization", [x] + cs, [x.type], {"epsilon": 1e-3}, name=name)


def _graph():
    rng = np.random.default_rng(1)
    g = Graph(opset=17)
    x = g.add_input("x", f32((1, 3, 8, 8)))
    w = g.add_const("w", rng.standard_normal((8, 3, 3, 3)).astype(np.float32))
    conv = g.make("onnx.Conv", [x, w], [f32((1, 8, 8, 8))], {"pads": [1, 1, 1, 1]}, name="conv")
    bn = _bn(g, conv.outputs[0], 8, rng, "bn")
    relu = g.make("onnx.Relu", [bn.outputs[0]], [f32((1, 8, 8, 8))], name="relu")
    lone = _bn(g, relu.outputs[0], 8, rng, "lone")          # no foldable producer
    flat = g.make("onnx.Reshape", [lone.outputs[0], g.add_const("s", np.array([1, 512]))],
                  [f32((1, 512))], name="flat")
    wl = g.add_const("wl", rng.standard_normal((512, 6)).astype(np.float32))
    mm = g.make("onnx.MatMul", [flat.outputs[0], wl], [f32((1, 6))], name="mm")
    add = g.make("onnx.Add", [mm.outputs[0], g.add_const("bl", np.ones(6, np.float32))],
                 [f32((1, 6))], name="add")
    bn2 = _bn(g, add.outputs[0], 6, rng, "bn2")
    g.outputs = [bn2.outputs[0]]
    return g


def test_fold_small_ir():
    g = _graph()
    names = {"bn": g.node_by_name("bn").outputs[0], "lone": g.node_by_name("lone").outputs[0]}
    check_pass(g, ["fold-batchnorm"])
    c = ops(g)
    assert "onnx.BatchNormalization" not in c and "onnx.Conv" not in c and "onnx.MatMul" not in c
    assert c["fused.conv"] == 2 and c["fused.linear"] == 1
    # the fused nodes define the very same value objects (calibration names)
    assert names["bn"].producer.op == "fused.conv"
    dw = names["lone"].producer
    assert dw.op == "fused.conv" and dw.attrs["group"] == 8


def test_no_fold_when_conv_has_other_user():
    g = _graph()
    conv = g.node_by_name("conv")
    g.outputs.append(conv.outputs[0])
    check_pass(g, ["fold-batchnorm"])
    assert ops(g)["onnx.Conv"] == 1


def test_torch_export_convtranspose_and_lone_bn():
    import torch
    import torch.nn as nn

    class M(nn.Module):
        def __init__(s):
            super().__init__()
            s.c, s.bn2 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
            s.ct, s.bn3 = nn.ConvTranspose2d(8, 4, 2, stride=2), nn.BatchNorm2d(4)
            for b in (s.bn2, s.bn3):
                b.running_mean.uniform_(-1, 1), b.running_var.uniform_(0.5, 2)
                b.weight.data.uniform_(0.5, 2), b.bias.data.uniform_(-1, 1)

        def forward(s, x):
            return s.bn3(s.ct(s.bn2(torch.relu(s.c(x)) + 1)))

    torch.manual_seed(0)
    g = torch_graph(M(), (1, 3, 8, 8))
    assert ops(g)["onnx.BatchNormalization"] == 2
    check_pass(g, ["fold-batchnorm"])
    c = ops(g)
    assert "onnx.BatchNormalization" not in c and c["fused.conv_transpose"] == 1


@pytest.mark.slow
def test_light_inception_v2():
    """Caffe2 BN + per-channel Mul/Add after every conv all fold into the conv."""
    g = cleaned(f"{LIGHT}/light_inception_v2.onnx")
    check_pass(g, ["fold-batchnorm"])
    c = ops(g)
    assert "onnx.BatchNormalization" not in c and "onnx.Mul" not in c
    assert c["fused.conv"] == 69


def test_lone_bn_on_a_flattened_linear_output_quantizes(tmp_path):
    """LeViT's Linear -> flatten -> BatchNorm1d -> unflatten: the BN stays alone on a rank-2
    tensor and becomes Mul + Add after calibration ran; the new Mul's range is derived
    (x's range scaled per channel, y's shifted back), so quantization does not stop on
    'no calibrated range'.  C bit-exact, close to float onnxruntime."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from qcc.bench.accuracy import ort_outputs
    from qcc.bench.metrics import sqnr_db
    from qcc.commands import run_artifact
    from qcc.driver import CompileOptions, compile_model

    rng = np.random.default_rng(2)
    inits = {"w": rng.standard_normal((8, 6)).astype(np.float32),
             "flat": np.array([-1, 6], np.int64), "back": np.array([1, 5, 6], np.int64),
             "g": rng.uniform(0.5, 2, 6).astype(np.float32), "b": rng.uniform(-1, 1, 6).astype(np.float32),
             "m": rng.uniform(-1, 1, 6).astype(np.float32), "v": rng.uniform(0.5, 2, 6).astype(np.float32)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["l"]),
             helper.make_node("Reshape", ["l", "flat"], ["f"]),
             helper.make_node("BatchNormalization", ["f", "g", "b", "m", "v"], ["n"]),
             helper.make_node("Reshape", ["n", "back"], ["y"])]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    path = str(tmp_path / "m.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    np.savez(tmp_path / "calib.npz", x=rng.standard_normal((16, 5, 8)).astype(np.float32))
    test = {"x": rng.standard_normal((4, 5, 8)).astype(np.float32)}
    out = str(tmp_path / "c")
    compile_model(path, CompileOptions(target="c", out_dir=out,
                                       options={"calib": str(tmp_path / "calib.npz"), "quiet": True}))
    got, want = run_artifact(out, test, "target"), run_artifact(out, test, "reference")
    np.testing.assert_array_equal(got["y"], want["y"])
    assert sqnr_db(ort_outputs(path, test), want["y"]) >= 25.0  # three int8 steps: 27.5 dB
