"""Reports in a Jupyter notebook: HTML for `_repr_html_`, and progress in the running cell.

The HTML is built from each report's `to_json()` data (the interface that stays put while the
Report itself evolves) plus, for a picture, the arrays of the failure: the verdict, the options,
what was run, the per-array table (worst error/tol of each array, and on a failure its worst
entries), the findings (diagnosis, notes), and the error map of the first failing problem found
as an inline PNG (plot.error_maps: matplotlib, the optional `plot` extra; without it, no image
and no error). Everything taken from the report is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import math
import sys
from typing import Any

_STYLE = (
    "<style>"
    ".gradcheck{font-family:system-ui,sans-serif;font-size:13px;line-height:1.4}"
    ".gradcheck .verdict{font-weight:bold;font-size:15px;padding:2px 6px;border-radius:3px}"
    ".gradcheck .ok{background:#d7f5dd;color:#0b5d1e}.gradcheck .bad{background:#fde0dc;color:#8a1c0c}"
    ".gradcheck table{border-collapse:collapse;margin:6px 0}"
    ".gradcheck td,.gradcheck th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
    ".gradcheck th{background:#f3f3f3}.gradcheck td.name{text-align:left;font-family:monospace}"
    ".gradcheck tr.over td{background:#fff1ef}"
    ".gradcheck .small{color:#555}"
    "</style>"
)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _g(x: Any, digits: int = 3) -> str:
    """A number in a table cell: %.{digits}g, and NaN/inf as written."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return _e(x)
    return _e(f"{v:.{digits}g}") if math.isfinite(v) else _e(v)


def _page(verdict: str, ok: bool, body: list[str]) -> str:
    cls = "ok" if ok else "bad"
    head = f'<p><span class="verdict {cls}">{_e(verdict)}</span></p>'
    return f'{_STYLE}<div class="gradcheck">{head}{"".join(body)}</div>'


def _list(title: str, items: list[str]) -> str:
    if not items:
        return ""
    return f"<p><b>{_e(title)}</b></p><ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _image(png: bytes | None, alt: str) -> str:
    if not png:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{data}" style="max-width:100%"/></p>'


# --- verify, golden check ----------------------------------------------------------------------


def report_html(report) -> str:
    """The HTML of a Report (verify, golden check): from report.to_json(), and the error map of the
    first failing problem the search met (its arrays are not in the JSON)."""
    return verdict_html(report.to_json(), error_map_png(report))


def verdict_html(data: dict[str, Any], png: bytes | None = None) -> str:
    """The HTML of a report's JSON data (render.report_json), with an optional PNG of its error map."""
    ok = bool(data.get("agrees"))
    verdict = f"gradcheck {data.get('command', 'verify')} {data.get('target', '')}: {'AGREES' if ok else 'DISAGREES'}"
    body = [f'<p class="small">options: {_e(_options(data.get("options", {})))}</p>']
    run = data.get("problems_run")
    if run:
        sizes = _sizes(data.get("coverage", {}), data.get("options", {}))
        seconds = _g(data.get("seconds", 0), 2)
        noun = "problem" if run == 1 else "problems"
        body.append(f"<p>{_e(run)} {noun} {'exercised' if ok else 'run'}{_e(sizes)} in {seconds} s</p>")
    failure = data.get("failure")
    if not ok and data.get("message"):
        body.append(f"<p><b>FAILURE:</b> {_e(data['message'])}</p>")
    body.append(_table(data.get("worst", {}), failure))
    body.append(_list("diagnosis", data.get("diagnosis", [])))
    body.append(_list("notes", data.get("notes", [])))
    if data.get("repeated_calls"):
        body.append(f'<p class="small">repeated calls: {_e(data["repeated_calls"])}</p>')
    if failure:
        body.append(f"<p>failing problem: <code>{_e(failure.get('sizes', ''))}</code></p>")
    others = [f for f in data.get("failures", [])[1:] if isinstance(f, dict)]
    body.append(_list("more failures", [f"{f.get('message', '')} ({f.get('sizes', '')})" for f in others]))
    body.append(_image(png, "error map of the first failing problem: log10 error/tol per entry"))
    return _page(verdict, ok, body)


def _options(options: dict[str, Any]) -> str:
    keys = ("loss", "dtype", "batch", "batch_loss", "layer", "reference", "examples", "seed")
    return ", ".join(f"{k}={options[k]}" for k in keys if k in options)


def _sizes(coverage: dict[str, Any], options: dict[str, Any]) -> str:
    """The sizes run, as the text report gives them: no K for the layer alone, no N without a batch."""
    s = coverage.get("sizes") if isinstance(coverage, dict) else None
    if not isinstance(s, dict):
        return ""
    skip = ({"K"} if options.get("layer") else set()) | (set() if options.get("batch") else {"N"})
    shown = [f"{k} {v[0]}..{v[1]}" for k, v in s.items() if isinstance(v, (list, tuple)) and k not in skip]
    return " (" + ", ".join(shown) + ")"


def _table(worst: dict[str, float], failure: dict[str, Any] | None) -> str:
    """One row per array: the worst error/tol over every problem run, and on the failing problem
    its worst entry (implementation, reference, |error|, tolerance, entries over)."""
    checks = {c["name"]: c for c in (failure or {}).get("checks", []) if isinstance(c, dict) and "name" in c}
    names = list(dict.fromkeys([*worst, *checks]))
    if not names:
        return ""
    head = '<tr><th rowspan="2">array</th><th rowspan="2">worst error/tol<br/>(every problem run)</th>'
    if checks:
        head += (
            '<th colspan="6">on the failing problem: the worst entry</th></tr><tr><th>entry</th>'
            "<th>implementation</th><th>reference</th><th>|error|</th><th>tol</th><th>entries over</th>"
        )
    else:
        head += "</tr><tr>"
    rows = [head + "</tr>"]
    for n in names:
        c = checks.get(n)
        ratio = max(worst.get(n, 0.0), c["ratio"] if c else 0.0)
        cells = f'<td class="name">{_e(n)}</td><td>{_g(ratio)}</td>'
        if checks:
            if c:
                idx = "[" + ", ".join(map(str, c.get("index") or ())) + "]" if c.get("index") else ""
                over = f"{_e(c.get('failing', ''))} of {_e(c.get('entries', ''))}"
                cells += (
                    f'<td class="name">{_e(n + idx)}</td><td>{_g(c.get("actual"), 10)}</td>'
                    f"<td>{_g(c.get('reference'), 10)}</td><td>{_g(_abs_error(c))}</td>"
                    f"<td>{_g(c.get('tol'))}</td><td>{over}</td>"
                )
            else:
                cells += "<td></td>" * 6
        mark = ' class="over"' if ratio > 1 else ""
        rows.append(f"<tr{mark}>{cells}</tr>")
    return "<table>" + "".join(rows) + "</table>"


def _abs_error(check: dict[str, Any]) -> float:
    """|implementation - reference| at the worst entry (a property of ParamCheck, not in its JSON)."""
    try:
        return abs(float(check["actual"]) - float(check["reference"]))
    except (KeyError, TypeError, ValueError):
        return float("nan")


def error_map_png(report) -> bytes | None:
    """plot.error_maps of the first failing problem the search met (as `verify --plot` draws it),
    as PNG bytes; None when there is no numeric failure or no matplotlib."""
    failures = getattr(report, "failures", ())
    f = failures[0].failure.first if failures else None  # the first failure's first failing problem
    if f is None or getattr(f.kind, "value", "") != "mismatch" or not f.result:
        return None
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    from .plot import error_maps
    from .render import case_sizes

    buffer = io.BytesIO()
    error_maps(buffer, f.result, f.reference, f.tolerance, f"first failing problem found, {case_sizes(f.case)}")
    return buffer.getvalue()


# --- taylor ------------------------------------------------------------------------------------


def taylor_html(report) -> str:
    """The HTML of a TaylorReport: from report.to_json(), with r0 and r1 against eps drawn."""
    data = report.to_json()
    return taylor_verdict_html(data, taylor_png(data))


def taylor_verdict_html(data: dict[str, Any], png: bytes | None = None) -> str:
    ok = bool(data.get("consistent"))
    verdict = f"gradcheck taylor {data.get('target', '')}: {'CONSISTENT' if ok else 'INCONSISTENT'}"
    body = []
    if data.get("failure"):
        body.append(f"<p><b>FAILURE:</b> {_e(data['failure'])}</p>")
    directions = data.get("directions", [])
    if directions:
        rows = ["<tr><th>direction</th><th>problem</th><th>verdict</th><th>rate of r1</th></tr>"]
        for i, d in enumerate(directions):
            over = "" if d.get("verdict") == "consistent" else ' class="over"'
            rows.append(f'<tr{over}><td>{i + 1}</td><td class="name">{_e(d.get("sizes", ""))}</td>'
                        f'<td>{_e(d.get("verdict", ""))}</td><td>{_g(d.get("rate"))}</td></tr>')  # fmt: skip
        body.append("<table>" + "".join(rows) + "</table>")
        body.append(
            '<p class="small">r1 = |E(θ + eps v) - E(θ) - eps g.v| falls at rate 2 when g is the gradient of '
            "the implementation's own loss E, at rate 1 when it is not</p>"
        )
    if not ok and directions:
        body.append("<p>the gradient is not the gradient of the loss the implementation returns</p>")
    body.append(_image(png, "r0 and r1 against eps"))
    return _page(verdict, ok, body)


def taylor_png(data: dict[str, Any]) -> bytes | None:
    """r0 and r1 against eps (log-log) for each direction; None without matplotlib or data."""
    directions = [d for d in data.get("directions", []) if d.get("eps")]
    if not directions:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, d in enumerate(directions):
        ax.loglog(d["eps"], d["r1"], marker=".", label=f"r1, direction {i + 1} ({d.get('verdict')})")
        ax.loglog(d["eps"], d["r0"], ls=":", lw=1, label=f"r0, direction {i + 1}")
    ax.set(xlabel="eps", ylabel="remainder", title=f"Taylor remainders: {data.get('target', '')}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


# --- fuzz --------------------------------------------------------------------------------------


def campaign_html(data: dict[str, Any]) -> str:
    """The HTML of a fuzz campaign's summary (fuzz.Campaign.to_json())."""
    failed, stopped = bool(data.get("failure")), data.get("stopped")
    word = "FAILED" if failed else "STOPPED, no failure" if stopped else "no failure"
    n = data.get("examples", 0)
    verdict = f"gradcheck fuzz {data.get('what', '')}: {word} after {n} example{'' if n == 1 else 's'}"
    body = [f'<p class="small">{_g(data.get("seconds", 0), 3)} s</p>']
    if stopped:
        body.append(f"<p><b>STOPPED:</b> {_e(stopped)}</p>")
    worst = data.get("worst", {})
    if worst:
        rows = ["<tr><th>comparison</th><th>worst error/tol</th></tr>"]
        for k, v in sorted(worst.items()):
            over = ' class="over"' if v > 1 else ""
            rows.append(f'<tr{over}><td class="name">{_e(k)}</td><td>{_g(v)}</td></tr>')
        body.append("<table>" + "".join(rows) + "</table>")
    regimes, not_judged = data.get("regimes", {}), data.get("not_judged", {})
    if regimes:
        body.append(
            '<p class="small">examples per regime (not judged): '
            + _e("; ".join(f"{r} {k} ({not_judged.get(r, 0)})" for r, k in sorted(regimes.items())))
            + "</p>"
        )
    if failed:
        body.append(f"<p><b>FAILURE:</b></p><pre>{_e(data['failure'])}</pre>")
    return _page(verdict, not failed and not stopped, body)


# --- progress in a running cell ----------------------------------------------------------------


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython with a kernel attached)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except AttributeError:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


class CellLine:
    """A status text shown in the running cell and redrawn in place (IPython's display handles:
    no widget library needed), removed when closed."""

    def __init__(self):
        from IPython.display import HTML, display

        self._html = HTML
        self.handle = display(HTML(""), display_id=True)

    def update(self, text: str) -> None:
        self.handle.update(self._html(f'<pre class="gradcheck-progress">{_e(text)}</pre>'))

    def close(self) -> None:
        self.handle.update(self._html(""))
