"""Chapter 05 (tags): vectorisers against hand-computed cases, the hierarchy, profiles, cosine recall, evaluation."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from sparrow_course import metrics, tags
from sparrow_course.channels import fast_top_k_frame
from sparrow_course.datasets import user_time_split, load_movielens

HIERARCHY = pd.DataFrame({
    "tag": ["kung fu", "sword fight", "car chase", "first date"],
    "parent": ["martial arts", "martial arts", "heist", "romcom"],
    "root": ["action", "action", "action", "romance"],
})
MOVIES = pd.DataFrame({"movieId": [1, 2, 3, 4], "title": ["A (2000)", "B (2001)", "C (2002)", "D (2003)"],
                       "genres": ["Action", "Action|Drama", "Action|Crime", "Romance"]})
ITEM_TAGS = pd.DataFrame({"movieId": [1, 1, 2, 3, 3, 4],
                          "tag": ["Kung Fu", "atmospheric", "sword  fight", "car chase", "atmospheric", "first date"],
                          "relevance": [1.0, 0.5, 0.8, 1.0, 0.25, 1.0]})


def catalogue(**kw):
    return tags.tag_catalogue(MOVIES, ITEM_TAGS, HIERARCHY, **kw)


def dense(cat, **kw):
    x = tags.item_vectors(cat, **kw).toarray()
    return pd.DataFrame(x, index=cat.item_ids, columns=cat.vocabulary)


def unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


# --------------------------------------------------------------------------- tags and the hierarchy

def test_normalise_tags_folds_case_and_spacing():
    assert tags.normalise_tags([" Dark  Comedy", "dark comedy ", "DARK\tcomedy"]).tolist() == ["dark comedy"] * 3


def test_ancestors_on_a_known_tree():
    tree = tags.TagHierarchy.from_frame(HIERARCHY)
    assert tree.ancestors("kung fu") == ["martial arts", "action"]
    assert tree.ancestors("Martial Arts") == ["action"]
    assert tree.ancestors("action") == []
    assert tree.level == {"kung fu": 0, "sword fight": 0, "car chase": 0, "first date": 0,
                          "martial arts": 1, "heist": 1, "romcom": 1, "action": 2, "romance": 2}


def test_unknown_tag_in_the_hierarchy_is_named_with_a_suggestion():
    tree = tags.TagHierarchy.from_frame(HIERARCHY)
    with pytest.raises(ValueError, match=r"unknown tag 'kung-fu'.*did you mean 'kung fu'"):
        tree.ancestors("kung-fu")


@pytest.mark.parametrize("rows,message", [
    ([("a", "b", "c"), ("c", "a", "b")], r"cycle: .*->"),
    ([("a", "a", "c")], r"cycle: 'a' is its own parent"),
    ([("a", "b", "")], r"has no root"),
    ([("a", "", "c")], r"has no parent"),
    ([("a", "b", "c"), ("a", "d", "c")], r"tag 'a' sits under two parents"),
    ([("a", "b", "c"), ("e", "b", "f")], r"parent 'b' sits under two roots"),
    ([("a", "b", "c"), ("x", "a", "b")], r"'a' is a leaf in one row and a parent"),
])
def test_bad_hierarchies_are_refused(rows, message):
    frame = pd.DataFrame(rows, columns=["tag", "parent", "root"])
    with pytest.raises(ValueError, match=message):
        tags.TagHierarchy.from_frame(frame)


def test_missing_root_as_nan_is_refused():
    frame = pd.DataFrame({"tag": ["a"], "parent": ["b"], "root": [np.nan]})
    with pytest.raises(ValueError, match="has no root"):
        tags.TagHierarchy.from_frame(frame)


def test_hierarchy_needs_its_columns():
    with pytest.raises(ValueError, match="lacks column"):
        tags.TagHierarchy.from_frame(pd.DataFrame({"tag": ["a"], "parent": ["b"]}))


# --------------------------------------------------------------------------- the catalogue

def test_catalogue_expands_tags_to_their_ancestors_and_keeps_generic_tags_flat():
    cat = catalogue()
    assert cat.levels == ("tags as applied", "parent (hierarchy)", "root (hierarchy)")
    got = cat.pairs[cat.pairs["movieId"] == 1].set_index(["tag", "distance"])["relevance"].to_dict()
    assert got == {("kung fu", 0): 1.0, ("atmospheric", 0): 0.5, ("martial arts", 1): 1.0, ("action", 2): 1.0}
    assert cat.kind["atmospheric"] == "generic" and cat.kind["martial arts"] == "parent"
    # an ancestor switched on by two tags keeps the higher relevance
    two = tags.tag_catalogue(MOVIES, pd.DataFrame({"movieId": [1, 1], "tag": ["kung fu", "sword fight"],
                                                   "relevance": [0.2, 0.7]}), HIERARCHY)
    assert two.pairs.set_index(["tag", "distance"]).loc[("martial arts", 1), "relevance"] == 0.7


def test_without_hierarchy_genres_are_the_level_above():
    cat = tags.tag_catalogue(MOVIES, ITEM_TAGS[["movieId", "tag"]])
    assert cat.levels == ("tags as applied", "genres (as the level above)")
    assert cat.kind["kung fu"] == "free text" and cat.kind["genre: action"] == "genre"
    assert set(cat.pairs.loc[(cat.pairs["movieId"] == 2) & (cat.pairs["distance"] == 1), "tag"]) == {
        "genre: action", "genre: drama"}


def test_catalogue_errors():
    with pytest.raises(ValueError, match="not in movies"):
        tags.tag_catalogue(MOVIES, pd.DataFrame({"movieId": [99], "tag": ["x"]}))
    with pytest.raises(ValueError, match=r"relevance'\] must be numbers in \[0, 1\]"):
        tags.tag_catalogue(MOVIES, pd.DataFrame({"movieId": [1], "tag": ["x"], "relevance": [1.5]}))
    with pytest.raises(TypeError, match="hierarchy must be"):
        tags.tag_catalogue(MOVIES, ITEM_TAGS, hierarchy="tree.csv")


# --------------------------------------------------------------------------- vectorisers, by hand

def test_multi_hot_matches_multilabelbinarizer_by_hand():
    matrix, names = tags.multi_hot([["b", "a"], ["c"], []], ["a", "b", "c"])
    assert list(names) == ["a", "b", "c"]
    assert matrix.toarray().tolist() == [[1, 1, 0], [0, 0, 1], [0, 0, 0]]


def test_multi_hot_vectors_at_decay_zero():
    x = dense(catalogue(), weighting="multi-hot", decay=0.0)
    assert np.allclose(x.loc[1, ["kung fu", "atmospheric"]], [1 / math.sqrt(2)] * 2)
    assert x.loc[1].drop(["kung fu", "atmospheric"]).eq(0).all()
    assert np.allclose(x.loc[2, "sword fight"], 1.0)


def test_ancestor_expansion_weights_decay_per_level():
    x = dense(catalogue(), weighting="multi-hot", decay=0.5)
    # movie 2: sword fight 1, martial arts 0.5, action 0.25
    expected = unit([1.0, 0.5, 0.25])
    assert np.allclose(x.loc[2, ["sword fight", "martial arts", "action"]], expected)
    one = dense(catalogue(), weighting="multi-hot", decay=1.0)
    assert np.allclose(one.loc[2, ["sword fight", "martial arts", "action"]], [1 / math.sqrt(3)] * 3)
    # movies 1 and 2 share no tag as applied; with decay they meet at their parent and root
    assert float(x.loc[1] @ x.loc[2]) > 0 and float(dense(catalogue(), weighting="multi-hot").loc[1] @
                                                   dense(catalogue(), weighting="multi-hot").loc[2]) == 0


def test_tfidf_against_hand_computed_idf():
    x = dense(catalogue(), weighting="tf-idf", decay=0.0)
    n = 4
    # document frequency on the expanded support: atmospheric 2 movies, kung fu 1
    idf = {t: math.log((1 + n) / (1 + df)) + 1 for t, df in {"kung fu": 1, "atmospheric": 2}.items()}
    assert np.allclose(x.loc[1, ["kung fu", "atmospheric"]], unit([idf["kung fu"], idf["atmospheric"]]))
    table = tags.idf_table(catalogue()).set_index("tag")
    assert table.loc["action", "movies"] == 3 and table.loc["kung fu", "movies"] == 1
    assert math.isclose(table.loc["action", "idf"], math.log(5 / 4) + 1)
    assert table.loc["kung fu", "relative weight"] > 1 > table.loc["action", "relative weight"]


def test_relevance_replaces_the_ones():
    x = dense(catalogue(), weighting="multi-hot", relevance=True)
    assert np.allclose(x.loc[1, ["kung fu", "atmospheric"]], unit([1.0, 0.5]))


@pytest.mark.parametrize("kw,error", [
    (dict(weighting="bm25"), ValueError), (dict(decay=1.5), ValueError), (dict(decay="0.5"), TypeError),
    (dict(relevance=1), TypeError)])
def test_item_vectors_checks_its_arguments(kw, error):
    with pytest.raises(error):
        tags.item_vectors(catalogue(), **kw)


# --------------------------------------------------------------------------- users and matching

RATINGS = pd.DataFrame({"userId": [10, 10, 10, 20, 20, 30],
                        "movieId": [1, 2, 4, 3, 4, 4],
                        "rating": [5.0, 4.0, 2.0, 4.5, 3.0, 1.0],
                        "timestamp": [1, 2, 3, 1, 2, 1]})


def test_profiles_sum_liked_vectors_and_leave_empty_rows():
    cat = catalogue()
    x = tags.item_vectors(cat, weighting="multi-hot")
    p = tags.user_profiles(x, cat.item_ids, RATINGS, [10, 20, 30]).toarray()
    expected = unit(x[0].toarray().ravel() + x[1].toarray().ravel())
    assert np.allclose(p[0], expected)
    assert np.allclose(p[1], x[2].toarray().ravel())
    assert not p[2].any()  # user 30 liked nothing: an empty profile
    weighted = tags.user_profiles(x, cat.item_ids, RATINGS, [10], weights="rating").toarray()
    assert np.allclose(weighted[0], unit(5 * x[0].toarray().ravel() + 4 * x[1].toarray().ravel()))
    recent = tags.user_profiles(x, cat.item_ids, RATINGS, [10], weights="recency", half_life=1).toarray()
    assert np.allclose(recent[0], unit(0.5 * x[0].toarray().ravel() + x[1].toarray().ravel()))


def test_sparse_cosine_equals_dense_cosine():
    a = sparse.random(30, 12, density=0.3, random_state=1, format="csr")
    b = sparse.random(40, 12, density=0.3, random_state=2, format="csr")
    from sklearn.preprocessing import normalize
    a, b = normalize(a), normalize(b)
    da, db = a.toarray(), b.toarray()
    na = np.linalg.norm(da, axis=1, keepdims=True)
    nb = np.linalg.norm(db, axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.nan_to_num((da @ db.T) / (na * nb.T))
    assert np.allclose(tags.cosine_scores(a, b), expected)


def test_recall_excludes_rated_movies_and_has_the_common_shape():
    matcher = tags.fit_matcher(catalogue(), RATINGS, weighting="multi-hot", decay=0.5)
    recs = matcher.recall([10, 20], k=3)
    assert list(recs.columns) == list(metrics.RECOMMENDATION_COLUMNS)
    rated = set(map(tuple, RATINGS[["userId", "movieId"]].to_numpy()))
    assert not any((u, m) in rated for u, m in recs[["userId", "movieId"]].to_numpy())
    # user 10 liked kung fu and sword fight: the car chase (same root, another parent) beats the romance
    assert recs[recs["userId"] == 10]["movieId"].tolist() == [3]
    assert recs[recs["userId"] == 20]["movieId"].tolist()[0] == 1  # shares "atmospheric" and the action root


def test_empty_profiles_and_unknown_users_get_no_rows_alone():
    matcher = tags.fit_matcher(catalogue(), RATINGS)
    assert matcher.knows([10, 30, 99]).tolist() == [True, False, False]
    assert set(matcher.recall([10, 30, 99], k=2)["userId"]) == {10}
    with pytest.raises(ValueError, match="empty profile"):
        tags.profile_table(matcher, 30)
    with pytest.raises(ValueError, match=r"\b99 was not fitted"):
        tags.profile_table(matcher, 99)


def test_example_movies_share_a_parent_but_no_tag():
    a, b, c = tags.example_movies(catalogue())
    assert (a, b) == (1, 2) and c == 4


def test_blend_one_is_the_popularity_order():
    ratings = pd.concat([RATINGS, pd.DataFrame({"userId": [40, 41, 42], "movieId": [3, 3, 2],
                                                "rating": [5.0, 5.0, 5.0], "timestamp": [1, 1, 1]})])
    matcher = tags.fit_matcher(catalogue(), ratings)
    recs = matcher.with_blend(1.0).recall([30], k=4)
    assert recs["movieId"].tolist() == [3, 2, 1]  # liked 3, 2 and 1 times; movie 4 was rated by user 30


def test_fast_top_k_equals_top_k_frame_with_ties():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, size=(70, 50)).astype(float)  # many ties
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    scores[5] = -np.inf  # a user with nothing to recommend
    users, items = np.arange(100, 170), np.arange(1000, 1050)
    for k in (1, 5, 60):
        fast = fast_top_k_frame(users, items, scores.copy(), k, rows=7)
        pd.testing.assert_frame_equal(fast, metrics.top_k_frame(users, items, scores, k))


def test_tags_profile_refuses_unknown_tags():
    matcher = tags.fit_matcher(catalogue(), RATINGS)
    row = tags.tags_profile(matcher, ["Kung Fu", "atmospheric"])
    assert np.isclose(row.sum(), math.sqrt(2))
    with pytest.raises(ValueError, match=r"unknown tag 'kung-fu'.*did you mean 'kung fu'"):
        tags.tags_profile(matcher, ["kung-fu"])


def test_explain_match_contributions_add_up_to_the_cosine():
    matcher = tags.fit_matcher(catalogue(), RATINGS, weighting="multi-hot", decay=0.5)
    why = tags.explain_match(matcher, 20, k=3, top_tags=50)
    total = why.groupby("movieId").agg(cosine=("cosine", "first"), parts=("contribution", "sum"))
    assert np.allclose(total["cosine"], total["parts"])
    assert np.allclose(why.groupby("movieId")["share"].sum(), 1.0)
    first = why[why["rank"] == 1]
    assert first["contribution"].is_monotonic_decreasing


# --------------------------------------------------------------------------- evaluation

def test_per_user_metrics_agree_with_evaluate_top_k():
    rng = np.random.default_rng(5)
    recs = pd.DataFrame({"userId": np.repeat([1, 2, 3], 5), "movieId": rng.integers(0, 12, 15), "score": 1.0})
    recs = recs.drop_duplicates(["userId", "movieId"])
    truth = pd.DataFrame({"userId": [1, 1, 2, 3, 3, 3, 4], "movieId": [0, 3, 5, 1, 2, 11, 7]})
    for k in (1, 3, 5):
        per = tags.per_user_metrics(recs, truth, k)
        ref = metrics.evaluate_top_k(recs, truth, k)
        assert len(per) == ref["users"] == 4
        assert math.isclose(per[f"recall@{k}"].mean(), ref[f"recall@{k}"])
        assert math.isclose(per[f"ndcg@{k}"].mean(), ref[f"ndcg@{k}"])


def _tiny_movielens(tmp_path):
    """A folder shaped like real MovieLens: free-text tags, no hierarchy, no catalogue tags."""
    rng = np.random.default_rng(0)
    movies = pd.DataFrame({"movieId": np.arange(1, 31), "title": [f"Film {i} (1999)" for i in range(1, 31)],
                           "genres": ["Comedy|Drama", "Action", "Horror"] * 10})
    rows = []
    for user in range(1, 21):
        for t, movie in enumerate(rng.choice(30, 12, replace=False) + 1):
            rows.append((user, movie, float(rng.choice([2.0, 3.5, 4.0, 5.0])), 1000 + t))
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    tagged = pd.DataFrame({"userId": [1, 2, 3, 4], "movieId": [1, 1, 2, 4],
                           "tag": ["Dark Comedy", "dark  comedy", "explosions", "Dark comedy "], "timestamp": 5})
    movies.to_csv(tmp_path / "movies.csv", index=False)
    ratings.to_csv(tmp_path / "ratings.csv", index=False)
    tagged.to_csv(tmp_path / "tags.csv", index=False)
    return load_movielens(tmp_path)


def test_real_movielens_shape_falls_back_to_free_text_and_genres(tmp_path):
    ml = _tiny_movielens(tmp_path)
    cat = tags.catalogue_from(ml)
    assert cat.source == "users' tags (tags.csv)"
    assert cat.levels == ("tags as applied", "genres (as the level above)")
    applied = cat.pairs[cat.pairs["distance"] == 0]
    assert sorted(applied["tag"].unique()) == ["dark comedy", "explosions"]  # three spellings, one tag
    with pytest.raises(ValueError, match="no movie_tags.csv"):
        tags.catalogue_from(ml, source="catalogue")
    train, _ = user_time_split(ml.ratings)
    recs = tags.fit_matcher(cat, train, weighting="tf-idf", decay=0.5).recall([1, 2, 3], k=5)
    assert list(recs.columns) == ["userId", "movieId", "score"] and len(recs) > 0
    exp = tags.prepare_experiment(ml, k=5, activity_edges=(8,))
    table = tags.compare_vectorisers(exp, tags.standard_variants(decay=0.5))
    assert set(table["activity"]) <= {"all", "1-8", ">8"}
    assert table["recall@5"].between(0, 1).all()


def test_catalogue_tags_are_preferred_when_present():
    ml = SimpleNamespace(name="toy", movies=MOVIES, tags=None, tag_hierarchy=HIERARCHY,
                         movie_tags=ITEM_TAGS.assign(tag=ITEM_TAGS["tag"]))
    cat = tags.catalogue_from(ml)
    assert cat.source == "catalogue tags (movie_tags.csv)"
    assert cat.pairs.loc[(cat.pairs["movieId"] == 1) & (cat.pairs["tag"] == "atmospheric"), "relevance"].item() == 0.5


def test_experiments_on_the_bundled_data_are_tidy():
    ml = load_movielens()
    exp = tags.prepare_experiment(ml, max_users=300)
    sweep, per_user = tags.decay_sweep(exp, decays=(0.0, 0.5))
    assert set(sweep["decay"]) == {0.0, 0.5} and (sweep["users"] > 0).all()
    assert per_user.groupby("decay").size().eq(300).all()
    picked = tags.select_and_test(per_user, exp.activity)
    assert picked["chosen"].sum() == 1 and (picked["ci low"] <= picked["ci high"]).all()
    kinds = tags.match_kinds(exp, 1.0)
    assert math.isclose(kinds["share"].sum(), 1.0)


# --------------------------------------------------------------------------- bad inputs: type, and the argument named

def _vectors():
    return tags.item_vectors(catalogue(), weighting="multi-hot")


STRING_RATINGS = RATINGS.assign(userId=RATINGS["userId"].astype(str))


@pytest.mark.parametrize("call,error,name", [
    (lambda: tags.user_profiles(_vectors(), catalogue().item_ids, RATINGS, [10], threshold=float("nan")),
     ValueError, "threshold"),
    (lambda: tags.user_profiles(_vectors(), catalogue().item_ids, RATINGS, [10], threshold="3.5"),
     TypeError, "threshold"),
    (lambda: tags.user_profiles(_vectors(), catalogue().item_ids, RATINGS, [10], threshold=7.0),
     ValueError, "threshold"),
    (lambda: tags.user_profiles(_vectors(), catalogue().item_ids, RATINGS, ["10"]), TypeError, "user_ids"),
    (lambda: tags.user_profiles(_vectors(), catalogue().item_ids, STRING_RATINGS, [10]), TypeError, "ratings"),
    (lambda: tags.fit_matcher(catalogue(), RATINGS, user_ids=["10", "20"]), TypeError, "user_ids"),
    (lambda: tags.fit_matcher(catalogue(), RATINGS, user_ids="10"), TypeError, "user_ids"),
    (lambda: tags.fit_matcher(catalogue(), RATINGS, user_ids=[]), ValueError, "user_ids"),
    (lambda: tags.fit_matcher(catalogue(), STRING_RATINGS), TypeError, "train"),
    (lambda: tags.fit_matcher(catalogue(), RATINGS, decay=float("nan")), ValueError, "decay"),
    (lambda: tags.fit_matcher(catalogue(), RATINGS, weighting="bm25"), ValueError, "weighting"),
    (lambda: tags.fit_matcher(catalogue(), RATINGS, profile_weights="latest"), ValueError, "weights"),
    (lambda: tags.item_vectors("catalogue"), TypeError, "catalogue"),
    (lambda: tags.with_catalogue(None, "catalogue"), TypeError, "catalogue"),
])
def test_bad_inputs_get_the_package_error_naming_the_argument(call, error, name):
    with pytest.raises(error, match=rf"\b{name}\b"):
        call()


def test_a_nan_threshold_no_longer_empties_every_profile():
    # NaN compared False with every rating: every profile came back empty, silently
    with pytest.raises(ValueError, match=r"\bthreshold must be a number, got NaN"):
        tags.user_profiles(_vectors(), catalogue().item_ids, RATINGS, [10, 20], threshold=float("nan"))
    p = tags.user_profiles(_vectors(), catalogue().item_ids, RATINGS, [10, 20], threshold=3.5)
    assert (np.diff(p.indptr) > 0).all()


def test_data_without_tags_says_what_is_missing_and_the_remedy():
    ml = SimpleNamespace(name="ratings-only", movies=MOVIES, tags=pd.DataFrame(columns=["userId", "movieId", "tag"]),
                         tag_hierarchy=None, movie_tags=None)
    with pytest.raises(ValueError, match=r"has no tags.*DATA = None.*tags\.csv"):
        tags.catalogue_from(ml)


def test_hits_by_rarity_on_a_genre_only_catalogue_says_why():
    cat = tags.tag_catalogue(MOVIES, pd.DataFrame({"movieId": pd.Series([], dtype=int), "tag": pd.Series([], dtype=str)}))
    assert cat.levels == ("tags as applied", "genres (as the level above)")
    train = RATINGS
    exp = tags.TagExperiment(catalogue=cat, train=train, truth=pd.DataFrame({"userId": [10], "movieId": [3]}),
                             users=np.array([10]), activity=pd.Series(["1-15"], index=pd.Index([10], name="userId")),
                             k=2)
    with pytest.raises(ValueError, match=r"\bn_groups=3\b.*genres alone"):
        tags.hits_by_rarity(exp, (0.0, 1.0))


# --------------------------------------------------------------------------- variant catalogues and regime maps

@pytest.fixture(scope="module")
def bundled():
    return load_movielens()


def test_variant_catalogue_changes_one_property_and_keeps_the_rest(bundled):
    base = tags.catalogue_from(bundled)
    # the generator's own signal reproduces the data card's measure of the generic tags (0.389)
    assert abs(tags.generic_signal_cosine(bundled, base) - 0.389) < 0.001
    same_law = tags.variant_catalogue(bundled, generic_signal=0.8)
    assert abs(tags.generic_signal_cosine(bundled, same_law) - 0.389) < 0.03
    noise = tags.variant_catalogue(bundled, generic_signal=0.0)
    assert abs(tags.generic_signal_cosine(bundled, noise)) < 0.1 < tags.generic_signal_cosine(bundled, base)
    leaves = base.pairs[(base.pairs["distance"] == 0) & base.kind.reindex(base.pairs["tag"]).eq("leaf").to_numpy()]
    others = base.pairs[~base.pairs.index.isin(leaves.index) & (base.pairs["distance"] == 0)]
    kept = noise.pairs[(noise.pairs["distance"] == 0) & noise.kind.reindex(noise.pairs["tag"]).eq("leaf").to_numpy()]
    assert kept[["movieId", "tag"]].reset_index(drop=True).equals(leaves[["movieId", "tag"]].reset_index(drop=True))
    generic = others[others["tag"].map(base.kind).eq("generic")]
    redrawn = noise.pairs[(noise.pairs["distance"] == 0) & noise.pairs["tag"].map(noise.kind).eq("generic")]
    assert len(redrawn) == len(generic)  # same frequencies, other movies
    three = tags.variant_catalogue(bundled, generic_signal=0.0, generic_frequency=3.0)
    assert len(three.pairs[(three.pairs["distance"] == 0) & three.pairs["tag"].map(three.kind).eq("generic")]) > 2.5 * len(generic)
    split = tags.variant_catalogue(bundled, leaf_split=4)
    per_leaf = split.pairs[(split.pairs["distance"] == 0) & split.pairs["tag"].map(split.kind).eq("leaf")]
    assert per_leaf.groupby("tag").size().median() < leaves.groupby("tag").size().median() / 2
    # the tree above is unchanged: every movie keeps its parents and roots
    def up(c):
        above = c.pairs[c.pairs["distance"] >= 1][["movieId", "tag"]].drop_duplicates()
        return above.sort_values(["movieId", "tag"]).reset_index(drop=True)

    assert up(split).equals(up(base))


def test_variant_catalogue_needs_planted_truth_and_checks_its_knobs(tmp_path, bundled):
    from sparrow_course.datasets import DataError
    with pytest.raises(DataError, match="planted truth"):
        tags.variant_catalogue(_tiny_movielens(tmp_path), generic_signal=0.0)
    for kw, error, name in ((dict(generic_signal=-1.0), ValueError, "generic_signal"),
                            (dict(generic_frequency=0.0), ValueError, "generic_frequency"),
                            (dict(leaf_split=2.5), TypeError, "leaf_split")):
        with pytest.raises(error, match=rf"\b{name}\b"):
            tags.variant_catalogue(bundled, **kw)


def test_tfidf_regime_runs_on_a_small_draw(bundled):
    exp = tags.prepare_experiment(bundled, max_users=300)
    table = tags.tfidf_regime(bundled, exp, signals=(0.0,), frequencies=(3.0,), n_boot=200)
    row = table.iloc[0]
    assert math.isclose(row["tf-idf minus multi-hot"], row["tf-idf"] - row["multi-hot"], abs_tol=1e-12)
    assert row["ci low"] <= row["tf-idf minus multi-hot"] <= row["ci high"]
    assert abs(row["generic cosine"]) < 0.2  # random placement: far below the bundled 0.389 (anchors leave a little)
    hier = tags.leaf_sparsity_regime(bundled, exp, splits=(4,), decays=(0.0,), n_boot=200)
    assert list(hier["decay"]) == [0.0, 0.5, 1.0] and hier["movies per leaf"].eq(3.0).all()
    assert hier.loc[hier["decay"] == 0.5, "interior minus this"].item() == 0.0


# --------------------------------------------------------------------------- the explorer's cached scores

def test_score_cache_gives_the_channels_recall_at_every_setting(bundled):
    exp = tags.prepare_experiment(bundled, max_users=400)
    cache = tags.score_cache(exp, (0.0, 0.5), max_users=None)
    sparse_users = exp.activity.index[exp.activity == exp.buckets[0]]
    for decay, blend in ((0.0, 0.0), (0.5, 0.3), (0.5, 1.0)):
        recs = tags.fit_matcher(exp.catalogue, exp.train, user_ids=exp.users, decay=decay, blend=blend).recall(exp.users, 20)
        per = metrics.per_user_metrics(recs, exp.truth, 20)["recall@20"]
        got = cache.explore(decay, blend).set_index(["setting", "users"])["recall@20"]
        assert math.isclose(got[("blend", "all users")], per.mean(), abs_tol=1e-12)
        assert math.isclose(got[("blend", "sparse users")], per[per.index.isin(sparse_users)].mean(), abs_tol=1e-12)
    table = cache.explore(0.5, 0.3)
    assert list(dict.fromkeys(table["setting"])) == ["tags alone", "blend", "popularity"]
    assert "blend 0.3" in tags.exploration_summary(table)
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    fig = Figure()
    tags.draw_exploration(table, fig)
    assert fig.axes[0].get_title().startswith("Decay 0.5, blend 0.3")
    with pytest.raises(ValueError, match=r"\bdecay 0.25 is not cached"):
        cache.explore(0.25, 0.5)
    with pytest.raises(ValueError, match=r"\bblend\b"):
        cache.explore(0.5, float("nan"))
    with pytest.raises(ValueError, match=r"\bdecays is empty"):
        tags.score_cache(exp, ())
