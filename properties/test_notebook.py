"""Reports in a notebook: the HTML of a Report, a TaylorReport and a fuzz Campaign, read back with
html.parser (and, where Playwright and a Chromium are installed, rendered in a headless browser);
progress in a running cell; and examples/notebook.ipynb executed in a real kernel (nbclient)."""

import base64
import os
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import gradcheck
from gradcheck.fuzz import Campaign, Worst
from gradcheck.options import Options
from gradcheck.oracle import coverage_set
from gradcheck.taylor import taylor

from .test_oracle import IMPLS

ROOT = Path(__file__).parent.parent
PNG = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """What a reader of the page gets: its text, table rows (cell texts), list items and images."""

    def __init__(self, text: str):
        super().__init__()
        self.texts, self.rows, self.items, self.images = [], [], [], []
        self._row, self._cell, self._item, self._skip = None, None, None, False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "style":
            self._skip = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "li":
            self._item = []
        elif tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag == "style":
            self._skip = False
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "li" and self._item is not None:
            self.items.append("".join(self._item).strip())
            self._item = None

    def handle_data(self, data):
        if self._skip:
            return
        self.texts.append(data)
        for part in (self._cell, self._item):
            if part is not None:
                part.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def row(self, first: str) -> list[str]:
        return next(r for r in self.rows if r and r[0] == first)


def png_of(image: dict) -> bytes:
    src = image["src"]
    assert src.startswith("data:image/png;base64,")
    return base64.b64decode(src.split(",", 1)[1], validate=True)


@pytest.fixture(scope="module")
def failing_report():
    return gradcheck.verify(f"{IMPLS}/bug_no_tanh_deriv.py:grads", examples=20)


@pytest.fixture(scope="module")
def agreeing_report():
    return gradcheck.verify("examples/numpy_batched.py:grads", examples=20)


def test_a_failing_reports_html_holds_verdict_table_findings_and_error_map(failing_report):
    pytest.importorskip("matplotlib")
    page = Page(failing_report._repr_html_())
    assert "DISAGREES" in page.text and "gradients differ in U, W, b_h, h0" in page.text
    worst = failing_report.to_json()["worst"]
    for name in ("U", "W", "V", "b_h", "b_y", "h0"):
        row = page.row(name)
        assert float(row[1]) == pytest.approx(worst[name], rel=1e-2)  # the worst error/tol of the array
    u = page.row("U")
    check = next(c for c in failing_report.failure.checks if c.name == "U")
    assert u[2] == "U[0, 0]" and float(u[5]) == pytest.approx(check.abs_error, rel=1e-2)  # |error|, computed
    assert any("(1 - h_t^2) is missing" in i for i in page.items)  # the diagnosis, as a list item
    assert len(page.images) == 1 and png_of(page.images[0]).startswith(PNG)


def test_an_agreeing_reports_html_has_no_image_and_every_array_within_1(agreeing_report):
    page = Page(agreeing_report._repr_html_())
    assert "AGREES" in page.text and not page.images
    assert {r[0] for r in page.rows[2:]} == {"U", "W", "V", "b_h", "b_y", "h0", "loss"}
    assert all(float(r[1]) <= 1 for r in page.rows[2:])


def test_without_matplotlib_there_is_no_image_and_no_error(failing_report, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    page = Page(failing_report._repr_html_())
    assert "DISAGREES" in page.text and not page.images and page.row("W")


def test_what_the_report_holds_is_escaped():
    from gradcheck.notebook import verdict_html

    page_source = verdict_html(
        {
            "command": "verify",
            "target": "<script>alert(1)</script>",
            "agrees": False,
            "message": "a < b & c",
            "diagnosis": ["<b>bold</b>"],
            "worst": {"<W>": 2.0},
        }
    )
    page = Page(page_source)
    assert "<script>" not in page_source and "<b>bold</b>" not in page_source
    assert "<script>alert(1)</script>" in page.text and "a < b & c" in page.text and "<b>bold</b>" in page.items


def test_a_taylor_reports_html_holds_its_directions_and_remainders():
    pytest.importorskip("matplotlib")
    report = taylor(f"{IMPLS}/bug_no_tanh_deriv.py:grads", Options(), directions=2)
    page = Page(report._repr_html_())
    assert "INCONSISTENT" in page.text
    rates = [float(page.row(str(i + 1))[3]) for i in range(len(report.directions))]
    assert rates == pytest.approx([d.rate for d in report.directions], abs=0.01) and all(r < 1.3 for r in rates)
    assert len(page.images) == 1 and png_of(page.images[0]).startswith(PNG)


def test_a_campaigns_html_holds_its_worst_ratios_and_its_stop():
    worst = Worst()
    worst.record("implementation vs reference", 0.25, coverage_set(Options())[0])
    camp = Campaign(examples=1, seconds=2.0, worst=worst, what="x.py:grads", stopped="the example database went away")
    page = Page(camp._repr_html_())
    assert "gradcheck fuzz x.py:grads: STOPPED, no failure after 1 example" in page.text
    assert page.row("implementation vs reference")[1] == "0.25" and "the example database went away" in page.text


# --- progress in a running cell ----------------------------------------------------------------


def test_progress_is_drawn_in_the_running_cell_and_removed(monkeypatch):
    """In a kernel (IPython with a kernel attached), LiveLine draws into one display handle."""
    pytest.importorskip("IPython")
    import IPython
    import IPython.display

    from gradcheck.progress import LiveLine

    shown = []

    class Handle:
        def update(self, obj):
            shown.append(obj.data)

    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"kernel": object()})())
    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=False: Handle())
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    line = LiveLine(plain_every=None)
    assert line.due()
    line.show("12 problems, now D=3 H=4 K=5 T=6 <")
    line.close()
    assert "12 problems, now D=3 H=4 K=5 T=6 &lt;" in shown[0] and shown[-1] == ""


def test_outside_a_kernel_there_is_no_cell(monkeypatch, capsys):
    from gradcheck.progress import LiveLine

    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    line = LiveLine(plain_every=None)
    assert line.cell is None and not line.due()


# --- the example notebook, in a real kernel ----------------------------------------------------


def executed_notebook():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from jupyter_client.kernelspec import NoSuchKernel

    nb = nbformat.read(ROOT / "examples" / "notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "examples")}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError:
        raise
    except (NoSuchKernel, RuntimeError, TimeoutError) as e:  # no kernel could start: not ours to test
        pytest.skip(f"no Jupyter kernel could start here: {type(e).__name__}: {e}")
    return nb


@pytest.mark.slow
def test_the_example_notebook_runs_and_shows_both_verdicts(monkeypatch):
    pytest.importorskip("matplotlib")  # the kernel runs in this environment: the error map is drawn
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = executed_notebook()
    results = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "execute_result"]
    agrees, disagrees = (Page(o.data["text/html"]) for o in results[:2])
    assert "AGREES" in agrees.text and not agrees.images
    assert "DISAGREES" in disagrees.text and any("W where W^T belongs" in i for i in disagrees.items)
    assert len(disagrees.images) == 1 and png_of(disagrees.images[0]).startswith(PNG)
    assert "gradcheck verify buggy_grads: DISAGREES" in results[1].data["text/plain"]  # the text report
    assert "(False," in results[2].data["text/plain"]


# --- in a browser ------------------------------------------------------------------------------


def browser():
    """Playwright's Chromium, else the system's (/usr/bin/chromium, apt's); skip when neither."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright (pip install playwright)")
    pw = sync_api.sync_playwright().start()
    for kwargs in ({}, {"executable_path": shutil.which("chromium") or "/usr/bin/chromium"}):
        try:
            return pw, pw.chromium.launch(**kwargs)
        except Exception:  # playwright's errors for a browser that is not there
            continue
    pw.stop()
    pytest.skip("no browser: `playwright install chromium` or a system chromium")


# The image as the browser decoded it: complete, its width, and the fraction of its pixels that are
# dark (the error maps' colours; a PNG cut short decodes to its header's size, but blank).
DRAWN = """() => {
    const i = document.querySelector('img'), c = document.createElement('canvas');
    c.width = i.naturalWidth; c.height = i.naturalHeight;
    const g = c.getContext('2d'); g.drawImage(i, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let dark = 0;
    for (let k = 0; k < d.length; k += 4) if (d[k + 3] > 0 && d[k] + d[k + 1] + d[k + 2] < 300) dark++;
    return [i.complete, i.naturalWidth, dark / (d.length / 4)];
}"""


def test_the_html_renders_in_a_headless_browser(failing_report, tmp_path):
    pytest.importorskip("matplotlib")
    pw, chromium = browser()
    try:
        page = chromium.new_page(viewport={"width": 1200, "height": 1000})
        page.set_content(f"<html><body>{failing_report._repr_html_()}</body></html>")
        page.wait_for_load_state()
        assert "DISAGREES" in page.inner_text(".verdict")
        assert page.locator("table tr").count() == 2 + 7  # two header rows, one per array
        complete, width, inked = page.evaluate(DRAWN)
        assert complete and width > 300 and inked > 0.05  # the PNG decoded whole: its maps are drawn
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        chromium.close()
        pw.stop()


def test_the_reader_of_these_tests_reads_rows_cells_and_items():
    """The structural checks above read tables as rows of cells: a check of that reader itself."""
    page = Page("<style>td{}</style><table><tr><th>a</th></tr><tr><td>b <i>c</i></td></tr></table><ul><li>d</li></ul>")
    assert page.rows == [["a"], ["b c"]] and page.items == ["d"] and "td{}" not in page.text
