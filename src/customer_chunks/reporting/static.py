"""Static PNG versions of plotly figures for the PDF, drawn with matplotlib.

No browser is involved (plotly's own static export, kaleido, needs Chromium). The
project's reports display each plotly figure together with a matplotlib PNG that
they draw themselves (``reports/_common.py``, ``show_plotly``), which the PDF uses as
is; :func:`plotly_png` is the fallback for a plotly output that came without one.
It draws ``scatter``/``scattergl`` (markers, lines, text) and ``bar`` traces with
their names, colours, the title and axis titles; other trace types are listed as
skipped. O(points) time and memory.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["plotly_png"]

DPI = 100  # the PDF maps 100 px to an inch, as for the reports' matplotlib figures
_DEFAULT_COLOURS = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3"]


def _array(value: Any) -> np.ndarray | None:
    """A trace's data array: plain lists or plotly's typed arrays ({dtype, bdata})."""
    if value is None:
        return None
    if isinstance(value, Mapping) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        if shape:
            dims = [int(n) for n in str(shape).split(",")] if isinstance(shape, str) else shape
            data = data.reshape(dims)
        return data
    return np.asarray(value, dtype=object)


def _text(value: Any) -> str:
    """A layout title: plotly stores it as a string or as ``{"text": ...}``."""
    if isinstance(value, Mapping):
        value = value.get("text")
    return "" if value is None else str(value)


def _numeric(values: np.ndarray) -> bool:
    try:
        values.astype(float)
    except (TypeError, ValueError):
        return False
    return True


def plotly_png(fig: Any, width_px: int = 900, height_px: int = 500) -> tuple[bytes, list[str]]:
    """Draw the plotly figure ``fig`` (its JSON dict or string) as a PNG.

    Returns the PNG bytes and the trace types it could not draw (empty when every
    trace is in the picture). ``width_px`` x ``height_px`` at 100 dpi.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(fig, str):
        fig = json.loads(fig)
    layout = fig.get("layout", {}) or {}
    template = (layout.get("template") or {}).get("layout", {}) or {}
    colours = layout.get("colorway") or template.get("colorway") or _DEFAULT_COLOURS

    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    skipped: list[str] = []
    named = 0
    for position, trace in enumerate(fig.get("data", []) or []):
        kind = trace.get("type", "scatter")
        colour = (trace.get("marker") or {}).get("color")
        if not isinstance(colour, str):
            colour = colours[position % len(colours)]
        name = trace.get("name")
        named += bool(name)
        x, y = _array(trace.get("x")), _array(trace.get("y"))
        if kind in ("scatter", "scattergl") and y is not None:
            x = np.arange(len(y)) if x is None else x
            mode = trace.get("mode") or "markers"
            if trace.get("visible") is False or trace.get("visible") == "legendonly":
                continue
            if "lines" in mode:
                ax.plot(x, y, color=colour, label=name, lw=1.5)
            if "markers" in mode:
                size = (trace.get("marker") or {}).get("size", 6)
                size = float(size) if isinstance(size, int | float) else 6.0
                opacity = (trace.get("marker") or {}).get("opacity", 0.8)
                opacity = float(opacity) if isinstance(opacity, int | float) else 0.8
                label = None if "lines" in mode else name
                ax.scatter(x, y, s=size**2 / 2, color=colour, alpha=opacity, label=label, lw=0)
            labels = _array(trace.get("text"))
            if "text" in mode and labels is not None and labels.shape == np.shape(x):
                for xi, yi, ti in zip(x, y, labels, strict=True):
                    ax.annotate(
                        str(ti),
                        (xi, yi),
                        fontsize=7,
                        xytext=(0, 5),
                        textcoords="offset points",
                        ha="center",
                    )
        elif kind == "bar" and x is not None and y is not None:
            horizontal = trace.get("orientation") == "h"
            cats, vals = (y, x) if horizontal else (x, y)
            cats = cats if _numeric(cats) else cats.astype(str)
            draw = ax.barh if horizontal else ax.bar
            draw(cats, vals.astype(float), color=colour, label=name)
        else:
            skipped.append(str(kind))
    ax.set_title(_text(layout.get("title")), fontsize=11, fontweight="bold")
    ax.set_xlabel(_text((layout.get("xaxis") or {}).get("title")), fontsize=9)
    ax.set_ylabel(_text((layout.get("yaxis") or {}).get("title")), fontsize=9)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    if named > 1 and layout.get("showlegend", True) is not False:
        legend = layout.get("legend") or {}
        ax.legend(
            title=_text(legend.get("title")) or None,
            fontsize=8,
            frameon=False,
            markerscale=2,
            loc="best",
        )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue(), sorted(set(skipped))
