"""Measuring a Cortex-M ELF built by :func:`.toolchain.build`: flash and RAM per section class
(``arm-none-eabi-size -A``, less what the linker discarded), the static worst-case stack of
the model's entry point (GCC's ``-fcallgraph-info=su`` call graph) and the symbols the model
imports from libc/libgcc (``arm-none-eabi-nm``)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from qcc.errors import BuildError

from .toolchain import NM, SIZE, _tool


def size(elf: str | os.PathLike) -> dict:
    """Flash and RAM of an ELF built by :func:`build` (bytes, from ``arm-none-eabi-size -A``).

    ``text`` counts code, constants and the vector table; ``data`` initialised
    variables (stored in flash, copied to RAM); ``bss`` zeroed variables;
    ``arena`` the model's activation arena and ``stack`` the harness stack
    (both NOLOAD sections of their own).  ``flash_bytes = text + data`` and
    ``ram_bytes = data + bss + arena`` (stack excluded).  ``model_*`` repeat the
    numbers for the generated model's object files alone (no harness, no libc), less the
    sections the linker discarded (the map file's list);
    ``model_stack_bytes`` is the worst-case stack of ``NAME_run`` (:func:`stack_usage`),
    which the caller's stack must hold on top of ``ram_bytes``.
    """
    elf = Path(elf)
    out = section_sizes([str(elf)])
    out["flash_bytes"] = out["text"] + out["data"]
    out["ram_bytes"] = out["data"] + out["bss"] + out["arena"]
    objs = elf.parent / "objects.json"
    if objs.exists():
        model = json.loads(objs.read_text())["model"]
        m = section_sizes(model) if model else {"text": 0, "data": 0, "bss": 0}
        gone = _classify(_discarded(elf.with_suffix(".map"), model))
        out["model_flash_bytes"] = m["text"] + m["data"] - gone["text"] - gone["data"]
        out["model_ram_bytes"] = m["data"] + m["bss"] + out["arena"]
        out["model_stack_bytes"] = stack_usage(elf.parent, f"{elf.stem}_run")
    return out


_CI_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?\\n(\d+) bytes \((\w+)')
_CI_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def stack_usage(build_dir: str | os.PathLike, entry: str) -> int | None:
    """Worst-case stack bytes of ``entry`` and its callees, from GCC's ``-fcallgraph-info=su``.

    The deepest call chain through the model's own functions (``*.ci`` files of
    the model objects).  Library leaves (memcpy, memset, libgcc helpers) count 0.
    None when unknown: no call graph, a dynamically sized frame, an indirect
    call or recursion.
    """
    frames: dict[str, tuple[int, bool]] = {}
    calls: dict[str, set[str]] = {}
    files = sorted(Path(build_dir).glob("*.ci"))
    for f in files:
        text = f.read_text()
        for title, n, kind in _CI_NODE.findall(text):
            frames[title] = (int(n), kind == "static")
        for src, dst in _CI_EDGE.findall(text):
            calls.setdefault(src, set()).add(dst)
    if entry not in frames:
        return None
    memo: dict[str, int | None] = {}

    def depth(fn: str, path: frozenset) -> int | None:
        if fn in path or fn.startswith("__indirect_call"):
            return None
        if fn not in memo:
            n, static = frames.get(fn, (0, True))
            subs = [depth(c, path | {fn}) for c in calls.get(fn, ())]
            memo[fn] = None if not static or None in subs else n + max(subs, default=0)
        return memo[fn]

    return depth(entry, frozenset())


def model_imports(elf: str | os.PathLike) -> list[str]:
    """Symbols the generated model's objects take from outside them (libc, libgcc).

    For the portable-C contract: expect only ``memcpy``/``memset`` and libgcc's
    integer helpers (``__aeabi_ldivmod`` ...); a ``__aeabi_f*``/``__aeabi_d*``
    would mean float arithmetic, ``malloc``/``printf`` a runtime dependency.
    """
    objs = Path(elf).parent / "objects.json"
    if not objs.exists():
        raise BuildError(f"'{objs}' is missing; build the model with arm.build first")
    model = json.loads(objs.read_text())["model"]
    res = _tool([NM, "-g", *model], "listing the model's symbols")
    defined, undefined = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3:
            defined.add(parts[2])
    return sorted(undefined - defined)


def section_sizes(files: list[str]) -> dict:
    """Bytes per section class (``text``, ``data``, ``bss``, ``arena``, ``stack``; as in
    :func:`size`) of ELF or object files, summed."""
    return _classify(_sections(files))


def _sections(files: list[str]) -> list[tuple[str, int]]:
    res = _tool([SIZE, "-A", *files], "measuring section sizes")
    rows = []
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            rows.append((parts[0], int(parts[1])))
    return rows


def _discarded(map_path: Path, objects: list[str]) -> list[tuple[str, int]]:
    """Sections of ``objects`` that the linker dropped (``--gc-sections``: functions no call
    reaches once inlined), from the map file's "Discarded input sections"."""
    text = map_path.read_text() if map_path.exists() else ""
    if "Discarded input sections" not in text:
        return []
    block = text.split("Discarded input sections", 1)[1].split("Memory Configuration", 1)[0]
    toks, rows, objs = block.split(), [], {os.path.abspath(o) for o in objects}
    for i in range(len(toks) - 3):  # name, address, size, object
        if toks[i].startswith(".") and toks[i + 1].startswith("0x") and toks[i + 2].startswith("0x"):
            if os.path.abspath(toks[i + 3]) in objs:
                rows.append((toks[i], int(toks[i + 2], 16)))
    return rows


def _classify(sections: list[tuple[str, int]]) -> dict:
    out = {"text": 0, "data": 0, "bss": 0, "arena": 0, "stack": 0}
    for name, n in sections:
        if name.startswith((".text", ".rodata", ".vectors", ".ARM.exidx")):
            out["text"] += n
        elif name.startswith(".data"):
            out["data"] += n
        elif name.startswith((".bss", "COMMON")):
            out["bss"] += n
        elif name.startswith(".qcc_arena"):
            out["arena"] += n
        elif name == ".stack":
            out["stack"] += n
    return out
