"""Course figures are sharp and their text never overlaps.

The package draws no figures of its own: the notebooks do, through ``plotting`` (``finish``,
``theory``, ``show``). So these tests prove the plotting helpers and the overlap detector on
figures built here, and the smoke run (``tests/test_notebook_smoke.py``) watches every figure
a notebook renders with ``plotting.watch_overlaps``.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sparrow_course import plotting


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
