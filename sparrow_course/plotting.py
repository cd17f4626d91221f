"""The course's plotting conventions: a title that states the finding, labelled axes, theory dashed, no overlapping text."""
from __future__ import annotations

from itertools import combinations
from typing import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.text import Text

__all__ = ["STYLE", "use_course_style", "finish", "theory", "show", "text_boxes", "text_overlaps",
           "watch_overlaps", "watched_overlaps"]

STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 110,  # sharp enough to read in a notebook; the hygiene test asks >= 100
    "savefig.dpi": "figure",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "legend.frameon": False,
    "svg.hashsalt": "sparrow-course",
}


def use_course_style() -> None:
    """Apply the course's matplotlib style (gridded, >= 100 dpi, deterministic)."""
    matplotlib.rcParams.update(STYLE)


def finish(ax: plt.Axes, *, title: str, xlabel: str, ylabel: str, legend: bool | None = None) -> plt.Axes:
    """Label an axes: ``title`` states the finding, labels carry units; a legend when there are several lines."""
    for name, text in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name} must be a non-empty string: every course plot says what it shows")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    handles, _ = ax.get_legend_handles_labels()
    if legend or (legend is None and len(handles) > 1):
        ax.legend()
    return ax


def theory(ax: plt.Axes, x: Sequence[float], y: Sequence[float], *, label: str, color: str = "black") -> None:
    """Draw a theoretical curve dashed over the measurements."""
    ax.plot(np.asarray(x), np.asarray(y), linestyle="--", color=color, linewidth=1.5, label=label)


def show(fig: plt.Figure | None = None) -> None:
    """Show and close a figure, so notebooks do not accumulate open figures."""
    fig = fig or plt.gcf()
    fig.tight_layout()
    plt.show()
    plt.close(fig)


# --------------------------------------------------------------------------- overlapping text

def _tick_labels(axis) -> list[Text]:
    """The tick labels an axis actually draws: visible, non-empty, at a tick inside the view."""
    lo, hi = sorted(axis.get_view_interval())
    span = (hi - lo) or 1.0
    labels = []
    for tick in axis.get_major_ticks() + axis.get_minor_ticks():
        loc = tick.get_loc()
        if loc is None or not lo - 1e-9 * span <= loc <= hi + 1e-9 * span:
            continue
        for label in (tick.label1, tick.label2):
            if label.get_visible() and label.get_text().strip():
                labels.append(label)
    return labels


def text_boxes(fig: plt.Figure) -> list[tuple[str, object]]:
    """Name and display-space bounding box of every title, axis label and tick label ``fig`` draws."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts: list[tuple[str, Text]] = []
    for name in ("_suptitle", "_supxlabel", "_supylabel"):
        artist = getattr(fig, name, None)
        if artist is not None:
            texts.append((name.strip("_"), artist))
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        where = f"axes {i}"
        for loc, artist in (("title", ax.title), ("left title", getattr(ax, "_left_title", None)),
                            ("right title", getattr(ax, "_right_title", None))):
            if artist is not None:
                texts.append((f"{where} {loc}", artist))
        texts.append((f"{where} x label", ax.xaxis.label))
        texts.append((f"{where} y label", ax.yaxis.label))
        texts += [(f"{where} x tick {t.get_text()!r}", t) for t in _tick_labels(ax.xaxis)]
        texts += [(f"{where} y tick {t.get_text()!r}", t) for t in _tick_labels(ax.yaxis)]
    boxes = []
    for name, artist in texts:
        if artist.get_visible() and artist.get_text().strip():
            boxes.append((name, artist.get_window_extent(renderer)))
    return boxes


def text_overlaps(fig: plt.Figure, *, tolerance: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of texts (titles, axis labels, tick labels) whose boxes overlap by more than ``tolerance`` pixels."""
    boxes = text_boxes(fig)
    found = []
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if width > tolerance and height > tolerance:
            found.append((a, b))
    return found


_WATCHED: list[dict] = []
_ORIGINAL_PRINT_FIGURE = FigureCanvasBase.print_figure


def _print_figure_watching(self, *args, **kwargs):
    figure = self.figure
    title = figure.axes[0].get_title() if figure.axes else ""
    for a, b in text_overlaps(figure):
        _WATCHED.append({"figure": title or getattr(figure, "_suptitle", None) and figure._suptitle.get_text(),
                         "texts": [a, b]})
    return _ORIGINAL_PRINT_FIGURE(self, *args, **kwargs)


def watch_overlaps(on: bool = True) -> None:
    """From now on, record the overlapping texts of every figure rendered to an image (the smoke run uses this)."""
    FigureCanvasBase.print_figure = _print_figure_watching if on else _ORIGINAL_PRINT_FIGURE


def watched_overlaps() -> list[dict]:
    """What ``watch_overlaps`` recorded: one entry per overlapping pair, with the figure's title."""
    return list(_WATCHED)
