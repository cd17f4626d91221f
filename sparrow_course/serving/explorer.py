"""Chapter 09's explorer: channel quotas in, merged recall@K out, on the channels' candidate lists.

:class:`QuotaExplorer` holds each channel's candidates for the evaluation users (asked once, as the
recall stage asks them) and the held-out likes. For a setting of per-channel quotas it merges them by
:func:`.merge.merge_quotas` (each channel's best ``quota`` movies not taken yet, the rest of the ``k``
places filled by rank) and measures the list against the likes. It returns a :class:`QuotaView`:
the merge's recall@k, the part of it each channel's places found, the places each channel took (a
channel can take fewer than its quota when earlier channels took its movies, more when the fill
reaches it) and each channel alone. :func:`draw_quotas` and :func:`quota_summary` draw and print it;
the notebook passes all three to ``sparrow_course.explorers.explore``. A move costs one merge and one
evaluation: well under a tenth of a second for 800 users and five channels.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..checks import check_frame, check_int
from ..explorers import Control, slider
from ..metrics import evaluate_top_k
from .merge import _check_frames, _quota_vector, merge_quotas

__all__ = ["QuotaExplorer", "QuotaView", "draw_quotas", "quota_summary"]


@dataclass
class QuotaView:
    """What the explorer shows for one setting of quotas (recalls are means over the evaluation users)."""

    quotas: dict            # channel -> quota, in channel order
    k: int
    recall: float           # recall@k of the merged lists
    found: pd.Series        # channel -> the part of ``recall`` found by that channel's places (sums to ``recall``)
    places: pd.Series       # channel -> mean places per user it took in the merged list (sums to about ``k``)
    alone: pd.Series        # channel -> recall@k of the channel's own top k

    @property
    def best_alone(self) -> str:
        return str(self.alone.idxmax())


class QuotaExplorer:
    """``explore = QuotaExplorer(frames, truth, k); explore(**{"popularity": 20, "tags": 5, ...})`` -> :class:`QuotaView`.

    ``frames``: channel name -> recall frame (``serving.recall_all``); ``truth``: the held-out likes
    (userId, movieId) of the users measured; a channel left out of a call keeps the default quota,
    an equal share of ``k`` (what ``merge_quotas`` uses by default, so the default state is the
    chapter's "merge: quotas" row).
    """

    def __init__(self, frames: Mapping[str, pd.DataFrame], truth: pd.DataFrame, k: int) -> None:
        self.frames = _check_frames(frames)
        self.k = check_int(k, "k", low=1)
        check_frame(truth, ("userId", "movieId"), "truth", allow_empty=False)
        self.truth = truth[["userId", "movieId"]].drop_duplicates()
        self.names = list(self.frames)
        self.defaults = dict(zip(self.names, _quota_vector(self.names, self.k, None)))
        self._likes = self.truth.groupby("userId").size()
        self._users = len(self._likes)
        self.alone = pd.Series({name: evaluate_top_k(frame, self.truth, self.k)[f"recall@{self.k}"]
                                for name, frame in self.frames.items()}, name=f"recall@{self.k}")

    def controls(self) -> dict[str, Control]:
        """One slider per channel, 0 to ``k`` places, starting at the default equal share."""
        return {name: slider(0, self.k, 1, value) for name, value in self.defaults.items()}

    def __call__(self, **quotas: Any) -> QuotaView:
        quotas = dict(self.defaults, **quotas)
        vector = _quota_vector(self.names, self.k, quotas)   # unknown channels and bad numbers get a clear error
        for name, q in zip(self.names, vector):
            if q > self.k:
                raise ValueError(f"quota of {name!r} must be at most k = {self.k} places, got {q}")
        quotas = dict(zip(self.names, vector))
        merged = merge_quotas(self.frames, self.k, quotas)
        hits = merged.merge(self.truth, on=["userId", "movieId"])
        hits = hits[hits["userId"].isin(self._likes.index)]
        # each found like counts 1 / (the user's likes) / (users): summed, that is recall@k as evaluate_top_k defines it
        weight = 1.0 / self._likes.reindex(hits["userId"]).to_numpy(float) / self._users
        found = pd.Series(weight, index=hits["channel"].to_numpy()).groupby(level=0).sum().reindex(self.names,
                                                                                                  fill_value=0.0)
        measured = merged[merged["userId"].isin(self._likes.index)]
        places = measured.groupby("channel").size().reindex(self.names, fill_value=0) / self._users
        recall = float(found.sum())   # the found likes' shares add up to recall@k: no second evaluation
        return QuotaView(quotas, self.k, recall, found.rename("recall found"), places.rename("places"),
                         self.alone.copy())


def draw_quotas(view: QuotaView, fig: Any) -> None:
    """Draw a :class:`QuotaView`: recall@k of the merge (split by the channel that found it) against each channel
    alone, and the places each channel took against its quota."""
    left, right = fig.subplots(1, 2, sharey=True)   # the merged bar's colours are the channels' on the right
    names = list(view.quotas)
    y = np.arange(len(names))[::-1] + 1.0
    colors = [f"C{i}" for i in range(len(names))]
    left.barh(y, view.alone.to_numpy(), color="lightgrey", edgecolor="black", label="channel alone")
    start = 0.0
    for name, color in zip(names, colors):
        left.barh([0.0], [view.found[name]], left=[start], color=color)
        start += view.found[name]
    left.axvline(view.alone.max(), color="black", linestyle="--", linewidth=1, label="best channel alone")
    left.set_yticks([0.0, *y], ["merged", *names])
    left.set_xlim(0, max(view.alone.max(), view.recall) * 1.15)
    left.set_xlabel(f"recall@{view.k}")
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8)   # below: bars never cover it
    right.barh(y, view.places.to_numpy(), color=colors, label="places taken")
    right.scatter(list(view.quotas.values()), y, marker="|", s=300, color="black", zorder=3, label="quota")
    right.set_xlim(0, view.k)
    right.set_xlabel(f"places per user, of {view.k}")
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8)
    verdict = "above" if view.recall > view.alone.max() else "below"
    fig.suptitle(f"Quotas merge recalls {view.recall:.3f}, {verdict} {view.best_alone} alone ({view.alone.max():.3f})")


def quota_summary(view: QuotaView) -> str:
    """The numbers of a :class:`QuotaView`, as text."""
    quotas = ", ".join(f"{name} {q}" for name, q in view.quotas.items())
    found = ", ".join(f"{name} {view.found[name]:.3f}" for name in view.quotas)
    places = ", ".join(f"{name} {view.places[name]:.1f}" for name in view.quotas)
    return (f"quotas: {quotas}\n"
            f"merged recall@{view.k} {view.recall:.3f} (best channel alone: {view.best_alone} {view.alone.max():.3f}); "
            f"found by: {found}\nplaces taken per user: {places}")
