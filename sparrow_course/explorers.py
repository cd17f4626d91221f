"""Explorers: turn a knob, see the system answer.

An explorer is a few lines in a notebook over a package function that returns a figure's data::

    from sparrow_course import explorers
    explorers.explore(
        compute=balancing.explore_cluster,       # compute(**values) -> result, tested in the package
        draw=balancing.draw_cluster,             # draw(result, fig) fills a matplotlib Figure
        controls={"nodes": explorers.slider(4, 16, 1, 8),
                  "strategy": explorers.choice(["ring", "modulo"], "ring")},
        summary=balancing.cluster_summary,       # summary(result) -> the numbers to print, as text
    )

What it shows, in this order:

1. **The default state, as ordinary outputs**: the figure of ``compute(**defaults)`` (an image, shown
   through pyplot like every course figure) and the printed ``summary`` text. This is what nbval
   compares, what the notebook rendered on GitHub shows, and what a reader without a kernel sees.
2. **The live explorer**, in a kernel with a widget front end (JupyterLab ships one): the controls and
   a live area below them. Moving a control recomputes and redraws *there*: the figure as a PNG, the
   numbers as text, and a line naming the setting. Its plain-text form is a fixed sentence (see
   :meth:`Explorer.__repr__` of the widget box), so nbval compares the same words on every run and
   the random widget model id (which nbval skips) never matters.

Updates are **debounced**: a callback only records the latest values; one worker thread computes,
and when it finishes it runs once more with whatever is latest by then, skipping every value that
came and went while it worked. A dragged slider therefore never queues work, and the figure always
ends on the value the slider stopped at (:class:`LatestOnly`).

``Explorer.update(**values)`` runs the same path synchronously, without a browser: the tests use it,
and so can a learner in a plain Python shell. ``Explorer.expected(**values)`` recomputes from
scratch what the live area must show for a setting (the browser test compares the two).
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from .checks import check_number, check_str, describe

__all__ = ["Control", "Explorer", "Frame", "LatestOnly", "button", "choice", "explore", "explorers", "live_report",
           "slider"]

#: dots per inch of the live figure (the static default figure follows the course style)
LIVE_DPI = 90
#: every explorer made in this process, newest last (the browser test reads them through the kernel)
_EXPLORERS: list["Explorer"] = []


# --------------------------------------------------------------------------- controls

@dataclass(frozen=True)
class Control:
    """One knob of an explorer: its kind, its default value and what the widget needs."""

    kind: str  # "slider", "choice" or "button"
    value: Any
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    options: tuple = ()

    def validate(self, value: Any, name: str) -> Any:
        """Return ``value`` if this control can take it; a clear error otherwise."""
        if self.kind == "slider":
            number = check_number(value, name, low=self.lo, high=self.hi)
            return int(number) if self.integer else number
        if self.kind == "choice":
            if value not in self.options:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, self.options))}; got {describe(value)}")
            return value
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {describe(value)} of type {type(value).__name__}")
        return value

    @property
    def integer(self) -> bool:
        return self.kind == "slider" and all(float(v).is_integer() for v in (self.lo, self.hi, self.step, self.value))

    def widget(self, name: str):
        """The ipywidgets control for this knob (sliders report only on release of a drag: no queued work)."""
        import ipywidgets as widgets

        label = name.replace("_", " ")
        style = {"description_width": "initial"}
        if self.kind == "slider":
            cls = widgets.IntSlider if self.integer else widgets.FloatSlider
            cast = int if self.integer else float
            return cls(value=cast(self.value), min=cast(self.lo), max=cast(self.hi), step=cast(self.step),
                       description=label, continuous_update=False, style=style)
        if self.kind == "choice":
            return widgets.Dropdown(options=list(self.options), value=self.value, description=label, style=style)
        return widgets.ToggleButton(value=self.value, description=label, style=style)


def slider(lo: float, hi: float, step: float, value: float) -> Control:
    """A slider from ``lo`` to ``hi`` in steps of ``step``, starting at ``value`` (integers give an integer slider)."""
    lo = check_number(lo, "lo")
    hi = check_number(hi, "hi")
    step = check_number(step, "step", low=0, include_low=False)
    if not lo < hi:
        raise ValueError(f"lo must be below hi, got lo={lo:g} and hi={hi:g}")
    value = check_number(value, "value", low=lo, high=hi)
    if all(v.is_integer() for v in (lo, hi, step, value)):  # an integer slider gives compute integers
        lo, hi, step, value = int(lo), int(hi), int(step), int(value)
    return Control("slider", value, lo, hi, step)


def choice(options: Sequence[Any], value: Any) -> Control:
    """A drop-down of ``options`` (at least two), starting at ``value``."""
    if isinstance(options, (str, bytes)) or not isinstance(options, Sequence):
        raise TypeError(f"options must be a list of choices, got {describe(options)} of type {type(options).__name__}")
    options = tuple(options)
    if len(options) < 2 or len(set(map(repr, options))) != len(options):
        raise ValueError(f"options must hold at least two distinct choices, got {list(options)!r}")
    if value not in options:
        raise ValueError(f"value must be one of the options {list(options)!r}; got {describe(value)}")
    return Control("choice", value, options=options)


def button(value: bool = False) -> Control:
    """A toggle button: ``compute`` gets False until it is pressed, True while it is down (e.g. "node joins")."""
    if not isinstance(value, bool):
        raise TypeError(f"value must be True or False, got {describe(value)} of type {type(value).__name__}")
    return Control("button", value)


# --------------------------------------------------------------------------- debouncing

class LatestOnly:
    """Run ``work(item)`` on one worker thread, for the latest item only.

    ``submit`` never blocks and never queues: it replaces whatever is waiting. When the worker finishes
    an item it takes the latest one submitted meanwhile (if any), so of a burst of submissions during one
    run only the last is ever run. ``wait`` blocks until the worker is idle (tests and scripts use it).
    An exception in ``work`` goes to ``on_error`` (default: re-raised in the worker and lost), and the
    worker carries on with the next item.
    """

    def __init__(self, work: Callable[[Any], Any], on_error: Callable[[BaseException], Any] | None = None):
        if not callable(work):
            raise TypeError(f"work must be callable, got {describe(work)}")
        self._work, self._on_error = work, on_error
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._pending: list = []  # zero or one item
        self._running = False
        self.runs = 0  # how many items were run

    def submit(self, item: Any) -> None:
        """Make ``item`` the next to run, replacing any item still waiting."""
        with self._lock:
            self._pending[:] = [item]
            if self._running:
                return
            self._running = True
            self._idle.clear()
        threading.Thread(target=self._loop, name="explorer-update", daemon=True).start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._running = False
                    self._idle.set()
                    return
                item = self._pending.pop()
            try:
                self._work(item)
            except BaseException as error:  # noqa: BLE001 - reported, and the worker must survive it
                if self._on_error is not None:
                    self._on_error(error)
            finally:
                self.runs += 1

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing runs or waits; True unless ``timeout`` ran out first."""
        return self._idle.wait(timeout)


# --------------------------------------------------------------------------- the explorer

def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _setting_text(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} = {value:g}" if isinstance(value, float) else f"{name} = {value}"
                     for name, value in values.items())


@dataclass
class Frame:
    """What the explorer shows for one setting: the values, the figure as PNG bytes and the printed numbers."""

    values: dict
    png: bytes
    text: str

    @property
    def png_sha256(self) -> str:
        return hashlib.sha256(self.png).hexdigest()


@dataclass
class Explorer:
    """A live figure over ``compute(**values)``; see the module docstring."""

    compute: Callable[..., Any]
    draw: Callable[[Any, Any], Any]
    controls: dict
    summary: Callable[[Any], str] | None = None
    figsize: tuple = (9.0, 3.6)
    title: str = ""
    frames: int = 0  # how many frames the live area has shown
    last: Frame | None = None
    error: str | None = None
    _widgets: dict = field(default_factory=dict, repr=False)
    _live: Any = field(default=None, repr=False)
    _margins: dict | None = field(default=None, repr=False)

    def __post_init__(self):
        if not callable(self.compute) or not callable(self.draw):
            raise TypeError("compute and draw must be functions: compute(**values) -> result, draw(result, fig)")
        if self.summary is not None and not callable(self.summary):
            raise TypeError(f"summary must be a function summary(result) -> str or None, got {describe(self.summary)}")
        if not isinstance(self.controls, Mapping) or not self.controls:
            raise TypeError("controls must be a non-empty dict of name -> explorers.slider(...) / choice(...) / button()")
        for name, control in self.controls.items():
            check_str(name, "a control's name")
            if not isinstance(control, Control):
                raise TypeError(f"control {name!r} must be made by explorers.slider, choice or button, "
                                f"got {describe(control)}")
        self.controls = dict(self.controls)
        self._updates = LatestOnly(self._show, on_error=self._report)

    # the pure path: values -> result -> figure and text
    @property
    def defaults(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def values(self, **changes: Any) -> dict:
        """The defaults with ``changes`` applied, each checked against its control."""
        unknown = sorted(set(changes) - set(self.controls))
        if unknown:
            raise ValueError(f"unknown control(s) {unknown}; this explorer has {sorted(self.controls)}")
        values = self.defaults | changes
        return {name: self.controls[name].validate(value, name) for name, value in values.items()}

    def text(self, result: Any) -> str:
        return "" if self.summary is None else str(self.summary(result))

    def figure(self, result: Any):
        """A new (pyplot-free) Figure with ``result`` drawn on it, at the live area's resolution.

        The first figure is laid out by ``tight_layout``; later ones reuse its margins, which saves a
        third of an update (the panels and their labels stay the same as the knobs move).
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.figsize, dpi=LIVE_DPI)
        FigureCanvasAgg(fig)  # a canvas of its own: drawn off pyplot, from any thread, measurable for overlaps
        self.draw(result, fig)
        if self._margins is None:
            fig.tight_layout()
            p = fig.subplotpars
            self._margins = dict(left=p.left, right=p.right, bottom=p.bottom, top=p.top, wspace=p.wspace,
                                 hspace=p.hspace)
        else:
            fig.subplots_adjust(**self._margins)
        return fig

    def expected(self, **values: Any) -> Frame:
        """What the live area must show for this setting, computed from scratch."""
        values = self.values(**values)
        result = self.compute(**values)
        return Frame(values, _png(self.figure(result)), self.text(result))

    # the live path
    def update(self, **values: Any) -> Frame:
        """Recompute and redraw the live area for this setting now (synchronously); return what it shows."""
        frame = self.expected(**values)
        self.frames += 1
        self.last = frame
        if self._live is not None:
            encoded = base64.b64encode(frame.png).decode("ascii")
            self._live.value = (
                f'<div class="sparrow-explorer-live" data-frame="{self.frames}" data-sha256="{frame.png_sha256}">'
                f'<p class="sparrow-explorer-setting">At {html.escape(_setting_text(frame.values))}:</p>'
                f'<img style="max-width:100%" alt="the explorer\'s figure at this setting" '
                f'src="data:image/png;base64,{encoded}"/>'
                f'<pre class="sparrow-explorer-numbers">{html.escape(frame.text)}</pre></div>')
        return frame

    def submit(self, **values: Any) -> None:
        """Ask for an update (debounced: only the latest of a burst runs); returns at once."""
        self._updates.submit(values)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every submitted update has been shown."""
        return self._updates.wait(timeout)

    def _show(self, values: dict) -> None:
        self.error = None
        self.update(**values)

    def _report(self, error: BaseException) -> None:
        self.error = f"{type(error).__name__}: {error}"
        if self._live is not None:
            self._live.value = f'<pre class="sparrow-explorer-error">{html.escape(self.error)}</pre>'

    def _on_change(self, _change=None) -> None:
        self.submit(**{name: w.value for name, w in self._widgets.items()})

    def widget(self):
        """The controls and the live area, as one ipywidgets box (made once)."""
        import ipywidgets as widgets

        if self._live is None:
            self._widgets = {name: control.widget(name) for name, control in self.controls.items()}
            for w in self._widgets.values():
                w.observe(self._on_change, names="value")
            self._live = widgets.HTML(
                value='<p class="sparrow-explorer-setting">The figure and numbers above are the default setting; '
                      'move a control to recompute them here.</p>')
            self._box = _ExplorerBox([widgets.HBox(list(self._widgets.values()),
                                                   layout=widgets.Layout(flex_flow="row wrap")), self._live])
            self._box.add_class("sparrow-explorer")
        return self._box


def _box_class():
    import ipywidgets as widgets

    class ExplorerBox(widgets.VBox):
        """The live explorer; its plain-text form is one fixed sentence (what nbval compares)."""

        def __repr__(self) -> str:
            return "Explorer: move a control to recompute the figure (needs a running kernel in JupyterLab)."

    return ExplorerBox


class _LazyBox:
    def __call__(self, children):
        return _box_class()(children=children)


_ExplorerBox = _LazyBox()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def explore(compute: Callable[..., Any], draw: Callable[[Any, Any], Any], controls: Mapping[str, Control],
            summary: Callable[[Any], str] | None = None, *, figsize: tuple = (9.0, 3.6)) -> Explorer:
    """Show ``compute`` at its defaults (figure and numbers, as ordinary outputs) and, in a kernel, the live controls.

    ``compute(**values)`` gets one value per control and returns the figure's data; ``draw(result, fig)``
    draws it on a matplotlib Figure; ``summary(result)`` returns the numbers to print, as text.
    Returns the :class:`Explorer` (its ``update`` and ``expected`` run the live path without a browser).
    """
    explorer = Explorer(compute, draw, dict(controls), summary, figsize=tuple(figsize))
    result = compute(**explorer.values())
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=explorer.figsize)
    draw(result, fig)
    fig.tight_layout()
    plt.show()
    plt.close(fig)
    text = explorer.text(result)
    if text:
        print(text)
    _EXPLORERS.append(explorer)
    if _in_kernel():
        from IPython.display import display

        display(explorer.widget())
    return explorer


def explorers() -> list[Explorer]:
    """The explorers made in this process, in order (the browser test checks each through this)."""
    return list(_EXPLORERS)


def live_report() -> list[dict]:
    """For each explorer of this process: its controls' current widget values, what the live area shows, and
    what the package computes from scratch for that setting and for the defaults (the browser test compares them)."""
    report = []
    for explorer in _EXPLORERS:
        now = {name: w.value for name, w in explorer._widgets.items()} if explorer._widgets else explorer.defaults
        fresh, default = explorer.expected(**now), explorer.expected()
        report.append({"values": now, "defaults": explorer.defaults, "frames": explorer.frames, "error": explorer.error,
                       "shown_sha256": explorer.last.png_sha256 if explorer.last else None,
                       "sha256": fresh.png_sha256, "text": fresh.text,
                       "default_sha256": default.png_sha256, "default_text": default.text})
    return report
