"""The explorers' callback path without a browser: controls, the static default, the live area, debouncing."""
from __future__ import annotations

import threading
import time

import matplotlib
import pytest

from sparrow_course import explorers

matplotlib.use("Agg")


def _compute(nodes: int, strategy: str, joins: bool = False) -> dict:
    return {"nodes": nodes, "strategy": strategy, "joins": joins, "load": [1.0 / nodes] * nodes}


def _draw(result: dict, fig) -> None:
    ax = fig.add_subplot()
    ax.bar(range(result["nodes"]), result["load"])
    ax.set_title(f"{result['strategy']}: {result['nodes']} nodes")


def _summary(result: dict) -> str:
    return f"{result['strategy']} over {result['nodes']} nodes, joins={result['joins']}"


CONTROLS = {"nodes": explorers.slider(2, 12, 1, 4), "strategy": explorers.choice(["ring", "modulo"], "ring"),
            "joins": explorers.button()}


def _explorer() -> explorers.Explorer:
    return explorers.Explorer(_compute, _draw, CONTROLS, _summary)


# --------------------------------------------------------------------------- controls

@pytest.mark.parametrize("make, error, words", [
    (lambda: explorers.slider(5, 1, 1, 3), ValueError, "lo must be below hi"),
    (lambda: explorers.slider(1, 5, 0, 3), ValueError, "step"),
    (lambda: explorers.slider(1, 5, 1, 9), ValueError, "value"),
    (lambda: explorers.slider("1", 5, 1, 3), TypeError, "lo"),
    (lambda: explorers.choice("ab", "a"), TypeError, "list of choices"),
    (lambda: explorers.choice(["a"], "a"), ValueError, "at least two"),
    (lambda: explorers.choice(["a", "b"], "c"), ValueError, "one of the options"),
    (lambda: explorers.button(1), TypeError, "True or False"),
])
def test_controls_refuse_bad_arguments_with_a_clear_message(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_an_integer_slider_gives_integers_and_a_float_slider_floats():
    assert explorers.slider(1, 9, 1, 3).validate(4.0, "n") == 4 and isinstance(explorers.slider(1, 9, 1, 3)
                                                                               .validate(4.0, "n"), int)
    assert isinstance(explorers.slider(0.0, 1.0, 0.1, 0.5).validate(0.3, "x"), float)
    import ipywidgets

    assert isinstance(explorers.slider(1, 9, 1, 3).widget("n"), ipywidgets.IntSlider)
    float_widget = explorers.slider(0.0, 1.0, 0.1, 0.5).widget("hot_share")
    assert isinstance(float_widget, ipywidgets.FloatSlider) and float_widget.description == "hot share"
    # a drag reports only where it stops: the first half of the debouncing
    assert float_widget.continuous_update is False


def test_explorer_checks_values_against_its_controls():
    explorer = _explorer()
    assert explorer.values() == {"nodes": 4, "strategy": "ring", "joins": False}
    assert explorer.values(nodes=7)["nodes"] == 7
    with pytest.raises(ValueError, match="nodes"):
        explorer.values(nodes=40)
    with pytest.raises(ValueError, match="unknown control"):
        explorer.values(node=5)
    with pytest.raises(ValueError, match="strategy must be one of"):
        explorer.values(strategy="jump")
    with pytest.raises(TypeError, match="controls must be"):
        explorers.Explorer(_compute, _draw, {}, _summary)
    with pytest.raises(TypeError, match="explorers.slider"):
        explorers.Explorer(_compute, _draw, {"nodes": 4}, _summary)


# --------------------------------------------------------------------------- the static default and the live area

def test_explore_shows_the_default_figure_and_prints_its_numbers(capsys, monkeypatch):
    shown = []
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *a, **k: shown.append([ax.get_title() for ax in plt.gcf().axes]))
    explorer = explorers.explore(_compute, _draw, CONTROLS, _summary)
    assert shown == [["ring: 4 nodes"]]
    assert capsys.readouterr().out == "ring over 4 nodes, joins=False\n"
    assert explorers.explorers()[-1] is explorer


def test_update_shows_the_package_values_for_the_setting():
    explorer = _explorer()
    explorer.widget()
    frame = explorer.update(nodes=9, strategy="modulo")
    assert frame.text == "modulo over 9 nodes, joins=False"
    assert frame == explorer.expected(nodes=9, strategy="modulo")  # same PNG bytes, same text
    assert frame.png != explorer.expected().png  # the figure changed with the setting
    live = explorer.widget().children[1].value
    assert "modulo over 9 nodes" in live and frame.png_sha256 in live and "nodes = 9" in live


def test_moving_a_widget_updates_the_live_area():
    explorer = _explorer()
    box = explorer.widget()
    explorer._widgets["nodes"].value = 6
    assert explorer.wait(10)
    assert explorer.last.values["nodes"] == 6 and "over 6 nodes" in box.children[1].value
    explorer._widgets["joins"].value = True
    assert explorer.wait(10)
    assert explorer.last.text == "ring over 6 nodes, joins=True"


def test_the_widget_has_a_fixed_plain_text_form():
    box = _explorer().widget()
    assert repr(box) == repr(_explorer().widget())
    bundle = box._repr_mimebundle_()
    assert bundle["text/plain"].startswith("Explorer: move a control")


def test_an_error_in_compute_is_shown_and_the_explorer_carries_on():
    def compute(nodes: int) -> dict:
        if nodes == 3:
            raise ValueError("three is not allowed here")
        return {"nodes": nodes, "strategy": "ring", "joins": False, "load": [1.0] * nodes}

    explorer = explorers.Explorer(compute, _draw, {"nodes": explorers.slider(2, 6, 1, 2)}, _summary)
    box = explorer.widget()
    explorer.submit(nodes=3)
    assert explorer.wait(10)
    assert explorer.error == "ValueError: three is not allowed here" and "three is not allowed" in box.children[1].value
    explorer.submit(nodes=4)
    assert explorer.wait(10)
    assert explorer.error is None and explorer.last.values == {"nodes": 4}


# --------------------------------------------------------------------------- debouncing

def test_a_burst_during_one_update_runs_only_its_latest_value():
    started, release, done = threading.Event(), threading.Event(), []

    def work(item):
        started.set()
        release.wait(10)
        done.append(item)

    latest = explorers.LatestOnly(work)
    latest.submit(0)
    assert started.wait(10)
    for value in range(1, 50):  # a dragged slider: 49 values while the first update runs
        latest.submit(value)
    release.set()
    assert latest.wait(10)
    assert done == [0, 49] and latest.runs == 2


def test_submissions_after_the_worker_went_idle_each_run():
    done = []
    latest = explorers.LatestOnly(done.append)
    for value in range(3):
        latest.submit(value)
        assert latest.wait(10)
    assert done == [0, 1, 2]


def test_a_slow_compute_never_falls_behind_a_fast_slider():
    calls = []

    def compute(nodes: int) -> dict:
        calls.append(nodes)
        time.sleep(0.05)
        return {"nodes": nodes, "strategy": "ring", "joins": False, "load": [1.0] * nodes}

    explorer = explorers.Explorer(compute, _draw, {"nodes": explorers.slider(2, 40, 1, 2)}, _summary)
    explorer.widget()
    for nodes in range(2, 41):
        explorer._widgets["nodes"].value = nodes
    assert explorer.wait(30)
    assert calls[-1] == 40 and explorer.last.values == {"nodes": 40}
    assert len(calls) < 10, f"{len(calls)} updates ran for one drag"


def test_the_live_figure_can_be_measured_by_the_overlap_watch():
    from sparrow_course import plotting

    plotting.watch_overlaps()
    try:
        explorer = _explorer()
        explorer.widget()
        explorer.submit(nodes=5)
        assert explorer.wait(30)
        assert explorer.error is None and explorer.last.values["nodes"] == 5
    finally:
        plotting.watch_overlaps(False)
