"""Tests of the SparrowLens generator: determinism, shape, and that the planted structure is really there."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sparrow_course import sparrowlens as sl
from sparrow_course.datasets import describe, load_movielens, release_year

DATA = Path(__file__).resolve().parent.parent / "data"
SMALL = {"n_movies": 600, "n_users": 300}


@pytest.fixture(scope="module")
def dataset() -> sl.SparrowLens:
    return sl.generate()


@pytest.fixture(scope="module")
def committed_sums() -> dict[str, str]:
    lines = (DATA / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split("  ") for line in lines)}


# --- determinism -------------------------------------------------------------------------------


def test_regenerating_default_seed_reproduces_committed_files(dataset, committed_sums, tmp_path):
    sums = dataset.write(tmp_path)
    assert set(committed_sums) == set(sl.FILE_NAMES)
    assert sums == committed_sums
    for name in sl.FILE_NAMES:
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == committed_sums[name], name
    assert (tmp_path / "SHA256SUMS").read_bytes() == (DATA / "SHA256SUMS").read_bytes()


def test_committed_files_match_their_checksums(committed_sums):
    for name, digest in committed_sums.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, f"{name} was edited by hand?"


def test_files_are_plain_csv_with_unix_line_endings_and_small(dataset):
    total = 0
    for name, data in dataset.csv_bytes().items():
        assert b"\r" not in data, name
        assert data.endswith(b"\n"), name
        total += len(data)
    total += sum((DATA / n).stat().st_size for n in ("README.md", "SHA256SUMS"))
    assert total < 15e6


def test_same_seed_gives_same_frames_and_truth():
    a, b = sl.generate(7, **SMALL), sl.generate(7, **SMALL)
    for name, frame in a.frames().items():
        pd.testing.assert_frame_equal(frame, b.frames()[name])
    for field, value in vars(a.truth).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, getattr(b.truth, field), err_msg=field)
    assert a.csv_bytes() == b.csv_bytes()


def test_different_seed_gives_different_data():
    a, b = sl.generate(7, **SMALL), sl.generate(8, **SMALL)
    assert a.csv_bytes()["ratings.csv"] != b.csv_bytes()["ratings.csv"]
    assert not np.allclose(a.truth.item_factors, b.truth.item_factors)


def test_write_is_atomic_on_error(tmp_path):
    (tmp_path / "movies.csv").write_bytes(b"old\n")
    with pytest.raises(TypeError):
        # The second "file" cannot be written: nothing may be replaced or left behind.
        sl.generator._write_files_atomically(tmp_path, {"movies.csv": b"new\n", "ratings.csv": None})  # type: ignore[dict-item]
    assert (tmp_path / "movies.csv").read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movies.csv"]


def test_main_regenerates_into_a_folder(tmp_path, monkeypatch, capsys):
    real_generate = sl.generate
    monkeypatch.setattr(sl.card, "generate", lambda seed: real_generate(seed, **SMALL))
    assert sl.main(["--out", str(tmp_path / "out"), "--seed", "3"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted([*sl.FILE_NAMES, "SHA256SUMS"])
    assert "seed 3" in capsys.readouterr().out
    assert len(load_movielens(tmp_path / "out").ratings) == len(real_generate(3, **SMALL).ratings)


def test_generate_validates_its_arguments():
    with pytest.raises(TypeError, match="seed must be an integer"):
        sl.generate("1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_movies must be at least"):
        sl.generate(1, n_movies=10)
    with pytest.raises(ValueError, match="mean_ratings_per_user"):
        sl.generate(1, n_movies=300)


# --- shape targets -----------------------------------------------------------------------------


def test_counts_in_range(dataset):
    assert len(dataset.movies) == 3000
    assert len(dataset.users) == 6000
    assert 200_000 <= len(dataset.ratings) <= 300_000
    assert 1_000 <= len(dataset.tags) <= 50_000
    per_user = dataset.ratings.groupby("userId").size()
    assert per_user.index.tolist() == dataset.users["userId"].tolist()
    assert per_user.min() >= 10
    assert per_user.max() > 10 * per_user.median()  # heavy-tailed activity


def test_ratings_on_half_star_scale_with_whole_stars_more_common(dataset):
    r = dataset.ratings["rating"]
    assert set(r.unique()) <= {x / 2 for x in range(1, 11)}
    whole = (r % 1 == 0).mean()
    assert 0.6 < whole < 0.9
    assert 3.3 < r.mean() < 3.7
    assert set(r.value_counts().index[:2]) == {3.0, 4.0}  # as in MovieLens, 4 and 3 stars lead
    assert not dataset.ratings.duplicated(["userId", "movieId"]).any()


def test_timestamps_span_years_and_never_precede_release(dataset):
    ts = dataset.ratings["timestamp"]
    assert ts.min() >= sl.DATA_START and ts.max() < sl.DATA_END
    assert (ts.max() - ts.min()) / (365.25 * 86400) > 20
    years = release_year(dataset.movies)
    rated_year = pd.to_datetime(ts, unit="s").dt.year.to_numpy()
    released = years.loc[dataset.ratings["movieId"]].to_numpy(dtype=np.int64)
    assert (rated_year >= released).all()
    np.testing.assert_array_equal(years.to_numpy(dtype=np.int64), dataset.truth.item_release_year)


def test_movies_users_and_hierarchy_use_the_movielens_vocabularies(dataset):
    genres = set("|".join(dataset.movies["genres"]).split("|"))
    assert genres == set(sl.GENRES)
    assert dataset.movies["title"].str.fullmatch(r"[A-Z][A-Za-z' ]+ \(\d{4}\)").all()
    assert dataset.movies["title"].is_unique
    assert set(dataset.users["occupation"]) == set(sl.OCCUPATIONS) and len(sl.OCCUPATIONS) == 21
    assert set(dataset.users["age_group"]) == set(sl.AGE_GROUPS)
    assert set(dataset.users["signup_platform"]) == set(sl.PLATFORMS)
    h = dataset.tag_hierarchy
    assert (h["root"].nunique(), h["parent"].nunique(), len(h)) == (6, 30, 450)
    assert h["tag"].is_unique
    assert set(h["tag"]) >= set(dataset.truth.tag_names)  # the core leaves are in the wide tree
    assert set(dataset.tags["tag"]) <= set(dataset.truth.catalogue_tag_names)
    rated = set(zip(dataset.ratings["userId"], dataset.ratings["movieId"]))
    assert set(zip(dataset.tags["userId"], dataset.tags["movieId"])) <= rated  # users tag what they rated


def test_committed_files_load_to_the_generated_frames(dataset):
    ml = load_movielens()
    for name, frame in dataset.frames().items():
        loaded = getattr(ml, name.removesuffix(".csv"))
        pd.testing.assert_frame_equal(loaded, frame, check_dtype=False, obj=name)
        for column in frame.columns:  # same kinds: ints as ints, text as text
            assert loaded[column].dtype.kind == frame[column].dtype.kind or \
                (loaded[column].dtype.kind in "OT" and frame[column].dtype.kind in "OT"), column


def test_data_card_statistics_match_the_data(dataset):
    card = (DATA / "README.md").read_text(encoding="utf-8")
    block = card.split(sl.card.CARD_BEGIN + "\n", 1)[1].split(sl.card.CARD_END, 1)[0]
    assert block == sl.card_statistics_markdown(dataset), "run: python -m sparrow_course.sparrowlens --out data"
    stats = describe(dataset.as_movielens())
    assert f"| ratings | {stats['n_ratings']:,} |" in card
    assert f"| mean rating | {stats['mean_rating']:.3f} |" in card


# --- planted structure -------------------------------------------------------------------------


def test_true_score_predicts_ratings(dataset):
    r, t = dataset.ratings, dataset.truth
    expected = t.expected_rating(r["userId"].to_numpy(), r["movieId"].to_numpy(), r["timestamp"].to_numpy())
    assert np.corrcoef(expected, r["rating"])[0, 1] > 0.55
    # The interaction alone (no biases) carries signal too.
    u, i = t.user_index(r["userId"].to_numpy()), t.item_index(r["movieId"].to_numpy())
    dot = expected - t.global_mean - t.user_bias[u] - t.item_bias[i]
    residual = r["rating"].to_numpy() - t.user_bias[u] - t.item_bias[i]
    assert np.corrcoef(dot, residual)[0, 1] > 0.3


def test_segment_is_predictable_from_registration_features(dataset):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    features = dataset.users[["age_group", "gender", "occupation", "region", "signup_platform"]].astype(str)
    x = OneHotEncoder(handle_unknown="ignore").fit_transform(features)
    y = dataset.truth.user_segment
    model = LogisticRegression(max_iter=500).fit(x[:4000], y[:4000])
    accuracy = model.score(x[4000:], y[4000:])
    chance = np.bincount(y[:4000]).max() / 4000
    bayes = np.mean(dataset.truth.user_segment_proba.argmax(axis=1) == y)
    assert accuracy > 2 * chance
    assert accuracy < bayes + 0.05 < 0.8  # predictable, not determined


def test_popularity_is_long_tailed(dataset):
    stats = describe(dataset.as_movielens())
    assert stats["popularity"]["top_10pct_share"] > 0.4
    assert stats["popularity"]["top_1pct_share"] > 0.08


def test_users_watch_what_they_like(dataset):
    r, t = dataset.ratings, dataset.truth
    u, i = t.user_index(r["userId"].to_numpy()), t.item_index(r["movieId"].to_numpy())
    taste = (t.user_factors_early + t.user_factors_late) / 2
    watched = np.einsum("nk,nk->n", taste[u], t.item_factors[i]).mean()
    rng = np.random.default_rng(0)
    random_items = rng.integers(0, len(t.movie_ids), len(u))
    unwatched = np.einsum("nk,nk->n", taste[u], t.item_factors[random_items]).mean()
    assert watched > unwatched + 0.2


def test_interest_drifts_over_each_history(dataset):
    r, t = dataset.ratings.sort_values(["userId", "timestamp"], kind="stable"), dataset.truth
    u, i = t.user_index(r["userId"].to_numpy()), t.item_index(r["movieId"].to_numpy())
    late_minus_early = (np.einsum("nk,nk->n", t.user_factors_late[u], t.item_factors[i])
                        - np.einsum("nk,nk->n", t.user_factors_early[u], t.item_factors[i]))
    position = r.groupby("userId").cumcount().to_numpy() / r.groupby("userId")["userId"].transform("size").to_numpy()
    drifted = t.user_drift_weight[u] > 0.5
    later = late_minus_early[drifted & (position >= 0.5)].mean()
    earlier = late_minus_early[drifted & (position < 0.5)].mean()
    assert later > earlier + 0.15


def test_user_tags_are_mostly_the_movies_catalogue_tags(dataset):
    assert sl.card._true_tag_share(dataset) > 0.75


# --- second edition: catalogue tags ------------------------------------------------------------

#: SHA-256 of the first edition's files that the second edition must not change (chapters 01-03
#: quote them, and the other chapters' embeddings are trained on them).
FIRST_EDITION = {
    "movies.csv": "068e432f1839390d11d2ff7b9bfd467bab1da8db101b452920398c4eff6b2965",
    "ratings.csv": "02469ed3f3202da333ce5e40e74d29131d7cea9d664fc40e2fd48259cac44aa0",
    "users.csv": "ab791d09c0ada95e6c4da3ed06139a0549d437058affbed20c267398e8bcb5c0",
}


def test_second_edition_leaves_ratings_users_and_movies_byte_identical(committed_sums):
    for name, digest in FIRST_EDITION.items():
        assert committed_sums[name] == digest, name
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name


@pytest.fixture(scope="module")
def catalogue() -> dict:
    from sparrow_course.datasets import describe_movie_tags, tag_rank_frequency

    ml = load_movielens()  # the committed files
    return {"ml": ml, "stats": describe_movie_tags(ml), "freq": tag_rank_frequency(ml)}


def test_catalogue_tags_cover_every_movie_at_several_levels(catalogue):
    ml, stats = catalogue["ml"], catalogue["stats"]
    assert stats["coverage"] == 1.0
    assert set(ml.movie_tags["movieId"]) == set(ml.movies["movieId"])
    assert stats["tags_per_movie"]["min"] >= 1 and stats["tags_per_movie"]["mean"] >= 4
    assert stats["tags_per_movie"]["max"] <= 20
    per_kind = stats["rows_by_kind"]
    assert set(per_kind) == {"leaf", "parent", "root", "generic"}
    assert min(per_kind.values()) > 0.03 * stats["rows"]
    # Every catalogue tag is a name of the hierarchy or one of the generic descriptors.
    h = ml.tag_hierarchy
    known = set(h["tag"]) | set(h["parent"]) | set(h["root"]) | {g for g, _ in sl.GENERIC_TAGS}
    assert set(ml.movie_tags["tag"]) <= known
    assert not {g for g, _ in sl.GENERIC_TAGS} & (set(h["tag"]) | set(h["parent"]) | set(h["root"]))
    r = ml.movie_tags["relevance"]
    assert r.between(0, 1).all() and r.nunique() > 1000


def test_catalogue_tag_frequencies_are_zipf_like(catalogue):
    stats, freq = catalogue["stats"], catalogue["freq"]
    counts = freq["movies"].to_numpy(dtype=float)
    log_rank, log_count = np.log(freq["rank"].to_numpy(dtype=float)), np.log(counts)
    assert np.corrcoef(log_rank, log_count)[0, 1] < -0.9  # close to a straight line on log-log axes
    assert -1.6 < stats["zipf_slope"] < -0.7
    assert stats["gini"] > 0.5 and stats["top10_share"] > 0.15
    assert counts[0] > 50 * np.median(counts)  # the head is far above the typical tag
    assert freq["kind"].iloc[0] == "generic" and (freq["kind"].iloc[:5] == "generic").all()
    leaves = freq.loc[freq["kind"] == "leaf", "movies"]
    generic = freq.loc[freq["kind"] == "generic", "movies"]
    assert generic.median() > 3 * leaves.median()  # generic tags on many films, leaves on few


def test_siblings_rarely_share_a_leaf(catalogue, dataset):
    overlap = catalogue["stats"]["sibling_leaf_overlap"]
    assert overlap < 0.45  # most pairs of same-parent films share no leaf tag
    # ... far less than with the first edition's 5 core leaves per parent, measured the same way.
    t = dataset.truth
    rows = [(mid, t.tag_names[j]) for mid, row in zip(t.movie_ids, t.item_tag_matrix) for j in np.flatnonzero(row)]
    first = pd.DataFrame(rows, columns=["movieId", "tag"])
    from sparrow_course.datasets.exploration import _sibling_leaf_overlap

    assert _sibling_leaf_overlap(first, dataset.tag_hierarchy) > overlap + 0.2


def test_catalogue_tags_carry_noisy_signal_about_item_factors(dataset):
    t = dataset.truth
    leaf, generic = sl.tag_signal_cosine(t, "leaf"), sl.tag_signal_cosine(t, "generic")
    assert leaf > generic > 0.2  # real signal, weaker for generic tags
    assert leaf < 0.95  # but noisy: the tags do not determine the factor
    # Movies sharing a leaf are closer in factor space than random pairs of one sub-genre.
    v = t.item_factors / np.linalg.norm(t.item_factors, axis=1, keepdims=True)
    leaves = (t.item_catalogue_relevance[:, [k == "leaf" for k in t.catalogue_tag_kind]] > 0).astype(np.float32)
    same_parent = t.item_parent[:, None] == t.item_parent[None, :]
    share_leaf = (leaves @ leaves.T) > 0
    cos = v @ v.T
    off_diag = ~np.eye(len(v), dtype=bool)
    # Measured +0.039 on the bundled data: leaves add a little beyond their sub-genre.
    assert cos[same_parent & share_leaf & off_diag].mean() > cos[same_parent & ~share_leaf].mean() + 0.02


def test_truth_holds_the_catalogue_tags_and_their_weights(dataset):
    t = dataset.truth
    n_tags = len(t.catalogue_tag_names)
    assert t.catalogue_tag_vectors.shape == (n_tags, t.item_factors.shape[1])
    assert t.catalogue_tag_signal.shape == (n_tags,) and len(t.catalogue_tag_kind) == n_tags
    assert t.item_catalogue_relevance.shape == (len(t.movie_ids), n_tags)
    on = t.item_catalogue_relevance > 0
    assert on.sum() == len(dataset.movie_tags)
    col = pd.Index(t.catalogue_tag_names).get_indexer(dataset.movie_tags["tag"])
    row = t.item_index(dataset.movie_tags["movieId"].to_numpy())
    np.testing.assert_allclose(t.item_catalogue_relevance[row, col], dataset.movie_tags["relevance"])


def test_items_of_one_subgenre_are_close_in_factor_space(dataset):
    t = dataset.truth
    v = t.item_factors / np.linalg.norm(t.item_factors, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, len(v), 20_000), rng.integers(0, len(v), 20_000)
    cos = np.einsum("nk,nk->n", v[a], v[b])
    same = t.item_parent[a] == t.item_parent[b]
    assert cos[same].mean() > cos[~same].mean() + 0.3


# --- truth API ---------------------------------------------------------------------------------


def test_truth_is_indexed_by_sorted_ids_and_read_only(dataset):
    t = dataset.truth
    np.testing.assert_array_equal(t.movie_ids, dataset.movies["movieId"].to_numpy())
    np.testing.assert_array_equal(t.user_ids, dataset.users["userId"].to_numpy())
    assert np.all(np.diff(t.movie_ids) > 0)
    assert t.movie_ids[-1] > len(t.movie_ids)  # gaps, as in MovieLens
    assert t.item_factors.shape == (3000, 16) and t.user_factors_early.shape == (6000, 16)
    with pytest.raises(ValueError):
        t.item_factors[0, 0] = 1.0
    assert t.item_tag_matrix.shape == (3000, len(t.tag_names))
    assert t.user_segment_proba.shape == (6000, len(t.segment_names))
    np.testing.assert_allclose(t.user_segment_proba.sum(axis=1), 1.0)


def test_truth_lookups_and_taste_over_time(dataset):
    t = dataset.truth
    with pytest.raises(ValueError, match="unknown movieId"):
        t.item_index([t.movie_ids.max() + 1])
    with pytest.raises(ValueError, match="same length"):
        t.expected_rating([1, 2], [t.movie_ids[0]])
    ids = t.user_ids[:5]
    np.testing.assert_allclose(t.user_factors_at(ids, t.user_window[:5, 0]), t.user_factors_early[:5])
    np.testing.assert_allclose(t.user_factors_at(ids, t.user_window[:5, 1]), t.user_factors_late[:5])
    assert re.fullmatch(r"\d+\.\d+", f"{t.global_mean}")


def test_tag_signal_cosine_validates_the_kind(dataset):
    with pytest.raises(ValueError, match="kind"):
        sl.tag_signal_cosine(dataset.truth, "leaves")
    assert -1 <= sl.tag_signal_cosine(dataset.truth, "parent") <= 1
