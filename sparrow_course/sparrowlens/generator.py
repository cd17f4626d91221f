"""SparrowLens's generator: the planted model (items, users, exposure, ratings, catalogue tags) and the CSV files."""
from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from ..seeding import DEFAULT_SEED

if TYPE_CHECKING:  # pragma: no cover - import only for type checkers
    from ..datasets import MovieLens

from .vocabulary import (_ADJECTIVES, _AGE_WEIGHTS, _GENDER_WEIGHTS, _NAMES, _NOUNS, _OCCUPATION_WEIGHTS, _PLACES, _REGION_WEIGHTS,
                         _SEGMENT_EFFECTS, _SEGMENTS, AGE_GROUPS, GENDERS, GENERIC_TAGS, GENRES, OCCUPATIONS,
                         PLATFORMS, REGIONS, SEGMENT_NAMES, _vocabulary)

__all__ = ["DATA_END", "DATA_START", "FILE_NAMES", "SparrowLens", "SparrowLensTruth", "generate"]


#: First and last possible rating time (UTC seconds): the span of ml-latest-small.
DATA_START = 828_057_600  # 1996-03-29


DATA_END = 1_537_833_600  # 2018-09-25 (exclusive)


_DAY = 86_400


#: The files ``write`` produces, in the order they appear in SHA256SUMS.
FILE_NAMES: tuple[str, ...] = ("movies.csv", "ratings.csv", "tags.csv", "users.csv", "tag_hierarchy.csv",
                               "movie_tags.csv")


# Model constants (documented in data/README.md; exposed in truth.params).
_PARAMS: dict[str, float] = {
    "target_mean": 3.55,              # mu is set so the mean before rounding is this; observed ~3.52
    "noise_sd": 0.75,                 # sd of the Gaussian rating noise
    "user_bias_sd": 0.45,
    "item_bias_sd": 0.3,
    "taste_scale": 1.3,               # multiplies user taste vectors
    "affinity_weight": 3.0,           # beta: how much taste drives what a user watches
    "recency_weight": 1.0,            # gamma: boost for films released shortly before the phase
    "recency_years": 2.5,             # decay of that boost
    "popularity_sd": 1.3,             # sd of log-popularity (lognormal long tail)
    "phases": 4,                      # interest phases per user window
    "segment_feature_strength": 1.6,  # scales the registration-feature effects
    "segment_noise_sd": 0.45,         # sd of a user's own deviation from the segment taste
    "drift_max": 1.0,                 # largest share of the late taste that comes from the drift segment
    "half_star_beta": 0.5,            # users' half-star habit ~ Beta(a, a)
    "tagger_share": 0.06,
    "true_tag_share": 0.8,            # share of user tag applications that are one of the movie's catalogue tags
    "sibling_tag_share": 0.12,        # ... a leaf of the movie's main sub-genre (any of its 15)
    # Catalogue tags (movie_tags.csv, second edition), drawn from their own random stream:
    "leaf_zipf_exponent": 0.6,        # a parent's leaves have prior weight rank**-exponent (rank 1..15)
    "leaf_signal": 1.2,               # beta of the leaf score on the standardised v_i . w_t
    "leaf_draws": 4,                  # leaves per movie: 1 + Binomial(leaf_draws, leaf_draw_p)
    "leaf_draw_p": 0.35,
    "second_parent_weight": 0.5,      # prior factor for leaves of the movie's second sub-genre
    "off_theme_weight": 0.005,        # prior factor for leaves of any other sub-genre
    "parent_tag_share": 0.6,          # chance the main sub-genre's name is itself a tag of the movie
    "second_parent_tag_share": 0.35,  # ... the second sub-genre's name
    "root_tag_share": 0.3,            # ... the main root's name
    "generic_top_share": 0.35,        # share of movies carrying the most common generic tag
    "generic_zipf_exponent": 0.9,     # the generic tag of rank r is on top_share * r**-exponent of movies
    "generic_signal": 0.8,            # beta of the generic score (weaker than leaves: 1.2)
    "generic_anchor_weight": 0.6,     # w_g = 0.6 unit(anchor) + 0.8 noise
    "relevance_noise_sd": 0.5,
    "relevance_offset_parent": 1.5,   # c in relevance = sigmoid(c + z + noise), per kind of tag
    "relevance_offset_leaf": 1.0,
    "relevance_offset_generic": 0.5,
}


# ---------------------------------------------------------------------------
# Data classes
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class SparrowLensTruth:
    """The planted truth behind a SparrowLens dataset.

    Item arrays are indexed in ``movie_ids`` order (ascending movieId; ids have gaps
    as in MovieLens, so never index by ``movieId - 1``); user arrays in ``user_ids``
    order (ascending userId).

    Attributes:
        movie_ids: (n_movies,) int64 movieIds, ascending.
        user_ids: (n_users,) int64 userIds, ascending.
        item_factors: (n_movies, k) true item vectors v_i.
        item_bias: (n_movies,) b_i.
        item_log_popularity: (n_movies,) log of the exposure weight (long-tailed).
        item_release_year: (n_movies,) release year (also in the title).
        item_parent: (n_movies,) index into ``parent_names`` of the main sub-genre.
        item_second_parent: (n_movies,) index of a second sub-genre, -1 if none.
        item_tag_matrix: (n_movies, n_tags) 0/1 true leaf tags, columns ``tag_names``.
        item_genre_matrix: (n_movies, n_genres) 0/1 genres, columns ``genre_names``.
        user_segment: (n_users,) index into ``segment_names``, drawn from features.
        user_segment_proba: (n_users, n_segments) the softmax the segment was drawn
            from: the best any model of registration features can do.
        user_drift_segment: (n_users,) segment the late taste drifts toward.
        user_drift_weight: (n_users,) how far (0..drift_max) the taste drifts.
        user_factors_early, user_factors_late: (n_users, k) taste z_u at the start
            and at the end of the user's active window; in between it moves linearly.
        user_bias: (n_users,) b_u.
        user_half_star_rate: (n_users,) chance a user keeps a half-star rating.
        user_window: (n_users, 2) first and last second of the active window.
        genre_names, tag_names, parent_names, root_names, segment_names: labels.
        genre_vectors: (n_genres, k); tag_vectors: (n_tags, k); parent_vectors:
            (n_parents, k); root_vectors: (n_roots, k); segment_factors:
            (n_segments, k) the mean taste of each segment (already taste-scaled).
        tag_parent: (n_tags,) parent index of each leaf; parent_root: (n_parents,).
        segment_feature_effects: {segment: {feature value: logit effect}}, plus the
            segment's "(intercept)"; user_segment_proba is their softmax.
        catalogue_tag_names: the catalogue vocabulary of movie_tags.csv: every leaf
            of the (wide) hierarchy, then the parents, the roots and the generic tags.
        catalogue_tag_kind: "leaf", "parent", "root" or "generic" per catalogue tag.
        catalogue_tag_vectors: (n_catalogue_tags, k) the direction w_t each tag's
            score reads from the item factors (the core leaves', parents' and roots'
            own vectors; new leaves near their parent; generic tags near their anchor).
        catalogue_tag_signal: (n_catalogue_tags,) beta_t, how strongly the tag follows
            v_i . w_t (0 for parent and root tags, which follow the planted sub-genre).
        item_catalogue_relevance: (n_movies, n_catalogue_tags) relevance in (0, 1] of
            each tag the catalogue gives a movie, 0 where it gives none: movie_tags.csv.
        params: the model constants (global_mean, noise_sd, ...).
    """

    movie_ids: np.ndarray
    user_ids: np.ndarray
    item_factors: np.ndarray
    item_bias: np.ndarray
    item_log_popularity: np.ndarray
    item_release_year: np.ndarray
    item_parent: np.ndarray
    item_second_parent: np.ndarray
    item_tag_matrix: np.ndarray
    item_genre_matrix: np.ndarray
    user_segment: np.ndarray
    user_segment_proba: np.ndarray
    user_drift_segment: np.ndarray
    user_drift_weight: np.ndarray
    user_factors_early: np.ndarray
    user_factors_late: np.ndarray
    user_bias: np.ndarray
    user_half_star_rate: np.ndarray
    user_window: np.ndarray
    genre_names: tuple[str, ...]
    tag_names: tuple[str, ...]
    parent_names: tuple[str, ...]
    root_names: tuple[str, ...]
    segment_names: tuple[str, ...]
    genre_vectors: np.ndarray
    tag_vectors: np.ndarray
    parent_vectors: np.ndarray
    root_vectors: np.ndarray
    segment_factors: np.ndarray
    tag_parent: np.ndarray
    parent_root: np.ndarray
    segment_feature_effects: dict[str, dict[str, float]]
    catalogue_tag_names: tuple[str, ...]
    catalogue_tag_kind: tuple[str, ...]
    catalogue_tag_vectors: np.ndarray
    catalogue_tag_signal: np.ndarray
    item_catalogue_relevance: np.ndarray
    params: dict[str, float] = field(default_factory=dict)

    @property
    def global_mean(self) -> float:
        """Return mu, the global mean of the rating model (before exposure bias)."""
        return float(self.params["global_mean"])

    def item_index(self, movie_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Return row positions of movieIds in the item arrays; ValueError for unknown ids."""
        return _positions(self.movie_ids, movie_ids, "movieId")

    def user_index(self, user_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Return row positions of userIds in the user arrays; ValueError for unknown ids."""
        return _positions(self.user_ids, user_ids, "userId")

    def user_factors_at(self, user_ids: Sequence[int] | np.ndarray,
                        timestamps: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Return users' taste vectors at given timestamps (None: the middle of each window)."""
        u = self.user_index(user_ids)
        tau = self._window_position(u, timestamps)
        return (1.0 - tau)[:, None] * self.user_factors_early[u] + tau[:, None] * self.user_factors_late[u]

    def expected_rating(self, user_ids: Sequence[int] | np.ndarray, movie_ids: Sequence[int] | np.ndarray,
                        timestamps: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Return mu + b_u + b_i + z_u(t).v_i, the noise-free score before rounding and clipping."""
        u = self.user_index(user_ids)
        i = self.item_index(movie_ids)
        if len(u) != len(i):
            raise ValueError(f"user_ids and movie_ids must have the same length, got {len(u)} and {len(i)}")
        tau = self._window_position(u, timestamps)
        z = (1.0 - tau)[:, None] * self.user_factors_early[u] + tau[:, None] * self.user_factors_late[u]
        return self.global_mean + self.user_bias[u] + self.item_bias[i] + np.einsum("nk,nk->n", z, self.item_factors[i])

    def _window_position(self, u: np.ndarray, timestamps: Sequence[int] | np.ndarray | None) -> np.ndarray:
        """Return where each timestamp sits in its user's window, 0 (start) .. 1 (end)."""
        if timestamps is None:
            return np.full(len(u), 0.5)
        t = np.asarray(timestamps, dtype=np.float64)
        if t.shape != u.shape:
            raise ValueError(f"timestamps must have one entry per user id, got {t.shape} for {u.shape}")
        start, end = self.user_window[u, 0].astype(np.float64), self.user_window[u, 1].astype(np.float64)
        return np.clip((t - start) / np.maximum(end - start, 1.0), 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class SparrowLens:
    """A generated SparrowLens dataset: MovieLens-style frames plus the planted truth."""

    movies: pd.DataFrame
    ratings: pd.DataFrame
    tags: pd.DataFrame
    users: pd.DataFrame
    tag_hierarchy: pd.DataFrame
    movie_tags: pd.DataFrame
    truth: SparrowLensTruth
    seed: int

    def frames(self) -> dict[str, pd.DataFrame]:
        """Return the six tables keyed by their file name."""
        return {
            "movies.csv": self.movies,
            "ratings.csv": self.ratings,
            "tags.csv": self.tags,
            "users.csv": self.users,
            "tag_hierarchy.csv": self.tag_hierarchy,
            "movie_tags.csv": self.movie_tags,
        }

    def as_movielens(self) -> MovieLens:
        """Return the frames as a ``datasets.MovieLens``, as ``load_movielens`` would."""
        from ..datasets import MovieLens

        return MovieLens(name="SparrowLens", movies=self.movies.copy(), ratings=self.ratings.copy(),
                         tags=self.tags.copy(), users=self.users.copy(),
                         tag_hierarchy=self.tag_hierarchy.copy(), movie_tags=self.movie_tags.copy(),
                         truth=self.truth)

    def csv_bytes(self) -> dict[str, bytes]:
        """Return the exact bytes of every CSV file (UTF-8, ``\\n`` line endings)."""
        return {name: _to_csv_bytes(frame) for name, frame in self.frames().items()}

    def write(self, directory: str | os.PathLike[str]) -> dict[str, str]:
        """Write the CSV files and SHA256SUMS into ``directory`` atomically; return {file: sha256}."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        contents = self.csv_bytes()
        sums = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
        contents["SHA256SUMS"] = "".join(f"{sums[name]}  {name}\n" for name in FILE_NAMES).encode()
        _write_files_atomically(directory, contents)
        return sums


def _positions(sorted_ids: np.ndarray, ids: Sequence[int] | np.ndarray, what: str) -> np.ndarray:
    """Return positions of ``ids`` in the ascending array ``sorted_ids``; ValueError naming unknown ids."""
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"{what}s must be one-dimensional, got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"{what}s must be integers, got dtype {ids.dtype}")
    pos = np.searchsorted(sorted_ids, ids)
    pos_c = np.minimum(pos, len(sorted_ids) - 1)
    bad = sorted_ids[pos_c] != ids
    if bad.any():
        raise ValueError(f"unknown {what} {int(ids[bad][0])}: not in this dataset ({int(bad.sum())} unknown)")
    return pos_c


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def generate(seed: int = DEFAULT_SEED, *, n_movies: int = 3000, n_users: int = 6000,
             n_factors: int = 16, mean_ratings_per_user: float = 42.0,
             params: dict[str, float] | None = None) -> SparrowLens:
    """Generate SparrowLens deterministically from ``seed`` (the bundled copy uses the defaults).

    ``params`` overrides model constants (keys of ``truth.params``, e.g.
    ``{"segment_feature_strength": 0.0}``) to make a variant catalogue for a regime map; the
    bundled data is the one with no override.
    """
    from ..checks import check_int, check_number, check_seed

    seed = check_seed(seed)
    for name, value in (("n_movies", n_movies), ("n_users", n_users), ("n_factors", n_factors)):
        check_int(value, name)
    if n_movies < 300:
        raise ValueError(f"n_movies must be at least 300 so every user can rate 10 released films, got {n_movies}")
    if n_users < 20:
        raise ValueError(f"n_users must be at least 20, got {n_users}")
    check_int(n_factors, "n_factors", low=2, high=256)
    check_number(mean_ratings_per_user, "mean_ratings_per_user")
    if not 12.0 <= float(mean_ratings_per_user) <= n_movies / 10:
        raise ValueError(f"mean_ratings_per_user must be between 12 and n_movies/10 = {n_movies / 10:g}, got "
                         f"{mean_ratings_per_user}; lower it or raise n_movies")
    p = dict(_PARAMS)
    if params is not None:
        if not isinstance(params, dict):
            raise TypeError(f"params must be a dict {{name: value}} of model constants, got {type(params).__name__}")
        unknown = sorted(set(params) - set(_PARAMS))
        if unknown:
            raise ValueError(f"params names unknown model constant(s) {unknown}; expected some of {sorted(_PARAMS)}")
        for name, value in params.items():
            p[name] = check_number(value, f"params[{name!r}]", low=0.0)
    # Independent streams per stage, so changing one stage leaves the others' draws alone.
    # The second edition's catalogue tags draw from a seventh stream: SeedSequence's children
    # are keyed by their index, so the first six (and every file they make) are unchanged.
    rng_vec, rng_mov, rng_usr, rng_exp, rng_rat, rng_tag, rng_cat = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(7))

    vocab = _vocabulary()
    vectors = _draw_vectors(rng_vec, vocab, n_factors)
    items = _draw_items(rng_mov, vocab, vectors, n_movies, p)
    users = _draw_users(rng_usr, vocab, vectors, n_users, n_factors, mean_ratings_per_user, n_movies, p)
    pairs = _draw_exposure(rng_exp, items, users, p)
    ratings = _draw_ratings(rng_rat, items, users, pairs, p)
    catalogue = _draw_catalogue(rng_cat, vocab, vectors, items, p)
    tags = _draw_tags(rng_tag, vocab, items, users, ratings, catalogue, p)

    truth = SparrowLensTruth(
        movie_ids=items["movie_ids"], user_ids=users["user_ids"],
        item_factors=items["factors"], item_bias=items["bias"], item_log_popularity=items["log_pop"],
        item_release_year=items["year"], item_parent=items["parent"], item_second_parent=items["parent2"],
        item_tag_matrix=items["tag_matrix"], item_genre_matrix=items["genre_matrix"],
        user_segment=users["segment"], user_segment_proba=users["segment_proba"],
        user_drift_segment=users["drift_segment"], user_drift_weight=users["drift_weight"],
        user_factors_early=users["early"], user_factors_late=users["late"], user_bias=users["bias"],
        user_half_star_rate=users["half_rate"], user_window=users["window"],
        genre_names=GENRES, tag_names=vocab["tags"], parent_names=vocab["parents"], root_names=vocab["roots"],
        segment_names=SEGMENT_NAMES, genre_vectors=vectors["genre"], tag_vectors=vectors["tag"],
        parent_vectors=vectors["parent"], root_vectors=vectors["root"], segment_factors=users["segment_factors"],
        tag_parent=vocab["tag_parent"], parent_root=vocab["parent_root"],
        segment_feature_effects=users["effects"],
        catalogue_tag_names=catalogue["names"], catalogue_tag_kind=catalogue["kind"],
        catalogue_tag_vectors=catalogue["vectors"], catalogue_tag_signal=catalogue["signal"],
        item_catalogue_relevance=catalogue["relevance"], params=p,
    )
    for arr in vars(truth).values():  # the truth is read-only: notebooks compare against it
        if isinstance(arr, np.ndarray):
            arr.setflags(write=False)
    return SparrowLens(movies=items["frame"], ratings=ratings["frame"], tags=tags, users=users["frame"],
                       tag_hierarchy=vocab["frame"], movie_tags=catalogue["frame"], truth=truth, seed=int(seed))


def _draw_vectors(rng: np.random.Generator, vocab: dict[str, Any], k: int) -> dict[str, np.ndarray]:
    """Draw latent vectors: leaves sit near their parent, parents near their root."""
    def unit_noise(n: int) -> np.ndarray:
        return rng.standard_normal((n, k)) / np.sqrt(k)

    root = unit_noise(len(vocab["roots"]))
    parent = 0.7 * root[vocab["parent_root"]] + 0.7 * unit_noise(len(vocab["parents"]))
    tag = 0.75 * parent[vocab["tag_parent"]] + 0.65 * unit_noise(len(vocab["tags"]))
    genre = unit_noise(len(GENRES))
    vintage = unit_noise(1)[0]  # direction that old films share; classic cinephiles like it
    return {"root": root, "parent": parent, "tag": tag, "genre": genre, "vintage": vintage}


def _draw_items(rng: np.random.Generator, vocab: dict[str, Any], vec: dict[str, np.ndarray],
                n: int, p: dict[str, float]) -> dict[str, Any]:
    """Draw movies: sub-genres, genres, leaf tags, release year, title, factors, popularity, bias."""
    n_parents, n_tags, n_genres = len(vocab["parents"]), len(vocab["tags"]), len(GENRES)
    parent_pop = rng.normal(0.0, 0.5, n_parents)  # some sub-genres are simply more watched
    # Studios make more everyday dramas and comedies than film noir: weight those sub-genres up.
    everyday = np.array([2.0 if GENRES[vocab["parent_genres"][q][0]] in ("Drama", "Comedy") else 1.0
                         for q in range(n_parents)])
    parent_share = rng.dirichlet(np.full(n_parents, 4.0)) * everyday
    parent_share /= parent_share.sum()
    parent = rng.choice(n_parents, size=n, p=parent_share)
    has_second = rng.random(n) < 0.35
    second = rng.choice(n_parents, size=n, p=parent_share)
    second = np.where(has_second & (second != parent), second, -1)

    # Release years: mostly recent, a tail of classics; some sub-genres have their own era.
    era = rng.choice(4, size=n, p=[0.10, 0.15, 0.25, 0.50])
    lo = np.array([1920, 1960, 1980, 1995])[era]
    hi = np.array([1959, 1979, 1994, 2018])[era]
    year = rng.integers(lo, hi + 1)
    classic_era = {"film noir": (0.7, 1940, 1958), "western frontier": (0.45, 1939, 1975),
                   "musical stage": (0.35, 1935, 1968)}
    for name, (share, y0, y1) in classic_era.items():
        idx = vocab["parents"].index(name)
        pick = (parent == idx) & (rng.random(n) < share)
        year = np.where(pick, rng.integers(y0, y1 + 1, size=n), year)

    # Genres: the parent's first genre always, later ones with falling probability.
    genre = np.zeros((n, n_genres), dtype=np.int8)
    keep_draw = rng.random((n, 6))
    second_draw = rng.random(n)
    for i in range(n):
        for j, g in enumerate(vocab["parent_genres"][parent[i]]):
            if j == 0 or keep_draw[i, j] < (0.55, 0.35, 0.25, 0.2, 0.2)[j - 1]:
                genre[i, g] = 1
        if second[i] >= 0 and second_draw[i] < 0.6:
            genre[i, vocab["parent_genres"][second[i]][0]] = 1
    # Drama is MovieLens's most common genre: many films get it on top of their sub-genre's.
    genre[rng.random(n) < 0.22, GENRES.index("Drama")] = 1
    imax, noir = GENRES.index("IMAX"), GENRES.index("Film-Noir")
    genre[year < 2004, imax] = 0  # no IMAX releases before the format went mainstream
    late_noir = (genre[:, noir] == 1) & (year > 1960)
    genre[late_noir, noir] = 0  # neo-noir is labelled Crime, as in MovieLens
    genre[late_noir, GENRES.index("Crime")] = 1
    empty = genre.sum(axis=1) == 0
    genre[empty, GENRES.index("Drama")] = 1

    # True leaf tags: two to five draws (repeats merge), mostly from the main sub-genre.
    tag_matrix = np.zeros((n, n_tags), dtype=np.int8)
    leaves_of = [np.flatnonzero(vocab["tag_parent"] == q) for q in range(n_parents)]
    n_leaves = rng.integers(2, 6, size=n)
    leaf_draw = rng.random((n, 5))
    leaf_pick = rng.integers(0, 1 << 30, size=(n, 5))
    for i in range(n):
        for j in range(n_leaves[i]):
            src = parent[i]
            if second[i] >= 0 and leaf_draw[i, j] < 0.3:
                src = second[i]
            elif leaf_draw[i, j] > 0.93:
                src = leaf_pick[i, j] % n_parents  # an off-theme tag now and then
            options = leaves_of[src]
            tag_matrix[i, options[leaf_pick[i, j] % len(options)]] = 1

    # Item factors from genres, sub-genres and themes, plus the film's own twist.
    k = vec["genre"].shape[1]
    g_part = (genre @ vec["genre"]) / np.sqrt(genre.sum(axis=1, keepdims=True))
    p_part = vec["parent"][parent] + np.where(second[:, None] >= 0, 0.5 * vec["parent"][np.maximum(second, 0)], 0.0)
    t_part = (tag_matrix @ vec["tag"]) / tag_matrix.sum(axis=1, keepdims=True)
    own = rng.standard_normal((n, k)) / np.sqrt(k)
    vintage = np.clip((1990 - year) / 30.0, 0.0, 1.5)[:, None] * vec["vintage"][None, :]
    factors = 0.45 * g_part + 0.6 * p_part + 0.55 * t_part + 0.35 * own + 0.5 * vintage

    # Long-tailed popularity; better films are a little more popular (and vice versa).
    log_pop = rng.normal(0.0, p["popularity_sd"], n) + parent_pop[parent]
    genre_bias = np.zeros(n_genres)
    for g, b in {"Film-Noir": 0.25, "Documentary": 0.2, "War": 0.15, "Animation": 0.1, "Drama": 0.08,
                 "Horror": -0.25, "Children": -0.1, "Comedy": -0.05, "Action": -0.03}.items():
        genre_bias[GENRES.index(g)] = b
    z_pop = (log_pop - log_pop.mean()) / log_pop.std()
    bias = (rng.normal(0.0, p["item_bias_sd"], n) + 0.12 * z_pop
            + (genre @ genre_bias) / genre.sum(axis=1))

    # movieIds follow when a film entered the catalogue (as in MovieLens), with gaps.
    entered = np.maximum(year, 1995) + rng.normal(0.0, 3.0, n)
    order = np.argsort(entered, kind="stable")
    ids_sorted = np.cumsum(1 + rng.geometric(0.6, size=n) - 1)  # steps of 1, sometimes more
    movie_ids = np.empty(n, dtype=np.int64)
    movie_ids[order] = ids_sorted
    # Keep every array in ascending-movieId order.
    by_id = np.argsort(movie_ids, kind="stable")
    movie_ids, parent, second, year = movie_ids[by_id], parent[by_id], second[by_id], year[by_id]
    genre, tag_matrix, factors = genre[by_id], tag_matrix[by_id], factors[by_id]
    log_pop, bias = log_pop[by_id], bias[by_id]

    titles = _titles(rng, year)
    genres_str = ["|".join(GENRES[g] for g in np.flatnonzero(row)) for row in genre]
    frame = pd.DataFrame({"movieId": movie_ids, "title": titles, "genres": genres_str})
    release_ts = (np.asarray(year - 1970, dtype="datetime64[Y]").astype("datetime64[s]").astype(np.int64))
    return {"movie_ids": movie_ids, "parent": parent.astype(np.int64), "parent2": second.astype(np.int64),
            "year": year.astype(np.int64), "genre_matrix": genre, "tag_matrix": tag_matrix,
            "factors": factors, "log_pop": log_pop, "bias": bias, "frame": frame, "release_ts": release_ts}


def _titles(rng: np.random.Generator, years: np.ndarray) -> list[str]:
    """Draw unique titles like 'The Silent Harbor (1997)' from word lists."""
    patterns = ("The {A} {N}", "{A} {N}", "The {N} of {P}", "A {N} in {P}", "{A} {N}s",
                "{Nm} and the {A} {N}", "The {N} of the {A} {N2}", "{N} of {P}", "{A} in {P}", "{Nm}'s {N}")
    seen: set[str] = set()
    titles = []
    for year in years:
        while True:
            pat = patterns[int(rng.integers(len(patterns)))]
            words = {"A": _ADJECTIVES[int(rng.integers(len(_ADJECTIVES)))],
                     "N": _NOUNS[int(rng.integers(len(_NOUNS)))],
                     "N2": _NOUNS[int(rng.integers(len(_NOUNS)))],
                     "P": _PLACES[int(rng.integers(len(_PLACES)))],
                     "Nm": _NAMES[int(rng.integers(len(_NAMES)))]}
            name = pat.format(**words)
            if name not in seen:  # unique without the year, so a title finds one film
                seen.add(name)
                titles.append(f"{name} ({int(year)})")
                break
    return titles


def _draw_users(rng: np.random.Generator, vocab: dict[str, Any], vec: dict[str, np.ndarray], n: int, k: int,
                mean_ratings: float, n_movies: int, p: dict[str, float]) -> dict[str, Any]:
    """Draw users: activity, window, registration features, segment, tastes, biases."""
    n_seg = len(SEGMENT_NAMES)
    # Activity: at least 10 ratings, lognormal (heavy) tail, capped to keep exposure sane.
    sigma = 1.05
    mu = np.log(mean_ratings - 10.0) - sigma**2 / 2
    n_ratings = np.minimum(10 + np.floor(rng.lognormal(mu, sigma, n)).astype(np.int64), min(900, n_movies // 4))

    # Active window: start anywhere in the span; length heavy-tailed, longer for heavy users.
    span = DATA_END - DATA_START
    start = DATA_START + np.floor(rng.beta(1.1, 1.3, n) * span).astype(np.int64)
    log_days = np.log(90.0) + 1.8 * rng.standard_normal(n) + 0.6 * (np.log(n_ratings) - np.log(mean_ratings))
    length = np.floor(np.exp(log_days) * _DAY).astype(np.int64) + 3600
    end = np.minimum(start + length, DATA_END - 1)
    start = np.minimum(start, end - 3600)
    signup = np.maximum(start - rng.integers(0, 14 * _DAY, size=n), DATA_START - 30 * _DAY)

    # Registration features.
    age = rng.choice(len(AGE_GROUPS), size=n, p=np.array(_AGE_WEIGHTS) / sum(_AGE_WEIGHTS))
    gender = rng.choice(2, size=n, p=_GENDER_WEIGHTS)
    occ_w = np.array(_OCCUPATION_WEIGHTS, dtype=float)
    occ_p = np.tile(occ_w / occ_w.sum(), (len(AGE_GROUPS), 1))
    student, retired = OCCUPATIONS.index("student"), OCCUPATIONS.index("retired")
    # Occupation depends on age: most under-18s are students, many over-56s retired.
    occ_p[0] = 0.03 * occ_w / occ_w.sum()
    occ_p[0, student], occ_p[0, OCCUPATIONS.index("other")], occ_p[0, OCCUPATIONS.index("none")] = 0.85, 0.07, 0.05
    occ_p[6, retired] *= 20.0
    occ_p[6, student] *= 0.05
    occ_p[1, student] *= 3.0
    occ_p[3:6, student] *= 0.15  # few students past 35
    occ_p /= occ_p.sum(axis=1, keepdims=True)
    # Inverse-CDF draw per user from the row of their age group.
    occupation = (occ_p.cumsum(axis=1)[age] < rng.random(n)[:, None]).sum(axis=1)
    occupation = np.minimum(occupation, len(OCCUPATIONS) - 1)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_WEIGHTS)
    signup_year = 1970 + signup.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64)
    # Apps arrive in 2008-2010: before that everyone signs up on the web.
    web_share = np.clip(1.0 - 0.09 * (signup_year - 2008), 0.35, 1.0)
    plat_u = rng.random(n)
    mobile = rng.choice(3, size=n, p=[0.4, 0.4, 0.2])  # android, ios, tv
    platform = np.where(plat_u < web_share, PLATFORMS.index("web"), mobile)

    # Segment ~ softmax(intercept + feature effects): predictable, not determined.
    values = [AGE_GROUPS, GENDERS, OCCUPATIONS, REGIONS, PLATFORMS]
    codes = [age, gender, occupation, region, platform]
    strength = p["segment_feature_strength"]
    intercept = rng.normal(0.0, 0.3, n_seg)
    effects: dict[str, dict[str, float]] = {}
    logits = np.tile(intercept, (n, 1))
    for s, seg in enumerate(SEGMENT_NAMES):
        effects[seg] = {"(intercept)": round(float(intercept[s]), 6)}
        for vals, code in zip(values, codes):
            jitter = rng.normal(0.0, 0.3, len(vals))
            eff = np.array([strength * _SEGMENT_EFFECTS[seg].get(v, 0.0) for v in vals]) + jitter
            effects[seg].update({v: round(float(e), 6) for v, e in zip(vals, eff)})
            logits[:, s] += eff[code]
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    segment = (proba.cumsum(axis=1) < rng.random(n)[:, None]).sum(axis=1)
    segment = np.minimum(segment, n_seg - 1)

    # Segment tastes: the liked sub-genres and genres (and old films for cinephiles).
    seg_factors = np.zeros((n_seg, k))
    for s, (likes, genres, vintage) in enumerate(_SEGMENTS.values()):
        taste = vec["parent"][[vocab["parents"].index(q) for q in likes]].mean(axis=0)
        taste = taste + 0.5 * vec["genre"][[GENRES.index(g) for g in genres]].mean(axis=0)
        if vintage:
            taste = taste + 0.8 * vec["vintage"]
        seg_factors[s] = taste / np.linalg.norm(taste)
    seg_factors *= p["taste_scale"]

    noise_sd = p["segment_noise_sd"] * p["taste_scale"]
    early = seg_factors[segment] + noise_sd * rng.standard_normal((n, k)) / np.sqrt(k)
    # Interest drift: the late taste moves part of the way toward another segment.
    drift_seg = (segment + rng.integers(1, n_seg, size=n)) % n_seg
    drift_w = p["drift_max"] * rng.beta(2.0, 2.0, n)
    target = seg_factors[drift_seg] + noise_sd * rng.standard_normal((n, k)) / np.sqrt(k)
    late = (1.0 - drift_w)[:, None] * early + drift_w[:, None] * target
    # Keep the taste's strength: mixing two directions would otherwise shrink it.
    late *= (np.linalg.norm(early, axis=1) / np.linalg.norm(late, axis=1))[:, None]
    bias = rng.normal(0.0, p["user_bias_sd"], n)
    half_rate = rng.beta(p["half_star_beta"], p["half_star_beta"], n)

    frame = pd.DataFrame({
        "userId": np.arange(1, n + 1, dtype=np.int64),
        "age_group": [AGE_GROUPS[a] for a in age],
        "gender": [GENDERS[g] for g in gender],
        "occupation": [OCCUPATIONS[o] for o in occupation],
        "region": [REGIONS[r] for r in region],
        "signup_platform": [PLATFORMS[q] for q in platform],
        "signup_timestamp": signup.astype(np.int64),
    })
    return {"user_ids": np.arange(1, n + 1, dtype=np.int64), "n_ratings": n_ratings,
            "window": np.stack([start, end], axis=1).astype(np.int64), "segment": segment.astype(np.int64),
            "segment_proba": proba, "segment_factors": seg_factors, "effects": effects,
            "early": early, "late": late, "drift_segment": drift_seg.astype(np.int64), "drift_weight": drift_w,
            "bias": bias, "half_rate": half_rate, "frame": frame}


def _draw_exposure(rng: np.random.Generator, items: dict[str, Any], users: dict[str, Any],
                   p: dict[str, float]) -> dict[str, np.ndarray]:
    """Choose which movies each user rates, phase by phase, by Gumbel-top-k without replacement.

    Within a phase, item i is drawn with Plackett-Luce weight
    exp(log_pop_i + beta z_u(tau) . v_i + gamma recency); adding Gumbel noise to the
    log-weights and keeping the k largest is an exact sampler of that, vectorised.
    """
    n_users, n_items = len(users["user_ids"]), len(items["movie_ids"])
    phases = int(p["phases"])
    counts = users["n_ratings"]
    per_phase = counts[:, None] // phases + (np.arange(phases)[None, :] < (counts % phases)[:, None])
    start, end = users["window"][:, 0], users["window"][:, 1]
    duration = end - start
    release, year = items["release_ts"], items["year"].astype(np.float64)
    factors_t = items["factors"].T
    item_growth = np.exp((year + 0.5 - 2000.0) / p["recency_years"])  # released mid-year
    chosen = np.zeros((n_users, n_items), dtype=bool)
    rows, cols, phase_of = [], [], []
    block = 1000  # users per block: bounds memory at a few MB per score matrix
    for ph in range(phases):
        tau = (ph + 0.5) / phases
        ph_end = start + duration * (ph + 1) // phases
        mid_year = 1970.0 + (start + duration * (2 * ph + 1) // (2 * phases)) / (365.2425 * _DAY)
        user_decay = np.exp(-(mid_year - 2000.0) / p["recency_years"])
        for b0 in range(0, n_users, block):
            sl = slice(b0, min(b0 + block, n_users))
            taste = (1.0 - tau) * users["early"][sl] + tau * users["late"][sl]
            score = taste @ factors_t
            score *= p["affinity_weight"]
            score += items["log_pop"][None, :]
            # exp(-max(0, mid - released) / d) as a capped outer product: no exp over the matrix.
            recency = np.minimum(np.outer(user_decay[sl], item_growth), 1.0)
            score += p["recency_weight"] * recency
            # Gumbel(0, 1) noise as -log(Exp(1)): same law as rng.gumbel, twice as fast
            # (one log instead of two; a zero draw, odds about 2**-53, would just pick that film).
            score -= np.log(rng.standard_exponential(size=score.shape))
            allowed = (release[None, :] <= ph_end[sl, None]) & ~chosen[sl]
            np.putmask(score, ~allowed, -np.inf)
            k = np.minimum(per_phase[sl, ph], allowed.sum(axis=1))
            k_max = int(k.max())
            if k_max == 0:
                continue
            part = np.argpartition(-score, k_max - 1, axis=1)[:, :k_max]
            order = np.argsort(-np.take_along_axis(score, part, axis=1), axis=1, kind="stable")
            top = np.take_along_axis(part, order, axis=1)
            keep = np.arange(k_max)[None, :] < k[:, None]
            r = np.repeat(np.arange(sl.start, sl.stop), k)
            c = top[keep]
            chosen[r, c] = True
            rows.append(r)
            cols.append(c)
            phase_of.append(np.full(len(r), ph))
    return {"user": np.concatenate(rows), "item": np.concatenate(cols), "phase": np.concatenate(phase_of)}


def _draw_ratings(rng: np.random.Generator, items: dict[str, Any], users: dict[str, Any],
                  pairs: dict[str, np.ndarray], p: dict[str, float]) -> dict[str, Any]:
    """Give each exposure a timestamp in its phase and a half-star rating from the bias + dot model."""
    u, i, ph = pairs["user"], pairs["item"], pairs["phase"]
    phases = int(p["phases"])
    start, end = users["window"][u, 0], users["window"][u, 1]
    duration = end - start
    ph_start = start + duration * ph // phases
    ph_end = start + duration * (ph + 1) // phases
    lo = np.maximum(ph_start, items["release_ts"][i])  # never before the film came out
    t = lo + np.floor(rng.random(len(u)) * (ph_end - lo + 1)).astype(np.int64)
    tau = (t - start) / np.maximum(duration, 1)
    taste = (1.0 - tau)[:, None] * users["early"][u] + tau[:, None] * users["late"][u]
    signal = users["bias"][u] + items["bias"][i] + np.einsum("nk,nk->n", taste, items["factors"][i])
    # Users mostly watch what they like, so observed ratings sit above mu; pick mu so
    # that the observed mean is the target whatever the seed. Recorded in truth.params.
    p["global_mean"] = float(p["target_mean"] - signal.mean())
    mean = p["global_mean"] + signal
    score = np.clip(mean + rng.normal(0.0, p["noise_sd"], len(u)), 0.5, 5.0)
    half = np.round(score * 2.0) / 2.0
    # Whole stars are more common: a user keeps a half star only at their own habit rate.
    is_half = (np.round(half * 2.0) % 2) == 1
    keep_half = rng.random(len(u)) < users["half_rate"][u]
    whole = np.clip(np.round(score), 1.0, 5.0)
    rating = np.where(is_half & ~keep_half, whole, half)
    frame = pd.DataFrame({
        "userId": users["user_ids"][u],
        "movieId": items["movie_ids"][i],
        "rating": rating.astype(np.float64),
        "timestamp": t.astype(np.int64),
    }).sort_values(["userId", "movieId"], kind="stable").reset_index(drop=True)
    return {"frame": frame}


def _draw_catalogue(rng: np.random.Generator, vocab: dict[str, Any], vec: dict[str, np.ndarray],
                    items: dict[str, Any], p: dict[str, float]) -> dict[str, Any]:
    """Draw the catalogue tags of every movie (movie_tags.csv): leaves, parents, roots, generic tags.

    Every tag t has a direction w_t; its standardised score z_it = (v_i . w_t - mean) / sd over
    movies carries the planted signal. Leaves: 1 + Binomial(4, 0.35) per movie by Gumbel-top-k on
    log(prior_t * place_t) + beta_leaf z_it (prior: Zipf within the parent; place: 1 for the main
    sub-genre, 0.5 for the second, 0.005 elsewhere). Parent and root names: by chance, as an
    editor would add them. Generic tags: the tag of rank r on round(n * 0.35 * r**-0.9) movies,
    those with the largest beta_generic z_ig + N(0, 1). Relevance: sigmoid(c_kind + z_it + 0.5 N(0, 1)).
    """
    n, k = items["factors"].shape
    factors = items["factors"]
    parent, second = items["parent"], items["parent2"]
    n_parents, n_roots = len(vocab["parents"]), len(vocab["roots"])
    leaf_parent = vocab["leaf_parent"]
    n_core, n_leaves = len(vocab["tags"]), len(vocab["leaves"])

    def unit_noise(m: int) -> np.ndarray:
        return rng.standard_normal((m, k)) / np.sqrt(k)

    # Directions: core leaves, parents and roots keep their planted vectors; new leaves sit near
    # their parent by the same law as the core ones; generic tags lean toward their anchor.
    extra = 0.75 * vec["parent"][leaf_parent[n_core:]] + 0.65 * unit_noise(n_leaves - n_core)
    leaf_w = np.vstack([vec["tag"], extra])
    anchors = []
    for _, anchor in GENERIC_TAGS:
        a = (vec["vintage"] if anchor == "vintage" else vec["genre"][GENRES.index(anchor)] if anchor
             else np.zeros(k))
        anchors.append(a / np.linalg.norm(a) if anchor else a)
    generic_noise = unit_noise(len(GENERIC_TAGS))
    generic_w = np.array(anchors) * p["generic_anchor_weight"] + 0.8 * generic_noise
    w = np.vstack([leaf_w, vec["parent"], vec["root"], generic_w])

    def standardised(v: np.ndarray) -> np.ndarray:
        s = factors @ v.T
        return (s - s.mean(axis=0)) / s.std(axis=0)

    # Leaves: Gumbel-top-k, k = 1 + Binomial(4, 0.35), among all leaves with prior x place weights.
    z_leaf = standardised(leaf_w)
    per_parent = np.bincount(leaf_parent, minlength=n_parents)
    rank = np.empty(n_leaves, dtype=np.int64)  # each leaf's popularity rank inside its parent (1 = most common)
    for q in range(n_parents):
        members = np.flatnonzero(leaf_parent == q)
        rank[members] = rng.permutation(per_parent[q]) + 1
    prior = rank.astype(np.float64) ** -p["leaf_zipf_exponent"]
    place = np.full((n, n_leaves), p["off_theme_weight"])
    place[leaf_parent[None, :] == parent[:, None]] = 1.0
    has_second = (second >= 0)[:, None] & (leaf_parent[None, :] == second[:, None])
    place[has_second] = np.maximum(place[has_second], p["second_parent_weight"])
    score = np.log(prior)[None, :] + np.log(place) + p["leaf_signal"] * z_leaf + rng.gumbel(size=(n, n_leaves))
    n_pick = 1 + rng.binomial(int(p["leaf_draws"]), p["leaf_draw_p"], size=n)
    order = np.argsort(-score, axis=1, kind="stable")
    leaf_on = np.zeros((n, n_leaves), dtype=bool)
    rows = np.repeat(np.arange(n), n_pick)
    keep = np.arange(n_leaves)[None, :] < n_pick[:, None]
    leaf_on[rows, order[keep]] = True

    # Parent and root names, added by chance as an editor would.
    parent_on = np.zeros((n, n_parents), dtype=bool)
    parent_on[np.arange(n), parent] = rng.random(n) < p["parent_tag_share"]
    with_second = (second >= 0) & (rng.random(n) < p["second_parent_tag_share"])
    parent_on[np.flatnonzero(with_second), second[with_second]] = True
    root_on = np.zeros((n, n_roots), dtype=bool)
    root_on[np.arange(n), vocab["parent_root"][parent]] = rng.random(n) < p["root_tag_share"]
    z_parent, z_root = standardised(vec["parent"]), standardised(vec["root"])

    # Generic tags: Zipf counts; the films whose noisy score is largest get them.
    z_generic = standardised(generic_w)
    g_rank = np.arange(1, len(GENERIC_TAGS) + 1)
    g_count = np.maximum(1, np.round(n * p["generic_top_share"] * g_rank ** -p["generic_zipf_exponent"])).astype(int)
    g_latent = p["generic_signal"] * z_generic + rng.standard_normal(z_generic.shape)
    generic_on = np.zeros(z_generic.shape, dtype=bool)
    for g, count in enumerate(g_count):
        generic_on[np.argsort(-g_latent[:, g], kind="stable")[:count], g] = True

    on = np.hstack([leaf_on, parent_on, root_on, generic_on])
    z = np.hstack([z_leaf, z_parent, z_root, z_generic])
    kinds = (("leaf",) * n_leaves + ("parent",) * n_parents + ("root",) * n_roots
             + ("generic",) * len(GENERIC_TAGS))
    offset = np.array([p["relevance_offset_leaf"] if kd == "leaf" else p["relevance_offset_generic"]
                       if kd == "generic" else p["relevance_offset_parent"] for kd in kinds])
    relevance = 1.0 / (1.0 + np.exp(-(offset[None, :] + z + p["relevance_noise_sd"] * rng.standard_normal(z.shape))))
    relevance = np.where(on, np.maximum(np.round(relevance, 4), 0.0001), 0.0)  # 4 decimals as written
    signal = np.concatenate([np.full(n_leaves, p["leaf_signal"]), np.zeros(n_parents + n_roots),
                             np.full(len(GENERIC_TAGS), p["generic_signal"])])
    names = vocab["leaves"] + vocab["parents"] + vocab["roots"] + tuple(g for g, _ in GENERIC_TAGS)
    item, col = np.nonzero(on)
    frame = pd.DataFrame({"movieId": items["movie_ids"][item], "tag": np.array(names, dtype=object)[col],
                          "relevance": relevance[item, col]})
    frame = frame.sort_values(["movieId", "relevance", "tag"], ascending=[True, False, True],
                              kind="stable").reset_index(drop=True)
    return {"names": names, "kind": kinds, "vectors": w, "signal": signal, "relevance": relevance,
            "frame": frame}


def _draw_tags(rng: np.random.Generator, vocab: dict[str, Any], items: dict[str, Any], users: dict[str, Any],
               ratings: dict[str, Any], catalogue: dict[str, Any], p: dict[str, float]) -> pd.DataFrame:
    """A minority of users tag some films they rated, mostly with the film's catalogue tags.

    Who tags and which ratings get tags are drawn as in the first edition (same sparsity);
    each application is one of the movie's catalogue tags (chosen in proportion to its
    relevance) with probability 0.8, a leaf of its main sub-genre with 0.12, any catalogue
    tag with 0.08.
    """
    frame = ratings["frame"]
    n_users = len(users["user_ids"])
    activity = users["n_ratings"] / users["n_ratings"].mean()
    tagger = rng.random(n_users) < p["tagger_share"] * np.clip(activity, 0.5, 3.0)
    tag_rate = rng.beta(1.0, 3.0, n_users)
    u = frame["userId"].to_numpy() - 1  # userIds are 1..n
    picked = tagger[u] & (rng.random(len(frame)) < tag_rate[u])
    rows = np.flatnonzero(picked)
    n_apps = 1 + np.minimum(rng.poisson(0.5, len(rows)), 2)
    rows = np.repeat(rows, n_apps)
    item = np.searchsorted(items["movie_ids"], frame["movieId"].to_numpy()[rows])
    # One of the movie's catalogue tags, in proportion to relevance: a draw on each movie's
    # stretch of the cumulative relevance (every movie has at least one catalogue tag).
    relevance = catalogue["relevance"]
    cum = np.cumsum(relevance, axis=1)
    target = rng.random(len(rows)) * cum[item, -1]
    own_tag = np.minimum((cum[item] <= target[:, None]).sum(axis=1), relevance.shape[1] - 1)
    leaves_of_parent = np.stack([np.flatnonzero(vocab["leaf_parent"] == q) for q in range(len(vocab["parents"]))])
    sibling = leaves_of_parent[items["parent"][item], rng.integers(0, leaves_of_parent.shape[1], len(rows))]
    anything = rng.integers(0, len(catalogue["names"]), len(rows))
    draw = rng.random(len(rows))
    true_share, sibling_share = p["true_tag_share"], p["sibling_tag_share"]
    tag = np.where(draw < true_share, own_tag, np.where(draw < true_share + sibling_share, sibling, anything))
    out = pd.DataFrame({
        "userId": frame["userId"].to_numpy()[rows],
        "movieId": frame["movieId"].to_numpy()[rows],
        "tag": np.array(catalogue["names"], dtype=object)[tag],
        "timestamp": frame["timestamp"].to_numpy()[rows] + rng.integers(0, 3600, len(rows)),
    })
    out = out.drop_duplicates(["userId", "movieId", "tag"], keep="first")
    return out.sort_values(["userId", "movieId", "tag"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Serialise a frame as CSV with fixed formats: ints as is, floats with one decimal, '\\n' endings."""
    columns = []
    for name in frame.columns:
        values = frame[name].to_numpy()
        if np.issubdtype(values.dtype, np.integer):
            columns.append([str(int(v)) for v in values])
        elif np.issubdtype(values.dtype, np.floating):
            # Relevance (movie_tags.csv) has four decimals; ratings one, exact for half stars ("4.0" as in MovieLens).
            digits = 4 if name == "relevance" else 1
            columns.append([f"{float(v):.{digits}f}" for v in values])
        else:
            columns.append([str(v) for v in values])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(list(frame.columns))
    writer.writerows(zip(*columns))
    return buffer.getvalue().encode("utf-8")


def _write_files_atomically(directory: Path, contents: dict[str, bytes]) -> None:
    """Write every file to a temp file in ``directory`` first, then rename them all into place."""
    temps: dict[str, str] = {}
    umask = os.umask(0)  # mkstemp makes 0600 files; give them the usual permissions instead
    os.umask(umask)
    try:
        for name, data in contents.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
            temps[name] = tmp
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~umask)
        for name, tmp in temps.items():
            os.replace(tmp, directory / name)
    finally:
        for tmp in temps.values():  # left over only if something failed before its rename
            if os.path.exists(tmp):
                os.unlink(tmp)
