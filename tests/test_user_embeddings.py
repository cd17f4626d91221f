"""Chapter 07's user-embedding experiments: user-user similarity sees planted segments; users pooled from the model recall."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sparrow_course import user_embeddings as ue
from sparrow_course.embeddings import ItemVectors, UserVectors


def test_segment_neighbour_share_sees_planted_groups():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 4)) * 5
    seg = np.repeat([0, 1, 2], 30)
    users = UserVectors(np.arange(90), centres[seg] + rng.normal(size=(90, 4)), np.ones(90, dtype=np.int64))
    got = ue.segment_neighbour_share(users, pd.Series(seg, index=np.arange(90)), n_neighbours=5)
    assert got["same_segment_share"] > 0.95 and got["chance"] == pytest.approx(1 / 3)


def test_user_embedding_experiment_on_a_planted_toy():
    rng = np.random.default_rng(0)
    n_items, n_users = 40, 60
    taste = rng.integers(0, 2, n_users)  # two groups of users, each liking its own half of the films
    rows = []
    for u in range(n_users):
        liked = rng.choice(np.arange(20) + 20 * taste[u], 8, replace=False)
        rows += [(u + 1, int(m) + 1, 4.5, t) for t, m in enumerate(liked)]
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    centres = np.array([[3.0, 0.0], [0.0, 3.0]])
    model = ItemVectors(np.arange(1, n_items + 1), centres[np.arange(n_items) // 20] + rng.normal(size=(n_items, 2)))
    train = ratings[ratings["timestamp"] < 6]
    test = ratings[ratings["timestamp"] >= 6]
    segments = pd.Series(taste, index=np.arange(1, n_users + 1))
    table = ue.user_embedding_experiment(train, test, model, other_model=model, segments=segments, k=5,
                                         n_users=None)
    shared = table.query("scoring == 'centred cosine' and pooling == 'mean'")["recall@5"].iloc[0]
    assert shared > 1.8 * table.attrs["chance"]  # a list from the right half of the films (random: k / n_items)
    assert table.query("user_vectors == 'independent, Procrustes-aligned'")["recall@5"].iloc[0] == pytest.approx(shared)
    assert table["same_segment_share"].dropna().min() > 0.9


def test_segments_of_other_data_are_refused():
    rng = np.random.default_rng(0)
    users = UserVectors(np.arange(100), rng.normal(size=(100, 4)), np.ones(100, dtype=int))
    partial = pd.Series(np.arange(20) % 3, index=np.arange(20))  # a fifth of the users: planted in other data
    with pytest.raises(ValueError, match=r"\bsegments\b.*planted_truth"):
        ue.segment_neighbour_share(users, partial)
