"""Cortex-M toolchain for the C backend: build with arm-none-eabi-gcc, run on QEMU.

Two cores (``CORES``): ``cortex-m4`` (QEMU ``mps2-an386``, the default everywhere) and
``cortex-m55`` (QEMU ``mps3-an547``, ``-mcpu=cortex-m55 -mfloat-abi=hard``: the DSP and the
Helium/MVE kernel variants); every function below takes ``core=``.

``build(out_dir)`` compiles the generated model sources of a ``qcc compile
--target c`` folder together with a semihosting harness (templates/arm/) into
``out_dir/arm_m4/NAME.elf`` for ``-mcpu=cortex-m4 -mthumb -O2``.
``run_qemu(out_dir, samples)`` runs that ELF on ``qemu-system-arm -M mps2-an386``:
the harness reads the quantized input bytes of all samples from a host file
through semihosting, runs the model once per sample and writes the raw output
bytes back, so one emulator start serves every sample.  ``size(elf)`` reports
flash and RAM from ``arm-none-eabi-size``.

The package has three parts: :mod:`.toolchain` (the harness spec, build and link),
:mod:`.qemu` (running an ELF under QEMU: outputs, instruction counts, measured stack) and
:mod:`.elf` (measuring a built ELF: flash/RAM sizes, static stack bound, imported symbols).
This module re-exports their public API, so callers use ``qcc.backends.c.arm.NAME`` only
(a test of a private helper imports it from its own module).
"""

from __future__ import annotations

from ..cores import CORES, CPU_FLAGS, MACHINE, core_of  # noqa: F401  (M4: the default core)
from .elf import model_imports, section_sizes, size, stack_usage  # noqa: F401
from .qemu import (count_instructions, measure_stack, raw_inputs, run_elf,  # noqa: F401
                   run_harness, run_qemu)
from .toolchain import (BUILD_SUBDIR, CFLAGS, GCC, IN_FILE, LDFLAGS, NM,  # noqa: F401
                        OUT_FILE, PROF_FILE, QEMU, RUNTIME_SOURCES, SIZE, SPIN, SPIN_INSNS,
                        TEMPLATE_DIR, TICKS_FILE, HarnessSpec, Tensor, available, build,
                        build_spec, missing_tools, spec_from_dir)
