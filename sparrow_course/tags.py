"""Chapter 05: tag matching. Multi-hot, TF-IDF and hierarchy-expanded tag vectors, user interest
profiles, cosine recall for all users at once, and the experiments of the chapter.

The pieces, in the order the chapter uses them::

    hierarchy = TagHierarchy.from_frame(ml.tag_hierarchy)      # validated tree: leaf -> parent -> root
    catalogue = catalogue_from(ml)                             # each movie's tags, and their ancestors
    X = item_vectors(catalogue, weighting="tf-idf", decay=0.5) # items x tags, rows of length 1
    matcher = fit_matcher(catalogue, train, weighting="tf-idf", decay=0.5)
    recs = matcher.recall(user_ids, k=20)                      # DataFrame[userId, movieId, score]

A tag switches on its ancestors with weight ``decay ** distance`` (distance 1 for the parent,
2 for the root): ``decay=0`` keeps the tags as applied, ``decay=1`` weighs every level equally.
Real MovieLens has free-text user tags and no hierarchy: tags are normalised (case, spacing)
and the movie's genres stand in as the only level above; ``catalogue.levels`` says which
levels a dataset offered.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import MultiLabelBinarizer, normalize

from .channels import ProfileChannel, interaction_matrix, like_popularity
from .checks import (check_bool, check_choice, check_fraction, check_frame, check_int, check_memory, check_number,
                     check_seed, check_user_ids)
from .datasets import POSITIVE_THRESHOLD, RATING_COLUMNS, positive, user_time_split
from .metrics import paired_difference, per_user_metrics
from .seeding import DEFAULT_SEED

__all__ = [
    "WEIGHTINGS", "PROFILE_WEIGHTS", "ACTIVITY_EDGES", "GENRE_PREFIX",
    "normalise_tags", "TagHierarchy", "TagCatalogue", "tag_catalogue", "catalogue_from", "multi_hot",
    "item_vectors", "idf_table", "user_profiles", "cosine_scores", "TagMatcher", "fit_matcher",
    "TagExperiment", "prepare_experiment", "evaluate", "standard_variants", "compare_vectorisers",
    "decay_sweep", "blend_sweep", "select_and_test", "match_kinds",
    "hits_by_rarity", "example_movies", "profile_table", "explain_match", "tags_profile",
    "variant_catalogue", "generic_signal_cosine", "with_catalogue", "paired_gain", "tfidf_regime",
    "leaf_sparsity_regime", "ScoreCache", "score_cache", "draw_exploration", "exploration_summary",
]

#: Tag weightings: "multi-hot" (1 where a tag is present) and "tf-idf" (scikit-learn's smooth IDF).
WEIGHTINGS = ("multi-hot", "tf-idf")
#: How a user's liked movies are weighted in the profile.
PROFILE_WEIGHTS = ("equal", "rating", "recency")
#: Activity buckets: upper edges of training ratings per user (the last bucket is open).
ACTIVITY_EDGES = (15, 30, 60)
#: Genres used as the level above free-text tags carry this prefix, so "comedy" the tag and
#: "genre: comedy" the genre stay apart.
GENRE_PREFIX = "genre: "


# ---------------------------------------------------------------------------
# Tags and the hierarchy
# ---------------------------------------------------------------------------


def normalise_tags(tags: Iterable[Any] | pd.Series) -> pd.Series:
    """Return tags lower-cased, trimmed, inner spacing collapsed to one space ("Dark  Comedy " -> "dark comedy")."""
    series = pd.Series(tags, dtype=object) if not isinstance(tags, pd.Series) else tags
    return series.astype(str).str.strip().str.lower().str.replace(r"\s+", " ", regex=True)


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


@dataclass(frozen=True, eq=False)
class TagHierarchy:
    """A validated tag tree: each tag's parent, and its level (0 leaf, 1 parent, 2 root)."""

    parent: dict[str, str]
    level: dict[str, int]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "TagHierarchy":
        """Build from ``tag_hierarchy.csv`` (columns tag, parent, root; one row per leaf), refusing bad trees.

        Names are normalised as tags are. Raises ValueError for a missing parent or root, a tag
        under two parents, a parent under two roots, a cycle, or a tag that sits on two levels.
        """
        check_frame(frame, ["tag", "parent", "root"], "hierarchy", allow_empty=False)
        rows = pd.DataFrame({c: normalise_tags(frame[c].astype(object).fillna("").reset_index(drop=True))
                             for c in ("tag", "parent", "root")})
        for column in ("tag", "parent", "root"):
            empty = rows[column].isin(["", "nan", "none"]).to_numpy()
            if empty.any():
                i = int(np.flatnonzero(empty)[0])
                what = "a tag name" if column == "tag" else f"a {column}"
                raise ValueError(f"hierarchy row {i} (tag {rows['tag'].iloc[i]!r}) has no {column}: every leaf needs "
                                 f"{what}, as tag,parent,root (missing {column}s: {int(empty.sum())} rows)")
        parent: dict[str, str] = {}
        for child_col, parent_col in (("tag", "parent"), ("parent", "root")):
            for child, up in zip(rows[child_col], rows[parent_col]):
                if child == up:
                    raise ValueError(f"hierarchy has a cycle: {child!r} is its own {parent_col}")
                known = parent.get(child)
                if known is not None and known != up:
                    kind = "tag" if child_col == "tag" else "parent"
                    raise ValueError(f"hierarchy: {kind} {child!r} sits under two {parent_col}s, {known!r} and {up!r}; "
                                     "expected a tree (one parent per tag, one root per parent)")
                parent[child] = up
        # follow parents from every tag: a walk that comes back to a tag is a cycle
        for start in parent:
            seen = [start]
            node = start
            while node in parent:
                node = parent[node]
                if node in seen:
                    cycle = " -> ".join(seen[seen.index(node):] + [node])
                    raise ValueError(f"hierarchy has a cycle: {cycle}; expected a tree with roots at the top")
                seen.append(node)
        leaves, parents, roots = set(rows["tag"]), set(rows["parent"]), set(rows["root"])
        for a, b, an, bn in ((leaves, parents, "leaf", "parent"), (leaves, roots, "leaf", "root"),
                             (parents, roots, "parent", "root")):
            both = sorted(a & b)
            if both:
                raise ValueError(f"hierarchy: {both[0]!r} is a {an} in one row and a {bn} in another; expected "
                                 "three separate levels (tag, parent, root)")
        level = {**{t: 0 for t in leaves}, **{p: 1 for p in parents}, **{r: 2 for r in roots}}
        return cls(parent=parent, level=level)

    def ancestors(self, tag: str) -> list[str]:
        """Return the tag's ancestors, nearest first (a leaf: [parent, root]; a root: [])."""
        name = normalise_tags([tag]).iloc[0]
        if name not in self.level:
            raise ValueError(f"unknown tag {tag!r}: it is not in the hierarchy{_suggest(name, self.level)}")
        out = []
        while name in self.parent:
            name = self.parent[name]
            out.append(name)
        return out

    def __len__(self) -> int:
        return len(self.level)


# ---------------------------------------------------------------------------
# The catalogue: each movie's tags at each distance
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TagCatalogue:
    """Each movie's tags as applied (distance 0) and the ancestors they switch on (distance 1, 2).

    ``pairs`` is long: one row per (movieId, tag, distance) with the tag's ``relevance`` in
    [0, 1] (1 where the data has none), the highest over the tags that switch an ancestor on.
    ``vocabulary`` orders the columns of every matrix; ``kind`` says what each column is.
    """

    item_ids: np.ndarray
    titles: pd.Series
    vocabulary: np.ndarray
    kind: pd.Series
    pairs: pd.DataFrame
    levels: tuple[str, ...]
    source: str
    max_distance: int
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def column(self) -> pd.Index:
        """The vocabulary as an index, to look up a tag's column."""
        return pd.Index(self.vocabulary)

    def lists(self, distance: int = 0) -> list[list[str]]:
        """The tags of each movie (in ``item_ids`` order) at one distance, for MultiLabelBinarizer."""
        sub = self.pairs[self.pairs["distance"] == distance].sort_values(["movieId", "tag"], kind="stable")
        bounds = np.searchsorted(sub["movieId"].to_numpy(), self.item_ids, side="left")
        ends = np.searchsorted(sub["movieId"].to_numpy(), self.item_ids, side="right")
        names = sub["tag"].to_numpy()
        return [list(names[a:b]) for a, b in zip(bounds, ends)]


def tag_catalogue(movies: pd.DataFrame, item_tags: pd.DataFrame, hierarchy: pd.DataFrame | TagHierarchy | None = None,
                  *, genres_as_parent: bool | None = None, source: str = "item tags") -> TagCatalogue:
    """Build a catalogue from movies, tag rows (movieId, tag[, relevance]) and an optional hierarchy.

    Without a hierarchy, each movie's genres stand in as the level above its tags
    (``genres_as_parent`` None means: exactly when there is no hierarchy). Tags are normalised;
    rows of one movie and tag are merged, keeping the highest relevance.
    """
    check_frame(movies, ["movieId", "genres"], "movies", allow_empty=False)
    check_frame(item_tags, ["movieId", "tag"], "item_tags")
    tree = TagHierarchy.from_frame(hierarchy) if isinstance(hierarchy, pd.DataFrame) else hierarchy
    if tree is not None and not isinstance(tree, TagHierarchy):
        raise TypeError(f"hierarchy must be a DataFrame (tag, parent, root), a TagHierarchy or None, "
                        f"got {type(hierarchy).__name__}")
    if genres_as_parent is None:
        genres_as_parent = tree is None
    genres_as_parent = check_bool(genres_as_parent, "genres_as_parent")
    item_ids = np.sort(movies["movieId"].to_numpy(dtype=np.int64))
    unknown = ~item_tags["movieId"].isin(item_ids).to_numpy()
    if unknown.any():
        raise ValueError(f"item_tags has {int(unknown.sum())} rows for movies not in movies, e.g. movieId "
                         f"{item_tags['movieId'].iloc[int(np.flatnonzero(unknown)[0])]}")
    if "relevance" in item_tags.columns:
        rel = pd.to_numeric(item_tags["relevance"], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(rel).all() or (rel < 0).any() or (rel > 1).any():
            raise ValueError("item_tags['relevance'] must be numbers in [0, 1] (as MovieLens's tag genome), "
                             "with no blanks")
    else:
        rel = np.ones(len(item_tags))
    applied = pd.DataFrame({"movieId": item_tags["movieId"].to_numpy(dtype=np.int64),
                            "tag": normalise_tags(item_tags["tag"].reset_index(drop=True)).to_numpy(),
                            "relevance": rel})
    applied = applied[applied["tag"] != ""]
    applied = applied.groupby(["movieId", "tag"], as_index=False)["relevance"].max()
    applied["distance"] = 0
    parts = [applied]
    levels = ["tags as applied"]
    kind: dict[str, str] = {}
    max_distance = 0
    if tree is not None:
        for t in applied["tag"].unique():
            kind[t] = {0: "leaf", 1: "parent", 2: "root"}[tree.level[t]] if t in tree.level else "generic"
        chains = {t: tree.ancestors(t) + [None, None] if t in tree.level else [None, None]
                  for t in applied["tag"].unique()}
        for distance in (1, 2):
            up = applied.copy()
            up["tag"] = up["tag"].map(lambda t: chains[t][distance - 1])
            up = up.dropna(subset=["tag"])
            if len(up):
                up = up.groupby(["movieId", "tag"], as_index=False)["relevance"].max()
                up["distance"] = distance
                parts.append(up)
                max_distance = distance
        for t, lev in tree.level.items():
            kind.setdefault(t, {0: "leaf", 1: "parent", 2: "root"}[lev])
        levels += ["parent (hierarchy)", "root (hierarchy)"][:max_distance]
    else:
        for t in applied["tag"].unique():
            kind[t] = "free text"
    if genres_as_parent:
        g = movies[["movieId", "genres"]].assign(tag=movies["genres"].astype(str).str.split("|")).explode("tag")
        g = g[(g["tag"] != "(no genres listed)") & (g["tag"].str.strip() != "")]
        g = pd.DataFrame({"movieId": g["movieId"].to_numpy(dtype=np.int64),
                          "tag": (GENRE_PREFIX + normalise_tags(g["tag"].reset_index(drop=True))).to_numpy(),
                          "relevance": 1.0, "distance": 1})
        parts.append(g.drop_duplicates(["movieId", "tag"]))
        for t in g["tag"].unique():
            kind[t] = "genre"
        max_distance = max(max_distance, 1)
        levels.append("genres (as the level above)")
    pairs = pd.concat(parts, ignore_index=True).sort_values(["movieId", "distance", "tag"], kind="stable")
    vocabulary = np.array(sorted(kind), dtype=object)
    titles = (movies.set_index("movieId")["title"] if "title" in movies.columns
              else pd.Series("", index=movies["movieId"])).reindex(item_ids)
    return TagCatalogue(item_ids=item_ids, titles=titles, vocabulary=vocabulary,
                        kind=pd.Series(kind).reindex(vocabulary), pairs=pairs.reset_index(drop=True),
                        levels=tuple(levels), source=source, max_distance=max_distance)


def catalogue_from(ml: Any, source: str = "auto") -> TagCatalogue:
    """Build the catalogue of a loaded dataset: catalogue tags (movie_tags.csv) when present, else users' tags.

    ``source``: "catalogue" (``ml.movie_tags``, with relevance), "user" (``tags.csv``: a tag's
    relevance for a movie is the share of that movie's tag applications it got, over the most
    applied one), "genres" (each movie's genres as its tags, for data with no tags at all) or
    "auto" (catalogue if the dataset has it, else users' tags; an error naming the remedy if neither). The hierarchy is used when present;
    otherwise genres stand in as the level above, as on real MovieLens.
    """
    check_choice(source, "source", ("auto", "catalogue", "user", "genres"))
    movie_tags = getattr(ml, "movie_tags", None)
    if source == "genres":   # data with no tags at all: each movie's genres are its only tags, no level above
        g = ml.movies[["movieId", "genres"]].assign(tag=ml.movies["genres"].astype(str).str.split("|")).explode("tag")
        g = g[(g["tag"] != "(no genres listed)") & (g["tag"].str.strip() != "")]
        rows = pd.DataFrame({"movieId": g["movieId"].to_numpy(dtype=np.int64),
                             "tag": (GENRE_PREFIX + normalise_tags(g["tag"].reset_index(drop=True))).to_numpy()})
        return tag_catalogue(ml.movies, rows, None, genres_as_parent=False, source="genres as tags (movies.csv)")
    if source == "auto":
        source = "catalogue" if movie_tags is not None else "user"
    if source == "catalogue":
        if movie_tags is None:
            raise ValueError(f"dataset '{ml.name}' has no movie_tags.csv (catalogue tags); real MovieLens has "
                             "only users' free-text tags: use source='user'")
        rows = movie_tags
        label = "catalogue tags (movie_tags.csv)"
    else:
        tags = ml.tags
        if tags is None or len(tags) == 0:
            raise ValueError(f"dataset '{ml.name}' has no tags: no movie_tags.csv and no tags.csv rows, and tag "
                             "matching needs item tags. Run the chapter on the bundled data (DATA = None), or on a "
                             "MovieLens release with tags.csv (ml-latest-small, ml-25m), or match on genres alone with "
                             "source='genres'")
        counts = (tags.assign(tag=normalise_tags(tags["tag"].reset_index(drop=True)).to_numpy())
                  .groupby(["movieId", "tag"]).size().rename("n").reset_index())
        counts["relevance"] = counts["n"] / counts.groupby("movieId")["n"].transform("max")
        rows = counts
        label = "users' tags (tags.csv)"
    return tag_catalogue(ml.movies, rows, ml.tag_hierarchy, source=label)


# ---------------------------------------------------------------------------
# Item vectors
# ---------------------------------------------------------------------------


def multi_hot(tag_lists: Sequence[Sequence[str]], vocabulary: Sequence[str] | None = None) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Return the multi-hot matrix of tag lists (MultiLabelBinarizer) and its column names."""
    binarizer = MultiLabelBinarizer(classes=None if vocabulary is None else list(vocabulary), sparse_output=True)
    matrix = binarizer.fit_transform([list(t) for t in tag_lists])
    return sparse.csr_matrix(matrix, dtype=float), np.asarray(binarizer.classes_, dtype=object)


def _distance_matrices(catalogue: TagCatalogue, relevance: bool) -> list[sparse.csr_matrix]:
    """One items x vocabulary matrix per distance: multi-hot, or the relevance in place of the ones."""
    key = ("distance matrices", relevance)
    if key in catalogue._cache:
        return catalogue._cache[key]
    out = []
    for distance in range(catalogue.max_distance + 1):
        binary, _ = multi_hot(catalogue.lists(distance), catalogue.vocabulary)
        if relevance:
            sub = catalogue.pairs[catalogue.pairs["distance"] == distance]
            rows = pd.Index(catalogue.item_ids).get_indexer(sub["movieId"])
            cols = catalogue.column.get_indexer(sub["tag"])
            weighted = sparse.csr_matrix((sub["relevance"].to_numpy(float), (rows, cols)), shape=binary.shape)
            binary = weighted
        out.append(binary.tocsr())
    catalogue._cache[key] = out
    return out


def _expanded(catalogue: TagCatalogue, decay: float, relevance: bool) -> sparse.csr_matrix:
    """Items x vocabulary: each entry is the largest of weight * decay**distance over the distances."""
    mats = _distance_matrices(catalogue, relevance)
    out = mats[0]
    for distance, mat in enumerate(mats[1:], start=1):
        if decay > 0:
            out = out.maximum(mat * decay ** distance)
    out = sparse.csr_matrix(out)
    out.eliminate_zeros()
    return out


def _idf_transformer(catalogue: TagCatalogue) -> TfidfTransformer:
    """TfidfTransformer fitted on where any tag or ancestor is present, so IDF does not move with decay."""
    if "idf" in catalogue._cache:
        return catalogue._cache["idf"]
    support = _expanded(catalogue, 1.0, relevance=False)
    support.data[:] = 1.0
    catalogue._cache["idf"] = TfidfTransformer(norm="l2", smooth_idf=True).fit(support)
    return catalogue._cache["idf"]


def item_vectors(catalogue: TagCatalogue, *, weighting: str = "tf-idf", decay: float = 0.0,
                 relevance: bool = False) -> sparse.csr_matrix:
    """Return the items x vocabulary tag matrix, rows scaled to length 1 (zero rows for untagged movies).

    ``weighting`` "multi-hot" or "tf-idf"; ``decay`` in [0, 1] switches on ancestors at
    ``decay ** distance``; ``relevance`` uses the data's tag relevance in place of the ones.
    """
    if not isinstance(catalogue, TagCatalogue):
        raise TypeError(f"catalogue must be a TagCatalogue (from catalogue_from or tag_catalogue), "
                        f"got {type(catalogue).__name__}")
    check_choice(weighting, "weighting", WEIGHTINGS)
    decay = check_fraction(decay, "decay")
    relevance = check_bool(relevance, "relevance")
    x = _expanded(catalogue, decay, relevance)
    if weighting == "tf-idf":
        return sparse.csr_matrix(_idf_transformer(catalogue).transform(x))
    return sparse.csr_matrix(normalize(x, norm="l2"))


def idf_table(catalogue: TagCatalogue) -> pd.DataFrame:
    """Per tag: its kind, how many movies carry it (with ancestors), its IDF and weight relative to multi-hot.

    ``relative weight`` is the IDF over the mean IDF of all columns: above 1 a tag gains
    weight against multi-hot, below 1 it loses. Sorted by IDF, highest first.
    """
    transformer = _idf_transformer(catalogue)
    support = _expanded(catalogue, 1.0, relevance=False)
    movies = np.asarray((support > 0).sum(axis=0)).ravel()
    idf = transformer.idf_
    table = pd.DataFrame({"tag": catalogue.vocabulary, "kind": catalogue.kind.to_numpy(), "movies": movies,
                          "idf": idf, "relative weight": idf / idf[movies > 0].mean()})
    return table[table["movies"] > 0].sort_values(["idf", "tag"], ascending=[False, True]).reset_index(drop=True)


# ---------------------------------------------------------------------------
# Users: profiles, scores, recall
# ---------------------------------------------------------------------------


def user_profiles(vectors: sparse.csr_matrix, item_ids: np.ndarray, ratings: pd.DataFrame,
                  user_ids: Sequence[int], *, weights: str = "equal", threshold: float = POSITIVE_THRESHOLD,
                  half_life: int = 10) -> sparse.csr_matrix:
    """Users x vocabulary interest profiles: the (weighted) sum of the vectors of the movies each user liked.

    Liked = rated >= ``threshold``. ``weights``: "equal"; "rating" (weight = rating); "recency"
    (the user's latest like weighs 1, each earlier one halves every ``half_life`` likes). Rows are
    scaled to length 1; a user with no liked, tagged movie gets an all-zero row (an empty profile).
    """
    check_frame(ratings, ["userId", "movieId", "rating", "timestamp"], "ratings")
    _check_integer_ids(ratings, "ratings")
    check_choice(weights, "weights", PROFILE_WEIGHTS)
    half_life = check_int(half_life, "half_life", low=1)
    # a NaN threshold would compare False with every rating and empty every profile without a word
    threshold = check_number(threshold, "threshold", low=0.0, high=5.0)
    users = pd.Index(check_user_ids(user_ids))
    liked = positive(ratings, threshold)
    liked = liked[liked["userId"].isin(users)]
    liked = liked.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    if weights == "equal":
        w = np.ones(len(liked))
    elif weights == "rating":
        w = liked["rating"].to_numpy(float)
    else:
        from_latest = liked.groupby("userId").cumcount(ascending=False).to_numpy()
        w = 0.5 ** (from_latest / half_life)
    cols = pd.Index(item_ids).get_indexer(liked["movieId"])
    keep = cols >= 0
    liked_matrix = sparse.csr_matrix((w[keep], (users.get_indexer(liked["userId"])[keep], cols[keep])),
                                     shape=(len(users), len(item_ids)))
    return sparse.csr_matrix(normalize(liked_matrix @ vectors, norm="l2"))


def _check_integer_ids(frame: pd.DataFrame, name: str) -> None:
    """TypeError naming the column when a frame's userId or movieId holds anything but integers."""
    for column in ("userId", "movieId"):
        if len(frame) and frame[column].dtype.kind not in "iu":
            raise TypeError(f"{name}['{column}'] must hold integer ids (as load_movielens gives them), "
                            f"got dtype {frame[column].dtype}")


def cosine_scores(profiles: sparse.spmatrix, vectors: sparse.spmatrix) -> np.ndarray:
    """Cosine of every profile with every item vector (rows already of length 1): a dense users x items array."""
    check_memory(profiles.shape[0] * vectors.shape[0] * 8, "the users x items score matrix")
    profiles, vectors = sparse.csr_matrix(profiles), sparse.csr_matrix(vectors)
    if vectors.shape[0] * vectors.shape[1] <= 2**24:  # a small catalogue: one dense product (BLAS) is fastest
        scores = profiles.toarray() @ vectors.T.toarray()
    else:
        scores = (profiles @ vectors.T).toarray()
    # 12 decimals: equal vectors score exactly equal whatever the summation order, so ties break by item order
    scores = np.asarray(scores)
    return np.round(scores, 12, out=scores)


@dataclass(frozen=True, eq=False, kw_only=True)
class TagMatcher(ProfileChannel):
    """A fitted tag-matching recall channel: cosine of each user's interest profile with every movie's tag vector.

    The one recall interface (``channels.RecallChannel``): ``recall(user_ids, k)``. It knows a
    fitted user who liked (rated >= 3.5) at least one tagged movie in training.
    """

    catalogue: TagCatalogue
    vectors: sparse.csr_matrix
    profiles: sparse.csr_matrix
    settings: dict = field(default_factory=dict)
    name: str = "tags"

    BLOCK_USERS: ClassVar[int] = 1024   # scored per sparse product

    @property
    def empty(self) -> np.ndarray:
        """Boolean per user: True where the profile is empty (no liked movie with tags)."""
        return np.diff(self.profiles.indptr) == 0

    def _similarity(self, rows: np.ndarray) -> np.ndarray:
        return cosine_scores(self.profiles[rows], self.vectors)

    def profile_row(self, user_id: int) -> sparse.csr_matrix:
        """One user's profile (1 x vocabulary); ValueError for a user not fitted or with an empty profile."""
        user_id = check_int(user_id, "user_id")
        row = int(pd.Index(self.user_ids).get_indexer([user_id])[0])
        if row < 0:
            raise ValueError(f"user_id {user_id} was not fitted: the matcher knows the users of its training ratings")
        if self.empty[row]:
            raise ValueError(f"user {user_id} has an empty profile: no movie rated >= {POSITIVE_THRESHOLD} with tags")
        return self.profiles[row]


def fit_matcher(catalogue: TagCatalogue, train: pd.DataFrame, *, weighting: str = "tf-idf", decay: float = 0.0,
                relevance: bool = False, profile_weights: str = "equal", user_ids: Sequence[int] | None = None,
                blend: float = 0.0) -> TagMatcher:
    """Fit the channel on training ratings: item vectors, each user's profile, what they rated, popularity."""
    check_frame(train, RATING_COLUMNS, "train", allow_empty=False)
    _check_integer_ids(train, "train")
    users = np.unique(train["userId"].to_numpy(np.int64)) if user_ids is None else check_user_ids(user_ids)
    vectors = item_vectors(catalogue, weighting=weighting, decay=decay, relevance=relevance)
    profiles = user_profiles(vectors, catalogue.item_ids, train, users, weights=profile_weights)
    settings = dict(weighting=weighting, decay=decay, relevance=relevance, profile_weights=profile_weights)
    name = f"tags ({weighting}" + (f", decay {decay:g}" if decay else "") + ")"
    return TagMatcher(item_ids=catalogue.item_ids, log_popularity=like_popularity(train, catalogue.item_ids),
                      user_ids=users, rated=interaction_matrix(train, users, catalogue.item_ids), catalogue=catalogue,
                      vectors=vectors, profiles=profiles, settings=settings, name=name, blend=blend)


def tags_profile(matcher: TagMatcher, tags: Sequence[str]) -> sparse.csr_matrix:
    """A one-row profile from interest tags a user picked (e.g. at sign-up); unknown tags raise a ValueError."""
    if isinstance(tags, str) or not len(tags):
        raise ValueError(f"tags must be a non-empty list of tag names, got {tags!r}")
    names = normalise_tags(list(tags))
    column = matcher.catalogue.column
    for raw, name in zip(tags, names):
        if name not in column:
            raise ValueError(f"unknown tag {raw!r}: no movie in the catalogue carries it"
                             f"{_suggest(name, matcher.catalogue.vocabulary)}")
    row = sparse.csr_matrix((np.ones(len(names)), (np.zeros(len(names), int), column.get_indexer(names))),
                            shape=(1, len(column)))
    return sparse.csr_matrix(normalize(row))


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TagExperiment:
    """Everything the chapter's experiments share: the catalogue, the split, the users and their buckets."""

    catalogue: TagCatalogue
    train: pd.DataFrame
    truth: pd.DataFrame
    users: np.ndarray
    activity: pd.Series
    k: int
    _runs: dict = field(default_factory=dict, repr=False)

    @property
    def buckets(self) -> list[str]:
        """The activity buckets present, from the fewest training ratings to the most."""
        return _bucket_order(self)

    def recommend(self, *, blend: float = 0.0, **settings: Any) -> pd.DataFrame:
        """The top K of every experiment user for one setting of :func:`fit_matcher` (run once, then kept)."""
        return _run(self, blend=blend, **settings)


def _bucket_labels(edges: Sequence[int]) -> list[str]:
    labels, low = [], 1
    for e in edges:
        labels.append(f"{low}-{e}")
        low = e + 1
    return labels + [f">{edges[-1]}"]


def prepare_experiment(ml: Any, *, k: int = 20, test_fraction: float = 0.2, source: str = "auto",
                       max_users: int | None = None, seed: int = DEFAULT_SEED,
                       activity_edges: Sequence[int] = ACTIVITY_EDGES) -> TagExperiment:
    """Split each user's ratings by time, keep users with a liked movie on both sides, bucket them by activity.

    The truth is each user's held-out positives (rating >= 3.5). ``max_users`` draws that many
    users at random (seeded) to make the chapter faster; None keeps all. Activity is the user's
    number of training ratings, bucketed by ``activity_edges``.
    """
    k = check_int(k, "k", low=1)
    seed = check_seed(seed)
    edges = [check_int(e, "activity_edges", low=1) for e in activity_edges]
    if not edges or sorted(set(edges)) != edges:
        raise ValueError(f"activity_edges must be increasing positive integers, got {list(activity_edges)}")
    catalogue = catalogue_from(ml, source)
    train, test = user_time_split(ml.ratings, test_fraction)
    truth = positive(test)[["userId", "movieId"]]
    liked_before = positive(train)["userId"].unique()
    users = np.intersect1d(truth["userId"].unique(), liked_before)
    if max_users is not None:
        max_users = check_int(max_users, "max_users", low=10)
        if max_users < len(users):
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    if len(users) == 0:
        raise ValueError("no user has a liked movie both before and after the split; nothing to evaluate")
    truth = truth[truth["userId"].isin(users)].reset_index(drop=True)
    n_train = train.groupby("userId").size().reindex(users).to_numpy()
    activity = pd.Series(pd.cut(n_train, [0, *edges, np.inf], labels=_bucket_labels(edges)).astype(str),
                         index=pd.Index(users, name="userId"), name="activity")
    return TagExperiment(catalogue=catalogue, train=train, truth=truth, users=users, activity=activity, k=k)



def evaluate(recs: pd.DataFrame, experiment: TagExperiment, *, label: str = "") -> pd.DataFrame:
    """Recall@K, NDCG@K and coverage, overall and per activity bucket: a tidy table.

    Means of :func:`per_user_metrics`, which agree with ``metrics.evaluate_top_k`` (tested) and
    cost one vectorised pass instead of a Python loop per bucket.
    """
    k = experiment.k
    users = per_user_metrics(recs, experiment.truth, k)
    top = recs.groupby("userId", sort=False).head(k)
    rows = []
    groups = [("all", experiment.users)] + [(b, experiment.activity.index[experiment.activity == b].to_numpy())
                                            for b in _bucket_order(experiment)]
    for bucket, members in groups:
        part = users[users.index.isin(members)]
        if part.empty:
            continue
        shown = top.loc[top["userId"].isin(members), "movieId"].nunique()
        rows.append({"variant": label, "activity": bucket, "users": len(part),
                     f"recall@{k}": part[f"recall@{k}"].mean(), f"ndcg@{k}": part[f"ndcg@{k}"].mean(),
                     "coverage": shown / len(experiment.catalogue.item_ids)})
    return pd.DataFrame(rows)


def _bucket_order(experiment: TagExperiment) -> list[str]:
    present = set(experiment.activity)

    # order by the lower edge of each label ("1-15" < "16-30" < ... < ">60")
    def low(label: str) -> float:
        return float(label[1:]) + 0.5 if label.startswith(">") else float(label.split("-")[0])
    return sorted(present, key=low)


def _run(experiment: TagExperiment, *, blend: float = 0.0, **settings: Any) -> pd.DataFrame:
    """The top K of every experiment user for one setting (kept, so a setting runs once per experiment)."""
    full = dict(weighting="tf-idf", decay=0.0, relevance=False, profile_weights="equal")
    unknown = set(settings) - set(full)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; expected some of {sorted(full)} and blend")
    full.update(settings)
    # at blend 1 the score is popularity alone: every tag setting gives the same list, run it once
    key = (("blend", 1.0),) if float(blend) == 1.0 else tuple(sorted(full.items())) + (("blend", float(blend)),)
    if key not in experiment._runs:
        matcher = fit_matcher(experiment.catalogue, experiment.train, user_ids=experiment.users, blend=blend, **full)
        experiment._runs[key] = matcher.recall(experiment.users, experiment.k)
    return experiment._runs[key]


def standard_variants(decay: float = 0.5, blend: float = 0.5) -> dict[str, dict]:
    """The chapter's variants by name: each vectoriser, with and without the hierarchy, relevance, the blend, popularity."""
    decay = check_fraction(decay, "decay")
    blend = check_fraction(blend, "blend")
    return {
        "multi-hot": dict(weighting="multi-hot"),
        "tf-idf": dict(weighting="tf-idf"),
        f"multi-hot + hierarchy (decay {decay:g})": dict(weighting="multi-hot", decay=decay),
        f"tf-idf + hierarchy (decay {decay:g})": dict(weighting="tf-idf", decay=decay),
        "tf-idf + relevance": dict(weighting="tf-idf", relevance=True),
        f"tf-idf + hierarchy + popularity blend {blend:g}": dict(weighting="tf-idf", decay=decay, blend=blend),
        "popularity": dict(weighting="tf-idf", blend=1.0),
    }


def compare_vectorisers(experiment: TagExperiment, variants: dict[str, dict] | None = None, *,
                        per_user: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Each variant (name -> settings of fit_matcher, plus ``blend``), overall and per activity bucket: one tidy table.

    ``variants`` defaults to :func:`standard_variants`. With ``per_user`` also returns each user's
    metrics per variant (long: userId, metrics, variant), for paired comparisons.
    """
    variants = standard_variants() if variants is None else variants
    if not isinstance(variants, dict) or not variants:
        raise TypeError("variants must be a non-empty dict of name -> settings, e.g. {'tf-idf': {'weighting': 'tf-idf'}}")
    tables, users = [], []
    for label, settings in variants.items():
        recs = _run(experiment, **settings)
        tables.append(evaluate(recs, experiment, label=label))
        if per_user:
            users.append(per_user_metrics(recs, experiment.truth, experiment.k).assign(variant=label).reset_index())
    table = pd.concat(tables, ignore_index=True)
    return (table, pd.concat(users, ignore_index=True)) if per_user else table


def decay_sweep(experiment: TagExperiment, decays: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0), *,
                weighting: str = "tf-idf", relevance: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recall and NDCG for each ancestor decay: (tidy table per decay and activity bucket, per-user metrics)."""
    decays = [check_fraction(d, "decays") for d in decays]
    if not decays:
        raise ValueError("decays is empty; expected decay values in [0, 1]")
    tables, users = [], []
    for d in decays:
        recs = _run(experiment, weighting=weighting, decay=d, relevance=relevance)
        tables.append(evaluate(recs, experiment).assign(decay=d).drop(columns="variant"))
        users.append(per_user_metrics(recs, experiment.truth, experiment.k).assign(decay=d).reset_index())
    table = pd.concat(tables, ignore_index=True)
    return table[["decay"] + [c for c in table.columns if c != "decay"]], pd.concat(users, ignore_index=True)


def blend_sweep(experiment: TagExperiment, blends: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0), *,
                weighting: str = "tf-idf", decay: float = 0.0) -> pd.DataFrame:
    """Recall and NDCG overall for each popularity blend weight (0 = tags alone, 1 = popularity)."""
    rows = []
    for b in blends:
        b = check_fraction(b, "blends")
        got = evaluate(_run(experiment, weighting=weighting, decay=decay, blend=b), experiment)
        rows.append(got[got["activity"] == "all"].drop(columns=["variant", "activity"]).assign(blend=b))
    table = pd.concat(rows, ignore_index=True)
    return table[["blend"] + [c for c in table.columns if c != "blend"]]


def select_and_test(per_user: pd.DataFrame, activity: pd.Series, *, by: str = "decay", metric: str | None = None,
                    bucket: str | None = None, seed: int = DEFAULT_SEED, n_boot: int = 2000) -> pd.DataFrame:
    """Choose the best setting on a random half of users, then compare it with every setting on the other half.

    Selecting and testing on different users keeps the winner's curse out of the claim. Returns one
    row per setting: its mean on the test half and the paired difference (chosen - setting) with a
    bootstrap CI over users. ``bucket`` restricts both halves to one activity bucket.
    """
    seed = check_seed(seed)
    metric = metric or next(c for c in per_user.columns if c.startswith("recall@"))
    users = activity.index.to_numpy() if bucket is None else activity.index[activity == bucket].to_numpy()
    if len(users) < 4:
        raise ValueError(f"bucket {bucket!r} has {len(users)} users; need at least 4 to split in halves")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(np.sort(users))
    select, test = set(shuffled[: len(users) // 2]), shuffled[len(users) // 2:]
    wide = per_user.pivot(index="userId", columns=by, values=metric)
    chosen = wide.loc[wide.index.isin(select)].mean().idxmax()
    held = wide.loc[wide.index.isin(test)]
    rows = []
    for setting in wide.columns:
        diff = paired_difference(held[chosen], held[setting], n_boot=n_boot, seed=seed)
        rows.append({by: setting, "chosen": setting == chosen, f"{metric} (test half)": held[setting].mean(),
                     "chosen minus this": diff["difference"], "ci low": diff["low"], "ci high": diff["high"],
                     "users": diff["users"]})
    return pd.DataFrame(rows)


def match_kinds(experiment: TagExperiment, decay: float, *, weighting: str = "tf-idf",
                threshold: float = 0.5) -> pd.DataFrame:
    """Split the top K at ``decay`` by where the cosine came from: the movie's own tags or its ancestors.

    A recommendation is "through ancestors" when more than ``threshold`` of its cosine comes from
    columns the movie has only as an ancestor (a parent, root or genre switched on by expansion):
    an over-general match. Returns per kind the number and share of recommendations and their
    precision (share that are held-out positives).
    """
    decay = check_fraction(decay, "decay")
    threshold = check_fraction(threshold, "threshold")
    recs = _run(experiment, weighting=weighting, decay=decay)
    matcher = fit_matcher(experiment.catalogue, experiment.train, user_ids=experiment.users, weighting=weighting,
                          decay=decay)
    u = pd.Index(matcher.user_ids).get_indexer(recs["userId"])
    i = pd.Index(experiment.catalogue.item_ids).get_indexer(recs["movieId"])
    contrib = sparse.csr_matrix(matcher.vectors[i].multiply(matcher.profiles[u]))
    own = _distance_matrices(experiment.catalogue, relevance=False)[0][i] > 0
    from_own = np.asarray(contrib.multiply(own).sum(axis=1)).ravel()
    total = np.asarray(contrib.sum(axis=1)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        ancestor_share = np.where(total > 0, 1 - from_own / total, 0.0)
    hit = recs.merge(experiment.truth.assign(hit=True), on=["userId", "movieId"], how="left")["hit"]
    hit = hit.astype("boolean").fillna(False).to_numpy(dtype=bool)
    kinds = np.where(ancestor_share > threshold, "through ancestors", "through own tags")
    table = pd.DataFrame({"match": kinds, "hit": hit}).groupby("match").agg(
        recommendations=("hit", "size"), precision=("hit", "mean")).reset_index()
    table["share"] = table["recommendations"] / table["recommendations"].sum()
    return table.assign(decay=decay)[["decay", "match", "recommendations", "share", "precision"]]


def hits_by_rarity(experiment: TagExperiment, decays: Sequence[float], *, weighting: str = "tf-idf",
                   n_groups: int = 3) -> pd.DataFrame:
    """Share of held-out positives found in the top K, by how rare the movie's rarest applied tag is.

    Movies are split into ``n_groups`` equal groups by the catalogue frequency of their rarest
    tag as applied (distance 0): "rare" movies carry a tag few others carry.
    """
    n_groups = check_int(n_groups, "n_groups", low=2, high=5)
    cat = experiment.catalogue
    applied = cat.pairs[cat.pairs["distance"] == 0]
    freq = applied.groupby("tag")["movieId"].transform("size")
    rarest = freq.groupby(applied["movieId"]).min()
    if len(rarest) < n_groups:
        raise ValueError(f"hits_by_rarity splits movies by their rarest tag as applied, but only {len(rarest)} "
                         f"movie(s) of this catalogue ({cat.source}; levels: {', '.join(cat.levels)}) carry one, "
                         f"fewer than n_groups={n_groups}: a catalogue of genres alone has no tags to rank")
    labels = ["rarest", "middle", "commonest"] if n_groups == 3 else [f"group {g + 1}" for g in range(n_groups)]
    groups = pd.qcut(rarest.rank(method="first"), n_groups, labels=labels).astype(str)
    truth = experiment.truth.assign(group=groups.reindex(experiment.truth["movieId"]).fillna("no tags").to_numpy())
    rows = []
    for d in decays:
        recs = _run(experiment, weighting=weighting, decay=check_fraction(d, "decays"))
        found = truth.merge(recs[["userId", "movieId"]].assign(found=True), on=["userId", "movieId"], how="left")
        found["found"] = found["found"].astype("boolean").fillna(False).astype(bool)
        share = found.groupby("group")["found"].agg(["size", "mean"]).reset_index()
        rows.append(share.rename(columns={"size": "held-out positives", "mean": "found"}).assign(decay=d))
    table = pd.concat(rows, ignore_index=True)
    order = {name: i for i, name in enumerate(labels + ["no tags"])}
    table = table.sort_values(["decay", "group"], key=lambda s: s.map(order) if s.name == "group" else s)
    return table[["decay", "group", "held-out positives", "found"]].reset_index(drop=True)


def example_movies(catalogue: TagCatalogue) -> list[int]:
    """Three movies to vectorise by hand: two that share a parent but no tag as applied, and one from elsewhere.

    The first such pair in movieId order, then the first movie sharing no ancestor with either.
    Without a hierarchy, the level above (genres) plays the parent's part.
    """
    pairs = catalogue.pairs
    own = pairs[pairs["distance"] == 0].groupby("movieId")["tag"].agg(frozenset)
    up = pairs[pairs["distance"] >= 1].groupby("movieId")["tag"].agg(frozenset)
    ids = [m for m in catalogue.item_ids if m in own.index and m in up.index]
    for a_pos, a in enumerate(ids[:200]):
        for b in ids[a_pos + 1:a_pos + 400]:
            if own[a] & own[b] or not (up[a] & up[b]):
                continue
            for c in ids:
                if c not in (a, b) and not (up[c] & (up[a] | up[b])) and not (own[c] & (own[a] | own[b])):
                    return [int(a), int(b), int(c)]
    raise ValueError("no two movies share a parent without sharing a tag; pick three movies by hand")


# ---------------------------------------------------------------------------
# One user, explained
# ---------------------------------------------------------------------------


def profile_table(matcher: TagMatcher, user_id: int, n: int = 10) -> pd.DataFrame:
    """The user's ``n`` heaviest profile tags: tag, kind, weight (the profile has length 1)."""
    n = check_int(n, "n", low=1)
    profile = matcher.profile_row(user_id)
    table = pd.DataFrame({"tag": matcher.catalogue.vocabulary[profile.indices], "weight": profile.data})
    table["kind"] = matcher.catalogue.kind.reindex(table["tag"]).to_numpy()
    return (table.sort_values(["weight", "tag"], ascending=[False, True]).head(n)
            [["tag", "kind", "weight"]].reset_index(drop=True))


def explain_match(matcher: TagMatcher, user_id: int, k: int = 5, *, top_tags: int = 3) -> pd.DataFrame:
    """Why each of the user's top-``k`` movies matched: the tags that contributed most to its cosine.

    The cosine is a sum over tags of profile weight x movie weight; each row is one tag's
    contribution and its share of that movie's cosine. Columns: rank, movieId, title, cosine,
    tag, kind, contribution, share.
    """
    top_tags = check_int(top_tags, "top_tags", low=1)
    profile = matcher.profile_row(user_id)
    recs = matcher.with_blend(0.0).recall([user_id], k)
    items = pd.Index(matcher.catalogue.item_ids).get_indexer(recs["movieId"])
    contrib = sparse.csr_matrix(matcher.vectors[items].multiply(profile))
    rows = []
    for rank, (movie, score, r) in enumerate(zip(recs["movieId"], recs["score"], range(len(items))), start=1):
        part = contrib[r]
        order = np.lexsort((matcher.catalogue.vocabulary[part.indices], -part.data))[:top_tags]
        for j in order:
            tag = matcher.catalogue.vocabulary[part.indices[j]]
            rows.append({"rank": rank, "movieId": int(movie), "title": matcher.catalogue.titles.get(movie, ""),
                         "cosine": float(score), "tag": tag, "kind": matcher.catalogue.kind[tag],
                         "contribution": float(part.data[j]), "share": float(part.data[j] / score) if score else 0.0})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# Regime maps: when the lesson's advice pays
# ---------------------------------------------------------------------------
#
# The advice is conditional. TF-IDF pays when the frequent tags carry little taste signal, and
# the hierarchy's upper levels pay when leaves are too sparse to match on. SparrowLens has one
# value of each property, so the chapter builds variant catalogues from the generator's planted
# truth, changing one property and nothing else (the ratings, users and split stay the same).


def variant_catalogue(ml: Any, *, generic_signal: float | None = None, generic_frequency: float = 1.0,
                      leaf_split: int = 1, seed: int = DEFAULT_SEED) -> TagCatalogue:
    """A SparrowLens catalogue with one property changed; DataError on data without planted truth.

    ``generic_signal`` (beta >= 0, the generator's ``generic_signal``, 0.8 in the bundled data):
    when given, the 40 generic tags are redrawn by the generator's own law, each on the movies with
    the largest ``beta * z_ig + N(0, 1)`` (z_ig: the movie's planted factor on the tag's direction,
    standardised; their relevance follows z_ig in proportion to beta), so beta 0 puts them on random
    movies; ``generic_frequency`` multiplies how many
    movies carry each generic tag (capped at the catalogue). ``leaf_split`` m splits every leaf
    into m copies under the same parent ("kung fu #1" ... "kung fu #m"), each movie keeping one copy
    at random: leaves m times sparser, the tree above unchanged. Everything else is the bundled data.
    """
    from .datasets import planted_truth

    truth = planted_truth(ml)
    seed = check_seed(seed)
    leaf_split = check_int(leaf_split, "leaf_split", low=1, high=64)
    generic_frequency = check_number(generic_frequency, "generic_frequency", low=0.0, include_low=False, high=20.0)
    rng = np.random.default_rng(seed)
    rows = ml.movie_tags[["movieId", "tag", "relevance"]].copy()
    hierarchy = ml.tag_hierarchy
    if generic_signal is not None or generic_frequency != 1.0:
        beta = truth.params["generic_signal"] if generic_signal is None else check_number(
            generic_signal, "generic_signal", low=0.0, high=10.0)
        rows = _redraw_generic(rows, truth, beta, generic_frequency, rng)
    if leaf_split > 1:
        leaves = set(normalise_tags(hierarchy["tag"]))
        is_leaf = normalise_tags(rows["tag"]).isin(leaves).to_numpy()
        copy = rng.integers(1, leaf_split + 1, size=len(rows))
        rows["tag"] = np.where(is_leaf, rows["tag"].astype(str) + " #" + copy.astype(str), rows["tag"])
        hierarchy = pd.concat([hierarchy.assign(tag=hierarchy["tag"].astype(str) + f" #{j}")
                               for j in range(1, leaf_split + 1)], ignore_index=True)
    label = "catalogue tags (movie_tags.csv)"
    changes = [f"generic tags redrawn at signal {beta:g} x{generic_frequency:g} as frequent"
               if generic_signal is not None or generic_frequency != 1.0 else "",
               f"leaves split in {leaf_split}" if leaf_split > 1 else ""]
    changes = [c for c in changes if c]
    if changes:
        label += ", variant: " + "; ".join(changes)
    return tag_catalogue(ml.movies, rows, hierarchy, source=label)


def _redraw_generic(rows: pd.DataFrame, truth: Any, beta: float, frequency: float,
                    rng: np.random.Generator) -> pd.DataFrame:
    """Redraw the generic tags' movies by the generator's law at signal ``beta`` and scaled counts."""
    kinds = np.asarray(truth.catalogue_tag_kind)
    cols = np.flatnonzero(kinds == "generic")
    names = np.asarray(truth.catalogue_tag_names, dtype=object)[cols]
    factors = truth.item_factors
    s = factors @ truth.catalogue_tag_vectors[cols].T
    z = (s - s.mean(axis=0)) / s.std(axis=0)
    n = len(truth.movie_ids)
    counts = rows[rows["tag"].isin(names)].groupby("tag").size().reindex(names, fill_value=1).to_numpy()
    counts = np.clip(np.round(counts * frequency), 1, n).astype(int)
    latent = beta * z + rng.standard_normal(z.shape)
    p = truth.params
    # relevance follows z as strongly as placement does (the generator's law at its own beta), so that
    # beta 0 carries no signal through relevance either
    relevance = 1.0 / (1.0 + np.exp(-(p["relevance_offset_generic"] + beta / p["generic_signal"] * z
                                      + p["relevance_noise_sd"] * rng.standard_normal(z.shape))))
    parts = []
    for g, count in enumerate(counts):
        on = np.argsort(-latent[:, g], kind="stable")[:count]
        parts.append(pd.DataFrame({"movieId": truth.movie_ids[on], "tag": names[g],
                                   "relevance": np.maximum(np.round(relevance[on, g], 4), 0.0001)}))
    kept = rows[~rows["tag"].isin(names)]
    return pd.concat([kept, *parts], ignore_index=True).sort_values(["movieId", "tag"], kind="stable")


def generic_signal_cosine(ml: Any, catalogue: TagCatalogue) -> float:
    """How much a catalogue's generic tags say about a movie's taste: the median over movies with one of
    cos(v_i, sum_g r_ig w_g), planted factor against the relevance-weighted sum of the tags' directions
    (the data card's measure: 0.389 for the bundled catalogue)."""
    from .datasets import planted_truth

    truth = planted_truth(ml)
    cols = np.flatnonzero(np.asarray(truth.catalogue_tag_kind) == "generic")
    names = pd.Index(np.asarray(truth.catalogue_tag_names, dtype=object)[cols])
    applied = catalogue.pairs[(catalogue.pairs["distance"] == 0) & catalogue.pairs["tag"].isin(names)]
    if applied.empty:
        raise ValueError("the catalogue carries no generic tag; nothing to measure")
    r = sparse.csr_matrix((applied["relevance"].to_numpy(float),
                           (truth.item_index(applied["movieId"].to_numpy()), names.get_indexer(applied["tag"]))),
                          shape=(len(truth.movie_ids), len(cols)))
    est = np.asarray(r @ truth.catalogue_tag_vectors[cols])
    norm = np.linalg.norm(est, axis=1)
    has = norm > 0
    v = truth.item_factors[has]
    cos = np.einsum("nk,nk->n", est[has], v) / (norm[has] * np.linalg.norm(v, axis=1))
    return float(np.median(cos))


def with_catalogue(experiment: TagExperiment, catalogue: TagCatalogue) -> TagExperiment:
    """The same split, users and buckets over another catalogue (of the same movies)."""
    if not isinstance(catalogue, TagCatalogue):
        raise TypeError(f"catalogue must be a TagCatalogue, got {type(catalogue).__name__}")
    if not np.array_equal(catalogue.item_ids, experiment.catalogue.item_ids):
        raise ValueError("catalogue must describe the experiment's movies (the same item_ids)")
    return TagExperiment(catalogue=catalogue, train=experiment.train, truth=experiment.truth, users=experiment.users,
                         activity=experiment.activity, k=experiment.k)


def paired_gain(experiment: TagExperiment, better: dict, baseline: dict, *, bucket: str | None = None,
                seed: int = DEFAULT_SEED, n_boot: int = 1000) -> dict:
    """Recall@K of one setting minus another's, paired user by user, with a bootstrap CI.

    Settings as in :func:`fit_matcher` plus ``blend``; ``bucket`` restricts to one activity bucket.
    Returns the metrics.paired_difference dict (difference, low, high, users) plus both means.
    """
    k = experiment.k
    scores = []
    for settings in (better, baseline):
        per = per_user_metrics(_run(experiment, **settings), experiment.truth, k)[f"recall@{k}"]
        if bucket is not None:
            per = per[per.index.isin(experiment.activity.index[experiment.activity == bucket])]
        scores.append(per)
    diff = paired_difference(scores[0], scores[1], n_boot=n_boot, seed=seed)
    return {**diff, "better": float(scores[0].mean()), "baseline": float(scores[1].mean())}


def tfidf_regime(ml: Any, experiment: TagExperiment, signals: Sequence[float] = (0.0, 0.4, 0.8, 1.6),
                 frequencies: Sequence[float] = (1.0, 3.0), *, seed: int = DEFAULT_SEED,
                 n_boot: int = 1000) -> pd.DataFrame:
    """TF-IDF's recall@K gain over multi-hot (leaves only) against how informative the generic tags are.

    One row per (signal, frequency) variant of :func:`variant_catalogue`: the generic tags' measured
    signal (:func:`generic_signal_cosine`), both recalls, the paired difference and its 95% CI.
    """
    rows = []
    for frequency in frequencies:
        for signal in signals:
            cat = variant_catalogue(ml, generic_signal=signal, generic_frequency=frequency, seed=seed)
            gain = paired_gain(with_catalogue(experiment, cat), dict(weighting="tf-idf"),
                               dict(weighting="multi-hot"), seed=seed, n_boot=n_boot)
            rows.append({"generic signal": float(signal), "frequency": float(frequency),
                         "generic cosine": generic_signal_cosine(ml, cat), "multi-hot": gain["baseline"],
                         "tf-idf": gain["better"], "tf-idf minus multi-hot": gain["difference"],
                         "ci low": gain["low"], "ci high": gain["high"]})
    return pd.DataFrame(rows)


def leaf_sparsity_regime(ml: Any, experiment: TagExperiment, splits: Sequence[int] = (1, 4, 16),
                         decays: Sequence[float] = (0.0, 0.5, 1.0), *, interior: float = 0.5,
                         weighting: str = "tf-idf", seed: int = DEFAULT_SEED, n_boot: int = 1000) -> pd.DataFrame:
    """The hierarchy's weight against leaf sparsity: recall@K per (leaf split, decay), and the interior decay's test.

    For each split of :func:`variant_catalogue`, one row per decay with overall recall@K, the median
    number of movies sharing a leaf, and the paired difference of the fixed ``interior`` decay
    (chosen in advance, so no winner's curse) against that decay, with its 95% CI.
    """
    interior = check_fraction(interior, "interior", include_low=False, include_high=False)
    decays = sorted({check_fraction(d, "decays") for d in decays} | {0.0, interior, 1.0})
    rows = []
    for split in splits:
        cat = variant_catalogue(ml, leaf_split=split, seed=seed)
        sub = with_catalogue(experiment, cat)
        applied = cat.pairs[(cat.pairs["distance"] == 0)]
        leaf_movies = applied[cat.kind.reindex(applied["tag"]).to_numpy() == "leaf"].groupby("tag").size()
        for d in decays:
            gain = paired_gain(sub, dict(weighting=weighting, decay=interior), dict(weighting=weighting, decay=d),
                               seed=seed, n_boot=n_boot)
            rows.append({"leaf split": int(split), "movies per leaf": float(leaf_movies.median()), "decay": d,
                         f"recall@{experiment.k}": gain["baseline"], "interior minus this": gain["difference"],
                         "ci low": gain["low"], "ci high": gain["high"]})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------
# The explorer: hierarchy decay and popularity blend, on cached per-user scores
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ScoreCache:
    """Per-user tag cosines at each decay of a grid, kept so that a move of the explorer only blends and ranks.

    ``cosines[d]`` is the (users, items) cosine at decay ``d`` (0 where a profile is empty, ``known[d]``
    False there); ``seen`` the movies each user rated in training, ``truth`` their held-out likes,
    ``sparse`` the users of the sparsest activity bucket. :meth:`explore` blends with
    log-popularity as every channel does (``channels.blend_scores``), takes the top K with the
    channel's tie rule and scores it: the same lists as ``fit_matcher(...).recall`` (tested).
    """

    experiment: TagExperiment
    users: np.ndarray
    decays: tuple[float, ...]
    weighting: str
    cosines: dict
    known: dict
    popularity: np.ndarray
    seen: np.ndarray
    truth: np.ndarray
    sparse: np.ndarray
    sparse_bucket: str
    _reference: dict = field(default_factory=dict, repr=False)

    def _metrics(self, decay: float, blend: float) -> dict[str, float]:
        """Mean recall@K of all cached users and of the sparse ones, at one setting: a few passes over the matrix."""
        from .channels import blend_scores

        k = min(self.experiment.k, self.seen.shape[1])
        scores = blend_scores(self.cosines[decay], self.popularity, blend, empty=~self.known[decay], seen=self.seen)
        # the channel's top K (fast_top_k_frame): everything above the k-th score, then ties at it by column order
        kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1:k]
        at_kth = scores == kth
        need = k - (scores > kth).sum(axis=1, keepdims=True)
        chosen = (scores > kth) | (at_kth & (np.cumsum(at_kth, axis=1) <= need))
        chosen &= np.isfinite(scores)                      # -inf: rated, or nothing to say at blend 0
        recall = (chosen & self.truth).sum(axis=1) / self.truth.sum(axis=1)
        return {"all users": float(recall.mean()), "sparse users": float(recall[self.sparse].mean())}

    def explore(self, decay: float = 0.5, blend: float = 0.5) -> pd.DataFrame:
        """Recall@K overall and for sparse users at (decay, blend), beside tags alone and popularity at that decay.

        ``decay`` must be one of the cached grid; ``blend`` any share in [0, 1]. One row per
        (setting, users): setting "tags alone", "blend" or "popularity"; columns decay, blend, recall@K.
        """
        decay = check_fraction(decay, "decay")
        if decay not in self.cosines:
            raise ValueError(f"decay {decay:g} is not cached; the explorer's grid is {', '.join(f'{d:g}' for d in self.decays)}")
        blend = check_fraction(blend, "blend")
        for key in (("tags alone", decay, 0.0), ("popularity", None, 1.0)):
            if key not in self._reference:
                self._reference[key] = self._metrics(decay if key[1] is not None else self.decays[0], key[2])
        rows = [("tags alone", 0.0, self._reference[("tags alone", decay, 0.0)]),
                ("blend", blend, self._metrics(decay, blend)),
                ("popularity", 1.0, self._reference[("popularity", None, 1.0)])]
        k = self.experiment.k
        return pd.DataFrame([{"setting": name, "users": group, "decay": decay, "blend": b, f"recall@{k}": value}
                             for name, b, values in rows for group, value in values.items()])


def score_cache(experiment: TagExperiment, decays: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0), *,
                weighting: str = "tf-idf", max_users: int | None = 1500, seed: int = DEFAULT_SEED) -> ScoreCache:
    """Fit the matcher at each decay of the grid once, for ``max_users`` of the experiment's users (seeded draw).

    Memory is users x items x 8 bytes per decay (1,500 users, 3,000 movies, 5 decays: 180 MB);
    refused beyond the package's memory limit.
    """
    from .channels import interaction_matrix

    decays = tuple(sorted({check_fraction(d, "decays") for d in decays}))
    if not decays:
        raise ValueError("decays is empty; expected decay values in [0, 1]")
    check_choice(weighting, "weighting", WEIGHTINGS)
    seed = check_seed(seed)
    users = experiment.users
    if max_users is not None:
        max_users = check_int(max_users, "max_users", low=10)
        if max_users < len(users):
            users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    n_items = len(experiment.catalogue.item_ids)
    check_memory(8.0 * len(users) * n_items * (len(decays) + 1), "the explorer's cached score matrices")
    cosines, known = {}, {}
    for d in decays:
        matcher = fit_matcher(experiment.catalogue, experiment.train, user_ids=users, weighting=weighting, decay=d)
        mask = matcher._known(users)
        own = np.zeros((len(users), n_items))
        if mask.any():
            own[mask] = matcher._own_scores(users[mask])
        cosines[d], known[d] = own, mask
    items = experiment.catalogue.item_ids
    seen = interaction_matrix(experiment.train, users, items).toarray()
    truth = interaction_matrix(experiment.truth, users, items).toarray()
    sparse_bucket = experiment.buckets[0]
    cache = ScoreCache(experiment=experiment, users=users, decays=decays, weighting=weighting, cosines=cosines,
                       known=known, popularity=like_popularity(experiment.train, items), seen=seen, truth=truth,
                       sparse=(experiment.activity.reindex(users) == sparse_bucket).to_numpy(),
                       sparse_bucket=sparse_bucket)
    for d in decays:                                     # the references, so a move computes one setting only
        cache.explore(d, 0.0)
    return cache


def draw_exploration(result: pd.DataFrame, fig: Any) -> None:
    """Draw :meth:`ScoreCache.explore`'s table: recall@K of tags alone, the blend and popularity, for all and sparse users."""
    metric = next(c for c in result.columns if c.startswith("recall@"))
    ax = fig.add_subplot(1, 1, 1)
    groups = list(dict.fromkeys(result["users"]))
    settings = list(dict.fromkeys(result["setting"]))
    width = 0.8 / len(settings)
    x = np.arange(len(groups))
    for i, setting in enumerate(settings):
        part = result[result["setting"] == setting].set_index("users").reindex(groups)
        label = setting if setting != "blend" else f"blend w = {part['blend'].iloc[0]:g}"
        bars = ax.bar(x + (i - (len(settings) - 1) / 2) * width, part[metric], width=width, label=label)
        ax.bar_label(bars, fmt="%.3f", fontsize=8)
    ax.set_xticks(x, groups)
    ax.set_ylim(0, max(0.01, float(result[metric].max())) * 1.2)
    ax.set_ylabel(f"{metric} (mean over users)")
    ax.set_xlabel("users")
    decay = float(result["decay"].iloc[0])
    blend = result[result["setting"] == "blend"].set_index("users")[metric]
    best = result.loc[result.groupby("users")[metric].idxmax()].set_index("users")["setting"]
    ax.set_title(f"Decay {decay:g}, blend {result.loc[result['setting'] == 'blend', 'blend'].iloc[0]:g}: "
                 f"{metric} {blend.iloc[0]:.3f} overall, {blend.iloc[-1]:.3f} for sparse users "
                 f"(best: {best.iloc[0]} / {best.iloc[-1]})", fontsize=10)
    ax.legend(fontsize=8)


def exploration_summary(result: pd.DataFrame) -> str:
    """The explorer's numbers as text: one line per setting."""
    metric = next(c for c in result.columns if c.startswith("recall@"))
    wide = result.pivot(index="setting", columns="users", values=metric).reindex(list(dict.fromkeys(result["setting"])))
    lines = [f"decay {float(result['decay'].iloc[0]):g}, blend {float(result.loc[result['setting'] == 'blend', 'blend'].iloc[0]):g}"]
    lines += [f"{name:>10}: {metric} {row.iloc[0]:.3f} all users, {row.iloc[1]:.3f} sparse users"
              for name, row in wide.iterrows()]
    return "\n".join(lines)
