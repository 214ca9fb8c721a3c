"""Issue 12, report 10: the C of a keyword-spotting DS-CNN and of a fully connected
autoencoder builds for Cortex-M4 with -Werror at every optimisation level (gcc -O3
once proved an out-of-range row offset "reachable" in qcc_linear's tail loop, whose
start it could not bound after unrolling the four-wide loop:
-Werror=aggressive-loop-optimizations)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from qcc.backends.c import arm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "compiler"))
from qcc_testlib import assert_ok, qcc_inproc  # noqa: E402

torch = pytest.importorskip("torch")
needs_arm = pytest.mark.skipif(not arm.available(), reason=arm.missing_tools() or "ok")
nn = torch.nn


class DsCnn(nn.Module):
    """Hello-Edge style DS-CNN on 49x10 MFCCs, 12 classes (n % 4 != 0 in the Linear)."""

    def __init__(self, c: int = 24):
        super().__init__()
        layers = [nn.Conv2d(1, c, (10, 4), stride=2, padding=(5, 1)), nn.BatchNorm2d(c), nn.ReLU()]
        for _ in range(2):
            layers += [nn.Conv2d(c, c, 3, padding=1, groups=c), nn.ReLU(), nn.Conv2d(c, c, 1), nn.ReLU()]
        self.f, self.fc = nn.Sequential(*layers), nn.Linear(c, 12)

    def forward(self, x):
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.f(x), 1), 1))


class AutoEncoder(nn.Module):
    """The MLPerf-Tiny anomaly-detection shape: 640 -> 128 -> 8 -> 128 -> 640."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(640, 128), nn.ReLU(), nn.Linear(128, 8), nn.ReLU(),
                                 nn.Linear(8, 128), nn.ReLU(), nn.Linear(128, 640))

    def forward(self, x):
        return self.net(x)


@needs_arm
@pytest.mark.parametrize("cls,shape", [(DsCnn, (1, 1, 49, 10)), (AutoEncoder, (1, 640))])
def test_c_builds_for_cortex_m4_with_werror_at_every_level(cls, shape, tmp_path, capsys):
    torch.manual_seed(0)
    path = tmp_path / "m.onnx"
    with torch.no_grad():
        torch.onnx.export(cls().eval(), torch.randn(*shape), str(path), input_names=["x"],
                          opset_version=13, dynamo=False)
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(0).standard_normal((8,) + shape[1:]).astype(np.float32))
    out = tmp_path / "c"
    assert_ok(qcc_inproc(capsys, "compile", path, "--calib", tmp_path / "calib.npz", "--target", "c", "-o", out))
    cc = shutil.which("arm-none-eabi-gcc")
    for opt in ("-O2", "-O3", "-Os"):
        p = subprocess.run([cc, *arm.CPU_FLAGS, opt, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                            "-c", "model.c", "-o", os.devnull], cwd=out, capture_output=True, text=True)
        assert p.returncode == 0, (opt, p.stderr[-2000:])
