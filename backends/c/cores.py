"""The Cortex-M cores the C backend builds for and runs under QEMU (backends/c/arm/)."""

from __future__ import annotations

from dataclasses import dataclass

from qcc.errors import BuildError

MACHINE = "mps2-an386"
CPU_FLAGS = ["-mcpu=cortex-m4", "-mthumb"]


@dataclass(frozen=True)
class Core:
    """A Cortex-M core as qcc builds and runs it: compiler flags, QEMU board, linker script,
    build folder and the board's memory map in words (for link errors)."""
    name: str
    flags: tuple
    machine: str
    ld: str
    subdir: str
    memory: str

    @property
    def title(self) -> str:  # "Cortex-M4"
        return self.name.replace("cortex-m", "Cortex-M")


CORES = {
    "cortex-m4": Core("cortex-m4", tuple(CPU_FLAGS), MACHINE, "qcc_m4.ld", "arm_m4",
                      "4 MiB code at 0x00000000, 4 MiB RAM at 0x20000000"),
    # newlib's only Armv8.1-M MVE multilib is hard-float; the model code has no float anyway
    "cortex-m55": Core("cortex-m55", ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
                       "mps3-an547", "qcc_m55.ld", "arm_m55",
                       "vectors in ITCM at 0x0, 16 MiB code at 0x60000000, 16 MiB RAM at 0x61000000"),
}


def core_of(name: str) -> Core:
    if name not in CORES:
        raise BuildError(f"unknown Cortex-M core '{name}' (known: {', '.join(CORES)})")
    return CORES[name]
