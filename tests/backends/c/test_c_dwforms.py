"""The Arm DSP depthwise forms rendered per model (QCC_DW_FORMS, backends/c/dwforms.py): an
image links only the forms its convs take, each conv still finds its form, and a conv whose
form is left out runs on the table kernel, bit-exact either way (QEMU's Cortex-M4)."""

from __future__ import annotations

from pathlib import Path

from qcc.backends.c import arm, dwforms
from qcc.interp import Interpreter

from c_testlib import Cases, _assert_equal, add_depthwise, emit_c, needs_arm

ALL = ["-DQCC_DW_FORMS=0x1ffff"]


def _model(seed: int) -> Cases:
    """3x3 stride 2 (a pair form), 3x3 stride 1 on an even width over an odd height (the 2x2
    form and its last row's pair form), 5x5 stride 1 on rows of 8 (a quad form), 5x5 stride 1
    on an input of two rows (the two-row form)."""
    cs = Cases(seed)
    add_depthwise(cs, 1, 3, (9, 10), (3, 3), (2, 2), [1, 1, 1, 1])
    add_depthwise(cs, 1, 2, (7, 6), (3, 3), (1, 1), [1, 1, 1, 1])
    add_depthwise(cs, 1, 2, (6, 8), (5, 5), (1, 1), [2, 2, 2, 2])
    add_depthwise(cs, 1, 2, (2, 12), (5, 5), (1, 1), [2, 2, 2, 2])
    return cs


def test_mask_names_the_two_row_form_for_5x5_convs_on_inputs_of_two_rows():
    base = {"c": 4, "group": 4, "dh": 1, "dw": 1, "kh": 5, "kw": 5, "sh": 1, "sw": 1,
            "lo": -128, "hi": 127, "ow": 96, "oh": 2, "h": 2}
    assert dwforms.conv_forms(base) == dwforms.R2S1W
    assert dwforms.conv_forms(dict(base, lo=0)) == dwforms.R2S1N
    assert dwforms.conv_forms(dict(base, sw=2, ow=48)) == dwforms.R2S2W
    assert dwforms.conv_forms(dict(base, sw=2, ow=48, hi=6)) == dwforms.R2S2N
    # three input rows: a window can hold three, the quad form
    assert dwforms.conv_forms(dict(base, h=3, oh=3)) == dwforms.Q5S1W


@needs_arm
def test_cortex_m4_renders_only_the_depthwise_forms_its_convs_take(tmp_path):
    cs = _model(5)
    d = Path(tmp_path) / "c"
    want = Interpreter(cs.g).run(cs.feeds)
    emit_c(cs.g, str(d))
    assert "#define QCC_DW_FORMS" in (d / "qcc_kernels.h").read_text()
    n_model = arm.count_instructions(d, [cs.feeds])[0]
    flash_model = arm.size(arm.build(d))["model_flash_bytes"]
    _assert_equal(want, arm.run_qemu(d, [cs.feeds])[0], "C, the model's forms")
    n_all = arm.count_instructions(d, [cs.feeds], extra_cflags=ALL)[0]
    flash_all = arm.size(arm.build(d, ALL))["model_flash_bytes"]
    # every conv took its form (the table kernel would cost thousands of instructions more;
    # the masks' tests fold differently, and the count's resolution is 40 instructions)
    assert abs(n_model - n_all) <= 200, (n_model, n_all)
    assert flash_model < flash_all - 1000, (flash_model, flash_all)
    # none linked: every conv on the table kernel, still bit-exact
    none = ["-DQCC_DW_FORMS=0"]
    _assert_equal(want, arm.run_qemu(d, [cs.feeds], extra_cflags=none)[0], "C, no forms")
    n_none = arm.count_instructions(d, [cs.feeds], extra_cflags=none)[0]
    assert n_none > n_model + 2000, (n_none, n_model)
