"""Chapter 06: side information, EGES/GES and the remedies, and leak-free link prediction."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from sparrow_course import eges as G
from sparrow_course.datasets import MovieLens
from sparrow_course.embeddings import fit_embedding_channel, ItemVectors, positive_sequences, random_walks, transition_graph

GROUPS = {0: "Action", 1: "Comedy", 2: "Drama"}


def _toy(n_movies: int = 60, n_users: int = 150, catalogue_tags: bool = True, seed: int = 0) -> MovieLens:
    """Three groups of movies; each user likes movies of one group, in a random order."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_movies + 1) * 10            # ids with gaps, as MovieLens
    group = np.arange(n_movies) % 3
    movies = pd.DataFrame({"movieId": ids,
                           "title": [f"Film {i} ({1980 + (i % 4) * 10})" if i != 5 else "No Year"
                                     for i in range(n_movies)],
                           "genres": [GROUPS[g] + ("|Romance" if i % 7 == 0 else "") for i, g in enumerate(group)]})
    rows = []
    for u in range(1, n_users + 1):
        g = u % 3
        liked = rng.choice(ids[group == g], size=8, replace=False)
        other = rng.choice(ids[group != g], size=2, replace=False)
        for t, m in enumerate(liked):
            rows.append((u, int(m), 4.5, 1000 + t))
        for t, m in enumerate(other):
            rows.append((u, int(m), 1.0, 2000 + t))
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])
    tags = pd.DataFrame({"userId": [1, 2, 3], "movieId": [ids[0], ids[0], ids[1]],
                         "tag": ["loud", "loud", "quiet"], "timestamp": [1, 2, 3]})
    movie_tags = None
    if catalogue_tags:
        movie_tags = pd.DataFrame({"movieId": np.repeat(ids, 2),
                                   "tag": [t for g in group for t in (f"theme {g}", "generic")],
                                   "relevance": np.tile([0.9, 0.5], n_movies)})
    return MovieLens("toy", movies, ratings, tags, movie_tags=movie_tags)


@pytest.fixture(scope="module")
def toy():
    return _toy()


@pytest.fixture(scope="module")
def side(toy):
    return G.side_information(toy)


@pytest.fixture(scope="module")
def split(toy):
    return G.link_prediction_split(positive_sequences(toy.ratings), holdout=1 / 3, cold_share=0.1, seed=1)


@pytest.fixture(scope="module")
def walks(split):
    return random_walks(split.graph, n_walks=1500, length=8, seed=1)


@pytest.fixture(scope="module")
def eges_model(walks, side):
    return G.train_eges(walks, side, method="eges", dim=8, epochs=3, batch_size=512, learning_rate=0.05, seed=1)


# --------------------------------------------------------------------------- side information

def test_side_information_fields_and_values(side, toy):
    assert side.names == ("genres", "year", "tag")
    assert list(side.ids) == sorted(toy.movies["movieId"])
    assert side.values(10) == {"genres": ["Action", "Romance"], "year": ["1980-1984"], "tag": ["theme 0"]}
    assert side.values(20)["genres"] == ["Comedy"]
    assert side.values(60)["year"] == ["(none)"]                # no year in the title
    for w in side.weight:
        assert np.allclose(w.sum(axis=1), 1.0)                  # each field's values average


def test_top_tag_falls_back_to_user_tags():
    side = G.side_information(_toy(catalogue_tags=False), fields=["tag"])
    assert side.values(10) == {"tag": ["loud"]}
    assert side.values(30) == {"tag": ["(none)"]}


def test_unknown_side_information_is_refused(toy, side, walks):
    with pytest.raises(ValueError, match="colour"):
        G.side_information(toy, fields=["genres", "colour"])
    with pytest.raises(ValueError, match="empty"):
        G.side_information(toy, fields=[])
    with pytest.raises(TypeError, match="fields"):
        G.side_information(toy, fields="genres")
    with pytest.raises(TypeError, match="MovieLens"):
        G.side_information(toy.movies)
    with pytest.raises(ValueError, match="no side information: 99999"):
        side.rows([10, 99999])
    bad = walks.copy()
    bad[0, 0] = 99999                                          # a movie the side information does not know
    with pytest.raises(ValueError, match="no side information"):
        G.train_eges(bad, side, epochs=1)


# --------------------------------------------------------------------------- pairs and clusters

def test_skipgram_pairs_skip_padding():
    walks = np.array([[1, 2, 3, -1], [4, 5, -1, -1]])
    pairs = {tuple(p) for p in G.skipgram_pairs(walks, window=2)}
    assert pairs == {(1, 2), (2, 1), (2, 3), (3, 2), (1, 3), (3, 1), (4, 5), (5, 4)}
    with pytest.raises(ValueError, match="no two"):
        G.skipgram_pairs(np.array([[1, -1], [2, -1]]))


def test_cluster_items(side):
    types = G.cluster_items(side, 0, by="types")
    combos = {tuple(tuple(v) for v in side.values(m).values()) for m in side.ids}
    assert len(np.unique(types)) == len(combos)
    labels = G.cluster_items(side, 5, seed=1)
    assert labels.shape == (len(side),) and len(np.unique(labels)) == 5
    with pytest.raises(ValueError, match="n_clusters"):
        G.cluster_items(side, len(side) + 1)


# --------------------------------------------------------------------------- the model

@pytest.mark.tensorflow
def test_attention_weights_sum_to_one(eges_model, side):
    weights = eges_model.attention(side.ids).drop(columns="movieId")
    assert list(weights.columns) == ["item id", "genres", "year", "tag"]
    assert np.allclose(weights.sum(axis=1), 1.0)
    assert weights.to_numpy().std() > 1e-4                     # EGES learned unequal weights


@pytest.mark.tensorflow
def test_ges_is_eges_with_equal_weights(walks, side, eges_model):
    ges = G.train_eges(walks, side, method="ges", dim=8, epochs=1, batch_size=512, seed=1)
    weights = ges.attention(side.ids).drop(columns="movieId").to_numpy()
    assert np.allclose(weights, 0.25)                          # frozen: never trained away from equal
    rows = side.rows(side.ids)
    parts = np.concatenate([ges._id_part(rows)[:, None, :], ges._field_parts(rows)], axis=1)
    assert np.allclose(ges.vectors(side.ids), parts.mean(axis=1))
    # and an EGES model whose weights are set equal gives the plain mean too
    eges_model_equal = G.EGESModel(**{**eges_model.__dict__, "attention_logits": np.zeros_like(eges_model.attention_logits)})
    parts = np.concatenate([eges_model._id_part(rows)[:, None, :], eges_model._field_parts(rows)], axis=1)
    assert np.allclose(eges_model_equal.vectors(side.ids), parts.mean(axis=1))
    assert not np.allclose(eges_model.vectors(side.ids), parts.mean(axis=1))


@pytest.mark.tensorflow
def test_cold_items_from_side_information_alone(eges_model, split, side):
    cold = split.cold_ids
    assert len(cold) and not np.isin(cold, eges_model.trained_ids).any()
    rows = side.rows(cold)
    assert np.allclose(eges_model.vectors(cold, cold=True), eges_model._field_parts(rows).mean(axis=1))
    iv = eges_model.item_vectors()
    assert np.allclose(iv.get(cold), eges_model.vectors(cold, cold=True))


@pytest.mark.tensorflow
def test_eges_learns_the_groups(eges_model, split):
    """Held-out edges (same group) score above non-edges, and cold items are placed by their side information."""
    res = G.link_prediction_auc(eges_model, split).set_index("subset")["auc"]
    assert res["overall"] > 0.7
    assert res["cold"] > 0.7


@pytest.mark.tensorflow
def test_training_is_reproducible(walks, side, eges_model):
    again = G.train_eges(walks, side, method="eges", dim=8, epochs=3, batch_size=512, learning_rate=0.05, seed=1)
    assert np.allclose(again.item_vectors().vectors, eges_model.item_vectors().vectors, atol=1e-5)


@pytest.mark.tensorflow
def test_remedies_have_no_table_that_grows_with_ids(walks, side):
    pre = ItemVectors(side.ids, np.random.default_rng(0).normal(size=(len(side), 6)))
    small = G.train_eges(walks, side, method="eges", dim=8, epochs=1, max_batches=2, seed=1)
    big = G.train_eges(walks, side, method="eges", dim=8, epochs=1, max_batches=2, id_copies=4, seed=1)
    assert big.n_ids == 4 * small.n_ids
    # id table and context table (dim each) and attention logits (1 + 3 fields) per id
    assert big.n_parameters - small.n_parameters == 3 * len(side) * (8 + 8 + 4)
    r1 = G.train_eges(walks, side, method="pretrained", pretrained=pre, dim=8, epochs=1, max_batches=2, seed=1)
    r1_big = G.train_eges(walks, side, method="pretrained", pretrained=pre, dim=8, epochs=1, max_batches=2,
                          id_copies=4, seed=1)
    assert r1.n_ids == 0 and r1.n_parameters == r1_big.n_parameters
    clusters = G.cluster_items(side, 6, seed=1)
    r2 = G.train_eges(walks, side, method="clustered", clusters=clusters, dim=8, epochs=1, max_batches=2, seed=1)
    assert r2.n_ids == 6
    same = side.ids[clusters == clusters[0]]
    assert np.allclose(r2.id_table[r2.id_of_row[side.rows(same)]], r2.id_table[clusters[0]])
    w = r1.attention(side.ids).drop(columns="movieId")
    assert list(w.columns)[0] == "pretrained vector" and np.allclose(w.sum(axis=1), 1)


def test_train_eges_argument_errors(walks, side):
    with pytest.raises(ValueError, match="method"):
        G.train_eges(walks, side, method="deep")
    with pytest.raises(ValueError, match="clusters"):
        G.train_eges(walks, side, method="clustered")
    with pytest.raises(ValueError, match="pretrained"):
        G.train_eges(walks, side, method="pretrained")
    with pytest.raises(ValueError, match="clusters must hold"):
        G.train_eges(walks, side, method="clustered", clusters=np.zeros(3, int))
    with pytest.raises(TypeError, match="SideInformation"):
        G.train_eges(walks, {"genres": 1})


# --------------------------------------------------------------------------- link prediction

def test_no_held_out_edge_reaches_walks_or_training(split, walks, side):
    held = {(a, b) for a, b in zip(split.excluded["source"], split.excluded["target"])}
    held |= {(b, a) for a, b in held}
    graph_edges = set(zip(split.graph.edges()["source"], split.graph.edges()["target"]))
    assert not graph_edges & held                                       # not in the graph
    steps = set(zip(walks[:, :-1].ravel().tolist(), walks[:, 1:].ravel().tolist()))
    assert not steps & held                                             # no walk crosses one
    positives = split.test[split.test["label"] == 1]
    assert {(a, b) for a, b in zip(positives["item"], positives["other"])} <= held
    adjacent = {tuple(p) for p in G.skipgram_pairs(walks, window=1)}
    assert not adjacent & held                                          # no training pair of neighbours is one
    assert not np.isin(split.cold_ids, walks).any()                     # cold items never walked
    assert len(held) > 0 and len(steps) > 0


def test_link_prediction_negatives_are_non_edges_and_balanced(split, toy):
    full = transition_graph(positive_sequences(toy.ratings)).edges()
    edges = set(zip(full["source"], full["target"])) | set(zip(full["target"], full["source"]))
    t = split.test
    neg = t[t["label"] == 0]
    assert not {(a, b) for a, b in zip(neg["item"], neg["other"])} & edges
    assert (neg["item"] != neg["other"]).all()
    for _, part in t.groupby("subset"):
        assert (part["label"] == 1).sum() == (part["label"] == 0).sum()
    assert set(t.loc[t["subset"] == "cold", "item"]) <= set(split.cold_ids)
    # about a third of the warm edges held out
    warm = [(a, b) for a, b in edges if a < b and a not in split.cold_ids and b not in split.cold_ids]
    share = (t[(t["subset"] == "overall") & (t["label"] == 1)].shape[0]) / len(warm)
    assert 0.25 < share < 0.42


def test_uniform_negatives_keep_the_positives_and_draw_non_edges_across_the_catalogue(split, toy):
    full = transition_graph(positive_sequences(toy.ratings)).edges()
    edges = set(zip(full["source"], full["target"])) | set(zip(full["target"], full["source"]))
    easy = G.uniform_negatives(split, seed=3)
    pos, easy_pos = split.test[split.test["label"] == 1], easy.test[easy.test["label"] == 1]
    pd.testing.assert_frame_equal(pos, easy_pos)                      # the held-out edges are untouched
    neg = easy.test[easy.test["label"] == 0]
    assert (neg["item"].to_numpy() == split.test.loc[split.test["label"] == 0, "item"].to_numpy()).all()
    assert not {(a, b) for a, b in zip(neg["item"], neg["other"])} & edges and (neg["item"] != neg["other"]).all()
    # drawn from every movie, not from the held-out ends: less popular on average than a true partner
    pop = split.popularity
    assert pop.reindex(neg["other"]).mean() < pop.reindex(pos["other"]).mean()
    assert G.uniform_negatives(split, seed=3).test.equals(easy.test)  # reproducible
    with pytest.raises(TypeError, match=r"\bsplit\b"):
        G.uniform_negatives(split.test)


def test_link_prediction_errors():
    with pytest.raises(ValueError, match="no edges"):
        G.link_prediction_split([[1, 1, 1], [2, 2]])
    with pytest.raises(ValueError, match="holdout"):
        G.link_prediction_split([[1, 2, 3]], holdout=1.5)
    with pytest.raises(TypeError, match="LinkSplit"):
        G.link_prediction_auc(ItemVectors(np.array([1]), np.ones((1, 2))), "split")


def test_bge_scores_cold_items_at_chance(split, walks):
    from sparrow_course.embeddings import train_item2vec

    bge = train_item2vec(walks, dim=8, window=2, epochs=3, seed=1)
    res = G.link_prediction_auc(bge, split).set_index("subset")["auc"]
    assert res["cold"] == 0.5                              # no vector, no information
    assert res["overall"] > 0.6


def test_planted_subgenre_is_the_bundled_datas_draw():
    from sparrow_course.datasets import load_movielens

    planted = G.planted_subgenre(load_movielens())
    movies = load_movielens().movies.set_index("movieId")
    assert list(planted.index) == list(movies.index)
    # the same draw as the bundled files: every title (with its invented year) matches
    assert (planted.attrs["titles"].reindex(movies.index) == movies["title"]).all()
    assert planted.nunique() == 30


def test_neighbour_agreement_against_a_known_answer():
    vectors = ItemVectors(np.arange(6), np.array([[1, 0], [1, 0.1], [1, -0.1], [-1, 0], [-1, 0.1], [-1, -0.1]]))
    parent = pd.Series(["a", "a", "a", "b", "b", "b"], index=np.arange(6))
    table = G.neighbour_agreement(vectors, parent, k=2)
    assert table.loc[0, "same sub-genre"] == 1.0
    assert np.isclose(table.loc[0, "chance"], 12 / 30)


# --------------------------------------------------------------------------- convergence

def test_epochs_to_converge_on_a_controlled_sequence():
    auc = [0.60, 0.65, 0.651, 0.649, 0.640]
    assert G.epochs_to_converge(auc, tolerance=0.002) == 2        # 0.65 is within 0.002 of the best, 0.651
    assert G.epochs_to_converge(auc, tolerance=0.0) == 3          # only the best itself
    assert G.epochs_to_converge(auc, tolerance=0.06) == 1
    loss = [3.0, 2.0, 1.5, 1.499]
    assert G.epochs_to_converge(loss, tolerance=0.01, higher_is_better=False) == 3
    assert G.epochs_to_converge(loss, tolerance=0.0, higher_is_better=False) == 4
    assert G.epochs_to_converge([0.7]) == 1
    with pytest.raises(ValueError, match="non-empty"):
        G.epochs_to_converge([])
    with pytest.raises(ValueError, match="NaN"):
        G.epochs_to_converge([0.5, np.nan])
    with pytest.raises(ValueError, match="tolerance"):
        G.epochs_to_converge([0.5], tolerance=-0.1)
    with pytest.raises(TypeError, match="higher_is_better"):
        G.epochs_to_converge([0.5], higher_is_better="yes")


@pytest.fixture(scope="module")
def validation(toy, split):
    return G.link_prediction_split(positive_sequences(toy.ratings), holdout=0.2, cold_share=0.0, seed=2,
                                   exclude_edges=split.excluded)


def _undirected(frame, a="source", b="target"):
    pairs = {(x, y) for x, y in zip(frame[a], frame[b])}
    return pairs | {(y, x) for x, y in pairs}


def test_validation_slice_never_touches_the_test_edges(toy, split, validation):
    test_held = _undirected(split.excluded)
    val_pos = validation.test[validation.test["label"] == 1]
    val_neg = validation.test[validation.test["label"] == 0]
    assert len(val_pos) > 0 and (validation.test["subset"] == "overall").all()
    assert not _undirected(val_pos, "item", "other") & test_held          # no test edge is a validation positive
    full = transition_graph(positive_sequences(toy.ratings)).edges()
    assert not _undirected(val_neg, "item", "other") & _undirected(full)  # negatives are no edge, test edges included
    # the validation graph lacks the test edges and the validation edges; it is the training graph minus the latter
    graph_edges = set(zip(validation.graph.edges()["source"], validation.graph.edges()["target"]))
    assert not graph_edges & test_held
    assert not graph_edges & _undirected(val_pos, "item", "other")
    outer = set(zip(split.graph.edges()["source"], split.graph.edges()["target"]))
    assert graph_edges < outer
    assert test_held <= _undirected(validation.excluded)
    with pytest.raises(ValueError, match="source"):
        G.link_prediction_split(positive_sequences(toy.ratings), exclude_edges=pd.DataFrame({"a": [1]}))


@pytest.mark.tensorflow
def test_training_to_convergence(validation, side):
    walks = random_walks(validation.graph, n_walks=1500, length=8, seed=1)
    model = G.train_eges(walks, side, method="eges", dim=8, epochs=4, batch_size=512, learning_rate=0.05,
                         validation=validation, tolerance=0.002, seed=1)
    h = model.history
    assert list(h["epoch"]) == [1, 2, 3, 4] and h["validation_auc"].between(0, 1).all()
    assert model.converged_epoch == G.epochs_to_converge(h["validation_auc"], tolerance=0.002)
    # total time: the per-epoch times summed up to the converged epoch
    assert np.isclose(model.total_seconds, h["seconds"].iloc[:model.converged_epoch].sum())
    assert model.total_seconds <= h["seconds"].sum()
    # the weights returned are the converged epoch's: the same as training that many epochs outright
    outright = G.train_eges(walks, side, method="eges", dim=8, epochs=model.converged_epoch, batch_size=512,
                            learning_rate=0.05, seed=1)
    assert np.allclose(outright.item_vectors().vectors, model.item_vectors().vectors, atol=1e-5)
    assert outright.converged_epoch == model.converged_epoch and "validation_auc" not in outright.history
    # and its validation AUC is the one recorded for that epoch
    recorded = h["validation_auc"].iloc[model.converged_epoch - 1]
    assert np.isclose(G.link_prediction_auc(model, validation)["auc"].iloc[0], recorded)
    # early stopping: one epoch of patience stops right after the first epoch that does not improve
    early = G.train_eges(walks, side, method="eges", dim=8, epochs=4, batch_size=512, learning_rate=0.05,
                         validation=validation, tolerance=1.0, patience=1, seed=1)
    assert len(early.history) == 2 and early.converged_epoch == 1      # with tolerance 1 epoch 1 is converged
    with pytest.raises(ValueError, match="patience needs validation"):
        G.train_eges(walks, side, epochs=2, patience=1)
    with pytest.raises(TypeError, match="validation"):
        G.train_eges(walks, side, epochs=2, validation="split")


@pytest.mark.tensorflow
def test_compare_methods_and_the_remedies_table(toy, side):
    results, fitted = G.compare_methods(toy, seeds=(1,), n_walks=800, length=8, dim=8, max_epochs=3, w2v_epochs=2,
                                        n_clusters=6, cold_share=0.1, validation_share=0.2, side=side)
    eges_rows = results[results["method"] != "BGE (DeepWalk)"].drop_duplicates("method")
    assert (eges_rows["epochs_to_converge"] <= eges_rows["epochs_trained"]).all()
    assert (eges_rows["epochs_trained"] <= 3).all() and (eges_rows["epochs_to_converge"] >= 1).all()
    for label in ("EGES", "remedy 1: pretrained", "remedy 2: clustered"):
        model = fitted["models"][label]
        row = eges_rows.set_index("method").loc[label]
        assert row["total_seconds"] == model.total_seconds
        assert row["epochs_to_converge"] == model.converged_epoch
    prep = eges_rows.set_index("method")["preparation_seconds"]
    assert prep["EGES"] == 0 and prep["remedy 2: clustered"] >= prep["remedy 1: pretrained"] > 0
    table = G.remedies(results).set_index("method")
    assert {"seconds_per_epoch", "epochs_to_converge", "total_seconds", "id vocabulary reduction",
            "speed-up per epoch vs EGES", "speed-up in total vs EGES", "AUC change vs EGES"} <= set(table.columns)
    assert table.loc["remedy 2: clustered", "id vocabulary reduction"] == len(side) / 6
    assert np.isnan(table.loc["remedy 1: pretrained", "id vocabulary reduction"])
    assert table.loc["EGES", "id vocabulary reduction"] == 1.0
    assert np.isclose(table.loc["remedy 1: pretrained", "speed-up in total vs EGES"],
                      table.loc["EGES", "total_seconds"] / table.loc["remedy 1: pretrained", "total_seconds"])


def test_remedies_on_a_controlled_table():
    rows = []
    for method, auc, spe, epochs, n_ids in (("EGES", 0.70, 2.0, 4, 100), ("remedy 1: pretrained", 0.69, 1.0, 2, 0),
                                            ("remedy 2: clustered", 0.72, 0.5, 8, 10)):
        rows.append({"seed": 1, "method": method, "subset": "overall", "auc": auc, "pairs": 10,
                     "seconds_per_epoch": spe, "epochs_to_converge": epochs, "total_seconds": spe * epochs,
                     "preparation_seconds": 0.0, "n_ids": n_ids, "parameters": 1})
    table = G.remedies(pd.DataFrame(rows)).set_index("method")
    assert np.isclose(table.loc["remedy 1: pretrained", "speed-up per epoch vs EGES"], 2.0)
    assert np.isclose(table.loc["remedy 1: pretrained", "speed-up in total vs EGES"], 4.0)
    assert np.isclose(table.loc["remedy 2: clustered", "speed-up per epoch vs EGES"], 4.0)
    assert np.isclose(table.loc["remedy 2: clustered", "speed-up in total vs EGES"], 2.0)   # faster epochs, more of them
    assert np.isclose(table.loc["remedy 2: clustered", "id vocabulary reduction"], 10.0)
    assert np.isclose(table.loc["remedy 1: pretrained", "AUC change vs EGES"], -0.01)
    with pytest.raises(ValueError, match="EGES"):
        G.remedies(pd.DataFrame(rows[1:]))
    with pytest.raises(ValueError, match="total_seconds"):
        G.remedies(pd.DataFrame(rows).drop(columns="total_seconds"))


# --------------------------------------------------------------------------- the user-level recall channel

def _timed_toy(seed: int = 0) -> MovieLens:
    """The toy with each user's ratings in a random order in time, so the time split holds likes out."""
    ml = _toy(seed=seed)
    rng = np.random.default_rng(seed)
    ratings = ml.ratings.copy()
    ratings["timestamp"] = rng.permutation(len(ratings)) + 1000
    return MovieLens("toy", ml.movies, ratings, ml.tags, movie_tags=ml.movie_tags)


def _controlled_channel():
    """Four movies on a line in 2-D, two users: one liked movie 1 long ago and movie 2 lately; one liked nothing."""
    vectors = ItemVectors(np.array([1, 2, 3, 4]), np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.9], [1.0, 0.1]]))
    train = pd.DataFrame({"userId": [7, 7, 7, 8], "movieId": [1, 2, 4, 3], "rating": [5.0, 4.0, 1.0, 2.0],
                          "timestamp": [1, 2, 3, 4]})
    users = G.recency_user_vectors(vectors, train, catalogue=[1, 2, 3, 4, 5], half_life=1)
    return fit_embedding_channel(vectors, users, train, catalogue=[1, 2, 3, 4, 5])


def test_recall_channel_shape_order_and_exclusion():
    from sparrow_course.metrics import RECOMMENDATION_COLUMNS

    channel = _controlled_channel()
    # user 7: centred vectors, movie 2 (latest like) weighs 1 and movie 1 weighs 1/2; movie 4 (rated) is excluded,
    # movies 1 and 2 are rated, movie 5 has no vector: movie 3 is all that is left
    out = channel.recall([7], k=3)
    assert tuple(out.columns) == RECOMMENDATION_COLUMNS
    assert out["movieId"].tolist() == [3]
    unit = ItemVectors(np.array([1, 2, 3, 4]), np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.9], [1.0, 0.1]]))
    c = unit.centred().normalized()
    profile = 0.5 * c[0] + 1.0 * c[1]
    assert np.isclose(out["score"].iloc[0], c[2] @ profile / np.linalg.norm(profile))
    # with popularity blended in, unvectored movie 5 can be recalled; rated movies never
    blended = channel.with_blend(0.5).recall([7], k=5)
    assert set(blended["movieId"]) == {3, 5} and (np.diff(blended["score"]) <= 0).all()
    assert np.isclose(channel.with_blend(1.0).recall([7], k=5)["score"], 0).all()  # nobody liked 3 or 5 in training
    # user 8 liked nothing: an empty profile
    assert channel.empty.tolist() == [False, True]
    assert channel.knows([7, 8]).tolist() == [True, False]
    assert channel.recall([7, 8], k=2)["userId"].tolist() == [7]
    assert channel.with_blend(1.0).recall([8], k=2)["movieId"].tolist() == [1, 2]   # popularity, unrated


def test_recall_channel_errors():
    channel = _controlled_channel()
    assert channel.recall([7, 99], k=2)["userId"].tolist() == [7]     # unknown: no rows, no error
    with pytest.raises(ValueError, match="k must be"):
        channel.recall([7], k=0)
    with pytest.raises(TypeError, match="k must be"):
        channel.recall([7], k=2.5)
    with pytest.raises(TypeError, match="user_ids"):
        channel.recall("7", k=2)
    with pytest.raises(TypeError, match="user_ids"):
        channel.recall([7.0], k=2)
    with pytest.raises(TypeError, match="user_ids"):
        channel.recall(7, k=2)
    with pytest.raises(ValueError, match="empty"):
        channel.recall([], k=2)
    with pytest.raises(ValueError, match="blend"):
        channel.with_blend(1.5)
    with pytest.raises(TypeError, match="EGESModel or ItemVectors"):
        G.recency_user_vectors(np.ones((3, 2)), pd.DataFrame({"userId": [1], "movieId": [1], "rating": [4.0],
                                                              "timestamp": [1]}))
    with pytest.raises(ValueError, match="method"):
        G.fit_recall(_toy(), _toy().ratings, method="item2vec")
    with pytest.raises(TypeError, match="MovieLens"):
        G.fit_recall("ml", _toy().ratings)


@pytest.fixture(scope="module")
def timed_toy():
    return _timed_toy()


@pytest.mark.tensorflow
def test_recall_fits_on_the_training_part_only(timed_toy):
    from sparrow_course.datasets import user_time_split

    ml = timed_toy
    train, test = user_time_split(ml.ratings)
    users = np.unique(test["userId"])[:20]
    settings = dict(n_walks=600, length=6, dim=8, epochs=1, seed=1)
    out = G.fit_recall(ml, train, **settings).recall(users, 5)
    # whatever the held-out ratings say, the channel is the same: none of them reaches training
    flipped = ml.ratings.copy()
    held = flipped.set_index(["userId", "movieId"]).index.isin(test.set_index(["userId", "movieId"]).index)
    flipped.loc[held, "rating"] = 6.0 - flipped.loc[held, "rating"]
    other = MovieLens("toy", ml.movies, flipped, ml.tags, movie_tags=ml.movie_tags)
    assert user_time_split(flipped)[0].equals(train)
    assert out.equals(G.fit_recall(other, user_time_split(flipped)[0], **settings).recall(users, 5))
    # best first, at most k per user, nothing the user rated in training
    assert (out.groupby("userId").size() <= 5).all()
    assert (out.groupby("userId")["score"].apply(lambda s: (np.diff(s) <= 0).all())).all()
    rated = set(zip(train["userId"], train["movieId"]))
    assert not {(u, m) for u, m in zip(out["userId"], out["movieId"])} & rated


@pytest.mark.tensorflow
def test_recall_experiment_finds_the_groups(timed_toy):
    table, state = G.recall_experiment(timed_toy, k=10, n_walks=1500, length=8, dim=8, epochs=3, w2v_epochs=3,
                                       seed=1)
    r = table.set_index("channel")["recall@10"]
    assert list(table.columns) == ["channel", "recall@10", "ndcg@10", "coverage", "users"]
    assert len(table) == 5 and (np.diff(table["recall@10"]) <= 0).all()
    # each toy user likes one of three groups of 20 movies: vectors that find the group beat chance (10 of 60)
    assert r["EGES vectors"] > 0.3 and r["DeepWalk (BGE) vectors"] > 0.3
    assert r["EGES vectors"] > r["popularity (unrated movies)"] + 0.2   # popularity cannot see the groups
    assert set(state["truth"]["userId"]) <= set(state["users"])


# --------------------------------------------------------------------------- bad inputs and other data

def _no_tags() -> MovieLens:
    ml = _toy(catalogue_tags=False)
    return MovieLens("tagless", ml.movies, ml.ratings, ml.tags.iloc[:0], movie_tags=None)


def test_side_information_leaves_out_a_tag_field_the_data_lacks():
    side = G.side_information(_no_tags())
    assert side.names == ("genres", "year")
    assert "no tags" in side.skipped["tag"]
    assert "tag" not in G.side_information(_toy()).skipped
    with pytest.raises(ValueError, match="no side-information field is left"):
        G.side_information(_no_tags(), fields=["tag"])


def test_planted_truth_is_never_compared_with_other_data(toy, walks):
    from sparrow_course.datasets import DataError

    with pytest.raises(DataError, match="planted truth"):
        G.planted_subgenre(toy)
    partial = pd.Series(["a"] * 5, index=np.unique(walks[walks >= 0])[:5])
    with pytest.raises(ValueError, match=r"\bitem_parent\b.*only \d+%"):
        G.sequences_against_walks(positive_sequences(toy.ratings), partial, n_walks=50, epochs=1)


BAD_INPUTS = [
    # (call, exception type, the argument its message must name)
    (lambda w, s: G.neighbour_agreement(ItemVectors(np.arange(3), np.eye(3)), {0: "a", 1: "b"}), TypeError,
     "item_parent"),
    (lambda w, s: G.neighbour_agreement(ItemVectors(np.arange(3), np.eye(3)), pd.Series(["a"], index=["x"])),
     TypeError, "item_parent"),
    (lambda w, s: G.neighbour_agreement(ItemVectors(np.arange(3), np.eye(3)), pd.Series(["a"], index=[99]), k=1),
     ValueError, "item_parent"),
    (lambda w, s: G.train_eges(w, s, optimizer="rmsprop"), ValueError, "optimizer"),
    (lambda w, s: G.train_eges(w, s, optimizer="adagrad", sparse_learning_rate=0), ValueError,
     "sparse_learning_rate"),
    (lambda w, s: G.degrade_side_information(s, 1.5), ValueError, "share"),
    (lambda w, s: G.degrade_side_information(s, 0.5, fields=["colour"]), ValueError, "fields"),
    (lambda w, s: G.degrade_side_information({"genres": 1}, 0.5), TypeError, "side"),
    (lambda w, s: G.side_mean_for_cold({1: [0.0]}, s), TypeError, "vectors"),
    (lambda w, s: G.side_mean_for_cold(ItemVectors(s.ids[:3], np.eye(3)), s, field="colour"), ValueError, "field"),
    (lambda w, s: G.grown_id_space(_toy(), copies=0), ValueError, "copies"),
    (lambda w, s: G.planted_subgenre("ml-latest-small"), TypeError, "ml"),
]


@pytest.mark.parametrize("case", range(len(BAD_INPUTS)))
def test_bad_inputs_get_the_packages_error_naming_the_argument(case, walks, side):
    call, kind, argument = BAD_INPUTS[case]
    with pytest.raises(kind) as info:
        call(walks, side)
    assert re.search(rf"\b{re.escape(argument)}\b", str(info.value)), str(info.value)


def test_string_user_ids_are_refused_by_the_recall_channel(toy, side):
    train = toy.ratings.assign(userId=toy.ratings["userId"].map(lambda u: f"u{u}"))
    with pytest.raises(TypeError, match=r"\btrain\['userId'\]"):
        G.fit_recall(toy, train, method="bge", n_walks=50, w2v_epochs=1)
    vectors = ItemVectors(side.ids, np.eye(len(side))[:, :4])
    with pytest.raises(TypeError, match=r"\btrain\['userId'\]"):
        G.recency_user_vectors(vectors, train)


# --------------------------------------------------------------------------- uneven side information, optimisers

def test_degrade_side_information_corrupts_exactly_the_chosen_share(side):
    same, none = G.degrade_side_information(side, 0.0, seed=1)
    assert len(none) == 0 and all((a == b).all() for a, b in zip(same.index, side.index))
    bad_side, bad = G.degrade_side_information(side, 0.5, seed=1)
    assert len(bad) == round(0.5 * len(side))
    rows = side.rows(bad)
    keep = np.setdiff1d(np.arange(len(side)), rows)
    for f in range(len(side.names)):
        assert np.allclose(bad_side.weight[f].sum(axis=1), 1)
        assert (bad_side.index[f][keep] == side.index[f][keep]).all()       # the rest keep theirs
        assert (bad_side.weight[f][rows] > 0).sum(axis=1).max() == 1        # one value each
        assert bad_side.index[f].max() < len(side.vocabulary[f])
    # a degraded movie's values are drawn at random: most differ from what it had
    changed = [bad_side.values(m) != side.values(m) for m in bad]
    assert np.mean(changed) > 0.5


@pytest.mark.tensorflow
def test_sparse_optimisers_leave_untouched_rows_alone_and_adam_does_not(walks, side):
    # the same batches under each optimiser: what moves in the third step? (The id table's first
    # gradient is zero, as the context table starts at zero, so the second step is the first to move it.)
    def third_step_moves(opt):
        kw = dict(dim=8, epochs=1, batch_size=16, id_copies=4, optimizer=opt, seed=3)
        two = G.train_eges(walks, side, max_batches=2, **kw).id_table
        three = G.train_eges(walks, side, max_batches=3, **kw).id_table
        return np.abs(three - two).max(axis=1) > 1e-7

    adam, lazy, adagrad = (third_step_moves(o) for o in ("adam", "lazy_adam", "adagrad"))
    # LazyAdam and Adagrad move only the third batch's rows; Adam also keeps moving the second batch's
    # rows (their moments decay at every step): more rows, a superset
    assert 0 < lazy.sum() < adam.sum() and (adam | lazy).sum() == adam.sum()
    assert (lazy == adagrad).all()
    # a full epoch under the sparse optimisers learns the groups
    for opt in ("lazy_adam", "adagrad"):
        model = G.train_eges(walks, side, dim=8, epochs=3, optimizer=opt, seed=1)
        assert model.history["loss"].iloc[-1] < model.history["loss"].iloc[0]


def test_side_mean_for_cold_borrows_the_vectors_of_same_genre_movies(side):
    known = side.ids[3:]
    vectors = ItemVectors(known, np.random.default_rng(0).standard_normal((len(known), 4)))
    out = G.side_mean_for_cold(vectors, side, field="genres")
    assert set(side.ids[:3]) <= set(out.ids)
    genres = {m: tuple(side.values(m)["genres"]) for m in side.ids}
    cold = side.ids[0]
    donors = [m for m in known if genres[m] == genres[cold]]
    assert donors
    assert np.allclose(out.get([cold])[0], vectors.centred().get(donors).mean(axis=0))
    assert np.allclose(out.get(known), vectors.centred().get(known))


# ---------------------------------------------------------------------------
# The regime maps notebook 06 reads from benchmarks/results (written by benchmarks/bench_eges.py)
# ---------------------------------------------------------------------------

RESULTS = __import__("pathlib").Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def test_stored_regime_maps_are_complete_and_agree_where_they_share_a_training():
    quality = pd.read_csv(RESULTS / "eges_quality.csv")
    clusters = pd.read_csv(RESULTS / "eges_clusters.csv").set_index("clusters")
    grown = pd.read_csv(RESULTS / "eges_grown.csv").set_index("setting")
    # the sweeps the notebook describes: five shares on three seeds, both methods, every group of movies
    assert sorted(quality["share"].unique()) == [0.0, 0.25, 0.5, 0.75, 0.9]
    assert sorted(quality["seed"].unique()) == [1, 7, 2024]
    counts = quality.groupby(["share", "seed"]).size()
    assert (counts.loc[0.0] == 4).all() and (counts.drop(index=0.0, level="share") == 6).all()
    assert list(clusters.index) == ["k-means, 3,000", "k-means, 1,000", "k-means, 300", "k-means, 100", "k-means, 30",
                                    "Airbnb-style types"]
    assert list(clusters["n_ids"].iloc[:5]) == [3000, 1000, 300, 100, 30]
    assert set(grown.index) == {"EGES, catalogue ids, Adam", "EGES, Adam", "EGES, LazyAdam", "EGES, Adagrad",
                                "remedy 1: pretrained", "remedy 2: clustered"}
    assert (grown.drop(index="EGES, catalogue ids, Adam")["id space"] == 768_000).all()
    for table in (quality, clusters, grown):
        assert table.filter(like="auc").apply(lambda c: c.between(0.3, 1.0)).all().all()
    # one training, stored three times: seed 2024's undegraded EGES, 3,000 clusters (one per movie), catalogue ids
    eges_2024 = quality[(quality["seed"] == 2024) & (quality["share"] == 0) & (quality["method"] == "EGES")
                        & (quality["movies"] == "all")]["auc overall"].iloc[0]
    assert clusters.loc["k-means, 3,000", "auc overall"] == pytest.approx(eges_2024, abs=1e-6)
    assert grown.loc["EGES, catalogue ids, Adam", "auc overall"] == pytest.approx(eges_2024, abs=1e-6)
    # and remedy 2 with 300 k-means clusters, in the cluster sweep and beside the grown id space
    assert grown.loc["remedy 2: clustered", "auc overall"] == pytest.approx(clusters.loc["k-means, 300", "auc overall"],
                                                                             abs=1e-6)


@pytest.mark.slow
@pytest.mark.tensorflow
def test_a_stored_side_quality_row_is_reproduced():
    from sparrow_course.datasets import load_movielens

    stored = pd.read_csv(RESULTS / "eges_quality.csv")
    stored = stored[(stored["share"] == 0.5) & (stored["seed"] == 2024)].set_index(["method", "movies"])
    fresh = G.side_quality_sweep(load_movielens(), shares=(0.5,), seeds=(2024,)).set_index(["method", "movies"])
    assert set(fresh.index) == set(stored.index)
    for key in stored.index:   # floating-point training: within the notebook's stated tolerance
        assert fresh.loc[key, "auc overall"] == pytest.approx(stored.loc[key, "auc overall"], abs=0.01), key
    gain = fresh.loc[("EGES", "all"), "auc overall"] - fresh.loc[("GES", "all"), "auc overall"]
    assert gain > 0.005
