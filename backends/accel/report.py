"""The accelerator's profile as a text table (``qcc profile``) and its JSON shape.

JSON: ``{"engine": "accel", "unit": "cycles", "hw": {...}, "total": {"cycles", "macs",
"utilization", "pe", "ex_busy_frac", "dma_stall_cycles", "dram_bytes", "time_us",
"host_ops"}, "layers": [{"step", "node", "op", "kernel", "cycles", "macs", "utilization",
"pe", "ex_busy_frac", "dram_bytes", "bound", "roofline_cycles", "roofline_eff",
"span_cycles", "floor_cycles", "floor_terms", "floor_eff", ...}]}``: ``floor_cycles`` is the
layer's latency floor (docs/target_accel.md §4), ``span_cycles`` its first start to last ready.
Cycles come from the timing model, which does not depend on the input values.
"""

from __future__ import annotations


def format_table(res: dict) -> str:
    hw = res["hw"]
    rows = [f"{'step':>4}  {'op':<18} {'cycles':>11} {'MACs':>12} {'util':>6} {'EX busy':>7} "
            f"{'bound':>7} {'roofl.':>6} {'floor':>7} {'DRAM B':>10}  node [tiling]"]
    for r in res["layers"]:
        til = f" [{r['kernel']}]" if r.get("kind") == "gemm" else ""
        rows.append(f"{r['step']:>4}  {r['op']:<18} {r['cycles']:>11,} {r['macs']:>12,} "
                    f"{100 * r['utilization']:5.1f}% {100 * r['ex_busy_frac']:6.1f}% "
                    f"{r['bound']:>7} {100 * r['roofline_eff']:5.1f}% {r.get('floor_cycles', 0):>7,} "
                    f"{r['dram_bytes']:>10,}  "
                    f"{r['node']}{til}")
    t = res["total"]
    rows.append(f"{'':>4}  {'total':<18} {t['cycles']:>11,} {t['macs']:>12,} "
                f"{100 * t['utilization']:5.1f}% {100 * t['ex_busy_frac']:6.1f}% {'':>7} {'':>6} {'':>7} "
                f"{t['dram_bytes']:>10,}  (engine accel)")
    rows.append(f"array {hw['rows']}x{hw['cols']} {hw['dataflow']}, {hw['dram_bytes_per_cycle']} B/cycle: "
                f"{t['cycles']:,} cycles = {t['time_us']:.1f} us at {hw['freq_mhz']} MHz; "
                f"DMA stalls {t['dma_stall_cycles']:,} cycles; {t['host_ops']} host op(s)")
    return "\n".join(rows)
