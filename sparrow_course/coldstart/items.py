"""Chapter 04, new items: a new movie's vector from its most similar warm movies, against baselines.

Items are held out *as if new* (:func:`hold_out_items`): every rating of a few movies is
hidden from embedding training, and they bring only side information (genres, release
year, optionally tags: :func:`side_features`). :func:`item_cold_start` gives each the mean
vector of its most similar warm items, as Airbnb did for new listings, and compares it with
a random vector, the global mean and the genre mean.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..checks import check_choice, check_choices, check_dataset, check_frame, check_int, check_number, check_seed
from ..datasets import RATING_COLUMNS, MovieLens, genre_matrix, positive, release_year
from ..embeddings import ItemVectors, align_procrustes, positive_sequences, train_item2vec
from ..seeding import DEFAULT_SEED

__all__ = [
    "COLD_ITEM_METHODS",
    "ITEM_FEATURE_METHODS",
    "compare_item_tricks",
    "SIDE_FEATURES",
    "ItemColdStart",
    "ItemHoldout",
    "cold_item_vectors",
    "hold_out_items",
    "item_cold_start",
    "neighbour_k_sweep",
    "projection",
    "rarity_table",
    "side_features",
    "similar_warm_items",
]


# ---------------------------------------------------------------------------
# The protocol: items held out as if new
# ---------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ItemHoldout:
    """Items held out as if new: ``warm`` holds every rating except theirs."""

    warm: pd.DataFrame
    new_items: np.ndarray


def hold_out_items(ratings: pd.DataFrame, *, n_items: int = 100, min_positive: int = 20,
                   seed: int = DEFAULT_SEED) -> ItemHoldout:
    """Hold ``n_items`` random items with at least ``min_positive`` likes out as if new (their ratings hidden).

    The minimum matters for measurement: an item needs enough likes for the vector it
    gets once trained with its ratings to be a stable reference.
    """
    check_frame(ratings, RATING_COLUMNS, "ratings", allow_empty=False)
    n_items = check_int(n_items, "n_items", low=1)
    min_positive = check_int(min_positive, "min_positive", low=1)
    seed = check_seed(seed)
    likes = positive(ratings)["movieId"].value_counts()
    eligible = np.sort(likes.index[likes >= min_positive].to_numpy())
    if n_items > len(eligible) // 2:
        raise ValueError(f"n_items={n_items} is too many: {len(eligible)} items have {min_positive} or more likes, "
                         "and at most half of them may be held out (the rest must stay warm)")
    new = np.sort(np.random.default_rng(seed).choice(eligible, size=n_items, replace=False))
    return ItemHoldout(ratings.loc[~ratings["movieId"].isin(new)].reset_index(drop=True), new)





# ---------------------------------------------------------------------------
# Item cold start: a new item's vector from its most similar warm items
# ---------------------------------------------------------------------------

#: Side information an item can be matched on.
SIDE_FEATURES: tuple[str, ...] = ("genres", "year", "tags")


def side_features(ml: MovieLens, features: Sequence[str] = ("genres", "year"), *, year_scale: float = 10.0,
                     tag_weight: float = 1.0) -> pd.DataFrame:
    """Numeric side information per movie (index movieId), for nearest-neighbour search.

    ``genres``: the multi-hot genres scaled to unit length (columns ``genre:...``);
    ``year``: the release year over ``year_scale`` years, centred on the median (a film
    without a year sits at the median); ``tags``: the share of each tag among the tags users
    applied to the film, times ``tag_weight`` (columns ``tag:...``; zero for untagged films).
    Two films' Euclidean distance then weighs a genre mismatch against ``year_scale`` years.
    """
    check_dataset(ml)
    features = check_choices(features, "features", SIDE_FEATURES)
    year_scale = check_number(year_scale, "year_scale", low=0.0, include_low=False)
    tag_weight = check_number(tag_weight, "tag_weight", low=0.0)
    ids = np.sort(ml.movies["movieId"].to_numpy(np.int64))
    parts = []
    if "genres" in features:
        g = genre_matrix(ml.movies).reindex(ids).fillna(0).astype(float)
        g = g.div(np.maximum(np.sqrt((g ** 2).sum(axis=1)), 1e-12), axis=0)
        parts.append(g.set_axis([f"genre:{c}" for c in g.columns], axis=1))
    if "year" in features:
        year = release_year(ml.movies).reindex(ids).astype("float64")
        year = year.fillna(year.median()) if year.notna().any() else year.fillna(0.0)
        parts.append(pd.DataFrame({"year": ((year - year.median()) / year_scale).to_numpy()}, index=ids))
    if "tags" in features:
        if ml.tags.empty:
            raise ValueError(f"dataset '{ml.name}' has no tags (tags.csv is missing or empty); drop 'tags' "
                             "from the side information")
        counts = pd.crosstab(ml.tags["movieId"], ml.tags["tag"].str.lower()).reindex(ids, fill_value=0)
        shares = counts.div(np.maximum(counts.sum(axis=1), 1), axis=0) * tag_weight
        parts.append(shares.set_axis([f"tag:{c}" for c in shares.columns], axis=1))
    out = pd.concat([p.set_axis(ids, axis=0) for p in parts], axis=1)
    out.index.name = "movieId"
    return out


def similar_warm_items(side: pd.DataFrame, new_items: Sequence[int], warm_items: Sequence[int], *, k: int = 10,
                       same_genre: bool = True) -> pd.DataFrame:
    """The ``k`` warm items nearest to each new item by side information (Euclidean distance).

    With ``same_genre`` only warm items sharing a genre with the new item are candidates (as
    Airbnb kept a new listing's neighbours to its own listing type); a new item without any
    such warm item raises a ValueError naming it. Ties are broken by movieId. Returns one row
    per (new item, neighbour): ``movieId``, ``neighbour``, ``rank`` (0 = nearest), ``distance``.
    """
    if not isinstance(side, pd.DataFrame) or side.empty:
        raise TypeError("side must be the non-empty DataFrame from side_features")
    new = np.unique(np.asarray(new_items, dtype=np.int64))
    warm = np.unique(np.asarray(warm_items, dtype=np.int64))
    k = check_int(k, "k", low=1)
    if new.size == 0:
        raise ValueError("new_items is empty; give at least one movie id")
    if warm.size == 0:
        raise ValueError("warm_items is empty: a new item needs warm items to borrow a vector from")
    if k > warm.size:
        raise ValueError(f"k={k} is larger than the {warm.size} warm items; choose k <= {warm.size}")
    unknown = np.setdiff1d(np.concatenate([new, warm]), side.index.to_numpy())
    if unknown.size:
        raise ValueError(f"{unknown.size} movie id(s) have no side information: {unknown[:5].tolist()}")
    if np.intersect1d(new, warm).size:
        raise ValueError(f"new and warm items overlap: {np.intersect1d(new, warm)[:5].tolist()}; a new item "
                         "must not be its own neighbour")
    a, b = side.loc[new].to_numpy(float), side.loc[warm].to_numpy(float)
    dist = np.sqrt(np.maximum((a ** 2).sum(1)[:, None] + (b ** 2).sum(1)[None, :] - 2 * a @ b.T, 0.0))
    if same_genre:
        genre_cols = [c for c in side.columns if str(c).startswith("genre:")]
        if not genre_cols:
            raise ValueError("same_genre=True needs genres in the side information; add 'genres' or pass "
                             "same_genre=False")
        ga, gb = side.loc[new, genre_cols].to_numpy() > 0, side.loc[warm, genre_cols].to_numpy() > 0
        shares = (ga.astype(int) @ gb.T.astype(int)) > 0
        no_genre = ~ga.any(axis=1)
        shares[no_genre] = True  # a film without genres may match any warm film
        lonely = new[shares.sum(axis=1) == 0]
        if lonely.size:
            raise ValueError(f"empty neighbour set: {lonely.size} new item(s) share no genre with any warm item "
                             f"({lonely[:5].tolist()}); pass same_genre=False (to this function or to "
                             "item_cold_start) to use the nearest by all side information")
        short = new[shares.sum(axis=1) < k]
        if short.size:
            raise ValueError(f"k={k} is larger than the warm items sharing a genre with {short.size} new item(s) "
                             f"({short[:5].tolist()}); lower k or pass same_genre=False (to this function or to "
                             "item_cold_start)")
        dist = np.where(shares, dist, np.inf)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]   # warm ids are sorted: ties go to the lower id
    return pd.DataFrame({"movieId": np.repeat(new, k), "neighbour": warm[order].ravel(),
                         "rank": np.tile(np.arange(k), new.size),
                         "distance": np.take_along_axis(dist, order, axis=1).ravel()})


#: How a new item's vector is guessed: from its nearest warm items, or a baseline.
COLD_ITEM_METHODS: tuple[str, ...] = ("neighbours", "genre mean", "global mean", "random")
#: The user-side tricks applied to items: a group of warm items alike in attributes (k-means on the
#: side information, the new item gets its cluster's mean vector) or a model from attributes to
#: vectors (ridge regression from side information to the warm vectors).
ITEM_FEATURE_METHODS: tuple[str, ...] = ("attribute clusters", "attribute regression")


def cold_item_vectors(vectors: ItemVectors, side: pd.DataFrame, new_items: Sequence[int], *,
                      method: str = "neighbours", k: int = 10, same_genre: bool = True,
                      n_clusters: int = 30, alpha: float = 1.0, seed: int = DEFAULT_SEED) -> ItemVectors:
    """Vectors for new items, in the warm model's space, from side information alone.

    ``neighbours``: the mean vector of the ``k`` most similar warm items (Airbnb's recipe);
    ``attribute clusters``: k-means (``n_clusters``) on the warm items' side information, the
    new item gets the mean vector of the cluster nearest to it; ``attribute regression``: ridge
    regression (penalty ``alpha``) from side information to the warm vectors;
    ``genre mean``: the mean over the item's genres of each genre's mean warm vector;
    ``global mean``: the mean of all warm vectors; ``random``: a Gaussian draw with the warm
    vectors' mean and per-dimension spread.
    """
    if not isinstance(vectors, ItemVectors):
        raise TypeError(f"vectors must be ItemVectors (from train_item2vec), got {type(vectors).__name__}")
    check_choice(method, "method", COLD_ITEM_METHODS + ITEM_FEATURE_METHODS)
    new = np.unique(np.asarray(new_items, dtype=np.int64))
    if new.size == 0:
        raise ValueError("new_items is empty; give at least one movie id")
    known = np.intersect1d(new, vectors.ids)
    if known.size:
        raise ValueError(f"{known.size} 'new' item(s) already have a trained vector ({known[:5].tolist()}): a new "
                         "item's ratings must be held out of training (see hold_out_items)")
    warm = vectors.ids
    mean = vectors.vectors.mean(axis=0)
    if method == "neighbours":
        nb = similar_warm_items(side, new, warm, k=k, same_genre=same_genre)
        out = vectors.get(nb["neighbour"].to_numpy()).reshape(new.size, k, -1).mean(axis=1)
    elif method == "attribute clusters":
        out = _attribute_cluster_vectors(vectors, side, new, n_clusters=n_clusters, seed=seed)
    elif method == "attribute regression":
        out = _attribute_regression_vectors(vectors, side, new, alpha=alpha)
    elif method == "global mean":
        out = np.tile(mean, (new.size, 1))
    elif method == "random":
        rng = np.random.default_rng(check_seed(seed))
        out = mean + rng.standard_normal((new.size, vectors.dim)) * vectors.vectors.std(axis=0)
    else:  # genre mean
        genre_cols = [c for c in side.columns if str(c).startswith("genre:")]
        if not genre_cols:
            raise ValueError("method='genre mean' needs genres in the side information")
        gw = side.loc[warm, genre_cols].to_numpy() > 0
        gn = side.loc[new, genre_cols].to_numpy() > 0
        sums = gw.T.astype(float) @ vectors.vectors
        count = gw.sum(axis=0)
        genre_means = np.where(count[:, None] > 0, sums / np.maximum(count, 1)[:, None], np.nan)
        usable = gn & (count > 0)[None, :]
        out = np.array([np.nanmean(genre_means[row], axis=0) if row.any() else mean for row in usable])
    return ItemVectors(new, out)


def _attribute_cluster_vectors(vectors: ItemVectors, side: pd.DataFrame, new: np.ndarray, *, n_clusters: int,
                               seed: int) -> np.ndarray:
    """Each new item gets the mean vector of the warm items in its k-means cluster of side information."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    n_clusters = check_int(n_clusters, "n_clusters", low=1)
    warm = vectors.ids
    if n_clusters > warm.size:
        raise ValueError(f"n_clusters={n_clusters} is more than the {warm.size} warm items")
    x = side.loc[warm].to_numpy(float)
    # as for users: a fixed tiny jitter breaks the exact distance ties of multi-hot genres the same way on every CPU
    jitter = np.random.default_rng(check_seed(seed)).uniform(-1e-4, 1e-4, size=x.shape)
    with threadpool_limits(limits=1):
        kmeans = KMeans(n_clusters=n_clusters, n_init=4, random_state=check_seed(seed)).fit(x + jitter)
        label_new = kmeans.predict(side.loc[new].to_numpy(float))
    sums = np.zeros((n_clusters, vectors.dim))
    np.add.at(sums, kmeans.labels_, vectors.vectors)
    counts = np.bincount(kmeans.labels_, minlength=n_clusters)
    means = sums / np.maximum(counts, 1)[:, None]
    return means[label_new]


def _attribute_regression_vectors(vectors: ItemVectors, side: pd.DataFrame, new: np.ndarray, *,
                                  alpha: float) -> np.ndarray:
    """Ridge regression from side information to the warm vectors, applied to the new items."""
    alpha = check_number(alpha, "alpha", low=0.0, include_low=False)
    x = side.loc[vectors.ids].to_numpy(float)
    mu_x, mu_y = x.mean(axis=0), vectors.vectors.mean(axis=0)
    xc = x - mu_x
    w = np.linalg.solve(xc.T @ xc + alpha * np.eye(x.shape[1]), xc.T @ (vectors.vectors - mu_y))
    return (side.loc[new].to_numpy(float) - mu_x) @ w + mu_y


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = (a * b).sum(axis=1) / (na * nb)
    return np.where((na > 0) & (nb > 0), cos, 0.0)  # a zero vector points nowhere: cosine 0


@dataclass(frozen=True, eq=False)
class ItemColdStart:
    """Everything the item cold-start experiment built, to evaluate further without retraining."""

    ml: MovieLens
    holdout: ItemHoldout
    side: pd.DataFrame
    warm: ItemVectors          # item2vec trained without the new items' ratings
    trained: ItemVectors       # item2vec trained with every rating, aligned into warm's space
    repeat: ItemVectors        # the same, another seed, aligned into warm's space (the ceiling)
    k: int
    top_k: int
    seed: int
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    same_genre: bool = True

    def guess(self, method: str, k: int | None = None) -> ItemVectors:
        """The new items' vectors by ``method`` (``neighbours`` uses ``k``, default the experiment's)."""
        return cold_item_vectors(self.warm, self.side, self.holdout.new_items, method=method,
                                 k=self.k if k is None else k, same_genre=self.same_genre, seed=self.seed)

    def cosines(self, guess: ItemVectors) -> pd.DataFrame:
        """Raw and centred cosine of each new item's guessed vector to its trained vector."""
        new = self.holdout.new_items
        centre = self.warm.vectors.mean(axis=0)
        g, t = guess.get(new), self.trained.get(new)
        return pd.DataFrame({"raw cosine": _cosine_rows(g, t), "centred cosine": _cosine_rows(g - centre, t - centre)},
                            index=pd.Index(new, name="movieId"))

    def user_ranks(self, guess: ItemVectors) -> pd.DataFrame:
        """For each (new item, user who liked it): the item's rank among the items that user has not rated.

        The user's vector is the mean of the centred, unit-length warm vectors of their other
        likes; every item is scored by cosine to it, warm items by their warm vectors and all
        new items by ``guess``. ``auc`` is the share of candidates the new item beats.
        """
        new = self.holdout.new_items
        ids, users, profile, rated_mask, pu, pi = self._users_who_liked_new_items()
        centre = self.warm.vectors.mean(axis=0)
        mat = np.vstack([self.warm.vectors, guess.get(new)]) - centre
        unit = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-12)
        unit = unit[np.argsort(np.concatenate([self.warm.ids, new]), kind="stable")]
        rows = []
        for start in range(0, len(pu), 2000):
            u, i = pu[start:start + 2000], pi[start:start + 2000]
            scores = profile[u] @ unit.T
            target = scores[np.arange(len(u)), i]
            candidate = ~rated_mask[u]
            candidate[np.arange(len(u)), i] = False
            above = ((scores > target[:, None]) & candidate).sum(axis=1)
            n_cand = candidate.sum(axis=1)
            rows.append(pd.DataFrame({"movieId": ids[i], "userId": users[u], "rank": above,
                                      "auc": 1.0 - above / np.maximum(n_cand, 1)}))
        return pd.concat(rows, ignore_index=True)

    def found_in_top_k(self, guess: ItemVectors) -> pd.Series:
        """Per new item: the share of the users who liked it who find it in their top ``top_k``."""
        ranks = self.user_ranks(guess)
        return (ranks["rank"] < self.top_k).groupby(ranks["movieId"]).mean().rename(f"found in top-{self.top_k}")

    def fan_cosine(self, guess: ItemVectors) -> pd.Series:
        """Per new item: the mean cosine of its centred vector with the profiles of the users who liked it.

        The profiles are averages of warm vectors (see :meth:`user_ranks`); a guess that is itself an
        average of warm vectors sits closer to such averages than a single trained vector does.
        """
        new = self.holdout.new_items
        ids, users, profile, rated_mask, pu, pi = self._users_who_liked_new_items()
        centre = self.warm.vectors.mean(axis=0)
        g = guess.get(new) - centre
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        p = profile[pu] / np.maximum(np.linalg.norm(profile[pu], axis=1, keepdims=True), 1e-12)
        row = np.searchsorted(new, ids[pi])
        cos = (p * g[row]).sum(axis=1)
        return pd.Series(cos).groupby(ids[pi]).mean().rename_axis("movieId").rename("fan cosine")

    def _users_who_liked_new_items(self) -> tuple:
        """What user_ranks needs that does not depend on the guess (computed once, then reused)."""
        cached = self.__dict__.get("_user_side")
        if cached is not None:
            return cached
        new = self.holdout.new_items
        ratings = self.ml.ratings
        centre = self.warm.vectors.mean(axis=0)
        ids = np.sort(np.concatenate([self.warm.ids, new]))
        warm_unit = self.warm.vectors - centre
        warm_unit = warm_unit / np.maximum(np.linalg.norm(warm_unit, axis=1, keepdims=True), 1e-12)
        likes = positive(ratings)
        pairs = likes[likes["movieId"].isin(new)][["userId", "movieId"]]
        users = np.unique(pairs["userId"].to_numpy())
        warm_likes = likes[likes["userId"].isin(users) & likes["movieId"].isin(self.warm.ids)]
        u_rows = np.searchsorted(users, warm_likes["userId"].to_numpy())
        profile = np.zeros((len(users), warm_unit.shape[1]))
        np.add.at(profile, u_rows, warm_unit[self.warm.rows(warm_likes["movieId"].to_numpy())])
        has = np.bincount(u_rows, minlength=len(users)) > 0
        rated = ratings[ratings["userId"].isin(users) & ratings["movieId"].isin(ids)]
        rated_mask = sp.csr_matrix((np.ones(len(rated), dtype=bool),
                                    (np.searchsorted(users, rated["userId"].to_numpy()),
                                     np.searchsorted(ids, rated["movieId"].to_numpy()))),
                                   shape=(len(users), len(ids))).toarray()
        pairs = pairs[has[np.searchsorted(users, pairs["userId"].to_numpy())]]
        pu = np.searchsorted(users, pairs["userId"].to_numpy())
        pi = np.searchsorted(ids, pairs["movieId"].to_numpy())
        cached = (ids, users, profile, rated_mask, pu, pi)
        self.__dict__["_user_side"] = cached
        return cached

    def evaluate(self, guess: ItemVectors, name: str) -> dict:
        """One row of the comparison table for the vectors ``guess``."""
        cos = self.cosines(guess)
        ranks = self.user_ranks(guess)
        per_item = ranks.groupby("movieId").agg(auc=("auc", "mean"), hit=("rank", lambda r: (r < self.top_k).mean()))
        return {"method": name, "centred cosine": cos["centred cosine"].mean(), "raw cosine": cos["raw cosine"].mean(),
                "user AUC": per_item["auc"].mean(), f"found in top-{self.top_k}": per_item["hit"].mean()}


def item_cold_start(ml: MovieLens, *, n_items: int = 100, min_positive: int = 20, k: int = 10, top_k: int = 20,
                    dim: int = 10, epochs: int = 10, same_genre: bool = True, seed: int = DEFAULT_SEED) -> ItemColdStart:
    """Hold ``n_items`` items out as if new, train item2vec on the rest, and guess their vectors.

    Trains three item2vec models (SparrowRecSys settings: dim 10, window 5, 10 epochs): on
    warm items only; on every rating (the vector each new item gets once its ratings
    arrive); and the same with another seed (how reproducible a trained vector is: the
    ceiling). The last two are rotated into the warm model's space by Procrustes on the warm
    items. ``table`` compares the averaged neighbours with every baseline, per new item
    averaged: centred and raw cosine to the trained vector, and how high the users who liked
    the item rank it (AUC) or find it in their top-``top_k``. ``same_genre`` keeps neighbours to warm
    items sharing a genre (see :func:`similar_warm_items`); on a catalogue where a new item has
    fewer than ``k`` of those, pass ``same_genre=False``.
    """
    check_dataset(ml)
    k = check_int(k, "k", low=1)
    if not isinstance(same_genre, (bool, np.bool_)):
        raise TypeError(f"same_genre must be True or False, got {same_genre!r} of type {type(same_genre).__name__}")
    top_k = check_int(top_k, "top_k", low=1)
    seed = check_seed(seed)
    holdout = hold_out_items(ml.ratings, n_items=n_items, min_positive=min_positive, seed=seed)
    side = side_features(ml, ("genres", "year"))
    warm = train_item2vec(positive_sequences(holdout.warm), dim=dim, epochs=epochs, seed=seed)
    full_sequences = positive_sequences(ml.ratings)
    full = train_item2vec(full_sequences, dim=dim, epochs=epochs, seed=seed)
    again = train_item2vec(full_sequences, dim=dim, epochs=epochs, seed=(seed + 1) % 2**32)
    trained, _ = align_procrustes(full, warm)
    repeat, _ = align_procrustes(again, warm)
    result = ItemColdStart(ml, holdout, side, warm, trained, repeat, k, top_k, seed, same_genre=bool(same_genre))
    rows = [result.evaluate(result.guess(m), m if m != "neighbours" else f"mean of {k} neighbours")
            for m in COLD_ITEM_METHODS]
    rows.append(result.evaluate(ItemVectors(holdout.new_items, repeat.get(holdout.new_items)),
                                "ceiling: trained, another seed"))
    rows.append(result.evaluate(ItemVectors(holdout.new_items, trained.get(holdout.new_items)), "trained (reference)"))
    table = pd.DataFrame(rows)
    object.__setattr__(result, "table", table)
    return result


def compare_item_tricks(result: ItemColdStart, *, n_clusters: int = 30, alpha: float = 1.0, n_boot: int = 1000,
                        seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The user-side tricks on items, beside the mean of similar items: one row per method.

    Centred cosine to the trained vector, user AUC and found-in-top-k (as in ``result.table``),
    the mean cosine with the profiles of the users who liked the item (``fan cosine``), and the
    paired difference in centred cosine to the mean of neighbours over the new items (bootstrap 95% CI).
    """
    from ..metrics import paired_difference

    if not isinstance(result, ItemColdStart):
        raise TypeError(f"result must be the ItemColdStart from item_cold_start, got {type(result).__name__}")
    guesses = {f"mean of {result.k} neighbours": result.guess("neighbours")}
    for method in ITEM_FEATURE_METHODS:
        guesses[method] = cold_item_vectors(result.warm, result.side, result.holdout.new_items, method=method,
                                            n_clusters=n_clusters, alpha=alpha, seed=result.seed)
    guesses["genre mean"] = result.guess("genre mean")
    guesses["trained (reference)"] = ItemVectors(result.holdout.new_items, result.trained.get(result.holdout.new_items))
    base = result.cosines(guesses[f"mean of {result.k} neighbours"])["centred cosine"]
    rows = []
    for name, guess in guesses.items():
        row = result.evaluate(guess, name)
        row["fan cosine"] = result.fan_cosine(guess).mean()
        cos = result.cosines(guess)["centred cosine"]
        if name.startswith("mean of") or name.startswith("trained"):
            row.update({"vs neighbours": np.nan, "low": np.nan, "high": np.nan})
        else:
            d = paired_difference(cos, base, n_boot=n_boot, seed=seed)
            row.update({"vs neighbours": d["difference"], "low": d["low"], "high": d["high"]})
        rows.append(row)
    return pd.DataFrame(rows)


def neighbour_k_sweep(result: ItemColdStart, ks: Sequence[int] = (1, 2, 3, 5, 10, 20, 50)) -> pd.DataFrame:
    """The effect of k: centred cosine and user AUC of the mean of k neighbours, for each k."""
    if not isinstance(result, ItemColdStart):
        raise TypeError(f"result must be the ItemColdStart from item_cold_start, got {type(result).__name__}")
    rows = []
    for k in ks:
        row = result.evaluate(result.guess("neighbours", check_int(k, "ks", low=1)), f"k={k}")
        rows.append({"k": k, "centred cosine": row["centred cosine"], "user AUC": row["user AUC"]})
    return pd.DataFrame(rows)


def rarity_table(result: ItemColdStart, *, edges: Sequence[int] = (0, 5, 20)) -> pd.DataFrame:
    """Where averaging fails: centred cosine by how many warm items share the new item's exact genre set."""
    if not isinstance(result, ItemColdStart):
        raise TypeError(f"result must be the ItemColdStart from item_cold_start, got {type(result).__name__}")
    genres = result.ml.movies.set_index("movieId")["genres"]
    warm_sets = genres.reindex(result.warm.ids).value_counts()
    new = result.holdout.new_items
    same = warm_sets.reindex(genres.reindex(new).to_numpy()).fillna(0).to_numpy(int)
    if isinstance(edges, (str, bytes, int, np.integer)) or not len(edges):
        raise ValueError(f"edges must be a non-empty list of lower edges (warm items alike), got {edges!r}")
    edges = sorted({check_int(e, "edges", low=0) for e in edges})
    labels = [f"{lo}-{hi - 1}" for lo, hi in zip(edges[:-1], edges[1:])] + [f"{edges[-1]}+"]
    group = np.searchsorted(edges, same, side="right") - 1
    neighbours = result.cosines(result.guess("neighbours"))["centred cosine"].to_numpy()
    genre = result.cosines(result.guess("genre mean"))["centred cosine"].to_numpy()
    frame = pd.DataFrame({"order": group, "warm items with the same genres": np.array(labels)[group],
                          "neighbours": neighbours, "genre mean": genre})
    out = frame.groupby(["order", "warm items with the same genres"]).agg(
        items=("neighbours", "size"), **{"mean of neighbours": ("neighbours", "mean"),
                                         "genre mean": ("genre mean", "mean")})
    return out.reset_index().drop(columns="order")


def projection(result: ItemColdStart, movie_ids: Sequence[int]) -> pd.DataFrame:
    """2-D PCA of the warm model's centred vectors, with chosen new items, their neighbours and trained vectors.

    Rows: ``role`` is ``warm`` (every warm item, for the background), ``neighbour`` (of
    ``of``), ``guess`` (the new item's averaged vector) or ``trained`` (its vector once trained).
    """
    from sklearn.decomposition import PCA

    if not isinstance(result, ItemColdStart):
        raise TypeError(f"result must be the ItemColdStart from item_cold_start, got {type(result).__name__}")
    chosen = np.asarray(movie_ids, dtype=np.int64)
    bad = np.setdiff1d(chosen, result.holdout.new_items)
    if bad.size:
        raise ValueError(f"movie ids {bad[:5].tolist()} are not among the held-out new items")
    centre = result.warm.vectors.mean(axis=0)
    pca = PCA(n_components=2, random_state=0).fit(result.warm.vectors - centre)
    sign = np.sign(pca.components_[:, 0:1])    # fix each axis' sign so the picture is reproducible
    sign[sign == 0] = 1

    def xy(v: np.ndarray) -> np.ndarray:
        return (pca.transform(v - centre) * sign.T)

    parts = [pd.DataFrame({"movieId": result.warm.ids, "role": "warm", "of": -1})]
    coords = [xy(result.warm.vectors)]
    nb = similar_warm_items(result.side, chosen, result.warm.ids, k=result.k, same_genre=result.same_genre)
    guess = result.guess("neighbours")
    for m in chosen:
        ids = nb.loc[nb["movieId"] == m, "neighbour"].to_numpy()
        parts.append(pd.DataFrame({"movieId": ids, "role": "neighbour", "of": m}))
        coords.append(xy(result.warm.get(ids)))
        parts.append(pd.DataFrame({"movieId": [m, m], "role": ["guess", "trained"], "of": [m, m]}))
        coords.append(xy(np.vstack([guess.get(m), result.trained.get(m)])))
    out = pd.concat(parts, ignore_index=True)
    xy_all = np.vstack(coords)
    out["x"], out["y"] = xy_all[:, 0], xy_all[:, 1]
    return out
