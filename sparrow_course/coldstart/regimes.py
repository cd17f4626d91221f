"""Chapter 04, when the lesson holds: how much registration features must say before clusters beat popularity.

Clusters of new users can only be as good as what their features say about taste. On variant
SparrowLens catalogues (``sparrowlens.generate(params=...)``) the strength of the planted
effects of registration features on a user's taste segment is turned from none to strong;
:func:`segment_signal_sweep` measures, for each, how often the features predict the planted
segment (the true model's best guess) and what clusters on those features gain over global
popularity for users held out as if new.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..channels import fit_popularity
from ..checks import check_int, check_number, check_seed
from ..metrics import paired_difference, per_user_metrics
from ..seeding import DEFAULT_SEED
from .users import fit_clusters, hold_out_users

__all__ = ["REGISTRATION_FEATURES", "segment_signal_sweep"]

#: SparrowLens's registration features (users.csv).
REGISTRATION_FEATURES: tuple[str, ...] = ("age_group", "gender", "occupation", "region", "signup_platform")


def segment_signal_sweep(strengths: Sequence[float] = (0.0, 0.8, 1.6, 3.2), *, n_users: int = 3000,
                         n_movies: int = 1500, n_clusters: int = 16, k: int = 20, test_fraction: float = 0.3,
                         n_boot: int = 1000, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Clusters against popularity on variant catalogues whose features say more or less about taste.

    For each ``strength`` (SparrowLens's ``segment_feature_strength``; the bundled data uses
    1.6, 0 makes the segment independent of the features) a catalogue of ``n_users`` users is
    generated; ``segment predicted`` is the share of users whose planted segment the true
    softmax's best guess from their features gets right, ``largest segment`` the share a
    guess of the commonest segment gets. Users are held out as if new (``test_fraction``);
    clusters (k-means, ``n_clusters``, all registration features) and popularity are fitted on
    the rest, and ``difference`` (clusters minus popularity, recall@k) comes with a paired
    bootstrap 95% interval over the test users.
    """
    from ..sparrowlens import generate

    if isinstance(strengths, (int, float, np.number)) or not len(strengths):
        raise ValueError(f"strengths must be a non-empty list of feature strengths, got {strengths!r}")
    strengths = [check_number(s, "strengths", low=0.0) for s in strengths]
    n_clusters = check_int(n_clusters, "n_clusters", low=1)
    k = check_int(k, "k", low=1)
    seed = check_seed(seed)
    rows = []
    for strength in strengths:
        data = generate(seed, n_users=n_users, n_movies=n_movies, params={"segment_feature_strength": strength})
        truth = data.truth
        ml = data.as_movielens()
        holdout = hold_out_users(ml.ratings, test_fraction=test_fraction, validation_fraction=0.0, seed=seed)
        clusters = fit_clusters(ml, holdout.train, list(REGISTRATION_FEATURES), n_clusters=n_clusters, seed=seed)
        popularity = fit_popularity(holdout.train, catalogue=ml.movies["movieId"])
        answer = holdout.truth("test")
        c = per_user_metrics(clusters.recall(holdout.test_users, k), answer, k)[f"recall@{k}"]
        p = per_user_metrics(popularity.recall(holdout.test_users, k), answer, k)[f"recall@{k}"]
        diff = paired_difference(c, p, n_boot=n_boot, seed=seed)
        shares = np.bincount(truth.user_segment) / len(truth.user_segment)
        rows.append({"feature strength": strength,
                     "segment predicted": float(np.mean(truth.user_segment_proba.argmax(axis=1) == truth.user_segment)),
                     "largest segment": float(shares.max()),
                     "clusters": c.mean(), "popularity": p.mean(),
                     "difference": diff["difference"], "low": diff["low"], "high": diff["high"],
                     "test users": diff["users"]})
    return pd.DataFrame(rows)
