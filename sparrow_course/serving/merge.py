"""Merging recall channels into one candidate list: quotas, weighted normalised scores, interleaving.

Each rule takes the channels' frames (name -> DataFrame[userId, movieId, score], best first,
as ``RecallChannel.recall`` returns them) and gives one frame per user of at most ``size``
distinct movies, best first, with the columns of ``metrics.RECOMMENDATION_COLUMNS`` and
``channel`` (the first channel, in the given order, that proposed the movie):

* **quotas** (配额): channel c contributes its best ``quota[c]`` movies not already taken by an
  earlier channel; what is left of ``size`` is filled by the remaining candidates in rank order.
* **weighted**: each channel's scores are min-max normalised per user to [0, 1] (a cosine and
  a share of likers are on different scales), multiplied by the channel's weight and summed
  over the channels that proposed the movie.
* **interleave**: the channels take turns, rank 1 of each, then rank 2 of each, ... skipping
  movies already taken (team-draft style, in the given channel order).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..checks import check_choice, check_frame, check_int, check_number
from ..metrics import RECOMMENDATION_COLUMNS, evaluate_top_k

__all__ = ["MERGES", "MERGED_COLUMNS", "channel_table", "leave_one_out", "merge", "merge_interleave",
           "merge_quotas", "merge_table", "merge_weighted", "tune_weights"]

MERGED_COLUMNS = RECOMMENDATION_COLUMNS + ("channel",)


def _check_frames(frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    if not isinstance(frames, Mapping) or not frames:
        raise TypeError("frames must be a non-empty mapping of channel name -> recall frame")
    for name, frame in frames.items():
        check_frame(frame, RECOMMENDATION_COLUMNS, f"frames[{name!r}]")
    return dict(frames)


def _per_user(frames: dict[str, pd.DataFrame]):
    """Users in first-asked order and, per user, each channel's (movie ids, scores) arrays, best first."""
    users = pd.unique(pd.concat([f["userId"] for f in frames.values()], ignore_index=True).to_numpy(np.int64))
    slices = []
    for frame in frames.values():
        ids = frame["userId"].to_numpy(np.int64)
        order = np.argsort(pd.Index(users).get_indexer(ids), kind="stable")  # contiguous per user, rank kept
        ids, movies, scores = ids[order], frame["movieId"].to_numpy(np.int64)[order], frame["score"].to_numpy(float)[order]
        position = pd.Index(users).get_indexer(ids)
        lo = np.searchsorted(position, np.arange(len(users)), side="left")
        hi = np.searchsorted(position, np.arange(len(users)), side="right")
        slices.append((movies, scores, lo, hi))
    for u, user in enumerate(users):
        yield int(user), [(m[lo[u]:hi[u]], s[lo[u]:hi[u]]) for m, s, lo, hi in slices]


def _frame(rows: list[tuple[int, list[int], list[float], list[int]]], names: list[str]) -> pd.DataFrame:
    users = np.concatenate([np.full(len(m), u, dtype=np.int64) for u, m, _, _ in rows]) if rows else np.zeros(0, np.int64)
    movies = np.concatenate([np.asarray(m, dtype=np.int64) for _, m, _, _ in rows]) if rows else np.zeros(0, np.int64)
    scores = np.concatenate([np.asarray(s, dtype=float) for _, _, s, _ in rows]) if rows else np.zeros(0)
    channel = np.concatenate([np.asarray(c, dtype=np.int64) for _, _, _, c in rows]) if rows else np.zeros(0, np.int64)
    return pd.DataFrame({"userId": users, "movieId": movies, "score": scores,
                         "channel": np.asarray(names, dtype=object)[channel]})


def quotas_one(lists: Sequence[tuple[np.ndarray, np.ndarray]], size: int, quota: Sequence[int]
               ) -> tuple[list[int], list[float], list[int]]:
    """One user's quota merge: (movie ids, scores, channel positions), best first."""
    taken: set[int] = set()
    movies, channels = [], []
    for c, (ids, _) in enumerate(lists):
        n = 0
        for m in ids.tolist():
            if n >= quota[c] or len(movies) >= size:
                break
            if m not in taken:
                taken.add(m)
                movies.append(m)
                channels.append(c)
                n += 1
    _by_rank(lists, size, taken, movies, channels)
    return movies, [float(size - i) for i in range(len(movies))], channels


def _by_rank(lists, size, taken, movies, channels) -> None:
    """Append the channels' candidates rank by rank (channel order within a rank), skipping taken ones."""
    columns = [ids.tolist() for ids, _ in lists]
    longest = max((len(c) for c in columns), default=0)
    for r in range(longest):
        if len(movies) >= size:
            return
        for c, ids in enumerate(columns):
            if r < len(ids) and ids[r] not in taken and len(movies) < size:
                taken.add(ids[r])
                movies.append(ids[r])
                channels.append(c)


def interleave_one(lists: Sequence[tuple[np.ndarray, np.ndarray]], size: int) -> tuple[list[int], list[float], list[int]]:
    """One user's interleaving: (movie ids, scores, channel positions), best first."""
    movies: list[int] = []
    channels: list[int] = []
    _by_rank(lists, size, set(), movies, channels)
    return movies, [float(size - i) for i in range(len(movies))], channels


def weighted_one(lists: Sequence[tuple[np.ndarray, np.ndarray]], size: int, weights: Sequence[float]
                 ) -> tuple[list[int], list[float], list[int]]:
    """One user's weighted merge of min-max normalised scores: (movie ids, scores, first channel), best first."""
    total: dict[int, float] = {}
    first: dict[int, int] = {}
    for c, (ids, scores) in enumerate(lists):
        if weights[c] <= 0 or not len(ids):
            continue
        low, high = float(scores.min()), float(scores.max())
        norm = (scores - low) / (high - low) if high > low else np.ones(len(scores))
        for m, v in zip(ids.tolist(), (weights[c] * norm).tolist()):
            total[m] = total.get(m, 0.0) + v
            first.setdefault(m, c)
    best = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
    return [m for m, _ in best], [v for _, v in best], [first[m] for m, _ in best]


def _merged(frames, one, *args) -> pd.DataFrame:
    frames = _check_frames(frames)
    rows = [(user, *one(lists, *args)) for user, lists in _per_user(frames)]
    return _frame(rows, list(frames))


def _quota_vector(names: list[str], size: int, quotas: Mapping[str, int] | int | None) -> list[int]:
    if quotas is None:
        quotas = -(-size // len(names))
    if not isinstance(quotas, Mapping):
        return [check_int(quotas, "quotas", low=0)] * len(names)
    unknown = sorted(set(quotas) - set(names))
    if unknown:
        raise ValueError(f"quotas names unknown channel(s) {unknown}; channels are {names}")
    return [check_int(quotas.get(n, 0), f"quotas[{n!r}]", low=0) for n in names]


def _weight_vector(names: list[str], weights: Mapping[str, float] | None) -> list[float]:
    if weights is None:
        return [1.0] * len(names)
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ValueError(f"weights names unknown channel(s) {unknown}; channels are {names}")
    w = [check_number(weights.get(n, 0.0), f"weights[{n!r}]", low=0) for n in names]
    if not any(x > 0 for x in w):
        raise ValueError("weights are all 0: give at least one channel a positive weight")
    return w


def merge_quotas(frames: Mapping[str, pd.DataFrame], size: int, quotas: Mapping[str, int] | int | None = None
                 ) -> pd.DataFrame:
    """Per-channel quotas with de-duplication, then fill by rank (see the module docstring).

    ``quotas``: name -> movies per channel, or one number for every channel (default: an
    equal share of ``size``). Score: ``size`` minus the position in the merged list.
    """
    size = check_int(size, "size", low=1)
    return _merged(frames, quotas_one, size, _quota_vector(list(_check_frames(frames)), size, quotas))


def merge_weighted(frames: Mapping[str, pd.DataFrame], size: int, weights: Mapping[str, float] | None = None
                   ) -> pd.DataFrame:
    """Sum of weighted, per-user min-max normalised scores (see the module docstring); default: equal weights."""
    size = check_int(size, "size", low=1)
    return _merged(frames, weighted_one, size, _weight_vector(list(_check_frames(frames)), weights))


def merge_interleave(frames: Mapping[str, pd.DataFrame], size: int) -> pd.DataFrame:
    """The channels take turns by rank, skipping duplicates (see the module docstring). Score: ``size`` - position."""
    return _merged(frames, interleave_one, check_int(size, "size", low=1))


MERGES: dict[str, Callable[..., pd.DataFrame]] = {"quotas": merge_quotas, "weighted": merge_weighted,
                                                   "interleave": merge_interleave}


def merge(frames: Mapping[str, pd.DataFrame], size: int, rule: str = "weighted", **options: Any) -> pd.DataFrame:
    """Merge by the rule named ``rule`` (one of :data:`MERGES`), passing ``options`` (quotas=, weights=)."""
    return MERGES[check_choice(rule, "rule", tuple(MERGES))](frames, size, **options)


def channel_table(frames: Mapping[str, pd.DataFrame], truth: pd.DataFrame, k: int, n_items: int) -> pd.DataFrame:
    """recall@k, NDCG@k and coverage of each channel alone (one row per channel, in the given order)."""
    rows = []
    for name, frame in frames.items():
        row = evaluate_top_k(frame, truth, k, n_items=n_items)
        rows.append({"candidates": name, f"recall@{k}": row[f"recall@{k}"], f"ndcg@{k}": row[f"ndcg@{k}"],
                     "coverage": row["coverage"]})
    return pd.DataFrame(rows)


def merge_table(frames: Mapping[str, pd.DataFrame], truth: pd.DataFrame, k: int, n_items: int,
                rules: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """recall@k, NDCG@k and coverage of each merge rule's top ``k`` (default: the three rules at their defaults)."""
    rules = {name: {} for name in MERGES} if rules is None else rules
    rows = []
    for label, options in rules.items():
        options = dict(options)
        rule = options.pop("rule", label)
        merged = merge(frames, k, rule, **options)
        row = evaluate_top_k(merged, truth, k, n_items=n_items)
        rows.append({"candidates": f"merge: {label}", f"recall@{k}": row[f"recall@{k}"],
                     f"ndcg@{k}": row[f"ndcg@{k}"], "coverage": row["coverage"]})
    return pd.DataFrame(rows)


def leave_one_out(frames: Mapping[str, pd.DataFrame], truth: pd.DataFrame, k: int, *, rule: str = "weighted",
                  **options: Any) -> pd.DataFrame:
    """Each channel's marginal value: recall@k of the merge without it, against the merge of all.

    One row per channel: ``recall@k without``, and ``marginal value`` = all - without (> 0: the
    channel finds likes the others miss). Options naming the left-out channel are dropped.
    """
    check_choice(rule, "rule", tuple(MERGES))
    names = list(frames)
    if len(names) < 2:
        raise ValueError("leave_one_out needs at least two channels")
    full = evaluate_top_k(merge(frames, k, rule, **options), truth, k)[f"recall@{k}"]
    rows = []
    for name in names:
        rest = {n: f for n, f in frames.items() if n != name}
        opts = {key: ({n: v for n, v in value.items() if n != name} if isinstance(value, Mapping) else value)
                for key, value in options.items()}
        without = evaluate_top_k(merge(rest, k, rule, **opts), truth, k)[f"recall@{k}"]
        rows.append({"channel": name, f"recall@{k} without": without, "marginal value": full - without})
    return pd.DataFrame(rows)


def tune_weights(frames: Mapping[str, pd.DataFrame], truth: pd.DataFrame, k: int, *,
                 strong: Sequence[str] = ("popularity", "clusters"), grid: Sequence[float] = (1, 2, 3, 5, 8),
                 margin: float = 0.002) -> tuple[dict[str, float], pd.DataFrame]:
    """Weights for :func:`merge_weighted` chosen on validation users: the ``strong`` channels get weight w, the others 1.

    Returns (weights, table of recall@k per w). The chosen w is the smallest within ``margin``
    of the best recall, so a difference in the last digits between machines cannot flip it.
    Tune on users other than those the merge is then measured on.
    """
    frames = _check_frames(frames)
    unknown = sorted(set(strong) - set(frames))
    if unknown:
        raise ValueError(f"strong names unknown channel(s) {unknown}; channels are {list(frames)}")
    rows = []
    for w in grid:
        w = check_number(w, "grid", low=0, include_low=False)
        weights = {n: (w if n in strong else 1.0) for n in frames}
        rows.append({"strong weight": w, f"recall@{k}": evaluate_top_k(merge_weighted(frames, k, weights), truth, k)[f"recall@{k}"]})
    table = pd.DataFrame(rows)
    best = table[f"recall@{k}"].max()
    chosen = float(table.loc[table[f"recall@{k}"] >= best - margin, "strong weight"].min())
    return {n: (chosen if n in strong else 1.0) for n in frames}, table
