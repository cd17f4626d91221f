"""Course figures are sharp and their text never overlaps.

Every figure function of the package is found and rendered: a public function named
``plot_*`` or annotated to return a matplotlib ``Figure``. It is called with no arguments,
or with the arguments its module lists in ``FIGURE_EXAMPLES = {"plot_x": (args, kwargs)}``.
The figures the notebooks draw are checked the same way by the smoke run
(``tests/test_notebook_smoke.py``), which watches every figure a notebook renders.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

import sparrow_course
from sparrow_course import plotting

from sparrow_course.runtime import TENSORFLOW_MODULES  # scanned in the slow run only


def _modules(include_tensorflow: bool) -> list:
    names = sorted(m.name for m in pkgutil.walk_packages(sparrow_course.__path__, "sparrow_course."))
    return [importlib.import_module(n) for n in names if include_tensorflow or n not in TENSORFLOW_MODULES]


def figure_functions(modules) -> list[tuple[str, object, tuple, dict]]:
    """(name, function, args, kwargs) of every figure function defined in ``modules``."""
    found = []
    for module in modules:
        examples = getattr(module, "FIGURE_EXAMPLES", {})
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or fn.__module__ != module.__name__:
                continue
            returns = str(inspect.signature(fn).return_annotation)
            if name.startswith("plot_") or "Figure" in returns:
                args, kwargs = examples.get(name, ((), {}))
                found.append((f"{module.__name__}.{name}", fn, tuple(args), dict(kwargs)))
    return found


def _render(fn, args, kwargs) -> plt.Figure:
    plotting.use_course_style()
    before = set(plt.get_fignums())
    result = fn(*args, **kwargs)
    if isinstance(result, plt.Figure):
        fig = result
    elif isinstance(result, plt.Axes):
        fig = result.figure
    else:
        new = [n for n in plt.get_fignums() if n not in before]
        assert new, f"{fn.__name__} neither returned nor drew a figure"
        fig = plt.figure(new[-1])
    fig.tight_layout()  # as plotting.show does
    return fig


FAST = figure_functions(_modules(include_tensorflow=False))


@pytest.mark.parametrize("name,fn,args,kwargs", FAST, ids=[f[0] for f in FAST])
def test_figure_function_draws_sharp_figure_without_overlapping_text(name, fn, args, kwargs):
    fig = _render(fn, args, kwargs)
    try:
        assert fig.dpi >= 100, f"{name} draws at {fig.dpi} dpi"
        assert not plotting.text_overlaps(fig), f"{name}: overlapping text {plotting.text_overlaps(fig)}"
        for ax in fig.axes:
            assert ax.get_xlabel() or ax.get_ylabel() or not ax.has_data(), f"{name}: label the axes"
    finally:
        plt.close(fig)


@pytest.mark.tensorflow
def test_figure_functions_of_tensorflow_chapters():
    for name, fn, args, kwargs in figure_functions([importlib.import_module(m) for m in sorted(TENSORFLOW_MODULES)]):
        fig = _render(fn, args, kwargs)
        assert not plotting.text_overlaps(fig), f"{name}: overlapping text {plotting.text_overlaps(fig)}"
        plt.close(fig)


def test_discovery_finds_figure_functions_and_their_examples():
    import types

    module = types.ModuleType("fake_chapter")

    def plot_curve(n: int) -> plt.Figure:
        fig, ax = plt.subplots()
        ax.plot(range(n))
        return fig

    def helper() -> int:
        return 1
    for f in (plot_curve, helper):
        f.__module__ = "fake_chapter"
        setattr(module, f.__name__, f)
    module.FIGURE_EXAMPLES = {"plot_curve": ((3,), {})}
    found = figure_functions([module])
    assert [(n, a) for n, _, a, _ in found] == [("fake_chapter.plot_curve", (3,))]
    plt.close(_render(*found[0][1:]))


def test_course_style_is_sharp():
    assert plotting.STYLE["figure.dpi"] >= 100
    plotting.use_course_style()
    fig, ax = plt.subplots()
    assert fig.dpi >= 100
    plt.close(fig)


def test_a_clean_figure_has_no_overlaps():
    plotting.use_course_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="measured")
    plotting.theory(ax, [0, 1], [0, 1.1], label="theory")
    plotting.finish(ax, title="Measured follows theory", xlabel="requests (thousands)", ylabel="hit ratio")
    fig.tight_layout()
    assert plotting.text_overlaps(fig) == []
    plt.close(fig)


def test_crowded_tick_labels_are_caught():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar([f"a long category name {i}" for i in range(5)], [1, 2, 3, 4, 5])
    found = plotting.text_overlaps(fig)
    assert found and all("x tick" in a and "x tick" in b for a, b in found)
    plt.close(fig)


def test_a_title_over_the_panel_above_is_caught_and_tight_layout_fixes_it():
    fig, axes = plt.subplots(2, 1, figsize=(4, 3))
    for ax in axes:
        ax.plot([0, 1])
        ax.set_title("A title that is here")
        ax.set_xlabel("an x label")
    assert any("axes 1 title" in pair for pair in plotting.text_overlaps(fig))
    fig.tight_layout()
    assert plotting.text_overlaps(fig) == []
    plt.close(fig)


def test_watching_records_overlaps_of_rendered_figures(tmp_path):
    plotting.watch_overlaps()
    start = len(plotting.watched_overlaps())
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar([f"a long category name {i}" for i in range(5)], [1, 2, 3, 4, 5])
    ax.set_title("crowded")
    try:
        fig.savefig(tmp_path / "crowded.png")
    finally:
        plotting.watch_overlaps(False)
        plt.close(fig)
    recorded = plotting.watched_overlaps()[start:]
    assert recorded and recorded[0]["figure"] == "crowded"
