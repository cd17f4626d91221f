"""What the recall channels share (chapters 04-07): what a user already rated, popularity on a
cosine's scale, blending the two, and serving every user's top K in the common shape.

A channel fitted with one profile per user (the tag matcher of chapter 05, the embedding channel
of chapter 06) subclasses :class:`ProfileChannel`: it says how a block of users scores every item
(``_similarity``) and which users have an empty profile; the class finds the users' rows, refuses
or skips empty profiles, blends with popularity, never recommends what a user rated, and returns
DataFrame[userId, movieId, score], best first within a user (``metrics.RECOMMENDATION_COLUMNS``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .checks import check_choice, check_frame, check_fraction, check_int, check_memory
from .metrics import top_k_frame

__all__ = ["ProfileChannel", "blend_scores", "fast_top_k_frame", "interaction_matrix", "log_popularity"]


def interaction_matrix(frame: pd.DataFrame, user_ids: Sequence[int], item_ids: Sequence[int]):
    """Boolean users x items (scipy CSR): True where ``frame`` has a row for that (userId, movieId).

    Rows of ``user_ids``, columns of ``item_ids``; pairs outside either are ignored. A channel
    keeps what each user already rated this way, and never recommends it.
    """
    from scipy import sparse

    check_frame(frame, ["userId", "movieId"], "frame")
    rows = pd.Index(np.asarray(user_ids, dtype=np.int64)).get_indexer(frame["userId"])
    cols = pd.Index(np.asarray(item_ids, dtype=np.int64)).get_indexer(frame["movieId"])
    keep = (rows >= 0) & (cols >= 0)
    return sparse.csr_matrix((np.ones(int(keep.sum()), dtype=bool), (rows[keep], cols[keep])),
                             shape=(len(user_ids), len(item_ids)))


def log_popularity(counts: Sequence[float]) -> np.ndarray:
    """log(1 + count) scaled to [0, 1] by its largest value (all zeros when every count is 0).

    Popularity on the scale of a cosine, so a channel can blend the two (:func:`blend_scores`).
    """
    values = np.asarray(counts, dtype=float)
    if values.ndim != 1 or not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("counts must be a 1-D sequence of finite non-negative counts, one per item")
    logged = np.log1p(values)
    return logged / logged.max() if logged.size and logged.max() > 0 else logged


def blend_scores(similarity: np.ndarray, popularity: np.ndarray, blend: float, *, empty: np.ndarray | None = None,
                 unknown_items: np.ndarray | None = None, seen: Any = None) -> np.ndarray:
    """A channel's final (users, items) scores: ``(1 - blend) * similarity + blend * popularity``.

    With ``blend`` 0 the channel has nothing to say about users whose profile is ``empty`` (bool
    per row) or items it has no vector for (``unknown_items``, bool per column): they score -inf.
    With ``blend`` > 0 popularity still ranks them. Items ``seen`` (bool users x items, dense or
    sparse) score -inf: never recommend what a user rated. The input is left unchanged.
    """
    scores = np.array(similarity, dtype=float)
    if blend > 0:
        scores = (1 - blend) * scores + blend * np.asarray(popularity, dtype=float)[None, :]
    else:
        if unknown_items is not None:
            scores[:, np.asarray(unknown_items, dtype=bool)] = -np.inf
        if empty is not None:
            scores[np.asarray(empty, dtype=bool)] = -np.inf
    if seen is not None:
        scores[seen.toarray() if hasattr(seen, "toarray") else np.asarray(seen, dtype=bool)] = -np.inf
    return scores


def fast_top_k_frame(user_ids: np.ndarray, item_ids: np.ndarray, scores: np.ndarray, k: int,
                     rows: int = 32) -> pd.DataFrame:
    """``metrics.top_k_frame`` on only the columns that make some user's top k: the same frame, faster.

    Each user's top k is found with a partition (ties at the k-th score go to the lower column,
    as the stable sort of top_k_frame does); top_k_frame then orders a small block of users over
    the union of their top-k columns, so neither the items nor the tie order change.
    """
    n_items = scores.shape[1]
    k_eff = min(k, n_items)
    kth = np.partition(scores, n_items - k_eff, axis=1)[:, n_items - k_eff][:, None]
    above = scores > kth
    tied = (scores == kth) & np.isfinite(scores)
    need = k_eff - above.sum(axis=1, keepdims=True)
    keep = above | tied
    crowded = np.flatnonzero(tied.sum(axis=1) > need.ravel())  # rows with more ties than places left
    if crowded.size:
        keep[crowded] = above[crowded] | (tied[crowded] & (np.cumsum(tied[crowded], axis=1) <= need[crowded]))
    frames = [top_k_frame(user_ids[:0], item_ids, scores[:0], k)]
    for start in range(0, len(user_ids), rows):
        cols = np.flatnonzero(keep[start:start + rows].any(axis=0))
        if cols.size:
            frames.append(top_k_frame(user_ids[start:start + rows], item_ids[cols], scores[start:start + rows, cols], k))
    return pd.concat(frames, ignore_index=True)


class ProfileChannel:
    """A fitted recall channel with one profile per user; subclasses provide the fitted state.

    Attributes a subclass has: ``user_ids`` (the users fitted, one row each), ``item_ids`` (the
    columns of every score), ``rated`` (bool users x items, sparse: never recommended),
    ``log_popularity`` (per item, see :func:`log_popularity`) and ``empty`` (bool per user). It
    implements ``_similarity(rows)``: the (len(rows), items) similarity of those users' profiles.
    ``unknown_items`` (bool per item, or None) marks items the similarity says nothing about.
    """

    #: what makes a profile empty, said in the error that refuses one
    EMPTY_REASON = "no liked training movie"
    #: users scored at a time: a block of scores is BLOCK_USERS x items floats
    BLOCK_USERS = 512
    unknown_items: np.ndarray | None = None

    def _similarity(self, rows: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rows(self, user_ids: Any) -> np.ndarray:
        if isinstance(user_ids, (str, bytes)) or np.ndim(user_ids) != 1:
            raise TypeError(f"user_ids must be a 1-D sequence of integer user ids, got {user_ids!r:.80}")
        users = np.asarray(user_ids)
        if users.size == 0:
            raise ValueError("user_ids is empty; give at least one user id")
        if users.dtype.kind not in "iu":
            raise TypeError(f"user_ids must hold integer user ids, got dtype {users.dtype}")
        rows = pd.Index(self.user_ids).get_indexer(users.astype(np.int64))
        if (rows < 0).any():
            raise ValueError(f"user_ids has {int((rows < 0).sum())} users the channel was not fitted on, e.g. "
                             f"{int(users[rows < 0][0])}; fit on training ratings that include them")
        return rows

    def _scores(self, rows: np.ndarray, blend: float) -> np.ndarray:
        check_memory(8.0 * len(rows) * len(self.item_ids), "the users x items score matrix")
        return blend_scores(self._similarity(rows), self.log_popularity, blend, empty=self.empty[rows],
                            unknown_items=self.unknown_items, seen=self.rated[rows])

    def scores(self, user_ids: Any, *, blend: float = 0.0) -> np.ndarray:
        """(users, items) scores: ``(1 - blend) * similarity + blend * log-popularity``; rated items -inf.

        With ``blend`` 0 every item of an empty profile, and every unknown item, scores -inf (the
        channel has nothing to say about it); with ``blend`` 1 the score is popularity alone.
        """
        return self._scores(self._rows(user_ids), check_fraction(blend, "blend"))

    def recall(self, user_ids: Any, k: int = 20, *, blend: float = 0.0, on_empty: str = "raise") -> pd.DataFrame:
        """Top-``k`` unrated movies per user, best first, in the common shape DataFrame[userId, movieId, score].

        ``blend`` in [0, 1] mixes in popularity (1 = the popularity baseline). Users with an empty
        profile raise a ValueError, or with ``on_empty="skip"`` get no rows when ``blend`` is 0
        (popularity alone otherwise). Users are scored ``BLOCK_USERS`` at a time; ties break by
        item order.
        """
        k = check_int(k, "k", low=1)
        blend = check_fraction(blend, "blend")
        check_choice(on_empty, "on_empty", ("raise", "skip"))
        rows = self._rows(user_ids)
        empty = self.empty[rows]
        if empty.any() and on_empty == "raise":
            raise ValueError(f"{int(empty.sum())} of {len(rows)} users have an empty profile ({self.EMPTY_REASON}), "
                             f"e.g. userId {int(self.user_ids[rows[empty][0]])}; pass on_empty='skip', or serve "
                             "them another channel (popularity, cold start)")
        frames = [top_k_frame(self.user_ids[rows[:0]], self.item_ids, np.empty((0, len(self.item_ids))), k)]
        for start in range(0, len(rows), self.BLOCK_USERS):
            block = rows[start:start + self.BLOCK_USERS]
            frames.append(fast_top_k_frame(self.user_ids[block], self.item_ids, self._scores(block, blend), k))
        return pd.concat(frames, ignore_index=True)
