"""One recall interface for every channel of chapters 04-07, and the pieces the channels share.

A recall channel (召回通道) is fitted once, on training ratings, by its chapter's ``fit_...``
function, and then answers one call::

    channel.recall(user_ids, k) -> DataFrame[userId, movieId, score]

Every channel keeps the same contract (``tests/test_channels.py`` runs each one through it):

* **Shape and order.** The columns of ``metrics.RECOMMENDATION_COLUMNS``; users in the order
  asked; each user's rows best first (score descending, ties by ascending movieId).
* **Never what the user rated.** No item the user rated in the channel's training data (any
  rating, not only likes) is recommended.
* **k is a cap.** At most ``k`` rows per user; a ``k`` larger than the catalogue gives every
  item the user has not rated.
* **Unknown users.** A user the channel has nothing to say about (``channel.knows(user_ids)``
  is False: not in its training data, an empty profile, no features in the dataset; each
  channel's docstring says which) gets no rows when ``blend`` is 0, and the popularity list
  when ``blend`` > 0. Never an error: a merge of channels asks each about every user.
* **One popularity blend.** ``score = (1 - blend) * own score + blend * log-popularity``, with
  log-popularity ``log(1 + likes) / log(1 + most likes)`` over the channel's training likes
  (:func:`log_popularity`), on the scale of a cosine. ``blend`` is fixed when a channel is
  fitted; ``channel.with_blend(0.5)`` gives the same fitted channel with another blend.
* ``channel.name`` is a short label, for tables and merges.

:class:`RecallChannel` is the base class: a channel says which users it knows
(``_known``) and scores a block of them (``_own_scores``); the base class blends, rules out
what was rated and builds the frame. :class:`ProfileChannel` is a channel with one profile
per fitted user (tags, embeddings); :class:`PopularityChannel` is the baseline every channel
blends with, and :func:`fit_popularity` fits it.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np
import pandas as pd

from .checks import check_fraction, check_frame, check_memory, check_str, check_user_ids, check_int
from .datasets import RATING_COLUMNS, positive
from .metrics import top_k_frame

__all__ = ["RecallChannel", "ProfileChannel", "PopularityChannel", "fit_popularity", "blend_scores", "like_popularity",
           "fast_top_k_frame", "interaction_matrix", "log_popularity"]


def interaction_matrix(frame: pd.DataFrame, user_ids: Sequence[int], item_ids: Sequence[int]):
    """Boolean users x items (scipy CSR): True where ``frame`` has a row for that (userId, movieId).

    Rows of ``user_ids``, columns of ``item_ids``; pairs outside either are ignored. A channel
    keeps what each user already rated this way, and never recommends it.
    """
    from scipy import sparse

    check_frame(frame, ["userId", "movieId"], "frame")
    for column in ("userId", "movieId"):
        if len(frame) and frame[column].dtype.kind not in "iu":
            raise TypeError(f"frame['{column}'] must hold integer ids, got dtype {frame[column].dtype}")
    for ids, name in ((user_ids, "user_ids"), (item_ids, "item_ids")):
        if np.asarray(ids).size and np.asarray(ids).dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integer ids, got dtype {np.asarray(ids).dtype}")
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


def like_popularity(train: pd.DataFrame, item_ids: Sequence[int]) -> np.ndarray:
    """Each item's :func:`log_popularity` by its likes (rating >= 3.5) in ``train``: what every channel blends with."""
    return log_popularity(positive(train)["movieId"].value_counts().reindex(item_ids, fill_value=0))


def blend_scores(similarity: np.ndarray, popularity: np.ndarray, blend: float, *, empty: np.ndarray | None = None,
                 unknown_items: np.ndarray | None = None, seen: Any = None) -> np.ndarray:
    """A channel's final (users, items) scores: ``(1 - blend) * similarity + blend * popularity``.

    With ``blend`` 0 the channel has nothing to say about users whose profile is ``empty`` (bool
    per row) or items it has no vector for (``unknown_items``, bool per column): they score -inf.
    With ``blend`` > 0 popularity still ranks them. Items ``seen`` (bool users x items, dense or
    sparse) score -inf: never recommend what a user rated. The input is left unchanged.
    """
    blend = check_fraction(blend, "blend")
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
    k = check_int(k, "k", low=1)
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape != (len(user_ids), len(item_ids)):
        raise ValueError(f"scores must have shape (len(user_ids), len(item_ids)) = ({len(user_ids)}, {len(item_ids)}), "
                         f"got {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; expected a finite score (or -inf to rule an item out)")
    n_items = scores.shape[1]
    k_eff = min(k, n_items)
    kth = np.partition(scores, n_items - k_eff, axis=1)[:, n_items - k_eff][:, None]
    above = scores > kth
    tied = (scores == kth) & (scores > -np.inf)
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


@dataclass(frozen=True, eq=False, kw_only=True)
class RecallChannel(ABC):
    """A fitted recall channel: the one interface of chapters 04-07 (see the module docstring).

    Fields every channel has: ``item_ids`` (the catalogue, sorted: the columns of every score),
    ``log_popularity`` (per item, for the blend), ``user_ids`` (the users with training ratings,
    sorted) and ``rated`` (bool ``user_ids`` x ``item_ids``, sparse: what each rated, never
    recommended), ``name`` and ``blend``. A subclass implements ``_known(users)`` (which of
    these user ids it can score) and ``_own_scores(users)`` (their (users, items) scores).
    """

    item_ids: np.ndarray
    log_popularity: np.ndarray
    user_ids: np.ndarray
    rated: Any
    name: str = "channel"
    blend: float = 0.0

    #: users scored at a time: a block of scores is BLOCK_USERS x items floats
    BLOCK_USERS: ClassVar[int] = 512

    def __post_init__(self) -> None:
        object.__setattr__(self, "blend", check_fraction(self.blend, "blend"))
        check_str(self.name, "name")

    @property
    def unknown_items(self) -> np.ndarray | None:
        """Boolean per item where the channel's own score says nothing (scored -inf at blend 0), or None."""
        return None

    @abstractmethod
    def _known(self, users: np.ndarray) -> np.ndarray:
        """Boolean per user id: whether the channel can score that user."""

    @abstractmethod
    def _own_scores(self, users: np.ndarray) -> np.ndarray:
        """(len(users), items) scores of users the channel knows, before the blend and the exclusions."""

    def knows(self, user_ids: Any) -> np.ndarray:
        """Boolean per user: True where the channel has something of its own to say about the user."""
        return self._known(check_user_ids(user_ids))

    def with_blend(self, blend: float) -> "RecallChannel":
        """The same fitted channel with popularity blended in at ``blend`` (0 = the channel alone, 1 = popularity)."""
        return dataclasses.replace(self, blend=check_fraction(blend, "blend"))

    def with_history(self, history: pd.DataFrame) -> "RecallChannel":
        """The same fitted model serving the users of ``history`` (userId, movieId, ...): what they rated so far.

        For a user's first visits, e.g. the first n ratings of a new user: ``history`` replaces
        the training ratings as what each user rated (never recommended again) and, for a
        channel whose profiles come from it (item-to-item), as the profile.
        """
        check_frame(history, ["userId", "movieId"], "history")
        users = np.unique(history["userId"].to_numpy(np.int64))
        return dataclasses.replace(self, user_ids=users, rated=interaction_matrix(history, users, self.item_ids))

    def _rated_rows(self, users: np.ndarray):
        from scipy import sparse

        rows = pd.Index(self.user_ids).get_indexer(users)
        inside = (rows >= 0).astype(float)
        return (sparse.diags(inside) @ self.rated[np.maximum(rows, 0)].astype(float)).astype(bool).tocsr()

    def _scores(self, users: np.ndarray) -> np.ndarray:
        check_memory(8.0 * len(users) * len(self.item_ids), "the users x items score matrix")
        known = self._known(users)
        own = np.zeros((len(users), len(self.item_ids)))
        if known.any():
            own[known] = self._own_scores(users[known])
        return blend_scores(own, self.log_popularity, self.blend, empty=~known, unknown_items=self.unknown_items,
                            seen=self._rated_rows(users))

    def scores(self, user_ids: Any) -> np.ndarray:
        """(users, items) final scores: blended, -inf for rated items (and, at blend 0, for unknown users)."""
        return self._scores(check_user_ids(user_ids))

    def recall(self, user_ids: Any, k: int = 20) -> pd.DataFrame:
        """Top-``k`` unrated movies per user, best first: DataFrame[userId, movieId, score] (see the contract above)."""
        users = check_user_ids(user_ids)
        k = check_int(k, "k", low=1)
        frames = [top_k_frame(users[:0], self.item_ids, np.empty((0, len(self.item_ids))), k)]
        for start in range(0, len(users), self.BLOCK_USERS):
            block = users[start:start + self.BLOCK_USERS]
            frames.append(fast_top_k_frame(block, self.item_ids, self._scores(block), k))
        return pd.concat(frames, ignore_index=True)


@dataclass(frozen=True, eq=False, kw_only=True)
class ProfileChannel(RecallChannel):
    """A channel with one profile per fitted user (rows of ``user_ids``), compared with every item.

    A subclass implements ``_similarity(rows)`` (the (len(rows), items) similarity of those
    users' profiles) and ``empty`` (bool per fitted user). It knows a user who was fitted and
    whose profile is not empty.
    """

    @property
    @abstractmethod
    def empty(self) -> np.ndarray:
        """Boolean per fitted user: True where the profile is empty."""

    @abstractmethod
    def _similarity(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), items) similarity of the profiles in those rows."""

    def with_history(self, history: pd.DataFrame) -> "ProfileChannel":
        """Not for a profile channel: its profiles were built from its training data; fit it again instead."""
        raise TypeError(f"{type(self).__name__} builds its profiles from the training data it was fitted on; "
                        "fit it again on the new ratings")

    def _known(self, users: np.ndarray) -> np.ndarray:
        rows = pd.Index(self.user_ids).get_indexer(users)
        return (rows >= 0) & ~self.empty[np.maximum(rows, 0)]

    def _own_scores(self, users: np.ndarray) -> np.ndarray:
        return self._similarity(pd.Index(self.user_ids).get_indexer(users))


@dataclass(frozen=True, eq=False, kw_only=True)
class PopularityChannel(RecallChannel):
    """The same list for everyone: items by their likes in training (score = log-popularity). Knows every user."""

    def _known(self, users: np.ndarray) -> np.ndarray:
        return np.ones(len(users), dtype=bool)

    def _own_scores(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.log_popularity, (len(users), len(self.item_ids)))


def fit_popularity(train: pd.DataFrame, *, catalogue: Sequence[int] | None = None,
                   name: str = "popularity") -> PopularityChannel:
    """The popularity channel: items ranked by how many users liked them (rating >= 3.5) in ``train``.

    ``catalogue``: the movie ids that may be recommended (default: every movie in ``train``).
    """
    check_frame(train, RATING_COLUMNS, "train", allow_empty=False)
    items = (np.unique(train["movieId"].to_numpy(np.int64)) if catalogue is None
             else np.unique(np.asarray(catalogue, dtype=np.int64)))
    if items.size == 0:
        raise ValueError("catalogue is empty; give the movie ids that may be recommended")
    users = np.unique(train["userId"].to_numpy(np.int64))
    return PopularityChannel(item_ids=items, log_popularity=like_popularity(train, items), user_ids=users,
                             rated=interaction_matrix(train, users, items), name=name)
