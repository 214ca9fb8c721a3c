"""The accelerator's hardware description (docs/target_accel.md §1).

One frozen dataclass holds every parameter the ISA, the simulators and the
lowering depend on: the PE array, the dataflow, the on-chip buffer sizes, the
DRAM bandwidth and the latencies of the timing model.  ``HwConfig()`` is the
documented default (a 16x16 int8 array, 128+128 KiB input/weight buffers,
64 KiB accumulator, 16 bytes/cycle).  Other configurations come from a small
JSON or TOML file (``load_hw``) or ``key=value`` overrides (``parse_overrides``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, fields

from qcc.errors import QccError

DATAFLOWS = ("ws", "os")


@dataclass(frozen=True)
class HwConfig:
    rows: int = 16                 # PE array rows (= DIM: lanes of a buffer row, K of a weight block)
    cols: int = 16                 # PE array columns (= output channels of a weight block)
    dataflow: str = "ws"           # "ws" weight-stationary or "os" output-stationary (timing only)
    inp_kib: int = 128             # input buffer (int8 rows of `rows` lanes)
    wgt_kib: int = 128             # weight buffer (int8 blocks of rows x cols)
    acc_kib: int = 64              # accumulator buffer (int32 rows of `cols` lanes)
    param_kib: int = 8             # requantization parameters (int32 rows of `cols` lanes)
    lut_tables: int = 4            # 256-entry int32 lookup tables
    dram_bytes_per_cycle: int = 16  # DRAM bandwidth
    dma_latency: int = 64          # cycles from a DMA's start to its data being usable
    dma_overhead: int = 4          # issue cycles per DMA instruction
    alu_ii: int = 2                # cycles per ALU row (initiation interval)
    lut_ii: int = 1                # cycles per LUT row
    div_ii: int = 16               # cycles per row of ALU DIV/RDIV/ISQRT (v2; 2 bits per cycle)
    gemm_overlap: bool = True      # weight preload and fill/drain overlap inside one GEMM
    gemm_chain: bool = True        # back-to-back GEMMs stream without a gap (needs gemm_overlap)
    fifo_depth: int = 16           # capacity of each dependency-token FIFO
    onchip_store: bool = True      # v5: STORE can write the input buffer (on-chip layer residency)
    sram_latency: int = 2          # cycles from an on-chip STORE's end to its rows being readable
    store_lut: bool = True         # v5: the STORE epilogue can map its values through a LUT table
    store_radd: bool = True        # v8: the STORE epilogue can add a second int8 operand (residual add)
    im2col_load: bool = True       # v9: a LOAD can build a buffer row from several DRAM pieces (im2col)
    param_prefetch: bool = True    # lowering: a conv/linear loads the next ones' parameters with its own
    radd_wide: bool = True         # v10: the STORE epilogue's residual operand can be int16 (rwide)
    im2col_split: bool = True      # v10: an im2col window may span several buffer rows (IM2COL d)
    freq_mhz: int = 500            # only for reporting time

    # -- derived sizes ------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.rows

    @property
    def pe(self) -> int:
        return self.rows * self.cols

    @property
    def inp_rows(self) -> int:
        return self.inp_kib * 1024 // self.rows

    @property
    def wgt_blocks(self) -> int:
        return self.wgt_kib * 1024 // (self.rows * self.cols)

    @property
    def acc_rows(self) -> int:
        return self.acc_kib * 1024 // (4 * self.cols)

    @property
    def param_rows(self) -> int:
        return self.param_kib * 1024 // (4 * self.cols)

    @property
    def lut_rows_per_table(self) -> int:
        return -(-256 // self.cols)

    @property
    def lut_rows(self) -> int:
        return self.lut_tables * self.lut_rows_per_table

    def sram_bytes(self) -> int:
        return 1024 * (self.inp_kib + self.wgt_kib + self.acc_kib + self.param_kib) \
            + 4 * 256 * self.lut_tables

    def validate(self) -> "HwConfig":
        if self.rows != self.cols:
            raise QccError(f"accelerator config: rows ({self.rows}) must equal cols ({self.cols}) "
                           f"in the ISA (a buffer row feeds one array row per lane)")
        if not 2 <= self.rows <= 128:
            raise QccError(f"accelerator config: rows={self.rows} outside [2, 128]")
        if self.dataflow not in DATAFLOWS:
            raise QccError(f"accelerator config: dataflow '{self.dataflow}' not in {DATAFLOWS}")
        for f in ("inp_kib", "wgt_kib", "acc_kib", "param_kib", "lut_tables",
                  "dram_bytes_per_cycle", "alu_ii", "lut_ii", "div_ii", "fifo_depth", "freq_mhz"):
            if getattr(self, f) < 1:
                raise QccError(f"accelerator config: {f}={getattr(self, f)} must be >= 1")
        if self.dma_latency < 0 or self.dma_overhead < 0 or self.sram_latency < 0:
            raise QccError("accelerator config: latencies must be >= 0")
        limits = {"inp_rows": self.inp_rows, "acc_rows": self.acc_rows,
                  "param_rows": self.param_rows, "wgt_blocks": self.wgt_blocks}
        for k, v in limits.items():
            if not 8 <= v <= 65535:
                raise QccError(f"accelerator config: {k}={v} outside [8, 65535] (16-bit addresses); "
                               f"change the buffer size")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(name: str, value):
    types = {f.name: f.type for f in fields(HwConfig)}
    if name not in types:
        raise QccError(f"accelerator config: unknown key '{name}' (known: {', '.join(sorted(types))})")
    t = types[name]
    try:
        if t in ("bool", bool):
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes")
            return bool(value)
        if t in ("int", int):
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(value)
        return str(value)
    except (TypeError, ValueError):
        raise QccError(f"accelerator config: bad value {value!r} for '{name}' ({t})") from None


def make_hw(values: dict) -> HwConfig:
    """An ``HwConfig`` from a mapping (unknown keys and bad values are errors)."""
    return HwConfig(**{k: _coerce(k, v) for k, v in values.items()}).validate()


def load_hw(path: str) -> HwConfig:
    """Read a JSON (``.json``) or TOML (anything else) hardware description."""
    if not os.path.isfile(path):
        raise QccError(f"accelerator config '{path}' does not exist")
    try:
        if path.endswith(".json"):
            with open(path) as f:
                data = json.load(f)
        else:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                raise QccError(f"accelerator config '{path}': TOML needs Python 3.11; "
                               f"use a .json file") from None
            with open(path, "rb") as f:
                data = tomllib.load(f)
    except (ValueError, OSError) as e:
        raise QccError(f"accelerator config '{path}' is not valid JSON/TOML: {e}") from None
    if not isinstance(data, dict):
        raise QccError(f"accelerator config '{path}' must hold a table of key = value")
    data = data.get("accel", data)
    return make_hw(data)


def parse_overrides(items, base: HwConfig | None = None) -> HwConfig:
    """Apply ``key=value`` strings (``--hw rows=32 --hw dataflow=os``) to ``base``."""
    vals = (base or HwConfig()).to_dict()
    for it in items or ():
        if "=" not in it:
            raise QccError(f"--hw expects key=value, got '{it}'")
        k, v = it.split("=", 1)
        vals[k.strip()] = v.strip()
    return make_hw(vals)


def hw_from_options(opts: dict) -> HwConfig:
    """The configuration selected by compile options ``accel_config`` / ``accel_hw``."""
    path = opts.get("accel_config")
    base = load_hw(path) if path else HwConfig()
    return parse_overrides(opts.get("accel_hw") or (), base)
