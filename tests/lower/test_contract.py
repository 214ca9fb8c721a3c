"""qcc.lower.contract: the golden vectors agree with an independent big-integer model of
docs/arithmetic.md and cover the edges they promise."""

from __future__ import annotations

import numpy as np
import pytest

from qcc.lower import contract


def _requant_bigint(acc, m, s, zp, lo, hi):
    return min(max((acc * m + (1 << (s - 1))) // (1 << s) + zp, lo), hi)   # floor division


def test_requant_vectors_match_a_bigint_model_and_cover_ties_and_saturation():
    v = contract.requant_vectors()
    cols = [v.inputs[k].tolist() for k in ("acc", "m", "s", "zp", "lo", "hi")]
    want = [_requant_bigint(*row) for row in zip(*cols)]
    assert v.expected.tolist() == want
    acc, m, s = (v.inputs[k].astype(object) for k in ("acc", "m", "s"))
    prod = acc * m
    ties = [(p % (1 << int(k))) == (1 << (int(k) - 1)) for p, k in zip(prod, s)]
    assert sum(t and p < 0 for t, p in zip(ties, prod)) >= 3      # negative ties round up
    assert sum(t and p > 0 for t, p in zip(ties, prod)) >= 3
    assert (v.expected == v.inputs["lo"]).sum() > 50 and (v.expected == v.inputs["hi"]).sum() > 50
    assert {contract.I32_MIN, contract.I32_MAX} <= set(v.inputs["acc"].tolist())
    assert {1, 62} <= set(v.inputs["s"].tolist())


def test_rshift_and_saturate_vectors_match_python_ints():
    r = contract.rshift_round_vectors()
    assert r.expected.tolist() == [(x + (1 << (s - 1))) >> s for x, s in
                                   zip(r.inputs["x"].tolist(), r.inputs["s"].tolist())]
    sv = contract.saturate_vectors()
    assert sv.expected.tolist() == [min(max(x, lo), hi) for x, lo, hi in
                                    zip(*(sv.inputs[k].tolist() for k in ("x", "lo", "hi")))]


def test_lut_and_packed_vectors():
    i8, u8 = contract.lut_vectors()
    table = i8.inputs["table"]
    assert i8.expected.tolist() == table[i8.inputs["x"] + 128].tolist()
    assert u8.expected.tolist() == table[u8.inputs["x"]].tolist()
    for v, bits in zip(contract.packed_weight_vectors(), (4, 2)):
        per = 8 // bits
        b = v.inputs["bytes"].astype(np.int64) & 0xFF
        fields = [(int(b[t // per]) >> ((t % per) * bits)) & ((1 << bits) - 1)
                  for t in v.inputs["t"].tolist()]
        signed = [f - (1 << bits) if f >= 1 << (bits - 1) else f for f in fields]
        assert signed == v.expected.tolist()
        assert set(range(-(1 << (bits - 1)), 1 << (bits - 1))) <= set(signed)


def test_assert_exact_names_the_differences():
    contract.assert_exact([1, 2, 3], np.array([1, 2, 3]), "ok")
    with pytest.raises(AssertionError, match=r"prim: 1 of 3 values differ: \[2\] 4 != 3"):
        contract.assert_exact([1, 2, 4], [1, 2, 3], "prim")
    with pytest.raises(AssertionError, match="shape"):
        contract.assert_exact([1, 2], [1, 2, 3], "prim")
