"""Shared pieces: seeding, metrics, plotting, the notebook runner's choice of notebooks."""
from __future__ import annotations

import random

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from sparrow_course import channels, metrics, plotting, seed_everything
from sparrow_course.notebooks import KERNEL, notebook_paths


@pytest.mark.tensorflow
def test_seed_everything_repeats_python_numpy_and_tensorflow():
    import tensorflow as tf

    def draw():
        rng = seed_everything(7)
        return random.random(), np.random.rand(), rng.random(), float(tf.random.uniform(()))
    assert draw() == draw()
    assert seed_everything(8, tensorflow=False).random() != seed_everything(7, tensorflow=False).random()


@pytest.mark.parametrize("bad,error", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError), ("3", TypeError), (True, TypeError)])
def test_seed_everything_rejects_bad_seeds(bad, error):
    with pytest.raises(error, match="seed must be"):
        seed_everything(bad, tensorflow=False)


def test_auc_and_its_errors():
    assert metrics.auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="only one class"):
        metrics.auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="differ in length"):
        metrics.auc([0, 1], [0.2])
    with pytest.raises(ValueError, match="0 or 1"):
        metrics.auc([0, 2], [0.2, 0.3])


def test_percentiles_and_hit_ratio():
    p = metrics.percentiles(np.arange(101))
    assert p == {"p50": 50.0, "p95": 95.0, "p99": 99.0}
    with pytest.raises(ValueError, match="empty"):
        metrics.percentiles([])
    with pytest.raises(ValueError, match="NaN"):
        metrics.percentiles([1.0, float("nan")])
    assert metrics.hit_ratio(9, 10) == 0.9
    with pytest.raises(ValueError, match="requests must be positive"):
        metrics.hit_ratio(0, 0)
    with pytest.raises(ValueError, match="hits must be between"):
        metrics.hit_ratio(11, 10)


def test_plotting_finish_demands_words():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="measured")
    plotting.theory(ax, [0, 1], [0, 1.1], label="theory")
    plotting.finish(ax, title="Measured follows theory", xlabel="x (s)", ylabel="y (%)")
    assert ax.get_legend() is not None and ax.lines[1].get_linestyle() == "--"
    with pytest.raises(ValueError, match="title must be a non-empty string"):
        plotting.finish(ax, title=" ", xlabel="x", ylabel="y")
    plt.close(fig)


def test_notebook_paths_by_prefix():
    every = notebook_paths()
    assert every and all(p.suffix == ".ipynb" for p in every)
    assert notebook_paths(["00"])[0].name.startswith("00_")
    with pytest.raises(ValueError, match="no notebook matches"):
        notebook_paths(["99"])


def test_execute_notebook_writes_outputs_atomically_and_keeps_permissions(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from sparrow_course.notebooks import execute_notebook

    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("print(6 * 7)")]), path)
    path.chmod(0o644)
    execute_notebook(path)
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].outputs[0]["text"] == "42\n"
    assert nb.metadata["kernelspec"]["name"] == KERNEL
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["01_tiny.ipynb"]  # no temporary file left behind


def test_failing_notebook_is_left_unchanged(tmp_path):
    import nbformat
    from nbclient.exceptions import CellExecutionError
    from nbformat.v4 import new_code_cell, new_notebook

    from sparrow_course.notebooks import execute_notebook

    path = tmp_path / "01_broken.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1 / 0")]), path)
    before = path.read_bytes()
    with pytest.raises(CellExecutionError):
        execute_notebook(path)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def _tasks_module():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_tasks", Path(__file__).resolve().parent.parent / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tasks_reinstalls_only_when_installation_inputs_change(tmp_path, monkeypatch):
    tasks = _tasks_module()
    original = (tasks.ROOT / "pyproject.toml").read_text(encoding="utf-8")
    monkeypatch.setattr(tasks, "ROOT", tmp_path)
    (tmp_path / "pyproject.toml").write_text(original, encoding="utf-8")
    before = tasks._install_fingerprint()
    (tmp_path / "pyproject.toml").write_text(original.replace('markers = [', 'markers = [\n    "extra: a new marker",'))
    assert tasks._install_fingerprint() == before  # pytest settings do not reinstall the package
    (tmp_path / "pyproject.toml").write_text(original.replace('"numpy>=1.26",', '"numpy>=1.26",\n    "simpy>=4.1",'))
    assert tasks._install_fingerprint() != before


def test_tasks_fast_runs_unit_tests_without_slow_ones(monkeypatch):
    tasks = _tasks_module()
    calls = []
    monkeypatch.setattr(tasks, "setup", lambda: None)
    monkeypatch.setattr(tasks, "run", lambda *cmd, **kw: calls.append([str(c) for c in cmd]))
    tasks.test(["--fast", "-q"])
    tasks.test([])
    lint, fast, full = calls
    assert lint[1:] == ["-m", "ruff", "check", "sparrow_course", "tests"]   # the pinned lint comes first
    assert ["-m", "not slow"] in [fast[i:i + 2] for i in range(len(fast) - 1)] and "tests" in fast
    assert "notebooks" not in fast and "--nbval" not in fast and fast[-1] == "-q"
    assert "--nbval" in full and "notebooks" in full and full[full.index("--nbval-kernel-name") + 1] == KERNEL


def test_per_user_metrics_agree_with_the_one_user_definitions():
    import pandas as pd

    from sparrow_course import metrics

    recs = pd.DataFrame({"userId": [1, 1, 1, 2, 2, 3], "movieId": [10, 11, 12, 10, 13, 14],
                         "score": [3.0, 2.0, 1.0, 2.0, 1.0, 1.0]})
    truth = pd.DataFrame({"userId": [1, 1, 2, 4], "movieId": [11, 12, 15, 10]})
    got = metrics.per_user_metrics(recs, truth, k=2)
    assert list(got.index) == [1, 2, 4]  # users in truth only; user 4 has no recommendations
    lists = {1: [10, 11, 12], 2: [10, 13], 4: []}
    relevant = {1: [11, 12], 2: [15], 4: [10]}
    for user in (1, 2, 4):
        want_recall = metrics.recall_at_k(lists[user], relevant[user], 2) if lists[user] else 0.0
        want_ndcg = metrics.ndcg_at_k(lists[user], relevant[user], 2) if lists[user] else 0.0
        assert got.loc[user, "recall@2"] == pytest.approx(want_recall)
        assert got.loc[user, "ndcg@2"] == pytest.approx(want_ndcg)
    assert got.loc[1, "recall@2"] == 0.5 and got.loc[1, "ndcg@2"] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    summary = metrics.evaluate_top_k(recs, truth, 2, n_items=6)
    assert summary["recall@2"] == pytest.approx(got["recall@2"].mean()) and summary["users"] == 3.0


def test_what_recall_channels_share():
    from scipy import sparse

    from sparrow_course.channels import blend_scores, interaction_matrix, log_popularity

    frame = pd.DataFrame({"userId": [1, 1, 2, 9], "movieId": [10, 30, 10, 10]})     # user 9 is not asked for
    seen = interaction_matrix(frame, [1, 2], [10, 20, 30])
    assert sparse.issparse(seen) and seen.toarray().tolist() == [[True, False, True], [True, False, False]]
    pop = log_popularity([0, 1, 3])
    np.testing.assert_allclose(pop, [0, np.log(2) / np.log(4), 1])
    assert log_popularity([0, 0]).tolist() == [0, 0]
    with pytest.raises(ValueError, match="non-negative"):
        log_popularity([1, -1])
    sim = np.array([[0.9, 0.5, 0.1], [0.0, 0.0, 0.0]])
    alone = blend_scores(sim, pop, 0.0, empty=np.array([False, True]), seen=seen)
    assert alone[0].tolist() == [-np.inf, 0.5, -np.inf] and np.isneginf(alone[1]).all()
    unknown = blend_scores(sim, pop, 0.0, unknown_items=np.array([False, True, False]))
    assert np.isneginf(unknown[:, 1]).all() and unknown[0, 2] == 0.1          # an item without a vector
    mixed = blend_scores(sim, pop, 0.5, empty=np.array([False, True]), unknown_items=np.array([False, True, False]),
                         seen=seen)
    np.testing.assert_allclose(mixed[1], [-np.inf, 0.5 * pop[1], 0.5])     # an empty profile still gets popularity
    assert sim[0, 0] == 0.9                                                # the input is left alone


def test_paired_difference_pairs_users_and_bootstraps_the_mean():
    from sparrow_course.metrics import paired_difference

    a = np.array([0.3, 0.5, 0.4, 0.6, 0.5])
    out = paired_difference(a, a - 0.1, n_boot=200, seed=0)
    assert out["difference"] == pytest.approx(0.1) and out["low"] == pytest.approx(0.1) and out["users"] == 5
    noisy = paired_difference(np.random.default_rng(0).normal(0, 1, 400), np.zeros(400), seed=0)
    assert noisy["low"] < noisy["difference"] < noisy["high"] and noisy["low"] < 0 < noisy["high"]
    # Series pair by index: only the users both have, whatever the order
    s = pd.Series([1.0, 0.0, 1.0, 1.0], index=[1, 2, 3, 4])
    assert paired_difference(s, s) == {"difference": 0.0, "low": 0.0, "high": 0.0, "users": 4}
    other = pd.Series([0.0, 0.0, 0.0, 5.0], index=[4, 3, 2, 99])
    diff = paired_difference(s, other, n_boot=500)
    assert diff["users"] == 3 and diff["difference"] == pytest.approx(2 / 3)
    assert diff["low"] <= diff["difference"] <= diff["high"]
    for bad in ([1.0], [0.0]), ([1.0, 2.0], [1.0]), ([1.0, np.nan], [0.0, 0.0]):
        with pytest.raises(ValueError, match="a and b"):
            paired_difference(*bad)


# --------------------------------------------------------------------------- bad inputs of the shared pieces

def _scores():
    return np.array([[0.9, np.inf, 0.1, -np.inf], [0.2, 0.4, 0.3, 0.1]])


def test_top_k_frames_keep_an_infinite_score_and_refuse_nan():
    from sparrow_course.channels import fast_top_k_frame
    from sparrow_course.metrics import top_k_frame

    users, items = np.array([1, 2]), np.array([10, 20, 30, 40])
    for make in (top_k_frame, fast_top_k_frame):
        frame = make(users, items, _scores(), 3)
        assert frame[frame.userId == 1].movieId.tolist() == [20, 10, 30], make.__name__  # +inf first, -inf out
        assert frame[frame.userId == 2].movieId.tolist() == [20, 30, 10], make.__name__
        bad = _scores()
        bad[1, 2] = np.nan
        with pytest.raises(ValueError, match=r"\bscores\b contain NaN"):
            make(users, items, bad, 3)
        with pytest.raises(ValueError, match=r"\bk\b"):
            make(users, items, _scores(), 0)


@pytest.mark.parametrize("call, error, word", [
    (lambda: metrics.ndcg_at_k([1, 1, 1], [1], 3), ValueError, "recommended"),
    (lambda: channels.blend_scores(np.zeros((1, 2)), np.zeros(2), float("nan")),
     ValueError, "blend"),
    (lambda: channels.blend_scores(np.zeros((1, 2)), np.zeros(2), 1.5),
     ValueError, "blend"),
    (lambda: channels.interaction_matrix(
        pd.DataFrame({"userId": ["a", "b"], "movieId": [1, 2]}), [1, 2], [1, 2]), TypeError, "userId"),
    (lambda: channels.interaction_matrix(
        pd.DataFrame({"userId": [1, 2], "movieId": [1, 2]}), ["1", "2"], [1, 2]), TypeError, "user_ids"),
    (lambda: metrics.per_user_metrics(
        pd.DataFrame({"userId": ["1"], "movieId": [1], "score": [1.0]}), pd.DataFrame({"userId": [1], "movieId": [1]}),
        5), TypeError, "recommendations"),
    (lambda: metrics.per_user_metrics(
        pd.DataFrame({"userId": [1], "movieId": [1], "score": [1.0]}), pd.DataFrame({"userId": ["1"], "movieId": [1]}),
        5), TypeError, "truth"),
])
def test_shared_pieces_refuse_bad_inputs_by_name(call, error, word):
    with pytest.raises(error, match=rf"\b{word}\b"):
        call()


def test_ndcg_is_at_most_one_and_recall_unchanged_by_the_checks():
    from sparrow_course.metrics import ndcg_at_k, recall_at_k

    assert ndcg_at_k([1, 2, 3], [1], 3) == 1.0
    assert 0 < ndcg_at_k([2, 1, 3], [1, 3], 3) < 1
    assert recall_at_k([1, 2, 3], [1, 4], 3) == 0.5
