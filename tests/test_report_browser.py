"""The HTML report in a real headless Chromium: charts render with a size, no console errors, a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cryptokit import run
from tests.reportkit import build_fleet

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian package chromium)")

# Measures the rendered SVGs after layout and writes the result into the DOM (read back with --dump-dom).
# The report itself has no script (its CSP forbids scripts): this probe is added to a copy for the test only.
PROBE = """<script>
window.addEventListener('load', () => {
  const sizes = [...document.querySelectorAll('svg')].map(s => {
    const r = s.getBoundingClientRect(); return Math.round(r.width) + 'x' + Math.round(r.height); });
  const bars = [...document.querySelectorAll('#timeline rect.bar')].filter(b => b.getBBox().height > 0).length;
  const lines = [...document.querySelectorAll('svg.spark polyline')].filter(p => p.getBBox().width > 0).length;
  const out = document.createElement('pre'); out.id = 'probe-result';
  out.textContent = 'svgs=' + sizes.join(',') + ' bars=' + bars + ' lines=' + lines;
  document.body.appendChild(out);
});
</script>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def html_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    bundle = build_fleet(tmp)
    out = tmp / "report.html"
    proc = run("report", str(bundle), "--format", "html", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return out


def test_html_is_self_contained(html_report: Path) -> None:
    page = html_report.read_text()
    assert "<script" not in page and not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the case title from the bundle, escaped


def test_charts_render_in_headless_chromium(html_report: Path, tmp_path: Path) -> None:
    # the page as shipped: a screenshot, and no console errors (its CSP would report violations there)
    shot = tmp_path / "report.png"
    proc = chromium("--window-size=1280,2400", f"--screenshot={shot}", html_report.as_uri(), profile=tmp_path / "p1")
    assert shot.exists() and shot.stat().st_size > 20_000, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines()
               if "CONSOLE" in line or "Uncaught" in line or "Content Security Policy" in line]
    assert console == [], console
    # a copy with a measuring script: SVG charts laid out with nonzero sizes
    probe = tmp_path / "probe.html"
    probe.write_text(html_report.read_text().replace('<meta http-equiv="Content-Security-Policy"', '<meta name="x"')
                     .replace("</body>", PROBE + "</body>"))
    proc = chromium("--window-size=1280,2400", "--dump-dom", probe.as_uri(), profile=tmp_path / "p2")
    m = re.search(r'<pre id="probe-result">svgs=([^ ]*) bars=(\d+) lines=(\d+)</pre>', proc.stdout)
    assert m, proc.stdout[-2000:] + proc.stderr[-2000:]
    sizes = [tuple(map(int, s.split("x"))) for s in m.group(1).split(",")]
    assert len(sizes) >= 7 and all(w > 0 and h > 0 for w, h in sizes), sizes  # timeline + 6 sparklines
    assert sizes[0][0] > 500  # the timeline spans the page
    assert int(m.group(2)) >= 4 and int(m.group(3)) >= 6
    assert "Uncaught" not in proc.stderr
    shutil.copy(shot, Path(tmp_path) / "kept-screenshot.png")
