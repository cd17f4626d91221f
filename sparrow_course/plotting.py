"""The course's plotting conventions: a title that states the finding, labelled axes, theory dashed."""
from __future__ import annotations

from typing import Sequence

import matplotlib

import matplotlib.pyplot as plt
import numpy as np

STYLE = {
    "figure.figsize": (7.0, 4.0),
    "figure.dpi": 80,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "legend.frameon": False,
    "svg.hashsalt": "sparrow-course",
}


def use_course_style() -> None:
    """Apply the course's matplotlib style (small, gridded, deterministic)."""
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
