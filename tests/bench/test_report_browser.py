"""The HTML report as a reader sees it: rendered by headless Chromium (Debian's
``chromium``, installed by .ci/run), with a check script that reads the laid-out page,
and a screenshot.  Ticks: round, distinct per axis, no exponent notation, inside the
figure; per-layer bars carry names; the error column and low SQNR rows are explained.

The report data is a real ``qcc bench digits_cnn light_shufflenet --quick`` run
(data/report_quick_digits_shufflenet.json, 2026-12-05) plus the cases a user hit: a
flat SQNR axis, 25 MiB weights and a 4.7e16 absolute error."""

from __future__ import annotations

import copy
import html
import json
import os
import re
import shutil
import struct
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcc.bench import report
from qcc.bench.ticks import byte_ticks, value_ticks

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "report_quick_digits_shufflenet.json")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# runs in the page after layout; writes what it measured into <pre id="qcc-check">
CHECK_JS = r"""
<script>
const figs = [];
document.querySelectorAll('figure svg').forEach(svg => {
  const sb = svg.getBoundingClientRect();
  const axes = {};
  const texts = [...svg.querySelectorAll('text')];
  svg.querySelectorAll('text.tick').forEach(t => {
    const k = t.classList.contains('name') ? 'names' : t.getAttribute('text-anchor');
    (axes[k] = axes[k] || []).push(t.textContent.trim());
  });
  const outside = texts.filter(t => { const b = t.getBoundingClientRect();
    return b.width > 0 && (b.left < sb.left - 1 || b.right > sb.right + 1 ||
                           b.top < sb.top - 1 || b.bottom > sb.bottom + 1); })
    .map(t => t.textContent.trim());
  const flat = [...svg.querySelectorAll('text.tick:not(.name)')].map(t => t.getBoundingClientRect());
  let overlaps = 0;
  for (let i = 0; i < flat.length; i++) for (let j = i + 1; j < flat.length; j++) {
    const a = flat[i], b = flat[j];
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) overlaps++;
  }
  figs.push({title: svg.querySelector('title').textContent, axes, outside, overlaps,
             bars: svg.querySelectorAll('rect').length, w: sb.width, h: sb.height});
});
const pre = document.createElement('pre');
pre.id = 'qcc-check';
pre.textContent = JSON.stringify(figs);
document.body.appendChild(pre);
</script>
"""


def _doc() -> dict:
    with open(DATA) as f:
        doc = json.load(f)
    doc = copy.deepcopy(doc)
    digits, shuffle = doc["models"]
    # a flat SQNR axis: both engines at nearly the same SQNR (was "61, 61, 60, 60 dB")
    for k in ("qcc", "ort_minmax", "ort_best"):
        digits["accuracy"][k]["sqnr_db"] = 60.4 if k == "qcc" else 60.38
    # big weights (was "2.6e+04 KiB") and a huge absolute error next to a fine SQNR
    shuffle["memory"].update(weight_bytes=25_834_393, float_weight_bytes=102_440_652,
                             ort_int8_weight_bytes=25_900_000)
    shuffle["accuracy"]["qcc"]["max_abs"] = 4.72e16
    return doc


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, ("headless Chromium is needed for the report test: apt-get install chromium "
                 "(.ci/run installs it)")
    return exe


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    md = report.write_all(_doc(), str(out))
    page = (out / "report.html").read_text()
    (out / "check.html").write_text(page.replace("</body>", CHECK_JS + "</body>"))
    exe = _chromium()
    common = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={out / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", (out / "check.html").as_uri()],
                         capture_output=True, text=True, timeout=180)
    assert dom.returncode == 0, dom.stderr[-2000:]
    m = re.search(r'<pre id="qcc-check">(.*?)</pre>', dom.stdout, re.S)
    assert m, "the check script did not run: " + dom.stdout[-500:]
    shot = subprocess.run([*common, "--window-size=1200,3000",
                           f"--screenshot={out / 'report.png'}", (out / "report.html").as_uri()],
                          capture_output=True, text=True, timeout=180)
    assert shot.returncode == 0, shot.stderr[-2000:]
    return md, page, json.loads(html.unescape(m.group(1))), out / "report.png"


def test_screenshot_is_a_real_page(rendered):
    *_, png = rendered
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    assert (w, h) == (1200, 3000)
    assert len(data) > 50_000  # text, tables and plots, not a blank page


def test_every_axis_has_distinct_round_labels_inside_the_figure(rendered):
    _, _, figs, _ = rendered
    assert len(figs) >= 5
    for f in figs:
        assert not f["outside"], (f["title"], f["outside"])
        assert f["overlaps"] == 0, f["title"]
        for axis, labels in f["axes"].items():
            if axis == "names":
                continue
            assert len(labels) == len(set(labels)), (f["title"], labels)
            for lab in labels:
                assert re.fullmatch(r"-?[\d,]+(\.\d+)? ?(dB|B|KiB|MiB|µs|ms|s)", lab), (f["title"], lab)


def test_flat_axis_and_big_sizes_read_well(rendered):
    _, _, figs, _ = rendered
    digits = next(f for f in figs if f["title"].startswith("digits_cnn: weight bytes"))
    assert len(digits["axes"]["end"]) >= 2
    shuffle = next(f for f in figs if f["title"].startswith("light_shufflenet: weight bytes"))
    assert all(lab.endswith("MiB") for lab in shuffle["axes"]["middle"]), shuffle["axes"]


def test_per_layer_bars_are_named(rendered):
    _, page, figs, _ = rendered
    doc = _doc()
    for f in figs:
        if "SQNR per quantized layer" not in f["title"]:
            continue
        model = f["title"].split(" ")[0]
        layers = next(r["layers"] for r in doc["models"] if r["model"] == model)
        names = f["axes"].get("names", [])
        assert names and len(names) >= min(len(layers), 40) // 2, f["title"]
        assert all(n for n in names)


def test_error_column_and_low_sqnr_rows_are_explained(rendered):
    md, page, _, _ = rendered
    assert "4.72e+16" not in page and "4.72e+16" not in md
    assert "largest magnitude" in page  # what the error column is
    row = next(ln for ln in md.splitlines() if ln.startswith("| light_shufflenet |"))
    assert "⚠" in row
    assert re.search(r"Low SQNR \(below 20 dB.*light_shufflenet \(5\.\d dB\)", md)


@settings(max_examples=200, deadline=None)
@given(st.floats(-200, 200), st.floats(0, 300))
def test_value_ticks_are_distinct_and_inside(lo, width):
    ticks = value_ticks(lo, lo + width, "dB")
    labels = [t for _, t in ticks]
    assert len(ticks) >= 2 and len(set(labels)) == len(labels)
    assert all("e" not in t for t in labels)


@settings(max_examples=200, deadline=None)
@given(st.floats(1, 1e9), st.floats(1.1, 50.0))
def test_byte_ticks_use_one_readable_unit(lo, ratio):
    ticks = byte_ticks(lo, lo * ratio)
    labels = [t for _, t in ticks]
    assert len(ticks) >= 2 and len(set(labels)) == len(labels)
    assert len({t.split()[-1] for t in labels}) == 1
    assert all("e" not in t.split()[0] for t in labels)
    assert all(lo * (1 - 1e-9) <= v <= lo * ratio * (1 + 1e-9) for v, _ in ticks)
