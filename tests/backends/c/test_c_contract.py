"""The C primitives (templates/kernels/common.h, lut) against the contract vectors of
qcc.lower.contract, bit for bit (one gcc build for all vectors)."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

from qcc.lower import contract

from c_testlib import needs_gcc

pytestmark = needs_gcc
KERNELS = os.path.join(os.path.dirname(contract.__file__), "..", "..", "backends", "c",
                       "templates", "kernels")
KERNELS = os.path.normpath(KERNELS)


def _arr(name: str, a, ctype: str = "int64_t") -> str:
    body = ", ".join(f"{int(v)}LL" if ctype == "int64_t" else str(int(v)) for v in a)
    return f"static const {ctype} {name}[] = {{ {body or '0'} }};\n"


# The driver of the vectors declared by _harness: one value (or "ok y") per line, in the order
# test_c_primitives_reproduce_the_contract_vectors reads them.
_MAIN = """
int main(void)
{{
    size_t i;
    for (i = 0; i < {n_r}; i++)
        printf("%lld\\n", (long long)qcc_rshift_round(rshift_round_x[i], (int32_t)rshift_round_s[i]));
    for (i = 0; i < {n_q}; i++)
        printf("%d\\n", qcc_requant(requant_acc[i], (int32_t)requant_m[i], (int32_t)requant_s[i],
                                   (int32_t)requant_zp[i], (int32_t)requant_lo[i],
                                   (int32_t)requant_hi[i]));
    /* the vectorized int8 path, where it accepts the parameters (-1: declined) */
    for (i = 0; i < {n_q}; i++) {{
        int32_t acc = (int32_t)requant_acc[i];
        int8_t y = 0;
        int ok = requant_lo[i] >= -128 && requant_hi[i] <= 127
            && qcc_requant_i8_u64(&acc, 1, (int32_t)requant_m[i], (int32_t)requant_s[i],
                                  (int32_t)requant_zp[i], (int32_t)requant_lo[i],
                                  (int32_t)requant_hi[i], &y);
        printf("%d %d\\n", ok, (int)y);
    }}
    for (i = 0; i < {n_sat}; i++)
        printf("%d\\n", qcc_clamp(saturate_x[i], (int32_t)saturate_lo[i], (int32_t)saturate_hi[i]));
    {{
        uint8_t table[256], x[256], y[256];
        int u;
        for (u = 0; u < 2; u++) {{
            const int32_t *xs = u ? lut_uint8_x : lut_int8_x;
            const int32_t *ts = u ? lut_uint8_table : lut_int8_table;
            qcc_lut_p p;
            p.count = 256, p.x_unsigned = u;
            for (i = 0; i < 256; i++)
                table[i] = (uint8_t)ts[i], x[i] = (uint8_t)xs[i];
            qcc_lut(&p, x, table, y);
            for (i = 0; i < 256; i++)
                printf("%d\\n", (int)(int8_t)y[i]);
        }}
    }}
    {{
        int8_t row[64];
        for (i = 0; i < sizeof packed_int4_bytes / sizeof *packed_int4_bytes; i++)
            row[i] = (int8_t)packed_int4_bytes[i];
        for (i = 0; i < {n_int4}; i++)
            printf("%d\\n", qcc_wget(row, (int32_t)packed_int4_t[i], 4));
        for (i = 0; i < sizeof packed_int2_bytes / sizeof *packed_int2_bytes; i++)
            row[i] = (int8_t)packed_int2_bytes[i];
        for (i = 0; i < {n_int2}; i++)
            printf("%d\\n", qcc_wget(row, (int32_t)packed_int2_t[i], 2));
    }}
    return 0;
}}
"""


def _harness(vs: dict) -> str:
    r, q, sat = vs["rshift_round"], vs["requant"], vs["saturate"]
    src = ['#include <stdio.h>\n#include "common.h"\n#include "lut_row.h"\n#include "lut.h"\n#include "lut.c"\n']
    for v in (r, q, sat):
        for k, a in v.inputs.items():
            src.append(_arr(f"{v.name}_{k}", a))
    for name in ("lut_int8", "lut_uint8", "packed_int4", "packed_int2"):
        for k, a in vs[name].inputs.items():
            src.append(_arr(f"{name}_{k}", a, "int32_t"))
    src.append(_MAIN.format(n_r=len(r), n_q=len(q), n_sat=len(sat), n_int4=len(vs["packed_int4"]),
                            n_int2=len(vs["packed_int2"])))
    return "".join(src)


@pytest.mark.parametrize("opt", ["-O0", "-O3"])
def test_c_primitives_reproduce_the_contract_vectors(tmp_path, opt):
    vs = {v.name: v for v in contract.all_vectors()}
    for f in ("common.h", "lut_row.h", "lut.h", "lut.c"):
        shutil.copy(os.path.join(KERNELS, f), tmp_path / f)
    (tmp_path / "h.c").write_text(_harness(vs))
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", opt, "-o", str(tmp_path / "h"),
                    str(tmp_path / "h.c")], check=True, capture_output=True, text=True)
    lines = subprocess.run([str(tmp_path / "h")], check=True, capture_output=True,
                           text=True).stdout.split("\n")
    pos = 0

    def take(n):
        nonlocal pos
        pos += n
        return lines[pos - n:pos]

    r, q = vs["rshift_round"], vs["requant"]
    contract.assert_exact(np.array(take(len(r)), np.int64), r.expected, "qcc_rshift_round")
    contract.assert_exact(np.array(take(len(q)), np.int64), q.expected, "qcc_requant")
    fast = np.array([ln.split() for ln in take(len(q))], np.int64)
    took = fast[:, 0] == 1
    assert took.sum() > 100   # the vectorized path accepted most int8 cases
    contract.assert_exact(fast[took, 1], q.expected[took], "qcc_requant_i8_u64")
    for name in ("saturate", "lut_int8", "lut_uint8", "packed_int4", "packed_int2"):
        v = vs[name]
        contract.assert_exact(np.array(take(len(v)), np.int64), v.expected, name)
